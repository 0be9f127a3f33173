//! Snapshots of what outsiders see: the DID document, a decoded badge, error bodies.
//! Ids, salts and timestamps are redacted; the keys are the fixed test keys.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn did_document_snapshot() {
    let app = TestApp::new().await;
    let (s, doc) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_json_snapshot!("did_document_es256", doc);
}

#[tokio::test]
async fn decoded_badge_snapshot() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (header, payload, _) = decode_jwt(&jwt);
    insta::assert_json_snapshot!("badge_header", header);
    // Redacted by hand and printed by serde_json: insta's own JSON writer does not
    // know the numbers serde_json keeps whole (`arbitrary_precision`).
    let mut payload = payload;
    for (at, placeholder) in [
        ("/id", "[credential id]"),
        ("/jti", "[credential id]"),
        ("/credentialSubject/achievement/id", "[achievement id]"),
        ("/credentialSubject/identifier/0/identityHash", "[hash]"),
        ("/credentialSubject/identifier/0/salt", "[salt]"),
        ("/credentialStatus/id", "[status entry id]"),
        ("/credentialStatus/statusListIndex", "[random index]"),
    ] {
        let slot = payload
            .pointer_mut(at)
            .unwrap_or_else(|| panic!("{at} in the badge"));
        *slot = json!(placeholder);
    }
    insta::assert_snapshot!(
        "badge_payload",
        serde_json::to_string_pretty(&payload).expect("json")
    );
}

#[tokio::test]
async fn error_body_snapshots() {
    let app = TestApp::new().await;
    let (_, unauthorized) = app
        .call(Method::GET, "/api/v1/credentials", None, false)
        .await;
    insta::assert_json_snapshot!("error_unauthorized", unauthorized);
    let (_, invalid) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": "x", "recipient": {}})),
        )
        .await;
    insta::assert_json_snapshot!("error_invalid_award", invalid);
    let (_, malformed) = app.verify(json!("a.b")).await;
    insta::assert_json_snapshot!("error_malformed_credential", malformed);
}
