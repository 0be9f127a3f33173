//! Staff over the API: signing in and out, one's own account (`/api/v1/me`: password,
//! personal tokens, two-factor), accounts (owners), security and mail settings, the
//! audit trail (JSON and CSV).

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{JsonBody, OptionalJsonBody};
use crate::app::AppState;
use crate::clock::{format_seconds, parse_datetime};
use crate::http::ApiError;
use crate::http::access::{self, AuditNote, ClientAddr, DEVICE_COOKIE, SESSION_COOKIE, noted_json};
use crate::http::views::{
    AuditEntry, AuditPage, LinkInfo, MailStatus, MeView, Message, MessageView, NewStaff, NewToken,
    Preview, QueuedMail, RemovedStaff, ResetLink, RevokedToken, SignedInView, SmtpView, StaffList,
    StaffOnly, StaffView, TemplateList, TemplateView, TokenList, TokenView, TotpSecret, TotpState,
};
use crate::records::{
    AuditRecord, MailSettings, MailTemplate, Role, SecuritySettings, TemplateKind,
};
use crate::staff::{Principal, SESSION_MAX, SignedIn, Via};
use crate::store::AuditFilter;
use utoipa::ToSchema;

fn member_of(p: &Principal) -> Result<Uuid, ApiError> {
    p.member.ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "not_a_member",
            "the admin token is not a staff member: sign in, or use a personal API token",
        )
    })
}

/// The answer to a sign-in: the session and device cookies, and the CSRF token.
pub fn signed_in_response(state: &AppState, s: &SignedIn, status: StatusCode) -> Response {
    let mut res = (
        status,
        Json(SignedInView {
            csrf_token: s.csrf.clone(),
            staff: StaffView::from(&s.member),
            totp_setup_required: s.totp_setup_required,
            expires_in: SESSION_MAX.whole_seconds(),
        }),
    )
        .into_response();
    set_session_cookies(state, &mut res, s);
    res
}

/// Sets the session cookie (and the device cookie) on an answer.
pub fn set_session_cookies(state: &AppState, res: &mut Response, s: &SignedIn) {
    if let Some(v) = access::set_cookie(
        state,
        SESSION_COOKIE,
        &s.cookie,
        SESSION_MAX.whole_seconds(),
    ) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(v) = access::set_cookie(state, DEVICE_COOKIE, &s.device, 400 * 24 * 3600) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

// ---- signing in and out ----

/// Refuses a sign-in call another site's page made (browsers name it in `Origin`):
/// no one can sign a visitor in to an account of the attacker's choosing.
fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"))
    {
        Some(o) if !o.eq_ignore_ascii_case(&state.public_url.origin().ascii_serialization()) => {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin",
                "signing in is accepted only from this service's own pages or from non-browser clients",
            ))
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    email: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
}

/// `POST /api/v1/auth/login` `{"email", "password", "totp"?}` → 200 with the session
/// cookie and `{"csrf_token", "staff"}`.
pub async fn login(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<LoginBody>,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let device = access::cookie(&headers, DEVICE_COOKIE);
    let s = state
        .staff
        .sign_in(
            &b.email,
            &b.password,
            b.totp.as_deref(),
            access::peer(c),
            device,
        )
        .await?;
    Ok(signed_in_response(&state, &s, StatusCode::OK))
}

/// `POST /api/v1/auth/logout`: ends the session of the cookie (with its CSRF token).
pub async fn logout(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(p) = access::principal(&state, &headers).await.ok().flatten()
        && matches!(p.via, Via::Session { .. })
    {
        let presented = headers
            .get(access::CSRF_HEADER)
            .and_then(|v| v.to_str().ok());
        if !access::csrf_ok(&p, presented) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "send the session's CSRF token in the X-CSRF-Token header",
            ));
        }
        state.staff.sign_out(&p, access::peer(c)).await?;
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = access::set_cookie(&state, SESSION_COOKIE, "", 0) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    email: String,
}

/// `POST /api/v1/auth/password-reset` `{"email"}` → 202 whether or not the address has
/// an account; a member gets a link by e-mail.
pub async fn request_reset(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<ResetRequest>,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    state.staff.request_reset(&b.email, access::peer(c)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Message {
            message: "if the address has an account, a link to choose a new password is on its way",
        }),
    )
        .into_response())
}

/// `GET /api/v1/auth/links/{token}`: what an invitation or reset link is for.
pub async fn link_info(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<LinkInfo>, ApiError> {
    let (link, member) = state.staff.link(&token).await?;
    Ok(Json(LinkInfo {
        purpose: link.purpose.as_str(),
        email: member.email,
        name: member.name,
        expires_at: format_seconds(link.expires_at),
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
    /// The authenticator code, for a reset of an account with two-factor sign-in.
    #[serde(default)]
    totp: Option<String>,
}

/// `POST /api/v1/auth/links/{token}` `{"password"}`: sets the password (the link is
/// spent) and signs in.
pub async fn complete_link(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Path(token): Path<String>,
    JsonBody(b): JsonBody<NewPassword>,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let s = state
        .staff
        .complete_link(&token, &b.password, b.totp.as_deref(), access::peer(c))
        .await?;
    Ok(signed_in_response(&state, &s, StatusCode::OK))
}

// ---- one's own account ----

/// `GET /api/v1/me`: who is calling (and, for a session, its CSRF token).
pub async fn me(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<MeView>, ApiError> {
    let mut v = MeView {
        actor: p.actor.clone(),
        role: p.role.as_str(),
        via: p.via.as_str(),
        staff: None,
        csrf_token: None,
        totp_setup_required: None,
    };
    if let Some(id) = p.member {
        v.staff = Some(StaffView::from(&state.staff.member(id).await?));
    }
    if let Via::Session {
        csrf,
        totp_setup_required,
        ..
    } = &p.via
    {
        v.csrf_token = Some(csrf.clone());
        v.totp_setup_required = Some(*totp_setup_required);
    }
    Ok(Json(v))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/me/password` `{"current_password", "new_password"}`: every session
/// of the member ends; a session caller gets a fresh one (new cookie and CSRF token).
pub async fn change_password(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Extension(addr): Extension<ClientAddr>,
    JsonBody(b): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let id = member_of(&p)?;
    let fresh = state
        .staff
        .change_password(&p, &b.current_password, &b.new_password, addr.0)
        .await?;
    Ok(match fresh {
        Some(s) => signed_in_response(&state, &s, StatusCode::OK),
        None => Json(StaffOnly {
            staff: StaffView::from(&state.staff.member(id).await?),
        })
        .into_response(),
    })
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    name: String,
}

/// `POST /api/v1/me/tokens` `{"name"}` → 201 `{"id", "token", ...}` (shown once).
pub async fn create_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(b): JsonBody<TokenBody>,
) -> Result<Response, ApiError> {
    let id = member_of(&p)?;
    let t = state.staff.create_token(id, &b.name).await?;
    let v = NewToken {
        view: TokenView::from(&t.record),
        token: t.token.clone(),
    };
    Ok(noted_json(
        StatusCode::CREATED,
        v,
        AuditNote::target(t.record.id.to_string()).with_detail(json!({"name": t.record.name})),
    ))
}

/// `GET /api/v1/me/tokens`.
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<TokenList>, ApiError> {
    let id = member_of(&p)?;
    let tokens: Vec<TokenView> = state
        .staff
        .tokens(id)
        .await?
        .iter()
        .map(TokenView::from)
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// `DELETE /api/v1/me/tokens/{id}`.
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let id = member_of(&p)?;
    let t = state.staff.revoke_token(id, &token).await?;
    Ok(noted_json(
        StatusCode::OK,
        RevokedToken {
            revoked: TokenView::from(&t),
        },
        AuditNote::target(t.id.to_string()).with_detail(json!({"name": t.name})),
    ))
}

/// `POST /api/v1/me/totp` → `{"secret", "otpauth_uri"}`: set-up starts; confirm it.
pub async fn totp_begin(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
) -> Result<Json<TotpSecret>, ApiError> {
    let id = member_of(&p)?;
    let (secret, otpauth_uri) = state.staff.totp_begin(id).await?;
    Ok(Json(TotpSecret {
        secret,
        otpauth_uri,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    code: String,
}

/// `POST /api/v1/me/totp/confirm` `{"code"}`: sign-in asks for a code from now on.
pub async fn totp_confirm(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(b): JsonBody<CodeBody>,
) -> Result<Json<TotpState>, ApiError> {
    let id = member_of(&p)?;
    state
        .staff
        .totp_confirm(id, &b.code)
        .await
        .map_err(wrong_code)?;
    if let Via::Session { digest, .. } = &p.via {
        // The session that was only allowed to set it up may do everything now.
        state.staff.release_session(digest).await?;
    }
    Ok(Json(TotpState { totp: true }))
}

/// `DELETE /api/v1/me/totp` `{"code"}`.
pub async fn totp_disable(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(b): JsonBody<CodeBody>,
) -> Result<Json<TotpState>, ApiError> {
    let id = member_of(&p)?;
    state
        .staff
        .totp_disable(id, &b.code)
        .await
        .map_err(wrong_code)?;
    Ok(Json(TotpState { totp: false }))
}

/// A wrong code from a signed-in member is a bad request, not a failed sign-in.
fn wrong_code(e: crate::staff::Error) -> ApiError {
    match e {
        crate::staff::Error::TotpWrong => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "totp_invalid",
            "that authenticator code is not right",
        ),
        other => other.into(),
    }
}

// ---- accounts (owners) ----

/// `GET /api/v1/staff`.
pub async fn list_staff(State(state): State<AppState>) -> Result<Json<StaffList>, ApiError> {
    let all: Vec<StaffView> = state
        .staff
        .members()
        .await?
        .iter()
        .map(StaffView::from)
        .collect();
    Ok(Json(StaffList { staff: all }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    email: String,
    name: String,
    role: String,
    /// Given: the account can sign in at once. Left out: an invitation link.
    #[serde(default)]
    password: Option<String>,
}

fn role(s: &str) -> Result<Role, ApiError> {
    s.parse::<Role>().map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            format!("role: {e}"),
        )
    })
}

/// `POST /api/v1/staff` `{"email", "name", "role", "password"?}` → 201; without a
/// password the answer carries `invitation_url` (also e-mailed when mail works).
pub async fn add_staff(
    State(state): State<AppState>,
    JsonBody(b): JsonBody<NewMember>,
) -> Result<Response, ApiError> {
    let role = role(&b.role)?;
    let (m, link) = state
        .staff
        .add(&b.email, &b.name, role, b.password.as_deref())
        .await?;
    let mut v = NewStaff {
        staff: StaffView::from(&m),
        invitation_url: None,
        mail: None,
    };
    if let Some(l) = link {
        v.invitation_url = Some(l);
        v.mail = Some(if state.mail.configured().is_some() {
            "queued"
        } else {
            "not_configured"
        });
        state.mail.wake();
    }
    Ok(noted_json(
        StatusCode::CREATED,
        v,
        AuditNote::target(m.id.to_string())
            .with_detail(json!({"email": m.email, "role": m.role.as_str()})),
    ))
}

/// `GET /api/v1/staff/{id}` (id or e-mail address).
pub async fn get_staff(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StaffView>, ApiError> {
    Ok(Json(StaffView::from(&state.staff.find(&id).await?)))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChange {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    role: Option<String>,
}

/// `PATCH /api/v1/staff/{id}` `{"name"?, "role"?}`.
pub async fn update_staff(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MemberChange>,
) -> Result<Response, ApiError> {
    let role = b.role.as_deref().map(role).transpose()?;
    let m = state.staff.find(&id).await?;
    let m = state.staff.update(m.id, b.name.as_deref(), role).await?;
    Ok(noted_json(
        StatusCode::OK,
        StaffView::from(&m),
        AuditNote::target(m.id.to_string())
            .with_detail(json!({"role": m.role.as_str(), "name": m.name})),
    ))
}

/// `DELETE /api/v1/staff/{id}`: the account, its sessions and tokens go.
pub async fn remove_staff(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let m = state.staff.find(&id).await?;
    let m = state.staff.remove(m.id).await?;
    Ok(noted_json(
        StatusCode::OK,
        RemovedStaff {
            removed: StaffView::from(&m),
        },
        AuditNote::target(m.id.to_string()).with_detail(json!({"email": m.email})),
    ))
}

/// `POST /api/v1/staff/{id}/password-reset` → `{"reset_url"}` (also e-mailed).
pub async fn reset_staff(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let m = state.staff.find(&id).await?;
    let url = state.staff.reset_link(m.id).await?;
    state.mail.wake();
    Ok(noted_json(
        StatusCode::OK,
        // With mail, the link goes to the member only: an owner holding it could sign
        // in as them.
        ResetLink {
            reset_url: url,
            mail: if state.mail.configured().is_some() {
                "queued"
            } else {
                "not_configured"
            },
        },
        AuditNote::target(m.id.to_string()),
    ))
}

/// `POST /api/v1/staff/{id}/totp-reset`: turns a member's two-factor off (a lost
/// phone).
pub async fn reset_staff_totp(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let m = state.staff.find(&id).await?;
    state.staff.totp_reset(m.id).await?;
    Ok(noted_json(
        StatusCode::OK,
        StaffView::from(&state.staff.member(m.id).await?),
        AuditNote::target(m.id.to_string()),
    ))
}

/// `GET /api/v1/settings/security`.
pub async fn get_security(
    State(state): State<AppState>,
) -> Result<Json<SecuritySettings>, ApiError> {
    Ok(Json(state.staff.security().await?))
}

/// The body of `PUT /api/v1/settings/security`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityChange {
    /// Whether every member must sign in with a second factor.
    pub require_totp: bool,
}

/// `PUT /api/v1/settings/security` `{"require_totp": bool}`.
pub async fn put_security(
    State(state): State<AppState>,
    JsonBody(b): JsonBody<SecurityChange>,
) -> Result<Response, ApiError> {
    let s = SecuritySettings {
        require_totp: b.require_totp,
    };
    state.staff.set_security(&s).await?;
    Ok(noted_json(
        StatusCode::OK,
        json!(s),
        AuditNote::default().with_detail(json!(s)),
    ))
}

// ---- the audit trail ----

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    format: Option<String>,
}

fn audit_view(r: &AuditRecord) -> AuditEntry {
    AuditEntry {
        seq: r.seq.to_string(),
        at: format_seconds(r.at),
        actor: r.actor.clone(),
        actor_id: r.actor_id.map(|u| u.to_string()),
        via: r.via.clone(),
        action: r.action.clone(),
        target: r.target.clone(),
        address: r.address.clone(),
        status: r.status,
        detail: r.detail.clone(),
    }
}

/// A CSV cell: quoted when needed, and a leading `=`, `+`, `-`, `@`, tab or CR
/// neutralised with a `'` so that spreadsheets show it instead of running it.
pub fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// `GET /api/v1/audit?actor=&action=&target=&since=&until=&limit=&cursor=` → newest
/// first with `next_cursor`; `format=csv` (or `Accept: text/csv`) exports every
/// matching entry as CSV.
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Result<Response, ApiError> {
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
    let time = |name: &str, v: &Option<String>| match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => parse_datetime(s)
            .map(Some)
            .ok_or_else(|| invalid(format!("{name} must be an RFC 3339 date-time"))),
    };
    let filter = AuditFilter {
        actor: q.actor.clone().filter(|s| !s.is_empty()),
        action: q.action.clone().filter(|s| !s.is_empty()),
        target: q.target.clone().filter(|s| !s.is_empty()),
        since: time("since", &q.since)?,
        until: time("until", &q.until)?,
    };
    let csv = q.format.as_deref() == Some("csv")
        || headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/csv"));
    let cursor = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| invalid("cursor is not one this service gave".into()))?,
        ),
    };
    if csv {
        let mut out = String::from("seq,at,actor,via,action,target,address,status,detail\n");
        let mut cur = cursor;
        loop {
            let page = state.staff.audit_log(&filter, 1000, cur).await?;
            for r in &page {
                let cells = [
                    r.seq.to_string(),
                    format_seconds(r.at),
                    r.actor.clone(),
                    r.via.clone().unwrap_or_default(),
                    r.action.clone(),
                    r.target.clone().unwrap_or_default(),
                    r.address.clone().unwrap_or_default(),
                    r.status.map(|s| s.to_string()).unwrap_or_default(),
                    r.detail.as_ref().map(Value::to_string).unwrap_or_default(),
                ];
                out.push_str(
                    &cells
                        .iter()
                        .map(|c| csv_cell(c))
                        .collect::<Vec<_>>()
                        .join(","),
                );
                out.push('\n');
            }
            match page.last() {
                Some(l) if page.len() == 1000 => cur = Some(l.seq),
                _ => break,
            }
        }
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"audit.csv\"",
                ),
            ],
            out,
        )
            .into_response());
    }
    let limit = match q.limit.as_deref() {
        None | Some("") => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return Err(invalid("limit must be 1..=1000".into())),
        },
    };
    let page = state.staff.audit_log(&filter, limit, cursor).await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|r| r.seq.to_string()))
        .flatten();
    let events = page.iter().map(audit_view).collect();
    Ok(Json(AuditPage {
        events,
        next_cursor: next,
    })
    .into_response())
}

// ---- mail ----

/// `GET /api/v1/mail`: whether e-mail works, from whom, and the reminder settings.
pub async fn mail_status(State(state): State<AppState>) -> Result<Json<MailStatus>, ApiError> {
    let settings = state.mail.settings().await?;
    let smtp = state.mail.configured().map(|c| SmtpView {
        host: c.host.clone(),
        port: c.port,
        tls: format!("{:?}", c.tls).to_lowercase(),
        from: c.from.to_string(),
    });
    Ok(Json(MailStatus {
        configured: smtp.is_some(),
        smtp,
        settings,
    }))
}

/// `PUT /api/v1/mail/settings` `{"unclaimed_reminder_days": [...], "expiry_reminder_days": [...]}`.
pub async fn put_mail_settings(
    State(state): State<AppState>,
    JsonBody(s): JsonBody<MailSettings>,
) -> Result<Response, ApiError> {
    state.mail.set_settings(&s).await?;
    Ok(noted_json(
        StatusCode::OK,
        json!(s),
        AuditNote::default().with_detail(json!(s)),
    ))
}

fn template_kind(s: &str) -> Result<TemplateKind, ApiError> {
    TemplateKind::parse(s).ok_or_else(|| {
        ApiError::not_found(format!(
            "no template {s:?}; templates are {}",
            TemplateKind::ALL.map(TemplateKind::as_str).join(", ")
        ))
    })
}

async fn template_view(state: &AppState, kind: TemplateKind) -> Result<TemplateView, ApiError> {
    let (t, custom) = state.mail.template(kind).await?;
    Ok(TemplateView {
        kind: kind.as_str(),
        custom,
        subject: t.subject,
        text: t.text,
        html: t.html,
        placeholders: crate::mail::template::placeholders(kind).to_vec(),
    })
}

/// `GET /api/v1/mail/templates`.
pub async fn list_templates(State(state): State<AppState>) -> Result<Json<TemplateList>, ApiError> {
    let mut templates = Vec::new();
    for k in TemplateKind::ALL {
        templates.push(template_view(&state, k).await?);
    }
    Ok(Json(TemplateList { templates }))
}

/// `GET /api/v1/mail/templates/{kind}`.
pub async fn get_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
) -> Result<Json<TemplateView>, ApiError> {
    Ok(Json(template_view(&state, template_kind(&kind)?).await?))
}

/// `PUT /api/v1/mail/templates/{kind}` `{"subject", "text", "html"}`.
pub async fn put_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    JsonBody(t): JsonBody<MailTemplate>,
) -> Result<Response, ApiError> {
    let kind = template_kind(&kind)?;
    state.mail.set_template(kind, Some(&t)).await?;
    Ok(noted_json(
        StatusCode::OK,
        template_view(&state, kind).await?,
        AuditNote::target(kind.as_str()),
    ))
}

/// `DELETE /api/v1/mail/templates/{kind}`: back to the built-in one.
pub async fn delete_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
) -> Result<Response, ApiError> {
    let kind = template_kind(&kind)?;
    state.mail.set_template(kind, None).await?;
    Ok(noted_json(
        StatusCode::OK,
        template_view(&state, kind).await?,
        AuditNote::target(kind.as_str()),
    ))
}

/// `POST /api/v1/mail/templates/{kind}/preview` with an optional draft
/// `{"subject", "text", "html"}` → the message filled with sample values.
pub async fn preview_template(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    OptionalJsonBody(draft): OptionalJsonBody<MailTemplate>,
) -> Result<Json<Preview>, ApiError> {
    let kind = template_kind(&kind)?;
    let r = state.mail.preview(kind, draft.as_ref()).await?;
    Ok(Json(Preview {
        subject: r.subject,
        text: r.text,
        html: r.html,
    }))
}

/// The body of `POST /api/v1/mail/test`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestMail {
    /// The address to send the test message to.
    pub to: String,
}

/// `POST /api/v1/mail/test` `{"to"}` → 202: a test message is queued.
pub async fn send_test(
    State(state): State<AppState>,
    JsonBody(b): JsonBody<TestMail>,
) -> Result<Response, ApiError> {
    let m = state.mail.send_test(&b.to).await?;
    Ok(noted_json(
        StatusCode::ACCEPTED,
        QueuedMail {
            key: m.key.clone(),
            to: m.to.clone(),
            mail: "queued",
        },
        AuditNote::target(m.key.clone()).with_detail(json!({"to": m.to})),
    ))
}

/// `GET /api/v1/mail/outbox/{key}`: one message's state (test messages).
pub async fn outbox_message(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let m = state
        .mail
        .message(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no message {key:?}")))?;
    Ok(Json(MessageView::from(&m)))
}
