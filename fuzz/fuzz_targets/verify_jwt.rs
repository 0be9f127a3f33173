//! The verification pipeline (`verify`) on a compact JWT, offline: a raw token, or a
//! header and payload from the input signed with the fixed issuer's key so that the
//! checks after the signature (claims, expiry, status, schema, endorsements) see the
//! input too.
//!
//! Input: one mode byte, then
//! - mode % 3 == 0: the token;
//! - mode % 3 == 1: the JOSE header, NUL, the payload (both signed as they are);
//! - mode % 3 == 2: the payload, under one of the issuer's usual headers.
//!
//! `ISSUER_DID` and `ISSUER_KID` in the header or payload name the fixed issuer.
#![no_main]

use accolade::verify::Options;
use accolade_fuzz::{
    block_on, fields, fill, header_for, offline_verifier, sign_raw, text, to_json,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = match mode % 3 {
        0 => text(rest).into_owned(),
        1 => {
            let parts = fields(rest, 2);
            sign_raw(
                fill(&text(parts[0])).as_bytes(),
                fill(&text(parts[1])).as_bytes(),
            )
        }
        _ => sign_raw(&header_for(mode / 3), fill(&text(rest)).as_bytes()),
    };
    let opts = Options {
        recipient_email: (mode & 0x80 != 0).then(|| "ada@example.org".to_owned()),
    };
    let verifier = offline_verifier();
    block_on(async {
        if let Ok(report) = verifier.verify_jwt_with(&token, &opts).await {
            to_json(&report);
        }
        // As the body of POST /api/v1/verify carries it.
        if let Ok(report) = verifier.verify_value(&Value::String(token)).await {
            to_json(&report);
        }
    });
});
