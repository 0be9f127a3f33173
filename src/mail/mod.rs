//! E-mail to earners and staff: SMTP through `lettre`, a durable outbox, reminders.
//!
//! - **Outbox.** A message is written to the store in the same operation (and flush)
//!   as the event it announces — an award with `"delivery": "email"` is never recorded
//!   without its message — and sent afterwards by a background worker. Each event has
//!   one idempotency key (`<award>/award`, `<award>/unclaimed/7`, `staff/<link>`), so
//!   it yields one message however often it is queued; the key is also the message's
//!   `Message-ID`.
//! - **Sending.** The worker marks a batch `sending` (flushed), hands each message to
//!   the SMTP server, and records the server's answer (`sent`, flushed). A message
//!   found `sending` after a crash was cut short before the server's acknowledgement
//!   and is tried again: the only window in which a message may go twice. A transient
//!   refusal (4xx, an unreachable server) is retried with a growing back-off
//!   ([`BACKOFF`]); a permanent one (5xx) or the last retry marks it `failed`, with
//!   the server's words kept for the credential's view.
//! - **Bodies** are rendered when sent, from the records the message names, so the
//!   outbox holds no link secrets; a message whose award was revoked or removed is
//!   cancelled instead.
//! - **Reminders.** An e-mailed award still unclaimed after the configured days
//!   (default 7 and 30) and a badge about to expire (30, 7 and 1 days before) get one
//!   message per threshold (only the latest one reached, after a long stop). Each
//!   award's messages carry `List-Unsubscribe` (RFC 2369) with one-click
//!   `List-Unsubscribe-Post` (RFC 8058), which stops reminders for that award.
//! - **The transaction code never travels with the link it protects**: e-mails carry
//!   the claim link and the manage link, and tell the earner that their wallet will ask
//!   for the code given to them another way (the award's answer gives it to staff).

pub mod sink;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;

use lettre::Message;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::{SharedClock, format_seconds};
use crate::earners::Earners;
use crate::issue::Issuer;
use crate::keyring::LinkSecret;
use crate::records::{
    Award, AwardState, MailKind, MailSettings, MailState, MailTemplate, OutboxMessage, TemplateKind,
};
use crate::staff::Staff;
use crate::store::{self, Awards, Outbox};

pub use template::Rendered;

/// Waits before the 2nd, 3rd, ... attempt; after the last, the message has failed.
pub const BACKOFF: [Duration; 7] = [
    Duration::seconds(30),
    Duration::minutes(2),
    Duration::minutes(10),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(6),
    Duration::hours(12),
];
/// What `render` says of a message to try again shortly (not cancelled).
const LATER: &str = "not yet";
/// Connections to the SMTP server at once (each sends many messages in turn; most
/// servers accept 20 or more from one client).
const CONCURRENCY: usize = 16;
/// Messages marked `sending` per flush.
const CHUNK: usize = 512;

/// Errors of the mail module.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("--smtp-url: {0}")]
    Url(String),
    #[error("--mail-from: {0}")]
    From(String),
    #[error("{0}")]
    Template(#[from] template::Invalid),
    #[error("{0}")]
    Invalid(String),
    #[error("e-mail is not configured: start the service with --smtp-url")]
    NotConfigured,
}

/// How to reach the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    /// Plain SMTP (a relay on the same host, a test sink).
    None,
    /// STARTTLS, required.
    Starttls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Wrapper,
}

/// `--smtp-url` and `--mail-from`, parsed. `Debug` never prints the password.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub user: Option<String>,
    password: Option<String>,
    pub from: Mailbox,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl SmtpConfig {
    /// Parses `smtp://[user[:password]@]host[:port][?tls=starttls]` or `smtps://...`;
    /// `user` and `password` (from `ACCOLADE_SMTP_USER` / `ACCOLADE_SMTP_PASSWORD`)
    /// win over those in the URL.
    pub fn parse(
        url: &str,
        from: &str,
        user: Option<&str>,
        password: Option<&str>,
    ) -> Result<Self, Error> {
        let u = url::Url::parse(url.trim()).map_err(|e| {
            Error::Url(format!(
                "{e}; give it as smtp://HOST:PORT, smtp://HOST:PORT?tls=starttls or smtps://HOST:PORT"
            ))
        })?;
        let mut tls = match u.scheme() {
            "smtp" => Tls::None,
            "smtps" => Tls::Wrapper,
            other => {
                return Err(Error::Url(format!(
                    "the scheme is {other:?}; use smtp:// or smtps://"
                )));
            }
        };
        for (k, v) in u.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "starttls") if tls == Tls::None => tls = Tls::Starttls,
                ("tls", "none") if tls == Tls::None => {}
                ("tls", "tls" | "wrapper") => tls = Tls::Wrapper,
                _ => {
                    return Err(Error::Url(format!(
                        "unknown parameter {k}={v}; the one parameter is tls=starttls"
                    )));
                }
            }
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error::Url("no host".into()))?
            .trim_matches(['[', ']'])
            .to_owned();
        let port = u.port().unwrap_or(match tls {
            Tls::None => 25,
            Tls::Starttls => 587,
            Tls::Wrapper => 465,
        });
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| Error::Url("the user or password is not UTF-8".into()))
        };
        let url_user = (!u.username().is_empty())
            .then(|| decode(u.username()))
            .transpose()?;
        let url_password = u.password().map(decode).transpose()?;
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| Error::From(format!("{e}; give it as \"Name <address@example.edu>\"")))?;
        Ok(Self {
            host,
            port,
            tls,
            user: user.map(str::to_owned).or(url_user),
            password: password.map(str::to_owned).or(url_password),
            from,
        })
    }

    /// Opens one connection: TCP with Nagle's algorithm off (lettre writes a message
    /// and its final `.` separately; with Nagle on, each message would wait for the
    /// server's delayed acknowledgement), then TLS or STARTTLS, then authentication.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let hello = ClientId::default();
        let timeout = Some(std::time::Duration::from_secs(30));
        let mut conn = match self.tls {
            Tls::Wrapper => {
                let params = TlsParameters::new_rustls(self.host.clone())?;
                AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    timeout,
                    &hello,
                    Some(params),
                    None,
                )
                .await?
            }
            Tls::None | Tls::Starttls => {
                let tcp = tokio::time::timeout(
                    std::time::Duration::from_secs(30),
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)),
                )
                .await
                .map_err(|_| connection_error("connecting timed out"))?
                .map_err(|e| connection_error(&e.to_string()))?;
                let _ = tcp.set_nodelay(true);
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &hello).await?;
                if self.tls == Tls::Starttls {
                    if !conn.can_starttls() {
                        return Err(connection_error(
                            "the server does not offer STARTTLS, which tls=starttls requires",
                        ));
                    }
                    conn.starttls(TlsParameters::new_rustls(self.host.clone())?, &hello)
                        .await?;
                }
                conn
            }
        };
        if let (Some(u), Some(p)) = (&self.user, &self.password) {
            conn.auth(
                &[Mechanism::Plain, Mechanism::Login],
                &Credentials::new(u.clone(), p.clone()),
            )
            .await?;
        }
        Ok(conn)
    }

    /// The domain of the sender's address (for `Message-ID`s).
    fn domain(&self) -> String {
        self.from.email.domain().to_owned()
    }
}

/// Why a message was not accepted.
#[derive(Debug)]
struct Failure {
    words: String,
    /// The server refused it for good (5xx): no retry.
    permanent: bool,
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Self {
            words: e.to_string(),
            permanent: e.is_permanent(),
        }
    }
}

fn connection_error(what: &str) -> Failure {
    Failure {
        words: format!("connecting to the SMTP server: {what}"),
        permanent: false,
    }
}

fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// What one worker pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub cancelled: usize,
}

impl Delivered {
    pub fn total(&self) -> usize {
        self.sent + self.retried + self.failed + self.cancelled
    }
}

const OPT_OUT_PURPOSE: &str = "accolade mail opt-out";

/// Seconds a node holds the right to send a fleet's e-mail without renewing it.
pub const MAIL_LEASE: i64 = 30;

/// E-mail: the outbox, its worker, templates and reminders.
#[derive(Clone)]
pub struct Mail {
    outbox: Arc<dyn Outbox>,
    awards: Arc<dyn Awards>,
    issuer: Issuer,
    earners: Earners,
    staff: Staff,
    secret: LinkSecret,
    clock: SharedClock,
    base: String,
    smtp: Option<SmtpConfig>,
    /// Wakes the worker when a message is queued.
    wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("smtp", &self.smtp)
            .finish_non_exhaustive()
    }
}

impl Mail {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &store::Store,
        issuer: Issuer,
        earners: Earners,
        staff: Staff,
        secret: LinkSecret,
        public_url: &url::Url,
        clock: SharedClock,
    ) -> Self {
        Self {
            outbox: store.outbox.clone(),
            awards: store.awards.clone(),
            issuer,
            earners,
            staff,
            secret,
            clock,
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            smtp: None,
            wake: Arc::default(),
        }
    }

    /// Sends through this SMTP server.
    pub fn with_smtp(mut self, config: SmtpConfig) -> Result<Self, Error> {
        self.smtp = Some(config);
        Ok(self)
    }

    pub fn configured(&self) -> Option<&SmtpConfig> {
        self.smtp.as_ref()
    }

    /// The worker's bell, for others that queue messages.
    pub fn bell(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    /// Wakes the worker (a message was queued).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.timestamp()
    }

    // ---- opt-out ----

    /// The one-click link that stops reminders for an award.
    pub fn unsubscribe_url(&self, award: Uuid) -> String {
        format!(
            "{}/mail/unsubscribe/{}/{}",
            self.base,
            award.simple(),
            self.secret.derive(OPT_OUT_PURPOSE, award.as_bytes())
        )
    }

    /// Checks an unsubscribe link's parts; the award it names.
    pub fn check_unsubscribe(&self, award: &str, mac: &str) -> Option<Uuid> {
        use subtle::ConstantTimeEq as _;
        let id = Uuid::parse_str(award).ok()?;
        let want = self.secret.derive(OPT_OUT_PURPOSE, id.as_bytes());
        (mac.len() == want.len() && bool::from(mac.as_bytes().ct_eq(want.as_bytes()))).then_some(id)
    }

    /// Stops (or restarts) reminders for an award; pending reminders are cancelled.
    pub async fn set_opt_out(&self, award: Uuid, out: bool) -> Result<(), Error> {
        self.outbox.set_opt_out(award, out).await?;
        if out {
            for mut m in self.outbox.award_messages(award).await? {
                if m.state.pending() && m.kind != MailKind::Award {
                    m.state = MailState::Cancelled;
                    m.error = Some("the earner opted out".into());
                    self.outbox.put_message(&m).await?;
                }
            }
        }
        self.outbox.flush().await?;
        Ok(())
    }

    pub async fn opted_out(&self, award: Uuid) -> Result<bool, Error> {
        Ok(self.outbox.opted_out(award).await?)
    }

    /// The messages about an award, oldest first.
    pub async fn award_messages(&self, award: Uuid) -> Result<Vec<OutboxMessage>, Error> {
        Ok(self.outbox.award_messages(award).await?)
    }

    /// One message by its key.
    pub async fn message(&self, key: &str) -> Result<Option<OutboxMessage>, Error> {
        Ok(self.outbox.message(key).await?)
    }

    // ---- templates and settings ----

    pub async fn template(&self, kind: TemplateKind) -> Result<(MailTemplate, bool), Error> {
        Ok(match self.outbox.template(kind).await? {
            Some(t) => (t, true),
            None => (template::default_template(kind), false),
        })
    }

    pub async fn set_template(
        &self,
        kind: TemplateKind,
        t: Option<&MailTemplate>,
    ) -> Result<(), Error> {
        if let Some(t) = t {
            template::check(kind, t)?;
        }
        self.outbox.put_template(kind, t).await?;
        self.outbox.flush().await?;
        Ok(())
    }

    /// A template (the stored one, or `draft`) filled with sample values.
    pub async fn preview(
        &self,
        kind: TemplateKind,
        draft: Option<&MailTemplate>,
    ) -> Result<Rendered, Error> {
        let t = match draft {
            Some(d) => {
                template::check(kind, d)?;
                d.clone()
            }
            None => self.template(kind).await?.0,
        };
        let issuer = self.issuer_name().await;
        Ok(template::render(
            &t,
            &template::sample_values(kind, &issuer, &self.base),
        ))
    }

    pub async fn settings(&self) -> Result<MailSettings, Error> {
        Ok(self.outbox.mail_settings().await?)
    }

    pub async fn set_settings(&self, s: &MailSettings) -> Result<(), Error> {
        for (name, days) in [
            ("unclaimed_reminder_days", &s.unclaimed_reminder_days),
            ("expiry_reminder_days", &s.expiry_reminder_days),
        ] {
            if days.len() > 10 || days.iter().any(|d| *d == 0 || *d > 3650) {
                return Err(Error::Invalid(format!(
                    "{name}: at most 10 numbers of days, each 1 to 3650"
                )));
            }
        }
        self.outbox.put_mail_settings(s).await?;
        self.outbox.flush().await?;
        Ok(())
    }

    /// Queues a test message to `to`.
    pub async fn send_test(&self, to: &str) -> Result<OutboxMessage, Error> {
        if self.smtp.is_none() {
            return Err(Error::NotConfigured);
        }
        let to = crate::staff::normalise_email(to).map_err(|e| Error::Invalid(e.to_string()))?;
        let now = self.now();
        let m = OutboxMessage::new(format!("test/{}", Uuid::new_v4()), MailKind::Test, to, now);
        self.outbox.enqueue(&m).await?;
        self.outbox.flush().await?;
        self.wake();
        Ok(m)
    }

    async fn issuer_name(&self) -> String {
        match self.issuer.profile().await {
            Ok(p) => p.name,
            Err(_) => self.base.clone(),
        }
    }

    // ---- rendering ----

    /// What a message says now, or why it should not be sent.
    async fn render(&self, m: &OutboxMessage) -> Result<Result<Rendered, String>, Error> {
        let kind = m.kind.template();
        let (t, _) = self.template(kind).await?;
        let issuer = self.issuer.profile().await.ok();
        let issuer_name = issuer
            .as_ref()
            .map_or_else(|| self.base.clone(), |p| p.name.clone());
        let mut v: BTreeMap<&str, String> = BTreeMap::new();
        v.insert("issuer_name", issuer_name);
        match m.kind {
            MailKind::Award
            | MailKind::UnclaimedReminder { .. }
            | MailKind::ExpiryReminder { .. } => {
                let Some(id) = m.award else {
                    return Ok(Err("the message names no award".into()));
                };
                let Some(award) = self.awards.award(id).await? else {
                    // Written just before its award: the award may not be there yet.
                    if self.now() - m.created_at < Duration::minutes(1) {
                        return Ok(Err(LATER.into()));
                    }
                    return Ok(Err("the award no longer exists".into()));
                };
                if award.revoked {
                    return Ok(Err("the badge was revoked".into()));
                }
                if m.kind != MailKind::Award && award.suspended {
                    return Ok(Err("the badge is suspended".into()));
                }
                if m.kind != MailKind::Award && self.outbox.opted_out(id).await? {
                    return Ok(Err("the earner opted out".into()));
                }
                if matches!(m.kind, MailKind::UnclaimedReminder { .. }) && claimed(&award) {
                    return Ok(Err("the badge was claimed".into()));
                }
                self.award_values(&award, &mut v, issuer.as_ref().and_then(|p| p.url.clone()))
                    .await;
                let days = match m.kind {
                    MailKind::UnclaimedReminder { days: 1 }
                    | MailKind::ExpiryReminder { days: 1 } => "1 day".to_owned(),
                    MailKind::UnclaimedReminder { days } | MailKind::ExpiryReminder { days } => {
                        format!("{days} days")
                    }
                    _ => String::new(),
                };
                v.insert("days", days);
            }
            MailKind::Invitation | MailKind::PasswordReset => {
                let Some(link) = m.link else {
                    return Ok(Err("the message names no link".into()));
                };
                let Some((link, url)) = self
                    .staff
                    .open_link_url(link)
                    .await
                    .map_err(|e| Error::Invalid(e.to_string()))?
                else {
                    return Ok(Err("the link was used or has expired".into()));
                };
                let Ok(member) = self.staff.member(link.staff).await else {
                    return Ok(Err("the staff member was removed".into()));
                };
                v.insert("name", member.name);
                v.insert("email", member.email);
                v.insert("role", member.role.as_str().to_owned());
                v.insert("link_url", url);
                v.insert("expires_at", human_time(link.expires_at));
            }
            MailKind::Test => {
                v.insert("sent_at", human_time(self.now()));
            }
        }
        Ok(Ok(template::render(&t, &v)))
    }

    async fn award_values(
        &self,
        award: &Award,
        v: &mut BTreeMap<&str, String>,
        issuer_url: Option<String>,
    ) {
        let (name, description) = match self.issuer.revision(award.achievement).await {
            Ok(a) => (a.name.clone(), a.description.clone()),
            Err(_) => ("a badge".to_owned(), String::new()),
        };
        v.insert(
            "earner_name",
            award
                .recipient
                .name
                .clone()
                .unwrap_or_else(|| "there".into()),
        );
        v.insert("achievement_name", name);
        v.insert("achievement_description", description);
        v.insert(
            "issuer_url",
            issuer_url.unwrap_or_else(|| self.base.clone()),
        );
        v.insert(
            "claim_url",
            self.issuer.claim_url(award).unwrap_or_default(),
        );
        let earner = self.earners.manage_url(award).await.ok().flatten();
        v.insert("earner_url", earner.unwrap_or_default());
        v.insert(
            "tx_code_hint",
            if award.tx_code_required && award.state == AwardState::Offered {
                "Your wallet will ask for a 6-digit code: use the one the issuer gave you separately (it is never sent by e-mail)."
                    .into()
            } else {
                String::new()
            },
        );
        v.insert(
            "valid_until",
            award.valid_until.map(human_date).unwrap_or_default(),
        );
        v.insert("unsubscribe_url", self.unsubscribe_url(award.id));
    }

    fn build(
        &self,
        cfg: &SmtpConfig,
        m: &OutboxMessage,
        r: &Rendered,
        reply_to: Option<&str>,
    ) -> Result<Message, String> {
        let to_addr =
            m.to.parse()
                .map_err(|e| format!("the address {:?} is not valid: {e}", m.to))?;
        let to = Mailbox::new(m.name.clone(), to_addr);
        let mut b = Message::builder()
            .from(cfg.from.clone())
            .to(to)
            .subject(r.subject.clone())
            .message_id(Some(message_id(&m.key, &cfg.domain())))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ));
        // Replies reach the institution's contact address, not the sending robot.
        if let Some(addr) = reply_to.and_then(|a| a.parse().ok()) {
            b = b.reply_to(Mailbox::new(None, addr));
        }
        if let Some(award) = m.award {
            b = b
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{}>", self.unsubscribe_url(award)),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        b.multipart(MultiPart::alternative_plain_html(
            r.text.clone(),
            r.html.clone(),
        ))
        .map_err(|e| format!("the message could not be built: {e}"))
    }

    // ---- the worker ----

    /// One pass: sends every message due now. Returns what happened.
    pub async fn deliver_due(&self) -> Result<Delivered, Error> {
        let mut done = Delivered::default();
        let Some(cfg) = self.smtp.clone() else {
            return Ok(done);
        };
        loop {
            let now = self.now();
            let due: Vec<OutboxMessage> = self
                .outbox
                .pending_messages()
                .await?
                .into_iter()
                .filter(|m| m.state == MailState::Sending || m.next_at <= now)
                .take(CHUNK)
                .collect();
            if due.is_empty() {
                return Ok(done);
            }
            // Render and mark every message of the chunk `sending`, one flush.
            let mut ready = Vec::with_capacity(due.len());
            let reply_to = self.issuer.profile().await.ok().and_then(|p| p.email);
            for mut m in due {
                match self.render(&m).await? {
                    Err(why) if why == LATER => {
                        m.next_at = now + Duration::seconds(5);
                        self.outbox.put_message(&m).await?;
                    }
                    Err(why) => {
                        m.state = MailState::Cancelled;
                        m.error = Some(why);
                        self.outbox.put_message(&m).await?;
                        done.cancelled += 1;
                    }
                    Ok(r) => match self.build(&cfg, &m, &r, reply_to.as_deref()) {
                        Err(why) => {
                            m.state = MailState::Failed;
                            m.error = Some(why);
                            self.outbox.put_message(&m).await?;
                            crate::metrics::metrics().emails.inc(&["failed"]);
                            done.failed += 1;
                        }
                        Ok(msg) => {
                            m.state = MailState::Sending;
                            m.attempts += 1;
                            self.outbox.put_message(&m).await?;
                            ready.push((m, msg));
                        }
                    },
                }
            }
            self.outbox.flush().await?;
            // Hand them over on a few connections at once, each reused for many;
            // each answer is made durable as it comes, so a crash repeats at most the
            // messages in flight.
            let queue = Arc::new(std::sync::Mutex::new(
                ready.into_iter().collect::<std::collections::VecDeque<_>>(),
            ));
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..CONCURRENCY {
                let (cfg, queue) = (cfg.clone(), queue.clone());
                let (outbox, clock) = (self.outbox.clone(), self.clock.clone());
                set.spawn(async move { send_all(&cfg, &queue, &*outbox, &clock).await });
            }
            while let Some(joined) = set.join_next().await {
                let d = joined.map_err(|e| store::Error::Task(e.to_string()))??;
                let m = &crate::metrics::metrics().emails;
                m.with(&["sent"]).add(d.sent as u64);
                m.with(&["retried"]).add(d.retried as u64);
                m.with(&["failed"]).add(d.failed as u64);
                done.sent += d.sent;
                done.retried += d.retried;
                done.failed += d.failed;
            }
        }
    }

    /// Queues the reminders due now. Returns how many were queued.
    pub async fn remind_due(&self) -> Result<usize, Error> {
        if self.smtp.is_none() {
            return Ok(0);
        }
        let settings = self.settings().await?;
        let now = self.now();
        let mut queued = 0;
        for id in self.outbox.mailed_awards().await? {
            let Some(award) = self.awards.award(id).await? else {
                continue;
            };
            let Some(to) = award.recipient.email.clone() else {
                continue;
            };
            if award.revoked || award.suspended || self.outbox.opted_out(id).await? {
                continue;
            }
            let mut due: Option<(String, MailKind)> = None;
            if !claimed(&award) {
                // The latest threshold reached.
                let mut days: Vec<u32> = settings.unclaimed_reminder_days.clone();
                days.sort_unstable();
                if let Some(d) = days
                    .into_iter()
                    .rfind(|d| award.created_at + Duration::days(i64::from(*d)) <= now)
                {
                    due = Some((
                        format!("{id}/unclaimed/{d}"),
                        MailKind::UnclaimedReminder { days: d },
                    ));
                }
            } else if let Some(until) = award.valid_until
                && until > now
            {
                let mut days: Vec<u32> = settings.expiry_reminder_days.clone();
                days.sort_unstable();
                // The closest threshold reached.
                if let Some(d) = days
                    .into_iter()
                    .find(|d| until - Duration::days(i64::from(*d)) <= now)
                {
                    due = Some((
                        format!("{id}/expiry/{d}"),
                        MailKind::ExpiryReminder { days: d },
                    ));
                }
            }
            if let Some((key, kind)) = due {
                let mut m = OutboxMessage::new(key, kind, to, now);
                m.award = Some(id);
                m.name.clone_from(&award.recipient.name);
                if self.outbox.enqueue(&m).await? {
                    queued += 1;
                }
            }
        }
        if queued > 0 {
            self.outbox.flush().await?;
            self.wake();
        }
        Ok(queued)
    }

    /// The background worker: sends what is due whenever woken, at least every few
    /// seconds, and queues reminders every ten minutes.
    ///
    /// In a fleet only the node holding the `mail` lease sends (one sender per
    /// message); another takes over when it stops renewing for [`MAIL_LEASE`] seconds.
    pub async fn run(self, fleet: Arc<dyn crate::store::Fleet>) {
        let mut last_reminders: Option<std::time::Instant> = None;
        let holder = uuid::Uuid::new_v4().to_string();
        loop {
            let now = self.clock.timestamp().unix_timestamp();
            let mine = match fleet.lease("mail", &holder, now, now + MAIL_LEASE).await {
                Ok(mine) => mine,
                Err(e) => {
                    tracing::warn!(error = %e, "renewing the mail lease failed");
                    false
                }
            };
            if !mine {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
            if last_reminders.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(600)) {
                last_reminders = Some(std::time::Instant::now());
                if let Err(e) = self.remind_due().await {
                    tracing::warn!(error = %e, "queuing reminders failed");
                }
            }
            match self.deliver_due().await {
                Ok(d) if d.total() > 0 => tracing::info!(
                    sent = d.sent,
                    retried = d.retried,
                    failed = d.failed,
                    cancelled = d.cancelled,
                    "e-mail outbox"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sending e-mail failed"),
            }
            let _ =
                tokio::time::timeout(std::time::Duration::from_secs(5), self.wake.notified()).await;
        }
    }
}

/// One sender: takes messages off the queue and sends them over one connection
/// (opening another when it breaks), recording each answer durably before the next.
async fn send_all(
    cfg: &SmtpConfig,
    queue: &std::sync::Mutex<std::collections::VecDeque<(OutboxMessage, Message)>>,
    outbox: &dyn Outbox,
    clock: &SharedClock,
) -> Result<Delivered, store::Error> {
    let mut done = Delivered::default();
    let mut conn: Option<AsyncSmtpConnection> = None;
    loop {
        let next = queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front();
        let Some((m, msg)) = next else { break };
        if conn.as_ref().is_none_or(AsyncSmtpConnection::has_broken) {
            conn = match cfg.connect().await {
                Ok(c) => Some(c),
                Err(e) => {
                    let m = settle(m, Err(e), clock.timestamp(), &mut done);
                    outbox.put_message(&m).await?;
                    outbox.flush().await?;
                    continue;
                }
            };
        }
        let Some(c) = conn.as_mut() else { continue };
        let r = c.send(msg.envelope(), &msg.formatted()).await;
        let m = settle(m, r.map_err(Failure::from), clock.timestamp(), &mut done);
        outbox.put_message(&m).await?;
        outbox.flush().await?;
    }
    if let Some(mut c) = conn
        && !c.has_broken()
    {
        let _ = c.quit().await;
    }
    Ok(done)
}

/// A message after its attempt: sent, to be retried after its back-off, or failed.
fn settle(
    mut m: OutboxMessage,
    r: Result<lettre::transport::smtp::response::Response, Failure>,
    now: OffsetDateTime,
    done: &mut Delivered,
) -> OutboxMessage {
    match r {
        Ok(resp) => {
            m.state = MailState::Sent;
            m.sent_at = Some(now);
            m.error = None;
            m.answer = Some(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            ));
            done.sent += 1;
        }
        Err(e) => {
            let last = m.attempts as usize > BACKOFF.len();
            if e.permanent || last {
                m.state = MailState::Failed;
                done.failed += 1;
            } else {
                m.state = MailState::Queued;
                m.next_at = now
                    + BACKOFF[(m.attempts as usize)
                        .saturating_sub(1)
                        .min(BACKOFF.len() - 1)];
                done.retried += 1;
            }
            tracing::warn!(key = %m.key, attempt = m.attempts, error = %e.words, "an e-mail was not accepted");
            m.error = Some(e.words);
        }
    }
    m
}

/// Whether the earner has taken the badge (a wallet, or the web).
fn claimed(a: &Award) -> bool {
    a.state == AwardState::Issued
}

/// A `Message-ID` from an idempotency key: the same event always has the same one.
pub fn message_id(key: &str, domain: &str) -> String {
    let local: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '.'
            }
        })
        .collect();
    format!("<{local}@{domain}>")
}

fn human_date(t: OffsetDateTime) -> String {
    format_seconds(t).get(..10).unwrap_or_default().to_owned()
}

fn human_time(t: OffsetDateTime) -> String {
    let s = format_seconds(t);
    format!(
        "{} {} UTC",
        s.get(..10).unwrap_or_default(),
        s.get(11..16).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_parse_with_their_tls_and_credentials() {
        let c = SmtpConfig::parse(
            "smtp://127.0.0.1:2525",
            "Badges <b@example.edu>",
            None,
            None,
        )
        .expect("plain");
        assert_eq!(
            (c.host.as_str(), c.port, c.tls),
            ("127.0.0.1", 2525, Tls::None)
        );
        assert_eq!(c.from.email.to_string(), "b@example.edu");
        let c = SmtpConfig::parse(
            "smtp://u%40x:p%3Ass@mail.example.edu?tls=starttls",
            "b@example.edu",
            None,
            None,
        )
        .expect("starttls");
        assert_eq!((c.port, c.tls), (587, Tls::Starttls));
        assert_eq!(c.user.as_deref(), Some("u@x"));
        assert_eq!(c.password.as_deref(), Some("p:ss"));
        assert!(!format!("{c:?}").contains("p:ss"));
        let c = SmtpConfig::parse(
            "smtps://mail.example.edu",
            "b@example.edu",
            Some("env"),
            Some("pw"),
        )
        .expect("tls");
        assert_eq!(
            (c.port, c.tls, c.user.as_deref()),
            (465, Tls::Wrapper, Some("env"))
        );
        for bad in ["http://x", "smtp://", "smtp://x?tls=maybe", "not a url"] {
            assert!(
                SmtpConfig::parse(bad, "b@example.edu", None, None).is_err(),
                "{bad}"
            );
        }
        assert!(matches!(
            SmtpConfig::parse("smtp://x", "not an address", None, None),
            Err(Error::From(_))
        ));
    }

    #[test]
    fn message_ids_follow_the_idempotency_key() {
        let id = Uuid::nil();
        let a = message_id(&format!("{id}/award"), "example.edu");
        assert_eq!(a, format!("<{id}.award@example.edu>"));
        assert_eq!(a, message_id(&format!("{id}/award"), "example.edu"));
        assert_ne!(a, message_id(&format!("{id}/unclaimed/7"), "example.edu"));
    }
}
