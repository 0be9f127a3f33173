//! Partner API keys as kept: never the secret, only its digest. Authentication,
//! rate limits and live counts: [`crate::partner`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Use of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub requests: u64,
    pub verifications: u64,
    pub rejected_rate_limited: u64,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// A partner key as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerKeyRecord {
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret, hex.
    pub sha256: String,
    /// Requests per second (and burst).
    pub rate_limit: u32,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub revoked: bool,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub usage: Usage,
}
