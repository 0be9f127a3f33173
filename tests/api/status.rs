//! Revocation and suspension as seen from outside: the published Bitstring Status
//! Lists read by an independent decoder (base64url, gunzip, spec bit order), the admin
//! routes, the verify API, and the verifier's handling of other issuers' lists.

use std::collections::HashSet;
use std::io::Read as _;
use std::sync::Arc;

use accolade::jose::{Algorithm, SigningKey};
use accolade::net::{FetchError, Kind};
use accolade::verify::remote::BoxFuture;
use accolade::verify::{Fetch, Verifier};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::helpers::*;
use crate::issuance::{did_document, key_for_kid, openssl_verify};

/// Decodes an `encodedList` without any accolade code: strip the multibase `u`,
/// base64url (no padding), gunzip.
fn expand(encoded: &str) -> Vec<u8> {
    let b64 = encoded
        .strip_prefix('u')
        .expect("multibase base64url prefix");
    assert!(!b64.contains('='), "encodedList must not be padded");
    let gz = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(b64)
        .expect("base64url");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz.as_slice())
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

/// The bits of a list credential's payload.
pub(crate) fn expand_list(payload: &Value) -> Vec<u8> {
    expand(
        payload["credentialSubject"]["encodedList"]
            .as_str()
            .expect("list"),
    )
}

/// Bit `i` in spec order: index 0 is the most significant bit of byte 0.
pub(crate) fn bit(bytes: &[u8], i: usize) -> u8 {
    (bytes[i / 8] >> (7 - i % 8)) & 1
}

/// GETs a list as any verifier would; returns (header, payload, expanded bits).
pub(crate) async fn fetch_list(app: &TestApp, url: &str) -> (Value, Value, Vec<u8>) {
    let path = url.strip_prefix(app.public_url.as_str()).expect("our URL");
    let (s, headers, body) = app
        .send(Request::get(path).body(Body::empty()).expect("req"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/vc+jwt");
    let jwt = String::from_utf8(body.to_vec()).expect("text");
    let (h, p, _) = decode_jwt(&jwt);
    let bits = expand(
        p["credentialSubject"]["encodedList"]
            .as_str()
            .expect("list"),
    );
    (h, p, bits)
}

fn entries(payload: &Value) -> Vec<Value> {
    match &payload["credentialStatus"] {
        Value::Array(a) => a.clone(),
        v @ Value::Object(_) => vec![v.clone()],
        other => panic!("no credentialStatus: {other}"),
    }
}

fn index_of(entry: &Value) -> usize {
    entry["statusListIndex"]
        .as_str()
        .expect("string index")
        .parse()
        .expect("number")
}

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.admin(Method::POST, path, Some(body)).await
}

#[tokio::test]
async fn a_revoked_badge_shows_in_the_published_list_and_fails_verification() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (_, payload, _) = decode_jwt(&jwt);
    let e = entries(&payload);
    assert_eq!(e.len(), 1, "one entry by default (the OB 3.0 form)");
    assert!(payload["credentialStatus"].is_object());
    let e = &e[0];
    assert_eq!(e["type"], "BitstringStatusListEntry");
    assert_eq!(e["statusPurpose"], "revocation");
    let list_url = e["statusListCredential"].as_str().expect("url");
    assert_eq!(list_url, format!("{PUBLIC_URL}/status/revocation/1"));
    assert_eq!(e["id"], format!("{list_url}#{}", index_of(e)));
    let i = index_of(e);

    let (h, p, bits) = fetch_list(&app, list_url).await;
    assert_eq!(h["typ"], "vc+jwt");
    assert_eq!(
        p["type"],
        json!(["VerifiableCredential", "BitstringStatusListCredential"])
    );
    assert_eq!(
        p["@context"],
        json!(["https://www.w3.org/ns/credentials/v2"])
    );
    assert_eq!(p["id"], list_url);
    assert_eq!(p["issuer"], DID);
    assert_eq!(p["credentialSubject"]["type"], "BitstringStatusList");
    assert_eq!(p["credentialSubject"]["statusPurpose"], "revocation");
    assert_eq!(p["credentialSubject"]["ttl"], 300_000);
    assert_eq!(bits.len(), 16_384, "131,072 entries");
    assert_eq!(bit(&bits, i), 0);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(outcome(&report, "status"), Some("pass"));

    let cid = payload["jti"].as_str().expect("jti");
    let (s, view) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/revoke"),
        json!({"reason": "exam misconduct", "actor": "registrar@example.edu"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{view}");
    assert_eq!(view["revoked"], true);
    assert_eq!(view["state"], "issued");

    let (_, p2, bits) = fetch_list(&app, list_url).await;
    assert_eq!(bit(&bits, i), 1);
    assert_eq!(bits.iter().map(|b| b.count_ones()).sum::<u32>(), 1);
    assert!(
        !p2.to_string().contains("misconduct"),
        "reasons are not published"
    );

    let (s, report) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(report["verified"], false);
    assert_eq!(outcome(&report, "status"), Some("fail"));
    assert_eq!(message(&report, "status"), "revoked");
    assert_eq!(report["trusted"], true, "still our signature");

    // Idempotent, and permanent.
    let (s, again) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!((s, &again["revoked"]), (StatusCode::OK, &json!(true)));
    for action in ["suspend", "unsuspend"] {
        let (s, err) = post(
            &app,
            &format!("/api/v1/credentials/{cid}/{action}"),
            json!({}),
        )
        .await;
        assert_eq!(s, StatusCode::CONFLICT, "{action}: {err}");
        assert_eq!(err["error"], "credential_revoked");
    }

    // The audit record keeps who (the authenticated principal: the body's "actor" is
    // not trusted), when and why; one event, not two.
    let (s, audit) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{cid}/audit"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let events = audit["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{audit}");
    assert_eq!(events[0]["action"], "revoke");
    assert_eq!(events[0]["reason"], "exam misconduct");
    assert_eq!(events[0]["actor"], "admin token");
    assert_eq!(events[0]["at"], "2026-11-19T00:00:00Z");
}

#[tokio::test]
async fn with_suspension_entries_suspend_and_unsuspend_round_trip_the_bit() {
    let app = TestApp::with_suspension_entries().await;
    let jwt = app.issue_badge().await;
    let (_, payload, _) = decode_jwt(&jwt);
    let e = entries(&payload);
    assert!(payload["credentialStatus"].is_array());
    assert_eq!(e.len(), 2);
    assert_eq!(e[1]["statusPurpose"], "suspension");
    let url = e[1]["statusListCredential"].as_str().expect("url");
    assert_eq!(url, format!("{PUBLIC_URL}/status/suspension/1"));
    let i = index_of(&e[1]);
    let cid = payload["jti"].as_str().expect("jti");

    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true, "{report}");

    let (s, v) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/suspend"),
        json!({"reason": "under review"}),
    )
    .await;
    assert_eq!((s, &v["suspended"]), (StatusCode::OK, &json!(true)), "{v}");
    let (_, p, bits) = fetch_list(&app, url).await;
    assert_eq!(p["credentialSubject"]["statusPurpose"], "suspension");
    assert_eq!(bit(&bits, i), 1);
    let (_, _, rbits) = fetch_list(&app, e[0]["statusListCredential"].as_str().expect("url")).await;
    assert_eq!(
        bit(&rbits, index_of(&e[0])),
        0,
        "suspension does not touch revocation"
    );
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], false);
    assert_eq!(message(&report, "status"), "suspended");

    let (s, v) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/unsuspend"),
        json!({}),
    )
    .await;
    assert_eq!((s, &v["suspended"]), (StatusCode::OK, &json!(false)), "{v}");
    let (_, _, bits) = fetch_list(&app, url).await;
    assert_eq!(bit(&bits, i), 0);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(outcome(&report, "status"), Some("pass"));
    // Our own schema check accepts the array form.
    assert_eq!(outcome(&report, "schema"), Some("pass"));
}

#[tokio::test]
async fn without_suspension_entries_our_verifier_still_enforces_suspension() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (_, payload, _) = decode_jwt(&jwt);
    let cid = payload["jti"].as_str().expect("jti");
    let (s, _) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/suspend"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(message(&report, "status"), "suspended");
    // The suspension family is published all the same.
    let slot = index_of(&entries(&payload)[0]);
    let (_, _, bits) = fetch_list(&app, &format!("{PUBLIC_URL}/status/suspension/1")).await;
    assert_eq!(bit(&bits, slot), 1);
    let (s, _) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/unsuspend"),
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, report) = app.verify(json!(jwt)).await;
    assert_eq!(report["verified"], true, "{report}");
}

#[tokio::test]
async fn a_thousand_badges_get_a_thousand_distinct_indices() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let rows: Vec<Value> = (0..1000)
        .map(|_| json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID}}))
        .collect();
    let (s, out) = post(&app, "/api/v1/awards/batch", json!({"awards": rows})).await;
    assert_eq!(s, StatusCode::OK);
    let mut seen = HashSet::new();
    for r in out["results"].as_array().expect("results") {
        assert!(r["error"].is_null(), "{r}");
        let (_, p, _) = decode_jwt(r["credential"].as_str().expect("jwt"));
        let e = &entries(&p)[0];
        assert_eq!(
            e["statusListCredential"],
            format!("{PUBLIC_URL}/status/revocation/1")
        );
        assert!(seen.insert(index_of(e)), "index {} twice", index_of(e));
    }
    assert_eq!(seen.len(), 1000);
    // Random, not sequential.
    let max = seen.iter().max().copied().unwrap_or_default();
    assert!(
        max > 100_000,
        "indices are spread over the list (max {max})"
    );
    // The admin view names the same slot.
    let (_, list) = app
        .admin(Method::GET, "/api/v1/credentials?limit=1", None)
        .await;
    let c = &list["credentials"][0];
    let (_, p, _) = decode_jwt(c["credential"].as_str().expect("jwt"));
    assert_eq!(
        c["status"][0]["status_list_index"],
        entries(&p)[0]["statusListIndex"]
    );
    assert_eq!(c["status"][1]["status_purpose"], "suspension");
}

#[tokio::test]
async fn the_status_list_jwt_verifies_against_the_did_document_with_openssl() {
    for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA] {
        let app = TestApp::with(alg, PUBLIC_URL).await;
        app.issue_badge().await;
        let (s, headers, body) = app
            .send(
                Request::get("/status/revocation/1")
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let jwt = String::from_utf8(body.to_vec()).expect("text");
        let (h, p, _) = decode_jwt(&jwt);
        assert_eq!(h["alg"], alg.name());
        let doc = did_document(&app).await;
        let jwk = key_for_kid(&doc, h["kid"].as_str().expect("kid"));
        assert!(openssl_verify(&jwt, jwk), "{alg:?}");
        assert_eq!(p["issuer"], doc["id"]);
        assert_eq!(headers[header::CACHE_CONTROL], "public, max-age=300");
        assert!(headers.contains_key(header::ETAG));
    }
}

#[tokio::test]
async fn unchanged_lists_are_served_from_cache_with_etags() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let get = |etag: Option<String>| {
        let mut b = Request::get("/status/revocation/1");
        if let Some(e) = etag {
            b = b.header(header::IF_NONE_MATCH, e);
        }
        app.send(b.body(Body::empty()).expect("req"))
    };
    let (_, h1, b1) = get(None).await;
    let (_, h2, b2) = get(None).await;
    assert_eq!(b1, b2, "same bytes until the list changes");
    let etag = h1[header::ETAG].to_str().expect("etag").to_owned();
    assert_eq!(h2[header::ETAG], etag.as_str());
    let (s, _, body) = get(Some(etag.clone())).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());

    let (_, payload, _) = decode_jwt(&jwt);
    let cid = payload["jti"].as_str().expect("jti");
    post(
        &app,
        &format!("/api/v1/credentials/{cid}/revoke"),
        json!({}),
    )
    .await;
    let (s, h3, b3) = get(Some(etag.clone())).await;
    assert_eq!(s, StatusCode::OK, "a changed list is not 304");
    assert_ne!(h3[header::ETAG], etag.as_str());
    assert_ne!(b3, b1);

    // After a restart the unchanged list is the same signed bytes.
    let mut app = app;
    app.restart().await;
    let (_, h4, b4) = app
        .send(
            Request::get("/status/revocation/1")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(b4, b3);
    assert_eq!(h4[header::ETAG], h3[header::ETAG]);

    for missing in [
        "/status/revocation/2",
        "/status/refresh/1",
        "/status/revocation/01",
        "/status/revocation/x",
    ] {
        let (s, _, _) = app
            .send(Request::get(missing).body(Body::empty()).expect("req"))
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocations_in_one_list_all_land() {
    let app = Arc::new(TestApp::new().await);
    let a = app.create_achievement().await;
    let rows: Vec<Value> = (0..300)
        .map(|_| json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID}}))
        .collect();
    let (_, out) = post(&app, "/api/v1/awards/batch", json!({"awards": rows})).await;
    let mut badges = Vec::new();
    for r in out["results"].as_array().expect("results") {
        let (_, p, _) = decode_jwt(r["credential"].as_str().expect("jwt"));
        badges.push((
            p["jti"].as_str().expect("jti").to_owned(),
            index_of(&entries(&p)[0]),
        ));
    }
    let mut tasks = Vec::new();
    for (cid, _) in &badges[..200] {
        let cid = cid.clone();
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            post(
                &app,
                &format!("/api/v1/credentials/{cid}/revoke"),
                json!({}),
            )
            .await
            .0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), StatusCode::OK);
    }
    let (_, _, bits) = fetch_list(&app, &format!("{PUBLIC_URL}/status/revocation/1")).await;
    for (n, (_, i)) in badges.iter().enumerate() {
        assert_eq!(bit(&bits, *i), u8::from(n < 200), "badge {n}");
    }
}

#[tokio::test]
async fn batch_revoke_reports_each_id() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let (_, p, _) = decode_jwt(&jwt);
    let cid = p["jti"].as_str().expect("jti");
    let bare = cid.trim_start_matches("urn:uuid:");
    let (s, out) = post(
        &app,
        "/api/v1/credentials/revoke",
        json!({"credential_ids": [bare, "urn:uuid:00000000-0000-4000-8000-000000000000", "nope"], "reason": "programme withdrawn"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{out}");
    let r = out["results"].as_array().expect("results");
    assert_eq!(r[0]["revoked"], true);
    assert_eq!(r[0]["credential_id"], cid);
    assert_eq!(r[1]["code"], "not_found");
    assert_eq!(r[2]["code"], "not_found");
    let (_, view) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{bare}"), None)
        .await;
    assert_eq!(view["revoked"], true);
    let (s, _) = post(
        &app,
        "/api/v1/credentials/revoke",
        json!({"credential_ids": []}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = post(
        &app,
        &format!("/api/v1/credentials/{bare}/revoke"),
        json!({"reason": "x".repeat(1001)}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = post(
        &app,
        &format!("/api/v1/credentials/{bare}/revoke"),
        json!({"why": "unknown field"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = post(
        &app,
        "/api/v1/credentials/urn:uuid:00000000-0000-4000-8000-000000000000/suspend",
        json!({}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn revoking_an_offered_award_marks_it_revoked_before_any_copy_exists() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let (s, award) = post(
        &app,
        "/api/v1/awards",
        json!({"achievement_id": a["id"], "recipient": {"email": "grace@example.org"}}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let cid = award["credential_id"].as_str().expect("id");
    let (s, v) = post(
        &app,
        &format!("/api/v1/credentials/{cid}/revoke"),
        json!({"reason": "sent in error"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v["state"].as_str(), v["revoked"].as_bool()),
        (Some("offered"), Some(true))
    );
    let i: usize = v["status"][0]["status_list_index"]
        .as_str()
        .expect("index")
        .parse()
        .expect("n");
    let (_, _, bits) = fetch_list(&app, &format!("{PUBLIC_URL}/status/revocation/1")).await;
    assert_eq!(bit(&bits, i), 1);
}

#[tokio::test]
async fn a_pending_award_left_by_a_crash_is_burned_and_its_slot_never_reused() {
    let mut app = TestApp::new().await;
    app.issue_badge().await;
    // What a crash between "reserve" (slot taken, intent pending) and "record the
    // signed badge" leaves behind.
    let issuer = app.state.issuer.clone();
    let req: accolade::issue::AwardRequest = serde_json::from_value(json!({
        "achievement_id": app.state.issuer.achievements().await.expect("a")[0].achievement.id,
        "recipient": {"id": HOLDER_DID}, "delivery": "direct"}))
    .expect("req");
    let recorded = issuer.record_award(req).await.expect("recorded");
    app.store.flush().await.expect("flush");
    let id = recorded.award().credential_id();
    let uuid = recorded.award().id;
    let slot = recorded.award().status.expect("slot");
    drop(recorded);
    let (s, _) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "nothing is recorded before it is signed"
    );
    assert_eq!(
        app.store
            .awards
            .pending_awards(None)
            .await
            .expect("pending"),
        vec![(uuid, slot)],
        "the intent is"
    );
    assert_eq!(
        app.state.issuer.slot_owner(slot).await.expect("owner"),
        Some(uuid)
    );
    let taken_before = issuer.status_lists().taken(1).expect("list 1");
    app.restart().await;
    if database().is_some() {
        // In a shared database another node may still be signing it: a restart leaves
        // it until it is older than the timeout, when any node burns it.
        assert_eq!(
            app.store
                .awards
                .pending_awards(None)
                .await
                .expect("pending"),
            vec![(uuid, slot)],
            "a fleet waits for the timeout"
        );
        assert_eq!(
            app.state
                .issuer
                .recover(Some(std::time::Duration::ZERO))
                .await
                .expect("recover"),
            1
        );
    }
    let (s, _) = app
        .admin(Method::GET, &format!("/api/v1/credentials/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "the unsigned award never appears");
    assert!(
        app.store
            .awards
            .pending_awards(None)
            .await
            .expect("pending")
            .is_empty(),
        "the intent was burned"
    );
    let lists = app.state.issuer.status_lists();
    assert_eq!(lists.taken(1), Some(taken_before), "its slot stays taken");
    let (_, list) = app.admin(Method::GET, "/api/v1/credentials", None).await;
    assert_eq!(list["credentials"].as_array().map(Vec::len), Some(1));
    assert!(
        app.state
            .issuer
            .slot_owner(slot)
            .await
            .expect("owner")
            .is_some()
    );
    // Many new awards never land on the burned slot.
    let a = app.state.issuer.achievements().await.expect("a")[0]
        .achievement
        .id
        .clone();
    for _ in 0..200 {
        let v = app.award_direct(&a, HOLDER_DID).await;
        let (_, p, _) = decode_jwt(v["credential"].as_str().expect("jwt"));
        assert_ne!(index_of(&entries(&p)[0]), slot.index as usize);
    }
    let (_, audit) = app
        .admin(
            Method::GET,
            &format!("/api/v1/credentials/{id}/audit"),
            None,
        )
        .await;
    assert_eq!(
        audit["error"], "not_found",
        "the burned award has no public trace"
    );
}

/// Serves fixed bodies by URL, as a remote host would.
struct Fixed(Vec<(String, Result<String, String>)>);

impl Fetch for Fixed {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        _kind: Kind,
    ) -> BoxFuture<'a, Result<bytes::Bytes, FetchError>> {
        let found = self
            .0
            .iter()
            .find(|(u, _)| u == url)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| Err("404".into()));
        Box::pin(async move { found.map(bytes::Bytes::from).map_err(FetchError::Connect) })
    }
}

const REMOTE_LIST: &str = "https://status.example.org/lists/7";

fn did_key(key: &SigningKey) -> String {
    accolade::did::key::did_key_for(key.public_jwk())
        .expect("did")
        .to_string()
}

fn signed(key: &SigningKey, typ: &str, payload: &Value) -> String {
    let did = did_key(key);
    let kid = format!("{did}#{}", did.trim_start_matches("did:key:"));
    accolade::jose::jws::sign_compact(
        key,
        Some(&kid),
        Some(typ),
        &serde_json::to_vec(payload).expect("json"),
    )
    .expect("sign")
}

fn remote_badge(key: &SigningKey, index: &str) -> String {
    let mut c: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(did_key(key));
    c["credentialStatus"] = json!({"id": format!("{REMOTE_LIST}#{index}"), "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": index, "statusListCredential": REMOTE_LIST});
    let mut m: Map<String, Value> = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    signed(key, "JWT", &Value::Object(m))
}

fn remote_list(issuer: &str, bytes: usize, set: &[usize], edit: impl FnOnce(&mut Value)) -> Value {
    let mut bits = vec![0u8; bytes];
    for i in set {
        bits[i / 8] |= 0x80 >> (i % 8);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &bits).expect("gzip");
    let encoded = format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gz.finish().expect("gzip"))
    );
    let mut v = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "id": REMOTE_LIST,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"], "issuer": issuer,
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": format!("{REMOTE_LIST}#list"), "type": "BitstringStatusList",
            "statusPurpose": "revocation", "encodedList": encoded}});
    edit(&mut v);
    v
}

async fn verify_remote(badge: &str, body: Result<String, String>) -> (String, String) {
    let verifier = Verifier::new(None, Arc::new(accolade::clock::FixedClock::at(NOW)))
        .with_fetcher(Arc::new(Fixed(vec![(REMOTE_LIST.to_owned(), body)])));
    let r = serde_json::to_value(verifier.verify_jwt(badge).await.expect("report")).expect("json");
    (
        outcome(&r, "status").expect("status check").to_owned(),
        message(&r, "status").to_owned(),
    )
}

#[tokio::test]
async fn other_issuers_lists_are_checked_strictly() {
    let key = test_signing_key(Algorithm::ES256);
    let other = test_signing_key(Algorithm::EdDSA);
    let me = did_key(&key);
    let badge = remote_badge(&key, "94567");
    let list = |set: &[usize]| {
        Ok(signed(
            &key,
            "vc+jwt",
            &remote_list(&me, 16_384, set, |_| {}),
        ))
    };

    assert_eq!(
        verify_remote(&badge, list(&[1, 94_566, 94_568])).await.0,
        "pass"
    );
    assert_eq!(
        verify_remote(&badge, list(&[94_567])).await,
        ("fail".into(), "revoked".into())
    );

    let cases: Vec<(&str, Result<String, String>, &str, &str)> = vec![
        (
            "a badge-typed JWT is not a list",
            Ok(signed(&key, "JWT", &remote_list(&me, 16_384, &[], |_| {}))),
            "fail",
            "vc+jwt",
        ),
        (
            "signed by another issuer",
            Ok(signed(
                &other,
                "vc+jwt",
                &remote_list(&did_key(&other), 16_384, &[], |_| {}),
            )),
            "fail",
            "not by the credential's issuer",
        ),
        (
            "claims our issuer, signed by another key",
            Ok(signed(
                &other,
                "vc+jwt",
                &remote_list(&me, 16_384, &[], |_| {}),
            )),
            "fail",
            "signature",
        ),
        (
            "truncated list",
            Ok(signed(
                &key,
                "vc+jwt",
                &remote_list(&me, 8_192, &[], |_| {}),
            )),
            "fail",
            "fewer than the 131072",
        ),
        (
            "another purpose",
            Ok(signed(
                &key,
                "vc+jwt",
                &remote_list(&me, 16_384, &[], |v| {
                    v["credentialSubject"]["statusPurpose"] = json!("suspension");
                }),
            )),
            "fail",
            "not a revocation list",
        ),
        (
            "another list's id",
            Ok(signed(
                &key,
                "vc+jwt",
                &remote_list(&me, 16_384, &[], |v| {
                    v["id"] = json!("https://status.example.org/lists/8");
                }),
            )),
            "fail",
            "not the URL it came from",
        ),
        (
            "expired list",
            Ok(signed(
                &key,
                "vc+jwt",
                &remote_list(&me, 16_384, &[], |v| {
                    v["validUntil"] = json!("2026-01-02T00:00:00Z");
                }),
            )),
            "indeterminate",
            "expired",
        ),
        ("not a JWS", Ok("garbage".into()), "fail", "compact JWS"),
        (
            "unreachable",
            Err("connection refused".into()),
            "indeterminate",
            "could not be retrieved",
        ),
    ];
    for (what, body, want, text) in cases {
        let (o, m) = verify_remote(&badge, body).await;
        assert_eq!(o, want, "{what}: {m}");
        assert!(m.contains(text), "{what}: {m}");
    }

    // An index past the end of a (long enough) list is an error, never "not revoked".
    let far = remote_badge(&key, "131072");
    let (o, m) = verify_remote(&far, list(&[])).await;
    assert_eq!(o, "fail");
    assert!(m.contains("outside the list"), "{m}");
    let bad_index = remote_badge(&key, "-1");
    assert_eq!(verify_remote(&bad_index, list(&[])).await.0, "fail");
}

#[tokio::test]
async fn a_list_is_served_as_json_with_a_data_integrity_proof_when_json_is_asked_for() {
    let app = TestApp::new().await;
    let jwt = app.issue_badge().await;
    let get = |accept: &'static str| {
        app.send(
            Request::get("/status/revocation/1")
                .header(header::ACCEPT, accept)
                .body(Body::empty())
                .expect("req"),
        )
    };
    // The JWT stays the default, and wins when ranked higher.
    for accept in [
        "*/*",
        "application/vc+jwt",
        "application/vc+jwt, application/json;q=0.5",
    ] {
        let (s, h, _) = get(accept).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(h[header::CONTENT_TYPE], "application/vc+jwt", "{accept}");
        assert_eq!(h[header::VARY], "Accept");
    }
    let (s, h, body) = get("application/json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    let list: Value = serde_json::from_slice(&body).expect("json");
    // No Ed25519 key (and none is made for an anonymous GET): the P-256 signing key.
    assert_eq!(list["proof"]["cryptosuite"], "ecdsa-rdfc-2019");
    assert_eq!(pem_count(&app), 1);
    assert_eq!(list["proof"]["created"], list["validFrom"]);
    assert_eq!(h[header::VARY], "Accept");
    assert_eq!(list["issuer"], DID);
    let jwt_body = get("application/vc+jwt").await.2;
    let (_, from_jwt, _) = decode_jwt(std::str::from_utf8(&jwt_body).expect("text"));
    let mut bare = list.clone();
    bare.as_object_mut().expect("object").remove("proof");
    assert_eq!(bare, from_jwt, "the same credential in both forms");
    // It verifies as a credential of this issuer; changed, it does not.
    let (s, r) = app
        .call(
            Method::POST,
            "/credentials/verify",
            Some(json!({"verifiableCredential": list})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let mut changed = list.clone();
    changed["credentialSubject"]["encodedList"] =
        json!("uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA");
    let (s, _) = app
        .call(
            Method::POST,
            "/credentials/verify",
            Some(json!({"verifiableCredential": changed})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Same bytes until the list changes; a revocation changes both forms.
    let (_, h2, body2) = get("application/ld+json").await;
    assert_eq!(h2[header::CONTENT_TYPE], "application/ld+json");
    assert_eq!(body2, body);
    let (_, p, _) = decode_jwt(&jwt);
    post(
        &app,
        &format!(
            "/api/v1/credentials/{}/revoke",
            p["jti"].as_str().expect("jti")
        ),
        json!({}),
    )
    .await;
    let (_, h3, body3) = get("application/json").await;
    assert_ne!(body3, body);
    assert_ne!(h3[header::ETAG], h[header::ETAG]);
    // Once the service has an Ed25519 key (a staff member issued an eddsa-rdfc-2022
    // credential), lists are proved with it: deterministic bytes for every node.
    let (s, v) = app
        .admin(
            Method::POST,
            "/credentials/issue",
            Some(
                json!({"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"],
                "type": ["VerifiableCredential"], "credentialSubject": {"id": HOLDER_DID}},
                "options": {"proof": "eddsa-rdfc-2022"}}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, _, body4) = get("application/json").await;
    let list: Value = serde_json::from_slice(&body4).expect("json");
    assert_eq!(list["proof"]["cryptosuite"], "eddsa-rdfc-2022");
    let (_, _, body5) = get("application/json").await;
    assert_eq!(body4, body5);
    // An RSA signing key alone makes no Data Integrity proof: the JWT is served.
    let rsa = TestApp::with(Algorithm::RS256, PUBLIC_URL).await;
    rsa.issue_badge().await;
    let (s, h, _) = rsa
        .send(
            Request::get("/status/revocation/1")
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/vc+jwt");
}

fn pem_count(app: &TestApp) -> usize {
    std::fs::read_dir(&app.keys_dir)
        .expect("keys dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "pem"))
        })
        .count()
}

#[tokio::test]
async fn another_issuers_list_secured_with_data_integrity_is_checked() {
    let key = test_signing_key(Algorithm::ES256);
    let me = did_key(&key);
    let badge = remote_badge(&key, "94567");
    // The list's issuer is the badge's: a did:key list signed by its own key.
    let sign_list = |issuer_key: Arc<SigningKey>, set: Vec<usize>| async move {
        let did = did_key(&issuer_key);
        let mb = did.trim_start_matches("did:key:").to_owned();
        let doc = remote_list(&did, 16 * 1024, &set, |_| {});
        let opts = accolade::integrity::ProofOptions {
            suite: accolade::integrity::Suite::EcdsaRdfc2019,
            purpose: "assertionMethod",
            created: "2026-01-01T00:00:00Z".into(),
            challenge: None,
            domain: None,
        };
        let signed = accolade::integrity::sign(
            doc.as_object().expect("object"),
            &opts,
            &issuer_key,
            &format!("{did}#{mb}"),
            &did,
        )
        .await
        .expect("signs");
        serde_json::to_string(&signed).expect("json")
    };
    let key = Arc::new(key);
    let (o, m) = verify_remote(&badge, Ok(sign_list(key.clone(), vec![]).await)).await;
    assert_eq!(o, "pass", "{m}");
    let (o, m) = verify_remote(&badge, Ok(sign_list(key.clone(), vec![94567]).await)).await;
    assert_eq!(o, "fail", "{m}");
    // Made with a P-256 key of another issuer: not the badge issuer's list.
    let other = Arc::new(SigningKey::generate(Algorithm::ES256).expect("key").0);
    let body = sign_list(other, vec![]).await;
    let (o, m) = verify_remote(&badge, Ok(body)).await;
    assert_eq!(o, "fail", "{m}");
    assert!(m.contains("issuer"), "{m}");
    // Changed after signing.
    let mut tampered: Value =
        serde_json::from_str(&sign_list(key.clone(), vec![94567]).await).expect("json");
    tampered["credentialSubject"]["encodedList"] =
        remote_list(&me, 16 * 1024, &[], |_| {})["credentialSubject"]["encodedList"].clone();
    let (o, m) = verify_remote(&badge, Ok(tampered.to_string())).await;
    assert_eq!(o, "fail", "{m}");
    assert!(m.contains("proof"), "{m}");
}

#[tokio::test]
async fn the_json_schema_a_credential_names_is_fetched_and_applied() {
    const SCHEMA: &str = "https://schemas.example.org/employment.json";
    let key = test_signing_key(Algorithm::ES256);
    let did = did_key(&key);
    let other = SigningKey::generate(Algorithm::ES256).expect("key").0;
    let credential_by = |signer: &SigningKey, hours: Value, schema_url: &str| {
        let c = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", "EmploymentCredential"],
            "issuer": did, "validFrom": "2026-01-01T00:00:00Z",
            "credentialSchema": {"id": schema_url, "type": "JsonSchema"},
            "credentialSubject": {"id": HOLDER_DID, "hours": hours}
        });
        signed(signer, "vc+jwt", &c)
    };
    let credential = |hours: Value, schema_url: &str| credential_by(&key, hours, schema_url);
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["credentialSubject"],
        "properties": {"credentialSubject": {"$ref": "#/$defs/subject"}},
        "$defs": {"subject": {"type": "object", "required": ["hours"],
                              "properties": {"hours": {"type": "number", "maximum": 60}}}}
    });
    let external = json!({"$ref": "https://elsewhere.example.org/other.json"});
    let verifier = Verifier::new(None, Arc::new(accolade::clock::FixedClock::at(NOW)))
        .with_fetcher(Arc::new(Fixed(vec![
            (SCHEMA.to_owned(), Ok(schema.to_string())),
            (
                "https://schemas.example.org/external.json".to_owned(),
                Ok(external.to_string()),
            ),
            (
                "https://schemas.example.org/broken.json".to_owned(),
                Ok("{not json".to_owned()),
            ),
        ])));
    let run = |jwt: String| {
        let verifier = verifier.clone();
        async move {
            serde_json::to_value(verifier.verify_jwt(&jwt).await.expect("report")).expect("json")
        }
    };
    let r = run(credential(json!(37.5), SCHEMA)).await;
    assert_eq!(outcome(&r, "schema"), Some("pass"), "{r}");
    assert_eq!(r["verified"], true, "{r}");
    let r = run(credential(json!(90), SCHEMA)).await;
    assert_eq!(outcome(&r, "schema"), Some("fail"), "{r}");
    assert!(message(&r, "schema").contains(SCHEMA), "{r}");
    let r = run(credential(json!("forty"), SCHEMA)).await;
    assert_eq!(outcome(&r, "schema"), Some("fail"), "{r}");
    // A schema that reaches for another document is not followed; one that cannot be
    // had is undecided; one that is not JSON fails.
    let r = run(credential(
        json!(1),
        "https://schemas.example.org/external.json",
    ))
    .await;
    assert_eq!(outcome(&r, "schema"), Some("indeterminate"), "{r}");
    let r = run(credential(
        json!(1),
        "https://schemas.example.org/missing.json",
    ))
    .await;
    assert_eq!(outcome(&r, "schema"), Some("indeterminate"), "{r}");
    let r = run(credential(
        json!(1),
        "https://schemas.example.org/broken.json",
    ))
    .await;
    assert_eq!(outcome(&r, "schema"), Some("fail"), "{r}");
    // A forged credential makes no one fetch its schema.
    let forged = credential_by(&other, json!(1), "https://schemas.example.org/missing.json");
    let r = run(forged).await;
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
    assert_eq!(outcome(&r, "schema"), Some("pass"), "{r}");
}
