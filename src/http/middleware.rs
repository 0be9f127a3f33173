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
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let RateLimit::PerSecond(n) = state.rate_limit
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
