//! Decentralized identifiers: the `Did` and `DidUrl` types, did:web for our own
//! identity, did:key and did:jwk for holders and simple issuers.
//!
//! Specs: W3C DID Core 1.0 §3.1 (syntax, <https://www.w3.org/TR/did-core/#did-syntax>),
//! did:web method (<https://w3c-ccg.github.io/did-method-web/>), did:key method
//! v0.7 (<https://w3c-ccg.github.io/did-method-key/>).

pub mod jwk;
pub mod key;
pub mod web;

use std::fmt;
use std::str::FromStr;

/// Why a DID, DID URL or DID document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("not a DID: {0}")]
    InvalidDid(String),
    #[error("not a DID URL: {0}")]
    InvalidDidUrl(String),
    #[error("cannot derive a did:web from {url}: {reason}")]
    InvalidWebUrl { url: String, reason: String },
    #[error("did:key {0}")]
    DidKey(String),
    #[error("did:jwk {0}")]
    DidJwk(String),
}

/// A syntactically valid DID (`did:<method>:<method-specific-id>`), DID Core §3.1.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Did(String);

impl Did {
    /// The DID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The method name (`web`, `key`, ...).
    pub fn method(&self) -> &str {
        self.0[4..].split(':').next().unwrap_or_default()
    }

    /// The method-specific identifier.
    pub fn method_specific_id(&self) -> &str {
        let rest = &self.0[4..];
        rest.split_once(':').map(|(_, id)| id).unwrap_or_default()
    }
}

impl fmt::Display for Did {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_idchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_')
}

fn valid_method_specific_id(s: &str) -> bool {
    // idchar / pct-encoded, with ':' separating segments; the last segment non-empty.
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes[bytes.len() - 1] == b':' {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b':' => i += 1,
            b'%' => {
                let ok = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
                if !ok {
                    return false;
                }
                i += 3;
            }
            b if is_idchar(b) => i += 1,
            _ => return false,
        }
    }
    true
}

/// The longest DID accepted. Real DIDs are far shorter; the cap keeps hostile input
/// from reaching decoders whose cost grows with length.
pub const MAX_DID_LEN: usize = 2048;

impl FromStr for Did {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_DID_LEN {
            return Err(Error::InvalidDid(format!(
                "{}... ({} bytes, over {MAX_DID_LEN})",
                s.chars().take(40).collect::<String>(),
                s.len()
            )));
        }
        let rest = s
            .strip_prefix("did:")
            .ok_or_else(|| Error::InvalidDid(s.to_owned()))?;
        let (method, msid) = rest
            .split_once(':')
            .ok_or_else(|| Error::InvalidDid(s.to_owned()))?;
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            || !valid_method_specific_id(msid)
        {
            return Err(Error::InvalidDid(s.to_owned()));
        }
        Ok(Did(s.to_owned()))
    }
}

/// A DID URL naming a verification method: `<did>#<fragment>` (DID Core §3.2). Paths
/// and queries are not used by this service and are refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DidUrl {
    did: Did,
    fragment: String,
}

impl DidUrl {
    /// Builds `<did>#<fragment>`.
    pub fn new(did: Did, fragment: impl Into<String>) -> Self {
        Self {
            did,
            fragment: fragment.into(),
        }
    }

    /// The DID part.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The fragment, without `#`.
    pub fn fragment(&self) -> &str {
        &self.fragment
    }
}

impl fmt::Display for DidUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.did, self.fragment)
    }
}

impl FromStr for DidUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (did, fragment) = s
            .split_once('#')
            .ok_or_else(|| Error::InvalidDidUrl(s.to_owned()))?;
        let did: Did = did
            .parse()
            .map_err(|_| Error::InvalidDidUrl(s.to_owned()))?;
        let frag_ok = !fragment.is_empty()
            && fragment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b));
        if !frag_ok {
            return Err(Error::InvalidDidUrl(s.to_owned()));
        }
        Ok(Self {
            did,
            fragment: fragment.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_dids_parse() {
        for s in [
            "did:web:example.edu",
            "did:web:127.0.0.1%3A8080",
            "did:web:example.edu:badges:v1",
            "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
        ] {
            let d: Did = s.parse().expect(s);
            assert_eq!(d.as_str(), s);
        }
        let d: Did = "did:web:example.edu:badges".parse().expect("ok");
        assert_eq!(d.method(), "web");
        assert_eq!(d.method_specific_id(), "example.edu:badges");
    }

    #[test]
    fn malformed_dids_are_refused() {
        for s in [
            "",
            "did:",
            "did:web",
            "did:web:",
            "did:Web:x",
            "did:web:a b",
            "did:web:x:",
            "did:web:%zz",
            "did:web:%4",
            "https://example.edu",
        ] {
            assert!(s.parse::<Did>().is_err(), "{s}");
        }
    }

    #[test]
    fn overlong_dids_are_refused_before_anything_decodes_them() {
        let long = format!("did:key:z{}", "2".repeat(MAX_DID_LEN));
        let err = long.parse::<Did>().expect_err("too long");
        assert!(
            err.to_string().len() < 200,
            "the message does not echo the input"
        );
    }

    #[test]
    fn did_urls_need_a_fragment() {
        let u: DidUrl = "did:web:example.edu#key-1".parse().expect("ok");
        assert_eq!(u.did().as_str(), "did:web:example.edu");
        assert_eq!(u.fragment(), "key-1");
        assert_eq!(u.to_string(), "did:web:example.edu#key-1");
        assert!("did:web:example.edu".parse::<DidUrl>().is_err());
        assert!("did:web:example.edu#".parse::<DidUrl>().is_err());
        assert!("https://evil.example/key#1".parse::<DidUrl>().is_err());
    }
}
