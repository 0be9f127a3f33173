//! Public JSON Web Keys (RFC 7517), parsed once, checked, and ready to verify with.
//!
//! A `PublicJwk` only ever holds public parameters: parsing drops nothing silently but
//! refuses any private member (`d`, `p`, `q`, ...), so a private key can never be
//! published in a DID document or trusted from a header. Weak or invalid keys (RSA
//! under 2048 bits, EC points off the curve, Ed25519 points that are not canonical)
//! are rejected here, at load time.

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::EcGroup;
use openssl::nid::Nid;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{Algorithm, Error, b64, b64_decode};

/// The smallest RSA modulus accepted, in bits (NIST SP 800-131A; OB 3.0 implementations
/// use 2048).
pub const MIN_RSA_BITS: usize = 2048;
/// The largest RSA modulus accepted, in bits: bigger keys only make verification slow
/// (a cost a forger could impose on the verifier).
pub const MAX_RSA_BITS: usize = 8192;

/// The public parameters of a supported key, in their JWK string forms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwkParams {
    /// `{"kty":"EC","crv":"P-256","x":..,"y":..}`
    P256 { x: String, y: String },
    /// `{"kty":"RSA","n":..,"e":..}`
    Rsa { n: String, e: String },
    /// `{"kty":"OKP","crv":"Ed25519","x":..}`
    Ed25519 { x: String },
    /// `{"kty":"EC","crv":"P-384","x":..,"y":..}` (verified only)
    P384 { x: String, y: String },
    /// `{"kty":"EC","crv":"secp256k1","x":..,"y":..}` (verified only)
    Secp256k1 { x: String, y: String },
}

/// A checked public key that can verify signatures of exactly one algorithm.
#[derive(Clone)]
pub struct PublicJwk {
    params: JwkParams,
    verifier: Verifier,
}

#[derive(Clone)]
enum Verifier {
    /// ES256 through OpenSSL's ECDSA directly: building an EVP key from DER costs
    /// more than the verification itself under OpenSSL 3, and holder keys are new on
    /// every OpenID4VCI request.
    P256(openssl::ec::EcKey<openssl::pkey::Public>),
    Ed25519(ed25519_dalek::VerifyingKey),
    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) through OpenSSL's EVP interface.
    Rs256(openssl::pkey::PKey<openssl::pkey::Public>),
    /// ES384 (P-384, SHA-384) and ES256K (secp256k1, SHA-256): R ‖ S of `size` bytes
    /// each.
    Ec {
        key: openssl::ec::EcKey<openssl::pkey::Public>,
        sha384: bool,
        size: usize,
    },
}

impl std::fmt::Debug for PublicJwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublicJwk")
            .field("alg", &self.algorithm())
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl PartialEq for PublicJwk {
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

impl PublicJwk {
    /// Parses and checks a JWK given as JSON. Members other than the key parameters
    /// (`kid`, `alg`, `use`, `key_ops`, ...) are allowed and ignored, except that an
    /// `alg` that disagrees with the key type, a `use` other than `sig`, and any private
    /// member are errors.
    pub fn from_value(v: &Value) -> Result<Self, Error> {
        let obj = v
            .as_object()
            .ok_or_else(|| Error::InvalidKey("a JWK must be a JSON object".into()))?;
        Self::from_map(obj)
    }

    /// As [`PublicJwk::from_value`], from an object.
    pub fn from_map(obj: &Map<String, Value>) -> Result<Self, Error> {
        if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
            return Err(Error::InvalidKey(format!(
                "the JWK carries the private or symmetric member \"{m}\""
            )));
        }
        let s = |name: &str| -> Result<String, Error> {
            obj.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Error::InvalidKey(format!("the JWK has no string \"{name}\"")))
        };
        let kty = s("kty")?;
        let params = match kty.as_str() {
            "EC" => {
                let (x, y) = (s("x")?, s("y")?);
                match s("crv")?.as_str() {
                    "P-256" => JwkParams::P256 { x, y },
                    "P-384" => JwkParams::P384 { x, y },
                    "secp256k1" => JwkParams::Secp256k1 { x, y },
                    crv => {
                        return Err(Error::InvalidKey(format!(
                            "EC curve \"{crv}\" is not supported (P-256, P-384 and secp256k1 are)"
                        )));
                    }
                }
            }
            "RSA" => JwkParams::Rsa {
                n: s("n")?,
                e: s("e")?,
            },
            "OKP" => {
                let crv = s("crv")?;
                if crv != "Ed25519" {
                    return Err(Error::InvalidKey(format!(
                        "OKP curve \"{crv}\" is not supported (Ed25519 is)"
                    )));
                }
                JwkParams::Ed25519 { x: s("x")? }
            }
            other => {
                return Err(Error::InvalidKey(format!(
                    "key type \"{other}\" is not supported (EC, RSA, OKP are)"
                )));
            }
        };
        let key = Self::from_params(params)?;
        if let Some(alg) = obj.get("alg")
            && alg.as_str() != Some(key.algorithm().name())
        {
            return Err(Error::InvalidKey(format!(
                "the JWK says \"alg\": {alg} but the key is for {}",
                key.algorithm()
            )));
        }
        if let Some(ops) = obj.get("key_ops") {
            let verifies = ops
                .as_array()
                .is_some_and(|a| a.iter().any(|o| o == "verify"));
            if !verifies {
                return Err(Error::InvalidKey(format!(
                    "the JWK's \"key_ops\" {ops} do not include \"verify\""
                )));
            }
        }
        if let Some(u) = obj.get("use")
            && u.as_str() != Some("sig")
        {
            return Err(Error::InvalidKey(format!(
                "the JWK says \"use\": {u}, not \"sig\""
            )));
        }
        Ok(key)
    }

    /// Builds the verifier for checked parameters.
    pub fn from_params(params: JwkParams) -> Result<Self, Error> {
        let verifier = match &params {
            JwkParams::P256 { x, y } => {
                let xb = b64_decode(x, "JWK x")?;
                let yb = b64_decode(y, "JWK y")?;
                if xb.len() != 32 || yb.len() != 32 {
                    return Err(Error::InvalidKey(
                        "P-256 coordinates must be 32 bytes each".into(),
                    ));
                }
                Verifier::P256(p256_key(&xb, &yb)?)
            }
            JwkParams::Rsa { n, e } => {
                let nb = b64_decode(n, "JWK n")?;
                let eb = b64_decode(e, "JWK e")?;
                if nb.first() == Some(&0) {
                    return Err(Error::InvalidKey(
                        "RSA modulus has a leading zero byte".into(),
                    ));
                }
                let bits = BigNum::from_slice(&nb)
                    .map_err(|e| Error::InvalidKey(e.to_string()))?
                    .num_bits();
                if usize::try_from(bits).unwrap_or(0) < MIN_RSA_BITS {
                    return Err(Error::InvalidKey(format!(
                        "RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
                    )));
                }
                if usize::try_from(bits).unwrap_or(usize::MAX) > MAX_RSA_BITS {
                    return Err(Error::InvalidKey(format!(
                        "RSA key has {bits} bits; at most {MAX_RSA_BITS} are accepted"
                    )));
                }
                let ev = BigNum::from_slice(&eb).map_err(|e| Error::InvalidKey(e.to_string()))?;
                if eb.is_empty()
                    || eb.len() > 4
                    || !ev.is_odd()
                    || ev <= BigNum::from_u32(1).map_err(|e| Error::InvalidKey(e.to_string()))?
                {
                    return Err(Error::InvalidKey("RSA public exponent is invalid".into()));
                }
                // Built from the components, not through a DER round trip: decoding
                // DER costs more than the verification under OpenSSL 3.
                let nv = BigNum::from_slice(&nb).map_err(|e| Error::InvalidKey(e.to_string()))?;
                let rsa = openssl::rsa::Rsa::from_public_components(nv, ev)
                    .map_err(|e| Error::InvalidKey(e.to_string()))?;
                let pkey = openssl::pkey::PKey::from_rsa(rsa)
                    .map_err(|e| Error::InvalidKey(e.to_string()))?;
                Verifier::Rs256(pkey)
            }
            JwkParams::P384 { x, y } => ec_verifier(Nid::SECP384R1, x, y, 48, true)?,
            JwkParams::Secp256k1 { x, y } => ec_verifier(Nid::SECP256K1, x, y, 32, false)?,
            JwkParams::Ed25519 { x } => {
                let xb: [u8; 32] = b64_decode(x, "JWK x")?
                    .try_into()
                    .map_err(|_| Error::InvalidKey("Ed25519 keys are 32 bytes".into()))?;
                let vk = ed25519_dalek::VerifyingKey::from_bytes(&xb)
                    .map_err(|_| Error::InvalidKey("not a valid Ed25519 point".into()))?;
                if vk.is_weak() {
                    return Err(Error::InvalidKey(
                        "Ed25519 key is a small-order point".into(),
                    ));
                }
                Verifier::Ed25519(vk)
            }
        };
        Ok(Self { params, verifier })
    }

    /// A public key from its PEM `SubjectPublicKeyInfo` (`-----BEGIN PUBLIC KEY-----`),
    /// as Open Badges 2.0 `CryptographicKey.publicKeyPem` carries it: RSA, P-256,
    /// P-384 or Ed25519, held to the same rules as a JWK.
    pub fn from_spki_pem(pem: &[u8]) -> Result<Self, Error> {
        let bad =
            |e: openssl::error::ErrorStack| Error::InvalidKey(format!("not a PEM public key: {e}"));
        let pkey = openssl::pkey::PKey::public_key_from_pem(pem).map_err(bad)?;
        match pkey.id() {
            openssl::pkey::Id::RSA => {
                let rsa = pkey.rsa().map_err(bad)?;
                Self::from_params(JwkParams::Rsa {
                    n: b64(rsa.n().to_vec()),
                    e: b64(rsa.e().to_vec()),
                })
            }
            openssl::pkey::Id::EC => {
                let ec = pkey.ec_key().map_err(bad)?;
                let curve = ec
                    .group()
                    .curve_name()
                    .ok_or_else(|| Error::InvalidKey("an EC key on an unnamed curve".into()))?;
                let mut ctx = BigNumContext::new().map_err(bad)?;
                let point = ec
                    .public_key()
                    .to_bytes(
                        ec.group(),
                        openssl::ec::PointConversionForm::UNCOMPRESSED,
                        &mut ctx,
                    )
                    .map_err(bad)?;
                Self::from_ec_sec1(curve, &point)
            }
            openssl::pkey::Id::ED25519 => {
                let raw = pkey.raw_public_key().map_err(bad)?;
                Self::from_ed25519_bytes(&raw)
            }
            other => Err(Error::InvalidKey(format!(
                "the key type {other:?} is not supported"
            ))),
        }
    }

    /// A P-256 key from its SEC1 point (compressed or uncompressed), as did:key carries it.
    pub fn from_p256_sec1(bytes: &[u8]) -> Result<Self, Error> {
        let group = p256()?;
        let mut ctx = BigNumContext::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        let point = openssl::ec::EcPoint::from_bytes(group, bytes, &mut ctx)
            .map_err(|_| Error::InvalidKey("not a valid P-256 point".into()))?;
        let mut x = BigNum::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        let mut y = BigNum::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        point
            .affine_coordinates(group, &mut x, &mut y, &mut ctx)
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let (xb, yb) = (pad32(&x)?, pad32(&y)?);
        Self::from_params(JwkParams::P256 {
            x: b64(xb),
            y: b64(yb),
        })
    }

    /// An EC key of the named curve from its SEC1 point (compressed or not), as
    /// did:key carries it: P-256, P-384 or secp256k1.
    pub fn from_ec_sec1(curve: Nid, bytes: &[u8]) -> Result<Self, Error> {
        let (size, name) = match curve {
            Nid::X9_62_PRIME256V1 => return Self::from_p256_sec1(bytes),
            Nid::SECP384R1 => (48, "P-384"),
            Nid::SECP256K1 => (32, "secp256k1"),
            _ => return Err(Error::InvalidKey("an unsupported curve".into())),
        };
        let group =
            EcGroup::from_curve_name(curve).map_err(|e| Error::InvalidKey(e.to_string()))?;
        let mut ctx = BigNumContext::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        let point = openssl::ec::EcPoint::from_bytes(&group, bytes, &mut ctx)
            .map_err(|_| Error::InvalidKey(format!("not a valid {name} point")))?;
        let mut x = BigNum::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        let mut y = BigNum::new().map_err(|e| Error::InvalidKey(e.to_string()))?;
        point
            .affine_coordinates(&group, &mut x, &mut y, &mut ctx)
            .map_err(|e| Error::InvalidKey(e.to_string()))?;
        let pad = |n: &BigNum| {
            n.to_vec_padded(size)
                .map_err(|e| Error::InvalidKey(e.to_string()))
        };
        let (x, y) = (b64(pad(&x)?), b64(pad(&y)?));
        Self::from_params(if curve == Nid::SECP384R1 {
            JwkParams::P384 { x, y }
        } else {
            JwkParams::Secp256k1 { x, y }
        })
    }

    /// An Ed25519 key from its 32 raw bytes.
    pub fn from_ed25519_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_params(JwkParams::Ed25519 { x: b64(bytes) })
    }

    /// The only algorithm this key verifies; a header `alg` must equal it.
    pub fn algorithm(&self) -> Algorithm {
        match self.params {
            JwkParams::P256 { .. } => Algorithm::ES256,
            JwkParams::Rsa { .. } => Algorithm::RS256,
            JwkParams::Ed25519 { .. } => Algorithm::EdDSA,
            JwkParams::P384 { .. } => Algorithm::ES384,
            JwkParams::Secp256k1 { .. } => Algorithm::ES256K,
        }
    }

    /// The key parameters.
    pub fn params(&self) -> &JwkParams {
        &self.params
    }

    /// The public JWK as JSON: the required members only, in RFC 7638 order.
    pub fn to_value(&self) -> Value {
        match &self.params {
            JwkParams::P256 { x, y } => json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}),
            JwkParams::Rsa { n, e } => json!({"e": e, "kty": "RSA", "n": n}),
            JwkParams::Ed25519 { x } => json!({"crv": "Ed25519", "kty": "OKP", "x": x}),
            JwkParams::P384 { x, y } => json!({"crv": "P-384", "kty": "EC", "x": x, "y": y}),
            JwkParams::Secp256k1 { x, y } => {
                json!({"crv": "secp256k1", "kty": "EC", "x": x, "y": y})
            }
        }
    }

    /// The key's required members in lexicographic order with no whitespace
    /// (RFC 7638 §3): the input of the thumbprint, and the JSON of a did:jwk.
    pub fn canonical_json(&self) -> String {
        match &self.params {
            JwkParams::P256 { x, y } => {
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            JwkParams::Rsa { n, e } => format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
            JwkParams::Ed25519 { x } => format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
            JwkParams::P384 { x, y } => {
                format!(r#"{{"crv":"P-384","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
            JwkParams::Secp256k1 { x, y } => {
                format!(r#"{{"crv":"secp256k1","kty":"EC","x":"{x}","y":"{y}"}}"#)
            }
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url).
    pub fn thumbprint(&self) -> String {
        b64(Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// Verifies `signature` over `message` with this key's one algorithm.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), Error> {
        match &self.verifier {
            Verifier::P256(key) => {
                // JWS ES256 signatures are R ‖ S, 32 bytes each (RFC 7518 §3.4).
                if signature.len() != 64 {
                    return Err(Error::BadSignature);
                }
                let r = BigNum::from_slice(&signature[..32]).map_err(|_| Error::BadSignature)?;
                let s = BigNum::from_slice(&signature[32..]).map_err(|_| Error::BadSignature)?;
                let sig = openssl::ecdsa::EcdsaSig::from_private_components(r, s)
                    .map_err(|_| Error::BadSignature)?;
                match sig.verify(&Sha256::digest(message), key) {
                    Ok(true) => Ok(()),
                    _ => Err(Error::BadSignature),
                }
            }
            Verifier::Rs256(pkey) => {
                let mut v =
                    openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), pkey)
                        .map_err(|_| Error::BadSignature)?;
                v.set_rsa_padding(openssl::rsa::Padding::PKCS1)
                    .map_err(|_| Error::BadSignature)?;
                match v.verify_oneshot(signature, message) {
                    Ok(true) => Ok(()),
                    _ => Err(Error::BadSignature),
                }
            }
            Verifier::Ec { key, sha384, size } => {
                if signature.len() != 2 * size {
                    return Err(Error::BadSignature);
                }
                let r = BigNum::from_slice(&signature[..*size]).map_err(|_| Error::BadSignature)?;
                let s = BigNum::from_slice(&signature[*size..]).map_err(|_| Error::BadSignature)?;
                let sig = openssl::ecdsa::EcdsaSig::from_private_components(r, s)
                    .map_err(|_| Error::BadSignature)?;
                let digest = if *sha384 {
                    sha2::Sha384::digest(message).to_vec()
                } else {
                    Sha256::digest(message).to_vec()
                };
                match sig.verify(&digest, key) {
                    Ok(true) => Ok(()),
                    _ => Err(Error::BadSignature),
                }
            }
            Verifier::Ed25519(vk) => {
                let sig = ed25519_dalek::Signature::from_slice(signature)
                    .map_err(|_| Error::BadSignature)?;
                vk.verify_strict(message, &sig)
                    .map_err(|_| Error::BadSignature)
            }
        }
    }
}

/// The verifier of an EC key of `curve` whose coordinates are `size` bytes.
fn ec_verifier(curve: Nid, x: &str, y: &str, size: usize, sha384: bool) -> Result<Verifier, Error> {
    let xb = b64_decode(x, "JWK x")?;
    let yb = b64_decode(y, "JWK y")?;
    if xb.len() != size || yb.len() != size {
        return Err(Error::InvalidKey(format!(
            "the curve's coordinates are {size} bytes each"
        )));
    }
    let group = EcGroup::from_curve_name(curve).map_err(|e| Error::InvalidKey(e.to_string()))?;
    let bx = BigNum::from_slice(&xb).map_err(|e| Error::InvalidKey(e.to_string()))?;
    let by = BigNum::from_slice(&yb).map_err(|e| Error::InvalidKey(e.to_string()))?;
    // Checks that the point is on the curve (and not the point at infinity).
    let key = openssl::ec::EcKey::from_public_key_affine_coordinates(&group, &bx, &by)
        .map_err(|_| Error::InvalidKey("the point is not on the curve".into()))?;
    key.check_key()
        .map_err(|_| Error::InvalidKey("the point is not on the curve".into()))?;
    Ok(Verifier::Ec { key, sha384, size })
}

fn p256_group() -> Result<EcGroup, Error> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(|e| Error::InvalidKey(e.to_string()))
}

fn pad32(n: &BigNum) -> Result<Vec<u8>, Error> {
    n.to_vec_padded(32)
        .map_err(|e| Error::InvalidKey(e.to_string()))
}

/// The P-256 group, built once.
fn p256() -> Result<&'static EcGroup, Error> {
    static GROUP: std::sync::OnceLock<EcGroup> = std::sync::OnceLock::new();
    if let Some(g) = GROUP.get() {
        return Ok(g);
    }
    let g = p256_group()?;
    Ok(GROUP.get_or_init(|| g))
}

/// The P-256 field prime p, big-endian.
const P256_P: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
];

/// A P-256 public key from its coordinates, validated as NIST SP 800-56A §5.6.2.3.4
/// (SEC 1 §3.2.2.1) asks: each coordinate a field element (below p; OpenSSL would
/// silently reduce a larger one, giving one key two encodings), and the point on the
/// curve (invalid-curve attacks). A point given by affine coordinates is never the
/// point at infinity, and P-256 has cofactor 1, so no scalar multiplication by the
/// order (OpenSSL's `EC_KEY_check_key`) is needed.
fn p256_key(x: &[u8], y: &[u8]) -> Result<openssl::ec::EcKey<openssl::pkey::Public>, Error> {
    // 32-byte big-endian strings compare as numbers.
    if x.len() != 32 || y.len() != 32 || x >= &P256_P[..] || y >= &P256_P[..] {
        return Err(Error::InvalidKey(
            "a P-256 coordinate is not a field element (at least p)".into(),
        ));
    }
    let group = p256()?;
    let err = |e: openssl::error::ErrorStack| Error::InvalidKey(e.to_string());
    let bx = BigNum::from_slice(x).map_err(err)?;
    let by = BigNum::from_slice(y).map_err(err)?;
    let mut ctx = BigNumContext::new().map_err(err)?;
    let mut point = openssl::ec::EcPoint::new(group).map_err(err)?;
    let on_curve = point
        .set_affine_coordinates_gfp(group, &bx, &by, &mut ctx)
        .is_ok()
        && point.is_on_curve(group, &mut ctx).unwrap_or(false);
    if !on_curve {
        return Err(Error::InvalidKey("the point is not on P-256".into()));
    }
    openssl::ec::EcKey::from_public_key(group, &point).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7638 §3.1 example key and its thumbprint.
    const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

    #[test]
    fn rfc7638_thumbprint_example_matches() {
        let jwk = PublicJwk::from_value(&json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}))
            .expect("valid key");
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(jwk.algorithm(), Algorithm::RS256);
    }

    #[test]
    fn private_members_are_refused() {
        let err = PublicJwk::from_value(&json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}))
            .expect_err("private member");
        assert!(err.to_string().contains("\"d\""));
        assert!(PublicJwk::from_value(&json!({"kty": "oct", "k": "AAAA"})).is_err());
    }

    #[test]
    fn off_curve_p256_point_is_refused() {
        // x, y of a valid key with y changed in its last byte.
        let err = PublicJwk::from_value(&json!({"kty": "EC", "crv": "P-256",
            "x": "KSexBRK64-3c_kZ4KBKLrSkDJpkZ9whgacjE32xzKDg",
            "y": "x3h5ZOqsAOWSH7FJimD0YGdms9loUAFVjRqXTnNBUT8"}))
        .expect_err("off curve");
        assert!(err.to_string().contains("P-256"), "{err}");
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        // A 1024-bit modulus (all 0xff bytes, odd).
        let n = b64([0xffu8; 128]);
        let err = PublicJwk::from_value(&json!({"kty": "RSA", "n": n, "e": "AQAB"}))
            .expect_err("too small");
        assert!(err.to_string().contains("2048"), "{err}");
        let n = b64([0xffu8; 1025]);
        let err = PublicJwk::from_value(&json!({"kty": "RSA", "n": n, "e": "AQAB"}))
            .expect_err("too large");
        assert!(err.to_string().contains("8192"), "{err}");
    }

    #[test]
    fn alg_that_disagrees_with_the_key_type_is_refused() {
        let err = PublicJwk::from_value(
            &json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "HS256"}),
        )
        .expect_err("alg mismatch");
        assert!(err.to_string().contains("HS256"));
    }

    #[test]
    fn keys_for_other_operations_are_refused() {
        let rsa = |extra: Value| {
            let mut v = json!({"kty": "RSA", "n": RFC7638_N, "e": "AQAB"});
            for (k, x) in extra.as_object().expect("obj") {
                v[k] = x.clone();
            }
            PublicJwk::from_value(&v)
        };
        assert!(rsa(json!({"key_ops": ["encrypt"]})).is_err());
        assert!(rsa(json!({"use": "enc"})).is_err());
        assert!(rsa(json!({"key_ops": ["verify"], "use": "sig"})).is_ok());
    }

    #[test]
    fn compressed_and_uncompressed_p256_points_give_the_same_key() {
        let x = hex::decode("2927b10512bae3eddcfe467828128bad2903269919f7086069c8c4df6c732838")
            .expect("hex");
        let y = hex::decode("c7787964eaac00e5921fb1498a60f4606766b3d9685001558d1a974e7341513e")
            .expect("hex");
        let mut unc = vec![4u8];
        unc.extend_from_slice(&x);
        unc.extend_from_slice(&y);
        let mut comp = vec![if y[31] & 1 == 1 { 3u8 } else { 2u8 }];
        comp.extend_from_slice(&x);
        let a = PublicJwk::from_p256_sec1(&unc).expect("uncompressed");
        let b = PublicJwk::from_p256_sec1(&comp).expect("compressed");
        assert_eq!(a, b);
        assert_eq!(
            a.to_value()["x"],
            json!("KSexBRK64-3c_kZ4KBKLrSkDJpkZ9whgacjE32xzKDg")
        );
    }

    #[test]
    fn p256_coordinates_at_or_above_p_are_refused() {
        let (k, _) = crate::jose::SigningKey::generate(Algorithm::ES256).expect("key");
        let JwkParams::P256 { x, y } = k.public_jwk().params().clone() else {
            unreachable!("an ES256 key is P-256")
        };
        assert!(
            PublicJwk::from_params(JwkParams::P256 {
                x: x.clone(),
                y: y.clone()
            })
            .is_ok()
        );
        // x + p names the same point modulo p: a second encoding of one key.
        let xb = BigNum::from_slice(&b64_decode(&x, "x").expect("b64")).expect("bn");
        let p = BigNum::from_slice(&P256_P).expect("p");
        let mut shifted = BigNum::new().expect("bn");
        shifted.checked_add(&xb, &p).expect("add");
        let bytes = shifted.to_vec();
        if bytes.len() == 32 {
            let r = PublicJwk::from_params(JwkParams::P256 {
                x: b64(&bytes),
                y: y.clone(),
            });
            assert!(r.is_err(), "x + p must not load");
        }
        let r = PublicJwk::from_params(JwkParams::P256 { x: b64(P256_P), y });
        assert!(r.is_err(), "x = p must not load");
    }
}
