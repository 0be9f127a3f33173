//! `POST /api/v1/verify` (CONTRACT §4): 200 with a report whenever the input could be
//! examined, 400 when it could not.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::http::ApiError;
use crate::verify::Report;

#[derive(Debug, Deserialize)]
struct VerifyRequest {
    #[serde(default)]
    credential: Option<Value>,
    #[serde(default)]
    presentation: Option<Value>,
    #[serde(default, rename = "verifiableCredential")]
    verifiable_credential: Option<Value>,
}

/// Verifies one credential.
pub async fn verify_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Report>, ApiError> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if matches!(
        ctype.as_str(),
        "application/jwt" | "application/vc+jwt" | "text/plain"
    ) {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
        return run(state, Value::String(text.trim().to_owned())).await;
    }
    if ctype.starts_with("image/") {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "baked badge images are not read by this version; send the JWT",
        ));
    }
    let req: VerifyRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "malformed_request",
            format!(
                "send {{\"credential\": \"<compact JWT>\"}} or {{\"credential\": {{...}}}}: {e}"
            ),
        )
    })?;
    if req.presentation.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "unsupported_input",
            "presentations are not verified by this version; send {\"credential\": ...}",
        ));
    }
    let credential = req
        .credential
        .or(req.verifiable_credential)
        .ok_or_else(|| {
            ApiError::bad_request(
                "send {\"credential\": \"<compact JWT>\"} or {\"credential\": {...}}",
            )
        })?;
    run(state, credential).await
}

/// Verification is CPU work (signatures, schema): it runs on the blocking pool so a
/// burst of verifications never stalls the async workers serving other requests.
async fn run(state: AppState, credential: Value) -> Result<Json<Report>, ApiError> {
    let verifier = state.verifier.clone();
    let report = tokio::task::spawn_blocking(move || verifier.verify_value(&credential))
        .await
        .map_err(|e| ApiError::internal(&e))??;
    Ok(Json(report))
}
