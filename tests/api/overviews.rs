//! Beyond single badges: endorsements issued and attached, Comprehensive Learner
//! Records, Data Integrity badges for wallets, and Open Badges 2.0 verification.

use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate(alg).expect("key").0
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

// ---- Open Badges 2.0 ----

use accolade::net::{FetchError, Kind};
use accolade::verify::remote::BoxFuture;
use accolade::verify::{Fetch, Options, Verifier};
use std::collections::HashMap;
use std::sync::Arc;

/// Serves fixed bodies by URL (404 for anything else), as remote hosts would.
struct Served(HashMap<String, Result<Vec<u8>, u16>>);

impl Fetch for Served {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        _kind: Kind,
    ) -> BoxFuture<'a, Result<bytes::Bytes, FetchError>> {
        let found = self.0.get(url).cloned().unwrap_or(Err(404));
        Box::pin(async move { found.map(bytes::Bytes::from).map_err(FetchError::Status) })
    }
}

fn ob2_vector(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/vectors/ob2")
            .join(name),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ob2_verifier(served: HashMap<String, Result<Vec<u8>, u16>>, at: &str) -> Verifier {
    let t = time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .expect("clock");
    Verifier::new(
        None,
        Arc::new(accolade::clock::FixedClock::at(t.unix_timestamp())),
    )
    .with_fetcher(Arc::new(Served(served)))
}

/// Every case the independent OB 2.0 issuer wrote (`conformance/ob2/make_vectors.py`):
/// hosted and signed assertions, by URL, as JSON, as JWS and baked into PNG and SVG,
/// with what a correct verifier concludes.
#[tokio::test]
async fn open_badges_2_vectors_verify_as_the_independent_issuer_expects() {
    let expected: Value = serde_json::from_slice(&ob2_vector("expected.json")).expect("json");
    let served: HashMap<String, Result<Vec<u8>, u16>> = expected["served"]
        .as_object()
        .expect("served")
        .iter()
        .map(|(u, f)| (u.clone(), Ok(ob2_vector(f.as_str().expect("file")))))
        .collect();
    let clock = expected["clock"].as_str().expect("clock");
    let mut ran = 0;
    for case in expected["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        let mut docs = served.clone();
        if let Some(instead) = case.get("serve_instead").and_then(Value::as_object) {
            for (u, f) in instead {
                docs.insert(u.clone(), Ok(ob2_vector(f.as_str().expect("file"))));
            }
        }
        let verifier = ob2_verifier(docs, clock);
        let opts = Options {
            recipient_email: case
                .get("recipient_email")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
        let input = &case["input"];
        let report = if let Some(u) = input.get("url").and_then(Value::as_str) {
            verifier.verify_value_with(&json!(u), &opts).await
        } else {
            let file = input["file"].as_str().expect("file");
            let bytes = ob2_vector(file);
            match input["as"].as_str().expect("as") {
                "json" => {
                    let v: Value = serde_json::from_slice(&bytes).expect("json");
                    verifier.verify_value_with(&v, &opts).await
                }
                "jws" => {
                    let t = String::from_utf8(bytes).expect("text");
                    verifier.verify_value_with(&json!(t.trim()), &opts).await
                }
                "image/png" => {
                    verifier
                        .verify_baked(accolade::bake::ImageKind::Png, &bytes, &opts)
                        .await
                }
                "image/svg+xml" => {
                    verifier
                        .verify_baked(accolade::bake::ImageKind::Svg, &bytes, &opts)
                        .await
                }
                other => panic!("{name}: input as {other}"),
            }
        };
        let r =
            serde_json::to_value(report.unwrap_or_else(|e| panic!("{name}: {e}"))).expect("json");
        assert_eq!(r["verified"], case["verified"], "{name}: {r}");
        assert_eq!(r["standard"], case["standard"], "{name}: {r}");
        for (check, want) in case["checks"].as_object().expect("checks") {
            assert_eq!(outcome(&r, check), want.as_str(), "{name}: {check} in {r}");
        }
        if let Some(failure) = case["failure"].as_str() {
            assert_eq!(outcome(&r, failure), Some("fail"), "{name}: {r}");
        }
        ran += 1;
    }
    assert!(ran >= 19, "{ran} cases");
}

/// A hosted assertion whose host answers 410 Gone is revoked; one served from another
/// address than its id, or off its issuer's origin, is not hosted where it says.
#[tokio::test]
async fn open_badges_2_hosting_rules_hold() {
    let base: HashMap<String, Result<Vec<u8>, u16>> = [
        ("https://ob2.example.org/issuer", "issuer.json"),
        ("https://ob2.example.org/badges/rust", "badge.json"),
    ]
    .into_iter()
    .map(|(u, f)| (u.to_owned(), Ok(ob2_vector(f))))
    .collect();
    let assertion: Value =
        serde_json::from_slice(&ob2_vector("hosted-assertion.json")).expect("json");
    let opts = Options::default();

    let mut gone = base.clone();
    gone.insert(
        "https://ob2.example.org/assertions/hosted-1".into(),
        Err(410),
    );
    let r = ob2_verifier(gone, "2026-01-01T00:00:00Z")
        .verify_value_with(&json!("https://ob2.example.org/assertions/hosted-1"), &opts)
        .await
        .expect("report");
    assert!(!r.verified);
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(r["standard"], "ob2-hosted");
    assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");

    // Served at another address than its id.
    let mut moved = base.clone();
    moved.insert(
        "https://ob2.example.org/copy-of-hosted-1".into(),
        Ok(serde_json::to_vec(&assertion).expect("json")),
    );
    let r = ob2_verifier(moved, "2026-01-01T00:00:00Z")
        .verify_value_with(&json!("https://ob2.example.org/copy-of-hosted-1"), &opts)
        .await
        .expect("report");
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(outcome(&r, "hosted"), Some("fail"), "{r}");
    assert_eq!(r["verified"], false);

    // Hosted on another origin than the issuer's (claiming the same badge class).
    let mut elsewhere = base.clone();
    let mut a = assertion.clone();
    a["id"] = json!("https://mirror.example.net/assertions/hosted-1");
    elsewhere.insert(
        "https://mirror.example.net/assertions/hosted-1".into(),
        Ok(serde_json::to_vec(&a).expect("json")),
    );
    let r = ob2_verifier(elsewhere, "2026-01-01T00:00:00Z")
        .verify_value_with(
            &json!("https://mirror.example.net/assertions/hosted-1"),
            &opts,
        )
        .await
        .expect("report");
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(outcome(&r, "hosted"), Some("fail"), "{r}");
    assert!(message(&r, "hosted").contains("origin"), "{r}");
    assert_eq!(r["verified"], false);
}

// ---- older status methods of other issuers ----

fn did_key_badge(k: &SigningKey, status: Value) -> String {
    let (did, kid) = did_key_of(k);
    let mut c = example("ob3_basic_openbadgecredential.json");
    c["issuer"]["id"] = json!(did);
    c.insert("credentialStatus".into(), status);
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    sign_compact(
        k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&c).expect("json"),
    )
    .expect("sign")
}

/// A Status List 2021 list credential as a VCDM 1.1 JWT, `encodedList` in base64url
/// with no multibase prefix (as the CCG reference implementation writes it).
fn status_list_2021(k: &SigningKey, url: &str, set: &[usize], subject_type: &str) -> String {
    use base64::Engine as _;
    let mut bits = vec![0u8; 16 * 1024];
    for i in set {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bits).expect("gzip");
    let encoded =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gz.finish().expect("gzip"));
    let (did, kid) = did_key_of(k);
    let payload = json!({"iss": did, "jti": url, "nbf": 1_700_000_000,
        "vc": {"@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/vc/status-list/2021/v1"],
               "type": ["VerifiableCredential", "StatusList2021Credential"],
               "issuanceDate": "2023-11-14T22:13:20Z",
               "credentialSubject": {"id": format!("{url}#list"), "type": subject_type,
                                     "statusPurpose": "revocation", "encodedList": encoded}}});
    sign_compact(
        k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&payload).expect("json"),
    )
    .expect("sign")
}

#[tokio::test]
async fn status_list_2021_and_1edtech_revocation_list_entries_of_other_issuers_are_checked() {
    let k = key(Algorithm::ES256);
    let list_url = "https://status.example.org/2021/3";
    let entry = |i: usize| {
        json!({"id": format!("{list_url}#{i}"), "type": "StatusList2021Entry",
               "statusPurpose": "revocation", "statusListIndex": i.to_string(),
               "statusListCredential": list_url})
    };
    let opts = Options::default();
    let serve = |body: String| -> HashMap<String, Result<Vec<u8>, u16>> {
        [(list_url.to_owned(), Ok(body.into_bytes()))]
            .into_iter()
            .collect()
    };
    let list = status_list_2021(&k, list_url, &[5], "StatusList2021");
    for (index, want) in [(5, "fail"), (6, "pass")] {
        let r = ob2_verifier(serve(list.clone()), "2026-01-01T00:00:00Z")
            .verify_value_with(&json!(did_key_badge(&k, entry(index))), &opts)
            .await
            .expect("report");
        let r = serde_json::to_value(r).expect("json");
        assert_eq!(outcome(&r, "status"), Some(want), "index {index}: {r}");
    }
    // A list of the wrong kind, or signed by someone else, decides nothing.
    let wrong = status_list_2021(&k, list_url, &[], "BitstringStatusList");
    let r = ob2_verifier(serve(wrong), "2026-01-01T00:00:00Z")
        .verify_value_with(&json!(did_key_badge(&k, entry(6))), &opts)
        .await
        .expect("report");
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");
    let other = key(Algorithm::ES256);
    let forged = status_list_2021(&other, list_url, &[], "StatusList2021");
    let r = ob2_verifier(serve(forged), "2026-01-01T00:00:00Z")
        .verify_value_with(&json!(did_key_badge(&k, entry(5))), &opts)
        .await
        .expect("report");
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");

    // 1EdTech Revocation List: the credential is revoked when its id is listed.
    let rl = "https://issuer.example.org/revocations";
    let status = json!({"id": rl, "type": "1EdTechRevocationList"});
    let badge = did_key_badge(&k, status.clone());
    let (_, p, _) = decode_jwt(&badge);
    let id = p["id"].as_str().expect("id").to_owned();
    for (body, want, needle) in [
        (
            json!({"revokedCredentials": [{"id": id, "revocationReason": "Exam voided"}]}),
            "fail",
            "Exam voided",
        ),
        (
            json!({"revokedCredentials": [{"id": id, "revoked": false}]}),
            "pass",
            "",
        ),
        (
            json!({"revokedCredentials": [{"id": "urn:uuid:someone-else"}]}),
            "pass",
            "",
        ),
        (json!({"revokedCredentials": [id]}), "pass", ""),
    ] {
        let served: HashMap<String, Result<Vec<u8>, u16>> =
            [(rl.to_owned(), Ok(serde_json::to_vec(&body).expect("json")))]
                .into_iter()
                .collect();
        let r = ob2_verifier(served, "2026-01-01T00:00:00Z")
            .verify_value_with(&json!(badge), &opts)
            .await
            .expect("report");
        let r = serde_json::to_value(r).expect("json");
        assert_eq!(outcome(&r, "status"), Some(want), "{body}: {r}");
        assert!(message(&r, "status").contains(needle), "{r}");
    }
    // Unreachable: not known either way.
    let r = ob2_verifier(HashMap::new(), "2026-01-01T00:00:00Z")
        .verify_value_with(&json!(badge), &opts)
        .await
        .expect("report");
    let r = serde_json::to_value(r).expect("json");
    assert_eq!(outcome(&r, "status"), Some("indeterminate"), "{r}");
}

/// The badge page offers the badge in both envelopes: the JWT and the same credential
/// with a Data Integrity proof (no key is made for an anonymous visitor).
#[tokio::test]
async fn the_badge_page_offers_the_jwt_and_the_data_integrity_form_of_one_credential() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let award = app
        .award_direct(a["id"].as_str().expect("id"), HOLDER_DID)
        .await;
    let jwt = award["credential"].as_str().expect("jwt");
    let (_, payload, _) = decode_jwt(jwt);
    let id = award["credential_id"]
        .as_str()
        .expect("id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    let (s, page) = html(&app, &format!("/badges/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("data-download=\"json\""), "{page}");
    let did_doc = || async {
        app.call(Method::GET, "/.well-known/did.json", None, false)
            .await
            .1["verificationMethod"]
            .as_array()
            .map(Vec::len)
    };
    let before = did_doc().await;
    assert!(before.is_some());
    let req = Request::builder()
        .uri(format!("/badges/{id}/credential.json"))
        .body(Body::empty())
        .expect("request");
    let (s, h, body) = app.send(req).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/vc");
    let doc: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(doc["id"], payload["jti"], "the same credential");
    assert_eq!(doc["credentialStatus"], payload["credentialStatus"]);
    assert_eq!(doc["proof"]["type"], "DataIntegrityProof");
    assert!(doc.get("iss").is_none());
    let (_, r) = app.verify(doc.clone()).await;
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(
        did_doc().await,
        before,
        "an anonymous download makes no key"
    );
    // The same bytes for the next visitor (kept, not signed again).
    let req = Request::builder()
        .uri(format!("/badges/{id}/credential.json"))
        .body(Body::empty())
        .expect("request");
    let (_, _, again) = app.send(req).await;
    assert_eq!(again, body);
}

// ---- Comprehensive Learner Records ----

/// Two badges of one earner (e-mail only, accepted directly), and one of someone else.
async fn two_badges_and_a_stranger(app: &TestApp) -> (Vec<String>, String) {
    let mut ids = Vec::new();
    for name in ["Cloud Knowledge", "Cloud Skill", "Cloud Proficiency"] {
        let mut input = sample_achievement_input();
        input["name"] = json!(name);
        let (s, a) = app
            .admin(Method::POST, "/api/v1/achievements", Some(input))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let who = if name == "Cloud Proficiency" {
            "someone.else@example.org"
        } else {
            "ada@example.org"
        };
        let (s, v) = app
            .admin(
                Method::POST,
                "/api/v1/awards",
                Some(json!({"achievement_id": a["id"], "recipient": {"name": "Ada Lovelace", "email": who, "id": HOLDER_DID},
                            "delivery": "direct"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        ids.push(v["credential_id"].as_str().expect("id").to_owned());
    }
    let stranger = ids.pop().expect("three");
    (ids, stranger)
}

#[tokio::test]
async fn a_clr_bundles_an_earners_badges_each_with_its_proof_and_verifies_each() {
    let app = TestApp::new().await;
    let (ids, stranger) = two_badges_and_a_stranger(&app).await;
    for proof in ["jwt", "eddsa-rdfc-2022"] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/api/v1/clr",
                Some(json!({"recipient": {"email": "Ada@Example.org"}, "credential_ids": ids, "proof": proof})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{proof}: {v}");
        let doc = if proof == "jwt" {
            let (h, p, _) = decode_jwt(v["credential"].as_str().expect("jwt"));
            assert_eq!(h["typ"], "JWT");
            assert_eq!(p["jti"], v["credential_id"]);
            p
        } else {
            v["credential"].clone()
        };
        assert_eq!(
            doc["@context"],
            json!([
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
            ])
        );
        assert_eq!(
            doc["type"],
            json!(["VerifiableCredential", "ClrCredential"])
        );
        let subject = &doc["credentialSubject"];
        assert_eq!(subject["type"], json!(["ClrSubject"]));
        assert_eq!(subject["identifier"][0]["identityType"], "emailAddress");
        assert_eq!(doc["partial"], false);
        let bundled = subject["verifiableCredential"].as_array().expect("list");
        assert_eq!(bundled.len(), 2);
        for (b, id) in bundled.iter().zip(&ids) {
            assert_eq!(&b["id"], id, "each badge keeps its id");
            assert_eq!(
                b["proof"]["type"], "DataIntegrityProof",
                "and its own proof"
            );
        }
        let sent = v["credential"].clone();
        let (_, r) = app.verify(sent.clone()).await;
        assert_eq!(r["verified"], true, "{proof}: {r}");
        assert_eq!(r["standard"], "clr2");
        assert_eq!(outcome(&r, "credentials"), Some("pass"), "{r}");
        assert_eq!(r["credentials"].as_array().map(Vec::len), Some(2));
        assert_eq!(r["credentials"][0]["standard"], "ob3");
        // The earner's e-mail is checked on the record and on each badge.
        let (_, r) = app
            .call(
                Method::POST,
                "/api/v1/verify",
                Some(json!({"credential": sent, "recipient": {"email": "ada@example.org"}})),
                false,
            )
            .await;
        assert_eq!(outcome(&r, "recipient"), Some("pass"), "{r}");
    }
    // One badge only: partial.
    let (_, v) = app
        .admin(
            Method::POST,
            "/api/v1/clr",
            Some(json!({"recipient": {"email": "ada@example.org"}, "credential_ids": [ids[0]], "proof": "eddsa-rdfc-2022"})),
        )
        .await;
    assert_eq!(v["credential"]["partial"], true, "{v}");
    let partial = v["credential"].clone();

    // Someone else's badge, a misspelt member, nothing: refused with the reason.
    for (body, needle) in [
        (
            json!({"recipient": {"email": "ada@example.org"}, "credential_ids": [ids[0], stranger]}),
            "someone else",
        ),
        (
            json!({"recipient": {"email": "ada@example.org"}, "credential_id": [ids[0]]}),
            "credential_id",
        ),
        (
            json!({"recipient": {"email": "ada@example.org"}, "credential_ids": []}),
            "credential_ids",
        ),
        (
            json!({"recipient": {}, "credential_ids": [ids[0]]}),
            "recipient",
        ),
    ] {
        let (s, v) = app
            .admin(Method::POST, "/api/v1/clr", Some(body.clone()))
            .await;
        assert!(s.is_client_error(), "{body}: {s} {v}");
        assert!(v.to_string().contains(needle), "{body}: {v}");
    }

    // A bundled badge revoked later: the record no longer verifies, and says which.
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{}/revoke", ids[0]),
            Some(json!({"reason": "exam voided"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, r) = app.verify(partial).await;
    assert_eq!(r["verified"], false);
    assert_eq!(outcome(&r, "credentials"), Some("fail"), "{r}");
    assert!(
        message(&r, "credentials").contains("verifiableCredential[0]"),
        "{r}"
    );
    assert_eq!(outcome(&r["credentials"][0], "status"), Some("fail"));
}

/// The CLR 2.0 test vector (1EdTech's implementation guide): the record and its
/// bundled AchievementCredential are each examined and reported.
#[tokio::test]
async fn the_clr_test_vector_is_examined_with_its_bundled_credential() {
    let app = TestApp::new().await;
    let v = Value::Object(example("clr2_testvector_signed_credential.json"));
    let (s, r) = app.verify(v).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["standard"], "clr2");
    assert_eq!(outcome(&r, "schema"), Some("pass"), "{r}");
    // Its issuer is an https URL with a Multikey fragment, which is not resolved here:
    // the record's signature is undecided, so the bundle is not opened.
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert_eq!(outcome(&r, "credentials"), Some("indeterminate"), "{r}");
    assert_eq!(r["verified"], false);
}
