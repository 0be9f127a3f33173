//! `POST /api/v1/verify` (CONTRACT §4): 200 with a report whenever the input could be
//! examined, 400 when it could not.
//!
//! The body is one of:
//! - JSON `{"credential": "<compact JWT>" | {JSON credential}}` (`verifiableCredential`
//!   is accepted as a synonym), optionally with `"recipient": {"email": "..."}` to
//!   check that the badge names that address;
//! - JSON `{"presentation": "<VP-JWT>" | {...}, "nonce": "...", "audience": "..."}`:
//!   the presentation's own checks (holder signature, nonce, audience, holder
//!   binding) and one report per badge, see [`crate::verify::presentation`];
//! - a compact JWT as `application/jwt`, `application/vc+jwt` or `text/plain`;
//! - a baked badge image as `image/png` or `image/svg+xml` (or without a content type,
//!   recognised by its bytes).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::Value;

use crate::app::AppState;
use crate::bake;
use crate::http::ApiError;
use crate::partner::PartnerKey;
use crate::verify::{Options, PresentationOptions, Report};

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

/// Counts `n` badges examined for the partner key the request presented, if any.
pub(crate) fn count_verifications(key: Option<&Extension<PartnerKey>>, n: usize) {
    if let Some(Extension(k)) = key {
        k.count_verifications(u64::try_from(n).unwrap_or(u64::MAX));
    }
}

/// Verifies one credential (or one presentation: its badges count as verifications).
pub async fn verify_credential(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
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
        count_verifications(key.as_ref(), 1);
        return Ok(Json(report).into_response());
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
        count_verifications(key.as_ref(), 1);
        return Ok(Json(report).into_response());
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
    if let Some(vp) = &req.presentation {
        if req.credential.is_some() || req.verifiable_credential.is_some() {
            return Err(ApiError::bad_request(
                "send either \"credential\" or \"presentation\", not both",
            ));
        }
        if req.recipient.is_some() {
            return Err(ApiError::bad_request(
                "\"recipient\" applies to a credential; a presentation is bound to its holder",
            ));
        }
        let text = |v: &Option<Value>, name: &str| -> Result<Option<String>, ApiError> {
            match v {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ApiError::bad_request(format!(
                    "\"{name}\" must be a string"
                ))),
            }
        };
        let opts = PresentationOptions {
            challenge: text(&req.nonce, "nonce")?,
            domain: text(&req.audience, "audience")?,
            unsigned: false,
        };
        let report = state.verifier.verify_presentation(vp, &opts).await?;
        count_verifications(key.as_ref(), report.credentials.len());
        let trusted = combined_trust(&report.credentials);
        let mut v = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("trusted".into(), serde_json::json!(trusted));
        }
        return Ok(Json(v).into_response());
    }
    if req.nonce.is_some() || req.audience.is_some() {
        return Err(ApiError::bad_request(
            "\"nonce\" and \"audience\" go with a \"presentation\"",
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
    count_verifications(key.as_ref(), 1);
    Ok(Json(report).into_response())
}

/// A presentation's trust: `false` when any badge's issuer is distrusted, `true` when
/// every badge's issuer is trusted, `null` otherwise.
fn combined_trust(reports: &[Report]) -> Option<bool> {
    if reports.iter().any(|r| r.trusted == Some(false)) {
        Some(false)
    } else if !reports.is_empty() && reports.iter().all(|r| r.trusted == Some(true)) {
        Some(true)
    } else {
        None
    }
}
