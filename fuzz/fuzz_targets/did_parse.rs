//! DID and DID URL parsing (`did`), did:key / did:jwk resolution, did:web document
//! URLs, and DID documents (`verify::remote::DidDoc`): read directly, and as the body
//! a did:web host serves (strict JSON, the document cache, JWK dereferencing), then
//! used to find the key of a badge signed by the fixed issuer under a did:web DID.
//!
//! Input: a DID (or any text), NUL, a DID document. A document is read for the DID
//! when the text is a did:web DID, else for `did:web:issuer.example`.
#![no_main]

use std::sync::{Arc, OnceLock};

use accolade::did::{self, Did, DidUrl};
use accolade::verify::remote::DidDoc;
use accolade::verify::{Relationship, Remote, Ttls};
use accolade_fuzz::{Serve, block_on, fields, fill, serving_verifier, sign_raw, text, to_json};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const WEB_DID: &str = "did:web:issuer.example";

/// A badge of `did:web:issuer.example`, signed by the fixed issuer's key as `#key-1`.
fn web_badge() -> &'static str {
    static BADGE: OnceLock<String> = OnceLock::new();
    BADGE.get_or_init(|| {
        let mut c: serde_json::Map<String, Value> = serde_json::from_str(include_str!(
            "../../tests/vectors/examples/ob3_basic_openbadgecredential.json"
        ))
        .expect("the example credential");
        c.insert(
            "issuer".into(),
            json!({"id": WEB_DID, "type": ["Profile"], "name": "Issuer"}),
        );
        accolade::jose::claims::add_jwt_claims(&mut c).expect("claims");
        let header = json!({"alg": "EdDSA", "kid": format!("{WEB_DID}#key-1"), "typ": "JWT"});
        sign_raw(
            header.to_string().as_bytes(),
            &serde_json::to_vec(&c).expect("json"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let parts = fields(data, 2);
    let s = text(parts[0]);
    let doc_bytes = fill(&text(parts[1])).into_bytes();

    let _ = s.parse::<DidUrl>();
    let _ = did::key::from_multibase(&s);
    if let Ok(u) = url::Url::parse(&s) {
        let _ = did::web::identity_for_url(&u);
    }
    let parsed = s.parse::<Did>();
    if let Ok(d) = &parsed {
        let _ = (d.method(), d.method_specific_id());
        let _ = did::key::resolve(d);
        let _ = did::jwk::resolve(d);
        let _ = did::web::document_url(d);
    }
    let did = parsed
        .ok()
        .filter(|d| d.method() == "web")
        .unwrap_or_else(|| WEB_DID.parse().expect("a did:web DID"));

    if let Ok(v) = serde_json::from_slice::<Value>(&doc_bytes)
        && let Ok(doc) = DidDoc::parse(&did, &v)
    {
        for rel in [Relationship::AssertionMethod, Relationship::Authentication] {
            for (id, _) in doc.keys_for(rel) {
                let _ = doc.key_for(id, rel);
            }
            let _ = doc.key_for(&format!("{did}#key-1"), rel);
        }
    }

    let remote = Remote::new(
        Arc::new(Serve(Bytes::from(doc_bytes.clone()))),
        Ttls::default(),
    );
    let verifier = serving_verifier(doc_bytes);
    block_on(async {
        let _ = remote.did_web(&did).await;
        let _ = remote.jwk_at("https://issuer.example/keys/1#k1").await;
        if let Ok(report) = verifier.verify_jwt(web_badge()).await {
            to_json(&report);
        }
    });
});
