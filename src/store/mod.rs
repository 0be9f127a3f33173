//! Storage: repository traits named after what the domain asks of it, and the one
//! implementation there is today, in [`sled`] (the only module that knows which store
//! engine runs underneath, how keys are encoded, or which trees exist).
//!
//! # The rules every implementation keeps
//! - **Visibility and durability.** A write is visible to every reader as soon as its
//!   method returns, and durable (it survives `kill -9`) once a later
//!   [`Durable::flush`] returns. Callers flush before they acknowledge a write: a 2xx
//!   answer to a write means it is durable. Concurrent flushes are grouped, so N
//!   writers waiting at once cost about one sync, not N.
//! - **One method, one atomic unit.** What must happen together is one trait method,
//!   never a transaction handle passed around: recording an award takes its status
//!   slot with it ([`Awards::reserve_award`], [`Awards::insert_award`]); spending a
//!   pre-authorized code is [`Offers::spend_code`]; deciding a presentation request is
//!   [`PresentationRequests::decide`]; changing an award together with its status bits,
//!   audit event and wallet handles is [`Awards::update_award`]. A change function
//!   passed in sees the record as it is, may run more than once (when another change
//!   landed first) and must not call the store itself.
//! - **Crash order.** Between a write and the flush after it, a crash may keep any
//!   prefix of what was written, never a later write without an earlier one. Writes
//!   that are not one atomic unit are ordered so that every prefix is harmless: a
//!   status slot is taken before anything names it, an index entry is written before
//!   the record it leads to (an entry leading nowhere is ignored), a record is gone
//!   before its index entry goes.
//! - **Single use.** Codes, nonces, refresh tokens and presentation answers are spent
//!   by one compare-and-swap or removal: of concurrent callers exactly one succeeds.
//!
//! # Adding state
//! New kinds of state get a new repository trait here, named after what the domain
//! asks (`Sessions`, `Outbox`, ...), with records in [`crate::records`] and an
//! implementation beside the others. Nothing outside `store/` ever sees a tree, a
//! transaction or an encoded key.
//!
//! The traits are asynchronous and object-safe: the domain holds `Arc<dyn Awards>`
//! and friends, and a networked store (PostgreSQL) can stand in for [`sled`] without a
//! caller changing.

mod codec;
pub mod postgres;
pub mod sled;
pub mod transfer;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::model::Achievement;
use crate::records::partner::PartnerKeyRecord;
use crate::records::presentation::PresentationRequest;
use crate::records::profile::IssuerProfile;
use crate::records::trust::{Entry as TrustEntry, IssuerId};
use crate::records::{
    AchievementRecord, AchievementRef, AuditEvent, AuditRecord, Award, AwardState, BadgeType,
    CodeEntry, EarnerRecord, Handle, MailSettings, MailTemplate, OutboxMessage, PersonalToken,
    Placement, SecuritySettings, SessionRecord, StaffLink, StaffRecord, StoredImage, TemplateKind,
    TokenGrant, Visibility, WalletHandle,
};
use crate::status::{SignedList, StatusPurpose, StatusSlot};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine underneath failed (I/O, a full disk, a lost connection).
    #[error("storage: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    #[error("stored record {0} is corrupt: {1}")]
    Corrupt(String, String),
    #[error("the storage task failed: {0}")]
    Task(String),
    #[error("no record {0}")]
    Missing(Uuid),
    /// A change function declined the change (the record's state forbids it).
    #[error("{0}")]
    Refused(String),
    #[error("status slot {list}/{index} is already taken")]
    SlotTaken { list: u32, index: u32 },
}

/// What every repository shares: flushing writes to durable storage.
#[async_trait]
pub trait Durable: Send + Sync {
    /// Makes every write that returned before this call durable.
    async fn flush(&self) -> Result<(), Error>;

    /// How many times writes were made durable so far (for sled: grouped fsyncs); for
    /// benchmarks and tests that count them.
    fn flushes(&self) -> u64;

    /// Answers once the store can be read (for readiness probes).
    async fn ping(&self) -> Result<(), Error>;

    /// Bytes the store takes on disk (the data directory, or the database).
    async fn size_on_disk(&self) -> Result<u64, Error>;
}

/// The issuer profile every badge names.
#[async_trait]
pub trait IssuerProfiles: Durable {
    /// The profile staff set, if they did.
    async fn issuer_profile(&self) -> Result<Option<IssuerProfile>, Error>;
    async fn put_issuer_profile(&self, profile: &IssuerProfile) -> Result<(), Error>;
    /// The identity the store was created for (`None` before it was first recorded).
    async fn identity(&self) -> Result<Option<crate::records::profile::StoreIdentity>, Error>;
    async fn put_identity(
        &self,
        identity: &crate::records::profile::StoreIdentity,
    ) -> Result<(), Error>;
}

/// A change to an achievement: returns whether to write it.
pub type AchievementChange<'a> =
    dyn FnMut(&mut AchievementRecord) -> Result<bool, Error> + Send + 'a;

/// Achievements and every revision of their definitions.
#[async_trait]
pub trait Achievements: Durable {
    /// An achievement as it stands now.
    async fn achievement(&self, key: Uuid) -> Result<Option<AchievementRecord>, Error>;
    /// Every achievement, oldest first.
    async fn achievements(&self) -> Result<Vec<AchievementRecord>, Error>;
    /// The definition an award was made from.
    async fn revision(&self, of: AchievementRef) -> Result<Option<Achievement>, Error>;
    /// Records a new achievement; its definition is kept as its revision.
    async fn insert_achievement(&self, rec: &AchievementRecord) -> Result<(), Error>;
    /// Changes an achievement: `change` sees it as it stands and says whether to write
    /// it. A changed definition comes with a higher `revision`, and is kept as that
    /// revision too. Changes to one achievement never interleave.
    async fn update_achievement(
        &self,
        key: Uuid,
        change: &mut AchievementChange<'_>,
    ) -> Result<AchievementRecord, Error>;
}

/// A status bit to set or clear together with an award change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitWrite {
    pub purpose: StatusPurpose,
    pub slot: StatusSlot,
    pub value: bool,
}

/// A wallet handle to add or drop together with an award change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandleOp {
    /// Points a handle at the award (a code with no wrong tries counted).
    Link(WalletHandle),
    /// Replaces the award's pre-authorized code `old` (if any) with `new`, carrying
    /// over the wrong tries counted against it, read in the same atomic unit so that
    /// no concurrent try is lost. Fails with [`Error::Refused`] if `old` already has
    /// `max_failures`.
    RelinkCode {
        old: Option<String>,
        new: String,
        max_failures: u8,
    },
    /// Drops a handle.
    Unlink(WalletHandle),
}

/// What a change function decided about an award.
#[derive(Debug, Clone, Default)]
pub struct AwardChange {
    /// Whether to write anything at all (the award, and all below).
    pub write: bool,
    /// Status bits written with it.
    pub bits: Vec<BitWrite>,
    /// An audit event kept with it.
    pub audit: Option<AuditEvent>,
    /// Wallet handles linked or dropped with it.
    pub handles: Vec<HandleOp>,
}

impl AwardChange {
    /// Leave the award as it is.
    pub fn none() -> Self {
        Self::default()
    }

    /// Write the award, and nothing else.
    pub fn award() -> Self {
        Self {
            write: true,
            ..Self::default()
        }
    }

    /// Write the award with these handle changes.
    pub fn with_handles(handles: Vec<HandleOp>) -> Self {
        Self {
            write: true,
            handles,
            ..Self::default()
        }
    }
}

/// A change to an award (see [`Awards::update_award`]).
pub type AwardChangeFn<'a> = dyn FnMut(&mut Award) -> Result<AwardChange, Error> + Send + 'a;

/// Filters for the award listing.
#[derive(Debug, Clone, Default)]
pub struct AwardFilter {
    /// Awards of this achievement (any revision).
    pub achievement: Option<Uuid>,
    /// Awards to this (normalised) e-mail address.
    pub email: Option<String>,
    /// Awards naming this recipient id (a DID or other IRI).
    pub recipient_id: Option<String>,
    pub state: Option<AwardState>,
    /// Awards whose recipient name holds every one of these words ([`name_words`]).
    pub name_words: Vec<String>,
    pub revoked: Option<bool>,
    pub suspended: Option<bool>,
    /// Whether the award's `validUntil` has passed at the given instant.
    pub expired: Option<(bool, OffsetDateTime)>,
}

/// The words of a name as the search index keeps them: lower case, split at anything
/// that is not a letter or digit, each word once.
pub fn name_words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = w.to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

impl AwardFilter {
    /// Whether an award passes.
    pub fn matches(&self, a: &Award) -> bool {
        self.achievement.is_none_or(|k| k == a.achievement.key)
            && self
                .email
                .as_deref()
                .is_none_or(|e| a.recipient.email.as_deref() == Some(e))
            && self
                .recipient_id
                .as_deref()
                .is_none_or(|i| a.recipient.id.as_deref() == Some(i))
            && self.state.is_none_or(|s| s == a.state)
            && self.revoked.is_none_or(|r| r == a.revoked)
            && self.suspended.is_none_or(|s| s == a.suspended)
            && self
                .expired
                .is_none_or(|(e, now)| e == a.valid_until.is_some_and(|u| u <= now))
            && (self.name_words.is_empty() || {
                let have = name_words(a.recipient.name.as_deref().unwrap_or(""));
                self.name_words.iter().all(|w| have.contains(w))
            })
    }
}

/// One page of the award listing.
#[derive(Debug, Clone, Default)]
pub struct AwardPage {
    pub awards: Vec<Award>,
    /// Where the next page starts, when there is one.
    pub next: Option<u64>,
}

/// Awards, the badges signed for them, their status slots and their audit trail.
#[async_trait]
pub trait Awards: Durable {
    /// The intent to sign an award (direct delivery), before anything is signed: takes
    /// its status slot (refused with [`Error::SlotTaken`], and nothing written, if the
    /// slot was ever given out) and marks the award pending. The award itself is
    /// recorded once signed ([`Awards::record_reserved`]); an intent a crash left
    /// behind is found by [`Awards::pending_awards`].
    async fn reserve_award(&self, id: Uuid, slot: StatusSlot) -> Result<(), Error>;
    /// Records an award, atomically with what makes it findable: its status slot
    /// (refused with [`Error::SlotTaken`], and nothing written, if that slot was ever
    /// given out), `handles` (its offer's and claim page's, as the issuer indexes
    /// them), and its place in the newest-first listing (`award.seq`, set here).
    /// The messages in `mail` go into the outbox with it (same flush, written first:
    /// an award is never recorded without its messages).
    async fn insert_award(
        &self,
        award: &mut Award,
        handles: &[WalletHandle],
        mail: &[OutboxMessage],
    ) -> Result<(), Error>;
    /// Records an award [`Awards::reserve_award`] reserved (with its slot), as
    /// [`Awards::insert_award`] does; the reservation is fulfilled, no longer pending.
    async fn record_reserved(&self, award: &mut Award) -> Result<(), Error>;
    /// Awards reserved and never recorded, with the slots they reserved: all of them,
    /// or (in a store a fleet shares, where other nodes may be signing right now)
    /// those reserved longer than `older_than` ago.
    async fn pending_awards(
        &self,
        older_than: Option<std::time::Duration>,
    ) -> Result<Vec<(Uuid, StatusSlot)>, Error>;
    /// Abandons a reserved award: it (and its listing entry, if it was recorded) goes,
    /// its status slot stays taken for ever, and `event` says why. Nothing happens
    /// when the reservation is gone already.
    async fn burn_award(&self, id: Uuid, slot: StatusSlot, event: &AuditEvent)
    -> Result<(), Error>;
    async fn award(&self, id: Uuid) -> Result<Option<Award>, Error>;
    /// Whether an award is revoked or suspended: every verification of one of this
    /// issuer's badges asks, so a store may answer without decoding the rest (its
    /// signed copies above all).
    async fn award_standing(&self, id: Uuid) -> Result<Option<AwardStanding>, Error> {
        Ok(self.award(id).await?.map(|a| AwardStanding {
            revoked: a.revoked,
            suspended: a.suspended,
        }))
    }
    /// The award a batch copy's id belongs to.
    async fn award_of_copy(&self, copy: Uuid) -> Result<Option<Uuid>, Error>;
    /// Gives `slot` to a batch copy `copy` of `award` (refused with
    /// [`Error::SlotTaken`] if it was ever given out) and records the copy's id as the
    /// award's.
    async fn add_copy(&self, award: Uuid, copy: Uuid, slot: StatusSlot) -> Result<(), Error>;
    /// Awards newest first, after `cursor` (a page's `next`), at most `limit`.
    async fn awards(
        &self,
        filter: &AwardFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<AwardPage, Error>;
    /// Changes an award atomically: `change` sees it as it stands and decides; the
    /// award and everything the decision names (status bits, audit event, wallet
    /// handles) are written together or not at all. [`Error::Missing`] when there is
    /// no such award. Returns the award as it now stands.
    async fn update_award(&self, id: Uuid, change: &mut AwardChangeFn<'_>) -> Result<Award, Error>;
    /// The audit events of an award, oldest first.
    async fn audit_events(&self, id: Uuid) -> Result<Vec<AuditEvent>, Error>;
    /// How many awards there are, and in which states (for the console's dashboard).
    async fn award_counts(&self) -> Result<AwardCounts, Error>;
}

/// What a verification needs of an award: whether it is revoked or suspended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwardStanding {
    pub revoked: bool,
    pub suspended: bool,
}

/// Award totals by state. `offered` counts awards no one has taken yet; `revoked`
/// and `suspended` count awards with that flag, whatever their state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AwardCounts {
    pub total: u64,
    pub offered: u64,
    pub revoked: u64,
    pub suspended: u64,
}

/// Named counters by day (days since the Unix epoch, UTC): verifications and the
/// like, for the console. Written in batches; a crash may lose the last batch.
#[async_trait]
pub trait Counters: Durable {
    /// Adds `n` to the counter `name` of `day`.
    async fn add_count(&self, name: &str, day: i64, n: u64) -> Result<(), Error>;
    /// The sum of the counter `name` over the days `from..=to`.
    async fn count(&self, name: &str, from: i64, to: i64) -> Result<u64, Error>;
}

impl dyn Awards {
    /// [`Awards::update_award`] with a value handed back from the change function (its
    /// last run).
    pub async fn change<T: Send>(
        &self,
        id: Uuid,
        mut f: impl FnMut(&mut Award) -> Result<(AwardChange, T), Error> + Send,
    ) -> Result<(Award, T), Error> {
        let mut out = None;
        let award = self
            .update_award(id, &mut |a: &mut Award| {
                let (change, value) = f(a)?;
                out = Some(value);
                Ok(change)
            })
            .await?;
        let value = out.ok_or_else(|| Error::Task("the change function never ran".into()))?;
        Ok((award, value))
    }
}

/// What the status lists hold in the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusState {
    /// How many lists are closed: every list before the newest one that has a slot
    /// given out. New slots come only from the newest list (a list is opened when the
    /// one before it is full), so a restart needs the slots of the newest list only,
    /// not one key per credential ever issued.
    pub closed_lists: u32,
    /// Every slot given out in the lists after the closed ones.
    pub slots: Vec<StatusSlot>,
    /// Every bit set.
    pub bits: Vec<(StatusPurpose, StatusSlot)>,
}

/// Bitstring Status Lists: the slots given out, the bits set, the lists signed.
#[async_trait]
pub trait StatusLists: Durable {
    /// Enough to rebuild the lists in memory: the closed lists, the slots of the
    /// newest list and every bit set.
    async fn status_state(&self) -> Result<StatusState, Error>;
    /// The award a slot was given to.
    async fn slot_owner(&self, slot: StatusSlot) -> Result<Option<Uuid>, Error>;
    /// The last signed copy of a list.
    async fn signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<SignedList>, Error>;
    /// Keeps the last signed copy of a list (losing it costs only a signature) and
    /// returns the copy that stands: when one with the same digest is kept already
    /// (another node signed the same bits first), that one, so that every node serves
    /// the same bytes.
    async fn put_signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
        signed: &SignedList,
    ) -> Result<SignedList, Error>;
}

/// The handles a wallet or earner holds (codes, offer ids, claim pages, deferred
/// transactions, notification ids) and the award each leads to.
#[async_trait]
pub trait Offers: Durable {
    /// The award a handle leads to.
    async fn award_for(&self, handle: &WalletHandle) -> Result<Option<Uuid>, Error>;
    /// Points a handle at an award.
    async fn link(&self, handle: &WalletHandle, award: Uuid) -> Result<(), Error>;
    /// Drops a handle.
    async fn unlink(&self, handle: &WalletHandle) -> Result<(), Error>;
    /// A pre-authorized code as it stands.
    async fn code(&self, code: &str) -> Result<Option<CodeEntry>, Error>;
    /// Counts one more wrong transaction code against `code` if it still stands as
    /// `seen`; `false` when it changed meanwhile (read it again).
    async fn count_wrong_tx_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error>;
    /// Spends `code` if it still stands as `seen`. Of concurrent callers one gets
    /// `true`; the code is gone for all.
    async fn spend_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error>;
}

/// OpenID4VCI access and refresh tokens, kept by the SHA-256 of the token.
#[async_trait]
pub trait Tokens: Durable {
    async fn put_token(&self, digest: &[u8; 32], grant: &TokenGrant) -> Result<(), Error>;
    async fn token(&self, digest: &[u8; 32]) -> Result<Option<TokenGrant>, Error>;
    /// Removes a token; `true` if it was there (of concurrent callers, one).
    async fn take_token(&self, digest: &[u8; 32]) -> Result<bool, Error>;
    /// Drops the tokens expired before `now`; returns how many went.
    async fn sweep_tokens(&self, now: OffsetDateTime) -> Result<usize, Error>;
}

/// OpenID4VCI `c_nonce` values.
#[async_trait]
pub trait Nonces: Durable {
    async fn put_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<(), Error>;
    /// Consumes a nonce: `true` if it existed and had not expired at `now`. Of
    /// concurrent callers at most one gets `true`.
    async fn take_nonce(&self, nonce: &str, now: OffsetDateTime) -> Result<bool, Error>;
    /// Records `nonce` as spent until `expires_at`: `true` when it was not recorded
    /// already. Of concurrent callers at most one gets `true`. (Nonces that carry
    /// their own expiry and MAC are stored only once spent.)
    async fn spend_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<bool, Error>;
    /// Drops the nonces expired before `now`; returns how many went.
    async fn sweep_nonces(&self, now: OffsetDateTime) -> Result<usize, Error>;
}

/// What the sweep and the counts read of a presentation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    pub id: Uuid,
    pub tx: String,
    pub expires_at: OffsetDateTime,
    pub answered_at: Option<OffsetDateTime>,
    pub created_by: Option<String>,
}

/// OpenID4VP presentation requests.
#[async_trait]
pub trait PresentationRequests: Durable {
    /// Records a new request, findable by id and by its wallet handle `tx`.
    async fn insert_request(&self, request: &PresentationRequest) -> Result<(), Error>;
    async fn request(&self, id: Uuid) -> Result<Option<PresentationRequest>, Error>;
    /// The id of the request whose wallet handle is `tx`.
    async fn request_for_tx(&self, tx: &str) -> Result<Option<Uuid>, Error>;
    /// Records the verdict on a request: `decided` replaces the stored request only if
    /// that one is still pending. `false` when it was decided already (or is gone):
    /// of concurrent answers exactly one lands.
    async fn decide(&self, decided: &PresentationRequest) -> Result<bool, Error>;
    /// Removes every request `expired` says is past keeping; returns what went.
    async fn sweep_requests(
        &self,
        expired: &(dyn for<'r> Fn(&'r RequestSummary) -> bool + Sync),
    ) -> Result<Vec<RequestSummary>, Error>;
    /// Every request kept (start-up counts).
    async fn request_summaries(&self) -> Result<Vec<RequestSummary>, Error>;
}

/// The trust registry's entries.
#[async_trait]
pub trait TrustRegistry: Durable {
    async fn trust_entries(&self) -> Result<Vec<TrustEntry>, Error>;
    /// Creates or replaces the entry of `entry.id`.
    async fn put_trust_entry(&self, entry: &TrustEntry) -> Result<(), Error>;
    /// Removes an entry; `false` when there was none.
    async fn remove_trust_entry(&self, id: &IssuerId) -> Result<bool, Error>;
}

/// Partner API keys (their digests, limits and counts).
#[async_trait]
pub trait PartnerKeys: Durable {
    async fn partner_keys(&self) -> Result<Vec<PartnerKeyRecord>, Error>;
    /// Creates the key of `key.id` (with its usage), or replaces what it says of an
    /// existing key: name, limit, revocation. An existing key's usage counts are kept
    /// as stored: every node of a fleet adds to them ([`PartnerKeys::add_partner_usage`]),
    /// so that no node's write undoes another's.
    async fn put_partner_key(&self, key: &PartnerKeyRecord) -> Result<(), Error>;
    /// Adds `delta` to the usage counts of key `id` (the later last use wins);
    /// returns the totals, or `None` when there is no such key.
    async fn add_partner_usage(
        &self,
        id: &str,
        delta: &crate::records::partner::Usage,
    ) -> Result<Option<crate::records::partner::Usage>, Error>;
}

/// How the public catalogue presents achievements and badges: badge types,
/// placements, page visibility. A placement naming a type that no longer exists is
/// read as untyped.
#[async_trait]
pub trait Catalogue: Durable {
    /// Every badge type, by `order` then name.
    async fn badge_types(&self) -> Result<Vec<BadgeType>, Error>;
    async fn badge_type(&self, id: &str) -> Result<Option<BadgeType>, Error>;
    /// Creates or replaces the type of `t.id`.
    async fn put_badge_type(&self, t: &BadgeType) -> Result<(), Error>;
    /// Removes a type; `false` when there was none.
    async fn remove_badge_type(&self, id: &str) -> Result<bool, Error>;
    /// Every achievement's placement (achievements never placed are left out).
    async fn placements(&self) -> Result<Vec<(Uuid, Placement)>, Error>;
    async fn placement(&self, achievement: Uuid) -> Result<Option<Placement>, Error>;
    async fn put_placement(&self, achievement: Uuid, p: &Placement) -> Result<(), Error>;
    /// The visibility staff chose for an award's page (`None`: the issuer's default).
    async fn visibility(&self, award: Uuid) -> Result<Option<Visibility>, Error>;
    async fn set_visibility(&self, award: Uuid, v: Visibility) -> Result<(), Error>;
}

/// Uploaded images, content-addressed. Putting the same bytes twice keeps one copy;
/// nothing is ever removed.
#[async_trait]
pub trait Images: Durable {
    async fn put_image(&self, image: &StoredImage) -> Result<(), Error>;
    async fn image(&self, digest: &str) -> Result<Option<StoredImage>, Error>;
}

/// Earners: their published profiles and manage-link generations, and who holds
/// which profile handle.
#[async_trait]
pub trait Earners: Durable {
    async fn earner(&self, identity: &str) -> Result<Option<EarnerRecord>, Error>;
    async fn earner_by_handle(&self, handle: &Handle) -> Result<Option<EarnerRecord>, Error>;
    /// Writes an earner's record together with its handle: the handle is claimed for
    /// this identity and any handle it held before is let go, atomically. Refused with
    /// [`Error::Refused`] (and nothing written) if another earner holds the handle.
    async fn put_earner(&self, earner: &EarnerRecord) -> Result<(), Error>;
}

/// Staff accounts, their sessions, personal tokens and one-time links.
#[async_trait]
pub trait Staff: Durable {
    async fn staff_members(&self) -> Result<Vec<StaffRecord>, Error>;
    async fn staff_member(&self, id: Uuid) -> Result<Option<StaffRecord>, Error>;
    async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRecord>, Error>;
    /// Adds an account; [`Error::Refused`] (and nothing written) when its e-mail
    /// address has one already.
    async fn insert_staff(&self, member: &StaffRecord) -> Result<(), Error>;
    /// Changes an account atomically (its e-mail address stays): `change` sees it as
    /// it stands and returns whether to write. [`Error::Missing`] when there is none.
    async fn update_staff(
        &self,
        id: Uuid,
        change: &mut StaffChangeFn<'_>,
    ) -> Result<StaffRecord, Error>;
    /// Removes an account with its sessions, tokens and links.
    async fn remove_staff(&self, id: Uuid) -> Result<bool, Error>;
    async fn put_session(&self, digest: &[u8; 32], session: &SessionRecord) -> Result<(), Error>;
    async fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>, Error>;
    async fn remove_session(&self, digest: &[u8; 32]) -> Result<bool, Error>;
    /// Marks a session used at `at`, only if it still exists.
    async fn touch_session(&self, digest: &[u8; 32], at: OffsetDateTime) -> Result<bool, Error>;
    /// Ends every session of a member; how many there were.
    async fn remove_sessions_of(&self, staff: Uuid) -> Result<usize, Error>;
    /// Removes the sessions `keep` refuses; how many went.
    async fn sweep_sessions(
        &self,
        keep: &(dyn for<'r> Fn(&'r SessionRecord) -> bool + Sync),
    ) -> Result<usize, Error>;
    async fn put_personal_token(&self, digest: &[u8; 32], t: &PersonalToken) -> Result<(), Error>;
    async fn personal_token(&self, digest: &[u8; 32]) -> Result<Option<PersonalToken>, Error>;
    /// A member's tokens with their digests.
    async fn personal_tokens(&self, staff: Uuid) -> Result<Vec<([u8; 32], PersonalToken)>, Error>;
    async fn remove_personal_token(&self, digest: &[u8; 32]) -> Result<bool, Error>;
    /// Marks a token used at `at`, only if it still exists.
    async fn touch_personal_token(
        &self,
        digest: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, Error>;
    async fn put_staff_link(&self, link: &StaffLink) -> Result<(), Error>;
    async fn staff_link(&self, id: Uuid) -> Result<Option<StaffLink>, Error>;
    /// Spends a link: of concurrent callers exactly one gets `true`, and only while
    /// it is unused.
    async fn use_staff_link(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, Error>;
    /// Spends every open link of a member.
    async fn expire_staff_links(&self, staff: Uuid, at: OffsetDateTime) -> Result<usize, Error>;
    async fn security_settings(&self) -> Result<SecuritySettings, Error>;
    async fn put_security_settings(&self, s: &SecuritySettings) -> Result<(), Error>;
}

/// A change to a staff account (see [`Staff::update_staff`]).
pub type StaffChangeFn<'a> = dyn FnMut(&mut StaffRecord) -> Result<bool, Error> + Send + 'a;

/// Filters for the audit trail.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An action, or an action prefix ending in `.` (`credential.`).
    pub action: Option<String>,
    pub target: Option<String>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
}

impl AuditFilter {
    pub fn matches(&self, r: &AuditRecord) -> bool {
        self.actor.as_deref().is_none_or(|a| r.actor == a)
            && self.action.as_deref().is_none_or(|a| {
                if a.ends_with('.') {
                    r.action.starts_with(a)
                } else {
                    r.action == a
                }
            })
            && self
                .target
                .as_deref()
                .is_none_or(|t| r.target.as_deref() == Some(t))
            && self.since.is_none_or(|s| r.at >= s)
            && self.until.is_none_or(|u| r.at < u)
    }
}

/// The audit trail of staff actions: appended to, never changed.
#[async_trait]
pub trait AuditLog: Durable {
    /// Appends an entry (its `seq` is set here).
    async fn append_audit(&self, record: &mut AuditRecord) -> Result<(), Error>;
    /// Entries newest first, below `cursor` (a page's last `seq`), at most `limit`.
    async fn audit_log(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<Vec<AuditRecord>, Error>;
}

/// The e-mail outbox, opt-outs, templates and reminder settings.
#[async_trait]
pub trait Outbox: Durable {
    /// Queues a message unless one with its key exists (`false` then: one event, one
    /// message).
    async fn enqueue(&self, message: &OutboxMessage) -> Result<bool, Error>;
    async fn message(&self, key: &str) -> Result<Option<OutboxMessage>, Error>;
    /// Replaces a message (its key stays).
    async fn put_message(&self, message: &OutboxMessage) -> Result<(), Error>;
    /// Messages still to send, oldest first.
    async fn pending_messages(&self) -> Result<Vec<OutboxMessage>, Error>;
    /// The messages about an award, oldest first.
    async fn award_messages(&self, award: Uuid) -> Result<Vec<OutboxMessage>, Error>;
    /// The awards that were delivered by e-mail (reminders go to these only).
    async fn mailed_awards(&self) -> Result<Vec<Uuid>, Error>;
    async fn set_opt_out(&self, award: Uuid, out: bool) -> Result<(), Error>;
    async fn opted_out(&self, award: Uuid) -> Result<bool, Error>;
    async fn template(&self, kind: TemplateKind) -> Result<Option<MailTemplate>, Error>;
    /// Sets (or with `None` drops, back to the default) an issuer's template.
    async fn put_template(
        &self,
        kind: TemplateKind,
        template: Option<&MailTemplate>,
    ) -> Result<(), Error>;
    async fn mail_settings(&self) -> Result<MailSettings, Error>;
    async fn put_mail_settings(&self, s: &MailSettings) -> Result<(), Error>;
}

/// What changed in a store a fleet shares, told to every node as the change commits
/// (see [`Fleet::changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Anything may have changed (the listener was away): drop every cache.
    All,
    /// The issuer profile (or another store-wide value).
    Profile,
    Achievements,
    Trust,
    Partners,
    /// Badge types, placements or page visibility.
    Catalogue,
    /// Mail, security or other settings.
    Settings,
    /// An award changed or went.
    Award(Uuid),
    /// A status slot was given out.
    Slot(StatusSlot),
    /// A status bit was set or cleared.
    Bit {
        purpose: StatusPurpose,
        slot: StatusSlot,
        value: bool,
    },
}

impl Change {
    /// Reads a notification's payload (`slot:3:17`, `bit:0:3:17:1`, `trust`, ...).
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(':');
        let head = parts.next()?;
        let mut num = || -> Option<u32> { parts.next()?.parse().ok() };
        Some(match head {
            "all" => Change::All,
            "profile" => Change::Profile,
            "achievements" => Change::Achievements,
            "trust" => Change::Trust,
            "partners" => Change::Partners,
            "catalogue" => Change::Catalogue,
            "settings" => Change::Settings,
            "slot" => Change::Slot(StatusSlot {
                list: num()?,
                index: num()?,
            }),
            "bit" => {
                let purpose = match num()? {
                    0 => StatusPurpose::Revocation,
                    1 => StatusPurpose::Suspension,
                    _ => return None,
                };
                let slot = StatusSlot {
                    list: num()?,
                    index: num()?,
                };
                let value = num()? == 1;
                Change::Bit {
                    purpose,
                    slot,
                    value,
                }
            }
            "award" => Change::Award(payload.get(6..)?.parse().ok()?),
            _ => return None,
        })
    }
}

/// What a store shared by several processes (a fleet) adds: word of changes made
/// anywhere, leases for work one node does at a time, values every node shares.
#[async_trait]
pub trait Fleet: Send + Sync {
    /// Whether other processes may share the store.
    fn shared(&self) -> bool;
    /// The changes committed to the store by any node (this one included), in commit
    /// order; `None` for a store one process owns (it sees its own writes). The first
    /// receiver asked for holds every change since the store was opened (so a node
    /// that filled its caches before subscribing misses nothing); later ones start
    /// when asked.
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>>;
    /// Takes or renews the lease `name` for `holder` until `until` (Unix seconds):
    /// `true` when `holder` holds it now. A lease whose holder let it run out by `now`
    /// passes to the next asker. One process owning the store always holds it.
    async fn lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, Error>;
    /// The value kept under `name`; when there is none, `made` is kept and returned.
    /// Of nodes asking at once, every one gets the first one's value.
    async fn shared_value(&self, name: &str, made: &str) -> Result<String, Error>;
    /// The value kept under `name`, if any.
    async fn current_shared_value(&self, name: &str) -> Result<Option<String>, Error>;
    /// Replaces the value under `name` with `new` if it is still `expected`; whether
    /// it was (another writer got there first otherwise, and nothing changed).
    async fn replace_shared_value(
        &self,
        name: &str,
        expected: &str,
        new: &str,
    ) -> Result<bool, Error>;
}

/// What a token bucket asked for: at least `least` and at most `most` tokens; or, on
/// credit, `most` whenever the bucket is not in debt (it may then go below zero:
/// work whose size is known only once admitted is paid for by the requests after it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenAsk {
    pub least: f64,
    pub most: f64,
    pub credit: bool,
}

/// What a token bucket gave: the tokens taken (0 when refused) and, when refused,
/// the seconds until the ask could be met.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokensTaken {
    pub taken: f64,
    pub wait: f64,
}

/// Failed attempts counted under one throttle key (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub count: u32,
    /// Attempts wait until then.
    pub until: i64,
    /// The last failure.
    pub last: i64,
}

/// The change a throttle update makes: the record after, from the record before.
pub type ThrottleChangeFn<'a> =
    dyn FnMut(Option<ThrottleRecord>) -> Option<ThrottleRecord> + Send + 'a;

/// Limits every node of a fleet shares: request budgets (token buckets) and sign-in
/// throttles. One process keeps these in memory
/// instead, so only a shared store has them ([`Store::limits`]).
#[async_trait]
pub trait SharedLimits: Send + Sync {
    /// Takes tokens from the bucket `key` at `now` (Unix seconds; refilled at `rate`
    /// a second, up to `burst`; a new bucket starts full), atomically across nodes.
    async fn take_tokens(
        &self,
        key: &str,
        now: f64,
        rate: f64,
        burst: f64,
        ask: TokenAsk,
    ) -> Result<TokensTaken, Error>;
    async fn throttle(&self, key: &str) -> Result<Option<ThrottleRecord>, Error>;
    /// Changes the throttle `key` under a lock every node respects (`None` removes it).
    async fn change_throttle(
        &self,
        key: &str,
        change: &mut ThrottleChangeFn<'_>,
    ) -> Result<(), Error>;
    /// Drops buckets untouched for an hour (full again) and throttles no longer
    /// delaying anyone nor counted (no failure for a day), at `now` (Unix seconds);
    /// how many went.
    async fn sweep_limits(&self, now: i64) -> Result<usize, Error>;
}

/// Every repository, opened over one store. Cloning is cheap (reference counts).
#[derive(Clone)]
pub struct Store {
    pub profiles: Arc<dyn IssuerProfiles>,
    pub achievements: Arc<dyn Achievements>,
    pub awards: Arc<dyn Awards>,
    pub status: Arc<dyn StatusLists>,
    pub offers: Arc<dyn Offers>,
    pub tokens: Arc<dyn Tokens>,
    pub nonces: Arc<dyn Nonces>,
    pub presentations: Arc<dyn PresentationRequests>,
    pub trust: Arc<dyn TrustRegistry>,
    pub partners: Arc<dyn PartnerKeys>,
    pub catalogue: Arc<dyn Catalogue>,
    pub images: Arc<dyn Images>,
    pub earners: Arc<dyn Earners>,
    pub staff: Arc<dyn Staff>,
    pub audit: Arc<dyn AuditLog>,
    pub outbox: Arc<dyn Outbox>,
    pub counters: Arc<dyn Counters>,
    pub fleet: Arc<dyn Fleet>,
    /// Export and import of everything (`transfer`).
    pub transfer: Arc<dyn transfer::Transfer>,
    /// Limits every node shares: only for a store shared by a fleet.
    pub limits: Option<Arc<dyn SharedLimits>>,
    durable: Arc<dyn Durable>,
    /// What opening found to convert, for the start-up message.
    upgraded: Option<Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the embedded store in `dir`, bringing records an earlier
    /// version wrote up to date ([`Store::upgraded`] says what was converted).
    pub fn open(dir: &Path) -> Result<Self, Error> {
        secure_dir(dir)
            .map_err(|e| Error::Backend(format!("making {} private: {e}", dir.display()).into()))?;
        let (db, upgraded) = sled::SledStore::open(dir)?;
        // The files the store has just made are private too (quietly: nothing was
        // exposed before).
        let _ = tighten_tree(dir);
        let mut store = Self::over(Arc::new(db));
        store.upgraded = upgraded.map(Arc::from);
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url` (shared by a fleet), applying the
    /// migrations it lacks first.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let db = Arc::new(postgres::PgStore::connect(url).await?);
        let mut store = Self::over(db.clone());
        store.limits = Some(db);
        Ok(store)
    }

    /// When opening converted records an earlier version wrote: what, in a sentence.
    pub fn upgraded(&self) -> Option<&str> {
        self.upgraded.as_deref()
    }

    /// Every repository over one implementation of them all.
    pub fn over<S>(s: Arc<S>) -> Self
    where
        S: IssuerProfiles
            + Achievements
            + Awards
            + StatusLists
            + Offers
            + Tokens
            + Nonces
            + PresentationRequests
            + TrustRegistry
            + PartnerKeys
            + Catalogue
            + Images
            + Earners
            + Staff
            + AuditLog
            + Outbox
            + Counters
            + Fleet
            + transfer::Transfer
            + 'static,
    {
        Self {
            profiles: s.clone(),
            achievements: s.clone(),
            awards: s.clone(),
            status: s.clone(),
            offers: s.clone(),
            tokens: s.clone(),
            nonces: s.clone(),
            presentations: s.clone(),
            trust: s.clone(),
            partners: s.clone(),
            catalogue: s.clone(),
            images: s.clone(),
            earners: s.clone(),
            staff: s.clone(),
            audit: s.clone(),
            outbox: s.clone(),
            counters: s.clone(),
            fleet: s.clone(),
            transfer: s.clone(),
            limits: None,
            durable: s,
            upgraded: None,
        }
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), Error> {
        self.durable.flush().await
    }

    /// How many times writes were made durable so far.
    pub fn flushes(&self) -> u64 {
        self.durable.flushes()
    }

    /// Answers once the store can be read.
    pub async fn ping(&self) -> Result<(), Error> {
        self.durable.ping().await
    }

    /// Bytes the store takes on disk.
    pub async fn size_on_disk(&self) -> Result<u64, Error> {
        self.durable.size_on_disk().await
    }
}

/// Makes the data directory private to this user: the directory (and every directory
/// in it) mode 0700, its files 0600. It holds pending awards and earners' details,
/// so other local users must not read it. A directory that is missing is created so;
/// one that others could read is tightened in place, with a message saying what was
/// changed. Files the store creates later sit inside the 0700 directory.
pub fn secure_dir(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::DirBuilderExt as _;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
        return Ok(0);
    }
    // Files inside a private directory were never exposed (the store and notes made
    // since the last start are tightened quietly); a directory others could enter
    // exposed them all, and that is worth saying.
    let exposed = {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0
    };
    let changed = tighten_tree(dir)?;
    if exposed && changed > 0 {
        crate::say!(
            "{}: made private to this user (0700, files 0600): {changed} entries were readable by others",
            dir.display()
        );
    }
    Ok(changed)
}

/// Makes every directory under `dir` 0700 and every file 0600; how many it changed.
fn tighten_tree(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut changed = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        changed += usize::from(tighten(&d, 0o700)?);
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let ty = entry.file_type()?;
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                changed += usize::from(tighten(&entry.path(), 0o600)?);
            }
        }
    }
    return Ok(changed);

    fn tighten(path: &Path, mode: u32) -> std::io::Result<bool> {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.permissions().mode() & 0o077 == 0 {
            return Ok(false);
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        Ok(true)
    }
}

#[cfg(test)]
mod private_dir_tests {
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn a_readable_data_dir_is_tightened_in_place_and_a_new_one_made_private() {
        let t = tempfile::tempdir().expect("dir");
        let fresh = t.path().join("fresh/data");
        assert_eq!(super::secure_dir(&fresh).expect("made"), 0);
        assert_eq!(mode(&fresh), 0o700);

        let old = t.path().join("old");
        std::fs::create_dir_all(old.join("blobs")).expect("dirs");
        std::fs::write(old.join("db"), b"x").expect("file");
        std::fs::write(old.join("blobs/1"), b"x").expect("file");
        for (p, m) in [(&old, 0o755), (&old.join("blobs"), 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).expect("chmod");
        }
        std::fs::set_permissions(old.join("db"), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
        assert_eq!(super::secure_dir(&old).expect("tightened"), 4);
        assert_eq!(mode(&old), 0o700);
        assert_eq!(mode(&old.join("blobs")), 0o700);
        assert_eq!(mode(&old.join("db")), 0o600);
        // Already private: nothing to say.
        assert_eq!(super::secure_dir(&old).expect("again"), 0);
        // The store itself opens private, the files it makes included.
        let store_dir = t.path().join("store");
        let _s = super::Store::open(&store_dir).expect("opens");
        assert_eq!(mode(&store_dir), 0o700);
        assert_eq!(mode(&store_dir.join("conf")), 0o600);
        assert_eq!(mode(&store_dir.join("blobs")), 0o700);
    }
}
