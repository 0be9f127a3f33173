//! `POST /api/v1/verify` (CONTRACT §4): 200 with a report whenever the input could be
//! examined, 400 when it could not.
//!
//! The body is one of:
//! - JSON `{"credential": "<compact JWT>" | {JSON credential}}` (`verifiableCredential`
//!   is accepted as a synonym), optionally with `"recipient": {"email": "..."}` to
//!   check that the badge names that address;
//! - a compact JWT as `application/jwt`, `application/vc+jwt` or `text/plain`;
//! - a baked badge image as `image/png` or `image/svg+xml` (or without a content type,
//!   recognised by its bytes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::bake;
use crate::http::ApiError;
use crate::verify::{Options, Report};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(default)]
    credential: Option<Value>,
    #[serde(default, rename = "verifiableCredential")]
    verifiable_credential: Option<Value>,
    #[serde(default)]
    recipient: Option<RecipientQuery>,
    #[serde(default)]
    presentation: Option<Value>,
    #[serde(default)]
    nonce: Option<Value>,
    #[serde(default)]
    audience: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipientQuery {
    email: String,
}

/// The media type of a request, lower-cased, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Verifies one credential.
pub async fn verify_credential(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Report>, ApiError> {
    let ctype = media_type(&headers);
    let image = bake::kind_for_content_type(&ctype).or_else(|| {
        matches!(ctype.as_str(), "" | "application/octet-stream")
            .then(|| bake::sniff(&body))
            .flatten()
    });
    if let Some(kind) = image {
        let report = state
            .verifier
            .verify_baked(kind, &body, &Options::default())
            .await?;
        return Ok(Json(report));
    }
    if ctype.starts_with("image/") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("{ctype} is not a badge image format; send image/png or image/svg+xml"),
        ));
    }
    if matches!(
        ctype.as_str(),
        "application/jwt" | "application/vc+jwt" | "text/plain"
    ) {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("the body is not UTF-8 text"))?;
        let report = state.verifier.verify_jwt(text.trim()).await?;
        return Ok(Json(report));
    }
    let req: VerifyRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!(
                "send {{\"credential\": \"<compact JWT>\"}} or {{\"credential\": {{...}}}}: {e}"
            ),
        )
    })?;
    if req.presentation.is_some() || req.nonce.is_some() || req.audience.is_some() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
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
    let opts = Options {
        recipient_email: req.recipient.map(|r| r.email),
    };
    let report = state.verifier.verify_value_with(&credential, &opts).await?;
    Ok(Json(report))
}
