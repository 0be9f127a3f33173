//! An award's way into the earner's wallet (OpenID4VCI 1.0, and draft 13): offers,
//! the handles a wallet holds, deferred requests, notifications and access tokens.

use time::OffsetDateTime;
use uuid::Uuid;

/// The credential configuration offers grant by default: OB 3.0 §8.2 JWTs
/// (`jwt_vc_json`).
pub const CONFIG_JWT_VC_JSON: &str = "OpenBadgeCredential_jwt_vc_json";
/// The same badge described with its `@context` (`jwt_vc_json-ld`).
pub const CONFIG_JWT_VC_JSON_LD: &str = "OpenBadgeCredential_jwt_vc_json-ld";
/// The same badge secured with a Data Integrity proof (`ldp_vc`, `eddsa-rdfc-2022`).
pub const CONFIG_LDP_VC: &str = "OpenBadgeCredential_ldp_vc";
/// Every configuration the issuer metadata lists; an award's offers grant one (the
/// badge page offers the other envelope of the same credential too).
pub const CONFIGURATIONS: [&str; 3] = [CONFIG_JWT_VC_JSON, CONFIG_JWT_VC_JSON_LD, CONFIG_LDP_VC];

/// A pre-authorized-code offer (OpenID4VCI 1.0 §4.1.1): what its code, and the id
/// under which the offer object is served by reference, come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub secret: OfferSecret,
    /// After this neither the offer nor its code is accepted.
    pub expires_at: OffsetDateTime,
    pub created_at: OffsetDateTime,
}

/// Where an offer's id and pre-authorized code come from. Either opens the offer, so
/// neither is stored: only a random seed they are derived from with a key kept in
/// the keys directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfferSecret {
    /// Random bytes (base64url); id and code are keyed hashes of them and the award id.
    Seed(String),
    /// An offer recorded by an earlier version, holding its id and code as they are
    /// (such offers expire within minutes of an upgrade).
    Clear { id: String, code: String },
}

/// Where an award's claim page id comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimLink {
    /// A keyed hash of the award id: nothing that opens the page is stored.
    Derived,
    /// Recorded by an earlier version as it is (links already sent keep working).
    Clear(String),
}

/// A wallet's credential request waiting for the issuer's approval (deferred
/// issuance, OpenID4VCI 1.0 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredRequest {
    pub transaction_id: String,
    /// The holder DIDs from the wallet's proofs, one badge each.
    pub holders: Vec<String>,
    pub configuration_id: String,
    pub requested_at: OffsetDateTime,
    /// Whether the wallet has collected the badges.
    pub delivered: bool,
    /// The wallet spoke the draft-13 dialect (answers follow it).
    pub draft13: bool,
}

/// What a wallet reported at the notification endpoint (OpenID4VCI 1.0 §11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletEvent {
    /// `credential_accepted`, `credential_failure` or `credential_deleted`.
    pub event: String,
    pub description: Option<String>,
    pub notification_id: String,
    pub at: OffsetDateTime,
}

/// Everything about an award's delivery to a wallet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletState {
    /// The live offer; `None` once its code was used, when it was killed, or for
    /// direct awards.
    pub offer: Option<Offer>,
    /// The award's transaction code, when it asks for one. Fresh offers minted from
    /// the claim page reuse it (and inherit the count of wrong tries, kept with the
    /// code's handle); an admin re-offer replaces it and starts the count anew.
    pub tx_code: Option<String>,
    /// The award's claim page, when it has one.
    pub claim: Option<ClaimLink>,
    /// An `approval_required` award has been approved.
    pub approved: bool,
    pub deferred: Option<DeferredRequest>,
    pub events: Vec<WalletEvent>,
    /// Bumped by every admin re-offer: tokens bought with an earlier offer stop
    /// working.
    pub generation: u32,
    /// The credential configuration the offers grant, when not the default
    /// ([`CONFIG_JWT_VC_JSON`]).
    pub configuration_id: Option<String>,
}

impl WalletState {
    /// The credential configuration the award's offers grant.
    pub fn configuration(&self) -> &str {
        self.configuration_id
            .as_deref()
            .unwrap_or(CONFIG_JWT_VC_JSON)
    }
}

/// What a wallet (or an earner) holds that leads to an award. Each is unguessable
/// and single-purpose; the award record is the source of truth, so a handle whose
/// award no longer holds it is stale and refused. Codes, offer ids and claim ids are
/// indexed under keyed digests (see `Issuer::stored_handle`), except those recorded
/// by earlier versions, which are indexed as they are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WalletHandle {
    /// A pre-authorized code (which also counts wrong transaction codes).
    Code(String),
    /// The id of an offer served by reference.
    Offer(String),
    /// The id in a claim page URL.
    Claim(String),
    /// A deferred issuance `transaction_id`.
    Transaction(String),
    /// A `notification_id`.
    Notification(String),
}

/// A pre-authorized code as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeEntry {
    /// The award it was issued for.
    pub award: Uuid,
    /// Wrong transaction codes tried so far.
    pub failures: u8,
}

/// What an OpenID4VCI access (or refresh) token buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The award it was issued for.
    pub award: Uuid,
    /// The credential configurations the offer granted.
    pub configuration_ids: Vec<String>,
    /// `credential_identifiers` given in the token response's `authorization_details`.
    pub credential_identifiers: Vec<CredentialIdentifier>,
    pub expires_at: OffsetDateTime,
    /// A refresh token (accepted only at the token endpoint).
    pub refresh: bool,
    /// The award's offer generation when the token was bought.
    pub generation: u32,
}

/// A `credential_identifier` handed out in a token response, and what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialIdentifier {
    pub id: String,
    pub configuration_id: String,
}
