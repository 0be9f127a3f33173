//! The compact JWS / JWT parser (`jose::jws`) and the JWT claims mapping
//! (`jose::claims`): any text as a token, then everything a caller reads from it.
#![no_main]

use accolade::did::DidUrl;
use accolade::jose::jws::CompactJws;
use accolade::jose::{PublicJwk, claims, json};
use accolade::verify::presentation::VP_POLICY;
use accolade::verify::{BADGE_POLICY, VC_JOSE_POLICY};
use accolade_fuzz::{issuer, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = json::from_slice_strict(data);
    let token = text(data);
    let _ = accolade::bake::is_compact_jws(&token);
    let Ok(jws) = CompactJws::parse(&token) else {
        return;
    };
    let _ = (jws.alg(), jws.typ(), jws.payload(), jws.as_str());
    if let Some(kid) = jws.kid() {
        let _ = kid.parse::<DidUrl>();
    }
    for policy in [&BADGE_POLICY, &VC_JOSE_POLICY, &VP_POLICY] {
        let _ = jws.check_header(policy);
    }
    if let Some(jwk) = jws.header().get("jwk")
        && let Ok(key) = PublicJwk::from_value(jwk)
    {
        let _ = key.thumbprint();
        let _ = key.canonical_json();
        let _ = jws.verify(&key);
    }
    let _ = jws.verify(issuer().key.public_jwk());
    if let Ok(mut payload) = jws.payload_json() {
        let _ = claims::check_jwt_claims(&payload);
        let _ = claims::check_present_claims(&payload);
        let _ = claims::strip_jwt_claims(&payload);
        let _ = (
            claims::issuer_id(&payload),
            claims::subject_id(&payload),
            claims::valid_from(&payload),
            claims::valid_until(&payload),
        );
        let _ = claims::add_jwt_claims(&mut payload);
    }
});
