//! The staff console's door: signing in and out (`/admin/login`), invitations and
//! password resets
//! (`/admin/invitation/{token}`, `/admin/reset/{token}`, `/admin/forgot`), and the
//! earner's one-click opt-out from reminders (`/mail/unsubscribe/{award}/{mac}`).
//!
//! Every form carries a CSRF token: the session's once signed in, a token derived from
//! a random cookie before; a post without a valid one is refused with 403.

use std::net::SocketAddr;

use axum::Form;
use axum::extract::{ConnectInfo, Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::templates::layout;
use super::{cross_site, error_page, form_csrf, form_csrf_valid, page};
use crate::app::AppState;
use crate::http::access::{self, SESSION_COOKIE};
use crate::http::routes::staff::set_session_cookies;
use crate::staff::{Error, Principal};

const LOGIN_FORM: &str = "accolade staff sign-in form";
const LINK_FORM: &str = "accolade staff link form";
const FORGOT_FORM: &str = "accolade staff reset form";

use super::console::{meta, notice, site};

async fn shell(
    state: &AppState,
    title: &str,
    path: &str,
    status: StatusCode,
    main: Markup,
) -> Response {
    let site = site(state).await;
    let m = meta(&site, title, path);
    page(
        status,
        layout(
            &site,
            &m,
            Some("console"),
            html! { div.wrap.narrow { (main) } },
        ),
        "no-store",
    )
}

fn with_cookie(mut res: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Checks a form posted before signing in: from our own pages, with its form token.
async fn anonymous_post(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    csrf: &str,
) -> Option<Response> {
    if let Some(r) = cross_site(state, headers).await {
        return Some(r);
    }
    if !form_csrf_valid(state, headers, purpose, csrf) {
        return Some(form_expired(state).await);
    }
    None
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> Option<Principal> {
    let c = access::cookie(headers, SESSION_COOKIE)?;
    state.staff.session(c).await.ok().flatten()
}

// ---- sign in ----

async fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    msg: Option<&str>,
    email: &str,
) -> Response {
    let (token, cookie) = form_csrf(state, headers, LOGIN_FORM);
    let base = state.issuer.identifier();
    let main = html! {
        h1 { "Staff sign-in" }
        @if let Some(m) = msg { (notice("error", m)) }
        form.stack method="post" action={ (base) "/admin/login" } data-action="sign-in" {
            input type="hidden" name="csrf" value=(token);
            label for="email" { "E-mail address" }
            input #email type="email" name="email" value=(email) autocomplete="username" required;
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password" required minlength="12";
            label for="code" { "Authenticator code (if you set one up)" }
            input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]{6,7}";
            button.button.primary type="submit" { "Sign in" }
        }
        p { a href={ (base) "/admin/forgot" } { "Forgot your password?" } }
    };
    with_cookie(
        shell(state, "Sign in", "/admin/login", status, main).await,
        cookie,
    )
}

/// `GET /admin/login`.
pub async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await.is_some() {
        return Redirect::to(&format!("{}/admin", state.issuer.identifier())).into_response();
    }
    login_page(&state, &headers, StatusCode::OK, None, "").await
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

async fn form_expired(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::FORBIDDEN,
        "This form has expired",
        "Open the page again and send the form from there. (Your browser must accept this site's cookies.)",
    )
    .await
}

/// `POST /admin/login`: a session, then the console (303).
pub async fn login(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if let Some(r) = anonymous_post(&state, &headers, LOGIN_FORM, &f.csrf).await {
        return r;
    }
    let code = Some(f.code.as_str()).filter(|c| !c.trim().is_empty());
    let device = access::cookie(&headers, access::DEVICE_COOKIE);
    match state
        .staff
        .sign_in(&f.email, &f.password, code, access::peer(c), device)
        .await
    {
        Ok(s) => {
            let mut res =
                Redirect::to(&format!("{}/admin", state.issuer.identifier())).into_response();
            set_session_cookies(&state, &mut res, &s);
            res
        }
        Err(e @ (Error::BadCredentials | Error::TotpRequired | Error::TotpWrong)) => {
            login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some(&super::sentence(&e.to_string())),
                &f.email,
            )
            .await
        }
        Err(e @ Error::Throttled(s)) => {
            let mut res = login_page(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                Some(&super::sentence(&e.to_string())),
                &f.email,
            )
            .await;
            if let Ok(v) = s.to_string().parse() {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "signing in");
            error_page(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Signing in failed; try again in a moment.",
            )
            .await
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Response {
    let base = state.issuer.identifier();
    if let Some(p) = signed_in(&state, &headers).await {
        if !access::csrf_ok(&p, Some(&f.csrf)) {
            return form_expired(&state).await;
        }
        if let Err(e) = state.staff.sign_out(&p, access::peer(c)).await {
            tracing::error!(error = %e, "signing out");
        }
    }
    with_cookie(
        Redirect::to(&format!("{base}/admin/login")).into_response(),
        access::set_cookie(&state, SESSION_COOKIE, "", 0),
    )
}

// ---- invitations and resets ----

async fn link_page(
    state: &AppState,
    headers: &HeaderMap,
    kind: &str,
    token: &str,
    status: StatusCode,
    msg: Option<&str>,
) -> Response {
    let base = state.issuer.identifier();
    let (link, member) = match state.staff.link(token).await {
        Ok(x) => x,
        Err(_) => {
            return error_page(state, StatusCode::GONE, "This link is not valid any more", "Links to choose a password work once and for a limited time. Ask an owner for a new invitation, or ask for a new reset link.").await;
        }
    };
    let (form_token, cookie) = form_csrf(state, headers, LINK_FORM);
    let title = match link.purpose {
        crate::records::LinkPurpose::Invitation => "Choose your password",
        crate::records::LinkPurpose::PasswordReset => "Choose a new password",
    };
    let main = html! {
        h1 { (title) }
        p { "For " strong { (member.name) } " (" (member.email) ")." }
        @if let Some(m) = msg { (notice("error", m)) }
        form.stack method="post" action={ (base) "/admin/" (kind) "/" (token) } data-action="set-password" {
            input type="hidden" name="csrf" value=(form_token);
            input type="hidden" name="email" value=(member.email) autocomplete="username";
            label for="password" { "New password (at least 12 characters)" }
            input #password type="password" name="password" autocomplete="new-password" required minlength="12";
            label for="confirm" { "The same password again" }
            input #confirm type="password" name="confirm" autocomplete="new-password" required minlength="12";
            @if member.has_totp() {
                label for="code" { "Code from your authenticator app" }
                input #code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9 ]{6,7}";
            }
            button.button.primary type="submit" { "Save password and sign in" }
        }
    };
    with_cookie(
        shell(state, title, &format!("/admin/{kind}"), status, main).await,
        cookie,
    )
}

/// `GET /admin/invitation/{token}` and `/admin/reset/{token}`.
pub async fn invitation(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    link_page(&state, &headers, "invitation", &token, StatusCode::OK, None).await
}

pub async fn reset(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    link_page(&state, &headers, "reset", &token, StatusCode::OK, None).await
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    code: String,
}

async fn link_post(
    state: AppState,
    kind: &str,
    token: String,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    f: PasswordForm,
) -> Response {
    if let Some(r) = anonymous_post(&state, &headers, LINK_FORM, &f.csrf).await {
        return r;
    }
    if f.password != f.confirm {
        return link_page(
            &state,
            &headers,
            kind,
            &token,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The two passwords are not the same."),
        )
        .await;
    }
    match state
        .staff
        .complete_link(
            &token,
            &f.password,
            Some(f.code.as_str()).filter(|c| !c.trim().is_empty()),
            access::peer(c),
        )
        .await
    {
        Ok(s) => {
            let mut res =
                Redirect::to(&format!("{}/admin", state.issuer.identifier())).into_response();
            set_session_cookies(&state, &mut res, &s);
            res
        }
        Err(
            e @ (Error::Password(_) | Error::TotpRequired | Error::TotpWrong | Error::Throttled(_)),
        ) => {
            link_page(
                &state,
                &headers,
                kind,
                &token,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&super::sentence(&e.to_string())),
            )
            .await
        }
        Err(_) => link_page(&state, &headers, kind, &token, StatusCode::GONE, None).await,
    }
}

/// `POST /admin/invitation/{token}` and `/admin/reset/{token}`.
pub async fn invitation_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    link_post(state, "invitation", token, c, headers, f).await
}

pub async fn reset_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    link_post(state, "reset", token, c, headers, f).await
}

async fn forgot_page(state: &AppState, headers: &HeaderMap, sent: bool) -> Response {
    let base = state.issuer.identifier();
    let (token, cookie) = form_csrf(state, headers, FORGOT_FORM);
    let main = html! {
        h1 { "Forgot your password?" }
        @if sent {
            (notice("status", "If the address has an account, a link to choose a new password is on its way. It works once, for one hour."))
        } @else {
            form.stack method="post" action={ (base) "/admin/forgot" } data-action="forgot-password" {
                input type="hidden" name="csrf" value=(token);
                label for="email" { "Your e-mail address" }
                input #email type="email" name="email" autocomplete="username" required;
                button.button.primary type="submit" { "Send me a link" }
            }
        }
        p { a href={ (base) "/admin/login" } { "Back to sign-in" } }
    };
    with_cookie(
        shell(
            state,
            "Forgot your password?",
            "/admin/forgot",
            StatusCode::OK,
            main,
        )
        .await,
        cookie,
    )
}

/// `GET /admin/forgot`.
pub async fn forgot(State(state): State<AppState>, headers: HeaderMap) -> Response {
    forgot_page(&state, &headers, false).await
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// `POST /admin/forgot`: the same answer whether or not the address has an account.
pub async fn forgot_post(
    State(state): State<AppState>,
    c: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<ForgotForm>,
) -> Response {
    if let Some(r) = anonymous_post(&state, &headers, FORGOT_FORM, &f.csrf).await {
        return r;
    }
    if let Err(e) = state.staff.request_reset(&f.email, access::peer(c)).await {
        tracing::error!(error = %e, "a password reset request");
    }
    state.mail.wake();
    forgot_page(&state, &headers, true).await
}

// ---- the earner's opt-out ----

/// `GET /mail/unsubscribe/{award}/{mac}`: a page with the one button.
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path((award, mac)): Path<(String, String)>,
) -> Response {
    if state.mail.check_unsubscribe(&award, &mac).is_none() {
        return error_page(
            &state,
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Use the link in the most recent message about your badge.",
        )
        .await;
    }
    let base = state.issuer.identifier();
    let main = html! {
        h1 { "Stop reminders about this badge?" }
        p { "You will get no more reminders about this badge (that it is waiting to be claimed, or about to expire). Your badge itself stays as it is." }
        form method="post" action={ (base) "/mail/unsubscribe/" (award) "/" (mac) } data-action="unsubscribe" {
            button.button.primary type="submit" { "Stop reminders" }
        }
    };
    shell(
        &state,
        "Stop reminders",
        "/mail/unsubscribe",
        StatusCode::OK,
        main,
    )
    .await
}

/// `POST /mail/unsubscribe/{award}/{mac}`: the link itself is the secret (RFC 8058
/// one-click posts come from mail programs without cookies).
pub async fn unsubscribe(
    State(state): State<AppState>,
    Path((award, mac)): Path<(String, String)>,
) -> Response {
    let Some(id) = state.mail.check_unsubscribe(&award, &mac) else {
        return error_page(
            &state,
            StatusCode::NOT_FOUND,
            "This link is not valid",
            "Use the link in the most recent message about your badge.",
        )
        .await;
    };
    if let Err(e) = state.mail.set_opt_out(id, true).await {
        tracing::error!(error = %e, "opting out of reminders");
        return error_page(
            &state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Try again in a moment.",
        )
        .await;
    }
    let main = html! {
        h1 { "Done" }
        (notice("status", "You will get no more reminders about this badge."))
    };
    shell(
        &state,
        "Reminders stopped",
        "/mail/unsubscribe",
        StatusCode::OK,
        main,
    )
    .await
}
