//! What operators rely on: metrics, readiness, request ids, logs.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

fn get(path: &str, token: bool) -> Request<Body> {
    let mut b = Request::builder().uri(path);
    if token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    }
    b.body(Body::empty()).expect("request")
}

/// The value of the first sample line that starts with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_need_the_admin_token_and_name_routes_by_pattern_never_by_path() {
    let app = TestApp::new().await;
    let (s, _, _) = app.send(get("/metrics", false)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let a = app.create_achievement().await;
    let (s, award) = app
        .admin(
            Method::POST,
            "/api/v1/awards",
            Some(json!({"achievement_id": a["id"], "recipient": {"email": "ada@example.org"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{award}");
    let claim = award["claim_url"]
        .as_str()
        .and_then(|u| u.strip_prefix(PUBLIC_URL))
        .expect("claim path")
        .to_owned();
    let secret = claim.rsplit('/').next().expect("id").to_owned();
    let (s, _, _) = app.send(get(&claim, false)).await;
    assert_eq!(s, StatusCode::OK);
    let jwt = app.issue_badge().await;
    let (s, _) = app.verify(json!(jwt)).await;
    assert_eq!(s, StatusCode::OK);

    let (s, h, body) = app.send(get("/metrics", true)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = String::from_utf8(body.to_vec()).expect("utf-8");
    // Requests are named by their route's pattern: the claim id never appears.
    assert!(
        !text.contains(&secret),
        "the claim id leaked into the metrics"
    );
    assert!(
        sample(
            &text,
            "accolade_http_requests_total{route=\"/claim/{id}\",method=\"GET\",status=\"2xx\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "accolade_http_request_duration_seconds_count{route=\"/api/v1/verify\",method=\"POST\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Domain counters (process-wide: other tests add to them too).
    for family in [
        "accolade_awards_total{delivery=\"offer\"}",
        "accolade_awards_total{delivery=\"direct\"}",
        "accolade_verifications_total{kind=\"credential\",outcome=\"verified\"}",
        "accolade_store_flush_batch_size_count",
        "accolade_store_bytes",
        "accolade_refusals_total{cause=\"rate_limited\"}",
        "accolade_uptime_seconds",
    ] {
        assert!(sample(&text, family).is_some(), "{family} missing:\n{text}");
    }
    assert!(text.contains("# TYPE accolade_http_request_duration_seconds histogram"));
    assert!(text.contains("accolade_build_info{version=\""));
}

#[tokio::test]
async fn readiness_checks_the_store_and_the_signing_key() {
    let app = TestApp::new().await;
    let (s, h, body) = app.send(get("/readyz", false)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        v,
        json!({"status": "ready", "checks": {"store": "ok", "keys": "ok"}})
    );
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_sane_one_is_kept() {
    let app = TestApp::new().await;
    let (_, h, _) = app.send(get("/healthz", false)).await;
    let made = h["x-request-id"].to_str().expect("id").to_owned();
    assert_eq!(made.len(), 24, "{made}");
    let (_, h2, _) = app.send(get("/healthz", false)).await;
    assert_ne!(h2["x-request-id"], made.as_str());
    let with = |id: &str| {
        Request::builder()
            .uri("/nowhere")
            .header("x-request-id", id)
            .body(Body::empty())
            .expect("request")
    };
    let (s, h, _) = app.send(with("lb-4f2a.77")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(h["x-request-id"], "lb-4f2a.77");
    let (_, h, _) = app.send(with("<script>")).await;
    assert_ne!(h["x-request-id"], "<script>");
}

/// A running binary with stderr captured.
struct Running {
    child: std::process::Child,
    base: String,
    metrics: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http(addr: &str, path: &str, token: bool) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let auth = if token {
        format!("Authorization: Bearer {TOKEN}\r\n")
    } else {
        String::new()
    };
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}X-Request-Id: probe-1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (
        status,
        out.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default(),
    )
}

fn start(dir: &std::path::Path) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accolade"))
        .env_remove("ACCOLADE_PUBLIC_URL")
        .env("ACCOLADE_LOG", "info")
        .env("ACCOLADE_ADMIN_TOKEN", TOKEN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut metrics = String::new();
    let mut base = String::new();
    while base.is_empty() {
        let mut line = String::new();
        assert!(out.read_line(&mut line).expect("read") > 0, "no address");
        if let Some(m) = line.trim().strip_prefix("metrics on http://") {
            metrics = m.trim_end_matches("/metrics").to_owned();
        } else if let Some(b) = line.trim().strip_prefix("listening on http://") {
            base = b.to_owned();
        }
    }
    Running {
        child,
        base,
        metrics,
    }
}

#[test]
fn the_metrics_listener_needs_no_token_and_logs_are_json_lines_without_colour() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut run = start(dir.path());
    assert!(!run.metrics.is_empty(), "no metrics address printed");
    // On the main listener: the admin token; on its own address: none.
    assert_eq!(http(&run.base, "/metrics", false).0, 401);
    let (s, text) = http(&run.base, "/metrics", true);
    assert_eq!(s, 200);
    assert!(text.contains("# TYPE accolade_http_requests_total counter"));
    let (s, text) = http(&run.metrics, "/metrics", false);
    assert_eq!(s, 200);
    assert!(text.contains("accolade_uptime_seconds"), "{text}");
    // Only /metrics there.
    assert_eq!(http(&run.metrics, "/healthz", false).0, 404);
    assert_eq!(http(&run.base, "/readyz", false).0, 200);

    let pid = run.child.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let _ = run.child.wait();
    let mut err = String::new();
    run.child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    assert!(!err.contains('\u{1b}'), "colour codes in a pipe:\n{err}");
    let mut access = 0;
    for line in err.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        if v["target"] == "accolade::access" {
            assert_eq!(v["request_id"], "probe-1", "{line}");
            assert!(v["route"].is_string() && v["status"].is_number(), "{line}");
            access += 1;
        }
    }
    // /metrics twice, /readyz once on the main listener (the metrics listener keeps
    // no access log).
    assert_eq!(access, 3, "{err}");
    // Every line is JSON, the start-up and shutdown notices included.
    assert!(err.lines().all(|l| l.starts_with('{')), "{err}");
    assert!(
        err.contains("\"message\":\"stopped; store flushed\""),
        "{err}"
    );
    // Start-up says that no issuer profile is set, as a warning.
    assert!(
        err.lines().any(|l| l.contains("\"level\":\"WARN\"")
            && l.contains("the issuer profile has no name yet")),
        "{err}"
    );
}
