//! The admin and staff API's answers as typed views: what handlers serialize, and what
//! the API reference (`openapi`) describes, from the same structs.
//!
//! Dates are RFC 3339 strings in UTC to the second; ids are strings. Members that do
//! not apply to a record are left out rather than sent as `null`, except where a
//! `null` says something (`next_cursor` at the end of a listing, `achievement_id` of a
//! credential issued through the VC-API).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::format_seconds;
use crate::model::Achievement;
use crate::records::{AuditEvent, OutboxMessage, PersonalToken, StaffRecord, WalletEvent};

/// An error: a stable `error` code and a `message` for people.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `rate_limited`, ...
    #[schema(example = "invalid_request")]
    pub error: String,
    #[schema(example = "achievement_id: no achievement urn:uuid:... on this service")]
    pub message: String,
}

/// `GET /healthz`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// `GET /readyz`: `ready` (200) or `unready` (503), and each check: `ok`, or
/// `unusable: why`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    pub checks: ReadinessChecks,
}

/// What `/readyz` tries: a read of the store, a signature with the current key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessChecks {
    #[schema(example = "ok")]
    pub store: String,
    #[schema(example = "ok")]
    pub keys: String,
}

/// A list of achievements.
#[derive(Debug, Serialize, ToSchema)]
pub struct AchievementList {
    pub achievements: Vec<Achievement>,
}

/// Where an uploaded image is served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImageUrl {
    pub url: String,
}

/// Whether a credential's public badge page is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct Visibility {
    pub credential_id: String,
    pub public: bool,
    pub badge_url: String,
}

/// An earner's private link to manage an award.
#[derive(Debug, Serialize, ToSchema)]
pub struct EarnerLink {
    pub earner_url: String,
}

/// One status family of a credential and where its list is published.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusEntry {
    /// `revocation` or `suspension`.
    pub status_purpose: &'static str,
    pub status_list_credential: String,
    /// The index, as a decimal string (Bitstring Status List v1.0 §2.1).
    pub status_list_index: String,
}

/// One signed copy of a badge (a claim into a wallet signs a copy bound to the
/// wallet's key).
#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeCopy {
    pub id: String,
    /// The `credentialSubject.id` of this copy, when bound to one.
    pub subject: Option<String>,
    pub issued_at: String,
    pub status_list_index: Option<String>,
    pub revocation_list: Option<String>,
}

/// A wallet's OpenID4VCI notification about an award.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletEventView {
    /// `credential_accepted`, `credential_failure` or `credential_deleted`.
    pub event: String,
    pub notification_id: String,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<&WalletEvent> for WalletEventView {
    fn from(e: &WalletEvent) -> Self {
        Self {
            event: e.event.clone(),
            notification_id: e.notification_id.clone(),
            at: format_seconds(e.at),
            description: e.description.clone(),
        }
    }
}

/// A revocation, suspension or reinstatement of a credential.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    pub at: String,
    /// `revoke`, `suspend`, `unsuspend`, `burn`.
    pub action: String,
    pub actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&AuditEvent> for StatusChange {
    fn from(e: &AuditEvent) -> Self {
        Self {
            at: format_seconds(e.at),
            action: e.action.clone(),
            actor: e.actor.clone(),
            reason: e.reason.clone(),
        }
    }
}

/// `GET /api/v1/credentials/{id}/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialAudit {
    pub credential_id: String,
    pub events: Vec<StatusChange>,
}

/// An award, as the admin API shows it. Writes (`POST /api/v1/awards`, re-offers,
/// approvals) answer with the members up to `wallet_requested`, plus `tx_code` and
/// `warnings`; reads of a credential add the members from `status` on.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct CredentialView {
    #[schema(example = "urn:uuid:0193e0f5-5a43-7c11-9d2e-4c7f3f1b2a10")]
    pub credential_id: String,
    /// `offered` (waiting for a wallet) or `issued`.
    #[schema(example = "issued")]
    pub state: &'static str,
    /// The achievement's URL; `null` for a credential issued through the VC-API.
    pub achievement_id: Option<String>,
    /// Who the badge is for, as awarded.
    pub recipient: crate::records::Recipient,
    pub valid_from: String,
    pub tx_code_required: bool,
    pub approval_required: bool,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// The compact `vc+jwt` (the newest copy), for direct awards and reads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// The OpenID4VCI offer by reference, while an offer is live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_uri: Option<String>,
    /// The same offer by value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_uri_by_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer_expires_at: Option<String>,
    /// The page where the earner claims the badge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_url: Option<String>,
    /// The earner's private page to manage the award.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub earner_url: Option<String>,
    /// VC-API credentials: the document as signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<Value>,
    /// VC-API credentials: how it was secured (`vc+jwt` or a Data Integrity suite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub securing: Option<Value>,
    /// The public badge page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub badge_url: Option<String>,
    /// The award e-mail's state (`queued`, `sent`, `failed`, ...), when one was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mail_error: Option<Option<String>>,
    /// The mail server's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub mail_answer: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_messages: Option<Vec<MessageView>>,
    /// Whether the earner stopped reminder e-mails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_opt_out: Option<bool>,
    /// For `approval_required` awards: whether staff released it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved: Option<bool>,
    /// For `approval_required` awards: whether a wallet waits for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_requested: Option<bool>,
    /// The transaction code, in clear, only in the answer that made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_code: Option<String>,
    /// What to fix on this service (e.g. the issuer profile has no name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Vec<StatusEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
    /// Whether the public badge page is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// How many signed copies exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub badges: Option<Vec<BadgeCopy>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_events: Option<Vec<WalletEventView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<String>,
    /// The key id that signed the newest copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

impl CredentialView {
    /// Drops what a viewer does not see: the links that act on a credential (the
    /// offer with its pre-authorized code, the claim page, the earner's manage link).
    pub fn without_acting_links(mut self) -> Self {
        self.offer_uri = None;
        self.offer_uri_by_value = None;
        self.claim_url = None;
        self.earner_url = None;
        self.tx_code = None;
        self
    }
}

/// A page of credentials, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialList {
    pub credentials: Vec<CredentialView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One row of a batch award, numbered from 1 in the order sent (for CSV: the data
/// row, the header not counted). `error` is `null` when the row succeeded.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchRow {
    /// Awarded: the row number and the award's answer.
    Awarded {
        row: usize,
        #[serde(flatten)]
        award: Box<CredentialView>,
        #[schema(schema_with = null)]
        error: Option<String>,
    },
    /// A dry run's row that would be awarded.
    Checked {
        row: usize,
        #[schema(schema_with = null)]
        credential_id: Option<String>,
        #[schema(schema_with = null)]
        error: Option<String>,
    },
    /// A row that failed, with the error's code and message.
    Failed {
        row: usize,
        #[schema(schema_with = null)]
        credential_id: Option<String>,
        error: String,
        code: String,
    },
}

/// A member that is always `null` in its variant (what tells the variants apart).
fn null() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Null)
        .build()
}

impl BatchRow {
    pub fn failed(row: usize, e: crate::http::ApiError) -> Self {
        Self::Failed {
            row,
            credential_id: None,
            error: e.message,
            code: e.code.to_string(),
        }
    }

    pub fn succeeded(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }
}

/// `POST /api/v1/awards/batch`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResults {
    /// Present (and `true`) for `?dry_run=true`: nothing was awarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    pub results: Vec<BatchRow>,
}

/// One credential of a batch revocation.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeRow {
    pub credential_id: String,
    pub revoked: bool,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `POST /api/v1/credentials/revoke`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokeResults {
    pub results: Vec<RevokeRow>,
}

/// A staff member.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    pub id: String,
    pub email: String,
    pub name: String,
    /// `viewer`, `issuer` or `owner`.
    pub role: &'static str,
    /// Whether two-factor sign-in is set up.
    pub totp: bool,
    /// Whether the member has chosen a password (an invitation was taken up).
    pub active: bool,
    pub created_at: String,
    pub last_sign_in: Option<String>,
}

impl From<&StaffRecord> for StaffView {
    fn from(m: &StaffRecord) -> Self {
        Self {
            id: m.id.to_string(),
            email: m.email.clone(),
            name: m.name.clone(),
            role: m.role.as_str(),
            totp: m.has_totp(),
            active: m.password.is_some(),
            created_at: format_seconds(m.created_at),
            last_sign_in: m.last_sign_in.map(format_seconds),
        }
    }
}

/// `GET /api/v1/staff`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffList {
    pub staff: Vec<StaffView>,
}

/// A personal API token (its secret is shown once, when made).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// The token's first characters, to tell tokens apart.
    pub hint: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<&PersonalToken> for TokenView {
    fn from(t: &PersonalToken) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
            hint: format!("{}…", t.hint),
            created_at: format_seconds(t.created_at),
            last_used_at: t.last_used_at.map(format_seconds),
        }
    }
}

/// `GET /api/v1/me/tokens`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A sign-in's answer (the session and device cookies travel in `Set-Cookie`).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedInView {
    /// Send back as `X-CSRF-Token` on writes made with the session cookie.
    pub csrf_token: String,
    pub staff: StaffView,
    /// The security settings ask for two-factor sign-in and this member has none yet.
    pub totp_setup_required: bool,
    /// Seconds until the session ends.
    pub expires_in: i64,
}

/// `GET /api/v1/me`: who is calling.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub actor: String,
    pub role: &'static str,
    /// `token` (the admin token), `personal_token` or `session`.
    pub via: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staff: Option<StaffView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_setup_required: Option<bool>,
}

/// `GET /api/v1/auth/links/{token}`: what an invitation or reset link is for.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkInfo {
    /// `invitation` or `reset`.
    pub purpose: &'static str,
    pub email: String,
    pub name: String,
    pub expires_at: String,
}

/// A plain acknowledgement for people.
#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: &'static str,
}

/// `POST /api/v1/me/totp`: the secret to enter in an authenticator app.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSecret {
    /// Base32.
    pub secret: String,
    /// The `otpauth://` URI (for a QR code).
    pub otpauth_uri: String,
}

/// Whether two-factor sign-in is now on.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpState {
    pub totp: bool,
}

/// A message in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub key: String,
    /// What the message is (`award`, `reminder`, `invitation`, `test`, ...).
    pub kind: String,
    pub to: String,
    /// `queued`, `sending`, `sent`, `failed` or `cancelled`.
    pub state: &'static str,
    pub attempts: u32,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub sent_at: Option<String>,
    /// The mail server's answer to the last attempt.
    pub answer: Option<String>,
    pub error: Option<String>,
}

impl From<&OutboxMessage> for MessageView {
    fn from(m: &OutboxMessage) -> Self {
        Self {
            key: m.key.clone(),
            kind: m.kind.label(),
            to: m.to.clone(),
            state: m.state.as_str(),
            attempts: m.attempts,
            created_at: format_seconds(m.created_at),
            next_attempt_at: m.state.pending().then(|| format_seconds(m.next_at)),
            sent_at: m.sent_at.map(format_seconds),
            answer: m.answer.clone(),
            error: m.error.clone(),
        }
    }
}

/// `POST /api/v1/mail/test` → 202.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedMail {
    pub key: String,
    pub to: String,
    /// `queued`.
    pub mail: &'static str,
}

/// The SMTP relay the service sends through.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmtpView {
    pub host: String,
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: String,
    pub from: String,
}

/// `GET /api/v1/mail`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailStatus {
    pub configured: bool,
    pub smtp: Option<SmtpView>,
    pub settings: crate::records::MailSettings,
}

/// An e-mail template.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    /// `award`, `reminder`, `expiry`, `invitation`, `reset`, ...
    pub kind: &'static str,
    /// Whether staff changed it (`DELETE` restores the default).
    pub custom: bool,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The `{{placeholders}}` this kind of message fills in.
    pub placeholders: Vec<&'static str>,
}

/// `GET /api/v1/mail/templates`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateView>,
}

/// A template filled with sample values.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// One entry of the audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub seq: String,
    pub at: String,
    pub actor: String,
    /// The staff member's id, when the actor is one.
    pub actor_id: Option<String>,
    /// `token`, `personal_token`, `session`, `console`, ...
    pub via: Option<String>,
    /// The call's name (`award.create`, `credential.revoke`, ...).
    pub action: String,
    pub target: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// The answer's HTTP status.
    pub status: Option<u16>,
    pub detail: Option<Value>,
}

/// `GET /api/v1/audit`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub events: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// A credential this service signed through the CLR or endorsement endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedView {
    pub credential_id: String,
    /// The compact `vc+jwt`, or the credential with its Data Integrity proof.
    pub credential: Value,
}

/// An endorsement that does not verify, with the verification report.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndorsementRefused {
    pub error: &'static str,
    pub message: String,
    pub report: crate::verify::Report,
}

/// A partner API key as made: the secret `key` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewApiKey {
    #[serde(flatten)]
    pub view: crate::partner::KeyView,
    pub key: String,
}

/// A personal API token as made: the secret `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    #[serde(flatten)]
    pub view: TokenView,
    pub token: String,
}

/// A revoked personal API token.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedToken {
    pub revoked: TokenView,
}

/// One staff member, wrapped (`POST /api/v1/me/password` without a new session).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffOnly {
    pub staff: StaffView,
}

/// A removed staff member.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemovedStaff {
    pub removed: StaffView,
}

/// A new staff member; without a password, the invitation link to pass on (also
/// e-mailed when e-mail works: `mail` is `queued`, else `not_configured`).
#[derive(Debug, Serialize, ToSchema)]
pub struct NewStaff {
    #[serde(flatten)]
    pub staff: StaffView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail: Option<&'static str>,
}

/// A password-reset link for a member (`mail`: `queued` or `not_configured`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetLink {
    /// `null` when e-mail works: the link then goes to the member only.
    pub reset_url: Option<String>,
    pub mail: &'static str,
}

/// `GET /api/v1/api-keys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyList {
    pub api_keys: Vec<crate::partner::KeyView>,
}

/// `GET /api/v1/trust/issuers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustList {
    pub issuers: Vec<crate::records::trust::Entry>,
}

/// `GET /api/v1/badge-types`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BadgeTypeList {
    pub badge_types: Vec<crate::records::BadgeType>,
}

/// The issuer profile as `GET /api/v1/issuer` shows it: the editable parts (what
/// `PUT` takes) and the issuer's DID as `id`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuerView {
    /// The issuer's DID (did:web); a `PUT` may send it back unchanged.
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkedin_organization_id: Option<String>,
    pub default_visibility: crate::records::Visibility,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet_help: Option<String>,
}

impl IssuerView {
    pub fn new(did: &str, p: crate::records::profile::IssuerProfile) -> Self {
        let crate::records::profile::IssuerProfile {
            name,
            url,
            email,
            description,
            image,
            primary_color,
            accent_color,
            linkedin_organization_id,
            default_visibility,
            wallet_help,
        } = p;
        Self {
            id: did.to_owned(),
            name,
            url,
            email,
            description,
            image,
            primary_color,
            accent_color,
            linkedin_organization_id,
            default_visibility,
            wallet_help,
        }
    }
}
