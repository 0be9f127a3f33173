//! `ApiError`: the only HTTP error type. Every domain error maps explicitly to a status
//! and a stable code; the body is `{"error": code, "message": text}`; a 5xx says only
//! "internal error" to the client and logs the detail.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{issue, partner, store, trust, verify};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Seconds for `Retry-After` (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs \"Authorization: Bearer <admin token or personal API token>\" or a signed-in session",
        )
    }

    pub(crate) fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(crate::http::views::ErrorBody {
                error: self.code.to_owned(),
                message: self.message,
            }),
        )
            .into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"accolade-admin\""),
            );
        }
        res
    }
}

impl From<issue::Error> for ApiError {
    fn from(e: issue::Error) -> Self {
        match &e {
            issue::Error::Invalid { .. } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            issue::Error::Schema(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "schema_violation",
                e.to_string(),
            ),
            issue::Error::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            issue::Error::Archived(_) => {
                Self::new(StatusCode::CONFLICT, "achievement_archived", e.to_string())
            }
            issue::Error::Build(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_credential",
                e.to_string(),
            ),
            issue::Error::BadCredential(_) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_credential", e.to_string())
            }
            issue::Error::Taken(_) => {
                Self::new(StatusCode::CONFLICT, "credential_id_taken", e.to_string())
            }
            issue::Error::Conflict(_) => {
                Self::new(StatusCode::CONFLICT, "credential_revoked", e.to_string())
            }
            issue::Error::WrongState(_) | issue::Error::Locked => {
                Self::new(StatusCode::CONFLICT, "invalid_state", e.to_string())
            }
            issue::Error::WrongTxCode { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_tx_code", e.to_string())
            }
            issue::Error::MailNotConfigured => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mail_not_configured",
                e.to_string(),
            ),
            issue::Error::Sign(_) | issue::Error::Store(_) => Self::internal(&e),
        }
    }
}

impl From<crate::catalogue::Error> for ApiError {
    fn from(e: crate::catalogue::Error) -> Self {
        use crate::catalogue::Error as E;
        match e {
            E::Invalid { .. } | E::Image(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            E::NotFound(_) => Self::not_found(e.to_string()),
            E::Issue(e) => e.into(),
            E::Store(e) => e.into(),
            E::Render(_) => Self::internal(&e),
        }
    }
}

impl From<crate::views::Error> for ApiError {
    fn from(e: crate::views::Error) -> Self {
        use crate::views::Error as E;
        match e {
            E::NotFound(_) => Self::not_found(e.to_string()),
            E::Catalogue(e) => e.into(),
            E::Issue(e) => e.into(),
            E::Verify(e) => e.into(),
            E::Earner(e) => e.into(),
            E::Render(_) => Self::internal(&e),
        }
    }
}

impl From<crate::earners::Error> for ApiError {
    fn from(e: crate::earners::Error) -> Self {
        use crate::earners::Error as E;
        match e {
            E::LinkNotValid | E::NotFound(_) => Self::not_found(e.to_string()),
            E::Invalid(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            E::Taken(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            E::Issue(e) => e.into(),
            E::Catalogue(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl From<crate::staff::Error> for ApiError {
    fn from(e: crate::staff::Error) -> Self {
        use crate::staff::Error as E;
        let unprocessable = |code| Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, e.to_string());
        match &e {
            E::Password(_) => unprocessable("weak_password"),
            E::Invalid { .. } => unprocessable("invalid_request"),
            E::BadCredentials => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                e.to_string(),
            ),
            E::TotpRequired => Self::new(StatusCode::UNAUTHORIZED, "totp_required", e.to_string()),
            E::TotpWrong => Self::new(StatusCode::UNAUTHORIZED, "totp_invalid", e.to_string()),
            E::Throttled(s) => {
                let mut a = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string());
                a.retry_after = Some(*s);
                a
            }
            E::NotFound(_) => Self::not_found(e.to_string()),
            E::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            E::LinkInvalid => Self::new(StatusCode::GONE, "link_invalid", e.to_string()),
            // Removed by a concurrent call.
            E::Store(crate::store::Error::Missing(_)) => Self::not_found(e.to_string()),
            E::Store(_) => Self::internal(&e),
        }
    }
}

impl From<crate::mail::Error> for ApiError {
    fn from(e: crate::mail::Error) -> Self {
        use crate::mail::Error as E;
        match &e {
            E::Template(_) | E::Invalid(_) | E::Url(_) | E::From(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            E::NotConfigured => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mail_not_configured",
                e.to_string(),
            ),
            E::Store(_) => Self::internal(&e),
        }
    }
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        match &e {
            store::Error::Missing(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            store::Error::Refused(_) => Self::new(StatusCode::CONFLICT, "conflict", e.to_string()),
            store::Error::Backend(_)
            | store::Error::Corrupt(..)
            | store::Error::Task(_)
            | store::Error::SlotTaken { .. } => Self::internal(&e),
        }
    }
}

impl From<trust::Error> for ApiError {
    fn from(e: trust::Error) -> Self {
        match &e {
            trust::Error::InvalidId(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_issuer_id",
                e.to_string(),
            ),
            trust::Error::Invalid(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            trust::Error::Format(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_registry",
                e.to_string(),
            ),
            trust::Error::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            trust::Error::Store(_) | trust::Error::Corrupt(..) | trust::Error::File { .. } => {
                Self::internal(&e)
            }
        }
    }
}

impl From<partner::Error> for ApiError {
    fn from(e: partner::Error) -> Self {
        match &e {
            partner::Error::Invalid(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                e.to_string(),
            ),
            partner::Error::NotFound(_) => {
                Self::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
            }
            partner::Error::Store(_) | partner::Error::Corrupt(..) => Self::internal(&e),
        }
    }
}

impl From<verify::Error> for ApiError {
    fn from(e: verify::Error) -> Self {
        match e {
            verify::Error::Malformed(m) => {
                Self::new(StatusCode::BAD_REQUEST, "malformed_credential", m)
            }
        }
    }
}

impl From<crate::oid4vci::Error> for ApiError {
    /// For admin routes that run wallet-side steps (approval issues a waiting request).
    fn from(e: crate::oid4vci::Error) -> Self {
        match e {
            crate::oid4vci::Error::Issue(e) => e.into(),
            crate::oid4vci::Error::Store(e) => e.into(),
            other => Self::new(StatusCode::CONFLICT, "invalid_state", other.to_string()),
        }
    }
}
