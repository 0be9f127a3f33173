//! Staff accounts: the role matrix on every admin route, sessions and CSRF, sign-in
//! throttling, personal tokens, invitations and resets, two-factor sign-in, and the
//! audit trail.

use std::net::SocketAddr;

use accolade::records::Role;
use accolade::staff::totp::TotpSecret;
use axum::http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

const PASSWORD: &str = "correct horse battery staple";

fn addr(last: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, last], 40000))
}

/// The `name=value` of a `Set-Cookie` of that name.
fn set_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

fn cookie_pair(set: &str) -> String {
    set.split(';').next().unwrap_or_default().to_owned()
}

/// Adds a member with a password (as an owner, through the API); returns its id.
async fn add_member(app: &TestApp, email: &str, role: &str) -> String {
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": email, "name": format!("Member {role}"), "role": role, "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

struct Session {
    cookie: String,
    csrf: String,
    device: String,
}

async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
    from: SocketAddr,
) -> (StatusCode, HeaderMap, Value) {
    app.request(
        Method::POST,
        "/api/v1/auth/login",
        Some(json!({"email": email, "password": password})),
        &[],
        Some(from),
    )
    .await
}

async fn sign_in(app: &TestApp, email: &str) -> Session {
    let (s, h, v) = login(app, email, PASSWORD, addr(1)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    Session {
        cookie: cookie_pair(&set_cookie(&h, "accolade_session").expect("session cookie")),
        csrf: v["csrf_token"].as_str().expect("csrf").to_owned(),
        device: cookie_pair(&set_cookie(&h, "accolade_device").expect("device cookie")),
    }
}

/// A personal token for a signed-in member.
async fn token_for(app: &TestApp, email: &str) -> String {
    let s = sign_in(app, email).await;
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "tests"})),
            &[("cookie", &s.cookie), ("x-csrf-token", &s.csrf)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    v["token"].as_str().expect("token").to_owned()
}

async fn with_token(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let bearer = format!("Bearer {token}");
    let (s, _, v) = app
        .request(method, path, body, &[("authorization", &bearer)], None)
        .await;
    (s, v)
}

#[tokio::test]
async fn every_admin_route_refuses_the_roles_below_its_rule_and_admits_the_others() {
    let app = TestApp::new().await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let email = format!("{role}@example.edu");
        add_member(&app, &email, role.as_str()).await;
        tokens.push((role, token_for(&app, &email).await));
    }
    let rules = accolade::http::admin_rules();
    assert!(rules.len() >= 70, "{} rules", rules.len());
    for (method, path, rule) in &rules {
        let uri = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
        for (role, token) in &tokens {
            let (s, v) = with_token(&app, token, method.clone(), &uri, Some(json!({}))).await;
            if *role < rule.role {
                assert_eq!(s, StatusCode::FORBIDDEN, "{role} {method} {path}: {v}");
                assert_eq!(v["error"], "forbidden", "{method} {path}");
            } else {
                assert!(
                    s != StatusCode::FORBIDDEN && s != StatusCode::UNAUTHORIZED,
                    "{role} {method} {path}: {s} {v}"
                );
            }
        }
    }
    // The matrix of the contract, route by route for the cases people rely on.
    let expect = [
        (Method::GET, "/api/v1/credentials", Role::Viewer),
        (Method::POST, "/api/v1/awards", Role::Issuer),
        (Method::POST, "/api/v1/awards/batch", Role::Issuer),
        (
            Method::POST,
            "/api/v1/credentials/{id}/revoke",
            Role::Issuer,
        ),
        (Method::POST, "/api/v1/achievements", Role::Issuer),
        (Method::POST, "/api/v1/badge-types", Role::Issuer),
        (Method::POST, "/credentials/issue", Role::Issuer),
        (Method::POST, "/api/v1/credentials/{id}/hide", Role::Issuer),
        (Method::PUT, "/api/v1/issuer", Role::Owner),
        (Method::POST, "/api/v1/trust/issuers", Role::Owner),
        (Method::POST, "/api/v1/api-keys", Role::Owner),
        (Method::POST, "/api/v1/staff", Role::Owner),
        (Method::PUT, "/api/v1/mail/settings", Role::Owner),
    ];
    for (m, p, r) in expect {
        let rule = rules
            .iter()
            .find(|(rm, rp, _)| *rm == m && *rp == p)
            .unwrap_or_else(|| panic!("no rule for {m} {p}"));
        assert_eq!(rule.2.role, r, "{m} {p}");
    }
    // Every write refused to a viewer.
    for (method, path, rule) in &rules {
        if *method != Method::GET && !rule.own {
            assert!(
                rule.role > Role::Viewer,
                "{method} {path} is a write a viewer may make"
            );
        }
    }
}

#[tokio::test]
async fn roles_act_for_real_and_the_admin_token_is_an_owner() {
    let app = TestApp::new().await;
    add_member(&app, "viewer@example.edu", "viewer").await;
    add_member(&app, "issuer@example.edu", "issuer").await;
    let viewer = token_for(&app, "viewer@example.edu").await;
    let issuer = token_for(&app, "issuer@example.edu").await;
    let ach = app.create_achievement().await;
    let award = json!({"achievement_id": ach["id"], "recipient": {"email": "ada@example.org"}});
    let (s, v) = with_token(
        &app,
        &viewer,
        Method::POST,
        "/api/v1/awards",
        Some(award.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["message"].as_str().expect("msg").contains("issuer role"),
        "{v}"
    );
    let (s, v) = with_token(&app, &issuer, Method::POST, "/api/v1/awards", Some(award)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, list) = with_token(&app, &viewer, Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["credentials"].as_array().expect("list").len(), 1);
    let (s, _) = with_token(
        &app,
        &issuer,
        Method::PUT,
        "/api/v1/issuer",
        Some(json!({"name": "X"})),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Example University"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // A role change applies to the member's tokens at once.
    let (s, members) = app.admin(Method::GET, "/api/v1/staff", None).await;
    assert_eq!(s, StatusCode::OK);
    let id = members["staff"]
        .as_array()
        .expect("staff")
        .iter()
        .find(|m| m["email"] == "viewer@example.edu")
        .expect("viewer")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (s, _) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/staff/{id}"),
            Some(json!({"role": "issuer"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = with_token(
        &app,
        &viewer,
        Method::POST,
        "/api/v1/badge-types",
        Some(json!({"name": "Skill"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    // The admin token has no account of its own.
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
}

#[tokio::test]
async fn the_last_owner_cannot_be_removed_or_demoted() {
    let app = TestApp::new().await;
    let id = add_member(&app, "owner@example.edu", "owner").await;
    let (s, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/staff/{id}"),
            Some(json!({"role": "viewer"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    let (s, _) = app
        .admin(Method::DELETE, &format!("/api/v1/staff/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    add_member(&app, "second@example.edu", "owner").await;
    let (s, _) = app
        .admin(Method::DELETE, &format!("/api/v1/staff/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, _) = login(&app, "owner@example.edu", PASSWORD, addr(1)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn accounts_need_twelve_characters_a_valid_address_and_a_role() {
    let app = TestApp::new().await;
    for (body, code) in [
        (
            json!({"email": "a@example.edu", "name": "A", "role": "issuer", "password": "elevenchars"}),
            "weak_password",
        ),
        (
            json!({"email": "not-an-address", "name": "A", "role": "issuer", "password": PASSWORD}),
            "invalid_request",
        ),
        (
            json!({"email": "a@example.edu", "name": "A", "role": "admin", "password": PASSWORD}),
            "invalid_request",
        ),
    ] {
        let (s, v) = app.admin(Method::POST, "/api/v1/staff", Some(body)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"], code, "{v}");
    }
    add_member(&app, "a@example.edu", "issuer").await;
    let (s, _) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "A@Example.edu", "name": "A", "role": "issuer", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The password is kept as an Argon2id hash, never as it is.
    assert!(!app.data_dir_contains(PASSWORD.as_bytes()).await);
    assert!(
        app.data_dir_contains(b"$argon2id$v=19$m=19456,t=2,p=1$")
            .await
    );
}

#[tokio::test]
async fn sessions_carry_cookie_flags_csrf_and_expire_idle_and_absolute() {
    let app = TestApp::new().await;
    add_member(&app, "i@example.edu", "issuer").await;
    let (s, h, _) = login(&app, "i@example.edu", PASSWORD, addr(1)).await;
    assert_eq!(s, StatusCode::OK);
    let set = set_cookie(&h, "accolade_session").expect("cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(set.contains(flag), "{flag} missing: {set}");
    }
    let s1 = sign_in(&app, "i@example.edu").await;
    let me = |s: &Session| {
        let c = s.cookie.clone();
        let app = &app;
        async move {
            app.request(Method::GET, "/api/v1/me", None, &[("cookie", &c)], None)
                .await
        }
    };
    let (st, _, v) = me(&s1).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["role"], "issuer");
    assert_eq!(v["csrf_token"], s1.csrf.as_str());
    // A write with the cookie needs the session's CSRF token.
    let body = Some(json!({"name": "Skill"}));
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/badge-types",
            body.clone(),
            &[("cookie", &s1.cookie)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(v["error"], "csrf");
    let (st, _, _) = app
        .request(
            Method::POST,
            "/api/v1/badge-types",
            body.clone(),
            &[("cookie", &s1.cookie), ("x-csrf-token", "wrong")],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/badge-types",
            body,
            &[("cookie", &s1.cookie), ("x-csrf-token", &s1.csrf)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    // Idle: two hours without a request end it.
    app.clock.advance(2 * 3600 + 1);
    assert_eq!(me(&s1).await.0, StatusCode::UNAUTHORIZED);
    // Absolute: used every hour, it still ends twelve hours after sign-in.
    let s2 = sign_in(&app, "i@example.edu").await;
    for _ in 0..11 {
        app.clock.advance(3600);
        assert_eq!(me(&s2).await.0, StatusCode::OK);
    }
    app.clock.advance(3601);
    assert_eq!(me(&s2).await.0, StatusCode::UNAUTHORIZED);
    // Sign-out ends it; a forged cookie is nobody.
    let s3 = sign_in(&app, "i@example.edu").await;
    let (st, _, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            None,
            &[("cookie", &s3.cookie), ("x-csrf-token", &s3.csrf)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    assert_eq!(me(&s3).await.0, StatusCode::UNAUTHORIZED);
    let (st, _, _) = app
        .request(
            Method::GET,
            "/api/v1/me",
            None,
            &[("cookie", "accolade_session=forged")],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_http_public_url_gives_cookies_without_secure() {
    let app = TestApp::with(accolade::jose::Algorithm::ES256, "http://127.0.0.1:8080").await;
    add_member(&app, "i@example.edu", "issuer").await;
    let (_, h, _) = login(&app, "i@example.edu", PASSWORD, addr(1)).await;
    let set = set_cookie(&h, "accolade_session").expect("cookie");
    assert!(set.contains("HttpOnly") && !set.contains("Secure"), "{set}");
}

#[tokio::test]
async fn a_password_change_ends_every_session_and_gives_a_fresh_one() {
    let app = TestApp::new().await;
    add_member(&app, "i@example.edu", "issuer").await;
    let a = sign_in(&app, "i@example.edu").await;
    let b = sign_in(&app, "i@example.edu").await;
    let (st, h, v) = app
        .request(
            Method::POST,
            "/api/v1/me/password",
            Some(json!({"current_password": "wrong password here", "new_password": "a brand new passphrase"})),
            &[("cookie", &a.cookie), ("x-csrf-token", &a.csrf)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(set_cookie(&h, "accolade_session").is_none());
    let (st, h, v) = app
        .request(
            Method::POST,
            "/api/v1/me/password",
            Some(json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"})),
            &[("cookie", &a.cookie), ("x-csrf-token", &a.csrf)],
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let fresh = cookie_pair(&set_cookie(&h, "accolade_session").expect("fresh"));
    for old in [&a.cookie, &b.cookie] {
        let (st, _, _) = app
            .request(Method::GET, "/api/v1/me", None, &[("cookie", old)], None)
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
    }
    let (st, _, _) = app
        .request(Method::GET, "/api/v1/me", None, &[("cookie", &fresh)], None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        login(&app, "i@example.edu", PASSWORD, addr(1)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "i@example.edu", "a brand new passphrase", addr(1))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn failed_sign_ins_slow_down_the_address_and_the_account_but_never_lock_the_owner_out() {
    let app = TestApp::new().await;
    add_member(&app, "owner@example.edu", "owner").await;
    // The owner signed in from their browser before: it holds the device cookie.
    let owner = sign_in(&app, "owner@example.edu").await;
    // A stranger guesses from one address: five free tries, then growing delays.
    let stranger = addr(66);
    for _ in 0..5 {
        let (s, _, v) = login(&app, "owner@example.edu", "wrong password 123", stranger).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], "invalid_credentials");
    }
    let (s, _, _) = login(&app, "owner@example.edu", "wrong password 123", stranger).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, h, v) = login(&app, "owner@example.edu", PASSWORD, stranger).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(h.get(header::RETRY_AFTER).expect("Retry-After"), "1");
    // The stranger keeps at it from many addresses: the account is slowed too ...
    for i in 0..20u8 {
        app.clock.advance(61);
        let _ = login(
            &app,
            "owner@example.edu",
            "wrong password 123",
            addr(100 + i),
        )
        .await;
    }
    let (s, h, _) = login(&app, "owner@example.edu", PASSWORD, addr(200)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let wait: i64 = h
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(
        (1..=60).contains(&wait),
        "account delays stay short: {wait}"
    );
    // ... but the owner's own browser signs in at once, and any browser after a minute.
    let (s, _, v) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "owner@example.edu", "password": PASSWORD})),
            &[("cookie", &owner.device)],
            Some(addr(1)),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    app.clock.advance(61);
    assert_eq!(
        login(&app, "owner@example.edu", PASSWORD, addr(201))
            .await
            .0,
        StatusCode::OK
    );
    // Another site's page cannot sign a visitor in.
    let (s, _, v) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({"email": "owner@example.edu", "password": PASSWORD})),
            &[("origin", "https://evil.example")],
            Some(addr(3)),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("cross_origin"))
    );
    // Unknown accounts answer exactly as wrong passwords do.
    let (s, _, v) = login(&app, "nobody@example.edu", PASSWORD, addr(2)).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials"))
    );
}

#[tokio::test]
async fn personal_tokens_are_shown_once_kept_hashed_listed_used_and_revoked() {
    let app = TestApp::new().await;
    add_member(&app, "i@example.edu", "issuer").await;
    let s = sign_in(&app, "i@example.edu").await;
    let hdr = [
        ("cookie", s.cookie.as_str()),
        ("x-csrf-token", s.csrf.as_str()),
    ];
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "CI upload"})),
            &hdr,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    let id = v["id"].as_str().expect("id").to_owned();
    assert!(token.starts_with("acc_staff_") && token.len() > 50);
    assert!(!app.data_dir_contains(token.as_bytes()).await);
    let (st, _, list) = app
        .request(Method::GET, "/api/v1/me/tokens", None, &hdr, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    let t = &list["tokens"][0];
    assert_eq!(
        (t["name"].as_str(), t["last_used_at"].is_null()),
        (Some("CI upload"), true)
    );
    assert!(!list.to_string().contains(&token));
    let (st, _) = with_token(&app, &token, Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(st, StatusCode::OK);
    let (_, _, list) = app
        .request(Method::GET, "/api/v1/me/tokens", None, &hdr, None)
        .await;
    assert_eq!(list["tokens"][0]["last_used_at"], "2026-11-19T00:00:00Z");
    // Acting with the member's role: an issuer's token is refused an owner's route.
    let (st, _) = with_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/api-keys",
        Some(json!({"name": "p"})),
    )
    .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, _) = app
        .request(
            Method::DELETE,
            &format!("/api/v1/me/tokens/{id}"),
            None,
            &hdr,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = with_token(&app, &token, Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = with_token(
        &app,
        "acc_staff_forged",
        Method::GET,
        "/api/v1/credentials",
        None,
    )
    .await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invitations_and_resets_are_single_use_and_expire() {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "new@example.edu", "name": "New Member", "role": "viewer"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let url = v["invitation_url"]
        .as_str()
        .expect("invitation url")
        .to_owned();
    assert!(
        url.starts_with("https://badges.example.edu/admin/invitation/"),
        "{url}"
    );
    let token = url.rsplit('/').next().expect("token").to_owned();
    // No password yet: nothing signs in.
    assert_eq!(
        login(&app, "new@example.edu", PASSWORD, addr(1)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, info) = app
        .call(
            Method::GET,
            &format!("/api/v1/auth/links/{token}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (info["purpose"].as_str(), info["email"].as_str()),
        (Some("invitation"), Some("new@example.edu"))
    );
    let link = format!("/api/v1/auth/links/{token}");
    let (s, v) = app
        .call(
            Method::POST,
            &link,
            Some(json!({"password": "short"})),
            false,
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    let (s, v) = app
        .call(
            Method::POST,
            &link,
            Some(json!({"password": PASSWORD})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = app
        .call(
            Method::POST,
            &link,
            Some(json!({"password": PASSWORD})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::GONE);
    assert_eq!(
        login(&app, "new@example.edu", PASSWORD, addr(1)).await.0,
        StatusCode::OK
    );
    // A tampered link is no link.
    let mut forged = token.clone();
    forged.pop();
    forged.push('A');
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/auth/links/{forged}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::GONE);
    // A reset link: an hour, once; the old password stops working.
    let id = info_id(&app, "new@example.edu").await;
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/staff/{id}/password-reset"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let reset = v["reset_url"]
        .as_str()
        .expect("reset url")
        .rsplit('/')
        .next()
        .expect("t")
        .to_owned();
    app.clock.advance(3601);
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/links/{reset}"),
            Some(json!({"password": "another good passphrase"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::GONE, "expired");
    let (_, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/staff/{id}/password-reset"),
            None,
        )
        .await;
    let reset = v["reset_url"]
        .as_str()
        .expect("reset url")
        .rsplit('/')
        .next()
        .expect("t")
        .to_owned();
    let (s, _) = app
        .call(
            Method::POST,
            &format!("/api/v1/auth/links/{reset}"),
            Some(json!({"password": "another good passphrase"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        login(&app, "new@example.edu", PASSWORD, addr(1)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "new@example.edu", "another good passphrase", addr(1))
            .await
            .0,
        StatusCode::OK
    );
    // Invitations expire after seven days.
    let (_, v) = app
        .admin(
            Method::POST,
            "/api/v1/staff",
            Some(json!({"email": "late@example.edu", "name": "Late", "role": "viewer"})),
        )
        .await;
    let late = v["invitation_url"]
        .as_str()
        .expect("url")
        .rsplit('/')
        .next()
        .expect("t")
        .to_owned();
    app.clock.advance(7 * 86400 + 1);
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/auth/links/{late}"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::GONE);
}

async fn info_id(app: &TestApp, email: &str) -> String {
    let (s, v) = app
        .admin(Method::GET, &format!("/api/v1/staff/{email}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn two_factor_sign_in_with_totp_and_an_owner_can_require_it() {
    let app = TestApp::new().await;
    add_member(&app, "i@example.edu", "issuer").await;
    add_member(&app, "v@example.edu", "viewer").await;
    let s = sign_in(&app, "i@example.edu").await;
    let hdr = [
        ("cookie", s.cookie.as_str()),
        ("x-csrf-token", s.csrf.as_str()),
    ];
    let (st, _, v) = app
        .request(Method::POST, "/api/v1/me/totp", None, &hdr, None)
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(
        v["otpauth_uri"]
            .as_str()
            .expect("uri")
            .starts_with("otpauth://totp/")
    );
    let secret = TotpSecret::from_base32(v["secret"].as_str().expect("secret")).expect("base32");
    // Not on until confirmed with a code.
    let (st, _, _) = app
        .request(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(json!({"code": "000000"})),
            &hdr,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        login(&app, "i@example.edu", PASSWORD, addr(1)).await.0,
        StatusCode::OK
    );
    let code = secret.code_at(NOW);
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(json!({"code": code})),
            &hdr,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // Now sign-in asks for it; the confirming code cannot be used again.
    let (st, _, v) = login(&app, "i@example.edu", PASSWORD, addr(1)).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_required"))
    );
    let with_code = |c: String| {
        let app = &app;
        async move {
            app.request(
                Method::POST,
                "/api/v1/auth/login",
                Some(json!({"email": "i@example.edu", "password": PASSWORD, "totp": c})),
                &[],
                Some(addr(1)),
            )
            .await
        }
    };
    let (st, _, v) = with_code(code.clone()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_invalid"))
    );
    app.clock.advance(30);
    let next = secret.code_at(NOW + 30);
    let (st, _, v) = with_code(next.clone()).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _, _) = with_code(next).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "a code counts once");
    // The owner requires it: a member without it may only set it up.
    let (st, _) = app
        .admin(
            Method::PUT,
            "/api/v1/settings/security",
            Some(json!({"require_totp": true})),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, v) = login(&app, "v@example.edu", PASSWORD, addr(1)).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["totp_setup_required"], true);
    let vs = sign_in(&app, "v@example.edu").await;
    let vh = [
        ("cookie", vs.cookie.as_str()),
        ("x-csrf-token", vs.csrf.as_str()),
    ];
    let (st, _, v) = app
        .request(Method::GET, "/api/v1/credentials", None, &vh, None)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("totp_setup_required"))
    );
    let (_, _, v) = app
        .request(Method::POST, "/api/v1/me/totp", None, &vh, None)
        .await;
    let vsecret = TotpSecret::from_base32(v["secret"].as_str().expect("secret")).expect("b32");
    let (st, _, _) = app
        .request(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(json!({"code": vsecret.code_at(NOW + 30)})),
            &vh,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _, _) = app
        .request(Method::GET, "/api/v1/credentials", None, &vh, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    // While required, it cannot be turned off.
    app.clock.advance(30);
    let (st, _, _) = app
        .request(
            Method::DELETE,
            "/api/v1/me/totp",
            Some(json!({"code": vsecret.code_at(NOW + 60)})),
            &vh,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
}

#[tokio::test]
async fn the_audit_trail_names_the_principal_never_the_body_and_exports_csv() {
    let app = TestApp::new().await;
    add_member(&app, "=cmd@example.edu", "issuer").await;
    let token = token_for(&app, "=cmd@example.edu").await;
    let ach = app.create_achievement().await;
    let (s, award) = with_token(
        &app,
        &token,
        Method::POST,
        "/api/v1/awards",
        Some(json!({"achievement_id": ach["id"], "recipient": {"email": "ada@example.org"}})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let cid = award["credential_id"].as_str().expect("cid").to_owned();
    let bearer = format!("Bearer {token}");
    let (s, _, _) = app
        .request(
            Method::POST,
            &format!("/api/v1/credentials/{cid}/revoke"),
            Some(json!({"reason": "issued in error", "actor": "mallory@example.org"})),
            &[("authorization", &bearer)],
            Some(addr(7)),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, log) = app
        .admin(Method::GET, "/api/v1/audit?action=credential.revoke", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let e = &log["events"][0];
    assert_eq!(e["actor"], "=cmd@example.edu", "{log}");
    assert_eq!(e["via"], "personal_token");
    assert_eq!(e["target"], cid.as_str());
    assert_eq!(e["address"], "192.0.2.7");
    assert_eq!(e["detail"]["reason"], "issued in error");
    assert_eq!(e["at"], "2026-11-19T00:00:00Z");
    assert!(!log.to_string().contains("mallory"));
    let (_, ev) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{cid}/audit"),
            None,
        )
        .await;
    assert_eq!(ev["events"][0]["actor"], "=cmd@example.edu");
    // Everything a member did, newest first: sign-in, token, award, revocation.
    let (_, all) = app
        .admin(
            Method::GET,
            "/api/v1/audit?actor=%3Dcmd%40example.edu",
            None,
        )
        .await;
    let actions: Vec<&str> = all["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("a"))
        .collect();
    assert_eq!(
        actions,
        [
            "credential.revoke",
            "award.create",
            "me.token_create",
            "auth.sign_in"
        ],
        "{all}"
    );
    // What was created is named.
    let (_, created) = app
        .admin(Method::GET, "/api/v1/audit?action=achievement.create", None)
        .await;
    assert_eq!(created["events"][0]["target"], ach["id"], "{created}");
    assert_eq!(created["events"][0]["actor"], "admin token");
    // Refusals are kept too.
    let (s, _) = with_token(&app, &token, Method::POST, "/api/v1/staff", Some(json!({}))).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, denied) = app
        .admin(
            Method::GET,
            "/api/v1/audit?action=denied.staff.create",
            None,
        )
        .await;
    assert_eq!(denied["events"].as_array().expect("events").len(), 1);
    // CSV, with cells a spreadsheet would run neutralised.
    let (s, h, _) = app
        .request(
            Method::GET,
            "/api/v1/audit?format=csv",
            None,
            &[("authorization", &format!("Bearer {TOKEN}"))],
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        h[header::CONTENT_TYPE]
            .to_str()
            .expect("ct")
            .starts_with("text/csv")
    );
    let req = axum::http::Request::builder()
        .uri("/api/v1/audit?format=csv")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(axum::body::Body::empty())
        .expect("req");
    let (_, _, body) = app.send(req).await;
    let csv = String::from_utf8(body.to_vec()).expect("utf8");
    assert!(
        csv.starts_with("seq,at,actor,via,action,target,address,status,detail\n"),
        "{csv}"
    );
    assert!(csv.contains(",'=cmd@example.edu,"), "{csv}");
    assert!(!csv.contains(",=cmd"), "{csv}");
    // Without credentials, nothing.
    let (s, _) = app.call(Method::GET, "/api/v1/audit", None, false).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_session_that_must_set_up_two_factor_makes_no_tokens_and_viewers_see_no_acting_links() {
    let app = TestApp::new().await;
    add_member(&app, "v@example.edu", "viewer").await;
    let viewer = token_for(&app, "v@example.edu").await;
    let (s, _) = app
        .admin(
            Method::PUT,
            "/api/v1/settings/security",
            Some(json!({"require_totp": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let vs = sign_in(&app, "v@example.edu").await;
    let hdr = [
        ("cookie", vs.cookie.as_str()),
        ("x-csrf-token", vs.csrf.as_str()),
    ];
    let (st, _, v) = app
        .request(
            Method::POST,
            "/api/v1/me/tokens",
            Some(json!({"name": "sneaky"})),
            &hdr,
            None,
        )
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("totp_setup_required"))
    );
    let (st, _, _) = app
        .request(Method::GET, "/api/v1/me", None, &hdr, None)
        .await;
    assert_eq!(st, StatusCode::OK);
    // The refusal is on record.
    let (_, log) = app
        .admin(
            Method::GET,
            "/api/v1/audit?action=totp_setup_required.me.token_create",
            None,
        )
        .await;
    assert_eq!(log["events"].as_array().expect("events").len(), 1, "{log}");
    // A viewer reads credentials without the links that act on them.
    let ach = app.create_achievement().await;
    let (s, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": ach["id"], "recipient": {"email": "ada@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let cid = award["credential_id"].as_str().expect("cid");
    let (s, v) = with_token(
        &app,
        &viewer,
        Method::GET,
        &format!("/api/v1/credentials/{cid}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    for k in [
        "offer_uri",
        "offer_uri_by_value",
        "claim_url",
        "earner_url",
        "tx_code",
    ] {
        assert!(v.get(k).is_none(), "a viewer sees {k}: {v}");
    }
    let (_, list) = with_token(&app, &viewer, Method::GET, "/api/v1/credentials", None).await;
    assert!(list["credentials"][0].get("claim_url").is_none());
    let (_, v) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{cid}"), None)
        .await;
    assert!(
        v["claim_url"].is_string() && v["offer_uri"].is_string(),
        "{v}"
    );
    // HEAD is GET's rule.
    let req = axum::http::Request::builder()
        .method(Method::HEAD)
        .uri("/api/v1/credentials")
        .header("authorization", format!("Bearer {viewer}"))
        .body(axum::body::Body::empty())
        .expect("req");
    assert_eq!(app.send(req).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_reset_needs_the_second_factor_ends_tokens_and_spends_other_links() {
    let app = TestApp::new().await;
    let id = add_member(&app, "i@example.edu", "issuer").await;
    let token = token_for(&app, "i@example.edu").await;
    let s = sign_in(&app, "i@example.edu").await;
    let hdr = [
        ("cookie", s.cookie.as_str()),
        ("x-csrf-token", s.csrf.as_str()),
    ];
    let (_, _, v) = app
        .request(Method::POST, "/api/v1/me/totp", None, &hdr, None)
        .await;
    let secret = TotpSecret::from_base32(v["secret"].as_str().expect("secret")).expect("b32");
    let (st, _, _) = app
        .request(
            Method::POST,
            "/api/v1/me/totp/confirm",
            Some(json!({"code": secret.code_at(NOW)})),
            &hdr,
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let reset = |v: &Value| {
        v["reset_url"]
            .as_str()
            .expect("reset url")
            .rsplit('/')
            .next()
            .expect("t")
            .to_owned()
    };
    let (_, v1) = app
        .admin(
            Method::POST,
            &format!("/api/v1/staff/{id}/password-reset"),
            None,
        )
        .await;
    let (_, v2) = app
        .admin(
            Method::POST,
            &format!("/api/v1/staff/{id}/password-reset"),
            None,
        )
        .await;
    let (first, second) = (reset(&v1), reset(&v2));
    let path = format!("/api/v1/auth/links/{second}");
    let new = "a fresh and long passphrase";
    let (st, v) = app
        .call(Method::POST, &path, Some(json!({"password": new})), false)
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("totp_required"))
    );
    app.clock.advance(30);
    let (st, v) = app
        .call(
            Method::POST,
            &path,
            Some(json!({"password": new, "totp": secret.code_at(NOW + 30)})),
            false,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    // The reset ended the member's tokens and the other open link.
    let (st, _) = with_token(&app, &token, Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    let (st, _) = app
        .call(
            Method::GET,
            &format!("/api/v1/auth/links/{first}"),
            None,
            false,
        )
        .await;
    assert_eq!(st, StatusCode::GONE);
}

#[tokio::test]
async fn staff_may_stop_an_awards_reminders_but_not_restart_them() {
    let app = TestApp::new().await;
    let ach = app.create_achievement().await;
    let (_, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": ach["id"], "recipient": {"email": "ada@example.org"}})),
        )
        .await;
    let cid = award["credential_id"].as_str().expect("cid");
    let path = format!("/api/v1/credentials/{cid}/mail");
    let (s, _) = app
        .admin(Method::POST, &path, Some(json!({"opt_out": true})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .admin(Method::POST, &path, Some(json!({"opt_out": false})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
}

#[tokio::test]
async fn parallel_guesses_meet_the_same_delay_as_sequential_ones() {
    use tower::ServiceExt as _;
    let app = TestApp::new().await;
    add_member(&app, "o@example.edu", "owner").await;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let router = app.router.clone();
        set.spawn(async move {
            let mut req = axum::http::Request::builder()
                .method(Method::POST)
                .uri("/api/v1/auth/login")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"email": "o@example.edu", "password": "a wrong guess here"}).to_string(),
                ))
                .expect("req");
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(addr(9)));
            router.oneshot(req).await.expect("infallible").status()
        });
    }
    let mut refused = 0;
    let mut throttled = 0;
    while let Some(s) = set.join_next().await {
        match s.expect("task") {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("{other}"),
        }
    }
    assert_eq!(
        (refused, throttled),
        (6, 14),
        "five free tries and the one that starts the delay"
    );
}
