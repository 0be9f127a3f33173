//! Who may call an admin route, decided in one place for every route.
//!
//! Each admin route names the least [`Role`] it needs and the action it is recorded
//! as ([`Rule`]). [`authorize`] finds the principal — the admin token (an owner), a
//! staff member's personal API token, or a session cookie (whose unsafe requests must
//! carry the session's CSRF token in `X-CSRF-Token`) — refuses (`401` without one,
//! `403` with too little a role), hands the principal to the handler, and writes every
//! state-changing call that succeeded (and every refusal) to the audit trail: who
//! (from the principal, never from the body), what, when, from which address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::app::AppState;
use crate::http::ApiError;
use crate::records::Role;
use crate::staff::{Principal, Via};

/// The session cookie.
pub const SESSION_COOKIE: &str = "accolade_session";
/// The cookie that marks a browser where a member signed in before.
pub const DEVICE_COOKIE: &str = "accolade_device";
/// The header that carries a session's CSRF token on API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What a route needs and how it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub role: Role,
    /// The audit trail's name for a call (`award.create`).
    pub action: &'static str,
    /// A member's own business (`/api/v1/me/...`): any role may write it, and a
    /// session that must first set up two-factor sign-in may use it.
    pub own: bool,
}

impl Rule {
    pub const fn new(role: Role, action: &'static str) -> Self {
        Self {
            role,
            action,
            own: false,
        }
    }

    pub const fn own(action: &'static str) -> Self {
        Self {
            role: Role::Viewer,
            action,
            own: true,
        }
    }
}

/// What a handler adds to its audit entry (a response extension).
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub target: Option<String>,
    pub detail: Option<Value>,
}

impl AuditNote {
    pub fn target(t: impl Into<String>) -> Self {
        Self {
            target: Some(t.into()),
            detail: None,
        }
    }

    pub fn with_detail(mut self, d: Value) -> Self {
        self.detail = Some(d);
        self
    }
}

/// The client's address, as the connection gave it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl ClientAddr {
    pub fn of(req: &Request) -> Self {
        Self(
            req.extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        )
    }
}

/// The rules by (method, full path template).
#[derive(Clone, Debug)]
pub struct Access {
    pub state: AppState,
    pub rules: Arc<HashMap<(Method, String), Rule>>,
}

/// A cookie's value in a request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Where the service's cookies apply: the public URL's path, and `; Secure` when the
/// public URL is https.
pub fn cookie_scope(state: &AppState) -> (String, &'static str) {
    let path = match state.public_url.path().trim_end_matches('/') {
        "" => "/".to_owned(),
        p => p.to_owned(),
    };
    let secure = if state.public_url.scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    (path, secure)
}

/// The client address a handler was given by the connection, if any.
pub fn peer(c: Option<axum::extract::Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    c.map(|axum::extract::Extension(ConnectInfo(a))| a.ip())
}

/// A `Set-Cookie` value for one of the staff cookies: HttpOnly, `SameSite=Lax`,
/// scoped to the public URL's path, `Secure` when the public URL is https (also when
/// TLS ends at a proxy in front). `max_age` 0 removes it.
pub fn set_cookie(state: &AppState, name: &str, value: &str, max_age: i64) -> Option<HeaderValue> {
    let (path, secure) = cookie_scope(state);
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .ok()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn forbidden(code: &'static str, message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, code, message).into_response()
}

/// Who a request is from: `Ok(None)` when it shows no credentials at all.
pub async fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if let Some(t) = bearer(headers) {
        if state.admin_token.matches(t) {
            return Ok(Some(Principal::admin_token()));
        }
        return match state.staff.token(t).await? {
            Some(p) => Ok(Some(p)),
            None => Err(ApiError::unauthorized()),
        };
    }
    if let Some(c) = cookie(headers, SESSION_COOKIE) {
        return state
            .staff
            .session(c)
            .await?
            .map(Some)
            .ok_or_else(ApiError::unauthorized);
    }
    Ok(None)
}

/// Whether a request carries the session's CSRF token (API calls: the header).
pub fn csrf_ok(p: &Principal, presented: Option<&str>) -> bool {
    match &p.via {
        Via::Session { csrf, .. } => presented.is_some_and(|t| {
            t.len() == csrf.len() && bool::from(t.as_bytes().ct_eq(csrf.as_bytes()))
        }),
        _ => true,
    }
}

/// The target of a call: the `{id}` segment of its path, if any.
fn target_of(template: &str, path: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter(|(t, _)| t.starts_with('{'))
        .map(|(_, p)| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .last()
}

/// What a session that must first set up two-factor sign-in may do.
const SETUP_ACTIONS: [&str; 3] = ["me.read", "me.totp_begin", "me.totp_confirm"];

/// Records a refused call: `denied.<action>` (too little a role), `csrf.<action>`,
/// `totp_setup_required.<action>`.
async fn refused(
    state: &AppState,
    p: &Principal,
    why: &str,
    action: &str,
    target: Option<String>,
    addr: ClientAddr,
) {
    let mut e = state
        .staff
        .entry(Some(p), &format!("{why}.{action}"), target, addr.0);
    e.status = Some(403);
    if let Err(err) = state.staff.record(e).await {
        tracing::error!(error = %err, "writing the audit trail");
    }
}

/// The middleware on every admin route.
pub async fn authorize(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let state = &access.state;
    let method = req.method().clone();
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    // HEAD is GET without the body, with GET's rule.
    let lookup = if method == Method::HEAD {
        Method::GET
    } else {
        method.clone()
    };
    let Some(rule) = access.rules.get(&(lookup, template.clone())).copied() else {
        // A route without a rule is a bug; refuse rather than guess.
        tracing::error!(%method, %template, "an admin route has no access rule");
        return forbidden("forbidden", "this route has no access rule");
    };
    let p = match principal(state, req.headers()).await {
        Ok(Some(p)) => p,
        Ok(None) => return ApiError::unauthorized().into_response(),
        Err(e) => return e.into_response(),
    };
    let addr = ClientAddr::of(&req);
    let path = req.uri().path().to_owned();
    let target = target_of(&template, &path);
    if !is_safe(&method) {
        let presented = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !csrf_ok(&p, presented) {
            refused(state, &p, "csrf", rule.action, target.clone(), addr).await;
            return forbidden(
                "csrf",
                "a call made with the session cookie must send the session's CSRF token in the X-CSRF-Token header",
            );
        }
    }
    if let Via::Session {
        totp_setup_required: true,
        ..
    } = p.via
        && !SETUP_ACTIONS.contains(&rule.action)
    {
        refused(
            state,
            &p,
            "totp_setup_required",
            rule.action,
            target.clone(),
            addr,
        )
        .await;
        return forbidden(
            "totp_setup_required",
            "set up two-factor sign-in first (POST /api/v1/me/totp, then /api/v1/me/totp/confirm): an owner requires it",
        );
    }
    if !p.may(rule.role) {
        refused(state, &p, "denied", rule.action, target, addr).await;
        return forbidden(
            "forbidden",
            format!(
                "this needs the {} role; {} is {}",
                rule.role, p.actor, p.role
            ),
        );
    }
    req.extensions_mut().insert(p.clone());
    req.extensions_mut().insert(addr);
    let res = next.run(req).await;
    if !is_safe(&method) && res.status().is_success() {
        let mut note = res
            .extensions()
            .get::<AuditNote>()
            .cloned()
            .unwrap_or_default();
        // A created thing's id, when the answer names it.
        if note.target.is_none() && target.is_none() {
            note.target = res
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
        }
        let mut e = state
            .staff
            .entry(Some(&p), rule.action, note.target.or(target), addr.0);
        e.status = Some(res.status().as_u16());
        e.detail = note.detail;
        if let Err(err) = state.staff.record(e).await {
            tracing::error!(error = %err, "writing the audit trail");
        }
    }
    res
}

/// An answer with an audit note attached.
pub fn noted(res: impl IntoResponse, note: AuditNote) -> Response {
    let mut r = res.into_response();
    r.extensions_mut().insert(note);
    r
}

/// A JSON answer with a note (the common case).
pub fn noted_json(status: StatusCode, body: impl serde::Serialize, note: AuditNote) -> Response {
    noted((status, axum::Json(body)), note)
}

/// `{"detail": ...}` helper for notes that carry one value.
pub fn detail(k: &str, v: impl Into<Value>) -> Value {
    json!({ k: v.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_the_last_path_parameter_decoded() {
        assert_eq!(
            target_of(
                "/api/v1/credentials/{id}/revoke",
                "/api/v1/credentials/urn%3Auuid%3Aab/revoke"
            ),
            Some("urn:uuid:ab".into())
        );
        assert_eq!(target_of("/api/v1/awards", "/api/v1/awards"), None);
    }

    #[test]
    fn only_a_session_needs_the_csrf_token() {
        let admin = Principal::admin_token();
        assert!(csrf_ok(&admin, None));
        let mut s = admin;
        s.via = Via::Session {
            digest: [0; 32],
            csrf: "abc".into(),
            totp_setup_required: false,
        };
        assert!(csrf_ok(&s, Some("abc")));
        assert!(!csrf_ok(&s, Some("abd")));
        assert!(!csrf_ok(&s, Some("ab")));
        assert!(!csrf_ok(&s, None));
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; accolade_session=xyz; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
