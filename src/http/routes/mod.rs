//! Route handlers, one file per audience.

pub mod admin;
pub mod catalogue;
pub mod claim;
pub mod endorse;
pub mod oid4vci;
pub mod oid4vp;
pub mod ops;
pub mod partner;
pub mod public;
pub mod staff;
pub mod trust;
pub mod vcapi;
pub mod verify;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Parses a JSON body with a clear 400 on failure (whatever the content type: curl's
/// `-d` sends form encoding by default).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send JSON",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            )
        } else {
            ApiError::bad_request(format!("the body is not valid JSON: {e}"))
        }
    })
}

/// A JSON request body, typed. It reads the body whatever its content type (curl's
/// `-d` sends form encoding by default) and answers as [`parse_json`] does: 400 for an
/// empty body or one that is not JSON, 422 naming the member for JSON of the wrong
/// shape. Oversized bodies keep axum's 413.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_json(&bytes)
            .map(JsonBody)
            .map_err(IntoResponse::into_response)
    }
}

/// A JSON request body that may be left out: an empty body (or only whitespace) is
/// `None`, anything else must parse as [`JsonBody`] does.
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        parse_json(&bytes)
            .map(|v| OptionalJsonBody(Some(v)))
            .map_err(IntoResponse::into_response)
    }
}
