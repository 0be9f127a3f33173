//! Staff: accounts with roles, signing in (password, optional TOTP), server-side
//! sessions with CSRF tokens, sign-in throttling, personal API tokens, invitations and
//! password resets, and the audit trail of what staff did.
//!
//! - **Passwords**: Argon2id ([`password`] states the parameters), at least 12
//!   characters. An unknown e-mail address costs the same hash as a known one.
//! - **Second factor**: RFC 6238 TOTP ([`totp`]); a member sets it up and confirms it
//!   with a first code; an owner may require it of everyone, and a member without it
//!   then signs in to a session that can only set it up.
//! - **Sessions** live in the store under the SHA-256 digest of the cookie's value
//!   (256 random bits); a session ends after [`SESSION_IDLE`] without use, after
//!   [`SESSION_MAX`] in any case, on sign-out, and when its member's password changes
//!   or the member is removed. Each session has its own CSRF token.
//! - **Throttling**: failed sign-ins slow down the address they come from and the
//!   account they name, each with a delay that doubles after [`FREE_FAILURES`]
//!   failures (capped at [`ADDRESS_DELAY_MAX`] and [`ACCOUNT_DELAY_MAX`]). There is no
//!   lock: the account delay is short, and it never applies to a browser where the
//!   member signed in before (it holds a device cookie), so a stranger guessing at the
//!   owner's account cannot keep the owner out.
//! - **Personal API tokens** (`acc_staff_` + 256 random bits) are shown once and kept
//!   as SHA-256 digests; they act with their member's role, now, not as it was.
//! - **Links** (invitations, resets) are single-use and expire; the secret part is an
//!   HMAC of the link's id under the link secret, so the store holds nothing that
//!   opens one.

pub mod password;
pub mod totp;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::keyring::LinkSecret;
use crate::records::{
    AuditRecord, LinkPurpose, MailKind, OutboxMessage, PersonalToken, Role, SecuritySettings,
    SessionRecord, StaffLink, StaffRecord, TotpState,
};
use crate::store::{self, AuditFilter, AuditLog, Outbox};

/// A session ends after this long without a request.
pub const SESSION_IDLE: Duration = Duration::hours(2);
/// ... and this long after sign-in in any case.
pub const SESSION_MAX: Duration = Duration::hours(12);
/// How long an invitation link stays open.
pub const INVITATION_TTL: Duration = Duration::days(7);
/// How long a password-reset link stays open.
pub const RESET_TTL: Duration = Duration::hours(1);
/// Failed sign-ins allowed before delays start (per address, per account).
pub const FREE_FAILURES: u32 = 5;
/// The longest delay for one address.
pub const ADDRESS_DELAY_MAX: Duration = Duration::minutes(15);
/// The longest delay for one account (from browsers it was never signed in on).
pub const ACCOUNT_DELAY_MAX: Duration = Duration::seconds(60);
/// The prefix of personal API tokens.
pub const TOKEN_PREFIX: &str = "acc_staff_";
/// The most tokens one member may hold.
const MAX_TOKENS: usize = 50;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("{0}")]
    Password(#[from] password::Error),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Wrong e-mail address or password (which one is not said).
    #[error("the e-mail address or the password is not right")]
    BadCredentials,
    /// The account has a second factor and no code was given.
    #[error("enter the 6-digit code from your authenticator app")]
    TotpRequired,
    #[error("that authenticator code is not right")]
    TotpWrong,
    /// Too many failed sign-ins: wait this many seconds.
    #[error("too many failed sign-ins; try again in {0} s")]
    Throttled(u64),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A link that is unknown, forged, used or expired.
    #[error("this link is not valid any more; ask for a new one")]
    LinkInvalid,
}

impl Error {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// How a request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    AdminToken,
    PersonalToken,
    /// A session: the cookie's digest, its CSRF token, and whether it may only set up
    /// a second factor.
    Session {
        digest: [u8; 32],
        csrf: String,
        totp_setup_required: bool,
    },
}

impl Via {
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::AdminToken => "admin_token",
            Via::PersonalToken => "personal_token",
            Via::Session { .. } => "session",
        }
    }
}

/// Who is acting: a staff member, or the holder of the admin token (an owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The member; none for the admin token.
    pub member: Option<Uuid>,
    /// The e-mail address, or `admin token`.
    pub actor: String,
    pub name: Option<String>,
    pub role: Role,
    pub via: Via,
}

impl Principal {
    /// The admin token's principal.
    pub fn admin_token() -> Self {
        Self {
            member: None,
            actor: "admin token".into(),
            name: None,
            role: Role::Owner,
            via: Via::AdminToken,
        }
    }

    fn of(member: &StaffRecord, via: Via) -> Self {
        Self {
            member: Some(member.id),
            actor: member.email.clone(),
            name: Some(member.name.clone()),
            role: member.role,
            via,
        }
    }

    /// Whether this principal may do what `needed` may.
    pub fn may(&self, needed: Role) -> bool {
        self.role >= needed
    }
}

/// A new session: the cookie value (shown once), its CSRF token, and the member.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub cookie: String,
    pub csrf: String,
    pub member: StaffRecord,
    /// The device cookie to set (proves later that this browser signed in before).
    pub device: String,
    pub totp_setup_required: bool,
}

/// A new personal token, its value shown once.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub token: String,
    pub record: PersonalToken,
}

/// Failed sign-ins counted for one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    until: OffsetDateTime,
    last: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ThrottleKey {
    /// Sign-ins from an address (an IPv6 client by its /64).
    Address(IpAddr),
    /// Sign-ins and password checks of an account.
    Account(String),
    /// Password-reset requests from an address (apart from sign-ins, so that asking
    /// for resets never slows anyone's sign-in).
    Reset(IpAddr),
}

/// An address as throttles count it: IPv6 clients by their /64 (one host has them
/// all), IPv4-mapped ones as IPv4.
fn client(ip: IpAddr) -> IpAddr {
    crate::net::addr::client_prefix(ip, 64)
}

/// Keys the throttle remembers at most; beyond, entries not now delaying anyone go.
const THROTTLE_KEYS: usize = 100_000;

/// The sign-in throttle: in memory for one process, in the store for a fleet (every
/// node counts the same failures).
#[derive(Default)]
struct Throttle {
    map: Mutex<HashMap<ThrottleKey, Failures>>,
    shared: Option<Arc<dyn store::SharedLimits>>,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("shared", &self.shared.is_some())
            .finish_non_exhaustive()
    }
}

impl ThrottleKey {
    /// The key a fleet's store keeps it under.
    fn shared_key(&self) -> String {
        match self {
            ThrottleKey::Address(ip) => format!("sign-in address {ip}"),
            ThrottleKey::Account(email) => format!("sign-in account {email}"),
            ThrottleKey::Reset(ip) => format!("reset address {ip}"),
        }
    }
}

/// Charges one failure in the in-memory throttle, keeping it bounded.
fn charge_in(
    map: &mut HashMap<ThrottleKey, Failures>,
    key: ThrottleKey,
    now: OffsetDateTime,
    cap: Duration,
) {
    if map.len() >= THROTTLE_KEYS {
        // Forget failures nobody repeated for a day, then any not delaying now.
        map.retain(|_, f| now - f.last < Duration::days(1));
        if map.len() >= THROTTLE_KEYS {
            map.retain(|_, f| f.until > now);
        }
    }
    let f = failed_once_more(map.get(&key).copied(), now, cap);
    map.insert(key, f);
}

/// Failures after one more (a day without failures starts the count again).
fn failed_once_more(f: Option<Failures>, now: OffsetDateTime, cap: Duration) -> Failures {
    let mut f = f.unwrap_or(Failures {
        count: 0,
        until: now,
        last: now,
    });
    if now - f.last > Duration::days(1) {
        f.count = 0;
    }
    f.count += 1;
    f.last = now;
    if f.count > FREE_FAILURES {
        let exp = (f.count - FREE_FAILURES - 1).min(20);
        let delay = Duration::seconds(1i64 << exp).min(cap);
        f.until = now + delay;
    }
    f
}

impl Failures {
    /// The seconds (at least one) an attempt must wait at `now`, if it must.
    fn waits(&self, now: OffsetDateTime) -> Option<u64> {
        (self.until > now).then(|| (self.until - now).whole_seconds().max(1) as u64)
    }
}

/// Failures with one charge taken back.
fn refunded(mut f: Failures, now: OffsetDateTime) -> Failures {
    f.count = f.count.saturating_sub(1);
    if f.count <= FREE_FAILURES {
        f.until = now;
    }
    f
}

fn to_record(f: Failures) -> store::ThrottleRecord {
    store::ThrottleRecord {
        count: f.count,
        until: f.until.unix_timestamp(),
        last: f.last.unix_timestamp(),
    }
}

fn from_record(r: store::ThrottleRecord) -> Failures {
    Failures {
        count: r.count,
        until: crate::clock::from_unix(r.until),
        last: crate::clock::from_unix(r.last),
    }
}

impl Throttle {
    fn shared(shared: Option<Arc<dyn store::SharedLimits>>) -> Self {
        Self {
            map: Mutex::default(),
            shared,
        }
    }

    /// Seconds to wait, if any.
    async fn wait(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<Option<u64>, Error> {
        let f = match &self.shared {
            Some(s) => s.throttle(&key.shared_key()).await?.map(from_record),
            None => self
                .map
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(key)
                .copied(),
        };
        Ok(f.and_then(|f| f.waits(now)))
    }

    async fn fail(
        &self,
        key: ThrottleKey,
        now: OffsetDateTime,
        cap: Duration,
    ) -> Result<(), Error> {
        if let Some(s) = &self.shared {
            s.change_throttle(&key.shared_key(), &mut |r| {
                Some(to_record(failed_once_more(r.map(from_record), now, cap)))
            })
            .await?;
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        charge_in(&mut map, key, now, cap);
        Ok(())
    }

    /// Charges an attempt unless the key waits now, in one step (parallel attempts
    /// each see the others' charges, on every node): `Some(seconds to wait)` when it
    /// waits, and then nothing is charged.
    async fn try_charge(
        &self,
        key: &ThrottleKey,
        now: OffsetDateTime,
        cap: Duration,
    ) -> Result<Option<u64>, Error> {
        if let Some(s) = &self.shared {
            let mut wait = None;
            s.change_throttle(&key.shared_key(), &mut |r| {
                let f = r.map(from_record);
                wait = f.and_then(|f| f.waits(now));
                match wait {
                    Some(_) => r,
                    None => Some(to_record(failed_once_more(f, now, cap))),
                }
            })
            .await?;
            return Ok(wait);
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = map.get(key).and_then(|f| f.waits(now)) {
            return Ok(Some(w));
        }
        charge_in(&mut map, key.clone(), now, cap);
        Ok(None)
    }

    /// Takes back one charge (a right password that still needs its second factor).
    async fn refund(&self, key: &ThrottleKey, now: OffsetDateTime) -> Result<(), Error> {
        if let Some(s) = &self.shared {
            s.change_throttle(&key.shared_key(), &mut |r| {
                r.map(|r| to_record(refunded(from_record(r), now)))
            })
            .await?;
            return Ok(());
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = map.get_mut(key) {
            *f = refunded(*f, now);
        }
        Ok(())
    }

    async fn clear(&self, key: &ThrottleKey) -> Result<(), Error> {
        if let Some(s) = &self.shared {
            s.change_throttle(&key.shared_key(), &mut |_| None).await?;
            return Ok(());
        }
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        Ok(())
    }
}

/// Normalises an e-mail address for accounts: the shape every address the service
/// keeps has ([`crate::records::normalise_email`]), and none of the characters that
/// would need quoting in a mail header (`<>,;"()[]\`).
pub fn normalise_email(s: &str) -> Result<String, Error> {
    crate::records::normalise_email(s)
        .ok()
        .filter(|e| !e.contains(['<', '>', ',', ';', '"', '(', ')', '[', ']', '\\']))
        .ok_or_else(|| Error::invalid("email", "is not an e-mail address"))
}

fn check_name(name: &str) -> Result<String, Error> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(Error::invalid("name", "give a name of 1 to 200 characters"));
    }
    Ok(n.to_owned())
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    crate::jose::b64(b)
}

/// The SHA-256 digest under which a session or token is kept.
pub fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

const LINK_PURPOSE: &str = "accolade staff link";
const DEVICE_PURPOSE: &str = "accolade staff device";

/// Staff accounts and everything about signing in.
#[derive(Clone)]
pub struct Staff {
    store: Arc<dyn store::Staff>,
    audit: Arc<dyn AuditLog>,
    outbox: Arc<dyn Outbox>,
    secret: LinkSecret,
    clock: SharedClock,
    /// The public URL (links point under it).
    base: String,
    throttle: Arc<Throttle>,
    /// Password hashes computed at once (each takes 19 MiB and a core for a while).
    hashing: Arc<tokio::sync::Semaphore>,
    /// Orders changes that could leave no owner.
    owners_lock: Arc<tokio::sync::Mutex<()>>,
    /// Whether e-mail can be sent (invitations and resets are then mailed).
    mail_enabled: bool,
    /// Wakes the mail worker.
    mail_bell: Option<Arc<tokio::sync::Notify>>,
}

impl std::fmt::Debug for Staff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staff").finish_non_exhaustive()
    }
}

impl Staff {
    pub fn new(
        store: &store::Store,
        secret: LinkSecret,
        public_url: &url::Url,
        clock: SharedClock,
    ) -> Self {
        Self {
            store: store.staff.clone(),
            audit: store.audit.clone(),
            outbox: store.outbox.clone(),
            secret,
            clock,
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            throttle: Arc::new(Throttle::shared(store.limits.clone())),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            )),
            owners_lock: Arc::default(),
            mail_enabled: false,
            mail_bell: None,
        }
    }

    /// Checks a password against a hash off the async workers, a few at a time.
    async fn verify_password(&self, password: &str, phc: String) -> bool {
        let Ok(_permit) = self.hashing.acquire().await else {
            return false;
        };
        let pw = password.to_owned();
        tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
            .await
            .unwrap_or(false)
    }

    /// Says whether e-mail can be sent.
    pub fn with_mail(mut self, enabled: bool) -> Self {
        self.mail_enabled = enabled;
        self
    }

    /// Shares the mail worker's bell: messages queued here wake it.
    pub fn with_mail_bell(mut self, bell: Arc<tokio::sync::Notify>) -> Self {
        self.mail_bell = Some(bell);
        self
    }

    fn wake_mail(&self) {
        if let Some(b) = &self.mail_bell {
            b.notify_one();
        }
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.timestamp()
    }

    async fn flush(&self) -> Result<(), Error> {
        Ok(self.store.flush().await?)
    }

    // ---- the audit trail ----

    /// Appends to the audit trail and makes it durable.
    pub async fn record(&self, mut r: AuditRecord) -> Result<(), Error> {
        self.audit.append_audit(&mut r).await?;
        self.audit.flush().await?;
        Ok(())
    }

    /// An audit entry made now.
    pub fn entry(
        &self,
        who: Option<&Principal>,
        action: &str,
        target: Option<String>,
        address: Option<IpAddr>,
    ) -> AuditRecord {
        AuditRecord {
            seq: 0,
            at: self.now(),
            actor: who.map_or_else(|| "anonymous".to_owned(), |p| p.actor.clone()),
            actor_id: who.and_then(|p| p.member),
            via: who.map(|p| p.via.as_str().to_owned()),
            action: action.to_owned(),
            target,
            address: address.map(|a| a.to_string()),
            status: None,
            detail: None,
        }
    }

    /// An audit entry of a member acting by a means that is not a principal yet (a
    /// sign-in, a link).
    fn member_entry(
        &self,
        member: &StaffRecord,
        action: &str,
        target: Option<String>,
        address: Option<IpAddr>,
        via: &str,
    ) -> AuditRecord {
        let mut e = self.entry(None, action, target, address);
        e.actor.clone_from(&member.email);
        e.actor_id = Some(member.id);
        e.via = Some(via.to_owned());
        e
    }

    /// The trail, newest first.
    pub async fn audit_log(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<Vec<AuditRecord>, Error> {
        Ok(self.audit.audit_log(filter, limit, cursor).await?)
    }

    // ---- accounts ----

    pub async fn members(&self) -> Result<Vec<StaffRecord>, Error> {
        Ok(self.store.staff_members().await?)
    }

    pub async fn member(&self, id: Uuid) -> Result<StaffRecord, Error> {
        self.store
            .staff_member(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("staff member {id}")))
    }

    /// A member by id (its last segment) or e-mail address.
    pub async fn find(&self, key: &str) -> Result<StaffRecord, Error> {
        if let Ok(id) = Uuid::parse_str(key.trim()) {
            return self.member(id).await;
        }
        let email =
            normalise_email(key).map_err(|_| Error::NotFound(format!("staff member {key:?}")))?;
        self.store
            .staff_by_email(&email)
            .await?
            .ok_or_else(|| Error::NotFound(format!("staff member {email}")))
    }

    /// Adds an account. With a password it can sign in at once; without, it gets an
    /// invitation link (returned, and e-mailed when mail is configured).
    pub async fn add(
        &self,
        email: &str,
        name: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<(StaffRecord, Option<String>), Error> {
        let email = normalise_email(email)?;
        let name = check_name(name)?;
        let hash = password.map(password::hash).transpose()?;
        let now = self.now();
        let member = StaffRecord {
            id: crate::clock::time_ordered_id(now),
            email,
            name,
            role,
            password: hash,
            totp: None,
            created_at: now,
            updated_at: now,
            last_sign_in: None,
        };
        self.store
            .insert_staff(&member)
            .await
            .map_err(|e| match e {
                store::Error::Refused(m) => Error::Conflict(m),
                other => other.into(),
            })?;
        let link = if password.is_none() {
            Some(self.issue_link(&member, LinkPurpose::Invitation).await?)
        } else {
            None
        };
        self.flush().await?;
        Ok((member, link))
    }

    /// How many owners there are.
    async fn owners(&self) -> Result<usize, Error> {
        Ok(self
            .members()
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner && m.password.is_some())
            .count())
    }

    /// Changes a member's name or role; the last owner stays an owner.
    pub async fn update(
        &self,
        id: Uuid,
        name: Option<&str>,
        role: Option<Role>,
    ) -> Result<StaffRecord, Error> {
        let name = name.map(check_name).transpose()?;
        let _owners = self.owners_lock.lock().await;
        let current = self.member(id).await?;
        if current.role == Role::Owner
            && current.password.is_some()
            && role.is_some_and(|r| r != Role::Owner)
            && self.owners().await? <= 1
        {
            return Err(Error::Conflict(
                "this is the only owner; make someone else an owner first".into(),
            ));
        }
        let now = self.now();
        let rec = self
            .store
            .update_staff(id, &mut |m| {
                let mut changed = false;
                if let Some(n) = &name
                    && &m.name != n
                {
                    m.name.clone_from(n);
                    changed = true;
                }
                if let Some(r) = role
                    && m.role != r
                {
                    m.role = r;
                    changed = true;
                }
                if changed {
                    m.updated_at = now;
                }
                Ok(changed)
            })
            .await?;
        self.flush().await?;
        Ok(rec)
    }

    /// Removes a member (their sessions and tokens end); never the last owner.
    pub async fn remove(&self, id: Uuid) -> Result<StaffRecord, Error> {
        let _owners = self.owners_lock.lock().await;
        let member = self.member(id).await?;
        if member.role == Role::Owner && member.password.is_some() && self.owners().await? <= 1 {
            return Err(Error::Conflict(
                "this is the only owner; make someone else an owner first".into(),
            ));
        }
        self.store.remove_staff(id).await?;
        self.flush().await?;
        Ok(member)
    }

    // ---- signing in ----

    /// The device cookie value for a member: proves a browser signed in before.
    fn device_value(&self, member: Uuid) -> String {
        format!(
            "{member}.{}",
            self.secret.derive(DEVICE_PURPOSE, member.as_bytes())
        )
    }

    fn known_device(&self, member: Uuid, device: Option<&str>) -> bool {
        device.is_some_and(|d| {
            let want = self.device_value(member);
            d.len() == want.len() && bool::from(d.as_bytes().ct_eq(want.as_bytes()))
        })
    }

    /// Signs in with e-mail and password (and a TOTP code when the account has one).
    /// `device` is the device cookie the browser sent, if any.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        code: Option<&str>,
        address: Option<IpAddr>,
        device: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let now = self.now();
        let Ok(email) = normalise_email(email) else {
            // Not an address: no account has it. Cost the same hash, remember nothing.
            let _ = self
                .verify_password(password, password::dummy_hash().to_owned())
                .await;
            return Err(Error::BadCredentials);
        };
        let addr_key = address.map(|a| ThrottleKey::Address(client(a)));
        let acct_key = ThrottleKey::Account(email.clone());
        let member = self.store.staff_by_email(&email).await?;
        // A browser where this member signed in before is never slowed down: a
        // stranger's guesses cannot keep the member out.
        let known = member
            .as_ref()
            .is_some_and(|m| self.known_device(m.id, device));
        // Counted before the (slow) check, each key checked and charged in one step,
        // so that parallel guesses (on any node) meet the delay too; a success clears
        // it.
        if !known {
            let keys = addr_key
                .iter()
                .map(|k| (k, ADDRESS_DELAY_MAX))
                .chain([(&acct_key, ACCOUNT_DELAY_MAX)]);
            let mut charged = Vec::new();
            for (k, cap) in keys {
                if let Some(w) = self.throttle.try_charge(k, now, cap).await? {
                    for c in charged {
                        self.throttle.refund(c, now).await?;
                    }
                    return Err(Error::Throttled(w));
                }
                charged.push(k);
            }
        }
        let charge = || async {
            if !known {
                if let Some(k) = addr_key.clone() {
                    self.throttle.fail(k, now, ADDRESS_DELAY_MAX).await?;
                }
                self.throttle
                    .fail(acct_key.clone(), now, ACCOUNT_DELAY_MAX)
                    .await?;
            }
            Ok::<(), Error>(())
        };
        let phc = member
            .as_ref()
            .and_then(|m| m.password.clone())
            .unwrap_or_else(|| password::dummy_hash().to_owned());
        let ok = self.verify_password(password, phc).await;
        let Some(member) = member.filter(|m| ok && m.password.is_some()) else {
            let mut e = self.entry(None, "auth.sign_in_failed", None, address);
            e.actor = email.clone();
            self.record(e).await?;
            return Err(Error::BadCredentials);
        };
        if member.has_totp() {
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                if !known {
                    for k in addr_key.iter().chain([&acct_key]) {
                        self.throttle.refund(k, now).await?;
                    }
                }
                return Err(Error::TotpRequired);
            };
            if !self.spend_totp(&member, code).await? {
                charge().await?;
                let mut e = self.entry(None, "auth.totp_failed", None, address);
                e.actor = email.clone();
                self.record(e).await?;
                return Err(Error::TotpWrong);
            }
        }
        if let Some(k) = &addr_key {
            self.throttle.clear(k).await?;
        }
        self.throttle.clear(&acct_key).await?;
        let settings = self.store.security_settings().await?;
        let setup = settings.require_totp && !member.has_totp();
        let member = self
            .store
            .update_staff(member.id, &mut |m| {
                m.last_sign_in = Some(now);
                if password::needs_rehash(m.password.as_deref().unwrap_or_default())
                    && let Ok(h) = password::hash(password)
                {
                    m.password = Some(h);
                }
                Ok(true)
            })
            .await?;
        let signed = self.open_session(&member, address, setup).await?;
        self.record(self.member_entry(&member, "auth.sign_in", None, address, "session"))
            .await?;
        Ok(signed)
    }

    async fn open_session(
        &self,
        member: &StaffRecord,
        address: Option<IpAddr>,
        totp_setup_required: bool,
    ) -> Result<SignedIn, Error> {
        let now = self.now();
        let cookie = random_token();
        let csrf = random_token();
        let rec = SessionRecord {
            staff: member.id,
            csrf: csrf.clone(),
            created_at: now,
            last_seen: now,
            address: address.map(|a| a.to_string()),
            totp_setup_required,
        };
        self.store.put_session(&digest(&cookie), &rec).await?;
        self.flush().await?;
        Ok(SignedIn {
            cookie,
            csrf,
            member: member.clone(),
            device: self.device_value(member.id),
            totp_setup_required,
        })
    }

    /// Checks a TOTP code and records its step (no code counts twice).
    async fn spend_totp(&self, member: &StaffRecord, code: &str) -> Result<bool, Error> {
        let Some(t) = &member.totp else {
            return Ok(false);
        };
        let Some(secret) = totp::TotpSecret::from_base32(&t.secret) else {
            return Ok(false);
        };
        let now = self.clock.now().unix_timestamp();
        let Some(step) = secret.check(code, now, t.last_step) else {
            return Ok(false);
        };
        let mut accepted = false;
        self.store
            .update_staff(member.id, &mut |m| {
                accepted = false;
                let Some(t) = m.totp.as_mut() else {
                    return Ok(false);
                };
                if t.last_step.is_some_and(|l| l >= step) {
                    return Ok(false);
                }
                t.last_step = Some(step);
                accepted = true;
                Ok(true)
            })
            .await?;
        Ok(accepted)
    }

    /// The principal a session cookie stands for, if the session is live.
    pub async fn session(&self, cookie: &str) -> Result<Option<Principal>, Error> {
        let d = digest(cookie);
        let Some(mut s) = self.store.session(&d).await? else {
            return Ok(None);
        };
        let now = self.now();
        if now - s.last_seen > SESSION_IDLE || now - s.created_at > SESSION_MAX {
            self.store.remove_session(&d).await?;
            return Ok(None);
        }
        let Some(member) = self.store.staff_member(s.staff).await? else {
            self.store.remove_session(&d).await?;
            return Ok(None);
        };
        // Kept fresh to the minute: no write on every request.
        if now - s.last_seen >= Duration::minutes(1) {
            // Only while it still exists: a sign-out in between stays a sign-out.
            s.last_seen = now;
            self.store.touch_session(&d, now).await?;
        }
        Ok(Some(Principal::of(
            &member,
            Via::Session {
                digest: d,
                csrf: s.csrf,
                totp_setup_required: s.totp_setup_required && !member.has_totp(),
            },
        )))
    }

    /// Lets a session that had to set up two-factor sign-in do everything (it did).
    pub async fn release_session(&self, digest: &[u8; 32]) -> Result<(), Error> {
        if let Some(mut s) = self.store.session(digest).await?
            && s.totp_setup_required
        {
            s.totp_setup_required = false;
            self.store.put_session(digest, &s).await?;
            self.flush().await?;
        }
        Ok(())
    }

    /// Ends a session.
    pub async fn sign_out(&self, p: &Principal, address: Option<IpAddr>) -> Result<(), Error> {
        if let Via::Session { digest, .. } = &p.via {
            self.store.remove_session(digest).await?;
            self.flush().await?;
            self.record(self.entry(Some(p), "auth.sign_out", None, address))
                .await?;
        }
        Ok(())
    }

    /// Removes sessions past their idle or absolute limit.
    pub async fn sweep(&self) -> Result<usize, Error> {
        let now = self.now();
        Ok(self
            .store
            .sweep_sessions(&|s| {
                now - s.last_seen <= SESSION_IDLE && now - s.created_at <= SESSION_MAX
            })
            .await?)
    }

    /// Changes a member's own password: every session of theirs ends, and when they
    /// used a session, a fresh one is returned.
    pub async fn change_password(
        &self,
        p: &Principal,
        current: &str,
        new: &str,
        address: Option<IpAddr>,
    ) -> Result<Option<SignedIn>, Error> {
        let id = p
            .member
            .ok_or_else(|| Error::invalid("member", "the admin token has no password"))?;
        let member = self.member(id).await?;
        password::check_policy(new)?;
        // Guessing the current password with a stolen session is throttled as
        // sign-ins are.
        let now = self.now();
        let key = ThrottleKey::Account(member.email.clone());
        if let Some(w) = self.throttle.wait(&key, now).await? {
            return Err(Error::Throttled(w));
        }
        let phc = member.password.clone().unwrap_or_default();
        if !self.verify_password(current, phc).await {
            self.throttle.fail(key, now, ACCOUNT_DELAY_MAX).await?;
            return Err(Error::invalid("current_password", "is not right"));
        }
        self.set_password(&member, new).await?;
        self.record(self.entry(
            Some(p),
            "staff.password_change",
            Some(id.to_string()),
            address,
        ))
        .await?;
        match p.via {
            Via::Session {
                totp_setup_required,
                ..
            } => Ok(Some(
                self.open_session(&member, address, totp_setup_required)
                    .await?,
            )),
            _ => Ok(None),
        }
    }

    async fn set_password(&self, member: &StaffRecord, new: &str) -> Result<(), Error> {
        let pw = new.to_owned();
        let hash = tokio::task::spawn_blocking(move || password::hash(&pw))
            .await
            .map_err(|e| Error::invalid("password", e.to_string()))??;
        let now = self.now();
        self.store
            .update_staff(member.id, &mut |m| {
                m.password = Some(hash.clone());
                m.updated_at = now;
                Ok(true)
            })
            .await?;
        self.store.remove_sessions_of(member.id).await?;
        // Any other invitation or reset link of the member is spent too.
        self.store.expire_staff_links(member.id, now).await?;
        self.flush().await?;
        Ok(())
    }

    // ---- links ----

    fn link_token(&self, id: Uuid) -> String {
        format!(
            "{}.{}",
            id.simple(),
            self.secret.derive(LINK_PURPOSE, id.as_bytes())
        )
    }

    /// The page a link opens.
    pub fn link_url(&self, link: &StaffLink) -> String {
        let path = match link.purpose {
            LinkPurpose::Invitation => "invitation",
            LinkPurpose::PasswordReset => "reset",
        };
        format!("{}/admin/{path}/{}", self.base, self.link_token(link.id))
    }

    /// The link an outbox message carries (when it is still open).
    pub async fn open_link_url(&self, id: Uuid) -> Result<Option<(StaffLink, String)>, Error> {
        let Some(l) = self.store.staff_link(id).await? else {
            return Ok(None);
        };
        if l.used_at.is_some() || l.expires_at <= self.now() {
            return Ok(None);
        }
        let url = self.link_url(&l);
        Ok(Some((l, url)))
    }

    /// Makes a link for a member (and queues its message when mail is configured).
    async fn issue_link(
        &self,
        member: &StaffRecord,
        purpose: LinkPurpose,
    ) -> Result<String, Error> {
        let now = self.now();
        let ttl = match purpose {
            LinkPurpose::Invitation => INVITATION_TTL,
            LinkPurpose::PasswordReset => RESET_TTL,
        };
        let link = StaffLink {
            id: Uuid::new_v4(),
            staff: member.id,
            purpose,
            created_at: now,
            expires_at: now + ttl,
            used_at: None,
        };
        self.store.put_staff_link(&link).await?;
        if self.mail_enabled {
            let kind = match purpose {
                LinkPurpose::Invitation => MailKind::Invitation,
                LinkPurpose::PasswordReset => MailKind::PasswordReset,
            };
            let mut m = OutboxMessage::new(
                format!("staff/{}", link.id),
                kind,
                member.email.clone(),
                now,
            );
            m.link = Some(link.id);
            m.name = Some(member.name.clone());
            self.outbox.enqueue(&m).await?;
        }
        Ok(self.link_url(&link))
    }

    /// An owner sends a member a password-reset link: by e-mail when mail works (the
    /// link is then not shown to the owner, who could otherwise act as the member);
    /// otherwise it is returned for the owner to hand over.
    pub async fn reset_link(&self, id: Uuid) -> Result<Option<String>, Error> {
        let member = self.member(id).await?;
        let url = self.issue_link(&member, LinkPurpose::PasswordReset).await?;
        self.flush().await?;
        Ok((!self.mail_enabled).then_some(url))
    }

    /// Anyone asks for a reset of an e-mail address: the member (if there is one and
    /// mail is configured) gets a link. The answer is the same either way.
    pub async fn request_reset(&self, email: &str, address: Option<IpAddr>) -> Result<(), Error> {
        let now = self.now();
        // Throttled per address on a throttle of its own (it cannot flood a mailbox,
        // and asking for resets never slows anyone's sign-in).
        if let Some(a) = address {
            let key = ThrottleKey::Reset(client(a));
            if self.throttle.wait(&key, now).await?.is_some() {
                return Ok(());
            }
            self.throttle.fail(key, now, ADDRESS_DELAY_MAX).await?;
        }
        let Ok(email) = normalise_email(email) else {
            return Ok(());
        };
        if !self.mail_enabled {
            return Ok(());
        }
        // The work happens after the answer, so that its time tells nothing about
        // whether the address has an account.
        let me = self.clone();
        tokio::spawn(async move {
            let run = async {
                if let Some(member) = me.store.staff_by_email(&email).await? {
                    me.issue_link(&member, LinkPurpose::PasswordReset).await?;
                    me.flush().await?;
                    let e = me.entry(
                        None,
                        "auth.password_reset_requested",
                        Some(member.id.to_string()),
                        address,
                    );
                    me.record(e).await?;
                    me.wake_mail();
                }
                Ok::<(), Error>(())
            };
            if let Err(e) = run.await {
                tracing::error!(error = %e, "a password reset request");
            }
        });
        Ok(())
    }

    /// The open link a token names, with its member.
    pub async fn link(&self, token: &str) -> Result<(StaffLink, StaffRecord), Error> {
        let (id, mac) = token.split_once('.').ok_or(Error::LinkInvalid)?;
        let id = Uuid::parse_str(id).map_err(|_| Error::LinkInvalid)?;
        let want = self.secret.derive(LINK_PURPOSE, id.as_bytes());
        if mac.len() != want.len() || !bool::from(mac.as_bytes().ct_eq(want.as_bytes())) {
            return Err(Error::LinkInvalid);
        }
        let link = self.store.staff_link(id).await?.ok_or(Error::LinkInvalid)?;
        if link.used_at.is_some() || link.expires_at <= self.now() {
            return Err(Error::LinkInvalid);
        }
        let member = self
            .store
            .staff_member(link.staff)
            .await?
            .ok_or(Error::LinkInvalid)?;
        Ok((link, member))
    }

    /// Sets a password through a link (spending it) and signs the member in.
    pub async fn complete_link(
        &self,
        token: &str,
        new_password: &str,
        code: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<SignedIn, Error> {
        password::check_policy(new_password)?;
        let (link, member) = self.link(token).await?;
        // A reset link proves the mailbox, not the second factor.
        if member.has_totp() {
            let now = self.now();
            let key = ThrottleKey::Account(member.email.clone());
            if let Some(w) = self.throttle.wait(&key, now).await? {
                return Err(Error::Throttled(w));
            }
            let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
                return Err(Error::TotpRequired);
            };
            if !self.spend_totp(&member, code).await? {
                self.throttle.fail(key, now, ACCOUNT_DELAY_MAX).await?;
                return Err(Error::TotpWrong);
            }
        }
        if !self.store.use_staff_link(link.id, self.now()).await? {
            return Err(Error::LinkInvalid);
        }
        self.set_password(&member, new_password).await?;
        if link.purpose == LinkPurpose::PasswordReset {
            // Whoever knew the old password may have made tokens: a reset ends them.
            for (d, _) in self.store.personal_tokens(member.id).await? {
                self.store.remove_personal_token(&d).await?;
            }
            self.flush().await?;
        }
        let action = match link.purpose {
            LinkPurpose::Invitation => "staff.invitation_accepted",
            LinkPurpose::PasswordReset => "staff.password_reset",
        };
        let target = Some(member.id.to_string());
        self.record(self.member_entry(&member, action, target, address, "link"))
            .await?;
        let settings = self.store.security_settings().await?;
        let member = self.member(member.id).await?;
        self.open_session(
            &member,
            address,
            settings.require_totp && !member.has_totp(),
        )
        .await
    }

    // ---- personal tokens ----

    /// The principal a personal token stands for.
    pub async fn token(&self, value: &str) -> Result<Option<Principal>, Error> {
        if !value.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let d = digest(value);
        let Some(t) = self.store.personal_token(&d).await? else {
            return Ok(None);
        };
        let Some(member) = self.store.staff_member(t.staff).await? else {
            return Ok(None);
        };
        let now = self.now();
        if t.last_used_at
            .is_none_or(|l| now - l >= Duration::minutes(1))
        {
            // Only while it still exists: a revocation in between stays one.
            self.store.touch_personal_token(&d, now).await?;
        }
        Ok(Some(Principal::of(&member, Via::PersonalToken)))
    }

    /// A new token for a member.
    pub async fn create_token(&self, member: Uuid, name: &str) -> Result<NewToken, Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid(
                "name",
                "give the token a name of 1 to 100 characters",
            ));
        }
        if self.store.personal_tokens(member).await?.len() >= MAX_TOKENS {
            return Err(Error::Conflict(format!(
                "a member holds at most {MAX_TOKENS} tokens; revoke some first"
            )));
        }
        let token = format!("{TOKEN_PREFIX}{}", random_token());
        let record = PersonalToken {
            id: Uuid::new_v4(),
            staff: member,
            name: name.to_owned(),
            hint: token.chars().take(TOKEN_PREFIX.len() + 4).collect(),
            created_at: self.now(),
            last_used_at: None,
        };
        self.store
            .put_personal_token(&digest(&token), &record)
            .await?;
        self.flush().await?;
        Ok(NewToken { token, record })
    }

    pub async fn tokens(&self, member: Uuid) -> Result<Vec<PersonalToken>, Error> {
        Ok(self
            .store
            .personal_tokens(member)
            .await?
            .into_iter()
            .map(|(_, t)| t)
            .collect())
    }

    /// Revokes one of a member's tokens.
    pub async fn revoke_token(&self, member: Uuid, id: &str) -> Result<PersonalToken, Error> {
        let id = Uuid::parse_str(id.trim()).map_err(|_| Error::NotFound(format!("token {id}")))?;
        let found = self
            .store
            .personal_tokens(member)
            .await?
            .into_iter()
            .find(|(_, t)| t.id == id)
            .ok_or_else(|| Error::NotFound(format!("token {id}")))?;
        self.store.remove_personal_token(&found.0).await?;
        self.flush().await?;
        Ok(found.1)
    }

    // ---- two-factor ----

    /// Starts (or restarts) TOTP set-up: a new secret, not yet required at sign-in.
    pub async fn totp_begin(&self, member: Uuid) -> Result<(String, String), Error> {
        let m = self.member(member).await?;
        if m.has_totp() {
            return Err(Error::Conflict(
                "two-factor sign-in is on already; turn it off first to change it".into(),
            ));
        }
        let secret = totp::TotpSecret::generate();
        let b32 = secret.base32();
        self.store
            .update_staff(member, &mut |m| {
                m.totp = Some(TotpState {
                    secret: b32.clone(),
                    confirmed: false,
                    last_step: None,
                });
                Ok(true)
            })
            .await?;
        self.flush().await?;
        let issuer = url::Url::parse(&self.base)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "accolade".into());
        Ok((b32, secret.uri(&format!("accolade {issuer}"), &m.email)))
    }

    /// Confirms set-up with a first code: from now on sign-in asks for one.
    pub async fn totp_confirm(&self, member: Uuid, code: &str) -> Result<(), Error> {
        let m = self.member(member).await?;
        let Some(t) = m.totp.as_ref().filter(|t| !t.confirmed) else {
            return Err(Error::Conflict("start two-factor set-up first".into()));
        };
        let secret = totp::TotpSecret::from_base32(&t.secret).ok_or(Error::TotpWrong)?;
        let now = self.clock.now().unix_timestamp();
        let step = secret.check(code, now, None).ok_or(Error::TotpWrong)?;
        self.store
            .update_staff(member, &mut |m| {
                if let Some(t) = m.totp.as_mut() {
                    t.confirmed = true;
                    t.last_step = Some(step);
                }
                Ok(true)
            })
            .await?;
        self.flush().await?;
        Ok(())
    }

    /// Turns TOTP off, proven with a current code; refused while owners require it.
    pub async fn totp_disable(&self, member: Uuid, code: &str) -> Result<(), Error> {
        if self.store.security_settings().await?.require_totp {
            return Err(Error::Conflict(
                "an owner requires two-factor sign-in for everyone".into(),
            ));
        }
        let m = self.member(member).await?;
        let now = self.now();
        let key = ThrottleKey::Account(m.email.clone());
        if let Some(w) = self.throttle.wait(&key, now).await? {
            return Err(Error::Throttled(w));
        }
        if m.has_totp() && !self.spend_totp(&m, code).await? {
            self.throttle.fail(key, now, ACCOUNT_DELAY_MAX).await?;
            return Err(Error::TotpWrong);
        }
        self.store
            .update_staff(member, &mut |m| {
                m.totp = None;
                Ok(true)
            })
            .await?;
        self.flush().await?;
        Ok(())
    }

    /// An owner turns a member's TOTP off (a lost phone); they set it up again.
    pub async fn totp_reset(&self, member: Uuid) -> Result<(), Error> {
        self.member(member).await?;
        self.store
            .update_staff(member, &mut |m| {
                m.totp = None;
                Ok(true)
            })
            .await?;
        self.flush().await?;
        Ok(())
    }

    pub async fn security(&self) -> Result<SecuritySettings, Error> {
        Ok(self.store.security_settings().await?)
    }

    pub async fn set_security(&self, s: &SecuritySettings) -> Result<(), Error> {
        self.store.put_security_settings(s).await?;
        self.flush().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email("  Ada@Example.ORG ").expect("ok"),
            "ada@example.org"
        );
        for bad in [
            "",
            "ada",
            "@example.org",
            "ada@",
            "ada@example",
            "a b@example.org",
            "a@b@c.org",
            "<a@b.org>",
        ] {
            assert!(normalise_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_are_ordered_and_principals_checked_against_them() {
        assert!(Role::Owner > Role::Issuer && Role::Issuer > Role::Viewer);
        let admin = Principal::admin_token();
        assert!(Role::ALL.iter().all(|r| admin.may(*r)));
        let mut p = admin;
        p.role = Role::Viewer;
        assert!(p.may(Role::Viewer) && !p.may(Role::Issuer));
    }

    #[tokio::test]
    async fn throttle_grows_after_the_free_failures_and_is_capped() {
        let t = Throttle::default();
        let now = crate::clock::from_unix(1_800_000_000);
        let k = ThrottleKey::Account("a@b.org".into());
        for _ in 0..FREE_FAILURES {
            t.fail(k.clone(), now, ACCOUNT_DELAY_MAX)
                .await
                .expect("fail");
        }
        assert_eq!(t.wait(&k, now).await.expect("wait"), None);
        t.fail(k.clone(), now, ACCOUNT_DELAY_MAX)
            .await
            .expect("fail");
        assert_eq!(t.wait(&k, now).await.expect("wait"), Some(1));
        t.fail(k.clone(), now, ACCOUNT_DELAY_MAX)
            .await
            .expect("fail");
        assert_eq!(t.wait(&k, now).await.expect("wait"), Some(2));
        for _ in 0..20 {
            t.fail(k.clone(), now, ACCOUNT_DELAY_MAX)
                .await
                .expect("fail");
        }
        assert_eq!(t.wait(&k, now).await.expect("wait"), Some(60));
        assert_eq!(
            t.wait(&k, now + Duration::seconds(61)).await.expect("wait"),
            None
        );
        t.clear(&k).await.expect("clear");
        assert_eq!(t.wait(&k, now).await.expect("wait"), None);
    }
}
