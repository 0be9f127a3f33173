//! did:key for Ed25519 and P-256 keys (did:key method v0.7).
//!
//! The method-specific id is a multibase base58-btc (`z`) string of a multicodec
//! varint prefix and the raw public key: `0xed 0x01` + 32 bytes for Ed25519
//! (`ed25519-pub`), `0x80 0x24` + a 33-byte compressed point for P-256 (`p256-pub`).
//! The single verification method's fragment is the method-specific id itself.
//! <https://w3c-ccg.github.io/did-method-key/#format>
//!
//! This is done here rather than through the `ssi` stack: the two key types the
//! service supports need a base58 decoder and a point decompression, and keeping
//! ssi's ~400-crate JSON-LD tree out of the build keeps CI fast until Data Integrity
//! needs it.

use super::{Did, Error};
use crate::jose::PublicJwk;
use crate::jose::jwk::JwkParams;

const ED25519_PREFIX: [u8; 2] = [0xed, 0x01];
const P256_PREFIX: [u8; 2] = [0x80, 0x24];
/// Longest method-specific id considered (with room for future key types).
const MAX_MSID_LEN: usize = 128;

/// Resolves a did:key to its one public key. Accepts the DID or a DID URL whose
/// fragment is the method-specific id.
pub fn resolve(did: &Did) -> Result<PublicJwk, Error> {
    if did.method() != "key" {
        return Err(Error::DidKey(format!("{did} is not a did:key")));
    }
    from_multibase(did.method_specific_id())
}

/// Decodes a Multikey `publicKeyMultibase` value (base58-btc, multicodec-prefixed
/// Ed25519 or P-256 key) — the same text as a did:key's method-specific id.
pub fn from_multibase(msid: &str) -> Result<PublicJwk, Error> {
    // Base58 decoding is quadratic in length; the keys supported here encode to at
    // most 50 characters (P-256: 35 bytes), so anything much longer is not one.
    if msid.len() > MAX_MSID_LEN {
        return Err(Error::DidKey(format!(
            "is {} characters long; no supported key type is that long",
            msid.len()
        )));
    }
    let encoded = msid
        .strip_prefix('z')
        .ok_or_else(|| Error::DidKey("must be multibase base58-btc (z...)".into()))?;
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| Error::DidKey("is not valid base58-btc".into()))?;
    let bad = |e: crate::jose::Error| Error::DidKey(e.to_string());
    match bytes.split_at_checked(2) {
        Some((p, key)) if p == ED25519_PREFIX => {
            if key.len() != 32 {
                return Err(Error::DidKey("Ed25519 keys are 32 bytes".into()));
            }
            PublicJwk::from_ed25519_bytes(key).map_err(bad)
        }
        Some((p, key)) if p == P256_PREFIX => {
            if key.len() != 33 {
                return Err(Error::DidKey(
                    "P-256 keys are 33-byte compressed points".into(),
                ));
            }
            PublicJwk::from_p256_sec1(key).map_err(bad)
        }
        _ => Err(Error::DidKey(
            "holds a key type this service does not support (Ed25519 and P-256 are)".into(),
        )),
    }
}

/// A public key as a Multikey `publicKeyMultibase` (Controlled Identifiers v1.0
/// §2.2.2), which is also its did:key method-specific id: Ed25519 or P-256.
pub fn multibase(jwk: &PublicJwk) -> Result<String, Error> {
    let mut bytes = Vec::with_capacity(35);
    let raw = |v: &str, name: &'static str| {
        crate::jose::b64_decode(v, name).map_err(|e| Error::DidKey(e.to_string()))
    };
    match jwk.params() {
        JwkParams::Ed25519 { x } => {
            bytes.extend_from_slice(&ED25519_PREFIX);
            bytes.extend(raw(x, "x")?);
        }
        JwkParams::P256 { x, y } => {
            let y = raw(y, "y")?;
            bytes.extend_from_slice(&P256_PREFIX);
            bytes.push(if y.last().is_some_and(|b| b & 1 == 1) {
                3
            } else {
                2
            });
            bytes.extend(raw(x, "x")?);
        }
        JwkParams::Rsa { .. } => {
            return Err(Error::DidKey(
                "RSA keys have no Multikey form here (Ed25519 and P-256 do)".into(),
            ));
        }
    }
    Ok(format!("z{}", bs58::encode(bytes).into_string()))
}

/// The did:key of a public key (Ed25519 or P-256).
pub fn did_key_for(jwk: &PublicJwk) -> Result<Did, Error> {
    format!("did:key:{}", multibase(jwk)?)
        .parse()
        .map_err(|_| Error::DidKey("encoding failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, SigningKey};

    #[test]
    fn open_badges_test_vector_key_resolves() {
        // OB 3.0 implementation guide, Linked Data Proof test vector key pair.
        let did: Did = "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
            .parse()
            .expect("did");
        let jwk = resolve(&did).expect("resolves");
        let JwkParams::Ed25519 { x } = jwk.params() else {
            panic!("expected Ed25519");
        };
        let raw = crate::jose::b64_decode(x, "x").expect("b64");
        assert_eq!(
            hex::encode(raw),
            "4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5"
        );
        assert_eq!(did_key_for(&jwk).expect("encodes"), did);
    }

    #[test]
    fn p256_did_key_from_the_method_spec_resolves() {
        // did:key spec test vector (P-256).
        let did: Did = "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169"
            .parse()
            .expect("did");
        let jwk = resolve(&did).expect("resolves");
        assert_eq!(jwk.algorithm(), Algorithm::ES256);
        assert_eq!(did_key_for(&jwk).expect("encodes"), did);
    }

    #[test]
    fn generated_keys_round_trip_through_did_key() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let (k, _) = SigningKey::generate(alg).expect("key");
            let did = did_key_for(k.public_jwk()).expect("did");
            assert_eq!(&resolve(&did).expect("resolves"), k.public_jwk());
        }
    }

    #[test]
    fn unsupported_or_broken_did_keys_are_refused() {
        for s in [
            "did:key:z6Mk",                                              // too short
            "did:key:mABCD",                                             // not base58
            "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme", // secp256k1
            "did:web:example.edu",
            &format!("did:key:z{}", "2".repeat(1000)), // too long to be a key
        ] {
            let did: Did = s.parse().expect("syntax ok");
            assert!(resolve(&did).is_err(), "{s}");
        }
    }
}
