//! CSV award uploads: `POST /api/v1/awards/batch?dry_run=true` with a `text/csv` body
//! (what the staff console's CSV upload sends), through the service's router. A dry
//! run checks every row and awards nothing.
//!
//! Input: one mode byte choosing the default delivery (none, direct, offer, email,
//! or an unknown one), then the CSV. `ACHIEVEMENT_ID` names an achievement that exists.
#![no_main]

use accolade_fuzz::{ADMIN_TOKEN, app, block_on, request, send};
use axum::http::Method;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let app = app();
    let body = match std::str::from_utf8(rest) {
        Ok(s) => s
            .replace("ACHIEVEMENT_ID", &app.achievement_id)
            .into_bytes(),
        Err(_) => rest.to_vec(),
    };
    let path = match mode % 5 {
        0 => "/api/v1/awards/batch?dry_run=true",
        1 => "/api/v1/awards/batch?dry_run=true&delivery=direct",
        2 => "/api/v1/awards/batch?dry_run=true&delivery=offer",
        3 => "/api/v1/awards/batch?dry_run=true&delivery=email",
        _ => "/api/v1/awards/batch?dry_run=true&delivery=carrier-pigeon",
    };
    let auth = format!("Bearer {ADMIN_TOKEN}");
    let req = request(
        Method::POST,
        path,
        &[("authorization", &auth), ("content-type", "text/csv")],
        body,
    );
    let (status, answer) = block_on(send(&app.router, req));
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(&answer)
    );
});
