//! `POST /api/v1/verify` against the JOSE attacks: every attack gets a
//! failing check in a 200 report (or a clear 4xx for input that cannot be examined),
//! never a 5xx or a silent success.

use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

fn kid_of(key: &SigningKey) -> String {
    format!("{DID}#{}", key.id())
}

/// A genuine badge's payload (with claims) and the issuer's key, to forge from.
async fn setup() -> (TestApp, String, Value, SigningKey) {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (_, payload, _) = decode_jwt(&jwt);
    (app, jwt, payload, test_signing_key(Algorithm::ES256))
}

async fn expect_fail(app: &TestApp, token: &str, check: &str, needle: &str) -> Value {
    let (s, report) = app.verify(json!(token)).await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["verified"], json!(false), "{report}");
    assert_eq!(outcome(&report, check), Some("fail"), "{check}: {report}");
    assert!(
        message(&report, check)
            .to_lowercase()
            .contains(&needle.to_lowercase()),
        "{check} message should mention {needle:?}: {report}"
    );
    report
}

#[tokio::test]
async fn a_genuine_badge_verifies_and_a_tampered_one_fails_the_signature() {
    let (app, jwt, mut payload, _) = setup().await;
    let (s, report) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], json!(true), "{report}");
    for c in ["signature", "claims", "expiry", "schema", "issuer_trust"] {
        assert_eq!(outcome(&report, c), Some("pass"), "{c}");
    }
    assert_eq!(report["credential"]["jti"], payload["jti"]);

    payload["credentialSubject"]["achievement"]["name"] = json!("Something grander");
    let parts: Vec<&str> = jwt.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(payload.to_string()), parts[2]);
    let report = expect_fail(&app, &tampered, "signature", "does not verify").await;
    // A forgery that names our DID is not vouched for.
    assert_eq!(report["trusted"], Value::Null, "{report}");
    assert_eq!(outcome(&report, "issuer_trust"), Some("indeterminate"));
    // Nor is an unsigned credential claiming to be ours.
    let (_, report) = app
        .verify(json!({"@context": [], "credentialSubject": {}, "issuer": DID}))
        .await;
    assert_eq!(report["trusted"], Value::Null, "{report}");
}

#[tokio::test]
async fn alg_none_in_any_casing_fails() {
    let (app, _, payload, key) = setup().await;
    for none in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": none, "kid": kid_of(&key), "typ": "JWT"}).to_string();
        let token = format!("{}.{}.", b64(&header), b64(payload.to_string()));
        expect_fail(&app, &token, "signature", "none").await;
    }
}

#[tokio::test]
async fn hs256_keyed_with_the_issuers_public_key_fails() {
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    let (app, _, payload, key) = setup().await;
    let header = json!({"alg": "HS256", "kid": kid_of(&key), "typ": "JWT"}).to_string();
    let input = format!("{}.{}", b64(&header), b64(payload.to_string()));
    // Public key bytes an attacker would use as the HMAC secret: the JWK and the PEM.
    let jwk = key.public_jwk().to_value().to_string();
    for secret in [
        jwk.as_bytes().to_vec(),
        std::fs::read(vector_key_path(Algorithm::ES256)).expect("pem"),
    ] {
        let hkey = PKey::hmac(&secret).expect("hmac key");
        let mut signer = Signer::new(MessageDigest::sha256(), &hkey).expect("signer");
        signer.update(input.as_bytes()).expect("update");
        let token = format!("{input}.{}", b64(signer.sign_to_vec().expect("mac")));
        expect_fail(&app, &token, "signature", "HS256").await;
    }
}

#[tokio::test]
async fn a_header_alg_that_does_not_match_the_key_type_fails() {
    let (app, _, payload, key) = setup().await;
    for alg in ["RS256", "EdDSA", "ES384", "PS256"] {
        let header = json!({"alg": alg, "kid": kid_of(&key), "typ": "JWT"}).to_string();
        let token = forge(&key, &header, &payload.to_string());
        let report = expect_fail(&app, &token, "signature", alg).await;
        assert_eq!(outcome(&report, "issuer_trust"), Some("indeterminate"));
    }
}

#[tokio::test]
async fn kid_of_another_did_a_path_or_an_attacker_url_fails() {
    let (app, _, payload, key) = setup().await;
    let attacker = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let frag = key.id().to_owned();
    for kid in [
        format!("did:web:evil.example#{frag}"),
        format!("did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi#{frag}"),
        "../../keys/es256.pem".to_owned(),
        "https://evil.example/jwks.json#1".to_owned(),
        format!("{DID}#does-not-exist"),
    ] {
        let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"}).to_string();
        let token = forge(&attacker, &header, &payload.to_string());
        expect_fail(&app, &token, "signature", "").await;
    }
}

#[tokio::test]
async fn jku_x5u_crit_and_other_headers_fail() {
    let (app, _, payload, key) = setup().await;
    for (name, value) in [
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("crit", json!(["exp"])),
        ("x5c", json!(["MIIB"])),
        ("b64", json!(false)),
    ] {
        let mut header = json!({"alg": "ES256", "kid": kid_of(&key), "typ": "JWT"});
        header[name] = value;
        let token = forge(&key, &header.to_string(), &payload.to_string());
        expect_fail(&app, &token, "signature", name).await;
    }
}

#[tokio::test]
async fn an_embedded_attacker_jwk_is_not_trusted() {
    let (app, _, payload, key) = setup().await;
    let (attacker, _) = SigningKey::generate(Algorithm::ES256).expect("key");
    let evil_jwk = attacker.public_jwk().to_value();
    // With our kid, and without any kid.
    for header in [
        json!({"alg": "ES256", "kid": kid_of(&key), "jwk": evil_jwk, "typ": "JWT"}),
        json!({"alg": "ES256", "jwk": evil_jwk, "typ": "JWT"}),
    ] {
        let token = forge(&attacker, &header.to_string(), &payload.to_string());
        expect_fail(&app, &token, "signature", "jwk").await;
    }
    // The issuer's own key embedded is fine.
    let header = json!({"alg": "ES256", "kid": kid_of(&key), "jwk": key.public_jwk().to_value(), "typ": "JWT"});
    let token = forge(&key, &header.to_string(), &payload.to_string());
    let (_, report) = app.verify(json!(token)).await;
    assert_eq!(report["verified"], json!(true), "{report}");
}

#[tokio::test]
async fn duplicate_members_in_header_or_payload_fail() {
    let (app, _, payload, key) = setup().await;
    let kid = kid_of(&key);
    let header = format!(r#"{{"alg":"ES256","kid":"{kid}","typ":"JWT","alg":"none"}}"#);
    let token = forge(&key, &header, &payload.to_string());
    expect_fail(&app, &token, "signature", "duplicate").await;

    let good_header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"}).to_string();
    let body = payload.to_string();
    let dup = format!(r#"{{"iss":"did:web:evil.example",{}"#, &body[1..]);
    let token = forge(&key, &good_header, &dup);
    expect_fail(&app, &token, "signature", "duplicate").await;
}

#[tokio::test]
async fn claims_that_disagree_with_the_credential_fail() {
    let (app, _, payload, key) = setup().await;
    let header = json!({"alg": "ES256", "kid": kid_of(&key), "typ": "JWT"}).to_string();
    for (claim, value, needle) in [
        ("sub", json!("did:key:z6MkSomeoneElse"), "sub"),
        (
            "jti",
            json!("urn:uuid:00000000-0000-4000-8000-000000000000"),
            "jti",
        ),
        ("nbf", json!(1), "nbf"),
        ("nbf", json!("1795046400"), "nbf"),
        ("exp", json!("2100-01-01"), "exp"),
    ] {
        let mut p = payload.clone();
        p[claim] = value;
        let token = forge(&key, &header, &p.to_string());
        expect_fail(&app, &token, "claims", needle).await;
    }
    for claim in ["iss", "jti", "nbf"] {
        let mut p = payload.clone();
        p.as_object_mut().expect("obj").remove(claim);
        let token = forge(&key, &header, &p.to_string());
        expect_fail(&app, &token, "claims", claim).await;
    }
    let mut p = payload.clone();
    p.as_object_mut().expect("obj").remove("iss");
    let token = forge(&key, &header, &p.to_string());
    expect_fail(&app, &token, "claims", "iss").await;
    // iss naming someone else cannot even pick a key.
    let mut p = payload.clone();
    p["iss"] = json!("did:web:evil.example");
    let token = forge(&key, &header, &p.to_string());
    expect_fail(&app, &token, "signature", "disagree").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_badges_fail_expiry_with_60s_leeway() {
    let (app, _, payload, key) = setup().await;
    let header = json!({"alg": "ES256", "kid": kid_of(&key), "typ": "JWT"}).to_string();
    let at = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .map(accolade::clock::format_seconds)
            .expect("date")
    };
    let with_window = |from: i64, until: Option<i64>| {
        let mut p = payload.clone();
        p["validFrom"] = json!(at(from));
        p["nbf"] = json!(from);
        match until {
            Some(u) => {
                p["validUntil"] = json!(at(u));
                p["exp"] = json!(u);
            }
            None => {
                let o = p.as_object_mut().expect("obj");
                o.remove("validUntil");
                o.remove("exp");
            }
        }
        forge(&key, &header, &p.to_string())
    };
    expect_fail(
        &app,
        &with_window(NOW - 1000, Some(NOW - 61)),
        "expiry",
        "expired",
    )
    .await;
    expect_fail(
        &app,
        &with_window(NOW + 61, None),
        "expiry",
        "not valid before",
    )
    .await;
    for ok in [
        with_window(NOW - 1000, Some(NOW - 59)),
        with_window(NOW + 59, None),
    ] {
        let (_, report) = app.verify(json!(ok)).await;
        assert_eq!(outcome(&report, "expiry"), Some("pass"), "{report}");
        assert_eq!(report["verified"], json!(true));
    }
    // The clock is the injected one: move it past validUntil.
    let token = with_window(NOW - 10, Some(NOW + 3600));
    app.clock.advance(3600 + 61);
    expect_fail(&app, &token, "expiry", "expired").await;
}

#[tokio::test]
async fn other_kinds_of_jwt_are_not_badges() {
    let (app, _, payload, key) = setup().await;
    for typ in [
        "openid4vci-proof+jwt",
        "vc+sd-jwt",
        "statuslist+jwt",
        "at+jwt",
    ] {
        let header = json!({"alg": "ES256", "kid": kid_of(&key), "typ": typ}).to_string();
        let token = forge(&key, &header, &payload.to_string());
        expect_fail(&app, &token, "signature", "typ").await;
    }
    // A status list credential in the vc+jwt envelope is no badge: it is judged by
    // the VC Data Model alone, and the report says so.
    let status_list = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "id": "https://badges.example.edu/status/1",
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": DID, "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "https://badges.example.edu/status/1#list", "type": "BitstringStatusList", "statusPurpose": "revocation", "encodedList": "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA"}
    });
    let header = json!({"alg": "ES256", "kid": kid_of(&key), "typ": "vc+jwt"}).to_string();
    let token = forge(&key, &header, &status_list.to_string());
    let (s, report) = app.verify(json!(token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["standard"], json!("vcdm2"), "{report}");
    assert_eq!(outcome(&report, "schema"), Some("pass"), "{report}");
    // ... and broken data model rules fail it.
    let mut broken = status_list.clone();
    broken["@context"] = json!(["https://example.org/first"]);
    let token = forge(&key, &header, &broken.to_string());
    let (_, report) = app.verify(json!(token)).await;
    assert_eq!(report["verified"], json!(false));
    assert_eq!(report["standard"], json!("vcdm2"));
    assert!(
        message(&report, "schema").contains("/@context/0"),
        "{report}"
    );
}

#[tokio::test]
async fn the_vc_jose_cose_envelope_of_our_badge_verifies() {
    let (app, _, payload, key) = setup().await;
    let mut credential = payload.as_object().expect("obj").clone();
    for c in ["iss", "sub", "nbf", "jti", "exp"] {
        credential.remove(c);
    }
    let cred: accolade::model::AchievementCredential =
        serde_json::from_value(Value::Object(credential)).expect("typed");
    let token = accolade::issue::sign_vc_jose(&cred, &key, &kid_of(&key)).expect("sign");
    let (_, report) = app.verify(json!(token)).await;
    assert_eq!(report["verified"], json!(true), "{report}");
    // Also wrapped as an EnvelopedVerifiableCredential.
    let enveloped = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{token}")});
    let (_, report) = app.verify(enveloped).await;
    assert_eq!(report["verified"], json!(true), "{report}");
}

#[tokio::test]
async fn a_did_key_issuer_verifies_with_unknown_trust_and_weak_keys_fail() {
    let app = TestApp::new().await;
    let (issuer, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
    let did = accolade::did::key::did_key_for(issuer.public_jwk()).expect("did");
    let credential = serde_json::from_str::<Value>(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    let mut c = credential.as_object().expect("obj").clone();
    c["issuer"]["id"] = json!(did.as_str());
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    let kid = format!("{did}#{}", did.method_specific_id());
    let token = forge(
        &issuer,
        &json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"}).to_string(),
        &Value::Object(c.clone()).to_string(),
    );
    let (_, report) = app.verify(json!(token)).await;
    assert_eq!(report["verified"], json!(true), "{report}");
    assert_eq!(report["trusted"], Value::Null);
    assert_eq!(outcome(&report, "issuer_trust"), Some("indeterminate"));

    // An Ed25519 small-order point as the issuer key.
    let mut weak = vec![0xed, 0x01, 1];
    weak.extend_from_slice(&[0u8; 31]);
    let weak_did = format!("did:key:z{}", bs58::encode(weak).into_string());
    c["issuer"]["id"] = json!(weak_did);
    c["iss"] = json!(weak_did);
    let token = forge(
        &issuer,
        &json!({"alg": "EdDSA", "typ": "JWT"}).to_string(),
        &Value::Object(c).to_string(),
    );
    expect_fail(&app, &token, "signature", "small-order").await;
}

#[tokio::test]
async fn a_foreign_did_web_issuer_is_indeterminate_not_verified() {
    let app = TestApp::new().await;
    let (issuer, _) = SigningKey::generate(Algorithm::ES256).expect("key");
    let mut c = serde_json::from_str::<Value>(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!("did:web:other.example");
    let mut c = c.as_object().expect("obj").clone();
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    let token = forge(
        &issuer,
        &json!({"alg": "ES256", "kid": "did:web:other.example#k1"}).to_string(),
        &Value::Object(c).to_string(),
    );
    let (s, report) = app.verify(json!(token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        outcome(&report, "signature"),
        Some("indeterminate"),
        "{report}"
    );
    assert_eq!(report["verified"], json!(false));
}

#[tokio::test]
async fn json_credentials_without_a_proof_fail_and_data_integrity_is_indeterminate() {
    let app = TestApp::new().await;
    let basic: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("json");
    let (s, report) = app.verify(basic).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcome(&report, "signature"), Some("fail"));
    assert_eq!(outcome(&report, "schema"), Some("pass"));
    let signed: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_testvector_signed_credential.json"
    ))
    .expect("json");
    let (s, report) = app.verify(signed).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        outcome(&report, "signature"),
        Some("indeterminate"),
        "{report}"
    );
    assert_eq!(report["verified"], json!(false));
}

#[tokio::test]
async fn input_that_cannot_be_examined_is_a_400_with_an_error_body() {
    let app = TestApp::new().await;
    let dots = ".".repeat(2_000_000);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let cases: Vec<Value> = vec![
        json!("not a jwt"),
        json!("a.b"),
        json!("a.b.c.d"),
        json!(dots),
        json!("e30.e30.!!!"),
        json!(format!("{}.{}.", b64("[1]"), b64("{}"))),
        json!(format!(
            "{}.{}.",
            b64(r#"{"alg":"ES256"}"#),
            b64("not json")
        )),
        json!(42),
        json!({"no": "credential here"}),
        json!({"type": "EnvelopedVerifiableCredential", "id": "https://not-a-data-url.example"}),
    ];
    for c in cases {
        let (s, v) = app.verify(c.clone()).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["error"].is_string() && v["message"].is_string(), "{v}");
    }
    for body in [
        b"[1]".to_vec(),
        b"\"eyJhbGciOiJFUzI1NiJ9\"".to_vec(),
        br#"{"credential": "a", "credential": "b"}"#.to_vec(),
        deep.as_bytes().to_vec(),
        b"{}".to_vec(),
        b"".to_vec(),
        b"\xff\xfe".to_vec(),
    ] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/verify")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("req");
        let (s, _, _) = app.send(req).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let huge = vec![b'a'; 5 * 1024 * 1024];
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/verify")
        .body(Body::from(huge))
        .expect("req");
    let (s, _, _) = app.send(req).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_raw_jwt_body_is_accepted() {
    let (app, jwt, _, _) = setup().await;
    for ctype in ["application/jwt", "application/vc+jwt", "text/plain"] {
        let req = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/verify")
            .header(header::CONTENT_TYPE, ctype)
            .body(Body::from(jwt.clone()))
            .expect("req");
        let (s, _, body) = app.send(req).await;
        assert_eq!(s, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["verified"], json!(true));
    }
}

#[tokio::test]
async fn no_input_gives_a_5xx() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let (app, jwt, _, _) = setup().await;
    let parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut runner = TestRunner::new(Config::default());
    let strategy = (
        prop_oneof![
            Just(parts[0].clone()),
            "[A-Za-z0-9_-]{0,40}",
            Just(b64(r#"{"alg":"none"}"#)),
            Just(b64(r#"{"alg":"ES256","kid":7}"#))
        ],
        prop_oneof![
            Just(parts[1].clone()),
            "[A-Za-z0-9_-]{0,60}",
            Just(b64(r#"{"iss":[],"nbf":{}}"#)),
            Just(b64("null"))
        ],
        prop_oneof![Just(parts[2].clone()), "[A-Za-z0-9_-]{0,90}"],
        any::<bool>(),
    );
    for _ in 0..300 {
        use proptest::strategy::ValueTree as _;
        let (h, p, s, as_object) = strategy.new_tree(&mut runner).expect("generate").current();
        let input = if as_object {
            json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "id": format!("data:application/vc+jwt,{h}.{p}.{s}"), "type": "EnvelopedVerifiableCredential"})
        } else {
            json!(format!("{h}.{p}.{s}"))
        };
        let (s, v) = app.verify(input.clone()).await;
        assert!(
            s == StatusCode::OK || s == StatusCode::BAD_REQUEST,
            "{s} for {input}: {v}"
        );
    }
}

#[tokio::test]
async fn an_enormous_did_key_issuer_is_refused_quickly() {
    let app = TestApp::new().await;
    let issuer = format!("did:key:z{}", "2".repeat(300_000));
    let payload = json!({"issuer": issuer, "iss": issuer, "credentialSubject": {}, "validFrom": "2026-01-01T00:00:00Z"});
    let token = format!(
        "{}.{}.{}",
        b64(r#"{"alg":"EdDSA"}"#),
        b64(payload.to_string()),
        b64([0u8; 64])
    );
    let started = std::time::Instant::now();
    let (s, report) = app.verify(json!(token)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        outcome(&report, "signature"),
        Some("indeterminate"),
        "{}",
        &report.to_string()[..300]
    );
    assert_eq!(report["verified"], json!(false));
    // Not a timing assertion on the happy path: a quadratic decoder would take minutes.
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}
