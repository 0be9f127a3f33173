//! What the verifier needs from other hosts — did:web documents, JWKs behind HTTPS
//! `kid` URLs, status list credentials — fetched through the hardened client
//! ([`crate::net::Outbound`]) and cached.
//!
//! - **Caches** hold parsed, checked results (a DID document's keys as ready-to-use
//!   public keys, a status list's decoded bits), so a verification with warm caches
//!   costs no parsing or signature work for the remote parts. Successes are kept for
//!   [`Ttls::positive`] (a status list for its own `ttl` when shorter, Bitstring Status
//!   List §2.2), failures for [`Ttls::negative`], so a dead or hostile host is asked at
//!   most once per negative TTL.
//! - **One fetch per key at a time**: concurrent verifications that need the same
//!   document wait for the same fetch. A slow host delays only the verifications that
//!   need it; everything already cached is answered at once.
//! - Each cache holds at most [`MAX_ENTRIES`]; when full, expired entries go first,
//!   then everything (an attacker cycling through hosts only churns the cache).
//! - did:web documents (did:web §3.2 "Read"): the document's `id` must equal the DID
//!   (step 7); keys come from `publicKeyJwk` or Multikey `publicKeyMultibase`; a key
//!   signs credentials only when listed under `assertionMethod`; weak or malformed keys
//!   are rejected on load and named when a `kid` points at them.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::did::Did;
use crate::jose::PublicJwk;
use crate::jose::json::from_slice_strict;
use crate::net::{FetchError, Kind, Outbound};
use crate::status::Bitstring;

/// Most entries per cache.
pub const MAX_ENTRIES: usize = 8192;
/// Longest key (URL or DID) cached; longer ones are looked up every time.
pub const MAX_KEY: usize = 2048;
/// Bytes of decoded status lists loaded before the list cache is emptied.
pub const LIST_CACHE_BYTES: usize = 64 * 1024 * 1024;
/// Fetches one verification may start (badge, its status lists, its endorsements).
pub const FETCHES_PER_VERIFICATION: usize = 24;
/// How long after a verification starts it may still start fetches.
pub const FETCH_WINDOW: Duration = Duration::from_secs(10);

/// What one verification may still fetch.
struct Budget {
    left: Cell<usize>,
    until: Instant,
}

tokio::task_local! {
    static BUDGET: Budget;
}

/// Runs one verification under the per-verification fetch limits (a nested call
/// shares the outer one's).
pub async fn with_budget<F: Future>(f: F) -> F::Output {
    with_budget_of(FETCHES_PER_VERIFICATION, f).await
}

/// As [`with_budget`], with `fetches` allowed (a presentation holds several badges).
pub async fn with_budget_of<F: Future>(fetches: usize, f: F) -> F::Output {
    if BUDGET.try_with(|_| ()).is_ok() {
        return f.await;
    }
    let budget = Budget {
        left: Cell::new(fetches),
        until: Instant::now() + FETCH_WINDOW,
    };
    BUDGET.scope(budget, f).await
}

/// Whether this verification can fetch no more. A failure seen then may be the
/// limit's doing, not the remote party's, so it is not cached for others.
fn budget_spent() -> bool {
    BUDGET
        .try_with(|b| b.left.get() == 0 || Instant::now() > b.until)
        .unwrap_or(false)
}

/// How long to keep a failure that did not come from the fetch itself (a parse or
/// a key lookup).
pub(super) fn derived_failure_ttl(ttls: Ttls) -> Duration {
    if budget_spent() {
        Duration::ZERO
    } else {
        ttls.negative
    }
}

fn take_budget() -> Result<(), FetchError> {
    BUDGET
        .try_with(|b| {
            if Instant::now() > b.until {
                Err(FetchError::Limit(format!(
                    "this verification has been fetching for more than {} s",
                    FETCH_WINDOW.as_secs()
                )))
            } else if b.left.get() == 0 {
                Err(FetchError::Limit(format!(
                    "this verification already made {FETCHES_PER_VERIFICATION} fetches"
                )))
            } else {
                b.left.set(b.left.get() - 1);
                Ok(())
            }
        })
        .unwrap_or(Ok(()))
}

/// How long to keep a failed fetch: refusals and limits are decided locally, so they
/// are not kept (keeping them would only let callers churn the cache).
fn failure_ttl(e: &FetchError, ttls: Ttls) -> Duration {
    match e {
        FetchError::Refused(_) | FetchError::BadUrl(_) | FetchError::Limit(_) => Duration::ZERO,
        _ => ttls.negative,
    }
}

/// A boxed future, for the object-safe [`Fetch`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Gets bodies from other hosts. [`Outbound`] is the real one; tests serve fixed
/// bodies.
pub trait Fetch: Send + Sync {
    /// The body at `url`.
    fn fetch<'a>(&'a self, url: &'a str, kind: Kind) -> BoxFuture<'a, Result<Bytes, FetchError>>;

    /// Where a did:web DID's document is read from.
    fn did_web_url(&self, did: &Did) -> Result<url::Url, crate::did::Error> {
        crate::did::web::document_url(did)
    }
}

impl Fetch for Outbound {
    fn fetch<'a>(&'a self, url: &'a str, kind: Kind) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        Box::pin(self.get(url, kind))
    }

    fn did_web_url(&self, did: &Did) -> Result<url::Url, crate::did::Error> {
        Outbound::did_web_url(self, did)
    }
}

/// A fetcher that reaches nothing: other issuers' documents and lists stay
/// `indeterminate`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFetch;

impl Fetch for NoFetch {
    fn fetch<'a>(&'a self, _url: &'a str, _kind: Kind) -> BoxFuture<'a, Result<Bytes, FetchError>> {
        Box::pin(async {
            Err(FetchError::Refused(
                "fetching from other hosts is not available in this configuration".into(),
            ))
        })
    }
}

/// How long results are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttls {
    /// DID documents and JWKs; the upper bound for status lists.
    pub positive: Duration,
    /// Anything that could not be had or did not check out.
    pub negative: Duration,
}

impl Default for Ttls {
    fn default() -> Self {
        Self {
            positive: Duration::from_secs(300),
            negative: Duration::from_secs(30),
        }
    }
}

/// Why something remote is unusable: `definite` when it is wrong (a document for
/// another DID, a bad signature), not when it could not be had (network).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub definite: bool,
    pub message: String,
}

impl Failure {
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            definite: true,
            message: message.into(),
        }
    }

    pub fn unknown(message: impl Into<String>) -> Self {
        Self {
            definite: false,
            message: message.into(),
        }
    }
}

type Stamped<V> = (Result<V, Failure>, Instant);

/// A TTL cache with one load per key at a time.
pub struct Cache<V> {
    map: Mutex<HashMap<String, Arc<OnceCell<Stamped<V>>>>>,
    /// Bytes loaded since the cache was last emptied, for caches with a budget.
    weight: AtomicUsize,
    budget: Option<(Weigher<V>, usize)>,
}

/// How many bytes a cached value holds.
type Weigher<V> = fn(&V) -> usize;

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            weight: AtomicUsize::new(0),
            budget: None,
        }
    }
}

impl<V: Clone> Cache<V> {
    /// A cache emptied whenever more than `bytes` (as `weigh` counts them) have been
    /// loaded into it since it was last emptied.
    pub fn with_budget(weigh: Weigher<V>, bytes: usize) -> Self {
        Self {
            budget: Some((weigh, bytes)),
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<OnceCell<Stamped<V>>>>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached value for `key`, or the result of `load` (value and how long to
    /// keep it), shared with every concurrent caller for the same key. A zero
    /// lifetime keeps nothing; keys longer than [`MAX_KEY`] are never cached.
    pub async fn get<F, Fut>(&self, key: &str, load: F) -> Result<V, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (Result<V, Failure>, Duration)>,
    {
        if key.len() > MAX_KEY {
            return load().await.0;
        }
        let cell = {
            let mut map = self.lock();
            let now = Instant::now();
            let live = |c: &Arc<OnceCell<Stamped<V>>>| c.get().is_none_or(|(_, exp)| *exp > now);
            match map.get(key) {
                Some(c) if live(c) => c.clone(),
                _ => {
                    if map.len() >= MAX_ENTRIES {
                        map.retain(|_, c| live(c));
                        if map.len() >= MAX_ENTRIES {
                            map.clear();
                        }
                    }
                    let c = Arc::new(OnceCell::new());
                    map.insert(key.to_owned(), c.clone());
                    c
                }
            }
        };
        let mut loaded_here = false;
        let mut load = Some(load);
        let (result, expires) = cell
            .get_or_init(|| async {
                loaded_here = true;
                let (r, ttl) = match load.take() {
                    Some(f) => f().await,
                    None => (
                        Err(Failure::unknown("not loaded".to_owned())),
                        Duration::ZERO,
                    ),
                };
                (r, Instant::now() + ttl)
            })
            .await;
        // A result that was not to be kept (a limit of the caller that loaded it, not
        // an answer of the remote party) is not shared: this caller loads for itself.
        if !loaded_here
            && *expires <= Instant::now()
            && let Some(f) = load.take()
        {
            return Box::pin(self.get(key, f)).await;
        }
        if loaded_here {
            if *expires <= Instant::now() {
                let mut map = self.lock();
                if map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                    map.remove(key);
                }
            } else if let (Some((weigh, budget)), Ok(v)) = (self.budget, result) {
                let total = self.weight.fetch_add(weigh(v), Ordering::Relaxed) + weigh(v);
                if total > budget {
                    self.evict(weigh, budget);
                }
            }
        }
        result.clone()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
        self.weight.store(0, Ordering::Relaxed);
    }

    /// Brings the cache under three quarters of `budget`: expired entries go first,
    /// then the heaviest, so a few huge entries cannot push out many ordinary ones.
    fn evict(&self, weigh: Weigher<V>, budget: usize) {
        let mut map = self.lock();
        let now = Instant::now();
        map.retain(|_, c| c.get().is_none_or(|(_, exp)| *exp > now));
        let weight_of = |c: &Arc<OnceCell<Stamped<V>>>| match c.get() {
            Some((Ok(v), _)) => weigh(v),
            _ => 0,
        };
        let mut entries: Vec<(String, usize)> =
            map.iter().map(|(k, c)| (k.clone(), weight_of(c))).collect();
        let mut total: usize = entries.iter().map(|(_, w)| w).sum();
        entries.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (k, w) in entries {
            if total <= budget / 4 * 3 {
                break;
            }
            map.remove(&k);
            total -= w;
        }
        self.weight.store(total, Ordering::Relaxed);
    }

    /// How many keys are held (fresh or not).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A status list credential that was fetched, verified and decoded.
#[derive(Debug)]
pub struct RemoteList {
    /// Its issuer (whose key signed it).
    pub issuer: String,
    /// `credentialSubject.statusPurpose`, one or more.
    pub purposes: Vec<String>,
    pub bits: Bitstring,
    /// `validFrom` / `validUntil`, as Unix seconds.
    pub valid_from: Option<i64>,
    pub valid_until: Option<i64>,
}

/// The ids a revocation list names, each with its reason when it gives one.
#[derive(Debug, Default)]
pub struct RevokedIds {
    pub ids: HashMap<String, Option<String>>,
    /// The size of the body it came from, for the cache budget.
    pub size: usize,
}

/// Which revocation list format a URL is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationShape {
    /// The 1EdTech Revocation List Status Method (OB 3.0 `1EdTechRevocationList`):
    /// `revokedCredentials`, objects with `id`, `revoked`?, `revocationReason`?.
    OneEdTech,
    /// An Open Badges 2.0 `RevocationList`: `revokedAssertions`, ids or objects with
    /// `id` (or the older `uid`) and `revocationReason`?.
    Ob2,
}

impl RevokedIds {
    /// Reads a list in `shape` (at most [`MAX_REVOKED`] entries are kept).
    pub fn parse(v: &Value, shape: RevocationShape) -> Result<Self, Failure> {
        let Some(o) = v.as_object() else {
            return Err(Failure::fail("the revocation list is not a JSON object"));
        };
        let entries = match shape {
            RevocationShape::OneEdTech => o
                .get("revokedCredentials")
                .or_else(|| o.get("revokedCredential")),
            RevocationShape::Ob2 => {
                if !matches!(o.get("type"), Some(Value::String(t)) if t == "RevocationList")
                    && !o
                        .get("type")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|t| t == "RevocationList"))
                {
                    return Err(Failure::fail(
                        "the revocation list's type is not RevocationList",
                    ));
                }
                o.get("revokedAssertions")
            }
        };
        let entries = match entries {
            Some(Value::Array(a)) => a,
            None if shape == RevocationShape::OneEdTech => return Ok(Self::default()),
            _ => {
                return Err(Failure::fail(
                    "the revocation list has no list of revoked credentials",
                ));
            }
        };
        let mut ids = HashMap::new();
        for e in entries.iter().take(MAX_REVOKED) {
            match e {
                Value::String(id) if shape == RevocationShape::Ob2 => {
                    ids.insert(id.clone(), None);
                }
                Value::Object(e) => {
                    if e.get("revoked") == Some(&Value::Bool(false)) {
                        continue;
                    }
                    let id = e.get("id").or_else(|| e.get("uid")).and_then(Value::as_str);
                    let reason = e
                        .get("revocationReason")
                        .and_then(Value::as_str)
                        .map(|r| r.chars().take(500).collect::<String>());
                    if let Some(id) = id {
                        ids.insert(id.to_owned(), reason);
                    }
                }
                _ => {}
            }
        }
        Ok(Self { ids, size: 0 })
    }
}

/// The most entries of one revocation list read.
pub const MAX_REVOKED: usize = 100_000;

/// What a key may be used for (DID Core §5.3 verification relationships).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    /// `assertionMethod`: issuing credentials.
    AssertionMethod,
    /// `authentication`: proving control, as a holder presenting credentials does.
    Authentication,
}

impl Relationship {
    pub fn name(self) -> &'static str {
        match self {
            Relationship::AssertionMethod => "assertionMethod",
            Relationship::Authentication => "authentication",
        }
    }
}

/// One verification method of a resolved DID document.
#[derive(Debug, Clone)]
pub struct Method {
    /// The key, or why it was rejected on load.
    pub key: Result<PublicJwk, String>,
    /// Listed under `assertionMethod`.
    pub assertion: bool,
    /// Listed under `authentication`.
    pub authentication: bool,
}

impl Method {
    fn has(&self, rel: Relationship) -> bool {
        match rel {
            Relationship::AssertionMethod => self.assertion,
            Relationship::Authentication => self.authentication,
        }
    }
}

/// The most verification methods read from one document.
pub const MAX_METHODS: usize = 32;
/// The longest verification method id read.
pub const MAX_METHOD_ID: usize = 256;
/// Bytes of DID documents loaded before the document cache evicts.
pub const DOCUMENT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// A resolved, checked DID document: its verification methods by absolute id.
#[derive(Debug, Clone)]
pub struct DidDoc {
    pub id: Did,
    /// Verification methods by absolute id, in document order.
    pub methods: Vec<(String, Method)>,
    /// The size of the document it was read from, in bytes.
    pub size: usize,
}

impl DidDoc {
    /// Reads a DID document for `did`: the `id` must be `did`; method ids may be
    /// relative (`#key-1`) and must be `<did>#<fragment>`; `assertionMethod` and
    /// `authentication` may reference or embed methods.
    pub fn parse(did: &Did, v: &Value) -> Result<Self, Failure> {
        let Some(doc) = v.as_object() else {
            return Err(Failure::fail("the DID document is not a JSON object"));
        };
        match doc.get("id").and_then(Value::as_str) {
            Some(id) if id == did.as_str() => {}
            Some(id) => {
                return Err(Failure::fail(format!(
                    "the DID document is for {:?}, not for {did}",
                    super::short(id)
                )));
            }
            None => return Err(Failure::fail("the DID document has no id")),
        }
        let prefix = format!("{did}#");
        // A method id of this DID (absolute), or None for anything else.
        let absolute = |id: &str| -> Option<String> {
            let abs = if id.starts_with('#') {
                format!("{did}{id}")
            } else {
                id.to_owned()
            };
            (abs.len() > prefix.len() && abs.len() <= MAX_METHOD_ID && abs.starts_with(&prefix))
                .then_some(abs)
        };
        let load = |m: &serde_json::Map<String, Value>| -> Result<PublicJwk, String> {
            if let Some(c) = m.get("controller").and_then(Value::as_str)
                && c != did.as_str()
            {
                return Err(format!("its controller is {}, not {did}", super::short(c)));
            }
            if let Some(jwk) = m.get("publicKeyJwk") {
                return PublicJwk::from_value(jwk).map_err(|e| e.to_string());
            }
            if let Some(mb) = m.get("publicKeyMultibase").and_then(Value::as_str) {
                return crate::did::key::from_multibase(mb).map_err(|e| e.to_string());
            }
            Err("it has neither publicKeyJwk nor publicKeyMultibase".into())
        };
        let array = |name: &str| {
            doc.get(name)
                .and_then(Value::as_array)
                .map(|a| a.iter().take(MAX_METHODS).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let mut methods: Vec<(String, Method)> = Vec::new();
        for m in array("verificationMethod") {
            let Some(obj) = m.as_object() else { continue };
            let Some(id) = obj.get("id").and_then(Value::as_str).and_then(absolute) else {
                continue;
            };
            if !methods.iter().any(|(i, _)| *i == id) {
                methods.push((
                    id,
                    Method {
                        key: load(obj),
                        assertion: false,
                        authentication: false,
                    },
                ));
            }
        }
        for rel in [Relationship::AssertionMethod, Relationship::Authentication] {
            for entry in array(rel.name()) {
                let (id, embedded) = match entry {
                    Value::String(r) => (absolute(r), None),
                    Value::Object(obj) => (
                        obj.get("id").and_then(Value::as_str).and_then(absolute),
                        Some(load(obj)),
                    ),
                    _ => (None, None),
                };
                let Some(id) = id else { continue };
                if let Some(key) = embedded
                    && !methods.iter().any(|(i, _)| *i == id)
                {
                    methods.push((
                        id.clone(),
                        Method {
                            key,
                            assertion: false,
                            authentication: false,
                        },
                    ));
                }
                if let Some((_, m)) = methods.iter_mut().find(|(i, _)| *i == id) {
                    match rel {
                        Relationship::AssertionMethod => m.assertion = true,
                        Relationship::Authentication => m.authentication = true,
                    }
                }
            }
        }
        Ok(Self {
            id: did.clone(),
            methods,
            size: 0,
        })
    }

    /// The key of `vm_id` when it is listed under `rel`.
    pub fn key_for(&self, vm_id: &str, rel: Relationship) -> Result<&PublicJwk, String> {
        match self
            .methods
            .iter()
            .find(|(i, _)| i == vm_id)
            .map(|(_, m)| m)
        {
            None => Err(format!("the DID document has no key {vm_id}")),
            Some(m) if !m.has(rel) => Err(format!(
                "{vm_id} is not listed under {}, so it cannot be used here",
                rel.name()
            )),
            Some(Method { key: Err(e), .. }) => Err(format!(
                "{vm_id} was rejected when the document was loaded: {e}"
            )),
            Some(Method { key: Ok(k), .. }) => Ok(k),
        }
    }

    /// Every usable key listed under `rel`, by id.
    pub fn keys_for(&self, rel: Relationship) -> impl Iterator<Item = (&str, &PublicJwk)> {
        self.methods
            .iter()
            .filter_map(move |(id, m)| match (&m.key, m.has(rel)) {
                (Ok(k), true) => Some((id.as_str(), k)),
                _ => None,
            })
    }
}

/// The fetcher and the caches.
pub struct Remote {
    fetch: Arc<dyn Fetch>,
    pub ttls: Ttls,
    documents: Cache<Arc<DidDoc>>,
    jwks: Cache<PublicJwk>,
    pub(super) lists: Cache<Arc<RemoteList>>,
    schemas: Cache<Arc<jsonschema::Validator>>,
    revocations: Cache<Arc<RevokedIds>>,
    /// Open Badges 2.0 documents (badge classes, issuer profiles, keys).
    documents_ob2: Cache<Arc<(Value, usize)>>,
}

/// About what a compiled schema holds in memory, for the cache budget.
const SCHEMA_WEIGHT: usize = 64 * 1024;
/// The most memory compiled schemas take before the cache is emptied.
const SCHEMA_CACHE_BYTES: usize = 16 * 1024 * 1024;

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("ttls", &self.ttls)
            .finish_non_exhaustive()
    }
}

impl Remote {
    pub fn new(fetch: Arc<dyn Fetch>, ttls: Ttls) -> Self {
        Self {
            fetch,
            ttls,
            documents: Cache::with_budget(|d: &Arc<DidDoc>| d.size + 256, DOCUMENT_CACHE_BYTES),
            jwks: Cache::default(),
            lists: Cache::with_budget(
                |l: &Arc<RemoteList>| l.bits.len() / 8 + 256,
                LIST_CACHE_BYTES,
            ),
            schemas: Cache::with_budget(|_| SCHEMA_WEIGHT, SCHEMA_CACHE_BYTES),
            revocations: Cache::with_budget(|r: &Arc<RevokedIds>| r.size + 256, LIST_CACHE_BYTES),
            documents_ob2: Cache::with_budget(
                |d: &Arc<(Value, usize)>| d.1 + 256,
                DOCUMENT_CACHE_BYTES,
            ),
        }
    }

    /// The revocation list at `url`, read as `shape`, cached as status lists are.
    pub async fn revoked_ids(
        &self,
        url: &str,
        shape: RevocationShape,
    ) -> Result<Arc<RevokedIds>, Failure> {
        let ttls = self.ttls;
        self.revocations
            .get(&format!("{shape:?} {url}"), || async move {
                let body = match self
                    .fetch_or_failure(url, Kind::StatusList, "the revocation list")
                    .await
                {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                let parsed = from_slice_strict(&body)
                    .map_err(|e| {
                        Failure::fail(format!(
                            "the revocation list {url} is not valid JSON: {e:?}"
                        ))
                    })
                    .and_then(|v| RevokedIds::parse(&v, shape));
                match parsed {
                    Ok(mut r) => {
                        r.size = body.len();
                        (Ok(Arc::new(r)), ttls.positive)
                    }
                    Err(f) => (Err(f), ttls.negative),
                }
            })
            .await
    }

    /// An Open Badges 2.0 document (a badge class, an issuer profile, a key) at `url`,
    /// as JSON, cached.
    pub async fn ob2_document(&self, url: &str, kind: Kind, what: &str) -> Result<Value, Failure> {
        let ttls = self.ttls;
        self.documents_ob2
            .get(url, || async move {
                let body = match self.fetch_or_failure(url, kind, what).await {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                match from_slice_strict(&body) {
                    Ok(v) => (Ok(Arc::new((v, body.len()))), ttls.positive),
                    Err(e) => (
                        Err(Failure::fail(format!(
                            "{what} {url} is not valid JSON: {e:?}"
                        ))),
                        ttls.negative,
                    ),
                }
            })
            .await
            .map(|d| d.0.clone())
    }

    /// The JSON Schema at `url` (a credential's `credentialSchema`, VC JSON Schema
    /// §2.1 `JsonSchema`), compiled for the draft its `$schema` names (2020-12 when
    /// none). `$ref`s are resolved within the document only: a schema that refers to
    /// another document is not checked (no fetch fans out from one schema).
    pub async fn json_schema(&self, url: &str) -> Result<Arc<jsonschema::Validator>, Failure> {
        let ttls = self.ttls;
        self.schemas
            .get(url, || async move {
                let body = match self
                    .fetch_or_failure(url, Kind::Schema, "the credential schema")
                    .await
                {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                let schema = match from_slice_strict(&body) {
                    Ok(v) => v,
                    Err(e) => {
                        return (
                            Err(Failure::fail(format!(
                                "the credential schema {url} is not valid JSON: {e:?}"
                            ))),
                            ttls.negative,
                        );
                    }
                };
                match jsonschema::options().build(&schema) {
                    Ok(v) => (Ok(Arc::new(v)), ttls.positive),
                    Err(e) => (
                        Err(Failure::unknown(format!(
                            "the credential schema {url} cannot be used here (it must stand alone: references to other documents are not fetched): {e}"
                        ))),
                        ttls.negative,
                    ),
                }
            })
            .await
    }

    /// Reaches nothing.
    pub fn offline() -> Self {
        Self::new(Arc::new(NoFetch), Ttls::default())
    }

    /// Forgets every cached result.
    pub fn clear(&self) {
        self.documents.clear();
        self.jwks.clear();
        self.lists.clear();
        self.schemas.clear();
        self.revocations.clear();
        self.documents_ob2.clear();
    }

    /// The body at `url` (uncached), counted against the verification's budget.
    pub async fn fetch(&self, url: &str, kind: Kind) -> Result<Bytes, FetchError> {
        take_budget()?;
        self.fetch.fetch(url, kind).await
    }

    /// As [`Remote::fetch`], for a cache load: a failure comes with how long to keep
    /// it. `what` names the thing, as in "`what` <url> could not be retrieved".
    pub(super) async fn fetch_or_failure(
        &self,
        url: &str,
        kind: Kind,
        what: &str,
    ) -> Result<Bytes, (Failure, Duration)> {
        self.fetch(url, kind).await.map_err(|e| {
            let ttl = failure_ttl(&e, self.ttls);
            (
                Failure::unknown(format!("{what} {url} could not be retrieved: {e}")),
                ttl,
            )
        })
    }

    /// Resolves a did:web DID to its checked document.
    pub async fn did_web(&self, did: &Did) -> Result<Arc<DidDoc>, Failure> {
        let ttls = self.ttls;
        self.documents
            .get(did.as_str(), || async move {
                let url = match self.fetch.did_web_url(did) {
                    Ok(u) => u,
                    Err(e) => return (Err(Failure::fail(e.to_string())), ttls.negative),
                };
                let body = match self
                    .fetch_or_failure(url.as_str(), Kind::DidDocument, "the DID document at")
                    .await
                {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                let size = body.len();
                let parsed = from_slice_strict(&body)
                    .map_err(|e| {
                        Failure::fail(format!(
                            "the DID document at {url} is not valid JSON: {e:?}"
                        ))
                    })
                    .and_then(|v| DidDoc::parse(did, &v));
                match parsed {
                    Ok(mut d) => {
                        d.size = size;
                        (Ok(Arc::new(d)), ttls.positive)
                    }
                    Err(f) => (Err(f), ttls.negative),
                }
            })
            .await
    }

    /// Dereferences an HTTPS `kid` to a JWK (OB 3.0 §8.2.4.1 "Dereferencing the
    /// Public Key"): the body is a JWK, or a JWK Set holding exactly one key whose
    /// `kid` is the URL's fragment (or exactly one key).
    pub async fn jwk_at(&self, url: &str) -> Result<PublicJwk, Failure> {
        let ttls = self.ttls;
        self.jwks
            .get(url, || async move {
                let body = match self.fetch_or_failure(url, Kind::Jwk, "the key at").await {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                let r = from_slice_strict(&body)
                    .map_err(|e| {
                        Failure::fail(format!("the key at {url} is not valid JSON: {e:?}"))
                    })
                    .and_then(|v| jwk_from_body(&v, url));
                let ttl = if r.is_ok() {
                    ttls.positive
                } else {
                    ttls.negative
                };
                (r, ttl)
            })
            .await
    }
}

fn jwk_from_body(v: &Value, url: &str) -> Result<PublicJwk, Failure> {
    let bad = |m: String| Failure::fail(format!("the key at {url}: {m}"));
    let jwk = match v.get("keys").and_then(Value::as_array) {
        None => v,
        Some(keys) => {
            let fragment = url.split_once('#').map(|(_, f)| f);
            let matching: Vec<&Value> = keys
                .iter()
                .filter(|k| match fragment {
                    Some(f) => k.get("kid").and_then(Value::as_str) == Some(f),
                    None => true,
                })
                .collect();
            match matching.as_slice() {
                [one] => *one,
                [] => return Err(bad("the key set has no key with that kid".into())),
                _ => return Err(bad("the key set has several candidate keys".into())),
            }
        }
    };
    PublicJwk::from_value(jwk).map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, SigningKey};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn did() -> Did {
        "did:web:issuer.example".parse().expect("did")
    }

    fn key_json() -> (SigningKey, Value) {
        let (k, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let v = k.public_jwk().to_value();
        (k, v)
    }

    #[tokio::test]
    async fn a_failure_that_is_not_kept_is_not_handed_to_callers_waiting_on_it() {
        // One caller's load fails on a limit of its own (kept for no time) while
        // another caller waits on the same key: the waiter loads for itself rather
        // than inheriting that failure.
        let cache: Cache<u32> = Cache::default();
        let loads = AtomicUsize::new(0);
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
        let first = cache.get("k", || async {
            loads.fetch_add(1, Ordering::SeqCst);
            let _ = gate_rx.await;
            (
                Err(Failure::unknown("this caller's budget is spent")),
                Duration::ZERO,
            )
        });
        let second = async {
            tokio::task::yield_now().await;
            let r = cache.get("k", || async {
                loads.fetch_add(1, Ordering::SeqCst);
                (Ok(7), Duration::from_secs(60))
            });
            let _ = gate_tx.send(());
            r.await
        };
        let (a, b) = tokio::join!(first, second);
        assert!(a.is_err());
        assert_eq!(b.ok(), Some(7), "the waiter got the other caller's limit");
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        // A real answer of the remote party is shared and kept.
        assert_eq!(
            cache
                .get("k", || async { (Ok(8), Duration::ZERO) })
                .await
                .ok(),
            Some(7)
        );
    }

    #[test]
    fn documents_must_be_for_the_did_and_keys_under_assertion_method() {
        let (_, jwk) = key_json();
        let doc = json!({"id": "did:web:issuer.example",
            "verificationMethod": [
                {"id": "#a", "type": "JsonWebKey2020", "controller": "did:web:issuer.example", "publicKeyJwk": jwk},
                {"id": "did:web:issuer.example#b", "type": "JsonWebKey2020", "publicKeyJwk": jwk},
                {"id": "#c", "type": "JsonWebKey2020", "controller": "did:web:evil.example", "publicKeyJwk": jwk},
                {"id": "#weak", "type": "JsonWebKey2020", "publicKeyJwk": {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}},
                {"id": "#mk", "type": "Multikey", "publicKeyMultibase": "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"}],
            "assertionMethod": ["#a", "#c", "#weak", "did:web:issuer.example#mk",
                {"id": "#e", "type": "JsonWebKey2020", "publicKeyJwk": jwk}],
            "authentication": ["#b"]});
        let d = DidDoc::parse(&did(), &doc).expect("parses");
        let am = Relationship::AssertionMethod;
        let key = |id: &str, rel| d.key_for(&format!("did:web:issuer.example#{id}"), rel);
        assert!(key("a", am).is_ok());
        assert!(key("e", am).is_ok());
        assert!(key("mk", am).is_ok());
        let e = key("b", am).expect_err("b");
        assert!(e.contains("assertionMethod"), "{e}");
        assert!(key("b", Relationship::Authentication).is_ok());
        assert!(key("a", Relationship::Authentication).is_err());
        let e = key("c", am).expect_err("c");
        assert!(e.contains("controller"), "{e}");
        let e = key("weak", am).expect_err("weak");
        assert!(e.contains("rejected"), "{e}");
        assert!(key("zz", am).is_err());
        assert_eq!(d.keys_for(am).count(), 3);

        // Methods that name another DID, or no fragment, are not this document's.
        let foreign = json!({"id": "did:web:issuer.example",
            "verificationMethod": [
                {"id": "did:web:victim.example#k", "type": "JsonWebKey2020", "publicKeyJwk": jwk},
                {"id": "did:web:issuer.example", "type": "JsonWebKey2020", "publicKeyJwk": jwk},
                {"id": "did:web:issuer.example#", "type": "JsonWebKey2020", "publicKeyJwk": jwk}],
            "assertionMethod": ["did:web:victim.example#k", "did:web:issuer.example",
                {"id": "did:web:victim.example#e", "type": "JsonWebKey2020", "publicKeyJwk": jwk}]});
        let d = DidDoc::parse(&did(), &foreign).expect("parses");
        assert_eq!(d.methods.len(), 0, "{d:?}");

        let other = json!({"id": "did:web:evil.example", "verificationMethod": []});
        let f = DidDoc::parse(&did(), &other).expect_err("wrong id");
        assert!(f.definite && f.message.contains("not for did:web:issuer.example"));
        assert!(DidDoc::parse(&did(), &json!([])).is_err());
        assert!(DidDoc::parse(&did(), &json!({})).is_err());
    }

    #[test]
    fn jwk_bodies_may_be_a_key_or_a_set() {
        let (_, jwk) = key_json();
        let url = "https://issuer.example/keys#k1";
        assert!(jwk_from_body(&jwk, url).is_ok());
        let mut named = jwk.clone();
        named["kid"] = json!("k1");
        let set = json!({"keys": [named, {"kid": "k2", "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]});
        assert!(jwk_from_body(&set, url).is_ok());
        assert!(jwk_from_body(&set, "https://issuer.example/keys").is_err());
        assert!(jwk_from_body(&set, "https://issuer.example/keys#k9").is_err());
        let mut private = jwk;
        private["d"] = json!("AAAA");
        assert!(jwk_from_body(&private, url).is_err());
    }

    struct Counting {
        calls: AtomicUsize,
        delay: Duration,
    }

    impl Fetch for Counting {
        fn fetch<'a>(
            &'a self,
            _url: &'a str,
            _kind: Kind,
        ) -> BoxFuture<'a, Result<Bytes, FetchError>> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                Err(FetchError::Status(404))
            })
        }
    }

    #[tokio::test]
    async fn concurrent_lookups_share_one_fetch_and_failures_are_cached() {
        let fetch = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            delay: Duration::from_millis(50),
        });
        let remote = Arc::new(Remote::new(fetch.clone(), Ttls::default()));
        let d = did();
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (r, d) = (remote.clone(), d.clone());
            tasks.push(tokio::spawn(async move { r.did_web(&d).await }));
        }
        for t in tasks {
            let f = t.await.expect("task").expect_err("404");
            assert!(!f.definite && f.message.contains("404"), "{f:?}");
        }
        assert!(remote.did_web(&d).await.is_err());
        assert_eq!(fetch.calls.load(Ordering::SeqCst), 1);

        // A zero negative TTL asks again.
        let fresh = Remote::new(
            fetch.clone(),
            Ttls {
                positive: Duration::ZERO,
                negative: Duration::ZERO,
            },
        );
        let _ = fresh.did_web(&d).await;
        let _ = fresh.did_web(&d).await;
        assert_eq!(fetch.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn one_verification_may_start_only_so_many_fetches() {
        let outcome = with_budget(async {
            let ok = (0..FETCHES_PER_VERIFICATION)
                .filter(|_| take_budget().is_ok())
                .count();
            // A nested verification (an endorsement) shares the budget.
            let nested = with_budget(async { take_budget() }).await;
            (ok, nested)
        })
        .await;
        assert_eq!(outcome.0, FETCHES_PER_VERIFICATION);
        assert!(
            matches!(outcome.1, Err(FetchError::Limit(_))),
            "{:?}",
            outcome.1
        );
        // Outside any verification there is no limit (library callers).
        assert!(take_budget().is_ok());
    }

    #[tokio::test]
    async fn refusals_are_not_kept_and_a_weighted_cache_empties_past_its_budget() {
        let cache: Cache<u32> = Cache::default();
        let r = cache
            .get("https://10.0.0.1/x", || async {
                (Err(Failure::unknown("refused")), Duration::ZERO)
            })
            .await;
        assert!(r.is_err());
        assert!(cache.is_empty(), "a zero-lifetime result is not kept");
        let long = "x".repeat(MAX_KEY + 1);
        let _ = cache
            .get(&long, || async { (Ok(1), Duration::from_secs(60)) })
            .await;
        assert!(cache.is_empty(), "overlong keys are not kept");

        let weighted: Cache<u32> = Cache::with_budget(|v| *v as usize, 100);
        for (i, w) in [40u32, 40, 10].iter().enumerate() {
            let _ = weighted
                .get(&format!("k{i}"), || async {
                    (Ok(*w), Duration::from_secs(60))
                })
                .await;
        }
        assert_eq!(weighted.len(), 3);
        let _ = weighted
            .get("k3", || async { (Ok(20), Duration::from_secs(60)) })
            .await;
        // 110 bytes against a budget of 100: the heaviest entry goes, down to 70.
        assert_eq!(weighted.len(), 3, "one 40-byte entry evicted");
        let kept = weighted
            .get("k2", || async { (Ok(999), Duration::from_secs(60)) })
            .await;
        assert_eq!(kept, Ok(10), "light entries stay cached");
    }

    #[tokio::test]
    async fn failures_seen_after_the_budget_ran_out_are_not_kept() {
        let ttls = Ttls::default();
        assert_eq!(derived_failure_ttl(ttls), ttls.negative);
        let inside = with_budget_of(1, async {
            let before = derived_failure_ttl(ttls);
            let _ = take_budget();
            (before, derived_failure_ttl(ttls))
        })
        .await;
        assert_eq!(inside, (ttls.negative, Duration::ZERO));
    }
}
