//! JOSE for badges: keys, JWKs, strict compact JWS, and the Open Badges 3.0 JWT claims.
//!
//! Specs: RFC 7515 (JWS), RFC 7517 (JWK), RFC 7518 (algorithms), RFC 7638 (JWK
//! thumbprint), RFC 8037 (EdDSA), Open Badges 3.0 §8.2 "JSON Web Token Proof Format"
//! (<https://www.imsglobal.org/spec/ob/v3p0/#jwt-proof>), and W3C VC-JOSE-COSE §3.1.1
//! (<https://www.w3.org/TR/vc-jose-cose/#securing-with-jose>).
//!
//! ES256 and RS256 go through OpenSSL by way of `josekit`; EdDSA goes through
//! `ed25519-dalek` (faster here, and `verify_strict` rejects the malleable and
//! small-order cases that plain Ed25519 verification lets through). There is no HMAC
//! path anywhere: a symmetric algorithm can never be reached, whatever a header says.

pub mod claims;
pub mod json;
pub mod jwk;
pub mod jws;
pub mod keys;

pub use jwk::PublicJwk;
pub use keys::SigningKey;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The JWS algorithms this service signs and verifies with. The set is closed: any
/// other `alg` (including `none` and every HMAC) is rejected before a key is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256 (RFC 7518 §3.4); the default signing algorithm.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3); the OB 3.0 interoperability minimum.
    RS256,
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA with P-384 and SHA-384 (RFC 7518 §3.4): verified, never signed with.
    ES384,
    /// ECDSA with secp256k1 and SHA-256 (RFC 8812 §3.2): verified, never signed with.
    ES256K,
}

impl Algorithm {
    /// Every algorithm, in the order benchmarks and docs list them.
    pub const ALL: [Algorithm; 3] = [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA];

    /// The registered `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::RS256 => "RS256",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::ES384 => "ES384",
            Algorithm::ES256K => "ES256K",
        }
    }

    /// Whether this service signs with it (`--key-alg`); the others are verified only.
    pub fn signs(self) -> bool {
        Self::ALL.contains(&self)
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = Error;

    /// Parses a configured algorithm name. Case-insensitive for operators' convenience;
    /// JWS headers are matched exactly elsewhere.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_uppercase().as_str() {
            "ES256" => Ok(Algorithm::ES256),
            "RS256" => Ok(Algorithm::RS256),
            "EDDSA" | "ED25519" => Ok(Algorithm::EdDSA),
            _ => Err(Error::UnsupportedAlgorithm(s.to_owned())),
        }
    }
}

/// Everything that can go wrong in JOSE handling. Messages are safe to show to callers:
/// they never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("token is {0} bytes, over the {max} byte limit", max = jws::MAX_TOKEN_LEN)]
    TooLong(usize),
    #[error("a compact JWS has exactly three parts separated by two dots; found {0} dots")]
    NotCompact(usize),
    #[error("the {0} is not base64url without padding")]
    Base64(&'static str),
    #[error("the {part} is not valid JSON: {reason}")]
    Json { part: &'static str, reason: String },
    #[error("the {part} has a duplicate member \"{key}\"")]
    DuplicateKey { part: &'static str, key: String },
    #[error("the {0} must be a JSON object")]
    NotAnObject(&'static str),
    #[error("the JOSE header has no \"alg\"")]
    MissingAlg,
    #[error("\"alg\": \"none\" is never accepted")]
    AlgNone,
    #[error("algorithm \"{0}\" is not supported (ES256, RS256, EdDSA are)")]
    UnsupportedAlgorithm(String),
    #[error("header \"alg\" is {header} but the key only verifies {key}")]
    AlgorithmMismatch { header: String, key: Algorithm },
    #[error("header parameter \"{0}\" is not allowed here")]
    DisallowedHeader(String),
    #[error("header \"typ\" is {found:?}; expected {expected}")]
    WrongType {
        found: Option<String>,
        expected: &'static str,
    },
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("key file error: {0}")]
    KeyFile(String),
}

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding: no padding, no whitespace, no stray trailing bits.
pub fn b64_decode(s: &str, part: &'static str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| Error::Base64(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>().expect("parses"), alg);
        }
        assert!("none".parse::<Algorithm>().is_err());
        assert!("HS256".parse::<Algorithm>().is_err());
    }

    #[test]
    fn base64_with_padding_or_trailing_bits_is_rejected() {
        assert_eq!(b64_decode("Zm9v", "payload").expect("ok"), b"foo");
        assert!(b64_decode("Zm9vYg==", "payload").is_err());
        assert!(b64_decode("Zm9vYh", "payload").is_err());
        assert!(b64_decode("Zm9v Yg", "payload").is_err());
    }
}
