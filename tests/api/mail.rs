//! E-mail: awards delivered by e-mail through the outbox to a real SMTP server (the
//! in-process sink), exactly once across restarts, retries, reminders on the injected
//! clock, opt-out, templates.

use std::time::Duration;

use accolade::mail::sink::SmtpSink;
use accolade::records::{MailState, OutboxMessage};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn mail_app() -> (TestApp, SmtpSink) {
    let sink = SmtpSink::start().await.expect("sink");
    let mut app = TestApp::new().await;
    app.use_smtp(&sink.url());
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Example University", "email": "office@example.edu"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    (app, sink)
}

async fn award_by_mail(app: &TestApp, ach: &Value, name: &str, email: &str, extra: Value) -> Value {
    let mut body = json!({
        "achievement_id": ach["id"],
        "recipient": {"name": name, "email": email},
        "delivery": "email",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (s, v) = app.admin(Method::POST, "/api/v1/awards", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

async fn credential(app: &TestApp, cid: &str) -> Value {
    let (s, v) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{cid}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn an_award_by_email_sends_one_message_with_both_links_and_never_the_code() {
    let (app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    let award = award_by_mail(&app, &ach, "Ada <Lovelace>", "ada@example.org", json!({})).await;
    assert_eq!(award["mail"], "queued", "{award}");
    let tx = award["tx_code"]
        .as_str()
        .expect("tx_code for staff")
        .to_owned();
    let d = app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(d.sent, 1, "{d:?}");
    assert_eq!(sink.count(), 1);
    let m = &sink.messages()[0];
    assert_eq!(m.to, ["ada@example.org"]);
    assert!(m.from.contains("badges@example.edu"));
    assert_eq!(m.header("Reply-To").as_deref(), Some("office@example.edu"));
    let subject = m.header("Subject").expect("subject");
    assert!(subject.contains("Example University"), "{subject}");
    let text = m.text();
    let claim = award["claim_url"].as_str().expect("claim url");
    let manage = award["earner_url"].as_str().expect("earner url");
    assert!(text.contains(claim), "{text}");
    assert!(text.contains(manage), "{text}");
    assert!(
        !m.data.contains(&tx),
        "the transaction code must not travel with the link"
    );
    assert!(text.contains("6-digit code"), "{text}");
    // The earner's name is text in the HTML part.
    assert!(m.html().contains("Ada &lt;Lovelace&gt;"), "{}", m.html());
    let unsub = m.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert!(
        unsub.starts_with("<https://badges.example.edu/mail/unsubscribe/"),
        "{unsub}"
    );
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let cid = award["credential_id"].as_str().expect("cid");
    let id = cid.trim_start_matches("urn:uuid:");
    assert_eq!(
        m.header("Message-ID").expect("id"),
        format!("<{id}.award@example.edu>")
    );
    let v = credential(&app, cid).await;
    assert_eq!(v["mail"], "sent", "{v}");
    assert!(
        v["mail_answer"]
            .as_str()
            .expect("answer")
            .starts_with("250"),
        "{v}"
    );
    assert!(v["mail_error"].is_null());
    // Nothing more to send.
    assert_eq!(
        app.state.mail.deliver_due().await.expect("again").total(),
        0
    );
    assert_eq!(sink.count(), 1);
}

#[tokio::test]
async fn email_delivery_needs_an_address_and_a_configured_server_and_else_awards_nothing() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": ach["id"], "recipient": {"email": "ada@example.org"}, "delivery": "email"})),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("mail_not_configured")
        ),
        "{v}"
    );
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().expect("list").len(), 0);
    let (mail_app, _sink) = mail_app().await;
    let ach = mail_app.create_achievement().await;
    let (s, v) = mail_app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": ach["id"], "recipient": {"id": HOLDER_DID}, "delivery": "email"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("m")
            .contains("recipient.email"),
        "{v}"
    );
}

#[tokio::test]
async fn a_csv_batch_with_a_delivery_column_mails_every_row() {
    let (app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let csv = format!(
        "achievement_id,name,email,delivery\n{id},Ada,ada@example.org,email\n{id},Grace,grace@example.org,email\n{id},Alan,alan@example.org,offer\n{id},Nobody,,email\n"
    );
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/awards/batch")
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("content-type", "text/csv")
        .body(axum::body::Body::from(csv))
        .expect("req");
    let (s, _, body) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).expect("json");
    let rows = v["results"].as_array().expect("rows");
    assert_eq!(rows[0]["mail"], "queued");
    assert_eq!(rows[1]["mail"], "queued");
    assert!(rows[2].get("mail").is_none(), "an offer is not mailed");
    assert!(
        rows[3]["credential_id"].is_null() && !rows[3]["error"].is_null(),
        "{v}"
    );
    app.state.mail.deliver_due().await.expect("deliver");
    let mut to: Vec<String> = sink.messages().iter().map(|m| m.to[0].clone()).collect();
    to.sort();
    assert_eq!(to, ["ada@example.org", "grace@example.org"]);
}

#[tokio::test]
async fn a_message_goes_out_exactly_once_across_a_crash_before_or_after_sending() {
    let (mut app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    // Crash between the award's commit and the send: a restart sends it, once.
    let a = award_by_mail(&app, &ach, "Ada", "ada@example.org", json!({})).await;
    app.store.flush().await.expect("flush");
    app.restart().await;
    assert_eq!(sink.count(), 0);
    assert_eq!(app.state.mail.deliver_due().await.expect("deliver").sent, 1);
    app.restart().await;
    assert_eq!(
        app.state.mail.deliver_due().await.expect("deliver").total(),
        0
    );
    assert_eq!(sink.count(), 1);
    // Crash while handing it over (found `sending`): it is tried again, once.
    let b = award_by_mail(&app, &ach, "Grace", "grace@example.org", json!({})).await;
    let key = format!(
        "{}/award",
        b["credential_id"]
            .as_str()
            .expect("cid")
            .trim_start_matches("urn:uuid:")
    );
    let mut m: OutboxMessage = app
        .store
        .outbox
        .message(&key)
        .await
        .expect("read")
        .expect("message");
    m.state = MailState::Sending;
    m.attempts = 1;
    app.store.outbox.put_message(&m).await.expect("write");
    app.restart().await;
    assert_eq!(app.state.mail.deliver_due().await.expect("deliver").sent, 1);
    assert_eq!(sink.count(), 2);
    // Queuing the same event again is a no-op (its idempotency key).
    let again = OutboxMessage::new(key.clone(), m.kind, m.to.clone(), m.created_at);
    assert!(!app.store.outbox.enqueue(&again).await.expect("enqueue"));
    assert_eq!(
        app.state.mail.deliver_due().await.expect("deliver").total(),
        0
    );
    assert_eq!(sink.count(), 2);
    let v = credential(&app, a["credential_id"].as_str().expect("cid")).await;
    assert_eq!(v["mail"], "sent");
}

#[tokio::test]
async fn refusals_are_retried_with_back_off_or_fail_with_the_servers_words() {
    let (app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    sink.reject_next(1, 451, "4.3.0 mailbox busy, try again later");
    let a = award_by_mail(&app, &ach, "Ada", "ada@example.org", json!({})).await;
    let cid = a["credential_id"].as_str().expect("cid");
    let d = app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(d.retried, 1, "{d:?}");
    let v = credential(&app, cid).await;
    assert_eq!(v["mail"], "queued");
    assert!(
        v["mail_error"].as_str().expect("error").contains("451"),
        "{v}"
    );
    // Not before its back-off.
    assert_eq!(app.state.mail.deliver_due().await.expect("d").total(), 0);
    app.clock.advance(31);
    assert_eq!(app.state.mail.deliver_due().await.expect("d").sent, 1);
    assert_eq!(credential(&app, cid).await["mail"], "sent");
    assert_eq!(sink.count(), 1);
    // A permanent refusal fails at once.
    sink.reject_next(1, 550, "5.1.1 no such user");
    let b = award_by_mail(&app, &ach, "Nobody", "nobody@example.org", json!({})).await;
    let d = app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(d.failed, 1, "{d:?}");
    let v = credential(&app, b["credential_id"].as_str().expect("cid")).await;
    assert_eq!(v["mail"], "failed");
    assert!(
        v["mail_error"]
            .as_str()
            .expect("error")
            .contains("no such user"),
        "{v}"
    );
}

#[tokio::test]
async fn an_unclaimed_award_is_recalled_after_7_and_30_days_until_the_earner_opts_out() {
    let (app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    let a = award_by_mail(&app, &ach, "Ada", "ada@example.org", json!({})).await;
    app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(app.state.mail.remind_due().await.expect("remind"), 0);
    app.clock.advance(7 * 86400);
    assert_eq!(app.state.mail.remind_due().await.expect("remind"), 1);
    assert_eq!(
        app.state.mail.remind_due().await.expect("remind"),
        0,
        "once per threshold"
    );
    app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(sink.count(), 2);
    let m = &sink.messages()[1];
    assert!(
        m.header("Subject").expect("s").contains("waiting"),
        "{:?}",
        m.header("Subject")
    );
    assert!(m.text().contains(a["claim_url"].as_str().expect("claim")));
    // The earner opts out with one click: no 30-day reminder.
    let unsub = m.header("List-Unsubscribe").expect("header");
    let path = unsub
        .trim_matches(['<', '>'])
        .trim_start_matches("https://badges.example.edu")
        .to_owned();
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(&path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("List-Unsubscribe=One-Click"))
        .expect("req");
    let (s, _, _) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    let v = credential(&app, a["credential_id"].as_str().expect("cid")).await;
    assert_eq!(v["mail_opt_out"], true, "{v}");
    app.clock.advance(23 * 86400);
    assert_eq!(app.state.mail.remind_due().await.expect("remind"), 0);
    // A forged link does nothing.
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("{path}x"))
        .body(axum::body::Body::empty())
        .expect("req");
    assert_eq!(app.send(req).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_claimed_badge_gets_expiry_reminders_30_7_and_1_days_before() {
    let (app, sink) = mail_app().await;
    let ach = app.create_achievement().await;
    let until = accolade::clock::format_seconds(accolade::clock::from_unix(NOW + 60 * 86400));
    let a = award_by_mail(
        &app,
        &ach,
        "Ada",
        "ada@example.org",
        json!({"valid_until": until, "tx_code": false}),
    )
    .await;
    let claim_id = a["claim_url"]
        .as_str()
        .expect("claim")
        .rsplit('/')
        .next()
        .expect("id")
        .to_owned();
    app.state
        .issuer
        .accept_on_web(&claim_id, None)
        .await
        .expect("accepted on the web");
    app.state.mail.deliver_due().await.expect("deliver");
    app.clock.advance(29 * 86400);
    assert_eq!(
        app.state.mail.remind_due().await.expect("remind"),
        0,
        "no unclaimed reminder for a claimed badge"
    );
    for wait in [86400, 23 * 86400, 6 * 86400] {
        app.clock.advance(wait);
        assert_eq!(app.state.mail.remind_due().await.expect("remind"), 1);
        assert_eq!(app.state.mail.remind_due().await.expect("remind"), 0);
        app.state.mail.deliver_due().await.expect("deliver");
    }
    assert_eq!(sink.wait_for(4, Duration::from_secs(5)).await, 4);
    let subjects: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m.header("Subject").unwrap_or_default())
        .collect();
    // (Subjects with non-ASCII words arrive RFC 2047-encoded; the ASCII tail is plain.)
    assert!(subjects[1].ends_with("expires in 30 days"), "{subjects:?}");
    assert!(subjects[2].ends_with("expires in 7 days"), "{subjects:?}");
    assert!(subjects[3].ends_with("expires in 1 day"), "{subjects:?}");
    assert!(sink.messages()[3].text().contains("1 day from now"));
    // Past its end, nothing more.
    app.clock.advance(2 * 86400);
    assert_eq!(app.state.mail.remind_due().await.expect("remind"), 0);
}

#[tokio::test]
async fn templates_are_checked_previewed_and_used_with_values_escaped() {
    let (app, sink) = mail_app().await;
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/mail/templates/award",
            Some(
                json!({"subject": "Hi {{earner_name}}", "text": "{{secret}}", "html": "<p>x</p>"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"].as_str().expect("m").contains("{{secret}}"),
        "{v}"
    );
    let t = json!({
        "subject": "{{achievement_name}} for {{earner_name}}",
        "text": "Claim: {{claim_url}}\nManage: {{earner_url}}\n",
        "html": "<p>Dear {{earner_name}}, <a href=\"{{claim_url}}\">claim</a></p>",
    });
    let (s, v) = app
        .admin(Method::PUT, "/api/v1/mail/templates/award", Some(t))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["custom"], true);
    let (s, p) = app
        .admin(Method::POST, "/api/v1/mail/templates/award/preview", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert!(
        p["subject"].as_str().expect("s").contains("Ada Lovelace"),
        "{p}"
    );
    let ach = app.create_achievement().await;
    award_by_mail(
        &app,
        &ach,
        "<script>alert(1)</script>",
        "ada@example.org",
        json!({}),
    )
    .await;
    app.state.mail.deliver_due().await.expect("deliver");
    let m = &sink.messages()[0];
    assert!(
        m.html()
            .contains("Dear &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        m.html()
    );
    assert!(!m.html().contains("<script>"));
    assert!(
        m.text()
            .starts_with("Claim: https://badges.example.edu/claim/"),
        "{}",
        m.text()
    );
    let (s, v) = app
        .admin(Method::DELETE, "/api/v1/mail/templates/award", None)
        .await;
    assert_eq!((s, v["custom"].as_bool()), (StatusCode::OK, Some(false)));
    let (s, v) = app
        .admin(Method::GET, "/api/v1/mail/templates/nonsense", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn invitations_reach_the_new_member_by_mail_and_a_test_message_can_be_sent() {
    let (app, sink) = mail_app().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "grace@example.edu", "name": "Grace", "role": "issuer"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["mail"], "queued");
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/mail/test",
            Some(json!({"to": "ops@example.edu"})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(sink.count(), 2);
    let invite = sink
        .messages()
        .into_iter()
        .find(|m| m.to[0] == "grace@example.edu")
        .expect("invitation");
    assert!(
        invite.text().contains("/admin/invitation/"),
        "{}",
        invite.text()
    );
    assert!(invite.header("List-Unsubscribe").is_none());
    // A public reset request for a member mails them; for a stranger, nothing (and
    // the answer is the same).
    for email in ["grace@example.edu", "stranger@example.edu"] {
        let (s, _) = app
            .call(
                Method::POST,
                "/api/v1/auth/password-reset",
                Some(json!({"email": email})),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED);
    }
    // The request is answered first and handled after (its time tells nothing).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sink.count() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        app.state.mail.deliver_due().await.expect("deliver");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    app.state.mail.deliver_due().await.expect("deliver");
    assert_eq!(sink.count(), 3, "one message, to the member only");
    assert!(sink.messages()[2].text().contains("/admin/reset/"));
    // With mail, an owner's reset goes to the member and is not shown to the owner.
    let (_, m) = app
        .admin(Method::GET, "/api/v1/staff/grace@example.edu", None)
        .await;
    let (s, v) = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/staff/{}/password-reset",
                m["id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["reset_url"].is_null(), "{v}");
    assert_eq!(v["mail"], "queued");
}
