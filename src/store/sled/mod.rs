//! The repositories in sled 0.34, an embedded store in one directory (one process).
//!
//! # Trees (store format 2)
//! - `meta`: `format` → u32 big-endian (2); `issuer_profile` → JSON.
//! - `achievements`: achievement uuid (text) → [`AchievementRecord`] (JSON), the
//!   latest revision; `achievement_revisions`: uuid (16 bytes) + revision (u32
//!   big-endian) → the Achievement of that revision (JSON), every revision ever made.
//! - `credentials`: award uuid (16 bytes) → [`Award`] (compact: `codec.rs`).
//! - `credentials_by_seq`: sequence number (u64 big-endian) → award uuid; the listing
//!   walks it backwards and its key is the cursor.
//! - `credentials_by_recipient`: the search index. A tag and a value — `e` + e-mail
//!   address, `i` + recipient id, `n` + a word of the recipient's name (lower case),
//!   `a` + achievement uuid, `f` + `revoked`, `suspended` or `offered` — then a zero
//!   byte and the sequence number (u64 big-endian) → award uuid. A filtered listing
//!   walks the most selective entry it can instead of every award. Entries are hints:
//!   the award read decides whether it passes, so an entry a change left behind is
//!   harmless, and entries for an award's new state are written before the award.
//!   Built for awards written before it existed when the store opens (`meta`
//!   `search_index` marks it done).
//! - `credential_copies`: uuid of a batch copy → its award's uuid.
//! - `audit`: award uuid + sequence (u64) → [`AuditEvent`] (compact).
//! - `status_slots`: list (u32) + index (u32), big-endian → the award uuid it was given
//!   to. Written once, before anything names the slot, and never removed. (Stores
//!   written before `status_pending` existed end the value with `r` while the award
//!   was reserved; such a value still names its owner.)
//! - `status_pending`: the reservations not yet fulfilled or burned: owner uuid + slot
//!   key → empty. A reservation writes its entry, then its slot; recording the award
//!   (or burning it) removes the entry, its last write. Keyed by owner, so that
//!   time-ordered award ids append here; the slots, drawn at random, are written once.
//! - `status_bits`: purpose tag (0 revocation, 1 suspension) + slot → empty.
//! - `status_published`: purpose tag + list → [`SignedList`] (JSON).
//! - `oid4vci`, by one-byte prefix: `c` pre-authorized code → award uuid and the wrong
//!   transaction codes tried (one byte, absent when none); `o` offer id, `l` claim page
//!   id, `x` transaction id, `m` notification id → award uuid; `n` nonce → expiry
//!   (i64 big-endian, Unix seconds); `t` SHA-256 of a token → [`TokenGrant`] (compact).
//! - `oid4vp_requests`: request uuid → [`PresentationRequest`] (JSON);
//!   `oid4vp_by_tx`: wallet handle → request uuid.
//! - `trust_registry`: issuer id → trust entry (JSON).
//! - `partner_keys`: key id → [`PartnerKeyRecord`] (JSON).
//! - `catalogue` and `images`: badge types, placements, page visibility and uploaded
//!   images (`catalogue.rs`).
//! - `earners`: earners' profiles and the handles they hold (`earners.rs`).
//! - `counters`: `c` + counter name, a zero byte and a day (i64 big-endian, days since
//!   the Unix epoch) → count (u64 big-endian).
//!
//! # Concurrency and crashes
//! sled makes nothing durable until a flush; the group flusher (`flush.rs`) runs one blocking
//! flush for every request that arrived before it started. sled runs a transaction
//! under a process-wide lock that every other read and write then waits for, so the
//! hot paths (recording, signing and listing awards; codes, nonces, tokens) use
//! single-key writes and compare-and-swap, ordered as the store's rules say; only the
//! rarer changes that write an award together with other trees (revocation, re-offers,
//! approvals) run as transactions. Recovery after a crash replays sled's log up to its
//! first gap, so what survives is a prefix of the writes.
//!
//! Records of the first store format (JSON awards that embedded their achievement) are
//! converted when the store opens (`upgrade.rs`).

mod catalogue;

mod earners;
mod flush;
mod staff;
mod transfer;
mod upgrade;

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use super::codec;
use ::sled::Transactional as _;
use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{
    AchievementChange, Achievements, Award, AwardChange, AwardChangeFn, AwardCounts, AwardFilter,
    AwardPage, AwardStanding, Awards, Change, Counters, Durable, Error, Fleet, HandleOp,
    IssuerProfiles, Nonces, Offers, PartnerKeys, PresentationRequests, RequestSummary, StatusLists,
    StatusState, Tokens, TrustRegistry,
};
use crate::model::Achievement;
use crate::records::partner::PartnerKeyRecord;
use crate::records::presentation::{PresentationRequest, State};
use crate::records::profile::IssuerProfile;
use crate::records::trust::{Entry as TrustEntry, IssuerId};
use crate::records::{
    AchievementRecord, AchievementRef, AuditEvent, AwardState, CodeEntry, OutboxMessage,
    TokenGrant, WalletHandle,
};
use crate::status::{SignedList, StatusPurpose, StatusSlot};

/// The store format this version writes.
pub const FORMAT: u32 = 2;

/// The sled cache size. sled's default (1 GiB) is far more than this service needs.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// The size of the log segments of a new store. sled appends every change to its log
/// and reclaims a segment once most of it is stale; with its default (512 KiB) the
/// search index's and status slots' scattered small changes keep so many segments
/// partly live that a store of 200,000 badges took about 3.5 KB per badge; with 8 MiB,
/// about 2.4 KB (16 MiB, sled's largest, did no better and held more memory). A
/// store keeps the size it was created with (sled refuses another), so stores made by
/// earlier versions keep 512 KiB.
const SEGMENT_BYTES: usize = 8 * 1024 * 1024;

/// The segment size a store in `dir` was created with (sled's `conf` file, which
/// names it on a `segment_size:` line), or [`SEGMENT_BYTES`] for a new one.
fn segment_size(dir: &Path) -> usize {
    std::fs::read(dir.join("conf"))
        .ok()
        .and_then(|conf| {
            String::from_utf8_lossy(&conf).lines().find_map(|l| {
                l.strip_prefix("segment_size:")
                    .and_then(|n| n.trim().parse().ok())
            })
        })
        .unwrap_or(SEGMENT_BYTES)
}

const FORMAT_KEY: &[u8] = b"format";
/// Present once every award is in `credentials_by_recipient` with all its entries.
const SEARCH_INDEX_KEY: &[u8] = b"search_index";
/// Present once every pending reservation has its entry in `status_pending`.
const PENDING_INDEX_KEY: &[u8] = b"pending_index";
/// Present once stores that marked reservations in their slots had every reserved
/// slot in `status_reservations` (slot + owner); converted to `status_pending`.
const RESERVATIONS_INDEX_KEY: &[u8] = b"reservations_index";
/// The tree of those stores' reservation entries.
const LEGACY_RESERVATIONS: &str = "status_reservations";

/// The prefix of an award's entries in `credentials_by_recipient` for one recipient
/// field.
fn recipient_prefix(tag: u8, value: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(value.len() + 2);
    k.push(tag);
    k.extend_from_slice(value.as_bytes());
    k.push(0);
    k
}

/// The search index keys of an award (see the module doc).
fn index_keys(award: &Award) -> Vec<Vec<u8>> {
    let mut fields: Vec<(u8, String)> = Vec::new();
    if let Some(e) = &award.recipient.email {
        fields.push((b'e', e.clone()));
    }
    if let Some(i) = &award.recipient.id {
        fields.push((b'i', i.clone()));
    }
    for w in crate::store::name_words(award.recipient.name.as_deref().unwrap_or("")) {
        fields.push((b'n', w));
    }
    fields.push((b'a', award.achievement.key.simple().to_string()));
    for (on, flag) in [
        (award.revoked, "revoked"),
        (award.suspended, "suspended"),
        (award.state == AwardState::Offered, "offered"),
    ] {
        if on {
            fields.push((b'f', flag.to_owned()));
        }
    }
    fields
        .into_iter()
        .map(|(tag, v)| {
            let mut k = recipient_prefix(tag, &v);
            k.extend_from_slice(&award.seq.to_be_bytes());
            k
        })
        .collect()
}

/// The index entry a filtered listing walks: the most selective one it names.
fn walk_prefix(filter: &AwardFilter) -> Option<Vec<u8>> {
    if let Some(e) = &filter.email {
        return Some(recipient_prefix(b'e', e));
    }
    if let Some(i) = &filter.recipient_id {
        return Some(recipient_prefix(b'i', i));
    }
    if let Some(w) = filter.name_words.iter().max_by_key(|w| w.len()) {
        return Some(recipient_prefix(b'n', w));
    }
    if filter.revoked == Some(true) {
        return Some(recipient_prefix(b'f', "revoked"));
    }
    if filter.suspended == Some(true) {
        return Some(recipient_prefix(b'f', "suspended"));
    }
    if let Some(k) = filter.achievement {
        return Some(recipient_prefix(b'a', &k.simple().to_string()));
    }
    if filter.state == Some(AwardState::Offered) {
        return Some(recipient_prefix(b'f', "offered"));
    }
    None
}
const PROFILE_KEY: &[u8] = b"issuer_profile";
const IDENTITY_KEY: &[u8] = b"identity";

impl From<::sled::Error> for Error {
    fn from(e: ::sled::Error) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// Why a transaction gave up.
enum Abort {
    /// The award changed since it was read: read it again.
    Conflict,
    Fail(Error),
}

fn fail(e: Error) -> ConflictableTransactionError<Abort> {
    ConflictableTransactionError::Abort(Abort::Fail(e))
}

fn json<T: serde::Serialize>(what: &str, v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

fn uuid_value(what: &str, v: &[u8]) -> Result<Uuid, Error> {
    v.get(..16)
        .and_then(|b| Uuid::from_slice(b).ok())
        .ok_or_else(|| Error::Corrupt(what.to_owned(), "not a uuid".into()))
}

/// The one-byte tag of a purpose in keys.
fn purpose_tag(p: StatusPurpose) -> u8 {
    match p {
        StatusPurpose::Revocation => 0,
        StatusPurpose::Suspension => 1,
    }
}

fn purpose_of(tag: u8) -> Option<StatusPurpose> {
    match tag {
        0 => Some(StatusPurpose::Revocation),
        1 => Some(StatusPurpose::Suspension),
        _ => None,
    }
}

/// A slot's key: list then index, big-endian.
fn slot_key(s: StatusSlot) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&s.list.to_be_bytes());
    k[4..].copy_from_slice(&s.index.to_be_bytes());
    k
}

fn slot_of(k: &[u8]) -> Option<StatusSlot> {
    let list = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
    let index = u32::from_be_bytes(k.get(4..8)?.try_into().ok()?);
    (k.len() == 8).then_some(StatusSlot { list, index })
}

fn bit_key(p: StatusPurpose, s: StatusSlot) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = purpose_tag(p);
    k[1..].copy_from_slice(&slot_key(s));
    k
}

fn handle_key(h: &WalletHandle) -> Vec<u8> {
    let (tag, s) = match h {
        WalletHandle::Code(s) => (b'c', s),
        WalletHandle::Offer(s) => (b'o', s),
        WalletHandle::Claim(s) => (b'l', s),
        WalletHandle::Transaction(s) => (b'x', s),
        WalletHandle::Notification(s) => (b'm', s),
    };
    prefixed(tag, s.as_bytes())
}

fn prefixed(tag: u8, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + rest.len());
    k.push(tag);
    k.extend_from_slice(rest);
    k
}

fn code_key(code: &str) -> Vec<u8> {
    prefixed(b'c', code.as_bytes())
}

/// A pre-authorized code's entry: the award's uuid, then (when not zero) the number
/// of wrong transaction codes tried.
fn code_value(award: Uuid, failures: u8) -> Vec<u8> {
    let mut v = award.as_bytes().to_vec();
    if failures > 0 {
        v.push(failures);
    }
    v
}

fn revision_key(r: AchievementRef) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..16].copy_from_slice(r.key.as_bytes());
    k[16..].copy_from_slice(&r.revision.to_be_bytes());
    k
}

/// The mark that ended a reserved slot's value in stores written before
/// `status_pending`.
const RESERVED: u8 = b'r';

/// A reserved slot's value as those stores wrote it.
fn reserved(owner: Uuid) -> [u8; 17] {
    let mut v = [RESERVED; 17];
    v[..16].copy_from_slice(owner.as_bytes());
    v
}

/// Whether a slot's value gives it to `owner` (in either form).
fn held_by(value: Option<&[u8]>, owner: Uuid) -> bool {
    match value {
        Some(v) if v.len() == 16 => v == owner.as_bytes(),
        Some(v) if v.len() == 17 => v[16] == RESERVED && &v[..16] == owner.as_bytes(),
        _ => false,
    }
}

/// A reservation's entry in `status_pending`: its owner, then the slot (so that two
/// callers racing for one slot never overwrite each other's entry).
fn reservation_key(slot: StatusSlot, owner: Uuid) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(owner.as_bytes());
    k[16..].copy_from_slice(&slot_key(slot));
    k
}

/// The owner and slot of an entry in `status_pending`.
fn reservation_of(k: &[u8]) -> Option<(Uuid, StatusSlot)> {
    let owner = Uuid::from_slice(k.get(..16)?).ok()?;
    Some((owner, slot_of(k.get(16..)?)?))
}

/// The store.
pub struct SledStore {
    db: ::sled::Db,
    meta: ::sled::Tree,
    achievements: ::sled::Tree,
    revisions: ::sled::Tree,
    awards: ::sled::Tree,
    by_seq: ::sled::Tree,
    by_recipient: ::sled::Tree,
    copies: ::sled::Tree,
    audit: ::sled::Tree,
    slots: ::sled::Tree,
    /// The reservations not yet fulfilled or burned (`status_pending`), so that a
    /// restart finds them without walking every slot ever given out. An entry is
    /// written before its slot and removed when the reservation ends; one whose slot is
    /// not its owner's (a crash between the two writes) counts for nothing.
    reservations: ::sled::Tree,
    bits: ::sled::Tree,
    signed: ::sled::Tree,
    wallet: ::sled::Tree,
    requests: ::sled::Tree,
    requests_by_tx: ::sled::Tree,
    trust: ::sled::Tree,
    partners: ::sled::Tree,
    catalogue: ::sled::Tree,
    images: ::sled::Tree,
    earners: ::sled::Tree,
    staff: ::sled::Tree,
    audit_log: ::sled::Tree,
    outbox: ::sled::Tree,
    counters: ::sled::Tree,
    flusher: flush::GroupFlush,
    /// Serialises changes to achievements (rare), so that revisions never interleave.
    achievement_writer: Mutex<()>,
    /// The award totals, counted once (keys only) when first asked for and kept up to
    /// date by every write from then on (one process owns the store).
    counts: Mutex<Option<AwardCounts>>,
}

impl SledStore {
    /// Opens (or creates) the store in `dir` and converts records an earlier version
    /// wrote; says what it converted.
    pub fn open(dir: &Path) -> Result<(Self, Option<String>), Error> {
        let db = ::sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .segment_size(segment_size(dir))
            .flush_every_ms(Some(500))
            .open()
            .map_err(|e| match e {
                // sled reports its lock as an `Other` error naming `WouldBlock`.
                ::sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("could not acquire lock") =>
                {
                    Error::Refused(format!(
                        "{} is in use by another accolade process: one process holds a data directory (stop it first; `verify`, `staff add`, `backup` and `export` work beside it)",
                        dir.display()
                    ))
                }
                other => other.into(),
            })?;
        let s = Self {
            meta: db.open_tree("meta")?,
            achievements: db.open_tree("achievements")?,
            revisions: db.open_tree("achievement_revisions")?,
            awards: db.open_tree("credentials")?,
            by_seq: db.open_tree("credentials_by_seq")?,
            by_recipient: db.open_tree("credentials_by_recipient")?,
            copies: db.open_tree("credential_copies")?,
            audit: db.open_tree("audit")?,
            slots: db.open_tree("status_slots")?,
            reservations: db.open_tree("status_pending")?,
            bits: db.open_tree("status_bits")?,
            signed: db.open_tree("status_published")?,
            wallet: db.open_tree("oid4vci")?,
            requests: db.open_tree("oid4vp_requests")?,
            requests_by_tx: db.open_tree("oid4vp_by_tx")?,
            trust: db.open_tree("trust_registry")?,
            partners: db.open_tree("partner_keys")?,
            catalogue: db.open_tree("catalogue")?,
            images: db.open_tree("images")?,
            earners: db.open_tree("earners")?,
            staff: db.open_tree("staff")?,
            audit_log: db.open_tree("audit_log")?,
            outbox: db.open_tree("outbox")?,
            counters: db.open_tree("counters")?,
            flusher: flush::GroupFlush::start(db.clone())?,
            achievement_writer: Mutex::new(()),
            counts: Mutex::new(None),
            db,
        };
        let opened = s.bring_up_to_date()?;
        s.index_awards()?;
        s.index_reservations()?;
        Ok((s, opened))
    }

    /// Checks the format, converting a first-format store.
    fn bring_up_to_date(&self) -> Result<Option<String>, Error> {
        let format = match self.meta.get(FORMAT_KEY)? {
            Some(v) => u32::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| Error::Corrupt("store format".into(), "not a u32".into()))?,
            ),
            None if self.is_empty() => 0,
            None => 1,
        };
        let upgraded = match format {
            FORMAT => None,
            0 => None,
            1 => Some(upgrade::from_format_1(self)?),
            newer => {
                return Err(Error::Corrupt(
                    "store format".into(),
                    format!(
                        "format {newer} was written by a newer version of accolade than this one (format {FORMAT}); run that version"
                    ),
                ));
            }
        };
        if format != FORMAT {
            self.meta.insert(FORMAT_KEY, &FORMAT.to_be_bytes())?;
            self.db.flush()?;
        }
        Ok(upgraded)
    }

    fn is_empty(&self) -> bool {
        [
            &self.meta,
            &self.achievements,
            &self.awards,
            &self.slots,
            &self.wallet,
            &self.requests,
            &self.trust,
            &self.partners,
            &self.catalogue,
            &self.images,
        ]
        .iter()
        .all(|t| t.is_empty())
    }

    /// Moves the kept award totals from `before` to `after` (an award written, changed
    /// or removed), once they have been counted.
    fn recount(&self, before: Option<&Award>, after: Option<&Award>) {
        let mut kept = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(c) = kept.as_mut() else {
            return;
        };
        let weigh = |a: Option<&Award>| {
            a.map_or([0u64; 4], |a| {
                [
                    1,
                    u64::from(a.state == AwardState::Offered),
                    u64::from(a.revoked),
                    u64::from(a.suspended),
                ]
            })
        };
        let (b, a) = (weigh(before), weigh(after));
        for (field, (was, is)) in [
            &mut c.total,
            &mut c.offered,
            &mut c.revoked,
            &mut c.suspended,
        ]
        .into_iter()
        .zip(b.into_iter().zip(a))
        {
            *field = (*field + is).saturating_sub(was);
        }
    }

    /// Writes an award whose slot is settled: its handles and listing entry first
    /// (they lead nowhere until the award is written), then the award.
    fn write_award(&self, award: &mut Award, handles: &[WalletHandle]) -> Result<(), Error> {
        let idb = award.id.as_bytes().as_slice();
        for h in handles {
            self.wallet.insert(handle_key(h), idb)?;
        }
        self.write_listed(award)
    }

    /// Writes an award at the next listing position (setting its `seq`): its search
    /// and listing entries first, then the award.
    fn write_listed(&self, award: &mut Award) -> Result<(), Error> {
        award.seq = self.db.generate_id()?;
        let idb = award.id.as_bytes().as_slice();
        for k in index_keys(award) {
            self.by_recipient.insert(k, idb)?;
        }
        self.by_seq.insert(award.seq.to_be_bytes(), idb)?;
        self.awards.insert(idb, codec::award(award))?;
        self.recount(None, Some(award));
        Ok(())
    }

    /// Puts every award written before the search index existed into it, once.
    /// Safe to interrupt: entries are idempotent and the mark comes last.
    fn index_awards(&self) -> Result<(), Error> {
        if self.meta.get(SEARCH_INDEX_KEY)?.is_some() {
            return Ok(());
        }
        for item in self.awards.iter() {
            let (k, v) = item?;
            let award = codec::read_award(&v)?;
            for key in index_keys(&award) {
                self.by_recipient.insert(key, k.as_ref())?;
            }
        }
        self.meta.insert(SEARCH_INDEX_KEY, &[1u8])?;
        self.db.flush()?;
        Ok(())
    }

    /// Enters every pending reservation of a store written before `status_pending` in
    /// it, once. Those stores marked a reservation in its slot's value (`r`) until it
    /// ended, so a marked slot is pending and nothing else is; their own index of
    /// the marked slots, when they have one, spares walking every slot. Safe to
    /// interrupt: entries are idempotent, and the mark and the old index's removal
    /// come last.
    fn index_reservations(&self) -> Result<(), Error> {
        if self.meta.get(PENDING_INDEX_KEY)?.is_some() {
            return Ok(());
        }
        let legacy = self.db.open_tree(LEGACY_RESERVATIONS)?;
        let enter = |slot: StatusSlot, owner: Uuid| -> Result<(), Error> {
            if self.slots.get(slot_key(slot))?.as_deref() == Some(reserved(owner).as_slice()) {
                self.reservations
                    .insert(reservation_key(slot, owner), &[])?;
            }
            Ok(())
        };
        if self.meta.get(RESERVATIONS_INDEX_KEY)?.is_some() {
            for k in legacy.iter().keys() {
                let k = k?;
                let (slot, owner) = slot_of(&k[..k.len().min(8)])
                    .zip(Uuid::from_slice(k.get(8..).unwrap_or_default()).ok())
                    .ok_or_else(|| Error::Corrupt("reservation".into(), hex::encode(&k)))?;
                enter(slot, owner)?;
            }
        } else {
            for item in self.slots.iter() {
                let (k, v) = item?;
                if v.len() == 17 && v[16] == RESERVED {
                    let slot = slot_of(&k)
                        .ok_or_else(|| Error::Corrupt("status slot".into(), hex::encode(&k)))?;
                    enter(slot, uuid_value("status slot", &v)?)?;
                }
            }
        }
        self.meta.insert(PENDING_INDEX_KEY, &[1u8])?;
        self.db.flush()?;
        drop(legacy);
        self.db.drop_tree(LEGACY_RESERVATIONS)?;
        self.meta.remove(RESERVATIONS_INDEX_KEY)?;
        Ok(())
    }

    /// Reserves `slot` for `owner`: its entry in `status_pending` first, then the slot
    /// (refused with [`Error::SlotTaken`], the entry removed, if it was ever given
    /// out).
    fn reserve_slot(&self, slot: StatusSlot, owner: Uuid) -> Result<(), Error> {
        let entry = reservation_key(slot, owner);
        self.reservations.insert(entry, &[])?;
        let taken = self.take_slot(slot, owner.as_bytes());
        if taken.is_err() {
            self.reservations.remove(entry)?;
        }
        taken
    }

    /// Whether `owner` holds a reservation of `slot` that has not ended: its entry,
    /// and the slot given to it.
    fn is_pending(&self, slot: StatusSlot, owner: Uuid) -> Result<bool, Error> {
        Ok(self
            .reservations
            .contains_key(reservation_key(slot, owner))?
            && held_by(self.slots.get(slot_key(slot))?.as_deref(), owner))
    }

    /// Writes `value` (an owner) for `slot`: refused with [`Error::SlotTaken`] if the
    /// slot was ever given out.
    fn take_slot(&self, slot: StatusSlot, value: &[u8]) -> Result<(), Error> {
        self.slots
            .compare_and_swap(slot_key(slot), None as Option<&[u8]>, Some(value))?
            .map_err(|_| Error::SlotTaken {
                list: slot.list,
                index: slot.index,
            })
    }

    /// Ends the reservation of `slot` by `owner` (one write): the slot stays the
    /// owner's.
    fn fulfil(&self, slot: StatusSlot, owner: Uuid) -> Result<(), Error> {
        self.reservations.remove(reservation_key(slot, owner))?;
        Ok(())
    }

    fn audit_key(&self, id: Uuid) -> Result<Vec<u8>, Error> {
        let mut key = id.as_bytes().to_vec();
        key.extend_from_slice(&self.db.generate_id()?.to_be_bytes());
        Ok(key)
    }

    fn read_award(&self, id: Uuid) -> Result<Option<(::sled::IVec, Award)>, Error> {
        match self.awards.get(id.as_bytes())? {
            None => Ok(None),
            Some(bytes) => {
                let a = codec::read_award(&bytes)?;
                Ok(Some((bytes, a)))
            }
        }
    }

    /// The change loop of [`Awards::update_award`].
    fn change_award(&self, id: Uuid, change: &mut AwardChangeFn<'_>) -> Result<Award, Error> {
        let idb = id.as_bytes();
        loop {
            let (old, mut award) = self.read_award(id)?.ok_or(Error::Missing(id))?;
            let before = index_keys(&award);
            let before_award = award.clone();
            let c = change(&mut award)?;
            if !c.write {
                return Ok(award);
            }
            // The index entries of the new state go first, the stale ones once the
            // award is written (see the module doc).
            let after = index_keys(&award);
            for k in after.iter().filter(|k| !before.contains(k)) {
                self.by_recipient.insert(k.as_slice(), idb.as_slice())?;
            }
            let stale = || -> Result<(), Error> {
                for k in before.iter().filter(|k| !after.contains(k)) {
                    self.by_recipient.remove(k.as_slice())?;
                }
                Ok(())
            };
            let new = codec::award(&award);
            if c.bits.is_empty() && c.audit.is_none() && c.handles.is_empty() {
                if self
                    .awards
                    .compare_and_swap(idb, Some(&old), Some(new))?
                    .is_ok()
                {
                    stale()?;
                    self.recount(Some(&before_award), Some(&award));
                    return Ok(award);
                }
                continue;
            }
            match self.write_change(id, &old, &new, &c) {
                Ok(()) => {
                    stale()?;
                    self.recount(Some(&before_award), Some(&award));
                    return Ok(award);
                }
                Err(Abort::Conflict) => continue,
                Err(Abort::Fail(e)) => return Err(e),
            }
        }
    }

    /// Writes an award with its bits, audit event and handles in one transaction, if
    /// the award still is `old`.
    fn write_change(&self, id: Uuid, old: &[u8], new: &[u8], c: &AwardChange) -> Result<(), Abort> {
        let audit = match &c.audit {
            Some(e) => Some((self.audit_key(id).map_err(Abort::Fail)?, codec::audit(e))),
            None => None,
        };
        let idb = id.as_bytes().as_slice();
        (&self.awards, &self.bits, &self.audit, &self.wallet)
            .transaction(|(awards, bits, log, wallet)| {
                if awards.get(idb)?.as_deref() != Some(old) {
                    return Err(ConflictableTransactionError::Abort(Abort::Conflict));
                }
                for op in &c.handles {
                    match op {
                        HandleOp::Link(h) => {
                            wallet.insert(handle_key(h), idb)?;
                        }
                        HandleOp::Unlink(h) => {
                            wallet.remove(handle_key(h))?;
                        }
                        HandleOp::RelinkCode {
                            old,
                            new,
                            max_failures,
                        } => {
                            let failures = match old {
                                Some(o) => wallet
                                    .remove(code_key(o))?
                                    .and_then(|v| v.get(16).copied())
                                    .unwrap_or(0),
                                None => 0,
                            };
                            if failures >= *max_failures {
                                return Err(fail(Error::Refused(
                                    "too many wrong transaction codes".into(),
                                )));
                            }
                            wallet.insert(code_key(new), code_value(id, failures))?;
                        }
                    }
                }
                for b in &c.bits {
                    let key = bit_key(b.purpose, b.slot);
                    if b.value {
                        bits.insert(&key, &[])?;
                    } else {
                        bits.remove(&key)?;
                    }
                }
                if let Some((key, value)) = &audit {
                    log.insert(key.as_slice(), value.as_slice())?;
                }
                awards.insert(idb, new)?;
                Ok(())
            })
            .map_err(|e| match e {
                TransactionError::Abort(a) => a,
                TransactionError::Storage(s) => Abort::Fail(s.into()),
            })
    }
}

#[async_trait]
impl Durable for SledStore {
    /// Requests are grouped: a dedicated thread runs one blocking `flush` for every
    /// request that arrived before it started. (sled 0.34's `flush_async` can deadlock
    /// when several run at once, sled issues #1241 and #1308.)
    async fn flush(&self) -> Result<(), Error> {
        self.flusher.flush().await
    }

    fn flushes(&self) -> u64 {
        self.flusher.count()
    }

    async fn ping(&self) -> Result<(), Error> {
        self.db.get(b"\0ping")?;
        Ok(())
    }

    async fn size_on_disk(&self) -> Result<u64, Error> {
        Ok(self.db.size_on_disk()?)
    }
}

#[async_trait]
impl IssuerProfiles for SledStore {
    async fn issuer_profile(&self) -> Result<Option<IssuerProfile>, Error> {
        self.meta
            .get(PROFILE_KEY)?
            .map(|b| from_json("issuer profile", &b))
            .transpose()
    }

    async fn put_issuer_profile(&self, profile: &IssuerProfile) -> Result<(), Error> {
        self.meta
            .insert(PROFILE_KEY, json("issuer profile", profile)?)?;
        Ok(())
    }

    async fn identity(&self) -> Result<Option<crate::records::profile::StoreIdentity>, Error> {
        self.meta
            .get(IDENTITY_KEY)?
            .map(|b| from_json("store identity", &b))
            .transpose()
    }

    async fn put_identity(
        &self,
        identity: &crate::records::profile::StoreIdentity,
    ) -> Result<(), Error> {
        self.meta
            .insert(IDENTITY_KEY, json("store identity", identity)?)?;
        Ok(())
    }
}

#[async_trait]
impl Achievements for SledStore {
    async fn achievement(&self, key: Uuid) -> Result<Option<AchievementRecord>, Error> {
        self.achievements
            .get(key.to_string())?
            .map(|b| from_json("achievement", &b))
            .transpose()
    }

    async fn achievements(&self) -> Result<Vec<AchievementRecord>, Error> {
        let mut out = self
            .achievements
            .iter()
            .values()
            .map(|v| from_json::<AchievementRecord>("achievement", &v?))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    async fn revision(&self, of: AchievementRef) -> Result<Option<Achievement>, Error> {
        self.revisions
            .get(revision_key(of))?
            .map(|b| from_json("achievement revision", &b))
            .transpose()
    }

    async fn insert_achievement(&self, rec: &AchievementRecord) -> Result<(), Error> {
        // The revision first: the record never names a revision that is not kept.
        self.revisions.insert(
            revision_key(rec.reference()),
            json("achievement revision", &rec.achievement)?,
        )?;
        self.achievements
            .insert(rec.key.to_string(), json("achievement", rec)?)?;
        Ok(())
    }

    async fn update_achievement(
        &self,
        key: Uuid,
        change: &mut AchievementChange<'_>,
    ) -> Result<AchievementRecord, Error> {
        let _w = self
            .achievement_writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut rec: AchievementRecord = self
            .achievements
            .get(key.to_string())?
            .map(|b| from_json("achievement", &b))
            .transpose()?
            .ok_or(Error::Missing(key))?;
        let revision = rec.revision;
        if !change(&mut rec)? {
            return Ok(rec);
        }
        if rec.revision != revision {
            self.revisions.insert(
                revision_key(rec.reference()),
                json("achievement revision", &rec.achievement)?,
            )?;
        }
        self.achievements
            .insert(key.to_string(), json("achievement", &rec)?)?;
        Ok(rec)
    }
}

#[async_trait]
impl Awards for SledStore {
    async fn reserve_award(&self, id: Uuid, slot: StatusSlot) -> Result<(), Error> {
        // Its entry among the pending reservations, then the slot.
        self.reserve_slot(slot, id)
    }

    async fn insert_award(
        &self,
        award: &mut Award,
        handles: &[WalletHandle],
        mail: &[OutboxMessage],
    ) -> Result<(), Error> {
        // The messages first: an award is never recorded without them (a message
        // whose award a crash lost finds no award and is dropped).
        self.write_messages(mail)?;
        // The slot before anything names it.
        if let Some(slot) = award.status {
            self.take_slot(slot, award.id.as_bytes())?;
        }
        self.write_award(award, handles)
    }

    async fn record_reserved(&self, award: &mut Award) -> Result<(), Error> {
        let Some(slot) = award.status else {
            return Err(Error::Corrupt(
                format!("award {}", award.id),
                "a reserved award without a status slot".into(),
            ));
        };
        if !self.is_pending(slot, award.id)? {
            return Err(Error::SlotTaken {
                list: slot.list,
                index: slot.index,
            });
        }
        // A reserved award is a direct one: no offer, no claim page.
        self.write_award(award, &[])?;
        // Last: a crash before this leaves the reservation to be burned, award and all.
        self.fulfil(slot, award.id)
    }

    /// One process owns the store: every reservation is pending, whatever its age.
    async fn pending_awards(
        &self,
        _older_than: Option<std::time::Duration>,
    ) -> Result<Vec<(Uuid, StatusSlot)>, Error> {
        let mut out = Vec::new();
        for k in self.reservations.iter().keys() {
            let k = k?;
            let (owner, slot) = reservation_of(&k)
                .ok_or_else(|| Error::Corrupt("reservation".into(), hex::encode(&k)))?;
            // An entry whose slot was never given to its owner (a crash between the
            // two writes, or a refused reservation) is not pending.
            if held_by(self.slots.get(slot_key(slot))?.as_deref(), owner) {
                out.push((owner, slot));
            }
        }
        Ok(out)
    }

    async fn burn_award(
        &self,
        id: Uuid,
        slot: StatusSlot,
        event: &AuditEvent,
    ) -> Result<(), Error> {
        if !self.is_pending(slot, id)? {
            // Burned already (a crash after a burn, before its flush, repeats it), or
            // never reserved: only its entry, if any, is left to remove.
            self.reservations.remove(reservation_key(slot, id))?;
            return Ok(());
        }
        self.audit
            .insert(self.audit_key(id)?, codec::audit(event))?;
        // An award recorded under this id with another slot is not this reservation's
        // (two issues of one caller-given id raced): it stays.
        if let Some((_, award)) = self.read_award(id)?.filter(|(_, a)| a.status == Some(slot)) {
            self.awards.remove(id.as_bytes())?;
            self.by_seq.remove(award.seq.to_be_bytes())?;
            for k in index_keys(&award) {
                self.by_recipient.remove(k)?;
            }
            self.recount(Some(&award), None);
        }
        // The slot stays the award's for ever.
        self.fulfil(slot, id)
    }

    async fn award(&self, id: Uuid) -> Result<Option<Award>, Error> {
        Ok(self.read_award(id)?.map(|(_, a)| a))
    }

    async fn award_standing(&self, id: Uuid) -> Result<Option<AwardStanding>, Error> {
        self.awards
            .get(id.as_bytes())?
            .map(|v| codec::read_award_standing(&v))
            .transpose()
    }

    async fn award_of_copy(&self, copy: Uuid) -> Result<Option<Uuid>, Error> {
        self.copies
            .get(copy.as_bytes())?
            .map(|v| uuid_value("copy", &v))
            .transpose()
    }

    async fn add_copy(&self, award: Uuid, copy: Uuid, slot: StatusSlot) -> Result<(), Error> {
        self.take_slot(slot, award.as_bytes())?;
        self.copies
            .insert(copy.as_bytes(), award.as_bytes().as_slice())?;
        Ok(())
    }

    async fn awards(
        &self,
        filter: &AwardFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<AwardPage, Error> {
        let upper = cursor.unwrap_or(u64::MAX);
        let mut page = AwardPage::default();
        // One recipient's awards come from the recipient index, newest first as well.
        let walk: Box<dyn Iterator<Item = ::sled::Result<(::sled::IVec, ::sled::IVec)>>> =
            match walk_prefix(filter) {
                Some(prefix) => {
                    let mut end = prefix.clone();
                    end.extend_from_slice(&upper.to_be_bytes());
                    Box::new(self.by_recipient.range(prefix..end).rev())
                }
                None => Box::new(self.by_seq.range(..upper.to_be_bytes()).rev()),
            };
        for item in walk {
            let (_, id) = item?;
            let id = uuid_value("award index", &id)?;
            // An entry whose award is gone (burned) or not written yet is skipped.
            let Some((_, award)) = self.read_award(id)? else {
                continue;
            };
            if !filter.matches(&award) {
                continue;
            }
            if page.awards.len() == limit {
                // There is at least one more: the page ends at the last one taken.
                page.next = page.awards.last().map(|a| a.seq);
                break;
            }
            page.awards.push(award);
        }
        Ok(page)
    }

    async fn update_award(&self, id: Uuid, change: &mut AwardChangeFn<'_>) -> Result<Award, Error> {
        self.change_award(id, change)
    }

    async fn audit_events(&self, id: Uuid) -> Result<Vec<AuditEvent>, Error> {
        self.audit
            .scan_prefix(id.as_bytes())
            .values()
            .map(|v| codec::read_audit(&v?))
            .collect()
    }

    async fn award_counts(&self) -> Result<AwardCounts, Error> {
        // Counted once, under the lock that writes take to keep the totals (so none is
        // missed or counted twice); kept up to date from then on.
        let mut kept = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = *kept {
            return Ok(c);
        }
        // Keys only: no award is read.
        let count = |prefix: &[u8]| -> Result<u64, Error> {
            let mut n = 0u64;
            for k in self.by_recipient.scan_prefix(prefix).keys() {
                k?;
                n += 1;
            }
            Ok(n)
        };
        let mut total = 0u64;
        for k in self.by_seq.iter().keys() {
            k?;
            total += 1;
        }
        let c = AwardCounts {
            total,
            offered: count(&recipient_prefix(b'f', "offered"))?,
            revoked: count(&recipient_prefix(b'f', "revoked"))?,
            suspended: count(&recipient_prefix(b'f', "suspended"))?,
        };
        *kept = Some(c);
        Ok(c)
    }
}

fn counter_key(name: &str, day: i64) -> Vec<u8> {
    let mut k = recipient_prefix(b'c', name);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

#[async_trait]
impl Counters for SledStore {
    async fn add_count(&self, name: &str, day: i64, n: u64) -> Result<(), Error> {
        self.counters
            .update_and_fetch(counter_key(name, day), |old| {
                let was = old
                    .and_then(|v| <[u8; 8]>::try_from(v).ok())
                    .map_or(0, u64::from_be_bytes);
                Some(was.saturating_add(n).to_be_bytes().to_vec())
            })?;
        Ok(())
    }

    async fn count(&self, name: &str, from: i64, to: i64) -> Result<u64, Error> {
        let mut sum = 0u64;
        for item in self
            .counters
            .range(counter_key(name, from)..=counter_key(name, to))
        {
            let (_, v) = item?;
            sum = sum.saturating_add(<[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes));
        }
        Ok(sum)
    }
}

#[async_trait]
impl StatusLists for SledStore {
    async fn status_state(&self) -> Result<StatusState, Error> {
        let mut state = StatusState::default();
        // Slot keys sort by list then index: the last one names the newest list, and
        // only its slots are walked.
        let newest = match self.slots.last()? {
            Some((k, _)) => {
                slot_of(&k)
                    .ok_or_else(|| Error::Corrupt("status slot".into(), hex::encode(&k)))?
                    .list
            }
            None => 0,
        };
        state.closed_lists = newest.saturating_sub(1);
        for k in self.slots.scan_prefix(newest.to_be_bytes()).keys() {
            let k = k?;
            state.slots.push(
                slot_of(&k).ok_or_else(|| Error::Corrupt("status slot".into(), hex::encode(&k)))?,
            );
        }
        for k in self.bits.iter().keys() {
            let k = k?;
            let bit = k
                .split_first()
                .and_then(|(t, rest)| Some((purpose_of(*t)?, slot_of(rest)?)))
                .ok_or_else(|| Error::Corrupt("status bit".into(), hex::encode(&k)))?;
            state.bits.push(bit);
        }
        Ok(state)
    }

    async fn slot_owner(&self, slot: StatusSlot) -> Result<Option<Uuid>, Error> {
        self.slots
            .get(slot_key(slot))?
            .map(|v| uuid_value("status slot", &v))
            .transpose()
    }

    async fn signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<SignedList>, Error> {
        self.signed
            .get(list_key(purpose, list))?
            .map(|b| from_json("signed list", &b))
            .transpose()
    }

    async fn put_signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
        signed: &SignedList,
    ) -> Result<SignedList, Error> {
        self.signed
            .insert(list_key(purpose, list), json("signed list", signed)?)?;
        Ok(signed.clone())
    }
}

fn list_key(purpose: StatusPurpose, list: u32) -> [u8; 5] {
    let mut k = [0u8; 5];
    k[0] = purpose_tag(purpose);
    k[1..].copy_from_slice(&list.to_be_bytes());
    k
}

#[async_trait]
impl Offers for SledStore {
    async fn award_for(&self, handle: &WalletHandle) -> Result<Option<Uuid>, Error> {
        self.wallet
            .get(handle_key(handle))?
            .map(|v| uuid_value("wallet handle", &v))
            .transpose()
    }

    async fn link(&self, handle: &WalletHandle, award: Uuid) -> Result<(), Error> {
        self.wallet
            .insert(handle_key(handle), award.as_bytes().as_slice())?;
        Ok(())
    }

    async fn unlink(&self, handle: &WalletHandle) -> Result<(), Error> {
        self.wallet.remove(handle_key(handle))?;
        Ok(())
    }

    async fn code(&self, code: &str) -> Result<Option<CodeEntry>, Error> {
        let Some(raw) = self.wallet.get(code_key(code))? else {
            return Ok(None);
        };
        Ok(Some(CodeEntry {
            award: uuid_value("code", &raw)?,
            failures: raw.get(16).copied().unwrap_or(0),
        }))
    }

    async fn count_wrong_tx_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error> {
        Ok(self
            .wallet
            .compare_and_swap(
                code_key(code),
                Some(code_value(seen.award, seen.failures)),
                Some(code_value(seen.award, seen.failures.saturating_add(1))),
            )?
            .is_ok())
    }

    async fn spend_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error> {
        Ok(self
            .wallet
            .compare_and_swap(
                code_key(code),
                Some(code_value(seen.award, seen.failures)),
                None as Option<&[u8]>,
            )?
            .is_ok())
    }
}

fn token_key(digest: &[u8; 32]) -> Vec<u8> {
    prefixed(b't', digest)
}

fn nonce_key(nonce: &str) -> Vec<u8> {
    prefixed(b'n', nonce.as_bytes())
}

#[async_trait]
impl Tokens for SledStore {
    async fn put_token(&self, digest: &[u8; 32], grant: &TokenGrant) -> Result<(), Error> {
        self.wallet.insert(token_key(digest), codec::token(grant))?;
        Ok(())
    }

    async fn token(&self, digest: &[u8; 32]) -> Result<Option<TokenGrant>, Error> {
        self.wallet
            .get(token_key(digest))?
            .map(|b| codec::read_token(&b))
            .transpose()
    }

    async fn take_token(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        Ok(self.wallet.remove(token_key(digest))?.is_some())
    }

    async fn sweep_tokens(&self, now: OffsetDateTime) -> Result<usize, Error> {
        let mut gone = 0;
        for item in self.wallet.scan_prefix([b't']) {
            let (k, v) = item?;
            // An unreadable grant buys nothing: it goes too.
            let expired = match codec::read_token(&v) {
                Ok(g) => g.expires_at < now,
                Err(_) => true,
            };
            if expired
                && self
                    .wallet
                    .compare_and_swap(&k, Some(v), None as Option<&[u8]>)?
                    .is_ok()
            {
                gone += 1;
            }
        }
        Ok(gone)
    }
}

#[async_trait]
impl Nonces for SledStore {
    async fn put_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.wallet
            .insert(nonce_key(nonce), &expires_at.unix_timestamp().to_be_bytes())?;
        Ok(())
    }

    async fn take_nonce(&self, nonce: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let expiry = self
            .wallet
            .remove(nonce_key(nonce))?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(i64::from_be_bytes);
        Ok(expiry.is_some_and(|e| e >= now.unix_timestamp()))
    }

    async fn spend_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<bool, Error> {
        Ok(self
            .wallet
            .compare_and_swap(
                nonce_key(nonce),
                None as Option<&[u8]>,
                Some(&expires_at.unix_timestamp().to_be_bytes()[..]),
            )?
            .is_ok())
    }

    async fn sweep_nonces(&self, now: OffsetDateTime) -> Result<usize, Error> {
        let mut gone = 0;
        for item in self.wallet.scan_prefix([b'n']) {
            let (k, v) = item?;
            let expires_at = <[u8; 8]>::try_from(v.as_ref())
                .map(i64::from_be_bytes)
                .unwrap_or(i64::MIN);
            if expires_at < now.unix_timestamp() {
                self.wallet.remove(k)?;
                gone += 1;
            }
        }
        Ok(gone)
    }
}

/// What the sweep and the counts read of a stored request (a result may be large).
#[derive(serde::Deserialize)]
struct Stub {
    id: Uuid,
    tx: String,
    #[serde(with = "crate::clock::rfc3339")]
    expires_at: OffsetDateTime,
    #[serde(default, with = "crate::clock::rfc3339::option")]
    answered_at: Option<OffsetDateTime>,
    #[serde(default)]
    created_by: Option<String>,
    status: State,
}

impl Stub {
    fn summary(self) -> RequestSummary {
        RequestSummary {
            id: self.id,
            tx: self.tx,
            expires_at: self.expires_at,
            answered_at: self.answered_at,
            created_by: self.created_by,
        }
    }
}

#[async_trait]
impl PresentationRequests for SledStore {
    async fn insert_request(&self, request: &PresentationRequest) -> Result<(), Error> {
        // The record first: a crash before the index leaves a record the sweep removes,
        // never an index entry leading nowhere.
        self.requests.insert(
            request.id.as_bytes(),
            json("presentation request", request)?,
        )?;
        self.requests_by_tx
            .insert(request.tx.as_bytes(), request.id.as_bytes().as_slice())?;
        Ok(())
    }

    async fn request(&self, id: Uuid) -> Result<Option<PresentationRequest>, Error> {
        self.requests
            .get(id.as_bytes())?
            .map(|b| from_json("presentation request", &b))
            .transpose()
    }

    async fn request_for_tx(&self, tx: &str) -> Result<Option<Uuid>, Error> {
        self.requests_by_tx
            .get(tx.as_bytes())?
            .map(|v| uuid_value("presentation request index", &v))
            .transpose()
    }

    async fn decide(&self, decided: &PresentationRequest) -> Result<bool, Error> {
        let key = decided.id.as_bytes();
        let new = json("presentation request", decided)?;
        loop {
            let Some(old) = self.requests.get(key)? else {
                return Ok(false);
            };
            let stub: Stub = from_json("presentation request", &old)?;
            if stub.status != State::Pending {
                return Ok(false);
            }
            if self
                .requests
                .compare_and_swap(key, Some(old), Some(new.as_slice()))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    async fn sweep_requests(
        &self,
        expired: &(dyn for<'r> Fn(&'r RequestSummary) -> bool + Sync),
    ) -> Result<Vec<RequestSummary>, Error> {
        let mut gone = Vec::new();
        for item in self.requests.iter() {
            let (k, v) = item?;
            let Ok(stub) = serde_json::from_slice::<Stub>(&v) else {
                // Unreadable: nothing can use it.
                self.requests.remove(&k)?;
                continue;
            };
            let summary = stub.summary();
            if !expired(&summary)
                || self
                    .requests
                    .compare_and_swap(&k, Some(v), None as Option<&[u8]>)?
                    .is_err()
            {
                continue;
            }
            self.requests_by_tx.remove(summary.tx.as_bytes())?;
            gone.push(summary);
        }
        Ok(gone)
    }

    async fn request_summaries(&self) -> Result<Vec<RequestSummary>, Error> {
        self.requests
            .iter()
            .values()
            .map(|v| Ok(from_json::<Stub>("presentation request", &v?)?.summary()))
            .collect()
    }
}

#[async_trait]
impl TrustRegistry for SledStore {
    async fn trust_entries(&self) -> Result<Vec<TrustEntry>, Error> {
        let mut out = Vec::new();
        for item in self.trust.iter() {
            let (k, v) = item?;
            let key = String::from_utf8_lossy(&k).into_owned();
            let e: TrustEntry = from_json(&format!("trust registry entry {key}"), &v)?;
            if e.id.as_str() != key {
                return Err(Error::Corrupt(
                    format!("trust registry entry {key}"),
                    format!("it names {}", e.id),
                ));
            }
            out.push(e);
        }
        Ok(out)
    }

    async fn put_trust_entry(&self, entry: &TrustEntry) -> Result<(), Error> {
        self.trust.insert(
            entry.id.as_str().as_bytes(),
            json("trust registry entry", entry)?,
        )?;
        Ok(())
    }

    async fn remove_trust_entry(&self, id: &IssuerId) -> Result<bool, Error> {
        Ok(self.trust.remove(id.as_str().as_bytes())?.is_some())
    }
}

/// One process owns an embedded store: it holds every lease and sees its own writes.
#[async_trait]
impl Fleet for SledStore {
    fn shared(&self) -> bool {
        false
    }

    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Change>> {
        None
    }

    async fn lease(&self, _: &str, _: &str, _: i64, _: i64) -> Result<bool, Error> {
        Ok(true)
    }

    async fn shared_value(&self, name: &str, made: &str) -> Result<String, Error> {
        let key = format!("shared/{name}");
        match self.meta.compare_and_swap(
            key.as_bytes(),
            None as Option<&[u8]>,
            Some(made.as_bytes()),
        )? {
            Ok(()) => Ok(made.to_owned()),
            Err(e) => {
                Ok(String::from_utf8_lossy(e.current.as_deref().unwrap_or_default()).into_owned())
            }
        }
    }

    async fn current_shared_value(&self, name: &str) -> Result<Option<String>, Error> {
        let key = format!("shared/{name}");
        Ok(self
            .meta
            .get(key.as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    async fn replace_shared_value(
        &self,
        name: &str,
        expected: &str,
        new: &str,
    ) -> Result<bool, Error> {
        let key = format!("shared/{name}");
        let swapped = self
            .meta
            .compare_and_swap(
                key.as_bytes(),
                Some(expected.as_bytes()),
                Some(new.as_bytes()),
            )?
            .is_ok();
        if swapped {
            self.flush().await?;
        }
        Ok(swapped)
    }
}

#[async_trait]
impl PartnerKeys for SledStore {
    async fn partner_keys(&self) -> Result<Vec<PartnerKeyRecord>, Error> {
        self.partners
            .iter()
            .values()
            .map(|v| from_json("partner key", &v?))
            .collect()
    }

    async fn put_partner_key(&self, key: &PartnerKeyRecord) -> Result<(), Error> {
        self.change_partner_key(&key.id, |stored| {
            let mut next = key.clone();
            if let Some(s) = stored {
                next.usage = s.usage;
            }
            Some(next)
        })
        .map(|_| ())
    }

    async fn add_partner_usage(
        &self,
        id: &str,
        delta: &crate::records::partner::Usage,
    ) -> Result<Option<crate::records::partner::Usage>, Error> {
        let after = self.change_partner_key(id, |stored| {
            stored.map(|mut s| {
                s.usage = s.usage.plus(delta);
                s
            })
        })?;
        Ok(after.map(|r| r.usage))
    }
}

impl SledStore {
    /// Replaces a partner key's record with what `f` makes of it (`None`: leave it),
    /// atomically against every other writer; the record as it then stands.
    fn change_partner_key(
        &self,
        id: &str,
        mut f: impl FnMut(Option<PartnerKeyRecord>) -> Option<PartnerKeyRecord>,
    ) -> Result<Option<PartnerKeyRecord>, Error> {
        loop {
            let old = self.partners.get(id.as_bytes())?;
            let stored: Option<PartnerKeyRecord> = old
                .as_ref()
                .map(|v| from_json("partner key", v))
                .transpose()?;
            let Some(next) = f(stored) else {
                return Ok(None);
            };
            let bytes = json("partner key", &next)?;
            if self
                .partners
                .compare_and_swap(id.as_bytes(), old, Some(bytes))?
                .is_ok()
            {
                return Ok(Some(next));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::from_unix;
    use crate::records::{Offer, OfferSecret, Recipient, WalletState};
    use crate::store::{AwardChange, BitWrite, HandleOp, name_words};

    fn at(unix: i64) -> OffsetDateTime {
        from_unix(unix)
    }

    fn open(dir: &Path) -> SledStore {
        SledStore::open(dir).expect("open").0
    }

    #[test]
    fn a_new_store_gets_large_segments_and_an_older_one_keeps_its_own() {
        let new = tempfile::tempdir().expect("tmp");
        drop(open(new.path()));
        assert_eq!(segment_size(new.path()), SEGMENT_BYTES);
        drop(open(new.path()));
        // A store made with sled's default segments (as earlier versions made them).
        let old = tempfile::tempdir().expect("tmp");
        drop(::sled::Config::new().path(old.path()).open().expect("sled"));
        assert_eq!(segment_size(old.path()), 512 * 1024);
        drop(open(old.path()));
        assert_eq!(segment_size(old.path()), 512 * 1024, "kept as it was");
    }

    fn sample_achievement(id: &str) -> Achievement {
        serde_json::from_value(serde_json::json!({
            "id": id, "type": ["Achievement"], "name": "Cloud Practitioner",
            "description": "Understands core cloud services.",
            "criteria": {"narrative": "Passed the exam."}
        }))
        .expect("an achievement")
    }

    fn award(email: &str, slot: Option<StatusSlot>) -> Award {
        Award {
            id: Uuid::new_v4(),
            seq: 0,
            achievement: AchievementRef {
                key: Uuid::nil(),
                revision: 1,
            },
            recipient: Recipient {
                email: Some(email.into()),
                ..Default::default()
            },
            state: AwardState::Offered,
            salt: "s".into(),
            valid_from: at(1_704_067_200),
            valid_until: None,
            tx_code_required: true,
            approval_required: false,
            extras: None,
            issued: vec![],
            revoked: false,
            suspended: false,
            status: slot,
            wallet: WalletState::default(),
            created_at: at(1_704_067_200),
            updated_at: at(1_704_067_200),
        }
    }

    #[tokio::test]
    async fn search_walks_names_flags_and_achievements_and_follows_changes() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let other = Uuid::new_v4();
        let mut ids = vec![];
        for (i, name) in ["Ada Lovelace", "Grace Hopper", "ada  BYRON", "Alan Turing"]
            .iter()
            .enumerate()
        {
            let mut a = award(&format!("p{i}@x.org"), None);
            a.recipient.name = Some((*name).into());
            if i == 3 {
                a.achievement.key = other;
                a.valid_until = Some(at(1_704_067_300));
            }
            s.insert_award(&mut a, &[], &[]).await.expect("insert");
            ids.push(a.id);
        }
        let ids_of = |p: AwardPage| p.awards.iter().map(|a| a.id).collect::<Vec<_>>();
        let by = |f: AwardFilter| {
            let s = &s;
            async move { ids_of(s.awards(&f, 10, None).await.expect("list")) }
        };
        let words = |q: &str| AwardFilter {
            name_words: name_words(q),
            ..Default::default()
        };
        assert_eq!(by(words("ADA")).await, vec![ids[2], ids[0]]);
        assert_eq!(by(words("lovelace, ada")).await, vec![ids[0]]);
        assert!(by(words("lovel")).await.is_empty(), "whole words only");
        let of = AwardFilter {
            achievement: Some(other),
            ..Default::default()
        };
        assert_eq!(by(of).await, vec![ids[3]]);
        let revoked = AwardFilter {
            revoked: Some(true),
            ..Default::default()
        };
        assert!(by(revoked.clone()).await.is_empty());
        let counted = s.award_counts().await.expect("counts");
        assert_eq!(
            counted,
            AwardCounts {
                total: 4,
                offered: 4,
                revoked: 0,
                suspended: 0
            }
        );
        // Revoking moves the award into the flag's entries; issuing takes it out of
        // the offered ones.
        s.update_award(ids[1], &mut |a: &mut Award| {
            a.revoked = true;
            a.state = AwardState::Issued;
            Ok(AwardChange::award())
        })
        .await
        .expect("change");
        assert_eq!(by(revoked).await, vec![ids[1]]);
        // The totals kept since they were counted are what a fresh count finds.
        let kept = s.award_counts().await.expect("counts");
        assert_eq!(
            kept,
            AwardCounts {
                total: 4,
                offered: 3,
                revoked: 1,
                suspended: 0
            }
        );
        *s.counts.lock().expect("lock") = None;
        assert_eq!(s.award_counts().await.expect("counts"), kept);
        let offered = AwardFilter {
            state: Some(AwardState::Offered),
            ..Default::default()
        };
        assert_eq!(by(offered).await, vec![ids[3], ids[2], ids[0]]);
        let stale = recipient_prefix(b'f', "offered");
        assert_eq!(
            s.by_recipient.scan_prefix(&stale).count(),
            3,
            "the stale entry is gone"
        );
        let expired = AwardFilter {
            expired: Some((true, at(1_704_067_300))),
            ..Default::default()
        };
        assert_eq!(by(expired).await, vec![ids[3]]);
        let live = AwardFilter {
            expired: Some((false, at(1_704_067_300))),
            revoked: Some(false),
            ..Default::default()
        };
        assert_eq!(by(live).await, vec![ids[2], ids[0]]);
    }

    #[tokio::test]
    async fn awards_list_newest_first_with_a_cursor_that_pages_exactly() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let mut ids = vec![];
        for i in 0..5 {
            let mut a = award(if i % 2 == 0 { "a@x.org" } else { "b@x.org" }, None);
            s.insert_award(&mut a, &[], &[]).await.expect("insert");
            ids.push(a.id);
        }
        let all = AwardFilter::default();
        let ids_of = |p: &AwardPage| p.awards.iter().map(|a| a.id).collect::<Vec<_>>();
        let p1 = s.awards(&all, 2, None).await.expect("list");
        assert_eq!(ids_of(&p1), vec![ids[4], ids[3]]);
        let p2 = s.awards(&all, 2, p1.next).await.expect("list");
        assert_eq!(ids_of(&p2), vec![ids[2], ids[1]]);
        let p3 = s.awards(&all, 2, p2.next).await.expect("list");
        assert_eq!(ids_of(&p3), vec![ids[0]]);
        assert!(p3.next.is_none());
        let only_a = AwardFilter {
            email: Some("a@x.org".into()),
            ..Default::default()
        };
        assert_eq!(
            s.awards(&only_a, 10, None)
                .await
                .expect("list")
                .awards
                .len(),
            3
        );
    }

    #[tokio::test]
    async fn one_recipients_awards_come_from_the_index_and_it_is_built_for_older_stores() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut a_ids = vec![];
        let did = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi";
        {
            let s = open(dir.path());
            for i in 0..7 {
                let mut a = award(if i % 2 == 0 { "a@x.org" } else { "b@x.org" }, None);
                if i == 3 {
                    a.recipient.id = Some(did.into());
                }
                s.insert_award(&mut a, &[], &[]).await.expect("insert");
                if i % 2 == 0 {
                    a_ids.push(a.id);
                }
            }
            // An index entry whose award is gone is skipped.
            let mut gone = award("a@x.org", None);
            gone.seq = u64::MAX - 1;
            s.by_recipient
                .insert(
                    index_keys(&gone).into_iter().next().expect("key"),
                    gone.id.as_bytes().as_slice(),
                )
                .expect("insert");
            let only_a = AwardFilter {
                email: Some("a@x.org".into()),
                ..Default::default()
            };
            let p1 = s.awards(&only_a, 3, None).await.expect("list");
            let p2 = s.awards(&only_a, 3, p1.next).await.expect("list");
            let got: Vec<Uuid> = p1.awards.iter().chain(&p2.awards).map(|a| a.id).collect();
            a_ids.reverse();
            assert_eq!(
                got, a_ids,
                "newest first, paged exactly, the gone one skipped"
            );
            assert!(p2.next.is_none());
            let by_did = AwardFilter {
                recipient_id: Some(did.into()),
                ..Default::default()
            };
            let d = s.awards(&by_did, 10, None).await.expect("list");
            assert_eq!(d.awards.len(), 1);
            assert_eq!(d.awards[0].recipient.email.as_deref(), Some("b@x.org"));
            // As a store written before the index: no mark, no entries.
            s.meta.remove(SEARCH_INDEX_KEY).expect("remove");
            s.by_recipient.clear().expect("clear");
            s.db.flush().expect("flush");
        }
        let s = open(dir.path());
        assert!(s.meta.get(SEARCH_INDEX_KEY).expect("get").is_some());
        let only_a = AwardFilter {
            email: Some("a@x.org".into()),
            ..Default::default()
        };
        let got: Vec<Uuid> = s
            .awards(&only_a, 10, None)
            .await
            .expect("list")
            .awards
            .iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(got, a_ids, "rebuilt when the store opened");
    }

    #[tokio::test]
    async fn records_survive_reopening_after_a_flush() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = {
            let s = open(dir.path());
            let mut a = award("a@x.org", Some(StatusSlot { list: 1, index: 9 }));
            a.wallet.offer = Some(Offer {
                secret: OfferSecret::Clear {
                    id: "offer-1".into(),
                    code: "code-1".into(),
                },
                expires_at: at(1_704_068_100),
                created_at: at(1_704_067_200),
            });
            let handles = [
                WalletHandle::Code("code-1".into()),
                WalletHandle::Offer("offer-1".into()),
            ];
            s.insert_award(&mut a, &handles, &[]).await.expect("insert");
            s.flush().await.expect("flush");
            a
        };
        let s = open(dir.path());
        assert_eq!(s.award(a.id).await.expect("get"), Some(a.clone()));
        assert_eq!(
            s.slot_owner(StatusSlot { list: 1, index: 9 })
                .await
                .expect("owner"),
            Some(a.id)
        );
        let code = s
            .code("code-1")
            .await
            .expect("code")
            .expect("linked at insert");
        assert_eq!((code.award, code.failures), (a.id, 0));
        assert_eq!(
            s.award_for(&WalletHandle::Offer("offer-1".into()))
                .await
                .expect("offer"),
            Some(a.id)
        );
    }

    #[tokio::test]
    async fn a_slot_is_given_out_once_and_a_refused_award_writes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let slot = StatusSlot { list: 1, index: 7 };
        let mut first = award("a@x.org", Some(slot));
        s.reserve_award(first.id, slot).await.expect("reserve");
        assert_eq!(
            s.pending_awards(None).await.expect("pending"),
            vec![(first.id, slot)]
        );
        let mut second = award("b@x.org", Some(slot));
        assert!(matches!(
            s.reserve_award(second.id, slot).await,
            Err(Error::SlotTaken { list: 1, index: 7 })
        ));
        assert!(matches!(
            s.insert_award(&mut second, &[], &[]).await,
            Err(Error::SlotTaken { list: 1, index: 7 })
        ));
        assert_eq!(s.award(second.id).await.expect("get"), None);
        // Only the reservation's own award is recorded on it.
        let mut other_award = award("c@x.org", Some(slot));
        assert!(matches!(
            s.record_reserved(&mut other_award).await,
            Err(Error::SlotTaken { .. })
        ));
        assert_eq!(
            s.award(other_award.id).await.expect("get"),
            None,
            "nothing written"
        );
        assert_eq!(
            s.pending_awards(None).await.expect("pending"),
            vec![(first.id, slot)]
        );
        s.record_reserved(&mut first).await.expect("record");
        assert!(s.pending_awards(None).await.expect("pending").is_empty());
        assert_eq!(s.award(first.id).await.expect("get"), Some(first.clone()));
        assert!(matches!(
            s.add_copy(first.id, Uuid::new_v4(), slot).await,
            Err(Error::SlotTaken { .. })
        ));
        let copy = Uuid::new_v4();
        let other = StatusSlot { list: 1, index: 8 };
        s.add_copy(first.id, copy, other).await.expect("free slot");
        assert_eq!(s.award_of_copy(copy).await.expect("copy"), Some(first.id));
        assert_eq!(s.slot_owner(other).await.expect("owner"), Some(first.id));
        let state = s.status_state().await.expect("state");
        assert_eq!(state.slots, vec![slot, other]);
        let newest = StatusSlot { list: 3, index: 2 };
        s.add_copy(first.id, Uuid::new_v4(), newest)
            .await
            .expect("a slot of a newer list");
        let state = s.status_state().await.expect("state");
        assert_eq!(
            (state.closed_lists, state.slots),
            (2, vec![newest]),
            "the lists before the newest are closed; only its slots are read"
        );
    }

    #[tokio::test]
    async fn a_reservation_a_crash_left_is_burned_once_and_its_slot_stays_taken() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let slot = StatusSlot { list: 1, index: 4 };
        let mut kept = award("a@x.org", Some(StatusSlot { list: 1, index: 3 }));
        s.insert_award(&mut kept, &[], &[]).await.expect("insert");
        let b = award("b@x.org", Some(slot));
        s.reserve_award(b.id, slot).await.expect("reserve");
        assert_eq!(s.award(b.id).await.expect("get"), None, "not recorded yet");
        let event = AuditEvent {
            at: at(2),
            action: "burn".into(),
            actor: "system".into(),
            reason: Some("crash".into()),
        };
        s.burn_award(b.id, slot, &event).await.expect("burn");
        s.burn_award(b.id, slot, &event)
            .await
            .expect("again: nothing to do");
        assert!(s.pending_awards(None).await.expect("pending").is_empty());
        assert_eq!(s.audit_events(b.id).await.expect("audit"), vec![event]);
        let listed = s
            .awards(&AwardFilter::default(), 10, None)
            .await
            .expect("list");
        assert_eq!(listed.awards.len(), 1);
        assert_eq!(
            s.slot_owner(slot).await.expect("owner"),
            Some(b.id),
            "its slot stays taken"
        );
        let mut again = award("c@x.org", Some(slot));
        assert!(matches!(
            s.insert_award(&mut again, &[], &[]).await,
            Err(Error::SlotTaken { .. })
        ));
    }

    #[tokio::test]
    async fn reservations_are_found_from_their_entries_and_a_slot_is_written_once() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let slot = StatusSlot { list: 1, index: 2 };
        let id = Uuid::new_v4();
        s.reserve_award(id, slot).await.expect("reserve");
        assert_eq!(
            s.slots.get(slot_key(slot)).expect("get").as_deref(),
            Some(id.as_bytes().as_slice()),
            "the slot names its owner from the start"
        );
        assert!(matches!(
            s.reserve_award(Uuid::new_v4(), slot).await,
            Err(Error::SlotTaken { .. })
        ));
        // A crash between an entry and its slot leaves the entry alone.
        let stray = reservation_key(StatusSlot { list: 1, index: 3 }, Uuid::new_v4());
        s.reservations.insert(stray, &[]).expect("entry");
        assert_eq!(
            s.pending_awards(None).await.expect("pending"),
            vec![(id, slot)],
            "a refused reservation leaves no entry and a stray entry is not pending"
        );
        let mut a = award("a@x.org", Some(slot));
        a.id = id;
        s.record_reserved(&mut a).await.expect("record");
        assert!(s.pending_awards(None).await.expect("pending").is_empty());
        assert!(
            !s.reservations
                .contains_key(reservation_key(slot, id))
                .expect("get"),
            "a fulfilled reservation leaves no entry"
        );
        assert_eq!(
            s.slot_owner(slot).await.expect("owner"),
            Some(id),
            "the slot stays its award's"
        );
        assert!(
            matches!(
                s.record_reserved(&mut a).await,
                Err(Error::SlotTaken { .. })
            ),
            "a fulfilled reservation is not fulfilled twice"
        );
    }

    #[tokio::test]
    async fn an_award_format_1_left_unsigned_is_a_pending_reservation_once_converted() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let slot = StatusSlot { list: 1, index: 6 };
        let mut a = award("a@x.org", Some(slot));
        s.insert_award(&mut a, &[], &[]).await.expect("insert");
        let unsigned = s.db.open_tree("pending").expect("tree");
        unsigned.insert(a.id.as_bytes(), &[]).expect("mark");
        drop(unsigned);
        assert_eq!(upgrade::pending(&s).expect("convert"), 1);
        assert_eq!(
            s.pending_awards(None).await.expect("pending"),
            vec![(a.id, slot)]
        );
        assert_eq!(s.slot_owner(slot).await.expect("owner"), Some(a.id));
    }

    /// Writes `slots` as stores before `status_pending` did: a reserved slot's value
    /// ends with `r`, and (`with_index`) their own entries, slot first, for the marked
    /// ones, plus some entries a crash left behind.
    fn write_legacy(s: &SledStore, slots: &[(StatusSlot, Uuid, bool)], with_index: bool) {
        s.reservations.clear().expect("clear");
        s.meta.remove(PENDING_INDEX_KEY).expect("unmark");
        let legacy = s.db.open_tree(LEGACY_RESERVATIONS).expect("tree");
        for (slot, owner, pending) in slots {
            let v = if *pending {
                reserved(*owner).to_vec()
            } else {
                owner.as_bytes().to_vec()
            };
            s.slots.insert(slot_key(*slot), v).expect("slot");
            if with_index {
                let mut k = slot_key(*slot).to_vec();
                k.extend_from_slice(owner.as_bytes());
                // A fulfilled reservation whose entry a crash kept is in the old index too.
                legacy.insert(k, &[]).expect("entry");
            }
        }
        if with_index {
            s.meta.insert(RESERVATIONS_INDEX_KEY, &[1u8]).expect("mark");
        }
        s.db.flush().expect("flush");
    }

    #[tokio::test]
    async fn older_stores_get_their_pending_reservations_entered_once_from_either_form() {
        for with_index in [false, true] {
            let dir = tempfile::tempdir().expect("tmp");
            let (pending, done) = (
                (StatusSlot { list: 1, index: 9 }, Uuid::new_v4()),
                (StatusSlot { list: 1, index: 4 }, Uuid::new_v4()),
            );
            {
                let s = open(dir.path());
                write_legacy(
                    &s,
                    &[(pending.0, pending.1, true), (done.0, done.1, false)],
                    with_index,
                );
            }
            let s = open(dir.path());
            assert_eq!(
                s.pending_awards(None).await.expect("pending"),
                vec![(pending.1, pending.0)],
                "only the marked slot is pending ({with_index})"
            );
            assert!(s.meta.get(PENDING_INDEX_KEY).expect("mark").is_some());
            assert!(s.meta.get(RESERVATIONS_INDEX_KEY).expect("old").is_none());
            assert!(
                !s.db
                    .tree_names()
                    .iter()
                    .any(|n| n.as_ref() == LEGACY_RESERVATIONS.as_bytes()),
                "the old index is gone"
            );
            assert_eq!(
                s.slot_owner(pending.0).await.expect("owner"),
                Some(pending.1)
            );
            // The old form of a reserved slot is fulfilled and burned like the new one.
            let mut a = award("a@x.org", Some(pending.0));
            a.id = pending.1;
            s.record_reserved(&mut a).await.expect("record");
            assert!(s.pending_awards(None).await.expect("pending").is_empty());
            assert_eq!(s.award(a.id).await.expect("get"), Some(a.clone()));
            drop(s);
            // Entered once: a later start leaves the store as it is.
            let s = open(dir.path());
            assert!(s.pending_awards(None).await.expect("pending").is_empty());
        }
    }

    #[tokio::test]
    async fn a_change_writes_its_bits_audit_and_handles_together_and_reruns_on_conflict() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = std::sync::Arc::new(open(dir.path()));
        let slot = StatusSlot { list: 2, index: 5 };
        let mut a = award("a@x.org", Some(slot));
        a.wallet.offer = Some(Offer {
            secret: OfferSecret::Clear {
                id: "o".into(),
                code: "c".into(),
            },
            expires_at: at(100),
            created_at: at(0),
        });
        let handles = [
            WalletHandle::Code("c".into()),
            WalletHandle::Offer("o".into()),
        ];
        s.insert_award(&mut a, &handles, &[]).await.expect("insert");
        let event = AuditEvent {
            at: at(5),
            action: "revoke".into(),
            actor: "admin".into(),
            reason: None,
        };
        let mut runs = 0;
        let other = s.clone();
        let id = a.id;
        let now = s
            .update_award(id, &mut |r: &mut Award| {
                runs += 1;
                if runs == 1 {
                    // Another change lands between this read and its write.
                    other
                        .change_award(id, &mut |o: &mut Award| {
                            o.suspended = true;
                            Ok(AwardChange::award())
                        })
                        .expect("concurrent change");
                }
                r.revoked = true;
                r.wallet.offer = None;
                Ok(AwardChange {
                    write: true,
                    bits: vec![BitWrite {
                        purpose: StatusPurpose::Revocation,
                        slot,
                        value: true,
                    }],
                    audit: Some(event.clone()),
                    handles: vec![
                        HandleOp::Unlink(WalletHandle::Code("c".into())),
                        HandleOp::Unlink(WalletHandle::Offer("o".into())),
                    ],
                })
            })
            .await
            .expect("change");
        assert_eq!(runs, 2, "the first run lost to the concurrent change");
        assert!(now.revoked && now.suspended, "both changes are kept");
        let state = s.status_state().await.expect("state");
        assert_eq!(state.bits, vec![(StatusPurpose::Revocation, slot)]);
        assert_eq!(s.audit_events(id).await.expect("audit"), vec![event]);
        assert_eq!(s.code("c").await.expect("code"), None);
        assert_eq!(
            s.award_for(&WalletHandle::Offer("o".into()))
                .await
                .expect("o"),
            None
        );
        let refused = s
            .update_award(id, &mut |_: &mut Award| Err(Error::Refused("no".into())))
            .await;
        assert!(matches!(refused, Err(Error::Refused(_))));
        assert!(matches!(
            s.update_award(
                Uuid::new_v4(),
                &mut |_: &mut Award| Ok(AwardChange::award())
            )
            .await,
            Err(Error::Missing(_))
        ));
    }

    #[tokio::test]
    async fn a_code_counts_wrong_tries_is_spent_once_and_carries_its_count_when_relinked() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let mut a = award("a@x.org", None);
        a.wallet.offer = Some(Offer {
            secret: OfferSecret::Clear {
                id: "offer-1".into(),
                code: "code-1".into(),
            },
            expires_at: at(10),
            created_at: at(0),
        });
        let handles = [
            WalletHandle::Code("code-1".into()),
            WalletHandle::Offer("offer-1".into()),
        ];
        s.insert_award(&mut a, &handles, &[]).await.expect("insert");
        let e = s.code("code-1").await.expect("read").expect("there");
        assert!(s.count_wrong_tx_code("code-1", e).await.expect("cas"));
        // A stale view loses: the entry changed under it.
        assert!(!s.count_wrong_tx_code("code-1", e).await.expect("cas"));
        assert!(!s.spend_code("code-1", e).await.expect("cas"));
        let e = s.code("code-1").await.expect("read").expect("there");
        assert_eq!(e.failures, 1);
        // A fresh code for the same award inherits the count.
        s.update_award(a.id, &mut |_: &mut Award| {
            Ok(AwardChange::with_handles(vec![HandleOp::RelinkCode {
                old: Some("code-1".into()),
                new: "code-2".into(),
                max_failures: 5,
            }]))
        })
        .await
        .expect("relink");
        assert_eq!(s.code("code-1").await.expect("old"), None);
        let e2 = s.code("code-2").await.expect("new").expect("there");
        assert_eq!((e2.award, e2.failures), (a.id, 1));
        assert!(s.spend_code("code-2", e2).await.expect("cas"));
        assert!(
            !s.spend_code("code-2", e2).await.expect("cas"),
            "spent once"
        );
        assert_eq!(s.code("code-2").await.expect("read"), None);
        // A code at its limit is not relinked.
        s.link(&WalletHandle::Code("code-3".into()), a.id)
            .await
            .expect("link");
        for _ in 0..5 {
            let e = s.code("code-3").await.expect("read").expect("there");
            s.count_wrong_tx_code("code-3", e).await.expect("count");
        }
        let refused = s
            .update_award(a.id, &mut |_: &mut Award| {
                Ok(AwardChange::with_handles(vec![HandleOp::RelinkCode {
                    old: Some("code-3".into()),
                    new: "code-4".into(),
                    max_failures: 5,
                }]))
            })
            .await;
        assert!(matches!(refused, Err(Error::Refused(_))));
        assert_eq!(
            s.code("code-4").await.expect("read"),
            None,
            "nothing written"
        );
    }

    #[tokio::test]
    async fn nonces_and_tokens_are_single_use_and_expire() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        s.put_nonce("n1", at(100)).await.expect("put");
        s.put_nonce("n2", at(100)).await.expect("put");
        assert!(s.take_nonce("n1", at(100)).await.expect("take"));
        assert!(!s.take_nonce("n1", at(100)).await.expect("take"), "used");
        assert!(!s.take_nonce("n2", at(101)).await.expect("take"), "expired");
        assert!(!s.take_nonce("never", at(0)).await.expect("take"));
        s.put_nonce("n3", at(50)).await.expect("put");
        s.put_nonce("n4", at(500)).await.expect("put");
        assert_eq!(s.sweep_nonces(at(100)).await.expect("sweep"), 1);
        assert!(
            s.take_nonce("n4", at(100)).await.expect("take"),
            "unexpired ones stay"
        );

        let grant = |expires| TokenGrant {
            award: Uuid::new_v4(),
            configuration_ids: vec!["c".into()],
            credential_identifiers: vec![],
            expires_at: at(expires),
            refresh: false,
            generation: 0,
        };
        s.put_token(&[1; 32], &grant(50)).await.expect("put");
        s.put_token(&[2; 32], &grant(500)).await.expect("put");
        assert_eq!(
            s.token(&[2; 32]).await.expect("get").map(|g| g.expires_at),
            Some(at(500))
        );
        assert_eq!(s.sweep_tokens(at(100)).await.expect("sweep"), 1);
        assert_eq!(s.token(&[1; 32]).await.expect("get"), None);
        assert!(s.take_token(&[2; 32]).await.expect("take"));
        assert!(!s.take_token(&[2; 32]).await.expect("take"), "once");
    }

    #[tokio::test]
    async fn every_revision_of_an_achievement_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let s = open(dir.path());
        let key = Uuid::new_v4();
        let v1 = sample_achievement("https://x.example/achievements/1");
        let rec = AchievementRecord {
            key,
            revision: 1,
            achievement: v1.clone(),
            archived: false,
            created_at: at(0),
            updated_at: at(0),
        };
        s.insert_achievement(&rec).await.expect("insert");
        let mut v2 = v1.clone();
        v2.name = "Renamed".into();
        let now = s
            .update_achievement(key, &mut |r: &mut AchievementRecord| {
                r.achievement = v2.clone();
                r.revision += 1;
                Ok(true)
            })
            .await
            .expect("update");
        assert_eq!(now.revision, 2);
        let r1 = AchievementRef { key, revision: 1 };
        let r2 = AchievementRef { key, revision: 2 };
        assert_eq!(s.revision(r1).await.expect("r1"), Some(v1));
        assert_eq!(s.revision(r2).await.expect("r2"), Some(v2));
        let archived = s
            .update_achievement(key, &mut |r: &mut AchievementRecord| {
                r.archived = true;
                Ok(true)
            })
            .await
            .expect("archive");
        assert_eq!((archived.revision, archived.archived), (2, true));
        assert!(matches!(
            s.update_achievement(Uuid::new_v4(), &mut |_: &mut AchievementRecord| Ok(true))
                .await,
            Err(Error::Missing(_))
        ));
    }

    #[test]
    fn a_store_of_a_newer_format_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let s = open(dir.path());
            s.meta
                .insert(FORMAT_KEY, &(FORMAT + 1).to_be_bytes())
                .expect("mark");
            s.db.flush().expect("flush");
        }
        // sled's own flusher thread may hold the directory's lock for a moment after
        // the store is dropped: wait for it rather than mistake it for the answer.
        let mut tries = 0;
        let e = loop {
            let e = SledStore::open(dir.path()).err().expect("refused");
            let busy =
                e.to_string().contains("lock") || e.to_string().contains("temporarily unavailable");
            if !busy || tries == 40 {
                break e;
            }
            tries += 1;
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert!(e.to_string().contains("newer version"), "{e}");
    }
}
