//! A data directory written by the first store format (`tests/fixtures/store-v1`,
//! made by `tests/fixtures/make_store_v1.py` with the release of that format) opens
//! with this version: it is converted once, and every record in it still works
//! through the API, from awards and their badges to registry entries, partner keys and
//! presentation requests.

use accolade::jose::{Algorithm, SigningKey};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

const PRE_AUTH: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

fn fixture() -> (std::path::PathBuf, Value) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/store-v1");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .expect("json");
    (dir.join("sled"), expected)
}

async fn upgraded() -> (TestApp, Value) {
    let (data, expected) = fixture();
    let app = TestApp::over_copy_of(
        &data,
        expected["public_url"].as_str().expect("url"),
        expected["written_at"].as_i64().expect("time"),
    )
    .await;
    (app, expected)
}

fn award<'a>(expected: &'a Value, name: &str) -> &'a Value {
    &expected["awards"][name]
}

fn local_path(url: &str, base: &str) -> String {
    url.strip_prefix(base).expect("our URL").to_owned()
}

#[tokio::test]
async fn an_old_store_is_converted_once_and_says_so() {
    let (app, _) = upgraded().await;
    let note = app.store.upgraded().expect("converted").to_owned();
    assert!(note.contains("from format 1 to 2"), "{note}");
    assert!(note.contains("9 awards"), "{note}");
    assert!(note.contains("1 presentation requests"), "{note}");
    // Opened again, there is nothing left to convert.
    let (data, expected) = fixture();
    let tmp = tempfile::tempdir().expect("tmp");
    copy(&data, tmp.path());
    {
        let store = accolade::store::Store::open(tmp.path()).expect("first open");
        assert!(store.upgraded().is_some());
        store.flush().await.expect("flush");
    }
    let again = accolade::store::Store::open(tmp.path()).expect("second open");
    assert_eq!(again.upgraded(), None);
    let n = again
        .awards
        .awards(&Default::default(), 100, None)
        .await
        .expect("list")
        .awards
        .len();
    assert_eq!(n, expected["awards"].as_object().expect("awards").len());
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).expect("dir").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[tokio::test]
async fn every_award_keeps_its_state_and_every_badge_still_verifies() {
    let (app, expected) = upgraded().await;
    let (s, list) = app
        .admin(Method::GET, "/api/v1/credentials?limit=100", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let listed = list["credentials"].as_array().expect("list");
    assert_eq!(listed.len(), 9);
    for (name, want) in expected["awards"].as_object().expect("awards") {
        let id = want["credential_id"].as_str().expect("id");
        let (s, got) = app
            .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{name}: {got}");
        assert_eq!(got["state"], want["state"], "{name}");
        assert_eq!(
            got["achievement_id"], expected["achievements"]["cloud"],
            "{name}"
        );
        if let Some(revoked) = want.get("revoked") {
            assert_eq!(got["revoked"], *revoked, "{name}");
            assert_eq!(got["suspended"], want["suspended"], "{name}");
        }
        let Some(jwt) = want["credential"].as_str() else {
            continue;
        };
        let (s, report) = app.verify(json!(jwt)).await;
        assert_eq!(s, StatusCode::OK);
        let expect_valid = want.get("revoked") != Some(&json!(true))
            && want.get("suspended") != Some(&json!(true));
        assert_eq!(report["verified"], json!(expect_valid), "{name}: {report}");
        if !expect_valid {
            assert_eq!(outcome(&report, "status"), Some("fail"), "{name}");
        }
    }
    // Both badges of the batch claim, each bound to its own wallet key.
    let claimed = award(&expected, "claimed");
    for (jwt, holder) in claimed["copies"]
        .as_array()
        .expect("copies")
        .iter()
        .zip(claimed["holders"].as_array().expect("holders"))
    {
        let (_, report) = app.verify(jwt.clone()).await;
        assert_eq!(report["verified"], true, "{report}");
        let (_, p, _) = decode_jwt(jwt.as_str().expect("jwt"));
        assert_eq!(p["sub"], *holder);
    }
    let (_, rich) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/credentials/{}",
                award(&expected, "rich")["credential_id"]
                    .as_str()
                    .expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(rich["valid_until"], "2031-06-30T00:00:00Z");
    let (_, claimed_view) = app
        .admin(
            Method::GET,
            &format!(
                "/api/v1/credentials/{}",
                claimed["credential_id"].as_str().expect("id")
            ),
            None,
        )
        .await;
    assert_eq!(claimed_view["copies"], 2);
    assert_eq!(
        claimed_view["wallet_events"][0]["event"],
        "credential_accepted"
    );
}

#[tokio::test]
async fn audit_trails_and_published_lists_carry_over() {
    let (app, expected) = upgraded().await;
    let revoked = award(&expected, "revoked");
    let id = revoked["credential_id"].as_str().expect("id");
    let (_, audit) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{id}/audit"),
            None,
        )
        .await;
    assert_eq!(audit["events"][0]["action"], "revoke");
    assert_eq!(audit["events"][0]["reason"], "issued in error");
    let (_, p, _) = decode_jwt(revoked["credential"].as_str().expect("jwt"));
    let entry = &p["credentialStatus"];
    let index: usize = entry["statusListIndex"]
        .as_str()
        .expect("index")
        .parse()
        .expect("n");
    let list = entry["statusListCredential"].as_str().expect("list");
    let (_, _, bits) = crate::status::fetch_list(&app, list).await;
    assert_eq!(crate::status::bit(&bits, index), 1, "still revoked");
}

#[tokio::test]
async fn an_offer_made_before_the_achievement_changed_is_signed_as_it_was() {
    let (app, expected) = upgraded().await;
    let before = award(&expected, "before_edit");
    let after = award(&expected, "no_code");
    let wallet = SigningKey::generate(Algorithm::EdDSA).expect("key").0;
    let did = accolade::did::key::did_key_for(wallet.public_jwk())
        .expect("did")
        .to_string();
    let mut descriptions = Vec::new();
    for a in [before, after] {
        let code = a["offer_code"].as_str().expect("code");
        let (s, token) = form(
            &app,
            "/oid4vci/token",
            &[("grant_type", PRE_AUTH), ("pre-authorized_code", code)],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{token}");
        let (_, n) = app.call(Method::POST, "/oid4vci/nonce", None, false).await;
        let iat = expected["written_at"].as_i64().expect("time");
        let nonce = n["c_nonce"].as_str().expect("n");
        let proof = proof(&wallet, &did, &app.public_url, nonce, iat);
        let (s, got) = bearer(
            &app,
            "/oid4vci/credential",
            token["access_token"].as_str().expect("token"),
            json!({"credential_configuration_id": "OpenBadgeCredential_jwt_vc_json",
                   "proofs": {"jwt": [proof]}}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{got}");
        let jwt = got["credentials"][0]["credential"].as_str().expect("jwt");
        let (_, p, _) = decode_jwt(jwt);
        assert_eq!(p["sub"], did.as_str());
        let (_, report) = app.verify(json!(jwt)).await;
        assert_eq!(report["verified"], true, "{report}");
        descriptions.push(p["credentialSubject"]["achievement"]["description"].clone());
    }
    assert_eq!(
        descriptions,
        [
            json!("Understands core cloud services."),
            json!("Understands core cloud services (2027 syllabus).")
        ]
    );
    // The achievement itself reads as it now stands.
    let cloud = expected["achievements"]["cloud"].as_str().expect("id");
    let key = cloud.rsplit('/').next().expect("key");
    let (_, a) = app
        .admin(Method::GET, &format!("/api/v1/achievements/{key}"), None)
        .await;
    assert_eq!(
        a["description"],
        "Understands core cloud services (2027 syllabus)."
    );
    // A change after the upgrade is a new revision: awards made before keep theirs.
    let mut changed = a.clone();
    changed["description"] = json!("Third edition.");
    let (s, _) = app
        .admin(
            Method::PUT,
            &format!("/api/v1/achievements/{key}"),
            Some(changed),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let with_code = award(&expected, "with_code");
    let (s, _, page) = app
        .send(
            Request::get(local_path(
                with_code["claim_url"].as_str().expect("claim"),
                &app.public_url,
            ))
            .body(Body::empty())
            .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let page = String::from_utf8_lossy(&page);
    assert!(page.contains("2027 syllabus"), "{page}");
    assert!(!page.contains("Third edition"));
}

#[tokio::test]
async fn codes_approvals_registry_keys_and_presentation_requests_carry_over() {
    let (app, expected) = upgraded().await;
    // The transaction code the earner was sent still guards the offer.
    let with_code = award(&expected, "with_code");
    let code = with_code["offer_code"].as_str().expect("code");
    let (s, t) = form(
        &app,
        "/oid4vci/token",
        &[("grant_type", PRE_AUTH), ("pre-authorized_code", code)],
    )
    .await;
    assert_eq!(
        (s, t["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let tx = with_code["tx_code"].as_str().expect("tx");
    let (s, t) = form(
        &app,
        "/oid4vci/token",
        &[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", code),
            ("tx_code", tx),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");

    // The wallet request waiting for approval is released by an approval now.
    let waiting = award(&expected, "waiting")["credential_id"]
        .as_str()
        .expect("id");
    let (s, v) = app
        .admin(
            Method::POST,
            &format!("/api/v1/awards/{waiting}/approve"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["state"], "issued");

    let (_, reg) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    let statuses: Vec<(String, String)> = reg["issuers"]
        .as_array()
        .expect("issuers")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().expect("id").to_owned(),
                e["status"].as_str().expect("status").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("did:web:diploma-mill.example".into(), "blocked".into()),
            ("did:web:trusted.example.org".into(), "trusted".into())
        ]
    );

    let key = &expected["partner_key"];
    let (_, k) = app
        .admin(
            Method::GET,
            &format!("/api/v1/api-keys/{}", key["id"].as_str().expect("id")),
            None,
        )
        .await;
    let before = k["usage"]["requests"].as_u64().expect("requests");
    assert!(before >= 1, "{k}");
    // A partner's request: read with its key (without it, it is not there).
    let (s, _, body) = app
        .send(
            Request::get(format!(
                "/api/v1/presentation-requests/{}",
                expected["presentation_request"].as_str().expect("id")
            ))
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", key["key"].as_str().expect("key")),
            )
            .body(Body::empty())
            .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let pr: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(pr["state"], "pending");
    let created = pr["created_at"].as_str().expect("created_at");
    assert!(
        created.starts_with("20") && created.ends_with('Z'),
        "{created}"
    );
    let (_, k) = app
        .admin(
            Method::GET,
            &format!("/api/v1/api-keys/{}", key["id"].as_str().expect("id")),
            None,
        )
        .await;
    assert_eq!(k["usage"]["requests"].as_u64(), Some(before + 1));
}

async fn form(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let (s, _, b) = app
        .send(
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("req"),
        )
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

async fn bearer(app: &TestApp, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let (s, _, b) = app
        .send(
            Request::post(path)
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&body).expect("json")))
                .expect("req"),
        )
        .await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// An OpenID4VCI proof of possession by a did:key wallet.
fn proof(key: &SigningKey, did: &str, aud: &str, nonce: &str, iat: i64) -> String {
    let kid = format!("{did}#{}", did.trim_start_matches("did:key:"));
    let header = json!({"alg": key.algorithm().name(), "typ": "openid4vci-proof+jwt", "kid": kid});
    let claims = json!({"aud": aud, "iat": iat, "nonce": nonce});
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(&header).expect("json")),
        b64(serde_json::to_vec(&claims).expect("json"))
    );
    let sig = key.sign(input.as_bytes()).expect("signs");
    format!("{input}.{}", b64(sig))
}
