//! The W3C VC-API issuer: any VCDM 2.0 credential, signed as given, in both
//! envelopes; listed and revocable; refused with the rule it breaks.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A credential that is not an Open Badge: the VCDM 2.0 context and an inline one for
/// its own terms, numbers and a nested object in the subject.
fn employment() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", {
            "ex": "https://example.org/vocab#",
            "EmploymentCredential": "ex:EmploymentCredential",
            "employer": "ex:employer", "since": "ex:since", "hours": "ex:hours"
        }],
        "type": ["VerifiableCredential", "EmploymentCredential"],
        "name": "Employment record",
        "description": {"@value": "Zeugnis", "@language": "de"},
        "credentialSubject": {
            "id": HOLDER_DID,
            "employer": {"name": "Example Corp", "since": 2021},
            "hours": 37.5
        }
    })
}

fn enveloped_jwt(vc: &Value) -> &str {
    vc["id"]
        .as_str()
        .and_then(|id| id.strip_prefix("data:application/vc+jwt,"))
        .expect("an enveloped vc+jwt")
}

async fn verify_vc(app: &TestApp, vc: &Value) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/credentials/verify",
        Some(json!({"verifiableCredential": vc})),
        false,
    )
    .await
}

#[tokio::test]
async fn any_credential_is_issued_as_an_enveloped_vc_jwt_that_verifies() {
    let app = TestApp::new().await;
    let body = json!({"credential": employment()});
    let (s, _) = app
        .call(
            Method::POST,
            "/credentials/issue",
            Some(body.clone()),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .admin(Method::POST, "/credentials/issue", Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vc = &v["verifiableCredential"];
    assert_eq!(vc["type"], "EnvelopedVerifiableCredential");
    assert_eq!(
        vc["@context"],
        json!(["https://www.w3.org/ns/credentials/v2"])
    );
    let (h, p, _) = decode_jwt(enveloped_jwt(vc));
    assert_eq!(h["typ"], "vc+jwt");
    assert_eq!(h["cty"], "vc");
    assert_eq!(h["alg"], "ES256");
    // Signed as given: the members kept (numbers as numbers), nothing rebuilt, no
    // JWT claims added; id, issuer, validFrom and status added.
    for k in ["name", "description", "type", "@context"] {
        assert_eq!(p[k], employment()[k], "{k}");
    }
    assert_eq!(p["credentialSubject"]["employer"]["since"], json!(2021));
    assert_eq!(p["credentialSubject"]["hours"], json!(37.5));
    assert!(
        p.get("iss").is_none() && p.get("jti").is_none() && p.get("vc").is_none(),
        "{p}"
    );
    assert_eq!(p["issuer"], DID);
    let id = p["id"].as_str().expect("id");
    assert!(id.starts_with("urn:uuid:"), "{id}");
    assert!(p["validFrom"].is_string());
    assert_eq!(p["credentialStatus"]["type"], "BitstringStatusListEntry");
    assert_eq!(p["credentialStatus"]["statusPurpose"], "revocation");

    let (s, r) = verify_vc(&app, vc).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true);
    assert_eq!(r["report"]["standard"], "vcdm2");

    // Listed like any award, with what was signed; revoked, it no longer verifies.
    let (s, c) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["credential_id"], id);
    assert_eq!(c["securing"], "vc+jwt");
    assert_eq!(c["document"]["name"], "Employment record");
    assert!(c["achievement_id"].is_null(), "{c}");
    let (s, l) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        l.to_string().contains(id),
        "the listing holds the credential: {l}"
    );
    let (s, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/credentials/{id}/revoke"),
            Some(json!({"reason": "issued in error"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = verify_vc(&app, vc).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(r["verified"], false);
    assert_eq!(outcome(&r["report"], "status"), Some("fail"), "{r}");
    // It is no badge: no badge page.
    let uuid = id.trim_start_matches("urn:uuid:");
    let req = axum::http::Request::builder()
        .uri(format!("/badges/{uuid}"))
        .body(axum::body::Body::empty())
        .expect("request");
    assert_eq!(app.send(req).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn data_integrity_proofs_of_both_suites_are_made_with_keys_made_for_them() {
    let app = TestApp::new().await;
    let (_, before) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    for (suite, prefix) in [("eddsa-rdfc-2022", "z6Mk"), ("ecdsa-rdfc-2019", "zDna")] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": employment(), "options": {"proof": suite}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{suite}: {v}");
        let vc = &v["verifiableCredential"];
        let proof = &vc["proof"];
        assert_eq!(proof["type"], "DataIntegrityProof");
        assert_eq!(proof["cryptosuite"], suite);
        assert_eq!(proof["proofPurpose"], "assertionMethod");
        let method = proof["verificationMethod"].as_str().expect("method");
        assert!(
            method.starts_with(&format!("{DID}#{prefix}")),
            "{suite}: {method}"
        );
        assert_eq!(vc["credentialSubject"]["employer"]["since"], json!(2021));
        // The DID document lists the key as a Multikey for assertions.
        let (_, doc) = app
            .call(Method::GET, "/.well-known/did.json", None, false)
            .await;
        let listed = doc["verificationMethod"]
            .as_array()
            .expect("methods")
            .iter()
            .any(|m| m["id"] == method && m["type"] == "Multikey");
        assert!(listed, "{suite}: {doc}");
        assert!(
            doc["assertionMethod"]
                .as_array()
                .expect("refs")
                .contains(&json!(method))
        );
        let (s, r) = verify_vc(&app, vc).await;
        assert_eq!(s, StatusCode::OK, "{suite}: {r}");
        assert_eq!(r["verified"], true, "{suite}: {r}");
        assert_eq!(r["report"]["verification_method"], method, "{r}");
        // Changed after signing, it fails.
        let mut changed = vc.clone();
        changed["credentialSubject"]["hours"] = json!(40);
        let (s, r) = verify_vc(&app, &changed).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{suite}: {r}");
        assert_eq!(outcome(&r["report"], "signature"), Some("fail"), "{r}");
    }
    // The signing key is still the ES256 one; the Ed25519 key was made once and kept
    // in the keys directory.
    let (_, after) = app
        .call(Method::GET, "/.well-known/did.json", None, false)
        .await;
    let jwk_methods = |d: &Value| {
        d["verificationMethod"]
            .as_array()
            .expect("methods")
            .iter()
            .filter(|m| m["type"] == "JsonWebKey2020")
            .count()
    };
    assert_eq!(jwk_methods(&after), jwk_methods(&before) + 1, "{after}");
    let pems = std::fs::read_dir(&app.keys_dir)
        .expect("keys dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pem"))
        })
        .count();
    assert_eq!(pems, 2);
    let jwt = app.issue_badge().await;
    assert_eq!(decode_jwt(&jwt).0["alg"], "ES256");
}

#[tokio::test]
async fn a_callers_url_id_is_kept_once_and_status_purposes_are_as_asked() {
    let app = TestApp::with_suspension_entries().await;
    let mut cred = employment();
    cred["id"] = json!("https://hr.example.com/records/3732");
    let body = json!({"credential": cred, "options": {"proof": "eddsa-rdfc-2022",
        "credentialStatus": [{"type": "BitstringStatusListEntry", "statusPurpose": "suspension"}]}});
    let (s, v) = app
        .admin(Method::POST, "/credentials/issue", Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let vc = &v["verifiableCredential"];
    assert_eq!(vc["id"], "https://hr.example.com/records/3732");
    // Revocation always, suspension as asked.
    assert_eq!(vc["credentialStatus"][0]["statusPurpose"], "revocation");
    assert_eq!(vc["credentialStatus"][1]["statusPurpose"], "suspension");
    let (s, e) = app
        .admin(Method::POST, "/credentials/issue", Some(body))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{e}");
    // Suspended by its URL id, it fails; lifted, it verifies again.
    let path = format!(
        "/api/v1/credentials/{}",
        url::form_urlencoded::byte_serialize(b"https://hr.example.com/records/3732")
            .collect::<String>()
    );
    let (s, c) = app.admin(Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["credential_id"], "https://hr.example.com/records/3732");
    let (s, r) = app
        .admin(Method::POST, &format!("{path}/suspend"), Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = verify_vc(&app, vc).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert_eq!(outcome(&r["report"], "status"), Some("fail"), "{r}");
    // Both purposes, and the default (what badges carry: here both).
    for (options, want) in [
        (
            json!({"credentialStatus": {"type": "BitstringStatusListEntry"}}),
            vec!["revocation"],
        ),
        (json!({}), vec!["revocation", "suspension"]),
    ] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": employment(), "options": options})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (_, p, _) = decode_jwt(enveloped_jwt(&v["verifiableCredential"]));
        let got: Vec<&str> = match &p["credentialStatus"] {
            Value::Array(a) => a
                .iter()
                .filter_map(|e| e["statusPurpose"].as_str())
                .collect(),
            e => vec![e["statusPurpose"].as_str().expect("purpose")],
        };
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn an_open_badge_issued_this_way_is_held_to_the_ob_schema() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let badge = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": DID, "type": ["Profile"], "name": "Example University"},
        "name": a["name"],
        "credentialSubject": {"id": HOLDER_DID, "type": ["AchievementSubject"],
                              "achievement": a}
    });
    for proof in ["vc+jwt", "eddsa-rdfc-2022"] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": badge, "options": {"proof": proof}})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{proof}: {v}");
        let (s, r) = verify_vc(&app, &v["verifiableCredential"]).await;
        assert_eq!(s, StatusCode::OK, "{proof}: {r}");
        assert_eq!(r["report"]["standard"], "ob3");
    }
    let mut no_achievement = badge.clone();
    no_achievement["credentialSubject"]
        .as_object_mut()
        .expect("subject")
        .remove("achievement");
    let (s, e) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": no_achievement})),
        )
        .await;
    assert!(s.is_client_error(), "{s} {e}");
    assert!(
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("achievement")),
        "{e}"
    );
}

#[tokio::test]
async fn every_data_model_rule_and_option_has_a_refused_counter_example() {
    let app = TestApp::new().await;
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, Edit)> = vec![
        ("no @context", |c| {
            c.as_object_mut().expect("o").remove("@context");
        }),
        ("VCDM 2.0 not first", |c| {
            c["@context"] = json!([
                "https://example.org/ctx",
                "https://www.w3.org/ns/credentials/v2"
            ]);
        }),
        ("VCDM 1.1", |c| {
            c["@context"] = json!(["https://www.w3.org/2018/credentials/v1"]);
        }),
        ("no type", |c| {
            c.as_object_mut().expect("o").remove("type");
        }),
        ("no VerifiableCredential type", |c| {
            c["type"] = json!(["EmploymentCredential"]);
        }),
        ("id not a URL", |c| {
            c["id"] = json!("record 12");
        }),
        ("another issuer", |c| {
            c["issuer"] = json!("did:web:elsewhere.example");
        }),
        ("issuer without id", |c| {
            c["issuer"] = json!({"name": "Us"});
        }),
        ("no subject", |c| {
            c.as_object_mut().expect("o").remove("credentialSubject");
        }),
        ("subject a string", |c| {
            c["credentialSubject"] = json!("someone");
        }),
        ("validFrom not a dateTimeStamp", |c| {
            c["validFrom"] = json!("2026-12-05");
        }),
        ("validUntil before validFrom", |c| {
            c["validFrom"] = json!("2026-12-05T00:00:00Z");
            c["validUntil"] = json!("2026-12-04T00:00:00Z");
        }),
        ("evidence without type", |c| {
            c["evidence"] = json!([{"id": "https://example.org/e/1"}]);
        }),
        ("termsOfUse without type", |c| {
            c["termsOfUse"] = json!({"id": "https://example.org/tos"});
        }),
        ("refreshService without type", |c| {
            c["refreshService"] = json!({"id": "https://example.org/refresh"});
        }),
        ("credentialSchema without type", |c| {
            c["credentialSchema"] = json!({"id": "https://example.org/schema.json"});
        }),
        ("name a number", |c| {
            c["name"] = json!(7);
        }),
        ("a status of its own", |c| {
            c["credentialStatus"] = json!({"type": "BitstringStatusListEntry"});
        }),
        ("already signed", |c| {
            c["proof"] = json!({"type": "DataIntegrityProof"});
        }),
    ];
    for (what, edit) in cases {
        let mut cred = employment();
        edit(&mut cred);
        let (s, e) = app
            .admin(
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": cred})),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{what}: {e}");
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {e}"
        );
    }
    for (options, want) in [
        (json!({"frobnicate": true}), StatusCode::BAD_REQUEST),
        (json!({"proof": "bbs-2023"}), StatusCode::BAD_REQUEST),
        (
            json!({"proof": "Ed25519Signature2020"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"credentialStatus": {"type": "StatusList2021Entry"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"credentialStatus": {"type": "BitstringStatusListEntry", "statusPurpose": "message"}}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"mandatoryPointers": ["/issuer"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (s, e) = app
            .admin(
                Method::POST,
                "/credentials/issue",
                Some(json!({"credential": employment(), "options": options})),
            )
            .await;
        assert_eq!(s, want, "{options}: {e}");
    }
    // A context this service does not hold cannot be given a Data Integrity proof
    // (it would have to be fetched); as a JWT it is signed as given.
    let mut foreign = employment();
    foreign["@context"] = json!([
        "https://www.w3.org/ns/credentials/v2",
        "https://example.org/ctx/v1"
    ]);
    let (s, e) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": foreign, "options": {"proof": "eddsa-rdfc-2022"}})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    assert!(
        e["message"].as_str().is_some_and(|m| m.contains("context")),
        "{e}"
    );
    let (s, e) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": foreign})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    // Nothing refused was recorded.
    let (_, l) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(l["credentials"].as_array().map(Vec::len), Some(1), "{l}");
}

#[tokio::test]
async fn a_presentation_with_a_data_integrity_proof_is_verified_with_its_challenge_and_domain() {
    use accolade::integrity::{ProofOptions, Suite};
    use accolade::jose::{Algorithm, SigningKey};
    use std::sync::Arc;
    let app = TestApp::new().await;
    let (_, v) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": employment(), "options": {"proof": "eddsa-rdfc-2022"}})),
        )
        .await;
    let (_, jwt) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(json!({"credential": employment()})),
        )
        .await;
    let holder_key = Arc::new(SigningKey::generate(Algorithm::EdDSA).expect("key").0);
    let holder = accolade::did::key::did_key_for(holder_key.public_jwk()).expect("did");
    let method = format!("{holder}#{}", holder.method_specific_id());
    let vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder.as_str(),
        "verifiableCredential": [v["verifiableCredential"], jwt["verifiableCredential"]]
    });
    let sign = |purpose: &'static str, vp: Value| {
        let key = holder_key.clone();
        let method = method.clone();
        let holder = holder.to_string();
        async move {
            let options = ProofOptions {
                suite: Suite::EddsaRdfc2022,
                purpose,
                created: "2026-12-05T00:00:00Z".into(),
                challenge: Some("c-8a1f".into()),
                domain: Some("https://verifier.example".into()),
            };
            Value::Object(
                accolade::integrity::sign(
                    vp.as_object().expect("object"),
                    &options,
                    &key,
                    &method,
                    &holder,
                )
                .await
                .expect("signs"),
            )
        }
    };
    let signed = sign("authentication", vp.clone()).await;
    let present = |vp: Value, challenge: &str| {
        app.call(
            Method::POST,
            "/presentations/verify",
            Some(json!({"verifiablePresentation": vp,
                "options": {"challenge": challenge, "domain": "https://verifier.example"}})),
            false,
        )
    };
    let (s, r) = present(signed.clone(), "c-8a1f").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], true, "{r}");
    let checks = r["presentationResult"]["checks"].to_string();
    for c in ["signature", "nonce", "audience"] {
        assert!(
            checks.contains(&format!("\"check\":\"{c}\",\"outcome\":\"pass\"")),
            "{c}: {checks}"
        );
    }
    assert_eq!(r["credentialResults"].as_array().map(Vec::len), Some(2));
    // One domain written as a string is the same domain (and the same signature).
    let mut one = signed.clone();
    one["proof"]["domain"] = json!("https://verifier.example");
    let (s, r) = present(one, "c-8a1f").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Another challenge: refused.
    let (s, r) = present(signed.clone(), "c-other").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["presentationResult"]["checks"]
            .to_string()
            .contains("\"check\":\"nonce\",\"outcome\":\"fail\""),
        "{r}"
    );
    // A credential swapped after signing, or a proof made for assertions: refused.
    let mut swapped = signed.clone();
    swapped["verifiableCredential"][1] = swapped["verifiableCredential"][0].clone();
    let (s, r) = present(swapped, "c-8a1f").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let wrong_purpose = sign("assertionMethod", vp.clone()).await;
    let (s, r) = present(wrong_purpose, "c-8a1f").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    // Signed by a key that is not the holder's.
    let mut other_holder = vp.clone();
    other_holder["holder"] = json!(HOLDER_DID);
    let (s, r) = present(sign("authentication", other_holder).await, "c-8a1f").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_url_id_issued_at_once_twice_is_issued_once() {
    let app = TestApp::new().await;
    let mut cred = employment();
    cred["id"] = json!("https://hr.example.com/records/race");
    let body = json!({"credential": cred, "options": {"proof": "eddsa-rdfc-2022"}});
    let (a, b) = tokio::join!(
        app.admin(Method::POST, "/credentials/issue", Some(body.clone())),
        app.admin(Method::POST, "/credentials/issue", Some(body.clone())),
    );
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(
        codes,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let (_, l) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(l["credentials"].as_array().map(Vec::len), Some(1), "{l}");
    // The one issued stays revocable.
    let path = format!(
        "/api/v1/credentials/{}/revoke",
        url::form_urlencoded::byte_serialize(b"https://hr.example.com/records/race")
            .collect::<String>()
    );
    let (s, _) = app.admin(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(s, StatusCode::OK);
}
