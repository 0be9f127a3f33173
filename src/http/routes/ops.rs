//! What operators and orchestrators ask: readiness and metrics.

use crate::http::views::{Readiness, ReadinessChecks};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// The Prometheus text format's content type.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /readyz`: 200 while the store answers a read and the signing key signs;
/// 503 naming what is not usable otherwise (a load balancer stops sending traffic).
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = match state.store.ping().await {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!("readiness: the store is not usable: {e}");
            format!("unusable: {e}")
        }
    };
    let keys = state.issuer.keys().current();
    let keys = match crate::jose::jws::sign_compact(keys.signing_key(), None, None, b"ready") {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!("readiness: the signing key does not sign: {e}");
            format!("unusable: {e}")
        }
    };
    let ready = store == "ok" && keys == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(Readiness {
            status: if ready { "ready" } else { "unready" },
            checks: ReadinessChecks { store, keys },
        }),
    )
        .into_response()
}

/// The metrics text, with the gauges read now.
pub async fn metrics_text(state: &AppState) -> String {
    let store_bytes = match state.store.size_on_disk().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::debug!("metrics: store size unknown: {e}");
            None
        }
    };
    crate::metrics::metrics().render(&crate::metrics::Gauges {
        store_bytes,
        refusals: crate::http::admission::refusals().snapshot(),
        uptime_seconds: crate::metrics::uptime().as_secs_f64(),
        version: crate::app::VERSION,
    })
}

/// `GET /metrics`: Prometheus text (behind the admin token on the main listener; on
/// `--metrics-listen`'s address without one).
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, METRICS_CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        metrics_text(&state).await,
    )
        .into_response()
}

/// `GET /openapi.json`: the API reference (OpenAPI 3.1) for this service's public URL.
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(crate::http::openapi::document(state.public_url.as_str())),
    )
        .into_response()
}
