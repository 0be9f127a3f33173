//! did:web: deriving the issuer DID from its public URL, and the DID document.
//!
//! did:web method §3.1 "Create": the method-specific id is the host, with a port
//! percent-encoded as `%3A`, followed by each path segment separated by `:`; the
//! document lives at `/.well-known/did.json` when there is no path and at
//! `/<path>/did.json` otherwise (§3.2 "Read").
//! <https://w3c-ccg.github.io/did-method-web/#create-register>

use serde_json::{Value, json};
use url::{Host, Url};

use super::{Did, Error};
use crate::jose::PublicJwk;

/// What a public URL implies: the DID, where its document is served, and the path
/// prefix under which every route lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The issuer's DID.
    pub did: Did,
    /// The path prefix (`""` or `/badges`), without a trailing slash.
    pub base_path: String,
    /// The URL path of the DID document.
    pub document_path: String,
    /// Whether the host is an IP literal (did:web forbids it: development only).
    pub ip_literal: bool,
}

/// Derives the did:web identity of a public URL.
pub fn identity_for_url(url: &Url) -> Result<WebIdentity, Error> {
    let bad = |reason: &str| Error::InvalidWebUrl {
        url: url.to_string(),
        reason: reason.to_owned(),
    };
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("a public URL has no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("a public URL carries no credentials"));
    }
    let (host, ip_literal) = match url.host() {
        Some(Host::Domain(d)) => (d.to_ascii_lowercase(), false),
        Some(Host::Ipv4(ip)) => (ip.to_string(), true),
        Some(Host::Ipv6(ip)) => (format!("[{ip}]"), true),
        None => return Err(bad("the URL has no host")),
    };
    let mut msid = pct_encode_segment(&host);
    if let Some(port) = url.port() {
        msid.push_str("%3A");
        msid.push_str(&port.to_string());
    }
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|seg| !seg.is_empty()).collect())
        .unwrap_or_default();
    for seg in &segments {
        if *seg == "." || *seg == ".." {
            return Err(bad("the path has dot segments"));
        }
        msid.push(':');
        msid.push_str(&pct_encode_segment(seg));
    }
    let did: Did = format!("did:web:{msid}")
        .parse()
        .map_err(|_| bad("the host or path has characters a DID cannot hold"))?;
    let base_path = if segments.is_empty() {
        String::new()
    } else {
        format!("/{}", segments.join("/"))
    };
    let document_path = if base_path.is_empty() {
        "/.well-known/did.json".to_owned()
    } else {
        format!("{base_path}/did.json")
    };
    Ok(WebIdentity {
        did,
        base_path,
        document_path,
        ip_literal,
    })
}

/// The URL of a did:web DID's document (did:web §3.2 "Read"): the method-specific
/// id's `:` become `/`, a percent-encoded port colon (`%3A`) is decoded, `https://` is
/// prepended, `/.well-known` is appended when there is no path, then `/did.json`.
pub fn document_url(did: &Did) -> Result<Url, Error> {
    let bad = |reason: &str| Error::InvalidDid(format!("{did}: {reason}"));
    if did.method() != "web" {
        return Err(bad("not a did:web"));
    }
    let mut parts = did.method_specific_id().split(':');
    let authority = parts.next().unwrap_or_default();
    let authority = match authority.to_ascii_lowercase().split_once("%3a") {
        Some((host, port)) => {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("the port is not a number"));
            }
            format!("{host}:{port}")
        }
        None => authority.to_owned(),
    };
    if authority.is_empty() || authority.contains('%') {
        return Err(bad("the host is not a domain name"));
    }
    let mut path = String::new();
    for seg in parts {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad("the path has an empty or dot segment"));
        }
        path.push('/');
        path.push_str(seg);
    }
    if path.is_empty() {
        path.push_str("/.well-known");
    }
    let url = Url::parse(&format!("https://{authority}{path}/did.json"))
        .map_err(|_| bad("the host or path does not form a URL"))?;
    if url.host().is_none() || url.query().is_some() || url.fragment().is_some() {
        return Err(bad("the host or path does not form a URL"));
    }
    Ok(url)
}

/// Percent-encodes what a DID method-specific id cannot hold literally (`:` above
/// all, and anything outside idchar). Existing `%XX` escapes are kept.
fn pct_encode_segment(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    let bytes = seg.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escaped = b == b'%'
            && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') || escaped {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
        i += 1;
    }
    out
}

/// One verification method of the DID document.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    /// The key id (fragment of the verification method id).
    pub kid: String,
    /// The public key.
    pub jwk: PublicJwk,
    /// When its private key was retired (unix seconds): it still verifies what it
    /// signed before, and nothing its holder claims to have signed since.
    pub retired_at: Option<i64>,
}

/// The DID document: every published key as a `JsonWebKey2020` verification method
/// with `publicKeyJwk` (public members only), and each Ed25519 and P-256 key also as
/// a `Multikey` method whose fragment is its `publicKeyMultibase` (Controlled
/// Identifiers v1.0 §2.2.2: one form of key material per method), which Data
/// Integrity proofs name. Each is referenced from `assertionMethod` (what credential
/// issuance uses) and `authentication`.
pub fn did_document(did: &Did, keys: &[PublishedKey]) -> Value {
    let multikeys: Vec<(String, String)> = keys
        .iter()
        .filter_map(|k| {
            super::key::multibase(&k.jwk)
                .ok()
                .map(|mb| (format!("{did}#{mb}"), mb))
        })
        .collect();
    let mut methods: Vec<Value> = keys
        .iter()
        .map(|k| {
            let mut jwk = k.jwk.to_value();
            if let Some(o) = jwk.as_object_mut() {
                o.insert("kid".into(), json!(k.kid));
                o.insert("alg".into(), json!(k.jwk.algorithm().name()));
                o.insert("use".into(), json!("sig"));
            }
            json!({
                "id": format!("{did}#{}", k.kid),
                "type": "JsonWebKey2020",
                "controller": did.as_str(),
                "publicKeyJwk": jwk,
            })
        })
        .collect();
    methods.extend(multikeys.iter().map(|(id, mb)| {
        json!({
            "id": id,
            "type": "Multikey",
            "controller": did.as_str(),
            "publicKeyMultibase": mb,
        })
    }));
    let refs: Vec<Value> = keys
        .iter()
        .map(|k| json!(format!("{did}#{}", k.kid)))
        .chain(multikeys.iter().map(|(id, _)| json!(id)))
        .collect();
    json!({
        "@context": [
            "https://www.w3.org/ns/did/v1",
            "https://w3id.org/security/suites/jws-2020/v1",
            "https://w3id.org/security/multikey/v1"
        ],
        "id": did.as_str(),
        "verificationMethod": methods,
        "assertionMethod": refs,
        "authentication": refs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(u: &str) -> WebIdentity {
        identity_for_url(&Url::parse(u).expect("url")).expect("identity")
    }

    #[test]
    fn contract_examples_map_exactly() {
        let a = id("https://badges.example.edu");
        assert_eq!(a.did.as_str(), "did:web:badges.example.edu");
        assert_eq!(a.document_path, "/.well-known/did.json");
        assert_eq!(a.base_path, "");
        assert!(!a.ip_literal);

        let b = id("https://example.edu/badges");
        assert_eq!(b.did.as_str(), "did:web:example.edu:badges");
        assert_eq!(b.document_path, "/badges/did.json");
        assert_eq!(b.base_path, "/badges");

        let c = id("http://127.0.0.1:8080");
        assert_eq!(c.did.as_str(), "did:web:127.0.0.1%3A8080");
        assert!(c.ip_literal);
    }

    #[test]
    fn spec_examples_map_exactly() {
        // did:web §3.1 examples.
        assert_eq!(
            id("https://w3c-ccg.github.io").did.as_str(),
            "did:web:w3c-ccg.github.io"
        );
        assert_eq!(
            id("https://w3c-ccg.github.io/user/alice").did.as_str(),
            "did:web:w3c-ccg.github.io:user:alice"
        );
        assert_eq!(
            id("https://example.com:3000/user/alice/").did.as_str(),
            "did:web:example.com%3A3000:user:alice"
        );
    }

    #[test]
    fn default_ports_are_dropped_and_hosts_lowercased() {
        assert_eq!(
            id("https://Example.EDU:443/").did.as_str(),
            "did:web:example.edu"
        );
        assert_eq!(
            id("http://example.edu:80").did.as_str(),
            "did:web:example.edu"
        );
    }

    #[test]
    fn urls_that_cannot_be_did_web_are_refused() {
        for u in [
            "ftp://example.edu",
            "https://example.edu/?q=1",
            "https://u:p@example.edu",
        ] {
            assert!(
                identity_for_url(&Url::parse(u).expect("url")).is_err(),
                "{u}"
            );
        }
    }

    #[test]
    fn document_urls_follow_the_read_rules() {
        let url = |d: &str| document_url(&d.parse().expect("did")).map(|u| u.to_string());
        assert_eq!(
            url("did:web:w3c-ccg.github.io").as_deref(),
            Ok("https://w3c-ccg.github.io/.well-known/did.json")
        );
        assert_eq!(
            url("did:web:w3c-ccg.github.io:user:alice").as_deref(),
            Ok("https://w3c-ccg.github.io/user/alice/did.json")
        );
        assert_eq!(
            url("did:web:example.com%3A3000:user:alice").as_deref(),
            Ok("https://example.com:3000/user/alice/did.json")
        );
        assert_eq!(
            url("did:web:127.0.0.1%3a8080").as_deref(),
            Ok("https://127.0.0.1:8080/.well-known/did.json")
        );
        for d in [
            "did:key:z6Mk",
            "did:web:example.com%3Ax",
            "did:web:ex%2Fample.com",
            "did:web:example.com:..:x",
            "did:web:example.com%3A99999999",
        ] {
            assert!(url(d).is_err(), "{d}");
        }
        // Every identity the service derives maps back to where it serves the document.
        for u in [
            "https://badges.example.edu",
            "https://example.edu/a/b",
            "http://127.0.0.1:8080",
        ] {
            let parsed = Url::parse(u).expect("url");
            let id = identity_for_url(&parsed).expect("identity");
            let doc = document_url(&id.did).expect("document url");
            assert_eq!(doc.path(), id.document_path);
            assert_eq!(doc.host_str(), parsed.host_str());
            assert_eq!(doc.port(), parsed.port());
        }
    }

    #[test]
    fn did_document_lists_keys_under_assertion_method_with_public_parts_only() {
        let (key, _) =
            crate::jose::SigningKey::generate(crate::jose::Algorithm::ES256).expect("key");
        let did: Did = "did:web:example.edu".parse().expect("did");
        let doc = did_document(
            &did,
            &[PublishedKey {
                retired_at: None,
                kid: key.id().to_owned(),
                jwk: key.public_jwk().clone(),
            }],
        );
        let vm = &doc["verificationMethod"][0];
        let vm_id = format!("did:web:example.edu#{}", key.id());
        assert_eq!(vm["id"], json!(vm_id));
        assert_eq!(doc["assertionMethod"][0], json!(vm_id));
        assert_eq!(vm["publicKeyJwk"]["kty"], json!("EC"));
        assert!(vm["publicKeyJwk"].get("d").is_none());
        PublicJwk::from_value(&vm["publicKeyJwk"]).expect("published JWK parses back");
    }
}
