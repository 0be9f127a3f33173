//! The staff console (`/admin/...`): the whole badge programme from a browser.
//!
//! Pages are rendered on the server in the public pages' layout (same style sheet,
//! content security policy and accessibility rules) and work without JavaScript; the
//! script only refreshes pages that wait for something (a batch award in progress, a
//! wallet's answer).
//!
//! **One door for every change.** A console form never writes anything itself: its
//! handler checks the session and the form's CSRF token, turns the form into the same
//! admin API call a script would make, and runs it in-process through the admin
//! router ([`crate::http::admin_api`]) with the member's session. So the role each
//! action needs, every check of the input and the audit trail are those of the API,
//! decided in one place: a button the console hides from a viewer is refused to a
//! viewer who sends the form anyway (`403`, and the refusal is in the audit trail).
//! Pages read through the same API where it shapes what a role may see (offer and
//! claim links are an issuer's), and straight from the services otherwise.
//!
//! Lists export CSV (`….csv` beside each list page), with cells that a spreadsheet
//! would run as a formula neutralised (`routes::staff::csv_cell`).

pub mod awarding;
pub mod programme;
pub mod settings;

use std::net::SocketAddr;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Extension, Multipart};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tower::ServiceExt as _;

use super::templates::layout;
use super::{cross_site, error_page, page};
use crate::app::AppState;
use crate::http::access::{self, CSRF_HEADER, SESSION_COOKIE};
use crate::records::Role;
use crate::staff::{Principal, Via};
use crate::views::{Meta, Site};

/// Characters escaped in one path segment of an API call.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// One path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A query value, percent-encoded.
pub(crate) fn qv(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// A signed-in member's request to the console.
#[derive(Clone)]
pub(crate) struct Cx {
    pub state: AppState,
    pub p: Principal,
    pub csrf: String,
    pub site: Site,
    /// Whether an owner requires two-factor sign-in and this member has not set it up.
    pub totp_setup_required: bool,
    session: String,
    peer: Option<ConnectInfo<SocketAddr>>,
}

/// The body of an in-process API call.
pub(crate) enum ApiBody {
    Empty,
    Json(Value),
    Raw(String, Vec<u8>),
}

/// An in-process API call's answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn ok(&self) -> bool {
        self.status.is_success()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// The error's human text (`message` of the API's error body).
    pub fn message(&self) -> String {
        let v = self.json();
        match v.get("message").and_then(Value::as_str) {
            Some(m) => super::sentence(m),
            None => format!(
                "The service answered {} {}.",
                self.status.as_u16(),
                self.status.canonical_reason().unwrap_or("")
            ),
        }
    }
}

impl Cx {
    pub fn base(&self) -> String {
        self.state.issuer.identifier()
    }

    /// A console address.
    pub fn at(&self, path: &str) -> String {
        format!("{}/admin{path}", self.base())
    }

    pub fn may(&self, role: Role) -> bool {
        self.p.may(role)
    }

    /// Calls the admin API in-process as this member.
    pub async fn api(&self, method: Method, path: &str, body: ApiBody) -> Answer {
        let uri = format!("{}{path}", self.state.identity.base_path);
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, format!("{SESSION_COOKIE}={}", self.session))
            .header(CSRF_HEADER, &self.csrf);
        let body = match body {
            ApiBody::Empty => Body::empty(),
            ApiBody::Json(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap_or_default())
            }
            ApiBody::Raw(ct, bytes) => {
                b = b.header(header::CONTENT_TYPE, ct);
                Body::from(bytes)
            }
        };
        let mut req = match b.body(body) {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    status: StatusCode::BAD_REQUEST,
                    headers: HeaderMap::new(),
                    body: Bytes::from(
                        serde_json::json!({"error": "invalid_request", "message": e.to_string()})
                            .to_string(),
                    ),
                };
            }
        };
        if let Some(c) = self.peer {
            req.extensions_mut().insert(c);
        }
        let res = match crate::http::admin_api(&self.state).oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// A GET through the API; an error becomes the page to show.
    pub async fn read(&self, path: &str) -> Result<Value, Response> {
        let a = self.api(Method::GET, path, ApiBody::Empty).await;
        if a.ok() {
            Ok(a.json())
        } else {
            Err(self.failed(&a, "").await)
        }
    }

    /// The items under `key` of a GET through the API; an error becomes the page.
    pub async fn list(&self, path: &str, key: &str) -> Result<Vec<Value>, Response> {
        Ok(self.read(path).await?[key]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// Runs a form's API call and goes back to `back`: saying `done`, or the error
    /// page.
    pub async fn act(
        &self,
        method: Method,
        path: &str,
        body: ApiBody,
        back: &str,
        done: &str,
    ) -> Response {
        let a = self.api(method, path, body).await;
        if a.ok() {
            self.done(back, done)
        } else {
            self.failed(&a, back).await
        }
    }

    /// The page for a call that did not work: the API's status and message, and the
    /// way back.
    pub async fn failed(&self, a: &Answer, back: &str) -> Response {
        let main = html! {
            h1 { "That did not work" }
            (notice("error", &a.message()))
            @if a.status == StatusCode::FORBIDDEN {
                p { "Your role is " strong { (self.p.role.as_str()) } ". Ask an owner if you need to do this." }
            }
            @if !back.is_empty() { p { a href=(self.at(back)) { "Back" } } }
        };
        self.shell("Not done", "", a.status, main)
    }

    /// A redirect after a change that worked: back to `path`, saying `done`.
    pub fn done(&self, path: &str, done: &str) -> Response {
        let sep = if path.contains('?') { '&' } else { '?' };
        Redirect::to(&format!("{}{sep}done={done}", self.at(path))).into_response()
    }

    /// A console page in the site's layout with the console's navigation.
    pub fn shell(&self, title: &str, here: &str, status: StatusCode, main: Markup) -> Response {
        let m = meta(&self.site, title, &format!("/admin{here}"));
        let body = html! {
            div.console-bar {
                div.wrap {
                    span { "Staff console" }
                    span.who data-signed-in=(self.p.actor) {
                        (self.p.name.clone().unwrap_or_else(|| self.p.actor.clone()))
                        " · " span data-role=(self.p.role.as_str()) { (self.p.role.as_str()) }
                    }
                    form method="post" action=(self.at("/logout")) data-action="sign-out" {
                        input type="hidden" name="csrf" value=(self.csrf);
                        button.button.small-button type="submit" { "Sign out" }
                    }
                }
            }
            div.wrap.console-layout {
                nav.console-nav aria-label="Console" {
                    ul role="list" {
                        @for (path, label) in NAV {
                            li {
                                @if *path == *here || (!path.is_empty() && here.starts_with(&format!("{path}/"))) {
                                    a href=(self.at(path)) aria-current="page" { (label) }
                                } @else {
                                    a href=(self.at(path)) { (label) }
                                }
                            }
                        }
                    }
                }
                div.console-main { (main) }
            }
        };
        page(
            status,
            layout(&self.site, &m, Some("console"), body),
            "no-store",
        )
    }
}

/// The console's sections.
const NAV: [(&str, &str); 12] = [
    ("", "Dashboard"),
    ("/achievements", "Achievements"),
    ("/award", "Award badges"),
    ("/credentials", "Credentials"),
    ("/presentations", "Check a candidate"),
    ("/profile", "Issuer profile"),
    ("/trust", "Trust registry"),
    ("/api-keys", "Partner API keys"),
    ("/staff", "Staff"),
    ("/mail", "E-mail"),
    ("/audit", "Audit log"),
    ("/account", "Your account"),
];

pub(crate) fn meta(site: &Site, title: &str, path: &str) -> Meta {
    Meta {
        title: format!("{title} — {}", site.issuer_name),
        description: format!("Staff console of {}", site.issuer_name),
        url: format!("{}{path}", site.base),
        image: None,
        image_alt: None,
        noindex: true,
        og_type: "website",
    }
}

pub(crate) async fn site(state: &AppState) -> Site {
    match state.pages.site().await {
        Ok(s) => s,
        Err(_) => super::fallback_site(state),
    }
}

/// A line saying how something went.
pub(crate) fn notice(kind: &str, text: &str) -> Markup {
    let class = if kind == "error" {
        "notice-line error"
    } else {
        "notice-line ok"
    };
    html! { p class=(class) role=(if kind == "error" { "alert" } else { "status" }) data-notice=(kind) { (text) } }
}

/// What a `?done=` key says.
pub(crate) fn done_notice(key: Option<&str>) -> Markup {
    let text = match key.unwrap_or("") {
        "" => return html! {},
        "profile" => "The issuer profile is saved.",
        "logo" => "The logo is saved.",
        "type-created" => "The badge type is added.",
        "type-saved" => "The badge type is saved.",
        "type-deleted" => "The badge type is removed.",
        "created" => "The achievement is created.",
        "saved" => "The achievement is saved.",
        "archived" => "The achievement is archived: it can no longer be awarded.",
        "revoked" => "The badge is revoked.",
        "suspended" => "The badge is suspended.",
        "unsuspended" => "The badge is no longer suspended.",
        "reoffered" => "A fresh offer is made.",
        "approved" => "The award is approved: the wallet can collect it now.",
        "hidden" => "The badge page is hidden.",
        "shown" => "The badge page is public.",
        "reminders-stopped" => "No more reminders go out for this award.",
        "trust-added" => "The issuer is in the trust registry.",
        "trust-saved" => "The trust entry is saved.",
        "trust-removed" => "The trust entry is removed.",
        "key-revoked" => "The API key is revoked.",
        "staff-saved" => "The member is saved.",
        "staff-removed" => "The member is removed.",
        "staff-totp-reset" => "Their two-factor sign-in is removed; they set it up again.",
        "security" => "The sign-in rules are saved.",
        "mail-settings" => "The reminder settings are saved.",
        "template-saved" => "The template is saved.",
        "template-reset" => "The template is back to the default.",
        "test-sent" => "The test message is queued.",
        "password" => "Your password is changed.",
        "totp-on" => "Two-factor sign-in is on.",
        "totp-off" => "Two-factor sign-in is off.",
        "token-revoked" => "The token is revoked.",
        _ => return html! {},
    };
    notice("ok", text)
}

/// The signed-in member of a page request; otherwise the way to sign in.
pub(crate) async fn enter(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Cx, Response> {
    let login =
        || Redirect::to(&format!("{}/admin/login", state.issuer.identifier())).into_response();
    let Some(cookie) = access::cookie(headers, SESSION_COOKIE) else {
        return Err(login());
    };
    let p = match state.staff.session(cookie).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(login()),
        Err(e) => {
            tracing::error!(error = %e, "reading a staff session");
            return Err(error_page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The console could not be shown just now; try again in a moment.",
            )
            .await);
        }
    };
    let Via::Session {
        csrf,
        totp_setup_required,
        ..
    } = &p.via
    else {
        return Err(login());
    };
    let (csrf, totp_setup_required) = (csrf.clone(), *totp_setup_required);
    Ok(Cx {
        site: site(state).await,
        state: state.clone(),
        session: cookie.to_owned(),
        p,
        csrf,
        totp_setup_required,
        peer: peer.map(|Extension(c)| c),
    })
}

/// As [`enter`], for a form post: also from our own pages, with the session's token.
pub(crate) async fn enter_post(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    csrf: &str,
) -> Result<Cx, Response> {
    if let Some(r) = cross_site(state, headers).await {
        return Err(r);
    }
    let cx = enter(state, headers, peer).await?;
    if !access::csrf_ok(&cx.p, Some(csrf)) {
        return Err(error_page(
            state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the page again and send the form from there.",
        )
        .await);
    }
    Ok(cx)
}

/// A page that needs two-factor sign-in set up first sends the member to do that.
pub(crate) fn setup_first(cx: &Cx) -> Option<Response> {
    cx.totp_setup_required
        .then(|| Redirect::to(&cx.at("/account")).into_response())
}

/// Enters a GET page: signed in, two-factor set up where required.
pub(crate) async fn enter_page(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
) -> Result<Cx, Response> {
    let cx = enter(state, headers, peer).await?;
    if let Some(r) = setup_first(&cx) {
        return Err(r);
    }
    Ok(cx)
}

/// A console page's signed-in member (two-factor set up where an owner requires it);
/// otherwise the way to sign in, or to the set-up.
pub struct Page(pub(crate) Cx);

/// As [`Page`], also while two-factor set-up is still required (the account page).
pub struct Member(pub(crate) Cx);

/// A console form posted by a signed-in member from our own pages with the session's
/// CSRF token, and its fields.
pub struct Posted(pub(crate) Cx, pub Fields);

/// As [`Posted`], a multipart form: its fields and its non-empty files.
pub struct Uploaded(pub(crate) Cx, pub Fields, pub(crate) Vec<(String, Upload)>);

fn peer_of(parts: &axum::http::request::Parts) -> Option<Extension<ConnectInfo<SocketAddr>>> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| Extension(*c))
}

/// What a posted form's check needs of the request, and the request to read the body
/// from.
fn split_post(
    req: axum::extract::Request,
) -> (
    HeaderMap,
    Option<Extension<ConnectInfo<SocketAddr>>>,
    axum::extract::Request,
) {
    let (parts, body) = req.into_parts();
    let headers = parts.headers.clone();
    let peer = peer_of(&parts);
    (
        headers,
        peer,
        axum::extract::Request::from_parts(parts, body),
    )
}

impl axum::extract::FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        enter_page(state, &parts.headers, peer_of(parts))
            .await
            .map(Page)
    }
}

impl axum::extract::FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        enter(state, &parts.headers, peer_of(parts))
            .await
            .map(Member)
    }
}

impl axum::extract::FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (headers, peer, req) = split_post(req);
        let axum::Form(f) = match axum::Form::<Fields>::from_request(req, state).await {
            Ok(f) => f,
            Err(e) => {
                return Err(error_page(
                    state,
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    &super::sentence(&e.body_text()),
                )
                .await);
            }
        };
        let cx = enter_post(state, &headers, peer, f.get("csrf")).await?;
        Ok(Posted(cx, f))
    }
}

impl axum::extract::FromRequest<AppState> for Uploaded {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, state: &AppState) -> Result<Self, Response> {
        let (headers, peer, req) = split_post(req);
        let read = match Multipart::from_request(req, state).await {
            Ok(m) => read_multipart(m).await,
            Err(e) => Err(super::sentence(&e.body_text())),
        };
        let (f, files) = match read {
            Ok(x) => x,
            Err(m) => {
                return Err(error_page(
                    state,
                    StatusCode::BAD_REQUEST,
                    "The form could not be read",
                    &m,
                )
                .await);
            }
        };
        let cx = enter_post(state, &headers, peer, f.get("csrf")).await?;
        Ok(Uploaded(cx, f, files))
    }
}

/// A posted form's fields, in order (a name may repeat).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(transparent)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// A field's value, trimmed (empty when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// A field's value, `None` when absent or blank.
    pub fn opt(&self, name: &str) -> Option<String> {
        Some(self.get(name))
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v != "false")
    }
}

/// An uploaded file.
pub(crate) struct Upload {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// A multipart form: its fields and its non-empty files.
pub(crate) async fn read_multipart(
    mut form: Multipart,
) -> Result<(Fields, Vec<(String, Upload)>), String> {
    let mut fields = Fields::default();
    let mut files = Vec::new();
    while let Some(part) = form
        .next_field()
        .await
        .map_err(|e| format!("the form could not be read: {e}"))?
    {
        let name = part.name().unwrap_or("").to_owned();
        if part.file_name().is_some() {
            let ct = part
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = part
                .bytes()
                .await
                .map_err(|e| format!("the file could not be read: {e}"))?;
            if !bytes.is_empty() {
                files.push((
                    name,
                    Upload {
                        content_type: ct,
                        bytes: bytes.to_vec(),
                    },
                ));
            }
        } else {
            let text = part
                .text()
                .await
                .map_err(|e| format!("the form could not be read: {e}"))?;
            fields.0.push((name, text));
        }
    }
    Ok((fields, files))
}

/// A CSV download of `rows` under `header`, every cell neutralised.
pub(crate) fn csv_download(name: &str, header: &[&str], rows: Vec<Vec<String>>) -> Response {
    use crate::http::routes::staff::csv_cell;
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    let disposition = format!("attachment; filename=\"{name}\"");
    let mut res = (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    res
}

/// A string member of a JSON value (empty when absent).
pub(crate) fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// The last path segment of an id URL (what console addresses use).
pub(crate) fn last(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// An instant the API gave (RFC 3339) as the pages write dates.
pub(crate) fn when(t: &str) -> String {
    match crate::clock::parse_datetime(t) {
        Some(t) => format!(
            "{} {:02}:{:02}",
            super::templates::date(t),
            t.hour(),
            t.minute()
        ),
        None => t.to_owned(),
    }
}

/// A destructive action behind a second click: a disclosure whose summary looks like
/// the button and opens to the form that does it (no script, no dialog).
pub(crate) fn confirm(
    cx: &Cx,
    action: &str,
    data_action: &str,
    label: &str,
    question: &str,
) -> Markup {
    html! {
        details.confirm data-confirm=(data_action) {
            summary.button.danger { (label) }
            form method="post" action=(action) data-action=(data_action) {
                input type="hidden" name="csrf" value=(cx.csrf);
                p.small { (question) }
                button.button.danger type="submit" { "Yes, " (label.to_lowercase()) }
            }
        }
    }
}

/// The signed-in member's page, after a role check the page itself makes for what it
/// offers (the API decides what is done).
pub(crate) fn role_note(cx: &Cx, needed: Role) -> Markup {
    if cx.may(needed) {
        html! {}
    } else {
        html! { p.hint data-read-only { "You can look, not change: this needs the " (needed.as_str()) " role." } }
    }
}
