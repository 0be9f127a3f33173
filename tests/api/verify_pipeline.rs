//! The verification pipeline beyond the JOSE rows: the credential forms (VCDM 1.1 `vc`
//! claim, did:jwk issuers), the recipient and endorsement checks, baked images through
//! `POST /api/v1/verify`, and the W3C VC-API routes.

use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::helpers::*;

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

/// An OB 3.0 JWT badge of a did:key issuer, after `edit` on the credential.
fn did_key_badge(k: &SigningKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let (did, kid) = did_key_of(k);
    let mut c = example("ob3_basic_openbadgecredential.json");
    c["issuer"]["id"] = json!(did);
    edit(&mut c);
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    sign_compact(
        k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&c).expect("json"),
    )
    .expect("sign")
}

async fn post_raw(app: &TestApp, path: &str, ctype: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, ctype)
        .body(Body::from(body))
        .expect("request");
    let (s, _, bytes) = app.send(req).await;
    (s, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_vcdm_1_1_jwt_with_a_vc_claim_verifies_and_its_claims_must_agree() {
    let app = TestApp::new().await;
    let k = key(Algorithm::EdDSA);
    let (did, kid) = did_key_of(&k);
    let make = |edit: &dyn Fn(&mut Value)| {
        let mut payload = json!({
            "iss": did, "sub": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "nbf": 1_262_304_000, "jti": "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002",
            "vc": {
                "@context": ["https://www.w3.org/2018/credentials/v1",
                             "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
                "type": ["VerifiableCredential", "OpenBadgeCredential"],
                "issuer": {"id": did, "type": ["Profile"], "name": "Example Corp"},
                "name": "Teamwork Badge",
                "credentialSubject": {"type": ["AchievementSubject"], "achievement": {
                    "id": "https://example.com/achievements/teamwork", "type": ["Achievement"],
                    "name": "Teamwork", "description": "Works in teams.",
                    "criteria": {"narrative": "Nominated by peers."}}}
            }
        });
        edit(&mut payload);
        sign_compact(
            &k,
            Some(&kid),
            Some("JWT"),
            &serde_json::to_vec(&payload).expect("json"),
        )
        .expect("sign")
    };
    let (s, r) = app.verify(json!(make(&|_| {}))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["verified"], true, "{r}");
    for check in ["signature", "claims", "expiry", "schema"] {
        assert_eq!(outcome(&r, check), Some("pass"), "{check}: {r}");
    }
    // A `vc` that states a different id than `jti` is a claims failure.
    let (_, r) = app
        .verify(json!(make(&|p| p["vc"]["id"] = json!("urn:uuid:other"))))
        .await;
    assert_eq!(outcome(&r, "claims"), Some("fail"), "{r}");
    // An expirationDate in the past fails expiry.
    let (_, r) = app
        .verify(json!(make(&|p| p["exp"] = json!(1_300_000_000))))
        .await;
    assert_eq!(outcome(&r, "expiry"), Some("fail"), "{r}");
}

#[tokio::test]
async fn a_did_jwk_issuer_verifies_offline() {
    let app = TestApp::new().await;
    let k = key(Algorithm::ES256);
    let did = accolade::did::jwk::did_jwk_for(k.public_jwk());
    let mut c = example("ob3_basic_openbadgecredential.json");
    c["issuer"]["id"] = json!(did.as_str());
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    let payload = serde_json::to_vec(&c).expect("json");
    let good = sign_compact(&k, Some(&format!("{did}#0")), Some("JWT"), &payload).expect("sign");
    let (_, r) = app.verify(json!(good)).await;
    assert_eq!(r["verified"], true, "{r}");
    let bad = sign_compact(&k, Some(&format!("{did}#1")), Some("JWT"), &payload).expect("sign");
    let (_, r) = app.verify(json!(bad)).await;
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
}

#[tokio::test]
async fn the_recipient_check_compares_the_hashed_email_when_asked() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await; // awarded to ada@example.org
    let ask = |email: &str| json!({"credential": jwt, "recipient": {"email": email}});
    let (s, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(ask("ada@example.org")),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcome(&r, "recipient"), Some("pass"), "{r}");
    assert_eq!(r["verified"], true);
    let (_, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(ask("Ada@Example.org")),
            false,
        )
        .await;
    assert_eq!(outcome(&r, "recipient"), Some("pass"), "{r}");
    let (_, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(ask("mallory@example.org")),
            false,
        )
        .await;
    assert_eq!(outcome(&r, "recipient"), Some("fail"), "{r}");
    assert_eq!(
        r["verified"], false,
        "a badge of someone else is not verified for them"
    );
    // Without the question the check is left out.
    let (_, r) = app.verify(json!(jwt)).await;
    assert_eq!(outcome(&r, "recipient"), None);
    // A typo in the request is a 400, not a silently skipped check.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"credential": jwt, "recipient_email": "x"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// The achievement id of the basic example badge, which the endorsements endorse.
const ENDORSED: &str = "https://example.com/achievements/21st-century-skills/teamwork";

/// An endorsement of `subject` by `endorser`, signed as a JWT by `signer`.
fn endorsement(
    endorser: &SigningKey,
    signer: &SigningKey,
    subject: &str,
    edit: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let (did, kid) = did_key_of(endorser);
    let mut e = example("ob3_endorsementcredential.json");
    e["issuer"]["id"] = json!(did);
    e["credentialSubject"]["id"] = json!(subject);
    e.remove("credentialStatus");
    e.remove("refreshService");
    edit(&mut e);
    accolade::jose::claims::add_jwt_claims(&mut e).expect("claims");
    sign_compact(
        signer,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&e).expect("json"),
    )
    .expect("sign")
}

/// A badge of `issuer` whose achievement carries `endorsements` under `key`.
fn endorsed_badge(issuer: &SigningKey, key: &str, endorsements: Value) -> String {
    did_key_badge(issuer, |c| {
        c["credentialSubject"]["achievement"]
            .as_object_mut()
            .expect("achievement")
            .insert(key.to_owned(), endorsements);
    })
}

#[tokio::test]
async fn endorsements_are_verified_and_a_bad_one_fails_the_badge() {
    let app = TestApp::new().await;
    let issuer = key(Algorithm::ES256);
    let endorser = key(Algorithm::EdDSA);
    let good = endorsement(&endorser, &endorser, ENDORSED, |_| {});
    let (_, r) = app
        .verify(json!(endorsed_badge(
            &issuer,
            "endorsementJwt",
            json!([good])
        )))
        .await;
    assert_eq!(outcome(&r, "endorsements"), Some("pass"), "{r}");
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["endorsements"][0]["verified"], true);

    let cases = [
        (
            "forged: signed by someone other than its stated issuer",
            endorsement(&endorser, &key(Algorithm::EdDSA), ENDORSED, |_| {}),
            "signature",
        ),
        (
            "a genuine endorsement of something else, moved onto this badge",
            endorsement(
                &endorser,
                &endorser,
                "https://example.com/achievements/other",
                |_| {},
            ),
            "endorses https://example.com/achievements/other",
        ),
        (
            "expired",
            endorsement(&endorser, &endorser, ENDORSED, |e| {
                e.insert("validUntil".into(), json!("2020-01-01T00:00:00Z"));
            }),
            "expiry",
        ),
    ];
    for (what, bad, needle) in cases {
        let badge = endorsed_badge(&issuer, "endorsementJwt", json!([good, bad]));
        let (_, r) = app.verify(json!(badge)).await;
        assert_eq!(outcome(&r, "endorsements"), Some("fail"), "{what}: {r}");
        let m = message(&r, "endorsements");
        assert!(
            m.contains("endorsementJwt[1]") && m.contains(needle),
            "{what}: {m}"
        );
        assert_eq!(r["verified"], false, "{what}");
    }

    // An endorsement in the VCDM 1.1 form (the credential in a `vc` claim) is bound
    // through its `vc.credentialSubject.id`.
    let (edid, ekid) = did_key_of(&endorser);
    let mut vc = example("ob3_endorsementcredential.json");
    vc.remove("credentialStatus");
    vc.remove("refreshService");
    vc["issuer"]["id"] = json!(edid);
    vc["credentialSubject"]["id"] = json!(ENDORSED);
    vc.insert(
        "@context".into(),
        json!([
            "https://www.w3.org/2018/credentials/v1",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
        ]),
    );
    let from = vc.remove("validFrom").expect("validFrom");
    vc.insert("issuanceDate".into(), from);
    let until = vc.remove("validUntil").expect("validUntil");
    vc.insert("expirationDate".into(), until);
    let id = vc["id"].clone();
    let payload = json!({"iss": edid, "sub": ENDORSED, "jti": id, "nbf": 1_262_304_000,
                         "exp": 1_893_456_000, "vc": vc});
    let v11 = sign_compact(
        &endorser,
        Some(&ekid),
        Some("JWT"),
        &serde_json::to_vec(&payload).expect("json"),
    )
    .expect("sign");
    let (_, r) = app
        .verify(json!(endorsed_badge(
            &issuer,
            "endorsementJwt",
            json!([v11])
        )))
        .await;
    assert_eq!(outcome(&r, "endorsements"), Some("pass"), "{r}");

    // A Data Integrity endorsement whose proof is not even complete (no purpose, no
    // method, a stub value) fails, as one with no proof at all does.
    let mut di = example("ob3_endorsementcredential.json");
    di["credentialSubject"]["id"] = json!(ENDORSED);
    di.remove("credentialStatus");
    let unsigned = di.clone();
    di.insert(
        "proof".into(),
        json!([{"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z1"}]),
    );
    let (_, r) = app
        .verify(json!(endorsed_badge(&issuer, "endorsement", json!([di]))))
        .await;
    assert_eq!(outcome(&r, "endorsements"), Some("fail"), "{r}");
    assert!(
        message(&r, "endorsements").contains("assertionMethod"),
        "{r}"
    );
    assert_eq!(r["verified"], false);
    let (_, r) = app
        .verify(json!(endorsed_badge(
            &issuer,
            "endorsement",
            json!([unsigned])
        )))
        .await;
    assert_eq!(outcome(&r, "endorsements"), Some("fail"), "{r}");

    // Endorsements of a badge whose own signature fails are not looked at.
    let mut parts: Vec<String> = endorsed_badge(&issuer, "endorsementJwt", json!([good]))
        .split('.')
        .map(str::to_owned)
        .collect();
    parts[2] = b64([1u8; 64]);
    let (_, r) = app.verify(json!(parts.join("."))).await;
    assert_eq!(outcome(&r, "signature"), Some("fail"));
    assert_eq!(outcome(&r, "endorsements"), Some("indeterminate"), "{r}");
}

/// A PNG with an `iTXt` chunk, written by the `png` crate.
fn baked_png(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 2, 2);
        enc.set_color(png::ColorType::Rgb);
        enc.add_itxt_chunk("openbadgecredential".into(), text.into())
            .expect("itxt");
        let mut w = enc.write_header().expect("header");
        w.write_image_data(&[200u8; 12]).expect("data");
    }
    out
}

#[tokio::test]
async fn baked_png_and_svg_badges_verify_through_the_api() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (s, r) = post_raw(&app, "/api/v1/verify", "image/png", baked_png(&jwt)).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["trusted"], true);

    let svg = format!(
        r#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0" width="10" height="10"><openbadges:credential verify="{jwt}"/><circle r="5"/></svg>"#
    );
    let (s, r) = post_raw(&app, "/api/v1/verify", "image/svg+xml", svg.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");

    // Recognised by its bytes when sent without a content type.
    let (s, r) = post_raw(
        &app,
        "/api/v1/verify",
        "application/octet-stream",
        baked_png(&jwt),
    )
    .await;
    assert_eq!(
        (s, r["verified"].clone()),
        (StatusCode::OK, json!(true)),
        "{r}"
    );

    // A tampered credential inside an intact image is examined and fails.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[2] = b64([7u8; 64]);
    let (s, r) = post_raw(
        &app,
        "/api/v1/verify",
        "image/png",
        baked_png(&parts.join(".")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");

    // Broken or empty images cannot be examined: 400 with an error body.
    let png = baked_png(&jwt);
    for (ctype, body) in [
        ("image/png", png[..png.len() / 2].to_vec()),
        ("image/png", baked_png("not a credential")),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("image/svg+xml", b"<svg".to_vec()),
    ] {
        let (s, r) = post_raw(&app, "/api/v1/verify", ctype, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{ctype}: {r}");
        assert!(r["message"].is_string(), "{r}");
    }
    let (s, _) = post_raw(&app, "/api/v1/verify", "image/gif", b"GIF89a".to_vec()).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn vc_api_verify_answers_4xx_for_a_credential_that_does_not_verify() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let cid = decode_jwt(&jwt).1["jti"].as_str().expect("jti").to_owned();
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{cid}/revoke"),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let env = json!({"@context": "https://www.w3.org/ns/credentials/v2",
        "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{jwt}")});
    let (s, r) = app
        .call(
            Method::POST,
            "/credentials/verify",
            Some(json!({"verifiableCredential": env, "options": {"returnCredential": true}})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["verified"], false);
    assert_eq!(r["errors"][0]["detail"], "revoked", "{r}");
    assert!(r["problemDetails"][0]["type"].is_string());
    assert_eq!(r["credential"]["jti"], cid.as_str());
    for bad in [
        json!({}),
        json!({"verifiableCredential": 5}),
        json!({"verifiableCredential": env, "options": {"nope": 1}}),
        json!({"credential": env}),
    ] {
        let (s, _) = app
            .call(
                Method::POST,
                "/credentials/verify",
                Some(bad.clone()),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// A VP-JWT (VCDM 1.1 form) by `holder` around `credentials`.
fn vp_jwt(holder: &SigningKey, credentials: &[&str], nonce: &str, aud: &str) -> String {
    let (did, kid) = did_key_of(holder);
    let payload = json!({"iss": did, "nonce": nonce, "aud": aud, "nbf": NOW - 10, "exp": NOW + 300,
        "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"],
               "verifiableCredential": credentials}});
    sign_compact(
        holder,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&payload).expect("json"),
    )
    .expect("sign")
}

#[tokio::test]
async fn vc_api_presentations_check_the_holder_the_challenge_and_each_credential() {
    let app = TestApp::new().await;
    let holder = key(Algorithm::EdDSA);
    let (holder_did, _) = did_key_of(&holder);
    let a = app.create_achievement().await;
    let award = app
        .award_direct(a["id"].as_str().expect("id"), &holder_did)
        .await;
    let badge = award["credential"].as_str().expect("jwt").to_owned();
    let ask = |vp: String, challenge: &str| json!({"verifiablePresentation": vp, "options": {"challenge": challenge, "domain": "https://employer.example", "holderBinding": true}});
    let (s, r) = app
        .call(
            Method::POST,
            "/presentations/verify",
            Some(ask(
                vp_jwt(&holder, &[&badge], "n-1", "https://employer.example"),
                "n-1",
            )),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["credentialResults"][0]["verified"], true);

    // Wrong nonce, wrong audience, another signer, a badge of someone else: not
    // verified, answered 400 with the same body.
    let other = key(Algorithm::EdDSA);
    let someone_elses = app.issue_badge().await;
    let cases = [
        (
            vp_jwt(&holder, &[&badge], "n-2", "https://employer.example"),
            "nonce",
        ),
        (
            vp_jwt(&holder, &[&badge], "n-1", "https://elsewhere.example"),
            "audience",
        ),
        (
            vp_jwt(&other, &[&badge], "n-1", "https://employer.example"),
            "holder_binding",
        ),
        (
            vp_jwt(
                &holder,
                &[&someone_elses],
                "n-1",
                "https://employer.example",
            ),
            "holder_binding",
        ),
    ];
    for (vp, failing) in cases {
        let (s, r) = app
            .call(
                Method::POST,
                "/presentations/verify",
                Some(ask(vp, "n-1")),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
        assert_eq!(r["verified"], false, "{failing}: {r}");
        let checks = r["presentationResult"]["checks"]
            .as_array()
            .expect("checks");
        assert!(
            checks
                .iter()
                .any(|c| c["check"] == failing && c["outcome"] == "fail"),
            "{failing}: {r}"
        );
    }
    // Unless holder binding is asked for, a holder may present another's badge.
    let (s, r) = app
        .call(
            Method::POST,
            "/presentations/verify",
            Some(json!({"verifiablePresentation": vp_jwt(&other, &[&badge], "n-1", "https://employer.example"),
                        "options": {"challenge": "n-1", "domain": "https://employer.example"}})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(
        !r.to_string().contains("holder_binding"),
        "no binding was asked for: {r}"
    );
    // An unsigned presentation: only its credentials are judged.
    let enveloped = json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{badge}")});
    let unsigned = json!({"presentation": {"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"], "verifiableCredential": [enveloped]}});
    let (s, r) = app
        .call(Method::POST, "/presentations/verify", Some(unsigned), false)
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");
    let (s, _) = app
        .call(
            Method::POST,
            "/presentations/verify",
            Some(json!({"verifiablePresentation": "x.y"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn from_client(app: &TestApp, ip: &str, path: &str) -> (StatusCode, Option<String>) {
    let client: std::net::SocketAddr = format!("{ip}:40000").parse().expect("addr");
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .expect("req");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(client));
    let (s, h, _) = app.send(req).await;
    let retry = h
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (s, retry)
}

#[tokio::test]
async fn verify_endpoints_are_rate_limited_per_client_with_a_generous_default() {
    // The default lets a client burst well past 1,000 requests before any refusal.
    let app = TestApp::new().await;
    for i in 0..1_500 {
        let path = [
            "/api/v1/verify",
            "/credentials/verify",
            "/presentations/verify",
        ][i % 3];
        let (s, _) = from_client(&app, "203.0.113.77", path).await;
        assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "request {i}");
    }
    let mut app = TestApp::new().await;
    app.state
        .set_rate_limit(accolade::app::RateLimit::PerSecond(3));
    app.router = accolade::http::router(app.state.clone());
    for path in [
        "/api/v1/verify",
        "/credentials/verify",
        "/presentations/verify",
    ] {
        let ip = match path {
            "/api/v1/verify" => "203.0.113.78",
            "/credentials/verify" => "203.0.113.79",
            _ => "203.0.113.80",
        };
        let mut last = (StatusCode::OK, None);
        for _ in 0..5 {
            last = from_client(&app, ip, path).await;
        }
        assert_eq!(last.0, StatusCode::TOO_MANY_REQUESTS, "{path}");
        assert_eq!(last.1.as_deref(), Some("1"), "{path}");
    }
}

#[tokio::test]
async fn a_presentation_must_be_signed_by_the_holder_it_names() {
    let app = TestApp::new().await;
    let holder = key(Algorithm::ES256);
    let (holder_did, holder_kid) = did_key_of(&holder);
    let a = app.create_achievement().await;
    let award = app
        .award_direct(a["id"].as_str().expect("id"), &holder_did)
        .await;
    let badge = award["credential"].as_str().expect("jwt").to_owned();
    let payload = json!({"iss": holder_did, "nonce": "n-9", "aud": "https://employer.example",
        "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"],
               "type": ["VerifiablePresentation"], "verifiableCredential": [badge]}});
    let body = serde_json::to_vec(&payload).expect("json");
    let ask = |vp: String| json!({"presentation": vp, "nonce": "n-9", "audience": "https://employer.example"});

    // Through /api/v1/verify: verified, with the badge's own report.
    let good = sign_compact(&holder, Some(&holder_kid), Some("JWT"), &body).expect("sign");
    let (s, r) = app
        .call(Method::POST, "/api/v1/verify", Some(ask(good)), false)
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["trusted"], true, "our own badge");
    assert_eq!(r["holder"], holder_did.as_str());
    assert_eq!(r["credentials"][0]["verified"], true);

    // Claims the holder's kid, signed by another key.
    let other = key(Algorithm::ES256);
    let forged = sign_compact(&other, Some(&holder_kid), Some("JWT"), &body).expect("sign");
    let (_, r) = app
        .call(Method::POST, "/api/v1/verify", Some(ask(forged)), false)
        .await;
    assert_eq!(r["verified"], false);
    let sig = r["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["check"] == "signature"))
        .cloned()
        .expect("signature check");
    assert_eq!(sig["outcome"], "fail", "{r}");

    // An embedded jwk that is not the holder's key.
    let header = json!({"alg": "ES256", "kid": holder_kid, "jwk": other.public_jwk().to_value()});
    let input = format!("{}.{}", b64(header.to_string()), b64(&body));
    let sig = other.sign(input.as_bytes()).expect("sign");
    let (_, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(ask(format!("{input}.{}", b64(sig)))),
            false,
        )
        .await;
    assert_eq!(r["verified"], false, "{r}");

    // A recipient question does not apply to a presentation.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"presentation": "a.b.c", "recipient": {"email": "ada@example.org"}})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // nonce and audience without a presentation are refused.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"credential": badge, "nonce": "x"})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

/// A request from `peer` carrying `X-Forwarded-For: forwarded`.
async fn through_proxy(app: &TestApp, peer: &str, forwarded: &str) -> StatusCode {
    let peer: std::net::SocketAddr = format!("{peer}:40000").parse().expect("addr");
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/verify")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", forwarded)
        .body(Body::from("{}"))
        .expect("req");
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    app.send(req).await.0
}

#[tokio::test]
async fn behind_a_trusted_proxy_limits_apply_per_forwarded_client_and_never_per_forged_header() {
    let mut app = TestApp::new().await;
    app.state
        .set_rate_limit(accolade::app::RateLimit::PerSecond(3));
    app.state
        .set_trusted_proxies(accolade::net::proxy::TrustedProxies::new([
            accolade::net::proxy::parse_network("10.77.0.0/16").expect("net"),
        ]));
    app.router = accolade::http::router(app.state.clone());
    // Many clients behind one proxy: each has its own budget.
    for client in 1..=20 {
        for _ in 0..3 {
            let s = through_proxy(&app, "10.77.0.1", &format!("198.51.100.{client}")).await;
            assert_ne!(s, StatusCode::TOO_MANY_REQUESTS, "client {client}");
        }
    }
    // One of them over its budget is refused, whichever proxy it comes through.
    let s = through_proxy(&app, "10.77.0.2", "198.51.100.1").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // A client that is not a proxy cannot pick its address with the header: every
    // forged value draws on its own budget.
    let mut last = StatusCode::OK;
    for i in 0..5 {
        last = through_proxy(&app, "203.0.113.91", &format!("192.0.2.{i}")).await;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_data_models_rules_are_held_for_credentials_and_presentations() {
    let app = TestApp::new().await;
    let badge = app.issue_badge().await;
    // Our badge is an Open Badge: judged by OB 3.0 and the data model.
    let (_, r) = app.verify(json!(badge)).await;
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["standard"], "ob3", "{r}");
    let data_url = format!("data:application/vc+jwt,{badge}");
    // An enveloped credential needs the VCDM 2.0 context first (§4.13.1).
    for context in [
        json!([]),
        json!([
            "https://example.org/ctx",
            "https://www.w3.org/ns/credentials/v2"
        ]),
    ] {
        let env =
            json!({"@context": context, "type": "EnvelopedVerifiableCredential", "id": data_url});
        let (s, r) = app
            .call(
                Method::POST,
                "/credentials/verify",
                Some(json!({"verifiableCredential": env})),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{context}: {r}");
        assert!(r.to_string().contains("@context"), "{r}");
    }
    // A presentation needs its context and type (§4.13).
    let env = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": "EnvelopedVerifiableCredential", "id": data_url});
    for (vp, want) in [
        (
            json!({"type": ["VerifiablePresentation"], "verifiableCredential": [env.clone()]}),
            "/@context",
        ),
        (
            json!({"@context": ["https://www.w3.org/2018/credentials/examples/v1"], "type": ["VerifiablePresentation"], "verifiableCredential": [env.clone()]}),
            "/@context/0",
        ),
        (
            json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"], "holder": "not a url", "verifiableCredential": [env.clone()]}),
            "/holder",
        ),
    ] {
        let (s, r) = app
            .call(
                Method::POST,
                "/presentations/verify",
                Some(json!({"presentation": vp})),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{want}: {r}");
        assert!(r.to_string().contains(want), "{want}: {r}");
    }
}

fn integrity_vector(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/integrity")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).expect("vector")).expect("json")
}

#[tokio::test]
async fn a_data_integrity_badge_verifies_and_a_changed_copy_does_not() {
    let app = TestApp::new().await;
    // eddsa-rdfc-2022 with an Ed25519 did:key, ecdsa-rdfc-2019 with a P-256 one.
    for (name, key) in [
        (
            "ob3_did_key_eddsa.json",
            "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
        ),
        (
            "ob3_did_key_ecdsa_p256.json",
            "zDnaejZhoLPM59C3N57kPXGMzHvugJmCkdGioEmkbcwYLwEiZ",
        ),
        // The older suites, signed by an independent implementation (Python pyld
        // and cryptography, conformance/integrity/di.py).
        (
            "vcdm11_ed25519signature2020.json",
            "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
        ),
        (
            "ob3_jsonwebsignature2020_ed25519.json",
            "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
        ),
        (
            "ob3_jsonwebsignature2020_p256.json",
            "zDnaeYWEx62W6ruuDXC1jThPGty3UjtXzqWhfQHgFw59Bycu6",
        ),
        // ecdsa-rdfc-2019 with a P-384 did:key (SHA-384), also signed by di.py.
        (
            "ob3_ecdsa_rdfc_2019_p384.json",
            "z82Lm4THFKsHywKg39BCgiL6aFeVg1rYaWc8dY2Q2fwhkqMqPjsAr6BzCXHQqHvmNEQi1wZ",
        ),
    ] {
        let signed = integrity_vector(name);
        let (s, r) = app.verify(signed.clone()).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(outcome(&r, "signature"), Some("pass"), "{name}: {r}");
        assert_eq!(r["verified"], true, "{name}: {r}");
        assert_eq!(r["standard"], "ob3", "{name}");
        assert_eq!(r["verification_method"], format!("did:key:{key}#{key}"));
        // The W3C VC-API takes it as it is.
        let (s, r) = app
            .call(
                Method::POST,
                "/credentials/verify",
                Some(json!({"verifiableCredential": signed})),
                false,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {r}");
        assert_eq!(r["verified"], true, "{r}");
        let mut renamed = integrity_vector(name);
        renamed["name"] = json!("Teamwork Badge (with honours)");
        let (_, r) = app.verify(renamed).await;
        assert_eq!(outcome(&r, "signature"), Some("fail"), "{name}: {r}");
    }
    let signed = integrity_vector("ob3_did_key_eddsa.json");

    // Changed after signing, signed by a key that is not the issuer's, or for another
    // purpose: the signature fails.
    let mut renamed = signed.clone();
    renamed["name"] = json!("Teamwork Badge (with honours)");
    let mut other_key = signed.clone();
    other_key["proof"]["verificationMethod"] = json!(
        "did:key:z6MktkZB1oBapEM1a9gAjmbPikpGrPatxQQXqeUWJP6SqGuZ#z6MktkZB1oBapEM1a9gAjmbPikpGrPatxQQXqeUWJP6SqGuZ"
    );
    let mut purpose = signed.clone();
    purpose["proof"]["proofPurpose"] = json!("authentication");
    for (what, doc) in [
        ("renamed", renamed),
        ("other key", other_key),
        ("purpose", purpose),
    ] {
        let (s, r) = app.verify(doc).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["verified"], false, "{what}: {r}");
        assert_eq!(outcome(&r, "signature"), Some("fail"), "{what}: {r}");
    }
    // JsonWebSignature2020 headers in any member order (as most implementations
    // write them, {"alg","b64","crit"}) and with RSA keys (a did:jwk): checked over
    // the header bytes the proof carries.
    for name in [
        "ob3_jsonwebsignature2020_ed25519_b64_first.json",
        "ob3_jsonwebsignature2020_rsa_did_jwk.json",
    ] {
        let (_, r) = app.verify(integrity_vector(name)).await;
        assert_eq!(outcome(&r, "signature"), Some("pass"), "{name}: {r}");
        let mut changed = integrity_vector(name);
        changed["name"] = json!("Changed");
        let (_, r) = app.verify(changed).await;
        assert_eq!(outcome(&r, "signature"), Some("fail"), "{name}: {r}");
    }
    // A suite this verifier does not handle is undecided, not failed.
    let mut bbs = signed.clone();
    bbs["proof"]["cryptosuite"] = json!("bbs-2023");
    let (_, r) = app.verify(bbs).await;
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert!(message(&r, "signature").contains("bbs-2023"), "{r}");
}
