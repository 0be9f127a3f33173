//! The `recipient` check: does the badge name the e-mail address the caller knows?
//!
//! OB 3.0 §9.1 "Verification" (step "Recipient", optional) with the IdentityObject
//! rules of §B.1.12 and IdentityHash (§B.3): identifiers whose `identityType` is not
//! `emailAddress` are skipped; a hashed one is compared as `<alg>$<hex>` where `alg` is
//! `sha256` or `md5` and the hash covers the UTF-8 address followed by the `salt`
//! (unsalted when there is none); hex may be upper or lower case. A plain one is
//! compared as text.
//!
//! The specification does not normalise addresses. Issuers commonly hash the address
//! as typed or lower-cased, so the address is tried as given and then lower-cased
//! (the domain part of an address is case-insensitive anyway).

use md5::Md5;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Yes,
    No(String),
    /// An identifier that could not be judged (unknown hash algorithm).
    Unknown(String),
}

fn hash_matches(stated: &str, email: &str, salt: &str) -> Option<bool> {
    let (alg, hex_digest) = stated.split_once('$')?;
    let digest = match alg.to_ascii_lowercase().as_str() {
        "sha256" => {
            let mut h = Sha256::new();
            h.update(email.as_bytes());
            h.update(salt.as_bytes());
            hex::encode(h.finalize())
        }
        "md5" => {
            let mut h = Md5::new();
            h.update(email.as_bytes());
            h.update(salt.as_bytes());
            hex::encode(h.finalize())
        }
        _ => return None,
    };
    Some(digest.eq_ignore_ascii_case(hex_digest))
}

/// Whether one stated identity names `email`: a `<alg>$<hex>` hash over the address
/// and `salt` when `hashed`, else the address in clear; the address is tried as
/// given and lower-cased. `Err` says why a hash could not be judged.
pub(super) fn identity_names(
    stated: &str,
    hashed: bool,
    salt: &str,
    email: &str,
) -> Result<bool, String> {
    let email = email.trim();
    let candidates = [email.to_owned(), email.to_lowercase()];
    if !hashed {
        return Ok(candidates
            .iter()
            .any(|c| c.eq_ignore_ascii_case(stated.trim())));
    }
    for c in &candidates {
        match hash_matches(stated, c, salt) {
            Some(true) => return Ok(true),
            Some(false) => {}
            None => {
                return Err(format!(
                    "the identity hash algorithm of {:?} is not supported (sha256 and md5 are)",
                    stated.split('$').next().unwrap_or_default()
                ));
            }
        }
    }
    Ok(false)
}

/// Compares `email` with the subject's e-mail identifiers.
pub fn check(credential: &Map<String, Value>, email: &str) -> Match {
    let email = email.trim();
    let subjects: Vec<&Value> = match credential.get("credentialSubject") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    let mut seen = 0;
    let mut unknown = None;
    for subject in subjects {
        let identifiers = match subject.get("identifier") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v @ Value::Object(_)) => vec![v],
            _ => Vec::new(),
        };
        for id in identifiers {
            if id.get("identityType").and_then(Value::as_str) != Some("emailAddress") {
                continue;
            }
            seen += 1;
            let Some(stated) = id.get("identityHash").and_then(Value::as_str) else {
                continue;
            };
            let hashed = id.get("hashed").and_then(Value::as_bool).unwrap_or(false);
            let salt = id.get("salt").and_then(Value::as_str).unwrap_or_default();
            match identity_names(stated, hashed, salt, email) {
                Ok(true) => return Match::Yes,
                Ok(false) => {}
                Err(m) => unknown = Some(m),
            }
        }
    }
    if let Some(u) = unknown {
        return Match::Unknown(u);
    }
    if seen == 0 {
        Match::No("the badge names no e-mail recipient".into())
    } else {
        Match::No("the badge was not issued to that e-mail address".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cred(identifier: Value) -> Map<String, Value> {
        json!({"credentialSubject": {"identifier": identifier}})
            .as_object()
            .cloned()
            .expect("object")
    }

    #[test]
    fn the_spec_example_hash_matches() {
        // OB 3.0 IdentityHash example: sha256 over "a@example.com" + "Kosher".
        let mut h = Sha256::new();
        h.update(b"a@example.comKosher");
        let stated = format!("sha256${}", hex::encode(h.finalize()).to_uppercase());
        let c = cred(
            json!([{"type": "IdentityObject", "identityType": "emailAddress",
            "hashed": true, "identityHash": stated, "salt": "Kosher"}]),
        );
        assert_eq!(check(&c, "a@example.com"), Match::Yes);
        assert_eq!(
            check(&c, " A@Example.com "),
            Match::Yes,
            "lower-cased retry"
        );
        assert!(matches!(check(&c, "b@example.com"), Match::No(_)));
    }

    #[test]
    fn our_issuers_hash_md5_plain_and_unknown_algorithms() {
        // The form this service's badges carry: lower-case hex of SHA-256(email ‖ salt).
        let ours = format!(
            "sha256${}",
            hex::encode(Sha256::digest(b"ada@example.orgs4lt"))
        );
        let c = cred(json!([{"identityType": "emailAddress", "hashed": true,
            "identityHash": ours, "salt": "s4lt"}]));
        assert_eq!(check(&c, "ada@example.org"), Match::Yes);

        let md5 = format!("md5${}", hex::encode(Md5::digest(b"ada@example.org")));
        let c =
            cred(json!([{"identityType": "emailAddress", "hashed": true, "identityHash": md5}]));
        assert_eq!(check(&c, "ada@example.org"), Match::Yes);

        let c = cred(json!([{"identityType": "emailAddress", "hashed": false,
            "identityHash": "ada@example.org"}]));
        assert_eq!(check(&c, "ADA@example.org"), Match::Yes);

        let c = cred(json!([{"identityType": "emailAddress", "hashed": true,
            "identityHash": "sha512$00"}]));
        assert!(matches!(check(&c, "ada@example.org"), Match::Unknown(_)));

        let c = cred(json!([{"identityType": "sourcedId", "hashed": false,
            "identityHash": "ada@example.org"}]));
        assert_eq!(
            check(&c, "ada@example.org"),
            Match::No("the badge names no e-mail recipient".into())
        );
    }
}
