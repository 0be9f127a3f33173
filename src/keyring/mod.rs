//! The issuer's signing keys on disk (`--keys-dir`, default `./keys`).
//!
//! Layout: one unencrypted PKCS#8 PEM file per key, named `<key id>.pem`, mode 0600;
//! `link-secret` (mode 0600, generated on first load), 32 random bytes in hex under
//! which the earners' private manage links are derived; and `keyring.json`, the public manifest (key id, algorithm, creation time, retired
//! flag, which key signs). The key id is the RFC 7638 thumbprint of the public key, so
//! the DID URL `<did>#<key id>` never changes. A private key file that group or others
//! can read stops the service: keys are the asset worth most.
//!
//! Rotation writes a new key and makes it the signing key; older keys stay published
//! in the DID document so that every badge they signed still verifies. Retiring a key
//! removes it from the DID document (badges it signed stop verifying) and is refused
//! for the signing key. A running service reads its keys again every 30 seconds and
//! takes in a changed set ([`LiveKeys`]). A fleet may keep the same set in its
//! database instead, sealed ([`sealed`]).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub mod sealed;

use crate::did::web::PublishedKey;
use crate::jose::{self, Algorithm, PublicJwk, SigningKey};

/// The manifest's file name.
pub const MANIFEST: &str = "keyring.json";
/// The file of the secret the earners' manage links are derived under.
pub const LINK_SECRET: &str = "link-secret";

/// Key storage failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "refusing to use {path}: mode {mode:o} lets group or others read a private key; run `chmod 600 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: jose::Error },
    #[error("{path}: the file is named for key {expected} but holds key {found}")]
    Misnamed {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{0}: the manifest is not valid JSON: {1}")]
    Manifest(PathBuf, String),
    #[error("the keys directory {0} holds no private key")]
    Empty(PathBuf),
    #[error("no key with id {0}")]
    UnknownKey(String),
    #[error("key {0} is the signing key; rotate first, then retire it")]
    RetireSigningKey(String),
    #[error("the keys kept in the database: {0}")]
    Sealed(String),
    #[error("key generation failed: {0}")]
    Generate(jose::Error),
    #[error("{0}: expected 64 hexadecimal digits")]
    LinkSecret(PathBuf),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// One entry of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyInfo {
    /// RFC 7638 thumbprint; the fragment of the verification method id.
    pub kid: String,
    pub alg: Algorithm,
    /// RFC 3339 creation time.
    pub created: String,
    /// Revoked (`accolade keys revoke`, a compromised key): no longer published, so
    /// nothing it signed verifies. (Manifests written before retirement existed called
    /// this `retired`.)
    #[serde(default, alias = "retired")]
    pub revoked: bool,
    /// Retired (`accolade keys retire`), RFC 3339: its private key is deleted, its
    /// public key stays published for what it signed before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<String>,
    /// A retired key's public key (JWK), kept since its private key file is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_jwk: Option<serde_json::Value>,
}

impl KeyInfo {
    /// A fresh entry.
    pub fn new(kid: String, alg: Algorithm, created: String) -> Self {
        Self {
            kid,
            alg,
            created,
            revoked: false,
            retired_at: None,
            public_jwk: None,
        }
    }

    /// Whether it may still sign and appear in the DID document with its private key.
    fn live(&self) -> bool {
        !self.revoked && self.retired_at.is_none()
    }

    /// The retirement time, unix seconds.
    pub fn retired_unix(&self) -> Option<i64> {
        self.retired_at
            .as_deref()
            .and_then(crate::clock::parse_datetime)
            .map(time::OffsetDateTime::unix_timestamp)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct Manifest {
    /// The key that signs new credentials.
    signing: Option<String>,
    /// In creation order.
    keys: Vec<KeyInfo>,
}

/// The loaded keys.
#[derive(Debug, Clone)]
pub struct Keyring {
    entries: Vec<(KeyInfo, Arc<SigningKey>)>,
    /// Retired keys: public only.
    retired: Vec<(KeyInfo, PublicJwk)>,
    signing: usize,
    link_secret: LinkSecret,
}

/// The keys a running service signs with and publishes, replaced while it runs when
/// the keys directory changes (`accolade keys rotate` or `retire`, on any node of a
/// fleet): readers take the current set once per use, so that one signature and its
/// key id always come from the same set.
pub struct LiveKeys {
    ring: std::sync::RwLock<Arc<Keyring>>,
    /// Adds a key of an algorithm where the keys are kept, and returns the set it is
    /// now in (`None`: the set is kept nowhere, as in tests; a key is added in memory).
    maker: std::sync::RwLock<Option<KeyMaker>>,
    /// One key made at a time, so that two proofs needing one make one.
    making: tokio::sync::Mutex<()>,
}

/// Adds a key of an algorithm, not the signing key, where the keys are kept (a keys
/// directory, a fleet's database) and returns the whole set as it now stands.
pub type KeyMaker = Arc<
    dyn Fn(Algorithm) -> futures_util::future::BoxFuture<'static, Result<Keyring, Error>>
        + Send
        + Sync,
>;

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKeys")
            .field("signing", &self.current().signing_kid())
            .finish_non_exhaustive()
    }
}

impl LiveKeys {
    pub fn new(keys: Arc<Keyring>) -> Arc<Self> {
        Arc::new(Self {
            ring: std::sync::RwLock::new(keys),
            maker: std::sync::RwLock::new(None),
            making: tokio::sync::Mutex::new(()),
        })
    }

    /// Says where keys that proofs need are made ([`LiveKeys::key_for`]).
    pub fn set_maker(&self, maker: KeyMaker) {
        *self
            .maker
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(maker);
    }

    /// The keys as they are now.
    pub fn current(&self) -> Arc<Keyring> {
        self.ring
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The newest published key of `alg` with its id, made and published first when
    /// there is none (a Data Integrity suite needs an Ed25519 key under an ES256
    /// signing key): the signing key stays as it is.
    pub async fn key_for(&self, alg: Algorithm) -> Result<(String, Arc<SigningKey>), Error> {
        let found = |ring: &Keyring| ring.newest_of(alg).map(|(i, k)| (i.kid.clone(), k.clone()));
        if let Some(k) = found(&self.current()) {
            return Ok(k);
        }
        let _one = self.making.lock().await;
        if let Some(k) = found(&self.current()) {
            return Ok(k);
        }
        let maker = self
            .maker
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let fresh = match maker {
            Some(make) => make(alg).await?,
            None => self.current().with_generated(alg)?,
        };
        let made = found(&fresh).ok_or_else(|| {
            Error::Sealed(format!(
                "a {alg} key was made but the key set does not hold it"
            ))
        })?;
        tracing::info!(kid = %made.0, alg = %alg, "made a key for Data Integrity proofs; it is published in the DID document");
        self.replace(fresh);
        Ok(made)
    }

    /// Puts `fresh` in place when it differs from the current set (another signing
    /// key, or keys added or retired); whether it did.
    pub fn replace(&self, fresh: Keyring) -> bool {
        let mut cur = self
            .ring
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A retirement changes no key id, only its state.
        type Ids = (String, Vec<(String, Option<i64>)>);
        let ids = |k: &Keyring| -> Ids {
            (
                k.signing_kid().to_owned(),
                k.published()
                    .into_iter()
                    .map(|p| (p.kid, p.retired_at))
                    .collect(),
            )
        };
        if ids(&cur) == ids(&fresh) {
            return false;
        }
        *cur = Arc::new(fresh);
        true
    }
}

/// The secret earners' manage links are derived under. `Debug` never prints it.
#[derive(Clone)]
pub struct LinkSecret(Arc<[u8; 32]>);

impl std::fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSecret(<redacted>)")
    }
}

impl LinkSecret {
    /// A secret from its bytes (tests and benchmarks).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Arc::new(bytes))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The base64url HMAC-SHA-256, under this secret, of `purpose`, a zero byte and
    /// `message`: the purpose keeps a value derived for one use from serving another.
    pub fn derive(&self, purpose: &str, message: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.bytes());
        let mut msg = Vec::with_capacity(purpose.len() + 1 + message.len());
        msg.extend_from_slice(purpose.as_bytes());
        msg.push(0);
        msg.extend_from_slice(message);
        jose::b64(ring::hmac::sign(&key, &msg).as_ref())
    }

    /// Reads `dir/link-secret`, generating it (mode 0600) when it does not exist. A file
    /// that group or others can read is refused, as key files are.
    pub fn load_or_generate(dir: &Path) -> Result<Self, Error> {
        let path = dir.join(LINK_SECRET);
        match fs::metadata(&path) {
            Ok(meta) => {
                let mode = meta.mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(Error::Permissions { path, mode });
                }
                let text = fs::read_to_string(&path).map_err(io(&path))?;
                let bytes = hex::decode(text.trim())
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| Error::LinkSecret(path.clone()))?;
                Ok(Self::from_bytes(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
                write_private(&path, format!("{}\n", hex::encode(bytes)).as_bytes())?;
                Ok(Self::from_bytes(bytes))
            }
            Err(e) => Err(io(&path)(e)),
        }
    }
}

impl Keyring {
    /// Loads the keys in `dir`, creating the directory and generating one key of `alg`
    /// when it holds no private key file.
    pub fn load_or_generate(dir: &Path, alg: Algorithm) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        if pem_files(dir)?.is_empty() {
            generate_into(dir, alg, true)?;
        }
        Self::load(dir)
    }

    /// Loads the keys in `dir`; fails when there are none.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let files = pem_files(dir)?;
        if files.is_empty() {
            return Err(Error::Empty(dir.to_owned()));
        }
        let mut manifest = read_manifest(dir)?;
        let mut entries = Vec::new();
        for path in files {
            let meta = fs::metadata(&path).map_err(io(&path))?;
            let mode = meta.mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::Permissions { path, mode });
            }
            let pem = fs::read(&path).map_err(io(&path))?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|source| Error::Key {
                path: path.clone(),
                source,
            })?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            if stem != key.id() {
                return Err(Error::Misnamed {
                    path,
                    expected: stem,
                    found: key.id().to_owned(),
                });
            }
            let info = match manifest.keys.iter().find(|k| k.kid == key.id()) {
                Some(info) => info.clone(),
                None => {
                    // A key file dropped in by hand: adopt it, dated by its mtime.
                    let created = meta
                        .modified()
                        .ok()
                        .map(time::OffsetDateTime::from)
                        .unwrap_or_else(time::OffsetDateTime::now_utc);
                    let info = KeyInfo::new(
                        key.id().to_owned(),
                        key.algorithm(),
                        crate::clock::format_seconds(created),
                    );
                    manifest.keys.push(info.clone());
                    info
                }
            };
            entries.push((info, Arc::new(key)));
        }
        let link_secret = LinkSecret::load_or_generate(dir)?;
        Ok(Self::assemble(&manifest, entries, link_secret))
    }

    /// The keyring of `entries` as `manifest` orders them, signing with the manifest's
    /// signing key (or the newest key not retired).
    fn assemble(
        manifest: &Manifest,
        mut entries: Vec<(KeyInfo, Arc<SigningKey>)>,
        link_secret: LinkSecret,
    ) -> Self {
        // Manifest order is creation order; keys adopted above sort by their date.
        entries.sort_by(|a, b| {
            let pos = |kid: &str| manifest.keys.iter().position(|k| k.kid == kid);
            (a.0.created.as_str(), pos(&a.0.kid)).cmp(&(b.0.created.as_str(), pos(&b.0.kid)))
        });
        let signing = manifest
            .signing
            .as_deref()
            .and_then(|kid| entries.iter().position(|(i, _)| i.kid == kid && i.live()))
            .or_else(|| entries.iter().rposition(|(i, _)| i.live()))
            .unwrap_or(entries.len().saturating_sub(1));
        // Retired keys whose private key is gone: published from the manifest.
        let retired = manifest
            .keys
            .iter()
            .filter(|i| i.retired_at.is_some() && !i.revoked)
            .filter(|i| !entries.iter().any(|(e, _)| e.kid == i.kid))
            .filter_map(|i| {
                let jwk = PublicJwk::from_value(i.public_jwk.as_ref()?).ok()?;
                (jwk.thumbprint() == i.kid).then(|| (i.clone(), jwk))
            })
            .collect();
        Self {
            entries,
            retired,
            signing,
            link_secret,
        }
    }

    /// The secret earners' manage links are derived under.
    pub fn link_secret(&self) -> &LinkSecret {
        &self.link_secret
    }

    /// The key that signs new credentials.
    pub fn signing_key(&self) -> &Arc<SigningKey> {
        &self.entries[self.signing].1
    }

    /// Every key with its manifest entry, oldest first.
    pub fn keys(&self) -> impl Iterator<Item = (&KeyInfo, &Arc<SigningKey>)> {
        self.entries.iter().map(|(i, k)| (i, k))
    }

    /// The keys the DID document publishes: every key not revoked (retired ones with
    /// their retirement time).
    pub fn published(&self) -> Vec<PublishedKey> {
        self.entries
            .iter()
            .filter(|(i, _)| !i.revoked)
            .map(|(i, k)| (i, k.public_jwk()))
            .chain(self.retired.iter().map(|(i, k)| (i, k)))
            .map(|(i, k)| PublishedKey {
                kid: i.kid.clone(),
                jwk: k.clone(),
                retired_at: i.retired_unix(),
            })
            .collect()
    }

    /// Retired keys (public only), oldest first.
    pub fn retired_keys(&self) -> impl Iterator<Item = &KeyInfo> {
        self.retired.iter().map(|(i, _)| i)
    }

    /// A published key by id, or by its Multikey fragment (`z...`, the form Data
    /// Integrity proofs name it by).
    pub fn published_key(&self, kid: &str) -> Option<&PublicJwk> {
        let live = || {
            self.entries
                .iter()
                .filter(|(i, _)| !i.revoked)
                .map(|(i, k)| (i, k.public_jwk()))
                .chain(self.retired.iter().map(|(i, k)| (i, k)))
        };
        live()
            .find(|(i, _)| i.kid == kid)
            .or_else(|| {
                kid.starts_with('z').then(|| {
                    live().find(|(_, k)| crate::did::key::multibase(k).is_ok_and(|m| m == kid))
                })?
            })
            .map(|(_, k)| k)
    }

    /// The id of the signing key.
    pub fn signing_kid(&self) -> &str {
        &self.entries[self.signing].0.kid
    }

    /// The newest published key of `alg`: the signing key when it is of `alg`.
    pub fn newest_of(&self, alg: Algorithm) -> Option<(&KeyInfo, &Arc<SigningKey>)> {
        let signing = &self.entries[self.signing];
        if signing.0.alg == alg && signing.0.live() {
            return Some((&signing.0, &signing.1));
        }
        self.entries
            .iter()
            .rev()
            .find(|(i, _)| i.alg == alg && i.live())
            .map(|(i, k)| (i, k))
    }

    /// This set and a new key of `alg`, kept in memory only (a set read from nowhere,
    /// as in tests and benchmarks).
    pub fn with_generated(&self, alg: Algorithm) -> Result<Keyring, Error> {
        let (key, _) = SigningKey::generate(alg).map_err(Error::Generate)?;
        let mut ring = self.clone();
        ring.entries.push((
            KeyInfo::new(
                key.id().to_owned(),
                alg,
                crate::clock::format_seconds(time::OffsetDateTime::now_utc()),
            ),
            Arc::new(key),
        ));
        Ok(ring)
    }
}

/// The keys directory's lock (`.lock`, an advisory file lock), held while the
/// manifest is read and written again: a node adding a key, `accolade keys rotate` and
/// `retire` on the same directory (a fleet's shared one included) take turns.
fn lock_dir(dir: &Path) -> Result<fs::File, Error> {
    let path = dir.join(".lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path))?;
    f.lock().map_err(io(&path))?;
    Ok(f)
}

/// Generates a key of `alg` in `dir` and makes it the signing key. Returns its id.
pub fn rotate(dir: &Path, alg: Algorithm) -> Result<String, Error> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let _lock = lock_dir(dir)?;
    generate_into(dir, alg, true)
}

/// The newest published key of `alg` in `dir`, generated first (published beside the
/// others, the signing key as it was) when there is none. Returns its id.
pub fn add(dir: &Path, alg: Algorithm) -> Result<String, Error> {
    let _lock = lock_dir(dir)?;
    let ring = Keyring::load(dir)?;
    if let Some((info, _)) = ring.newest_of(alg) {
        return Ok(info.kid.clone());
    }
    // A manifest naming no signing key (keys dropped in by hand) would otherwise
    // sign with the newest key, the one added here.
    write_manifest(dir, &manifest_of(&ring))?;
    generate_into(dir, alg, false)
}

/// Retires `kid` (a rotated-out key) at `now`: its private key file is deleted, its
/// public key stays in the DID document, and this service refuses badges it signed
/// dated after `now`. Refused for the signing key and for a revoked key.
pub fn retire(dir: &Path, kid: &str, now: time::OffsetDateTime) -> Result<(), Error> {
    let _lock = lock_dir(dir)?;
    let ring = Keyring::load(dir)?;
    let mut manifest = manifest_of(&ring);
    retire_in(&mut manifest, &ring, kid, now)?;
    write_manifest(dir, &manifest)?;
    // The manifest says it is retired before the private key goes.
    let path = dir.join(format!("{kid}.pem"));
    fs::remove_file(&path).map_err(io(&path))
}

/// Revokes `kid` (a compromised key): it leaves the DID document, so nothing it
/// signed verifies any more, and its private key file is deleted. Refused for the
/// signing key (rotate first).
pub fn revoke(dir: &Path, kid: &str) -> Result<(), Error> {
    let _lock = lock_dir(dir)?;
    let ring = Keyring::load(dir)?;
    let mut manifest = manifest_of(&ring);
    revoke_in(&mut manifest, &ring, kid)?;
    write_manifest(dir, &manifest)?;
    let path = dir.join(format!("{kid}.pem"));
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(&path)(e)),
        _ => Ok(()),
    }
}

/// Marks `kid` retired in `manifest` (of `ring`), keeping its public key.
pub(super) fn retire_in(
    manifest: &mut Manifest,
    ring: &Keyring,
    kid: &str,
    now: time::OffsetDateTime,
) -> Result<(), Error> {
    if ring.signing_kid() == kid {
        return Err(Error::RetireSigningKey(kid.to_owned()));
    }
    let (_, key) = ring
        .entries
        .iter()
        .find(|(i, _)| i.kid == kid)
        .ok_or_else(|| Error::UnknownKey(kid.to_owned()))?;
    let entry = manifest
        .keys
        .iter_mut()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::UnknownKey(kid.to_owned()))?;
    if entry.revoked {
        return Err(Error::UnknownKey(format!("{kid} (it is revoked)")));
    }
    entry.retired_at = Some(crate::clock::format_seconds(now));
    entry.public_jwk = Some(key.public_jwk().to_value());
    Ok(())
}

/// Marks `kid` revoked in `manifest` (of `ring`).
pub(super) fn revoke_in(manifest: &mut Manifest, ring: &Keyring, kid: &str) -> Result<(), Error> {
    if ring.signing_kid() == kid {
        return Err(Error::RetireSigningKey(kid.to_owned()));
    }
    let entry = manifest
        .keys
        .iter_mut()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::UnknownKey(kid.to_owned()))?;
    entry.revoked = true;
    entry.public_jwk = None;
    Ok(())
}

fn manifest_of(ring: &Keyring) -> Manifest {
    Manifest {
        signing: Some(ring.signing_kid().to_owned()),
        keys: ring
            .entries
            .iter()
            .map(|(i, _)| i)
            .chain(ring.retired.iter().map(|(i, _)| i))
            .cloned()
            .collect(),
    }
}

fn generate_into(dir: &Path, alg: Algorithm, signing: bool) -> Result<String, Error> {
    let (key, pem) = SigningKey::generate(alg).map_err(Error::Generate)?;
    let path = dir.join(format!("{}.pem", key.id()));
    write_private(&path, &pem)?;
    let mut manifest = read_manifest(dir)?;
    manifest.keys.push(KeyInfo::new(
        key.id().to_owned(),
        alg,
        crate::clock::format_seconds(time::OffsetDateTime::now_utc()),
    ));
    if signing {
        manifest.signing = Some(key.id().to_owned());
    }
    write_manifest(dir, &manifest)?;
    Ok(key.id().to_owned())
}

/// Creates `path` (which must not exist) with mode 0600, writes `bytes` and syncs.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    // The umask cannot widen 0600, but make the mode explicit all the same.
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

fn pem_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.extension().is_some_and(|e| e == "pem") && path.is_file() {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

fn read_manifest(dir: &Path) -> Result<Manifest, Error> {
    let path = dir.join(MANIFEST);
    match fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).map_err(|e| Error::Manifest(path.clone(), e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(io(&path)(e)),
    }
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), Error> {
    let path = dir.join(MANIFEST);
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    let bytes = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Manifest(path.clone(), e.to_string()))?;
    {
        let mut f = fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.write_all(b"\n").map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, &path).map_err(io(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_dir_gets_one_key_of_the_requested_algorithm_with_mode_0600() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::EdDSA).expect("loads");
        assert_eq!(ring.signing_key().algorithm(), Algorithm::EdDSA);
        let path = dir.path().join(format!("{}.pem", ring.signing_kid()));
        let mode = fs::metadata(&path).expect("meta").mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Loading again generates nothing new and keeps the id.
        let again = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        assert_eq!(again.signing_kid(), ring.signing_kid());
        assert_eq!(again.published().len(), 1);
    }

    #[test]
    fn an_added_key_is_published_and_found_by_its_multikey_while_the_signing_key_stays() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let signing = ring.signing_kid().to_owned();
        assert!(ring.newest_of(Algorithm::EdDSA).is_none());
        let added = add(dir.path(), Algorithm::EdDSA).expect("add");
        let ring = Keyring::load(dir.path()).expect("loads");
        assert_eq!(ring.signing_kid(), signing);
        let (info, key) = ring.newest_of(Algorithm::EdDSA).expect("an Ed25519 key");
        assert_eq!(info.kid, added);
        let mb = crate::did::key::multibase(key.public_jwk()).expect("multikey");
        assert_eq!(ring.published_key(&mb), Some(key.public_jwk()));
        assert_eq!(ring.published_key(&added), Some(key.public_jwk()));
        assert!(ring.published_key("z6MkNotOneOfOurs").is_none());
        // The signing key is the newest of its algorithm.
        assert_eq!(
            ring.newest_of(Algorithm::ES256)
                .map(|(i, _)| i.kid.as_str()),
            Some(signing.as_str())
        );
    }

    #[tokio::test]
    async fn live_keys_make_a_missing_key_once_and_keep_it() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let live = LiveKeys::new(Arc::new(ring));
        let d = dir.path().to_owned();
        let maker: KeyMaker = Arc::new(move |alg| {
            let d = d.clone();
            Box::pin(async move {
                add(&d, alg)?;
                Keyring::load(&d)
            })
        });
        live.set_maker(maker);
        let (a, _) = live.key_for(Algorithm::EdDSA).await.expect("made");
        let (b, _) = live.key_for(Algorithm::EdDSA).await.expect("kept");
        assert_eq!(a, b);
        assert_eq!(
            Keyring::load(dir.path()).expect("loads").published().len(),
            2
        );
        assert_eq!(live.current().published().len(), 2);
        assert_eq!(live.current().signing_key().algorithm(), Algorithm::ES256);
    }

    #[test]
    fn the_link_secret_is_generated_once_private_and_checked() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let path = dir.path().join(LINK_SECRET);
        assert_eq!(fs::metadata(&path).expect("meta").mode() & 0o777, 0o600);
        let again = Keyring::load(dir.path()).expect("loads");
        assert_eq!(again.link_secret().bytes(), ring.link_secret().bytes());
        assert_eq!(again.published().len(), 1, "the secret is not a key");
        assert!(
            !format!("{:?}", ring.link_secret()).contains(&hex::encode(ring.link_secret().bytes()))
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            Keyring::load(dir.path()).expect_err("refused"),
            Error::Permissions { mode: 0o644, .. }
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::write(&path, "not hex").expect("write");
        assert!(matches!(
            Keyring::load(dir.path()).expect_err("refused"),
            Error::LinkSecret(_)
        ));
    }

    #[test]
    fn a_readme_alone_does_not_count_as_a_key() {
        let dir = tempfile::tempdir().expect("tmp");
        fs::write(dir.path().join("README.md"), "keys live here").expect("write");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        assert_eq!(ring.published().len(), 1);
    }

    #[test]
    fn a_world_readable_key_file_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let path = dir.path().join(format!("{}.pem", ring.signing_kid()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = Keyring::load(dir.path()).expect_err("refused");
        assert!(
            matches!(err, Error::Permissions { mode: 0o644, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("chmod 600"));
    }

    #[test]
    fn rotation_switches_the_signer_and_keeps_old_keys_published() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let old = first.signing_kid().to_owned();
        let new = rotate(dir.path(), Algorithm::RS256).expect("rotates");
        let ring = Keyring::load(dir.path()).expect("loads");
        assert_eq!(ring.signing_kid(), new);
        assert_eq!(ring.signing_key().algorithm(), Algorithm::RS256);
        assert!(ring.published_key(&old).is_some());
        assert_eq!(ring.published().len(), 2);

        let now = crate::clock::from_unix(1_800_000_000);
        retire(dir.path(), &old, now).expect("retires");
        assert!(
            !dir.path().join(format!("{old}.pem")).exists(),
            "private key kept"
        );
        let ring = Keyring::load(dir.path()).expect("loads");
        let published = ring.published();
        assert_eq!(published.len(), 2, "a retired key stays published");
        let retired = published.iter().find(|k| k.kid == old).expect("retired");
        assert_eq!(retired.retired_at, Some(1_800_000_000));
        assert!(ring.published_key(&old).is_some());
        assert!(matches!(
            retire(dir.path(), &new, now),
            Err(Error::RetireSigningKey(_))
        ));
        assert!(matches!(
            revoke(dir.path(), &new),
            Err(Error::RetireSigningKey(_))
        ));
        revoke(dir.path(), &old).expect("revokes");
        let ring = Keyring::load(dir.path()).expect("loads");
        assert!(ring.published_key(&old).is_none());
        assert_eq!(ring.published().len(), 1);
    }

    #[test]
    fn a_manifest_from_before_retirement_reads_its_retired_keys_as_revoked() {
        let info: KeyInfo = serde_json::from_str(
            r#"{"kid": "k", "alg": "ES256", "created": "2026-01-01T00:00:00Z", "retired": true}"#,
        )
        .expect("reads");
        assert!(info.revoked && info.retired_at.is_none());
    }

    #[test]
    fn a_key_file_named_for_another_key_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("loads");
        let from = dir.path().join(format!("{}.pem", ring.signing_kid()));
        fs::rename(&from, dir.path().join("other.pem")).expect("rename");
        assert!(matches!(
            Keyring::load(dir.path()),
            Err(Error::Misnamed { .. })
        ));
    }
}
