//! The `accolade` binary itself: start-up, key handling, local verification.

use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accolade::jose::Algorithm;

use crate::helpers::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_accolade"));
    c.env_remove("ACCOLADE_PUBLIC_URL")
        .env_remove("ACCOLADE_KEYS_DIR")
        .env_remove("ACCOLADE_DATA_DIR")
        .env("ACCOLADE_LOG", "warn");
    c
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .args(extra)
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line was {line:?}"))
        .to_owned();
    Server { child, base }
}

/// One HTTP/1.1 exchange over a real socket (the admin token rides along); returns
/// the status and the body text.
fn http(base: &str, method: &str, path: &str, body: Option<&serde_json::Value>) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let body = body.map(ToString::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn http_get(base: &str, path: &str) -> (u16, String) {
    http(base, "GET", path, None)
}

fn http_post(base: &str, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    let (status, text) = http(base, "POST", path, Some(body));
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn verify_command_knows_the_services_own_did_from_its_data_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = spawn(dir.path(), &[]);
    let (s, a) = http_post(
        &server.base,
        "/api/v1/achievements",
        &sample_achievement_input(),
    );
    assert_eq!(s, 201, "{a}");
    let (s, award) = http_post(
        &server.base,
        "/api/v1/awards",
        &serde_json::json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID}}),
    );
    assert_eq!(s, 201, "{award}");
    let file = dir.path().join("badge.jwt");
    std::fs::write(&file, award["credential"].as_str().expect("jwt")).expect("write");
    drop(server);

    let out = bin()
        .arg("verify")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--keys-dir")
        .arg(dir.path().join("keys"))
        .arg(&file)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("issuer_trust  pass"), "{text}");
}

#[test]
fn serve_prints_its_address_serves_the_did_document_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut server = spawn(dir.path(), &["--key-alg", "EdDSA"]);
    assert!(server.base.starts_with("http://127.0.0.1:"));
    let (status, _) = http_get(&server.base, "/healthz");
    assert_eq!(status, 200);
    let (status, body) = http_get(&server.base, "/.well-known/did.json");
    assert_eq!(status, 200);
    let port = server.base.rsplit(':').next().expect("port");
    assert!(
        body.contains(&format!("did:web:127.0.0.1%3A{port}")),
        "{body}"
    );
    assert!(body.contains("\"crv\":\"Ed25519\""), "{body}");
    // A key was generated with mode 0600.
    let pem = std::fs::read_dir(dir.path().join("keys"))
        .expect("keys dir")
        .filter_map(Result::ok)
        .find(|e| e.path().extension().is_some_and(|x| x == "pem"))
        .expect("a generated key");
    assert_eq!(
        pem.metadata().expect("meta").permissions().mode() & 0o777,
        0o600
    );

    let pid = server.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let start = Instant::now();
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            assert!(status.success(), "exit {status:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_refuses_a_key_file_that_others_can_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dir.path().join("keys");
    let kid = install_test_key(&keys, Algorithm::ES256);
    let path = keys.join(format!("{kid}.pem"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = bin()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--keys-dir")
        .arg(&keys)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600"), "{err}");
    assert!(out.stdout.is_empty(), "never started listening");
}

#[test]
fn keys_rotate_and_list() {
    let dir = tempfile::tempdir().expect("tmp");
    let keys = dir.path().join("keys");
    let first = install_test_key(&keys, Algorithm::ES256);
    let out = bin()
        .args(["keys", "rotate", "--alg", "RS256", "--keys-dir"])
        .arg(&keys)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .args(["keys", "list", "--keys-dir"])
        .arg(&keys)
        .output()
        .expect("run");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        listing.contains(&first) && listing.contains("published"),
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains("RS256") && l.ends_with("signing")),
        "{listing}"
    );
    // `keys add` publishes an Ed25519 key beside the signing key, once.
    for _ in 0..2 {
        let out = bin()
            .args(["keys", "add", "--alg", "EdDSA", "--keys-dir"])
            .arg(&keys)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = bin()
        .args(["keys", "list", "--keys-dir"])
        .arg(&keys)
        .output()
        .expect("run");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        listing.lines().filter(|l| l.contains("EdDSA")).count(),
        1,
        "{listing}"
    );
    assert!(
        listing
            .lines()
            .any(|l| l.contains("RS256") && l.ends_with("signing")),
        "{listing}"
    );
}

#[test]
fn verify_command_exit_codes() {
    let dir = tempfile::tempdir().expect("tmp");
    // A did:key issuer: verifiable offline with no configuration.
    let issuer = test_signing_key(Algorithm::EdDSA);
    let did = accolade::did::key::did_key_for(issuer.public_jwk()).expect("did");
    let mut c: serde_json::Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("json");
    c["issuer"]["id"] = serde_json::json!(did.as_str());
    let mut c = c.as_object().expect("obj").clone();
    accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
    let token = forge(
        &issuer,
        r#"{"alg":"EdDSA","typ":"JWT"}"#,
        &serde_json::Value::Object(c).to_string(),
    );
    let file = dir.path().join("badge.jwt");
    std::fs::write(&file, &token).expect("write");

    let out = bin().arg("verify").arg(&file).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("verified: yes"));

    let out = bin()
        .args(["verify", "--json", &token])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["verified"], serde_json::json!(true));

    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    let out = bin().args(["verify", &tampered]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));

    let out = bin().args(["verify", "garbage"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn serve_speaks_https_with_tls_cert_and_key() {
    use openssl::asn1::Asn1Time;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
    use openssl::x509::{X509, X509NameBuilder};
    use std::io::{Read as _, Write as _};

    let dir = tempfile::tempdir().expect("tmp");
    // A self-signed certificate for localhost.
    let key = PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)
                .expect("group"),
        )
        .expect("ec"),
    )
    .expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "localhost").expect("cn");
    let name = name.build();
    let mut cert = X509::builder().expect("x509");
    cert.set_version(2).expect("v3");
    cert.set_subject_name(&name).expect("subject");
    cert.set_issuer_name(&name).expect("issuer");
    cert.set_pubkey(&key).expect("pubkey");
    cert.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
        .expect("nb");
    cert.set_not_after(&Asn1Time::days_from_now(1).expect("t"))
        .expect("na");
    let san = openssl::x509::extension::SubjectAlternativeName::new()
        .dns("localhost")
        .build(&cert.x509v3_context(None, None))
        .expect("san");
    cert.append_extension(san).expect("ext");
    cert.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = cert.build();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("tls-key.pem");
    std::fs::write(&cert_path, cert.to_pem().expect("pem")).expect("write");
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().expect("pem")).expect("write");

    let server = spawn(
        dir.path(),
        &[
            "--tls-cert",
            cert_path.to_str().expect("utf8"),
            "--tls-key",
            key_path.to_str().expect("utf8"),
        ],
    );
    assert!(
        server.base.starts_with("https://127.0.0.1:"),
        "{}",
        server.base
    );
    let addr = server.base.trim_start_matches("https://");
    let mut builder = SslConnector::builder(SslMethod::tls()).expect("connector");
    builder.set_verify(SslVerifyMode::NONE);
    let connector = builder.build();
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut tls = connector.connect("localhost", tcp).expect("TLS handshake");
    write!(
        tls,
        "GET /.well-known/did.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = tls.read_to_string(&mut out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("did:web:127.0.0.1%3A"), "{out}");
}

#[test]
fn verify_command_reads_baked_png_and_svg_badges() {
    use accolade::jose::{Algorithm, SigningKey};
    let dir = tempfile::tempdir().expect("tmp");
    let (k, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
    let did = accolade::did::key::did_key_for(k.public_jwk()).expect("did");
    let mut c: serde_json::Value = serde_json::from_str(include_str!(
        "../vectors/examples/ob3_basic_openbadgecredential.json"
    ))
    .expect("example");
    c["issuer"]["id"] = serde_json::json!(did.as_str());
    let mut m = c.as_object().cloned().expect("object");
    accolade::jose::claims::add_jwt_claims(&mut m).expect("claims");
    let kid = format!("{did}#{}", did.method_specific_id());
    let jwt = accolade::jose::jws::sign_compact(
        &k,
        Some(&kid),
        Some("JWT"),
        &serde_json::to_vec(&m).expect("json"),
    )
    .expect("sign");
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 1, 1);
        enc.set_color(png::ColorType::Grayscale);
        enc.add_itxt_chunk("openbadgecredential".into(), jwt.clone())
            .expect("itxt");
        let mut w = enc.write_header().expect("header");
        w.write_image_data(&[0]).expect("data");
    }
    let svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob="https://purl.imsglobal.org/ob/v3p0"><ob:credential verify="{jwt}"/></svg>"#
    );
    let files = [("badge.png", png_bytes), ("badge.svg", svg.into_bytes())];
    for (name, bytes) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        let out = bin()
            .arg("verify")
            .arg("--data-dir")
            .arg(dir.path().join("none"))
            .arg(&path)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name}: {text}");
        assert!(text.contains("verified: yes"), "{text}");
    }
    let broken = dir.path().join("broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n\0\0").expect("write");
    let out = bin().arg("verify").arg(&broken).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreadable image cannot be examined"
    );
}

/// Waits for a child that should exit on its own; kills it after 30 s.
fn wait_exit(mut child: Child) -> (std::process::ExitStatus, String) {
    use std::io::Read as _;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).expect("stderr");
            }
            return (status, err);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the service did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_trust_registry_file_refuses_start_and_a_good_one_is_applied() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("trusted-issuers.json");
    std::fs::write(
        &file,
        r#"{"meta": {}, "registry": {"did:web:ok.example": {"name": "OK"}, "nope": {"name": "Bad"}}}"#,
    )
    .expect("write");
    let child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--keys-dir")
        .arg(dir.path().join("keys"))
        .arg("--trust-registry")
        .arg(&file)
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (status, err) = wait_exit(child);
    assert!(!status.success());
    assert!(
        err.contains("trusted-issuers.json") && err.contains("nope"),
        "{err}"
    );

    // The DCC shape.
    std::fs::write(
        &file,
        r#"{"meta": {"created": "2022-10-27T17:57:31+00:00"},
            "registry": {"did:web:ok.example": {"name": "OK University", "location": "Here",
                                                "url": "https://ok.example"}}}"#,
    )
    .expect("write");
    let path = file.to_str().expect("utf-8 path");
    let server = spawn(dir.path(), &["--trust-registry", path]);
    let (s, body) = http_get(&server.base, "/api/v1/trust/issuers");
    assert_eq!(s, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["issuers"][0]["id"], "did:web:ok.example");
    assert_eq!(v["issuers"][0]["name"], "OK University");
    assert_eq!(
        v["issuers"][0]["source"],
        format!("file:{}", file.display()).as_str()
    );
}

#[test]
fn export_beside_a_running_service_then_import_into_a_new_data_dir() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = spawn(dir.path(), &[]);
    let (s, a) = http_post(
        &server.base,
        "/api/v1/achievements",
        &sample_achievement_input(),
    );
    assert_eq!(s, 201, "{a}");
    let mut jwts = Vec::new();
    for _ in 0..3 {
        let (s, award) = http_post(
            &server.base,
            "/api/v1/awards",
            &serde_json::json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID}}),
        );
        assert_eq!(s, 201, "{award}");
        jwts.push(award["credential"].as_str().expect("jwt").to_owned());
    }

    // The service holds the data dir: the export goes through its API.
    let archive = dir.path().join("export.jsonl");
    let out = bin()
        .arg("export")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--output")
        .arg(&archive)
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("through the running service"), "{said}");
    assert!(said.contains("3 award"), "{said}");
    let mode = std::fs::metadata(&archive)
        .expect("archive")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the archive is the owner's alone");
    assert!(!dir.path().join("export.jsonl.partial").exists());
    drop(server);

    // Into a new data dir; a second import into it is refused.
    let target = tempfile::tempdir().expect("tmp");
    let import = || {
        bin()
            .arg("import")
            .arg(&archive)
            .arg("--data-dir")
            .arg(target.path().join("data"))
            .output()
            .expect("run")
    };
    let out = import();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("imported") && said.contains("3 award"),
        "{said}"
    );
    let again = import();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds data"), "{err}");

    // The new data dir, with the same keys, verifies the old badges as its own.
    assert!(
        target.path().join("data/identity.json").exists(),
        "the import records the identity it moved"
    );
    for jwt in &jwts {
        let file = target.path().join("badge.jwt");
        std::fs::write(&file, jwt).expect("write");
        let out = bin()
            .arg("verify")
            .arg("--data-dir")
            .arg(target.path().join("data"))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .arg(&file)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.contains("status        pass"), "{text}");
    }
}

/// A `serve` that is expected to stop by itself: its exit success and stderr.
fn serve_once(dir: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let out = bin()
        .args(["serve", "--rate-limit", "off"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .args(extra)
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("run");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `serve`, then stops it with SIGTERM; returns its stderr.
fn serve_and_stop(dir: &std::path::Path, extra: &[&str]) -> String {
    let mut child = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--rate-limit", "off"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .args(extra)
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert!(line.starts_with("listening on "), "{line:?}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let out = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_start_that_fails_leaves_no_directory_or_key_behind() {
    let dir = tempfile::tempdir().expect("tmp");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (ok, err) = serve_once(dir.path(), &["--listen", &addr]);
    assert!(!ok);
    assert!(err.contains(&format!("binding {addr}")), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "a data directory was made"
    );
    assert!(
        !dir.path().join("keys").exists(),
        "a keys directory was made"
    );
    // A keys directory that exists keeps only what it held.
    std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
    std::fs::write(dir.path().join("keys/README"), "keys live here\n").expect("write");
    let (ok, _) = serve_once(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--trust-registry",
            "/nonexistent.json",
        ],
    );
    assert!(!ok);
    let left: Vec<_> = std::fs::read_dir(dir.path().join("keys"))
        .expect("keys")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("README")]);
    assert!(!dir.path().join("data").exists());
}

#[test]
fn a_store_keeps_the_identity_it_was_created_for() {
    let dir = tempfile::tempdir().expect("tmp");
    let first = serve_and_stop(dir.path(), &["--public-url", "https://badges.example.edu"]);
    assert!(!first.contains("warning: this store"), "{first}");
    // Another explicit public URL is refused, naming both and the way to move.
    let (ok, err) = serve_once(
        dir.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://other.example.org",
        ],
    );
    assert!(!ok);
    for needle in [
        "created for https://badges.example.edu/",
        "did:web:badges.example.edu",
        "did:web:other.example.org",
        "--move-identity",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // A derived one (no --public-url) only warns.
    let derived = serve_and_stop(dir.path(), &[]);
    assert!(
        derived.contains("warning: this store was created for https://badges.example.edu/"),
        "{derived}"
    );
    // Moving on purpose records the new identity; later starts take it silently.
    let moved = serve_and_stop(
        dir.path(),
        &[
            "--public-url",
            "https://other.example.org",
            "--move-identity",
        ],
    );
    assert!(
        moved.contains("the issuer moves from https://badges.example.edu/"),
        "{moved}"
    );
    let again = serve_and_stop(dir.path(), &["--public-url", "https://other.example.org"]);
    assert!(
        !again.contains("warning: this store") && !again.contains("moves"),
        "{again}"
    );
}

#[test]
fn a_second_serve_on_the_same_data_dir_says_who_holds_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let _server = spawn(dir.path(), &[]);
    let (ok, err) = serve_once(dir.path(), &["--listen", "127.0.0.1:0"]);
    assert!(!ok);
    assert!(
        err.contains("is in use by another accolade process"),
        "{err}"
    );
    assert!(!err.contains("WouldBlock"), "{err}");
}

#[test]
fn verify_beside_the_running_service_asks_it_and_says_what_the_badge_says() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = spawn(dir.path(), &[]);
    let (_, a) = http_post(
        &server.base,
        "/api/v1/achievements",
        &sample_achievement_input(),
    );
    let (s, award) = http_post(
        &server.base,
        "/api/v1/awards",
        &serde_json::json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID, "name": "Ada Lovelace"}}),
    );
    assert_eq!(s, 201, "{award}");
    let file = dir.path().join("badge.jwt");
    std::fs::write(&file, award["credential"].as_str().expect("jwt")).expect("write");
    let verify = || {
        bin()
            .arg("verify")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .arg(&file)
            .output()
            .expect("run")
    };
    let out = verify();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{text}{err}");
    assert!(err.contains("verified by the running service"), "{err}");
    assert!(
        text.contains(&format!(
            "achievement: {}",
            a["name"].as_str().expect("name")
        )),
        "{text}"
    );
    assert!(text.contains("issuer:      "), "{text}");
    assert!(
        text.contains(&format!("earner:      {HOLDER_DID}")),
        "{text}"
    );
    assert!(text.contains("issued:      "), "{text}");
    // The answer is live: revoked now, the same file fails.
    let id = award["credential_id"].as_str().expect("id");
    let (s, _) = http_post(
        &server.base,
        &format!("/api/v1/credentials/{id}/revoke"),
        &serde_json::json!({"reason": "test"}),
    );
    assert_eq!(s, 200);
    let out = verify();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("FAIL"), "{text}");
}

#[test]
fn a_backup_made_beside_the_service_restores_into_empty_directories_and_every_badge_verifies() {
    let dir = tempfile::tempdir().expect("tmp");
    let server = spawn(dir.path(), &[]);
    let (_, a) = http_post(
        &server.base,
        "/api/v1/achievements",
        &sample_achievement_input(),
    );
    let mut badges = Vec::new();
    for _ in 0..3 {
        let (s, award) = http_post(
            &server.base,
            "/api/v1/awards",
            &serde_json::json!({"achievement_id": a["id"], "delivery": "direct", "recipient": {"id": HOLDER_DID}}),
        );
        assert_eq!(s, 201, "{award}");
        badges.push((
            award["credential_id"].as_str().expect("id").to_owned(),
            award["credential"].as_str().expect("jwt").to_owned(),
        ));
    }
    let (s, _) = http_post(
        &server.base,
        &format!("/api/v1/credentials/{}/revoke", badges[2].0),
        &serde_json::json!({"reason": "test"}),
    );
    assert_eq!(s, 200);

    let file = dir.path().join("accolade.backup");
    let backup = |extra: &[&str], pass: Option<&str>| {
        let mut c = bin();
        c.arg("backup")
            .arg("--out")
            .arg(&file)
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--keys-dir")
            .arg(dir.path().join("keys"))
            .args(extra)
            .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
            .env_remove("ACCOLADE_BACKUP_PASSPHRASE");
        if let Some(p) = pass {
            c.env("ACCOLADE_BACKUP_PASSPHRASE", p);
        }
        c.output().expect("run")
    };
    // Keys are never written in clear.
    let out = backup(&["--with-keys"], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
    let out = backup(&["--with-keys"], Some("correct horse battery"));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("through the running service"), "{said}");
    assert!(
        said.contains("encrypted, with the keys directory"),
        "{said}"
    );
    let bytes = std::fs::read(&file).expect("backup");
    assert!(
        !bytes.windows(10).any(|w| w == b"-----BEGIN"),
        "a key in clear"
    );
    assert!(
        !bytes
            .windows(20)
            .any(|w| w == &badges[0].1.as_bytes()[..20])
    );
    drop(server);

    let to = dir.path().join("restored");
    let restore = |pass: &str| {
        bin()
            .arg("restore")
            .arg(&file)
            .arg("--data-dir")
            .arg(to.join("data"))
            .arg("--keys-dir")
            .arg(to.join("keys"))
            .env("ACCOLADE_BACKUP_PASSPHRASE", pass)
            .output()
            .expect("run")
    };
    let out = restore("wrong horse");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not open"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!to.join("keys").exists(), "a failed restore wrote keys");
    let out = restore("correct horse battery");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every badge verifies against the restored keys and status lists, offline.
    for (i, (_, jwt)) in badges.iter().enumerate() {
        let f = to.join(format!("badge{i}.jwt"));
        std::fs::write(&f, jwt).expect("write");
        let out = bin()
            .arg("verify")
            .arg("--data-dir")
            .arg(to.join("data"))
            .arg("--keys-dir")
            .arg(to.join("keys"))
            .arg(&f)
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout);
        let expected = if i == 2 { 1 } else { 0 };
        assert_eq!(out.status.code(), Some(expected), "badge {i}: {text}");
        assert!(text.contains("signature     pass"), "{text}");
        if i == 2 {
            assert!(text.contains("status        FAIL"), "{text}");
        }
    }
}

#[test]
fn a_config_file_sets_what_flags_and_variables_leave_open() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("accolade.toml");
    std::fs::write(
        &file,
        "public_url = \"https://badges.example.edu\"\nrate_limit = 50\nlisten = \"127.0.0.1:0\"\n",
    )
    .expect("write");
    let check = |env: Option<(&str, &str)>, flags: &[&str]| {
        let mut c = bin();
        c.arg("--config")
            .arg(&file)
            .args(["config", "check", "--"])
            .args(flags);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let line = |text: &str, key: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{key} ")))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let (code, text, err) = check(None, &[]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert_eq!(
        line(&text, "public-url"),
        "public-url https://badges.example.edu config file"
    );
    assert_eq!(line(&text, "data-dir"), "data-dir ./data default");
    // The environment wins over the file, a flag over both.
    let (_, text, _) = check(
        Some(("ACCOLADE_RATE_LIMIT", "70")),
        &["--public-url", "https://x.example"],
    );
    assert_eq!(line(&text, "rate-limit"), "rate-limit 70 environment");
    assert_eq!(
        line(&text, "public-url"),
        "public-url https://x.example command line"
    );
    // A misspelt key is refused with the name meant.
    std::fs::write(&file, "listn = \"127.0.0.1:0\"\n").expect("write");
    let (code, _, err) = check(None, &[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("listn (did you mean listen?)"), "{err}");
    // A bad value gets the command line's message.
    std::fs::write(&file, "listen = \"8080\"\n").expect("write");
    let (code, _, err) = check(None, &[]);
    assert_ne!(code, Some(0));
    assert!(err.contains("give both"), "{err}");
}
