//! Admitting requests: what a request may hold, for how long, and the count of every
//! refusal.
//!
//! - **Announced sizes**: a request whose `Content-Length` is over its route's limit
//!   is answered `413` before anything is read (so `Expect: 100-continue` never gets a
//!   `100 Continue` for it), with `Connection: close` since its body is left unread.
//! - **Body time**: the body must arrive whole within
//!   [`Limits::body_timeout`](crate::limits::Limits) of the request's start; past it
//!   the answer is `408` with `Connection: close`.
//! - **Answer time**: every request outside the admin API and the console is answered
//!   within `request_timeout` (`503` otherwise).
//! - **Verifications** (`/api/v1/verify`, its batch form, the VC-API verify routes,
//!   the employer's `/verify` page and OpenID4VP answers): at most `verifications`
//!   in flight in all and `verifications_per_client` per client, and at most
//!   `verification_bytes` of their bodies held at once (a body without a
//!   `Content-Length` counts as its route's limit). Over the first or the last: `503`
//!   with `Retry-After`; over the client's share: `429`. Each runs as its client
//!   ([`crate::net::caller`]): its outbound fetches take the client's slots and are
//!   charged to the client's request budget.
//! - **Refusals** (`429`, `503`, `413`, `408`, connections refused) are counted by
//!   cause ([`refusals`]) for the operator.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use tokio::sync::Semaphore;

use super::ApiError;
use crate::app::{AppState, RateLimit};
use crate::limits::Limits;
use crate::net::addr::client_prefix;

/// Why a request or connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `429`: a client's rate or share.
    RateLimited,
    /// `503`: the service's capacity.
    Busy,
    /// `413`: a body over its limit.
    TooLarge,
    /// `408`: a body that did not arrive in time.
    Timeout,
    /// A connection over the connection limits, closed when accepted.
    Connection,
}

/// Counts of refusals by cause, since start.
#[derive(Debug, Default)]
pub struct Refusals {
    rate_limited: AtomicU64,
    busy: AtomicU64,
    too_large: AtomicU64,
    timeout: AtomicU64,
    connection: AtomicU64,
}

impl Refusals {
    pub fn count(&self, r: Refusal) {
        let c = match r {
            Refusal::RateLimited => &self.rate_limited,
            Refusal::Busy => &self.busy,
            Refusal::TooLarge => &self.too_large,
            Refusal::Timeout => &self.timeout,
            Refusal::Connection => &self.connection,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// `(cause, count)` for every cause, outbound fetches refused by a local limit
    /// included.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("rate_limited", self.rate_limited.load(Ordering::Relaxed)),
            ("busy", self.busy.load(Ordering::Relaxed)),
            ("too_large", self.too_large.load(Ordering::Relaxed)),
            ("timeout", self.timeout.load(Ordering::Relaxed)),
            ("connection", self.connection.load(Ordering::Relaxed)),
            ("outbound_limited", crate::net::limited_count()),
        ]
    }
}

static REFUSALS: LazyLock<Refusals> = LazyLock::new(Refusals::default);

/// The process's refusal counts.
pub fn refusals() -> &'static Refusals {
    &REFUSALS
}

/// What a route takes as a body, bytes (the routes' own limits, for announced sizes).
fn body_cap(method: &Method, path: &str) -> usize {
    use super::{BATCH_BODY_LIMIT, BODY_LIMIT, VERIFY_BATCH_BODY_LIMIT, VERIFY_BODY_LIMIT};
    if method == Method::GET || method == Method::HEAD {
        return BODY_LIMIT;
    }
    if path.ends_with("/verify/batch") {
        VERIFY_BATCH_BODY_LIMIT
    } else if is_verification(method, path) {
        VERIFY_BODY_LIMIT
    } else if path.starts_with("/oid4vci/")
        || path.starts_with("/claim/")
        || path.starts_with("/api/v1/auth/")
        || path.starts_with("/api/v1/presentation-requests")
        || path.starts_with("/oid4vp/requests")
    {
        BODY_LIMIT
    } else {
        // Admin uploads (batches, CSV, images): the largest of their limits; each
        // route still enforces its own while reading.
        BATCH_BODY_LIMIT.max(2 * BODY_LIMIT)
    }
}

/// Whether a request is a verification (with the public URL's path removed).
pub fn is_verification(method: &Method, path: &str) -> bool {
    method == Method::POST
        && (matches!(
            path,
            "/api/v1/verify"
                | "/api/v1/verify/batch"
                | "/credentials/verify"
                | "/presentations/verify"
                | "/verify"
        ) || path.starts_with(crate::oid4vp::RESPONSE_PATH))
}

/// Whether a request is the admin API's or the console's (no answer deadline: a
/// large batch of awards may take its time).
fn is_staff(path: &str) -> bool {
    (path.starts_with("/api/v1/")
        && !path.starts_with("/api/v1/verify")
        && !path.starts_with("/api/v1/presentation-requests"))
        || path.starts_with("/admin")
        || path == "/credentials/issue"
}

/// The shared state of the admission middleware.
#[derive(Clone)]
pub struct Admission {
    state: AppState,
    limits: Limits,
    verifications: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    per_client: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
    fetch_slots: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
}

/// Bytes are counted in KiB, so that the semaphore's permits stay small.
const KIB: usize = 1024;

impl Admission {
    pub fn new(state: AppState) -> Self {
        let limits = state.limits.clone();
        Self {
            verifications: Arc::new(Semaphore::new(limits.verifications)),
            bytes: Arc::new(Semaphore::new(limits.verification_bytes / KIB)),
            per_client: Arc::default(),
            fetch_slots: Arc::default(),
            limits,
            state,
        }
    }
}

/// Marks an answer whose refusal is counted already.
#[derive(Debug, Clone, Copy)]
struct Counted;

fn refuse(status: StatusCode, cause: Refusal, message: &str) -> Response {
    refusals().count(cause);
    let mut res = ApiError::new(
        status,
        if status == StatusCode::TOO_MANY_REQUESTS {
            "rate_limited"
        } else {
            "busy"
        },
        message.to_owned(),
    )
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    res.extensions_mut().insert(Counted);
    res
}

/// The middleware (see the module documentation), one step of
/// [`crate::http::observe::edge`].
pub async fn admit<F, Fut>(adm: &Admission, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let path = super::cors::route_path(&adm.state.identity.base_path, req.uri().path()).to_owned();
    let method = req.method().clone();

    // Announced sizes first: nothing is read of a body that is refused.
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let cap = body_cap(&method, &path);
    if announced.is_some_and(|n| n > cap as u64) {
        refusals().count(Refusal::TooLarge);
        let mut res = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the body is larger than this route takes ({} KiB)",
                cap / KIB
            ),
        )
        .into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        res.extensions_mut().insert(Counted);
        return res;
    }

    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| client_prefix(a.ip(), 64));
    // A partner key's requests are governed by the key's own quota.
    let keyed = crate::http::middleware::presented_api_key(req.headers())
        .ok()
        .flatten()
        .is_some();

    // The body's deadline.
    let timed_out = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(DeadlineBody {
        inner: body,
        sleep: Box::pin(tokio::time::sleep(adm.limits.body_timeout)),
        fired: timed_out.clone(),
    });
    let req = Request::from_parts(parts, body);

    let staff = is_staff(&path);
    let run = async {
        if !is_verification(&method, &path) {
            return next(req).await;
        }
        // Verifications: capacity, the client's share, bytes held.
        let Ok(_all) = adm.verifications.clone().try_acquire_owned() else {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                Refusal::Busy,
                "the service is verifying as much as it can; retry in a moment",
            );
        };
        let _mine = match client {
            Some(c) => {
                match crate::net::slots_for(&adm.per_client, c, adm.limits.verifications_per_client)
                    .try_acquire_owned()
                {
                    Ok(p) => Some(p),
                    Err(_) => {
                        return refuse(
                            StatusCode::TOO_MANY_REQUESTS,
                            Refusal::RateLimited,
                            "too many verifications from this address are in flight; wait for them to finish",
                        );
                    }
                }
            }
            None => None,
        };
        let weight = announced.map_or(cap, |n| n as usize).div_ceil(KIB).max(1);
        let Ok(_bytes) = adm.bytes.clone().try_acquire_many_owned(weight as u32) else {
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                Refusal::Busy,
                "the service holds as many request bodies as it can; retry in a moment",
            );
        };
        match client {
            Some(c) => {
                let slots =
                    crate::net::slots_for(&adm.fetch_slots, c, adm.limits.fetches_per_client);
                let charge = (!keyed).then(|| fetch_charge(&adm.state, c)).flatten();
                crate::net::caller::scope(crate::net::caller::Caller::new(slots, charge), next(req))
                    .await
            }
            None => next(req).await,
        }
    };
    let res = if staff {
        run.await
    } else {
        match tokio::time::timeout(adm.limits.request_timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                let mut r = refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Refusal::Busy,
                    "the answer took too long",
                );
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            }
        }
    };
    if timed_out.load(Ordering::Relaxed) {
        refusals().count(Refusal::Timeout);
        let mut r = ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the body did not arrive within {} s",
                adm.limits.body_timeout.as_secs_f64()
            ),
        )
        .into_response();
        r.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        r.extensions_mut().insert(Counted);
        return r;
    }
    res
}

/// Counts the refusals other steps answer (the rate limiter's `429`s, the routes'
/// own `413`s) and closes the connection after a `413`, whose body was left unread.
pub(crate) fn count_refusal(res: &mut Response) {
    let cause = match res.status() {
        StatusCode::TOO_MANY_REQUESTS => Some(Refusal::RateLimited),
        StatusCode::PAYLOAD_TOO_LARGE => Some(Refusal::TooLarge),
        _ => None,
    };
    if let Some(c) = cause
        && res.extensions().get::<Counted>().is_none()
    {
        refusals().count(c);
    }
    if res.status() == StatusCode::PAYLOAD_TOO_LARGE {
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
}

/// One request of the client's budget per outbound fetch (anonymous callers).
fn fetch_charge(state: &AppState, client: IpAddr) -> Option<crate::net::caller::Charge> {
    let RateLimit::PerSecond(n) = state.rate_limit else {
        return None;
    };
    let state = state.clone();
    Some(Arc::new(move || {
        let state = state.clone();
        Box::pin(async move {
            n == 0
                || crate::http::middleware::charge_anonymous(&state, client, 1)
                    .await
                    .is_none()
        }) as Pin<Box<dyn Future<Output = bool> + Send>>
    }))
}

/// A body that fails once its deadline passes.
struct DeadlineBody {
    inner: Body,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: Arc<AtomicBool>,
}

/// The error a late body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimeout;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.inner.is_end_stream() {
            return Pin::new(&mut self.inner).poll_frame(cx);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.fired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classed() {
        assert!(is_verification(&Method::POST, "/api/v1/verify"));
        assert!(is_verification(&Method::POST, "/verify"));
        assert!(is_verification(&Method::POST, "/oid4vp/responses/abc"));
        assert!(!is_verification(&Method::GET, "/verify"));
        assert!(!is_verification(&Method::POST, "/api/v1/awards"));
        assert_eq!(
            body_cap(&Method::POST, "/api/v1/verify/batch"),
            super::super::VERIFY_BATCH_BODY_LIMIT
        );
        assert_eq!(
            body_cap(&Method::POST, "/oid4vci/token"),
            super::super::BODY_LIMIT
        );
        assert!(is_staff("/api/v1/awards/batch"));
        assert!(!is_staff("/api/v1/verify"));
        assert!(!is_staff("/claim/x"));
    }
}
