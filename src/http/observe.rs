//! Request ids, the access log and the per-route metrics.
//!
//! Every request gets an id: the caller's `X-Request-Id` when it is a sane token (1
//! to 64 characters of letters, digits, `.`, `_`, `-`), a new random one otherwise. The
//! answer carries it back in `X-Request-Id`, and the access log line names it, so an
//! operator can follow one request from a load balancer's log into ours.
//!
//! The access log (target `accolade::access`, level info) and the metrics name a
//! request by its **route pattern** (`/claim/{id}`), never by its path or query:
//! claim ids, earners' links, invitation tokens and OpenID4VP transaction ids travel
//! in paths, and none of them may reach a log. Requests no route matched are named
//! `unmatched`. Switch the access log off with `ACCOLADE_LOG=info,accolade::access=off`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use crate::http::admission::{Admission, admit, count_refusal};
use crate::http::cors::{self, Cors};
use crate::http::middleware::{ClientLimit, finish, rate_limit, resolve_client};
use crate::net::proxy::TrustedProxies;

/// The header that carries a request's id both ways.
pub const REQUEST_ID: &str = "x-request-id";

/// The route pattern that answered, passed from inside the router to [`edge`].
#[derive(Debug, Clone)]
struct RouteLabel(MatchedPath);

/// A request's id, for handlers that want to name it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Whether a caller's request id is kept as it is.
fn sane(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn new_id() -> String {
    let mut b = [0u8; 12];
    rand::Rng::fill(&mut rand::thread_rng(), &mut b);
    hex::encode(b)
}

/// Inside the router (a route layer): records the matched route's pattern in the
/// answer for [`edge`], which runs outside the router and cannot see it.
pub async fn label_route(req: Request, next: Next) -> Response {
    // MatchedPath holds its pattern behind an Arc: cloning it allocates nothing.
    let label = req.extensions().get::<MatchedPath>().cloned();
    let mut res = next.run(req).await;
    if let Some(l) = label {
        res.extensions_mut().insert(RouteLabel(l));
    }
    res
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        // Any other method is one label: callers choose methods, and each label value
        // is a series kept for the life of the process.
        _ => "other",
    }
}

fn status_class(code: u16) -> &'static str {
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What [`edge`] needs: one value, cloned once per request.
#[derive(Clone)]
pub struct Edge(Arc<EdgeParts>);

struct EdgeParts {
    proxies: TrustedProxies,
    cors: Cors,
    limit: ClientLimit,
    admission: Admission,
}

impl Edge {
    pub fn new(
        proxies: TrustedProxies,
        cors: Cors,
        limit: ClientLimit,
        admission: Admission,
    ) -> Self {
        Self(Arc::new(EdgeParts {
            proxies,
            cors,
            limit,
            admission,
        }))
    }
}

/// The one layer every request passes, around the whole router. In order:
/// 1. the client behind a trusted proxy ([`crate::http::middleware::resolve_client`]),
///    so that the log, the limits and every handler see it;
/// 2. the request id, the access log line and the route metrics (see the module
///    documentation), around the refusal counter
///    ([`crate::http::admission::count_refusal`]);
/// 3. cross-origin access ([`crate::http::cors::cors`]);
/// 4. the per-client rate limit ([`crate::http::middleware::rate_limit`]);
/// 5. admission: body sizes and time, answer time, verification capacity
///    ([`crate::http::admission::admit`]);
/// 6. the JSON error shape and the page headers of every answer
///    ([`crate::http::middleware::finish`]).
///
/// Steps, not layers: each `from_fn` layer clones the whole stack beneath it and
/// boxes two futures on every request; as five layers they cost about 3% more server
/// CPU per verification.
pub async fn edge(State(edge): State<Edge>, mut req: Request, next: Next) -> Response {
    let e = &*edge.0;
    resolve_client(&e.proxies, &mut req);
    observed(req, count_refusal, move |req| {
        cors::cors(&e.cors, req, move |req| {
            rate_limit(&e.limit, req, move |req| {
                admit(&e.admission, req, move |req| {
                    finish(req, move |req| next.run(req))
                })
            })
        })
    })
    .await
}

/// Step 2 of [`edge`]: the id, the timing, the metrics and the access log around
/// `next`, with `inner` applied to the answer before it is observed.
async fn observed<F, Fut>(mut req: Request, inner: fn(&mut Response), next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let started = Instant::now();
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(new_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let method = method_label(req.method());
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let mut res = next(req).await;
    inner(&mut res);
    let elapsed = started.elapsed();
    let label = res.extensions().get::<RouteLabel>().map(|l| l.0.clone());
    let route = label.as_ref().map_or("unmatched", MatchedPath::as_str);
    let status = res.status().as_u16();
    let m = crate::metrics::metrics();
    m.requests.inc(&[route, method, status_class(status)]);
    m.latency.with(&[route, method]).observe_duration(elapsed);
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    tracing::info!(
        target: "accolade::access",
        request_id = %id,
        method,
        route = %route,
        status,
        micros = elapsed.as_micros() as u64,
        client = %client.map(|c| c.to_string()).unwrap_or_default(),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_request_ids_are_kept() {
        assert!(sane("abc-123_x.y"));
        assert!(sane(&"a".repeat(64)));
        for bad in ["", "a b", "a\"b", "é", "x\ny"] {
            assert!(!sane(bad), "{bad:?}");
        }
        assert!(!sane(&"a".repeat(65)));
        let made = new_id();
        assert!(sane(&made) && made.len() == 24, "{made}");
        assert_ne!(new_id(), made);
    }

    #[test]
    fn methods_and_statuses_fold_into_few_labels() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(
            method_label(&Method::from_bytes(b"BREW").expect("method")),
            "other"
        );
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }
}
