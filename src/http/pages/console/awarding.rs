//! The console's awarding pages: one award by form, many by CSV (checked row by row
//! before anything is awarded, then awarded in the background with a progress page),
//! the credentials search with each credential's record and actions, and presentation
//! requests staff make to see a candidate's badge.
//!
//! A CSV upload is first sent to the batch award API as a dry run
//! (`?dry_run=true`): every row gets the checks a real award makes, and nothing is
//! written. The preview and the award in progress live in this process's memory for a
//! day (a restart loses the page, never an award: each award is durable when the API
//! answers, and the audit trail has every batch).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Json, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::programme::bad_input;
use super::{
    ApiBody, Cx, Fields, Page, Posted, Uploaded, csv_download, done_notice, last, notice, qv,
    role_note, s, seg, when,
};
use crate::app::AppState;
use crate::records::{AchievementRecord, Role};

/// Rows per batch call while awarding a CSV upload (the progress moves per call).
const CHUNK: usize = 100;
/// How long a CSV upload's page is kept.
const JOB_LIFE: Duration = Duration::from_secs(24 * 3600);
/// The most uploads kept at once (the oldest finished ones go first).
const MAX_JOBS: usize = 200;
/// Credentials per page of the search.
const PAGE: usize = 25;
/// The most rows a credentials export holds.
const MAX_EXPORT: usize = 100_000;

// ---- one award ----

#[derive(Debug, Default, Deserialize)]
pub struct AwardQuery {
    achievement: Option<String>,
}

/// Every achievement, archived ones included (empty when the store cannot be read:
/// the page then offers none).
async fn all_achievements(state: &AppState) -> Vec<AchievementRecord> {
    state.issuer.achievements().await.unwrap_or_default()
}

/// Active achievements as (last segment, name), by name.
fn active_achievements(all: &[AchievementRecord]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = all
        .iter()
        .filter(|r| !r.archived)
        .map(|r| {
            (
                last(&r.achievement.id).to_owned(),
                r.achievement.name.clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.1.cmp(&b.1));
    out
}

/// Achievement names by id (full and last segment), archived ones included.
fn achievement_names(all: &[AchievementRecord]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    for r in all {
        m.insert(r.achievement.id.clone(), r.achievement.name.clone());
        m.insert(
            last(&r.achievement.id).to_owned(),
            r.achievement.name.clone(),
        );
    }
    m
}

fn delivery_choice(cx: &Cx, prefix: &str, chosen: &str) -> Markup {
    let mail = cx.state.mail.configured().is_some();
    html! {
        fieldset {
            legend { "How the earner gets it" }
            label.inline {
                input type="radio" name="delivery" value="email" checked[chosen == "email" && mail] disabled[!mail];
                " E-mail the earner a claim link"
                @if !mail { span.hint { " (no e-mail server is set up)" } }
            }
            label.inline { input type="radio" name="delivery" value="offer" checked[chosen == "offer" || (chosen == "email" && !mail)]; " Make a claim link; I pass it on" }
            label.inline { input id={ (prefix) "-direct" } type="radio" name="delivery" value="direct" checked[chosen == "direct"]; " Sign it now for the earner's DID" }
        }
    }
}

async fn award_form(cx: &Cx, f: &Fields, status: StatusCode, note: Markup) -> Response {
    let achievements = active_achievements(&all_achievements(&cx.state).await);
    let chosen = f.get("achievement");
    let delivery = match f.get("delivery") {
        "" => "email",
        d => d,
    };
    let may = cx.may(Role::Issuer);
    let fresh = f.0.is_empty() || f.get("tx_code").is_empty() && f.get("name").is_empty();
    let main = html! {
        h1 { "Award badges" }
        (note)
        (role_note(cx, Role::Issuer))
        @if achievements.is_empty() {
            p.empty { "Create an achievement first: " a href=(cx.at("/achievements/new")) { "new achievement" } "." }
        }
        div.two-panels {
            form.panel.stack method="post" action=(cx.at("/award")) data-action="award-one" {
                h2 { "One earner" }
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="w-achievement" { "Achievement" }
                select #w-achievement name="achievement_id" required disabled[!may] {
                    @for (id, name) in &achievements {
                        option value=(id) selected[chosen == id || f.get("achievement_id") == id] { (name) }
                    }
                }
                label for="w-name" { "Earner's name" }
                input #w-name type="text" name="name" value=(f.get("name")) autocomplete="off" disabled[!may];
                label for="w-email" { "Earner's e-mail address" }
                input #w-email type="email" name="email" value=(f.get("email")) autocomplete="off" disabled[!may];
                label for="w-did" { "Earner's DID (optional)" }
                input #w-did type="text" name="id" value=(f.get("id")) placeholder="did:key:…" spellcheck="false" autocomplete="off" disabled[!may];
                label for="w-until" { "Valid until (optional)" }
                input #w-until type="date" name="valid_until" value=(f.get("valid_until")) disabled[!may];
                (delivery_choice(cx, "w", delivery))
                label.inline { input type="checkbox" name="tx_code" value="true" checked[fresh || f.checked("tx_code")] disabled[!may]; " Ask the wallet for a one-time code (sent apart from the link)" }
                label.inline { input type="checkbox" name="approval_required" value="true" checked[f.checked("approval_required")] disabled[!may]; " Hold the badge until someone approves it" }
                @if may { button.button.primary type="submit" { "Award" } }
            }
            (csv_form(cx, "csv"))
        }
    };
    cx.shell("Award badges", "/award", status, main)
}

/// The CSV award form (the award page and the dashboard); `prefix` keeps ids unique.
pub(crate) fn csv_form(cx: &Cx, prefix: &str) -> Markup {
    let may = cx.may(Role::Issuer);
    let file = format!("{prefix}-file");
    html! {
        form.panel.stack method="post" action=(cx.at("/award/csv")) enctype="multipart/form-data" data-action="award-csv" {
            h2 { "Many earners, from a CSV file" }
            input type="hidden" name="csrf" value=(cx.csrf);
            p { "Columns: " code { "achievement_id,name,email,id,valid_until" } " (and optionally " code { "valid_from" } ", " code { "delivery" } "). Each row is checked first; nothing is awarded until you confirm." }
            p.small { a href=(cx.at("/award/template.csv")) download { "Download a template" } }
            label for=(file) { "CSV file" }
            input id=(file) type="file" name="file" accept=".csv,text/csv" required disabled[!may];
            (delivery_choice(cx, prefix, "email"))
            @if may { button.button.primary type="submit" { "Check the file" } }
        }
    }
}

/// `GET /admin/award`.
pub async fn award_page(Query(q): Query<AwardQuery>, Page(cx): Page) -> Response {
    let mut f = Fields::default();
    if let Some(a) = q.achievement {
        f.0.push(("achievement".into(), a));
    }
    award_form(&cx, &f, StatusCode::OK, html! {}).await
}

/// `GET /admin/award/template.csv`.
pub async fn csv_template(State(state): State<AppState>) -> Response {
    let example = active_achievements(&all_achievements(&state).await)
        .first()
        .map(|(id, _)| format!("{}/achievements/{id}", state.issuer.identifier()))
        .unwrap_or_default();
    csv_download(
        "awards.csv",
        &["achievement_id", "name", "email", "id", "valid_until"],
        vec![vec![
            example,
            "Ada Lovelace".into(),
            "ada@example.org".into(),
            String::new(),
            String::new(),
        ]],
    )
}

/// A date from the form (`YYYY-MM-DD`) as the end of that day, UTC.
fn end_of_day(d: &str) -> String {
    if d.len() == 10 {
        format!("{d}T23:59:59Z")
    } else {
        d.to_owned()
    }
}

/// `POST /admin/award`: one award; the answer page shows how the earner gets it.
pub async fn award_one(Posted(cx, f): Posted) -> Response {
    let mut recipient = serde_json::Map::new();
    for k in ["name", "email", "id"] {
        if let Some(v) = f.opt(k) {
            recipient.insert(k.into(), json!(v));
        }
    }
    let mut body = json!({
        "achievement_id": f.get("achievement_id"),
        "recipient": recipient,
        "tx_code": f.checked("tx_code"),
        "approval_required": f.checked("approval_required"),
        "delivery": match f.get("delivery") { "" => "offer", d => d },
    });
    if let Some(u) = f.opt("valid_until") {
        body["valid_until"] = json!(end_of_day(&u));
    }
    let a = cx
        .api(Method::POST, "/api/v1/awards", ApiBody::Json(body))
        .await;
    if !a.ok() {
        return award_form(&cx, &f, a.status, notice("error", &a.message())).await;
    }
    let v = a.json();
    let id = s(&v, "credential_id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    let claim = s(&v, "claim_url");
    let claim_id = last(claim);
    let main = html! {
        h1 { "Badge awarded" }
        (notice("ok", &format!("{} is awarded to {}.", achievement_label(&cx.state, s(&v, "achievement_id")).await, recipient_label(&v))))
        section.panel.stack data-award=(id) {
            @match s(&v, "state") {
                "issued" => { p { "The badge is signed and issued." } }
                _ => {
                    @if s(&v, "mail") == "queued" || s(&v, "mail") == "sent" {
                        p { "An e-mail with the claim link is on its way to " strong { (v["recipient"]["email"].as_str().unwrap_or("")) } "." }
                    } @else {
                        p { "Give the earner the claim link below; it stays valid for the life of the award." }
                    }
                    @if !claim.is_empty() {
                        label for="claim-url" { "Claim link" }
                        input #claim-url type="text" readonly value=(claim) data-claim-url;
                        p.actions { button.button type="button" data-copy="claim-url" hidden { "Copy link" } a.button href=(claim) { "Open the claim page" } }
                        div.qr.small-qr { img src={ (cx.base()) "/claim/" (claim_id) "/qr.svg" } alt="QR code of the wallet offer" width="200" height="200"; }
                    }
                    @if let Some(code) = v.get("tx_code").and_then(Value::as_str) {
                        p { "One-time code for the wallet: " strong.mono data-tx-code { (code) } " — send it apart from the link (by text message, or say it)." }
                    }
                }
            }
            @if let Some(b) = v.get("badge_url").and_then(Value::as_str) { p { a href=(b) { "The badge's public page" } } }
            p.actions {
                a.button.primary href=(cx.at(&format!("/credentials/{id}"))) { "See the credential" }
                a.button href=(cx.at("/award")) { "Award another" }
            }
        }
    };
    cx.shell("Badge awarded", "/award", StatusCode::OK, main)
}

async fn achievement_label(state: &AppState, id: &str) -> String {
    achievement_names(&all_achievements(state).await)
        .get(id)
        .map(|n| format!("“{n}”"))
        .unwrap_or_else(|| "The badge".into())
}

fn recipient_label(v: &Value) -> String {
    let r = &v["recipient"];
    [s(r, "name"), s(r, "email"), s(r, "id")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or("the earner")
        .to_owned()
}

// ---- CSV uploads ----

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Previewed,
    Running,
    Done,
}

struct Job {
    member: Option<Uuid>,
    made: Instant,
    header: csv::StringRecord,
    rows: Vec<csv::StringRecord>,
    /// The dry run's answer for each row (`null` error: fine).
    checked: Vec<Value>,
    delivery: String,
    phase: Phase,
    done: usize,
    /// The award's answer for each row sent (by row number).
    results: HashMap<usize, Value>,
}

impl Job {
    fn valid(&self) -> Vec<usize> {
        self.checked
            .iter()
            .enumerate()
            .filter(|(_, r)| r["error"].is_null())
            .map(|(i, _)| i)
            .collect()
    }

    fn cell(&self, row: usize, col: &str) -> String {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(col))
            .and_then(|c| self.rows.get(row).and_then(|r| r.get(c)))
            .unwrap_or("")
            .to_owned()
    }
}

type Jobs = Mutex<HashMap<Uuid, Arc<Mutex<Job>>>>;

static JOBS: LazyLock<Jobs> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn jobs() -> std::sync::MutexGuard<'static, HashMap<Uuid, Arc<Mutex<Job>>>> {
    JOBS.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock(j: &Mutex<Job>) -> std::sync::MutexGuard<'_, Job> {
    j.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn keep(job: Job) -> Uuid {
    let id = Uuid::new_v4();
    let mut all = jobs();
    all.retain(|_, j| lock(j).made.elapsed() < JOB_LIFE);
    while all.len() >= MAX_JOBS {
        let oldest = all
            .iter()
            .filter(|(_, j)| lock(j).phase != Phase::Running)
            .min_by_key(|(_, j)| lock(j).made)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                all.remove(&k);
            }
            None => break,
        }
    }
    all.insert(id, Arc::new(Mutex::new(job)));
    id
}

/// A member's own upload.
fn job_of(cx: &Cx, id: &str) -> Option<Arc<Mutex<Job>>> {
    let id = Uuid::parse_str(id).ok()?;
    let j = jobs().get(&id).cloned()?;
    let mine = lock(&j).member == cx.p.member;
    mine.then_some(j)
}

/// `POST /admin/award/csv` (multipart): the dry run and its preview.
pub async fn csv_check(Uploaded(cx, f, files): Uploaded) -> Response {
    let Some((_, file)) = files.into_iter().next() else {
        return award_form(
            &cx,
            &f,
            StatusCode::UNPROCESSABLE_ENTITY,
            notice("error", "Choose a CSV file to upload."),
        )
        .await;
    };
    let delivery = match f.get("delivery") {
        "" => "offer".to_owned(),
        d => d.to_owned(),
    };
    let a = cx
        .api(
            Method::POST,
            &format!(
                "/api/v1/awards/batch?dry_run=true&delivery={}",
                qv(&delivery)
            ),
            ApiBody::Raw("text/csv".into(), file.bytes.clone()),
        )
        .await;
    if !a.ok() {
        return award_form(&cx, &f, a.status, notice("error", &a.message())).await;
    }
    let checked = a.json()["results"].as_array().cloned().unwrap_or_default();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(file.bytes.as_slice());
    let header = rdr.headers().cloned().unwrap_or_default();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap_or_default()).collect();
    let id = keep(Job {
        member: cx.p.member,
        made: Instant::now(),
        header,
        rows,
        checked,
        delivery,
        phase: Phase::Previewed,
        done: 0,
        results: HashMap::new(),
    });
    Redirect::to(&cx.at(&format!("/award/csv/{id}"))).into_response()
}

/// `GET /admin/award/csv/{job}`: the preview, the progress, or the results.
pub async fn csv_job(Path(id): Path<String>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let Some(j) = job_of(&cx, &id) else {
        return gone(&cx).await;
    };
    let names = achievement_names(&all_achievements(&state).await);
    let main = {
        let job = lock(&j);
        let valid = job.valid();
        let total = job.rows.len().max(job.checked.len());
        let bad = total - valid.len();
        html! {
            p { a href=(cx.at("/award")) { "← Award badges" } }
            @match job.phase {
                Phase::Previewed => {
                    h1 { "Check the upload" }
                    p data-summary="preview" {
                        strong { (valid.len()) } " of " (total) " rows are ready to award"
                        @if bad > 0 { "; " strong { (bad) } " have a problem and will be left out" }
                        ". Delivery: " (job.delivery) "."
                    }
                    @if !valid.is_empty() && cx.may(Role::Issuer) {
                        form method="post" action=(cx.at(&format!("/award/csv/{id}/start"))) data-action="award-csv-confirm" {
                            input type="hidden" name="csrf" value=(cx.csrf);
                            button.button.primary type="submit" { "Award " (valid.len()) " badge" @if valid.len() != 1 { "s" } }
                        }
                    }
                }
                Phase::Running => {
                    h1 { "Awarding…" }
                    div data-job-poll=(cx.at(&format!("/award/csv/{id}/progress"))) data-job-state="running" {
                        label for="job-progress" { "Rows done" }
                        progress #job-progress max=(valid.len()) value=(job.done) { (job.done) " of " (valid.len()) }
                        p role="status" data-progress { (job.done) " of " (valid.len()) " done." }
                        p.small { a href=(cx.at(&format!("/award/csv/{id}"))) { "Refresh" } }
                    }
                }
                Phase::Done => {
                    h1 { "Upload awarded" }
                    @let ok = job.results.values().filter(|r| r["error"].is_null()).count();
                    p data-summary="done" { strong { (ok) } " badge" @if ok != 1 { "s" } " awarded; " (job.results.len() - ok) " failed; " (bad) " left out." }
                    p { a.button href=(cx.at(&format!("/award/results/{id}.csv"))) download { "Download the results (CSV)" } }
                }
            }
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
                table.data {
                    thead { tr { th scope="col" { "Row" } th scope="col" { "Name" } th scope="col" { "E-mail" } th scope="col" { "Achievement" } th scope="col" { "Valid until" } th scope="col" { "Result" } @if job.phase == Phase::Done { th scope="col" { "Wallet code" } } } }
                    tbody {
                        @for (i, c) in job.checked.iter().enumerate() {
                            @let result = job.results.get(&i);
                            @let err = result.map_or(&c["error"], |r| &r["error"]);
                            tr data-row=(i + 1) data-row-ok=(err.is_null()) {
                                td { (i + 1) }
                                td { (job.cell(i, "name")) }
                                td { (job.cell(i, "email")) }
                                td { @let a = job.cell(i, "achievement_id"); (names.get(&a).or_else(|| names.get(last(&a))).cloned().unwrap_or(a)) }
                                td { (job.cell(i, "valid_until")) }
                                td {
                                    @if let Some(e) = err.as_str() { span.row-error { (e) } }
                                    @else if let Some(r) = result {
                                        @let cid = s(r, "credential_id").trim_start_matches("urn:uuid:").to_owned();
                                        a href=(cx.at(&format!("/credentials/{cid}"))) { "Awarded" }
                                        @if let Some(m) = r.get("mail").and_then(Value::as_str) { " · e-mail " (m) }
                                    }
                                    @else { "Ready" }
                                }
                                @if job.phase == Phase::Done {
                                    td { @if let Some(code) = result.and_then(|r| r.get("tx_code")).and_then(Value::as_str) { span.mono data-tx-code=(code) data-for=(job.cell(i, "email")) { (code) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    cx.shell("CSV upload", "/award", StatusCode::OK, main)
}

async fn gone(cx: &Cx) -> Response {
    let main = html! {
        h1 { "Upload not found" }
        p { "This upload is not here (uploads are kept for a day, and only for the member who made them). Any badges it awarded are in " a href=(cx.at("/credentials")) { "Credentials" } "." }
    };
    cx.shell("Upload not found", "/award", StatusCode::NOT_FOUND, main)
}

/// `GET /admin/award/csv/{job}/progress` (JSON, for the page's script).
pub async fn csv_progress(Path(id): Path<String>, Page(cx): Page) -> Response {
    let Some(j) = job_of(&cx, &id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let job = lock(&j);
    let state_name = match job.phase {
        Phase::Previewed => "previewed",
        Phase::Running => "running",
        Phase::Done => "done",
    };
    Json(json!({"state": state_name, "done": job.done, "total": job.valid().len()})).into_response()
}

/// `POST /admin/award/csv/{job}/start`: awards the valid rows in the background.
pub async fn csv_start(Path(id): Path<String>, Posted(cx, _): Posted) -> Response {
    let Some(j) = job_of(&cx, &id) else {
        return gone(&cx).await;
    };
    if !cx.may(Role::Issuer) {
        // The batch call would be refused (and recorded); say so without starting.
        let a = cx
            .api(Method::POST, "/api/v1/awards/batch", ApiBody::Empty)
            .await;
        return cx.failed(&a, "/award").await;
    }
    {
        let mut job = lock(&j);
        if job.phase != Phase::Previewed {
            drop(job);
            return Redirect::to(&cx.at(&format!("/award/csv/{id}"))).into_response();
        }
        job.phase = Phase::Running;
    }
    let task_cx = cx.clone();
    let task_job = j.clone();
    tokio::spawn(async move { run_job(task_cx, task_job).await });
    Redirect::to(&cx.at(&format!("/award/csv/{id}"))).into_response()
}

async fn run_job(cx: Cx, j: Arc<Mutex<Job>>) {
    let (header, chunks, delivery) = {
        let job = lock(&j);
        let valid = job.valid();
        let chunks: Vec<Vec<(usize, csv::StringRecord)>> = valid
            .chunks(CHUNK)
            .map(|c| {
                c.iter()
                    .map(|&i| (i, job.rows.get(i).cloned().unwrap_or_default()))
                    .collect()
            })
            .collect();
        (job.header.clone(), chunks, job.delivery.clone())
    };
    for chunk in chunks {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut body = Vec::new();
        if w.write_record(&header).is_ok() {
            for (_, r) in &chunk {
                let _ = w.write_record(r);
            }
            body = w.into_inner().unwrap_or_default();
        }
        let a = cx
            .api(
                Method::POST,
                &format!("/api/v1/awards/batch?delivery={}", qv(&delivery)),
                ApiBody::Raw("text/csv".into(), body),
            )
            .await;
        let results = a.json()["results"].as_array().cloned().unwrap_or_default();
        let mut job = lock(&j);
        for (n, (row, _)) in chunk.iter().enumerate() {
            let r = if a.ok() {
                results
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| json!({"error": "no answer for this row"}))
            } else {
                json!({"error": a.message()})
            };
            job.results.insert(*row, r);
        }
        job.done += chunk.len();
    }
    lock(&j).phase = Phase::Done;
}

/// `GET /admin/award/csv/{job}.csv`: the results.
pub async fn csv_results(Path(file): Path<String>, Page(cx): Page) -> Response {
    let Some(j) = job_of(&cx, file.trim_end_matches(".csv")) else {
        return gone(&cx).await;
    };
    let job = lock(&j);
    let rows = job
        .checked
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = job.results.get(&i);
            let err = r.map_or(&c["error"], |r| &r["error"]);
            vec![
                (i + 1).to_string(),
                job.cell(i, "name"),
                job.cell(i, "email"),
                job.cell(i, "achievement_id"),
                r.map(|r| s(r, "credential_id").to_owned())
                    .unwrap_or_default(),
                r.map(|r| s(r, "claim_url").to_owned()).unwrap_or_default(),
                r.map(|r| s(r, "tx_code").to_owned()).unwrap_or_default(),
                r.map(|r| s(r, "mail").to_owned()).unwrap_or_default(),
                err.as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    csv_download(
        "award-results.csv",
        &[
            "row",
            "name",
            "email",
            "achievement_id",
            "credential_id",
            "claim_url",
            "tx_code",
            "mail",
            "error",
        ],
        rows,
    )
}

// ---- credentials ----

#[derive(Debug, Default, Deserialize)]
pub struct Search {
    q: Option<String>,
    achievement: Option<String>,
    state: Option<String>,
    cursor: Option<String>,
    done: Option<String>,
}

impl Search {
    /// The API query for this search (`None`: the text names one credential).
    fn api_query(&self) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        let q = self.q.as_deref().unwrap_or("").trim();
        if !q.is_empty() {
            let bare = q.trim_start_matches("urn:uuid:");
            if Uuid::parse_str(bare).is_ok() {
                return Err(bare.to_owned());
            }
            if q.contains('@') && !q.contains(':') {
                parts.push(format!("email={}", qv(q)));
            } else if q.contains(':') {
                parts.push(format!("recipient_id={}", qv(q)));
            } else {
                parts.push(format!("name={}", qv(q)));
            }
        }
        if let Some(a) = self.achievement.as_deref().filter(|a| !a.is_empty()) {
            parts.push(format!("achievement_id={}", qv(a)));
        }
        if let Some(st) = self.state.as_deref().filter(|a| !a.is_empty()) {
            parts.push(format!("state={}", qv(st)));
        }
        Ok(parts.join("&"))
    }

    /// This search's own query string (without the cursor).
    fn here(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("q", &self.q),
            ("achievement", &self.achievement),
            ("state", &self.state),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", qv(v)));
            }
        }
        parts.join("&")
    }
}

/// A credential's standing in words, with the precedence of the badge page.
fn standing(c: &Value, now: time::OffsetDateTime) -> (&'static str, &'static str) {
    let expired = c
        .get("valid_until")
        .and_then(Value::as_str)
        .and_then(crate::clock::parse_datetime)
        .is_some_and(|u| u <= now);
    if c["revoked"].as_bool() == Some(true) {
        ("revoked", "Revoked")
    } else if c["suspended"].as_bool() == Some(true) {
        ("suspended", "Suspended")
    } else if expired {
        ("expired", "Expired")
    } else if s(c, "state") == "offered" {
        ("offered", "Waiting to be claimed")
    } else {
        ("issued", "Issued")
    }
}

const STATES: [(&str, &str); 6] = [
    ("", "Any state"),
    ("offered", "Waiting to be claimed"),
    ("issued", "Claimed or issued"),
    ("revoked", "Revoked"),
    ("suspended", "Suspended"),
    ("expired", "Expired"),
];

/// `GET /admin/credentials`: search, newest first, a page at a time.
pub async fn credentials(Query(q): Query<Search>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let query = match q.api_query() {
        Ok(query) => query,
        Err(uuid) => return Redirect::to(&cx.at(&format!("/credentials/{uuid}"))).into_response(),
    };
    let mut path = format!("/api/v1/credentials?limit={PAGE}&{query}");
    if let Some(c) = q.cursor.as_deref().filter(|c| !c.is_empty()) {
        path.push_str(&format!("&cursor={}", qv(c)));
    }
    let page = match cx.read(&path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let list = page["credentials"].as_array().cloned().unwrap_or_default();
    let all = all_achievements(&state).await;
    let names = achievement_names(&all);
    let achievements = active_achievements(&all);
    let now = state.clock.now();
    let here = q.here();
    let main = html! {
        h1 { "Credentials" }
        (done_notice(q.done.as_deref()))
        form.search method="get" action=(cx.at("/credentials")) role="search" data-action="search-credentials" {
            div {
                label for="c-q" { "Earner's name, e-mail, DID or credential id" }
                input #c-q type="search" name="q" value=(q.q.as_deref().unwrap_or(""));
            }
            div {
                label for="c-achievement" { "Achievement" }
                select #c-achievement name="achievement" {
                    option value="" { "Any achievement" }
                    @for (id, name) in &achievements {
                        option value=(id) selected[q.achievement.as_deref() == Some(id.as_str())] { (name) }
                    }
                }
            }
            div {
                label for="c-state" { "State" }
                select #c-state name="state" {
                    @for (v, label) in STATES {
                        option value=(v) selected[q.state.as_deref().unwrap_or("") == v] { (label) }
                    }
                }
            }
            button.button.primary type="submit" { "Search" }
        }
        p.actions {
            a.button href={ (cx.at("/credentials.csv")) "?" (here) } download { "Export CSV" }
        }
        @if list.is_empty() { p.empty data-results="0" { "No credentials match." } } @else {
            div.table-wrap tabindex="0" role="region" aria-label="Table (scrolls sideways)" {
                table.data data-results=(list.len()) {
                    thead { tr { th scope="col" { "Earner" } th scope="col" { "Achievement" } th scope="col" { "State" } th scope="col" { "Awarded" } } }
                    tbody {
                        @for c in &list {
                            @let id = s(c, "credential_id").trim_start_matches("urn:uuid:");
                            @let (st, label) = standing(c, now);
                            tr data-credential=(id) {
                                td {
                                    a href=(cx.at(&format!("/credentials/{}", seg(id)))) { (recipient_label(c)) }
                                    @if !s(&c["recipient"], "email").is_empty() && !s(&c["recipient"], "name").is_empty() { br; span.small { (s(&c["recipient"], "email")) } }
                                }
                                td { (names.get(s(c, "achievement_id")).cloned().unwrap_or_default()) }
                                td { span.state data-state=(st) { (label) } }
                                td { (when(s(c, "created_at"))) }
                            }
                        }
                    }
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if q.cursor.as_deref().is_some_and(|c| !c.is_empty()) {
                a href={ (cx.at("/credentials")) "?" (here) } { "← Newest" }
            }
            @if let Some(n) = page["next_cursor"].as_str() {
                a href={ (cx.at("/credentials")) "?" (here) "&cursor=" (qv(n)) } rel="next" data-next { "Older →" }
            }
        }
    };
    cx.shell("Credentials", "/credentials", StatusCode::OK, main)
}

/// `GET /admin/credentials.csv`: every credential the search finds (up to 100,000).
pub async fn credentials_csv(Query(q): Query<Search>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let query = q.api_query().unwrap_or_default();
    let names = achievement_names(&all_achievements(&state).await);
    let now = state.clock.now();
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/credentials?limit=500&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", qv(c)));
        }
        let page = match cx.read(&path).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        for c in page["credentials"].as_array().into_iter().flatten() {
            let r = &c["recipient"];
            rows.push(vec![
                s(c, "credential_id").to_owned(),
                s(r, "name").to_owned(),
                s(r, "email").to_owned(),
                s(r, "id").to_owned(),
                s(c, "achievement_id").to_owned(),
                names
                    .get(s(c, "achievement_id"))
                    .cloned()
                    .unwrap_or_default(),
                standing(c, now).0.to_owned(),
                s(c, "created_at").to_owned(),
                s(c, "valid_until").to_owned(),
                s(c, "mail").to_owned(),
            ]);
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || rows.len() >= MAX_EXPORT {
            break;
        }
    }
    rows.truncate(MAX_EXPORT);
    csv_download(
        "credentials.csv",
        &[
            "credential_id",
            "name",
            "email",
            "recipient_id",
            "achievement_id",
            "achievement",
            "state",
            "created_at",
            "valid_until",
            "mail",
        ],
        rows,
    )
}

/// `GET /admin/credentials/{id}`: one credential, its record and what may be done.
pub async fn credential(
    Path(id): Path<String>,
    Query(q): Query<Search>,
    Page(cx): Page,
) -> Response {
    let state = cx.state.clone();
    let path = format!("/api/v1/credentials/{}", seg(&id));
    let c = match cx.read(&path).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let audit = cx
        .list(&format!("{path}/audit"), "events")
        .await
        .unwrap_or_default();
    let names = achievement_names(&all_achievements(&state).await);
    let uuid = s(&c, "credential_id")
        .trim_start_matches("urn:uuid:")
        .to_owned();
    let (st, label) = standing(&c, state.clock.now());
    let revoked = c["revoked"].as_bool() == Some(true);
    let suspended = c["suspended"].as_bool() == Some(true);
    let offered = s(&c, "state") == "offered";
    let public = c["public"].as_bool() != Some(false);
    let may = cx.may(Role::Issuer);
    let base = cx.base();
    let act = |what: &str| cx.at(&format!("/credentials/{}/{what}", seg(&uuid)));
    // Issued as given through the VC-API: no achievement, no badge page.
    let general = c.get("document").is_some();
    let wallet_events = c["wallet_events"].as_array().cloned().unwrap_or_default();
    let r = &c["recipient"];
    let main = html! {
        p { a href=(cx.at("/credentials")) { "← All credentials" } }
        h1 { (names.get(s(&c, "achievement_id")).cloned().unwrap_or_else(|| "Credential".into())) " — " (recipient_label(&c)) }
        (done_notice(q.done.as_deref()))
        p { span.state data-state=(st) data-credential-state=(st) { (label) } }
        div.edit-grid {
            section.panel aria-labelledby="facts-h" {
                h2 #facts-h { "The credential" }
                dl.facts {
                    dt { "Credential id" } dd.mono { (s(&c, "credential_id")) }
                    dt { "Earner" } dd {
                        (s(r, "name"))
                        @if !s(r, "email").is_empty() { br; (s(r, "email")) }
                        @if !s(r, "id").is_empty() { br; span.mono.wrap-any { (s(r, "id")) } }
                    }
                    @if general {
                        dt { "Issued through" } dd { "the W3C VC-API, secured as " span.mono { (s(&c, "securing")) } }
                    } @else {
                        dt { "Achievement" } dd { a href=(cx.at(&format!("/achievements/{}", last(s(&c, "achievement_id"))))) { (names.get(s(&c, "achievement_id")).cloned().unwrap_or_default()) } }
                    }
                    dt { "Awarded" } dd { (when(s(&c, "created_at"))) }
                    @if !s(&c, "issued_at").is_empty() { dt { "Issued" } dd { (when(s(&c, "issued_at"))) } }
                    dt { "Valid from" } dd { (when(s(&c, "valid_from"))) }
                    dt { "Valid until" } dd { @if s(&c, "valid_until").is_empty() { "Does not expire" } @else { (when(s(&c, "valid_until"))) } }
                    dt { "Copies signed" } dd { (c["copies"].as_u64().unwrap_or(0)) }
                    @if !general {
                        dt { "Badge page" } dd {
                            @if public { "Public" } @else { "Hidden" }
                            @if s(&c, "state") == "issued" { " · " a href={ (base) "/badges/" (uuid) } { "open" } }
                        }
                    }
                    @if !s(&c, "mail").is_empty() {
                        dt { "E-mail" } dd data-mail=(s(&c, "mail")) { (s(&c, "mail")) @if !s(&c, "mail_error").is_empty() { " — " (s(&c, "mail_error")) } }
                    }
                    @if !s(&c, "claim_url").is_empty() {
                        dt { "Claim link" } dd { a.wrap-any href=(s(&c, "claim_url")) data-claim-url { (s(&c, "claim_url")) } }
                    }
                    @if !s(&c, "earner_url").is_empty() {
                        dt { "Earner's page" } dd { a href=(s(&c, "earner_url")) { "their manage page" } " (private to them)" }
                    }
                }
            }
            @if may {
                section.panel.stack aria-labelledby="act-h" data-section="actions" {
                    h2 #act-h { "Actions" }
                    @if !revoked {
                        form.stack method="post" action=(act("revoke")) data-action="revoke" {
                            input type="hidden" name="csrf" value=(cx.csrf);
                            label for="revoke-reason" { "Reason for revoking (kept in the audit trail)" }
                            input #revoke-reason type="text" name="reason" required maxlength="500";
                            button.button.danger type="submit" { "Revoke for good" }
                        }
                        @if suspended {
                            form.stack method="post" action=(act("unsuspend")) data-action="unsuspend" {
                                input type="hidden" name="csrf" value=(cx.csrf);
                                label for="unsuspend-reason" { "Reason for lifting the suspension (optional)" }
                                input #unsuspend-reason type="text" name="reason" maxlength="500";
                                button.button type="submit" { "Lift the suspension" }
                            }
                        } @else {
                            form.stack method="post" action=(act("suspend")) data-action="suspend" {
                                input type="hidden" name="csrf" value=(cx.csrf);
                                label for="suspend-reason" { "Reason for suspending" }
                                input #suspend-reason type="text" name="reason" required maxlength="500";
                                button.button type="submit" { "Suspend" }
                            }
                        }
                        @if offered {
                            form method="post" action=(act("reoffer")) data-action="reoffer" {
                                input type="hidden" name="csrf" value=(cx.csrf);
                                button.button type="submit" { "Make a fresh offer" }
                            }
                            @if c["approval_required"].as_bool() == Some(true) && c["approved"].as_bool() != Some(true) {
                                form method="post" action=(act("approve")) data-action="approve" {
                                    input type="hidden" name="csrf" value=(cx.csrf);
                                    button.button.primary type="submit" { "Approve" }
                                }
                            }
                        }
                    } @else { p { "Revoked credentials stay revoked." } }
                    form method="post" action=(act(if public { "hide" } else { "show" })) data-action=(if public { "hide" } else { "show" }) {
                        input type="hidden" name="csrf" value=(cx.csrf);
                        button.button type="submit" { (if public { "Hide the badge page" } else { "Show the badge page" }) }
                    }
                    @if !s(&c, "mail").is_empty() {
                        form method="post" action=(act("stop-reminders")) data-action="stop-reminders" {
                            input type="hidden" name="csrf" value=(cx.csrf);
                            button.button type="submit" { "Stop e-mail reminders" }
                        }
                    }
                }
            }
        }
        section.panel aria-labelledby="trail-h" {
            h2 #trail-h { "Audit trail" }
            @if audit.is_empty() { p.empty { "No staff actions yet." } } @else {
                ul.trail role="list" {
                    @for e in &audit {
                        li data-trail=(s(e, "action")) { (when(s(e, "at"))) " · " strong { (s(e, "action")) } " by " (s(e, "actor")) @if !s(e, "reason").is_empty() { " — “" (s(e, "reason")) "”" } }
                    }
                }
            }
        }
        section.panel aria-labelledby="wallet-h" {
            h2 #wallet-h { "Wallet events" }
            @if wallet_events.is_empty() { p.empty { "No wallet has reported anything." } } @else {
                ul.trail role="list" {
                    @for e in &wallet_events {
                        li { (when(s(e, "at"))) " · " strong { (s(e, "event")) } @if !s(e, "description").is_empty() { " — " (s(e, "description")) } }
                    }
                }
            }
        }
    };
    cx.shell("Credential", "/credentials", StatusCode::OK, main)
}

/// `POST /admin/credentials/{id}/{action}`: revoke, suspend, unsuspend, reoffer,
/// approve, hide, show, stop-reminders.
pub async fn credential_action(
    Path((id, action)): Path<(String, String)>,
    Posted(cx, f): Posted,
) -> Response {
    let state = cx.state.clone();
    let cred = format!("/api/v1/credentials/{}", seg(&id));
    let award = format!("/api/v1/awards/{}", seg(&id));
    let reason = json!({"reason": f.get("reason")});
    let (path, body, done) = match action.as_str() {
        "revoke" | "suspend" => {
            if f.get("reason").is_empty() {
                return cx
                    .failed(
                        &bad_input("give a reason: it is kept in the audit trail"),
                        &format!("/credentials/{id}"),
                    )
                    .await;
            }
            (
                format!("{cred}/{action}"),
                ApiBody::Json(reason),
                if action == "revoke" {
                    "revoked"
                } else {
                    "suspended"
                },
            )
        }
        "unsuspend" => (
            format!("{cred}/unsuspend"),
            if f.get("reason").is_empty() {
                ApiBody::Empty
            } else {
                ApiBody::Json(reason)
            },
            "unsuspended",
        ),
        "hide" => (format!("{cred}/hide"), ApiBody::Empty, "hidden"),
        "show" => (format!("{cred}/show"), ApiBody::Empty, "shown"),
        "reoffer" => (format!("{award}/reoffer"), ApiBody::Empty, "reoffered"),
        "approve" => (format!("{award}/approve"), ApiBody::Empty, "approved"),
        "stop-reminders" => (
            format!("{cred}/mail"),
            ApiBody::Json(json!({"opt_out": true})),
            "reminders-stopped",
        ),
        _ => {
            return super::error_page(
                &state,
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is no such action.",
            )
            .await;
        }
    };
    let back = format!("/credentials/{}", id.trim_start_matches("urn:uuid:"));
    cx.act(Method::POST, &path, body, &back, done).await
}

// ---- presentation requests ----

/// `GET /admin/presentations`.
pub async fn presentations(Page(cx): Page) -> Response {
    presentations_page(&cx, StatusCode::OK, html! {}).await
}

async fn presentations_page(cx: &Cx, status: StatusCode, note: Markup) -> Response {
    let achievements = active_achievements(&all_achievements(&cx.state).await);
    let verified = cx.state.tally.verifications(7).await.unwrap_or(0);
    let main = html! {
        h1 { "Check a candidate" }
        (note)
        (role_note(cx, Role::Issuer))
        p { "Ask a candidate's wallet for a badge during an interview: show them the QR code, and the verdict appears here when their wallet answers." }
        p.small { (verified) " credentials were verified by this service in the last 7 days." }
        @if cx.may(Role::Issuer) {
            form.panel.stack method="post" action=(cx.at("/presentations")) data-action="create-presentation" {
                input type="hidden" name="csrf" value=(cx.csrf);
                label for="pr-purpose" { "What the wallet tells the candidate" }
                input #pr-purpose type="text" name="purpose" value="We would like to see your badge for this interview." maxlength="300";
                label for="pr-achievement" { "Which badge" }
                select #pr-achievement name="achievement" {
                    option value="" { "Any Open Badge" }
                    @for (id, name) in &achievements { option value=(id) { "Ours: " (name) } }
                }
                label.inline { input type="checkbox" name="ours" value="true"; " Only badges we issued" }
                button.button.primary type="submit" { "Show a QR code" }
            }
        }
        p { "Or verify a badge file, a pasted credential or a badge page address on the " a href={ (cx.base()) "/verify" } { "verify page" } "." }
    };
    cx.shell("Check a candidate", "/presentations", status, main)
}

/// `POST /admin/presentations`.
pub async fn create_presentation(Posted(cx, f): Posted) -> Response {
    let state = cx.state.clone();
    let addr = cx.peer.map(|c| c.0.ip());
    if !cx.may(Role::Issuer) {
        let mut e = state
            .staff
            .entry(Some(&cx.p), "denied.presentation.create", None, addr);
        e.status = Some(403);
        if let Err(err) = state.staff.record(e).await {
            tracing::error!(error = %err, "writing the audit trail");
        }
        return cx
            .failed(
                &super::Answer {
                    status: StatusCode::FORBIDDEN,
                    headers: HeaderMap::new(),
                    body: json!({"error": "forbidden", "message": "this needs the issuer role"})
                        .to_string()
                        .into(),
                },
                "/presentations",
            )
            .await;
    }
    let mut constraints = crate::records::presentation::Constraints {
        credential_types: vec!["OpenBadgeCredential".into()],
        ..Default::default()
    };
    if let Some(a) = f.opt("achievement") {
        constraints
            .achievement_ids
            .push(format!("{}/achievements/{a}", cx.base()));
    }
    if f.checked("ours") || !constraints.achievement_ids.is_empty() {
        constraints
            .trusted_issuers
            .push(state.issuer.did().as_str().to_owned());
    }
    let input = crate::oid4vp::NewRequest {
        constraints,
        max_ttl: crate::oid4vp::MAX_ANONYMOUS_TTL,
        expires_in: Some(crate::oid4vp::MAX_ANONYMOUS_TTL),
        purpose: f.opt("purpose"),
        created_by: Some(cx.p.actor.clone()),
        ..Default::default()
    };
    match state.oid4vp.create(input).await {
        Ok(rec) => {
            let mut e = state.staff.entry(
                Some(&cx.p),
                "presentation.create",
                Some(rec.id.to_string()),
                addr,
            );
            e.status = Some(201);
            if let Err(err) = state.staff.record(e).await {
                tracing::error!(error = %err, "writing the audit trail");
            }
            Redirect::to(&cx.at(&format!("/presentations/{}", rec.id))).into_response()
        }
        Err(e) => {
            presentations_page(
                &cx,
                StatusCode::SERVICE_UNAVAILABLE,
                notice("error", &super::super::sentence(&e.to_string())),
            )
            .await
        }
    }
}

/// `GET /admin/presentations/{id}`: the QR code, then the verdict (the page's script
/// reloads it when the wallet answers).
pub async fn presentation(Path(id): Path<String>, Page(cx): Page) -> Response {
    let state = cx.state.clone();
    let rec = match Uuid::parse_str(&id) {
        Ok(u) => state.oid4vp.get(u).await.ok(),
        Err(_) => None,
    };
    let Some(rec) = rec else {
        let main = html! { h1 { "Request not found" } p { "It expired and was cleared away, or never existed. " a href=(cx.at("/presentations")) { "Start a new one" } "." } };
        return cx.shell(
            "Request not found",
            "/presentations",
            StatusCode::NOT_FOUND,
            main,
        );
    };
    let page_url = cx.at(&format!("/presentations/{}", rec.id));
    let (wallet, outcome) = super::super::verify::wallet_view(&state, &rec, page_url);
    let main = html! {
        p { a href=(cx.at("/presentations")) { "← Check a candidate" } }
        h1 { "Candidate's badge" }
        @if let Some(p) = &rec.purpose { p.small { "Asked: “" (p) "”" } }
        (super::super::people::wallet(&wallet))
        @if let Some(o) = &outcome { (super::super::people::result(o, &cx.site.issuer_name)) }
    };
    cx.shell("Candidate's badge", "/presentations", StatusCode::OK, main)
}
