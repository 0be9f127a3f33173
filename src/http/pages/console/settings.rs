//! The console's settings pages: the trust registry, partner API keys, staff, e-mail
//! (settings, templates with preview, a test message), the audit log, and the
//! member's own account (password, two-factor sign-in, personal API tokens).

use axum::extract::{Path, Query};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::programme::{audit_table, bad_input};
use super::{
    ApiBody, Cx, Fields, Member, Page, Posted, Uploaded, csv_download, done_notice, notice, qv,
    role_note, s, seg, when,
};
use crate::records::Role;

#[derive(Debug, Default, Deserialize)]
pub struct Done {
    done: Option<String>,
}

// ---- trust registry ----

/// `GET /admin/trust`.
pub async fn trust(Query(q): Query<Done>, Page(cx): Page) -> Response {
    trust_page(&cx, StatusCode::OK, done_notice(q.done.as_deref())).await
}

async fn trust_page(cx: &Cx, status: StatusCode, note: Markup) -> Response {
    let list = match cx.list("/api/v1/trust/issuers", "issuers").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let owner = cx.may(Role::Owner);
    let main = html! {
        h1 { "Trust registry" }
        (note)
        (role_note(cx, Role::Owner))
        p { "Issuers whose badges the verifier calls trusted (or blocked). A badge from an issuer not listed still verifies; its issuer is then “not in the registry”." }
        p.actions { a.button href=(cx.at("/trust.csv")) download { "Export CSV" } }
        @if list.is_empty() { p.empty { "The registry is empty." } } @else {
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
                table.data {
                    thead { tr { th scope="col" { "Issuer" } th scope="col" { "Status" } th scope="col" { "Source" } th scope="col" { "Changed" } @if owner { th scope="col" { "Actions" } } } }
                    tbody {
                        @for e in &list {
                            @let id = s(e, "id");
                            tr data-trust=(id) {
                                td { strong { (s(e, "name")) } br; span.mono.wrap-any { (id) } }
                                td { span.state data-state=(s(e, "status")) { (s(e, "status")) } }
                                td { (e["source"].as_str().map(str::to_owned).unwrap_or_else(|| e["source"].to_string())) }
                                td { (when(s(e, "updated_at"))) }
                                @if owner {
                                    td.row-actions {
                                        form method="post" action=(cx.at(&format!("/trust/{}/status", seg(id)))) {
                                            input type="hidden" name="csrf" value=(cx.csrf);
                                            @if s(e, "status") == "blocked" {
                                                input type="hidden" name="status" value="trusted";
                                                button.button type="submit" { "Trust" }
                                            } @else {
                                                input type="hidden" name="status" value="blocked";
                                                button.button type="submit" data-action="block" { "Block" }
                                            }
                                        }
                                        (super::confirm(cx, &cx.at(&format!("/trust/{}/delete", seg(id))), "remove-trust", "Remove", "Its badges then verify as from an issuer not in the registry."))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            div.two-panels {
                form.panel.stack method="post" action=(cx.at("/trust")) data-action="add-trust" {
                    h2 { "Add an issuer" }
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="t-id" { "Issuer id (a DID or URL)" }
                    input #t-id type="text" name="id" required spellcheck="false" placeholder="did:web:…";
                    label for="t-name" { "Name" }
                    input #t-name type="text" name="name" required;
                    label for="t-site" { "Web site (optional)" }
                    input #t-site type="url" name="website" placeholder="https://";
                    fieldset {
                        legend { "Status" }
                        label.inline { input type="radio" name="status" value="trusted" checked; " Trusted" }
                        label.inline { input type="radio" name="status" value="blocked"; " Blocked" }
                    }
                    button.button.primary type="submit" { "Add" }
                }
                form.panel.stack method="post" action=(cx.at("/trust/import")) enctype="multipart/form-data" data-action="import-trust" {
                    h2 { "Import a registry file" }
                    input type="hidden" name="csrf" value=(cx.csrf);
                    p { "A Digital Credentials Consortium issuer registry (JSON), or a file exported from another accolade." }
                    label for="t-file" { "Registry file" }
                    input #t-file type="file" name="file" accept=".json,application/json" required;
                    label for="t-source" { "Name of this source (optional)" }
                    input #t-source type="text" name="name";
                    button.button.primary type="submit" { "Import" }
                }
            }
        }
    };
    cx.shell("Trust registry", "/trust", status, main)
}

/// `GET /admin/trust.csv`.
pub async fn trust_csv(Page(cx): Page) -> Response {
    let list = match cx.list("/api/v1/trust/issuers", "issuers").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    csv_download(
        "trust-registry.csv",
        &["id", "name", "status", "website", "source", "updated_at"],
        list.iter()
            .map(|e| {
                vec![
                    s(e, "id").to_owned(),
                    s(e, "name").to_owned(),
                    s(e, "status").to_owned(),
                    s(e, "website").to_owned(),
                    e["source"]
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| e["source"].to_string()),
                    s(e, "updated_at").to_owned(),
                ]
            })
            .collect(),
    )
}

/// `POST /admin/trust`.
pub async fn add_trust(Posted(cx, f): Posted) -> Response {
    let mut body = json!({"id": f.get("id"), "name": f.get("name"), "status": f.get("status")});
    if let Some(w) = f.opt("website") {
        body["website"] = json!(w);
    }
    cx.act(
        Method::POST,
        "/api/v1/trust/issuers",
        ApiBody::Json(body),
        "/trust",
        "trust-added",
    )
    .await
}

/// `POST /admin/trust/{id}/status`: trust or block.
pub async fn trust_status(Path(id): Path<String>, Posted(cx, f): Posted) -> Response {
    let path = format!("/api/v1/trust/issuers/{}", seg(&id));
    let mut e = match cx.read(&path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut body = serde_json::Map::new();
    for k in ["name", "website", "logo"] {
        if let Some(v) = e.get_mut(k).filter(|v| !v.is_null()) {
            body.insert(k.into(), v.take());
        }
    }
    body.insert("status".into(), json!(f.get("status")));
    cx.act(
        Method::PUT,
        &path,
        ApiBody::Json(Value::Object(body)),
        "/trust",
        "trust-saved",
    )
    .await
}

/// `POST /admin/trust/{id}/delete`.
pub async fn delete_trust(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    cx.act(
        Method::DELETE,
        &format!("/api/v1/trust/issuers/{}", seg(&id)),
        ApiBody::Empty,
        "/trust",
        "trust-removed",
    )
    .await
}

/// `POST /admin/trust/import` (multipart).
pub async fn import_trust(Uploaded(cx, f, files): Uploaded) -> Response {
    let Some((_, file)) = files.into_iter().next() else {
        return cx
            .failed(&bad_input("choose a registry file"), "/trust")
            .await;
    };
    let mut path = "/api/v1/trust/import".to_owned();
    if let Some(n) = f.opt("name") {
        path.push_str(&format!("?name={}", qv(&n)));
    }
    let a = cx
        .api(
            Method::POST,
            &path,
            ApiBody::Raw("application/json".into(), file.bytes),
        )
        .await;
    if !a.ok() {
        return cx.failed(&a, "/trust").await;
    }
    let v = a.json();
    let summary = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, n)| n.as_u64().map(|n| format!("{k}: {n}")))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    trust_page(
        &cx,
        StatusCode::OK,
        notice("ok", &format!("The registry file is imported ({summary}).")),
    )
    .await
}

// ---- partner API keys ----

/// `GET /admin/api-keys`.
pub async fn api_keys(Query(q): Query<Done>, Page(cx): Page) -> Response {
    keys_page(&cx, StatusCode::OK, done_notice(q.done.as_deref()), None).await
}

async fn keys_page(
    cx: &Cx,
    status: StatusCode,
    note: Markup,
    new_key: Option<(String, String)>,
) -> Response {
    let list = match cx.list("/api/v1/api-keys", "api_keys").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let owner = cx.may(Role::Owner);
    let main = html! {
        h1 { "Partner API keys" }
        (note)
        (role_note(cx, Role::Owner))
        p { "Platforms that verify badges through the verify API present a key for a rate limit of their own and usage counts." }
        @if let Some((name, key)) = &new_key {
            div.panel role="status" data-notice="api-key" {
                p { "The key for “" (name) "” — copy it now; it is not shown again:" }
                input #new-key.mono type="text" readonly value=(key) data-api-key=(key) aria-label="The new API key";
                p { button.button type="button" data-copy="new-key" hidden { "Copy key" } }
            }
        }
        p.actions { a.button href=(cx.at("/api-keys.csv")) download { "Export CSV" } }
        @if list.is_empty() { p.empty { "No API keys yet." } } @else {
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
                table.data {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Limit per minute" } th scope="col" { "Requests" } th scope="col" { "Verifications" } th scope="col" { "Refused (limit)" } th scope="col" { "Last used" } th scope="col" { "State" } } }
                    tbody {
                        @for k in &list {
                            @let u = &k["usage"];
                            tr data-api-key-id=(s(k, "id")) {
                                td { (s(k, "name")) }
                                td { (k["rate_limit"].as_u64().unwrap_or(0)) }
                                td { (u["requests"].as_u64().unwrap_or(0)) }
                                td { (u["verifications"].as_u64().unwrap_or(0)) }
                                td { (u["rejected_rate_limited"].as_u64().unwrap_or(0)) }
                                td { (u["last_used_at"].as_str().map(when).unwrap_or_else(|| "never".into())) }
                                td {
                                    @if k["revoked"].as_bool() == Some(true) { "Revoked" } @else {
                                        "Active"
                                        @if owner {
                                            (super::confirm(cx, &cx.at(&format!("/api-keys/{}/revoke", seg(s(k, "id")))), "revoke-api-key", "Revoke", "The partner's calls with this key are refused from now on."))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            form.panel.stack method="post" action=(cx.at("/api-keys")) data-action="create-api-key" {
                h2 { "New key" }
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="k-name" { "Partner's name" }
                input #k-name type="text" name="name" required maxlength="100";
                label for="k-limit" { "Requests per minute (optional)" }
                input #k-limit type="number" name="rate_limit" min="1";
                button.button.primary type="submit" { "Create key" }
            }
        }
    };
    cx.shell("Partner API keys", "/api-keys", status, main)
}

/// `GET /admin/api-keys.csv`.
pub async fn api_keys_csv(Page(cx): Page) -> Response {
    let list = match cx.list("/api/v1/api-keys", "api_keys").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    csv_download(
        "api-keys.csv",
        &[
            "id",
            "name",
            "rate_limit",
            "requests",
            "verifications",
            "rejected_rate_limited",
            "last_used_at",
            "revoked",
            "created_at",
        ],
        list.iter()
            .map(|k| {
                let u = &k["usage"];
                vec![
                    s(k, "id").to_owned(),
                    s(k, "name").to_owned(),
                    k["rate_limit"].to_string(),
                    u["requests"].to_string(),
                    u["verifications"].to_string(),
                    u["rejected_rate_limited"].to_string(),
                    s(u, "last_used_at").to_owned(),
                    k["revoked"].to_string(),
                    s(k, "created_at").to_owned(),
                ]
            })
            .collect(),
    )
}

/// `POST /admin/api-keys`: the key is shown once, on the answer page.
pub async fn create_api_key(Posted(cx, f): Posted) -> Response {
    let mut body = json!({"name": f.get("name")});
    if let Some(l) = f.opt("rate_limit") {
        match l.parse::<u32>() {
            Ok(n) => body["rate_limit"] = json!(n),
            Err(_) => {
                return cx
                    .failed(&bad_input("the limit must be a whole number"), "/api-keys")
                    .await;
            }
        }
    }
    let a = cx
        .api(Method::POST, "/api/v1/api-keys", ApiBody::Json(body))
        .await;
    if !a.ok() {
        return cx.failed(&a, "/api-keys").await;
    }
    let v = a.json();
    keys_page(
        &cx,
        StatusCode::OK,
        html! {},
        Some((s(&v, "name").to_owned(), s(&v, "key").to_owned())),
    )
    .await
}

/// `POST /admin/api-keys/{id}/revoke`.
pub async fn revoke_api_key(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    cx.act(
        Method::POST,
        &format!("/api/v1/api-keys/{}/revoke", seg(&id)),
        ApiBody::Empty,
        "/api-keys",
        "key-revoked",
    )
    .await
}

// ---- staff ----

/// `GET /admin/staff`.
pub async fn staff(Query(q): Query<Done>, Page(cx): Page) -> Response {
    staff_page(&cx, StatusCode::OK, done_notice(q.done.as_deref())).await
}

const ROLES: [&str; 3] = ["viewer", "issuer", "owner"];

async fn staff_page(cx: &Cx, status: StatusCode, note: Markup) -> Response {
    let list = match cx.list("/api/v1/staff", "staff").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let security = cx
        .read("/api/v1/settings/security")
        .await
        .unwrap_or(Value::Null);
    let owner = cx.may(Role::Owner);
    let main = html! {
        h1 { "Staff" }
        (note)
        (role_note(cx, Role::Owner))
        p { "Viewers read everything; issuers also award, revoke and manage achievements; owners also manage the profile, trust registry, API keys, staff and e-mail." }
        p.actions { a.button href=(cx.at("/staff.csv")) download { "Export CSV" } }
        div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
            table.data {
                thead { tr { th scope="col" { "Member" } th scope="col" { "Role" } th scope="col" { "Two-factor" } th scope="col" { "Last sign-in" } @if owner { th scope="col" { "Actions" } } } }
                tbody {
                    @for m in &list {
                        @let id = s(m, "id");
                        tr data-member=(s(m, "email")) {
                            td { strong { (s(m, "name")) } br; (s(m, "email")) @if m["active"].as_bool() == Some(false) { br; span.pill.quiet { "Invited" } } }
                            td {
                                @if owner {
                                    form.inline-form method="post" action=(cx.at(&format!("/staff/{}/role", seg(id)))) {
                                        input type="hidden" name="csrf" value=(cx.csrf);
                                        label.visually-hidden for={ "role-" (id) } { "Role of " (s(m, "name")) }
                                        select id={ "role-" (id) } name="role" {
                                            @for r in ROLES { option value=(r) selected[s(m, "role") == r] { (r) } }
                                        }
                                        button.button type="submit" { "Change" }
                                    }
                                } @else { (s(m, "role")) }
                            }
                            td { @if m["totp"].as_bool() == Some(true) { "On" } @else { "Off" } }
                            td { (m["last_sign_in"].as_str().map(when).unwrap_or_else(|| "never".into())) }
                            @if owner {
                                td.row-actions {
                                    form method="post" action=(cx.at(&format!("/staff/{}/reset", seg(id)))) {
                                        input type="hidden" name="csrf" value=(cx.csrf);
                                        button.button type="submit" { "Password reset link" }
                                    }
                                    @if m["totp"].as_bool() == Some(true) {
                                        form method="post" action=(cx.at(&format!("/staff/{}/totp-reset", seg(id)))) {
                                            input type="hidden" name="csrf" value=(cx.csrf);
                                            button.button type="submit" { "Remove two-factor" }
                                        }
                                    }
                                    (super::confirm(cx, &cx.at(&format!("/staff/{}/delete", seg(id))), "remove-member", "Remove", "Their sessions and API tokens end at once."))
                                }
                            }
                        }
                    }
                }
            }
        }
        @if owner {
            div.two-panels {
                form.panel.stack method="post" action=(cx.at("/staff")) data-action="invite-member" {
                    h2 { "Invite a member" }
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="s-email" { "E-mail address" }
                    input #s-email type="email" name="email" required;
                    label for="s-name" { "Name" }
                    input #s-name type="text" name="name" required;
                    label for="s-role" { "Role" }
                    select #s-role name="role" { @for r in ROLES { option value=(r) selected[r == "issuer"] { (r) } } }
                    button.button.primary type="submit" { "Invite" }
                }
                form.panel.stack method="post" action=(cx.at("/staff/security")) data-action="security" {
                    h2 { "Sign-in rules" }
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label.inline { input type="checkbox" name="require_totp" value="true" checked[security["require_totp"].as_bool() == Some(true)]; " Every member must use two-factor sign-in" }
                    button.button type="submit" { "Save" }
                }
            }
        }
    };
    cx.shell("Staff", "/staff", status, main)
}

/// `GET /admin/staff.csv`.
pub async fn staff_csv(Page(cx): Page) -> Response {
    let list = match cx.list("/api/v1/staff", "staff").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    csv_download(
        "staff.csv",
        &[
            "id",
            "email",
            "name",
            "role",
            "totp",
            "active",
            "created_at",
            "last_sign_in",
        ],
        list.iter()
            .map(|m| {
                vec![
                    s(m, "id").to_owned(),
                    s(m, "email").to_owned(),
                    s(m, "name").to_owned(),
                    s(m, "role").to_owned(),
                    m["totp"].to_string(),
                    m["active"].to_string(),
                    s(m, "created_at").to_owned(),
                    s(m, "last_sign_in").to_owned(),
                ]
            })
            .collect(),
    )
}

/// A page showing a link the owner passes on (an invitation or a reset).
async fn link_shown(cx: &Cx, heading: &str, text: &str, url: &str, mailed: bool) -> Response {
    let main = html! {
        h1 { (heading) }
        (notice("ok", text))
        @if mailed { p { "It is also on its way by e-mail." } }
        @if !url.is_empty() {
            label for="the-link" { "The link (single use)" }
            input #the-link type="text" readonly value=(url) data-link=(url);
            p { button.button type="button" data-copy="the-link" hidden { "Copy link" } }
        }
        p { a href=(cx.at("/staff")) { "Back to staff" } }
    };
    cx.shell(heading, "/staff", StatusCode::OK, main)
}

/// `POST /admin/staff`: an invitation.
pub async fn invite(Posted(cx, f): Posted) -> Response {
    let body = json!({"email": f.get("email"), "name": f.get("name"), "role": f.get("role")});
    let a = cx
        .api(Method::POST, "/api/v1/staff", ApiBody::Json(body))
        .await;
    if !a.ok() {
        return cx.failed(&a, "/staff").await;
    }
    let v = a.json();
    link_shown(
        &cx,
        "Invitation made",
        &format!(
            "{} is invited as {}. The invitation is valid for 7 days.",
            s(&v, "email"),
            s(&v, "role")
        ),
        s(&v, "invitation_url"),
        s(&v, "mail") == "queued",
    )
    .await
}

/// `POST /admin/staff/{id}/{action}`: role, reset, totp-reset, delete.
pub async fn member_action(
    Path((id, action)): Path<(String, String)>,
    Posted(cx, f): Posted,
) -> Response {
    let state = cx.state.clone();
    let path = format!("/api/v1/staff/{}", seg(&id));
    match action.as_str() {
        "role" => {
            cx.act(
                Method::PATCH,
                &path,
                ApiBody::Json(json!({"role": f.get("role")})),
                "/staff",
                "staff-saved",
            )
            .await
        }
        "delete" => {
            cx.act(
                Method::DELETE,
                &path,
                ApiBody::Empty,
                "/staff",
                "staff-removed",
            )
            .await
        }
        "totp-reset" => {
            cx.act(
                Method::POST,
                &format!("{path}/totp-reset"),
                ApiBody::Empty,
                "/staff",
                "staff-totp-reset",
            )
            .await
        }
        "reset" => {
            let a = cx
                .api(
                    Method::POST,
                    &format!("{path}/password-reset"),
                    ApiBody::Empty,
                )
                .await;
            if !a.ok() {
                return cx.failed(&a, "/staff").await;
            }
            let v = a.json();
            link_shown(
                &cx,
                "Password reset link",
                "The link lets them choose a new password within an hour.",
                s(&v, "reset_url"),
                s(&v, "mail") == "queued",
            )
            .await
        }
        _ => {
            super::error_page(
                &state,
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such action.",
            )
            .await
        }
    }
}

/// `POST /admin/staff/security`.
pub async fn security(Posted(cx, f): Posted) -> Response {
    cx.act(
        Method::PUT,
        "/api/v1/settings/security",
        ApiBody::Json(json!({"require_totp": f.checked("require_totp")})),
        "/staff",
        "security",
    )
    .await
}

// ---- e-mail ----

/// `GET /admin/mail`.
pub async fn mail(Query(q): Query<Done>, Page(cx): Page) -> Response {
    mail_page(&cx, StatusCode::OK, done_notice(q.done.as_deref()), None).await
}

fn days(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn mail_page(
    cx: &Cx,
    status: StatusCode,
    note: Markup,
    preview: Option<(String, Value)>,
) -> Response {
    let m = match cx.read("/api/v1/mail").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let templates = cx
        .list("/api/v1/mail/templates", "templates")
        .await
        .unwrap_or_default();
    let owner = cx.may(Role::Owner);
    let configured = m["configured"].as_bool() == Some(true);
    let main = html! {
        h1 { "E-mail" }
        (note)
        (role_note(cx, Role::Owner))
        section.panel aria-labelledby="smtp-h" {
            h2 #smtp-h { "Sending" }
            @if configured {
                p data-mail-configured="true" { "Messages go out through " span.mono { (m["smtp"]["host"].as_str().unwrap_or("")) } " from " strong { (m["smtp"]["from"].as_str().unwrap_or("")) } "." }
            } @else {
                p data-mail-configured="false" { "No e-mail server is set up: start the service with " code { "--smtp-url" } " and " code { "--mail-from" } " to e-mail earners." }
            }
            @if owner && configured {
                form.stack method="post" action=(cx.at("/mail/test")) data-action="mail-test" {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="m-to" { "Send a test message to" }
                    input #m-to type="email" name="to" required;
                    button.button type="submit" { "Send test message" }
                }
            }
        }
        form.panel.stack method="post" action=(cx.at("/mail/settings")) data-action="mail-settings" {
            h2 { "Reminders" }
            input type="hidden" name="csrf" value=(cx.csrf);
            label for="m-unclaimed" { "Remind earners who have not claimed, this many days after the award (comma-separated)" }
            input #m-unclaimed type="text" name="unclaimed_reminder_days" value=(days(&m["settings"]["unclaimed_reminder_days"])) inputmode="numeric" disabled[!owner];
            label for="m-expiry" { "Remind earners this many days before a badge expires" }
            input #m-expiry type="text" name="expiry_reminder_days" value=(days(&m["settings"]["expiry_reminder_days"])) inputmode="numeric" disabled[!owner];
            @if owner { button.button type="submit" { "Save reminders" } }
        }
        @if let Some((kind, p)) = &preview {
            section.panel aria-labelledby="preview-h" data-preview=(kind) {
                h2 #preview-h { "Preview: " (kind) }
                p { strong { "Subject: " } (s(p, "subject")) }
                pre.mail-text { (s(p, "text")) }
            }
        }
        @for t in &templates {
            @let kind = s(t, "kind");
            form.panel.stack method="post" action=(cx.at(&format!("/mail/templates/{}", seg(kind)))) data-template=(kind) {
                h2 { "Template: " (kind) @if t["custom"].as_bool() == Some(true) { " (changed)" } }
                input type="hidden" name="csrf" value=(cx.csrf);
                label for={ "tpl-subject-" (kind) } { "Subject" }
                input id={ "tpl-subject-" (kind) } type="text" name="subject" value=(s(t, "subject")) disabled[!owner];
                label for={ "tpl-text-" (kind) } { "Text" }
                textarea id={ "tpl-text-" (kind) } name="text" rows="8" disabled[!owner] { (s(t, "text")) }
                label for={ "tpl-html-" (kind) } { "HTML" }
                textarea id={ "tpl-html-" (kind) } name="html" rows="6" disabled[!owner] { (s(t, "html")) }
                @if owner {
                    p.actions {
                        button.button.primary type="submit" { "Save template" }
                        button.button type="submit" formaction=(cx.at(&format!("/mail/templates/{}/preview", seg(kind)))) { "Preview" }
                        @if t["custom"].as_bool() == Some(true) {
                            button.button.danger type="submit" formaction=(cx.at(&format!("/mail/templates/{}/reset", seg(kind)))) { "Back to default" }
                        }
                    }
                }
            }
        }
    };
    cx.shell("E-mail", "/mail", status, main)
}

fn day_list(s: &str) -> Result<Vec<u32>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<u32>()
                .map_err(|_| format!("{d:?} is not a number of days"))
        })
        .collect()
}

/// `POST /admin/mail/settings`.
pub async fn mail_settings(Posted(cx, f): Posted) -> Response {
    let (unclaimed, expiry) = match (
        day_list(f.get("unclaimed_reminder_days")),
        day_list(f.get("expiry_reminder_days")),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return cx.failed(&bad_input(&e), "/mail").await,
    };
    cx.act(
        Method::PUT,
        "/api/v1/mail/settings",
        ApiBody::Json(
            json!({"unclaimed_reminder_days": unclaimed, "expiry_reminder_days": expiry}),
        ),
        "/mail",
        "mail-settings",
    )
    .await
}

/// `POST /admin/mail/templates/{kind}[/preview|/reset]`.
pub async fn template(Path(rest): Path<String>, Posted(cx, f): Posted) -> Response {
    let state = cx.state.clone();
    let (kind, what) = match rest.split_once('/') {
        Some((k, w)) => (k.to_owned(), w.to_owned()),
        None => (rest.clone(), String::new()),
    };
    let path = format!("/api/v1/mail/templates/{}", seg(&kind));
    let draft = json!({"subject": f.get("subject"), "text": f.0.iter().find(|(k, _)| k == "text").map(|(_, v)| v.as_str()).unwrap_or(""), "html": f.0.iter().find(|(k, _)| k == "html").map(|(_, v)| v.as_str()).unwrap_or("")});
    match what.as_str() {
        "" => {
            cx.act(
                Method::PUT,
                &path,
                ApiBody::Json(draft),
                "/mail",
                "template-saved",
            )
            .await
        }
        "reset" => {
            cx.act(
                Method::DELETE,
                &path,
                ApiBody::Empty,
                "/mail",
                "template-reset",
            )
            .await
        }
        "preview" => {
            let a = cx
                .api(
                    Method::POST,
                    &format!("{path}/preview"),
                    ApiBody::Json(draft),
                )
                .await;
            if !a.ok() {
                return cx.failed(&a, "/mail").await;
            }
            mail_page(&cx, StatusCode::OK, html! {}, Some((kind, a.json()))).await
        }
        _ => {
            super::error_page(
                &state,
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such action.",
            )
            .await
        }
    }
}

/// `POST /admin/mail/test`.
pub async fn mail_test(Posted(cx, f): Posted) -> Response {
    cx.act(
        Method::POST,
        "/api/v1/mail/test",
        ApiBody::Json(json!({"to": f.get("to")})),
        "/mail",
        "test-sent",
    )
    .await
}

// ---- audit log ----

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    cursor: Option<String>,
}

impl AuditQuery {
    fn here(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [("actor", &self.actor), ("action", &self.action)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", qv(v)));
            }
        }
        parts.join("&")
    }
}

/// `GET /admin/audit`.
pub async fn audit(Query(q): Query<AuditQuery>, Page(cx): Page) -> Response {
    let here = q.here();
    let mut path = format!("/api/v1/audit?limit=50&{here}");
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        path.push_str(&format!("&cursor={}", qv(c)));
    }
    let page = match cx.read(&path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let events = page["events"].as_array().cloned().unwrap_or_default();
    let main = html! {
        h1 { "Audit log" }
        p { "Every change made through the console or the admin API, and every refusal: who, what, when, from where." }
        form.search method="get" action=(cx.at("/audit")) role="search" {
            div { label for="au-actor" { "Who (e-mail address)" } input #au-actor type="search" name="actor" value=(q.actor.as_deref().unwrap_or("")); }
            div { label for="au-action" { "Action (for example credential.revoke)" } input #au-action type="search" name="action" value=(q.action.as_deref().unwrap_or("")); }
            button.button.primary type="submit" { "Filter" }
        }
        p.actions { a.button href={ (cx.at("/audit.csv")) "?" (here) } download { "Export CSV" } }
        @if events.is_empty() { p.empty { "Nothing matches." } } @else { (audit_table(&events)) }
        nav.pager aria-label="Pages" {
            @if q.cursor.as_deref().is_some_and(|c| !c.is_empty()) { a href={ (cx.at("/audit")) "?" (here) } { "← Newest" } }
            @if let Some(n) = page["next_cursor"].as_str() { a href={ (cx.at("/audit")) "?" (here) "&cursor=" (qv(n)) } rel="next" { "Older →" } }
        }
    };
    cx.shell("Audit log", "/audit", StatusCode::OK, main)
}

/// `GET /admin/audit.csv`: the API's export (cells neutralised there).
pub async fn audit_csv(Query(q): Query<AuditQuery>, Page(cx): Page) -> Response {
    let a = cx
        .api(
            Method::GET,
            &format!("/api/v1/audit?format=csv&{}", q.here()),
            ApiBody::Empty,
        )
        .await;
    if !a.ok() {
        return cx.failed(&a, "/audit").await;
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        a.body,
    )
        .into_response()
}

// ---- your account ----

/// `GET /admin/account`.
pub async fn account(Query(q): Query<Done>, Member(cx): Member) -> Response {
    // Reachable while two-factor set-up is still required: this is where it is done.
    account_page(
        &cx,
        StatusCode::OK,
        done_notice(q.done.as_deref()),
        None,
        None,
    )
    .await
}

pub(crate) async fn account_page(
    cx: &Cx,
    status: StatusCode,
    note: Markup,
    new_token: Option<(String, String)>,
    totp: Option<Value>,
) -> Response {
    let tokens = match cx.p.member {
        Some(id) => cx.state.staff.tokens(id).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let me = match cx.p.member {
        Some(id) => cx.state.staff.member(id).await.ok(),
        None => None,
    };
    let totp_on = me.as_ref().is_some_and(|m| m.totp.is_some());
    let main = html! {
        h1 { "Your account" }
        (note)
        p data-signed-in=(cx.p.actor) { "Signed in as " strong { (cx.p.name.clone().unwrap_or_default()) } " (" (cx.p.actor) "), " span data-role=(cx.p.role.as_str()) { (cx.p.role.as_str()) } "." }
        @if cx.totp_setup_required {
            (notice("error", "An owner requires two-factor sign-in: set it up below before doing anything else."))
        }
        section.panel aria-labelledby="totp-h" data-section="totp" {
            h2 #totp-h { "Two-factor sign-in" }
            @if let Some(t) = &totp {
                p { "Scan this code with an authenticator app (or type the secret into it), then enter the six-digit code it shows." }
                div.qr.small-qr data-qr="totp" { (PreEscaped(crate::qr::svg(s(t, "otpauth_uri")).unwrap_or_default())) }
                p { "Secret: " span.mono data-totp-secret=(s(t, "secret")) { (s(t, "secret")) } }
                form.stack method="post" action=(cx.at("/account/totp/confirm")) data-action="totp-confirm" {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="totp-code" { "Code from the app" }
                    input #totp-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required pattern="[0-9 ]{6,7}";
                    button.button.primary type="submit" { "Turn on" }
                }
            } @else if totp_on {
                p data-totp="on" { "On: signing in asks for a code from your authenticator app." }
                form.stack method="post" action=(cx.at("/account/totp/disable")) data-action="totp-disable" {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="totp-off-code" { "Code from the app, to turn it off" }
                    input #totp-off-code type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required;
                    button.button type="submit" { "Turn off" }
                }
            } @else {
                p data-totp="off" { "Off. With it, signing in also asks for a code from an authenticator app on your phone." }
                @if cx.p.member.is_some() {
                    form method="post" action=(cx.at("/account/totp")) data-action="totp-begin" {
                        input type="hidden" name="csrf" value=(cx.csrf);
                        button.button.primary type="submit" { "Set up two-factor sign-in" }
                    }
                }
            }
        }
        @if !cx.totp_setup_required {
            form.panel.stack method="post" action=(cx.at("/account/password")) data-action="change-password" {
                h2 { "Password" }
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="pw-current" { "Current password" }
                input #pw-current type="password" name="current_password" autocomplete="current-password" required;
                label for="pw-new" { "New password (at least 12 characters)" }
                input #pw-new type="password" name="new_password" autocomplete="new-password" required minlength="12";
                button.button.primary type="submit" { "Change password" }
                p.hint { "Your other sessions end; this one continues." }
            }
            section.panel aria-labelledby="tokens-h" {
                h2 #tokens-h { "Personal API tokens" }
                p { "A token acts with your role on the admin API (" code { "Authorization: Bearer <token>" } ")." }
                @if let Some((name, token)) = &new_token {
                    div.panel role="status" data-notice="token" {
                        p { "Your new token “" (name) "” — copy it now; it is not shown again:" }
                        p.mono.wrap-any data-token=(token) { (token) }
                    }
                }
                @if tokens.is_empty() { p { "You have no tokens." } } @else {
                    ul role="list" {
                        @for t in &tokens {
                            li data-token-id=(t.id) {
                                strong { (t.name) } " · " span.mono { (t.hint) "…" } " · created " (super::super::templates::date(t.created_at))
                                " · " @if let Some(u) = t.last_used_at { "last used " (super::super::templates::date(u)) } @else { "never used" }
                                form method="post" action=(cx.at(&format!("/tokens/{}/revoke", t.id))) data-action="revoke-api-token" {
                                    input type="hidden" name="csrf" value=(cx.csrf);
                                    button.button type="submit" { "Revoke" }
                                }
                            }
                        }
                    }
                }
                form.stack method="post" action=(cx.at("/tokens")) data-action="create-api-token" {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="token-name" { "Name of a new token" }
                    input #token-name type="text" name="name" required maxlength="100";
                    button.button.primary type="submit" { "Create token" }
                }
            }
        }
    };
    cx.shell("Your account", "/account", status, main)
}

/// `POST /admin/account/password`: the API gives a fresh session, passed on.
pub async fn change_password(Posted(cx, f): Posted) -> Response {
    let body = json!({"current_password": f.0.iter().find(|(k, _)| k == "current_password").map(|(_, v)| v.as_str()).unwrap_or(""),
                      "new_password": f.0.iter().find(|(k, _)| k == "new_password").map(|(_, v)| v.as_str()).unwrap_or("")});
    let a = cx
        .api(Method::POST, "/api/v1/me/password", ApiBody::Json(body))
        .await;
    if !a.ok() {
        return account_page(&cx, a.status, notice("error", &a.message()), None, None).await;
    }
    let mut res = Redirect::to(&cx.at("/account?done=password")).into_response();
    for c in a.headers.get_all(header::SET_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    res
}

/// `POST /admin/account/totp[/confirm|/disable]`.
pub async fn totp(Path(what): Path<String>, Posted(cx, f): Posted) -> Response {
    totp_step(cx, what, f).await
}

/// `POST /admin/account/totp`: set-up begins.
pub async fn totp_begin(Posted(cx, f): Posted) -> Response {
    totp_step(cx, String::new(), f).await
}

async fn totp_step(cx: Cx, what: String, f: Fields) -> Response {
    let code = json!({"code": f.get("code")});
    let (method, path, body, done) = match what.as_str() {
        "" => (Method::POST, "/api/v1/me/totp", ApiBody::Empty, ""),
        "confirm" => (
            Method::POST,
            "/api/v1/me/totp/confirm",
            ApiBody::Json(code),
            "totp-on",
        ),
        "disable" => (
            Method::DELETE,
            "/api/v1/me/totp",
            ApiBody::Json(code),
            "totp-off",
        ),
        _ => {
            return super::error_page(
                &cx.state,
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such action.",
            )
            .await;
        }
    };
    let a = cx.api(method, path, body).await;
    if !a.ok() {
        return account_page(&cx, a.status, notice("error", &a.message()), None, None).await;
    }
    if done.is_empty() {
        return account_page(&cx, StatusCode::OK, html! {}, None, Some(a.json())).await;
    }
    cx.done("/account", done)
}

/// `POST /admin/tokens`: a personal token, shown once.
pub async fn create_token(Posted(cx, f): Posted) -> Response {
    let a = cx
        .api(
            Method::POST,
            "/api/v1/me/tokens",
            ApiBody::Json(json!({"name": f.get("name")})),
        )
        .await;
    if !a.ok() {
        return account_page(&cx, a.status, notice("error", &a.message()), None, None).await;
    }
    let v = a.json();
    account_page(
        &cx,
        StatusCode::OK,
        html! {},
        Some((s(&v, "name").to_owned(), s(&v, "token").to_owned())),
        None,
    )
    .await
}

/// `POST /admin/tokens/{id}/revoke`.
pub async fn revoke_token(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    cx.act(
        Method::DELETE,
        &format!("/api/v1/me/tokens/{}", seg(&id)),
        ApiBody::Empty,
        "/account",
        "token-revoked",
    )
    .await
}
