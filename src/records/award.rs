//! Awards: an achievement given to a recipient, and every badge signed for it.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::achievement::AchievementRef;
use super::wallet::WalletState;
use crate::status::StatusSlot;

/// Where an award is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AwardState {
    /// Waiting for the earner's wallet to claim it.
    Offered,
    /// Signed at least once.
    Issued,
}

impl AwardState {
    /// The contract's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            AwardState::Offered => "offered",
            AwardState::Issued => "issued",
        }
    }
}

/// Who receives an award.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Recipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Normalised (trimmed, lower-case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A DID (or other IRI) that becomes `credentialSubject.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// One signed copy of an award's credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCopy {
    /// The compact JWT exactly as handed out.
    pub jwt: String,
    /// The DID URL of the key that signed it.
    pub kid: String,
    pub issued_at: OffsetDateTime,
    /// The copy's own credential id when it is not the award's (the second and later
    /// badges of a wallet's batch request).
    pub id: Option<Uuid>,
    /// The copy's own status slot when it is not the award's.
    pub status: Option<StatusSlot>,
    /// `credentialSubject.id` of the copy (the wallet key it is bound to).
    pub subject: Option<String>,
    /// The OpenID4VCI `notification_id` the wallet was given with it.
    pub notification_id: Option<String>,
}

impl IssuedCopy {
    /// A copy signed for the award itself (its id and slot).
    pub fn new(jwt: String, kid: String, issued_at: OffsetDateTime) -> Self {
        Self {
            jwt,
            kid,
            issued_at,
            id: None,
            status: None,
            subject: None,
            notification_id: None,
        }
    }
}

/// An award and everything needed to (re)issue it. What a signed badge already
/// carries is not copied here: the achievement is named by its revision, and a signed
/// copy is its JWT.
#[derive(Debug, Clone, PartialEq)]
pub struct Award {
    /// The credential id is `urn:uuid:<id>`.
    pub id: Uuid,
    /// Position in the newest-first listing; given by the store when it is recorded.
    pub seq: u64,
    /// The achievement, as it was when awarded: later edits do not change the award.
    pub achievement: AchievementRef,
    pub recipient: Recipient,
    pub state: AwardState,
    /// Salt of the hashed e-mail IdentityObject, fixed per award so copies agree.
    pub salt: String,
    pub valid_from: OffsetDateTime,
    pub valid_until: Option<OffsetDateTime>,
    pub tx_code_required: bool,
    pub approval_required: bool,
    /// Extra subject/credential data given with the award (`evidence`, `result`,
    /// `narrative`): an object, as the admin sent it (with `type` filled in).
    pub extras: Option<Value>,
    pub issued: Vec<IssuedCopy>,
    pub revoked: bool,
    pub suspended: bool,
    /// The award's status list slot (the same in every purpose's family).
    pub status: Option<StatusSlot>,
    /// Offers, transaction code, deferred request and wallet notifications.
    pub wallet: WalletState,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Award {
    /// `urn:uuid:<id>`; for a credential issued as given, the id it carries.
    pub fn credential_id(&self) -> String {
        if self.is_general()
            && let Some(id) = self
                .extras
                .as_ref()
                .and_then(|x| x.get("document"))
                .and_then(|d| d.get("id"))
                .and_then(Value::as_str)
        {
            return id.to_owned();
        }
        format!("urn:uuid:{}", self.id)
    }

    /// Whether this is a credential issued as given through the VC-API, with no
    /// stored achievement: its `extras` hold the credential as signed
    /// ([`crate::issue::general`]).
    pub fn is_general(&self) -> bool {
        self.achievement.is_general()
    }

    /// Whether a wallet holds a copy. Copies a wallet took carry a `notification_id`;
    /// a badge accepted on the claim page or signed directly carries none.
    pub fn in_wallet(&self) -> bool {
        self.issued.iter().any(|c| c.notification_id.is_some())
    }

    /// Whether the award may still go into a wallet over OpenID4VCI: it has a claim
    /// page (it was offered, not delivered directly), it is not revoked, and no
    /// wallet has taken it yet. An award the earner accepted on the claim page stays
    /// open, so that a wallet can later take a copy bound to its key.
    pub fn wallet_open(&self) -> bool {
        !self.revoked && !self.in_wallet() && self.wallet.claim.is_some()
    }

    /// Every status slot of the award: its own and those of its batch copies.
    pub fn slots(&self) -> Vec<StatusSlot> {
        self.status
            .into_iter()
            .chain(self.issued.iter().filter_map(|c| c.status))
            .collect()
    }
}

/// A staff action on an award, kept for the record and never published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: OffsetDateTime,
    /// `revoke`, `suspend`, `unsuspend`, `burn`.
    pub action: String,
    /// Who did it (as the admin request said), or `system`.
    pub actor: String,
    pub reason: Option<String>,
}
