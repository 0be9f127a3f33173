//! The admin API (README: the walk-through and the sections after it). Every route here sits behind the admin bearer token,
//! and every 2xx answer to a write comes after the store was flushed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{JsonBody, OptionalJsonBody, parse_json};
use crate::app::AppState;
use crate::clock::format_seconds;
use crate::http::ApiError;
use crate::http::access::{AuditNote, noted_json};
use crate::http::views::{
    AchievementList, BadgeCopy, BatchResults, BatchRow, CredentialAudit, CredentialList,
    CredentialView, EarnerLink, IssuerView, MessageView, RevokeResults, RevokeRow, StatusChange,
    StatusEntry, WalletEventView,
};
use crate::issue::revoke::{ActionContext, StatusAction};
use crate::issue::{self, AwardRequest, IssuerProfile, RecipientInput};
use crate::records::{AchievementRecord, Award, AwardState, MailKind};
use crate::staff::Principal;
use crate::status::StatusPurpose;
use crate::store::AwardFilter;
use utoipa::ToSchema;

// ---- issuer profile ----

fn profile_view(state: &AppState, p: &IssuerProfile) -> IssuerView {
    IssuerView::new(state.issuer.did().as_str(), p.clone())
}

/// `GET /api/v1/issuer`
/// `GET /api/v1/export`: the whole store as an archive (`store::transfer`), streamed
/// from one consistent walk; an export that fails midway ends without its last line,
/// which `accolade import` refuses.
pub async fn export(State(state): State<AppState>) -> Response {
    use crate::store::transfer;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let store = state.store.clone();
    let now = state.clock.now();
    let header = transfer::Header {
        version: transfer::VERSION,
        exported_at: now,
        from: String::new(),
        public_url: Some(state.public_url.to_string()),
        did: Some(state.identity.did.to_string()),
    };
    tokio::spawn(async move {
        let mut out = transfer::ChannelLines(tx);
        match transfer::export(&store, header, &mut out).await {
            Ok(summary) => tracing::info!("export through the API: {summary}"),
            Err(e) => tracing::warn!("export through the API stopped: {e}"),
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    let name = format!(
        "attachment; filename=\"accolade-export-{}.jsonl\"",
        now.date()
    );
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        axum::body::Body::from_stream(body),
    )
        .into_response()
}

pub async fn get_issuer(State(state): State<AppState>) -> Result<Json<IssuerView>, ApiError> {
    let p = state.issuer.profile().await?;
    Ok(Json(profile_view(&state, &p)))
}

/// `PUT /api/v1/issuer`
pub async fn put_issuer(
    State(state): State<AppState>,
    JsonBody(mut v): JsonBody<Value>,
) -> Result<Json<IssuerView>, ApiError> {
    if let Some(o) = v.as_object_mut() {
        // A GET-modify-PUT round trip sends the id back; it must be ours.
        if let Some(id) = o.remove("id")
            && id.as_str() != Some(state.issuer.did().as_str())
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "id: is the issuer's DID and cannot be changed",
            ));
        }
        if let Some(t) = o.remove("type") {
            let profile = |v: &Value| v.as_str() == Some("Profile");
            let ok = profile(&t) || t.as_array().is_some_and(|a| a.len() == 1 && profile(&a[0]));
            if !ok {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    "type: an issuer profile's type is \"Profile\" (or leave it out)",
                ));
            }
        }
    }
    let input: IssuerProfile = serde_json::from_value(v).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            e.to_string(),
        )
    })?;
    let p = state.issuer.set_profile(input).await?;
    Ok(Json(profile_view(&state, &p)))
}

// ---- achievements ----

/// `POST /api/v1/achievements` → 201 with the full Achievement.
pub async fn create_achievement(
    State(state): State<AppState>,
    JsonBody(input): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let rec = state.issuer.create_achievement(&input).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, rec.achievement.id.clone())],
        Json(rec.achievement),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
pub struct AchievementQuery {
    #[serde(default)]
    include_archived: Option<bool>,
}

/// `GET /api/v1/achievements` → `{"achievements": [...]}` (archived ones with
/// `?include_archived=true`).
pub async fn list_achievements(
    State(state): State<AppState>,
    Query(q): Query<AchievementQuery>,
) -> Result<Json<AchievementList>, ApiError> {
    let all = state.issuer.achievements().await?;
    let include = q.include_archived.unwrap_or(false);
    let achievements = all
        .into_iter()
        .filter(|r| include || !r.archived)
        .map(|r| r.achievement)
        .collect();
    Ok(Json(AchievementList { achievements }))
}

fn achievement_response(rec: &AchievementRecord) -> Response {
    let archived = if rec.archived { "true" } else { "false" };
    ([("accolade-archived", archived)], Json(&rec.achievement)).into_response()
}

/// `GET /api/v1/achievements/{id}` (full id, percent-encoded, or its last segment).
pub async fn get_achievement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(achievement_response(&*state.issuer.achievement(&id).await?))
}

/// `PUT /api/v1/achievements/{id}`: later awards use the new definition.
pub async fn update_achievement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(mut input): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let rec = state.issuer.achievement(&id).await?;
    // Sending back what GET returned is fine: the id must be this one.
    if let Some(o) = input.as_object_mut()
        && o.get("id").and_then(Value::as_str) == Some(rec.achievement.id.as_str())
    {
        o.remove("id");
    }
    Ok(achievement_response(
        &state.issuer.update_achievement(&id, &input).await?,
    ))
}

/// `POST /api/v1/achievements/{id}/archive`
pub async fn archive_achievement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(achievement_response(
        &state.issuer.archive_achievement(&id).await?,
    ))
}

// ---- awards ----

async fn award_view(state: &AppState, rec: &Award, credential: Option<&str>) -> CredentialView {
    let mut v = CredentialView {
        credential_id: rec.credential_id(),
        state: rec.state.as_str(),
        achievement_id: (!rec.is_general())
            .then(|| state.issuer.achievement_url(rec.achievement.key)),
        recipient: rec.recipient.clone(),
        valid_from: format_seconds(rec.valid_from),
        tx_code_required: rec.tx_code_required,
        approval_required: rec.approval_required,
        created_at: format_seconds(rec.created_at),
        valid_until: rec.valid_until.map(format_seconds),
        credential: credential.map(str::to_owned),
        ..CredentialView::default()
    };
    if let Some(offer) = state.issuer.offer_live(rec).await {
        v.offer_uri = Some(state.issuer.offer_uri(rec.id, offer));
        v.offer_uri_by_value = Some(state.issuer.offer_uri_by_value(rec, offer));
        v.offer_expires_at = Some(format_seconds(offer.expires_at));
    }
    v.claim_url = state.issuer.claim_url(rec);
    match state.earners.manage_url(rec).await {
        Ok(u) => v.earner_url = u,
        Err(e) => tracing::error!(error = %e, "deriving an earner link"),
    }
    if rec.is_general() {
        // Issued as given through the VC-API: what was signed, and how.
        if let Some(x) = rec.extras.as_ref() {
            v.document = x.get(crate::issue::general::DOCUMENT).cloned();
            v.securing = x.get(crate::issue::general::SECURING).cloned();
        }
    } else if !rec.issued.is_empty() {
        v.badge_url = Some(format!("{}/badges/{}", state.issuer.identifier(), rec.id));
    }
    match state.mail.award_messages(rec.id).await {
        Ok(messages) if !messages.is_empty() => {
            if let Some(m) = messages.iter().find(|m| m.kind == MailKind::Award) {
                v.mail = Some(m.state.as_str());
                v.mail_error = Some(m.error.clone());
                v.mail_answer = Some(m.answer.clone());
            }
            v.mail_messages = Some(messages.iter().map(MessageView::from).collect());
            if let Ok(out) = state.mail.opted_out(rec.id).await {
                v.mail_opt_out = Some(out);
            }
        }
        Ok(_) => {}
        Err(e) => tracing::error!(error = %e, "reading an award's e-mail"),
    }
    if rec.approval_required {
        v.approved = Some(rec.wallet.approved);
        v.wallet_requested = Some(rec.wallet.deferred.is_some());
    }
    v
}

/// An award as a write returns it: the view, plus the transaction code (shown only
/// here, for the admin to pass on to the earner).
async fn award_answer(
    state: &AppState,
    rec: &Award,
    credential: Option<&str>,
    tx_code: Option<&str>,
) -> CredentialView {
    let mut v = award_view(state, rec, credential).await;
    if rec.state == AwardState::Offered {
        v.tx_code = tx_code.map(str::to_owned);
    }
    if let Ok(Some(w)) = state.issuer.profile_warning().await {
        v.warnings = Some(vec![w]);
    }
    v
}

/// `POST /api/v1/awards` → 201.
pub async fn create_award(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<AwardRequest>,
) -> Result<Response, ApiError> {
    let delivery = req.delivery.unwrap_or_default();
    let out = state.issuer.award(req).await?;
    state.mail.wake();
    Ok(noted_json(
        StatusCode::CREATED,
        award_answer(
            &state,
            &out.record,
            out.credential.as_deref(),
            out.tx_code.as_deref(),
        )
        .await,
        AuditNote::target(out.record.credential_id()).with_detail(json!({
            "achievement_id": state.issuer.achievement_url(out.record.achievement.key),
            "delivery": delivery,
        })),
    ))
}

/// Whether a body sent without a CSV content type is a CSV file all the same: it
/// is not JSON and its first line names the `achievement_id` column (curl's
/// `--data-binary @awards.csv` sends `application/x-www-form-urlencoded`).
fn looks_like_csv(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&body[..body.len().min(4096)]);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    !text.starts_with('{')
        && !text.starts_with('[')
        && text.lines().next().is_some_and(|l| {
            l.split(',')
                .any(|c| c.trim().trim_matches('"') == "achievement_id")
        })
}

/// A CSV reading error in a person's words, naming the line.
fn csv_error(e: &csv::Error) -> String {
    let line = e.position().map(|p| p.line());
    let at = line.map(|l| format!("line {l}: ")).unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{at}{len} fields, but the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => format!("{at}not UTF-8 text (save the file as UTF-8)"),
        csv::ErrorKind::Io(io) => format!("{at}could not be read: {io}"),
        _ => format!("{at}{e}"),
    }
}

/// The most rows one batch may hold.
const MAX_BATCH: usize = 10_000;

/// `POST /api/v1/awards/batch`: `{"awards": [...]}` or CSV
/// (`achievement_id,name,email,id,valid_until`). Each row succeeds or fails on its
/// own; the answer lists every row.
pub async fn create_award_batch(
    State(state): State<AppState>,
    Query(q): Query<BatchQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let dry_run = match q.dry_run.as_deref() {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "dry_run {other:?} must be true or false"
            )));
        }
    };
    let default_delivery = match q.delivery.as_deref() {
        None | Some("") => None,
        Some(d) => Some(delivery_named(d).map_err(ApiError::bad_request)?),
    };
    let is_csv = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("text/csv") || v.starts_with("application/csv")
        })
        || looks_like_csv(&body);
    let rows: Vec<Result<AwardRequest, String>> = if is_csv {
        csv_rows(&body)?
    } else {
        let v: Value = parse_json(&body)?;
        let batch: AwardBatch = serde_json::from_value(v)
            .map_err(|_| ApiError::bad_request("send {\"awards\": [ ... ]} or a text/csv body"))?;
        batch
            .awards
            .iter()
            .map(|a| serde_json::from_value::<AwardRequest>(a.clone()).map_err(|e| e.to_string()))
            .collect()
    };
    if rows.is_empty() {
        return Err(ApiError::bad_request("the batch has no rows"));
    }
    if rows.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("a batch holds at most {MAX_BATCH} rows; split it"),
        ));
    }
    let reqs: Vec<Result<AwardRequest, issue::Error>> = rows
        .into_iter()
        .map(|r| {
            r.map(|mut a| {
                if a.delivery.is_none() {
                    a.delivery = default_delivery;
                }
                a
            })
            .map_err(|m| issue::Error::invalid("row", &m))
        })
        .collect();
    if dry_run {
        let mut results = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let checked = match r {
                Ok(a) => state.issuer.check_award(a).await,
                Err(e) => Err(issue::Error::invalid("row", &e.to_string())),
            };
            results.push(match checked {
                Ok(()) => BatchRow::Checked {
                    row: i + 1,
                    credential_id: None,
                    error: None,
                },
                Err(e) => BatchRow::failed(i + 1, ApiError::from(e)),
            });
        }
        let ok = results.iter().filter(|r| r.succeeded()).count();
        let detail = json!({"dry_run": true, "rows": results.len(), "valid": ok});
        return Ok(noted_json(
            StatusCode::OK,
            BatchResults {
                dry_run: Some(true),
                results,
            },
            AuditNote::default().with_detail(detail),
        ));
    }
    let outcomes = state.issuer.award_batch(reqs).await?;
    let mut results = Vec::with_capacity(outcomes.len());
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let n = i + 1;
        results.push(match outcome {
            Ok(out) => BatchRow::Awarded {
                row: n,
                award: Box::new(
                    award_answer(
                        &state,
                        &out.record,
                        out.credential.as_deref(),
                        out.tx_code.as_deref(),
                    )
                    .await,
                ),
                error: None,
            },
            Err(e) => BatchRow::failed(n, ApiError::from(e)),
        });
    }
    state.mail.wake();
    let ok = results.iter().filter(|r| r.succeeded()).count();
    let detail = json!({"rows": results.len(), "awarded": ok, "failed": results.len() - ok});
    Ok(noted_json(
        StatusCode::OK,
        BatchResults {
            dry_run: None,
            results,
        },
        AuditNote::default().with_detail(detail),
    ))
}

#[derive(Debug, Deserialize)]
pub struct BatchQuery {
    /// `true`: check every row and award nothing.
    dry_run: Option<String>,
    /// The delivery of rows that do not name one.
    delivery: Option<String>,
}

fn delivery_named(d: &str) -> Result<issue::Delivery, String> {
    match d {
        "direct" => Ok(issue::Delivery::Direct),
        "offer" => Ok(issue::Delivery::Offer),
        "email" => Ok(issue::Delivery::Email),
        other => Err(format!("delivery {other:?} must be direct, offer or email")),
    }
}

fn csv_rows(body: &[u8]) -> Result<Vec<Result<AwardRequest, String>>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(body);
    let headers = rdr
        .headers()
        .map_err(|e| ApiError::bad_request(format!("the CSV header: {}", csv_error(&e))))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(ach_col) = col("achievement_id") else {
        return Err(ApiError::bad_request(
            "the CSV header must name achievement_id (and name, email, id, valid_until as needed)",
        ));
    };
    let known = [
        "achievement_id",
        "name",
        "email",
        "id",
        "valid_until",
        "valid_from",
        "delivery",
    ];
    if let Some(h) = headers
        .iter()
        .find(|h| !known.iter().any(|k| h.eq_ignore_ascii_case(k)))
    {
        return Err(ApiError::bad_request(format!(
            "unknown CSV column {h:?}; columns are {}",
            known.join(",")
        )));
    }
    let (name, email, id, until, from, delivery) = (
        col("name"),
        col("email"),
        col("id"),
        col("valid_until"),
        col("valid_from"),
        col("delivery"),
    );
    let mut out = Vec::new();
    for record in rdr.records() {
        let row = match record {
            Ok(r) => r,
            Err(e) => {
                out.push(Err(csv_error(&e)));
                continue;
            }
        };
        let get = |c: Option<usize>| {
            c.and_then(|c| row.get(c))
                .map(str::to_owned)
                .filter(|s| !s.is_empty())
        };
        let delivery = match get(delivery).as_deref().map(delivery_named) {
            None => None,
            Some(Ok(d)) => Some(d),
            Some(Err(e)) => {
                out.push(Err(e));
                continue;
            }
        };
        out.push(Ok(AwardRequest {
            achievement_id: row.get(ach_col).unwrap_or_default().to_owned(),
            recipient: RecipientInput {
                name: get(name),
                email: get(email),
                id: get(id),
            },
            valid_from: get(from),
            valid_until: get(until),
            tx_code: None,
            approval_required: None,
            delivery,
            credential_configuration_id: None,
            evidence: None,
            result: None,
            narrative: None,
        }));
    }
    Ok(out)
}

// ---- credentials ----

async fn credential_view(state: &AppState, rec: &Award) -> CredentialView {
    let latest = rec.issued.last();
    let mut v = award_view(state, rec, latest.map(|c| c.jwt.as_str())).await;
    let urls = state.issuer.status_urls();
    if let Some(slot) = rec.status {
        // Every family, whether or not badges carry its entry.
        v.status = Some(
            StatusPurpose::ALL
                .iter()
                .map(|p| StatusEntry {
                    status_purpose: p.as_str(),
                    status_list_credential: urls.list_url(*p, slot.list),
                    status_list_index: slot.index.to_string(),
                })
                .collect(),
        );
    }
    v.revoked = Some(rec.revoked);
    v.suspended = Some(rec.suspended);
    v.public = state.catalogue.is_public(rec.id).await.ok();
    v.updated_at = Some(format_seconds(rec.updated_at));
    v.copies = Some(rec.issued.len());
    v.badges = Some(
        rec.issued
            .iter()
            .map(|c| {
                let slot = c.status.or(rec.status);
                BadgeCopy {
                    id: c
                        .id
                        .map_or_else(|| rec.credential_id(), |u| format!("urn:uuid:{u}")),
                    subject: c.subject.clone(),
                    issued_at: format_seconds(c.issued_at),
                    status_list_index: slot.map(|s| s.index.to_string()),
                    revocation_list: slot.map(|s| urls.list_url(StatusPurpose::Revocation, s.list)),
                }
            })
            .collect(),
    );
    if !rec.wallet.events.is_empty() {
        v.wallet_events = Some(
            rec.wallet
                .events
                .iter()
                .map(WalletEventView::from)
                .collect(),
        );
    }
    v.issued_at = rec.issued.first().map(|c| format_seconds(c.issued_at));
    v.kid = latest.map(|l| l.kid.clone());
    v
}

/// `GET /api/v1/credentials/{credential_id}`
pub async fn get_credential(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let v = credential_view(&state, &state.issuer.credential(&id).await?).await;
    Ok(Json(for_role(v, &p)))
}

/// What a viewer does not see of a credential: the links that act on it (the offer
/// with its pre-authorized code, the claim page, the earner's manage link).
fn for_role(v: CredentialView, p: &Principal) -> CredentialView {
    if p.may(crate::records::Role::Issuer) {
        v
    } else {
        v.without_acting_links()
    }
}

/// The body of revoke and suspend: `{"reason": "...", "actor": "..."}`, both optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    actor: Option<String>,
}

/// The body's `actor` is accepted (earlier clients send it) but never trusted: the
/// record names the authenticated principal.
fn status_body(body: Option<StatusBody>, p: &Principal) -> ActionContext {
    let b = body.unwrap_or_default();
    let _claimed = b.actor;
    ActionContext {
        reason: b.reason,
        actor: Some(p.actor.clone()),
    }
}

async fn status_action(
    state: &AppState,
    p: &Principal,
    id: &str,
    action: StatusAction,
    body: Option<StatusBody>,
) -> Result<Response, ApiError> {
    let ctx = status_body(body, p);
    let rec = state.issuer.change_status(id, action, &ctx).await?;
    let note = AuditNote::target(rec.credential_id()).with_detail(json!({"reason": ctx.reason}));
    Ok(noted_json(
        StatusCode::OK,
        credential_view(state, &rec).await,
        note,
    ))
}

/// `POST /api/v1/credentials/{credential_id}/revoke` `{"reason"}`: permanent; 200 also
/// when already revoked.
pub async fn revoke_credential(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<StatusBody>,
) -> Result<Response, ApiError> {
    status_action(&state, &p, &id, StatusAction::Revoke, body).await
}

/// `POST /api/v1/credentials/{credential_id}/suspend` `{"reason"}`: 409 when revoked.
pub async fn suspend_credential(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<StatusBody>,
) -> Result<Response, ApiError> {
    status_action(&state, &p, &id, StatusAction::Suspend, body).await
}

/// `POST /api/v1/credentials/{credential_id}/unsuspend`: 409 when revoked.
pub async fn unsuspend_credential(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<StatusBody>,
) -> Result<Response, ApiError> {
    status_action(&state, &p, &id, StatusAction::Unsuspend, body).await
}

/// The JSON body of `POST /api/v1/awards/batch` (a CSV body has one row per award).
/// Each row is read on its own, so one bad row fails alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardBatch {
    /// Up to 10,000 awards, as `POST /api/v1/awards` takes them.
    #[schema(value_type = Vec<crate::issue::AwardRequest>)]
    awards: Vec<Value>,
}

/// The body of `POST /api/v1/credentials/revoke`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBatch {
    /// Up to 10,000 credential ids (`urn:uuid:...` or the bare UUID).
    credential_ids: Vec<String>,
    #[serde(default)]
    reason: Option<String>,
    /// Accepted from earlier clients and ignored: the record names the caller.
    #[serde(default)]
    actor: Option<String>,
}

/// `POST /api/v1/credentials/revoke`:
/// `{"credential_ids": [...], "reason": "...", "actor": "..."}` → one result per id, in
/// order; each succeeds or fails on its own.
pub async fn revoke_batch(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    JsonBody(b): JsonBody<RevokeBatch>,
) -> Result<Json<RevokeResults>, ApiError> {
    if b.credential_ids.is_empty() {
        return Err(ApiError::bad_request("credential_ids is empty"));
    }
    if b.credential_ids.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            format!("a batch holds at most {MAX_BATCH} ids; split it"),
        ));
    }
    let _claimed = b.actor;
    let ctx = ActionContext {
        reason: b.reason,
        actor: Some(p.actor.clone()),
    };
    let outcomes = state.issuer.revoke_batch(&b.credential_ids, &ctx).await?;
    let results = b
        .credential_ids
        .iter()
        .zip(outcomes)
        .map(|(id, r)| match r {
            Ok(rec) => RevokeRow {
                credential_id: rec.credential_id(),
                revoked: true,
                error: None,
                code: None,
            },
            Err(e) => {
                let e = ApiError::from(e);
                RevokeRow {
                    credential_id: id.clone(),
                    revoked: false,
                    error: Some(e.message),
                    code: Some(e.code.to_string()),
                }
            }
        })
        .collect();
    Ok(Json(RevokeResults { results }))
}

/// `GET /api/v1/credentials/{credential_id}/audit` → `{"events": [...]}`: who revoked,
/// suspended or unsuspended it, when and why (never published).
pub async fn credential_audit(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CredentialAudit>, ApiError> {
    let events = state
        .issuer
        .audit_events(&id)
        .await?
        .iter()
        .map(StatusChange::from)
        .collect();
    let credential_id = state.issuer.credential(&id).await?.credential_id();
    Ok(Json(CredentialAudit {
        credential_id,
        events,
    }))
}

#[derive(Debug, Deserialize)]
pub struct CredentialQuery {
    achievement_id: Option<String>,
    email: Option<String>,
    recipient_id: Option<String>,
    name: Option<String>,
    state: Option<String>,
    revoked: Option<String>,
    suspended: Option<String>,
    expired: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// Page size when none is asked for, and the largest page.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 500;

/// `GET /api/v1/credentials?achievement_id=&email=&recipient_id=&name=&state=&revoked=&suspended=&expired=&limit=&cursor=`,
/// newest first. `name` matches whole words of the recipient's name; `state` is
/// `offered` or `issued`, or `revoked`, `suspended`, `expired` as a short form of the
/// flag (`revoked=true`, ...); the flags take `true` or `false`; filters combine.
pub async fn list_credentials(
    State(state): State<AppState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<CredentialQuery>,
) -> Result<Json<CredentialList>, ApiError> {
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", m);
    let limit = match q.limit.as_deref() {
        None | Some("") => DEFAULT_LIMIT,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => return Err(invalid(format!("limit must be 1..={MAX_LIMIT}"))),
        },
    };
    let cursor = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| invalid("cursor is not one this service gave".into()))?,
        ),
    };
    let flag = |name: &str, v: &Option<String>| match v.as_deref() {
        None | Some("") => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(invalid(format!("{name} {other:?} must be true or false"))),
    };
    let mut revoked = flag("revoked", &q.revoked)?;
    let mut suspended = flag("suspended", &q.suspended)?;
    let mut expired = flag("expired", &q.expired)?;
    let st = match q.state.as_deref() {
        None | Some("") => None,
        Some("offered") => Some(AwardState::Offered),
        Some("issued") => Some(AwardState::Issued),
        Some("revoked") => {
            revoked = Some(true);
            None
        }
        Some("suspended") => {
            suspended = Some(true);
            None
        }
        Some("expired") => {
            expired = Some(true);
            None
        }
        Some(other) => {
            return Err(invalid(format!(
                "state {other:?} must be offered, issued, revoked, suspended or expired"
            )));
        }
    };
    let achievement = match q.achievement_id.as_deref() {
        None | Some("") => None,
        Some(a) => match state.issuer.achievement_key(a) {
            Some(k) => Some(k),
            // No achievement of ours: nothing was awarded for it.
            None => {
                return Ok(Json(CredentialList {
                    credentials: Vec::new(),
                    next_cursor: None,
                }));
            }
        },
    };
    let email = q
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| e.trim().to_lowercase());
    let filter = AwardFilter {
        achievement,
        email,
        recipient_id: q
            .recipient_id
            .as_deref()
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(str::to_owned),
        state: st,
        name_words: crate::store::name_words(q.name.as_deref().unwrap_or("")),
        revoked,
        suspended,
        expired: expired.map(|e| (e, state.clock.now())),
    };
    let page = state.issuer.credentials(&filter, limit, cursor).await?;
    let mut credentials = Vec::with_capacity(page.awards.len());
    for a in &page.awards {
        credentials.push(for_role(credential_view(&state, a).await, &p));
    }
    Ok(Json(CredentialList {
        credentials,
        next_cursor: page.next.map(|n| n.to_string()),
    }))
}

/// `POST /api/v1/awards/{credential_id}/reoffer`: a fresh offer (and transaction
/// code) for an award not yet in a wallet.
pub async fn reoffer_award(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let (rec, tx_code) = state.issuer.reoffer(&id).await?;
    Ok(Json(
        award_answer(&state, &rec, None, tx_code.as_deref()).await,
    ))
}

/// `POST /api/v1/awards/{credential_id}/approve`: releases an `approval_required`
/// award; a waiting wallet collects it at the deferred endpoint.
pub async fn approve_award(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, ApiError> {
    let rec = state.oid4vci.approve(&id).await?;
    Ok(Json(credential_view(&state, &rec).await))
}

/// `POST /api/v1/credentials/{id}/earner-link`: a new manage link for the earner of
/// an award; every earlier link of that earner stops working.
pub async fn renew_earner_link(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<EarnerLink>, ApiError> {
    let url = state.earners.renew(&id).await?;
    Ok(Json(EarnerLink { earner_url: url }))
}

/// The body of `POST /api/v1/credentials/{id}/mail`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailOptOut {
    /// `true` stops the award's reminder e-mails.
    pub opt_out: bool,
}

/// `POST /api/v1/credentials/{id}/mail` `{"opt_out": true}`: stops reminders for an
/// award, as the earner's one-click link does.
pub async fn credential_mail(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<MailOptOut>,
) -> Result<Response, ApiError> {
    if !b.opt_out {
        // The earner's choice: staff may stop reminders, not start them again.
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            "opt_out: staff may stop an award's reminders, and only the earner starts them again",
        ));
    }
    let rec = state.issuer.credential(&id).await?;
    state.mail.set_opt_out(rec.id, b.opt_out).await?;
    Ok(noted_json(
        StatusCode::OK,
        credential_view(&state, &rec).await,
        AuditNote::target(rec.credential_id()).with_detail(json!({"opt_out": b.opt_out})),
    ))
}
