//! Cross-origin access (the Fetch standard's CORS protocol), granted route by route.
//!
//! Any web page may read what is public and meant for machines: the DID document,
//! status lists, the OpenID4VCI and OpenID4VP metadata and endpoints (a browser
//! wallet talks to them from its own origin), the public JSON and JWT forms of
//! achievements, badges and earners' records, and the verifier routes (a partner's
//! page calls them). Everything else answers without CORS headers, so a browser keeps
//! other origins from reading it: the admin API, the staff console and its sign-in,
//! earners' private manage links, claim pages and the human pages.
//!
//! The grant is `Access-Control-Allow-Origin: *` with no credentials (these routes
//! authenticate, when at all, with a bearer or API key a script sends explicitly);
//! a preflight (`OPTIONS` with `Access-Control-Request-Method`) on one of them gets
//! `204` naming the methods and headers allowed.

use std::future::Future;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How long a browser may keep a preflight's answer, seconds.
pub const MAX_AGE: &str = "3600";

/// Where the grant applies: the public URL's path (empty when it has none).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    pub base_path: String,
}

/// `full` with the public URL's path (`base`, empty when none) removed. Routes
/// outside the base (the well-known documents RFC 8414 places at the host's root)
/// keep their whole path.
pub fn route_path<'a>(base: &str, full: &'a str) -> &'a str {
    if base.is_empty() {
        return full;
    }
    full.strip_prefix(base)
        .filter(|rest| rest.starts_with('/'))
        .unwrap_or(full)
}

/// Whether `path` (with the public URL's path already removed) is one other origins
/// may read.
pub fn is_public(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/.well-known/",
        "/status/",
        "/oid4vci/",
        "/oid4vp/",
        "/api/v1/verify",
        "/api/v1/presentation-requests",
        "/credentials/verify",
        "/presentations/verify",
        "/achievements/",
        "/badges/",
    ];
    if path == "/did.json" || PREFIXES.iter().any(|p| path.starts_with(p)) {
        // An earner's records are public only in their published form.
        return true;
    }
    path.starts_with("/profiles/") && path.ends_with("/clr")
}

/// The middleware (one step of [`crate::http::observe::edge`]): adds the grant to
/// answers on public routes and answers their preflights.
pub async fn cors<F, Fut>(cors: &Cors, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let path = route_path(&cors.base_path, req.uri().path());
    if !is_public(path) {
        return next(req).await;
    }
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        let h = res.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, HEAD, POST, OPTIONS"),
        );
        // Echo the headers asked for: the grant carries no credentials, so any
        // request header (Authorization, X-API-Key, DPoP...) may be sent.
        let asked = req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("content-type"));
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static("access-control-request-headers"),
        );
        return res;
    }
    let mut res = next(req).await;
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("location, retry-after, content-disposition, www-authenticate"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_routes_are_granted_and_private_ones_are_not() {
        for p in [
            "/.well-known/did.json",
            "/.well-known/openid-credential-issuer",
            "/did.json",
            "/status/revocation/1",
            "/oid4vci/token",
            "/oid4vp/responses/x",
            "/api/v1/verify",
            "/api/v1/verify/batch",
            "/api/v1/presentation-requests/1",
            "/credentials/verify",
            "/presentations/verify",
            "/achievements/a",
            "/badges/b/credential.jwt",
            "/profiles/ada/clr",
        ] {
            assert!(is_public(p), "{p}");
        }
        for p in [
            "/",
            "/admin",
            "/admin/login",
            "/api/v1/achievements",
            "/api/v1/awards",
            "/api/v1/auth/login",
            "/api/v1/keys",
            "/credentials/issue",
            "/claim/x",
            "/earner/a/b",
            "/earner/a/b/clr",
            "/profiles/ada",
            "/verify",
            "/mail/unsubscribe/a/b",
        ] {
            assert!(!is_public(p), "{p}");
        }
    }
}
