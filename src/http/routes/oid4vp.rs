//! OpenID4VP over HTTP: presentation requests for employers and the
//! two endpoints wallets use, see [`crate::oid4vp`].
//!
//! Employers: `POST /api/v1/presentation-requests` → 201 with the `openid4vp://`
//! link; `GET /api/v1/presentation-requests/{id}` → its state and result;
//! `.../{id}/qr.svg` and `.../{id}/qr.png` → the link as a QR code.
//! Wallets: `GET` or `POST /oid4vp/requests/{tx}` → the request object
//! (`application/oauth-authz-req+jwt`); `POST /oid4vp/responses/{tx}` → the answer
//! by `direct_post`. Wallet-facing errors use the OAuth shape
//! `{"error", "error_description"}` (OpenID4VP 1.0 §8.5).

use super::JsonBody;
use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use super::verify::media_type;
use crate::app::{AppState, RateLimit};
use crate::clock::format_seconds;
use crate::http::ApiError;
use crate::oid4vp::{self, ClientIdPrefix, Constraints, NewRequest, Query, RequestRecord};
use crate::partner::PartnerKey;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default)]
    credential_types: Vec<String>,
    #[serde(default)]
    trusted_issuers: Vec<String>,
    #[serde(default)]
    achievement_ids: Vec<String>,
    #[serde(default)]
    dcql_query: Option<Value>,
    #[serde(default)]
    presentation_definition: Option<Value>,
    /// `dcql` (default) or `presentation_exchange` (a definition built from the
    /// constraints, for wallets before OpenID4VP 1.0).
    #[serde(default)]
    query_language: Option<String>,
    #[serde(default)]
    client_id_prefix: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    purpose: Option<String>,
}

impl From<oid4vp::Error> for ApiError {
    fn from(e: oid4vp::Error) -> Self {
        use oid4vp::Error as E;
        match &e {
            E::InvalidQuery(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            E::InvalidResponse(_) => Self::bad_request(e.to_string()),
            E::NotFound(_) => Self::not_found(e.to_string()),
            E::Expired => Self::new(StatusCode::GONE, "expired", e.to_string()),
            E::AlreadyAnswered => {
                Self::new(StatusCode::CONFLICT, "already_answered", e.to_string())
            }
            E::Busy => Self::new(StatusCode::SERVICE_UNAVAILABLE, "busy", e.to_string()),
            E::Sign(_) | E::Store(_) => Self::internal(&e),
        }
    }
}

/// A wallet-facing error (OpenID4VP 1.0 §8.5, RFC 6749 §5.2), with `message` too.
fn wallet_error(e: oid4vp::Error) -> Response {
    use oid4vp::Error as E;
    let (status, code) = match &e {
        E::NotFound(_) => (StatusCode::NOT_FOUND, "invalid_request_uri"),
        E::Expired | E::AlreadyAnswered | E::InvalidResponse(_) | E::InvalidQuery(_) => {
            (StatusCode::BAD_REQUEST, "invalid_request")
        }
        E::Busy => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        E::Sign(_) | E::Store(_) => return ApiError::internal(&e).into_response(),
    };
    let text = e.to_string();
    (
        status,
        Json(json!({"error": code, "error_description": text, "message": text})),
    )
        .into_response()
}

fn parse_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.trim_start_matches("urn:uuid:"))
        .map_err(|_| ApiError::not_found(format!("no presentation request {id}")))
}

/// A presentation request as the verifier API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RequestView {
    pub id: String,
    /// `pending`, `verified`, `rejected` or `expired`.
    pub state: crate::records::presentation::State,
    pub created_at: String,
    pub expires_at: String,
    /// The verifier's client id as the wallet sees it.
    pub client_id: String,
    /// The `openid4vp://` link (or QR code) for the wallet.
    pub authorization_request: String,
    pub request_uri: String,
    pub response_uri: String,
    pub nonce: String,
    /// The QR code of `authorization_request` (SVG; `qr.png` beside it).
    pub qr_code: String,
    /// The DCQL query asked (OpenID4VP 1.0 §6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcql_query: Option<Value>,
    /// Or, for wallets before DCQL, the Presentation Exchange definition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presentation_definition: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The partner key that made the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_at: Option<String>,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The verdict once an answer decided the request (the `/api/v1/verify` report
    /// of a presentation); `null` until then.
    pub result: Option<Value>,
    /// Answers that decided nothing (unreadable, unauthenticated, not proven by the
    /// holder), the latest last.
    pub attempts: Vec<AttemptView>,
}

/// An answer that decided nothing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub at: String,
    pub reason: String,
}

fn view(state: &AppState, rec: &RequestRecord) -> RequestView {
    let o = &state.oid4vp;
    let (dcql_query, presentation_definition) = match &rec.query {
        Query::Dcql(q) => (Some(q.clone()), None),
        Query::PresentationDefinition(pd) => (None, Some(pd.clone())),
    };
    RequestView {
        id: rec.id.to_string(),
        state: o.state(rec),
        created_at: format_seconds(rec.created_at),
        expires_at: format_seconds(rec.expires_at),
        client_id: o.client_id(rec),
        authorization_request: o.authorization_request(rec),
        request_uri: o.request_uri(rec),
        response_uri: o.response_uri(rec),
        nonce: rec.nonce.clone(),
        qr_code: format!(
            "{}/api/v1/presentation-requests/{}/qr.svg",
            state.issuer.identifier(),
            rec.id
        ),
        dcql_query,
        presentation_definition,
        purpose: rec.purpose.clone(),
        created_by: rec.created_by.clone(),
        answered_at: rec.answered_at.map(format_seconds),
        reason: rec.reason.clone(),
        result: rec.result.clone(),
        attempts: rec
            .attempts
            .iter()
            .map(|a| AttemptView {
                at: format_seconds(a.at),
                reason: a.reason.clone(),
            })
            .collect(),
    }
}

/// `POST /api/v1/presentation-requests`.
pub async fn create(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    JsonBody(b): JsonBody<CreateBody>,
) -> Result<Response, ApiError> {
    // Each request is a stored record: anonymous callers get a bucket of their own.
    if key.is_none()
        && state.rate_limit != RateLimit::Off
        && let Some(Extension(ConnectInfo(addr))) = peer
        && let Some(res) =
            crate::http::middleware::refuse_anonymous_request(&state, addr.ip()).await
    {
        return Ok(res);
    }
    let legacy = match b.query_language.as_deref() {
        None | Some("dcql") => false,
        Some("presentation_exchange" | "presentation_definition") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                format!(
                    "query_language {other:?} is not supported; use \"dcql\" or \"presentation_exchange\""
                ),
            ));
        }
    };
    let prefix = match b.client_id_prefix.as_deref() {
        None => ClientIdPrefix::default(),
        Some(p) => p.parse().map_err(|m: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m)
        })?,
    };
    let input = NewRequest {
        constraints: Constraints {
            credential_types: b.credential_types,
            trusted_issuers: b.trusted_issuers,
            achievement_ids: b.achievement_ids,
        },
        dcql_query: b.dcql_query,
        presentation_definition: b.presentation_definition,
        legacy,
        prefix,
        expires_in: b.expires_in,
        max_ttl: if key.is_some() {
            oid4vp::MAX_TTL
        } else {
            oid4vp::MAX_ANONYMOUS_TTL
        },
        purpose: b.purpose,
        created_by: key.map(|Extension(k)| k.id),
    };
    let rec = state.oid4vp.create(input).await?;
    let mut res = (StatusCode::CREATED, Json(view(&state, &rec))).into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!(
        "{}/api/v1/presentation-requests/{}",
        state.issuer.identifier(),
        rec.id
    )) {
        res.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(res)
}

/// `GET /api/v1/presentation-requests/{id}`.
pub async fn get(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = state.oid4vp.get(parse_id(&id)?).await?;
    // A request made with a partner key is that partner's: without the key it is
    // answered as if it did not exist. (Requests staff made in the console are the console's page's to poll.)
    if let Some(owner) = &rec.created_by
        && state.partner_keys.get(owner).is_ok()
        && key.as_ref().map(|Extension(k)| &k.id) != Some(owner)
    {
        return Err(oid4vp::Error::NotFound(id).into());
    }
    let mut res = Json(view(&state, &rec)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn qr_error(e: crate::qr::Error) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_long_for_qr",
        format!("{e}; open the authorization_request link instead"),
    )
}

/// `GET /api/v1/presentation-requests/{id}/qr.svg`.
pub async fn qr_svg(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = state.oid4vp.get(parse_id(&id)?).await?;
    let link = state.oid4vp.authorization_request(&rec);
    let svg = crate::qr::svg(&link).map_err(qr_error)?;
    Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response())
}

/// `GET /api/v1/presentation-requests/{id}/qr.png`.
pub async fn qr_png(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = state.oid4vp.get(parse_id(&id)?).await?;
    let link = state.oid4vp.authorization_request(&rec);
    let png = crate::qr::png(&link).map_err(qr_error)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

async fn request_object_response(
    state: &AppState,
    tx: &str,
    wallet_nonce: Option<&str>,
) -> Response {
    let o = &state.oid4vp;
    let jwt = match o.id_for_tx(tx).await {
        Ok(id) => o.request_object(id, wallet_nonce).await,
        Err(e) => Err(e),
    };
    match jwt {
        Ok(jwt) => (
            [
                (header::CONTENT_TYPE, "application/oauth-authz-req+jwt"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            jwt,
        )
            .into_response(),
        Err(e) => wallet_error(e),
    }
}

/// `GET /oid4vp/requests/{tx}` (RFC 9101 §5.2).
pub async fn request_object_get(State(state): State<AppState>, Path(tx): Path<String>) -> Response {
    request_object_response(&state, &tx, None).await
}

#[derive(Debug, Default, Deserialize)]
struct RequestUriPost {
    #[serde(default)]
    wallet_nonce: Option<String>,
}

/// `POST /oid4vp/requests/{tx}` (`request_uri_method=post`, OpenID4VP 1.0 §5.10).
pub async fn request_object_post(
    State(state): State<AppState>,
    Path(tx): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: RequestUriPost = if body.is_empty() {
        RequestUriPost::default()
    } else if media_type(&headers) == "application/x-www-form-urlencoded" {
        match serde_urlencoded_form(&body) {
            Ok(f) => f,
            Err(m) => return wallet_error(oid4vp::Error::InvalidResponse(m)),
        }
    } else {
        return wallet_error(oid4vp::Error::InvalidResponse(
            "send the request_uri POST as application/x-www-form-urlencoded".into(),
        ));
    };
    if form.wallet_nonce.as_ref().is_some_and(|n| n.len() > 512) {
        return wallet_error(oid4vp::Error::InvalidResponse(
            "wallet_nonce is too long".into(),
        ));
    }
    request_object_response(&state, &tx, form.wallet_nonce.as_deref()).await
}

fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let pairs: serde_json::Map<String, Value> = url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
        .collect();
    serde_json::from_value(Value::Object(pairs)).map_err(|e| format!("the form is not valid: {e}"))
}

/// `POST /oid4vp/responses/{tx}`: the wallet's answer by `direct_post` (§8.2).
pub async fn response(
    State(state): State<AppState>,
    Path(tx): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if media_type(&headers) != "application/x-www-form-urlencoded" {
        return wallet_error(oid4vp::Error::InvalidResponse(
            "direct_post answers are application/x-www-form-urlencoded".into(),
        ));
    }
    // Duplicate parameters are refused (RFC 6749 §3.1), as a later one would
    // silently win.
    let mut seen = std::collections::HashSet::new();
    for (k, _) in url::form_urlencoded::parse(&body) {
        if !seen.insert(k.into_owned()) {
            return wallet_error(oid4vp::Error::InvalidResponse(
                "a parameter appears twice".into(),
            ));
        }
    }
    let form: oid4vp::ResponseForm = match serde_urlencoded_form(&body) {
        Ok(f) => f,
        Err(m) => return wallet_error(oid4vp::Error::InvalidResponse(m)),
    };
    let o = &state.oid4vp;
    let id = match o.id_for_tx(&tx).await {
        Ok(id) => id,
        Err(e @ (oid4vp::Error::Sign(_) | oid4vp::Error::Store(_))) => return wallet_error(e),
        Err(_) => {
            let text = "no presentation request answers at this URI";
            return (
                StatusCode::NOT_FOUND,
                Json(
                    json!({"error": "invalid_request", "error_description": text, "message": text}),
                ),
            )
                .into_response();
        }
    };
    // §8.2: an answer that was processed gets 200, whatever the verdict; the
    // verdict is the employer's to read.
    match o.respond(&state.verifier, id, &form).await {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => wallet_error(e),
    }
}
