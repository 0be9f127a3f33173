//! Beyond single badges: endorsements issued and attached, Comprehensive Learner
//! Records, Data Integrity badges for wallets, and Open Badges 2.0 verification.

use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Map, Value, json};

use crate::helpers::*;

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
}

fn did_key_of(k: &SigningKey) -> (String, String) {
    let did = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let kid = format!("{did}#{}", did.method_specific_id());
    (did.to_string(), kid)
}

fn example(name: &str) -> Map<String, Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/examples")
        .join(name);
    serde_json::from_slice::<Value>(&std::fs::read(path).expect("example"))
        .expect("json")
        .as_object()
        .cloned()
        .expect("object")
}

async fn html(app: &TestApp, path: &str) -> (StatusCode, String) {
    let req = Request::builder()
        .uri(path)
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let (s, _, b) = app.send(req).await;
    (s, String::from_utf8_lossy(&b).into_owned())
}

fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).expect("url");
    u.path().to_owned()
}

/// An endorsement of `subject` by a did:key endorser, as an OB 3.0 JWT.
fn endorsement_by(endorser: &SigningKey, subject: &str, comment: &str) -> String {
    let (did, kid) = did_key_of(endorser);
    let mut e = example("ob3_endorsementcredential.json");
    e["issuer"]["id"] = json!(did);
    e["issuer"]["name"] = json!("Cloud Industry Council");
    e["credentialSubject"]["id"] = json!(subject);
    e["credentialSubject"]["endorsementComment"] = json!(comment);
    e.remove("credentialStatus");
    e.remove("refreshService");
    e.remove("credentialSchema");
    accolade::jose::claims::add_jwt_claims(&mut e).expect("claims");
    sign_compact(
        endorser,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&e).expect("json"),
    )
    .expect("sign")
}

#[tokio::test]
async fn endorsements_are_issued_as_jwt_or_data_integrity_verify_and_can_be_revoked() {
    let app = TestApp::new().await;
    let other = "https://other.example/achievements/kubernetes";
    for proof in ["jwt", "eddsa-rdfc-2022", "ecdsa-rdfc-2019"] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/api/v1/endorsements",
                Some(json!({"subject_id": other, "comment": "A rigorous assessment.", "proof": proof})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{proof}: {v}");
        let cred = v["credential"].clone();
        if proof == "jwt" {
            let (h, p, _) = decode_jwt(cred.as_str().expect("a compact JWT"));
            assert_eq!(h["typ"], "JWT", "an OB 3.0 §8.2 JWT");
            assert_eq!(p["sub"], other);
            assert_eq!(p["jti"], v["credential_id"]);
            assert_eq!(
                p["credentialSubject"]["type"],
                json!(["EndorsementSubject"])
            );
            assert_eq!(
                p["credentialSubject"]["endorsementComment"],
                "A rigorous assessment."
            );
            assert!(p["name"].as_str().expect("name").starts_with("Endorsement"));
        } else {
            assert_eq!(cred["proof"]["cryptosuite"], proof, "{cred}");
        }
        let (_, r) = app.verify(cred.clone()).await;
        assert_eq!(r["verified"], true, "{proof}: {r}");
        assert_eq!(r["standard"], "ob3");
        assert_eq!(outcome(&r, "schema"), Some("pass"));

        // Withdrawn: the endorsement's own status entry says so.
        let id = v["credential_id"].as_str().expect("id");
        let (s, _) = app
            .admin(
                Method::POST,
                &format!("/api/v1/credentials/{}/revoke", urlencode(id)),
                Some(json!({"reason": "withdrawn"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, r) = app.verify(cred).await;
        assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");
        assert_eq!(r["verified"], false);
    }
    // Strict input: a misspelt member, a subject that is not a URL, an unknown proof.
    for (body, needle) in [
        (json!({"subject_id": other, "coment": "x"}), "coment"),
        (
            json!({"subject_id": "kubernetes", "comment": "x"}),
            "subject_id",
        ),
        (json!({"subject_id": other, "proof": "bbs-2023"}), "proof"),
        (json!({"comment": "x"}), "subject_id"),
    ] {
        let (s, v) = app
            .admin(Method::POST, "/api/v1/endorsements", Some(body.clone()))
            .await;
        assert!(s.is_client_error(), "{body}: {s} {v}");
        assert!(v.to_string().contains(needle), "{body}: {v}");
    }
    // Staff only.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/endorsements",
            Some(json!({"subject_id": other})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn an_attached_endorsement_shows_on_the_achievement_and_travels_in_later_badges() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let aid = a["id"].as_str().expect("id");
    let endorser = key(Algorithm::EdDSA);
    let good = endorsement_by(&endorser, aid, "Meets the council's cloud skills standard.");

    // One that does not verify, one about another achievement, and a badge are refused.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[2] = b64([7u8; 64]);
    let forged = parts.join(".");
    let attach = format!(
        "/api/v1/achievements/{}/endorsements",
        path_of(aid).rsplit('/').next().expect("key")
    );
    let (s, v) = app
        .admin(Method::POST, &attach, Some(json!({"credential": forged})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("message")
            .contains("signature"),
        "{v}"
    );
    let elsewhere = endorsement_by(&endorser, "https://other.example/a/1", "Elsewhere");
    let (s, v) = app
        .admin(
            Method::POST,
            &attach,
            Some(json!({"credential": elsewhere})),
        )
        .await;
    assert!(s.is_client_error(), "{v}");
    assert!(v.to_string().contains("not this achievement"), "{v}");
    let badge = app.issue_badge().await;
    let (s, v) = app
        .admin(Method::POST, &attach, Some(json!({"credential": badge})))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // The genuine one is attached (once, however often it is sent).
    for _ in 0..2 {
        let (s, v) = app
            .admin(Method::POST, &attach, Some(json!({"credential": good})))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["endorsementJwt"], json!([good]));
    }
    let (s, page) = html(&app, &path_of(aid)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-section=\"endorsements\""), "{page}");
    assert!(page.contains("Cloud Industry Council"));
    assert!(
        page.contains("Meets the council&#39;s cloud skills standard.")
            || page.contains("Meets the council's cloud skills standard.")
    );
    assert!(page.contains("data-endorsement-outcome=\"pass\""));

    // A badge awarded now carries it; the verifier checks it and the badge page shows it.
    let award = app.award_direct(aid, HOLDER_DID).await;
    let jwt = award["credential"].as_str().expect("jwt");
    let (_, p, _) = decode_jwt(jwt);
    assert_eq!(
        p["credentialSubject"]["achievement"]["endorsementJwt"],
        json!([good])
    );
    let (_, r) = app.verify(json!(jwt)).await;
    assert_eq!(outcome(&r, "endorsements"), Some("pass"), "{r}");
    assert_eq!(r["verified"], true);
    let id = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:");
    let (s, page) = html(&app, &format!("/badges/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-section=\"endorsements\""), "{page}");
    assert!(page.contains("Cloud Industry Council"));
}
