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

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
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
}

impl<V> Default for Cache<V> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<V: Clone> Cache<V> {
    /// The cached value for `key`, or the result of `load` (value and how long to
    /// keep it), shared with every concurrent caller for the same key.
    pub async fn get<F, Fut>(&self, key: &str, load: F) -> Result<V, Failure>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = (Result<V, Failure>, Duration)>,
    {
        let cell = {
            let mut map = self
                .map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let (result, _) = cell
            .get_or_init(|| async {
                let (r, ttl) = load().await;
                (r, Instant::now() + ttl)
            })
            .await;
        result.clone()
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
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

/// One verification method of a resolved DID document.
#[derive(Debug, Clone)]
pub struct Method {
    /// The key, or why it was rejected on load.
    pub key: Result<PublicJwk, String>,
    /// Listed under `assertionMethod`.
    pub assertion: bool,
}

/// A resolved, checked DID document: its verification methods by absolute id.
#[derive(Debug, Clone)]
pub struct DidDoc {
    pub id: Did,
    pub methods: HashMap<String, Method>,
}

impl DidDoc {
    /// Reads a DID document for `did`: the `id` must be `did`, method ids may be
    /// relative (`#key-1`), `assertionMethod` may reference or embed methods.
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
        let absolute = |id: &str| {
            if id.starts_with('#') {
                format!("{did}{id}")
            } else {
                id.to_owned()
            }
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
        let mut methods = HashMap::new();
        let mut embedded_assertions = Vec::new();
        for m in doc
            .get("verificationMethod")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(obj) = m.as_object() else { continue };
            let Some(id) = obj.get("id").and_then(Value::as_str) else {
                continue;
            };
            methods.insert(
                absolute(id),
                Method {
                    key: load(obj),
                    assertion: false,
                },
            );
        }
        for a in doc
            .get("assertionMethod")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match a {
                Value::String(r) => embedded_assertions.push((absolute(r), None)),
                Value::Object(obj) => {
                    if let Some(id) = obj.get("id").and_then(Value::as_str) {
                        embedded_assertions.push((absolute(id), Some(load(obj))));
                    }
                }
                _ => {}
            }
        }
        for (id, key) in embedded_assertions {
            match key {
                Some(key) => {
                    methods.insert(
                        id,
                        Method {
                            key,
                            assertion: true,
                        },
                    );
                }
                None => {
                    if let Some(m) = methods.get_mut(&id) {
                        m.assertion = true;
                    }
                }
            }
        }
        Ok(Self {
            id: did.clone(),
            methods,
        })
    }

    /// The key of `vm_id` when it may sign credentials.
    pub fn assertion_key(&self, vm_id: &str) -> Result<&PublicJwk, String> {
        match self.methods.get(vm_id) {
            None => Err(format!("the issuer's DID document has no key {vm_id}")),
            Some(m) if !m.assertion => Err(format!(
                "{vm_id} is not listed under assertionMethod, so it cannot sign credentials"
            )),
            Some(Method { key: Err(e), .. }) => Err(format!(
                "{vm_id} was rejected when the document was loaded: {e}"
            )),
            Some(Method { key: Ok(k), .. }) => Ok(k),
        }
    }

    /// Every usable assertion key, by id.
    pub fn assertion_keys(&self) -> impl Iterator<Item = (&str, &PublicJwk)> {
        self.methods
            .iter()
            .filter_map(|(id, m)| match (&m.key, m.assertion) {
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
}

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
            documents: Cache::default(),
            jwks: Cache::default(),
            lists: Cache::default(),
        }
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
    }

    /// The body at `url` (uncached).
    pub async fn fetch(&self, url: &str, kind: Kind) -> Result<Bytes, FetchError> {
        self.fetch.fetch(url, kind).await
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
                let body = match self.fetch.fetch(url.as_str(), Kind::DidDocument).await {
                    Ok(b) => b,
                    Err(e) => {
                        return (
                            Err(Failure::unknown(format!(
                                "the DID document at {url} could not be retrieved: {e}"
                            ))),
                            ttls.negative,
                        );
                    }
                };
                let parsed = from_slice_strict(&body)
                    .map_err(|e| {
                        Failure::fail(format!(
                            "the DID document at {url} is not valid JSON: {e:?}"
                        ))
                    })
                    .and_then(|v| DidDoc::parse(did, &v));
                match parsed {
                    Ok(d) => (Ok(Arc::new(d)), ttls.positive),
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
                let body = match self.fetch.fetch(url, Kind::Jwk).await {
                    Ok(b) => b,
                    Err(e) => {
                        return (
                            Err(Failure::unknown(format!(
                                "the key at {url} could not be retrieved: {e}"
                            ))),
                            ttls.negative,
                        );
                    }
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
        assert!(d.assertion_key("did:web:issuer.example#a").is_ok());
        assert!(d.assertion_key("did:web:issuer.example#e").is_ok());
        assert!(d.assertion_key("did:web:issuer.example#mk").is_ok());
        let e = d.assertion_key("did:web:issuer.example#b").expect_err("b");
        assert!(e.contains("assertionMethod"), "{e}");
        let e = d.assertion_key("did:web:issuer.example#c").expect_err("c");
        assert!(e.contains("controller"), "{e}");
        let e = d
            .assertion_key("did:web:issuer.example#weak")
            .expect_err("weak");
        assert!(e.contains("rejected"), "{e}");
        assert!(d.assertion_key("did:web:issuer.example#zz").is_err());
        assert_eq!(d.assertion_keys().count(), 3);

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
}
