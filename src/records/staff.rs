//! Staff: accounts and their roles, signed-in sessions, personal API tokens,
//! invitation and password-reset links, and the audit trail of what staff did.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::Invalid;

/// What a staff member may do. Ordered: each role may do everything the ones before it
/// may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also runs the badge programme: achievements, badge types, awards, re-offers,
    /// approvals, revocation and suspension, page visibility, presentation requests,
    /// `/credentials/issue`.
    Issuer,
    /// Also the issuer profile, trust registry, partner API keys, staff, mail and
    /// security settings.
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Issuer, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Issuer => "issuer",
            Role::Owner => "owner",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "viewer" => Ok(Role::Viewer),
            "issuer" => Ok(Role::Issuer),
            "owner" => Ok(Role::Owner),
            other => Err(Invalid(format!(
                "role {other:?} must be owner, issuer or viewer"
            ))),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A member's second factor (RFC 6238 TOTP).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpState {
    /// The shared secret, base32.
    pub secret: String,
    /// Set once the member proved their authenticator holds it; until then sign-in
    /// does not ask for it.
    pub confirmed: bool,
    /// The last time step a code was accepted for (no code is accepted twice).
    #[serde(default)]
    pub last_step: Option<u64>,
}

impl std::fmt::Debug for TotpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpState")
            .field("confirmed", &self.confirmed)
            .finish_non_exhaustive()
    }
}

/// A staff account.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffRecord {
    pub id: Uuid,
    /// Normalised (trimmed, lower-case); unique.
    pub email: String,
    pub name: String,
    pub role: Role,
    /// The Argon2id hash (PHC string); none until an invitation is accepted.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub totp: Option<TotpState>,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(default, with = "crate::clock::rfc3339::option")]
    pub last_sign_in: Option<OffsetDateTime>,
}

impl StaffRecord {
    /// Whether sign-in asks for a TOTP code.
    pub fn has_totp(&self) -> bool {
        self.totp.as_ref().is_some_and(|t| t.confirmed)
    }
}

impl std::fmt::Debug for StaffRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaffRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A signed-in session, kept under the digest of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub staff: Uuid,
    /// The token every state-changing request of this session must carry.
    pub csrf: String,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// The client address it was opened from.
    #[serde(default)]
    pub address: Option<String>,
    /// The owner requires two-factor sign-in and this member has not set it up yet:
    /// the session may only set it up (or sign out).
    #[serde(default)]
    pub totp_setup_required: bool,
}

/// A personal API token, kept under the digest of its value (which is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalToken {
    pub id: Uuid,
    pub staff: Uuid,
    pub name: String,
    /// The first characters of the token, so its owner can tell tokens apart.
    pub hint: String,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "crate::clock::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// What a one-time staff link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkPurpose {
    /// Choose a first password.
    Invitation,
    /// Choose a new password.
    PasswordReset,
}

impl LinkPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::PasswordReset => "password_reset",
        }
    }
}

/// A single-use, expiring link (an invitation or a password reset). Its secret part
/// is derived from the link secret and the id, so nothing that opens it is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffLink {
    pub id: Uuid,
    pub staff: Uuid,
    pub purpose: LinkPurpose,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(default, with = "crate::clock::rfc3339::option")]
    pub used_at: Option<OffsetDateTime>,
}

/// Settings owners choose for every account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SecuritySettings {
    /// Every member must sign in with a TOTP code.
    #[serde(default)]
    pub require_totp: bool,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the trail (given by the store); newest is highest.
    #[serde(default)]
    pub seq: u64,
    #[serde(with = "crate::clock::rfc3339")]
    pub at: OffsetDateTime,
    /// Who: a member's e-mail address, `admin token`, or `system`.
    pub actor: String,
    /// The member's id, when a member acted.
    #[serde(default)]
    pub actor_id: Option<Uuid>,
    /// How they were authenticated: `session`, `personal_token`, `admin_token`, or
    /// none (a sign-in attempt, a link).
    #[serde(default)]
    pub via: Option<String>,
    /// What: a dotted name such as `award.create` or `credential.revoke`.
    pub action: String,
    /// What it acted on (an id), when there is one.
    #[serde(default)]
    pub target: Option<String>,
    /// The client address.
    #[serde(default)]
    pub address: Option<String>,
    /// The HTTP status answered.
    #[serde(default)]
    pub status: Option<u16>,
    /// More about it (never a secret).
    #[serde(default)]
    pub detail: Option<Value>,
}
