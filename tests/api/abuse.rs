//! What strangers can make the service hold, and verdicts they cannot bend: the
//! connection, time and size limits on real sockets (with short figures), CORS per
//! route, the headers of secret pages, presentations that prove less than they say.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use accolade::limits::Limits;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

fn short_limits() -> Limits {
    Limits {
        max_per_address: 6,
        header_timeout: Duration::from_millis(400),
        body_timeout: Duration::from_millis(600),
        request_timeout: Duration::from_secs(5),
        verifications_per_client: 2,
        ..Limits::default()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s
}

/// Everything the server sends until it closes (or 5 s pass).
fn read_all(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the server closed `s` within `within`.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 1];
    matches!(s.read(&mut buf), Ok(0))
        || matches!(s.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset)
}

fn healthz(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    read_all(&mut s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_slow_connections_are_closed_and_one_address_holds_only_so_many() {
    let (_app, addr) = TestApp::listening_limited(Algorithm::ES256, short_limits(), None).await;
    // The per-address count on a service whose header timeout is long enough that the
    // six held connections are still held when the seventh is accepted, however late
    // a loaded machine accepts it.
    let patient = Limits {
        header_timeout: Duration::from_secs(3),
        ..short_limits()
    };
    let (_held_app, held_addr) = TestApp::listening_limited(Algorithm::ES256, patient, None).await;
    tokio::task::spawn_blocking(move || {
        // A silent socket and one that sent half a request head: both closed once the
        // header timeout passes.
        let mut silent = connect(addr);
        let mut partial = connect(addr);
        partial
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        let t = Instant::now();
        assert!(
            closed_within(&mut silent, Duration::from_secs(3)),
            "silent socket kept"
        );
        assert!(
            closed_within(&mut partial, Duration::from_secs(3)),
            "partial head kept"
        );
        assert!(t.elapsed() < Duration::from_secs(3));

        // Six connections from one address are held; the seventh is closed without an
        // answer to the request it sends (a kept one would answer long before its
        // header timeout, whatever the machine's load), and the service still answers
        // once they are gone.
        let addr = held_addr;
        let held: Vec<TcpStream> = (0..6).map(|_| connect(addr)).collect();
        std::thread::sleep(Duration::from_millis(100));
        let mut seventh = connect(addr);
        let t = Instant::now();
        let _ = write!(
            seventh,
            "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        let answer = read_all(&mut seventh);
        assert!(
            answer.is_empty(),
            "a seventh connection from one address was kept: {answer}"
        );
        // Closed by the service, not given up on by this read's 5-second timeout.
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "the seventh was left open"
        );
        drop(held);
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            healthz(addr).starts_with("HTTP/1.1 200"),
            "healthz after the flood"
        );
    })
    .await
    .expect("thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_and_an_oversized_one_is_refused_before_it_is_sent() {
    let (_app, addr) = TestApp::listening_limited(Algorithm::ES256, short_limits(), None).await;
    tokio::task::spawn_blocking(move || {
        // A body sent a byte at a time: 408 once the body timeout passes, and the
        // connection is closed (the answer says so).
        let mut s = connect(addr);
        write!(
            s,
            "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        )
        .expect("write");
        let t = Instant::now();
        for _ in 0..10 {
            if s.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        let answer = read_all(&mut s);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        assert!(t.elapsed() < Duration::from_secs(4));

        // Expect: 100-continue with a gigabyte announced: 413 straight away, no
        // "100 Continue", and the connection is closed with the answer saying so.
        let mut s = connect(addr);
        write!(
            s,
            "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 1000000000\r\nExpect: 100-continue\r\n\r\n"
        )
        .expect("write");
        let answer = read_all(&mut s);
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(!answer.contains("100 Continue"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    })
    .await
    .expect("thread");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_holds_only_its_share_of_verifications_in_flight() {
    let (_app, addr) = TestApp::listening_limited(
        Algorithm::ES256,
        Limits {
            body_timeout: Duration::from_secs(3),
            ..short_limits()
        },
        None,
    )
    .await;
    tokio::task::spawn_blocking(move || {
        // Two verifications whose bodies are still arriving hold this client's two
        // places; a third is refused with 429 while other routes still answer.
        let open = |n: usize| {
            let mut s = connect(addr);
            write!(
                s,
                "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{{"
            )
            .expect("write");
            let _ = n;
            s
        };
        let held: Vec<TcpStream> = (0..2).map(open).collect();
        std::thread::sleep(Duration::from_millis(200));
        let mut third = connect(addr);
        let body = "{\"credential\": \"a.b.c\"}";
        write!(
            third,
            "POST /api/v1/verify HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let answer = read_all(&mut third);
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("retry-after"), "{answer}");
        assert!(healthz(addr).starts_with("HTTP/1.1 200"));
        drop(held);
    })
    .await
    .expect("thread");
    let refused = accolade::http::admission::refusals().snapshot();
    let count = |name: &str| refused.iter().find(|(n, _)| *n == name).map(|(_, c)| *c);
    assert!(count("rate_limited").is_some_and(|c| c >= 1), "{refused:?}");
}

#[tokio::test]
async fn a_presentation_holding_no_badge_is_never_verified() {
    let app = TestApp::new().await;
    let (holder, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
    // Signed, with the right nonce and audience, and no `verifiableCredential`.
    let (did, kid) = did_key_of(&holder);
    let payload = json!({"iss": did, "nonce": "n-1", "aud": "https://employer.example", "nbf": NOW - 10, "exp": NOW + 300,
        "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiablePresentation"]}});
    let vp = sign_compact(
        &holder,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&payload).expect("json"),
    )
    .expect("sign");
    let (s, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(
                json!({"presentation": vp, "nonce": "n-1", "audience": "https://employer.example"}),
            ),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], false, "{r}");
    assert_eq!(outcome(&r, "signature"), Some("pass"), "{r}");
    assert_eq!(outcome(&r, "credentials"), Some("fail"), "{r}");
    // The VC-API says the same.
    let (_, r) = app
        .call(
            Method::POST,
            "/presentations/verify",
            Some(json!({"verifiablePresentation": vp, "options": {"challenge": "n-1", "domain": "https://employer.example"}})),
            false,
        )
        .await;
    assert_eq!(r["verified"], false, "{r}");
}

#[tokio::test]
async fn an_unsigned_presentation_proves_no_holder() {
    let app = TestApp::new().await;
    let (holder, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
    let (holder_did, _) = did_key_of(&holder);
    let a = app.create_achievement().await;
    let award = app
        .award_direct(a["id"].as_str().expect("id"), &holder_did)
        .await;
    let badge = award["credential"].as_str().expect("jwt").to_owned();
    let vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": "did:example:somebody-else",
        "verifiableCredential": [{"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["EnvelopedVerifiableCredential"], "id": format!("data:application/vc+jwt,{badge}")}],
    });
    let (s, r) = app
        .call(
            Method::POST,
            "/presentations/verify",
            Some(json!({"presentation": vp})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Its badge verifies; nobody is said to hold it.
    assert_eq!(r["credentialResults"][0]["verified"], true, "{r}");
    assert!(r["presentationResult"]["holder"].is_null(), "{r}");
    let warnings = r["warnings"].to_string();
    assert!(warnings.contains("proves no holder"), "{r}");
    // The verify API examines it too and names no holder either.
    let (s, r) = app
        .call(
            Method::POST,
            "/api/v1/verify",
            Some(json!({"presentation": vp})),
            false,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert!(r.get("holder").is_none_or(Value::is_null), "{r}");
    assert!(
        r["warnings"].to_string().contains("proves no holder"),
        "{r}"
    );
}

async fn raw(app: &TestApp, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap) {
    let (s, h, _) = app.send(req).await;
    (s, h)
}

#[tokio::test]
async fn cross_origin_reads_are_granted_only_on_public_routes() {
    let app = TestApp::new().await;
    let badge_id = {
        let jwt = app.issue_badge().await;
        decode_jwt(&jwt).1["jti"].as_str().expect("jti").to_owned()
    };
    let badge_path = format!(
        "/badges/{}",
        badge_id.rsplit([':', '/']).next().expect("id")
    );
    let get = |path: &str| {
        Request::builder()
            .uri(path)
            .header(header::ORIGIN, "https://elsewhere.example")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .expect("request")
    };
    for path in [
        "/.well-known/did.json",
        "/.well-known/openid-credential-issuer",
        &format!("{badge_path}/credential.jwt"),
    ] {
        let (s, h) = raw(&app, get(path)).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
                .map(|v| v.as_bytes()),
            Some(&b"*"[..]),
            "{path}"
        );
    }
    for path in [
        "/api/v1/achievements",
        "/api/v1/credentials",
        "/admin/login",
        "/",
    ] {
        let (s, h) = raw(&app, get(path)).await;
        assert!(s.is_success(), "{path}: {s}");
        assert!(
            h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{path} grants other origins"
        );
    }
    // Preflights: granted for the verifier, not for the admin API.
    let preflight = |path: &str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header(header::ORIGIN, "https://elsewhere.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type, authorization",
            )
            .body(Body::empty())
            .expect("request")
    };
    let (s, h) = raw(&app, preflight("/api/v1/verify")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"*"[..])
    );
    let (_, h) = raw(&app, preflight("/api/v1/awards")).await;
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    assert!(h.get(header::ACCESS_CONTROL_ALLOW_METHODS).is_none());
}

#[tokio::test]
async fn claim_and_manage_pages_keep_their_secret_urls_to_themselves() {
    let app = TestApp::new().await;
    let a = app.create_achievement().await;
    let (s, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": a["id"], "recipient": {"name": "Ada", "email": "ada@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{award}");
    let claim = award["claim_url"]
        .as_str()
        .expect("claim_url")
        .trim_start_matches(PUBLIC_URL)
        .to_owned();
    let (s, h) = raw(
        &app,
        Request::builder()
            .uri(&claim)
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let csp = h
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .expect("CSP");
    assert!(csp.contains("default-src"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") || h.get(header::X_FRAME_OPTIONS).is_some());
    assert_eq!(
        h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"DENY"[..])
    );
    assert_eq!(
        h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert_eq!(
        h.get(header::REFERRER_POLICY).map(|v| v.as_bytes()),
        Some(&b"same-origin"[..])
    );
    assert_eq!(
        h.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    // An unknown claim id: the same care.
    let (s, h) = raw(
        &app,
        Request::builder()
            .uri("/claim/not-a-claim-id")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        h.get(header::REFERRER_POLICY).map(|v| v.as_bytes()),
        Some(&b"same-origin"[..])
    );
}

#[test]
fn verifying_an_endless_file_stops_at_the_limit() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
        .args(["verify", "/dev/zero"])
        .env("ACCOLADE_LOG", "error")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("larger than"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
        .args(["verify", "/nonexistent/badge.jwt"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read /nonexistent/badge.jwt"), "{err}");
}

#[test]
fn a_short_admin_token_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("dir");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_accolade"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--keys-dir")
        .arg(dir.path().join("keys"))
        .env("ACCOLADE_ADMIN_TOKEN", "x")
        .output()
        .expect("runs");
    assert!(!out.status.success(), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at least 16"), "{err}");
}

#[test]
fn the_rustcrypto_rsa_crate_is_not_in_the_build() {
    // RSA signs through OpenSSL: the pure-Rust `rsa` crate has an unfixed timing
    // side channel (RUSTSEC-2023-0071).
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"))
        .expect("Cargo.lock");
    assert!(lock.contains("name = \"openssl\""));
    assert!(!lock.lines().any(|l| l.trim() == "name = \"rsa\""));
}

#[tokio::test]
async fn a_data_integrity_date_past_year_9999_fails_cleanly() {
    // Found by fuzzing: a proof `created` in year 99999999999 made a date library
    // underneath the canonicalisation panic.
    let app = TestApp::new().await;
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/di-created-year-overflow.json"
        ))
        .expect("fixture"),
    )
    .expect("json");
    let (s, r) = app.verify(doc).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["verified"], false, "{r}");
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
    assert!(message(&r, "signature").contains("four digits"), "{r}");
}
