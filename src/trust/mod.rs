//! The trust registry: the issuers this service vouches for, and the ones it refuses.
//!
//! A badge whose signature verifies tells a verifier *which key* signed it; it does not
//! say *who* holds that key. The registry answers the second question for the verify
//! API's `issuer_trust` check (`trusted` in a report): an entry names an issuer id as
//! badges state it (a DID, or an HTTPS URL for issuers identified by URL, OB 3.0
//! §8.2.4.1), the name and logo a verifier may show, and whether the issuer is
//! `trusted` or `blocked`.
//!
//! Entries come from three places, recorded in each entry's `source`: the admin API
//! (`admin`), the `--trust-registry` file given at start (`file:<path>`), and
//! registries imported through the admin API (`import:<registry name>`). One rule holds
//! across all three: an import or the file never turns a `blocked` entry into a
//! `trusted` one (blocking wins); only an admin can lift a block.
//!
//! # Formats read by the import and the file
//! - The Digital Credentials Consortium's known-issuer registries (the "dcc-legacy"
//!   registries the DCC verifier and Learner Credential Wallet load):
//!   `{"meta": {"created", "updated"}, "registry": {"<did>": {"name", "location",
//!   "url"}}}`. Sources: `registry.json` and `README.md` of
//!   <https://github.com/digitalcredentials/community-registry>, and
//!   <https://github.com/digitalcredentials/issuer-registry-client> `src/index.ts`,
//!   which reads the `registry` member, ignores `meta`, and takes the registry's name
//!   from its own configuration (`{"name": "DCC Community Registry", "url": ...}`).
//!   That client's earlier in-memory form named the map `entries` (with an optional
//!   `name`); it is read too. `url` becomes `website`; every entry is `trusted`.
//! - This service's own export, `{"issuers": [entry, ...]}`: what
//!   `GET /api/v1/trust/issuers` answers, so an export imports elsewhere unchanged
//!   (`source`, `created_at` and `updated_at` in it are ignored).
//!
//! # Storage and the hot path
//! Entries are kept by the store's [`TrustRegistry`] repository. Every entry is also
//! held in memory, so the verifier's lookup is a read lock and a hash lookup, never a
//! store read. Writers are serialised by one lock and update the store and the
//! in-memory map together; callers flush before acknowledging.
//!
//! Lookups compare issuer ids exactly, as text: the id is matched as the badge states
//! it, with no URL normalisation.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::clock::SharedClock;
use crate::records::short;
use crate::store::{self, TrustRegistry};

pub use crate::records::trust::{Entry, IssuerId, MAX_ID_LEN, Source, Status};

/// The longest name or location, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// The largest logo given as a `data:` URI, in bytes.
pub const MAX_LOGO_BYTES: usize = 128 * 1024;

/// Trust registry failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An issuer id that is neither a DID nor an acceptable URL.
    #[error("{0}")]
    InvalidId(String),
    /// An entry whose fields are wrong.
    #[error("{0}")]
    Invalid(String),
    /// A document that is neither registry format.
    #[error("{0}")]
    Format(String),
    #[error("issuer {0} is not in the trust registry")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("stored trust registry entry {0} is corrupt: {1}")]
    Corrupt(String, String),
    /// The `--trust-registry` file cannot be used.
    #[error("trust registry file {path}: {message}")]
    File { path: String, message: String },
}

impl From<crate::records::Invalid> for Error {
    fn from(e: crate::records::Invalid) -> Self {
        Error::InvalidId(e.0)
    }
}

/// What describes an issuer, checked: everything of an entry but its id, source and
/// timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub name: String,
    pub website: Option<String>,
    pub logo: Option<String>,
    pub location: Option<String>,
    pub status: Status,
}

impl Entry {
    fn fields(&self) -> Fields {
        Fields {
            name: self.name.clone(),
            website: self.website.clone(),
            logo: self.logo.clone(),
            location: self.location.clone(),
            status: self.status,
        }
    }

    /// What a verification report carries about the issuer.
    pub fn listing(&self) -> Listing {
        Listing {
            id: self.id.to_string(),
            name: self.name.clone(),
            website: self.website.clone(),
            logo: self.logo.clone(),
            status: self.status,
        }
    }
}

/// The registry's word on an issuer, as a verification report carries it
/// (`issuer_registry`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Listing {
    pub id: String,
    pub name: String,
    pub website: Option<String>,
    pub logo: Option<String>,
    pub status: Status,
}

/// An entry as a client sends it (admin API, our export format). `source`,
/// `created_at` and `updated_at` are accepted so that an export can be sent back, and
/// ignored.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryInput {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub website: Option<String>,
    #[serde(default)]
    pub logo: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub source: Option<Value>,
    #[serde(default)]
    pub created_at: Option<Value>,
    #[serde(default)]
    pub updated_at: Option<Value>,
}

impl EntryInput {
    /// Checks the fields (a missing status is `trusted`).
    pub fn fields(&self) -> Result<Fields, Error> {
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::Invalid("name: required (the issuer's name)".into()))?;
        Ok(Fields {
            name: text("name", name)?,
            website: optional(self.website.as_deref()).map(website).transpose()?,
            logo: optional(self.logo.as_deref()).map(logo).transpose()?,
            location: optional(self.location.as_deref())
                .map(|l| text("location", l))
                .transpose()?,
            status: self.status.unwrap_or(Status::Trusted),
        })
    }
}

fn optional(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn text(what: &str, s: &str) -> Result<String, Error> {
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::Invalid(format!(
            "{what}: longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(Error::Invalid(format!(
            "{what}: contains control characters"
        )));
    }
    Ok(s.to_owned())
}

fn website(s: &str) -> Result<String, Error> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(s.to_owned()),
        _ => Err(Error::Invalid(format!(
            "website: {:?} is not an absolute http(s) URL",
            short(s)
        ))),
    }
}

fn logo(s: &str) -> Result<String, Error> {
    if s.len() > MAX_LOGO_BYTES {
        return Err(Error::Invalid(format!(
            "logo: larger than {MAX_LOGO_BYTES} bytes"
        )));
    }
    if let Some(rest) = s.strip_prefix("data:") {
        let (meta, _) = rest.split_once(',').ok_or_else(|| {
            Error::Invalid("logo: a data: URI needs a comma before its data".into())
        })?;
        if !meta.to_ascii_lowercase().starts_with("image/") {
            return Err(Error::Invalid(
                "logo: a data: URI must hold an image (data:image/...)".into(),
            ));
        }
        return Ok(s.to_owned());
    }
    match url::Url::parse(s) {
        Ok(u) if u.scheme() == "https" && u.host().is_some() => Ok(s.to_owned()),
        _ => Err(Error::Invalid(format!(
            "logo: {:?} is neither an https URL nor a data:image/... URI",
            short(s)
        ))),
    }
}

/// An entry an import left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub id: String,
    pub reason: String,
}

/// What an import or the file did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    /// Entries that were not in the registry before.
    pub imported: usize,
    /// Entries that changed.
    pub updated: usize,
    /// Entries already exactly so.
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    /// Entries of the same file that it no longer lists (file only).
    #[serde(skip_serializing_if = "is_zero")]
    pub removed: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Which format a registry document is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The DCC known-issuer registry.
    Dcc,
    /// This service's export.
    Accolade,
}

/// A registry document, read: its format, the name it gives itself (if any), and each
/// entry, checked or refused.
#[derive(Debug, Clone)]
pub struct Document {
    pub format: Format,
    pub name: Option<String>,
    pub items: Vec<Result<(IssuerId, Fields), Skipped>>,
}

impl Document {
    /// Reads either format.
    pub fn parse(doc: &Value) -> Result<Self, Error> {
        let Some(obj) = doc.as_object() else {
            return Err(Error::Format(format!(
                "a trust registry is a JSON object; {FORMATS}"
            )));
        };
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        if let Some(list) = obj.get("issuers") {
            let Some(list) = list.as_array() else {
                return Err(Error::Format(
                    "\"issuers\" must be an array of entries".into(),
                ));
            };
            let items = list.iter().enumerate().map(accolade_item).collect();
            return Ok(Self {
                format: Format::Accolade,
                name,
                items,
            });
        }
        let map = match (obj.get("registry"), obj.get("entries")) {
            (Some(Value::Object(m)), _) | (None, Some(Value::Object(m))) => m,
            (Some(_), _) | (None, Some(_)) => {
                return Err(Error::Format(
                    "\"registry\" must be an object mapping each issuer DID to {\"name\", \"location\", \"url\"}".into(),
                ));
            }
            (None, None) => {
                return Err(Error::Format(format!(
                    "neither \"registry\" nor \"issuers\" found; {FORMATS}"
                )));
            }
        };
        let items = map.iter().map(|(id, e)| dcc_item(id, e)).collect();
        Ok(Self {
            format: Format::Dcc,
            name,
            items,
        })
    }
}

const FORMATS: &str = "send a DCC registry {\"meta\": {...}, \"registry\": {\"<did>\": {\"name\": ..., \"url\": ...}}} or {\"issuers\": [{\"id\": ..., \"name\": ..., \"status\": \"trusted\"}]}";

fn accolade_item((i, v): (usize, &Value)) -> Result<(IssuerId, Fields), Skipped> {
    let shown_id = v
        .get("id")
        .and_then(Value::as_str)
        .map(short)
        .unwrap_or_else(|| format!("issuers[{i}]"));
    let skip = |reason: String| Skipped {
        id: shown_id.clone(),
        reason,
    };
    let input: EntryInput =
        serde_json::from_value(v.clone()).map_err(|e| skip(format!("not an entry: {e}")))?;
    let id = input
        .id
        .as_deref()
        .ok_or_else(|| skip("id: required".into()))?
        .parse::<IssuerId>()
        .map_err(|e| skip(e.to_string()))?;
    let fields = input.fields().map_err(|e| skip(e.to_string()))?;
    Ok((id, fields))
}

fn dcc_item(id: &str, v: &Value) -> Result<(IssuerId, Fields), Skipped> {
    let skip = |reason: String| Skipped {
        id: short(id),
        reason,
    };
    let issuer = id.parse::<IssuerId>().map_err(|e| skip(e.to_string()))?;
    let Some(e) = v.as_object() else {
        return Err(skip(
            "an entry is an object {\"name\", \"location\", \"url\"}".into(),
        ));
    };
    let s = |k: &str, e: &Map<String, Value>| -> Result<Option<String>, Skipped> {
        match e.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(skip(format!("{k}: must be a string"))),
        }
    };
    let input = EntryInput {
        id: None,
        name: s("name", e)?,
        website: s("url", e)?,
        logo: None,
        location: s("location", e)?,
        status: Some(Status::Trusted),
        source: None,
        created_at: None,
        updated_at: None,
    };
    let fields = input.fields().map_err(|e| skip(e.to_string()))?;
    Ok((issuer, fields))
}

/// The registry: entries in the store, and all of them in memory for lookups.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn TrustRegistry>,
    clock: SharedClock,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    /// Serialises writers, so that the store and the map change together.
    writer: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Reads every entry again (another node of a fleet changed the registry).
    pub async fn reload(&self) -> Result<(), Error> {
        let _w = self.inner.writer.lock().await;
        let entries = self
            .inner
            .store
            .trust_entries()
            .await?
            .into_iter()
            .map(|e| (e.id.to_string(), Arc::new(e)))
            .collect();
        *self
            .inner
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = entries;
        Ok(())
    }

    /// Opens the registry over the store and loads every entry into memory.
    pub async fn open(store: Arc<dyn TrustRegistry>, clock: SharedClock) -> Result<Self, Error> {
        let entries = store
            .trust_entries()
            .await?
            .into_iter()
            .map(|e| (e.id.to_string(), Arc::new(e)))
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                entries: RwLock::new(entries),
                writer: tokio::sync::Mutex::new(()),
            }),
        })
    }

    /// The entry for an issuer id as a badge states it (the verifier's hot path: a
    /// read lock and a hash lookup).
    pub fn lookup(&self, issuer: &str) -> Option<Arc<Entry>> {
        self.inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(issuer)
            .cloned()
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, ordered by id.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        let mut all: Vec<Arc<Entry>> = self
            .inner
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        all
    }

    /// One entry.
    pub fn get(&self, id: &IssuerId) -> Result<Arc<Entry>, Error> {
        self.lookup(id.as_str())
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Creates or replaces an entry as the admin says (an admin may lift a block).
    /// Returns the entry and whether it is new. Not flushed: see [`Registry::flush`].
    pub async fn put(
        &self,
        id: IssuerId,
        fields: Fields,
        source: Source,
    ) -> Result<(Arc<Entry>, bool), Error> {
        let _w = self.inner.writer.lock().await;
        let before = self.lookup(id.as_str());
        let created = before.is_none();
        let entry = self.write(id, fields, source, before.as_deref()).await?;
        Ok((entry, created))
    }

    /// Removes an entry; false when there was none. Not flushed.
    pub async fn remove(&self, id: &IssuerId) -> Result<bool, Error> {
        let _w = self.inner.writer.lock().await;
        let gone = self.inner.store.remove_trust_entry(id).await?;
        self.inner
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id.as_str());
        Ok(gone)
    }

    /// Applies an imported registry: new entries are added, changed ones replaced, and
    /// a `trusted` entry never replaces a `blocked` one. Entries the document refused
    /// are reported as skipped. Not flushed.
    pub async fn import(&self, doc: Document, source: &Source) -> Result<ImportSummary, Error> {
        let _w = self.inner.writer.lock().await;
        self.apply(doc.items, source).await
    }

    /// Applies the `--trust-registry` file (either format) with source
    /// `file:<path>`: the file is authoritative for its own entries, so entries an
    /// earlier start took from the same path that it no longer lists are removed. A
    /// file that cannot be read, is not a registry, or holds an entry that is not
    /// valid is an error naming the file and the problem. Not flushed.
    pub async fn apply_file(&self, path: &Path) -> Result<ImportSummary, Error> {
        let shown = path.display().to_string();
        let fail = |message: String| Error::File {
            path: shown.clone(),
            message,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("not valid JSON: {e}")))?;
        let doc = Document::parse(&value).map_err(|e| fail(e.to_string()))?;
        let bad: Vec<String> = doc
            .items
            .iter()
            .filter_map(|i| i.as_ref().err())
            .map(|s| format!("{}: {}", s.id, s.reason))
            .collect();
        if !bad.is_empty() {
            return Err(fail(format!("invalid entries: {}", bad.join("; "))));
        }
        let source = Source::File(shown.clone());
        let listed: HashSet<String> = doc
            .items
            .iter()
            .filter_map(|i| i.as_ref().ok())
            .map(|(id, _)| id.to_string())
            .collect();
        let _w = self.inner.writer.lock().await;
        let mut summary = self.apply(doc.items, &source).await?;
        let stale: Vec<IssuerId> = self
            .list()
            .iter()
            .filter(|e| e.source == source && !listed.contains(e.id.as_str()))
            .map(|e| e.id.clone())
            .collect();
        for id in stale {
            self.inner.store.remove_trust_entry(&id).await?;
            self.inner
                .entries
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id.as_str());
            summary.removed += 1;
        }
        Ok(summary)
    }

    /// Makes every change so far durable.
    pub async fn flush(&self) -> Result<(), Error> {
        Ok(self.inner.store.flush().await?)
    }

    /// The shared part of import and file: the caller holds the writer lock.
    async fn apply(
        &self,
        items: Vec<Result<(IssuerId, Fields), Skipped>>,
        source: &Source,
    ) -> Result<ImportSummary, Error> {
        let mut summary = ImportSummary::default();
        for item in items {
            let (id, fields) = match item {
                Ok(i) => i,
                Err(s) => {
                    summary.skipped.push(s);
                    continue;
                }
            };
            let before = self.lookup(id.as_str());
            match before.as_deref() {
                Some(b) if b.status == Status::Blocked && fields.status == Status::Trusted => {
                    summary.skipped.push(Skipped {
                        id: id.to_string(),
                        reason: format!(
                            "blocked in the trust registry ({}); an import never lifts a block",
                            String::from(b.source.clone())
                        ),
                    });
                }
                // An admin's own entry is the admin's: a file or an import neither
                // rewrites it (a block taken over by a file would be lifted when the
                // file stops listing it) nor wipes what the admin curated.
                Some(b) if b.source == Source::Admin && *source != Source::Admin => {
                    summary.skipped.push(Skipped {
                        id: id.to_string(),
                        reason: "set by an admin; change it through the admin API".into(),
                    });
                }
                Some(b) if b.fields() == fields && &b.source == source => summary.unchanged += 1,
                Some(b) => {
                    self.write(id, fields, source.clone(), Some(b)).await?;
                    summary.updated += 1;
                }
                None => {
                    self.write(id, fields, source.clone(), None).await?;
                    summary.imported += 1;
                }
            }
        }
        Ok(summary)
    }

    /// Writes one entry to the store and the map; the caller holds the writer lock.
    async fn write(
        &self,
        id: IssuerId,
        fields: Fields,
        source: Source,
        before: Option<&Entry>,
    ) -> Result<Arc<Entry>, Error> {
        let now = self.inner.clock.timestamp();
        let entry = Entry {
            id,
            name: fields.name,
            website: fields.website,
            logo: fields.logo,
            location: fields.location,
            status: fields.status,
            source,
            created_at: before.map_or(now, |b| b.created_at),
            updated_at: now,
        };
        self.inner.store.put_trust_entry(&entry).await?;
        let entry = Arc::new(entry);
        self.inner
            .entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.id.to_string(), entry.clone());
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::store::Store;
    use serde_json::json;

    fn id(s: &str) -> IssuerId {
        s.parse().expect("issuer id")
    }

    fn fields(name: &str, status: Status) -> Fields {
        Fields {
            name: name.into(),
            website: None,
            logo: None,
            location: None,
            status,
        }
    }

    async fn open(dir: &Path) -> (Store, Registry) {
        let store = Store::open(dir).expect("store");
        let reg = Registry::open(store.trust.clone(), Arc::new(FixedClock::at(1_800_000_000)))
            .await
            .expect("open");
        (store, reg)
    }

    /// The DCC community registry as published (digitalcredentials/community-registry,
    /// registry.json), with one entry broken on purpose.
    const DCC_SAMPLE: &str = r#"{
      "meta": {"created": "2022-10-27T17:57:31+00:00", "updated": "2022-10-27T17:57:31+00:00"},
      "registry": {
        "did:key:z6MkpLDL3RoAoMRTwTgo3rs39ZwssfaPKtGdZw7AGRN7CK4W": {
          "name": "My University", "location": "Cambridge, MA, USA",
          "url": "https://digitalcredentials.mit.edu"},
        "did:web:credentials.myschool.ca": {
          "name": "My School", "location": "Ancaster, ON, Canada", "url": "https://some.domain.ca"},
        "did:key:z6MktiSzqF9kqwdU8VkdBKx56EYzXfpgnNPUAGznpicNiWfn": {
          "name": "JFF Plugfest 2 Test Issuer", "location": "USA",
          "url": "https://w3c-ccg.github.io/vc-ed/plugfest-2-2022/"},
        "not a did": {"name": "Broken", "url": "https://broken.example"}
      }
    }"#;

    #[test]
    fn issuer_ids_are_dids_or_https_urls() {
        for ok in [
            "did:web:badges.example.edu",
            "did:web:127.0.0.1%3A8080",
            "did:key:z6MkpLDL3RoAoMRTwTgo3rs39ZwssfaPKtGdZw7AGRN7CK4W",
            "https://example.edu/issuers/1",
            "http://localhost:8080/issuer",
            "http://127.0.0.1:8080",
        ] {
            assert_eq!(id(ok).as_str(), ok);
        }
        assert_eq!(id("  did:web:a.example  ").as_str(), "did:web:a.example");
        for bad in [
            "",
            "example.edu",
            "did:",
            "did:web",
            "did:Web:x",
            "did:web:",
            "did:web:a b",
            "http://example.edu/issuer",
            "ftp://example.edu",
            "https://user:pw@example.edu/",
            "urn:uuid:1234",
            "mailto:a@example.edu",
        ] {
            assert!(
                matches!(bad.parse::<IssuerId>(), Err(crate::records::Invalid(_))),
                "{bad:?} accepted"
            );
        }
        let long = format!("did:web:{}", "a".repeat(MAX_ID_LEN));
        assert!(long.parse::<IssuerId>().is_err());
    }

    #[test]
    fn entry_fields_are_checked() {
        let input = |v: Value| serde_json::from_value::<EntryInput>(v).expect("input");
        let f = input(
            json!({"name": " Example U ", "website": "https://example.edu",
                             "logo": "data:image/png;base64,iVBORw0KGgo="}),
        )
        .fields()
        .expect("fields");
        assert_eq!(f.name, "Example U");
        assert_eq!(f.status, Status::Trusted);
        for bad in [
            json!({"name": ""}),
            json!({"website": "https://example.edu"}),
            json!({"name": "x", "website": "example.edu"}),
            json!({"name": "x", "logo": "http://example.edu/logo.png"}),
            json!({"name": "x", "logo": "data:text/html,<script>"}),
            json!({"name": "x".repeat(MAX_TEXT_CHARS + 1)}),
        ] {
            assert!(input(bad.clone()).fields().is_err(), "{bad}");
        }
        assert!(
            serde_json::from_value::<EntryInput>(json!({"name": "x", "status": "maybe"})).is_err()
        );
        assert!(
            serde_json::from_value::<EntryInput>(json!({"name": "x", "colour": "red"})).is_err()
        );
    }

    #[test]
    fn a_dcc_registry_parses_with_bad_entries_skipped() {
        let doc = Document::parse(&serde_json::from_str(DCC_SAMPLE).expect("json")).expect("parse");
        assert_eq!(doc.format, Format::Dcc);
        let ok: Vec<&(IssuerId, Fields)> =
            doc.items.iter().filter_map(|i| i.as_ref().ok()).collect();
        assert_eq!(ok.len(), 3);
        let school = ok
            .iter()
            .find(|(i, _)| i.as_str() == "did:web:credentials.myschool.ca")
            .expect("listed");
        assert_eq!(school.1.name, "My School");
        assert_eq!(school.1.website.as_deref(), Some("https://some.domain.ca"));
        assert_eq!(school.1.location.as_deref(), Some("Ancaster, ON, Canada"));
        assert_eq!(school.1.status, Status::Trusted);
        let skipped: Vec<&Skipped> = doc.items.iter().filter_map(|i| i.as_ref().err()).collect();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].id, "not a did");

        // The client library's older form: `entries`, with a name.
        let older = json!({"name": "DCC Pilot Registry", "meta": {},
            "entries": {"did:web:a.example": {"name": "A", "url": "https://a.example"}}});
        let doc = Document::parse(&older).expect("parse");
        assert_eq!(doc.name.as_deref(), Some("DCC Pilot Registry"));
        assert_eq!(doc.items.len(), 1);

        for bad in [
            json!([]),
            json!({"meta": {}}),
            json!({"registry": []}),
            json!({"issuers": {}}),
        ] {
            assert!(
                matches!(Document::parse(&bad), Err(Error::Format(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn blocking_wins_over_imports_but_not_over_the_admin() {
        let dir = tempfile::tempdir().expect("tmp");
        let (_store, reg) = open(dir.path()).await;
        let school = id("did:web:credentials.myschool.ca");
        reg.put(
            school.clone(),
            fields("Blocked School", Status::Blocked),
            Source::Admin,
        )
        .await
        .expect("put");
        let doc = Document::parse(&serde_json::from_str(DCC_SAMPLE).expect("json")).expect("parse");
        let src = Source::Import("DCC Community Registry".into());
        let s = reg.import(doc.clone(), &src).await.expect("import");
        assert_eq!((s.imported, s.updated, s.unchanged), (2, 0, 0));
        assert_eq!(s.skipped.len(), 2, "{s:?}");
        assert!(
            s.skipped
                .iter()
                .any(|k| k.id == school.as_str() && k.reason.contains("blocked"))
        );
        let e = reg.lookup(school.as_str()).expect("kept");
        assert_eq!(
            (e.status, e.name.as_str()),
            (Status::Blocked, "Blocked School")
        );
        assert_eq!(e.source, Source::Admin);
        let jff = reg
            .lookup("did:key:z6MktiSzqF9kqwdU8VkdBKx56EYzXfpgnNPUAGznpicNiWfn")
            .expect("imported");
        assert_eq!(jff.source, src);

        // The same import again changes nothing.
        let s = reg.import(doc, &src).await.expect("again");
        assert_eq!((s.imported, s.updated, s.unchanged), (0, 0, 2));

        // A blocked entry in an import blocks a trusted one.
        let block =
            json!({"issuers": [{"id": jff.id.as_str(), "name": "JFF", "status": "blocked"}]});
        let s = reg
            .import(Document::parse(&block).expect("parse"), &src)
            .await
            .expect("import");
        assert_eq!(s.updated, 1);
        assert_eq!(
            reg.lookup(jff.id.as_str()).expect("there").status,
            Status::Blocked
        );

        // The admin can lift a block.
        reg.put(
            school.clone(),
            fields("My School", Status::Trusted),
            Source::Admin,
        )
        .await
        .expect("put");
        assert_eq!(
            reg.lookup(school.as_str()).expect("there").status,
            Status::Trusted
        );
    }

    #[tokio::test]
    async fn a_file_never_takes_over_an_admins_entry() {
        let dir = tempfile::tempdir().expect("tmp");
        let (_store, reg) = open(dir.path()).await;
        let x = id("did:web:x.example");
        reg.put(
            x.clone(),
            fields("X (curated)", Status::Blocked),
            Source::Admin,
        )
        .await
        .expect("put");
        let path = dir.path().join("trust.json");
        let listing = |status: &str| {
            json!({"issuers": [{"id": "did:web:x.example", "name": "X", "status": status},
                               {"id": "did:web:y.example", "name": "Y"}]})
            .to_string()
        };
        for status in ["blocked", "trusted"] {
            std::fs::write(&path, listing(status)).expect("write");
            let s = reg.apply_file(&path).await.expect("apply");
            assert!(
                s.skipped.iter().any(|k| k.id == x.as_str()),
                "{status}: {s:?}"
            );
            let e = reg.lookup(x.as_str()).expect("kept");
            assert_eq!(
                (e.status, e.name.as_str(), &e.source),
                (Status::Blocked, "X (curated)", &Source::Admin)
            );
        }
        // The file stops listing X: the admin's block stays.
        std::fs::write(&path, json!({"issuers": []}).to_string()).expect("write");
        reg.apply_file(&path).await.expect("apply");
        assert_eq!(
            reg.lookup(x.as_str()).expect("kept").status,
            Status::Blocked
        );
        assert!(
            reg.lookup("did:web:y.example").is_none(),
            "the file's own entry went"
        );
        // Nor does a file block what an admin trusts: the admin decides.
        let z = id("did:web:z.example");
        reg.put(z.clone(), fields("Z", Status::Trusted), Source::Admin)
            .await
            .expect("put");
        std::fs::write(
            &path,
            json!({"issuers": [{"id": "did:web:z.example", "name": "Z", "status": "blocked"}]})
                .to_string(),
        )
        .expect("write");
        let s = reg.apply_file(&path).await.expect("apply");
        assert!(
            s.skipped
                .iter()
                .any(|k| k.id == z.as_str() && k.reason.contains("admin"))
        );
        assert_eq!(
            reg.lookup(z.as_str()).expect("kept").status,
            Status::Trusted
        );
    }

    #[tokio::test]
    async fn entries_survive_a_restart_and_the_snapshot_is_rebuilt() {
        let dir = tempfile::tempdir().expect("tmp");
        let a = id("https://example.edu/issuer");
        let b = id("did:web:b.example");
        {
            let (store, reg) = open(dir.path()).await;
            let (e, created) = reg
                .put(
                    a.clone(),
                    fields("Example U", Status::Trusted),
                    Source::Admin,
                )
                .await
                .expect("put");
            assert!(created);
            assert_eq!(
                crate::clock::format_seconds(e.created_at),
                "2027-01-15T08:00:00Z"
            );
            reg.put(b.clone(), fields("B", Status::Blocked), Source::Admin)
                .await
                .expect("put");
            reg.put(
                id("did:web:c.example"),
                fields("C", Status::Trusted),
                Source::Admin,
            )
            .await
            .expect("put");
            assert!(reg.remove(&id("did:web:c.example")).await.expect("remove"));
            assert!(!reg.remove(&id("did:web:c.example")).await.expect("remove"));
            store.flush().await.expect("flush");
        }
        let (_store, reg) = open(dir.path()).await;
        assert_eq!(reg.len(), 2);
        assert_eq!(reg.lookup(a.as_str()).expect("a").name, "Example U");
        assert_eq!(reg.lookup(b.as_str()).expect("b").status, Status::Blocked);
        assert!(reg.lookup("did:web:c.example").is_none());
        let ids: Vec<String> = reg.list().iter().map(|e| e.id.to_string()).collect();
        assert_eq!(ids, ["did:web:b.example", "https://example.edu/issuer"]);
    }

    #[tokio::test]
    async fn the_file_is_reapplied_and_drops_what_it_no_longer_lists() {
        let dir = tempfile::tempdir().expect("tmp");
        let (_store, reg) = open(dir.path()).await;
        let path = dir.path().join("trust.json");
        std::fs::write(&path, DCC_SAMPLE).expect("write");
        let e = reg
            .apply_file(&path)
            .await
            .expect_err("an invalid entry refuses the file");
        let msg = e.to_string();
        assert!(
            msg.contains("trust.json") && msg.contains("not a did"),
            "{msg}"
        );
        assert!(reg.is_empty());

        std::fs::write(
            &path,
            json!({"issuers": [
                {"id": "did:web:a.example", "name": "A"},
                {"id": "did:web:b.example", "name": "B"}]})
            .to_string(),
        )
        .expect("write");
        let s = reg.apply_file(&path).await.expect("apply");
        assert_eq!(s.imported, 2);
        let src = Source::File(path.display().to_string());
        assert_eq!(reg.lookup("did:web:a.example").expect("a").source, src);

        std::fs::write(
            &path,
            json!({"issuers": [{"id": "did:web:a.example", "name": "A2"}]}).to_string(),
        )
        .expect("write");
        let s = reg.apply_file(&path).await.expect("apply");
        assert_eq!((s.updated, s.removed), (1, 1));
        assert_eq!(reg.lookup("did:web:a.example").expect("a").name, "A2");
        assert!(reg.lookup("did:web:b.example").is_none());

        std::fs::write(&path, "{not json").expect("write");
        assert!(matches!(
            reg.apply_file(&path).await,
            Err(Error::File { .. })
        ));
        assert!(
            reg.apply_file(&dir.path().join("missing.json"))
                .await
                .is_err()
        );
    }

    #[test]
    fn sources_round_trip_as_text() {
        for s in [
            Source::Admin,
            Source::File("/etc/accolade/trust.json".into()),
            Source::Import("DCC Community Registry".into()),
        ] {
            let v = serde_json::to_value(&s).expect("json");
            assert_eq!(serde_json::from_value::<Source>(v).expect("back"), s);
        }
        assert_eq!(
            serde_json::to_value(Source::Admin).expect("json"),
            json!("admin")
        );
        assert!(serde_json::from_value::<Source>(json!("elsewhere")).is_err());
    }
}
