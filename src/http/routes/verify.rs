//! `POST /api/v1/verify`: 200 with a report whenever the input could be
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
//!
//! `POST /api/v1/verify/batch` takes `{"credentials": [item, ...]}` with 1 to
//! [`MAX_BATCH`] items, each a compact JWT string, a JSON credential, or
//! `{"credential": ..., "recipient": {"email": ...}}`, and answers `200 {"results":
//! [...], "summary": {"verified", "not_verified", "errors"}}`: per item, in order, the
//! same report as above plus its `index`, or `{"index", "error", "message"}` for an
//! item that cannot be examined (it never fails the batch). Items are verified
//! concurrently, at most [`BATCH_CONCURRENCY`] at a time, each with its own fetch
//! budget.

use axum::body::Bytes;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::app::AppState;
use crate::bake;
use crate::http::ApiError;
use crate::partner::PartnerKey;
use crate::verify::{self, Options, PresentationOptions};

/// The most badges one batch may hold.
pub const MAX_BATCH: usize = 100;

/// How many badges of a batch are verified at once.
pub const BATCH_CONCURRENCY: usize = 8;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientQuery {
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
            holder_binding: true,
        };
        let report = state.verifier.verify_presentation(vp, &opts).await?;
        count_verifications(key.as_ref(), report.credentials.len());
        let trusted = crate::verify::combined_trust(&report.credentials);
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

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    credentials: Vec<Value>,
}

/// A batch item in its wrapped form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchItem {
    credential: Value,
    #[serde(default)]
    recipient: Option<RecipientQuery>,
}

/// What one batch item asks, or why it cannot be examined (code, message).
fn batch_item(item: Value) -> Result<(Value, Options), (&'static str, String)> {
    match item {
        Value::String(_) => Ok((item, Options::default())),
        Value::Object(ref o) if o.contains_key("credential") => {
            let w: BatchItem = serde_json::from_value(item).map_err(|e| {
                (
                    "invalid_item",
                    format!(
                        "a wrapped item is {{\"credential\": ..., \"recipient\": {{\"email\": ...}}}}: {e}"
                    ),
                )
            })?;
            let opts = Options {
                recipient_email: w.recipient.map(|r| r.email),
            };
            Ok((w.credential, opts))
        }
        Value::Object(_) => Ok((item, Options::default())),
        _ => Err((
            "malformed_credential",
            "an item is a compact JWT string, a JSON credential, or {\"credential\": ..., \"recipient\": {...}}".into(),
        )),
    }
}

fn error_entry(index: usize, code: &str, message: &str) -> Value {
    json!({"index": index, "error": code, "message": message})
}

/// `POST /api/v1/verify/batch`
pub async fn verify_batch(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: BatchRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            format!("send {{\"credentials\": [\"<compact JWT>\" | {{...}}, ...]}}: {e}"),
        )
    })?;
    let n = req.credentials.len();
    if !(1..=MAX_BATCH).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "\"credentials\" must hold 1 to {MAX_BATCH} items; it holds {n}"
        )));
    }
    // The per-IP limiter took one request; an anonymous batch pays for every badge.
    if key.is_none()
        && let Some(Extension(ConnectInfo(addr))) = peer
        && let Some(res) = crate::http::middleware::charge_anonymous(&state, addr.ip(), n - 1).await
    {
        return Ok(res);
    }
    let mut results: Vec<Value> = vec![Value::Null; n];
    let mut pending = req.credentials.into_iter().map(batch_item).enumerate();
    let mut running = JoinSet::new();
    loop {
        while running.len() < BATCH_CONCURRENCY
            && let Some((i, item)) = pending.next()
        {
            match item {
                Err((code, message)) => results[i] = error_entry(i, code, &message),
                Ok((credential, opts)) => {
                    let verifier = state.verifier.clone();
                    running.spawn(async move {
                        (i, verifier.verify_value_with(&credential, &opts).await)
                    });
                }
            }
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (i, outcome) = done.map_err(|e| ApiError::internal(&e))?;
        results[i] = match outcome {
            Ok(report) => {
                let mut v = serde_json::to_value(&report).map_err(|e| ApiError::internal(&e))?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("index".into(), json!(i));
                }
                v
            }
            Err(verify::Error::Malformed(m)) => error_entry(i, "malformed_credential", &m),
        };
    }
    let verified = results.iter().filter(|r| r["verified"] == true).count();
    let not_verified = results.iter().filter(|r| r["verified"] == false).count();
    let errors = n - verified - not_verified;
    count_verifications(key.as_ref(), verified + not_verified);
    Ok(Json(json!({
        "results": results,
        "summary": {"verified": verified, "not_verified": not_verified, "errors": errors},
    }))
    .into_response())
}
