//! The verifier reaching other hosts: two instances on 127.0.0.1 (one verifying the
//! other's badges through its did:web document and status lists), and the outbound
//! rules against small servers that misbehave on purpose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use accolade::did::Did;
use accolade::did::web::{PublishedKey, did_document};
use accolade::jose::jws::sign_compact;
use accolade::jose::{Algorithm, SigningKey};
use accolade::net::{AllowedHost, FetchError, Kind, Outbound};
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// What a raw test server answers to each connection.
type Responder = Arc<dyn Fn(&str) -> Response + Send + Sync>;

/// A response: bytes written at once, then bytes trickled one per second.
struct Response {
    now: Vec<u8>,
    trickle: Vec<u8>,
}

fn respond(status: &str, ctype: &str, body: &[u8]) -> Response {
    let mut now = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    now.extend_from_slice(body);
    Response {
        now,
        trickle: Vec::new(),
    }
}

/// A plain-TCP HTTP server on 127.0.0.1 that counts connections.
struct RawServer {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
}

impl RawServer {
    async fn start(responder: Responder) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let responder = responder.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let r = responder(&path);
                    if sock.write_all(&r.now).await.is_err() {
                        return;
                    }
                    for b in r.trickle {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        if sock.write_all(&[b]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { addr, hits }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The did:web of this server as a named host (`localhost`).
    fn did(&self) -> String {
        format!("did:web:localhost%3A{}", self.port())
    }

    fn allowed(&self) -> String {
        format!("localhost:{}", self.port())
    }
}

/// A badge of `issuer`, signed by `key` with `kid`.
fn badge_of(key: &SigningKey, issuer: &str, kid: Option<&str>) -> String {
    let mut c: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(issuer);
    let mut m: Map<String, Value> = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    sign_compact(
        key,
        kid,
        Some("JWT"),
        &serde_json::to_vec(&m).expect("json"),
    )
    .expect("sign")
}

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).expect("key").0
}

#[tokio::test]
async fn another_instance_verifies_our_badges_through_our_did_web_and_lists() {
    let (a, addr) = TestApp::listening(Algorithm::ES256).await;
    let achievement = a.create_achievement().await;
    let aid = achievement["id"].as_str().expect("id");
    let good = a.award_direct(aid, HOLDER_DID).await;
    let bad = a.award_direct(aid, HOLDER_DID).await;
    let (s, v) = a
        .admin(
            Method::POST,
            &format!(
                "/api/v1/credentials/{}/revoke",
                bad["credential_id"].as_str().expect("id")
            ),
            Some(json!({"reason": "issued in error"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let a_did = format!("did:web:127.0.0.1%3A{}", addr.port());

    // B, told that A's host and port may be reached over plain HTTP.
    let mut b = TestApp::new().await;
    b.allow_http_did_web(&[format!("127.0.0.1:{}", addr.port())]);
    let (s, r) = b.verify(good["credential"].clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["trusted"], Value::Null, "A is not B's own issuer");
    assert_eq!(outcome(&r, "signature"), Some("pass"));
    assert_eq!(outcome(&r, "status"), Some("pass"));
    assert_eq!(outcome(&r, "issuer_trust"), Some("indeterminate"));
    assert!(
        r["verification_method"]
            .as_str()
            .is_some_and(|vm| vm.starts_with(&format!("{a_did}#"))),
        "{r}"
    );
    let (_, r) = b.verify(bad["credential"].clone()).await;
    assert_eq!(r["verified"], false);
    assert_eq!(outcome(&r, "signature"), Some("pass"));
    assert_eq!(outcome(&r, "status"), Some("fail"), "{r}");
    assert_eq!(message(&r, "status"), "revoked");

    // C, without the exemption: A's IP-literal, loopback, plain-HTTP identity is refused.
    let c = TestApp::new().await;
    let (s, r) = c.verify(good["credential"].clone()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["verified"], false);
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert!(message(&r, "signature").contains("refused"), "{r}");
    assert_eq!(outcome(&r, "status"), Some("indeterminate"), "{r}");
}

#[tokio::test]
async fn loopback_hosts_and_ip_literals_are_refused_before_any_connection() {
    let k = key();
    let server = RawServer::start(Arc::new(|_: &str| {
        respond("200 OK", "application/json", b"{}")
    }))
    .await;
    let app = TestApp::new().await;
    // A name that resolves to 127.0.0.1: refused after DNS.
    let did = server.did();
    let kid = format!("{did}#{}", k.id());
    let (_, r) = app.verify(json!(badge_of(&k, &did, Some(&kid)))).await;
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    // ... without saying what it resolves to.
    assert!(
        message(&r, "signature").contains("does not resolve to public addresses only"),
        "{r}"
    );
    assert!(!message(&r, "signature").contains("127.0.0.1"), "{r}");
    // An IP literal: refused before DNS.
    let did = format!("did:web:127.0.0.1%3A{}", server.port());
    let kid = format!("{did}#{}", k.id());
    let (_, r) = app.verify(json!(badge_of(&k, &did, Some(&kid)))).await;
    assert!(message(&r, "signature").contains("IP address"), "{r}");
    // A status list on a loopback host, for a badge whose key is offline (did:key).
    let holder = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let mut c: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(holder.as_str());
    let list = format!("http://localhost:{}/status/1", server.port());
    c["credentialStatus"] = json!({"id": format!("{list}#5"), "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation", "statusListIndex": "5", "statusListCredential": list});
    let mut m = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    let kid = format!("{holder}#{}", holder.method_specific_id());
    let token = sign_compact(
        &k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&m).expect("json"),
    )
    .expect("sign");
    let (_, r) = app.verify(json!(token)).await;
    assert_eq!(outcome(&r, "signature"), Some("pass"), "{r}");
    assert_eq!(outcome(&r, "status"), Some("indeterminate"), "{r}");
    assert!(message(&r, "status").contains("only HTTPS"), "{r}");
    assert_eq!(server.hits(), 0, "nothing reached the loopback server");
}

#[tokio::test]
async fn documents_that_do_not_check_out_fail_and_redirects_are_not_followed() {
    let k = key();
    let other = key();
    let target = RawServer::start(Arc::new(|_: &str| {
        respond("200 OK", "application/json", b"{}")
    }))
    .await;
    let target_url = format!("http://localhost:{}/.well-known/did.json", target.port());
    // (case, the issuer DID), set before each request.
    let mode = Arc::new(std::sync::Mutex::new((String::new(), String::new())));
    let m = mode.clone();
    let k_pub = k.public_jwk().clone();
    let k_id = k.id().to_owned();
    let responder: Responder = Arc::new(move |path: &str| {
        let _ = path;
        let (kind, did) = m.lock().expect("lock").clone();
        let (kind, did) = (kind.as_str(), did.as_str());
        let did_parsed: Did = did.parse().expect("did");
        let doc = |keys: &[PublishedKey]| {
            serde_json::to_vec(&did_document(&did_parsed, keys)).expect("json")
        };
        let ours = PublishedKey {
            kid: k_id.clone(),
            jwk: k_pub.clone(),
            retired_at: None,
        };
        match kind {
            "redirect" => Response {
                now: format!(
                    "HTTP/1.1 302 Found\r\nLocation: {target_url}\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes(),
                trickle: Vec::new(),
            },
            "wrong-id" => {
                let other_did: Did = "did:web:elsewhere.example".parse().expect("did");
                respond(
                    "200 OK",
                    "application/json",
                    &serde_json::to_vec(&did_document(&other_did, &[ours])).expect("json"),
                )
            }
            "not-assertion" => {
                let mut v: Value = serde_json::from_slice(&doc(&[ours])).expect("json");
                v["assertionMethod"] = json!([]);
                respond(
                    "200 OK",
                    "application/json",
                    &serde_json::to_vec(&v).expect("json"),
                )
            }
            "duplicate" => {
                let body = String::from_utf8(doc(&[ours])).expect("utf8");
                let body = body.replacen('{', &format!("{{\"id\":\"{did}\","), 1);
                respond("200 OK", "application/json", body.as_bytes())
            }
            "huge" => {
                let mut v: Value = serde_json::from_slice(&doc(&[ours])).expect("json");
                v["padding"] = json!("x".repeat(300 * 1024));
                respond(
                    "200 OK",
                    "application/json",
                    &serde_json::to_vec(&v).expect("json"),
                )
            }
            "huge-chunked" => {
                let mut now = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                let chunk = vec![b' '; 64 * 1024];
                for _ in 0..6 {
                    now.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    now.extend_from_slice(&chunk);
                    now.extend_from_slice(b"\r\n");
                }
                now.extend_from_slice(b"0\r\n\r\n");
                Response {
                    now,
                    trickle: Vec::new(),
                }
            }
            "missing" => respond("404 Not Found", "text/plain", b"no"),
            _ => respond("200 OK", "application/json", &doc(&[ours])),
        }
    });
    let server = RawServer::start(responder).await;
    let did = server.did();
    let mut app = TestApp::new().await;
    app.allow_http_did_web(&[server.allowed(), target.allowed()]);
    let kid = format!("{did}#{}", k.id());
    let token = badge_of(&k, &did, Some(&kid));

    let cases = [
        ("redirect", "indeterminate", "redirect"),
        ("wrong-id", "fail", "not for"),
        ("not-assertion", "fail", "assertionMethod"),
        ("duplicate", "fail", "not valid JSON"),
        ("huge", "indeterminate", "larger than"),
        ("huge-chunked", "indeterminate", "larger than"),
        ("missing", "indeterminate", "404"),
        ("good", "pass", ""),
    ];
    for (kind, want, needle) in cases {
        *mode.lock().expect("lock") = (kind.to_owned(), did.clone());
        // Each case is a fresh verifier state: negative results are cached.
        app.allow_http_did_web(&[server.allowed(), target.allowed()]);
        let (s, r) = app.verify(json!(token)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(outcome(&r, "signature"), Some(want), "{kind}: {r}");
        assert!(message(&r, "signature").contains(needle), "{kind}: {r}");
    }
    assert_eq!(target.hits(), 0, "the redirect was not followed");

    // A key of someone else under the issuer's DID: the signature fails.
    let forged = badge_of(&other, &did, Some(&kid));
    let (_, r) = app.verify(json!(forged)).await;
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
}

#[tokio::test]
async fn failures_are_cached_so_a_dead_host_is_asked_once() {
    let k = key();
    let server = RawServer::start(Arc::new(|_: &str| {
        respond("503 Service Unavailable", "text/plain", b"")
    }))
    .await;
    let mut app = TestApp::new().await;
    app.allow_http_did_web(&[server.allowed()]);
    let did = server.did();
    let token = badge_of(&k, &did, Some(&format!("{did}#{}", k.id())));
    for _ in 0..5 {
        let (_, r) = app.verify(json!(token)).await;
        assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
        assert!(message(&r, "signature").contains("503"), "{r}");
    }
    assert_eq!(server.hits(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_host_does_not_hold_up_badges_of_cached_issuers() {
    let (a, addr) = TestApp::listening(Algorithm::ES256).await;
    let badge = a.issue_badge().await;
    let slow_key = key();
    let trickler = RawServer::start(Arc::new(|_: &str| Response {
        now: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{"
            .to_vec(),
        trickle: vec![b' '; 4095],
    }))
    .await;
    let mut b = TestApp::new().await;
    b.allow_http_did_web(&[format!("127.0.0.1:{}", addr.port()), trickler.allowed()]);
    let b = Arc::new(b);
    // Warm the cache with A's document and list.
    let (_, r) = b.verify(json!(badge)).await;
    assert_eq!(r["verified"], true, "{r}");

    let slow_did = trickler.did();
    let slow_badge = badge_of(
        &slow_key,
        &slow_did,
        Some(&format!("{slow_did}#{}", slow_key.id())),
    );
    let done_fast = Arc::new(AtomicUsize::new(0));
    let slow = {
        let (b, done_fast) = (b.clone(), done_fast.clone());
        tokio::spawn(async move {
            let (_, r) = b.verify(json!(slow_badge)).await;
            (r, done_fast.load(Ordering::SeqCst))
        })
    };
    // While the trickling fetch is in flight, A's badges are answered from the cache.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..50 {
        let (_, r) = b.verify(json!(badge)).await;
        assert_eq!(r["verified"], true, "{r}");
        done_fast.fetch_add(1, Ordering::SeqCst);
    }
    let (r, fast_before_slow) = slow.await.expect("task");
    assert_eq!(
        fast_before_slow, 50,
        "every cached verification finished before the trickling fetch gave up"
    );
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert!(message(&r, "signature").contains("timed out"), "{r}");
}

/// A self-signed certificate for `localhost` and its PKCS#8 key.
fn self_signed_localhost() -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("group");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "localhost").expect("cn");
    let name = name.build();
    let mut b = X509Builder::new().expect("builder");
    b.set_version(2).expect("v3");
    b.set_serial_number(
        &BigNum::from_u32(7)
            .expect("bn")
            .to_asn1_integer()
            .expect("serial"),
    )
    .expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("t"))
        .expect("na");
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .build(&b.x509v3_context(None, None))
        .expect("san");
    b.append_extension(san).expect("ext");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    (
        b.build().to_der().expect("der"),
        key.private_key_to_pkcs8().expect("pkcs8"),
    )
}

#[tokio::test]
async fn https_fetches_check_the_certificate() {
    let (cert, pkcs8) = self_signed_localhost();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(
        vec![rustls::pki_types::CertificateDer::from(cert.clone())],
        rustls::pki_types::PrivateKeyDer::Pkcs8(pkcs8.into()),
    )
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = [0u8; 2048];
                let _ = tls.read(&mut buf).await;
                let _ = tls
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"a\":1}")
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    let url = format!("https://localhost:{port}/key.json");
    let allowed: AllowedHost = format!("localhost:{port}").parse().expect("allowed");

    let trusting = Outbound::with_roots(
        [allowed.clone()],
        vec![rustls::pki_types::CertificateDer::from(cert)],
    );
    let body = trusting
        .get(&url, Kind::Jwk)
        .await
        .expect("fetched over TLS");
    assert_eq!(&body[..], b"{\"a\":1}");

    let default_roots = Outbound::new([allowed]);
    let e = default_roots
        .get(&url, Kind::Jwk)
        .await
        .expect_err("untrusted");
    assert!(matches!(e, FetchError::Tls { .. }), "{e}");

    let not_allowed = Outbound::new([]);
    let e = not_allowed
        .get(&url, Kind::Jwk)
        .await
        .expect_err("loopback");
    assert!(matches!(e, FetchError::Refused(_)), "{e}");
}

#[tokio::test]
async fn an_issuer_identified_by_a_url_is_verified_through_its_kid_url() {
    let k = key();
    let jwk = serde_json::to_vec(&k.public_jwk().to_value()).expect("jwk");
    let server = RawServer::start(Arc::new(move |path: &str| {
        if path == "/issuers/1/keys/1" || path == "/issuers/2/keys/1" {
            respond("200 OK", "application/jwk+json", &jwk)
        } else {
            respond("404 Not Found", "text/plain", b"")
        }
    }))
    .await;
    let mut app = TestApp::new().await;
    app.allow_http_did_web(&[server.allowed()]);
    let origin = format!("http://localhost:{}", server.port());
    let issuer = format!("{origin}/issuers/1");

    let kid = format!("{origin}/issuers/1/keys/1");
    let (_, r) = app.verify(json!(badge_of(&k, &issuer, Some(&kid)))).await;
    assert_eq!(r["verified"], true, "{r}");
    assert_eq!(r["verification_method"], kid);
    // On the issuer's host but under another publisher's path (a shared host): not
    // proof, even next door.
    let shared = format!("{origin}/issuers/2/keys/1");
    let (_, r) = app
        .verify(json!(badge_of(&k, &issuer, Some(&shared))))
        .await;
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert!(
        message(&r, "signature").contains("not under the issuer's path"),
        "{r}"
    );
    // A kid on another origin cannot speak for the issuer.
    let (_, r) = app
        .verify(json!(badge_of(
            &k,
            &issuer,
            Some("https://attacker.example/keys/1")
        )))
        .await;
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
    assert!(message(&r, "signature").contains("origin"), "{r}");
    // Signed by another key than the one the issuer publishes.
    let (_, r) = app
        .verify(json!(badge_of(&key(), &issuer, Some(&kid))))
        .await;
    assert_eq!(outcome(&r, "signature"), Some("fail"), "{r}");
    // A bare embedded jwk cannot be tied to the issuer.
    let mut c: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(issuer);
    let mut m = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    let header = json!({"alg": "ES256", "jwk": k.public_jwk().to_value()});
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string()),
        b64(serde_json::to_vec(&m).expect("json"))
    );
    let sig = k.sign(signing_input.as_bytes()).expect("sign");
    let token = format!("{signing_input}.{}", b64(sig));
    let (_, r) = app.verify(json!(token)).await;
    assert_eq!(outcome(&r, "signature"), Some("indeterminate"), "{r}");
    assert_eq!(r["verified"], false);
}

/// A did:key badge (offline key) whose status entries point at `lists`.
fn badge_with_lists(k: &SigningKey, lists: &[String], sign_with: &SigningKey) -> String {
    let holder = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let mut c: Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = json!(holder.as_str());
    let entries: Vec<Value> = lists
        .iter()
        .map(|l| {
            json!({"id": format!("{l}#5"), "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation", "statusListIndex": "5", "statusListCredential": l})
        })
        .collect();
    c["credentialStatus"] = json!(entries);
    let mut m = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    let kid = format!("{holder}#{}", holder.method_specific_id());
    sign_compact(
        sign_with,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&m).expect("json"),
    )
    .expect("sign")
}

#[tokio::test]
async fn status_urls_are_fetched_only_for_genuine_badges_and_only_so_many() {
    let k = key();
    let server = RawServer::start(Arc::new(|_: &str| {
        respond("404 Not Found", "text/plain", b"")
    }))
    .await;
    let mut app = TestApp::new().await;
    app.allow_http_did_web(&[server.allowed()]);
    let url = |i: usize| format!("http://localhost:{}/lists/{i}", server.port());

    // A forged badge names status URLs: none is fetched.
    let lists: Vec<String> = (0..3).map(url).collect();
    let (_, r) = app
        .verify(json!(badge_with_lists(&k, &lists, &key())))
        .await;
    assert_eq!(outcome(&r, "signature"), Some("fail"));
    assert_eq!(outcome(&r, "status"), Some("indeterminate"), "{r}");
    assert!(message(&r, "status").contains("not fetched"), "{r}");
    assert_eq!(server.hits(), 0);

    // A genuine one with too many entries: none is fetched either.
    let lists: Vec<String> = (0..9).map(url).collect();
    let (_, r) = app.verify(json!(badge_with_lists(&k, &lists, &k))).await;
    assert_eq!(outcome(&r, "signature"), Some("pass"));
    assert!(message(&r, "status").contains("at most 8"), "{r}");
    assert_eq!(server.hits(), 0);

    // Eight are fetched (and each failure reported).
    let lists: Vec<String> = (0..8).map(url).collect();
    let (_, r) = app.verify(json!(badge_with_lists(&k, &lists, &k))).await;
    assert_eq!(outcome(&r, "status"), Some("indeterminate"), "{r}");
    assert_eq!(server.hits(), 8);

    // An HTTPS list on a name that resolves to loopback is refused after DNS.
    let app = TestApp::new().await;
    let lists = vec![format!("https://localhost:{}/lists/x", server.port())];
    let (_, r) = app.verify(json!(badge_with_lists(&k, &lists, &k))).await;
    assert!(
        message(&r, "status").contains("does not resolve to public addresses only"),
        "{r}"
    );
    assert!(!message(&r, "status").contains("127.0.0.1"), "{r}");
    assert_eq!(server.hits(), 8);
}
