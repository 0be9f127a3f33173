//! The employer's page `/verify` (views: [`crate::views::verify`]).
//!
//! - `GET /verify`: the forms.
//! - `POST /verify` (multipart, `method` = `upload` | `paste` | `url`): verifies and
//!   answers the page with the result, always `200`; input that is not a credential,
//!   an unreadable image or an upload past the limit gets a friendly line and the
//!   `cannot-tell` verdict, never a JSON error.
//! - `POST /verify/wallet`: starts an anonymous OpenID4VP presentation request (the
//!   same per-address limit as the API's anonymous requests) and redirects to
//!   `GET /verify/wallet/{id}`, which shows its QR code and same-device link while it
//!   is pending, and the verdict once the wallet has answered. A small script polls the
//!   request's JSON; without it, a refresh link.
//!
//! Starting a request stores a record, so that form is protected against cross-site
//! posts twice: the browser's `Origin` must be ours, and the form carries a token
//! derived (HMAC-SHA-256 under the keys directory's link secret) from a random
//! `HttpOnly`, `SameSite=Strict` cookie set by the page. The other forms only read.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{cross_site, error_page, failed, form_csrf, form_csrf_valid, page, people};
use crate::app::{AppState, RateLimit};
use crate::oid4vp::{self, Constraints, NewRequest};
use crate::verify::{Options, Report};
use crate::views::BadgeLookup;
use crate::views::verify::{VerifyOutcome, WalletRequest, outcome_of, problem};

/// The most text a pasted credential or an address may be (the upload takes the rest
/// of the body limit).
const MAX_TEXT: usize = 1024 * 1024;
/// What the wallet form's token is derived for.
const FORM_PURPOSE: &str = "accolade verify form";
/// What the page asks a wallet for.
const PURPOSE: &str = "An employer asks to see one of your badges.";

async fn render(
    state: &AppState,
    headers: &HeaderMap,
    outcome: Option<VerifyOutcome>,
    wallet: Option<WalletRequest>,
    method: Option<&'static str>,
) -> Response {
    let (token, cookie) = form_csrf(state, headers, FORM_PURPOSE);
    let view = match state
        .pages
        .verify_view(token, outcome, wallet, method)
        .await
    {
        Ok(v) => v,
        Err(e) => return failed(state, e, "Page").await,
    };
    let mut res = page(StatusCode::OK, people::verify(&view), "no-store");
    if let Some(c) = cookie {
        res.headers_mut().insert(header::SET_COOKIE, c);
    }
    res
}

/// `GET /verify`.
pub async fn form_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    render(&state, &headers, None, None, None).await
}

/// What the three forms send.
#[derive(Debug, Default)]
struct Submitted {
    method: Option<String>,
    file: Option<(Option<String>, Vec<u8>)>,
    credential: Option<String>,
    url: Option<String>,
    email: Option<String>,
}

/// Reads the multipart form; the error is the friendly line to show.
async fn read_form(mut form: Multipart) -> Result<Submitted, String> {
    let too_large = || {
        format!(
            "The file is too large: badge images up to {} MB can be checked.",
            crate::http::VERIFY_BODY_LIMIT / (1024 * 1024)
        )
    };
    let mut out = Submitted::default();
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err("The form arrived incomplete. Please send it again.".into()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let ctype = field.content_type().map(str::to_owned);
        let has_file = field.file_name().is_some_and(|f| !f.is_empty());
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err("The form arrived incomplete. Please send it again.".into()),
        };
        let text = || {
            if bytes.len() > MAX_TEXT {
                return Err("What you pasted is too long to be a badge.".to_owned());
            }
            String::from_utf8(bytes.to_vec()).map_err(|_| "What you pasted is not text.".to_owned())
        };
        match name.as_str() {
            "method" => out.method = Some(text()?),
            "credential" => out.credential = Some(text()?),
            "url" => out.url = Some(text()?),
            "email" => out.email = Some(text()?).filter(|e| !e.trim().is_empty()),
            "file" if has_file || !bytes.is_empty() => out.file = Some((ctype, bytes.to_vec())),
            _ => {}
        }
    }
    Ok(out)
}

/// A verification failure in words, with the verifier's reason as the detail.
fn unreadable(lead: &str, e: &crate::verify::Error) -> VerifyOutcome {
    problem(&format!("{lead} Details: {e}."))
}

/// The verdict of a report; our own badges show their achievement's art.
fn own_outcome(state: &AppState, report: &Value) -> VerifyOutcome {
    let mut o = outcome_of(report, state.issuer.did().as_str());
    let own = format!("{}/achievements/", state.issuer.identifier());
    if let Some(f) = o.facts.as_mut()
        && f.image.is_none()
        && let Some(id) = f.achievement_id.as_deref()
        && id.starts_with(&own)
        && !id[own.len()..].contains(['/', '?', '#'])
    {
        f.image = Some(format!("{id}/image.png"));
    }
    o
}

fn outcome(state: &AppState, r: Result<Report, crate::verify::Error>, lead: &str) -> VerifyOutcome {
    match r {
        Ok(report) => match serde_json::to_value(&report) {
            Ok(v) => own_outcome(state, &v),
            Err(e) => problem(&format!("The result could not be shown ({e}).")),
        },
        Err(e) => unreadable(lead, &e),
    }
}

async fn by_upload(
    state: &AppState,
    ctype: Option<&str>,
    bytes: &[u8],
    opts: &Options,
) -> VerifyOutcome {
    if bytes.is_empty() {
        return problem("Choose a badge image (PNG or SVG) to upload.");
    }
    let kind = ctype
        .and_then(crate::bake::kind_for_content_type)
        .or_else(|| crate::bake::sniff(bytes));
    let Some(kind) = kind else {
        return problem(
            "This file is not a PNG or SVG image. Badge images downloaded from a badge page are PNG or SVG files with the credential inside.",
        );
    };
    let r = state.verifier.verify_baked(kind, bytes, opts).await;
    outcome(
        state,
        r,
        "This image holds no badge we can read: it may be a picture of a badge rather than the badge file itself.",
    )
}

async fn by_text(state: &AppState, text: &str, opts: &Options) -> VerifyOutcome {
    let text = text.trim();
    if text.is_empty() {
        return problem("Paste a badge first: the text of a JWT or of a JSON credential.");
    }
    if text.starts_with("https://") || text.starts_with("http://") {
        return by_url(state, text, opts).await;
    }
    let lead = "This is not a badge we can read: paste the whole credential, either a JWT (three parts separated by dots) or a JSON document.";
    if text.starts_with('{') {
        return match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(mut o)) => {
                // `{"credential": ...}`, as sent to the API, is taken too.
                if !o.contains_key("@context")
                    && let Some(inner) = o
                        .remove("credential")
                        .or_else(|| o.remove("verifiableCredential"))
                {
                    let r = state.verifier.verify_value_with(&inner, opts).await;
                    return outcome(state, r, lead);
                }
                let r = state.verifier.verify_json_with(&o, opts).await;
                outcome(state, r, lead)
            }
            Ok(_) | Err(_) => problem(&format!(
                "{lead} The text starts like JSON but is not a JSON object."
            )),
        };
    }
    if text.split('.').count() != 3 || text.contains(char::is_whitespace) {
        return problem(lead);
    }
    let r = state.verifier.verify_jwt_with(text, opts).await;
    outcome(state, r, lead)
}

/// A badge named by its page's address: ours are read from the store, others'
/// fetched through the outbound client.
async fn by_url(state: &AppState, url: &str, opts: &Options) -> VerifyOutcome {
    let url = url.trim();
    let parsed = match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") => u,
        _ => {
            return problem(
                "This is not a web address. Give the address of a badge page, starting with https://.",
            );
        }
    };
    let own = format!("{}/badges/", state.issuer.identifier());
    if let Some(rest) = parsed.as_str().strip_prefix(&own) {
        let id = rest
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned();
        return match state.pages.find_badge(&id).await {
            Ok(BadgeLookup::Found(b)) => {
                let r = state.verifier.verify_jwt_with(&b.jwt, opts).await;
                outcome(state, r, "This badge could not be read.")
            }
            Ok(BadgeLookup::Hidden) => problem(
                "This badge's page is private, so it cannot be checked by its address. Ask the candidate for the badge file (the image or the credential) instead.",
            ),
            Ok(BadgeLookup::NotIssued) => problem(
                "This badge was awarded but not yet accepted by its earner, so there is nothing to verify yet.",
            ),
            Err(_) => {
                problem("There is no badge at this address. Check the address and try again.")
            }
        };
    }
    if parsed.scheme() != "https" {
        return problem("Badge pages elsewhere are only fetched over https://. Check the address.");
    }
    let r = state.verifier.verify_url(parsed.as_str(), opts).await;
    outcome(
        state,
        r,
        "No badge could be read from this address: it must be a badge page or a badge file that answers with the credential.",
    )
}

/// Verifies what the form gave, by the method it names (a file or a pasted text when
/// it names none); also says which method that was.
async fn examine(state: &AppState, f: &Submitted) -> (VerifyOutcome, Option<&'static str>) {
    let opts = Options {
        recipient_email: f.email.as_ref().map(|e| e.trim().to_owned()),
    };
    let file = f
        .file
        .as_ref()
        .map(|(ctype, bytes)| (ctype.as_deref(), bytes.as_slice()));
    match (f.method.as_deref(), file, &f.credential) {
        (Some("upload"), file, _) => {
            let (ctype, bytes) = file.unwrap_or((None, &[]));
            (by_upload(state, ctype, bytes, &opts).await, Some("upload"))
        }
        (Some("url"), _, _) => (
            by_url(state, f.url.as_deref().unwrap_or_default(), &opts).await,
            Some("url"),
        ),
        (_, Some((ctype, bytes)), _) if !bytes.is_empty() => {
            (by_upload(state, ctype, bytes, &opts).await, Some("upload"))
        }
        (_, _, Some(text)) => (by_text(state, text, &opts).await, Some("paste")),
        _ => (
            problem("Paste a badge, upload its image, or give its page's address."),
            None,
        ),
    }
}

/// `POST /verify`.
pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let form = match form {
        Ok(f) => read_form(f).await,
        Err(_) => Err("Send the form from this page (it must be a file upload form).".into()),
    };
    let (result, method) = match form {
        Ok(f) => examine(&state, &f).await,
        Err(message) => (problem(&message), None),
    };
    render(&state, &headers, Some(result), None, method).await
}

/// The wallet form.
#[derive(Debug, Deserialize)]
pub struct WalletForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /verify/wallet`: a presentation request, then its page (303).
pub async fn wallet_start(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<WalletForm>,
) -> Response {
    if let Some(refused) = cross_site(&state, &headers).await {
        return refused;
    }
    if !form_csrf_valid(&state, &headers, FORM_PURPOSE, &form.csrf) {
        return error_page(
            &state,
            StatusCode::FORBIDDEN,
            "This form has expired",
            "Open the verify page again and press the button there. (Your browser must accept this site's cookie for the form to work.)",
        )
        .await;
    }
    if state.rate_limit != RateLimit::Off
        && let Some(Extension(ConnectInfo(addr))) = peer
        && let Some(res) =
            crate::http::middleware::refuse_anonymous_request(&state, addr.ip()).await
    {
        let wait = res
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("a few")
            .to_owned();
        let mut page = error_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests from this address",
            &format!("Please wait {wait} seconds before asking another wallet."),
        )
        .await;
        if let Some(v) = res.headers().get(header::RETRY_AFTER) {
            page.headers_mut().insert(header::RETRY_AFTER, v.clone());
        }
        return page;
    }
    let input = NewRequest {
        constraints: Constraints {
            credential_types: vec!["OpenBadgeCredential".into()],
            ..Constraints::default()
        },
        max_ttl: oid4vp::MAX_ANONYMOUS_TTL,
        purpose: Some(PURPOSE.into()),
        ..NewRequest::default()
    };
    match state.oid4vp.create(input).await {
        Ok(rec) => Redirect::to(&format!(
            "{}/verify/wallet/{}#wallet",
            state.issuer.identifier(),
            rec.id
        ))
        .into_response(),
        Err(oid4vp::Error::Busy) => {
            error_page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Too many open requests",
                "The service holds as many wallet requests as it can just now. Please try again in a few minutes, or verify the badge file instead.",
            )
            .await
        }
        Err(e) => {
            tracing::error!(error = %e, "creating a presentation request from the verify page");
            error_page(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The wallet request could not be made just now. Please try again in a moment.",
            )
            .await
        }
    }
}

/// A presentation request as a page shows it: the QR code and link while it waits,
/// then the verdict (the verify page, and the console's "check a candidate").
pub(crate) fn wallet_view(
    state: &AppState,
    rec: &crate::records::presentation::PresentationRequest,
    page_url: String,
) -> (WalletRequest, Option<VerifyOutcome>) {
    let o = &state.oid4vp;
    let link = o.authorization_request(rec);
    let st = o.state(rec);
    let state_name = serde_json::to_value(st)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "pending".into());
    let wallet = WalletRequest {
        id: rec.id.to_string(),
        qr_svg: crate::qr::svg(&link).unwrap_or_default(),
        link,
        state: state_name,
        expires: rec.expires_at,
        page_url,
        poll_url: format!(
            "{}/api/v1/presentation-requests/{}",
            state.issuer.identifier(),
            rec.id
        ),
    };
    let outcome = match (&rec.result, st) {
        (Some(r), _) => Some(own_outcome(state, r)),
        (None, oid4vp::State::Rejected) => Some(problem(
            rec.reason
                .as_deref()
                .unwrap_or("The wallet's answer was not accepted."),
        )),
        _ => None,
    };
    (wallet, outcome)
}

/// `GET /verify/wallet/{id}`.
pub async fn wallet_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let rec = match Uuid::parse_str(&id) {
        Ok(id) => state.oid4vp.get(id).await,
        Err(_) => Err(oid4vp::Error::NotFound(id)),
    };
    let rec = match rec {
        Ok(r) => r,
        Err(oid4vp::Error::NotFound(_)) => {
            return error_page(
                &state,
                StatusCode::NOT_FOUND,
                "Request not found",
                "This wallet request does not exist or has been cleared away. Start a new one from the verify page.",
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a presentation request");
            return error_page(
                &state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "This page could not be shown just now. Please try again in a moment.",
            )
            .await;
        }
    };
    let base = state.issuer.identifier();
    let (wallet, outcome) = wallet_view(
        &state,
        &rec,
        format!("{base}/verify/wallet/{}#wallet", rec.id),
    );
    render(&state, &headers, outcome, Some(wallet), Some("wallet")).await
}
