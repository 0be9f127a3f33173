//! E-mail: the durable outbox of messages to earners and staff, per-award opt-outs,
//! the issuer's templates and reminder settings.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    /// An award: the claim link and the manage link.
    Award,
    /// The award is still unclaimed this many days after it was made.
    UnclaimedReminder { days: u32 },
    /// The badge expires in this many days.
    ExpiryReminder { days: u32 },
    /// A staff invitation.
    Invitation,
    /// A staff password reset.
    PasswordReset,
    /// A test message from the mail settings.
    Test,
}

impl MailKind {
    /// The template that renders it.
    pub fn template(self) -> TemplateKind {
        match self {
            MailKind::Award => TemplateKind::Award,
            MailKind::UnclaimedReminder { .. } => TemplateKind::UnclaimedReminder,
            MailKind::ExpiryReminder { .. } => TemplateKind::ExpiryReminder,
            MailKind::Invitation => TemplateKind::Invitation,
            MailKind::PasswordReset => TemplateKind::PasswordReset,
            MailKind::Test => TemplateKind::Test,
        }
    }

    /// A short name for views: `award`, `unclaimed_reminder_7`, ...
    pub fn label(self) -> String {
        match self {
            MailKind::UnclaimedReminder { days } => format!("unclaimed_reminder_{days}"),
            MailKind::ExpiryReminder { days } => format!("expiry_reminder_{days}"),
            other => other.template().as_str().to_owned(),
        }
    }
}

/// The templates an issuer may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    Award,
    UnclaimedReminder,
    ExpiryReminder,
    Invitation,
    PasswordReset,
    Test,
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 6] = [
        TemplateKind::Award,
        TemplateKind::UnclaimedReminder,
        TemplateKind::ExpiryReminder,
        TemplateKind::Invitation,
        TemplateKind::PasswordReset,
        TemplateKind::Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Award => "award",
            TemplateKind::UnclaimedReminder => "unclaimed_reminder",
            TemplateKind::ExpiryReminder => "expiry_reminder",
            TemplateKind::Invitation => "invitation",
            TemplateKind::PasswordReset => "password_reset",
            TemplateKind::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailState {
    /// Waiting for its (next) attempt.
    Queued,
    /// Being handed to the SMTP server. Found so after a restart, the attempt was cut
    /// short before the server acknowledged it: it is tried again.
    Sending,
    /// The server acknowledged it.
    Sent,
    /// Given up: the server refused it for good, or every retry failed.
    Failed,
    /// Not sent: the earner opted out, or the award was revoked before it went.
    Cancelled,
}

impl MailState {
    pub fn as_str(self) -> &'static str {
        match self {
            MailState::Queued | MailState::Sending => "queued",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
            MailState::Cancelled => "cancelled",
        }
    }

    /// Whether the worker still has something to do.
    pub fn pending(self) -> bool {
        matches!(self, MailState::Queued | MailState::Sending)
    }
}

/// One message in the outbox. Its `key` is its idempotency key: one event, one key,
/// one message (`<award>/award`, `<award>/unclaimed/7`, `staff/<link>`, ...). The body
/// is rendered when it is sent, from the records it names, so the outbox holds no
/// link secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub key: String,
    pub kind: MailKind,
    /// The award it is about.
    #[serde(default)]
    pub award: Option<Uuid>,
    /// The staff link (invitation or reset) it carries.
    #[serde(default)]
    pub link: Option<Uuid>,
    /// The address it goes to (normalised).
    pub to: String,
    /// The addressee's name, when known.
    #[serde(default)]
    pub name: Option<String>,
    pub state: MailState,
    pub attempts: u32,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the next attempt is due.
    #[serde(with = "crate::clock::rfc3339")]
    pub next_at: OffsetDateTime,
    /// Why the last attempt failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The SMTP server's answer to the last attempt that reached it.
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default, with = "crate::clock::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

impl OutboxMessage {
    /// A message queued now, due at once.
    pub fn new(key: String, kind: MailKind, to: String, now: OffsetDateTime) -> Self {
        Self {
            key,
            kind,
            award: None,
            link: None,
            to,
            name: None,
            state: MailState::Queued,
            attempts: 0,
            created_at: now,
            next_at: now,
            error: None,
            answer: None,
            sent_at: None,
        }
    }
}

/// An issuer's version of one template. Placeholders are `{{name}}`; in the HTML body
/// every value is escaped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailTemplate {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// When reminders go out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// Days after the award at which an unclaimed award is recalled to the earner.
    #[serde(default = "MailSettings::default_unclaimed")]
    pub unclaimed_reminder_days: Vec<u32>,
    /// Days before a badge's `validUntil` at which the earner is told.
    #[serde(default = "MailSettings::default_expiry")]
    pub expiry_reminder_days: Vec<u32>,
}

impl MailSettings {
    fn default_unclaimed() -> Vec<u32> {
        vec![7, 30]
    }
    fn default_expiry() -> Vec<u32> {
        vec![30, 7, 1]
    }
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            unclaimed_reminder_days: Self::default_unclaimed(),
            expiry_reminder_days: Self::default_expiry(),
        }
    }
}
