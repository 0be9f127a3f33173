//! JSON-LD input to Data Integrity verification (`integrity`): the proof and suite
//! readers, then `integrity::verify` (JSON-LD expansion, RDF canonicalisation, hashing,
//! the signature check) with the key the proof's method names when it is a did:key or
//! did:jwk, else the fixed issuer's; then the same document through the offline
//! verifier.
//!
//! Input: a JSON document (`ISSUER_DID` / `ISSUER_KID` name the fixed issuer).
#![no_main]

use accolade::did::{self, Did};
use accolade::integrity;
use accolade::jose::PublicJwk;
use accolade_fuzz::{block_on, fill, issuer, offline_verifier, text, to_json};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn key_of(controller: &str) -> PublicJwk {
    controller
        .parse::<Did>()
        .ok()
        .and_then(|d| match d.method() {
            "key" => did::key::resolve(&d).ok(),
            "jwk" => did::jwk::resolve(&d).ok(),
            _ => None,
        })
        .unwrap_or_else(|| issuer().key.public_jwk().clone())
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = serde_json::from_str::<Map<String, Value>>(&fill(&text(data))) else {
        return;
    };
    let (method, controller) = match integrity::proof_of(&doc) {
        Ok(proof) => {
            let _ = integrity::suite_of(proof);
            let method = proof
                .get("verificationMethod")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let controller = method.split('#').next().unwrap_or_default().to_owned();
            (method, controller)
        }
        Err(_) => (String::new(), String::new()),
    };
    let key = key_of(&controller);
    let _ = integrity::multikey(&key);
    let verifier = offline_verifier();
    block_on(async {
        let _ = integrity::verify(&doc, &method, &controller, &key).await;
        if let Ok(report) = verifier.verify_json(&doc).await {
            to_json(&report);
        }
    });
});
