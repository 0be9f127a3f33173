//! The console's programme pages: the dashboard, the issuer profile with its badge
//! types, and achievements (list, create, edit with image and catalogue place,
//! archive).

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::{
    ApiBody, Cx, Fields, Page, Posted, Uploaded, csv_download, done_notice, last, notice,
    role_note, s, seg, when,
};
use crate::app::AppState;
use crate::model::ob::ACHIEVEMENT_TYPES;
use crate::records::Role;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

// ---- dashboard ----

/// `GET /admin`: the programme at a glance, and what happened lately.
pub async fn dashboard(Query(q): Query<Done>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let achievements = state
        .issuer
        .achievements()
        .await
        .map(|a| a.iter().filter(|r| !r.archived).count())
        .unwrap_or(0);
    let counts = state.store.awards.award_counts().await.unwrap_or_default();
    // While no profile is set, badges name the issuer after the host.
    let unnamed = match state.issuer.profile_warning().await {
        Ok(Some(_)) => state.issuer.profile().await.ok().map(|p| p.name),
        _ => None,
    };
    let verified = state.tally.verifications(7).await.unwrap_or(0);
    let recent = cx
        .list("/api/v1/audit?limit=10", "events")
        .await
        .unwrap_or_default();
    let tiles: [(&str, u64, &str, String); 7] = [
        (
            "achievements",
            achievements as u64,
            "Achievements",
            cx.at("/achievements"),
        ),
        ("awarded", counts.total, "Awarded", cx.at("/credentials")),
        (
            "claimed",
            counts.total.saturating_sub(counts.offered),
            "Claimed or issued",
            cx.at("/credentials?state=issued"),
        ),
        (
            "waiting",
            counts.offered,
            "Waiting to be claimed",
            cx.at("/credentials?state=offered"),
        ),
        (
            "revoked",
            counts.revoked,
            "Revoked",
            cx.at("/credentials?state=revoked"),
        ),
        (
            "suspended",
            counts.suspended,
            "Suspended",
            cx.at("/credentials?state=suspended"),
        ),
        (
            "verifications",
            verified,
            "Verifications in the last 7 days",
            cx.at("/presentations"),
        ),
    ];
    let main = html! {
        h1 { "Dashboard" }
        (done_notice(q.done.as_deref()))
        @if let Some(name) = &unnamed {
            p.notice-line.warn data-notice="profile-unset" {
                "No issuer profile is set yet, so badges name the issuer “" (name) "”. "
                a href=(cx.at("/profile")) { "Set the issuer's name and details" }
                " before awarding badges: every badge carries them."
            }
        }
        @if cx.may(Role::Issuer) {
            p.actions {
                a.button.primary href=(cx.at("/award")) data-action="go-award" { "Award a badge" }
                a.button href=(cx.at("/achievements/new")) { "New achievement" }
            }
        }
        ul.tiles role="list" {
            @for (key, n, label, href) in &tiles {
                li data-count=(key) {
                    a href=(href) { strong { (n) } span { (label) } }
                }
            }
        }
        @if cx.may(Role::Issuer) { (super::awarding::csv_form(&cx, "dash-csv")) }
        section.panel aria-labelledby="recent-h" {
            h2 #recent-h { "Recent activity" }
            @if recent.is_empty() { p.empty { "Nothing yet." } } @else {
                ul.trail role="list" {
                    @for e in &recent {
                        li data-audit-action=(s(e, "action")) {
                            (when(s(e, "at"))) " · " (s(e, "actor")) " · " span.mono { (s(e, "action")) }
                            @if let Some(code) = e.get("status").and_then(Value::as_u64).filter(|c| *c >= 400) { " · " span.state data-state="revoked" { "refused (" (code) ")" } }
                        }
                    }
                }
                p { a href=(cx.at("/audit")) { "The whole audit log" } }
            }
        }
    };
    let main = html! {
        (main)
        @if cx.p.member.is_some() {
            form.panel.stack method="post" action=(cx.at("/tokens")) data-action="create-api-token" {
                h2 { "A personal API token" }
                p { "Scripts act with your role on the admin API with a token of your own. " a href=(cx.at("/account")) { "Your tokens" } }
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="dash-token-name" { "Name of a new token" }
                input #dash-token-name type="text" name="name" required maxlength="100";
                button.button type="submit" { "Create token" }
            }
        }
    };
    cx.shell("Dashboard", "", StatusCode::OK, main)
}

/// Audit events as a table (the dashboard and the audit log page).
pub(crate) fn audit_table(events: &[Value]) -> Markup {
    html! {
        div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
            table.data {
                thead { tr { th scope="col" { "When" } th scope="col" { "Who" } th scope="col" { "What" } th scope="col" { "On" } th scope="col" { "Result" } } }
                tbody {
                    @for e in events {
                        tr data-audit-action=(s(e, "action")) {
                            td { (when(s(e, "at"))) }
                            td { (s(e, "actor")) }
                            td.mono.nowrap { (s(e, "action")) }
                            td.mono.wrap-any { (s(e, "target")) }
                            td { (e.get("status").and_then(Value::as_u64).map(|n| n.to_string()).unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

// ---- issuer profile and badge types ----

/// `GET /admin/profile`.
pub async fn profile(Query(q): Query<Done>, Page(cx): Page) -> Response {
    let p = match cx.read("/api/v1/issuer").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    profile_page(&cx, &p, StatusCode::OK, done_notice(q.done.as_deref())).await
}

async fn profile_page(cx: &Cx, p: &Value, status: StatusCode, note: Markup) -> Response {
    let types = cx
        .list("/api/v1/badge-types", "badge_types")
        .await
        .unwrap_or_default();
    let owner = cx.may(Role::Owner);
    let issuer = cx.may(Role::Issuer);
    let hidden_default = s(p, "default_visibility") == "hidden";
    let main = html! {
        h1 { "Issuer profile" }
        (note)
        (role_note(cx, Role::Owner))
        p { "What every badge says about who issued it, and how the public pages look. Badges already issued keep what they were signed with." }
        section.panel aria-labelledby="logo-h" {
            h2 #logo-h { "Logo" }
            @if let Some(img) = &cx.site.logo_url {
                img.logo-preview src=(img) alt="The current logo" width="96" height="96";
            } @else { p { "No logo yet: the pages show the issuer's name." } }
            @if owner {
                form.stack method="post" action=(cx.at("/profile/logo")) enctype="multipart/form-data" data-action="upload-logo" {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="logo" { "A PNG or SVG image, at most 1 MiB" }
                    input #logo type="file" name="logo" accept="image/png,image/svg+xml" required;
                    button.button.primary type="submit" { "Upload logo" }
                }
            }
        }
        form.panel.stack method="post" action=(cx.at("/profile")) data-action="save-profile" {
            h2 { "Details" }
            input type="hidden" name="csrf" value=(cx.csrf);
            label for="p-name" { "Name (shown on every badge)" }
            input #p-name type="text" name="name" value=(s(p, "name")) required maxlength="200" disabled[!owner];
            label for="p-description" { "Description" }
            textarea #p-description name="description" rows="3" disabled[!owner] { (s(p, "description")) }
            label for="p-url" { "Web site" }
            input #p-url type="url" name="url" value=(s(p, "url")) placeholder="https://" disabled[!owner];
            label for="p-email" { "Contact e-mail address" }
            input #p-email type="email" name="email" value=(s(p, "email")) disabled[!owner];
            div.two {
                div {
                    label for="p-primary" { "Main colour" }
                    input #p-primary type="color" name="primary_color" value=(non_empty(s(p, "primary_color"), &cx.site.theme.primary)) disabled[!owner];
                }
                div {
                    label for="p-accent" { "Second colour" }
                    input #p-accent type="color" name="accent_color" value=(non_empty(s(p, "accent_color"), &cx.site.theme.accent)) disabled[!owner];
                }
            }
            label for="p-linkedin" { "LinkedIn organisation id (optional)" }
            input #p-linkedin type="text" name="linkedin_organization_id" value=(s(p, "linkedin_organization_id")) inputmode="numeric" aria-describedby="p-linkedin-hint" disabled[!owner];
            p.hint #p-linkedin-hint { "With it, “Add to LinkedIn” links the badge to your organisation's LinkedIn page." }
            fieldset {
                legend { "New badge pages are" }
                label.inline { input type="radio" name="default_visibility" value="public" checked[!hidden_default] disabled[!owner]; " public until staff hide them" }
                label.inline { input type="radio" name="default_visibility" value="hidden" checked[hidden_default] disabled[!owner]; " hidden until staff show them" }
            }
            label for="p-wallet" { "What the claim page tells earners about wallets (optional, Markdown)" }
            textarea #p-wallet name="wallet_help" rows="3" maxlength="2000" disabled[!owner] { (s(p, "wallet_help")) }
            @if owner { button.button.primary type="submit" { "Save profile" } }
        }
        section.panel aria-labelledby="types-h" data-section="badge-types" {
            h2 #types-h { "Badge types" }
            p { "Types group achievements in the public catalogue (for example Knowledge, Skill, Proficiency, Certification)." }
            p { a.button href=(cx.at("/badge-types.csv")) download { "Export CSV" } }
            @if types.is_empty() { p.empty { "No badge types yet." } }
            @for t in &types {
                @let id = s(t, "id");
                form.stack.type-row method="post" action=(cx.at(&format!("/badge-types/{}", seg(id)))) data-badge-type=(id) {
                    input type="hidden" name="csrf" value=(cx.csrf);
                    div.three {
                        div { label for={ "t-name-" (id) } { "Name" } input id={ "t-name-" (id) } type="text" name="name" value=(s(t, "name")) required disabled[!issuer]; }
                        div { label for={ "t-order-" (id) } { "Order" } input id={ "t-order-" (id) } type="number" name="order" value=(t.get("order").and_then(Value::as_i64).unwrap_or(0)) disabled[!issuer]; }
                    }
                    label for={ "t-desc-" (id) } { "Description" }
                    textarea id={ "t-desc-" (id) } name="description" rows="2" disabled[!issuer] { (s(t, "description")) }
                    @if issuer {
                        p.actions {
                            button.button type="submit" { "Save" }
                            button.button.danger type="submit" formaction=(cx.at(&format!("/badge-types/{}/delete", seg(id)))) { "Remove" }
                        }
                    }
                }
            }
            @if issuer {
                form.stack method="post" action=(cx.at("/badge-types")) data-action="create-badge-type" {
                    h3 { "Add a badge type" }
                    input type="hidden" name="csrf" value=(cx.csrf);
                    label for="nt-name" { "Name" }
                    input #nt-name type="text" name="name" required maxlength="100";
                    label for="nt-desc" { "Description" }
                    textarea #nt-desc name="description" rows="2" {}
                    label for="nt-order" { "Order" }
                    input #nt-order type="number" name="order" value=(types.len() + 1);
                    button.button.primary type="submit" { "Add badge type" }
                }
            }
        }
    };
    cx.shell("Issuer profile", "/profile", status, main)
}

fn non_empty<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// `POST /admin/profile`.
pub async fn save_profile(Posted(cx, f): Posted) -> Response {
    // What the form does not show (the image) is kept.
    let mut p = match cx.read("/api/v1/issuer").await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Some(o) = p.as_object_mut() {
        o.insert("name".into(), json!(f.get("name")));
        for k in [
            "description",
            "url",
            "email",
            "primary_color",
            "accent_color",
            "linkedin_organization_id",
            "wallet_help",
        ] {
            match f.opt(k) {
                Some(v) => o.insert(k.into(), json!(v)),
                None => o.remove(k),
            };
        }
        o.insert(
            "default_visibility".into(),
            json!(if f.get("default_visibility") == "hidden" {
                "hidden"
            } else {
                "public"
            }),
        );
    }
    let a = cx
        .api(Method::PUT, "/api/v1/issuer", ApiBody::Json(p.clone()))
        .await;
    if a.ok() {
        return cx.done("/profile", "profile");
    }
    profile_page(&cx, &p, a.status, notice("error", &a.message())).await
}

/// `POST /admin/profile/logo` (multipart).
pub async fn save_logo(Uploaded(cx, _, files): Uploaded) -> Response {
    let Some((_, file)) = files.into_iter().next() else {
        return cx
            .failed(&bad_input("choose an image file to upload"), "/profile")
            .await;
    };
    cx.act(
        Method::PUT,
        "/api/v1/issuer/image",
        ApiBody::Raw(file.content_type, file.bytes),
        "/profile",
        "logo",
    )
    .await
}

/// An answer for input the console refuses before calling anything.
pub(crate) fn bad_input(message: &str) -> super::Answer {
    super::Answer {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        headers: HeaderMap::new(),
        body: json!({"error": "invalid_request", "message": message})
            .to_string()
            .into(),
    }
}

/// `GET /admin/badge-types.csv`.
pub async fn badge_types_csv(Page(cx): Page) -> Response {
    let types = match cx.list("/api/v1/badge-types", "badge_types").await {
        Ok(l) => l,
        Err(r) => return r,
    };
    csv_download(
        "badge-types.csv",
        &["id", "name", "description", "order"],
        types
            .iter()
            .map(|t| {
                vec![
                    s(t, "id").to_owned(),
                    s(t, "name").to_owned(),
                    s(t, "description").to_owned(),
                    t["order"].to_string(),
                ]
            })
            .collect(),
    )
}

fn badge_type_body(f: &Fields) -> Value {
    json!({
        "name": f.get("name"),
        "description": f.get("description"),
        "order": f.get("order").parse::<i64>().unwrap_or(0),
    })
}

/// `POST /admin/badge-types`.
pub async fn create_badge_type(Posted(cx, f): Posted) -> Response {
    cx.act(
        Method::POST,
        "/api/v1/badge-types",
        ApiBody::Json(badge_type_body(&f)),
        "/profile",
        "type-created",
    )
    .await
}

/// `POST /admin/badge-types/{id}`.
pub async fn save_badge_type(Path(id): Path<String>, Posted(cx, f): Posted) -> Response {
    cx.act(
        Method::PUT,
        &format!("/api/v1/badge-types/{}", seg(&id)),
        ApiBody::Json(badge_type_body(&f)),
        "/profile",
        "type-saved",
    )
    .await
}

/// `POST /admin/badge-types/{id}/delete`.
pub async fn delete_badge_type(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    cx.act(
        Method::DELETE,
        &format!("/api/v1/badge-types/{}", seg(&id)),
        ApiBody::Empty,
        "/profile",
        "type-deleted",
    )
    .await
}

// ---- achievements ----

/// One achievement as the list shows it.
struct Row {
    id: String,
    name: String,
    kind: String,
    badge_type: Option<String>,
    featured: Option<i64>,
    archived: bool,
    created: String,
}

async fn rows(state: &AppState) -> Result<Vec<Row>, crate::issue::Error> {
    let all = state.issuer.achievements().await?;
    let placements: std::collections::HashMap<uuid::Uuid, crate::records::Placement> = state
        .store
        .catalogue
        .placements()
        .await
        .map_err(crate::issue::Error::Store)?
        .into_iter()
        .collect();
    let types: std::collections::HashMap<String, String> = state
        .store
        .catalogue
        .badge_types()
        .await
        .map_err(crate::issue::Error::Store)?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let mut out: Vec<Row> = all
        .iter()
        .map(|r| {
            let key = state.issuer.achievement_key(&r.achievement.id);
            let place = key.and_then(|k| placements.get(&k));
            let a = serde_json::to_value(&r.achievement).unwrap_or(Value::Null);
            Row {
                id: last(&r.achievement.id).to_owned(),
                name: s(&a, "name").to_owned(),
                kind: s(&a, "achievementType").to_owned(),
                badge_type: place
                    .and_then(|p| p.badge_type.as_ref())
                    .and_then(|t| types.get(t).cloned()),
                featured: place.filter(|p| p.featured).map(|p| p.featured_order),
                archived: r.archived,
                created: super::super::templates::date(r.created_at),
            }
        })
        .collect();
    out.sort_by(|a, b| a.archived.cmp(&b.archived).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// `GET /admin/achievements`.
pub async fn achievements(Query(q): Query<Done>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let list = match rows(&state).await {
        Ok(l) => l,
        Err(e) => {
            return cx.failed(&bad_input(&e.to_string()), "").await;
        }
    };
    let base = cx.base();
    let main = html! {
        h1 { "Achievements" }
        (done_notice(q.done.as_deref()))
        p.actions {
            @if cx.may(Role::Issuer) { a.button.primary href=(cx.at("/achievements/new")) data-action="new-achievement" { "New achievement" } }
            a.button href=(cx.at("/achievements.csv")) download { "Export CSV" }
        }
        @if list.is_empty() { p.empty { "No achievements yet." } } @else {
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
                table.data {
                    thead { tr { th scope="col" { span.visually-hidden { "Image" } } th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Badge type" } th scope="col" { "Featured" } th scope="col" { "State" } } }
                    tbody {
                        @for r in &list {
                            tr data-achievement=(r.id) {
                                td { img.thumb src={ (base) "/achievements/" (r.id) "/image.png" } alt="" width="40" height="40" loading="lazy"; }
                                td { a href=(cx.at(&format!("/achievements/{}", r.id))) { (r.name) } }
                                td { (r.kind) }
                                td { (r.badge_type.clone().unwrap_or_default()) }
                                td { @if let Some(n) = r.featured { "Yes (" (n) ")" } }
                                td { @if r.archived { span.pill.quiet { "Archived" } } @else { "Active" } }
                            }
                        }
                    }
                }
            }
        }
    };
    cx.shell("Achievements", "/achievements", StatusCode::OK, main)
}

/// `GET /admin/achievements.csv`.
pub async fn achievements_csv(Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let list = match rows(&state).await {
        Ok(l) => l,
        Err(e) => return cx.failed(&bad_input(&e.to_string()), "").await,
    };
    let base = cx.base();
    csv_download(
        "achievements.csv",
        &[
            "id",
            "name",
            "achievement_type",
            "badge_type",
            "featured_order",
            "archived",
            "created",
        ],
        list.into_iter()
            .map(|r| {
                vec![
                    format!("{base}/achievements/{}", r.id),
                    r.name,
                    r.kind,
                    r.badge_type.unwrap_or_default(),
                    r.featured.map(|n| n.to_string()).unwrap_or_default(),
                    r.archived.to_string(),
                    r.created,
                ]
            })
            .collect(),
    )
}

/// What the achievement form shows.
#[derive(Default)]
struct Draft {
    name: String,
    description: String,
    criteria: String,
    kind: String,
    tags: String,
    badge_type: String,
    featured: bool,
    featured_order: i64,
}

impl Draft {
    fn from_fields(f: &Fields) -> Self {
        Self {
            name: f.get("name").into(),
            description: f.get("description").into(),
            criteria: f.get("criteria").into(),
            kind: f.get("achievementType").into(),
            tags: f.get("tags").into(),
            badge_type: f.get("badge_type").into(),
            featured: f.checked("featured"),
            featured_order: f.get("featured_order").parse().unwrap_or(0),
        }
    }

    fn from_api(a: &Value, place: &Value) -> Self {
        Self {
            name: s(a, "name").into(),
            description: s(a, "description").into(),
            criteria: a
                .get("criteria")
                .map(|c| s(c, "narrative"))
                .unwrap_or("")
                .into(),
            kind: s(a, "achievementType").into(),
            tags: a
                .get("tag")
                .or_else(|| a.get("tags"))
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            badge_type: s(place, "badge_type").into(),
            featured: place
                .get("featured")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            featured_order: place
                .get("featured_order")
                .and_then(Value::as_i64)
                .unwrap_or(0),
        }
    }

    /// Writes the form's members into an achievement body (others are kept).
    fn apply(&self, o: &mut serde_json::Map<String, Value>) {
        o.insert("name".into(), json!(self.name));
        o.insert("description".into(), json!(self.description));
        let mut criteria = o
            .get("criteria")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if self.criteria.is_empty() {
            criteria.remove("narrative");
        } else {
            criteria.insert("narrative".into(), json!(self.criteria));
        }
        o.insert("criteria".into(), Value::Object(criteria));
        if self.kind.is_empty() {
            o.remove("achievementType");
        } else {
            o.insert("achievementType".into(), json!(self.kind));
        }
        let tags: Vec<&str> = self
            .tags
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        o.remove("tags");
        if tags.is_empty() {
            o.remove("tag");
        } else {
            o.insert("tag".into(), json!(tags));
        }
    }
}

async fn achievement_form(
    cx: &Cx,
    id: Option<&str>,
    archived: bool,
    d: &Draft,
    status: StatusCode,
    note: Markup,
) -> Response {
    let types = cx
        .list("/api/v1/badge-types", "badge_types")
        .await
        .unwrap_or_default();
    let may = cx.may(Role::Issuer) && !archived;
    let base = cx.base();
    let action = match id {
        Some(id) => cx.at(&format!("/achievements/{id}")),
        None => cx.at("/achievements"),
    };
    let title = if id.is_some() {
        d.name.clone()
    } else {
        "New achievement".to_owned()
    };
    let main = html! {
        p { a href=(cx.at("/achievements")) { "← All achievements" } }
        h1 { (title) }
        (note)
        (role_note(cx, Role::Issuer))
        @if archived { p.notice-line.error { "This achievement is archived: it can no longer be awarded or changed." } }
        div.edit-grid {
            form.panel.stack method="post" action=(action) enctype="multipart/form-data" data-action=(if id.is_some() { "save-achievement" } else { "create-achievement" }) {
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="a-name" { "Name" }
                input #a-name type="text" name="name" value=(d.name) required maxlength="200" disabled[!may];
                label for="a-description" { "Description" }
                textarea #a-description name="description" rows="3" required disabled[!may] { (d.description) }
                label for="a-criteria" { "Criteria: what an earner did to earn it (Markdown)" }
                textarea #a-criteria name="criteria" rows="4" required disabled[!may] { (d.criteria) }
                label for="a-type" { "Kind of achievement" }
                select #a-type name="achievementType" disabled[!may] {
                    option value="" selected[d.kind.is_empty()] { "(not said)" }
                    @for t in ACHIEVEMENT_TYPES {
                        option value=(t) selected[d.kind == t] { (t) }
                    }
                }
                label for="a-tags" { "Tags (comma-separated)" }
                input #a-tags type="text" name="tags" value=(d.tags) disabled[!may];
                label for="a-image" { "Image (PNG or SVG, at most 1 MiB)" }
                input #a-image type="file" name="image" accept="image/png,image/svg+xml" disabled[!may] aria-describedby="a-image-hint";
                p.hint #a-image-hint { "Without one, a design in the issuer's colours is made. Badges point at the image they were issued with." }
                fieldset {
                    legend { "Catalogue" }
                    label for="a-badge-type" { "Badge type" }
                    select #a-badge-type name="badge_type" disabled[!may] {
                        option value="" selected[d.badge_type.is_empty()] { "(none)" }
                        @for t in &types {
                            option value=(s(t, "id")) selected[d.badge_type == s(t, "id")] { (s(t, "name")) }
                        }
                    }
                    label.inline { input type="checkbox" name="featured" value="true" checked[d.featured] disabled[!may]; " Featured in the catalogue" }
                    label for="a-featured-order" { "Featured order" }
                    input #a-featured-order type="number" name="featured_order" value=(d.featured_order) disabled[!may];
                }
                @if may { button.button.primary type="submit" { (if id.is_some() { "Save achievement" } else { "Create achievement" }) } }
            }
            @if let Some(id) = id {
                aside.panel.stack aria-labelledby="preview-h" {
                    h2 #preview-h { "Badge preview" }
                    img.badge-preview src={ (base) "/achievements/" (id) "/image.png" } alt={ "The badge image of " (d.name) } width="240" height="240" data-preview="badge";
                    p.small { "Every badge awarded is baked into this image: the signed credential travels inside the PNG or SVG earners download." }
                    p { a href={ (base) "/achievements/" (id) } { "Public page" } }
                    @if may {
                        p { a.button href={ (cx.at("/award")) "?achievement=" (id) } { "Award it" } }
                        (super::confirm(cx, &cx.at(&format!("/achievements/{id}/archive")), "archive", "Archive", "Archived achievements cannot be awarded again; badges already issued stay valid."))
                    }
                }
            }
        }
    };
    cx.shell(&title, "/achievements", status, main)
}

/// `GET /admin/achievements/new`.
pub async fn new_achievement(Page(cx): Page) -> Response {
    achievement_form(
        &cx,
        None,
        false,
        &Draft::default(),
        StatusCode::OK,
        html! {},
    )
    .await
}

/// `GET /admin/achievements/{id}`.
pub async fn achievement(
    Path(id): Path<String>,
    Query(q): Query<Done>,
    Page(cx): Page,
) -> Response {
    let path = format!("/api/v1/achievements/{}", seg(&id));
    let a = cx.api(Method::GET, &path, ApiBody::Empty).await;
    if !a.ok() {
        return cx.failed(&a, "/achievements").await;
    }
    let archived = a
        .headers
        .get("accolade-archived")
        .is_some_and(|v| v.as_bytes() == b"true");
    let place = cx
        .read(&format!("{path}/catalogue"))
        .await
        .unwrap_or(Value::Null);
    let d = Draft::from_api(&a.json(), &place);
    achievement_form(
        &cx,
        Some(last(&id)),
        archived,
        &d,
        StatusCode::OK,
        done_notice(q.done.as_deref()),
    )
    .await
}

/// `POST /admin/achievements` (multipart): create, then image and catalogue place.
pub async fn create_achievement(Uploaded(cx, f, files): Uploaded) -> Response {
    save(cx, None, f, files).await
}

/// `POST /admin/achievements/{id}` (multipart).
pub async fn update_achievement(
    Path(id): Path<String>,
    Uploaded(cx, f, files): Uploaded,
) -> Response {
    save(cx, Some(id), f, files).await
}

async fn save(
    cx: Cx,
    id: Option<String>,
    f: Fields,
    files: Vec<(String, super::Upload)>,
) -> Response {
    let d = Draft::from_fields(&f);
    let saved = match &id {
        None => {
            let mut o = serde_json::Map::new();
            d.apply(&mut o);
            cx.api(
                Method::POST,
                "/api/v1/achievements",
                ApiBody::Json(Value::Object(o)),
            )
            .await
        }
        Some(id) => {
            let path = format!("/api/v1/achievements/{}", seg(id));
            let mut current = match cx.read(&path).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            if let Some(o) = current.as_object_mut() {
                d.apply(o);
            }
            cx.api(Method::PUT, &path, ApiBody::Json(current)).await
        }
    };
    if !saved.ok() {
        return achievement_form(
            &cx,
            id.as_deref().map(last),
            false,
            &d,
            saved.status,
            notice("error", &saved.message()),
        )
        .await;
    }
    let key = last(s(&saved.json(), "id")).to_owned();
    let path = format!("/api/v1/achievements/{}", seg(&key));
    if let Some((_, file)) = files.into_iter().find(|(n, _)| n == "image") {
        let a = cx
            .api(
                Method::PUT,
                &format!("{path}/image"),
                ApiBody::Raw(file.content_type, file.bytes),
            )
            .await;
        if !a.ok() {
            return achievement_form(
                &cx,
                Some(&key),
                false,
                &d,
                a.status,
                notice(
                    "error",
                    &format!(
                        "The achievement is saved, but not its image: {}",
                        a.message()
                    ),
                ),
            )
            .await;
        }
    }
    let place = json!({
        "badge_type": if d.badge_type.is_empty() { Value::Null } else { json!(d.badge_type) },
        "featured": d.featured,
        "featured_order": d.featured_order,
    });
    let a = cx
        .api(
            Method::PUT,
            &format!("{path}/catalogue"),
            ApiBody::Json(place),
        )
        .await;
    if !a.ok() {
        return achievement_form(
            &cx,
            Some(&key),
            false,
            &d,
            a.status,
            notice(
                "error",
                &format!(
                    "The achievement is saved, but not its catalogue place: {}",
                    a.message()
                ),
            ),
        )
        .await;
    }
    cx.done(
        &format!("/achievements/{key}"),
        if id.is_some() { "saved" } else { "created" },
    )
}

/// `POST /admin/achievements/{id}/archive`.
pub async fn archive_achievement(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    cx.act(
        Method::POST,
        &format!("/api/v1/achievements/{}/archive", seg(&id)),
        ApiBody::Empty,
        &format!("/achievements/{}", last(&id)),
        "archived",
    )
    .await
}
