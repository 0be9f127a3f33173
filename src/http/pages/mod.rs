//! The public pages (HTML for people) and the files they link: the catalogue `/`,
//! achievement and badge pages (negotiated with their JSON and JWT forms), baked badge
//! images (OB 3.0 §5.3), uploaded images, the style sheet and script.
//!
//! Page errors are HTML pages with the right status; the negotiated non-HTML forms
//! and the downloads keep JSON errors. Every HTML answer gets the headers of
//! [`page_headers`]: a Content-Security-Policy with no inline script or style, no
//! sniffing, a referrer policy, and framing denied except on the embed view.

pub mod admin;
pub mod console;
pub mod earner;
pub mod negotiate;
pub mod people;
pub mod templates;
pub mod verify;

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::Markup;

use crate::app::AppState;
use crate::catalogue::Art;
use crate::http::ApiError;
use crate::views::{self, BadgeLookup, Site};
use negotiate::negotiate;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

static VERSION: LazyLock<String> = LazyLock::new(|| {
    let d = crate::images::content_address(format!("{STYLE}{SCRIPT}").as_bytes());
    d[..12].to_owned()
});

/// A version of the style sheet and script, for their URLs (cached for a year).
pub fn asset_version() -> &'static str {
    &VERSION
}

/// The policy of every page: nothing inline, nothing from elsewhere but images.
pub const CSP: &str = "default-src 'none'; img-src 'self' data: https:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";
/// The embed view may be framed by any site.
const EMBED_CSP: &str = "default-src 'none'; img-src 'self' data: https:; style-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors *";

/// Badge art sizes: the baked PNG (and Open Graph image), tiles, e-mail signatures.
const BADGE_PX: u32 = 600;
const TILE_PX: u32 = 512;
const SMALL_PX: u32 = 128;

/// Adds the page security headers to HTML answers and `nosniff` to every answer.
pub async fn page_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    add_page_headers(&mut res);
    res
}

/// [`page_headers`] on an answer.
pub(crate) fn add_page_headers(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let html = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if html {
        let framable = h
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("frame-ancestors *"));
        if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
        }
        if !framable {
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        // A page whose URL is a secret (a claim link, a manage link) sets its own.
        if !h.contains_key(header::REFERRER_POLICY) {
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("strict-origin-when-cross-origin"),
            );
        }
    }
}

/// Marks a page whose URL is a secret: it is never sent to another site as a
/// referrer (`same-origin`: `no-referrer` would make browsers send `Origin: null` with
/// the page's own forms, which the cross-site check refuses), and no shared cache
/// keeps it.
pub(crate) fn secret_url(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(crate) fn page(status: StatusCode, markup: Markup, cache: &'static str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, cache), (header::VARY, "Accept")],
        Html(markup.into_string()),
    )
        .into_response()
}

/// An HTML error page (falling back to a plain site when the profile is unreadable).
pub(crate) async fn error_page(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    message: &str,
) -> Response {
    let site = match state.pages.site().await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "reading the issuer profile for an error page");
            fallback_site(state)
        }
    };
    page(
        status,
        templates::error(&site, status.as_u16(), heading, message),
        "no-store",
    )
}

pub(crate) fn fallback_site(state: &AppState) -> Site {
    Site {
        base: state.issuer.identifier(),
        issuer_name: state.issuer.identifier(),
        issuer_url: None,
        issuer_email: None,
        issuer_description: None,
        logo_url: None,
        did: state.issuer.did().as_str().to_owned(),
        theme: views::Theme::new(None, None),
    }
}

/// A page-route failure as an HTML page: not found → 404, anything else → 500.
pub(crate) async fn failed(state: &AppState, e: views::Error, what: &str) -> Response {
    match &e {
        views::Error::NotFound(_)
        | views::Error::Issue(crate::issue::Error::NotFound(_))
        | views::Error::Catalogue(crate::catalogue::Error::NotFound(_))
        | views::Error::Catalogue(crate::catalogue::Error::Issue(crate::issue::Error::NotFound(
            _,
        )))
        | views::Error::Earner(crate::earners::Error::NotFound(_)) => {
            error_page(
                state,
                StatusCode::NOT_FOUND,
                &format!("{what} not found"),
                &format!(
                    "There is no {} at this address. Check the link, or browse all badges.",
                    what.to_lowercase()
                ),
            )
            .await
        }
        views::Error::Earner(crate::earners::Error::LinkNotValid) => {
            error_page(
                state,
                StatusCode::NOT_FOUND,
                "This link is not valid",
                "The link may be mistyped, or the issuer may have sent you a newer one. Use the newest link from the issuer, or ask them for a new one.",
            )
            .await
        }
        _ => {
            tracing::error!(error = %e, "rendering a page");
            error_page(
                state,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "This page could not be shown just now. Please try again in a moment.",
            )
            .await
        }
    }
}

/// Unknown paths: an HTML page for browsers, the JSON error for everyone else.
pub async fn not_found(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if negotiate(
        &headers,
        &["text/html", "application/json"],
        "application/json",
    ) == "text/html"
    {
        return error_page(
            &state,
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is nothing at this address. Check the link, or browse all badges.",
        )
        .await;
    }
    ApiError::not_found("no such route").into_response()
}

// ---- assets ----

/// `GET /assets/{file}`: the style sheet, the script, and the issuer's colours.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    const YEAR: &str = "public, max-age=31536000, immutable";
    match file.as_str() {
        "style.css" => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, YEAR),
            ],
            STYLE,
        )
            .into_response(),
        "app.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, YEAR),
            ],
            SCRIPT,
        )
            .into_response(),
        "theme.css" => {
            let theme = match state.pages.site().await {
                Ok(s) => s.theme,
                Err(_) => views::Theme::new(None, None),
            };
            (
                [
                    (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                    (header::CACHE_CONTROL, "public, max-age=300"),
                ],
                theme.css(),
            )
                .into_response()
        }
        _ => ApiError::not_found("no such asset").into_response(),
    }
}

/// `GET /favicon.ico`: the issuer's logo when it is an uploaded image, else the
/// generated mark.
pub async fn favicon(State(state): State<AppState>) -> Response {
    let site = state.pages.site().await.ok();
    let mut art = None;
    if let Some(logo) = site.as_ref().and_then(|s| s.logo_url.clone()) {
        let prefix = format!("{}/images/", state.issuer.identifier());
        if let Some(file) = logo.strip_prefix(&prefix)
            && let Ok(Some(img)) = state.catalogue.image(file).await
        {
            art = Some(match img.format {
                crate::images::ImageFormat::Png => Art::Png(img.bytes.into()),
                crate::images::ImageFormat::Svg => {
                    Art::Svg(String::from_utf8_lossy(&img.bytes).into())
                }
            });
        }
    }
    let art = art.unwrap_or_else(|| {
        let theme = site.map_or_else(|| views::Theme::new(None, None), |s| s.theme);
        Art::Svg(
            format!(
                r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64"><circle cx="32" cy="32" r="30" fill="{}"/><circle cx="32" cy="32" r="24" fill="none" stroke="{}" stroke-width="5"/><path d="M22 33l7 7 14-15" fill="none" stroke="{}" stroke-width="6" stroke-linecap="round" stroke-linejoin="round"/></svg>"##,
                theme.primary, theme.accent, theme.on_primary
            )
            .into(),
        )
    });
    match state.catalogue.png(&art, 64).await {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            png.to_vec(),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /images/{sha256}.{png|svg}`: an uploaded image; never changes.
pub async fn image(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let img = state
        .catalogue
        .image(&file)
        .await?
        .ok_or_else(|| ApiError::not_found("no such image"))?;
    Ok((
        [
            (header::CONTENT_TYPE, img.format.media_type()),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            // An SVG opened on its own runs under this policy: no script, no fetches.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
            ),
        ],
        img.bytes,
    )
        .into_response())
}

// ---- catalogue and achievements ----

/// `GET /`: the catalogue.
pub async fn catalogue(State(state): State<AppState>) -> Response {
    match state.pages.catalogue_view().await {
        Ok(v) => page(
            StatusCode::OK,
            templates::catalogue(&v),
            "public, max-age=60",
        ),
        Err(e) => failed(&state, e, "Page").await,
    }
}

const ACHIEVEMENT_TYPES: &[&str] = &["text/html", "application/json", "application/ld+json"];

/// `GET /achievements/{id}`: the page, or the Achievement as JSON (the default).
pub async fn achievement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let form = negotiate(&headers, ACHIEVEMENT_TYPES, "application/json");
    if form == "text/html" {
        return match state.pages.achievement_view(&id).await {
            Ok(v) => page(
                StatusCode::OK,
                templates::achievement(&v),
                "public, max-age=60",
            ),
            Err(e) => failed(&state, e, "Badge").await,
        };
    }
    match state.issuer.achievement(&id).await {
        Ok(rec) => (
            [
                (header::CACHE_CONTROL, "public, max-age=60"),
                (header::VARY, "Accept"),
                (
                    header::CONTENT_TYPE,
                    if form == "application/ld+json" {
                        "application/ld+json"
                    } else {
                        "application/json"
                    },
                ),
            ],
            Json(&rec.achievement),
        )
            .into_response(),
        Err(e) => with_vary(ApiError::from(e).into_response()),
    }
}

fn with_vary(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept"));
    res
}

async fn png_response(state: &AppState, art: &Art, size: u32, cache: &'static str) -> Response {
    match state.catalogue.png(art, size).await {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, cache),
            ],
            png.to_vec(),
        )
            .into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /achievements/{id}/image.png`: the achievement's art as a PNG (tiles, Open
/// Graph).
pub async fn achievement_image(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.pages.achievement_art(&id).await {
        Ok(art) => png_response(&state, &art, TILE_PX, "public, max-age=300").await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

// ---- badges ----

const BADGE_TYPES: &[&str] = &[
    "text/html",
    "application/json",
    "application/ld+json",
    "application/vc+jwt",
];

async fn hidden_page(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::NOT_FOUND,
        "This badge is private",
        "The earner or the issuer has chosen not to show this badge publicly. It can still be verified from the badge file itself.",
    )
    .await
}

async fn not_issued_page(state: &AppState) -> Response {
    error_page(
        state,
        StatusCode::NOT_FOUND,
        "This badge has not been claimed yet",
        "The badge was awarded but the earner has not accepted it yet; its page appears once they do.",
    )
    .await
}

/// `GET /badges/{id}`: the page (the default), the decoded credential as JSON, or the
/// compact JWT.
pub async fn badge(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let form = negotiate(&headers, BADGE_TYPES, "text/html");
    if form != "text/html" {
        return with_vary(match state.pages.find_badge(&id).await {
            Ok(BadgeLookup::Found(b)) => {
                if form == "application/vc+jwt" {
                    (
                        [
                            (header::CONTENT_TYPE, "application/vc+jwt"),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        b.jwt,
                    )
                        .into_response()
                } else {
                    let ct = if form == "application/ld+json" {
                        "application/ld+json"
                    } else {
                        "application/json"
                    };
                    (
                        [
                            (header::CONTENT_TYPE, ct),
                            (header::CACHE_CONTROL, "no-cache"),
                        ],
                        Json(b.credential),
                    )
                        .into_response()
                }
            }
            Ok(BadgeLookup::Hidden | BadgeLookup::NotIssued) => {
                ApiError::not_found(format!("badge {id}")).into_response()
            }
            Err(e) => ApiError::from(e).into_response(),
        });
    }
    match state.pages.badge_view(&id).await {
        Ok(BadgeLookup::Found(v)) => page(StatusCode::OK, templates::badge(&v), "no-cache"),
        Ok(BadgeLookup::Hidden) => with_vary(hidden_page(&state).await),
        Ok(BadgeLookup::NotIssued) => with_vary(not_issued_page(&state).await),
        Err(e) => with_vary(failed(&state, e, "Badge").await),
    }
}

/// `GET /badges/{id}/embed`: a small card other sites may frame.
pub async fn badge_embed(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.pages.badge_view(&id).await {
        Ok(BadgeLookup::Found(v)) => {
            let mut res = page(StatusCode::OK, templates::embed(&v), "no-cache");
            res.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(EMBED_CSP),
            );
            res
        }
        Ok(BadgeLookup::Hidden) => hidden_page(&state).await,
        Ok(BadgeLookup::NotIssued) => not_issued_page(&state).await,
        Err(e) => failed(&state, e, "Badge").await,
    }
}

async fn public_badge(state: &AppState, id: &str) -> Result<views::badge::Badge, ApiError> {
    match state.pages.find_badge(id).await? {
        BadgeLookup::Found(b) => Ok(b),
        BadgeLookup::Hidden | BadgeLookup::NotIssued => {
            Err(ApiError::not_found(format!("badge {id}")))
        }
    }
}

fn download(content_type: &'static str, name: String, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("inline; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("inline")),
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /badges/{id}/badge.png`: the badge image with the credential baked in
/// (OB 3.0 §5.3.1).
pub async fn badge_png(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = public_badge(&state, &id).await?;
    let art = state.pages.badge_art(&b).await?;
    let png = match &art {
        Art::Png(p) => p.clone(),
        Art::Svg(_) => state.catalogue.png(&art, BADGE_PX).await?,
    };
    let baked = crate::bake::bake_png(&png, &b.jwt).map_err(|e| ApiError::internal(&e))?;
    Ok(download("image/png", format!("badge-{}.png", b.id), baked))
}

/// `GET /badges/{id}/badge.svg`: the badge as SVG with the credential baked in
/// (OB 3.0 §5.3.2).
pub async fn badge_svg(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = public_badge(&state, &id).await?;
    let art = state.pages.badge_art(&b).await?;
    let svg = match &art {
        Art::Svg(s) => s.to_string(),
        Art::Png(p) => crate::images::png_in_svg(p, BADGE_PX, BADGE_PX),
    };
    let baked = crate::bake::bake_svg(&svg, &b.jwt).map_err(|e| ApiError::internal(&e))?;
    let mut res = download(
        "image/svg+xml",
        format!("badge-{}.svg", b.id),
        baked.into_bytes(),
    );
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox",
        ),
    );
    Ok(res)
}

/// `GET /badges/{id}/small.png`: a small badge image for e-mail signatures.
pub async fn badge_small(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = public_badge(&state, &id).await?;
    let art = state.pages.badge_art(&b).await?;
    Ok(png_response(&state, &art, SMALL_PX, "public, max-age=3600").await)
}

/// `GET /badges/{id}/credential.jwt`: the compact JWT.
pub async fn badge_jwt(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = public_badge(&state, &id).await?;
    Ok(download(
        "application/vc+jwt",
        format!("badge-{}.jwt", b.id),
        b.jwt.into_bytes(),
    ))
}

/// `GET /badges/{id}/credential.json`: the same credential with an embedded Data
/// Integrity proof (VCDM 2.0 §6.1 media type `application/vc`), for wallets and
/// verifiers of Data Integrity credentials; 404 when the issuer has no key for one.
pub async fn badge_json_ld(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let b = public_badge(&state, &id).await?;
    let Some(doc) = state.pages.data_integrity_form(&b).await? else {
        return Err(ApiError::not_found(format!(
            "a Data Integrity form of badge {id} (the issuer has no Ed25519 or P-256 key)"
        )));
    };
    Ok(download(
        "application/vc",
        format!("badge-{}.json", b.id),
        doc.to_string().into_bytes(),
    ))
}

/// The cookie pre-session form tokens are derived from.
const CSRF_COOKIE: &str = "accolade_csrf";

/// The cookie's value in a request, when it is one we could have set.
pub(crate) fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    crate::http::access::cookie(headers, CSRF_COOKIE)
        .map(str::to_owned)
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The form token for a cookie value, for one kind of form.
fn form_token(state: &AppState, cookie: &str, purpose: &str) -> String {
    state
        .issuer
        .link_secret()
        .derive(purpose, cookie.as_bytes())
}

/// Whether a form post carries the token its page was given (the browser must send
/// the cookie back too).
pub(crate) fn form_csrf_valid(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
    presented: &str,
) -> bool {
    use subtle::ConstantTimeEq as _;
    csrf_cookie(headers).is_some_and(|c| {
        let expected = form_token(state, &c, purpose);
        bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    })
}

/// The page's form token, and the cookie to set when the browser has none yet: forms
/// shown before anyone signs in carry a token derived from a random cookie.
pub(crate) fn form_csrf(
    state: &AppState,
    headers: &HeaderMap,
    purpose: &str,
) -> (String, Option<HeaderValue>) {
    if let Some(c) = csrf_cookie(headers) {
        return (form_token(state, &c, purpose), None);
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let value = crate::jose::b64(bytes);
    let (path, secure) = crate::http::access::cookie_scope(state);
    let cookie = format!("{CSRF_COOKIE}={value}; Path={path}; HttpOnly; SameSite=Strict{secure}");
    (
        form_token(state, &value, purpose),
        HeaderValue::from_str(&cookie).ok(),
    )
}

/// An error message as a sentence on a page: capitalised, one full stop.
pub(crate) fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

/// Refuses a form post another site made: a browser names the page a form was sent
/// from in `Origin`, and ours are all under the public URL. Posts without `Origin`
/// (older browsers, scripts) pass; the forms that change state carry their own
/// secret as well (the claim or manage link, or a form token).
pub(crate) async fn cross_site(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let origin = headers.get(header::ORIGIN)?.to_str().unwrap_or("null");
    let ours = state.public_url.origin().ascii_serialization();
    if origin.eq_ignore_ascii_case(&ours) {
        return None;
    }
    Some(
        error_page(
            state,
            StatusCode::FORBIDDEN,
            "This form was sent from another site",
            "For your safety, forms on this site are only accepted from its own pages. Open the page again and send the form from there.",
        )
        .await,
    )
}
