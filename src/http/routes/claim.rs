//! The claim page: `/claim/{id}` shows the earner a QR code and a wallet link for
//! the award's offer, minting a fresh offer when the last one expired (the view:
//! [`crate::views::claim`]).

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::pages;
use crate::issue::offers::ClaimState;

/// `GET /claim/{id}`: an HTML page; an unknown claim link is an HTML 404.
pub async fn claim_page(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    claim_answer(&state, &id, StatusCode::OK, None).await
}

async fn claim_answer(
    state: &AppState,
    id: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    match state.pages.claim_view(id, error).await {
        Ok(v) => {
            let mut res = pages::page(status, pages::templates::claim(&v), "no-store");
            res.headers_mut().remove(header::VARY);
            pages::secret_url(res)
        }
        Err(e) => pages::secret_url(pages::failed(state, e, "Claim link").await),
    }
}

/// The claim page's accept form.
#[derive(Debug, serde::Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    tx_code: Option<String>,
}

/// `POST /claim/{id}/accept`: accepts the badge without a wallet (the transaction
/// code counts against the same five tries as the wallet's), then sends the earner to
/// the badge page. A wrong code shows the claim page again with the tries left.
pub async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<AcceptForm>,
) -> Response {
    if let Some(refused) = pages::cross_site(&state, &headers).await {
        return refused;
    }
    match state
        .issuer
        .accept_on_web(&id, form.tx_code.as_deref())
        .await
    {
        Ok(rec) => {
            let to = if state.catalogue.is_public(rec.id).await.unwrap_or(true) {
                format!("{}/badges/{}", state.issuer.identifier(), rec.id)
            } else {
                format!("{}/claim/{id}", state.issuer.identifier())
            };
            axum::response::Redirect::to(&to).into_response()
        }
        Err(
            e @ (crate::issue::Error::WrongTxCode { .. } | crate::issue::Error::Invalid { .. }),
        ) => {
            let message = match &e {
                crate::issue::Error::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            };
            let message = pages::sentence(&message);
            claim_answer(&state, &id, StatusCode::UNPROCESSABLE_ENTITY, Some(message)).await
        }
        Err(e @ (crate::issue::Error::Locked | crate::issue::Error::WrongState(_))) => {
            claim_answer(
                &state,
                &id,
                StatusCode::CONFLICT,
                Some(pages::sentence(&e.to_string())),
            )
            .await
        }
        Err(e) => pages::failed(&state, e.into(), "Claim link").await,
    }
}

/// The live offer link behind a claim page, for its QR images.
async fn offer_link(state: &AppState, id: &str) -> Result<String, ApiError> {
    let claim = state.issuer.claim(id).await?;
    match (claim.state, claim.record.wallet.offer.as_ref()) {
        (ClaimState::Open, Some(o)) => Ok(state.issuer.offer_uri(claim.record.id, o)),
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
