//! Data Integrity proofs (W3C VC Data Integrity 1.0) on JSON credentials, verified
//! with `ssi`: the `eddsa-rdfc-2022` suite (VC Data Integrity EdDSA Cryptosuites
//! v1.0 §3.2) and `ecdsa-rdfc-2019` with P-256 (VC Data Integrity ECDSA Cryptosuites
//! v1.0 §3.2). Both canonicalise the document with RDFC-1.0 after JSON-LD expansion;
//! `ssi` does that work (JSON-LD is never handled by hand here).
//!
//! JSON-LD processing is offline and strict: the only contexts a document may name
//! are the ones this project ships in `contexts/`, byte for byte (VCDM 2.0, which
//! defines `DataIntegrityProof` and the Bitstring Status List terms; OB 3.0.1–3.0.3 and
//! its extensions; CLR 2.0.1). Any other context is refused, never fetched.
//!
//! The proof's `verificationMethod` must be a key of the issuer, listed for
//! `assertionMethod` (Data Integrity §4.6 "Verify Proof", step "the verification
//! method is controlled by the issuer"): this service's own DID, did:key and did:jwk
//! resolve offline, did:web through the hardened outbound client. The key is handed to
//! `ssi` as a `Multikey` of that id and controller.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};
use ssi_claims_core::VerificationParameters;
use ssi_data_integrity::AnyDataIntegrity;
use ssi_verification_methods::AnyMethod;

use crate::jose::{Algorithm, PublicJwk};

/// The contexts a Data Integrity document may name, and the files that hold them.
const CONTEXTS: &[(&str, &str)] = &[
    (
        "https://www.w3.org/ns/credentials/v2",
        include_str!("../../contexts/w3c_credentials_v2.jsonld"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        include_str!("../../contexts/ob_v3p0_context-3.0.1.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        include_str!("../../contexts/ob_v3p0_context-3.0.2.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        include_str!("../../contexts/ob_v3p0_context-3.0.3.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
        include_str!("../../contexts/ob_v3p0_extensions.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
        include_str!("../../contexts/clr_v2p0_context-2.0.1.json"),
    ),
];

/// The offline document loader over [`CONTEXTS`] alone.
static LOADER: LazyLock<Result<ssi_json_ld::ContextLoader, String>> = LazyLock::new(|| {
    let map: HashMap<String, String> = CONTEXTS
        .iter()
        .map(|(url, text)| ((*url).to_owned(), (*text).to_owned()))
        .collect();
    ssi_json_ld::ContextLoader::empty()
        .with_context_map_from(map)
        .map_err(|e| e.to_string())
});

/// The cryptosuites verified here.
pub const SUITES: &[&str] = &["eddsa-rdfc-2022", "ecdsa-rdfc-2019"];

/// The most bytes of a document whose proof is checked (JSON-LD work grows with it).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why a proof was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The proof is wrong: a bad signature, a document changed after signing, a
    /// method that is not the issuer's.
    #[error("{0}")]
    Invalid(String),
    /// It could not be judged: a suite, context or key type this service does not
    /// handle.
    #[error("{0}")]
    Unsupported(String),
}

/// The proof object of a document (one proof; a set of proofs is not handled yet).
pub fn proof_of(doc: &Map<String, Value>) -> Result<&Map<String, Value>, ProofError> {
    match doc.get("proof") {
        Some(Value::Object(p)) => Ok(p),
        Some(Value::Array(a)) if a.len() == 1 => a[0]
            .as_object()
            .ok_or_else(|| ProofError::Invalid("the proof is not an object".into())),
        Some(Value::Array(_)) => Err(ProofError::Unsupported(
            "documents with several proofs are not verified yet".into(),
        )),
        _ => Err(ProofError::Invalid("the document carries no proof".into())),
    }
}

/// The proof's type and suite, checked against what is verified here.
pub fn suite_of(proof: &Map<String, Value>) -> Result<&str, ProofError> {
    let kind = proof
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if kind != "DataIntegrityProof" {
        return Err(ProofError::Unsupported(format!(
            "proofs of type {kind:?} are not verified by this service (it verifies DataIntegrityProof with {})",
            SUITES.join(" or ")
        )));
    }
    let suite = proof
        .get("cryptosuite")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !SUITES.contains(&suite) {
        return Err(ProofError::Unsupported(format!(
            "the cryptosuite {suite:?} is not verified by this service ({})",
            SUITES.join(", ")
        )));
    }
    Ok(suite)
}

/// A public key as a Multikey `publicKeyMultibase` (Controlled Identifiers §2.2.2):
/// Ed25519 (multicodec `0xed`) or a compressed P-256 point (`0x1200`).
pub fn multikey(key: &PublicJwk) -> Result<String, ProofError> {
    let v = key.to_value();
    let part = |name: &'static str| -> Result<Vec<u8>, ProofError> {
        v.get(name)
            .and_then(Value::as_str)
            .and_then(|s| crate::jose::b64_decode(s, name).ok())
            .ok_or_else(|| ProofError::Unsupported(format!("the key has no {name}")))
    };
    let bytes = match key.algorithm() {
        Algorithm::EdDSA => {
            let mut b = vec![0xed, 0x01];
            b.extend(part("x")?);
            b
        }
        Algorithm::ES256 => {
            let (x, y) = (part("x")?, part("y")?);
            let mut b = vec![
                0x80,
                0x24,
                if y.last().is_some_and(|l| l & 1 == 1) {
                    3
                } else {
                    2
                },
            ];
            b.extend(x);
            b
        }
        Algorithm::RS256 => {
            return Err(ProofError::Unsupported(
                "RSA keys do not sign Data Integrity proofs of these suites".into(),
            ));
        }
    };
    Ok(format!("z{}", bs58::encode(bytes).into_string()))
}

/// Verifies the proof of `doc` made with `key`, which the caller found to be the key
/// `method` (the proof's `verificationMethod`) of `controller`, the issuer.
pub async fn verify(
    doc: &Map<String, Value>,
    method: &str,
    controller: &str,
    key: &PublicJwk,
) -> Result<(), ProofError> {
    let text = serde_json::to_string(doc).map_err(|e| ProofError::Invalid(e.to_string()))?;
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ProofError::Unsupported(format!(
            "documents over {} KiB are not verified",
            MAX_DOCUMENT_BYTES / 1024
        )));
    }
    let loader = LOADER
        .as_ref()
        .map_err(|e| ProofError::Unsupported(format!("the bundled contexts: {e}")))?;
    let vm: AnyMethod = serde_json::from_value(serde_json::json!({
        "type": "Multikey",
        "id": method,
        "controller": controller,
        "publicKeyMultibase": multikey(key)?,
    }))
    .map_err(|e| ProofError::Invalid(format!("the verification method: {e}")))?;
    let id = iref::IriBuf::new(method.to_owned()).map_err(|_| {
        ProofError::Invalid(format!("the verification method {method:?} is not an IRI"))
    })?;
    let mut methods = HashMap::new();
    methods.insert(id, vm);
    let input: AnyDataIntegrity = serde_json::from_str(&text)
        .map_err(|e| ProofError::Invalid(format!("not a Data Integrity document: {e}")))?;
    let params = VerificationParameters::from_resolver(methods).with_json_ld_loader(loader.clone());
    // The JSON-LD and canonicalisation futures are large: kept on the heap, not on the
    // stack of whatever verification awaits them.
    match Box::pin(input.verify(&params)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ProofError::Invalid(e.to_string())),
        Err(e) => {
            let m = e.to_string();
            if m.contains("Unknown context") || m.contains("loading document") {
                Err(ProofError::Invalid(format!(
                    "the document names a JSON-LD context this verifier does not hold (it reads only VCDM 2.0, OB 3.0 and CLR 2.0 contexts): {m}"
                )))
            } else {
                Err(ProofError::Invalid(m))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 1EdTech test key (OB 3.0 Implementation Guide, "Linked Data Proof Test
    /// Vector"): an issuer URL with a Multikey fragment.
    const VM: &str =
        "https://example.edu/issuers/565049#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi";
    const ISSUER: &str = "https://example.edu/issuers/565049";

    fn vector(name: &str) -> Map<String, Value> {
        let path = format!(
            "{}/tests/vectors/examples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let v: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("vector")).expect("json");
        v.as_object().expect("object").clone()
    }

    fn test_key() -> PublicJwk {
        let raw = hex::decode("4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5")
            .expect("hex");
        PublicJwk::from_ed25519_bytes(&raw).expect("key")
    }

    #[test]
    fn the_test_key_is_the_multikey_the_vectors_name() {
        assert_eq!(
            multikey(&test_key()).expect("multikey"),
            "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
        );
    }

    #[tokio::test]
    async fn the_1edtech_vectors_verify_and_a_changed_copy_does_not() {
        for name in [
            "ob3_testvector_signed_credential.json",
            "clr2_testvector_signed_credential.json",
        ] {
            let doc = vector(name);
            let proof = proof_of(&doc).expect("proof");
            assert_eq!(suite_of(proof), Ok("eddsa-rdfc-2022"));
            verify(&doc, VM, ISSUER, &test_key())
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut changed = doc.clone();
            changed.insert(
                "validFrom".into(),
                Value::String("2010-01-02T00:00:00Z".into()),
            );
            let e = verify(&changed, VM, ISSUER, &test_key())
                .await
                .expect_err("changed after signing");
            assert!(matches!(e, ProofError::Invalid(_)), "{name}: {e}");
        }
    }

    #[tokio::test]
    async fn another_key_or_an_unknown_context_is_refused() {
        let doc = vector("ob3_testvector_signed_credential.json");
        let other_raw = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32])
            .verifying_key()
            .to_bytes();
        let other = PublicJwk::from_ed25519_bytes(&other_raw).expect("key");
        assert!(verify(&doc, VM, ISSUER, &other).await.is_err());
        let mut doc = doc;
        if let Some(Value::Array(ctx)) = doc.get_mut("@context") {
            ctx.push(Value::String(
                "https://example.org/unknown-context.jsonld".into(),
            ));
        }
        let e = verify(&doc, VM, ISSUER, &test_key())
            .await
            .expect_err("unknown");
        assert!(e.to_string().contains("context"), "{e}");
    }

    #[test]
    fn other_proof_types_and_suites_are_named_as_unsupported() {
        let p = |v: Value| v.as_object().expect("object").clone();
        assert!(matches!(
            suite_of(&p(serde_json::json!({"type": "Ed25519Signature2020"}))),
            Err(ProofError::Unsupported(_))
        ));
        assert!(matches!(
            suite_of(&p(
                serde_json::json!({"type": "DataIntegrityProof", "cryptosuite": "bbs-2023"})
            )),
            Err(ProofError::Unsupported(_))
        ));
        assert_eq!(
            suite_of(&p(
                serde_json::json!({"type": "DataIntegrityProof", "cryptosuite": "ecdsa-rdfc-2019"})
            )),
            Ok("ecdsa-rdfc-2019")
        );
    }
}
