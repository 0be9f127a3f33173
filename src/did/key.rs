//! did:key (did:key method v0.7): Ed25519, P-256, P-384 and secp256k1 keys.
//!
//! The method-specific id is a multibase base58-btc (`z`) string of a multicodec
//! varint prefix and the raw public key: `0xed` (`ed25519-pub`, 32 bytes), `0x1200`
//! (`p256-pub`), `0x1201` (`p384-pub`) and `0xe7` (`secp256k1-pub`), the EC keys as
//! compressed points. The single verification method's fragment is the
//! method-specific id itself. <https://w3c-ccg.github.io/did-method-key/#format>
//!
//! Resolution is `did-method-key`'s (asked for a `JsonWebKey2020` method, which it
//! decodes into a JWK through `ssi-jwk`); the key it yields is then checked again as
//! any JWK is here ([`PublicJwk::from_value`]: on the curve, not weak). Resolving a
//! did:key needs no I/O: the resolver's future completes when first polled.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use futures_util::FutureExt as _;
use ssi_dids_core::resolution::{DIDMethodResolver as _, Options};

use super::{Did, Error};
use crate::jose::PublicJwk;
use crate::jose::jwk::JwkParams;

const ED25519_PREFIX: [u8; 2] = [0xed, 0x01];
const P256_PREFIX: [u8; 2] = [0x80, 0x24];
const P384_PREFIX: [u8; 2] = [0x81, 0x24];
const SECP256K1_PREFIX: [u8; 2] = [0xe7, 0x01];
/// Longest method-specific id considered (a compressed P-384 key encodes to about 70
/// characters).
const MAX_MSID_LEN: usize = 128;

/// Resolves a did:key to its one public key. Accepts the DID or a DID URL whose
/// fragment is the method-specific id.
pub fn resolve(did: &Did) -> Result<PublicJwk, Error> {
    if did.method() != "key" {
        return Err(Error::DidKey(format!("{did} is not a did:key")));
    }
    from_multibase(did.method_specific_id())
}

/// How many resolved keys [`from_multibase`] keeps. A wallet's did:key is resolved at
/// least twice per claim (its proof, then the award's named recipient) and an
/// issuer's on every verification; resolving builds, serialises and parses a whole
/// DID document and decompresses an EC point. Resolution is a pure function of the
/// text, so a remembered key is always the right one. When full, the table is
/// emptied: the bound holds whatever text callers send.
const CACHE_CAPACITY: usize = 4096;

static RESOLVED: LazyLock<Remembered> = LazyLock::new(|| Remembered::new(CACHE_CAPACITY));

/// Decodes a Multikey `publicKeyMultibase` value (base58-btc, multicodec-prefixed
/// Ed25519, P-256, P-384 or secp256k1 key) — the same text as a did:key's
/// method-specific id. Keys resolved before are answered from a bounded table;
/// failures are not kept.
pub fn from_multibase(msid: &str) -> Result<PublicJwk, Error> {
    RESOLVED.get_or_resolve(msid, resolve_uncached)
}

/// Resolved keys by method-specific id, at most `capacity` of them.
struct Remembered {
    capacity: usize,
    keys: Mutex<HashMap<String, PublicJwk>>,
}

impl Remembered {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn get_or_resolve(
        &self,
        msid: &str,
        resolve: impl FnOnce(&str) -> Result<PublicJwk, Error>,
    ) -> Result<PublicJwk, Error> {
        let keys = || self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(key) = keys().get(msid) {
            return Ok(key.clone());
        }
        // Resolved outside the lock: two threads may both resolve a new key, and
        // both get the same answer.
        let key = resolve(msid)?;
        let mut k = keys();
        if k.len() >= self.capacity {
            k.clear();
        }
        k.insert(msid.to_owned(), key.clone());
        Ok(key)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// [`from_multibase`] without the table.
fn resolve_uncached(msid: &str) -> Result<PublicJwk, Error> {
    // Base58 decoding is quadratic in length; the keys supported here encode to at
    // most about 70 characters, so anything much longer is not one.
    if msid.len() > MAX_MSID_LEN {
        return Err(Error::DidKey(format!(
            "is {} characters long; no supported key type is that long",
            msid.len()
        )));
    }
    // Only the base58-btc alphabet after the 'z' (the resolver underneath panics on
    // text that is not a DID).
    const BASE58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    if !msid.starts_with('z') || !msid[1..].chars().all(|c| BASE58.contains(c)) {
        return Err(Error::DidKey("must be multibase base58-btc (z...)".into()));
    }
    let mut options = Options::default();
    options.parameters.public_key_format = Some("JsonWebKey2020".into());
    options.accept = Some(ssi_dids_core::document::representation::MediaType::Json);
    let resolved = did_method_key::DIDKey
        .resolve_method_representation(msid, options)
        .now_or_never()
        .ok_or_else(|| Error::DidKey("did:key resolution did not complete".into()))?
        .map_err(|e| Error::DidKey(unsupported_or(e.to_string())))?;
    let doc: serde_json::Value = serde_json::from_slice(&resolved.document)
        .map_err(|e| Error::DidKey(format!("the resolved document: {e}")))?;
    let jwk = doc
        .pointer("/verificationMethod/0/publicKeyJwk")
        .ok_or_else(|| Error::DidKey("the resolved document holds no key".into()))?;
    PublicJwk::from_value(jwk).map_err(|e| Error::DidKey(e.to_string()))
}

/// The resolver's message, or the key types supported when it names another codec.
fn unsupported_or(m: String) -> String {
    if m.contains("codec") || m.contains("Codec") || m.contains("unsupported") {
        format!(
            "holds a key type this service does not support (Ed25519, P-256, P-384 and secp256k1 are): {m}"
        )
    } else {
        m
    }
}

/// A public key as a Multikey `publicKeyMultibase` (Controlled Identifiers v1.0
/// §2.2.2), which is also its did:key method-specific id.
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
        JwkParams::P256 { x, y } | JwkParams::P384 { x, y } | JwkParams::Secp256k1 { x, y } => {
            let prefix = match jwk.params() {
                JwkParams::P256 { .. } => P256_PREFIX,
                JwkParams::P384 { .. } => P384_PREFIX,
                _ => SECP256K1_PREFIX,
            };
            let y = raw(y, "y")?;
            bytes.extend_from_slice(&prefix);
            bytes.push(if y.last().is_some_and(|b| b & 1 == 1) {
                3
            } else {
                2
            });
            bytes.extend(raw(x, "x")?);
        }
        JwkParams::Rsa { .. } => {
            return Err(Error::DidKey(
                "RSA keys have no Multikey form here (Ed25519 and EC keys do)".into(),
            ));
        }
    }
    Ok(format!("z{}", bs58::encode(bytes).into_string()))
}

/// The did:key of a public key (Ed25519 or an EC key).
pub fn did_key_for(jwk: &PublicJwk) -> Result<Did, Error> {
    format!("did:key:{}", multibase(jwk)?)
        .parse()
        .map_err(|_| Error::DidKey("encoding failed".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_outside_the_base58_alphabet_is_refused_not_resolved() {
        // Found by the property tests: the resolver underneath panicked on this.
        for bad in ["z#[</'", "z6Mk 0", "z0OIl", "zé"] {
            assert!(from_multibase(bad).is_err(), "{bad}");
        }
    }
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
    fn remembered_keys_are_the_resolved_ones_failures_are_not_kept_and_the_table_is_bounded() {
        let table = Remembered::new(3);
        let calls = std::cell::Cell::new(0);
        let counted = |m: &str| {
            calls.set(calls.get() + 1);
            resolve_uncached(m)
        };
        let dids: Vec<String> = (0..4)
            .map(|_| {
                let (k, _) = SigningKey::generate(Algorithm::ES256).expect("key");
                multibase(k.public_jwk()).expect("multibase")
            })
            .collect();
        let first = table.get_or_resolve(&dids[0], counted).expect("resolves");
        let again = table.get_or_resolve(&dids[0], counted).expect("resolves");
        assert_eq!(first, again);
        assert_eq!(first, resolve_uncached(&dids[0]).expect("resolves"));
        assert_eq!(calls.get(), 1, "the second answer came from the table");

        assert!(table.get_or_resolve("z0OIl", counted).is_err());
        assert!(table.get_or_resolve("z0OIl", counted).is_err());
        assert_eq!(
            calls.get(),
            3,
            "a failure is resolved again, not remembered"
        );
        assert_eq!(table.len(), 1);

        for d in &dids[1..3] {
            table.get_or_resolve(d, counted).expect("resolves");
        }
        assert_eq!(table.len(), 3);
        let fourth = table.get_or_resolve(&dids[3], counted).expect("resolves");
        assert_eq!(
            table.len(),
            1,
            "a full table is emptied before the next key"
        );
        assert_eq!(fourth, resolve_uncached(&dids[3]).expect("resolves"));
        // Keys of other types come back as themselves too.
        let (ed, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let m = multibase(ed.public_jwk()).expect("multibase");
        assert_eq!(
            &from_multibase(&m).expect("resolves"),
            ed.public_jwk(),
            "through the shared table"
        );
        assert_eq!(&from_multibase(&m).expect("resolves"), ed.public_jwk());
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
    fn p384_and_secp256k1_did_keys_resolve_and_verify_their_signatures() {
        use openssl::bn::BigNumContext;
        use openssl::ec::{EcGroup, EcKey, PointConversionForm};
        use openssl::nid::Nid;
        use sha2::Digest as _;
        // The did:key method's secp256k1 example.
        let did: Did = "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"
            .parse()
            .expect("did");
        let jwk = resolve(&did).expect("secp256k1 resolves");
        assert_eq!(jwk.algorithm(), Algorithm::ES256K);
        assert_eq!(did_key_for(&jwk).expect("encodes"), did);
        for (nid, alg, size) in [
            (Nid::SECP384R1, Algorithm::ES384, 48),
            (Nid::SECP256K1, Algorithm::ES256K, 32),
        ] {
            let group = EcGroup::from_curve_name(nid).expect("group");
            let key = EcKey::generate(&group).expect("key");
            let mut ctx = BigNumContext::new().expect("ctx");
            let point = key
                .public_key()
                .to_bytes(&group, PointConversionForm::COMPRESSED, &mut ctx)
                .expect("point");
            let prefix = if nid == Nid::SECP384R1 {
                P384_PREFIX
            } else {
                SECP256K1_PREFIX
            };
            let msid = format!(
                "z{}",
                bs58::encode([&prefix[..], &point].concat()).into_string()
            );
            let did: Did = format!("did:key:{msid}").parse().expect("did");
            let jwk = resolve(&did).expect("resolves");
            assert_eq!(jwk.algorithm(), alg);
            assert_eq!(did_key_for(&jwk).expect("encodes"), did, "{alg}");
            // A JWS signature (R ‖ S) by the key verifies; a changed message does not.
            let digest = if alg == Algorithm::ES384 {
                sha2::Sha384::digest(b"payload").to_vec()
            } else {
                sha2::Sha256::digest(b"payload").to_vec()
            };
            let sig = openssl::ecdsa::EcdsaSig::sign(&digest, &key).expect("sign");
            let mut raw = sig.r().to_vec_padded(size).expect("r");
            raw.extend(sig.s().to_vec_padded(size).expect("s"));
            jwk.verify(b"payload", &raw).expect("verifies");
            assert!(jwk.verify(b"payloae", &raw).is_err());
        }
    }

    #[test]
    fn unsupported_or_broken_did_keys_are_refused() {
        for s in [
            "did:key:z6Mk",                                             // too short
            "did:key:mABCD",                                            // not base58
            "did:key:z6LSbysY2xFMRpGMhb7tFTLMpeuPRaqaWM1yECx2AtzE3KCc", // X25519 (not a signing key)
            "did:web:example.edu",
            &format!("did:key:z{}", "2".repeat(1000)), // too long to be a key
        ] {
            let did: Did = s.parse().expect("syntax ok");
            assert!(resolve(&did).is_err(), "{s}");
        }
    }
}
