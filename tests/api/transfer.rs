//! `accolade export` / `import`: everything a store holds moves to the other backend
//! (sled → sled on the sled run; PostgreSQL → sled → PostgreSQL on the PostgreSQL run)
//! and serves there as it did: badges verify, revocations hold, codes still claim,
//! indices stay taken, the audit trail is whole.

use std::collections::HashSet;
use std::io::BufReader;

use accolade::store::Store;
use accolade::store::transfer::{self, TransferError};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

const PRE_AUTH: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// The archive `GET /api/v1/export` answers.
async fn export_over_api(app: &TestApp) -> Vec<u8> {
    let (s, h, body) = app
        .send(
            Request::get("/api/v1/export")
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(h[header::CONTENT_TYPE], "application/x-ndjson");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    body.to_vec()
}

/// The archive's records, sorted (what two stores holding the same hold alike).
fn records(archive: &[u8]) -> Vec<String> {
    let text = std::str::from_utf8(archive).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("{\"accolade_export\":"),
        "{}",
        lines[0]
    );
    let end: Value = serde_json::from_str(lines[lines.len() - 1]).expect("end line");
    let body = &lines[1..lines.len() - 1];
    assert_eq!(end["end"]["records"], json!(body.len()));
    let mut v: Vec<String> = body.iter().map(|l| (*l).to_owned()).collect();
    v.sort();
    v
}

/// Imports `archive` into `store`.
async fn import(store: &Store, archive: &[u8]) -> Result<transfer::Summary, TransferError> {
    let bytes = archive.to_vec();
    transfer::import(store, move || {
        Ok(BufReader::new(std::io::Cursor::new(bytes.clone())))
    })
    .await
    .map(|(_, s)| s)
}

async fn archive_of(store: &Store) -> Vec<u8> {
    let mut out = transfer::WriteLines(Vec::new());
    let header = transfer::Header {
        version: transfer::VERSION,
        exported_at: time::OffsetDateTime::UNIX_EPOCH,
        from: String::new(),
        public_url: None,
        did: None,
    };
    transfer::export(store, header, &mut out)
        .await
        .expect("export");
    out.0
}

fn index(jwt: &str) -> u64 {
    let (_, p, _) = decode_jwt(jwt);
    p["credentialStatus"]["statusListIndex"]
        .as_str()
        .expect("index")
        .parse()
        .expect("number")
}

/// The ids the credential listing shows, in its order.
async fn listing(app: &TestApp) -> Vec<String> {
    let (s, page) = app
        .admin(Method::GET, "/api/v1/credentials?limit=100", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    page["credentials"]
        .as_array()
        .expect("credentials")
        .iter()
        .map(|c| c["credential_id"].as_str().expect("id").to_owned())
        .collect()
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let (s, log) = app
        .admin(Method::GET, "/api/v1/audit?limit=200", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    log["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| format!("{} {}", e["action"], e["target"]))
        .collect()
}

/// A source store with a bit of everything: a profile, an achievement edited once,
/// badges (one revoked), an unclaimed wallet offer, a staff member, a trust entry, an
/// API key, and the audit trail all that leaves.
struct Source {
    app: TestApp,
    good: String,
    revoked: String,
    code: String,
    tx_code: Option<String>,
}

async fn source() -> Source {
    let app = TestApp::new().await;
    let (s, v) = app
        .admin(
            Method::PUT,
            "/api/v1/issuer",
            Some(json!({"name": "Example University", "url": "https://www.example.edu"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ach = app.create_achievement().await;
    let ach_id = ach["id"].as_str().expect("id").to_owned();
    let good = app.award_direct(&ach_id, HOLDER_DID).await["credential"]
        .as_str()
        .expect("jwt")
        .to_owned();
    let mut edited = sample_achievement_input();
    edited["description"] = json!("Understands cloud concepts (second edition).");
    let (s, v) = app
        .admin(
            Method::PUT,
            &format!(
                "/api/v1/achievements/{}",
                ach_id.rsplit('/').next().expect("uuid")
            ),
            Some(edited),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let revoked = app.award_direct(&ach_id, HOLDER_DID).await["credential"]
        .as_str()
        .expect("jwt")
        .to_owned();
    let (_, p, _) = decode_jwt(&revoked);
    let (s, v) = app
        .admin(
            Method::POST,
            &format!(
                "/api/v1/credentials/{}/revoke",
                p["jti"].as_str().expect("jti")
            ),
            Some(json!({"reason": "exam misconduct"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // An offer left unclaimed: its code must still claim after the move.
    let (s, offered) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": ach_id, "recipient": {"name": "Grace Hopper", "email": "grace@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{offered}");
    let uri = url::Url::parse(offered["offer_uri"].as_str().expect("offer_uri")).expect("uri");
    let by_ref = uri
        .query_pairs()
        .find(|(k, _)| k == "credential_offer_uri")
        .expect("by reference")
        .1
        .into_owned();
    let (s, offer) = app
        .call(
            Method::GET,
            by_ref.strip_prefix(PUBLIC_URL).expect("ours"),
            None,
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{offer}");
    let code = offer["grants"][PRE_AUTH]["pre-authorized_code"]
        .as_str()
        .expect("code")
        .to_owned();
    for (path, body) in [
        (
            "/api/v1/staff",
            json!({"email": "registrar@example.edu", "name": "Registrar", "role": "issuer", "password": "correct horse battery staple"}),
        ),
        (
            "/api/v1/trust/issuers",
            json!({"id": "did:web:partner.example.org", "name": "Partner College", "status": "trusted"}),
        ),
        (
            "/api/v1/api-keys",
            json!({"name": "Acme Hiring", "rate_limit": 50}),
        ),
    ] {
        let (s, v) = app.admin(Method::POST, path, Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{path}: {v}");
    }
    // Fetched once, the list is signed and kept.
    let (s, _, _) = app
        .send(
            Request::get("/status/revocation/1")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    Source {
        app,
        good,
        revoked,
        code,
        tx_code: offered["tx_code"].as_str().map(str::to_owned),
    }
}

#[tokio::test]
async fn an_export_imported_elsewhere_holds_the_same_and_serves_the_same() {
    let src = source().await;
    let archive = export_over_api(&src.app).await;
    let want = records(&archive);
    let kinds: HashSet<String> = want
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("record");
            v.as_object()
                .expect("tagged")
                .keys()
                .next()
                .expect("tag")
                .clone()
        })
        .collect();
    for k in [
        "issuer_profile",
        "achievement",
        "revision",
        "award",
        "event",
        "handle",
        "slot",
        "bit",
        "signed_list",
        "staff",
        "trust_entry",
        "partner_key",
        "audit",
    ] {
        assert!(kinds.contains(k), "the archive holds no {k}: {kinds:?}");
    }

    // Into a new data dir (the embedded store).
    let dir = tempfile::tempdir().expect("tmp");
    let sled = Store::open(&dir.path().join("data")).expect("store");
    let summary = import(&sled, &archive).await.expect("import");
    assert_eq!(summary.total() as usize, want.len());
    assert_eq!(summary.get("award"), 3);
    assert_eq!(
        records(&archive_of(&sled).await),
        want,
        "sled holds the same"
    );

    // PostgreSQL too, when the suite has a database: the sled copy goes there.
    let mut stores = vec![sled.clone()];
    if let Some(url) = database() {
        let (pg, _) = fresh_database_store(&url).await;
        let from_sled = archive_of(&sled).await;
        import(&pg, &from_sled)
            .await
            .expect("import into PostgreSQL");
        assert_eq!(
            records(&archive_of(&pg).await),
            want,
            "PostgreSQL holds the same"
        );
        stores.push(pg);
    }

    let before_listing = listing(&src.app).await;
    let before_audit = audit_actions(&src.app).await;
    let before_list = src
        .app
        .send(
            Request::get("/status/revocation/1")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    let used: HashSet<u64> = [index(&src.good), index(&src.revoked)].into();
    for store in stores {
        // The keys directory moves with the issuer.
        let app = TestApp::over_store_with_keys_of(store, Some(&src.app.keys_dir)).await;
        // Signed before the move, verified after it.
        let (_, r) = app.verify(json!(src.good)).await;
        assert_eq!(r["verified"], true, "{r}");
        let (_, r) = app.verify(json!(src.revoked)).await;
        assert_eq!(r["verified"], false, "{r}");
        assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");
        // The same list, bit for bit and tag for tag.
        let list = app
            .send(
                Request::get("/status/revocation/1")
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(list.0, StatusCode::OK);
        assert_eq!(list.2, before_list.2, "the signed list moved as it was");
        assert_eq!(list.1[header::ETAG], before_list.1[header::ETAG]);
        assert_eq!(listing(&app).await, before_listing, "listing order kept");
        assert_eq!(audit_actions(&app).await, before_audit, "audit trail kept");
        // The unclaimed offer's code still buys a token, once.
        let mut pairs = vec![("grant_type", PRE_AUTH), ("pre-authorized_code", &src.code)];
        if let Some(t) = &src.tx_code {
            pairs.push(("tx_code", t));
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let token = |form: String| {
            Request::post("/oid4vci/token")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .expect("req")
        };
        let (s, _, body) = app.send(token(form.clone())).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        let (s, _, _) = app.send(token(form)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "a code is spent once");
        // A new award takes an index nobody held before the move.
        let (_, achs) = app.admin(Method::GET, "/api/v1/achievements", None).await;
        let ach_id = achs["achievements"][0]["id"].as_str().expect("id");
        for _ in 0..20 {
            let jwt = app.award_direct(ach_id, HOLDER_DID).await["credential"]
                .as_str()
                .expect("jwt")
                .to_owned();
            assert!(!used.contains(&index(&jwt)), "index reused after import");
        }
        // Staff, registry and keys came along.
        let (_, staff) = app.admin(Method::GET, "/api/v1/staff", None).await;
        assert!(
            staff.to_string().contains("registrar@example.edu"),
            "{staff}"
        );
        let (_, trust) = app.admin(Method::GET, "/api/v1/trust/issuers", None).await;
        assert!(trust.to_string().contains("Partner College"), "{trust}");
    }
}

#[tokio::test]
async fn a_damaged_archive_or_a_store_in_use_is_refused_and_nothing_is_written() {
    let src = source().await;
    let archive = export_over_api(&src.app).await;
    let text = String::from_utf8(archive.clone()).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();

    let cut = lines[..n - 1].join("\n") + "\n";
    let cut_mid = lines[..n / 2].join("\n") + "\n";
    let miscounted = lines[..n - 1].join("\n") + "\n{\"end\":{\"records\":3}}\n";
    let mut garbled: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    garbled[2] = "{\"award\": {\"body\": 17}}".into();
    let garbled = garbled.join("\n") + "\n";
    let newer = text.replacen("\"version\":1", "\"version\":9", 1);
    type Expect = fn(&TransferError) -> bool;
    let cases: Vec<(&str, String, Expect)> = vec![
        ("no end line", cut, |e| {
            matches!(e, TransferError::Truncated { .. })
        }),
        ("cut in the middle", cut_mid, |e| {
            matches!(e, TransferError::Truncated { .. })
        }),
        ("wrong count", miscounted, |e| {
            matches!(e, TransferError::Count { said: 3, .. })
        }),
        ("a bad record", garbled, |e| {
            matches!(e, TransferError::Line { line: 3, .. })
        }),
        ("a newer format", newer, |e| {
            matches!(e, TransferError::Version(9))
        }),
        ("not an export", "{\"hello\": 1}\n".into(), |e| {
            matches!(e, TransferError::NotAnExport(_))
        }),
        ("empty", String::new(), |e| {
            matches!(e, TransferError::NotAnExport(_))
        }),
    ];
    for (what, bytes, expected) in cases {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("data")).expect("store");
        let e = import(&store, bytes.as_bytes()).await.expect_err(what);
        assert!(expected(&e), "{what}: {e}");
        assert!(
            store.transfer.holds_nothing().await.expect("read"),
            "{what}: something was written"
        );
        assert!(!e.to_string().is_empty());
    }

    // A store that holds something already is refused whole.
    let before = records(&archive_of(&src.app.store).await);
    let e = import(&src.app.store, &archive)
        .await
        .expect_err("not empty");
    assert!(matches!(e, TransferError::NotEmpty(_)), "{e}");
    assert!(e.to_string().contains("3 awards"), "{e}");
    assert_eq!(records(&archive_of(&src.app.store).await), before);

    // Only an owner may export.
    let (s, _) = src
        .app
        .call(Method::GET, "/api/v1/export", None, false)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
