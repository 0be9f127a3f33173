//! Admin authentication, partner API keys, and per-client rate limiting.
//!
//! Limits: every request from a client IP takes a token from that IP's bucket
//! ([`rate_limit`], outside the router), except a request to a verifier route that
//! presents a valid partner API key: the key's own bucket governs those
//! ([`partner_key`], on the verifier routes). A key that is unknown or revoked earns
//! no exemption: the request is limited per IP and then refused with 401.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::app::{AppState, RateLimit};
use crate::net::addr::client_prefix;
use crate::net::buckets::{Cost, SharedBuckets};
use crate::partner::KeyStore;

/// The header partners may present their key in (besides `Authorization: Bearer`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// The API key a request presents: `X-API-Key`, or an `Authorization: Bearer` token
/// that has the API-key prefix (`acc_live_`). Two different keys, or several
/// `X-API-Key` headers, are an error (which one would count?). Other bearer tokens
/// (the admin token, a gateway's token) and other schemes are not API keys: the
/// verifier routes are public, so such a request stays anonymous rather
/// than being refused.
pub fn presented_api_key(headers: &HeaderMap) -> Result<Option<&str>, &'static str> {
    let mut values = headers.get_all(API_KEY_HEADER).iter();
    let header_key = match (values.next(), values.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err("send one X-API-Key header"),
        (Some(v), None) => Some(
            v.to_str()
                .map_err(|_| "the X-API-Key header is not text")?
                .trim(),
        ),
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|t| t.starts_with(crate::partner::PREFIX));
    match (header_key, bearer) {
        (Some(h), Some(b)) if h != b => {
            Err("X-API-Key and Authorization: Bearer name different keys")
        }
        (Some(k), _) | (None, Some(k)) => Ok(Some(k)),
        (None, None) => Ok(None),
    }
}

fn invalid_api_key(message: &str) -> Response {
    let mut res =
        ApiError::new(StatusCode::UNAUTHORIZED, "invalid_api_key", message).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"accolade-verify\", error=\"invalid_token\""),
    );
    res
}

fn too_many_requests(wait_seconds: f64, message: impl FnOnce(u64) -> String) -> Response {
    let secs = wait_seconds.ceil().max(1.0) as u64;
    let mut res =
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message(secs)).into_response();
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// On the verifier routes: a request without a key passes as an anonymous one; a key
/// that is unknown or revoked is refused (401); a key over its own limit gets 429
/// with `Retry-After`; otherwise the request is counted for the key and handlers find
/// the [`crate::partner::PartnerKey`] in the request's extensions.
pub async fn partner_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let key = match presented_api_key(req.headers()) {
        Ok(None) => return next.run(req).await,
        Err(m) => return invalid_api_key(m),
        Ok(Some(k)) => match state.partner_keys.authenticate(k) {
            Ok(key) => key,
            Err(r) => return invalid_api_key(&r.to_string()),
        },
    };
    let admitted = match &state.buckets {
        Some(shared) => {
            let rate = f64::from(state.partner_keys.rate_limit(&key));
            let taken = shared
                .take(&format!("key {}", key.id), rate, rate, Cost::Exactly(1.0))
                .await;
            state.partner_keys.count(&key, taken.is_ok());
            taken
        }
        None => state.partner_keys.admit(&key),
    };
    if let Err(wait) = admitted {
        let limit = state
            .partner_keys
            .get(&key.id)
            .map(|v| v.rate_limit)
            .unwrap_or_default();
        return too_many_requests(wait, |secs| {
            format!("this API key allows {limit} requests/s; retry in {secs} s")
        });
    }
    req.extensions_mut().insert(key);
    next.run(req).await
}

/// What the per-client limiter needs.
#[derive(Debug, Clone)]
pub struct ClientLimit {
    pub limit: RateLimit,
    /// A fleet's buckets: the limit holds for all nodes together.
    pub shared: Option<Arc<SharedBuckets>>,
    pub keys: KeyStore,
    /// The verifier routes (method, path template with the base path): there a valid
    /// partner key replaces the per-IP limit with its own.
    pub keyed: Arc<[(Method, String)]>,
}

/// Whether `path` fits `template`, whose `{...}` segments match any one segment.
fn fits(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) if ts.starts_with('{') && ts.ends_with('}') => {
                if ps.is_empty() {
                    return false;
                }
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return false,
        }
    }
}

impl ClientLimit {
    /// A request that the partner middleware will admit under its key's own limit.
    fn governed_by_key(&self, req: &Request) -> bool {
        let path = req.uri().path();
        self.keyed
            .iter()
            .any(|(m, t)| m == req.method() && fits(t, path))
            && matches!(presented_api_key(req.headers()), Ok(Some(k)) if self.keys.authenticate(k).is_ok())
    }
}

/// The last step of [`crate::http::observe::edge`]: bodies of error answers that
/// axum's extractors produce as plain text (a body over the limit, a malformed query
/// string ...) are rewritten to the JSON error shape every other error has; then the
/// page headers ([`crate::http::pages::page_headers`]).
pub async fn finish<F, Fut>(req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let mut res = as_json_error(next(req).await).await;
    crate::http::pages::add_page_headers(&mut res);
    res
}

/// [`finish`]'s JSON error on an answer.
async fn as_json_error(res: Response) -> Response {
    let status = res.status();
    // JSON errors are left as they are, and so are pages: a page's error is a page.
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
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
    take_from(
        &BUCKETS,
        client_prefix(ip, 64),
        rate,
        rate,
        Charge::Exactly(1.0),
    )
}

/// Buckets for anonymous presentation-request creation, per client.
static CREATE_BUCKETS: LazyLock<Mutex<HashMap<IpAddr, Bucket>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Anonymous presentation requests per second per client, and the burst. Each one
/// is a stored record, so the bar is far lower than for verifications, and an IPv6
/// client is its /48; platforms that need more use a partner key.
pub const ANONYMOUS_REQUESTS_PER_SEC: f64 = 1.0;
pub const ANONYMOUS_REQUESTS_BURST: f64 = 10.0;
/// And at most this many an hour, so that what one client keeps stored stays small.
pub const ANONYMOUS_REQUESTS_PER_HOUR: f64 = 600.0;

/// Buckets for the hourly quota of anonymous presentation requests, per client.
static HOURLY_BUCKETS: LazyLock<Mutex<HashMap<IpAddr, Bucket>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// Admits one anonymous presentation request from `ip` (`None`), or answers 429.
pub(crate) async fn refuse_anonymous_request(state: &AppState, ip: IpAddr) -> Option<Response> {
    let client = client_prefix(ip, 48);
    let hourly = ANONYMOUS_REQUESTS_PER_HOUR / 3600.0;
    let taken = match &state.buckets {
        Some(shared) => {
            match shared
                .take(
                    &format!("presentation requests per hour {client}"),
                    hourly,
                    ANONYMOUS_REQUESTS_PER_HOUR,
                    Cost::Exactly(1.0),
                )
                .await
            {
                Ok(()) => {
                    shared
                        .take(
                            &format!("presentation requests {client}"),
                            ANONYMOUS_REQUESTS_PER_SEC,
                            ANONYMOUS_REQUESTS_BURST,
                            Cost::Exactly(1.0),
                        )
                        .await
                }
                Err(wait) => Err(wait),
            }
        }
        None => take_from(
            &HOURLY_BUCKETS,
            client,
            hourly,
            ANONYMOUS_REQUESTS_PER_HOUR,
            Charge::Exactly(1.0),
        )
        .and_then(|()| {
            take_from(
                &CREATE_BUCKETS,
                client,
                ANONYMOUS_REQUESTS_PER_SEC,
                ANONYMOUS_REQUESTS_BURST,
                Charge::Exactly(1.0),
            )
        }),
    };
    taken.err().map(|wait| {
        too_many_requests(wait, |secs| {
            format!(
                "too many presentation requests from this address; retry in {secs} s, or use a partner API key"
            )
        })
    })
}

/// What a request costs its bucket.
#[derive(Debug, Clone, Copy)]
enum Charge {
    /// Admitted only when this many tokens are there.
    Exactly(f64),
    /// Admitted while the bucket is not in debt, which this much may put it in:
    /// work whose size is known only once admitted (a batch) is paid for by the
    /// requests after it.
    OnCredit(f64),
}

fn take_from(
    buckets: &Mutex<HashMap<IpAddr, Bucket>>,
    key: IpAddr,
    rate: f64,
    burst: f64,
    charge: Charge,
) -> Result<(), f64> {
    let now = Instant::now();
    let mut map = buckets
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if map.len() > MAX_TRACKED {
        map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * rate < burst);
    }
    let b = map.entry(key).or_insert(Bucket {
        tokens: burst,
        at: now,
    });
    b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(burst);
    b.at = now;
    match charge {
        Charge::Exactly(cost) if b.tokens >= cost => {
            b.tokens -= cost;
            Ok(())
        }
        Charge::Exactly(cost) => Err((cost - b.tokens) / rate),
        Charge::OnCredit(cost) if b.tokens >= 0.0 => {
            b.tokens -= cost;
            Ok(())
        }
        Charge::OnCredit(_) => Err(-b.tokens / rate),
    }
}

/// Charges an anonymous client `extra` more requests on its per-IP bucket (a batch
/// of n badges costs what n calls would). The batch is admitted while the bucket
/// is not in debt, and the requests after it wait until the debt is paid; a client
/// already in debt gets 429.
pub(crate) async fn charge_anonymous(
    state: &AppState,
    ip: IpAddr,
    extra: usize,
) -> Option<Response> {
    let RateLimit::PerSecond(n) = state.rate_limit else {
        return None;
    };
    if extra == 0 {
        return None;
    }
    let rate = f64::from(n);
    let client = client_prefix(ip, 64);
    let taken = match &state.buckets {
        Some(shared) => {
            shared
                .take(
                    &address_bucket(client),
                    rate,
                    rate,
                    Cost::OnCredit(extra as f64),
                )
                .await
        }
        None => take_from(&BUCKETS, client, rate, rate, Charge::OnCredit(extra as f64)),
    };
    taken.err().map(|wait| {
        too_many_requests(wait, |secs| {
            format!(
                "too many badges from this address; retry in {secs} s, or use a partner API key"
            )
        })
    })
}

/// Puts the client's address where every handler and limit reads it (the request's
/// `ConnectInfo`), when the connection comes from a trusted proxy.
pub(crate) fn resolve_client(proxies: &crate::net::proxy::TrustedProxies, req: &mut Request) {
    if !proxies.is_empty()
        && let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
    {
        let client = proxies.client(peer.ip(), req.headers());
        if client != peer.ip() {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
    }
}

/// Answers 429 with `Retry-After` once a client IP exceeds the configured rate.
/// In-process requests without a peer address (tests) are not limited; nor are
/// requests that a valid partner key governs.
pub async fn rate_limit<F, Fut>(limit: &ClientLimit, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if let RateLimit::PerSecond(n) = limit.limit
        && let Some(ConnectInfo(addr)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
        && !limit.governed_by_key(&req)
    {
        let taken = match &limit.shared {
            Some(shared) => {
                let rate = f64::from(n);
                let key = address_bucket(client_prefix(addr.ip(), 64));
                shared.take(&key, rate, rate, Cost::Exactly(1.0)).await
            }
            None => take(addr.ip(), n),
        };
        if let Err(wait) = taken {
            return too_many_requests(wait, |secs| format!("too many requests; retry in {secs} s"));
        }
    }
    next(req).await
}

/// The shared bucket of a client address (IPv6 by its /64).
fn address_bucket(client: IpAddr) -> String {
    format!("address {client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_on_credit_is_admitted_once_and_paid_for_by_the_next_requests() {
        let m = Mutex::new(HashMap::new());
        let key: IpAddr = "192.0.2.88".parse().expect("ip");
        take_from(&m, key, 10.0, 10.0, Charge::Exactly(1.0)).expect("first call");
        // A batch of 50 more on a bucket of 9: admitted, 41 in debt.
        take_from(&m, key, 10.0, 10.0, Charge::OnCredit(50.0)).expect("on credit");
        let wait = take_from(&m, key, 10.0, 10.0, Charge::Exactly(1.0)).expect_err("in debt");
        assert!((4.1..=4.3).contains(&wait), "{wait}");
        let wait =
            take_from(&m, key, 10.0, 10.0, Charge::OnCredit(1.0)).expect_err("no credit in debt");
        assert!((4.0..=4.2).contains(&wait), "{wait}");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_prefix_and_mapped_v4_as_v4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("ip");
        let c: IpAddr = "2001:db8:1:3::1".parse().expect("ip");
        assert_eq!(client_prefix(a, 64), client_prefix(b, 64));
        assert_ne!(client_prefix(a, 64), client_prefix(c, 64));
        assert_eq!(client_prefix(a, 48), client_prefix(c, 48));
        assert_eq!(client_prefix(a, 128), a);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("ip");
        assert_eq!(
            client_prefix(mapped, 64),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn a_bucket_allows_its_burst_then_refuses_with_a_wait() {
        let ip: IpAddr = "192.0.2.77".parse().expect("ip");
        for _ in 0..5 {
            take(ip, 5).expect("within burst");
        }
        let wait = take(ip, 5).expect_err("over the limit");
        assert!(wait > 0.0 && wait <= 0.2 + 1e-9, "{wait}");
    }

    #[test]
    fn templates_fit_paths_segment_by_segment() {
        assert!(fits("/api/v1/verify", "/api/v1/verify"));
        assert!(fits("/badges/api/v1/verify", "/badges/api/v1/verify"));
        assert!(!fits("/api/v1/verify", "/api/v1/verify/batch"));
        assert!(!fits("/api/v1/verify/batch", "/api/v1/verify"));
        assert!(fits(
            "/api/v1/presentation-requests/{id}",
            "/api/v1/presentation-requests/x"
        ));
        assert!(!fits(
            "/api/v1/presentation-requests/{id}",
            "/api/v1/presentation-requests/"
        ));
        assert!(!fits("/api/v1/verify", "/api/v1/achievements"));
    }

    #[test]
    fn an_api_key_comes_from_one_header_or_the_bearer_token() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(*k, HeaderValue::from_static(v));
            }
            m
        };
        assert_eq!(presented_api_key(&h(&[])), Ok(None));
        assert_eq!(
            presented_api_key(&h(&[("authorization", "Bearer admin-token")])),
            Ok(None),
            "not an API key"
        );
        assert_eq!(
            presented_api_key(&h(&[("x-api-key", " acc_live_k1 ")])),
            Ok(Some("acc_live_k1"))
        );
        assert_eq!(
            presented_api_key(&h(&[("authorization", "Bearer acc_live_k2")])),
            Ok(Some("acc_live_k2"))
        );
        assert_eq!(
            presented_api_key(&h(&[("authorization", "Basic dGVzdA==")])),
            Ok(None)
        );
        assert_eq!(
            presented_api_key(&h(&[
                ("x-api-key", "acc_live_k1"),
                ("authorization", "bearer acc_live_k1")
            ])),
            Ok(Some("acc_live_k1"))
        );
        assert!(
            presented_api_key(&h(&[
                ("x-api-key", "k1"),
                ("authorization", "Bearer acc_live_k2")
            ]))
            .is_err()
        );
        assert!(presented_api_key(&h(&[("x-api-key", "k1"), ("x-api-key", "k1")])).is_err());
        assert_eq!(
            presented_api_key(&h(&[
                ("x-api-key", "k1"),
                ("authorization", "Bearer admin-token")
            ])),
            Ok(Some("k1"))
        );
    }
}
