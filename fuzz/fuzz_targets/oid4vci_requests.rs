//! OpenID4VCI request bodies through the service's router: the token endpoint (form
//! and JSON bodies), and the credential, deferred and notification endpoints with a
//! valid access token of an offered award.
//!
//! Input: one mode byte choosing the endpoint (mode % 5: token as a form, token as
//! JSON, credential, deferred, notification), then the body. `ISSUER_DID` and
//! `ISSUER_KID` name the fixed key's did:key.
#![no_main]

use accolade_fuzz::{app, block_on, fill, request, send, text};
use axum::http::Method;
use libfuzzer_sys::fuzz_target;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let app = app();
    let body = match std::str::from_utf8(rest) {
        Ok(s) => fill(s).into_bytes(),
        Err(_) => rest.to_vec(),
    };
    let _ = text(rest);
    let bearer = format!("Bearer {}", app.access_token);
    let req = match mode % 5 {
        0 => request(
            Method::POST,
            "/oid4vci/token",
            &[("content-type", FORM)],
            body,
        ),
        1 => request(
            Method::POST,
            "/oid4vci/token",
            &[("content-type", JSON)],
            body,
        ),
        m => {
            let path = match m {
                2 => "/oid4vci/credential",
                3 => "/oid4vci/deferred",
                _ => "/oid4vci/notification",
            };
            request(
                Method::POST,
                path,
                &[("authorization", &bearer), ("content-type", JSON)],
                body,
            )
        }
    };
    let (status, answer) = block_on(send(&app.router, req));
    // Wallets read OAuth-shaped JSON errors; a server error would be a bug.
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        String::from_utf8_lossy(&answer)
    );
});
