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
pub mod openapi;
pub mod pages;
mod routes;
pub mod server;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

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
fn console_table() -> Vec<(Method, String, MethodRouter<AppState>)> {
    use pages::console::{awarding as w, programme as p, settings as s};
    // Image uploads (1 MiB) and CSV files travel in multipart forms.
    let upload = || DefaultBodyLimit::max(2 * BODY_LIMIT);
    vec![
        (Method::GET, "/admin".into(), get(p::dashboard)),
        (Method::GET, "/admin/profile".into(), get(p::profile)),
        (Method::POST, "/admin/profile".into(), post(p::save_profile)),
        (
            Method::POST,
            "/admin/profile/logo".into(),
            post(p::save_logo).layer(upload()),
        ),
        (
            Method::POST,
            "/admin/badge-types".into(),
            post(p::create_badge_type),
        ),
        (
            Method::GET,
            "/admin/badge-types.csv".into(),
            get(p::badge_types_csv),
        ),
        (
            Method::POST,
            "/admin/badge-types/{id}".into(),
            post(p::save_badge_type),
        ),
        (
            Method::POST,
            "/admin/badge-types/{id}/delete".into(),
            post(p::delete_badge_type),
        ),
        (
            Method::GET,
            "/admin/achievements".into(),
            get(p::achievements).layer(upload()),
        ),
        (
            Method::POST,
            "/admin/achievements".into(),
            post(p::create_achievement).layer(upload()),
        ),
        (
            Method::GET,
            "/admin/achievements.csv".into(),
            get(p::achievements_csv),
        ),
        (
            Method::GET,
            "/admin/achievements/new".into(),
            get(p::new_achievement),
        ),
        (
            Method::GET,
            "/admin/achievements/{id}".into(),
            get(p::achievement).layer(upload()),
        ),
        (
            Method::POST,
            "/admin/achievements/{id}".into(),
            post(p::update_achievement).layer(upload()),
        ),
        (
            Method::POST,
            "/admin/achievements/{id}/archive".into(),
            post(p::archive_achievement),
        ),
        (Method::GET, "/admin/award".into(), get(w::award_page)),
        (Method::POST, "/admin/award".into(), post(w::award_one)),
        (
            Method::GET,
            "/admin/award/template.csv".into(),
            get(w::csv_template),
        ),
        (
            Method::POST,
            "/admin/award/csv".into(),
            post(w::csv_check).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::GET,
            "/admin/award/csv/{job}".into(),
            get(w::csv_job),
        ),
        (
            Method::GET,
            "/admin/award/csv/{job}/progress".into(),
            get(w::csv_progress),
        ),
        (
            Method::POST,
            "/admin/award/csv/{job}/start".into(),
            post(w::csv_start),
        ),
        (
            Method::GET,
            "/admin/award/results/{file}".into(),
            get(w::csv_results),
        ),
        (
            Method::GET,
            "/admin/credentials".into(),
            get(w::credentials),
        ),
        (
            Method::GET,
            "/admin/credentials.csv".into(),
            get(w::credentials_csv),
        ),
        (
            Method::GET,
            "/admin/credentials/{id}".into(),
            get(w::credential),
        ),
        (
            Method::POST,
            "/admin/credentials/{id}/{action}".into(),
            post(w::credential_action),
        ),
        (
            Method::GET,
            "/admin/presentations".into(),
            get(w::presentations),
        ),
        (
            Method::POST,
            "/admin/presentations".into(),
            post(w::create_presentation),
        ),
        (
            Method::GET,
            "/admin/presentations/{id}".into(),
            get(w::presentation),
        ),
        (Method::GET, "/admin/trust".into(), get(s::trust)),
        (Method::POST, "/admin/trust".into(), post(s::add_trust)),
        (Method::GET, "/admin/trust.csv".into(), get(s::trust_csv)),
        (
            Method::POST,
            "/admin/trust/import".into(),
            post(s::import_trust).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/admin/trust/{id}/status".into(),
            post(s::trust_status),
        ),
        (
            Method::POST,
            "/admin/trust/{id}/delete".into(),
            post(s::delete_trust),
        ),
        (Method::GET, "/admin/api-keys".into(), get(s::api_keys)),
        (
            Method::POST,
            "/admin/api-keys".into(),
            post(s::create_api_key),
        ),
        (
            Method::GET,
            "/admin/api-keys.csv".into(),
            get(s::api_keys_csv),
        ),
        (
            Method::POST,
            "/admin/api-keys/{id}/revoke".into(),
            post(s::revoke_api_key),
        ),
        (Method::GET, "/admin/staff".into(), get(s::staff)),
        (Method::POST, "/admin/staff".into(), post(s::invite)),
        (Method::GET, "/admin/staff.csv".into(), get(s::staff_csv)),
        (
            Method::POST,
            "/admin/staff/security".into(),
            post(s::security),
        ),
        (
            Method::POST,
            "/admin/staff/{id}/{action}".into(),
            post(s::member_action),
        ),
        (Method::GET, "/admin/mail".into(), get(s::mail)),
        (
            Method::POST,
            "/admin/mail/settings".into(),
            post(s::mail_settings),
        ),
        (Method::POST, "/admin/mail/test".into(), post(s::mail_test)),
        (
            Method::POST,
            "/admin/mail/templates/{*rest}".into(),
            post(s::template),
        ),
        (Method::GET, "/admin/audit".into(), get(s::audit)),
        (Method::GET, "/admin/audit.csv".into(), get(s::audit_csv)),
        (Method::GET, "/admin/account".into(), get(s::account)),
        (
            Method::POST,
            "/admin/account/password".into(),
            post(s::change_password),
        ),
        (
            Method::POST,
            "/admin/account/totp".into(),
            post(s::totp_begin),
        ),
        (
            Method::POST,
            "/admin/account/totp/{what}".into(),
            post(s::totp),
        ),
        (Method::POST, "/admin/tokens".into(), post(s::create_token)),
        (
            Method::POST,
            "/admin/tokens/{id}/revoke".into(),
            post(s::revoke_token),
        ),
    ]
}

/// The public routes (pages, well-known documents, OpenID4VCI and OpenID4VP, sign-in)
/// as (method, path, handler); `did_path` is where the DID document is served.
fn public_table(did_path: &str) -> Vec<(Method, String, MethodRouter<AppState>)> {
    vec![
        (
            Method::GET,
            "/openapi.json".into(),
            get(routes::ops::openapi),
        ),
        (Method::GET, "/healthz".into(), get(routes::public::healthz)),
        (Method::GET, "/readyz".into(), get(routes::ops::readyz)),
        (
            Method::GET,
            did_path.to_owned(),
            get(routes::public::get_did_document),
        ),
        (Method::GET, "/".into(), get(pages::catalogue)),
        (Method::GET, "/favicon.ico".into(), get(pages::favicon)),
        (Method::GET, "/assets/{file}".into(), get(pages::asset)),
        (Method::GET, "/images/{file}".into(), get(pages::image)),
        (
            Method::GET,
            "/achievements/{id}".into(),
            get(pages::achievement),
        ),
        (
            Method::GET,
            "/achievements/{id}/image.png".into(),
            get(pages::achievement_image),
        ),
        (Method::GET, "/badges/{id}".into(), get(pages::badge)),
        (
            Method::GET,
            "/badges/{id}/badge.png".into(),
            get(pages::badge_png),
        ),
        (
            Method::GET,
            "/badges/{id}/badge.svg".into(),
            get(pages::badge_svg),
        ),
        (
            Method::GET,
            "/badges/{id}/small.png".into(),
            get(pages::badge_small),
        ),
        (
            Method::GET,
            "/badges/{id}/credential.jwt".into(),
            get(pages::badge_jwt),
        ),
        (
            Method::GET,
            "/badges/{id}/credential.json".into(),
            get(pages::badge_json_ld),
        ),
        (
            Method::GET,
            "/badges/{id}/embed".into(),
            get(pages::badge_embed),
        ),
        (
            Method::GET,
            "/status/{purpose}/{list}".into(),
            get(routes::public::get_status_list),
        ),
        // Draft 13 appends the well-known segment to the issuer identifier; with no
        // path in the public URL this is also the 1.0 location.
        (
            Method::GET,
            format!("/.well-known/{ISSUER_WELL_KNOWN}"),
            get(routes::oid4vci::issuer_metadata),
        ),
        (
            Method::GET,
            format!("/.well-known/{AS_WELL_KNOWN}"),
            get(routes::oid4vci::authorization_server_metadata),
        ),
        (
            Method::GET,
            format!("{}/{{id}}", paths::OFFERS),
            get(routes::oid4vci::get_offer),
        ),
        (
            Method::POST,
            paths::TOKEN.into(),
            post(routes::oid4vci::token),
        ),
        (
            Method::POST,
            paths::NONCE.into(),
            post(routes::oid4vci::nonce),
        ),
        (
            Method::POST,
            paths::CREDENTIAL.into(),
            post(routes::oid4vci::credential),
        ),
        (
            Method::POST,
            paths::DEFERRED.into(),
            post(routes::oid4vci::deferred),
        ),
        (
            Method::POST,
            paths::NOTIFICATION.into(),
            post(routes::oid4vci::notification),
        ),
        (
            Method::GET,
            "/claim/{id}".into(),
            get(routes::claim::claim_page),
        ),
        (
            Method::POST,
            "/claim/{id}/accept".into(),
            post(routes::claim::accept),
        ),
        (
            Method::GET,
            "/earner/{award}/{mac}".into(),
            get(pages::earner::manage),
        ),
        (
            Method::POST,
            "/earner/{award}/{mac}".into(),
            post(pages::earner::manage_post),
        ),
        (
            Method::GET,
            "/profiles/{handle}".into(),
            get(pages::earner::profile),
        ),
        (
            Method::GET,
            "/profiles/{handle}/clr".into(),
            get(pages::earner::profile_clr),
        ),
        (
            Method::GET,
            "/earner/{award}/{mac}/clr".into(),
            get(pages::earner::manage_clr),
        ),
        (
            Method::POST,
            "/api/v1/auth/login".into(),
            post(routes::staff::login),
        ),
        (
            Method::POST,
            "/api/v1/auth/logout".into(),
            post(routes::staff::logout),
        ),
        (
            Method::POST,
            "/api/v1/auth/password-reset".into(),
            post(routes::staff::request_reset),
        ),
        (
            Method::GET,
            "/api/v1/auth/links/{token}".into(),
            get(routes::staff::link_info),
        ),
        (
            Method::POST,
            "/api/v1/auth/links/{token}".into(),
            post(routes::staff::complete_link),
        ),
        (
            Method::GET,
            "/admin/login".into(),
            get(pages::admin::login_form),
        ),
        (
            Method::POST,
            "/admin/login".into(),
            post(pages::admin::login),
        ),
        (
            Method::POST,
            "/admin/logout".into(),
            post(pages::admin::logout),
        ),
        (
            Method::GET,
            "/admin/invitation/{token}".into(),
            get(pages::admin::invitation),
        ),
        (
            Method::POST,
            "/admin/invitation/{token}".into(),
            post(pages::admin::invitation_post),
        ),
        (
            Method::GET,
            "/admin/reset/{token}".into(),
            get(pages::admin::reset),
        ),
        (
            Method::POST,
            "/admin/reset/{token}".into(),
            post(pages::admin::reset_post),
        ),
        (
            Method::GET,
            "/admin/forgot".into(),
            get(pages::admin::forgot),
        ),
        (
            Method::POST,
            "/admin/forgot".into(),
            post(pages::admin::forgot_post),
        ),
        (
            Method::GET,
            "/mail/unsubscribe/{award}/{mac}".into(),
            get(pages::admin::unsubscribe_page),
        ),
        (
            Method::POST,
            "/mail/unsubscribe/{award}/{mac}".into(),
            post(pages::admin::unsubscribe),
        ),
        (
            Method::GET,
            "/verify".into(),
            get(pages::verify::form_page).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/verify".into(),
            post(pages::verify::submit).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
        (
            Method::POST,
            "/verify/wallet".into(),
            post(pages::verify::wallet_start),
        ),
        (
            Method::GET,
            "/verify/wallet/{id}".into(),
            get(pages::verify::wallet_page),
        ),
        (
            Method::GET,
            "/claim/{id}/qr.svg".into(),
            get(routes::claim::claim_qr_svg),
        ),
        (
            Method::GET,
            "/claim/{id}/qr.png".into(),
            get(routes::claim::claim_qr_png),
        ),
        (
            Method::GET,
            "/api/v1/presentation-requests/{id}/qr.svg".into(),
            get(routes::oid4vp::qr_svg),
        ),
        (
            Method::GET,
            "/api/v1/presentation-requests/{id}/qr.png".into(),
            get(routes::oid4vp::qr_png),
        ),
        (
            Method::GET,
            format!("{}/{{tx}}", crate::oid4vp::REQUEST_PATH),
            get(routes::oid4vp::request_object_get),
        ),
        (
            Method::POST,
            format!("{}/{{tx}}", crate::oid4vp::REQUEST_PATH),
            post(routes::oid4vp::request_object_post),
        ),
        (
            Method::POST,
            format!("{}/{{tx}}", crate::oid4vp::RESPONSE_PATH),
            post(routes::oid4vp::response).layer(DefaultBodyLimit::max(VERIFY_BODY_LIMIT)),
        ),
    ]
}

/// Every route the router serves, as (method, path template), the paths as they are
/// with no path in the public URL: what the API reference must describe.
pub fn all_routes() -> Vec<(Method, String)> {
    let mut all: Vec<(Method, String)> = admin_routes()
        .into_iter()
        .chain(verifier_routes())
        .map(|(m, p)| (m, p.to_owned()))
        .collect();
    all.extend(
        public_table("/.well-known/did.json")
            .into_iter()
            .chain(console_table())
            .map(|(m, p, _)| (m, p)),
    );
    all
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
    let mut public = Router::new();
    for (_, path, handler) in public_table(&did_path).into_iter().chain(console_table()) {
        public = public.route(&path, handler);
    }

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

    // The steps every request passes, in one layer around the whole router rather
    // than around each route: axum clones a route's layer stack for every request.
    let edge = observe::Edge::new(
        state.trusted_proxies.clone(),
        cors::Cors {
            base_path: state.identity.base_path.clone(),
        },
        middleware::ClientLimit {
            limit: state.rate_limit,
            shared: state.buckets.clone(),
            keys: state.partner_keys.clone(),
            keyed: keyed.into(),
        },
        admission::Admission::new(state.clone()),
    );
    let service = tower::ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(edge, observe::edge))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .service(app);
    Router::new().fallback_service(service)
}
