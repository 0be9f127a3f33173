//! Data Integrity proofs beside JWTs: the same credential (the OB 3.0 test vector
//! credential, issued by a did:key) signed and verified per second, single-threaded,
//! with `eddsa-rdfc-2022` and `ecdsa-rdfc-2019` (JSON-LD expansion and RDFC-1.0
//! canonicalisation each time, through `ssi`) and as a `vc+jwt` with EdDSA and ES256
//! (serialise and sign; parse and verify the signature).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::integrity::{self, ProofOptions, Suite};
use crate::jose::jws::{self, CompactJws};
use crate::jose::{Algorithm, SigningKey};

/// One securing mechanism's figures.
#[derive(Debug, Clone)]
pub struct Row {
    /// `eddsa-rdfc-2022`, `ecdsa-rdfc-2019`, `vc+jwt EdDSA`, `vc+jwt ES256`.
    pub what: String,
    pub signs_per_sec: f64,
    pub verifies_per_sec: f64,
}

/// The credential the figures are for.
fn credential(did: &str) -> Map<String, Value> {
    let mut c: Map<String, Value> = serde_json::from_str(include_str!(
        "../../tests/vectors/examples/ob3_testvector_credential.json"
    ))
    .unwrap_or_default();
    c.insert(
        "issuer".into(),
        json!({"id": did, "type": ["Profile"], "name": "Example University"}),
    );
    c
}

/// Measures each mechanism for `window`.
pub fn run(window: Duration) -> anyhow::Result<Vec<Row>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut rows = Vec::new();
        for suite in Suite::SIGNED {
            let key = Arc::new(SigningKey::generate(suite.algorithm())?.0);
            let did = crate::did::key::did_key_for(key.public_jwk())?;
            let method = format!("{did}#{}", did.method_specific_id());
            let doc = credential(did.as_str());
            let options = ProofOptions {
                suite,
                purpose: "assertionMethod",
                created: "2026-12-05T00:00:00Z".into(),
                challenge: None,
                domain: None,
            };
            let signs = super::pages::rate(window, || async {
                integrity::sign(&doc, &options, &key, &method, did.as_str()).await?;
                Ok(())
            })
            .await?;
            let signed = integrity::sign(&doc, &options, &key, &method, did.as_str()).await?;
            let verifies = super::pages::rate(window, || async {
                integrity::verify(&signed, &method, did.as_str(), key.public_jwk()).await?;
                Ok(())
            })
            .await?;
            rows.push(Row {
                what: suite.name().to_owned(),
                signs_per_sec: signs,
                verifies_per_sec: verifies,
            });
        }
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let key = SigningKey::generate(alg)?.0;
            let did = crate::did::key::did_key_for(key.public_jwk())?;
            let kid = format!("{did}#{}", did.method_specific_id());
            let doc = Value::Object(credential(did.as_str()));
            let sign = || -> anyhow::Result<String> {
                let payload = serde_json::to_vec(&doc)?;
                Ok(jws::sign_compact_with(
                    &key,
                    Some(&kid),
                    Some("vc+jwt"),
                    Some("vc"),
                    &payload,
                )?)
            };
            let signs = super::pages::rate(window, || async { sign().map(drop) }).await?;
            let jwt = sign()?;
            let verifies = super::pages::rate(window, || async {
                let parsed = CompactJws::parse(&jwt)?;
                parsed.payload_json()?;
                parsed.verify(key.public_jwk())?;
                Ok(())
            })
            .await?;
            rows.push(Row {
                what: format!("vc+jwt {}", alg.name()),
                signs_per_sec: signs,
                verifies_per_sec: verifies,
            });
        }
        Ok(rows)
    })
}
