//! OpenID4VP response bodies: a wallet's `direct_post` answer through the router and
//! through `Oid4vp::respond`, for a pending DCQL request and a pending Presentation
//! Exchange request; and a presentation alone (`verify::presentation`). The service's
//! verifier reaches no other host.
//!
//! Input: one mode byte, then
//! - mode / 2 % 3 == 0: the form body posted to the request's response URI;
//! - mode / 2 % 3 == 1: `vp_token`, NUL, `presentation_submission` (given to
//!   `respond` with the request's `state`);
//! - mode / 2 % 3 == 2: a presentation (JSON, or a JWT when not JSON).
//!
//! The low bit picks the request (DCQL or Presentation Exchange). Placeholders:
//! `REQUEST_STATE`, `REQUEST_NONCE`, `DEFINITION_ID`, `ISSUER_DID`, `ISSUER_KID`.
#![no_main]

use accolade::oid4vp::{RESPONSE_PATH, ResponseForm};
use accolade::verify::PresentationOptions;
use accolade::verify::presentation::read_presentation;
use accolade_fuzz::{app, block_on, fields, fill, offline_verifier, request, send, text, to_json};
use axum::http::Method;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let app = app();
    let rec = if mode & 1 == 0 { &app.dcql } else { &app.pe };
    let fill_in = |b: &[u8]| -> String {
        fill(&text(b))
            .replace("REQUEST_STATE", &rec.oauth_state)
            .replace("REQUEST_NONCE", &rec.nonce)
            .replace("DEFINITION_ID", &app.definition_id)
    };
    let verifier = offline_verifier();
    match mode / 2 % 3 {
        0 => {
            let path = format!("{RESPONSE_PATH}/{}", rec.tx);
            let req = request(
                Method::POST,
                &path,
                &[("content-type", "application/x-www-form-urlencoded")],
                fill_in(rest).into_bytes(),
            );
            let (status, answer) = block_on(send(&app.router, req));
            assert!(
                !status.is_server_error(),
                "{status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
        1 => {
            let parts = fields(rest, 2);
            let form = ResponseForm {
                vp_token: Some(fill_in(parts[0])),
                presentation_submission: (!parts[1].is_empty()).then(|| fill_in(parts[1])),
                state: Some(rec.oauth_state.clone()),
                error: None,
                error_description: None,
            };
            let _ = block_on(app.state.oid4vp.respond(&verifier, rec.id, &form));
        }
        _ => {
            let s = fill_in(rest);
            let v = serde_json::from_str::<Value>(&s).unwrap_or(Value::String(s));
            let _ = read_presentation(&v);
            let opts = PresentationOptions {
                challenge: Some(rec.nonce.clone()),
                domain: Some(app.state.oid4vp.client_id(rec)),
                unsigned: mode & 0x80 != 0,
                holder_binding: true,
            };
            if let Ok(report) = block_on(verifier.verify_presentation(&v, &opts)) {
                to_json(&report);
            }
        }
    }
});
