//! HTTP: the router and everything that turns domain results into responses. Only this
//! module knows axum.
//!
//! `router(state)` is pure (no sockets), so tests drive it in-process.

pub mod access;
pub mod admission;
pub mod cors;
pub mod error;
mod middleware;
pub mod observe;
pub mod pages;
mod routes;
pub mod server;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use tower_http::trace::TraceLayer;

pub use access::Rule;
pub use error::ApiError;

use crate::records::Role;

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

/// Every admin route: (method, path, rule, handler). The router is built from this
/// table, every route behind [`access::authorize`] with its rule; tests walk it to
/// prove that each one demands authentication and the role its rule names.
fn admin_table() -> Vec<(Method, &'static str, Rule, MethodRouter<AppState>)> {
    use Role::{Issuer, Owner, Viewer};
    use routes::admin as a;
    use routes::catalogue as c;
    use routes::staff as s;
    let r = Rule::new;
    vec![
        (
            Method::GET,
            "/api/v1/export",
            r(Owner, "store.export"),
            get(a::export),
        ),
        (
            Method::GET,
            "/api/v1/issuer",
            r(Viewer, "issuer.read"),
            get(a::get_issuer),
        ),
        (
            Method::GET,
            "/metrics",
            r(Viewer, "metrics.read"),
            get(routes::ops::metrics),
        ),
        (
            Method::PUT,
            "/api/v1/issuer",
            r(Owner, "issuer.update"),
            put(a::put_issuer),
        ),
        (
            Method::PUT,
            "/api/v1/issuer/image",
            r(Owner, "issuer.image"),
            put(c::put_issuer_image),
        ),
        (
            Method::GET,
            "/api/v1/badge-types",
            r(Viewer, "badge_type.list"),
            get(c::list_badge_types),
        ),
        (
            Method::POST,
            "/api/v1/badge-types",
            r(Issuer, "badge_type.create"),
            post(c::create_badge_type),
        ),
        (
            Method::GET,
            "/api/v1/badge-types/{id}",
            r(Viewer, "badge_type.read"),
            get(c::get_badge_type),
        ),
        (
            Method::PUT,
            "/api/v1/badge-types/{id}",
            r(Issuer, "badge_type.update"),
            put(c::put_badge_type),
        ),
        (
            Method::DELETE,
            "/api/v1/badge-types/{id}",
            r(Issuer, "badge_type.delete"),
            delete(c::delete_badge_type),
        ),
        (
            Method::GET,
            "/api/v1/achievements/{id}/catalogue",
            r(Viewer, "achievement.catalogue_read"),
            get(c::get_placement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}/catalogue",
            r(Issuer, "achievement.catalogue"),
            put(c::put_placement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}/image",
            r(Issuer, "achievement.image"),
            put(c::put_achievement_image),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/hide",
            r(Issuer, "credential.hide"),
            post(c::hide_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/earner-link",
            r(Issuer, "credential.earner_link"),
            post(routes::admin::renew_earner_link),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/show",
            r(Issuer, "credential.show"),
            post(c::show_credential),
        ),
        (
            Method::POST,
            "/api/v1/achievements",
            r(Issuer, "achievement.create"),
            post(a::create_achievement),
        ),
        (
            Method::GET,
            "/api/v1/achievements",
            r(Viewer, "achievement.list"),
            get(a::list_achievements),
        ),
        (
            Method::GET,
            "/api/v1/achievements/{id}",
            r(Viewer, "achievement.read"),
            get(a::get_achievement),
        ),
        (
            Method::PUT,
            "/api/v1/achievements/{id}",
            r(Issuer, "achievement.update"),
            put(a::update_achievement),
        ),
        (
            Method::POST,
            "/api/v1/achievements/{id}/endorsements",
            r(Issuer, "achievement.endorse"),
            post(routes::endorse::attach_endorsement),
        ),
        (
            Method::POST,
            "/api/v1/clr",
            r(Issuer, "clr.issue"),
            post(routes::endorse::issue_clr),
        ),
        (
            Method::POST,
            "/api/v1/endorsements",
            r(Issuer, "endorsement.issue"),
            post(routes::endorse::issue_endorsement),
        ),
        (
            Method::POST,
            "/api/v1/achievements/{id}/archive",
            r(Issuer, "achievement.archive"),
            post(a::archive_achievement),
        ),
        (
            Method::POST,
            "/api/v1/awards",
            r(Issuer, "award.create"),
            post(a::create_award),
        ),
        (
            Method::POST,
            "/api/v1/awards/batch",
            r(Issuer, "award.batch"),
            post(a::create_award_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/api/v1/awards/{id}/reoffer",
            r(Issuer, "award.reoffer"),
            post(a::reoffer_award),
        ),
        (
            Method::POST,
            "/api/v1/awards/{id}/approve",
            r(Issuer, "award.approve"),
            post(a::approve_award),
        ),
        (
            Method::GET,
            "/api/v1/credentials",
            r(Viewer, "credential.list"),
            get(a::list_credentials),
        ),
        (
            Method::GET,
            "/api/v1/credentials/{id}",
            r(Viewer, "credential.read"),
            get(a::get_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/revoke",
            r(Issuer, "credential.revoke"),
            post(a::revoke_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/suspend",
            r(Issuer, "credential.suspend"),
            post(a::suspend_credential),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/unsuspend",
            r(Issuer, "credential.unsuspend"),
            post(a::unsuspend_credential),
        ),
        (
            Method::GET,
            "/api/v1/credentials/{id}/audit",
            r(Viewer, "credential.audit"),
            get(a::credential_audit),
        ),
        (
            Method::POST,
            "/credentials/issue",
            r(Issuer, "vcapi.issue"),
            post(routes::vcapi::issue),
        ),
        (
            Method::POST,
            "/api/v1/credentials/revoke",
            r(Issuer, "credential.revoke_batch"),
            post(a::revoke_batch).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::GET,
            "/api/v1/trust/issuers",
            r(Viewer, "trust.list"),
            get(routes::trust::list_entries),
        ),
        (
            Method::POST,
            "/api/v1/trust/issuers",
            r(Owner, "trust.create"),
            post(routes::trust::create_entry),
        ),
        (
            Method::GET,
            "/api/v1/trust/issuers/{id}",
            r(Viewer, "trust.read"),
            get(routes::trust::get_entry),
        ),
        (
            Method::PUT,
            "/api/v1/trust/issuers/{id}",
            r(Owner, "trust.update"),
            put(routes::trust::put_entry),
        ),
        (
            Method::DELETE,
            "/api/v1/trust/issuers/{id}",
            r(Owner, "trust.delete"),
            delete(routes::trust::delete_entry),
        ),
        (
            Method::POST,
            "/api/v1/trust/import",
            r(Owner, "trust.import"),
            post(routes::trust::import_registry).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::GET,
            "/api/v1/api-keys",
            r(Viewer, "api_key.list"),
            get(routes::partner::list_keys),
        ),
        (
            Method::POST,
            "/api/v1/api-keys",
            r(Owner, "api_key.create"),
            post(routes::partner::create_key),
        ),
        (
            Method::GET,
            "/api/v1/api-keys/{id}",
            r(Viewer, "api_key.read"),
            get(routes::partner::get_key),
        ),
        (
            Method::PATCH,
            "/api/v1/api-keys/{id}",
            r(Owner, "api_key.update"),
            patch(routes::partner::update_key),
        ),
        (
            Method::POST,
            "/api/v1/api-keys/{id}/revoke",
            r(Owner, "api_key.revoke"),
            post(routes::partner::revoke_key),
        ),
        (Method::GET, "/api/v1/me", Rule::own("me.read"), get(s::me)),
        (
            Method::POST,
            "/api/v1/me/password",
            Rule::own("me.password"),
            post(s::change_password),
        ),
        (
            Method::GET,
            "/api/v1/me/tokens",
            Rule::own("me.token_list"),
            get(s::list_tokens),
        ),
        (
            Method::POST,
            "/api/v1/me/tokens",
            Rule::own("me.token_create"),
            post(s::create_token),
        ),
        (
            Method::DELETE,
            "/api/v1/me/tokens/{id}",
            Rule::own("me.token_revoke"),
            delete(s::revoke_token),
        ),
        (
            Method::POST,
            "/api/v1/me/totp",
            Rule::own("me.totp_begin"),
            post(s::totp_begin),
        ),
        (
            Method::POST,
            "/api/v1/me/totp/confirm",
            Rule::own("me.totp_confirm"),
            post(s::totp_confirm),
        ),
        (
            Method::DELETE,
            "/api/v1/me/totp",
            Rule::own("me.totp_disable"),
            delete(s::totp_disable),
        ),
        (
            Method::GET,
            "/api/v1/staff",
            r(Viewer, "staff.list"),
            get(s::list_staff),
        ),
        (
            Method::POST,
            "/api/v1/staff",
            r(Owner, "staff.create"),
            post(s::add_staff),
        ),
        (
            Method::GET,
            "/api/v1/staff/{id}",
            r(Viewer, "staff.read"),
            get(s::get_staff),
        ),
        (
            Method::PATCH,
            "/api/v1/staff/{id}",
            r(Owner, "staff.update"),
            patch(s::update_staff),
        ),
        (
            Method::DELETE,
            "/api/v1/staff/{id}",
            r(Owner, "staff.delete"),
            delete(s::remove_staff),
        ),
        (
            Method::POST,
            "/api/v1/staff/{id}/password-reset",
            r(Owner, "staff.password_reset"),
            post(s::reset_staff),
        ),
        (
            Method::POST,
            "/api/v1/staff/{id}/totp-reset",
            r(Owner, "staff.totp_reset"),
            post(s::reset_staff_totp),
        ),
        (
            Method::GET,
            "/api/v1/settings/security",
            r(Viewer, "settings.security_read"),
            get(s::get_security),
        ),
        (
            Method::PUT,
            "/api/v1/settings/security",
            r(Owner, "settings.security"),
            put(s::put_security),
        ),
        (
            Method::GET,
            "/api/v1/audit",
            r(Viewer, "audit.list"),
            get(s::audit),
        ),
        (
            Method::GET,
            "/api/v1/mail",
            r(Viewer, "mail.read"),
            get(s::mail_status),
        ),
        (
            Method::PUT,
            "/api/v1/mail/settings",
            r(Owner, "mail.settings"),
            put(s::put_mail_settings),
        ),
        (
            Method::GET,
            "/api/v1/mail/templates",
            r(Viewer, "mail.template_list"),
            get(s::list_templates),
        ),
        (
            Method::GET,
            "/api/v1/mail/templates/{id}",
            r(Viewer, "mail.template_read"),
            get(s::get_template),
        ),
        (
            Method::PUT,
            "/api/v1/mail/templates/{id}",
            r(Owner, "mail.template_update"),
            put(s::put_template),
        ),
        (
            Method::DELETE,
            "/api/v1/mail/templates/{id}",
            r(Owner, "mail.template_reset"),
            delete(s::delete_template),
        ),
        (
            Method::POST,
            "/api/v1/mail/templates/{id}/preview",
            r(Owner, "mail.template_preview"),
            post(s::preview_template),
        ),
        (
            Method::POST,
            "/api/v1/mail/test",
            r(Owner, "mail.test"),
            post(s::send_test),
        ),
        (
            Method::GET,
            "/api/v1/mail/outbox/{id}",
            r(Viewer, "mail.outbox_read"),
            get(s::outbox_message),
        ),
        (
            Method::POST,
            "/api/v1/credentials/{id}/mail",
            r(Issuer, "credential.mail"),
            post(a::credential_mail),
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
    admin_table()
        .into_iter()
        .map(|(m, p, _, _)| (m, p))
        .collect()
}

/// The admin routes with the role each needs, for tests and docs.
pub fn admin_rules() -> Vec<(Method, &'static str, Rule)> {
    admin_table()
        .into_iter()
        .map(|(m, p, r, _)| (m, p, r))
        .collect()
}

/// The admin routes behind their access rules, not yet given the state.
fn admin_routes_with_rules(state: &AppState) -> Router<AppState> {
    let mut admin = Router::new();
    let mut rules = std::collections::HashMap::new();
    for (method, path, rule, handler) in admin_table() {
        admin = admin.route(path, handler);
        rules.insert(
            (method, format!("{}{path}", state.identity.base_path)),
            rule,
        );
    }
    admin.route_layer(axum::middleware::from_fn_with_state(
        access::Access {
            state: state.clone(),
            rules: std::sync::Arc::new(rules),
        },
        access::authorize,
    ))
}

/// The admin API alone, under the public URL's path: what the staff console calls
/// in-process, so that every console action passes the same access rules, checks and
/// audit trail as the same call over HTTP.
pub(crate) fn admin_api(state: &AppState) -> Router {
    let admin = admin_routes_with_rules(state).with_state(state.clone());
    if state.identity.base_path.is_empty() {
        admin
    } else {
        Router::new().nest(&state.identity.base_path, admin)
    }
}

/// The staff console's pages (`pages::console`).
fn console_routes() -> Router<AppState> {
    use pages::console::{awarding as w, programme as p, settings as s};
    // Image uploads (1 MiB) and CSV files travel in multipart forms.
    let upload = || DefaultBodyLimit::max(2 * BODY_LIMIT);
    Router::new()
        .route("/admin", get(p::dashboard))
        .route("/admin/profile", get(p::profile).post(p::save_profile))
        .route("/admin/profile/logo", post(p::save_logo).layer(upload()))
        .route("/admin/badge-types", post(p::create_badge_type))
        .route("/admin/badge-types.csv", get(p::badge_types_csv))
        .route("/admin/badge-types/{id}", post(p::save_badge_type))
        .route("/admin/badge-types/{id}/delete", post(p::delete_badge_type))
        .route(
            "/admin/achievements",
            get(p::achievements)
                .post(p::create_achievement)
                .layer(upload()),
        )
        .route("/admin/achievements.csv", get(p::achievements_csv))
        .route("/admin/achievements/new", get(p::new_achievement))
        .route(
            "/admin/achievements/{id}",
            get(p::achievement)
                .post(p::update_achievement)
                .layer(upload()),
        )
        .route(
            "/admin/achievements/{id}/archive",
            post(p::archive_achievement),
        )
        .route("/admin/award", get(w::award_page).post(w::award_one))
        .route("/admin/award/template.csv", get(w::csv_template))
        .route(
            "/admin/award/csv",
            post(w::csv_check).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/admin/award/csv/{job}", get(w::csv_job))
        .route("/admin/award/csv/{job}/progress", get(w::csv_progress))
        .route("/admin/award/csv/{job}/start", post(w::csv_start))
        .route("/admin/award/results/{file}", get(w::csv_results))
        .route("/admin/credentials", get(w::credentials))
        .route("/admin/credentials.csv", get(w::credentials_csv))
        .route("/admin/credentials/{id}", get(w::credential))
        .route(
            "/admin/credentials/{id}/{action}",
            post(w::credential_action),
        )
        .route(
            "/admin/presentations",
            get(w::presentations).post(w::create_presentation),
        )
        .route("/admin/presentations/{id}", get(w::presentation))
        .route("/admin/trust", get(s::trust).post(s::add_trust))
        .route("/admin/trust.csv", get(s::trust_csv))
        .route(
            "/admin/trust/import",
            post(s::import_trust).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route("/admin/trust/{id}/status", post(s::trust_status))
        .route("/admin/trust/{id}/delete", post(s::delete_trust))
        .route("/admin/api-keys", get(s::api_keys).post(s::create_api_key))
        .route("/admin/api-keys.csv", get(s::api_keys_csv))
        .route("/admin/api-keys/{id}/revoke", post(s::revoke_api_key))
        .route("/admin/staff", get(s::staff).post(s::invite))
        .route("/admin/staff.csv", get(s::staff_csv))
        .route("/admin/staff/security", post(s::security))
        .route("/admin/staff/{id}/{action}", post(s::member_action))
        .route("/admin/mail", get(s::mail))
        .route("/admin/mail/settings", post(s::mail_settings))
        .route("/admin/mail/test", post(s::mail_test))
        .route("/admin/mail/templates/{*rest}", post(s::template))
        .route("/admin/audit", get(s::audit))
        .route("/admin/audit.csv", get(s::audit_csv))
        .route("/admin/account", get(s::account))
        .route("/admin/account/password", post(s::change_password))
        .route("/admin/account/totp", post(s::totp_begin))
        .route("/admin/account/totp/{what}", post(s::totp))
        .route("/admin/tokens", post(s::create_token))
        .route("/admin/tokens/{id}/revoke", post(s::revoke_token))
}

/// The whole application.
/// What `--metrics-listen` serves: `GET /metrics`, without the admin token.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(routes::ops::metrics))
        .with_state(state)
}

pub fn router(state: AppState) -> Router {
    let admin = admin_routes_with_rules(&state);

    let did_path = if state.identity.base_path.is_empty() {
        "/.well-known/did.json".to_owned()
    } else {
        "/did.json".to_owned()
    };
    let public = Router::new()
        .route("/healthz", get(routes::public::healthz))
        .route("/readyz", get(routes::ops::readyz))
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
        .route("/badges/{id}/credential.json", get(pages::badge_json_ld))
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
        .route("/profiles/{handle}/clr", get(pages::earner::profile_clr))
        .route("/earner/{award}/{mac}/clr", get(pages::earner::manage_clr))
        .route("/api/v1/auth/login", post(routes::staff::login))
        .route("/api/v1/auth/logout", post(routes::staff::logout))
        .route(
            "/api/v1/auth/password-reset",
            post(routes::staff::request_reset),
        )
        .route(
            "/api/v1/auth/links/{token}",
            get(routes::staff::link_info).post(routes::staff::complete_link),
        )
        .route(
            "/admin/login",
            get(pages::admin::login_form).post(pages::admin::login),
        )
        .route("/admin/logout", post(pages::admin::logout))
        .merge(console_routes())
        .route(
            "/admin/invitation/{token}",
            get(pages::admin::invitation).post(pages::admin::invitation_post),
        )
        .route(
            "/admin/reset/{token}",
            get(pages::admin::reset).post(pages::admin::reset_post),
        )
        .route(
            "/admin/forgot",
            get(pages::admin::forgot).post(pages::admin::forgot_post),
        )
        .route(
            "/mail/unsubscribe/{award}/{mac}",
            get(pages::admin::unsubscribe_page).post(pages::admin::unsubscribe),
        )
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
        .route_layer(axum::middleware::from_fn(observe::label_route))
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
        // First, so that the trace, the limits and every handler see the client
        // behind a trusted proxy.
        .layer(axum::middleware::from_fn_with_state(
            state.trusted_proxies.clone(),
            middleware::client_address,
        ))
        .layer(axum::middleware::from_fn(observe::observe))
        .layer(axum::middleware::from_fn(admission::count_refusals))
        .layer(TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn_with_state(
            cors::Cors {
                base_path: state.identity.base_path.clone(),
            },
            cors::cors,
        ))
        .layer(axum::middleware::from_fn_with_state(
            middleware::ClientLimit {
                limit: state.rate_limit,
                shared: state.buckets.clone(),
                keys: state.partner_keys.clone(),
                keyed: keyed.into(),
            },
            middleware::rate_limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            admission::Admission::new(state.clone()),
            admission::admit,
        ))
        .layer(axum::middleware::from_fn(pages::page_headers))
        .layer(axum::middleware::from_fn(middleware::json_errors))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(app);
    Router::new().fallback_service(service)
}
