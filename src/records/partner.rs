//! Partner API keys as kept: never the secret, only its digest. Authentication,
//! rate limits and live counts: [`crate::partner`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Use of a key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    pub requests: u64,
    pub verifications: u64,
    pub rejected_rate_limited: u64,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl Usage {
    /// These counts with `more` added; the later last use.
    pub fn plus(&self, more: &Usage) -> Usage {
        Usage {
            requests: self.requests.saturating_add(more.requests),
            verifications: self.verifications.saturating_add(more.verifications),
            rejected_rate_limited: self
                .rejected_rate_limited
                .saturating_add(more.rejected_rate_limited),
            last_used_at: self.last_used_at.max(more.last_used_at),
        }
    }

    /// What these counts have beyond `base` (never negative); the last use when it
    /// is later than the base's.
    pub fn minus(&self, base: &Usage) -> Usage {
        Usage {
            requests: self.requests.saturating_sub(base.requests),
            verifications: self.verifications.saturating_sub(base.verifications),
            rejected_rate_limited: self
                .rejected_rate_limited
                .saturating_sub(base.rejected_rate_limited),
            last_used_at: self.last_used_at.filter(|t| Some(*t) > base.last_used_at),
        }
    }

    /// Whether there is nothing to add.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
            && self.verifications == 0
            && self.rejected_rate_limited == 0
            && self.last_used_at.is_none()
    }
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
