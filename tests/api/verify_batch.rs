//! `POST /api/v1/verify/batch`: one answer per item, in order; a bad item never fails
//! the batch.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

async fn batch(app: &TestApp, body: Value) -> (StatusCode, Value) {
    app.call(Method::POST, "/api/v1/verify/batch", Some(body), false)
        .await
}

/// The JWT with one character of its payload changed (still valid base64url JSON).
fn tampered(jwt: &str) -> String {
    let (h, p, sig) = decode_jwt(jwt);
    let mut p = p;
    p["credentialSubject"]["achievement"]["name"] = json!("Something Grander");
    format!("{}.{}.{}", b64(h.to_string()), b64(p.to_string()), b64(sig))
}

#[tokio::test]
async fn a_mixed_batch_is_answered_per_item_in_order() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let aid = a["id"].as_str().expect("id");
    let good = app.award_direct(aid, HOLDER_DID).await;
    let revoked = app.award_direct(aid, HOLDER_DID).await;
    let (s, v) = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/credentials/{}/revoke",
                revoked["credential_id"].as_str().expect("id")
            ),
            Some(json!({"reason": "issued in error"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let good = good["credential"].as_str().expect("jwt").to_owned();
    let revoked = revoked["credential"].as_str().expect("jwt").to_owned();

    let (s, v) = batch(
        &app,
        json!({"credentials": [
            good,
            revoked,
            "this is not a JWT",
            tampered(&good),
            {"credential": good, "recipient": {"email": "ada@example.org"}},
            {"credential": good, "recipient": {"email": "eve@example.org"}},
            {"not": "a credential"},
            42,
            {"credential": good, "surprise": true},
            {"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{good}")}
        ]}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 10);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], json!(i), "{r}");
    }
    assert_eq!(results[0]["verified"], json!(true), "{}", results[0]);
    assert_eq!(results[0]["trusted"], json!(true));
    assert_eq!(results[1]["verified"], json!(false));
    assert_eq!(outcome(&results[1], "status"), Some("fail"));
    assert_eq!(message(&results[1], "status"), "revoked");
    assert_eq!(
        results[2]["error"],
        json!("malformed_credential"),
        "{}",
        results[2]
    );
    assert!(
        results[2]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(results[3]["verified"], json!(false));
    assert_eq!(outcome(&results[3], "signature"), Some("fail"));
    assert_eq!(
        outcome(&results[4], "recipient"),
        Some("pass"),
        "{}",
        results[4]
    );
    assert_eq!(results[4]["verified"], json!(true));
    assert_eq!(outcome(&results[5], "recipient"), Some("fail"));
    assert_eq!(results[6]["error"], json!("malformed_credential"));
    assert_eq!(results[7]["error"], json!("malformed_credential"));
    assert_eq!(results[8]["error"], json!("invalid_item"));
    assert_eq!(results[9]["verified"], json!(true), "{}", results[9]);
    assert_eq!(
        v["summary"],
        json!({"verified": 3, "not_verified": 3, "errors": 4})
    );
}

#[tokio::test]
async fn an_empty_or_oversized_batch_is_400() {
    let app = TestApp::new().await;
    let good = app.issue_badge().await;
    for n in [0, 101] {
        let (s, v) = batch(&app, json!({"credentials": vec![good.clone(); n]})).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{n}: {v}");
        assert!(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("1 to 100")),
            "{v}"
        );
    }
    let (s, v) = batch(&app, json!({"credentials": vec![good.clone(); 100]})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["summary"]["verified"], json!(100));
    for bad in [
        json!({}),
        json!({"credentials": "x"}),
        json!([good]),
        json!({"credentials": [], "x": 1}),
    ] {
        let (s, v) = batch(&app, bad.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
}

#[tokio::test]
async fn a_batch_counts_one_request_and_a_verification_per_badge() {
    let app = TestApp::new().await;
    let good = app.issue_badge().await;
    let (s, created) = app
        .admin(
            Method::POST,
            "/api/v1/api-keys",
            Some(json!({"name": "Batcher"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().expect("key");
    let body = json!({"credentials": [good, good, good, "garbage", good]});
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/verify/batch")
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-API-Key", key)
        .body(Body::from(body.to_string()))
        .expect("req");
    let (s, _, bytes) = app.send(req).await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
    let (_, v) = app
        .admin(
            Method::GET,
            &format!("/api/v1/api-keys/{}", created["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(v["usage"]["requests"], json!(1), "{v}");
    assert_eq!(v["usage"]["verifications"], json!(4), "{v}");
}

#[tokio::test]
async fn an_anonymous_batch_pays_for_every_badge_under_the_per_ip_limit() {
    let mut app = TestApp::new().await;
    app.state
        .set_rate_limit(accolade::app::RateLimit::PerSecond(2));
    app.router = accolade::http::router(app.state.clone());
    let jwt = app.issue_badge().await;
    let body = |n: usize| json!({"credentials": vec![jwt.clone(); n]}).to_string();
    let from = |ip: &str, n: usize| {
        let mut req = Request::post("/api/v1/verify/batch")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body(n)))
            .expect("req");
        let addr: std::net::SocketAddr = format!("{ip}:42000").parse().expect("addr");
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        req
    };
    // 2 a second: a batch of 30 is admitted on credit and leaves the address 28
    // calls in debt, so whatever comes next waits about 14 s.
    assert_eq!(app.send(from("203.0.113.90", 30)).await.0, StatusCode::OK);
    let (s, h, _) = app.send(from("203.0.113.90", 1)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = h[header::RETRY_AFTER]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((12..=15).contains(&wait), "{wait}");
    // Another client is not held back.
    assert_eq!(app.send(from("203.0.113.91", 30)).await.0, StatusCode::OK);
}
