//! Partner API keys: the admin API, keys on the verifier routes, per-key limits and
//! usage counts, and the per-IP limit they replace.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// How a request presents its key.
#[derive(Clone, Copy)]
enum Via {
    Header,
    Bearer,
}

async fn create_key(app: &TestApp, body: Value) -> Value {
    let (s, v) = app
        .admin(Method::POST, "/api/v1/api-keys", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

/// POSTs `body` to a verifier route, presenting `key` (if any), from `client` (if
/// any: a peer address as a real socket would give).
async fn post_keyed(
    app: &TestApp,
    path: &str,
    body: &Value,
    key: Option<(&str, Via)>,
    client: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    match key {
        Some((k, Via::Header)) => b = b.header("X-API-Key", k),
        Some((k, Via::Bearer)) => b = b.header(header::AUTHORIZATION, format!("Bearer {k}")),
        None => {}
    }
    let mut req = b
        .body(Body::from(serde_json::to_vec(body).expect("json")))
        .expect("request");
    if let Some(ip) = client {
        let addr: std::net::SocketAddr = format!("{ip}:40000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
    }
    let (s, h, bytes) = app.send(req).await;
    (s, h, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn usage(app: &TestApp, id: &str) -> Value {
    let (s, v) = app
        .admin(Method::GET, &format!("/api/v1/api-keys/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["usage"].clone()
}

#[tokio::test]
async fn a_key_is_shown_once_and_stored_only_as_a_digest() {
    let app = TestApp::new().await;
    let created = create_key(&app, json!({"name": "Acme Hiring", "rate_limit": 50})).await;
    let secret = created["key"].as_str().expect("key").to_owned();
    assert!(
        secret.starts_with("acc_live_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(created["name"], json!("Acme Hiring"));
    assert_eq!(created["rate_limit"], json!(50));
    assert_eq!(created["revoked"], json!(false));
    assert_eq!(
        created["usage"],
        json!({"requests": 0, "verifications": 0, "rejected_rate_limited": 0, "last_used_at": null})
    );
    let id = created["id"].as_str().expect("id");

    let (_, one) = app
        .admin(Method::GET, &format!("/api/v1/api-keys/{id}"), None)
        .await;
    let (_, all) = app.admin(Method::GET, "/api/v1/api-keys", None).await;
    assert_eq!(all["api_keys"].as_array().map(Vec::len), Some(1));
    for shown in [&one, &all] {
        assert!(!shown.to_string().contains(&secret), "{shown}");
    }
    assert!(one.get("key").is_none());

    let body = &secret["acc_live_".len()..];
    let records = app.store.partners.partner_keys().await.expect("keys");
    assert_eq!(records.len(), 1);
    let stored = serde_json::to_string(&records[0]).expect("json");
    assert!(!stored.contains(body), "the store holds the secret");
    assert!(!stored.contains(&secret));

    for bad in [
        json!({"name": ""}),
        json!({"name": "x", "rate_limit": 0}),
        json!({"name": "x", "rate_limit": -1}),
        json!({"name": "x", "key": "acc_live_mine"}),
        json!({}),
    ] {
        let (s, v) = app
            .admin(Method::POST, "/api/v1/api-keys", Some(bad.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
    }
    let (s, _) = app
        .admin(Method::GET, "/api/v1/api-keys/no-such-key", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn usage_counts_match_the_calls_made() {
    let app = TestApp::new().await;
    let badge = app.issue_badge().await;
    let created = create_key(&app, json!({"name": "Counter"})).await;
    assert_eq!(created["rate_limit"], json!(100), "the default");
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");

    for i in 0..7 {
        let via = if i % 2 == 0 { Via::Header } else { Via::Bearer };
        let (s, _, r) = post_keyed(
            &app,
            "/api/v1/verify",
            &json!({"credential": badge}),
            Some((key, via)),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["verified"], json!(true), "{r}");
    }
    let (s, _, _) = post_keyed(
        &app,
        "/credentials/verify",
        &json!({"verifiableCredential": {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["EnvelopedVerifiableCredential"],
                "id": format!("data:application/vc+jwt,{badge}")}}),
        Some((key, Via::Header)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Malformed input is a request, not a verification.
    let (s, _, _) = post_keyed(
        &app,
        "/api/v1/verify",
        &json!({"credential": "not a jwt"}),
        Some((key, Via::Header)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Anonymous calls are not the key's.
    let (s, r) = app.verify(json!(badge)).await;
    assert_eq!((s, r["verified"].clone()), (StatusCode::OK, json!(true)));

    let u = usage(&app, id).await;
    assert_eq!(u["requests"], json!(9), "{u}");
    assert_eq!(u["verifications"], json!(8), "{u}");
    assert_eq!(u["rejected_rate_limited"], json!(0), "{u}");
    assert_eq!(u["last_used_at"], json!("2026-11-19T00:00:00Z"));

    // Written out (as the serve loop does every second), the counts survive a restart.
    let mut app = app;
    app.state
        .partner_keys
        .persist_usage()
        .await
        .expect("persist");
    app.restart().await;
    assert_eq!(usage(&app, id).await, u);
}

#[tokio::test]
async fn a_key_over_its_own_limit_gets_429_with_retry_after() {
    let app = TestApp::new().await;
    let created = create_key(&app, json!({"name": "Small", "rate_limit": 5})).await;
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");
    // No peer address here: the per-IP limiter never applies, the key's does.
    let empty = json!({});
    let call = || {
        post_keyed(
            &app,
            "/api/v1/verify",
            &empty,
            Some((key, Via::Header)),
            None,
        )
    };
    for i in 0..5 {
        let (s, _, v) = call().await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "call {i} is admitted: {v}");
    }
    let (s, h, v) = call().await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert_eq!(v["error"], json!("rate_limited"));
    assert_eq!(
        h.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let u = usage(&app, id).await;
    assert_eq!(
        (u["requests"].clone(), u["rejected_rate_limited"].clone()),
        (json!(5), json!(1))
    );

    // Another key is not affected; time refills the bucket.
    let other = create_key(&app, json!({"name": "Other", "rate_limit": 5})).await;
    let (s, _, _) = post_keyed(
        &app,
        "/api/v1/verify",
        &json!({}),
        Some((other["key"].as_str().expect("key"), Via::Bearer)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    app.clock.advance(1);
    let (s, _, _) = call().await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Raising the limit applies to the next request.
    let (s, v) = app
        .admin(
            Method::PATCH,
            &format!("/api/v1/api-keys/{id}"),
            Some(json!({"rate_limit": 500, "name": "Bigger"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["rate_limit"].clone(), v["name"].clone()),
        (json!(500), json!("Bigger"))
    );
    app.clock.advance(1);
    for _ in 0..20 {
        let (s, _, _) = call().await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn unknown_and_revoked_keys_are_refused_and_admin_tokens_are_not_keys() {
    let app = TestApp::new().await;
    let badge = app.issue_badge().await;
    let created = create_key(&app, json!({"name": "Short-lived"})).await;
    let key = created["key"].as_str().expect("key");
    let id = created["id"].as_str().expect("id");
    let body = json!({"credential": badge});

    let refused = |(s, h, v): (StatusCode, HeaderMap, Value)| {
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(v["error"], json!("invalid_api_key"));
        assert!(h.get(header::WWW_AUTHENTICATE).is_some());
    };
    let unknown = format!("acc_live_{}", "A".repeat(43));
    for bad in [unknown.as_str(), "acc_live_short"] {
        for via in [Via::Header, Via::Bearer] {
            refused(post_keyed(&app, "/api/v1/verify", &body, Some((bad, via)), None).await);
        }
    }
    for bad in ["", "not-a-key", TOKEN] {
        refused(
            post_keyed(
                &app,
                "/api/v1/verify",
                &body,
                Some((bad, Via::Header)),
                None,
            )
            .await,
        );
    }
    for path in ["/credentials/verify", "/presentations/verify"] {
        refused(post_keyed(&app, path, &json!({}), Some((TOKEN, Via::Header)), None).await);
    }
    // A bearer token that is not an API key (here the admin token) earns nothing and
    // costs nothing: the public route answers it as an anonymous call.
    let (s, _, r) = post_keyed(
        &app,
        "/api/v1/verify",
        &body,
        Some((TOKEN, Via::Bearer)),
        None,
    )
    .await;
    assert_eq!(
        (s, r["verified"].clone()),
        (StatusCode::OK, json!(true)),
        "{r}"
    );

    // The API key is not an admin token.
    let (s, _, _) = {
        let req = Request::builder()
            .method(Method::GET)
            .uri("/api/v1/api-keys")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .expect("req");
        app.send(req).await
    };
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, _, _) = post_keyed(
        &app,
        "/api/v1/verify",
        &body,
        Some((key, Via::Header)),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let revoke = format!("/api/v1/api-keys/{id}/revoke");
    let (s, v) = app.admin(Method::POST, &revoke, None).await;
    assert_eq!(
        (s, v["revoked"].clone()),
        (StatusCode::OK, json!(true)),
        "{v}"
    );
    assert!(v["revoked_at"].is_string());
    let (s, again) = app.admin(Method::POST, &revoke, None).await;
    assert_eq!((s, &again), (StatusCode::OK, &v), "idempotent");
    refused(
        post_keyed(
            &app,
            "/api/v1/verify",
            &body,
            Some((key, Via::Header)),
            None,
        )
        .await,
    );
    refused(
        post_keyed(
            &app,
            "/api/v1/verify",
            &body,
            Some((key, Via::Bearer)),
            None,
        )
        .await,
    );

    // Anonymous verification still works.
    let (s, _, r) = post_keyed(&app, "/api/v1/verify", &body, None, None).await;
    assert_eq!((s, r["verified"].clone()), (StatusCode::OK, json!(true)));
    let (s, _) = app
        .admin(Method::POST, "/api/v1/api-keys/no-such-key/revoke", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_valid_key_replaces_the_per_ip_limit_and_an_invalid_one_does_not() {
    let mut app = TestApp::new().await;
    app.state
        .set_rate_limit(accolade::app::RateLimit::PerSecond(2));
    app.router = accolade::http::router(app.state.clone());
    let created = create_key(&app, json!({"name": "Busy partner", "rate_limit": 1000})).await;
    let key = created["key"].as_str().expect("key");

    let ip = "203.0.113.90";
    for i in 0..20 {
        let (s, _, v) = post_keyed(
            &app,
            "/api/v1/verify",
            &json!({}),
            Some((key, Via::Header)),
            Some(ip),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "keyed call {i}: {v}");
    }
    // The same address without a key is limited per IP as before.
    let mut last = StatusCode::OK;
    for _ in 0..3 {
        last = post_keyed(&app, "/api/v1/verify", &json!({}), None, Some(ip))
            .await
            .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);

    // A made-up key is limited per IP first, and refused.
    let other_ip = "203.0.113.91";
    let fake = format!("acc_live_{}", "B".repeat(43));
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(
            post_keyed(
                &app,
                "/api/v1/verify",
                &json!({}),
                Some((&fake, Via::Header)),
                Some(other_ip),
            )
            .await
            .0,
        );
    }
    assert_eq!(
        seen,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );

    // A valid key earns no exemption on other routes.
    let third_ip = "203.0.113.92";
    let mut last = StatusCode::OK;
    for _ in 0..3 {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri("/healthz")
            .header("X-API-Key", key)
            .body(Body::empty())
            .expect("req");
        let addr: std::net::SocketAddr = format!("{third_ip}:40000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        last = app.send(req).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn every_verifier_route_takes_a_key() {
    let app = TestApp::new().await;
    let routes = accolade::http::verifier_routes();
    assert!(routes.len() >= 3, "{routes:?}");
    for (method, path) in routes {
        let req = Request::builder()
            .method(method.clone())
            .uri(path)
            .header("X-API-Key", "acc_live_nope")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .expect("req");
        let (s, _, body) = app.send(req).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["error"], json!("invalid_api_key"), "{method} {path}");
    }
}
