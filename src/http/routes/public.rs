//! Public routes: health, the DID document, status lists.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::ApiError;
use crate::status::StatusPurpose;

/// `GET /healthz`: 200 while the service serves.
pub async fn healthz() -> impl IntoResponse {
    Json(crate::http::views::Health { status: "ok" })
}

/// `GET /.well-known/did.json` (or `/<path>/did.json`): the issuer's DID document.
pub async fn get_did_document(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/did+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        Json(state.did_document()),
    )
        .into_response()
}

/// `GET /status/{purpose}/{list}`: a BitstringStatusListCredential as a compact JWS
/// (`application/vc+jwt`), or, to a client whose `Accept` prefers JSON, as JSON with
/// a Data Integrity proof ([`crate::issue::Issuer::published_list_json`]); with an
/// ETag (304 on `If-None-Match`), `Vary: Accept` and a `max-age` equal to the list's
/// `ttl`. Served from cached bytes until the list changes.
pub async fn get_status_list(
    State(state): State<AppState>,
    Path((purpose, list)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (Ok(purpose), Some(list)) = (
        purpose.parse::<StatusPurpose>(),
        list.parse::<u32>()
            .ok()
            .filter(|n| *n >= 1 && !list.starts_with('0')),
    ) else {
        return Err(ApiError::not_found("no such status list"));
    };
    let mut json = wants_json(&headers);
    let as_json = match json {
        Some(_) => state.issuer.published_list_json(purpose, list).await?,
        None => None,
    };
    if as_json.is_none() {
        // No such list, or no key that makes a Data Integrity proof: the JWT.
        json = None;
    }
    let published = match as_json {
        Some(p) => p,
        None => state
            .issuer
            .published_list(purpose, list)
            .await?
            .ok_or_else(|| ApiError::not_found("no such status list"))?,
    };
    let max_age = state.issuer.status_config().ttl_seconds;
    let cache = format!("public, max-age={max_age}");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == published.etag);
    let common = [
        (header::ETAG, published.etag.clone()),
        (header::CACHE_CONTROL, cache),
        (header::VARY, "Accept".to_owned()),
    ];
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    Ok((
        common,
        [(header::CONTENT_TYPE, json.unwrap_or("application/vc+jwt"))],
        published.jwt.clone(),
    )
        .into_response())
}

/// The JSON media type the client ranks first when it prefers JSON to `vc+jwt`
/// (`application/json`, `application/ld+json`, `application/vc`); `None` for the JWT
/// (also for no `Accept` and `*/*`).
fn wants_json(headers: &HeaderMap) -> Option<&'static str> {
    const JSON: [&str; 4] = [
        "application/json",
        "application/ld+json",
        "application/vc",
        "application/vc+ld+json",
    ];
    let mut best: Option<(f32, Option<&'static str>)> = None;
    for v in headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in v.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let ty = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
                .unwrap_or(0.0)
                .clamp(0.0, 1.0);
            let choice = if ty == "application/vc+jwt" {
                None
            } else if let Some(j) = JSON.iter().find(|j| **j == ty) {
                Some(*j)
            } else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, choice));
            }
        }
    }
    best.and_then(|(_, c)| c)
}

/// Known path, wrong method: a JSON 405.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}
