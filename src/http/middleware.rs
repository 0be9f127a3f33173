//! Admin authentication and per-client rate limiting.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::{AppState, RateLimit};

/// Rejects requests without the admin bearer token (constant-time comparison).
pub async fn require_admin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    match presented {
        Some(t) if state.admin_token.matches(t) => next.run(req).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

/// Bodies of error answers that axum's extractors produce as plain text (a body over
/// the limit, a malformed query string ...) are rewritten to the JSON error shape
/// every other error has.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        s if s.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let message = if status.is_server_error() {
        "internal error".to_owned()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        "the request body is larger than this route accepts".to_owned()
    } else {
        String::from_utf8_lossy(&text).trim().to_owned()
    };
    let mut out = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets per client IP, shared by every router in the process.
static BUCKETS: LazyLock<Mutex<HashMap<IpAddr, Bucket>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Buckets are pruned when the table grows past this many clients.
const MAX_TRACKED: usize = 10_000;

fn take(ip: IpAddr, per_second: u32) -> Result<(), f64> {
    let rate = f64::from(per_second);
    let now = Instant::now();
    let mut map = BUCKETS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() > MAX_TRACKED {
        map.retain(|_, b| now.duration_since(b.at).as_secs_f64() * rate < rate);
    }
    let b = map.entry(ip).or_insert(Bucket {
        tokens: rate,
        at: now,
    });
    b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
    b.at = now;
    if b.tokens >= 1.0 {
        b.tokens -= 1.0;
        Ok(())
    } else {
        Err((1.0 - b.tokens) / rate)
    }
}

/// Answers 429 with `Retry-After` once a client IP exceeds the configured rate.
/// In-process requests without a peer address (tests) are not limited.
pub async fn rate_limit(State(limit): State<RateLimit>, req: Request, next: Next) -> Response {
    if let RateLimit::PerSecond(n) = limit
        && let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>()
        && let Err(wait) = take(addr.ip(), n)
    {
        let secs = wait.ceil().max(1.0) as u64;
        let mut res = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests; retry in {secs} s"),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return res;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let ip: IpAddr = "192.0.2.77".parse().expect("ip");
        for _ in 0..5 {
            take(ip, 5).expect("within burst");
        }
        let wait = take(ip, 5).expect_err("over the limit");
        assert!(wait > 0.0 && wait <= 0.2 + 1e-9, "{wait}");
    }
}
