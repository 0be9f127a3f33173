//! Catalogue settings and images in the admin API: badge types, where an achievement
//! sits, achievement and issuer images, and hiding or showing a badge's page. None of
//! it is signed into a credential (an uploaded image's URL excepted: badges name their
//! image by URL).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::JsonBody;
use crate::app::AppState;
use crate::catalogue::{BadgeTypeInput, PlacementInput};
use crate::http::ApiError;
use crate::http::views::{BadgeTypeList, ImageUrl, Visibility as VisibilityView};
use crate::records::Visibility;

/// `GET /api/v1/badge-types`
pub async fn list_badge_types(
    State(state): State<AppState>,
) -> Result<Json<BadgeTypeList>, ApiError> {
    let types = state.catalogue.badge_types().await?;
    Ok(Json(BadgeTypeList { badge_types: types }))
}

/// `POST /api/v1/badge-types` → 201 with the type.
pub async fn create_badge_type(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<BadgeTypeInput>,
) -> Result<Response, ApiError> {
    let t = state.catalogue.create_badge_type(input).await?;
    let note = crate::http::access::AuditNote::target(t.id.clone());
    Ok(crate::http::access::noted(
        (StatusCode::CREATED, Json(t)),
        note,
    ))
}

/// `GET /api/v1/badge-types/{id}`
pub async fn get_badge_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.catalogue.badge_type(&id).await?).into_response())
}

/// `PUT /api/v1/badge-types/{id}`
pub async fn put_badge_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<BadgeTypeInput>,
) -> Result<Response, ApiError> {
    Ok(Json(state.catalogue.update_badge_type(&id, input).await?).into_response())
}

/// `DELETE /api/v1/badge-types/{id}` → 204; its achievements become untyped.
pub async fn delete_badge_type(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.catalogue.delete_badge_type(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/achievements/{id}/catalogue`
pub async fn get_placement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.catalogue.placement(&id).await?).into_response())
}

/// `PUT /api/v1/achievements/{id}/catalogue`
pub async fn put_placement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<PlacementInput>,
) -> Result<Response, ApiError> {
    Ok(Json(state.catalogue.place(&id, input).await?).into_response())
}

/// The declared type of an upload, if one was declared (`application/octet-stream`
/// declares nothing).
fn content_type(headers: &HeaderMap) -> Option<String> {
    Some(super::verify::media_type(headers))
        .filter(|v| !v.is_empty() && v != "application/octet-stream")
}

/// `PUT /api/v1/achievements/{id}/image` with a raw PNG or SVG body → `{"url"}`.
pub async fn put_achievement_image(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = content_type(&headers);
    let url = state
        .catalogue
        .set_achievement_image(&id, &body, ct.as_deref())
        .await?;
    Ok(Json(ImageUrl { url }).into_response())
}

/// `PUT /api/v1/issuer/image` with a raw PNG or SVG body → `{"url"}`.
pub async fn put_issuer_image(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ct = content_type(&headers);
    let url = state
        .catalogue
        .set_issuer_image(&body, ct.as_deref())
        .await?;
    Ok(Json(ImageUrl { url }).into_response())
}

async fn set_visibility(state: &AppState, id: &str, v: Visibility) -> Result<Response, ApiError> {
    let award = state.issuer.credential(id).await?;
    state.catalogue.set_visibility(award.id, v).await?;
    Ok(Json(VisibilityView {
        credential_id: award.credential_id(),
        public: v.is_public(),
        badge_url: format!("{}/badges/{}", state.issuer.identifier(), award.id),
    })
    .into_response())
}

/// `POST /api/v1/credentials/{id}/hide`: the badge's page answers 404 (it still verifies).
pub async fn hide_credential(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_visibility(&state, &id, Visibility::Hidden).await
}

/// `POST /api/v1/credentials/{id}/show`
pub async fn show_credential(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    set_visibility(&state, &id, Visibility::Public).await
}
