//! HTTP: the router and everything that turns domain results into responses. Only this
//! module knows axum.
//!
//! `router(state)` is pure (no sockets), so tests drive it in-process.

pub mod error;
mod middleware;
pub mod pages;
mod routes;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app::AppState;
use crate::oid4vci::metadata::{AS_WELL_KNOWN, ISSUER_WELL_KNOWN, paths};

/// Default request body cap.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Body cap for the verify APIs (badges with embedded images, baked images).
pub const VERIFY_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Body cap for a batch of up to 100 badges to verify.
pub const VERIFY_BATCH_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// Body cap for batch awards (JSON or CSV).
pub const BATCH_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// Every admin route: (method, path, handler). The router is built from this table,
/// and tests walk it to prove that each one demands the admin token.
fn admin_table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    use routes::admin as a;
    use routes::catalogue as c;
    vec![
        (Method::GET, "/api/v1/issuer", get(a::get_issuer)),
        (Method::PUT, "/api/v1/issuer", put(a::put_issuer)),
        (
            Method::PUT,
            "/api/v1/issuer/image",
            put(c::put_issuer_image),
        ),
        (Method::GET, "/api/v1/badge-types", get(c::list_badge_types)),
        (
            Method::POST,
            "/api/v1/badge-types",
            post(c::create_badge_type),
        ),
        (
            Method::GET,
            "/api/v1/badge-types/{id}",
            get(c::get_badge_type),
        ),
        (
            Method::PUT,
            "/api/v1/badge-types/{id}",
            put(c::put_badge_type),
        ),
        (
            Method::DELETE,
            "/api/v1/badge-types/{id}",
            delete(c::delete_badge_type),
        ),
        (
            Method::GET,
            "/api/v1/achievements/{id}/catalogue",
            get(c::get_placement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}/catalogue",
            put(c::put_placement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}/image",
            put(c::put_achievement_image),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/hide",
            post(c::hide_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/earner-link",
            post(routes::admin::renew_earner_link),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/show",
            post(c::show_credential),
        ),
        (
            Method::POST,
            "/api/v1/achievements",
            post(a::create_achievement),
        ),
        (
            Method::GET,
            "/api/v1/achievements",
            get(a::list_achievements),
        ),
        (
            Method::GET,
            "/api/v1/achievements/{id}",
            get(a::get_achievement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}",
            put(a::update_achievement),
        ),
        (
            Method::POST,
            "/api/v1/achievements/{id}/archive",
            post(a::archive_achievement),
        ),
        (Method::POST, "/api/v1/awards", post(a::create_award)),
        (
            Method::POST,
            "/api/v1/awards/batch",
            post(a::create_award_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/api/v1/awards/{id}/reoffer",
            post(a::reoffer_award),
        ),
        (
            Method::POST,
            "/api/v1/awards/{id}/approve",
            post(a::approve_award),
        ),
        (Method::GET, "/api/v1/credentials", get(a::list_credentials)),
        (
            Method::GET,
            "/api/v1/credentials/{id}",
            get(a::get_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/revoke",
            post(a::revoke_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/suspend",
            post(a::suspend_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/unsuspend",
            post(a::unsuspend_credential),
        ),
        (
            Method::GET,
            "/api/v1/credentials/{id}/audit",
            get(a::credential_audit),
        ),
        (
            Method::POST,
            "/credentials/issue",
            post(routes::vcapi::issue),
        ),
        (
            Method::POST,
            "/api/v1/credentials/revoke",
            post(a::revoke_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::GET,
            "/api/v1/trust/issuers",
            get(routes::trust::list_entries),
        ),
        (
            Method::POST,
            "/api/v1/trust/issuers",
            post(routes::trust::create_entry),
        ),
        (
            Method::GET,
            "/api/v1/trust/issuers/{id}",
            get(routes::trust::get_entry),
        ),
        (
            Method::PUT,
            "/api/v1/trust/issuers/{id}",
            put(routes::trust::put_entry),
        ),
        (
            Method::DELETE,
            "/api/v1/trust/issuers/{id}",
            delete(routes::trust::delete_entry),
        ),
        (
            Method::POST,
            "/api/v1/trust/import",
            post(routes::trust::import_registry).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::GET,
            "/api/v1/api-keys",
            get(routes::partner::list_keys),
        ),
        (
            Method::POST,
            "/api/v1/api-keys",
            post(routes::partner::create_key),
        ),
        (
            Method::GET,
            "/api/v1/api-keys/{id}",
            get(routes::partner::get_key),
        ),
        (
            Method::PATCH,
            "/api/v1/api-keys/{id}",
            patch(routes::partner::update_key),
        ),
        (
            Method::POST,
            "/api/v1/api-keys/{id}/revoke",
            post(routes::partner::revoke_key),
        ),
    ]
}

/// The verifier API's routes: public (the verify API and the W3C VC-API), and the routes where a
/// partner may present an API key for its own rate limit and usage counts.
fn verifier_table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (
            Method::POST,
            "/api/v1/verify",
            post(routes::verify::verify_credential).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/api/v1/verify/batch",
            post(routes::verify::verify_batch)
                .layer(DefaultBodyLimit::max(VERIFY_BATCH_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/credentials/verify",
            post(routes::vcapi::verify_credential).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/presentations/verify",
            post(routes::vcapi::verify_presentation)
                .layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/api/v1/presentation-requests",
            // A request record is at most 48 KiB; so much body is plenty.
            post(routes::oid4vp::create).layer(DefaultBodyLimit::max(64 * 1024)),
        ),
        (
            Method::GET,
            "/api/v1/presentation-requests/{id}",
            get(routes::oid4vp::get),
        ),
    ]
}

/// The verifier routes as (method, path template), for tests and docs.
pub fn verifier_routes() -> Vec<(Method, &'static str)> {
    verifier_table()
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect()
}

/// The admin routes as (method, path template), for tests and docs.
pub fn admin_routes() -> Vec<(Method, &'static str)> {
    admin_table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let mut admin = Router::new();
    for (_, path, handler) in admin_table() {
        admin = admin.route(path, handler);
    }
    let admin = admin.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::require_admin,
    ));

    let did_path = if state.identity.base_path.is_empty() {
        "/.well-known/did.json".to_owned()
    } else {
        "/did.json".to_owned()
    };
    let public = Router::new()
        .route("/healthz", get(routes::public::healthz))
        .route(&did_path, get(routes::public::get_did_document))
        .route("/", get(pages::catalogue))
        .route("/favicon.ico", get(pages::favicon))
        .route("/assets/{file}", get(pages::asset))
        .route("/images/{file}", get(pages::image))
        .route("/achievements/{id}", get(pages::achievement))
        .route(
            "/achievements/{id}/image.png",
            get(pages::achievement_image),
        )
        .route("/badges/{id}", get(pages::badge))
        .route("/badges/{id}/badge.png", get(pages::badge_png))
        .route("/badges/{id}/badge.svg", get(pages::badge_svg))
        .route("/badges/{id}/small.png", get(pages::badge_small))
        .route("/badges/{id}/credential.jwt", get(pages::badge_jwt))
        .route("/badges/{id}/embed", get(pages::badge_embed))
        .route(
            "/status/{purpose}/{list}",
            get(routes::public::get_status_list),
        )
        // Draft 13 appends the well-known segment to the issuer identifier; with no
        // path in the public URL this is also the 1.0 location.
        .route(
            &format!("/.well-known/{ISSUER_WELL_KNOWN}"),
            get(routes::oid4vci::issuer_metadata),
        )
        .route(
            &format!("/.well-known/{AS_WELL_KNOWN}"),
            get(routes::oid4vci::authorization_server_metadata),
        )
        .route(
            &format!("{}/{{id}}", paths::OFFERS),
            get(routes::oid4vci::get_offer),
        )
        .route(paths::TOKEN, post(routes::oid4vci::token))
        .route(paths::NONCE, post(routes::oid4vci::nonce))
        .route(paths::CREDENTIAL, post(routes::oid4vci::credential))
        .route(paths::DEFERRED, post(routes::oid4vci::deferred))
        .route(paths::NOTIFICATION, post(routes::oid4vci::notification))
        .route("/claim/{id}", get(routes::claim::claim_page))
        .route("/claim/{id}/accept", post(routes::claim::accept))
        .route(
            "/earner/{award}/{mac}",
            get(pages::earner::manage).post(pages::earner::manage_post),
        )
        .route("/profiles/{handle}", get(pages::earner::profile))
        .route(
            "/verify",
            get(pages::verify::form_page)
                .post(pages::verify::submit)
                .layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        )
        .route("/verify/wallet", post(pages::verify::wallet_start))
        .route("/verify/wallet/{id}", get(pages::verify::wallet_page))
        .route("/claim/{id}/qr.svg", get(routes::claim::claim_qr_svg))
        .route("/claim/{id}/qr.png", get(routes::claim::claim_qr_png))
        .route(
            "/api/v1/presentation-requests/{id}/qr.svg",
            get(routes::oid4vp::qr_svg),
        )
        .route(
            "/api/v1/presentation-requests/{id}/qr.png",
            get(routes::oid4vp::qr_png),
        )
        .route(
            &format!("{}/{{tx}}", crate::oid4vp::REQUEST_PATH),
            get(routes::oid4vp::request_object_get).post(routes::oid4vp::request_object_post),
        )
        .route(
            &format!("{}/{{tx}}", crate::oid4vp::RESPONSE_PATH),
            post(routes::oid4vp::response).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        );

    let mut verifier = Router::new();
    let mut keyed = Vec::new();
    for (method, path, handler) in verifier_table() {
        verifier = verifier.route(path, handler);
        keyed.push((method, format!("{}{path}", state.identity.base_path)));
    }
    let verifier = verifier.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        middleware::partner_key,
    ));

    let app = admin
        .merge(verifier)
        .merge(public)
        .fallback(pages::not_found)
        .method_not_allowed_fallback(routes::public::method_not_allowed)
        .with_state(state.clone());

    let app = if state.identity.base_path.is_empty() {
        app
    } else {
        // OpenID4VCI 1.0 §12.2.2 and RFC 8414 §3 put the well-known segment between
        // the host and the path; draft 13 appended it (served inside `app`).
        let base = &state.identity.base_path;
        Router::new()
            .route(
                &format!("/.well-known/{ISSUER_WELL_KNOWN}{base}"),
                get(routes::oid4vci::issuer_metadata),
            )
            .route(
                &format!("/.well-known/{AS_WELL_KNOWN}{base}"),
                get(routes::oid4vci::authorization_server_metadata),
            )
            // The catalogue answers at the base with and without its trailing slash.
            .route(&format!("{base}/"), get(pages::catalogue))
            .with_state(state.clone())
            .nest(base, app)
            .fallback_service(
                Router::new()
                    .fallback(pages::not_found)
                    .with_state(state.clone()),
            )
    };

    // The layers every request passes, wrapped once around the whole router rather
    // than around each route: axum clones a route's layer stack for every request.
    // Outermost first.
    let service = tower::ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(CorsLayer::permissive().max_age(Duration::from_secs(3600)))
        .layer(axum::middleware::from_fn_with_state(
            middleware::ClientLimit {
                limit: state.rate_limit,
                keys: state.partner_keys.clone(),
                keyed: keyed.into(),
            },
            middleware::rate_limit,
        ))
        .layer(axum::middleware::from_fn(pages::page_headers))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(app);
    Router::new().fallback_service(service)
}
