//! JSON credential and presentation input to verification (`verify`, `model`):
//! the readers, the VC Data Model and Open Badges schema checks, the typed model, and
//! the offline verification pipeline for a credential and for a presentation.
//!
//! Input: JSON text (`ISSUER_DID` / `ISSUER_KID` name the fixed issuer).
#![no_main]

use accolade::model::{AchievementCredential, EndorsementCredential, schema, vcdm};
use accolade::verify::presentation::read_presentation;
use accolade::verify::{Options, PresentationOptions, ob2, read_credential, recipient};
use accolade_fuzz::{PUBLIC_URL, block_on, fill, offline_verifier, text, to_json};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_str::<Value>(&fill(&text(data))) else {
        return;
    };
    let _ = read_credential(&v);
    let _ = read_presentation(&v);
    let _ = schema::check_credential(&v);
    let _ = schema::check_achievement(&v);
    let _ = schema::check_endorsement(&v);
    let _ = schema::check_profile(&v);
    let _ = vcdm::version_of(&v);
    let _ = vcdm::check_credential(&v);
    let _ = vcdm::check_presentation(&v);
    if let Ok(c) = serde_json::from_value::<AchievementCredential>(v.clone()) {
        to_json(&c);
    }
    if let Ok(c) = serde_json::from_value::<EndorsementCredential>(v.clone()) {
        to_json(&c);
    }
    if let Value::Object(o) = &v {
        let _ = recipient::check(o, "ada@example.org");
        let _ = ob2::is_ob2(o);
    }
    let verifier = offline_verifier();
    let opts = Options {
        recipient_email: Some("ada@example.org".to_owned()),
    };
    let popts = PresentationOptions {
        challenge: Some("a-nonce".to_owned()),
        domain: Some(PUBLIC_URL.to_owned()),
        unsigned: false,
        holder_binding: true,
    };
    block_on(async {
        if let Ok(report) = verifier.verify_value_with(&v, &opts).await {
            to_json(&report);
        }
        if let Ok(report) = verifier.verify_presentation(&v, &popts).await {
            to_json(&report);
        }
    });
});
