//! Partner API keys: platforms that verify many badges present a key on the verifier
//! API, get their own rate limit instead of the per-IP one, and have their use counted.
//!
//! # Secrets
//! A key is `acc_live_` followed by 32 random bytes in base64url (RFC 4648 §5, no
//! padding): the prefix lets people and secret scanners recognise one. The secret is
//! shown once, in the answer that creates it. Only its SHA-256 digest is kept, in
//! memory and in the store; a presented key is hashed and looked up by digest. The
//! lookup's timing can only tell an attacker about digests of guesses, never about a
//! stored secret, and the digests found are compared again in constant time. The
//! secret type's `Debug` is redacted; nothing here logs it.
//!
//! # Rate limits
//! Each key has a token bucket of `rate_limit` requests per second with a burst of the
//! same size, driven by the injected clock (so tests decide when time passes). A
//! request over the limit is refused and counted (`rejected_rate_limited`).
//!
//! # Usage counts and durability
//! `requests` (calls admitted), `verifications` (badges examined to a report: one per
//! verify call, one per badge in a presentation, one per answered item of a batch),
//! `rejected_rate_limited` and `last_used_at` live in atomics, so the hot path never
//! writes the store. [`KeyStore::persist_usage`] adds what each key counted since to
//! the totals the store keeps (so the nodes of a fleet add up, and a write of a key's
//! name or limit never undoes a count), and takes in what other nodes added;
//! `serve` calls it every [`PERSIST_INTERVAL`] and once more on shutdown. A crash loses
//! at most the counts of the last interval (about one second). Reads
//! (`GET /api/v1/api-keys/{id}`) show the live counts. Creating, changing and revoking
//! a key are written at once; callers flush before acknowledging.
//!
//! Records are kept by the store's [`PartnerKeys`] repository; all of them are held in
//! memory (partners are few).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use time::OffsetDateTime;

use crate::clock::SharedClock;
use crate::store::{self, PartnerKeys};

pub use crate::records::partner::{PartnerKeyRecord as Record, Usage};

/// What every key starts with.
pub const PREFIX: &str = "acc_live_";

/// Length of a key: the prefix and 32 bytes in unpadded base64url.
pub const KEY_LEN: usize = PREFIX.len() + 43;

/// Requests per second when the creator names no limit.
pub const DEFAULT_RATE_LIMIT: u32 = 100;

/// The highest limit a key may have.
pub const MAX_RATE_LIMIT: u32 = 100_000;

/// How often `serve` writes changed usage counts.
pub const PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// The longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 200;

/// Partner key failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Invalid(String),
    #[error("API key {0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("stored API key {0} is corrupt: {1}")]
    Corrupt(String, String),
}

/// Why a presented key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("unknown API key")]
    Unknown,
    #[error("this API key was revoked")]
    Revoked,
}

/// A newly minted key's secret. `Debug` never shows it.
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Secret {
    fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
        Secret(format!("{PREFIX}{}", crate::jose::b64(bytes)))
    }

    /// The secret itself, for the one answer that shows it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

/// A key as the admin API shows it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// Requests per second (and burst).
    pub rate_limit: u32,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
    pub revoked: bool,
    #[serde(with = "crate::clock::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    pub usage: Usage,
}

/// What an admin may change.
#[derive(Debug, Clone)]
struct Meta {
    name: String,
    updated_at: OffsetDateTime,
    revoked_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    /// Seconds since the epoch of the last refill.
    at: f64,
}

/// A key in memory: counters and the bucket, beside what the record holds.
#[derive(Debug)]
struct Live {
    id: String,
    digest: [u8; 32],
    created_at: OffsetDateTime,
    meta: RwLock<Meta>,
    revoked: AtomicBool,
    rate_limit: AtomicU32,
    requests: AtomicU64,
    verifications: AtomicU64,
    rejected: AtomicU64,
    /// Unix seconds of the last admitted request; `i64::MIN` for never.
    last_used: AtomicI64,
    bucket: Mutex<Bucket>,
    /// The counts changed since they were last written.
    dirty: AtomicBool,
    /// The totals the store held when this node last wrote or read them: what it
    /// adds next is what it counted beyond them.
    persisted: Mutex<Usage>,
}

impl Live {
    fn meta(&self) -> Meta {
        self.meta
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn usage(&self) -> Usage {
        let last = self.last_used.load(Ordering::Relaxed);
        Usage {
            requests: self.requests.load(Ordering::Relaxed),
            verifications: self.verifications.load(Ordering::Relaxed),
            rejected_rate_limited: self.rejected.load(Ordering::Relaxed),
            last_used_at: (last != i64::MIN)
                .then(|| OffsetDateTime::from_unix_timestamp(last).ok())
                .flatten(),
        }
    }

    fn view(&self) -> KeyView {
        let meta = self.meta();
        KeyView {
            id: self.id.clone(),
            name: meta.name,
            rate_limit: self.rate_limit.load(Ordering::Relaxed),
            created_at: self.created_at,
            updated_at: meta.updated_at,
            revoked: self.revoked.load(Ordering::Relaxed),
            revoked_at: meta.revoked_at,
            usage: self.usage(),
        }
    }

    fn record(&self) -> Record {
        let v = self.view();
        Record {
            id: v.id,
            name: v.name,
            sha256: hex::encode(self.digest),
            rate_limit: v.rate_limit,
            created_at: v.created_at,
            updated_at: v.updated_at,
            revoked: v.revoked,
            revoked_at: v.revoked_at,
            usage: v.usage,
        }
    }

    fn from_record(r: Record, now: f64) -> Result<Self, Error> {
        let digest: [u8; 32] = hex::decode(&r.sha256)
            .ok()
            .and_then(|d| d.try_into().ok())
            .ok_or_else(|| Error::Corrupt(r.id.clone(), "sha256 is not 32 bytes of hex".into()))?;
        let last = r
            .usage
            .last_used_at
            .map_or(i64::MIN, OffsetDateTime::unix_timestamp);
        Ok(Self {
            id: r.id,
            digest,
            created_at: r.created_at,
            meta: RwLock::new(Meta {
                name: r.name,
                updated_at: r.updated_at,
                revoked_at: r.revoked_at,
            }),
            revoked: AtomicBool::new(r.revoked),
            rate_limit: AtomicU32::new(r.rate_limit),
            requests: AtomicU64::new(r.usage.requests),
            verifications: AtomicU64::new(r.usage.verifications),
            rejected: AtomicU64::new(r.usage.rejected_rate_limited),
            last_used: AtomicI64::new(last),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(r.rate_limit),
                at: now,
            }),
            dirty: AtomicBool::new(false),
            persisted: Mutex::new(r.usage),
        })
    }

    /// Takes in the totals the store holds now: what other nodes of a fleet counted
    /// since this one last looked is added to the live counts (which keep what this
    /// node counted and has not written yet). Counts only grow, so totals behind what
    /// this node last saw are a stale read (a reload that raced a write) and change
    /// nothing: the base never moves back, or the next write would count again what
    /// was written already.
    fn rebase(&self, stored: &Usage) {
        let mut persisted = self
            .persisted
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let others = stored.minus(&persisted);
        self.requests.fetch_add(others.requests, Ordering::Relaxed);
        self.verifications
            .fetch_add(others.verifications, Ordering::Relaxed);
        self.rejected
            .fetch_add(others.rejected_rate_limited, Ordering::Relaxed);
        if let Some(t) = others.last_used_at {
            self.last_used
                .fetch_max(t.unix_timestamp(), Ordering::Relaxed);
        }
        *persisted = persisted.plus(&others);
    }
}

/// The identity of a request that presented a valid key: what handlers see.
#[derive(Clone)]
pub struct PartnerKey {
    pub id: String,
    pub name: String,
    live: Arc<Live>,
}

impl std::fmt::Debug for PartnerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl PartnerKey {
    /// Counts `n` badges examined for this key.
    pub fn count_verifications(&self, n: u64) {
        if n > 0 {
            self.live.verifications.fetch_add(n, Ordering::Relaxed);
            self.live.dirty.store(true, Ordering::Release);
        }
    }
}

/// All keys: the store and the in-memory index by digest.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn PartnerKeys>,
    clock: SharedClock,
    by_digest: RwLock<HashMap<[u8; 32], Arc<Live>>>,
    /// Serialises record writes, so that a later write always holds later state.
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("keys", &self.read().len())
            .finish_non_exhaustive()
    }
}

fn seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// Checks a requested limit.
pub fn rate_limit(requested: Option<u32>) -> Result<u32, Error> {
    match requested {
        None => Ok(DEFAULT_RATE_LIMIT),
        Some(n) if (1..=MAX_RATE_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(Error::Invalid(format!(
            "rate_limit: {n} is not between 1 and {MAX_RATE_LIMIT} requests per second"
        ))),
    }
}

/// Checks a key name.
pub fn name(requested: &str) -> Result<String, Error> {
    let n = requested.trim();
    if n.is_empty() {
        return Err(Error::Invalid("name: required (who the key is for)".into()));
    }
    if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "name: at most {MAX_NAME_CHARS} characters, no control characters"
        )));
    }
    Ok(n.to_owned())
}

impl KeyStore {
    /// Opens the keys in the store.
    pub async fn open(store: Arc<dyn PartnerKeys>, clock: SharedClock) -> Result<Self, Error> {
        let now = seconds(clock.now());
        let mut by_digest = HashMap::new();
        for r in store.partner_keys().await? {
            let live = Live::from_record(r, now)?;
            by_digest.insert(live.digest, Arc::new(live));
        }
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                by_digest: RwLock::new(by_digest),
                writer: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// Reads the keys again (another node of a fleet created, changed or revoked
    /// one): names, limits and revocations come from the store; a key this node
    /// knows keeps its counters and bucket.
    pub async fn reload(&self) -> Result<(), Error> {
        let _w = self.inner.writer.lock().await;
        let now = seconds(self.now());
        let records = self.inner.store.partner_keys().await?;
        let mut map = self
            .inner
            .by_digest
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let mut fresh = HashMap::with_capacity(records.len());
        for r in records {
            let incoming = Live::from_record(r, now)?;
            let live = match map.remove(&incoming.digest) {
                Some(known) => {
                    known.rebase(
                        &incoming
                            .persisted
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .clone(),
                    );
                    *known.meta.write().unwrap_or_else(PoisonError::into_inner) = incoming
                        .meta
                        .into_inner()
                        .unwrap_or_else(PoisonError::into_inner);
                    known
                        .revoked
                        .store(incoming.revoked.into_inner(), Ordering::Release);
                    known
                        .rate_limit
                        .store(incoming.rate_limit.into_inner(), Ordering::Release);
                    known
                }
                None => Arc::new(incoming),
            };
            fresh.insert(live.digest, live);
        }
        *map = fresh;
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 32], Arc<Live>>> {
        self.inner
            .by_digest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }

    /// Mints a key. Returns its view and the secret (to show once). Not flushed.
    pub async fn create(
        &self,
        key_name: &str,
        limit: Option<u32>,
    ) -> Result<(KeyView, Secret), Error> {
        let key_name = name(key_name)?;
        let limit = rate_limit(limit)?;
        let secret = Secret::generate();
        let now = self.inner.clock.timestamp();
        let record = Record {
            id: uuid::Uuid::new_v4().to_string(),
            name: key_name,
            sha256: hex::encode(digest(secret.expose())),
            rate_limit: limit,
            created_at: now,
            updated_at: now,
            revoked: false,
            revoked_at: None,
            usage: Usage::default(),
        };
        let live = Arc::new(Live::from_record(record, seconds(self.now()))?);
        let _w = self.inner.writer.lock().await;
        self.write(&live).await?;
        self.inner
            .by_digest
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(live.digest, live.clone());
        Ok((live.view(), secret))
    }

    fn find(&self, id: &str) -> Result<Arc<Live>, Error> {
        self.read()
            .values()
            .find(|l| l.id == id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.to_owned()))
    }

    /// Every key, oldest first.
    pub fn list(&self) -> Vec<KeyView> {
        let mut all: Vec<KeyView> = self.read().values().map(|l| l.view()).collect();
        all.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        all
    }

    /// One key, with its live counts.
    pub fn get(&self, id: &str) -> Result<KeyView, Error> {
        Ok(self.find(id)?.view())
    }

    /// Renames a key or changes its limit. Not flushed.
    pub async fn update(
        &self,
        id: &str,
        new_name: Option<&str>,
        limit: Option<u32>,
    ) -> Result<KeyView, Error> {
        let live = self.find(id)?;
        let new_name = new_name.map(name).transpose()?;
        let limit = limit.map(|l| rate_limit(Some(l))).transpose()?;
        let _w = self.inner.writer.lock().await;
        {
            let mut meta = live.meta.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = new_name {
                meta.name = n;
            }
            meta.updated_at = self.inner.clock.timestamp();
        }
        if let Some(l) = limit {
            live.rate_limit.store(l, Ordering::Relaxed);
        }
        self.write(&live).await?;
        Ok(live.view())
    }

    /// Revokes a key (again: no change). Not flushed.
    pub async fn revoke(&self, id: &str) -> Result<KeyView, Error> {
        let live = self.find(id)?;
        let _w = self.inner.writer.lock().await;
        if !live.revoked.swap(true, Ordering::AcqRel) {
            let now = self.inner.clock.timestamp();
            let mut meta = live.meta.write().unwrap_or_else(PoisonError::into_inner);
            meta.revoked_at = Some(now);
            meta.updated_at = now;
        }
        self.write(&live).await?;
        Ok(live.view())
    }

    /// The key a request presents, when it is known and not revoked. Counts nothing.
    pub fn authenticate(&self, presented: &str) -> Result<PartnerKey, Refusal> {
        if presented.len() != KEY_LEN || !presented.starts_with(PREFIX) {
            return Err(Refusal::Unknown);
        }
        let d = digest(presented);
        let live = self.read().get(&d).cloned().ok_or(Refusal::Unknown)?;
        if !bool::from(live.digest.ct_eq(&d)) {
            return Err(Refusal::Unknown);
        }
        if live.revoked.load(Ordering::Acquire) {
            return Err(Refusal::Revoked);
        }
        Ok(PartnerKey {
            id: live.id.clone(),
            name: live.meta().name,
            live,
        })
    }

    /// Takes one request from the key's bucket: counted as a request when admitted,
    /// as a refusal (with the seconds to wait) when not.
    pub fn admit(&self, key: &PartnerKey) -> Result<(), f64> {
        let now = self.now();
        let live = &key.live;
        let rate = f64::from(live.rate_limit.load(Ordering::Relaxed));
        let taken = {
            let mut b = live.bucket.lock().unwrap_or_else(PoisonError::into_inner);
            let t = seconds(now);
            let elapsed = (t - b.at).max(0.0);
            b.tokens = (b.tokens + elapsed * rate).min(rate);
            b.at = b.at.max(t);
            if b.tokens >= 1.0 {
                b.tokens -= 1.0;
                Ok(())
            } else {
                Err((1.0 - b.tokens) / rate)
            }
        };
        self.count(key, taken.is_ok());
        taken
    }

    /// The requests a second the key allows.
    pub fn rate_limit(&self, key: &PartnerKey) -> u32 {
        key.live.rate_limit.load(Ordering::Relaxed)
    }

    /// Counts a request under the key: admitted, or refused over its limit (a fleet
    /// decides that with its shared buckets, then counts here).
    pub fn count(&self, key: &PartnerKey, admitted: bool) {
        let live = &key.live;
        if admitted {
            live.requests.fetch_add(1, Ordering::Relaxed);
            live.last_used
                .fetch_max(self.now().unix_timestamp(), Ordering::Relaxed);
        } else {
            live.rejected.fetch_add(1, Ordering::Relaxed);
        }
        live.dirty.store(true, Ordering::Release);
    }

    /// Writes the keys whose counts changed since the last write, then flushes.
    /// Returns how many were written.
    pub async fn persist_usage(&self) -> Result<usize, Error> {
        // Not beside a reload: a reload that read the totals before this write and
        // rebased after it would take this node's own counts for another node's.
        let _w = self.inner.writer.lock().await;
        let changed: Vec<Arc<Live>> = self
            .read()
            .values()
            .filter(|l| l.dirty.load(Ordering::Acquire))
            .cloned()
            .collect();
        if changed.is_empty() {
            return Ok(0);
        }
        for live in &changed {
            self.add_usage(live).await?;
        }
        self.flush().await?;
        Ok(changed.len())
    }

    /// Adds what this node counted for a key since it last wrote to the totals the
    /// store keeps, then takes in the totals (other nodes' counts included). The dirty
    /// flag is cleared before the counts are read, so a count that lands meanwhile
    /// marks the key again.
    async fn add_usage(&self, live: &Live) -> Result<(), Error> {
        live.dirty.store(false, Ordering::Release);
        let now = live.usage();
        let delta = now.minus(
            &live
                .persisted
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if delta.is_empty() {
            return Ok(());
        }
        match self.inner.store.add_partner_usage(&live.id, &delta).await {
            Ok(Some(totals)) => {
                // The totals include the delta: only other nodes' counts are new here.
                let mut persisted = live
                    .persisted
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                *persisted = persisted.plus(&delta);
                drop(persisted);
                live.rebase(&totals);
                Ok(())
            }
            Ok(None) => Ok(()),
            Err(e) => {
                live.dirty.store(true, Ordering::Release);
                Err(e.into())
            }
        }
    }

    /// Makes every change so far durable.
    pub async fn flush(&self) -> Result<(), Error> {
        Ok(self.inner.store.flush().await?)
    }

    /// Writes what a key's record says of it (name, limit, revocation; a new key's
    /// counts); the caller holds the writer lock. An existing key's counts are the
    /// store's, added to by [`KeyStore::persist_usage`].
    async fn write(&self, live: &Live) -> Result<(), Error> {
        Ok(self.inner.store.put_partner_key(&live.record()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::store::Store;

    async fn open(dir: &std::path::Path, clock: Arc<FixedClock>) -> (Store, KeyStore) {
        let store = Store::open(dir).expect("store");
        let keys = KeyStore::open(store.partners.clone(), clock)
            .await
            .expect("open");
        (store, keys)
    }

    #[test]
    fn a_secret_has_the_prefix_and_never_prints() {
        let s = Secret::generate();
        assert!(s.expose().starts_with(PREFIX));
        assert_eq!(s.expose().len(), KEY_LEN);
        assert_ne!(s.expose(), Secret::generate().expose());
        assert!(!format!("{s:?}").contains(&s.expose()[PREFIX.len()..]));
    }

    #[tokio::test]
    async fn keys_authenticate_by_digest_and_the_store_holds_no_secret() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = Arc::new(FixedClock::at(1_800_000_000));
        let (store, keys) = open(dir.path(), clock).await;
        let (view, secret) = keys.create("Partner A", Some(5)).await.expect("create");
        assert_eq!((view.rate_limit, view.revoked), (5, false));
        let k = keys.authenticate(secret.expose()).expect("known");
        assert_eq!(
            (k.id.as_str(), k.name.as_str()),
            (view.id.as_str(), "Partner A")
        );
        assert!(!format!("{k:?}").contains(&secret.expose()[PREFIX.len()..]));

        let mut wrong = secret.expose().to_owned();
        wrong.pop();
        wrong.push(if secret.expose().ends_with('A') {
            'B'
        } else {
            'A'
        });
        for bad in [
            wrong.as_str(),
            "",
            "acc_live_",
            "not-a-key",
            &secret.expose()[1..],
        ] {
            assert_eq!(
                keys.authenticate(bad).err(),
                Some(Refusal::Unknown),
                "{bad}"
            );
        }

        // Every byte the store wrote to disk, searched for the secret.
        keys.flush().await.expect("flush");
        store.flush().await.expect("flush");
        let body = &secret.expose().as_bytes()[PREFIX.len()..];
        let mut files = 0;
        for entry in walk(dir.path()) {
            let bytes = std::fs::read(&entry).expect("read");
            files += 1;
            assert!(
                !bytes.windows(body.len()).any(|w| w == body),
                "{} holds the secret",
                entry.display()
            );
        }
        assert!(files > 0);

        let revoked = keys.revoke(&view.id).await.expect("revoke");
        assert!(revoked.revoked && revoked.revoked_at.is_some());
        assert_eq!(
            keys.revoke(&view.id).await.expect("again"),
            revoked,
            "idempotent"
        );
        assert_eq!(
            keys.authenticate(secret.expose()).err(),
            Some(Refusal::Revoked)
        );
        assert!(matches!(keys.revoke("nope").await, Err(Error::NotFound(_))));
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[tokio::test]
    async fn the_bucket_admits_its_burst_then_refills_with_the_clock() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = Arc::new(FixedClock::at(1_800_000_000));
        let (_store, keys) = open(dir.path(), clock.clone()).await;
        let (view, secret) = keys.create("Partner B", Some(4)).await.expect("create");
        let k = keys.authenticate(secret.expose()).expect("known");
        for _ in 0..4 {
            keys.admit(&k).expect("within the burst");
        }
        let wait = keys.admit(&k).expect_err("over the limit");
        assert!((wait - 0.25).abs() < 1e-9, "{wait}");
        clock.advance(1);
        for _ in 0..4 {
            keys.admit(&k).expect("refilled");
        }
        assert!(keys.admit(&k).is_err());
        // A lower limit applies at once; the bucket never holds more than it.
        keys.update(&view.id, None, Some(1)).await.expect("update");
        clock.advance(10);
        keys.admit(&k).expect("one");
        assert!(keys.admit(&k).is_err());
        let u = keys.get(&view.id).expect("get").usage;
        assert_eq!((u.requests, u.rejected_rate_limited), (9, 3));
        assert_eq!(
            u.last_used_at.map(crate::clock::format_seconds).as_deref(),
            Some("2027-01-15T08:00:11Z")
        );
    }

    #[test]
    fn a_stale_total_never_moves_the_written_base_back() {
        let r = Record {
            id: "k1".into(),
            name: "n".into(),
            sha256: hex::encode([1u8; 32]),
            rate_limit: 5,
            created_at: crate::clock::from_unix(0),
            updated_at: crate::clock::from_unix(0),
            revoked: false,
            revoked_at: None,
            usage: Usage::default(),
        };
        let live = Live::from_record(r, 0.0).expect("live");
        let at = |n: u64| Usage {
            requests: n,
            ..Usage::default()
        };
        // This node counted 3 and wrote them; the store then held 8 (5 from another).
        live.requests.store(3, Ordering::Relaxed);
        *live.persisted.lock().expect("lock") = at(3);
        live.rebase(&at(8));
        assert_eq!(live.usage().requests, 8);
        // A reload that read the store before the write comes in late with 5.
        live.rebase(&at(5));
        assert_eq!(live.usage().requests, 8);
        assert_eq!(
            live.usage().minus(&live.persisted.lock().expect("lock")),
            Usage::default(),
            "nothing left to write twice"
        );
    }

    #[tokio::test]
    async fn usage_is_persisted_when_asked_and_survives_reopening() {
        let dir = tempfile::tempdir().expect("tmp");
        let clock = Arc::new(FixedClock::at(1_800_000_000));
        let id = {
            let (_store, keys) = open(dir.path(), clock.clone()).await;
            let (view, secret) = keys.create("Partner C", None).await.expect("create");
            assert_eq!(view.rate_limit, DEFAULT_RATE_LIMIT);
            let k = keys.authenticate(secret.expose()).expect("known");
            for _ in 0..3 {
                keys.admit(&k).expect("admit");
            }
            k.count_verifications(7);
            assert_eq!(keys.persist_usage().await.expect("persist"), 1);
            assert_eq!(
                keys.persist_usage().await.expect("persist"),
                0,
                "nothing new"
            );
            keys.admit(&k).expect("admit");
            // Not persisted: lost with the process, as documented.
            view.id
        };
        let (_store, keys) = open(dir.path(), clock).await;
        let u = keys.get(&id).expect("get").usage;
        assert_eq!((u.requests, u.verifications), (3, 7));
        assert_eq!(keys.list().len(), 1);
    }

    #[test]
    fn names_and_limits_are_checked() {
        assert!(name("  ").is_err());
        assert!(name(&"x".repeat(MAX_NAME_CHARS + 1)).is_err());
        assert_eq!(name(" P ").expect("ok"), "P");
        assert!(rate_limit(Some(0)).is_err());
        assert!(rate_limit(Some(MAX_RATE_LIMIT + 1)).is_err());
        assert_eq!(rate_limit(Some(50)).expect("ok"), 50);
    }
}
