//! Issued badges verify with an independent JOSE implementation (raw OpenSSL here)
//! against the key in the served DID document, pass the OB 3.0 schema and every
//! §8.2 rule, for each algorithm, and across key rotation.

use accolade::jose::{Algorithm, SigningKey};
use axum::http::{Method, StatusCode};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey};
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use serde_json::{Value, json};

use crate::helpers::*;

/// Verifies a compact JWS with OpenSSL directly from a JWK (no accolade code).
pub(crate) fn openssl_verify(jwt: &str, jwk: &Value) -> bool {
    let (input, sig) = jwt.rsplit_once('.').expect("jws");
    let sig = b64d(sig);
    let field = |k: &str| b64d(jwk[k].as_str().expect("jwk member"));
    match jwk["kty"].as_str() {
        Some("EC") => {
            let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
            let x = BigNum::from_slice(&field("x")).expect("x");
            let y = BigNum::from_slice(&field("y")).expect("y");
            let key = PKey::from_ec_key(
                EcKey::from_public_key_affine_coordinates(&group, &x, &y).expect("ec"),
            )
            .expect("pkey");
            if sig.len() != 64 {
                return false;
            }
            let r = BigNum::from_slice(&sig[..32]).expect("r");
            let s = BigNum::from_slice(&sig[32..]).expect("s");
            let der = EcdsaSig::from_private_components(r, s)
                .expect("sig")
                .to_der()
                .expect("der");
            let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
            v.update(input.as_bytes()).expect("update");
            v.verify(&der).unwrap_or(false)
        }
        Some("RSA") => {
            let n = BigNum::from_slice(&field("n")).expect("n");
            let e = BigNum::from_slice(&field("e")).expect("e");
            let key =
                PKey::from_rsa(Rsa::from_public_components(n, e).expect("rsa")).expect("pkey");
            let mut v = Verifier::new(MessageDigest::sha256(), &key).expect("verifier");
            v.update(input.as_bytes()).expect("update");
            v.verify(&sig).unwrap_or(false)
        }
        Some("OKP") => {
            let key = PKey::public_key_from_raw_bytes(&field("x"), Id::ED25519).expect("ed25519");
            let mut v = Verifier::new_without_digest(&key).expect("verifier");
            v.verify_oneshot(&sig, input.as_bytes()).unwrap_or(false)
        }
        other => panic!("unexpected kty {other:?}"),
    }
}

pub(crate) async fn did_document(app: &TestApp) -> Value {
    let (s, doc) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    assert_eq!(s, StatusCode::OK);
    doc
}

/// The JWK of the verification method `kid` names, found the way any resolver would.
pub(crate) fn key_for_kid<'a>(doc: &'a Value, kid: &str) -> &'a Value {
    assert!(
        doc["assertionMethod"]
            .as_array()
            .expect("assertionMethod")
            .iter()
            .any(|m| m == kid),
        "{kid} is not under assertionMethod"
    );
    let vm = doc["verificationMethod"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["id"] == kid)
        .expect("verification method");
    assert_eq!(vm["controller"], doc["id"]);
    &vm["publicKeyJwk"]
}

fn assert_section_8_2(jwt: &str) {
    let (header, payload, _) = decode_jwt(jwt);
    let mut names: Vec<&str> = header
        .as_object()
        .expect("header")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "kid", "typ"]);
    assert_eq!(header["typ"], json!("JWT"));
    assert!(
        header["kid"]
            .as_str()
            .expect("kid")
            .starts_with(&format!("{DID}#"))
    );
    assert_eq!(
        payload["@context"],
        json!([
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
        ])
    );
    assert_eq!(
        payload["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(payload["iss"], payload["issuer"]["id"]);
    assert_eq!(payload["iss"], json!(DID));
    assert_eq!(payload["sub"], payload["credentialSubject"]["id"]);
    assert_eq!(payload["jti"], payload["id"]);
    let vf = payload["validFrom"].as_str().expect("validFrom");
    assert!(
        vf.ends_with('Z') && vf.len() == 20,
        "whole seconds with Z: {vf}"
    );
    let t = time::OffsetDateTime::parse(vf, &time::format_description::well_known::Rfc3339)
        .expect("date");
    assert_eq!(payload["nbf"], json!(t.unix_timestamp()));
    assert!(payload.get("exp").is_none(), "no validUntil, no exp");
    let mut credential = payload.as_object().expect("object").clone();
    for c in ["iss", "sub", "nbf", "jti", "exp"] {
        credential.remove(c);
    }
    accolade::model::schema::check_credential(&Value::Object(credential)).expect("OB 3.0 schema");
    let ids = &payload["credentialSubject"]["identifier"];
    assert_eq!(ids[0]["identityType"], json!("emailAddress"));
    assert!(
        ids[0]["identityHash"]
            .as_str()
            .expect("hash")
            .starts_with("sha256$")
    );
}

#[tokio::test]
async fn badges_of_every_algorithm_verify_independently_against_the_did_document() {
    for alg in Algorithm::ALL {
        let app = TestApp::with(alg, PUBLIC_URL).await;
        let jwt = app.issue_badge().await;
        let (header, _, _) = decode_jwt(&jwt);
        assert_eq!(header["alg"], json!(alg.name()));
        let doc = did_document(&app).await;
        assert_eq!(doc["id"], json!(DID));
        let jwk = key_for_kid(&doc, header["kid"].as_str().expect("kid"));
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(jwk.get(private).is_none(), "{alg}: {private} published");
        }
        assert!(
            openssl_verify(&jwt, jwk),
            "{alg}: independent verification failed"
        );
        // And a single flipped payload byte breaks it.
        let parts: Vec<&str> = jwt.split('.').collect();
        let mut payload = b64d(parts[1]);
        let i = payload.len() / 2;
        payload[i] ^= 1;
        let tampered = format!("{}.{}.{}", parts[0], b64(payload), parts[2]);
        assert!(!openssl_verify(&tampered, jwk), "{alg}");
        assert_section_8_2(&jwt);

        let (s, report) = app.verify(json!(jwt)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(report["verified"], json!(true), "{alg}: {report}");
        assert_eq!(report["trusted"], json!(true));
    }
}

#[tokio::test]
async fn valid_until_becomes_exp_and_the_subject_carries_award_details() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({
                "achievement_id": a["id"], "delivery": "direct",
                "recipient": {"id": HOLDER_DID, "email": "ada@example.org"},
                "valid_until": "2028-01-01T00:00:00Z",
                "narrative": "Scored 92%",
                "evidence": [{"id": "https://badges.example.edu/evidence/1", "name": "Exam report"}],
                "result": [{"value": "92"}]
            })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, payload, _) = decode_jwt(v["credential"].as_str().expect("jwt"));
    assert_eq!(payload["validUntil"], json!("2028-01-01T00:00:00Z"));
    assert_eq!(payload["exp"], json!(1_830_297_600));
    assert_eq!(
        payload["credentialSubject"]["narrative"],
        json!("Scored 92%")
    );
    assert_eq!(payload["evidence"][0]["type"], json!(["Evidence"]));
    assert_eq!(
        payload["credentialSubject"]["result"][0]["value"],
        json!("92")
    );
    let (_, report) = app.verify(v["credential"].clone()).await;
    assert_eq!(report["verified"], json!(true), "{report}");
}

#[tokio::test]
async fn after_rotation_old_badges_still_verify_and_new_ones_carry_the_new_kid() {
    let mut app = TestApp::new().await;
    let old = app.issue_badge().await;
    let old_kid = decode_jwt(&old).0["kid"].as_str().expect("kid").to_owned();

    let new_id = accolade::keyring::rotate(&app.keys_dir, Algorithm::EdDSA).expect("rotate");
    app.restart().await;

    let new = app.issue_badge().await;
    let (header, _, _) = decode_jwt(&new);
    assert_eq!(header["kid"], json!(format!("{DID}#{new_id}")));
    assert_eq!(header["alg"], json!("EdDSA"));
    assert_ne!(header["kid"], json!(old_kid));

    let doc = did_document(&app).await;
    assert_eq!(jwk_methods(&doc), Some(2));
    for jwt in [&old, &new] {
        let kid = decode_jwt(jwt).0["kid"].as_str().expect("kid").to_owned();
        assert!(openssl_verify(jwt, key_for_kid(&doc, &kid)));
        let (_, report) = app.verify(json!(jwt)).await;
        assert_eq!(report["verified"], json!(true), "{report}");
    }
    // Key ids are stable across restarts.
    app.restart().await;
    let again = did_document(&app).await;
    assert_eq!(again, doc);
}

#[tokio::test]
async fn a_rotation_a_retirement_and_a_revocation_are_followed_without_a_restart() {
    let app = TestApp::new().await;
    let old = app.issue_badge().await;
    let old_id = decode_jwt(&old).0["kid"]
        .as_str()
        .and_then(|k| k.rsplit('#').next())
        .expect("kid")
        .to_owned();
    // Nothing changed: nothing replaced.
    assert!(!app.state.reload_keys(&app.keys_dir).expect("reload"));
    let list_before = app
        .send(
            axum::http::Request::get("/status/revocation/1")
                .body(axum::body::Body::empty())
                .expect("req"),
        )
        .await
        .2;

    let new_id = accolade::keyring::rotate(&app.keys_dir, Algorithm::EdDSA).expect("rotate");
    assert!(app.state.reload_keys(&app.keys_dir).expect("reload"));
    let doc = did_document(&app).await;
    assert_eq!(jwk_methods(&doc), Some(2));
    let new = app.issue_badge().await;
    assert_eq!(decode_jwt(&new).0["kid"], json!(format!("{DID}#{new_id}")));
    for jwt in [&old, &new] {
        let (_, report) = app.verify(json!(jwt)).await;
        assert_eq!(report["verified"], json!(true), "{report}");
    }

    // Retiring the old key: its private key is deleted, it stays in the DID
    // document, its badges still verify, and one it appears to sign dated after the
    // retirement is refused.
    let old_pem = std::fs::read(app.keys_dir.join(format!("{old_id}.pem"))).expect("pem");
    let old_key = SigningKey::from_pkcs8_pem(&old_pem).expect("key");
    accolade::keyring::retire(&app.keys_dir, &old_id, accolade::clock::from_unix(NOW + 60))
        .expect("retire");
    assert!(!app.keys_dir.join(format!("{old_id}.pem")).exists());
    assert!(app.state.reload_keys(&app.keys_dir).expect("reload"));
    assert_eq!(jwk_methods(&did_document(&app).await), Some(2));
    let (_, report) = app.verify(json!(old)).await;
    assert_eq!(report["verified"], json!(true), "{report}");
    let (header, mut payload, _) = decode_jwt(&old);
    payload["nbf"] = json!(NOW + 3600);
    payload["iat"] = json!(NOW + 3600);
    payload["validFrom"] = json!("2026-11-17T01:00:00Z");
    let late = forge(&old_key, &header.to_string(), &payload.to_string());
    let (_, report) = app.verify(json!(late)).await;
    assert_eq!(outcome(&report, "signature"), Some("fail"), "{report}");
    assert!(
        message(&report, "signature").contains("retired"),
        "{report}"
    );
    // Neither the signing key nor an unknown one can be retired.
    assert!(
        accolade::keyring::retire(&app.keys_dir, &new_id, accolade::clock::from_unix(NOW)).is_err()
    );
    assert!(accolade::keyring::revoke(&app.keys_dir, "no-such-key").is_err());

    // Revoking it: it leaves the DID document, its badges stop verifying, and the
    // status list (signed by it before) is signed again by the new key.
    accolade::keyring::revoke(&app.keys_dir, &old_id).expect("revoke");
    assert!(app.state.reload_keys(&app.keys_dir).expect("reload"));
    let doc = did_document(&app).await;
    assert_eq!(jwk_methods(&doc), Some(1));
    let (_, report) = app.verify(json!(old)).await;
    assert_eq!(report["verified"], json!(false), "{report}");
    let (s, _, list_after) = app
        .send(
            axum::http::Request::get("/status/revocation/1")
                .body(axum::body::Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(list_after, list_before);
    let list_jwt = std::str::from_utf8(&list_after).expect("text");
    assert_eq!(
        decode_jwt(list_jwt).0["kid"],
        json!(format!("{DID}#{new_id}"))
    );
    let (_, report) = app.verify(json!(new)).await;
    assert_eq!(report["verified"], json!(true), "{report}");

    // A second node of a fleet sharing the keys directory follows the same way.
    if let Some(other) = app.another_node().await {
        let third = accolade::keyring::rotate(&app.keys_dir, Algorithm::ES256).expect("rotate");
        for node in [&app, &other] {
            // `another_node` copied the directory: point both at the shared one.
            assert!(node.state.reload_keys(&app.keys_dir).expect("reload"));
            let badge = node.issue_badge().await;
            assert_eq!(decode_jwt(&badge).0["kid"], json!(format!("{DID}#{third}")));
        }
        assert_eq!(did_document(&app).await, did_document(&other).await);
    }
}

#[tokio::test]
async fn the_did_document_is_served_with_open_cors() {
    let app = TestApp::new().await;
    let req = axum::http::Request::builder()
        .uri("/.well-known/did.json")
        .header("origin", "https://verifier.example")
        .body(axum::body::Body::empty())
        .expect("req");
    let (s, h, _) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h.get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
}

/// How many keys a DID document lists as `JsonWebKey2020` (each Ed25519 and P-256 key
/// is listed once more, as a `Multikey`).
fn jwk_methods(doc: &Value) -> Option<usize> {
    doc["verificationMethod"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["type"] == "JsonWebKey2020").count())
}
