//! Compact JWS (RFC 7515 §7.1), parsed strictly and signed without surprises.
//!
//! Parsing order matters for safety: the length cap and the dot count are checked on
//! the raw string before anything is decoded; each part must be base64url without
//! padding; the header and payload must be JSON objects without duplicate members.
//! Only then does a caller look at `alg`/`kid`/`typ`, through an explicit
//! [`HeaderPolicy`] per kind of JWT (badge, status list, proof ...).

use serde::Serialize;
use serde_json::{Map, Value};

use super::json::{StrictError, from_slice_strict};
use super::{Algorithm, Error, PublicJwk, SigningKey, b64, b64_decode};

/// The longest compact JWS accepted, in bytes. Badges with embedded data-URI images
/// can be large, but nothing legitimate comes near this.
pub const MAX_TOKEN_LEN: usize = 1 << 20;

/// A compact JWS whose structure has been checked but whose signature has not.
#[derive(Debug, Clone)]
pub struct CompactJws {
    header: Map<String, Value>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    signing_input_len: usize,
    raw: String,
}

/// Which header parameters a kind of JWT may carry and which `typ` values it accepts.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPolicy {
    /// Parameters allowed besides `alg` (which is always required).
    pub allowed: &'static [&'static str],
    /// Accepted `typ` values; `None` in the list means "absent is fine".
    pub typ: &'static [Option<&'static str>],
    /// How the expected type is named in error messages.
    pub typ_label: &'static str,
}

impl CompactJws {
    /// Parses the structure of a compact JWS.
    pub fn parse(token: &str) -> Result<Self, Error> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::TooLong(token.len()));
        }
        let dots = token.bytes().filter(|b| *b == b'.').count();
        if dots != 2 {
            return Err(Error::NotCompact(dots));
        }
        let mut parts = token.splitn(3, '.');
        let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s)) => (h, p, s),
            _ => return Err(Error::NotCompact(dots)),
        };
        let header_bytes = b64_decode(h, "JOSE header")?;
        let payload = b64_decode(p, "payload")?;
        let signature = b64_decode(s, "signature")?;
        let header = match parse_object(&header_bytes, "JOSE header")? {
            Value::Object(m) => m,
            _ => return Err(Error::NotAnObject("JOSE header")),
        };
        Ok(Self {
            header,
            payload,
            signature,
            signing_input_len: h.len() + 1 + p.len(),
            raw: token.to_owned(),
        })
    }

    /// The decoded JOSE header.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The header's `alg`, if it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `kid`, if it is a string.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The header's `typ`, if it is a string.
    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    /// The raw payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload parsed strictly as a JSON object.
    pub fn payload_json(&self) -> Result<Map<String, Value>, Error> {
        match parse_object(&self.payload, "payload")? {
            Value::Object(m) => Ok(m),
            _ => Err(Error::NotAnObject("payload")),
        }
    }

    /// The compact serialisation this was parsed from.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Checks the header against a policy: `alg` present, a supported name (never
    /// `none`), no parameter outside the allowlist, no `crit`, and an accepted `typ`.
    pub fn check_header(&self, policy: &HeaderPolicy) -> Result<Algorithm, Error> {
        let alg = match self.header.get("alg") {
            Some(Value::String(a)) => a.as_str(),
            Some(_) => return Err(Error::UnsupportedAlgorithm("(not a string)".into())),
            None => return Err(Error::MissingAlg),
        };
        if alg.eq_ignore_ascii_case("none") {
            return Err(Error::AlgNone);
        }
        let alg = match alg {
            "ES256" => Algorithm::ES256,
            "RS256" => Algorithm::RS256,
            "EdDSA" => Algorithm::EdDSA,
            "ES384" => Algorithm::ES384,
            "ES256K" => Algorithm::ES256K,
            other => return Err(Error::UnsupportedAlgorithm(other.to_owned())),
        };
        for name in self.header.keys() {
            if name != "alg" && !policy.allowed.contains(&name.as_str()) {
                return Err(Error::DisallowedHeader(name.clone()));
            }
        }
        for (name, v) in &self.header {
            if matches!(name.as_str(), "kid" | "typ" | "cty") && !v.is_string() {
                return Err(Error::DisallowedHeader(format!("{name} (not a string)")));
            }
        }
        let typ = self.typ();
        if !policy.typ.contains(&typ) {
            return Err(Error::WrongType {
                found: typ.map(str::to_owned),
                expected: policy.typ_label,
            });
        }
        Ok(alg)
    }

    /// Verifies the signature with `key`. The algorithm is the key's; a header that
    /// names any other algorithm fails here, before any cryptography runs.
    pub fn verify(&self, key: &PublicJwk) -> Result<(), Error> {
        let header_alg = self.alg().ok_or(Error::MissingAlg)?;
        if header_alg.eq_ignore_ascii_case("none") {
            return Err(Error::AlgNone);
        }
        if header_alg != key.algorithm().name() {
            return Err(Error::AlgorithmMismatch {
                header: header_alg.to_owned(),
                key: key.algorithm(),
            });
        }
        let input = &self.raw.as_bytes()[..self.signing_input_len];
        key.verify(input, &self.signature)
    }
}

fn parse_object(bytes: &[u8], part: &'static str) -> Result<Value, Error> {
    match from_slice_strict(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(Error::NotAnObject(part)),
        Err(StrictError::Duplicate(key)) => Err(Error::DuplicateKey { part, key }),
        Err(StrictError::Syntax(reason)) => Err(Error::Json { part, reason }),
    }
}

#[derive(Serialize)]
struct SignHeader<'a> {
    alg: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cty: Option<&'a str>,
}

/// Signs `payload` as a compact JWS whose header is exactly `alg`, `kid` (when given)
/// and `typ` (when given).
pub fn sign_compact(
    key: &SigningKey,
    kid: Option<&str>,
    typ: Option<&str>,
    payload: &[u8],
) -> Result<String, Error> {
    sign_compact_with(key, kid, typ, None, payload)
}

/// [`sign_compact`] with a `cty` header too (VC-JOSE-COSE §3.1.1 names the content
/// type of a secured credential `vc`).
pub fn sign_compact_with(
    key: &SigningKey,
    kid: Option<&str>,
    typ: Option<&str>,
    cty: Option<&str>,
    payload: &[u8],
) -> Result<String, Error> {
    let header = SignHeader {
        alg: key.algorithm().name(),
        kid,
        typ,
        cty,
    };
    let header = serde_json::to_vec(&header).map_err(|e| Error::Signing(e.to_string()))?;
    let mut out = b64(header);
    out.push('.');
    out.push_str(&b64(payload));
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&b64(sig));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: HeaderPolicy = HeaderPolicy {
        allowed: &["kid", "typ"],
        typ: &[None, Some("JWT")],
        typ_label: "JWT or none",
    };

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64(sig))
    }

    #[test]
    fn signed_token_verifies_and_tampering_fails() {
        for alg in Algorithm::ALL {
            let (key, _) = SigningKey::generate(alg).expect("key");
            let jws =
                sign_compact(&key, Some("did:x#1"), Some("JWT"), br#"{"a":1}"#).expect("sign");
            let parsed = CompactJws::parse(&jws).expect("parses");
            assert_eq!(parsed.check_header(&ANY).expect("header ok"), alg);
            parsed.verify(key.public_jwk()).expect("verifies");

            let mut parts: Vec<&str> = jws.split('.').collect();
            let evil = b64(r#"{"a":2}"#);
            parts[1] = &evil;
            let tampered = CompactJws::parse(&parts.join(".")).expect("parses");
            assert!(matches!(
                tampered.verify(key.public_jwk()),
                Err(Error::BadSignature)
            ));
        }
    }

    #[test]
    fn alg_none_in_any_casing_is_rejected() {
        for none in ["none", "None", "NONE", "nOnE"] {
            let t = token(&format!(r#"{{"alg":"{none}"}}"#), "{}", b"");
            let p = CompactJws::parse(&t).expect("structure ok");
            assert!(matches!(p.check_header(&ANY), Err(Error::AlgNone)));
            let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
            assert!(matches!(p.verify(key.public_jwk()), Err(Error::AlgNone)));
        }
    }

    #[test]
    fn hmac_algorithms_are_unsupported() {
        let t = token(r#"{"alg":"HS256"}"#, "{}", b"x");
        let p = CompactJws::parse(&t).expect("structure ok");
        assert!(matches!(
            p.check_header(&ANY),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }

    #[test]
    fn header_alg_that_differs_from_the_key_fails_before_crypto() {
        let (es, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let (ed, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let jws = sign_compact(&ed, None, None, b"{}").expect("sign");
        let p = CompactJws::parse(&jws).expect("parses");
        assert!(matches!(
            p.verify(es.public_jwk()),
            Err(Error::AlgorithmMismatch { .. })
        ));
    }

    #[test]
    fn wrong_number_of_dots_is_rejected_before_decoding() {
        assert!(matches!(
            CompactJws::parse("a.b"),
            Err(Error::NotCompact(1))
        ));
        assert!(matches!(
            CompactJws::parse("a.b.c.d"),
            Err(Error::NotCompact(3))
        ));
        let many = ".".repeat(100_000);
        assert!(matches!(
            CompactJws::parse(&many),
            Err(Error::NotCompact(100_000))
        ));
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert!(matches!(CompactJws::parse(&long), Err(Error::TooLong(_))));
    }

    #[test]
    fn duplicate_header_members_are_rejected() {
        let t = token(r#"{"alg":"ES256","alg":"none"}"#, "{}", b"x");
        assert!(matches!(
            CompactJws::parse(&t),
            Err(Error::DuplicateKey {
                part: "JOSE header",
                ..
            })
        ));
    }

    #[test]
    fn headers_outside_the_allowlist_are_rejected() {
        for extra in ["jku", "x5u", "crit", "jwk", "x5c"] {
            let t = token(
                &format!(r#"{{"alg":"ES256","{extra}":"https://evil.example"}}"#),
                "{}",
                b"x",
            );
            let p = CompactJws::parse(&t).expect("structure ok");
            assert!(
                matches!(p.check_header(&ANY), Err(Error::DisallowedHeader(ref n)) if n == extra),
                "{extra}"
            );
        }
    }

    #[test]
    fn wrong_typ_is_rejected() {
        let t = token(
            r#"{"alg":"ES256","typ":"openid4vci-proof+jwt"}"#,
            "{}",
            b"x",
        );
        let p = CompactJws::parse(&t).expect("structure ok");
        assert!(matches!(p.check_header(&ANY), Err(Error::WrongType { .. })));
    }

    #[test]
    fn non_object_header_or_payload_is_rejected() {
        let t = token("[1]", "{}", b"x");
        assert!(matches!(
            CompactJws::parse(&t),
            Err(Error::NotAnObject("JOSE header"))
        ));
        let t = token(r#"{"alg":"ES256"}"#, "42", b"x");
        let p = CompactJws::parse(&t).expect("structure ok");
        assert!(matches!(
            p.payload_json(),
            Err(Error::NotAnObject("payload"))
        ));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(24))]
            #[test]
            fn any_payload_round_trips_through_sign_and_verify(payload in proptest::collection::vec(any::<u8>(), 0..512)) {
                let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
                let jws = sign_compact(&key, Some("k"), Some("JWT"), &payload).expect("sign");
                let p = CompactJws::parse(&jws).expect("parse");
                prop_assert_eq!(p.payload(), payload.as_slice());
                prop_assert!(p.verify(key.public_jwk()).is_ok());
            }

            #[test]
            fn parser_never_panics_on_arbitrary_text(s in ".{0,300}") {
                let _ = CompactJws::parse(&s);
            }
        }
    }
}
