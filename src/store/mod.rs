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
            flusher: Arc::new(flush::GroupFlush::start(db.clone())?),
            db,
        })
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
        (&self.credentials, &self.by_seq, &self.slots, &self.pending)
            .transaction(|(creds, seq, slots, pend)| {
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
        (&self.credentials, &self.bits, &self.audit)
            .transaction(|(creds, bits, audit)| {
                let bytes = creds.get(idb)?.ok_or_else(|| abort(Error::Missing(id)))?;
                let mut rec: CredentialRecord = decode("credential", &bytes).map_err(abort)?;
                let Some(change) = f(&mut rec).map_err(abort)? else {
                    return Ok((rec, false));
                };
                creds.insert(idb, encode("credential", &rec).map_err(abort)?)?;
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
}
