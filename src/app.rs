//! The application state shared by every request: the issuer, the verifier, the
//! identity derived from the public URL, and the admin token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::clock::SharedClock;
use crate::records::profile::StoreIdentity;

/// The version and the commit it was built from: `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ACCOLADE_COMMIT"),
    ")"
);
use crate::did::web::{self, WebIdentity};
use crate::issue::{Issuer, StatusConfig};
use crate::keyring::{Keyring, LiveKeys};
use crate::net::{AllowedHost, Outbound};
use crate::store::Store;
use crate::verify::Verifier;

/// The bearer token that guards the admin API. `Debug` never prints it.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

impl AdminToken {
    /// Wraps a token.
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Compares in constant time (over fixed-length digests, so the length of the
    /// presented token leaks nothing either).
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        d.ct_eq(&self.digest).into()
    }
}

/// Where the admin token came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `ACCOLADE_ADMIN_TOKEN`.
    Environment,
    /// Read from (or generated into) this file.
    File(PathBuf),
    /// Read from (or generated into) the database a fleet shares.
    Database,
}

/// A fleet's admin token: `ACCOLADE_ADMIN_TOKEN` when set (every node must be given
/// the same), otherwise the one kept in the shared store, made by whichever node asked
/// first.
pub async fn fleet_admin_token(
    env_token: Option<&str>,
    fleet: &dyn crate::store::Fleet,
) -> Result<(AdminToken, TokenSource), TokenError> {
    if let Some(t) = env_token.filter(|t| !t.is_empty()) {
        return Ok((
            strong_token(t, "ACCOLADE_ADMIN_TOKEN")?,
            TokenSource::Environment,
        ));
    }
    let token = fleet
        .shared_value(ADMIN_TOKEN_NAME, &new_admin_token())
        .await
        .map_err(TokenError::Store)?;
    Ok((AdminToken::new(&token), TokenSource::Database))
}

/// The shortest admin token accepted, characters: a token anyone could guess would
/// open every admin route.
pub const MIN_ADMIN_TOKEN: usize = 16;

/// `token` when it is long enough to be a secret.
fn strong_token(token: &str, origin: &str) -> Result<AdminToken, TokenError> {
    let n = token.chars().count();
    if n < MIN_ADMIN_TOKEN {
        return Err(TokenError::TooShort {
            origin: origin.to_owned(),
            length: n,
        });
    }
    Ok(AdminToken::new(token))
}

/// The name the shared store keeps the admin token under.
pub const ADMIN_TOKEN_NAME: &str = "admin_token";

/// 32 random bytes, base64url.
pub fn new_admin_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    crate::jose::b64(bytes)
}

/// Errors loading the admin token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is empty")]
    Empty(PathBuf),
    #[error(
        "the admin token in {origin} is {length} characters long; use at least {MIN_ADMIN_TOKEN} random ones (for example the output of `openssl rand -base64 32`), or unset it to have one generated"
    )]
    TooShort { origin: String, length: usize },
    #[error("the admin token kept in the database: {0}")]
    Store(crate::store::Error),
}

/// The admin token: `ACCOLADE_ADMIN_TOKEN` when set (it wins), otherwise the one in
/// `<data-dir>/admin-token`, generated (256 random bits, mode 0600) on first start.
pub fn load_admin_token(
    env_token: Option<&str>,
    data_dir: &Path,
) -> Result<(AdminToken, TokenSource), TokenError> {
    if let Some(t) = env_token.filter(|t| !t.is_empty()) {
        return Ok((
            strong_token(t, "ACCOLADE_ADMIN_TOKEN")?,
            TokenSource::Environment,
        ));
    }
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = data_dir.join("admin-token");
    let io = |source| TokenError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Err(TokenError::Empty(path));
            }
            let name = path.display().to_string();
            Ok((strong_token(t, &name)?, TokenSource::File(path)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = new_admin_token();
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            f.write_all(token.as_bytes()).map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok((AdminToken::new(&token), TokenSource::File(path)))
        }
        Err(e) => Err(io(e)),
    }
}

/// The file in the data dir that records the public URL the service last ran with,
/// so that `accolade verify` knows the service's own DID without being told.
pub const IDENTITY_FILE: &str = "identity.json";

/// Records the public URL (and the DID derived from it) in the data dir.
pub fn write_identity(data_dir: &Path, public_url: &url::Url, did: &str) -> std::io::Result<()> {
    let body = serde_json::json!({"public_url": public_url.as_str(), "did": did});
    let tmp = data_dir.join(format!("{IDENTITY_FILE}.tmp"));
    std::fs::write(&tmp, format!("{body:#}\n"))?;
    std::fs::rename(tmp, data_dir.join(IDENTITY_FILE))
}

/// The public URL recorded by the last `serve` with this data dir, if any.
pub fn read_identity(data_dir: &Path) -> Option<url::Url> {
    let bytes = std::fs::read(data_dir.join(IDENTITY_FILE)).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    url::Url::parse(v.get("public_url")?.as_str()?).ok()
}

/// What a start's public URL is to the identity the store was created for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityCheck {
    /// The store had none: this one is recorded now.
    Recorded,
    /// The same public URL (and DID) as recorded.
    Same,
    /// A public URL derived from the bound address (no `--public-url`) that differs
    /// from the recorded one: a local start on another port. Served, with a warning;
    /// the record stays.
    DerivedDiffers(StoreIdentity),
    /// `--move-identity`: the record now names the new public URL.
    Moved(StoreIdentity),
}

/// Why a start was refused for its identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "this store was created for {} ({}), but --public-url is {now} ({now_did}). Every badge it issued names {}; under the new DID they would no longer verify, and new badges would mix both identities. Start with --public-url {} to serve it as it is; to move the issuer to the new URL on purpose, start once with --move-identity (see \"Moving an issuer\" in the README)",
        .recorded.public_url, .recorded.did, .recorded.did, .recorded.public_url
    )]
    Moved {
        recorded: StoreIdentity,
        now: String,
        now_did: String,
    },
    #[error("reading the store's identity: {0}")]
    Store(#[from] crate::store::Error),
}

/// Compares the public URL of this start with the identity the store was created
/// for, recording it when the store has none (from `legacy`, the URL an earlier
/// version noted in the data directory, when there is one). `explicit` says the URL
/// was given (`--public-url`) rather than derived from the bound address; `moving`
/// is `--move-identity`.
pub async fn check_identity(
    store: &Store,
    public_url: &url::Url,
    did: &str,
    explicit: bool,
    moving: bool,
    legacy: Option<url::Url>,
) -> Result<IdentityCheck, IdentityError> {
    let now = StoreIdentity {
        public_url: public_url.as_str().to_owned(),
        did: did.to_owned(),
    };
    let recorded = match store.profiles.identity().await? {
        Some(r) => r,
        None => {
            let first = legacy
                .and_then(|u| {
                    let id = web::identity_for_url(&u).ok()?;
                    Some(StoreIdentity {
                        public_url: u.as_str().to_owned(),
                        did: id.did.to_string(),
                    })
                })
                .unwrap_or_else(|| now.clone());
            store.profiles.put_identity(&first).await?;
            store.profiles.flush().await?;
            if first == now {
                return Ok(IdentityCheck::Recorded);
            }
            first
        }
    };
    if recorded.did == now.did {
        if recorded.public_url != now.public_url {
            // The same DID (a trailing slash, say): keep the record current.
            store.profiles.put_identity(&now).await?;
            store.profiles.flush().await?;
        }
        return Ok(IdentityCheck::Same);
    }
    if moving {
        store.profiles.put_identity(&now).await?;
        store.profiles.flush().await?;
        return Ok(IdentityCheck::Moved(recorded));
    }
    if explicit {
        return Err(IdentityError::Moved {
            recorded,
            now: now.public_url,
            now_did: now.did,
        });
    }
    Ok(IdentityCheck::DerivedDiffers(recorded))
}

/// The file in the data dir that tells other commands where the running service
/// listens (`staff add` beside it goes through its API).
pub const SERVING_FILE: &str = "serving.json";

/// Records where the service listens (removed on a clean stop).
pub fn write_serving(data_dir: &Path, url: &str) -> std::io::Result<()> {
    let body = serde_json::json!({"url": url, "pid": std::process::id()});
    let tmp = data_dir.join(format!("{SERVING_FILE}.tmp"));
    std::fs::write(&tmp, format!("{body:#}\n"))?;
    std::fs::rename(tmp, data_dir.join(SERVING_FILE))
}

/// Forgets the listening address (a clean stop).
pub fn clear_serving(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(SERVING_FILE));
}

/// Where a service on this data dir said it listens, if it did.
pub fn read_serving(data_dir: &Path) -> Option<String> {
    let bytes = std::fs::read(data_dir.join(SERVING_FILE)).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    Some(v.get("url")?.as_str()?.to_owned())
}

/// Per-client request rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    /// Requests per second per client IP (with a burst of the same size).
    PerSecond(u32),
}

impl RateLimit {
    /// Generous enough that one well-behaved client is never throttled below
    /// 1,000 requests per second.
    pub const DEFAULT: RateLimit = RateLimit::PerSecond(2_000);
}

impl std::str::FromStr for RateLimit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("off") {
            return Ok(RateLimit::Off);
        }
        match s.parse::<u32>() {
            Ok(n) if n > 0 => Ok(RateLimit::PerSecond(n)),
            _ => Err(format!(
                "{s:?}: expected \"off\" or a positive number of requests per second"
            )),
        }
    }
}

/// Everything a request handler may need, behind one `Arc`: axum clones the state
/// for every request, so a clone must be one reference count.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] holds.
#[derive(Clone, Debug)]
pub struct Services {
    /// Every repository (for flushing on shutdown and the background sweeps).
    pub store: Store,
    pub issuer: Issuer,
    /// The OpenID4VCI endpoints' side of the issuer.
    pub oid4vci: crate::oid4vci::Oid4vci,
    pub verifier: Verifier,
    /// Badge types, placements, page visibility and images.
    pub catalogue: crate::catalogue::Catalogue,
    /// What the public pages show.
    pub pages: crate::views::Pages,
    /// Earners' manage links and profiles.
    pub earners: crate::earners::Earners,
    /// OpenID4VP presentation requests.
    pub oid4vp: crate::oid4vp::Oid4vp,
    /// The trust registry the verifier consults (the same one the admin API edits).
    pub trust: crate::trust::Registry,
    /// Partner API keys for the verifier routes.
    pub partner_keys: crate::partner::KeyStore,
    /// Staff accounts, sessions, tokens and the audit trail.
    pub staff: crate::staff::Staff,
    /// E-mail: the outbox, templates, reminders.
    pub mail: crate::mail::Mail,
    /// Verifications counted by day.
    pub tally: crate::stats::Tally,
    pub identity: WebIdentity,
    pub public_url: url::Url,
    pub admin_token: AdminToken,
    pub rate_limit: RateLimit,
    /// Connection, time, verification and fetch bounds.
    pub limits: crate::limits::Limits,
    /// `--allow-http-did-web` exemptions (host:port), for outbound resolution.
    pub allow_http_did_web: Vec<AllowedHost>,
    /// `--trusted-proxy`: where `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::net::proxy::TrustedProxies,
    /// A fleet's request budgets, shared by every node (`None`: this process counts).
    pub buckets: Option<Arc<crate::net::buckets::SharedBuckets>>,
    pub clock: SharedClock,
}

/// Where the signing keys are kept.
#[derive(Clone)]
pub enum KeySource {
    /// A keys directory (`--keys-dir`), shared by a fleet's nodes when there are many.
    Dir(PathBuf),
    /// A fleet's database, sealed under `ACCOLADE_KEY_ENCRYPTION_KEY`.
    Database {
        fleet: Arc<dyn crate::store::Fleet>,
        kek: crate::keyring::sealed::KeyEncryptionKey,
    },
}

/// The name a fleet's database keeps its sealed key set under.
pub const KEYS_NAME: &str = "keyring";

impl KeySource {
    /// The keys as they are kept now.
    pub async fn load(&self) -> Result<Keyring, crate::keyring::Error> {
        match self {
            KeySource::Dir(dir) => Keyring::load(dir),
            KeySource::Database { fleet, kek } => {
                let sealed = fleet
                    .current_shared_value(KEYS_NAME)
                    .await
                    .map_err(|e| crate::keyring::Error::Sealed(e.to_string()))?
                    .ok_or_else(|| {
                        crate::keyring::Error::Sealed(
                            "the database keeps no keys yet (start a node with ACCOLADE_KEY_ENCRYPTION_KEY first)"
                                .into(),
                        )
                    })?;
                crate::keyring::sealed::KeySet::unseal(&sealed, kek)?.keyring()
            }
        }
    }

    /// Adds a key of `alg` where the keys are kept, beside the others (the signing key
    /// stays), unless one is there already, and reads the set back: what a Data
    /// Integrity suite needs when the service holds no key of its type. A keys
    /// directory is changed under its lock; a fleet's database by compare-and-swap, so
    /// nodes adding at once end with one key.
    pub async fn add_key(
        &self,
        alg: crate::jose::Algorithm,
    ) -> Result<Keyring, crate::keyring::Error> {
        match self {
            KeySource::Dir(d) => {
                crate::keyring::add(d, alg)?;
                Keyring::load(d)
            }
            KeySource::Database { fleet, kek } => {
                Self::change_sealed(&**fleet, kek, |set| set.add(alg)).await?;
                self.load().await
            }
        }
    }

    /// Applies `change` to the key set sealed in a fleet's database, again until no
    /// other writer came in between.
    pub async fn change_sealed<T>(
        fleet: &dyn crate::store::Fleet,
        kek: &crate::keyring::sealed::KeyEncryptionKey,
        mut change: impl FnMut(&mut crate::keyring::sealed::KeySet) -> Result<T, crate::keyring::Error>,
    ) -> Result<T, crate::keyring::Error> {
        let store = |e: crate::store::Error| crate::keyring::Error::Sealed(e.to_string());
        loop {
            let current = fleet
                .current_shared_value(KEYS_NAME)
                .await
                .map_err(store)?
                .ok_or_else(|| {
                    crate::keyring::Error::Sealed(
                        "the database keeps no keys yet: start a node with ACCOLADE_KEY_ENCRYPTION_KEY first"
                            .into(),
                    )
                })?;
            let mut set = crate::keyring::sealed::KeySet::unseal(&current, kek)?;
            let out = change(&mut set)?;
            let sealed = set.seal(kek)?;
            if fleet
                .replace_shared_value(KEYS_NAME, &current, &sealed)
                .await
                .map_err(store)?
            {
                return Ok(out);
            }
        }
    }

    /// [`KeySource::add_key`] for [`LiveKeys::set_maker`].
    pub fn maker(&self) -> crate::keyring::KeyMaker {
        let source = self.clone();
        Arc::new(move |alg| {
            let source = source.clone();
            Box::pin(async move { source.add_key(alg).await })
        })
    }

    /// The keys to start with. From a directory: those it holds, a key of `alg`
    /// made when it holds none. From a database that keeps none yet: the keys
    /// directory's set when `dir` holds keys (moving them in), otherwise a new one of
    /// `alg`; of nodes starting together, every one ends up with the first one's set.
    /// Says where they came from.
    pub async fn load_or_create(
        &self,
        dir: &Path,
        alg: crate::jose::Algorithm,
    ) -> Result<(Keyring, String), crate::keyring::Error> {
        use crate::keyring::sealed::KeySet;
        match self {
            KeySource::Dir(d) => Ok((
                Keyring::load_or_generate(d, alg)?,
                format!("keys directory {}", d.display()),
            )),
            KeySource::Database { fleet, kek } => {
                let store = |e: crate::store::Error| crate::keyring::Error::Sealed(e.to_string());
                if let Some(sealed) = fleet.current_shared_value(KEYS_NAME).await.map_err(store)? {
                    let ring = KeySet::unseal(&sealed, kek)?.keyring()?;
                    return Ok((ring, "the database (sealed)".into()));
                }
                let (set, origin) = if dir.is_dir() && Keyring::load(dir).is_ok() {
                    (
                        KeySet::from_dir(dir)?,
                        format!("the database (sealed; moved in from {})", dir.display()),
                    )
                } else {
                    (
                        KeySet::generate(alg)?,
                        "the database (sealed; made now)".into(),
                    )
                };
                let made = set.seal(kek)?;
                let kept = fleet.shared_value(KEYS_NAME, &made).await.map_err(store)?;
                let origin = if kept == made {
                    origin
                } else {
                    "the database (sealed; made by another node)".into()
                };
                Ok((KeySet::unseal(&kept, kek)?.keyring()?, origin))
            }
        }
    }
}

/// This service's DID and the keys its DID document publishes now, for the
/// verifier (which sees no private key through it).
#[derive(Debug)]
struct OwnLiveKeys {
    did: crate::did::Did,
    keys: Arc<LiveKeys>,
}

impl crate::verify::OwnKeys for OwnLiveKeys {
    fn did(&self) -> &crate::did::Did {
        &self.did
    }

    fn published(&self) -> Vec<crate::did::web::PublishedKey> {
        self.keys.current().published()
    }

    fn published_key(&self, kid: &str) -> Option<crate::jose::PublicJwk> {
        self.keys.current().published_key(kid).cloned()
    }
}

/// Why the state could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the public URL has no did:web identity: {0}")]
    Did(#[from] crate::did::Error),
    #[error("opening the issuer: {0}")]
    Issuer(#[from] crate::issue::Error),
    #[error("opening the presentation requests: {0}")]
    Oid4vp(#[from] crate::oid4vp::Error),
    #[error("opening the trust registry: {0}")]
    Trust(#[from] crate::trust::Error),
    #[error("opening the partner API keys: {0}")]
    Partner(#[from] crate::partner::Error),
}

impl AppState {
    /// Assembles the state with the default status configuration.
    pub async fn new(
        store: Store,
        keys: Arc<Keyring>,
        public_url: url::Url,
        admin_token: AdminToken,
        clock: SharedClock,
    ) -> Result<Self, StateError> {
        Self::with_status(
            store,
            keys,
            public_url,
            admin_token,
            clock,
            StatusConfig::default(),
        )
        .await
    }

    /// Assembles the state: opens the issuer over the store (rebuilding the status
    /// lists and burning awards a crash left unsigned).
    pub async fn with_status(
        store: Store,
        keys: Arc<Keyring>,
        public_url: url::Url,
        admin_token: AdminToken,
        clock: SharedClock,
        status: StatusConfig,
    ) -> Result<Self, StateError> {
        let identity = web::identity_for_url(&public_url)?;
        let link_secret = keys.link_secret().clone();
        let keys = LiveKeys::new(keys);
        let trust = crate::trust::Registry::open(store.trust.clone(), clock.clone()).await?;
        let partner_keys =
            crate::partner::KeyStore::open(store.partners.clone(), clock.clone()).await?;
        let issuer = Issuer::open(
            &store,
            keys.clone(),
            identity.did.clone(),
            public_url.clone(),
            clock.clone(),
            status,
        )
        .await?;
        // A fleet's other nodes may be signing right now: only intents older than
        // any award takes are a crashed node's.
        let burned = issuer
            .recover(
                store
                    .fleet
                    .shared()
                    .then_some(crate::issue::ABANDONED_AFTER),
            )
            .await?;
        if burned > 0 {
            tracing::warn!(burned, "awards left unsigned by a crash were burned");
        }
        let own = Arc::new(OwnLiveKeys {
            did: identity.did.clone(),
            keys: keys.clone(),
        });
        let verifier = Verifier::new(Some(own), clock.clone())
            .with_local_status(issuer.local_status())
            .with_registry(trust.clone())
            .with_fetcher(Arc::new(Outbound::new([])));
        let oid4vp = crate::oid4vp::Oid4vp::open(
            store.presentations.clone(),
            identity.did.clone(),
            keys,
            &public_url,
            clock.clone(),
        )
        .await?;
        let catalogue = crate::catalogue::Catalogue::new(&store, issuer.clone());
        let earners = crate::earners::Earners::new(&store, issuer.clone(), catalogue.clone());
        let pages = crate::views::Pages::new(
            issuer.clone(),
            catalogue.clone(),
            earners.clone(),
            verifier.clone(),
            clock.clone(),
        );
        let staff =
            crate::staff::Staff::new(&store, link_secret.clone(), &public_url, clock.clone());
        let mail = crate::mail::Mail::new(
            &store,
            issuer.clone(),
            earners.clone(),
            staff.clone(),
            link_secret.clone(),
            &public_url,
            clock.clone(),
        );
        let staff = staff.with_mail_bell(mail.bell());
        let tally =
            crate::stats::Tally::new(verifier.tally(), store.counters.clone(), clock.clone());
        let buckets = store
            .limits
            .clone()
            .map(|l| Arc::new(crate::net::buckets::SharedBuckets::new(l, clock.clone())));
        Ok(Self(Arc::new(Services {
            staff,
            mail,
            tally,
            catalogue,
            pages,
            earners,
            oid4vci: crate::oid4vci::Oid4vci::new(
                issuer.clone(),
                &store,
                link_secret.clone(),
                clock.clone(),
            ),
            oid4vp,
            store,
            issuer,
            verifier,
            trust,
            partner_keys,
            identity,
            public_url,
            admin_token,
            rate_limit: RateLimit::DEFAULT,
            limits: crate::limits::Limits::default(),
            allow_http_did_web: Vec::new(),
            trusted_proxies: crate::net::proxy::TrustedProxies::default(),
            buckets,
            clock,
        })))
    }

    /// Sends e-mail through this SMTP server: e-mail delivery of awards, invitations
    /// and password resets by mail, reminders.
    pub fn set_smtp(&mut self, config: crate::mail::SmtpConfig) -> Result<(), crate::mail::Error> {
        let services = Arc::make_mut(&mut self.0);
        services.mail = services.mail.clone().with_smtp(config)?;
        services.issuer = services.issuer.clone().with_mail(true);
        services.staff = services.staff.clone().with_mail(true);
        Ok(())
    }

    /// In a fleet (a shared store): keeps this node's caches in step with what every
    /// node commits, from the store's change notices. `None` for a store this process
    /// owns alone.
    pub fn follow_fleet(&self) -> Option<tokio::task::JoinHandle<()>> {
        use tokio::sync::broadcast::error::RecvError;
        let mut changes = self.store.fleet.changes()?;
        let state = self.clone();
        Some(tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => state.follow(&change).await,
                    // Notices were missed: everything may have changed.
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "change notices missed; reloading");
                        state.follow(&crate::store::Change::All).await;
                    }
                    Err(RecvError::Closed) => break,
                }
            }
        }))
    }

    /// Takes in one change committed by any node of a fleet.
    pub async fn follow(&self, change: &crate::store::Change) {
        use crate::store::Change;
        if let Err(e) = self.issuer.follow(change).await {
            tracing::warn!(error = %e, ?change, "following a change failed");
        }
        let (trust, partners, catalogue) = match change {
            Change::All => (true, true, true),
            Change::Trust => (true, false, false),
            Change::Partners => (false, true, false),
            Change::Catalogue => (false, false, true),
            _ => (false, false, false),
        };
        if trust && let Err(e) = self.trust.reload().await {
            tracing::warn!(error = %e, "reloading the trust registry failed");
        }
        if partners && let Err(e) = self.partner_keys.reload().await {
            tracing::warn!(error = %e, "reloading the API keys failed");
        }
        if catalogue {
            self.catalogue.forget();
        }
    }

    /// The issuer's DID document, publishing the keys as they are now.
    pub fn did_document(&self) -> Value {
        web::did_document(
            &self.identity.did,
            &self.issuer.keys().current().published(),
        )
    }

    /// Reads the keys directory again and, when its keys differ from those in use
    /// (`accolade keys rotate` or `retire` ran, here or on another node of a fleet),
    /// signs and publishes with them from now on. Whether anything changed.
    pub fn reload_keys(&self, dir: &Path) -> Result<bool, crate::keyring::Error> {
        let fresh = Keyring::load(dir)?;
        Ok(self.issuer.replace_keys(fresh))
    }

    /// Reads the keys again from where they are kept (a directory, or a fleet's
    /// database) and takes them in when they changed.
    pub async fn reload_keys_from(
        &self,
        source: &KeySource,
    ) -> Result<bool, crate::keyring::Error> {
        let fresh = source.load().await?;
        Ok(self.issuer.replace_keys(fresh))
    }

    /// Sets the connection, time, verification and fetch bounds.
    pub fn set_limits(&mut self, limits: crate::limits::Limits) {
        Arc::make_mut(&mut self.0).limits = limits;
    }

    /// Sets the per-client rate limit.
    pub fn set_rate_limit(&mut self, limit: RateLimit) {
        Arc::make_mut(&mut self.0).rate_limit = limit;
    }

    /// Sets the hosts exempt from the outbound rules (`--allow-http-did-web`): the
    /// verifier gets a fresh client and empty caches.
    /// Sets the networks whose connections name the client in `X-Forwarded-For`
    /// (`--trusted-proxy`).
    pub fn set_trusted_proxies(&mut self, proxies: crate::net::proxy::TrustedProxies) {
        Arc::make_mut(&mut self.0).trusted_proxies = proxies;
    }

    pub fn set_allow_http_did_web(&mut self, hosts: Vec<AllowedHost>) {
        let outbound = Outbound::new(hosts.iter().cloned());
        let services = Arc::make_mut(&mut self.0);
        services.allow_http_did_web = hosts;
        services.verifier = services.verifier.clone().with_fetcher(Arc::new(outbound));
        services.pages = services
            .pages
            .clone()
            .with_verifier(services.verifier.clone());
    }

    /// Replaces how the verifier reaches other hosts (tests: stub fetchers, private
    /// roots, short cache lifetimes).
    pub fn set_remote(&mut self, remote: Arc<crate::verify::Remote>) {
        let services = Arc::make_mut(&mut self.0);
        services.verifier = services.verifier.clone().with_remote(remote);
        services.pages = services
            .pages
            .clone()
            .with_verifier(services.verifier.clone());
    }

    /// Sets how long badge pages reuse a verification (zero: verify on every view).
    pub fn set_page_status_ttl(&mut self, ttl: std::time::Duration) {
        let services = Arc::make_mut(&mut self.0);
        services.pages = services.pages.clone().with_status_ttl(ttl);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_token_matches_only_itself_and_never_prints() {
        let t = AdminToken::new("s3cret-token");
        assert!(t.matches("s3cret-token"));
        assert!(!t.matches("s3cret-tokem"));
        assert!(!t.matches(""));
        assert!(!format!("{t:?}").contains("s3cret"));
    }

    #[test]
    fn token_is_generated_once_with_mode_0600_and_env_wins() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().expect("tmp");
        let (a, src) = load_admin_token(None, dir.path()).expect("generates");
        let TokenSource::File(path) = src else {
            panic!("expected a file");
        };
        assert_eq!(
            std::fs::metadata(&path).expect("meta").mode() & 0o777,
            0o600
        );
        let stored = std::fs::read_to_string(&path).expect("read");
        assert!(a.matches(stored.trim()));
        let (b, _) = load_admin_token(None, dir.path()).expect("reads");
        assert!(b.matches(stored.trim()));
        let (c, src) = load_admin_token(Some("from-env-0123456789"), dir.path()).expect("env");
        assert_eq!(src, TokenSource::Environment);
        assert!(c.matches("from-env-0123456789") && !c.matches(stored.trim()));
        // A token anyone could guess is refused, with the way out.
        let e = load_admin_token(Some("x"), dir.path()).expect_err("short");
        assert!(e.to_string().contains("at least 16"), "{e}");
        std::fs::write(&path, "short\n").expect("write");
        assert!(matches!(
            load_admin_token(None, dir.path()),
            Err(TokenError::TooShort { length: 5, .. })
        ));
    }

    #[test]
    fn rate_limit_parses() {
        assert_eq!("off".parse::<RateLimit>(), Ok(RateLimit::Off));
        assert_eq!("500".parse::<RateLimit>(), Ok(RateLimit::PerSecond(500)));
        assert!("0".parse::<RateLimit>().is_err());
        assert!("fast".parse::<RateLimit>().is_err());
    }
}
