//! Proof of possession: the `jwt` proof type (OpenID4VCI 1.0 Appendix F.1, checks per
//! F.4; draft 13 §7.2.1.1 and §7.2.2).
//!
//! A proof JWT is accepted only when:
//! - it is a compact JWS of at most [`MAX_PROOF_LEN`] bytes with no duplicate JSON
//!   members, typed `openid4vci-proof+jwt`, signed with ES256, EdDSA or RS256 (never
//!   `none`, never a MAC);
//! - its header names the key in exactly one way: `kid` (a did:key or did:jwk DID
//!   URL) or `jwk` (a public key); `x5c`, `trust_chain`, `key_attestation` and every
//!   other parameter are refused;
//! - the signature verifies with that key, whose type decides the algorithm;
//! - `aud` is the Credential Issuer Identifier, `iat` is a number no more than
//!   [`IAT_MAX_AGE`] seconds old and no more than [`IAT_MAX_AHEAD`] ahead, and an `exp`,
//!   if any, has not passed.
//!
//! The `nonce` is returned to the caller, which consumes it (single use) before it
//! issues the badge. Nothing here keys on signature bytes, so the high-S twin of a
//! replayed ECDSA proof carries the same spent nonce and fails the same way.

use serde_json::Value;

use crate::did::{self, Did, DidUrl};
use crate::jose::PublicJwk;
use crate::jose::jws::{CompactJws, HeaderPolicy};

/// The proof JWT's `typ`.
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// The longest proof JWT accepted.
pub const MAX_PROOF_LEN: usize = 16 * 1024;
/// How old `iat` may be, in seconds.
pub const IAT_MAX_AGE: i64 = 300;
/// How far ahead of our clock `iat` may be, in seconds.
pub const IAT_MAX_AHEAD: i64 = 60;

const POLICY: HeaderPolicy = HeaderPolicy {
    allowed: &["kid", "jwk", "typ"],
    typ: &[Some(PROOF_TYP)],
    typ_label: PROOF_TYP,
};

/// Why a proof was refused; the text is safe to return to the wallet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProofError(pub String);

fn refuse(m: impl Into<String>) -> ProofError {
    ProofError(m.into())
}

/// The key a proof was signed with, and what it says.
#[derive(Debug, Clone)]
pub struct ProvenKey {
    /// The holder DID the key stands for: the `kid`'s DID, or the did:jwk of `jwk`.
    pub holder: Did,
    pub key: PublicJwk,
    /// The `nonce` claim, if any.
    pub nonce: Option<String>,
}

/// Checks a proof JWT for `audience` (the Credential Issuer Identifier) at `now`
/// (unix seconds).
pub fn verify_proof(jwt: &str, audience: &str, now: i64) -> Result<ProvenKey, ProofError> {
    if jwt.len() > MAX_PROOF_LEN {
        return Err(refuse(format!(
            "the proof is {} bytes, over the {MAX_PROOF_LEN} byte limit",
            jwt.len()
        )));
    }
    let jws = CompactJws::parse(jwt).map_err(|e| refuse(format!("the proof JWT: {e}")))?;
    jws.check_header(&POLICY)
        .map_err(|e| refuse(format!("the proof JWT header: {e}")))?;
    let header = jws.header();
    let (holder, key) = match (header.get("kid"), header.get("jwk")) {
        (Some(_), Some(_)) => {
            return Err(refuse(
                "the proof header names its key twice: give kid or jwk, not both",
            ));
        }
        (None, None) => return Err(refuse("the proof header must name its key with kid or jwk")),
        (Some(kid), None) => key_from_kid(kid.as_str().unwrap_or_default())?,
        (None, Some(jwk)) => {
            let key =
                PublicJwk::from_value(jwk).map_err(|e| refuse(format!("the proof's jwk: {e}")))?;
            (did::jwk::did_jwk_for(&key), key)
        }
    };
    jws.verify(&key)
        .map_err(|e| refuse(format!("the proof signature: {e}")))?;
    let claims = jws
        .payload_json()
        .map_err(|e| refuse(format!("the proof claims: {e}")))?;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(a)) => a.iter().any(|x| x == audience),
        _ => false,
    };
    if !aud_ok {
        return Err(refuse(format!(
            "the proof's aud must be the credential issuer {audience:?}"
        )));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or_else(|| refuse("the proof needs iat as a number of seconds"))?;
    if iat < now.saturating_sub(IAT_MAX_AGE) {
        return Err(refuse(format!(
            "the proof was made {}s ago; at most {IAT_MAX_AGE}s is accepted",
            now.saturating_sub(iat)
        )));
    }
    if iat > now.saturating_add(IAT_MAX_AHEAD) {
        return Err(refuse("the proof's iat is in the future"));
    }
    if let Some(exp) = claims.get("exp") {
        match exp.as_i64() {
            Some(e) if e > now => {}
            Some(_) => return Err(refuse("the proof has expired")),
            None => return Err(refuse("the proof's exp is not a number")),
        }
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(refuse("the proof's nonce is not a string")),
    };
    Ok(ProvenKey { holder, key, nonce })
}

/// A `kid` that is a did:key or did:jwk URL (a bare DID is taken as its one key).
fn key_from_kid(kid: &str) -> Result<(Did, PublicJwk), ProofError> {
    let (did, fragment) = if kid.contains('#') {
        let u: DidUrl = kid
            .parse()
            .map_err(|_| refuse(format!("the proof's kid {kid:?} is not a DID URL")))?;
        (u.did().clone(), Some(u.fragment().to_owned()))
    } else {
        let d: Did = kid
            .parse()
            .map_err(|_| refuse(format!("the proof's kid {kid:?} is not a DID URL")))?;
        (d, None)
    };
    let key = match did.method() {
        "key" => {
            if fragment
                .as_deref()
                .is_some_and(|f| f != did.method_specific_id())
            {
                return Err(refuse("a did:key kid's fragment must be its key id"));
            }
            did::key::resolve(&did)
        }
        "jwk" => {
            if fragment.as_deref().is_some_and(|f| f != did::jwk::FRAGMENT) {
                return Err(refuse("a did:jwk kid's fragment must be 0"));
            }
            did::jwk::resolve(&did)
        }
        m => {
            return Err(refuse(format!(
                "the proof's kid uses did:{m}; did:key and did:jwk are supported (or send jwk)"
            )));
        }
    }
    .map_err(|e| refuse(format!("the proof's kid: {e}")))?;
    Ok((did, key))
}

/// Whether `key` is the key of `subject` (a did:key or did:jwk), for awards that
/// name their recipient's DID.
pub fn key_matches_did(key: &PublicJwk, subject: &str) -> bool {
    let Ok(did) = subject.parse::<Did>() else {
        return false;
    };
    let resolved = match did.method() {
        "key" => did::key::resolve(&did).ok(),
        "jwk" => did::jwk::resolve(&did).ok(),
        _ => None,
    };
    resolved.is_some_and(|k| &k == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, SigningKey};
    use serde_json::json;

    const AUD: &str = "https://badges.example.edu";
    const NOW: i64 = 1_800_000_000;

    fn sign(key: &SigningKey, header: Value, claims: Value) -> String {
        let h = crate::jose::b64(serde_json::to_vec(&header).expect("json"));
        let p = crate::jose::b64(serde_json::to_vec(&claims).expect("json"));
        let input = format!("{h}.{p}");
        let sig = key.sign(input.as_bytes()).expect("signs");
        format!("{input}.{}", crate::jose::b64(sig))
    }

    fn did_key(key: &SigningKey) -> String {
        crate::did::key::did_key_for(key.public_jwk())
            .expect("did")
            .to_string()
    }

    fn good_claims() -> Value {
        json!({"aud": AUD, "iat": NOW, "nonce": "n-1"})
    }

    #[test]
    fn a_did_key_proof_binds_to_that_did() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let (k, _) = SigningKey::generate(alg).expect("key");
            let did = did_key(&k);
            let msid = did.trim_start_matches("did:key:");
            let jwt = sign(
                &k,
                json!({"alg": alg.name(), "typ": PROOF_TYP, "kid": format!("{did}#{msid}")}),
                good_claims(),
            );
            let p = verify_proof(&jwt, AUD, NOW).expect("accepted");
            assert_eq!(p.holder.as_str(), did);
            assert_eq!(p.nonce.as_deref(), Some("n-1"));
            assert!(key_matches_did(&p.key, &did));
        }
    }

    #[test]
    fn a_jwk_proof_binds_to_its_did_jwk() {
        let (k, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let jwt = sign(
            &k,
            json!({"alg": "ES256", "typ": PROOF_TYP, "jwk": k.public_jwk().to_value()}),
            good_claims(),
        );
        let p = verify_proof(&jwt, AUD, NOW).expect("accepted");
        assert!(p.holder.as_str().starts_with("did:jwk:"));
        assert_eq!(
            crate::did::jwk::resolve(&p.holder).expect("resolves"),
            *k.public_jwk()
        );
    }

    #[test]
    fn every_rule_refuses_its_violation() {
        let (k, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let (other, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let did = did_key(&k);
        let kid = format!("{did}#{}", did.trim_start_matches("did:key:"));
        let h = |extra: Value| {
            let mut v = json!({"alg": "ES256", "typ": PROOF_TYP, "kid": kid});
            for (a, b) in extra.as_object().expect("obj") {
                if b.is_null() {
                    v.as_object_mut().expect("obj").remove(a);
                } else {
                    v[a] = b.clone();
                }
            }
            v
        };
        let cases: Vec<(&str, String)> = vec![
            ("typ JWT", sign(&k, h(json!({"typ": "JWT"})), good_claims())),
            ("no typ", sign(&k, h(json!({"typ": null})), good_claims())),
            (
                "kid and jwk",
                sign(
                    &k,
                    h(json!({"jwk": k.public_jwk().to_value()})),
                    good_claims(),
                ),
            ),
            ("no key", sign(&k, h(json!({"kid": null})), good_claims())),
            ("x5c", sign(&k, h(json!({"x5c": ["MIIB"]})), good_claims())),
            (
                "did:web kid",
                sign(
                    &k,
                    h(json!({"kid": "did:web:evil.example#k"})),
                    good_claims(),
                ),
            ),
            (
                "wrong fragment",
                sign(&k, h(json!({"kid": format!("{did}#other")})), good_claims()),
            ),
            (
                "signed by another key",
                sign(&other, h(json!({})), good_claims()),
            ),
            (
                "alg none",
                sign(&k, h(json!({"alg": "none"})), good_claims()),
            ),
            ("HS256", sign(&k, h(json!({"alg": "HS256"})), good_claims())),
            (
                "wrong aud",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": "https://evil.example", "iat": NOW, "nonce": "n"}),
                ),
            ),
            (
                "no aud",
                sign(&k, h(json!({})), json!({"iat": NOW, "nonce": "n"})),
            ),
            (
                "old iat",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": AUD, "iat": NOW - IAT_MAX_AGE - 1}),
                ),
            ),
            (
                "future iat",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": AUD, "iat": NOW + IAT_MAX_AHEAD + 1}),
                ),
            ),
            (
                "string iat",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": AUD, "iat": NOW.to_string()}),
                ),
            ),
            ("no iat", sign(&k, h(json!({})), json!({"aud": AUD}))),
            (
                "iat at i64::MIN",
                sign(&k, h(json!({})), json!({"aud": AUD, "iat": i64::MIN})),
            ),
            (
                "iat at i64::MAX",
                sign(&k, h(json!({})), json!({"aud": AUD, "iat": i64::MAX})),
            ),
            (
                "expired",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": AUD, "iat": NOW, "exp": NOW - 1}),
                ),
            ),
            (
                "numeric nonce",
                sign(
                    &k,
                    h(json!({})),
                    json!({"aud": AUD, "iat": NOW, "nonce": 7}),
                ),
            ),
        ];
        for (name, jwt) in cases {
            assert!(verify_proof(&jwt, AUD, NOW).is_err(), "{name} was accepted");
        }
        let private = {
            let mut j = k.public_jwk().to_value();
            j["d"] = json!("AAAA");
            sign(
                &k,
                json!({"alg": "ES256", "typ": PROOF_TYP, "jwk": j}),
                good_claims(),
            )
        };
        assert!(verify_proof(&private, AUD, NOW).is_err());
        let dup = {
            let good = sign(&k, h(json!({})), good_claims());
            let (_, rest) = good.split_once('.').expect("dots");
            let header = crate::jose::b64(format!(
                r#"{{"alg":"ES256","typ":"{PROOF_TYP}","kid":"{kid}","kid":"did:key:x"}}"#
            ));
            format!("{header}.{rest}")
        };
        assert!(verify_proof(&dup, AUD, NOW).is_err());
        assert!(verify_proof(&"a.".repeat(MAX_PROOF_LEN), AUD, NOW).is_err());
        // The good one, to show the cases above fail for their own reason.
        assert!(verify_proof(&sign(&k, h(json!({})), good_claims()), AUD, NOW).is_ok());
    }
}
