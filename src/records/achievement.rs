//! Achievements as the issuer defines them, and the revisions awards refer to.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::model::Achievement;

/// An achievement as the issuer defined it, at its latest revision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AchievementRecord {
    /// The uuid that ends the achievement's id URL.
    pub key: Uuid,
    /// Bumped by every change of the definition. Every revision is kept: an award names
    /// the one it was made from, and is signed with it however often the achievement
    /// changes before the earner claims it.
    #[serde(default = "AchievementRecord::first_revision")]
    pub revision: u32,
    pub achievement: Achievement,
    /// Archived achievements stay readable but cannot be awarded.
    #[serde(default)]
    pub archived: bool,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl AchievementRecord {
    /// The revision of a new achievement.
    pub const fn first_revision() -> u32 {
        1
    }

    /// Which revision of which achievement this is.
    pub fn reference(&self) -> AchievementRef {
        AchievementRef {
            key: self.key,
            revision: self.revision,
        }
    }
}

/// One revision of one achievement: what an award was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AchievementRef {
    pub key: Uuid,
    pub revision: u32,
}

impl AchievementRef {
    /// What a credential issued as given (through the VC-API) names: no stored
    /// achievement (the nil uuid).
    pub const fn general() -> Self {
        Self {
            key: Uuid::nil(),
            revision: 0,
        }
    }

    /// Whether this names no stored achievement ([`AchievementRef::general`]).
    pub fn is_general(&self) -> bool {
        self.key.is_nil()
    }
}
