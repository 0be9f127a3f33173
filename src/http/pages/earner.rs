//! The earner's manage page (`/earner/{award}/{mac}`, the award answer's
//! `earner_url`) and published profiles (`/profiles/{handle}`); the views:
//! [`crate::views::earner`].

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::{cross_site, failed, page, people};
use crate::app::AppState;
use crate::earners::{Change, Error};
use crate::records::Visibility;
use crate::views::earner::Notice;

#[derive(Debug, Deserialize)]
pub struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// What a finished change says at the top of the page.
fn done_text(done: &str) -> Option<&'static str> {
    Some(match done {
        "hide" => "The badge's page is now private: only you can see it listed here.",
        "show" => "The badge's page is now public.",
        "exclude" => "The badge is left off your profile.",
        "include" => "The badge is shown on your profile.",
        "profile" => "Your profile name is saved.",
        "publish" => "Your profile is published.",
        "unpublish" => "Your profile is withdrawn.",
        _ => return None,
    })
}

async fn render(
    state: &AppState,
    award: &str,
    mac: &str,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    let earner = match state.earners.open(award, mac).await {
        Ok(e) => e,
        Err(e) => return failed(state, e.into(), "Page").await,
    };
    match state.pages.manage_view(&earner, notice).await {
        Ok(v) => page(status, people::manage(&v), "no-store"),
        Err(e) => failed(state, e, "Page").await,
    }
}

/// `GET /earner/{award}/{mac}`.
pub async fn manage(
    State(state): State<AppState>,
    Path((award, mac)): Path<(String, String)>,
    Query(q): Query<Done>,
) -> Response {
    let notice = q.done.as_deref().and_then(done_text).map(|t| Notice {
        ok: true,
        text: t.to_owned(),
    });
    super::secret_url(render(&state, &award, &mac, StatusCode::OK, notice).await)
}

/// The manage page's forms.
#[derive(Debug, Deserialize)]
pub struct ManageForm {
    action: String,
    #[serde(default)]
    badge: Option<String>,
    #[serde(default)]
    handle: Option<String>,
    #[serde(default)]
    headline: Option<String>,
}

/// `POST /earner/{award}/{mac}`: one change, then back to the page (303).
pub async fn manage_post(
    State(state): State<AppState>,
    Path((award, mac)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ManageForm>,
) -> Response {
    if let Some(refused) = cross_site(&state, &headers).await {
        return refused;
    }
    let earner = match state.earners.open(&award, &mac).await {
        Ok(e) => e,
        Err(e) => return failed(&state, e.into(), "Page").await,
    };
    let badge = || {
        form.badge
            .as_deref()
            .and_then(|b| Uuid::parse_str(b).ok())
            .ok_or_else(|| Error::Invalid("choose a badge".into()))
    };
    let change = match form.action.as_str() {
        "hide" => badge().map(|b| Change::Visibility(b, Visibility::Hidden)),
        "show" => badge().map(|b| Change::Visibility(b, Visibility::Public)),
        "exclude" => badge().map(|b| Change::OnProfile(b, false)),
        "include" => badge().map(|b| Change::OnProfile(b, true)),
        "profile" => Ok(Change::Profile {
            handle: form.handle.clone().unwrap_or_default(),
            headline: form.headline.clone(),
        }),
        "publish" => Ok(Change::Publish(true)),
        "unpublish" => Ok(Change::Publish(false)),
        _ => Err(Error::Invalid("unknown action".into())),
    };
    let result = match change {
        Ok(c) => state.earners.change(&earner, c).await.map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Redirect::to(&format!("{}?done={}#main", earner.manage_url, form.action))
            .into_response(),
        Err(e @ (Error::Invalid(_) | Error::Taken(_) | Error::NotFound(_))) => {
            let status = match e {
                Error::Taken(_) => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let text = super::sentence(&e.to_string());
            render(
                &state,
                &award,
                &mac,
                status,
                Some(Notice { ok: false, text }),
            )
            .await
        }
        Err(e) => failed(&state, e.into(), "Page").await,
    }
}

/// `GET /profiles/{handle}`: a published profile; anything else is an HTML 404.
pub async fn profile(State(state): State<AppState>, Path(handle): Path<String>) -> Response {
    match state.pages.profile_view(&handle).await {
        Ok(v) => page(StatusCode::OK, people::profile(&v), "no-cache"),
        Err(e) => failed(&state, e, "Profile").await,
    }
}

/// The `badge` (repeated) and `format` parameters of a learner record download.
fn clr_query(query: Option<&str>) -> Option<(Vec<Uuid>, crate::views::earner::ClrFormat)> {
    let mut chosen = Vec::new();
    let mut format = None;
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "badge" => chosen.push(Uuid::parse_str(&v).ok()?),
            "format" => format = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((
        chosen,
        crate::views::earner::ClrFormat::parse(format.as_deref())?,
    ))
}

fn clr_response(file: crate::views::earner::ClrFile) -> Response {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                file.content_type.to_owned(),
            ),
            (axum::http::header::CACHE_CONTROL, "no-store".to_owned()),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.filename),
            ),
        ],
        file.body,
    )
        .into_response()
}

/// `GET /earner/{award}/{mac}/clr?badge=<id>&badge=...&format=json|jwt`: the earner's
/// chosen badges (all, when none is chosen) as one CLR 2.0 learner record.
pub async fn manage_clr(
    State(state): State<AppState>,
    Path((award, mac)): Path<(String, String)>,
    uri: axum::http::Uri,
) -> Response {
    let earner = match state.earners.open(&award, &mac).await {
        Ok(e) => e,
        Err(e) => return failed(&state, e.into(), "Page").await,
    };
    let Some((chosen, format)) = clr_query(uri.query()) else {
        return super::error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "That download link is not valid",
            "Choose the badges to include on your badges page and try again.",
        )
        .await;
    };
    match state.pages.clr_of(&earner.awards, &chosen, format).await {
        Ok(f) => clr_response(f),
        Err(e) => failed(&state, e, "Learner record").await,
    }
}

/// `GET /profiles/{handle}/clr?format=json|jwt`: every badge a published profile
/// shows, as one CLR 2.0 learner record.
pub async fn profile_clr(
    State(state): State<AppState>,
    Path(handle): Path<String>,
    uri: axum::http::Uri,
) -> Response {
    let Some((_, format)) = clr_query(uri.query()) else {
        return super::error_page(
            &state,
            StatusCode::BAD_REQUEST,
            "That download link is not valid",
            "Use the download link on the profile page.",
        )
        .await;
    };
    let awards = match state.earners.profile(&handle).await {
        Ok((_, a)) => a,
        Err(e) => return failed(&state, e.into(), "Profile").await,
    };
    match state.pages.clr_of(&awards, &[], format).await {
        Ok(f) => clr_response(f),
        Err(e) => failed(&state, e, "Learner record").await,
    }
}
