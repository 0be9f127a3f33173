//! The trust registry: its admin API, imports, and what it does to verification
//! reports (`trusted`, `issuer_registry`) while `verified` follows only the other
//! checks.

use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::helpers::*;

/// An issuer of our own making: a did:key and a badge it signed (the basic OB 3.0
/// example, whose issuer calls itself "Example Corp").
struct OtherIssuer {
    key: SigningKey,
    did: String,
}

impl OtherIssuer {
    fn new() -> Self {
        let key = SigningKey::generate(Algorithm::EdDSA).expect("key").0;
        let did = accolade::did::key::did_key_for(key.public_jwk())
            .expect("did")
            .to_string();
        Self { key, did }
    }

    /// A badge naming `issuer`, signed by this issuer's key.
    fn badge_as(&self, issuer: &str) -> String {
        let mut c: Map<String, Value> = serde_json::from_str(include_str!(
            "../vectors/examples/ob3_basic_openbadgecredential.json"
        ))
        .expect("example");
        c["issuer"]["id"] = json!(issuer);
        accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
        let kid = format!("{issuer}#{}", issuer.trim_start_matches("did:key:"));
        sign_compact(
            &self.key,
            Some(&kid),
            Some("JWT"),
            &serde_json::to_vec(&c).expect("json"),
        )
        .expect("sign")
    }

    fn badge(&self) -> String {
        self.badge_as(&self.did)
    }
}

fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn entry_path(id: &str) -> String {
    format!("/api/v1/trust/issuers/{}", enc(id))
}

async fn register(app: &TestApp, id: &str, name: &str, status: &str) -> Value {
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/trust/issuers",
            Some(json!({"id": id, "name": name, "status": status,
                        "website": "https://registry-side.example.org",
                        "logo": "https://registry-side.example.org/logo.png"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

#[tokio::test]
async fn a_registered_issuer_is_trusted_under_the_registrys_name() {
    let app = TestApp::new().await;
    let other = OtherIssuer::new();
    let badge = other.badge();

    // Unknown: trust is undecided, the badge still verifies.
    let (s, r) = app.verify(json!(badge)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (r["verified"].clone(), r["trusted"].clone()),
        (json!(true), Value::Null),
        "{r}"
    );
    assert_eq!(message(&r, "issuer_trust"), "issuer not in registry");
    assert!(r.get("issuer_registry").is_none(), "{r}");

    // Trusted: the registry's name and logo, not the badge's "Example Corp".
    register(&app, &other.did, "Registry Name of the Issuer", "trusted").await;
    let (_, r) = app.verify(json!(badge)).await;
    assert_eq!(r["verified"], json!(true), "{r}");
    assert_eq!(r["trusted"], json!(true), "{r}");
    assert_eq!(outcome(&r, "issuer_trust"), Some("pass"));
    assert_eq!(r["credential"]["issuer"]["name"], json!("Example Corp"));
    assert_eq!(
        r["issuer_registry"],
        json!({"id": other.did, "name": "Registry Name of the Issuer",
               "website": "https://registry-side.example.org",
               "logo": "https://registry-side.example.org/logo.png", "status": "trusted"})
    );

    // Blocked: distrusted, named, still verified (trust is reported on its own).
    let (s, v) = app
        .admin(
            Method::PUT,
            &entry_path(&other.did),
            Some(json!({"name": "Registry Name of the Issuer", "status": "blocked"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, r) = app.verify(json!(badge)).await;
    assert_eq!(r["verified"], json!(true), "{r}");
    assert_eq!(r["trusted"], json!(false), "{r}");
    assert_eq!(outcome(&r, "issuer_trust"), Some("fail"));
    assert_eq!(
        message(&r, "issuer_trust"),
        "issuer is blocked in the trust registry: Registry Name of the Issuer"
    );
    assert_eq!(r["issuer_registry"]["status"], json!("blocked"));

    // Removed: unknown again.
    let (s, _) = app
        .admin(Method::DELETE, &entry_path(&other.did), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, r) = app.verify(json!(badge)).await;
    assert_eq!(
        (r["verified"].clone(), r["trusted"].clone()),
        (json!(true), Value::Null),
        "{r}"
    );
}

#[tokio::test]
async fn a_forgery_naming_a_trusted_issuer_is_never_trusted() {
    let app = TestApp::new().await;
    let trusted = OtherIssuer::new();
    let forger = OtherIssuer::new();
    register(&app, &trusted.did, "Trusted University", "trusted").await;
    let forged = forger.badge_as(&trusted.did);
    let (s, r) = app.verify(json!(forged)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
    assert_eq!(r["verified"], json!(false));
    assert_eq!(r["trusted"], Value::Null, "{r}");
    assert_eq!(outcome(&r, "issuer_trust"), Some("indeterminate"));
    assert!(r.get("issuer_registry").is_none(), "{r}");
}

#[tokio::test]
async fn another_instance_is_trusted_through_the_registry() {
    let (a, addr) = TestApp::listening(Algorithm::ES256).await;
    let badge = a.issue_badge().await;
    let a_did = format!("did:web:127.0.0.1%3A{}", addr.port());
    let mut b = TestApp::new().await;
    b.allow_http_did_web(&[format!("127.0.0.1:{}", addr.port())]);
    let (_, r) = b.verify(json!(badge)).await;
    assert_eq!(
        (r["verified"].clone(), r["trusted"].clone()),
        (json!(true), Value::Null),
        "{r}"
    );
    register(&b, &a_did, "Instance A Academy", "trusted").await;
    let (_, r) = b.verify(json!(badge)).await;
    assert_eq!(r["verified"], json!(true), "{r}");
    assert_eq!(r["trusted"], json!(true), "{r}");
    assert_eq!(r["issuer_registry"]["name"], json!("Instance A Academy"));
    // A's own verifier trusts its own badges without any registry entry.
    let (_, r) = a.verify(json!(badge)).await;
    assert_eq!(r["trusted"], json!(true), "{r}");
    assert!(r.get("issuer_registry").is_none(), "{r}");
}

#[tokio::test]
async fn entries_are_managed_through_the_admin_api() {
    let app = TestApp::new().await;
    let id = "https://example.edu/issuers/main";
    let (s, list) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    assert_eq!((s, list), (StatusCode::OK, json!({"issuers": []})));

    let e = register(&app, id, "Example University", "trusted").await;
    assert_eq!(e["id"], json!(id));
    assert_eq!(e["source"], json!("admin"));
    assert_eq!(e["created_at"], json!("2026-11-19T00:00:00Z"));

    let (s, got) = app.admin(Method::GET, &entry_path(id), None).await;
    assert_eq!((s, &got), (StatusCode::OK, &e));

    app.clock.advance(60);
    let (s, put) = app
        .admin(
            Method::PUT,
            &entry_path(id),
            Some(json!({"id": id, "name": "Example University (renamed)"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    assert_eq!(put["name"], json!("Example University (renamed)"));
    assert_eq!(put["website"], Value::Null);
    assert_eq!(put["created_at"], e["created_at"]);
    assert_eq!(put["updated_at"], json!("2026-11-19T00:01:00Z"));

    // PUT creates too; an id in the body must be the path's.
    let did = "did:web:other.example";
    let (s, v) = app
        .admin(
            Method::PUT,
            &entry_path(did),
            Some(json!({"name": "Other"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = app
        .admin(
            Method::PUT,
            &entry_path(did),
            Some(json!({"id": id, "name": "Other"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    let (_, list) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    let ids: Vec<&str> = list["issuers"]
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, [did, id]);

    let (s, _) = app.admin(Method::DELETE, &entry_path(did), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = app.admin(Method::DELETE, &entry_path(did), None).await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::NOT_FOUND, json!("not_found"))
    );
    let (s, _) = app.admin(Method::GET, &entry_path(did), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_ids_and_fields_are_422() {
    let app = TestApp::new().await;
    for bad in [
        "example.edu",
        "http://example.edu/issuer",
        "did:web",
        "urn:uuid:00000000-0000-4000-8000-000000000000",
    ] {
        let (s, v) = app
            .admin(
                Method::POST,
                "/api/v1/trust/issuers",
                Some(json!({"id": bad, "name": "X"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        assert_eq!(v["error"], json!("invalid_issuer_id"), "{bad}");
        let (s, _) = app.admin(Method::GET, &entry_path(bad), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
    for body in [
        json!({"name": "no id"}),
        json!({"id": "did:web:a.example"}),
        json!({"id": "did:web:a.example", "name": "X", "status": "maybe"}),
        json!({"id": "did:web:a.example", "name": "X", "logo": "javascript:alert(1)"}),
        json!({"id": "did:web:a.example", "name": "X", "extra": 1}),
    ] {
        let (s, v) = app
            .admin(Method::POST, "/api/v1/trust/issuers", Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
    }
    let (_, list) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    assert_eq!(list, json!({"issuers": []}));
}

#[tokio::test]
async fn a_dcc_registry_imports_and_blocking_wins() {
    let app = TestApp::new().await;
    let listed = OtherIssuer::new();
    let blocked = OtherIssuer::new();
    register(&app, &blocked.did, "Blocked by the admin", "blocked").await;
    // The Digital Credentials Consortium registry shape
    // (github.com/digitalcredentials/community-registry, registry.json).
    let registry = json!({
        "meta": {"created": "2022-10-27T17:57:31+00:00", "updated": "2024-03-01T10:00:00+00:00"},
        "registry": {
            listed.did.clone(): {"name": "Listed College", "location": "Prato, Italy",
                                 "url": "https://listed.example.org"},
            blocked.did.clone(): {"name": "Blocked Institute", "location": "Nowhere",
                                  "url": "https://blocked.example.org"},
            "did:web:credentials.myschool.ca": {"name": "My School",
                "location": "Ancaster, ON, Canada", "url": "https://some.domain.ca"},
            "not-a-did": {"name": "Broken"}
        }
    });
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/trust/import?name=DCC%20Community%20Registry",
            Some(registry.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], json!(2), "{v}");
    assert_eq!(v["updated"], json!(0), "{v}");
    let skipped = v["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 2, "{v}");
    assert!(skipped.iter().any(|k| k["id"] == "not-a-did"));
    assert!(skipped.iter().any(|k| k["id"] == json!(blocked.did)
        && k["reason"].as_str().is_some_and(|r| r.contains("blocked"))));

    let (_, e) = app.admin(Method::GET, &entry_path(&listed.did), None).await;
    assert_eq!(e["source"], json!("import:DCC Community Registry"));
    assert_eq!(e["website"], json!("https://listed.example.org"));
    assert_eq!(e["location"], json!("Prato, Italy"));

    let (_, r) = app.verify(json!(listed.badge())).await;
    assert_eq!(r["trusted"], json!(true), "{r}");
    assert_eq!(r["issuer_registry"]["name"], json!("Listed College"));
    let (_, r) = app.verify(json!(blocked.badge())).await;
    assert_eq!(r["trusted"], json!(false), "{r}");
    assert_eq!(r["issuer_registry"]["name"], json!("Blocked by the admin"));
    assert_eq!(r["verified"], json!(true));

    // Our own export imports back; the same import again changes nothing.
    let (_, export) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    let other = TestApp::new().await;
    let (s, v) = other
        .admin(Method::POST, "/api/v1/trust/import", Some(export))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["imported"], json!(3), "{v}");
    let (_, e) = other
        .admin(Method::GET, &entry_path(&blocked.did), None)
        .await;
    assert_eq!(e["status"], json!("blocked"));
    assert_eq!(e["source"], json!("import:accolade export"));

    let (_, v) = app
        .admin(
            Method::POST,
            "/api/v1/trust/import?name=DCC%20Community%20Registry",
            Some(registry),
        )
        .await;
    assert_eq!(
        (v["imported"].clone(), v["unchanged"].clone()),
        (json!(0), json!(2)),
        "{v}"
    );

    // Neither format: 422; not JSON: 400.
    let (s, v) = app
        .admin(
            Method::POST,
            "/api/v1/trust/import",
            Some(json!({"hello": 1})),
        )
        .await;
    assert_eq!(
        (s, v["error"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("invalid_registry"))
    );
}

#[tokio::test]
async fn the_registry_survives_a_restart() {
    let mut app = TestApp::new().await;
    let other = OtherIssuer::new();
    let flushes = app.store.flushes();
    register(&app, &other.did, "Kept Across Restarts", "trusted").await;
    assert!(app.store.flushes() > flushes, "acknowledged before a flush");
    app.restart().await;
    let (_, r) = app.verify(json!(other.badge())).await;
    assert_eq!(r["trusted"], json!(true), "{r}");
    assert_eq!(r["issuer_registry"]["name"], json!("Kept Across Restarts"));
    let (_, list) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
    assert_eq!(list["issuers"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn endorsement_reports_carry_the_endorsers_trust_without_judging_the_badge() {
    let app = TestApp::new().await;
    let issuer = OtherIssuer::new();
    let endorser = OtherIssuer::new();
    register(&app, &endorser.did, "Blocked Endorser", "blocked").await;
    register(&app, &issuer.did, "Trusted Issuer", "trusted").await;

    let mut e: Map<String, Value> = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_endorsementcredential.json"
    ))
    .expect("example");
    e["issuer"]["id"] = json!(endorser.did);
    e["credentialSubject"]["id"] =
        json!("https://example.com/achievements/21st-century-skills/teamwork");
    e.remove("credentialStatus");
    e.remove("refreshService");
    accolade::jose::claims::add_jwt_claims(&mut e).expect("claims");
    let kid = format!(
        "{}#{}",
        endorser.did,
        endorser.did.trim_start_matches("did:key:")
    );
    let endorsement = sign_compact(
        &endorser.key,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&e).expect("json"),
    )
    .expect("sign");

    let mut c: Map<String, Value> = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(issuer.did);
    c["credentialSubject"]["achievement"]["endorsementJwt"] = json!([endorsement]);
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    let kid = format!(
        "{}#{}",
        issuer.did,
        issuer.did.trim_start_matches("did:key:")
    );
    let badge = sign_compact(
        &issuer.key,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&c).expect("json"),
    )
    .expect("sign");

    let (_, r) = app.verify(json!(badge)).await;
    assert_eq!(outcome(&r, "endorsements"), Some("pass"), "{r}");
    assert_eq!(r["verified"], json!(true), "{r}");
    assert_eq!(r["trusted"], json!(true));
    let er = &r["endorsements"][0];
    assert_eq!(er["verified"], json!(true), "{er}");
    assert_eq!(er["trusted"], json!(false), "{er}");
    assert_eq!(er["issuer_registry"]["name"], json!("Blocked Endorser"));
}
