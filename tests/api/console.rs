//! The staff console: every page needs a session; every form needs its CSRF token and
//! passes the admin API's role rules and audit trail; a CSV upload is checked before
//! anything is awarded; the credential search's filters; CSV exports neutralise
//! formulas.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

struct Session {
    cookie: String,
    csrf: String,
}

async fn member(app: &TestApp, email: &str, role: &str) -> Session {
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": email, "name": format!("Member {role}"), "role": role, "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, h, v) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": email, "password": PASSWORD})),
            &[],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cookie = h
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("accolade_session="))
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_owned();
    Session {
        cookie,
        csrf: v["csrf_token"].as_str().expect("csrf").to_owned(),
    }
}

async fn page(app: &TestApp, path: &str, s: Option<&Session>) -> (StatusCode, HeaderMap, String) {
    let mut b = Request::get(path);
    if let Some(s) = s {
        b = b.header(header::COOKIE, &s.cookie);
    }
    let (st, h, body) = app.send(b.body(Body::empty()).expect("request")).await;
    (st, h, String::from_utf8_lossy(&body).into_owned())
}

async fn form(
    app: &TestApp,
    path: &str,
    s: &Session,
    fields: &[(&str, &str)],
    origin: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let body = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                k,
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut b = Request::post(path)
        .header(header::COOKIE, &s.cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    let (st, h, body) = app.send(b.body(Body::from(body)).expect("request")).await;
    (st, h, String::from_utf8_lossy(&body).into_owned())
}

async fn multipart(
    app: &TestApp,
    path: &str,
    s: &Session,
    fields: &[(&str, &str)],
    file: (&str, &str, &[u8]),
) -> (StatusCode, HeaderMap, String) {
    let boundary = "XaccoladeBoundaryX";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    let (name, ctype, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"upload\"\r\nContent-Type: {ctype}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::post(path)
        .header(header::COOKIE, &s.cookie)
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .expect("request");
    let (st, h, body) = app.send(req).await;
    (st, h, String::from_utf8_lossy(&body).into_owned())
}

fn location(h: &HeaderMap) -> String {
    h.get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn path_of(url: &str) -> String {
    url.strip_prefix(PUBLIC_URL).unwrap_or(url).to_owned()
}

const PAGES: [&str; 15] = [
    "/admin/badge-types.csv",
    "/admin",
    "/admin/profile",
    "/admin/achievements",
    "/admin/achievements/new",
    "/admin/award",
    "/admin/credentials",
    "/admin/presentations",
    "/admin/trust",
    "/admin/api-keys",
    "/admin/staff",
    "/admin/mail",
    "/admin/audit",
    "/admin/account",
    "/admin/credentials.csv",
];

#[tokio::test]
async fn every_console_page_needs_a_session_and_shows_one_to_every_role() {
    let app = TestApp::new().await;
    for p in PAGES {
        let (s, h, _) = page(&app, p, None).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{p}");
        assert_eq!(location(&h), format!("{PUBLIC_URL}/admin/login"), "{p}");
    }
    let viewer = member(&app, "viewer@example.edu", "viewer").await;
    let owner = member(&app, "owner@example.edu", "owner").await;
    for p in PAGES {
        for (who, s) in [("viewer", &viewer), ("owner", &owner)] {
            let (st, h, body) = page(&app, p, Some(s)).await;
            assert_eq!(st, StatusCode::OK, "{p} as {who}: {body}");
            let ct = h
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if p.ends_with(".csv") {
                assert!(ct.starts_with("text/csv"), "{p}: {ct}");
            } else {
                assert!(ct.starts_with("text/html"), "{p}: {ct}");
                let csp = h
                    .get(header::CONTENT_SECURITY_POLICY)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(csp.contains("script-src 'self'"), "{p}: {csp}");
                assert!(
                    body.contains("aria-current=\"page\""),
                    "{p}: no current section"
                );
                assert!(body.contains("noindex"), "{p}");
            }
        }
    }
    // A viewer is shown no write forms where an owner is.
    let (_, _, v) = page(&app, "/admin/profile", Some(&viewer)).await;
    let (_, _, o) = page(&app, "/admin/profile", Some(&owner)).await;
    assert!(
        !v.contains("data-action=\"upload-logo\"") && o.contains("data-action=\"upload-logo\"")
    );
    assert!(v.contains("data-read-only"));
}

#[tokio::test]
async fn console_forms_pass_the_api_rules_csrf_and_audit() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let (s, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": id, "recipient": {"email": "ada@example.org", "name": "Ada Lovelace"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{award}");
    let uuid = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    let viewer = member(&app, "viewer@example.edu", "viewer").await;
    let issuer = member(&app, "issuer@example.edu", "issuer").await;
    let revoke = format!("/admin/credentials/{uuid}/revoke");

    // The viewer sees no revoke form, and a forged one is refused by the API's rule.
    let (_, _, body) = page(&app, &format!("/admin/credentials/{uuid}"), Some(&viewer)).await;
    assert!(!body.contains("data-action=\"revoke\""));
    let (s, _, body) = form(
        &app,
        &revoke,
        &viewer,
        &[("csrf", &viewer.csrf), ("reason", "forged")],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("viewer"), "the page names the role: {body}");

    // Without the token, or from another site: refused, nothing done.
    let (s, _, _) = form(&app, &revoke, &issuer, &[("reason", "no token")], None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = form(
        &app,
        &revoke,
        &issuer,
        &[("csrf", &issuer.csrf), ("reason", "elsewhere")],
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = form(
        &app,
        &revoke,
        &issuer,
        &[("csrf", &viewer.csrf), ("reason", "someone else's token")],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A revocation needs a reason.
    let (s, _, _) = form(&app, &revoke, &issuer, &[("csrf", &issuer.csrf)], None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, v) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{uuid}"), None)
        .await;
    assert_eq!(v["revoked"], json!(false));

    // The issuer revokes with a reason.
    let (s, h, _) = form(
        &app,
        &revoke,
        &issuer,
        &[("csrf", &issuer.csrf), ("reason", "exam withdrawn")],
        Some(PUBLIC_URL),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(location(&h).ends_with(&format!("/admin/credentials/{uuid}?done=revoked")));
    let (_, v) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{uuid}"), None)
        .await;
    assert_eq!(v["revoked"], json!(true));
    let (_, _, body) = page(&app, &format!("/admin/credentials/{uuid}"), Some(&issuer)).await;
    assert!(body.contains("data-credential-state=\"revoked\""));
    assert!(
        body.contains("exam withdrawn"),
        "the trail keeps the reason"
    );

    // The audit trail: the viewer's refusal and the issuer's revocation, by who did them.
    let (_, a) = app
        .admin(
            Method::GET,
            "/api/v1/audit?action=denied.credential.revoke",
            None,
        )
        .await;
    let denied = a["events"].as_array().expect("events");
    assert_eq!(denied.len(), 1, "{a}");
    assert_eq!(denied[0]["actor"], json!("viewer@example.edu"));
    let (_, a) = app
        .admin(Method::GET, "/api/v1/audit?action=credential.revoke", None)
        .await;
    let done = a["events"].as_array().expect("events");
    assert_eq!(done.len(), 1, "{a}");
    assert_eq!(done[0]["actor"], json!("issuer@example.edu"));
}

#[tokio::test]
async fn a_csv_upload_is_checked_row_by_row_then_awarded_in_the_background() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let issuer = member(&app, "issuer@example.edu", "issuer").await;
    let csv = format!(
        "achievement_id,name,email,id,valid_until\n{id},Ada Lovelace,ada@example.org,,\n{id},Bad Row,not-an-address,,\n{id},Grace Hopper,grace@example.org,,\n"
    );
    let (s, h, body) = multipart(
        &app,
        "/admin/award/csv",
        &issuer,
        &[("csrf", &issuer.csrf), ("delivery", "offer")],
        ("file", "text/csv", csv.as_bytes()),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    let job = path_of(&location(&h));
    assert!(job.starts_with("/admin/award/csv/"), "{job}");
    let (s, _, preview) = page(&app, &job, Some(&issuer)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        preview.contains("<strong>2</strong> of 3 rows are ready"),
        "{preview}"
    );
    assert!(
        preview.contains("not an e-mail address"),
        "the bad row's error is shown"
    );
    // Nothing is awarded by the check.
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().map(Vec::len), Some(0));
    // Another member cannot see or start someone's upload.
    let other = member(&app, "other@example.edu", "issuer").await;
    let (s, _, _) = page(&app, &job, Some(&other)).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let (s, _, _) = form(
        &app,
        &format!("{job}/start"),
        &issuer,
        &[("csrf", &issuer.csrf)],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let mut progress = Value::Null;
    for _ in 0..200 {
        let (_, _, p) = page(&app, &format!("{job}/progress"), Some(&issuer)).await;
        progress = serde_json::from_str(&p).expect("json");
        if progress["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(progress, json!({"state": "done", "done": 2, "total": 2}));
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    let emails: Vec<&str> = list["credentials"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["recipient"]["email"].as_str())
        .collect();
    assert_eq!(emails, vec!["grace@example.org", "ada@example.org"]);
    // Starting again awards nothing more.
    form(
        &app,
        &format!("{job}/start"),
        &issuer,
        &[("csrf", &issuer.csrf)],
        None,
    )
    .await;
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().map(Vec::len), Some(2));
    // The results: a credential id and a wallet code per awarded row, the error for the other.
    let results = job.replace("/admin/award/csv/", "/admin/award/results/") + ".csv";
    let (s, _, text) = page(&app, &results, Some(&issuer)).await;
    assert_eq!(s, StatusCode::OK);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "row,name,email,achievement_id,credential_id,claim_url,tx_code,mail,error"
    );
    assert!(lines[1].contains("urn:uuid:") && lines[3].contains("urn:uuid:"));
    assert!(
        lines[2].ends_with("not an e-mail address\""),
        "{}",
        lines[2]
    );
    // Both awards' batch went through the API: one audited batch call.
    let (_, a) = app
        .admin(Method::GET, "/api/v1/audit?action=award.batch", None)
        .await;
    let events = a["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "the dry run and the award: {a}");
    assert!(events.iter().all(|e| e["actor"] == "issuer@example.edu"));
}

#[tokio::test]
async fn the_batch_api_checks_without_awarding_and_takes_a_default_delivery() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let body = json!({"awards": [
        {"achievement_id": id, "recipient": {"email": "a@example.org"}},
        {"achievement_id": id, "recipient": {"email": "b@example.org"}, "valid_until": "2001-01-01T00:00:00Z"},
        {"achievement_id": "nope", "recipient": {"email": "c@example.org"}},
    ]});
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards/batch?dry_run=true",
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["dry_run"], json!(true));
    let errors: Vec<bool> = v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["error"].is_null())
        .collect();
    assert_eq!(errors, vec![true, false, false]);
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().map(Vec::len), Some(0));
    // E-mail as the default delivery without a mail server: every row says so.
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards/batch?dry_run=true&delivery=email",
            Some(body),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["results"][0]["code"], json!("mail_not_configured"));
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/awards/batch?delivery=carrier-pigeon",
            Some(json!({"awards": [{"achievement_id": id, "recipient": {"email": "a@example.org"}}]})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_credential_search_filters_by_name_flags_and_expiry() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let mut ids = Vec::new();
    for (name, email, until) in [
        ("Ada Lovelace", "ada@example.org", None),
        ("Grace Hopper", "grace@example.org", None),
        ("Ada Byron", "byron@example.org", Some(NOW + 60)),
    ] {
        let mut body = json!({"achievement_id": id, "recipient": {"name": name, "email": email}});
        if let Some(u) = until {
            body["valid_until"] = json!(accolade::clock::format_seconds(
                accolade::clock::from_unix(u)
            ));
        }
        let (s, v) = app.admin(Method::POST, "/api/v1/awards", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["credential_id"].as_str().expect("id").to_owned());
    }
    let names = |v: &Value| -> Vec<String> {
        v["credentials"]
            .as_array()
            .expect("list")
            .iter()
            .map(|c| c["recipient"]["name"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let get = |q: &'static str| {
        let app = &app;
        async move {
            app.admin(Method::GET, &format!("/api/v1/credentials?{q}"), None)
                .await
        }
    };
    assert_eq!(
        names(&get("name=ada").await.1),
        vec!["Ada Byron", "Ada Lovelace"]
    );
    assert_eq!(
        names(&get("name=ADA+lovelace").await.1),
        vec!["Ada Lovelace"]
    );
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{}/revoke", ids[1]),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{}/suspend", ids[0]),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(names(&get("revoked=true").await.1), vec!["Grace Hopper"]);
    assert_eq!(names(&get("state=revoked").await.1), vec!["Grace Hopper"]);
    assert_eq!(names(&get("suspended=true").await.1), vec!["Ada Lovelace"]);
    assert_eq!(
        names(&get("revoked=false&suspended=false").await.1),
        vec!["Ada Byron"]
    );
    assert!(names(&get("state=expired").await.1).is_empty());
    app.clock.advance(120);
    assert_eq!(names(&get("state=expired").await.1), vec!["Ada Byron"]);
    assert_eq!(
        names(&get("expired=false&name=ada").await.1),
        vec!["Ada Lovelace"]
    );
    let (s, v) = get("revoked=maybe").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = get("state=lost").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The console's search box: a name word, an e-mail address, a credential id.
    let viewer = member(&app, "viewer@example.edu", "viewer").await;
    let (_, _, body) = page(&app, "/admin/credentials?q=hopper", Some(&viewer)).await;
    assert_eq!(body.matches("<tr data-credential=").count(), 1);
    let (_, _, body) = page(
        &app,
        "/admin/credentials?q=byron%40example.org",
        Some(&viewer),
    )
    .await;
    assert_eq!(body.matches("<tr data-credential=").count(), 1);
    let (s, h, _) = page(
        &app,
        &format!("/admin/credentials?q={}", ids[0].replace(':', "%3A")),
        Some(&viewer),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(location(&h).ends_with(ids[0].trim_start_matches("urn:uuid:")));
}

#[tokio::test]
async fn csv_exports_neutralise_cells_a_spreadsheet_would_run() {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/trust/issuers",
            Some(json!({"id": "did:web:formula.example", "name": "=HYPERLINK(\"https://evil.example\")", "status": "blocked"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let ach = app.create_achievement().await;
    let id = ach["id"].as_str().expect("id");
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": id, "recipient": {"name": "@SUM(1+1)", "email": "x@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let viewer = member(&app, "viewer@example.edu", "viewer").await;
    let (_, _, trust) = page(&app, "/admin/trust.csv", Some(&viewer)).await;
    assert!(
        trust.contains("\"'=HYPERLINK(\"\"https://evil.example\"\")\""),
        "{trust}"
    );
    let (_, _, creds) = page(&app, "/admin/credentials.csv", Some(&viewer)).await;
    assert!(creds.contains(",'@SUM(1+1),"), "{creds}");
    assert!(!creds.lines().skip(1).any(|l| l.contains(",@")));
}

#[tokio::test]
async fn until_the_issuer_is_named_awards_and_the_dashboard_say_so() {
    let app = TestApp::new().await;
    let owner = member(&app, "owner@example.edu", "owner").await;
    let (_, _, html) = page(&app, "/admin", Some(&owner)).await;
    assert!(html.contains("data-notice=\"profile-unset\""), "{html}");
    let a = app.create_achievement().await;
    let body = json!({"achievement_id": a["id"], "recipient": {"email": "ada@example.org"}});
    let (s, award) = app
        .admin(Method::POST, "/api/v1/awards", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let warning = award["warnings"][0].as_str().expect("a warning");
    assert!(
        warning.contains("PUT /api/v1/issuer") && warning.contains("no name"),
        "{warning}"
    );
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Example University"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, award) = app.admin(Method::POST, "/api/v1/awards", Some(body)).await;
    assert!(award.get("warnings").is_none(), "{award}");
    let (_, _, html) = page(&app, "/admin", Some(&owner)).await;
    assert!(!html.contains("profile-unset"));
}
