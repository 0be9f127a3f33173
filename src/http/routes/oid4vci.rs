//! OpenID4VCI endpoints: discovery, offers, token, nonce, credential, deferred,
//! notification. Errors are OAuth-shaped (`{"error", "error_description"}`), not the
//! admin API's shape, because wallets read them.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::AppState;
use crate::http::ApiError;
use crate::oid4vci::{Answer, Dialect, Error, TokenRequest, metadata};

const NO_STORE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "no-store");

/// An OpenID4VCI error answer in a dialect.
struct OauthError {
    error: Error,
    dialect: Dialect,
    /// A fresh nonce for draft-13 proof errors (draft 13 §7.3.2).
    c_nonce: Option<(String, i64)>,
}

impl OauthError {
    fn plain(error: Error) -> Self {
        Self {
            error,
            dialect: Dialect::V1,
            c_nonce: None,
        }
    }
}

impl IntoResponse for OauthError {
    fn into_response(self) -> Response {
        let Some(mut code) = self.error.code() else {
            return ApiError::internal(&self.error).into_response();
        };
        if self.dialect == Dialect::Draft13 && code == "invalid_nonce" {
            // Draft 13 has no invalid_nonce: a bad nonce is a bad proof.
            code = "invalid_proof";
        }
        let status = match &self.error {
            Error::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Error::InsufficientScope(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut body = json!({"error": code, "error_description": self.error.to_string()});
        if let Error::IssuancePending = self.error {
            body["interval"] = json!(crate::oid4vci::DEFERRED_INTERVAL);
        }
        if let Some((n, ttl)) = self.c_nonce {
            body["c_nonce"] = json!(n);
            body["c_nonce_expires_in"] = json!(ttl);
        }
        let mut res = (status, [NO_STORE], Json(body)).into_response();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
            && let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{code}\""))
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    }
}

fn json_no_store(status: StatusCode, body: Value) -> Response {
    (status, [NO_STORE], Json(body)).into_response()
}

/// `GET /.well-known/openid-credential-issuer` (and the path variants).
pub async fn issuer_metadata(State(state): State<AppState>) -> Result<Response, ApiError> {
    let profile = state.issuer.profile().await?;
    let m = metadata::issuer_metadata(
        &state.issuer.identifier(),
        &profile,
        state.issuer.signing_algorithm(),
    );
    Ok(([(header::CACHE_CONTROL, "public, max-age=60")], Json(m)).into_response())
}

/// `GET /.well-known/oauth-authorization-server` (and the path variants).
pub async fn authorization_server_metadata(State(state): State<AppState>) -> Response {
    let m = metadata::authorization_server_metadata(&state.issuer.identifier());
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(m)).into_response()
}

/// `GET /oid4vci/offers/{id}`: the Credential Offer by reference (1.0 §4.1.3).
pub async fn get_offer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let offer = state.issuer.offer_by_id(&id).await?;
    Ok(json_no_store(StatusCode::OK, offer))
}

/// Reads the token request: `application/x-www-form-urlencoded` (RFC 6749 §4.5);
/// a parameter given twice is refused (§3.1). JSON is accepted too, from wallets that
/// send it.
fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, Error> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    let mut pairs: Vec<(String, String)> = Vec::new();
    if is_json {
        let v: Value = serde_json::from_slice(body)
            .map_err(|_| Error::InvalidRequest("the body is not JSON".into()))?;
        let o = v
            .as_object()
            .ok_or_else(|| Error::InvalidRequest("the body must be a JSON object".into()))?;
        for (k, v) in o {
            let s = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            pairs.push((k.clone(), s));
        }
    } else {
        for (k, v) in url::form_urlencoded::parse(body) {
            pairs.push((k.into_owned(), v.into_owned()));
        }
    }
    let mut req = TokenRequest::default();
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            return Err(Error::InvalidRequest(format!(
                "{k} is given more than once"
            )));
        }
        match k.as_str() {
            "grant_type" => req.grant_type = Some(v),
            "pre-authorized_code" => req.pre_authorized_code = Some(v),
            "tx_code" => req.tx_code = Some(v),
            // Drafts 11/12 called it user_pin; some wallets send both.
            "user_pin" if req.tx_code.is_none() => req.tx_code = Some(v),
            "refresh_token" => req.refresh_token = Some(v),
            "authorization_details" => req.authorization_details = Some(v),
            _ => {}
        }
    }
    Ok(req)
}

/// `POST /oid4vci/token` (1.0 §6).
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let req = match token_request(&headers, &body) {
        Ok(r) => r,
        Err(e) => return OauthError::plain(e).into_response(),
    };
    match state.oid4vci.token(&req).await {
        Ok(body) => json_no_store(StatusCode::OK, body),
        Err(e) => OauthError::plain(e).into_response(),
    }
}

/// `POST /oid4vci/nonce` (1.0 §7): no body, no token.
pub async fn nonce(State(state): State<AppState>) -> Response {
    match state.oid4vci.nonce().await {
        Ok(n) => json_no_store(
            StatusCode::OK,
            json!({"c_nonce": n.value, "c_nonce_expires_in": n.expires_in}),
        ),
        Err(e) => OauthError::plain(e).into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("dpop"))
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn json_body(body: &[u8]) -> Result<Value, Error> {
    crate::jose::json::from_slice_strict(body).map_err(|e| {
        Error::InvalidCredentialRequest(format!("the body is not a JSON object ({e:?})"))
    })
}

fn answer(a: Answer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    json_no_store(status, a.body)
}

async fn dialect_error(state: &AppState, dialect: Dialect, error: Error) -> Response {
    let fresh_nonce = dialect == Dialect::Draft13
        && matches!(error, Error::InvalidProof(_) | Error::InvalidNonce(_));
    let c_nonce = if fresh_nonce {
        state
            .oid4vci
            .nonce()
            .await
            .ok()
            .map(|n| (n.value, n.expires_in))
    } else {
        None
    };
    OauthError {
        error,
        dialect,
        c_nonce,
    }
    .into_response()
}

/// `POST /oid4vci/credential` (1.0 §8; draft 13 §7).
pub async fn credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(e) => {
            // Say who is asking before saying what is wrong with the body.
            if let Err(t) = state.oid4vci.authenticate(bearer(&headers)).await {
                return OauthError::plain(t).into_response();
            }
            return OauthError::plain(e).into_response();
        }
    };
    match state.oid4vci.credential(bearer(&headers), &v).await {
        Ok(a) => answer(a),
        Err((dialect, e)) => dialect_error(&state, dialect, e).await,
    }
}

/// `POST /oid4vci/deferred` (1.0 §9; draft 13 §9).
pub async fn deferred(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(e) => return OauthError::plain(e).into_response(),
    };
    match state.oid4vci.deferred(bearer(&headers), &v).await {
        Ok(a) => answer(a),
        Err((dialect, e)) => dialect_error(&state, dialect, e).await,
    }
}

/// `POST /oid4vci/notification` (1.0 §11) → 204.
pub async fn notification(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let v = match json_body(&body) {
        Ok(v) => v,
        Err(e) => {
            return OauthError::plain(Error::InvalidNotificationRequest(e.to_string()))
                .into_response();
        }
    };
    match state.oid4vci.notify(bearer(&headers), &v).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => OauthError::plain(e).into_response(),
    }
}
