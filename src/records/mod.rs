//! The records the service keeps, in the domain's words: achievements and their
//! revisions, awards and their delivery to wallets, OpenID4VCI tokens, the issuer
//! profile, presentation requests, trust registry entries, partner keys, how the
//! public catalogue shows achievements and badges, earners' profiles, staff accounts
//! and their audit trail, and the e-mail outbox.
//!
//! Plain data, below everything that stores or uses them: [`crate::store`] keeps them
//! behind its repository traits, and the domain modules ([`crate::issue`],
//! [`crate::oid4vci`], [`crate::oid4vp`], [`crate::trust`], [`crate::partner`]) give
//! them their behaviour in `impl` blocks of their own. Nothing here does I/O, reads a
//! clock or knows how a record is encoded. Instants are [`time::OffsetDateTime`] in
//! whole seconds (RFC 3339 with `Z` wherever one is serialised).

pub mod achievement;
pub mod award;
pub mod catalogue;
pub mod earner;
pub mod mail;
pub mod partner;
pub mod presentation;
pub mod profile;
pub mod staff;
pub mod trust;
pub mod wallet;

pub use achievement::{AchievementRecord, AchievementRef};
pub use award::{AuditEvent, Award, AwardState, IssuedCopy, Recipient};
pub use catalogue::{BadgeType, Placement, StoredImage, Visibility};
pub use earner::{EarnerRecord, Handle};
pub use mail::{MailKind, MailSettings, MailState, MailTemplate, OutboxMessage, TemplateKind};
pub use staff::{
    AuditRecord, LinkPurpose, PersonalToken, Role, SecuritySettings, SessionRecord, StaffLink,
    StaffRecord, TotpState,
};
pub use wallet::{
    ClaimLink, CodeEntry, CredentialIdentifier, DeferredRequest, Offer, OfferSecret, TokenGrant,
    WalletEvent, WalletHandle, WalletState,
};

/// A value that does not parse as the record field it stands for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// Trims and lower-cases an e-mail address and checks its shape. Lower-casing keeps
/// the hashed IdentityObject reproducible whatever case a verifier types.
pub fn normalise_email(s: &str) -> Result<String, String> {
    let e = s.trim().to_lowercase();
    let ok = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(e)
    } else {
        Err(format!("{s:?} is not an e-mail address"))
    }
}

/// `s` cut to about 100 bytes (on a character boundary) for a message: values that come
/// from clients or badges can be huge.
pub(crate) fn short(s: &str) -> String {
    let cut = (0..=100.min(s.len()))
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    if cut < s.len() {
        format!("{}…", &s[..cut])
    } else {
        s.to_owned()
    }
}
