//! Public routes: health, the DID document, dereferenceable achievements.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;
use crate::http::ApiError;

/// `GET /healthz`: 200 while the service serves.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// `GET /.well-known/did.json` (or `/<path>/did.json`): the issuer's DID document.
pub async fn get_did_document(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/did+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        Json(state.did_document.as_ref().clone()),
    )
        .into_response()
}

/// `GET /achievements/{id}`: an achievement's id URL dereferences to its definition.
pub async fn get_public_achievement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = state.issuer.achievement(&id)?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(rec.achievement),
    )
        .into_response())
}

/// Unknown paths: a JSON 404.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Known path, wrong method: a JSON 405.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
