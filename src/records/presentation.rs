//! OpenID4VP presentation requests an employer made, and what answered them
//! (OpenID4VP 1.0, <https://openid.net/specs/openid-4-verifiable-presentations-1_0.html>).
//! Building and judging them: [`crate::oid4vp`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// What the employer asks for, in terms of badges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraints {
    /// Each badge must carry one of these types (compact names or IRIs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_types: Vec<String>,
    /// Each badge must come from one of these issuers (DIDs or URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trusted_issuers: Vec<String>,
    /// Each badge must be for one of these achievements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub achievement_ids: Vec<String>,
}

/// A request's query, in the language the wallet will read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "language", content = "query", rename_all = "snake_case")]
pub enum Query {
    Dcql(Value),
    PresentationDefinition(Value),
}

/// How the service identifies itself to the wallet (§5.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ClientIdPrefix {
    /// `decentralized_identifier:<did>`: a request object signed by the DID's key.
    #[default]
    DecentralizedIdentifier,
    /// `redirect_uri:<response uri>`: an unsigned request.
    RedirectUri,
}

impl std::str::FromStr for ClientIdPrefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim_end_matches(':') {
            "decentralized_identifier" | "did" => Ok(Self::DecentralizedIdentifier),
            "redirect_uri" => Ok(Self::RedirectUri),
            other => Err(format!(
                "client_id_prefix {other:?} is not supported; use \"decentralized_identifier\" or \"redirect_uri\""
            )),
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Verified,
    Rejected,
    Expired,
}

/// A presentation request as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresentationRequest {
    /// The employer's handle on the request (and on its result).
    pub id: Uuid,
    /// The handle the wallet sees in `request_uri` and `response_uri`. It differs
    /// from `id`, so whoever sees the QR code cannot read the result.
    pub tx: String,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Unanswered after this, the request is `expired`.
    #[serde(with = "crate::clock::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub nonce: String,
    /// The OAuth `state` parameter the wallet must echo.
    pub oauth_state: String,
    pub prefix: ClientIdPrefix,
    pub query: Query,
    #[serde(default)]
    pub constraints: Constraints,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The partner key that created the request, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// `Pending`, `Verified` or `Rejected`; expiry is judged on reading.
    pub status: State,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::clock::rfc3339::option"
    )]
    pub answered_at: Option<OffsetDateTime>,
    /// Why the request was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The verification result (the `/api/v1/verify` shape for a presentation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// Answers that did not decide the request (unreadable, unauthenticated or not
    /// proven by the holder), the latest last; at most [`MAX_ATTEMPTS`] are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// The most answers kept under [`PresentationRequest::attempts`].
pub const MAX_ATTEMPTS: usize = 8;

/// An answer that did not decide a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(with = "crate::clock::rfc3339")]
    pub at: OffsetDateTime,
    /// Why it decided nothing.
    pub reason: String,
}

impl PresentationRequest {
    /// The state as of `now`.
    pub fn state_at(&self, now: OffsetDateTime) -> State {
        if self.status == State::Pending && now > self.expires_at {
            State::Expired
        } else {
            self.status
        }
    }

    /// A Presentation Exchange request, for wallets before DCQL.
    pub fn is_legacy(&self) -> bool {
        matches!(self.query, Query::PresentationDefinition(_))
    }
}
