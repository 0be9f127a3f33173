//! Persistence in sled, behind typed accessors. This is the only module that knows
//! how keys are encoded or which trees exist.
//!
//! Trees:
//! - `meta`: singletons (the issuer Profile).
//! - `achievements`: achievement uuid (text) → [`AchievementRecord`] (JSON).
//! - `credentials`: credential uuid (16 bytes) → [`CredentialRecord`] (JSON).
//! - `credentials_by_seq`: sequence number (u64 big-endian) → credential uuid; the
//!   newest-first listing walks this tree backwards, and its key is the cursor.
//!
//! sled makes nothing durable until a flush; every write path that answers a client
//! calls [`Store::flush`] before it acknowledges (CONTRACT §2: a 2xx to a write is
//! durable).

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sled::Transactional;
use uuid::Uuid;

use crate::model::Achievement;

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored record {0} is corrupt: {1}")]
    Corrupt(String, String),
    #[error("the storage task failed: {0}")]
    Task(String),
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
    pub created_at: String,
    pub updated_at: String,
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
            db,
        })
    }

    /// Makes every write so far durable.
    ///
    /// sled 0.34's `flush_async` can deadlock when several run at once (sled issues
    /// #1241 and #1308, fixed only on its unreleased main branch); the blocking
    /// `flush` on the blocking pool does not, and concurrent callers share its work.
    pub async fn flush(&self) -> Result<(), Error> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| Error::Task(e.to_string()))??;
        Ok(())
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

    /// Stores a new credential record and its listing entry atomically.
    pub fn insert_credential(&self, rec: &CredentialRecord) -> Result<(), Error> {
        let value = encode("credential", rec)?;
        (&self.credentials, &self.by_seq)
            .transaction(|(creds, seq)| {
                creds.insert(rec.id.as_bytes().as_slice(), value.as_slice())?;
                seq.insert(&rec.seq.to_be_bytes(), rec.id.as_bytes().as_slice())?;
                Ok(())
            })
            .map_err(|e: sled::transaction::TransactionError<()>| match e {
                sled::transaction::TransactionError::Storage(s) => Error::Sled(s),
                sled::transaction::TransactionError::Abort(()) => {
                    Error::Corrupt("credential".into(), "transaction aborted".into())
                }
            })
    }

    /// Replaces an existing credential record.
    pub fn update_credential(&self, rec: &CredentialRecord) -> Result<(), Error> {
        self.credentials
            .insert(rec.id.as_bytes(), encode("credential", rec)?)?;
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
            store.insert_credential(&r).expect("insert");
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
            store.insert_credential(&r).expect("insert");
            store.flush_blocking().expect("flush");
            r
        };
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.credential(r.id).expect("get"), Some(r));
    }
}
