//! Partner API keys' admin API (see [`crate::partner`]). Every route sits behind the
//! admin token; every 2xx answer to a write comes after the store was flushed.
//!
//! - `POST /api/v1/api-keys` `{"name", "rate_limit"?}` → `201 {"id", "name", "key",
//!   "rate_limit", "created_at", "updated_at", "revoked", "revoked_at", "usage"}`.
//!   `key` (the secret) appears in this answer only.
//! - `GET /api/v1/api-keys` → `{"api_keys": [...]}`; `GET /api/v1/api-keys/{id}`.
//!   `usage` is `{"requests", "verifications", "rejected_rate_limited",
//!   "last_used_at"}`, the live counts.
//! - `PATCH /api/v1/api-keys/{id}` `{"name"?, "rate_limit"?}`.
//! - `POST /api/v1/api-keys/{id}/revoke` → `200` with the key (`revoked: true`), also
//!   when it was revoked already.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::JsonBody;
use crate::app::AppState;
use crate::http::ApiError;
use crate::http::views::{ApiKeyList, NewApiKey};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    #[serde(default)]
    rate_limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rate_limit: Option<u32>,
}

/// `POST /api/v1/api-keys` → 201 with the secret, shown this once.
pub async fn create_key(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let (view, secret) = state.partner_keys.create(&req.name, req.rate_limit).await?;
    state.partner_keys.flush().await?;
    let note = crate::http::access::AuditNote::target(view.id.to_string())
        .with_detail(json!({"name": view.name}));
    Ok(crate::http::access::noted(
        (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(NewApiKey {
                view,
                key: secret.expose().to_owned(),
            }),
        ),
        note,
    ))
}

/// `GET /api/v1/api-keys`
pub async fn list_keys(State(state): State<AppState>) -> Json<ApiKeyList> {
    Json(ApiKeyList {
        api_keys: state.partner_keys.list(),
    })
}

/// `GET /api/v1/api-keys/{id}`
pub async fn get_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.partner_keys.get(&id)?).into_response())
}

/// `PATCH /api/v1/api-keys/{id}`
pub async fn update_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<KeyChange>,
) -> Result<Response, ApiError> {
    let view = state
        .partner_keys
        .update(&id, req.name.as_deref(), req.rate_limit)
        .await?;
    state.partner_keys.flush().await?;
    Ok(Json(view).into_response())
}

/// `POST /api/v1/api-keys/{id}/revoke`
pub async fn revoke_key(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = state.partner_keys.revoke(&id).await?;
    state.partner_keys.flush().await?;
    Ok(Json(view).into_response())
}
