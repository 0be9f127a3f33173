//! Persistence in sled, behind typed accessors. This is the only module that knows
//! how keys are encoded or which trees exist.
//!
//! Trees:
//! - `meta`: singletons (the issuer Profile).
//! - `achievements`: achievement uuid (text) → [`AchievementRecord`] (JSON).
//! - `credentials`: credential uuid (16 bytes) → [`CredentialRecord`] (JSON).
//! - `credentials_by_seq`: sequence number (u64 big-endian) → credential uuid; the
//!   newest-first listing walks this tree backwards, and its key is the cursor.
//! - `status_slots`: status slot (list u32, index u32, big-endian) → the credential uuid
//!   it was given to. Written with the award in one transaction and never removed, so a
//!   slot is never handed out twice, across crashes too.
//! - `status_bits`: purpose tag (1 byte) + slot → empty: the set bits of every list.
//! - `pending`: credential uuid → empty, for awards recorded but not yet signed; what is
//!   left here after a crash is burned on the next start.
//! - `audit`: credential uuid + sequence (u64) → [`AuditEvent`]: who revoked, suspended
//!   or unsuspended what, when and why. Never published.
//! - `status_published`: purpose tag + list → the last signed list, reused after a
//!   restart when nothing changed.
//! - `oid4vci`: OpenID4VCI state, by one-byte prefix: `c` pre-authorized code → award
//!   uuid and the wrong transaction codes tried (one byte, absent when none); `o`
//!   offer id, `l` claim page id, `x` transaction id, `m` notification id → award
//!   uuid; `n` nonce → expiry (i64 big-endian); `t` SHA-256 of an access or refresh
//!   token → [`TokenGrant`]. The award record is the source of truth: an index entry
//!   whose award no longer holds that code or offer is stale and refused. A spent
//!   code is one whose entry is gone; the record still names it until the badge is
//!   issued or a new offer replaces it.
//!
//! sled 0.34 runs every transaction under one process-wide lock that every plain
//! read and write also takes, so the OpenID4VCI hot path (codes, nonces, tokens,
//! issuing) uses single-key compare-and-swap and removes instead.
//! - `credential_copies`: the credential uuid of a batch copy → its award's uuid.
//!
//! sled makes nothing durable until a flush; every write path that answers a client
//! calls [`Store::flush`] before it acknowledges (CONTRACT §2: a 2xx to a write is
//! durable). Concurrent flush requests are grouped: one fsync serves every request
//! that arrived before it started.

mod flush;

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};
use uuid::Uuid;

use crate::model::Achievement;
use crate::status::{StatusPurpose, StatusSlot};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record {0} is corrupt: {1}")]
    Corrupt(String, String),
    #[error("the storage task failed: {0}")]
    Task(String),
    #[error("credential {0} not found")]
    Missing(Uuid),
    /// An update function declined the change (the record's state forbids it).
    #[error("{0}")]
    Refused(String),
    #[error("status slot {list}/{index} is already taken")]
    SlotTaken { list: u32, index: u32 },
}

impl From<TransactionError<Error>> for Error {
    fn from(e: TransactionError<Error>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(s) => Error::Sled(s),
        }
    }
}

fn abort(e: Error) -> ConflictableTransactionError<Error> {
    ConflictableTransactionError::Abort(e)
}

/// The sled cache size. sled's default (1 GiB) is far more than this service needs.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// An achievement as the issuer defined it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AchievementRecord {
    /// The uuid that ends the achievement's id URL.
    pub key: Uuid,
    pub achievement: Achievement,
    /// Archived achievements stay readable but cannot be awarded.
    #[serde(default)]
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// Where an award is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CredentialState {
    /// Waiting for the earner's wallet to claim it.
    Offered,
    /// Signed at least once.
    Issued,
}

impl CredentialState {
    /// The contract's name for the state.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialState::Offered => "offered",
            CredentialState::Issued => "issued",
        }
    }
}

/// Who receives an award.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuedCopy {
    /// The compact JWT exactly as handed out.
    pub jwt: String,
    /// The DID URL of the key that signed it.
    pub kid: String,
    pub issued_at: String,
    /// The copy's own credential id when it is not the award's (the second and later
    /// badges of a wallet's batch request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// The copy's own status slot when it is not the award's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSlot>,
    /// `credentialSubject.id` of the copy (the wallet key it is bound to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The OpenID4VCI `notification_id` the wallet was given with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_id: Option<String>,
}

impl IssuedCopy {
    /// A copy signed for the award itself (its id and slot).
    pub fn new(jwt: String, kid: String, issued_at: String) -> Self {
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

/// A pre-authorized-code offer (OpenID4VCI 1.0 §4.1.1): the code, and the id under
/// which the offer object is served by reference.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OfferState {
    /// The id in `credential_offer_uri`.
    pub id: String,
    /// The pre-authorized code.
    pub code: String,
    /// Unix seconds after which neither the offer nor its code is accepted.
    pub expires_at: i64,
    pub created_at: String,
}

/// A wallet's credential request waiting for the issuer's approval (deferred
/// issuance, OpenID4VCI 1.0 §9).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeferredRequest {
    pub transaction_id: String,
    /// The holder DIDs from the wallet's proofs, one badge each.
    pub holders: Vec<String>,
    pub configuration_id: String,
    pub requested_at: String,
    /// Whether the wallet has collected the badges.
    #[serde(default)]
    pub delivered: bool,
    /// The wallet spoke the draft-13 dialect (answers follow it).
    #[serde(default)]
    pub draft13: bool,
}

/// What a wallet reported at the notification endpoint (OpenID4VCI 1.0 §11).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WalletEvent {
    /// `credential_accepted`, `credential_failure` or `credential_deleted`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub notification_id: String,
    pub at: String,
}

/// Everything about an award's delivery to a wallet.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct WalletState {
    /// The live offer; `None` once its code was used, when it was killed, or for
    /// direct awards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<OfferState>,
    /// The award's transaction code, when it asks for one. Fresh offers minted from
    /// the claim page reuse it (and inherit the count of wrong tries, kept in the
    /// code's index entry); an admin re-offer replaces it and starts the count anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<String>,
    /// The id in the claim page URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_id: Option<String>,
    /// An `approval_required` award has been approved.
    #[serde(default)]
    pub approved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferred: Option<DeferredRequest>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<WalletEvent>,
    /// Bumped by every admin re-offer: tokens bought with an earlier offer stop
    /// working.
    #[serde(default)]
    pub generation: u32,
    /// The credential configuration the offers grant, when not the default
    /// (`OpenBadgeCredential_jwt_vc_json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration_id: Option<String>,
}

impl WalletState {
    /// The credential configuration the award's offers grant.
    pub fn configuration(&self) -> &str {
        self.configuration_id
            .as_deref()
            .unwrap_or(crate::issue::offers::CONFIG_JWT_VC_JSON)
    }
}

/// What an OpenID4VCI access (or refresh) token buys.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenGrant {
    /// The award it was issued for.
    pub award: Uuid,
    /// The credential configurations the offer granted.
    pub configuration_ids: Vec<String>,
    /// `credential_identifiers` given in the token response's `authorization_details`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credential_identifiers: Vec<CredentialIdentifier>,
    /// Unix seconds.
    pub expires_at: i64,
    /// A refresh token (accepted only at the token endpoint).
    #[serde(default)]
    pub refresh: bool,
    /// The award's offer generation when the token was bought.
    #[serde(default)]
    pub generation: u32,
}

/// A `credential_identifier` handed out in a token response, and what it stands for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialIdentifier {
    pub id: String,
    pub configuration_id: String,
}

/// The OpenID4VCI index entries (tree `oid4vci`); each maps a secret or id the wallet
/// holds to the award it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletKey {
    /// A pre-authorized code.
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

impl WalletKey {
    fn bytes(&self) -> Vec<u8> {
        let (tag, s) = match self {
            WalletKey::Code(s) => (b'c', s),
            WalletKey::Offer(s) => (b'o', s),
            WalletKey::Claim(s) => (b'l', s),
            WalletKey::Transaction(s) => (b'x', s),
            WalletKey::Notification(s) => (b'm', s),
        };
        let mut k = Vec::with_capacity(1 + s.len());
        k.push(tag);
        k.extend_from_slice(s.as_bytes());
        k
    }
}

/// A write that goes with an award change in [`Store::update_wallet`].
#[derive(Debug, Clone)]
pub enum WalletOp {
    /// Points an index entry at the award.
    Link(WalletKey),
    /// Points a pre-authorized code at the award with no wrong tries counted.
    LinkCode(String),
    /// Replaces the award's pre-authorized code `old` (if any) with `new`, carrying
    /// over the wrong tries counted against it, read inside the transaction so no
    /// concurrent try is lost. Fails with [`Error::Refused`] if `old` already has
    /// `max_failures`.
    RelinkCode {
        old: Option<String>,
        new: String,
        max_failures: u8,
    },
    /// Removes an index entry.
    Unlink(WalletKey),
}

/// An award and everything needed to (re)issue it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CredentialRecord {
    /// The credential id is `urn:uuid:<id>`.
    pub id: Uuid,
    /// Position in the newest-first listing.
    pub seq: u64,
    pub achievement_id: String,
    /// The achievement as it was when awarded; later edits do not change it.
    pub achievement: Achievement,
    pub recipient: Recipient,
    pub state: CredentialState,
    /// Salt of the hashed e-mail IdentityObject, fixed per award so copies agree.
    pub salt: String,
    pub valid_from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    pub tx_code_required: bool,
    pub approval_required: bool,
    /// Extra subject/credential data given with the award (evidence, results, narrative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extras: Option<Value>,
    #[serde(default)]
    pub issued: Vec<IssuedCopy>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default)]
    pub suspended: bool,
    /// The award's status list slot (the same in every purpose's family).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSlot>,
    /// Offers, transaction code, deferred request and wallet notifications.
    #[serde(default)]
    pub wallet: WalletState,
    pub created_at: String,
    pub updated_at: String,
}

/// A staff action on a credential, kept for the record and never published.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    pub at: String,
    /// `revoke`, `suspend`, `unsuspend`, `burn`.
    pub action: String,
    /// Who did it (as the admin request said), or `system`.
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A bit to set or clear together with a record change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitWrite {
    pub purpose: StatusPurpose,
    pub slot: StatusSlot,
    pub value: bool,
}

/// What a record change decided.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Bits to write with the record.
    pub bits: Vec<BitWrite>,
    /// The audit event to keep, if any.
    pub audit: Option<AuditEvent>,
    /// OpenID4VCI index entries to remove with it (a revoked award's offer).
    pub unlink: Vec<WalletKey>,
}

/// What an award change in [`Store::update_wallet`] decided.
#[derive(Debug, Clone)]
pub struct WalletChange<T> {
    /// Whether the record itself changed.
    pub write: bool,
    pub ops: Vec<WalletOp>,
    /// Handed back to the caller.
    pub value: T,
}

impl<T> WalletChange<T> {
    /// Nothing to write.
    pub fn none(value: T) -> Self {
        Self {
            write: false,
            ops: Vec::new(),
            value,
        }
    }

    /// The record changed, with these index writes.
    pub fn write(ops: Vec<WalletOp>, value: T) -> Self {
        Self {
            write: true,
            ops,
            value,
        }
    }
}

/// A pre-authorized code's index entry: the award's uuid, then (when not zero) the
/// number of wrong transaction codes tried.
fn code_value(award: Uuid, failures: u8) -> Vec<u8> {
    let mut v = award.as_bytes().to_vec();
    if failures > 0 {
        v.push(failures);
    }
    v
}

/// The stored bytes of a record as it was read: what a compare-and-swap expects.
#[derive(Debug, Clone)]
pub struct RecordVersion(sled::IVec);

/// A pre-authorized code as its index entry stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEntry {
    pub award: Uuid,
    /// Wrong transaction codes tried so far.
    pub failures: u8,
    raw: sled::IVec,
}

fn nonce_key(nonce: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + nonce.len());
    k.push(b'n');
    k.extend_from_slice(nonce.as_bytes());
    k
}

fn token_key(hash: &[u8; 32]) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = b't';
    k[1..].copy_from_slice(hash);
    k
}

/// The last signed copy of a list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublishedList {
    /// What was signed: a digest of the bits and everything else in the credential
    /// that can change (key, ttl).
    pub digest: String,
    pub jwt: String,
}

impl CredentialRecord {
    /// `urn:uuid:<id>`.
    pub fn credential_id(&self) -> String {
        format!("urn:uuid:{}", self.id)
    }

    /// Every status slot of the award: its own and those of its batch copies.
    pub fn slots(&self) -> Vec<StatusSlot> {
        self.status
            .into_iter()
            .chain(self.issued.iter().filter_map(|c| c.status))
            .collect()
    }
}

/// Filters for the credential listing.
#[derive(Debug, Clone, Default)]
pub struct CredentialFilter {
    pub achievement_id: Option<String>,
    pub email: Option<String>,
    pub state: Option<CredentialState>,
}

impl CredentialFilter {
    fn matches(&self, r: &CredentialRecord) -> bool {
        self.achievement_id
            .as_deref()
            .is_none_or(|a| a == r.achievement_id)
            && self
                .email
                .as_deref()
                .is_none_or(|e| r.recipient.email.as_deref() == Some(e))
            && self.state.is_none_or(|s| s == r.state)
    }
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    achievements: sled::Tree,
    credentials: sled::Tree,
    by_seq: sled::Tree,
    slots: sled::Tree,
    bits: sled::Tree,
    pending: sled::Tree,
    audit: sled::Tree,
    published: sled::Tree,
    wallet: sled::Tree,
    copies: sled::Tree,
    flusher: Arc<flush::GroupFlush>,
}

const PROFILE_KEY: &[u8] = b"issuer_profile";

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

fn encode<T: Serialize>(what: &str, v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, Error> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(Some(500))
            .open()?;
        Ok(Self {
            meta: db.open_tree("meta")?,
            achievements: db.open_tree("achievements")?,
            credentials: db.open_tree("credentials")?,
            by_seq: db.open_tree("credentials_by_seq")?,
            slots: db.open_tree("status_slots")?,
            bits: db.open_tree("status_bits")?,
            pending: db.open_tree("pending")?,
            audit: db.open_tree("audit")?,
            published: db.open_tree("status_published")?,
            wallet: db.open_tree("oid4vci")?,
            copies: db.open_tree("credential_copies")?,
            flusher: Arc::new(flush::GroupFlush::start(db.clone())?),
            db,
        })
    }

    /// Opens (or creates) a named tree for a module that keeps its own records
    /// (trust registry, partner keys, presentation requests).
    pub fn tree(&self, name: &str) -> Result<sled::Tree, Error> {
        Ok(self.db.open_tree(name)?)
    }

    /// Makes every write so far durable.
    ///
    /// Requests are grouped: a dedicated thread runs one blocking `flush` for every
    /// request that arrived before it started. (sled 0.34's `flush_async` can deadlock
    /// when several run at once, sled issues #1241 and #1308.)
    pub async fn flush(&self) -> Result<(), Error> {
        self.flusher.flush().await
    }

    /// How many fsyncs the grouped flusher has run (benchmarks and tests).
    pub fn flush_count(&self) -> u64 {
        self.flusher.count()
    }

    /// Makes every write so far durable, blocking (shutdown paths).
    pub fn flush_blocking(&self) -> Result<(), Error> {
        self.db.flush()?;
        Ok(())
    }

    /// The stored issuer profile (JSON), if one was set.
    pub fn issuer_profile(&self) -> Result<Option<Value>, Error> {
        self.meta
            .get(PROFILE_KEY)?
            .map(|b| decode("issuer profile", &b))
            .transpose()
    }

    /// Replaces the issuer profile.
    pub fn put_issuer_profile(&self, profile: &Value) -> Result<(), Error> {
        self.meta
            .insert(PROFILE_KEY, encode("issuer profile", profile)?)?;
        Ok(())
    }

    /// An achievement by its uuid.
    pub fn achievement(&self, key: Uuid) -> Result<Option<AchievementRecord>, Error> {
        self.achievements
            .get(key.to_string())?
            .map(|b| decode("achievement", &b))
            .transpose()
    }

    /// Inserts or replaces an achievement.
    pub fn put_achievement(&self, rec: &AchievementRecord) -> Result<(), Error> {
        self.achievements
            .insert(rec.key.to_string(), encode("achievement", rec)?)?;
        Ok(())
    }

    /// Every achievement, oldest first.
    pub fn achievements(&self) -> Result<Vec<AchievementRecord>, Error> {
        let mut out = self
            .achievements
            .iter()
            .values()
            .map(|v| decode::<AchievementRecord>("achievement", &v?))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    /// A fresh, never reused sequence number for a new credential.
    pub fn next_seq(&self) -> Result<u64, Error> {
        Ok(self.db.generate_id()?)
    }

    /// Stores a new credential record, its listing entry and its status slot in one
    /// transaction; `pending` marks it as recorded but not yet signed. Fails (and
    /// writes nothing) if the slot was ever given to another credential.
    pub fn insert_credential(&self, rec: &CredentialRecord, pending: bool) -> Result<(), Error> {
        let value = encode("credential", rec)?;
        let id = rec.id.as_bytes().as_slice();
        let links: Vec<Vec<u8>> = [
            rec.wallet
                .offer
                .as_ref()
                .map(|o| WalletKey::Code(o.code.clone())),
            rec.wallet
                .offer
                .as_ref()
                .map(|o| WalletKey::Offer(o.id.clone())),
            rec.wallet.claim_id.clone().map(WalletKey::Claim),
        ]
        .into_iter()
        .flatten()
        .map(|k| k.bytes())
        .collect();
        (
            &self.credentials,
            &self.by_seq,
            &self.slots,
            &self.pending,
            &self.wallet,
        )
            .transaction(|(creds, seq, slots, pend, wallet)| {
                for k in &links {
                    wallet.insert(k.as_slice(), id)?;
                }
                if let Some(slot) = rec.status {
                    if slots.get(slot.key())?.is_some() {
                        return Err(abort(Error::SlotTaken {
                            list: slot.list,
                            index: slot.index,
                        }));
                    }
                    slots.insert(&slot.key(), id)?;
                }
                creds.insert(id, value.as_slice())?;
                seq.insert(&rec.seq.to_be_bytes(), id)?;
                if pending {
                    pend.insert(id, &[])?;
                }
                Ok(())
            })
            .map_err(Error::from)
    }

    /// Replaces a pending record with its signed form and clears the pending mark.
    pub fn complete_pending(&self, rec: &CredentialRecord) -> Result<(), Error> {
        let value = encode("credential", rec)?;
        let id = rec.id.as_bytes().as_slice();
        (&self.credentials, &self.pending)
            .transaction(|(creds, pend)| {
                creds.insert(id, value.as_slice())?;
                pend.remove(id)?;
                Ok(())
            })
            .map_err(Error::from)
    }

    /// Awards recorded but never signed (left by a crash).
    pub fn pending_ids(&self) -> Result<Vec<Uuid>, Error> {
        self.pending
            .iter()
            .keys()
            .map(|k| {
                let k = k?;
                Uuid::from_slice(&k).map_err(|e| Error::Corrupt("pending".into(), e.to_string()))
            })
            .collect()
    }

    /// Abandons a pending award: the record and its listing entry go, its status slot
    /// stays taken forever, and the audit log says why.
    pub fn burn_pending(&self, id: Uuid, event: &AuditEvent) -> Result<(), Error> {
        let audit_key = self.audit_key(id)?;
        let event = encode("audit event", event)?;
        let idb = id.as_bytes().as_slice();
        (&self.credentials, &self.by_seq, &self.pending, &self.audit)
            .transaction(|(creds, seq, pend, audit)| {
                if let Some(bytes) = creds.remove(idb)? {
                    let rec: CredentialRecord = decode("credential", &bytes).map_err(abort)?;
                    seq.remove(&rec.seq.to_be_bytes())?;
                }
                pend.remove(idb)?;
                audit.insert(audit_key.as_slice(), event.as_slice())?;
                Ok(())
            })
            .map_err(Error::from)
    }

    fn audit_key(&self, id: Uuid) -> Result<Vec<u8>, Error> {
        let mut key = id.as_bytes().to_vec();
        key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        Ok(key)
    }

    /// Changes a credential record atomically: `f` sees the current record (it may
    /// run more than once under contention) and returns `Ok(None)` to leave it alone,
    /// `Ok(Some(change))` to write the record with the change's bits and audit event,
    /// or `Err` to abort. Returns the record as it now is and whether it was written.
    pub fn update_credential<F>(&self, id: Uuid, f: F) -> Result<(CredentialRecord, bool), Error>
    where
        F: Fn(&mut CredentialRecord) -> Result<Option<Change>, Error>,
    {
        let audit_key = self.audit_key(id)?;
        let idb = id.as_bytes().as_slice();
        (&self.credentials, &self.bits, &self.audit, &self.wallet)
            .transaction(|(creds, bits, audit, wallet)| {
                let bytes = creds.get(idb)?.ok_or_else(|| abort(Error::Missing(id)))?;
                let mut rec: CredentialRecord = decode("credential", &bytes).map_err(abort)?;
                let Some(change) = f(&mut rec).map_err(abort)? else {
                    return Ok((rec, false));
                };
                creds.insert(idb, encode("credential", &rec).map_err(abort)?)?;
                for k in &change.unlink {
                    wallet.remove(k.bytes())?;
                }
                for b in &change.bits {
                    let key = b.slot.bit_key(b.purpose);
                    if b.value {
                        bits.insert(&key, &[])?;
                    } else {
                        bits.remove(&key)?;
                    }
                }
                if let Some(e) = &change.audit {
                    audit.insert(
                        audit_key.as_slice(),
                        encode("audit event", e).map_err(abort)?,
                    )?;
                }
                Ok((rec, true))
            })
            .map_err(Error::from)
    }

    /// Changes an award and its OpenID4VCI index entries in one transaction (the
    /// rarer paths: re-offers, claim pages, approvals, deferred collection,
    /// notifications). `f` sees the current record (it may run more than once) and
    /// returns what to write. `f` must not touch the store: sled runs the whole
    /// transaction under a process-wide lock that plain reads also take, so a read
    /// from inside `f` would never return. Returns the record as it now is and `f`'s
    /// value.
    pub fn update_wallet<T, F>(&self, id: Uuid, f: F) -> Result<(CredentialRecord, T), Error>
    where
        F: Fn(&mut CredentialRecord) -> Result<WalletChange<T>, Error>,
    {
        let idb = id.as_bytes().as_slice();
        (&self.credentials, &self.wallet)
            .transaction(|(creds, wallet)| {
                let bytes = creds.get(idb)?.ok_or_else(|| abort(Error::Missing(id)))?;
                let mut rec: CredentialRecord = decode("credential", &bytes).map_err(abort)?;
                let change = f(&mut rec).map_err(abort)?;
                for op in &change.ops {
                    match op {
                        WalletOp::Link(k) => {
                            wallet.insert(k.bytes(), idb)?;
                        }
                        WalletOp::LinkCode(code) => {
                            wallet.insert(WalletKey::Code(code.clone()).bytes(), idb)?;
                        }
                        WalletOp::RelinkCode {
                            old,
                            new,
                            max_failures,
                        } => {
                            let failures = match old {
                                Some(o) => wallet
                                    .remove(WalletKey::Code(o.clone()).bytes())?
                                    .and_then(|v| v.get(16).copied())
                                    .unwrap_or(0),
                                None => 0,
                            };
                            if failures >= *max_failures {
                                return Err(abort(Error::Refused(
                                    "too many wrong transaction codes".into(),
                                )));
                            }
                            wallet.insert(
                                WalletKey::Code(new.clone()).bytes(),
                                code_value(id, failures).as_slice(),
                            )?;
                        }
                        WalletOp::Unlink(k) => {
                            wallet.remove(k.bytes())?;
                        }
                    }
                }
                if change.write {
                    creds.insert(idb, encode("credential", &rec).map_err(abort)?)?;
                }
                Ok((rec, change.value))
            })
            .map_err(Error::from)
    }

    /// A pre-authorized code's index entry.
    pub fn code_entry(&self, code: &str) -> Result<Option<CodeEntry>, Error> {
        let Some(raw) = self.wallet.get(WalletKey::Code(code.to_owned()).bytes())? else {
            return Ok(None);
        };
        let award = raw
            .get(..16)
            .and_then(|b| Uuid::from_slice(b).ok())
            .ok_or_else(|| Error::Corrupt("code entry".into(), "too short".into()))?;
        let failures = raw.get(16).copied().unwrap_or(0);
        Ok(Some(CodeEntry {
            award,
            failures,
            raw,
        }))
    }

    /// Counts one more wrong transaction code against a code, if its entry is still
    /// as `seen` (a single-key compare-and-swap, no transaction). `false` means it
    /// changed meanwhile: read it again.
    pub fn code_failed(&self, code: &str, seen: &CodeEntry) -> Result<bool, Error> {
        let new = code_value(seen.award, seen.failures.saturating_add(1));
        Ok(self
            .wallet
            .compare_and_swap(
                WalletKey::Code(code.to_owned()).bytes(),
                Some(&seen.raw),
                Some(new),
            )?
            .is_ok())
    }

    /// Spends a code: removes its entry if it is still as `seen`. Of concurrent
    /// callers one gets `true`.
    pub fn spend_code(&self, code: &str, seen: &CodeEntry) -> Result<bool, Error> {
        Ok(self
            .wallet
            .compare_and_swap(
                WalletKey::Code(code.to_owned()).bytes(),
                Some(&seen.raw),
                None as Option<&[u8]>,
            )?
            .is_ok())
    }

    /// Stores a token grant under the SHA-256 of the token.
    pub fn put_token(&self, hash: &[u8; 32], grant: &TokenGrant) -> Result<(), Error> {
        self.wallet
            .insert(token_key(hash), encode("token", grant)?)?;
        Ok(())
    }

    /// Removes a token grant; `true` if it was there (single use for refresh tokens).
    pub fn take_token(&self, hash: &[u8; 32]) -> Result<bool, Error> {
        Ok(self.wallet.remove(token_key(hash))?.is_some())
    }

    /// Points an index entry at an award (no transaction).
    pub fn link(&self, key: &WalletKey, award: Uuid) -> Result<(), Error> {
        self.wallet
            .insert(key.bytes(), award.as_bytes().as_slice())?;
        Ok(())
    }

    /// Consumes a nonce: `true` if it existed and had not expired at `now`. A
    /// single-key remove, so of concurrent callers at most one gets `true`.
    pub fn take_nonce(&self, nonce: &str, now: i64) -> Result<bool, Error> {
        let expiry = self
            .wallet
            .remove(nonce_key(nonce))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_be_bytes);
        Ok(expiry.is_some_and(|e| e >= now))
    }

    /// Gives a status slot to an award's batch copy, failing if it was ever given
    /// out, and records the copy's id as the award's.
    pub fn take_copy_slot(&self, slot: StatusSlot, copy: Uuid, award: Uuid) -> Result<(), Error> {
        let idb = award.as_bytes().as_slice();
        if self
            .slots
            .compare_and_swap(slot.key(), None as Option<&[u8]>, Some(idb))?
            .is_err()
        {
            return Err(Error::SlotTaken {
                list: slot.list,
                index: slot.index,
            });
        }
        self.copies.insert(copy.as_bytes().as_slice(), idb)?;
        Ok(())
    }

    /// Changes a credential record by compare-and-swap, without a transaction (sled
    /// runs every transaction under one process-wide lock; the hot OpenID4VCI path
    /// avoids them). `f` sees the current record and returns whether to write it; on
    /// a concurrent change it runs again on the new record.
    pub fn cas_credential<T, F>(&self, id: Uuid, f: F) -> Result<(CredentialRecord, T), Error>
    where
        F: FnMut(&mut CredentialRecord) -> Result<(bool, T), Error>,
    {
        self.cas_credential_from(id, None, f)
    }

    /// A credential record with the version [`Store::cas_credential_from`] compares
    /// against.
    pub fn credential_versioned(
        &self,
        id: Uuid,
    ) -> Result<Option<(RecordVersion, CredentialRecord)>, Error> {
        self.credentials
            .get(id.as_bytes())?
            .map(|b| Ok((RecordVersion(b.clone()), decode("credential", &b)?)))
            .transpose()
    }

    /// [`Store::cas_credential`] starting from a record read earlier (saving a read
    /// and a decode when nothing changed since).
    pub fn cas_credential_from<T, F>(
        &self,
        id: Uuid,
        mut seed: Option<(RecordVersion, CredentialRecord)>,
        mut f: F,
    ) -> Result<(CredentialRecord, T), Error>
    where
        F: FnMut(&mut CredentialRecord) -> Result<(bool, T), Error>,
    {
        let idb = id.as_bytes().as_slice();
        loop {
            let (old, mut rec) = match seed.take() {
                Some((RecordVersion(old), rec)) => (old, rec),
                None => {
                    let old = self.credentials.get(idb)?.ok_or(Error::Missing(id))?;
                    let rec: CredentialRecord = decode("credential", &old)?;
                    (old, rec)
                }
            };
            let (write, value) = f(&mut rec)?;
            if !write {
                return Ok((rec, value));
            }
            let new = encode("credential", &rec)?;
            if self
                .credentials
                .compare_and_swap(idb, Some(&old), Some(new))?
                .is_ok()
            {
                return Ok((rec, value));
            }
        }
    }

    /// The award an OpenID4VCI index entry points at.
    pub fn wallet_lookup(&self, key: &WalletKey) -> Result<Option<Uuid>, Error> {
        self.wallet
            .get(key.bytes())?
            .map(|v| {
                Uuid::from_slice(&v).map_err(|e| Error::Corrupt("oid4vci".into(), e.to_string()))
            })
            .transpose()
    }

    /// Removes an index entry.
    pub fn wallet_unlink(&self, key: &WalletKey) -> Result<(), Error> {
        self.wallet.remove(key.bytes())?;
        Ok(())
    }

    /// Stores a fresh nonce (not flushed: a nonce lost in a crash is merely unknown
    /// afterwards, which the wallet recovers from by asking for another).
    pub fn put_nonce(&self, nonce: &str, expires_at: i64) -> Result<(), Error> {
        self.wallet
            .insert(nonce_key(nonce), &expires_at.to_be_bytes())?;
        Ok(())
    }

    /// The grant stored under a token's SHA-256.
    pub fn token_grant(&self, hash: &[u8; 32]) -> Result<Option<TokenGrant>, Error> {
        self.wallet
            .get(token_key(hash))?
            .map(|b| decode("token", &b))
            .transpose()
    }

    /// The award a batch copy belongs to.
    pub fn copy_owner(&self, copy: Uuid) -> Result<Option<Uuid>, Error> {
        self.copies
            .get(copy.as_bytes())?
            .map(|v| Uuid::from_slice(&v).map_err(|e| Error::Corrupt("copy".into(), e.to_string())))
            .transpose()
    }

    /// Drops expired nonces and tokens. Returns how many went.
    pub fn sweep_wallet(&self, now: i64) -> Result<usize, Error> {
        let mut gone = 0;
        for prefix in [b'n', b't'] {
            for item in self.wallet.scan_prefix([prefix]) {
                let (k, v) = item?;
                let expires_at = if prefix == b'n' {
                    <[u8; 8]>::try_from(v.as_ref())
                        .map(i64::from_be_bytes)
                        .unwrap_or(0)
                } else {
                    decode::<TokenGrant>("token", &v)
                        .map(|g| g.expires_at)
                        .unwrap_or(0)
                };
                if expires_at < now {
                    self.wallet.remove(k)?;
                    gone += 1;
                }
            }
        }
        Ok(gone)
    }

    /// The audit events of a credential, oldest first.
    pub fn audit_events(&self, id: Uuid) -> Result<Vec<AuditEvent>, Error> {
        self.audit
            .scan_prefix(id.as_bytes())
            .values()
            .map(|v| decode("audit event", &v?))
            .collect()
    }

    /// Every status slot ever taken (keys of `status_slots`).
    pub fn status_slot_keys(&self) -> impl Iterator<Item = Result<sled::IVec, Error>> + '_ {
        self.slots.iter().keys().map(|k| k.map_err(Error::from))
    }

    /// The credential a slot was given to.
    pub fn slot_owner(&self, slot: StatusSlot) -> Result<Option<Uuid>, Error> {
        self.slots
            .get(slot.key())?
            .map(|v| Uuid::from_slice(&v).map_err(|e| Error::Corrupt("slot".into(), e.to_string())))
            .transpose()
    }

    /// Every set status bit (keys of `status_bits`).
    pub fn status_bit_keys(&self) -> impl Iterator<Item = Result<sled::IVec, Error>> + '_ {
        self.bits.iter().keys().map(|k| k.map_err(Error::from))
    }

    fn published_key(purpose: StatusPurpose, list: u32) -> [u8; 5] {
        let mut k = [0u8; 5];
        k[0] = purpose.tag();
        k[1..].copy_from_slice(&list.to_be_bytes());
        k
    }

    /// The last signed copy of a list.
    pub fn published_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<PublishedList>, Error> {
        self.published
            .get(Self::published_key(purpose, list))?
            .map(|b| decode("published list", &b))
            .transpose()
    }

    /// Keeps the last signed copy of a list (no flush: losing it only costs a
    /// signature).
    pub fn put_published_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
        p: &PublishedList,
    ) -> Result<(), Error> {
        self.published.insert(
            Self::published_key(purpose, list),
            encode("published list", p)?,
        )?;
        Ok(())
    }

    /// A credential record by uuid.
    pub fn credential(&self, id: Uuid) -> Result<Option<CredentialRecord>, Error> {
        self.credentials
            .get(id.as_bytes())?
            .map(|b| decode("credential", &b))
            .transpose()
    }

    /// Credentials newest first, after `cursor` (a sequence number from a previous
    /// page), at most `limit`. Returns the page and the cursor of the next one.
    pub fn list_credentials(
        &self,
        filter: &CredentialFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<(Vec<CredentialRecord>, Option<u64>), Error> {
        let upper = cursor.unwrap_or(u64::MAX);
        let mut out = Vec::with_capacity(limit.min(256));
        let mut next = None;
        for item in self.by_seq.range(..upper.to_be_bytes()).rev() {
            let (seq_key, id) = item?;
            let id = Uuid::from_slice(&id)
                .map_err(|e| Error::Corrupt("credential index".into(), e.to_string()))?;
            let Some(rec) = self.credential(id)? else {
                continue;
            };
            if !filter.matches(&rec) {
                continue;
            }
            if out.len() == limit {
                // There is at least one more: the page ends at the last one taken.
                next = out.last().map(|r: &CredentialRecord| r.seq);
                let _ = seq_key;
                break;
            }
            out.push(rec);
        }
        Ok((out, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Criteria, types};

    fn achievement() -> Achievement {
        Achievement {
            id: "https://example.edu/achievements/1".into(),
            type_: types(&["Achievement"]),
            alignment: None,
            achievement_type: None,
            creator: None,
            credits_available: None,
            criteria: Criteria {
                narrative: Some("Do it".into()),
                ..Default::default()
            },
            description: "A thing".into(),
            endorsement: None,
            endorsement_jwt: None,
            field_of_study: None,
            human_code: None,
            image: None,
            in_language: None,
            name: "Thing".into(),
            other_identifier: None,
            related: None,
            result_description: None,
            specialization: None,
            tag: None,
            version: None,
            extra: Default::default(),
        }
    }

    fn record(store: &Store, email: &str) -> CredentialRecord {
        CredentialRecord {
            id: Uuid::new_v4(),
            seq: store.next_seq().expect("seq"),
            achievement_id: "https://example.edu/achievements/1".into(),
            achievement: achievement(),
            recipient: Recipient {
                email: Some(email.into()),
                ..Default::default()
            },
            state: CredentialState::Offered,
            salt: "s".into(),
            valid_from: "2024-01-01T00:00:00Z".into(),
            valid_until: None,
            tx_code_required: true,
            approval_required: false,
            extras: None,
            issued: vec![],
            revoked: false,
            suspended: false,
            status: None,
            wallet: Default::default(),
            created_at: "2024-01-01T00:00:00Z".into(),
            updated_at: "2024-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn credentials_list_newest_first_with_a_cursor_that_pages_exactly() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let mut ids = vec![];
        for i in 0..5 {
            let r = record(&store, if i % 2 == 0 { "a@x.org" } else { "b@x.org" });
            store.insert_credential(&r, false).expect("insert");
            ids.push(r.id);
        }
        let all = CredentialFilter::default();
        let (page1, next) = store.list_credentials(&all, 2, None).expect("list");
        assert_eq!(
            page1.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[4], ids[3]]
        );
        let (page2, next) = store.list_credentials(&all, 2, next).expect("list");
        assert_eq!(
            page2.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![ids[2], ids[1]]
        );
        let (page3, next) = store.list_credentials(&all, 2, next).expect("list");
        assert_eq!(page3.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[0]]);
        assert!(next.is_none());

        let only_a = CredentialFilter {
            email: Some("a@x.org".into()),
            ..Default::default()
        };
        let (a, _) = store.list_credentials(&only_a, 10, None).expect("list");
        assert_eq!(a.len(), 3);
    }

    #[test]
    fn records_survive_reopening_after_flush() {
        let dir = tempfile::tempdir().expect("tmp");
        let r = {
            let store = Store::open(dir.path()).expect("open");
            let r = record(&store, "a@x.org");
            store.insert_credential(&r, false).expect("insert");
            store.flush_blocking().expect("flush");
            r
        };
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.credential(r.id).expect("get"), Some(r));
    }

    #[test]
    fn a_code_counts_wrong_tries_and_is_spent_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let mut r = record(&store, "a@x.org");
        r.wallet.offer = Some(OfferState {
            id: "offer-1".into(),
            code: "code-1".into(),
            expires_at: 10,
            created_at: "2024-01-01T00:00:00Z".into(),
        });
        store.insert_credential(&r, false).expect("insert");
        let e = store
            .code_entry("code-1")
            .expect("read")
            .expect("linked at insert");
        assert_eq!((e.award, e.failures), (r.id, 0));
        assert!(store.code_failed("code-1", &e).expect("cas"));
        // A stale view loses: the entry changed under it.
        assert!(!store.code_failed("code-1", &e).expect("cas"));
        assert!(!store.spend_code("code-1", &e).expect("cas"));
        let e = store
            .code_entry("code-1")
            .expect("read")
            .expect("still there");
        assert_eq!(e.failures, 1);
        assert!(store.spend_code("code-1", &e).expect("cas"));
        assert!(!store.spend_code("code-1", &e).expect("cas"), "spent once");
        assert!(store.code_entry("code-1").expect("read").is_none());
    }

    #[test]
    fn nonces_are_single_use_and_expire() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        store.put_nonce("n1", 100).expect("put");
        store.put_nonce("n2", 100).expect("put");
        assert!(store.take_nonce("n1", 100).expect("take"));
        assert!(!store.take_nonce("n1", 100).expect("take"), "used");
        assert!(!store.take_nonce("n2", 101).expect("take"), "expired");
        assert!(!store.take_nonce("never", 0).expect("take"));
        store.put_nonce("n3", 50).expect("put");
        store.put_nonce("n4", 500).expect("put");
        assert_eq!(store.sweep_wallet(100).expect("sweep"), 1);
        assert!(
            store.take_nonce("n4", 100).expect("take"),
            "unexpired ones stay"
        );
    }

    #[test]
    fn compare_and_swap_changes_see_each_other() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let r = record(&store, "a@x.org");
        store.insert_credential(&r, false).expect("insert");
        let (version, _) = store
            .credential_versioned(r.id)
            .expect("read")
            .expect("there");
        // A change made after the read above...
        store
            .cas_credential(r.id, |rec| {
                rec.revoked = true;
                Ok((true, ()))
            })
            .expect("cas");
        // ...is seen by a change that started from the older read: its first try
        // fails the comparison and it runs again on the current record.
        let mut seen = Vec::new();
        let (now, ()) = store
            .cas_credential_from(r.id, Some((version, r)), |rec| {
                seen.push(rec.revoked);
                rec.suspended = true;
                Ok((true, ()))
            })
            .expect("cas");
        assert_eq!(seen, [false, true]);
        assert!(now.revoked && now.suspended);
    }

    #[test]
    fn a_copy_slot_is_given_out_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(dir.path()).expect("open");
        let award = Uuid::new_v4();
        let slot = StatusSlot { list: 1, index: 7 };
        let copy = Uuid::new_v4();
        store.take_copy_slot(slot, copy, award).expect("free");
        assert_eq!(store.slot_owner(slot).expect("owner"), Some(award));
        assert_eq!(store.copy_owner(copy).expect("copy"), Some(award));
        assert!(matches!(
            store.take_copy_slot(slot, Uuid::new_v4(), award),
            Err(Error::SlotTaken { .. })
        ));
    }
}
