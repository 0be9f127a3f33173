//! HTTP: the router and everything that turns domain results into responses. Only this
//! module knows axum.
//!
//! `router(state)` is pure (no sockets), so tests drive it in-process.

pub mod error;
mod middleware;
mod routes;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app::AppState;

/// Default request body cap.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Body cap for the verify API (badges with embedded images, baked images later).
pub const VERIFY_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Body cap for batch awards (JSON or CSV).
pub const BATCH_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let admin = Router::new()
        .route(
            "/api/v1/issuer",
            get(routes::admin::get_issuer).put(routes::admin::put_issuer),
        )
        .route(
            "/api/v1/achievements",
            post(routes::admin::create_achievement).get(routes::admin::list_achievements),
        )
        .route(
            "/api/v1/achievements/{id}",
            get(routes::admin::get_achievement).put(routes::admin::update_achievement),
        )
        .route(
            "/api/v1/achievements/{id}/archive",
            post(routes::admin::archive_achievement),
        )
        .route("/api/v1/awards", post(routes::admin::create_award))
        .route(
            "/api/v1/awards/batch",
            post(routes::admin::create_award_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/api/v1/credentials", get(routes::admin::list_credentials))
        .route(
            "/api/v1/credentials/{id}",
            get(routes::admin::get_credential),
        )
        .route_layer(axum::middleware::from_fn_with_state(
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
        .route(
            "/achievements/{id}",
            get(routes::public::get_public_achievement),
        )
        .route(
            "/api/v1/verify",
            post(routes::verify::verify_credential).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        );

    let app = admin
        .merge(public)
        .fallback(routes::public::not_found)
        .method_not_allowed_fallback(routes::public::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::rate_limit,
        ))
        .layer(CorsLayer::permissive().max_age(Duration::from_secs(3600)))
        .layer(TraceLayer::new_for_http())
        .with_state(state.clone());

    if state.identity.base_path.is_empty() {
        app
    } else {
        Router::new()
            .nest(&state.identity.base_path, app)
            .fallback(routes::public::not_found)
    }
}
