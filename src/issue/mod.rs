//! Issuance: achievements, awards, and turning an award into a signed badge.
//!
//! The signing pipeline for one badge (Open Badges 3.0 §8.2, "JSON Web Token Proof
//! Format"):
//! 1. build the AchievementCredential from the stored award, the revision of the
//!    achievement it was made from, and the issuer Profile (`@context` = VCDM 2.0 then
//!    OB 3.0.3);
//! 2. check it against the OB 3.0 JSON Schema and the rules the schema cannot express;
//! 3. add the registered claims (`iss`, `sub`, `nbf`, `jti`, `exp`);
//! 4. sign as a compact JWS with header `{alg, kid, typ: "JWT"}` only.
//!
//! The second envelope, VC-JOSE-COSE (`typ: vc+jwt`, payload = the credential as is),
//! is produced by [`sign_vc_jose`] for the W3C VC-API.

pub mod achievements;
pub mod clr;
pub mod endorse;
pub mod general;
pub mod offers;
pub mod profile;
pub mod revoke;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::clock::{SharedClock, format_seconds, parse_datetime, whole_seconds};
use crate::did::Did;
use crate::jose::{self, SigningKey, claims, jws};
use crate::keyring::{Keyring, LiveKeys};
use crate::model::schema::{self, Violation};
use crate::model::{
    Achievement, AchievementCredential, AchievementSubject, IdentityObject, Image, OB3_CONTEXT,
    OneOrMany, ProfileRef, VCDM2_CONTEXT, types,
};
use crate::records::{
    AchievementRecord, AchievementRef, AuditEvent, Award, AwardState, IssuedCopy, MailKind,
    OutboxMessage, Recipient, WalletState,
};
use crate::status::{BadgePurposes, LiveLists, StatusPurpose, StatusSlot, StatusUrls};
use crate::store::{
    self, Achievements, AwardFilter, AwardPage, Awards, IssuerProfiles, Offers, Store,
};

pub(crate) use crate::net::validate_http_url;
pub use profile::IssuerProfile;

/// How long an award may stay reserved (its slot taken, not yet signed) before a node
/// of a fleet takes it for the intent of a node that crashed and burns it. Signing
/// takes milliseconds; a node that stalls longer than this loses the award (its
/// request fails, nothing acknowledged is lost).
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(60);
/// How many slots an award tries when other nodes of a fleet keep taking the one it
/// picked (each try knows one more taken slot; a collision is one in thousands).
const SLOT_TRIES: u32 = 32;
/// What can go wrong issuing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{}", crate::model::schema::joined(.0))]
    Schema(Vec<Violation>),
    #[error("{0} not found")]
    NotFound(String),
    #[error("achievement {0} is archived and cannot be awarded")]
    Archived(String),
    #[error("the credential could not be built: {0}")]
    Build(String),
    #[error(transparent)]
    Sign(#[from] jose::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The credential's state forbids the change (suspending a revoked badge).
    #[error("{0}")]
    Conflict(String),
    /// A credential given to be signed breaks the data model or the issuer's rules.
    #[error("{0}")]
    BadCredential(String),
    /// A credential id given to be signed was used already.
    #[error("{0}")]
    Taken(String),
    /// The award's delivery state forbids the request (re-offering an issued badge).
    #[error("{0}")]
    WrongState(String),
    /// A wrong transaction code on the claim page; `left` tries remain.
    #[error("{}", wrong_tx_code(*.left))]
    WrongTxCode { left: u8 },
    /// Too many wrong transaction codes: only an admin re-offer opens the award again.
    #[error("too many wrong codes were tried; ask the issuer to send the badge again")]
    Locked,
    /// `"delivery": "email"` with no SMTP server configured.
    #[error("delivery \"email\" needs an SMTP server: start the service with --smtp-url")]
    MailNotConfigured,
}

fn wrong_tx_code(left: u8) -> String {
    match left {
        0 => {
            "that code is not right, and no tries are left; ask the issuer to send the badge again"
                .into()
        }
        1 => "that code is not right; one try is left".into(),
        n => format!("that code is not right; {n} tries are left"),
    }
}

impl Error {
    pub(crate) fn invalid(field: &str, message: &str) -> Self {
        Error::Invalid {
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// The longest data URI accepted for an image (the badge carries it in every JWT).
const MAX_DATA_URI: usize = 256 * 1024;

/// An OB Image from staff input: a URL, a `data:image/...` URI, or an Image object.
pub(crate) fn image_from_input(v: &Value) -> Result<Image, String> {
    let (id, caption) = match v {
        Value::String(s) => (s.clone(), None),
        Value::Object(o) => {
            if let Some(t) = o.get("type")
                && t != "Image"
            {
                return Err("\"type\" must be \"Image\"".into());
            }
            if let Some(k) = o
                .keys()
                .find(|k| !matches!(k.as_str(), "id" | "type" | "caption"))
            {
                return Err(format!(
                    "an Image has only id, type and caption (not {k:?})"
                ));
            }
            let id = o
                .get("id")
                .and_then(Value::as_str)
                .ok_or("an Image needs an \"id\" (URL or data URI)")?;
            let caption = match o.get("caption") {
                None => None,
                Some(Value::String(c)) => Some(c.clone()),
                Some(_) => return Err("\"caption\" must be a string".into()),
            };
            (id.to_owned(), caption)
        }
        _ => return Err("must be a URL, a data URI or an Image object".into()),
    };
    if let Some(rest) = id.strip_prefix("data:") {
        if !rest.starts_with("image/") {
            return Err("a data URI image must be data:image/...".into());
        }
        if id.len() > MAX_DATA_URI {
            return Err(format!(
                "a data URI image may be at most {MAX_DATA_URI} bytes"
            ));
        }
    } else {
        validate_http_url(&id)?;
    }
    Ok(Image {
        id,
        type_: "Image".into(),
        caption,
    })
}

pub(crate) use crate::records::normalise_email;

/// The OB 3.0 IdentityHash of an e-mail: `sha256$` + hex(SHA-256(email ‖ salt)).
pub fn email_identity_hash(email: &str, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(email.as_bytes());
    h.update(salt.as_bytes());
    format!("sha256${}", hex::encode(h.finalize()))
}

/// The outbox key (idempotency key) of an award's e-mail: one award, one message.
pub fn award_mail_key(award: uuid::Uuid) -> String {
    format!("{award}/award")
}

/// How an award reaches the earner.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Signed at once for `recipient.id`; the response carries the JWT.
    Direct,
    /// Offered to the earner's wallet (OpenID4VCI).
    #[default]
    Offer,
    /// Offered, and the earner is sent the claim link and their manage link by e-mail.
    Email,
}

/// The recipient as the admin API receives it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `POST /api/v1/awards`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardRequest {
    pub achievement_id: String,
    pub recipient: RecipientInput,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_until: Option<String>,
    #[serde(default)]
    pub tx_code: Option<bool>,
    #[serde(default)]
    pub approval_required: Option<bool>,
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// For offers: the OpenID4VCI credential configuration to grant
    /// (`OpenBadgeCredential_jwt_vc_json`, the default, or
    /// `OpenBadgeCredential_jwt_vc_json-ld`).
    #[serde(default)]
    pub credential_configuration_id: Option<String>,
    /// OB Evidence objects (`type` may be left out).
    #[serde(default)]
    pub evidence: Option<Vec<Value>>,
    /// OB Result objects for the subject (`type` may be left out).
    #[serde(default)]
    pub result: Option<Vec<Value>>,
    /// A narrative of how the recipient earned it.
    #[serde(default)]
    pub narrative: Option<String>,
}

/// What an award produced.
#[derive(Debug, Clone)]
pub struct AwardOutcome {
    pub record: Award,
    /// The compact JWT when the award was delivered directly.
    pub credential: Option<String>,
    /// The transaction code, in clear, this once: the record keeps only its digest.
    pub tx_code: Option<String>,
}

/// How badges carry and publish their status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusConfig {
    /// The purposes each badge has an entry for (`--status-purposes`).
    pub purposes: BadgePurposes,
    /// How long verifiers may cache a list: `ttl` (ms) and `Cache-Control` (s).
    pub ttl_seconds: u64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        Self {
            purposes: BadgePurposes::default(),
            ttl_seconds: crate::status::DEFAULT_TTL_SECONDS,
        }
    }
}

/// What the issuer keeps in memory of what the store holds: the profile every badge
/// carries, achievements as they stand, and revisions (which never change).
///
/// Readers fill it; a writer replaces an entry after the store holds the change and
/// bumps `generation`, and a reader keeps what it read only if no write happened
/// since it started reading, so a slow reader never puts back what a writer replaced.
#[derive(Default)]
struct Cache {
    generation: AtomicU64,
    /// The profile as staff set it, and as badges carry it.
    profile: RwLock<Option<(IssuerProfile, Arc<crate::model::Profile>)>>,
    achievements: RwLock<HashMap<Uuid, Arc<AchievementRecord>>>,
    revisions: RwLock<HashMap<AchievementRef, Arc<Achievement>>>,
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

impl Cache {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

type JsonLists = Arc<
    std::sync::Mutex<
        HashMap<(crate::status::StatusPurpose, u32), (String, Arc<crate::status::Published>)>,
    >,
>;

/// The issuing service: everything needed to define achievements and award them.
#[derive(Clone)]
pub struct Issuer {
    awards: Arc<dyn Awards>,
    achievements: Arc<dyn Achievements>,
    profiles: Arc<dyn IssuerProfiles>,
    status_store: Arc<dyn store::StatusLists>,
    offers: Arc<dyn Offers>,
    keys: Arc<LiveKeys>,
    did: Did,
    public_url: url::Url,
    clock: SharedClock,
    lists: Arc<LiveLists>,
    status_urls: StatusUrls,
    status_config: StatusConfig,
    cache: Arc<Cache>,
    /// Orders status changes with their application to the lists in memory, so that
    /// the lists end as the store does when two changes of one award race.
    status_writer: Arc<tokio::sync::Mutex<()>>,
    /// Each list as JSON with a Data Integrity proof, by the ETag of the signed JWT it
    /// was made from (so it is made again exactly when that changes).
    json_lists: JsonLists,
    /// One credential issued as given at a time in this process: the check that its
    /// id is new and its record go together.
    general: Arc<tokio::sync::Mutex<()>>,
    /// Whether an SMTP server is configured (e-mail delivery is possible).
    mail_enabled: bool,
}

/// An award recorded in the store (with its status slot) and not yet answered.
#[derive(Debug)]
pub struct RecordedAward {
    award: Award,
    /// For direct delivery: the checked JWS payload, signed once the record is durable.
    payload: Option<Vec<u8>>,
    /// The transaction code in clear (the record holds its digest).
    tx_code: Option<String>,
}

impl RecordedAward {
    /// The award as written.
    pub fn award(&self) -> &Award {
        &self.award
    }
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("did", &self.did)
            .field("signing_kid", &self.keys.current().signing_kid().to_owned())
            .finish_non_exhaustive()
    }
}

/// The canonical string form of a public URL without a trailing slash.
fn base(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn burned(at: OffsetDateTime, reason: String) -> AuditEvent {
    AuditEvent {
        at,
        action: "burn".into(),
        actor: "system".into(),
        reason: Some(reason),
    }
}

impl Issuer {
    /// Opens the issuer over the store and rebuilds the status lists from it. The
    /// service then calls [`Issuer::recover`]; read-only users (`accolade verify`) do
    /// not.
    pub async fn open(
        store: &Store,
        keys: Arc<LiveKeys>,
        did: Did,
        public_url: url::Url,
        clock: SharedClock,
        status_config: StatusConfig,
    ) -> Result<Self, Error> {
        let state = store.status.status_state().await?;
        let lists = Arc::new(LiveLists::rebuild(
            state.closed_lists,
            state.slots,
            state.bits,
        ));
        Ok(Self {
            awards: store.awards.clone(),
            achievements: store.achievements.clone(),
            profiles: store.profiles.clone(),
            status_store: store.status.clone(),
            offers: store.offers.clone(),
            status_urls: StatusUrls::new(&public_url),
            keys,
            did,
            public_url,
            clock,
            lists,
            status_config,
            cache: Arc::default(),
            status_writer: Arc::default(),
            json_lists: Arc::default(),
            general: Arc::default(),
            mail_enabled: false,
        })
    }

    /// Takes in a change another node of a fleet committed (or anything, after the
    /// notices were interrupted): forgets what the cache held of it, marks slots taken
    /// and applies status bits, so that this node's answers and lists agree with the
    /// store within the notice's delay.
    pub async fn follow(&self, change: &store::Change) -> Result<(), Error> {
        use store::Change;
        match change {
            Change::All => {
                self.forget_cached();
                let state = self.status_store.status_state().await?;
                self.lists
                    .resync(state.closed_lists, state.slots, state.bits);
            }
            Change::Profile => {
                self.cache.changed();
                *write(&self.cache.profile) = None;
            }
            Change::Achievements => {
                self.cache.changed();
                write(&self.cache.achievements).clear();
            }
            Change::Slot(slot) => self.lists.mark_taken(*slot),
            Change::Bit {
                purpose,
                slot,
                value,
            } => {
                let _order = self.status_writer.lock().await;
                self.lists.apply(*purpose, *slot, *value);
            }
            Change::Trust
            | Change::Partners
            | Change::Catalogue
            | Change::Settings
            | Change::Award(_) => {}
        }
        Ok(())
    }

    fn forget_cached(&self) {
        self.cache.changed();
        *write(&self.cache.profile) = None;
        write(&self.cache.achievements).clear();
    }

    /// Says whether an SMTP server is configured (e-mail delivery is refused without).
    pub fn with_mail(mut self, enabled: bool) -> Self {
        self.mail_enabled = enabled;
        self
    }

    /// Whether e-mail delivery is possible.
    pub fn mail_enabled(&self) -> bool {
        self.mail_enabled
    }

    /// Burns the awards a crash left recorded but unsigned. They were never answered,
    /// so nobody holds them; they are removed, and their status slots stay taken so
    /// they are never handed out again. Returns how many there were.
    ///
    /// In a store a fleet shares, another node may be signing right now: only what
    /// was reserved longer than `older_than` ago (a node that never came back) is
    /// burned; pass `None` when the store is this process's alone.
    pub async fn recover(&self, older_than: Option<std::time::Duration>) -> Result<usize, Error> {
        let ids = self.awards.pending_awards(older_than).await?;
        for (id, slot) in &ids {
            let event = burned(
                self.clock.timestamp(),
                "recorded but not signed before the service stopped".into(),
            );
            self.awards.burn_award(*id, *slot, &event).await?;
            tracing::warn!(jti = %format!("urn:uuid:{id}"), "unsigned award from before a crash burned");
        }
        if !ids.is_empty() {
            self.awards.flush().await?;
        }
        Ok(ids.len())
    }

    /// What the verifier reads of this issuer's badges: its lists and awards, no key.
    pub fn local_status(&self) -> Arc<dyn crate::verify::LocalStatus> {
        Arc::new(LocalView {
            awards: self.awards.clone(),
            lists: self.lists.clone(),
            urls: self.status_urls.clone(),
        })
    }

    /// The status lists as they are now.
    pub fn status_lists(&self) -> &Arc<LiveLists> {
        &self.lists
    }

    /// The URLs of the published lists.
    pub fn status_urls(&self) -> &StatusUrls {
        &self.status_urls
    }

    /// How badges carry their status.
    pub fn status_config(&self) -> &StatusConfig {
        &self.status_config
    }

    /// The issuer DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The algorithm of the key that signs (issuer metadata names it).
    pub fn signing_algorithm(&self) -> crate::jose::Algorithm {
        self.keys.current().signing_key().algorithm()
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.timestamp()
    }

    /// The public URL without a trailing slash: the OpenID4VCI Credential Issuer
    /// Identifier.
    pub fn identifier(&self) -> String {
        base(&self.public_url)
    }

    /// The secret earners' manage links are derived under (kept with the keys).
    pub fn link_secret(&self) -> crate::keyring::LinkSecret {
        self.keys.current().link_secret().clone()
    }

    /// The keys it signs with, as they are now.
    pub fn keys(&self) -> &Arc<LiveKeys> {
        &self.keys
    }

    /// Takes in a new set of keys (the keys directory changed): signs with its
    /// signing key from now on, and signs every status list again when next asked
    /// (a list signed by a retired key would no longer verify).
    pub fn replace_keys(&self, fresh: Keyring) -> bool {
        let replaced = self.keys.replace(fresh);
        if replaced {
            self.lists.forget_published();
        }
        replaced
    }

    // ---- profile ----

    /// The issuer profile (the stored one, or the default), read from the store once
    /// and then kept in memory: every badge carries it.
    pub async fn profile(&self) -> Result<IssuerProfile, Error> {
        Ok(self.profiles_now().await?.0)
    }

    /// The issuer Profile as badges carry it (built once per change of the profile).
    pub async fn badge_profile(&self) -> Result<Arc<crate::model::Profile>, Error> {
        Ok(self.profiles_now().await?.1)
    }

    async fn profiles_now(&self) -> Result<(IssuerProfile, Arc<crate::model::Profile>), Error> {
        if let Some(p) = read(&self.cache.profile).as_ref() {
            return Ok(p.clone());
        }
        let generation = self.cache.generation();
        let p = match self.profiles.issuer_profile().await? {
            Some(p) => p,
            None => IssuerProfile::default_for(&self.public_url),
        };
        let both = (p.clone(), Arc::new(p.to_profile(self.did.as_str())));
        if self.cache.generation() == generation {
            *write(&self.cache.profile) = Some(both.clone());
        }
        Ok(both)
    }

    /// What to tell staff while no issuer profile is set (badges then name the
    /// issuer after the public URL's host), or `None` once one is.
    pub async fn profile_warning(&self) -> Result<Option<String>, Error> {
        if self.profiles.issuer_profile().await?.is_some() {
            return Ok(None);
        }
        let name = IssuerProfile::default_for(&self.public_url).name;
        Ok(Some(format!(
            "the issuer profile has no name yet, so badges name the issuer \"{name}\"; set it with PUT /api/v1/issuer {{\"name\": \"...\"}} or on the console's Profile page"
        )))
    }

    /// Replaces the issuer profile; durable when this returns.
    pub async fn set_profile(&self, input: IssuerProfile) -> Result<IssuerProfile, Error> {
        let p = input.validated()?;
        self.profiles.put_issuer_profile(&p).await?;
        self.cache.changed();
        let badge = Arc::new(p.to_profile(self.did.as_str()));
        *write(&self.cache.profile) = Some((p.clone(), badge));
        self.profiles.flush().await?;
        Ok(p)
    }

    // ---- achievements ----

    /// The id URL of an achievement key.
    pub fn achievement_url(&self, key: Uuid) -> String {
        format!("{}/achievements/{key}", base(&self.public_url))
    }

    /// Finds an achievement key from a full id URL or its last segment.
    pub fn achievement_key(&self, id: &str) -> Option<Uuid> {
        let last = id.trim_end_matches('/').rsplit('/').next().unwrap_or(id);
        let key = Uuid::parse_str(last).ok()?;
        // A full URL must be ours.
        if id.contains('/') && id != self.achievement_url(key) {
            return None;
        }
        Some(key)
    }

    /// Creates an achievement from staff input; durable when this returns.
    pub async fn create_achievement(&self, input: &Value) -> Result<AchievementRecord, Error> {
        let key = Uuid::new_v4();
        let achievement = achievements::achievement_from_input(input, &self.achievement_url(key))?;
        let now = self.now();
        let rec = AchievementRecord {
            key,
            revision: AchievementRecord::first_revision(),
            achievement,
            archived: false,
            created_at: now,
            updated_at: now,
        };
        self.achievements.insert_achievement(&rec).await?;
        self.achievements.flush().await?;
        tracing::info!(achievement = %rec.achievement.id, "achievement created");
        Ok(rec)
    }

    /// An achievement as it stands, by id or last segment.
    pub async fn achievement(&self, id: &str) -> Result<Arc<AchievementRecord>, Error> {
        let not_found = || Error::NotFound(format!("achievement {id}"));
        let key = self.achievement_key(id).ok_or_else(not_found)?;
        if let Some(rec) = read(&self.cache.achievements).get(&key) {
            return Ok(rec.clone());
        }
        let generation = self.cache.generation();
        let rec = Arc::new(
            self.achievements
                .achievement(key)
                .await?
                .ok_or_else(not_found)?,
        );
        if self.cache.generation() == generation {
            write(&self.cache.achievements).insert(key, rec.clone());
        }
        Ok(rec)
    }

    /// Every achievement, oldest first.
    pub async fn achievements(&self) -> Result<Vec<AchievementRecord>, Error> {
        Ok(self.achievements.achievements().await?)
    }

    /// The definition an award was made from.
    pub async fn revision(&self, of: AchievementRef) -> Result<Arc<Achievement>, Error> {
        if let Some(a) = read(&self.cache.revisions).get(&of) {
            return Ok(a.clone());
        }
        let a = Arc::new(self.achievements.revision(of).await?.ok_or_else(|| {
            Error::Store(store::Error::Corrupt(
                format!("achievement {} revision {}", of.key, of.revision),
                "missing".into(),
            ))
        })?);
        write(&self.cache.revisions).insert(of, a.clone());
        Ok(a)
    }

    /// Changes an achievement and forgets what the cache held of it.
    async fn change_achievement(
        &self,
        id: &str,
        mut f: impl FnMut(&mut AchievementRecord) -> bool + Send,
    ) -> Result<AchievementRecord, Error> {
        let key = self
            .achievement_key(id)
            .ok_or_else(|| Error::NotFound(format!("achievement {id}")))?;
        let rec = self
            .achievements
            .update_achievement(key, &mut |r: &mut AchievementRecord| Ok(f(r)))
            .await
            .map_err(|e| match e {
                store::Error::Missing(_) => Error::NotFound(format!("achievement {id}")),
                other => other.into(),
            })?;
        self.cache.changed();
        write(&self.cache.achievements).remove(&key);
        // Flush even when nothing changed here: a concurrent change may have written
        // the state read above and not be durable yet.
        self.achievements.flush().await?;
        Ok(rec)
    }

    /// Replaces an achievement's definition: a new revision. Badges already issued keep
    /// what they were signed with, and so do awards not yet claimed; later awards use
    /// the new definition.
    pub async fn update_achievement(
        &self,
        id: &str,
        input: &Value,
    ) -> Result<AchievementRecord, Error> {
        let current = self.achievement(id).await?;
        let achievement =
            achievements::achievement_from_input(input, &self.achievement_url(current.key))?;
        let now = self.now();
        self.change_achievement(id, |rec| {
            if rec.achievement == achievement {
                return false;
            }
            rec.achievement = achievement.clone();
            rec.revision += 1;
            rec.updated_at = now;
            true
        })
        .await
    }

    /// Points an achievement's `image` at `image` (an uploaded image's URL): later awards
    /// carry it; issued badges keep the image they were signed with.
    pub async fn set_achievement_image(
        &self,
        id: &str,
        image: crate::model::Image,
    ) -> Result<AchievementRecord, Error> {
        let now = self.now();
        self.change_achievement(id, |rec| {
            if rec.achievement.image.as_ref() == Some(&image) {
                return false;
            }
            rec.achievement.image = Some(image.clone());
            rec.revision += 1;
            rec.updated_at = now;
            true
        })
        .await
    }

    /// Archives an achievement: it stays readable, but no new awards.
    pub async fn archive_achievement(&self, id: &str) -> Result<AchievementRecord, Error> {
        let now = self.now();
        self.change_achievement(id, |rec| {
            if rec.archived {
                return false;
            }
            rec.archived = true;
            rec.updated_at = now;
            true
        })
        .await
    }

    // ---- awards ----

    /// Step 1 of an award: validates the request and takes a status slot. An offered
    /// award is recorded; a direct one is reserved (its slot taken, its intent marked
    /// pending) and recorded once signed. Nothing is signed yet and nothing is durable:
    /// flush, then [`Issuer::complete_award`].
    pub async fn record_award(&self, req: AwardRequest) -> Result<RecordedAward, Error> {
        let (draft, ach, delivery) = self.draft_award(&req).await?;
        let direct = delivery == Delivery::Direct;
        let now = draft.created_at;
        let mut tries = 0;
        loop {
            // A slot reserved here and not written (the checks below fail) is never
            // used.
            let slot = self.lists.allocate();
            let mut award = draft.clone();
            award.status = Some(slot);
            // Every check of the badge it will become, before anything is written: a
            // bad award fails here, not in the earner's wallet.
            let cred = self
                .credential_of(&award, &ach.achievement, award.recipient.id.as_deref())
                .await?;
            let payload = checked_payload(&cred, true)?;
            match self
                .record_drafted(award, delivery, direct, now, payload)
                .await
            {
                // Another node of a fleet took the slot first (its notice had not
                // reached this one yet): this node now knows it is taken and picks
                // again.
                Err(Error::Store(store::Error::SlotTaken { .. })) if tries < SLOT_TRIES => {
                    tries += 1;
                }
                done => return done,
            }
        }
    }

    /// Every check [`Issuer::record_award`] makes, and nothing written: no status slot
    /// taken, no offer made. A batch previewed this way fails only where something
    /// changed in between (an achievement archived, e-mail turned off).
    pub async fn check_award(&self, req: &AwardRequest) -> Result<(), Error> {
        let (award, ach, _) = self.draft_award(req).await?;
        let cred = self
            .credential_of(&award, &ach.achievement, award.recipient.id.as_deref())
            .await?;
        checked_payload(&cred, true)?;
        Ok(())
    }

    /// The award a request describes, checked, before it has a status slot.
    async fn draft_award(
        &self,
        req: &AwardRequest,
    ) -> Result<(Award, Arc<AchievementRecord>, Delivery), Error> {
        let ach = self
            .achievement(&req.achievement_id)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::invalid(
                    "achievement_id",
                    &format!("no achievement {:?}", req.achievement_id),
                ),
                other => other,
            })?;
        if ach.archived {
            return Err(Error::Archived(ach.achievement.id.clone()));
        }
        let recipient = validate_recipient(&req.recipient)?;
        let delivery = req.delivery.unwrap_or_default();
        if delivery == Delivery::Email {
            if recipient.email.is_none() {
                return Err(Error::invalid(
                    "recipient.email",
                    "e-mail delivery needs the earner's e-mail address",
                ));
            }
            if !self.mail_enabled {
                return Err(Error::MailNotConfigured);
            }
        }
        if delivery == Delivery::Direct && recipient.id.is_none() {
            return Err(Error::invalid(
                "recipient.id",
                "direct delivery signs for the recipient's DID: give recipient.id",
            ));
        }
        let now = self.now();
        let datetime = |field: &str, s: &str| {
            parse_datetime(s).map(whole_seconds).ok_or_else(|| {
                Error::invalid(field, "must be an RFC 3339 date-time with a time zone")
            })
        };
        let valid_from = match &req.valid_from {
            None => now,
            Some(s) => datetime("valid_from", s)?,
        };
        let valid_until = match &req.valid_until {
            None => None,
            Some(s) => {
                let t = datetime("valid_until", s)?;
                if t <= now {
                    return Err(Error::invalid("valid_until", "is in the past"));
                }
                if t <= valid_from {
                    return Err(Error::invalid("valid_until", "must be after valid_from"));
                }
                Some(t)
            }
        };
        let extras = award_extras(req)?;
        let mut salt = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut salt);
        let direct = delivery == Delivery::Direct;
        let mut award = Award {
            // Time-ordered: the store appends new awards where it wrote the last ones.
            id: crate::clock::time_ordered_id(self.clock.now()),
            seq: 0,
            achievement: ach.reference(),
            recipient,
            state: AwardState::Offered,
            salt: hex::encode(salt),
            valid_from,
            valid_until,
            tx_code_required: req.tx_code.unwrap_or(true),
            approval_required: req.approval_required.unwrap_or(false),
            extras,
            issued: Vec::new(),
            revoked: false,
            suspended: false,
            status: None,
            wallet: WalletState::default(),
            created_at: now,
            updated_at: now,
        };
        if let Some(c) = req.credential_configuration_id.as_ref().filter(|_| !direct) {
            if !offers::CONFIGURATIONS.contains(&c.as_str()) {
                return Err(Error::invalid(
                    "credential_configuration_id",
                    &format!("must be one of {}", offers::CONFIGURATIONS.join(", ")),
                ));
            }
            if c != offers::CONFIG_JWT_VC_JSON {
                award.wallet.configuration_id = Some(c.clone());
            }
        }
        Ok((award, ach, delivery))
    }

    /// The rest of [`Issuer::record_award`]: offer, slot and record.
    async fn record_drafted(
        &self,
        mut award: Award,
        delivery: Delivery,
        direct: bool,
        now: OffsetDateTime,
        payload: Vec<u8>,
    ) -> Result<RecordedAward, Error> {
        let slot = award
            .status
            .ok_or_else(|| Error::Build("the award has no status slot".into()))?;
        let mut tx_code = None;
        if !direct {
            award.wallet.offer = Some(self.new_offer());
            award.wallet.claim = Some(crate::records::ClaimLink::Derived);
            if award.tx_code_required {
                let clear = offers::new_tx_code();
                award.wallet.tx_code = Some(self.tx_code_digest(award.id, &clear));
                tx_code = Some(clear);
            }
        }
        if direct {
            self.awards.reserve_award(award.id, slot).await?;
        } else {
            let mail: Vec<OutboxMessage> = match (delivery, &award.recipient.email) {
                (Delivery::Email, Some(to)) => {
                    let mut m = OutboxMessage::new(
                        award_mail_key(award.id),
                        MailKind::Award,
                        to.clone(),
                        now,
                    );
                    m.award = Some(award.id);
                    m.name.clone_from(&award.recipient.name);
                    vec![m]
                }
                _ => Vec::new(),
            };
            let handles = self.award_handles(&award);
            self.awards
                .insert_award(&mut award, &handles, &mail)
                .await?;
        }
        Ok(RecordedAward {
            award,
            payload: direct.then_some(payload),
            tx_code,
        })
    }

    /// What the store keeps of an award's transaction code: an HMAC under the keys
    /// directory's secret, so that the data directory alone does not tell it.
    pub fn tx_code_digest(&self, award: uuid::Uuid, code: &str) -> String {
        let mut msg = award.as_bytes().to_vec();
        msg.extend_from_slice(code.as_bytes());
        format!(
            "{}{}",
            offers::TX_DIGEST_PREFIX,
            self.keys.current().link_secret().derive("tx_code", &msg)
        )
    }

    /// Whether `given` is the award's transaction code `stored` (a digest, or the
    /// code itself in records written before digests), compared in constant time.
    pub fn tx_code_matches(&self, award: uuid::Uuid, stored: &str, given: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        if stored.starts_with(offers::TX_DIGEST_PREFIX) {
            let d = self.tx_code_digest(award, given);
            d.as_bytes().ct_eq(stored.as_bytes()).into()
        } else {
            stored.as_bytes().ct_eq(given.as_bytes()).into()
        }
    }

    /// Step 2, once the reservation is durable: a direct award is signed and recorded
    /// as issued (flush again before answering); an offered one is returned as it is.
    pub async fn complete_award(&self, recorded: RecordedAward) -> Result<AwardOutcome, Error> {
        let RecordedAward {
            mut award,
            payload,
            tx_code,
        } = recorded;
        let mut credential = None;
        if let Some(payload) = payload {
            let keys = self.keys.current();
            let signed = jws::sign_compact(
                keys.signing_key(),
                Some(&self.kid_url_of(&keys)),
                Some(BADGE_TYP),
                &payload,
            );
            let jwt = match signed {
                Ok(j) => j,
                Err(e) => {
                    if let Some(slot) = award.status {
                        let event = burned(self.now(), format!("signing failed: {e}"));
                        self.awards.burn_award(award.id, slot, &event).await?;
                    }
                    return Err(e.into());
                }
            };
            let mut copy = IssuedCopy::new(jwt.clone(), self.kid_url(), self.now());
            copy.subject.clone_from(&award.recipient.id);
            award.issued.push(copy);
            award.state = AwardState::Issued;
            self.awards.record_reserved(&mut award).await?;
            credential = Some(jwt);
        }
        tracing::info!(
            jti = %award.credential_id(),
            achievement = %award.achievement.key,
            state = award.state.as_str(),
            "award recorded"
        );
        crate::metrics::metrics()
            .awards
            .inc(&[if credential.is_some() {
                "direct"
            } else {
                "offer"
            }]);
        Ok(AwardOutcome {
            record: award,
            credential,
            tx_code,
        })
    }

    /// One award, durable when this returns: for a direct award, reserve (slot and
    /// pending mark), flush, sign, record, flush (the intent is durable before
    /// anything is signed); an offered award is recorded and flushed.
    pub async fn award(&self, req: AwardRequest) -> Result<AwardOutcome, Error> {
        let recorded = self.record_award(req).await?;
        if recorded.payload.is_some() {
            self.awards.flush().await?;
        }
        let out = self.complete_award(recorded).await?;
        self.awards.flush().await?;
        Ok(out)
    }

    /// Many awards, each succeeding or failing on its own, with two flushes in all.
    pub async fn award_batch(
        &self,
        reqs: Vec<Result<AwardRequest, Error>>,
    ) -> Result<Vec<Result<AwardOutcome, Error>>, Error> {
        let mut recorded = Vec::with_capacity(reqs.len());
        for r in reqs {
            recorded.push(match r {
                Ok(r) => self.record_award(r).await,
                Err(e) => Err(e),
            });
        }
        if recorded
            .iter()
            .any(|r| r.as_ref().is_ok_and(|r| r.payload.is_some()))
        {
            self.awards.flush().await?;
        }
        let mut out = Vec::with_capacity(recorded.len());
        for r in recorded {
            out.push(match r {
                Ok(r) => self.complete_award(r).await,
                Err(e) => Err(e),
            });
        }
        self.awards.flush().await?;
        Ok(out)
    }

    /// The award pipeline without any flush, for measuring what durability costs.
    pub async fn award_in_memory(&self, req: AwardRequest) -> Result<AwardOutcome, Error> {
        let recorded = self.record_award(req).await?;
        self.complete_award(recorded).await
    }

    /// The DID URL of the signing key.
    pub fn kid_url(&self) -> String {
        self.kid_url_of(&self.keys.current())
    }

    fn kid_url_of(&self, keys: &Keyring) -> String {
        format!("{}#{}", self.did, keys.signing_kid())
    }

    /// The credential of an award made from `achievement`, for `subject_id` (the
    /// recipient's DID, or the wallet key it is bound to).
    async fn credential_of(
        &self,
        award: &Award,
        achievement: &Achievement,
        subject_id: Option<&str>,
    ) -> Result<AchievementCredential, Error> {
        let mut cred = build_credential(
            &*self.badge_profile().await?,
            award,
            achievement,
            subject_id,
        )?;
        if let Some(slot) = award.status {
            set_status(
                &mut cred,
                &self.status_urls,
                slot,
                &self.status_config.purposes,
            )?;
        }
        Ok(cred)
    }

    /// Builds the credential of an award for `subject_id`.
    pub async fn build_credential(
        &self,
        award: &Award,
        subject_id: Option<&str>,
    ) -> Result<AchievementCredential, Error> {
        let achievement = self.revision(award.achievement).await?;
        self.credential_of(award, &achievement, subject_id).await
    }

    /// Builds, checks and signs the badge of an award.
    pub async fn sign_award(
        &self,
        award: &Award,
        subject_id: Option<&str>,
    ) -> Result<String, Error> {
        let cred = self.build_credential(award, subject_id).await?;
        let keys = self.keys.current();
        sign_badge(&cred, keys.signing_key(), &self.kid_url_of(&keys))
    }

    /// An award by credential id (`urn:uuid:...` or the bare uuid). The id of a batch
    /// copy finds the award it belongs to.
    pub async fn credential(&self, id: &str) -> Result<Award, Error> {
        let not_found = || Error::NotFound(format!("credential {id}"));
        let uuid = match parse_credential_id(id) {
            Some(u) => u,
            // A URL id a credential issued through the VC-API carries.
            None if crate::model::vcdm::is_url(id) => general::award_id_for(id),
            None => return Err(not_found()),
        };
        find_award(&*self.awards, uuid).await?.ok_or_else(not_found)
    }

    /// A page of awards, newest first.
    pub async fn credentials(
        &self,
        filter: &AwardFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<AwardPage, Error> {
        Ok(self.awards.awards(filter, limit, cursor).await?)
    }
}

/// What the verifier reads of the badges of the issuer at `public_url` whose store this
/// is, without opening the issuer (no key): for `accolade verify` beside a stopped
/// service.
pub async fn local_status(
    store: &Store,
    public_url: &url::Url,
) -> Result<Arc<dyn crate::verify::LocalStatus>, Error> {
    let state = store.status.status_state().await?;
    Ok(Arc::new(LocalView {
        awards: store.awards.clone(),
        lists: Arc::new(LiveLists::rebuild(
            state.closed_lists,
            state.slots,
            state.bits,
        )),
        urls: StatusUrls::new(public_url),
    }))
}

/// The verifier's view of this issuer: status bits and award states, no key.
#[derive(Clone)]
struct LocalView {
    awards: Arc<dyn Awards>,
    lists: Arc<LiveLists>,
    urls: StatusUrls,
}

impl std::fmt::Debug for LocalView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalView")
            .field("urls", &self.urls)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl crate::verify::LocalStatus for LocalView {
    fn list_of(&self, url: &str) -> Option<(StatusPurpose, u32)> {
        self.urls.parse(url)
    }

    fn bit(&self, purpose: StatusPurpose, slot: StatusSlot) -> Option<bool> {
        self.lists.get(purpose, slot)
    }

    async fn award_flags(&self, credential_id: &str) -> Option<crate::verify::AwardFlags> {
        let id = parse_credential_id(credential_id).or_else(|| {
            // A URL id a credential issued through the VC-API carries.
            crate::model::vcdm::is_url(credential_id).then(|| general::award_id_for(credential_id))
        })?;
        let standing = match find_standing(&*self.awards, id).await {
            Ok(a) => a?,
            Err(e) => {
                tracing::warn!(error = %e, "reading an award for its status failed");
                return None;
            }
        };
        Some(crate::verify::AwardFlags {
            revoked: standing.revoked,
            suspended: standing.suspended,
        })
    }
}

/// [`find_award`]'s flags only.
async fn find_standing(
    awards: &dyn Awards,
    id: Uuid,
) -> Result<Option<store::AwardStanding>, store::Error> {
    if let Some(s) = awards.award_standing(id).await? {
        return Ok(Some(s));
    }
    match awards.award_of_copy(id).await? {
        Some(owner) => awards.award_standing(owner).await,
        None => Ok(None),
    }
}

/// The award a credential id names: the award's own id, or that of one of its batch
/// copies.
async fn find_award(awards: &dyn Awards, id: Uuid) -> Result<Option<Award>, store::Error> {
    if let Some(a) = awards.award(id).await? {
        return Ok(Some(a));
    }
    match awards.award_of_copy(id).await? {
        Some(owner) => awards.award(owner).await,
        None => Ok(None),
    }
}

/// Parses `urn:uuid:<uuid>` or `<uuid>`.
pub fn parse_credential_id(id: &str) -> Option<Uuid> {
    let s = id.strip_prefix("urn:uuid:").unwrap_or(id);
    Uuid::parse_str(s).ok()
}

fn validate_recipient(r: &RecipientInput) -> Result<Recipient, Error> {
    let email = match r.email.as_deref() {
        None => None,
        Some(e) => Some(normalise_email(e).map_err(|m| Error::invalid("recipient.email", &m))?),
    };
    let id = match r.id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) if s.starts_with("did:") => {
            let did: Did = s.parse().map_err(|_| {
                Error::invalid("recipient.id", &format!("{s:?} is not a valid DID"))
            })?;
            if did.method() == "key" {
                crate::did::key::resolve(&did)
                    .map_err(|e| Error::invalid("recipient.id", &e.to_string()))?;
            }
            Some(s.to_owned())
        }
        Some(s) => {
            let u = url::Url::parse(s).map_err(|_| {
                Error::invalid("recipient.id", &format!("{s:?} is neither a DID nor a URI"))
            })?;
            Some(u.to_string())
        }
    };
    if email.is_none() && id.is_none() {
        return Err(Error::invalid(
            "recipient",
            "needs an email or an id (or both)",
        ));
    }
    let name = r
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.chars().count() > 200) {
        return Err(Error::invalid(
            "recipient.name",
            "must be at most 200 characters",
        ));
    }
    Ok(Recipient { name, email, id })
}

/// Refuses members of `v` that are not properties of the OB 3.0 `class` (nor
/// extension terms), naming the first under `field`.
fn strict(class: &str, v: &Value, field: &str) -> Result<(), Error> {
    match crate::model::schema::unknown_members(class, v).first() {
        Some(u) => Err(Error::invalid(field, &u.to_string())),
        None => Ok(()),
    }
}

fn award_extras(req: &AwardRequest) -> Result<Option<Value>, Error> {
    let mut extras = serde_json::Map::new();
    if let Some(ev) = &req.evidence {
        let mut out = Vec::new();
        for (i, e) in ev.iter().enumerate() {
            let mut e = e
                .as_object()
                .cloned()
                .ok_or_else(|| Error::invalid(&format!("evidence[{i}]"), "must be an object"))?;
            e.entry("type").or_insert(json!(["Evidence"]));
            let e = Value::Object(e);
            strict("Evidence", &e, &format!("evidence[{i}]"))?;
            out.push(e);
        }
        extras.insert("evidence".into(), Value::Array(out));
    }
    if let Some(rs) = &req.result {
        let mut out = Vec::new();
        for (i, r) in rs.iter().enumerate() {
            let mut r = r
                .as_object()
                .cloned()
                .ok_or_else(|| Error::invalid(&format!("result[{i}]"), "must be an object"))?;
            r.entry("type").or_insert(json!(["Result"]));
            let r = Value::Object(r);
            strict("Result", &r, &format!("result[{i}]"))?;
            out.push(r);
        }
        extras.insert("result".into(), Value::Array(out));
    }
    if let Some(n) = &req.narrative {
        extras.insert("narrative".into(), json!(n));
    }
    Ok((!extras.is_empty()).then_some(Value::Object(extras)))
}

/// Builds the AchievementCredential of an award made from `achievement` (pure: no
/// I/O, no clock).
pub fn build_credential(
    issuer: &crate::model::Profile,
    record: &Award,
    achievement: &Achievement,
    subject_id: Option<&str>,
) -> Result<AchievementCredential, Error> {
    let mut identifier = Vec::new();
    if let Some(email) = &record.recipient.email {
        identifier.push(IdentityObject {
            type_: "IdentityObject".into(),
            hashed: true,
            identity_hash: email_identity_hash(email, &record.salt),
            identity_type: "emailAddress".into(),
            salt: Some(record.salt.clone()),
        });
    }
    if let Some(name) = &record.recipient.name {
        identifier.push(IdentityObject {
            type_: "IdentityObject".into(),
            hashed: false,
            identity_hash: name.clone(),
            identity_type: "name".into(),
            salt: None,
        });
    }
    let extras = record.extras.as_ref().and_then(Value::as_object);
    let get = |k: &str| extras.and_then(|e| e.get(k)).cloned();
    let bad = |what: &str, e: serde_json::Error| Error::invalid(what, &e.to_string());
    let subject = AchievementSubject {
        id: subject_id.map(str::to_owned),
        type_: types(&["AchievementSubject"]),
        activity_end_date: None,
        activity_start_date: None,
        credits_earned: None,
        achievement: Some(Box::new(achievement.clone())),
        identifier: (!identifier.is_empty()).then_some(identifier),
        image: None,
        license_number: None,
        narrative: get("narrative").and_then(|v| v.as_str().map(str::to_owned)),
        result: get("result")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| bad("result", e))?,
        role: None,
        source: None,
        term: None,
        extra: Default::default(),
    };
    Ok(AchievementCredential {
        context: OneOrMany::Many(vec![json!(VCDM2_CONTEXT), json!(OB3_CONTEXT)]),
        id: record.credential_id(),
        type_: types(&["VerifiableCredential", "OpenBadgeCredential"]),
        name: Some(achievement.name.clone()),
        description: None,
        image: None,
        awarded_date: Some(format_seconds(record.created_at)),
        credential_subject: subject,
        endorsement: None,
        endorsement_jwt: None,
        evidence: get("evidence")
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| bad("evidence", e))?,
        issuer: ProfileRef::Profile(Box::new(issuer.clone())),
        valid_from: Some(format_seconds(record.valid_from)),
        valid_until: record.valid_until.map(format_seconds),
        proof: None,
        credential_schema: None,
        credential_status: None,
        refresh_service: None,
        terms_of_use: None,
        extra: Default::default(),
    })
}

/// Gives a credential its `credentialStatus`: an entry per purpose for `slot`.
pub fn set_status(
    cred: &mut AchievementCredential,
    urls: &StatusUrls,
    slot: StatusSlot,
    purposes: &BadgePurposes,
) -> Result<(), Error> {
    let entries = urls.entries(slot, purposes);
    cred.credential_status =
        Some(serde_json::from_value(entries).map_err(|e| Error::Build(e.to_string()))?);
    Ok(())
}

/// The JOSE `typ` of an OB 3.0 §8.2 badge.
pub const BADGE_TYP: &str = "JWT";
/// The JOSE `typ` of a VC-JOSE-COSE credential.
pub const VC_JWT_TYP: &str = "vc+jwt";

/// Steps 2–4 of the pipeline: schema check, claims, signature.
pub fn sign_badge(
    cred: &AchievementCredential,
    key: &SigningKey,
    kid: &str,
) -> Result<String, Error> {
    let payload = checked_payload(cred, true)?;
    Ok(jws::sign_compact(
        key,
        Some(kid),
        Some(BADGE_TYP),
        &payload,
    )?)
}

/// Steps 2 and 3: the schema-checked JWS payload of a credential, ready to sign; with
/// the OB 3.0 §8.2.4 claims added when `add_claims` (VC-JOSE-COSE adds none).
fn checked_payload(cred: &AchievementCredential, add_claims: bool) -> Result<Vec<u8>, Error> {
    let mut v = serde_json::to_value(cred).map_err(|e| Error::Build(e.to_string()))?;
    schema::check_credential(&v).map_err(Error::Schema)?;
    if add_claims {
        let map = v
            .as_object_mut()
            .ok_or_else(|| Error::Build("credential is not an object".into()))?;
        claims::add_jwt_claims(map).map_err(|e| Error::Build(e.to_string()))?;
    }
    let payload = serde_json::to_vec(&v).map_err(|e| Error::Build(e.to_string()))?;
    check_payload_size(&payload)?;
    Ok(payload)
}

/// Every check of [`sign_badge`], without the signature: for awards that will be
/// signed later, so that a bad award fails when it is made.
pub fn check_unsigned(cred: &AchievementCredential) -> Result<(), Error> {
    checked_payload(cred, true).map(|_| ())
}

/// Refuses to sign what no verifier (ours included) would accept: a JWT over
/// [`jws::MAX_TOKEN_LEN`].
fn check_payload_size(payload: &[u8]) -> Result<(), Error> {
    // base64url grows 4/3; the header and signature need well under 2 KiB.
    let jwt_len = payload.len().div_ceil(3) * 4 + 2048;
    if jwt_len > jws::MAX_TOKEN_LEN {
        return Err(Error::Build(format!(
            "the signed badge would be about {jwt_len} bytes, over the {} byte limit verifiers apply; shorten the achievement (large data-URI images belong at a URL)",
            jws::MAX_TOKEN_LEN
        )));
    }
    Ok(())
}

/// The VC-JOSE-COSE envelope (§3.1.1): header `{alg, kid, typ: "vc+jwt"}`, payload the
/// credential itself with no claims added.
pub fn sign_vc_jose(
    cred: &AchievementCredential,
    key: &SigningKey,
    kid: &str,
) -> Result<String, Error> {
    let payload = checked_payload(cred, false)?;
    Ok(jws::sign_compact(
        key,
        Some(kid),
        Some(VC_JWT_TYP),
        &payload,
    )?)
}

/// An Achievement for tests and benchmarks.
pub fn sample_achievement(id: &str) -> Achievement {
    achievements::achievement_from_input(
        &json!({
            "name": "Cloud Architect — Proficiency",
            "description": "Designs resilient, secure and cost-aware cloud architectures.",
            "criteria": {"narrative": "Passed the proctored architecture exam and a design review."},
            "achievementType": "Certification",
            "tag": ["cloud", "architecture"],
            "alignment": [{"targetName": "Cloud architecture", "targetUrl": "https://example.org/framework/cloud-arch", "targetType": "CFItem"}],
            "inLanguage": "en"
        }),
        id,
    )
    .unwrap_or_else(|e| unreachable!("the sample achievement is valid: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, jws::CompactJws};

    fn record() -> Award {
        Award {
            id: Uuid::parse_str("6f1c8f39-5a3e-4c58-9a69-2f1b7f2c6a11").expect("uuid"),
            seq: 1,
            achievement: AchievementRef {
                key: Uuid::nil(),
                revision: 1,
            },
            recipient: Recipient {
                name: Some("Ada Lovelace".into()),
                email: Some("ada@example.org".into()),
                id: Some("did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi".into()),
            },
            state: AwardState::Offered,
            salt: "00112233".into(),
            valid_from: crate::clock::from_unix(1_767_225_600),
            valid_until: Some(crate::clock::from_unix(1_830_297_600)),
            tx_code_required: true,
            approval_required: false,
            extras: Some(
                json!({"evidence": [{"type": ["Evidence"], "id": "https://x.example/e/1", "name": "Exam"}]}),
            ),
            issued: vec![],
            revoked: false,
            suspended: false,
            status: None,
            wallet: Default::default(),
            created_at: crate::clock::from_unix(1_767_225_600),
            updated_at: crate::clock::from_unix(1_767_225_600),
        }
    }

    fn achievement() -> Achievement {
        sample_achievement("https://badges.example.edu/achievements/1")
    }

    fn issuer_profile() -> crate::model::Profile {
        IssuerProfile {
            name: "Example Academy".into(),
            url: Some("https://badges.example.edu".into()),
            ..Default::default()
        }
        .to_profile("did:web:badges.example.edu")
    }

    #[test]
    fn email_hash_is_sha256_of_email_and_salt_in_lowercase_hex() {
        // sha256("ada@example.org" + "salt")
        let h = email_identity_hash("ada@example.org", "salt");
        let expected = hex::encode(Sha256::digest(b"ada@example.orgsalt"));
        assert_eq!(h, format!("sha256${expected}"));
    }

    #[test]
    fn signed_badge_has_the_exact_section_8_2_shape() {
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let cred = build_credential(
            &issuer_profile(),
            &record(),
            &achievement(),
            record().recipient.id.as_deref(),
        )
        .expect("builds");
        let kid = format!("did:web:badges.example.edu#{}", key.id());
        let jwt = sign_badge(&cred, &key, &kid).expect("signs");
        let p = CompactJws::parse(&jwt).expect("parses");
        let mut header_keys: Vec<&String> = p.header().keys().collect();
        header_keys.sort();
        assert_eq!(header_keys, ["alg", "kid", "typ"]);
        assert_eq!(p.typ(), Some("JWT"));
        assert_eq!(p.kid(), Some(kid.as_str()));
        p.verify(key.public_jwk()).expect("verifies");
        let payload = p.payload_json().expect("json");
        assert_eq!(payload["@context"], json!([VCDM2_CONTEXT, OB3_CONTEXT]));
        assert_eq!(payload["iss"], json!("did:web:badges.example.edu"));
        assert_eq!(payload["sub"], payload["credentialSubject"]["id"]);
        assert_eq!(
            payload["jti"],
            json!("urn:uuid:6f1c8f39-5a3e-4c58-9a69-2f1b7f2c6a11")
        );
        assert_eq!(payload["nbf"], json!(1_767_225_600));
        assert_eq!(payload["exp"], json!(1_830_297_600));
        assert!(claims::check_jwt_claims(&payload).is_empty());
        let ids = &payload["credentialSubject"]["identifier"];
        assert_eq!(ids[0]["identityType"], json!("emailAddress"));
        assert_eq!(
            ids[0]["identityHash"],
            json!(email_identity_hash("ada@example.org", "00112233"))
        );
        assert_eq!(ids[1]["identityHash"], json!("Ada Lovelace"));
        schema::check_credential(&Value::Object(claims::strip_jwt_claims(&payload)))
            .expect("schema-valid");
    }

    #[test]
    fn vc_jose_envelope_is_typed_vc_jwt_and_carries_the_bare_credential() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let cred =
            build_credential(&issuer_profile(), &record(), &achievement(), None).expect("builds");
        let jwt = sign_vc_jose(&cred, &key, "did:web:badges.example.edu#k").expect("signs");
        let p = CompactJws::parse(&jwt).expect("parses");
        assert_eq!(p.typ(), Some("vc+jwt"));
        let payload = p.payload_json().expect("json");
        assert!(payload.get("iss").is_none() && payload.get("nbf").is_none());
        assert_eq!(
            Value::Object(payload),
            serde_json::to_value(&cred).expect("json")
        );
    }

    #[test]
    fn a_credential_that_breaks_the_schema_is_never_signed() {
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let mut r = record();
        r.recipient = Recipient::default();
        let cred = build_credential(&issuer_profile(), &r, &achievement(), None).expect("builds");
        let err = sign_badge(&cred, &key, "did:web:x#k").expect_err("refused");
        assert!(matches!(err, Error::Schema(_)), "{err}");
    }

    #[test]
    fn email_normalisation() {
        assert_eq!(
            normalise_email(" Ada@Example.ORG ").expect("ok"),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "@x.org",
            "ada@",
            "ada@x",
            "a b@x.org",
            "a@b@x.org",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad}");
        }
    }
}
