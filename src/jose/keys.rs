//! Private signing keys: generation, PKCS#8 PEM encoding, and signing.
//!
//! Every key is stored as an unencrypted PKCS#8 PEM file (the format OpenSSL, `jose`
//! tools and HSM import paths all read). A key's id is the RFC 7638 thumbprint of its
//! public JWK, so it is derived from the key itself and stable across restarts and
//! machines. `Debug` never prints key material.

use josekit::jws::JwsSigner;
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::Rsa;

use super::jwk::{JwkParams, MIN_RSA_BITS};
use super::{Algorithm, Error, PublicJwk, b64};

/// RSA modulus size for generated keys.
pub const RSA_GENERATED_BITS: u32 = 2048;

/// A private key that signs with exactly one algorithm.
pub struct SigningKey {
    id: String,
    public: PublicJwk,
    inner: Inner,
}

enum Inner {
    /// P-256: OpenSSL's ECDSA over a SHA-256 digest computed here. The one-shot EVP
    /// signer sets up a context per signature, which costs a third again as much as
    /// the signature itself.
    P256(EcKey<Private>),
    /// RSA through OpenSSL (never the RustCrypto `rsa` crate, RUSTSEC-2023-0071).
    OpenSsl(Box<dyn JwsSigner>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("id", &self.id)
            .field("alg", &self.algorithm())
            .field("private", &"<redacted>")
            .finish()
    }
}

fn ssl(e: openssl::error::ErrorStack) -> Error {
    Error::InvalidKey(e.to_string())
}

impl SigningKey {
    /// Generates a fresh key; returns it with its PKCS#8 PEM encoding.
    pub fn generate(alg: Algorithm) -> Result<(Self, Vec<u8>), Error> {
        let pkey: PKey<Private> = match alg {
            Algorithm::ES256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ssl)?;
                PKey::from_ec_key(EcKey::generate(&group).map_err(ssl)?).map_err(ssl)?
            }
            Algorithm::RS256 => {
                PKey::from_rsa(Rsa::generate(RSA_GENERATED_BITS).map_err(ssl)?).map_err(ssl)?
            }
            Algorithm::EdDSA => PKey::generate_ed25519().map_err(ssl)?,
            Algorithm::ES384 | Algorithm::ES256K => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "{alg} (verified here, never signed with)"
                )));
            }
        };
        let pem = pkey.private_key_to_pem_pkcs8().map_err(ssl)?;
        let key = Self::from_pkcs8_pem(&pem)?;
        Ok((key, pem))
    }

    /// Loads a PKCS#8 (or traditional) PEM private key of a supported type.
    pub fn from_pkcs8_pem(pem: &[u8]) -> Result<Self, Error> {
        let pkey = PKey::private_key_from_pem(pem)
            .map_err(|_| Error::KeyFile("not a PEM private key".into()))?;
        let (public, inner) = match pkey.id() {
            Id::EC => {
                let ec = pkey.ec_key().map_err(ssl)?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(Error::KeyFile("EC keys must be on P-256".into()));
                }
                ec.check_key().map_err(ssl)?;
                let mut ctx = openssl::bn::BigNumContext::new().map_err(ssl)?;
                let point = ec
                    .public_key()
                    .to_bytes(
                        ec.group(),
                        openssl::ec::PointConversionForm::UNCOMPRESSED,
                        &mut ctx,
                    )
                    .map_err(ssl)?;
                let public = PublicJwk::from_p256_sec1(&point)?;
                (public, Inner::P256(ec))
            }
            Id::RSA => {
                let rsa = pkey.rsa().map_err(ssl)?;
                let bits = usize::try_from(rsa.n().num_bits()).unwrap_or(0);
                if bits < MIN_RSA_BITS {
                    return Err(Error::KeyFile(format!(
                        "RSA key has {bits} bits; at least {MIN_RSA_BITS} are required"
                    )));
                }
                let public = PublicJwk::from_params(JwkParams::Rsa {
                    n: b64(rsa.n().to_vec()),
                    e: b64(rsa.e().to_vec()),
                })?;
                let der = pkey.private_key_to_pkcs8().map_err(ssl)?;
                let signer = josekit::jws::RS256
                    .signer_from_der(&der)
                    .map_err(|e| Error::KeyFile(e.to_string()))?;
                (public, Inner::OpenSsl(Box::new(signer)))
            }
            Id::ED25519 => {
                let raw = pkey.raw_private_key().map_err(ssl)?;
                let seed: [u8; 32] = raw
                    .as_slice()
                    .try_into()
                    .map_err(|_| Error::KeyFile("Ed25519 private keys are 32 bytes".into()))?;
                let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
                let public = PublicJwk::from_ed25519_bytes(sk.verifying_key().as_bytes())?;
                (public, Inner::Ed25519(Box::new(sk)))
            }
            _ => {
                return Err(Error::KeyFile(
                    "unsupported key type (P-256, RSA and Ed25519 are supported)".into(),
                ));
            }
        };
        Ok(Self {
            id: public.thumbprint(),
            public,
            inner,
        })
    }

    /// The key id: the RFC 7638 thumbprint of the public key.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.public.algorithm()
    }

    /// The public half.
    pub fn public_jwk(&self) -> &PublicJwk {
        &self.public
    }

    /// Signs `message` (a JWS signing input); returns the raw JWS signature bytes
    /// (r‖s for ES256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.inner {
            Inner::P256(ec) => {
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(message);
                let sig = openssl::ecdsa::EcdsaSig::sign(&digest, ec)
                    .map_err(|e| Error::Signing(e.to_string()))?;
                // JWS wants r and s as two 32-byte big-endian integers (RFC 7518 §3.4).
                let mut out = sig
                    .r()
                    .to_vec_padded(32)
                    .map_err(|e| Error::Signing(e.to_string()))?;
                out.extend(
                    sig.s()
                        .to_vec_padded(32)
                        .map_err(|e| Error::Signing(e.to_string()))?,
                );
                Ok(out)
            }
            Inner::OpenSsl(s) => s.sign(message).map_err(|e| Error::Signing(e.to_string())),
            Inner::Ed25519(sk) => {
                use ed25519_dalek::Signer as _;
                Ok(sk.sign(message).to_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_their_public_key_verifies() {
        for alg in Algorithm::ALL {
            let (key, pem) = SigningKey::generate(alg).expect("generate");
            assert_eq!(key.algorithm(), alg);
            let sig = key.sign(b"hello").expect("sign");
            key.public_jwk().verify(b"hello", &sig).expect("verifies");
            assert!(key.public_jwk().verify(b"hellp", &sig).is_err());
            let again = SigningKey::from_pkcs8_pem(&pem).expect("reload");
            assert_eq!(again.id(), key.id(), "key id is stable across reloads");
        }
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let (key, pem) = SigningKey::generate(Algorithm::EdDSA).expect("generate");
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted"));
        let pem = String::from_utf8(pem).expect("utf8");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert!(!dbg.contains(&body[..20]));
    }

    #[test]
    fn small_rsa_private_keys_are_refused() {
        let small = PKey::from_rsa(Rsa::generate(1024).expect("gen")).expect("pkey");
        let pem = small.private_key_to_pem_pkcs8().expect("pem");
        let err = SigningKey::from_pkcs8_pem(&pem).expect_err("too small");
        assert!(err.to_string().contains("2048"));
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pkcs8_pem(b"not a key").is_err());
    }
}
