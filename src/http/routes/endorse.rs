//! Endorsements and Comprehensive Learner Records through the admin API:
//!
//! - `POST /api/v1/endorsements` `{"subject_id", "comment"?, "name"?, "valid_until"?,
//!   "proof"?: "jwt" | "vc+jwt" | "eddsa-rdfc-2022" | "ecdsa-rdfc-2019"}` → `201
//!   {"credential_id", "credential"}`: an OB 3.0 `EndorsementCredential` from this
//!   issuer (see [`crate::issue::endorse`]). It is listed, revoked and suspended like
//!   any credential, by its `credential_id`.
//! - `POST /api/v1/clr` `{"recipient": {"email"|"id"}, "credential_ids": [...],
//!   "proof"?: "jwt" | "eddsa-rdfc-2022" | "ecdsa-rdfc-2019", "name"?}` → `201
//!   {"credential_id", "credential"}`: a CLR 2.0 `ClrCredential` bundling those badges
//!   of that earner (see [`crate::issue::clr`]); a badge of someone else, revoked,
//!   suspended or not yet accepted → `422` naming it.
//! - `POST /api/v1/achievements/{id}/endorsements` `{"credential": <JWT or credential
//!   object>}` → `200` the achievement: an endorsement someone made of this
//!   achievement, verified first (it must verify and endorse this achievement), is
//!   attached so that badges issued afterwards carry it and the achievement's page
//!   shows it. One that does not verify → `422` with the report.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::JsonBody;
use crate::app::AppState;
use crate::http::ApiError;
use crate::http::views::{EndorsementRefused, IssuedView};
use crate::issue::clr::ClrRequest;
use crate::issue::endorse::EndorsementRequest;

/// `POST /api/v1/clr`.
pub async fn issue_clr(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<ClrRequest>,
) -> Result<Response, ApiError> {
    created(&state.issuer.issue_clr(&req).await?)
}

/// `201 {"credential_id", "credential"}` for a credential the admin API issued.
fn created(issued: &crate::issue::general::IssuedCredential) -> Result<Response, ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(IssuedView {
            credential_id: issued.id(),
            credential: issued.credential()?,
        }),
    )
        .into_response())
}

/// `POST /api/v1/endorsements`.
pub async fn issue_endorsement(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<EndorsementRequest>,
) -> Result<Response, ApiError> {
    created(&state.issuer.issue_endorsement(&req).await?)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachRequest {
    credential: Value,
}

/// `POST /api/v1/achievements/{id}/endorsements`.
pub async fn attach_endorsement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<AttachRequest>,
) -> Result<Response, ApiError> {
    // Only an endorsement: a badge or any other credential is not attached.
    let report = state
        .verifier
        .verify_value(&req.credential)
        .await
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let decoded = report.credential.clone().unwrap_or(Value::Null);
    let body = decoded.get("vc").unwrap_or(&decoded);
    let is_endorsement = match body.get("type") {
        Some(Value::Array(a)) => a.iter().any(|t| t == "EndorsementCredential"),
        Some(Value::String(s)) => s == "EndorsementCredential",
        _ => false,
    };
    if !is_endorsement {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "credential: not an EndorsementCredential",
        ));
    }
    if !report.verified {
        let failed = report.problems();
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(EndorsementRefused {
                error: "invalid_request",
                message: format!("the endorsement does not verify ({})", failed.join("; ")),
                report,
            }),
        )
            .into_response());
    }
    let subject = body
        .get("credentialSubject")
        .and_then(|s| s.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let rec = state
        .issuer
        .attach_endorsement(&id, &req.credential, &subject)
        .await?;
    Ok(Json(&rec.achievement).into_response())
}
