//! The claim page: `/claim/{id}` shows the earner a QR code and a wallet link for
//! the award's offer, minting a fresh offer when the last one expired.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::app::AppState;
use crate::http::ApiError;
use crate::issue::offers::{ClaimState, TX_CODE_LENGTH};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; }}
.qr svg {{ width: 100%; max-width: 320px; height: auto; }}
a.button {{ display: inline-block; padding: .7rem 1.2rem; background: #12355b; color: #fff; border-radius: .4rem; text-decoration: none; }}
.muted {{ color: #57606a; font-size: .9rem; }}
</style></head>
<body>{body}</body></html>"#,
        title = esc(title),
    )
}

/// `GET /claim/{id}`.
pub async fn claim_page(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let claim = state.issuer.claim(&id).await?;
    let rec = &claim.record;
    let issuer = state.issuer.profile().await?.name;
    let achievement = state.issuer.revision(rec.achievement).await?;
    let name = &achievement.name;
    let heading = format!(
        "<h1>{}</h1><p>{}</p><p class=\"muted\">Awarded by {}</p>",
        esc(name),
        esc(&achievement.description),
        esc(&issuer)
    );
    let body = match claim.state {
        ClaimState::Open => {
            let offer = rec
                .wallet
                .offer
                .as_ref()
                .ok_or_else(|| ApiError::internal(&"claim without an offer"))?;
            let uri = state.issuer.offer_uri(offer);
            let svg = crate::qr::svg(&uri).map_err(|e| ApiError::internal(&e))?;
            let tx = if rec.wallet.tx_code.is_some() {
                format!(
                    "<p>Your wallet will ask for the {TX_CODE_LENGTH}-digit code the issuer sent you with this badge.</p>"
                )
            } else {
                String::new()
            };
            format!(
                r#"{heading}
<p>Scan this code with your digital wallet, or open the link on the device your wallet is on.</p>
<div class="qr">{svg}</div>
<p><a class="button" href="{href}">Open in wallet</a></p>
{tx}
<p class="muted">This code works once and expires at {exp} UTC; reload this page for a fresh one.
QR code as <a href="{id}/qr.png">PNG</a> or <a href="{id}/qr.svg">SVG</a>.</p>"#,
                href = esc(&uri),
                exp = esc(&crate::clock::format_seconds(offer.expires_at)),
                id = esc(&id),
            )
        }
        ClaimState::Issued => format!("{heading}<p>This badge is already in a wallet.</p>"),
        ClaimState::Revoked => {
            format!(
                "{heading}<p>This badge was withdrawn by the issuer and can no longer be claimed.</p>"
            )
        }
        ClaimState::Locked => format!(
            "{heading}<p>Too many wrong codes were entered for this badge. Ask the issuer to send it again.</p>"
        ),
        ClaimState::AwaitingApproval => format!(
            "{heading}<p>Your wallet has asked for this badge; it will arrive once the issuer approves it.</p>"
        ),
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Html(page(&format!("Claim your badge: {name}"), &body)),
    )
        .into_response())
}

/// The live offer link behind a claim page, for its QR images.
async fn offer_link(state: &AppState, id: &str) -> Result<String, ApiError> {
    let claim = state.issuer.claim(id).await?;
    match (claim.state, claim.record.wallet.offer.as_ref()) {
        (ClaimState::Open, Some(o)) => Ok(state.issuer.offer_uri(o)),
        _ => Err(ApiError::new(
            StatusCode::GONE,
            "offer_gone",
            "this badge cannot be claimed now; open the claim page",
        )),
    }
}

/// `GET /claim/{id}/qr.svg`.
pub async fn claim_qr_svg(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uri = offer_link(&state, &id).await?;
    let svg = crate::qr::svg(&uri).map_err(|e| ApiError::internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        svg,
    )
        .into_response())
}

/// `GET /claim/{id}/qr.png`.
pub async fn claim_qr_png(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let uri = offer_link(&state, &id).await?;
    let png = crate::qr::png(&uri).map_err(|e| ApiError::internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}
