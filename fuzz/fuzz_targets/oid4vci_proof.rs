//! The OpenID4VCI proof JWT (`oid4vci::proof::verify_proof`): a raw token, or a header
//! and claims from the input signed with the fixed holder key so that the checks after
//! the signature (audience, `iat`, `exp`, `nonce`) see the input too.
//!
//! Input: one mode byte, then
//! - mode % 3 == 0: the proof JWT;
//! - mode % 3 == 1: the JOSE header, NUL, the claims (signed as they are);
//! - mode % 3 == 2: the claims, under a proof header naming the key by `kid` or `jwk`.
//!
//! `ISSUER_DID` and `ISSUER_KID` name the fixed key's did:key.
#![no_main]

use accolade::oid4vci::proof::{self, PROOF_TYP};
use accolade_fuzz::{NOW, PUBLIC_URL, fields, fill, issuer, sign_raw, text};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let jwt = match mode % 3 {
        0 => text(rest).into_owned(),
        1 => {
            let parts = fields(rest, 2);
            sign_raw(
                fill(&text(parts[0])).as_bytes(),
                fill(&text(parts[1])).as_bytes(),
            )
        }
        _ => {
            let header = if mode & 0x80 == 0 {
                json!({"alg": "EdDSA", "typ": PROOF_TYP, "kid": issuer().kid})
            } else {
                json!({"alg": "EdDSA", "typ": PROOF_TYP, "jwk": issuer().key.public_jwk().to_value()})
            };
            sign_raw(header.to_string().as_bytes(), fill(&text(rest)).as_bytes())
        }
    };
    if let Ok(p) = proof::verify_proof(&jwt, PUBLIC_URL, NOW) {
        assert!(
            proof::key_matches_did(&p.key, p.holder.as_str()),
            "a proven key does not match its own holder DID"
        );
    }
    let _ = proof::key_matches_did(issuer().key.public_jwk(), &text(rest));
});
