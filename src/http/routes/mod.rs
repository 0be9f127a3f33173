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
