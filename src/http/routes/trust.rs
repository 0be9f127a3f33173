//! The trust registry's admin API (see [`crate::trust`]). Every route sits behind the
//! admin token; every 2xx answer to a write comes after the store was flushed.
//!
//! - `GET /api/v1/trust/issuers` → `{"issuers": [entry, ...]}` (ordered by id; the
//!   export format that the import reads back).
//! - `POST /api/v1/trust/issuers` `{"id", "name", "website"?, "logo"?, "location"?,
//!   "status"?}` → `201` with the entry (created or replaced; `status` defaults to
//!   `trusted`).
//! - `GET`, `PUT`, `DELETE /api/v1/trust/issuers/{id}`, the issuer id percent-encoded.
//!   `PUT` takes the same body (its `id`, when present, must be the path's) and
//!   answers `200`, or `201` when it created the entry; `DELETE` answers `204`, `404`
//!   when there was no entry.
//! - `POST /api/v1/trust/import[?name=<registry name>]` with a DCC registry or an
//!   export → `{"imported", "updated", "unchanged", "skipped": [{"id", "reason"}]}`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::JsonBody;
use crate::app::AppState;
use crate::http::ApiError;
use crate::http::views::TrustList;
use crate::trust::{self, Document, EntryInput, Format, IssuerId, Source};

fn issuer_id(raw: &str) -> Result<IssuerId, ApiError> {
    Ok(raw.parse::<IssuerId>().map_err(trust::Error::from)?)
}

/// `GET /api/v1/trust/issuers`
pub async fn list_entries(State(state): State<AppState>) -> Json<TrustList> {
    let issuers = state
        .trust
        .list()
        .iter()
        .map(|e| e.as_ref().clone())
        .collect();
    Json(TrustList { issuers })
}

/// `POST /api/v1/trust/issuers` → 201 with the entry.
pub async fn create_entry(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<EntryInput>,
) -> Result<Response, ApiError> {
    let id = issuer_id(input.id.as_deref().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "id: required (the issuer id as badges state it: a DID or an https URL)",
        )
    })?)?;
    let fields = input.fields()?;
    let target = id.to_string();
    let (entry, _) = state.trust.put(id, fields, Source::Admin).await?;
    state.trust.flush().await?;
    Ok(crate::http::access::noted(
        (StatusCode::CREATED, Json(entry.as_ref().clone())),
        crate::http::access::AuditNote::target(target),
    ))
}

/// `GET /api/v1/trust/issuers/{id}`
pub async fn get_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let entry = state.trust.get(&issuer_id(&id)?)?;
    Ok(Json(entry.as_ref().clone()).into_response())
}

/// `PUT /api/v1/trust/issuers/{id}` → 200, or 201 when created.
pub async fn put_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<EntryInput>,
) -> Result<Response, ApiError> {
    let id = issuer_id(&id)?;
    if let Some(other) = input.id.as_deref()
        && issuer_id(other)? != id
    {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("id: the body names {other}, the path {id}"),
        ));
    }
    let fields = input.fields()?;
    let (entry, created) = state.trust.put(id, fields, Source::Admin).await?;
    state.trust.flush().await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(entry.as_ref().clone())).into_response())
}

/// `DELETE /api/v1/trust/issuers/{id}` → 204, or 404.
pub async fn delete_entry(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = issuer_id(&id)?;
    if !state.trust.remove(&id).await? {
        return Err(trust::Error::NotFound(id.to_string()).into());
    }
    state.trust.flush().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The registry's name, recorded as each entry's source (the DCC format does not
    /// carry one: its clients name each registry in their own configuration).
    #[serde(default)]
    name: Option<String>,
}

/// `POST /api/v1/trust/import`
pub async fn import_registry(
    State(state): State<AppState>,
    Query(q): Query<ImportQuery>,
    JsonBody(value): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let doc = Document::parse(&value)?;
    let name = q
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .or_else(|| doc.name.clone())
        .unwrap_or_else(|| {
            match doc.format {
                Format::Dcc => "DCC registry",
                Format::Accolade => "accolade export",
            }
            .to_owned()
        });
    if name.chars().count() > trust::MAX_TEXT_CHARS || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!(
                "name: at most {} characters, no control characters",
                trust::MAX_TEXT_CHARS
            ),
        ));
    }
    let summary = state.trust.import(doc, &Source::Import(name)).await?;
    state.trust.flush().await?;
    Ok(Json(summary).into_response())
}
