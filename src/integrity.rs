//! Data Integrity proofs (W3C VC Data Integrity 1.0) on JSON credentials and
//! presentations, made and checked with `ssi`:
//!
//! - `eddsa-rdfc-2022` (VC Data Integrity EdDSA Cryptosuites v1.0 §3.2) and
//!   `ecdsa-rdfc-2019` with P-256 (VC Data Integrity ECDSA Cryptosuites v1.0 §3.2):
//!   signed here and verified; both canonicalise with RDFC-1.0 after JSON-LD
//!   expansion, hash the proof options and the document with SHA-256 and sign the
//!   two hashes (the ECDSA signature is IEEE P1363 `r‖s`, base58-btc multibase);
//! - the older `Ed25519Signature2020` (Ed25519Signature2020 §4) and
//!   `JsonWebSignature2020` (Linked Data Proof JSON Web Signature 2020 §4, a detached
//!   JWS over the same two hashes) still found in the field: verified only (the JWS 2020
//!   signature by this module over the header bytes the proof carries, RSA through OpenSSL).
//!
//! `ssi` does the JSON-LD and canonicalisation work; nothing here handles JSON-LD by
//! hand. Signing goes through [`KeySigner`], so private keys stay in
//! [`crate::jose::SigningKey`] and never pass to `ssi`.
//!
//! JSON-LD processing is offline and strict: the only contexts a document may name
//! are the ones this project ships in `contexts/`, byte for byte (VCDM 2.0 and 1.1,
//! Data Integrity v1 and v2, Multikey, the Ed25519Signature2020 and JWS 2020 suites,
//! Status List 2021, OB 3.0.1–3.0.3 and its extensions, CLR 2.0.1). Any other context
//! is refused, never fetched; documents over [`MAX_DOCUMENT_BYTES`] are not examined.
//!
//! A proof's `verificationMethod` must be a key of the issuer (or the holder, for a
//! presentation) listed for the proof's purpose (Data Integrity §4.6 "Verify Proof");
//! the caller finds the key, and it is handed to `ssi` as a method of that id and
//! controller of the type the suite reads.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value, json};
use ssi_claims_core::{
    MessageSignatureError, SignatureEnvironment, SignatureError, VerificationParameters,
};
use ssi_data_integrity::{
    AnyDataIntegrity, AnySuite, CryptographicSuite, DataIntegrityDocument, ProofConfiguration,
};
use ssi_verification_methods::{AnyMethod, LocalSigner, MessageSigner, Signer, VerificationMethod};

use crate::jose::{Algorithm, PublicJwk, SigningKey};

/// The contexts a Data Integrity document may name, and the files that hold them.
pub const CONTEXTS: &[(&str, &str)] = &[
    (
        "https://www.w3.org/ns/credentials/v2",
        include_str!("../contexts/w3c_credentials_v2.jsonld"),
    ),
    (
        "https://www.w3.org/2018/credentials/v1",
        include_str!("../contexts/w3c_credentials_v1.jsonld"),
    ),
    (
        "https://w3id.org/security/data-integrity/v1",
        include_str!("../contexts/w3id_data_integrity_v1.jsonld"),
    ),
    (
        "https://w3id.org/security/data-integrity/v2",
        include_str!("../contexts/w3id_data_integrity_v2.jsonld"),
    ),
    (
        "https://w3id.org/security/multikey/v1",
        include_str!("../contexts/w3id_multikey_v1.jsonld"),
    ),
    (
        "https://w3id.org/security/suites/ed25519-2020/v1",
        include_str!("../contexts/w3id_ed25519_2020_v1.jsonld"),
    ),
    (
        "https://w3id.org/security/suites/jws-2020/v1",
        include_str!("../contexts/w3id_jws2020_v1.jsonld"),
    ),
    (
        "https://w3id.org/vc/status-list/2021/v1",
        include_str!("../contexts/w3id_status_list_2021_v1.jsonld"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.1.json",
        include_str!("../contexts/ob_v3p0_context-3.0.1.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.2.json",
        include_str!("../contexts/ob_v3p0_context-3.0.2.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        include_str!("../contexts/ob_v3p0_context-3.0.3.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json",
        include_str!("../contexts/ob_v3p0_extensions.json"),
    ),
    (
        "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json",
        include_str!("../contexts/clr_v2p0_context-2.0.1.json"),
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

fn loader() -> Result<ssi_json_ld::ContextLoader, ProofError> {
    LOADER
        .as_ref()
        .cloned()
        .map_err(|e| ProofError::Unsupported(format!("the bundled contexts: {e}")))
}

/// The proof kinds this service knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// `DataIntegrityProof` / `eddsa-rdfc-2022` (Ed25519).
    EddsaRdfc2022,
    /// `DataIntegrityProof` / `ecdsa-rdfc-2019` (P-256 here).
    EcdsaRdfc2019,
    /// `Ed25519Signature2020` (verified only).
    Ed25519Signature2020,
    /// `JsonWebSignature2020` (verified only; Ed25519 and P-256 keys).
    JsonWebSignature2020,
}

impl Suite {
    /// The suites this service signs with.
    pub const SIGNED: [Suite; 2] = [Suite::EddsaRdfc2022, Suite::EcdsaRdfc2019];

    /// The `cryptosuite` name, or the proof `type` of the older suites.
    pub fn name(self) -> &'static str {
        match self {
            Suite::EddsaRdfc2022 => "eddsa-rdfc-2022",
            Suite::EcdsaRdfc2019 => "ecdsa-rdfc-2019",
            Suite::Ed25519Signature2020 => "Ed25519Signature2020",
            Suite::JsonWebSignature2020 => "JsonWebSignature2020",
        }
    }

    /// A suite this service signs with, by its `cryptosuite` name.
    pub fn signing(name: &str) -> Option<Suite> {
        Self::SIGNED.into_iter().find(|s| s.name() == name)
    }

    /// The key algorithm the suite signs with here.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Suite::EcdsaRdfc2019 => Algorithm::ES256,
            _ => Algorithm::EdDSA,
        }
    }
}

/// The most bytes of a document whose proof is checked or made (JSON-LD work grows
/// with it).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// Why a proof was not accepted or not made.
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

/// The proof's suite, when this service verifies it.
pub fn suite_of(proof: &Map<String, Value>) -> Result<Suite, ProofError> {
    let kind = proof
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "DataIntegrityProof" => {
            let suite = proof
                .get("cryptosuite")
                .and_then(Value::as_str)
                .unwrap_or_default();
            Suite::signing(suite).ok_or_else(|| {
                ProofError::Unsupported(format!(
                    "the cryptosuite {suite:?} is not verified by this service (eddsa-rdfc-2022 and ecdsa-rdfc-2019 are)"
                ))
            })
        }
        "Ed25519Signature2020" => Ok(Suite::Ed25519Signature2020),
        "JsonWebSignature2020" => Ok(Suite::JsonWebSignature2020),
        _ => Err(ProofError::Unsupported(format!(
            "proofs of type {kind:?} are not verified by this service (it verifies DataIntegrityProof with eddsa-rdfc-2022 or ecdsa-rdfc-2019, Ed25519Signature2020 and JsonWebSignature2020)"
        ))),
    }
}

/// A public key as a Multikey `publicKeyMultibase` (Ed25519 or P-256).
pub fn multikey(key: &PublicJwk) -> Result<String, ProofError> {
    crate::did::key::multibase(key).map_err(|e| ProofError::Unsupported(e.to_string()))
}

/// The verification method `ssi` is given for `key`: the type `suite` reads.
fn method_for(
    suite: Suite,
    method: &str,
    controller: &str,
    key: &PublicJwk,
) -> Result<HashMap<iref::IriBuf, AnyMethod>, ProofError> {
    let wrong_key = |want: &str| {
        ProofError::Invalid(format!(
            "{} proofs are made with {want} keys; the method {method:?} holds a {} key",
            suite.name(),
            key.algorithm()
        ))
    };
    let vm = match suite {
        Suite::EddsaRdfc2022 | Suite::EcdsaRdfc2019 => {
            // ecdsa-rdfc-2019 is P-256 (SHA-256) or P-384 (SHA-384); this service
            // signs with P-256 and verifies both.
            let fits = key.algorithm() == suite.algorithm()
                || (suite == Suite::EcdsaRdfc2019 && key.algorithm() == Algorithm::ES384);
            if !fits {
                return Err(wrong_key(if suite == Suite::EcdsaRdfc2019 {
                    "P-256 or P-384"
                } else {
                    "Ed25519"
                }));
            }
            json!({"type": "Multikey", "id": method, "controller": controller,
                   "publicKeyMultibase": multikey(key)?})
        }
        Suite::Ed25519Signature2020 => {
            if key.algorithm() != Algorithm::EdDSA {
                return Err(wrong_key("Ed25519"));
            }
            json!({"type": "Ed25519VerificationKey2020", "id": method, "controller": controller,
                   "publicKeyMultibase": multikey(key)?})
        }
        Suite::JsonWebSignature2020 => {
            json!({"type": "JsonWebKey2020", "id": method, "controller": controller,
                   "publicKeyJwk": key.to_value()})
        }
    };
    // Each method is read as its own type and then wrapped: `AnyMethod` read from JSON
    // takes any method with a `publicKeyMultibase` for a Multikey, whatever its type.
    let bad = |e: serde_json::Error| ProofError::Invalid(format!("the verification method: {e}"));
    let vm = match suite {
        Suite::EddsaRdfc2022 | Suite::EcdsaRdfc2019 => {
            AnyMethod::Multikey(serde_json::from_value(vm).map_err(bad)?)
        }
        Suite::Ed25519Signature2020 => {
            AnyMethod::Ed25519VerificationKey2020(serde_json::from_value(vm).map_err(bad)?)
        }
        Suite::JsonWebSignature2020 => {
            AnyMethod::JsonWebKey2020(serde_json::from_value(vm).map_err(bad)?)
        }
    };
    // The IRI library underneath panics on a percent-escape that is not UTF-8.
    if !escapes_are_utf8(method) {
        return Err(ProofError::Invalid(format!(
            "the verification method {method:?} holds a percent-escape that is not UTF-8"
        )));
    }
    let id = iref::IriBuf::new(method.to_owned()).map_err(|_| {
        ProofError::Invalid(format!("the verification method {method:?} is not an IRI"))
    })?;
    Ok(HashMap::from([(id, vm)]))
}

/// Whether every `%XX` escape of `s` decodes, with the rest, to UTF-8.
fn escapes_are_utf8(s: &str) -> bool {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).is_ok()
}

/// Refuses numbers the JSON-LD processor cannot take: an integer (no decimal point)
/// outside the 64-bit range, `1e300` included, would stop it (`ssi` 0.4 panics on
/// one).
fn check_numbers(v: &Value) -> Result<(), ProofError> {
    match v {
        Value::Number(n) => {
            let text = n.to_string();
            if !text.contains('.') && text.parse::<i64>().is_err() && text.parse::<u64>().is_err() {
                return Err(ProofError::Invalid(format!(
                    "the number {text} cannot be processed as JSON-LD here: write it with a decimal point (e.g. 1.0e300) or as a string"
                )));
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(o) => o.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

/// The most blank nodes of one kind (same member, same values) a document may hold,
/// and the most such nodes in all.
pub const MAX_TIED_BLANK_NODES: usize = 4;
/// See [`MAX_TIED_BLANK_NODES`].
pub const MAX_TIED_BLANK_NODES_IN_ALL: usize = 12;

/// Refuses documents whose canonicalisation could take exponential time. RDFC-1.0
/// (§4.8 "Hash N-Degree Quads", and its note on "poison graphs") tries every order
/// of blank nodes it cannot tell apart, and `ssi` sets no limit on that work. Blank
/// nodes are told apart by what they say; those that say the same (identical
/// objects without an `id` under the same member) are what it must permute, and
/// explicit blank node identifiers (`_:b0`) are what lets a document tie them in
/// knots. So: no `_:` identifiers at all, and at most [`MAX_TIED_BLANK_NODES`]
/// look-alike objects of one kind and [`MAX_TIED_BLANK_NODES_IN_ALL`] in all (real
/// credentials have a handful of blank nodes, each different).
fn check_blank_nodes(doc: &Map<String, Value>) -> Result<(), ProofError> {
    fn walk(v: &Value, member: &str, kinds: &mut HashMap<String, usize>) -> Result<(), ProofError> {
        match v {
            Value::String(s) if s.starts_with("_:") => Err(ProofError::Unsupported(format!(
                "the document names the blank node {s:?}; documents with blank node identifiers are not canonicalised here (their canonical form can take exponential time to find)"
            ))),
            Value::Array(a) => a.iter().try_for_each(|x| walk(x, member, kinds)),
            Value::Object(o) => {
                let node = !["id", "@id", "@value"].iter().any(|k| o.contains_key(*k));
                if node {
                    // What the object says itself: nested objects stand in as `{}`.
                    let flat: Map<String, Value> = o
                        .iter()
                        .filter(|(k, _)| k.as_str() != "@context")
                        .map(|(k, x)| {
                            let nested = x.is_object()
                                || x.as_array().is_some_and(|a| a.iter().any(Value::is_object));
                            (k.clone(), if nested { json!({}) } else { x.clone() })
                        })
                        .collect();
                    *kinds
                        .entry(format!("{member}\u{0}{}", Value::Object(flat)))
                        .or_default() += 1;
                }
                o.iter()
                    .filter(|(k, _)| k.as_str() != "@context")
                    .try_for_each(|(k, x)| walk(x, k, kinds))
            }
            _ => Ok(()),
        }
    }
    let mut kinds = HashMap::new();
    doc.iter()
        .filter(|(k, _)| k.as_str() != "@context")
        .try_for_each(|(k, x)| walk(x, k, &mut kinds))?;
    let largest = kinds.values().copied().max().unwrap_or(0);
    let tied: usize = kinds.values().filter(|n| **n > 1).sum();
    if largest > MAX_TIED_BLANK_NODES || tied > MAX_TIED_BLANK_NODES_IN_ALL {
        return Err(ProofError::Unsupported(format!(
            "the document holds {tied} objects without an id that cannot be told apart ({largest} alike at most); over {MAX_TIED_BLANK_NODES} alike or {MAX_TIED_BLANK_NODES_IN_ALL} in all are not canonicalised here (the work grows exponentially with them)"
        )));
    }
    Ok(())
}

/// How many proofs are made or checked at once: JSON-LD and canonicalisation are
/// CPU work, kept from taking every worker of the runtime.
static WORK: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    tokio::sync::Semaphore::new(cores.max(2))
});

fn check_size(doc: &Map<String, Value>) -> Result<String, ProofError> {
    doc.values().try_for_each(check_numbers)?;
    doc.values().try_for_each(check_years)?;
    check_blank_nodes(doc)?;
    let text = serde_json::to_string(doc).map_err(|e| ProofError::Invalid(e.to_string()))?;
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ProofError::Unsupported(format!(
            "documents over {} KiB are not examined",
            MAX_DOCUMENT_BYTES / 1024
        )));
    }
    Ok(text)
}

/// Refuses dates whose year has more than four digits: XML Schema allows them, but the
/// date types underneath the canonicalisation panic on years past what they hold.
fn check_years(v: &Value) -> Result<(), ProofError> {
    match v {
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            let year = digits.bytes().take_while(u8::is_ascii_digit).count();
            if year > 4 && digits.as_bytes().get(year) == Some(&b'-') {
                return Err(ProofError::Invalid(format!(
                    "the date {:?} has a year of more than four digits; such dates are not examined",
                    s.chars().take(40).collect::<String>()
                )));
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_years),
        Value::Object(o) => o.values().try_for_each(check_years),
        _ => Ok(()),
    }
}

/// What `ssi` said when it could not process a document, in words.
fn processing_error(m: String) -> ProofError {
    if m.contains("Unknown context") || m.contains("loading document") {
        ProofError::Invalid(format!(
            "the document names a JSON-LD context this service does not hold (it reads only the VCDM, Data Integrity, OB 3.0 and CLR 2.0 contexts): {m}"
        ))
    } else if m.contains("expansion") {
        // Expansion is strict: a term or type no context defines is an error, not
        // something dropped from what is signed.
        ProofError::Invalid(format!(
            "a term or type of the document is not defined by its @context (every term a Data Integrity proof covers must be; add them in an inline context): {m}"
        ))
    } else {
        ProofError::Invalid(m)
    }
}

/// Verifies the proof of `doc` made with `key`, which the caller found to be the key
/// `method` (the proof's `verificationMethod`) of `controller`.
pub async fn verify(
    doc: &Map<String, Value>,
    method: &str,
    controller: &str,
    key: &PublicJwk,
) -> Result<(), ProofError> {
    let text = check_size(doc)?;
    let proof = proof_of(doc)?;
    let suite = suite_of(proof)?;
    if suite == Suite::JsonWebSignature2020 {
        return verify_jws2020(doc, proof, method, controller, key).await;
    }
    let methods = method_for(suite, method, controller, key)?;
    let mut input: Value = serde_json::from_str(&text)
        .map_err(|e| ProofError::Invalid(format!("not a JSON document: {e}")))?;
    // `ssi` reads `domain` as a list only; one domain is as often written as a string,
    // and both are the same in JSON-LD (and so under the signature).
    if let Some(Value::Object(p)) = input.get_mut("proof")
        && let Some(d @ Value::String(_)) = p.get_mut("domain")
    {
        *d = Value::Array(vec![d.take()]);
    }
    let input: AnyDataIntegrity = serde_json::from_value(input)
        .map_err(|e| ProofError::Invalid(format!("not a Data Integrity document: {e}")))?;
    let params = VerificationParameters::from_resolver(methods).with_json_ld_loader(loader()?);
    let _turn = WORK
        .acquire()
        .await
        .map_err(|e| ProofError::Unsupported(e.to_string()))?;
    // The JSON-LD and canonicalisation futures are large: kept on the heap, not on the
    // stack of whatever verification awaits them.
    // A panic in the libraries underneath (on input nothing above foresaw) is an
    // answer about this document, not the end of the request.
    let verified =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(Box::pin(
            input.verify(&params),
        )))
        .await
        .map_err(|_| {
            ProofError::Invalid(
                "the document could not be processed (a JSON-LD or canonicalisation library failed on it)".into(),
            )
        })?;
    match verified {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(ProofError::Invalid(e.to_string())),
        Err(e) => Err(processing_error(e.to_string())),
    }
}

/// A `JsonWebSignature2020` proof (Linked Data Proof JSON Web Signature 2020 §4.2): a
/// detached JWS with an unencoded payload (RFC 7797) over the SHA-256 hashes of the
/// canonical proof options and document. `ssi` 0.4 checks such a signature over the
/// JWS header as it would write it again (`{"alg","crit","b64"}`), not over the bytes
/// the proof carries, so genuine proofs whose header has another member order (as
/// most implementations write it) would fail; and it cannot check RSA keys without
/// the RustCrypto `rsa` crate. So `ssi` computes only the hash data here (it is handed
/// the proof options to sign with [`Capture`], which keeps the message and signs
/// nothing), and the signature is checked over the header bytes the proof carries,
/// with the key's one algorithm (RSA through OpenSSL).
async fn verify_jws2020(
    doc: &Map<String, Value>,
    proof: &Map<String, Value>,
    method: &str,
    controller: &str,
    key: &PublicJwk,
) -> Result<(), ProofError> {
    let Some(jws) = proof.get("jws").and_then(Value::as_str) else {
        return Err(ProofError::Invalid(
            "a JsonWebSignature2020 proof carries its signature in \"jws\"".into(),
        ));
    };
    let mut parts = jws.split('.');
    let (Some(header_b64), Some(""), Some(sig_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ProofError::Invalid(
            "the proof's jws is not a detached JWS (header..signature)".into(),
        ));
    };
    let header_bytes = crate::jose::b64_decode(header_b64, "the JWS header")
        .map_err(|e| ProofError::Invalid(e.to_string()))?;
    let header: Map<String, Value> = crate::jose::json::from_slice_strict(&header_bytes)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .ok_or_else(|| ProofError::Invalid("the JWS header is not a JSON object".into()))?;
    if header.get("alg").and_then(Value::as_str) != Some(key.algorithm().name()) {
        return Err(ProofError::Invalid(format!(
            "the JWS header's alg is not the key's ({})",
            key.algorithm()
        )));
    }
    if header.get("b64") != Some(&Value::Bool(false))
        || header.get("crit") != Some(&json!(["b64"]))
        || header
            .keys()
            .any(|k| !matches!(k.as_str(), "alg" | "b64" | "crit" | "kid"))
    {
        return Err(ProofError::Invalid(
            "a JsonWebSignature2020 JWS header is {alg, b64: false, crit: [\"b64\"]} (RFC 7797)"
                .into(),
        ));
    }
    let signature = crate::jose::b64_decode(sig_b64, "the JWS signature")
        .map_err(|e| ProofError::Invalid(e.to_string()))?;
    // The hash data, by `ssi`: the document without its proof, "signed" with the
    // proof's options.
    let mut bare = doc.clone();
    bare.remove("proof");
    let mut options: Map<String, Value> = proof
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "jws" | "proofValue" | "@context"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(d @ Value::String(_)) = options.get_mut("domain") {
        *d = Value::Array(vec![d.take()]);
    }
    let config: ProofConfiguration<AnySuite> = serde_json::from_value(Value::Object(options))
        .map_err(|e| ProofError::Invalid(format!("the proof options: {e}")))?;
    let (any, proof_options) = config.into_suite_and_options();
    let methods = method_for(Suite::JsonWebSignature2020, method, controller, key)?;
    let input: DataIntegrityDocument = serde_json::from_value(Value::Object(bare))
        .map_err(|e| ProofError::Invalid(format!("not a JSON-LD document: {e}")))?;
    let env = SignatureEnvironment {
        json_ld_loader: loader()?,
        eip712_loader: (),
    };
    let captured = Arc::new(std::sync::Mutex::new(None));
    {
        let _turn = WORK
            .acquire()
            .await
            .map_err(|e| ProofError::Unsupported(e.to_string()))?;
        Box::pin(any.sign_with(
            env,
            input,
            &methods,
            LocalSigner(Capture(captured.clone())),
            proof_options.cast(),
            Default::default(),
        ))
        .await
        .map_err(|e| processing_error(e.to_string()))?;
    }
    let message = captured
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .ok_or_else(|| ProofError::Unsupported("the hash data was not computed".into()))?;
    // `ssi` handed over its own header, a dot and the hash data: keep the hash data.
    let dot = message
        .iter()
        .position(|b| *b == b'.')
        .ok_or_else(|| ProofError::Unsupported("unexpected signing input".into()))?;
    let mut input = header_b64.as_bytes().to_vec();
    input.extend_from_slice(&message[dot..]);
    key.verify(&input, &signature)
        .map_err(|_| ProofError::Invalid("invalid proof: invalid signature".into()))
}

/// A "signer" that keeps the message it is given and signs nothing (see
/// [`verify_jws2020`]).
struct Capture(Arc<std::sync::Mutex<Option<Vec<u8>>>>);

impl<M: VerificationMethod> Signer<M> for Capture {
    type MessageSigner = Capture;

    async fn for_method(
        &self,
        _method: Cow<'_, M>,
    ) -> Result<Option<Self::MessageSigner>, SignatureError> {
        Ok(Some(Capture(self.0.clone())))
    }
}

impl<A: ssi_crypto::algorithm::SignatureAlgorithmType> MessageSigner<A> for Capture {
    async fn sign(
        self,
        _algorithm: A::Instance,
        message: &[u8],
    ) -> Result<Vec<u8>, MessageSignatureError> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message.to_vec());
        Ok(vec![0; 64])
    }
}

/// Signs with a [`SigningKey`] for `ssi`, which sees only the message and the
/// signature: the key never leaves [`crate::jose`].
pub struct KeySigner(pub Arc<SigningKey>);

/// One signature by a [`KeySigner`].
pub struct KeyMessageSigner(Arc<SigningKey>);

impl<M: VerificationMethod> Signer<M> for KeySigner {
    type MessageSigner = KeyMessageSigner;

    async fn for_method(
        &self,
        _method: Cow<'_, M>,
    ) -> Result<Option<Self::MessageSigner>, SignatureError> {
        Ok(Some(KeyMessageSigner(self.0.clone())))
    }
}

impl<A: ssi_crypto::algorithm::SignatureAlgorithmType> MessageSigner<A> for KeyMessageSigner {
    async fn sign(
        self,
        _algorithm: A::Instance,
        message: &[u8],
    ) -> Result<Vec<u8>, MessageSignatureError> {
        // The suite decided the algorithm from the key type, which is this key's:
        // Ed25519 signs the message, P-256 its SHA-256 digest (ES256).
        self.0
            .sign(message)
            .map_err(MessageSignatureError::signature_failed)
    }
}

/// How a proof is made: its suite, purpose and, for presentations, challenge and
/// domain.
#[derive(Debug, Clone)]
pub struct ProofOptions {
    pub suite: Suite,
    /// `assertionMethod` (credentials, status lists) or `authentication`
    /// (presentations).
    pub purpose: &'static str,
    /// RFC 3339, whole seconds.
    pub created: String,
    pub challenge: Option<String>,
    pub domain: Option<String>,
}

/// Adds a proof of `options.suite` to `doc`, made with `key`, which is the key
/// `method` of `controller`. The document is returned with its `proof`.
pub async fn sign(
    doc: &Map<String, Value>,
    options: &ProofOptions,
    key: &Arc<SigningKey>,
    method: &str,
    controller: &str,
) -> Result<Map<String, Value>, ProofError> {
    let suite = options.suite;
    if !Suite::SIGNED.contains(&suite) {
        return Err(ProofError::Unsupported(format!(
            "{} proofs are verified, not made, here",
            suite.name()
        )));
    }
    if doc.contains_key("proof") {
        return Err(ProofError::Invalid(
            "the document already carries a proof".into(),
        ));
    }
    let text = check_size(doc)?;
    let methods = method_for(suite, method, controller, key.public_jwk())?;
    let input: DataIntegrityDocument = serde_json::from_str(&text)
        .map_err(|e| ProofError::Invalid(format!("not a JSON-LD document: {e}")))?;
    let mut config = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": suite.name(),
        "created": options.created,
        "verificationMethod": method,
        "proofPurpose": options.purpose,
    });
    if let Some(o) = config.as_object_mut() {
        if let Some(c) = &options.challenge {
            o.insert("challenge".into(), json!(c));
        }
        if let Some(d) = &options.domain {
            o.insert("domain".into(), json!([d]));
        }
    }
    let config: ProofConfiguration<AnySuite> = serde_json::from_value(config)
        .map_err(|e| ProofError::Invalid(format!("the proof options: {e}")))?;
    let (any, proof_options) = config.into_suite_and_options();
    let env = SignatureEnvironment {
        json_ld_loader: loader()?,
        eip712_loader: (),
    };
    let _turn = WORK
        .acquire()
        .await
        .map_err(|e| ProofError::Unsupported(e.to_string()))?;
    let signed = Box::pin(any.sign_with(
        env,
        input,
        &methods,
        LocalSigner(KeySigner(key.clone())),
        proof_options.cast(),
        Default::default(),
    ))
    .await
    .map_err(|e| processing_error(e.to_string()))?;
    match serde_json::to_value(&signed) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ProofError::Invalid(
            "the signed document is not an object".into(),
        )),
        Err(e) => Err(ProofError::Invalid(e.to_string())),
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
            assert_eq!(suite_of(proof), Ok(Suite::EddsaRdfc2022));
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

    fn options(suite: Suite) -> ProofOptions {
        ProofOptions {
            suite,
            purpose: "assertionMethod",
            created: "2026-12-05T10:00:00Z".into(),
            challenge: None,
            domain: None,
        }
    }

    #[tokio::test]
    async fn what_is_signed_here_verifies_and_a_changed_copy_does_not() {
        let unsigned = vector("ob3_testvector_credential.json");
        for suite in Suite::SIGNED {
            let (key, _) = SigningKey::generate(suite.algorithm()).expect("key");
            let key = Arc::new(key);
            let did = crate::did::key::did_key_for(key.public_jwk()).expect("did");
            let method = format!("{did}#{}", did.method_specific_id());
            let mut doc = unsigned.clone();
            doc.insert(
                "issuer".into(),
                json!({"id": did.as_str(), "type": ["Profile"]}),
            );
            let signed = sign(&doc, &options(suite), &key, &method, did.as_str())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", suite.name()));
            let proof = proof_of(&signed).expect("proof");
            assert_eq!(proof["cryptosuite"], suite.name());
            assert_eq!(proof["verificationMethod"], method.as_str());
            assert_eq!(proof["proofPurpose"], "assertionMethod");
            assert_eq!(proof["created"], "2026-12-05T10:00:00Z");
            let value = proof["proofValue"].as_str().expect("proofValue");
            assert!(value.starts_with('z'), "base58-btc multibase: {value}");
            // The signature is the suite's: 64 bytes for both (Ed25519; P-256 r||s).
            assert_eq!(bs58::decode(&value[1..]).into_vec().expect("b58").len(), 64);
            // The document is unchanged but for the proof.
            let mut bare = signed.clone();
            bare.remove("proof");
            assert_eq!(bare, doc);
            verify(&signed, &method, did.as_str(), key.public_jwk())
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", suite.name()));
            let mut changed = signed.clone();
            changed.insert("name".into(), json!("Another name"));
            assert!(matches!(
                verify(&changed, &method, did.as_str(), key.public_jwk()).await,
                Err(ProofError::Invalid(_))
            ));
        }
    }

    #[tokio::test]
    async fn signing_refuses_a_signed_document_an_older_suite_or_the_wrong_key() {
        let doc = vector("ob3_testvector_credential.json");
        let (ed, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let ed = Arc::new(ed);
        let m = "did:example:1#k";
        assert!(
            sign(
                &vector("ob3_testvector_signed_credential.json"),
                &options(Suite::EddsaRdfc2022),
                &ed,
                m,
                "did:example:1"
            )
            .await
            .is_err()
        );
        assert!(matches!(
            sign(
                &doc,
                &options(Suite::Ed25519Signature2020),
                &ed,
                m,
                "did:example:1"
            )
            .await,
            Err(ProofError::Unsupported(_))
        ));
        assert!(
            sign(
                &doc,
                &options(Suite::EcdsaRdfc2019),
                &ed,
                m,
                "did:example:1"
            )
            .await
            .is_err()
        );
        let mut unknown = doc.clone();
        unknown.insert(
            "@context".into(),
            json!([
                "https://www.w3.org/ns/credentials/v2",
                "https://example.org/ctx.jsonld"
            ]),
        );
        let e = sign(
            &unknown,
            &options(Suite::EddsaRdfc2022),
            &ed,
            m,
            "did:example:1",
        )
        .await
        .expect_err("unknown context");
        assert!(e.to_string().contains("context"), "{e}");
    }

    #[tokio::test]
    async fn undefined_terms_and_numbers_the_processor_cannot_take_are_refused() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let key = Arc::new(key);
        let ctx = json!(["https://www.w3.org/ns/credentials/v2",
            {"ex": "https://example.org/v#", "hours": "ex:hours", "Emp": "ex:Emp"}]);
        let doc = |subject: Value, kind: &str| {
            json!({"@context": ctx, "type": ["VerifiableCredential", kind],
                   "issuer": "did:example:1", "credentialSubject": subject})
            .as_object()
            .cloned()
            .expect("object")
        };
        let m = "did:example:1#k";
        let opts = options(Suite::EddsaRdfc2022);
        // Defined terms and ordinary numbers sign and verify.
        let signed = sign(
            &doc(json!({"hours": 37.5}), "Emp"),
            &opts,
            &key,
            m,
            "did:example:1",
        )
        .await
        .expect("signs");
        verify(&signed, m, "did:example:1", key.public_jwk())
            .await
            .expect("verifies");
        // An undefined type or term is an error, never silently dropped.
        for bad in [
            doc(json!({"hours": 1}), "Undefined"),
            doc(json!({"minutes": 1}), "Emp"),
        ] {
            let e = sign(&bad, &opts, &key, m, "did:example:1")
                .await
                .expect_err("undefined");
            assert!(e.to_string().contains("not defined"), "{e}");
        }
        for n in ["1e300", "18446744073709551616", "-9223372036854775809"] {
            let subject: Value =
                serde_json::from_str(&format!("{{\"hours\": {n}}}")).expect("json");
            let e = sign(
                &doc(subject.clone(), "Emp"),
                &opts,
                &key,
                m,
                "did:example:1",
            )
            .await
            .expect_err(n);
            assert!(e.to_string().contains("cannot be processed"), "{n}: {e}");
            let mut forged = signed.clone();
            forged.insert("credentialSubject".into(), subject);
            assert!(
                verify(&forged, m, "did:example:1", key.public_jwk())
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn blank_node_identifiers_and_many_look_alike_objects_are_not_canonicalised() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let key = Arc::new(key);
        let ctx = json!(["https://www.w3.org/ns/credentials/v2",
            {"ex": "https://example.org/v#", "knows": {"@id": "ex:knows", "@type": "@id"},
             "part": "ex:part", "n": "ex:n"}]);
        let doc = |subject: Value| {
            json!({"@context": ctx, "type": ["VerifiableCredential"],
                   "issuer": "did:example:1", "credentialSubject": subject})
            .as_object()
            .cloned()
            .expect("object")
        };
        let opts = options(Suite::EddsaRdfc2022);
        let m = "did:example:1#k";
        // Blank nodes tied to each other by explicit identifiers (a poison graph).
        let ring: Vec<Value> = (0..8)
            .map(|i| json!({"@id": format!("_:b{i}"), "knows": [format!("_:b{}", (i + 1) % 8), format!("_:b{}", (i + 3) % 8)]}))
            .collect();
        let started = std::time::Instant::now();
        let e = sign(&doc(json!({"part": ring})), &opts, &key, m, "did:example:1")
            .await
            .expect_err("refused");
        assert!(e.to_string().contains("blank node"), "{e}");
        // Many objects that say the same, nested.
        let alike: Vec<Value> = (0..6)
            .map(|_| json!({"part": [{"n": 1}, {"n": 1}]}))
            .collect();
        let e = sign(
            &doc(json!({"part": alike})),
            &opts,
            &key,
            m,
            "did:example:1",
        )
        .await
        .expect_err("refused");
        assert!(matches!(e, ProofError::Unsupported(_)), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A few different ones, and a couple alike, are fine.
        let fine = json!({"part": [{"n": 1}, {"n": 2}, {"n": 2}, {"n": 3, "part": {"n": 4}}]});
        let signed = sign(&doc(fine), &opts, &key, m, "did:example:1")
            .await
            .expect("signs");
        verify(&signed, m, "did:example:1", key.public_jwk())
            .await
            .expect("verifies");
    }

    #[test]
    fn other_proof_types_and_suites_are_named_as_unsupported() {
        let p = |v: Value| v.as_object().expect("object").clone();
        assert_eq!(
            suite_of(&p(serde_json::json!({"type": "Ed25519Signature2020"}))),
            Ok(Suite::Ed25519Signature2020)
        );
        assert!(matches!(
            suite_of(&p(serde_json::json!({"type": "RsaSignature2018"}))),
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
            Ok(Suite::EcdsaRdfc2019)
        );
    }
}
