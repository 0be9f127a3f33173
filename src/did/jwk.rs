//! did:jwk: a DID that is a public JWK, base64url-encoded (did:jwk specification,
//! <https://github.com/quartzjer/did-jwk/blob/main/spec.md>). Wallets that prove
//! possession of a bare `jwk` are bound to the did:jwk of that key; its one
//! verification method has the fragment `0`.
//!
//! The DID is derived from the key's RFC 7638 members in lexicographic order, so a
//! key always yields the same DID.

use super::{Did, Error};
use crate::jose::json::from_slice_strict;
use crate::jose::{PublicJwk, b64, b64_decode};

/// The longest method-specific id considered (a 4096-bit RSA key needs under 1 KiB).
const MAX_MSID_LEN: usize = 2048;

/// The fragment of a did:jwk's one verification method.
pub const FRAGMENT: &str = "0";

/// Resolves a did:jwk to its public key. The JWK must be public (no private members)
/// and of a supported type.
pub fn resolve(did: &Did) -> Result<PublicJwk, Error> {
    let bad = |m: String| Error::DidJwk(m);
    if did.method() != "jwk" {
        return Err(bad(format!("{did} is not a did:jwk")));
    }
    let msid = did.method_specific_id();
    if msid.len() > MAX_MSID_LEN {
        return Err(bad(format!("is {} characters long", msid.len())));
    }
    let bytes = b64_decode(msid, "did:jwk").map_err(|e| bad(e.to_string()))?;
    let v = from_slice_strict(&bytes).map_err(|e| bad(format!("is not a JSON object: {e:?}")))?;
    PublicJwk::from_value(&v).map_err(|e| bad(e.to_string()))
}

/// The did:jwk of a public key.
pub fn did_jwk_for(jwk: &PublicJwk) -> Did {
    let s = format!("did:jwk:{}", b64(jwk.canonical_json().as_bytes()));
    s.parse()
        .unwrap_or_else(|e| unreachable!("base64url is valid in a DID: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{Algorithm, SigningKey};

    #[test]
    fn the_spec_example_resolves_to_its_p256_key() {
        // did:jwk spec, "Examples": a P-256 key.
        let did: Did = "did:jwk:eyJjcnYiOiJQLTI1NiIsImt0eSI6IkVDIiwieCI6ImFjYklRaXVNczNpOF91c3pFakoydHBUdFJNNEVVM3l6OTFQSDZDZEgyVjAiLCJ5IjoiX0tjeUxqOXZXTXB0bm1LdG00NkdxRHo4d2Y3NEk1TEtncmwyR3pIM25TRSJ9"
            .parse()
            .expect("did");
        let key = resolve(&did).expect("resolves");
        assert_eq!(key.algorithm(), Algorithm::ES256);
        assert_eq!(did_jwk_for(&key), did);
    }

    #[test]
    fn every_supported_key_round_trips() {
        for alg in Algorithm::ALL {
            let (k, _) = SigningKey::generate(alg).expect("key");
            let did = did_jwk_for(k.public_jwk());
            assert_eq!(&resolve(&did).expect("resolves"), k.public_jwk(), "{alg}");
        }
    }

    #[test]
    fn private_keys_and_junk_are_refused() {
        let private = b64(br#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}"#);
        for s in [
            format!("did:jwk:{private}"),
            "did:jwk:bm90LWpzb24".to_owned(),
            format!("did:jwk:{}", b64(br#"{"kty":"oct","k":"AAAA"}"#)),
        ] {
            let did: Did = s.parse().expect("did syntax");
            assert!(resolve(&did).is_err(), "{s}");
        }
    }
}
