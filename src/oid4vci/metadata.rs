//! Discovery: Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4, draft 13 §11.2.3)
//! and OAuth 2.0 Authorization Server Metadata (RFC 8414 §2, OpenID4VCI 1.0 §12.3).
//!
//! One document serves both dialects: each configuration carries the 1.0 members
//! (`credential_metadata` with `display` and `claims`) and draft 13's (`display`
//! directly in the configuration); wallets ignore what their version does not know.
//! `credential_definition` for `jwt_vc_json` has `type` only (1.0 Appendix A.1.1.2);
//! for `jwt_vc_json-ld` and `ldp_vc` also `@context` (A.1.2.2). The `ldp_vc`
//! configuration is the same badge with an embedded Data Integrity proof; its
//! `credential_signing_alg_values_supported` names the cryptosuite
//! (`eddsa-rdfc-2022`), as wallets of Data Integrity credentials read it.
//!
//! Where the metadata lives (1.0 §12.2.2, RFC 8414 §3): `/.well-known/<name>` is
//! inserted between the host and the path of the issuer identifier; draft 13 appended
//! it to the identifier instead. With no path in the public URL both rules give the
//! same URL; with one, the service answers at both.

use serde_json::{Value, json};

use super::BATCH_SIZE;
use crate::issue::IssuerProfile;
use crate::issue::offers::{
    CONFIG_JWT_VC_JSON, CONFIG_JWT_VC_JSON_LD, CONFIG_LDP_VC, PRE_AUTHORIZED_GRANT,
};
use crate::jose::Algorithm;
use crate::model::{OB3_CONTEXT, VCDM2_CONTEXT};

/// The well-known name of the issuer metadata.
pub const ISSUER_WELL_KNOWN: &str = "openid-credential-issuer";
/// The well-known name of the authorization server metadata.
pub const AS_WELL_KNOWN: &str = "oauth-authorization-server";

/// Endpoint paths under the public URL.
pub mod paths {
    pub const TOKEN: &str = "/oid4vci/token";
    pub const NONCE: &str = "/oid4vci/nonce";
    pub const CREDENTIAL: &str = "/oid4vci/credential";
    pub const DEFERRED: &str = "/oid4vci/deferred";
    pub const NOTIFICATION: &str = "/oid4vci/notification";
    pub const OFFERS: &str = "/oid4vci/offers";
}

/// A logo URI wallets will load: https or a data URI (plain http is refused by
/// wallets, so it is left out rather than breaking discovery).
fn logo(profile: &IssuerProfile) -> Option<Value> {
    let uri = match profile.image.as_ref()? {
        Value::String(s) => s.clone(),
        Value::Object(o) => o.get("id")?.as_str()?.to_owned(),
        _ => return None,
    };
    (uri.starts_with("https://") || uri.starts_with("data:image/"))
        .then(|| json!({"uri": uri, "alt_text": format!("{} logo", profile.name)}))
}

/// The Credential Issuer Metadata.
pub fn issuer_metadata(identifier: &str, profile: &IssuerProfile, signing: Algorithm) -> Value {
    let mut issuer_display = json!({"name": profile.name, "locale": "en"});
    if let Some(l) = logo(profile) {
        issuer_display["logo"] = l;
    }
    let badge_display = json!([{
        "name": "Open Badge",
        "locale": "en",
        "description": format!("An Open Badges 3.0 achievement from {}", profile.name),
        "background_color": "#12355b",
        "text_color": "#ffffff",
    }]);
    let claims = json!([
        {"path": ["name"], "display": [{"name": "Badge", "locale": "en"}]},
        {"path": ["credentialSubject", "achievement", "name"], "display": [{"name": "Achievement", "locale": "en"}]},
        {"path": ["credentialSubject", "achievement", "description"], "display": [{"name": "Description", "locale": "en"}]},
        {"path": ["credentialSubject", "achievement", "criteria", "narrative"], "display": [{"name": "Criteria", "locale": "en"}]},
        {"path": ["issuer", "name"], "display": [{"name": "Issued by", "locale": "en"}]},
        {"path": ["validFrom"], "display": [{"name": "Valid from", "locale": "en"}]},
        {"path": ["validUntil"], "display": [{"name": "Valid until", "locale": "en"}]},
    ]);
    let types = json!(["VerifiableCredential", "OpenBadgeCredential"]);
    let config = |format: &str, definition: Value| {
        let algs = if format == "ldp_vc" {
            json!(["eddsa-rdfc-2022"])
        } else {
            json!([signing.name()])
        };
        json!({
            "format": format,
            "credential_definition": definition,
            "cryptographic_binding_methods_supported": ["did:key", "did:jwk", "jwk"],
            "credential_signing_alg_values_supported": algs,
            "proof_types_supported": {
                "jwt": {"proof_signing_alg_values_supported": ["ES256", "EdDSA", "RS256"]}
            },
            "display": badge_display,
            "credential_metadata": {"display": badge_display, "claims": claims},
        })
    };
    json!({
        "credential_issuer": identifier,
        "credential_endpoint": format!("{identifier}{}", paths::CREDENTIAL),
        "nonce_endpoint": format!("{identifier}{}", paths::NONCE),
        "deferred_credential_endpoint": format!("{identifier}{}", paths::DEFERRED),
        "notification_endpoint": format!("{identifier}{}", paths::NOTIFICATION),
        "batch_credential_issuance": {"batch_size": BATCH_SIZE},
        "display": [issuer_display],
        "credential_configurations_supported": {
            CONFIG_JWT_VC_JSON: config("jwt_vc_json", json!({"type": types})),
            CONFIG_JWT_VC_JSON_LD: config(
                "jwt_vc_json-ld",
                json!({"@context": [VCDM2_CONTEXT, OB3_CONTEXT], "type": types}),
            ),
            CONFIG_LDP_VC: config(
                "ldp_vc",
                json!({"@context": [VCDM2_CONTEXT, OB3_CONTEXT], "type": types}),
            ),
        },
    })
}

/// The Authorization Server Metadata: this service is its own authorization server
/// and offers only the pre-authorized code grant (plus refresh for deferred awards).
pub fn authorization_server_metadata(identifier: &str) -> Value {
    json!({
        "issuer": identifier,
        "token_endpoint": format!("{identifier}{}", paths::TOKEN),
        "grant_types_supported": [PRE_AUTHORIZED_GRANT, "refresh_token"],
        "pre-authorized_grant_anonymous_access_supported": true,
        "token_endpoint_auth_methods_supported": ["none"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_configurations_carry_what_each_dialect_reads() {
        let p = IssuerProfile {
            name: "Example Academy".into(),
            image: Some(json!("http://insecure.example/logo.png")),
            ..Default::default()
        };
        let m = issuer_metadata("https://badges.example.edu", &p, Algorithm::ES256);
        assert_eq!(m["credential_issuer"], "https://badges.example.edu");
        assert_eq!(
            m["nonce_endpoint"],
            "https://badges.example.edu/oid4vci/nonce"
        );
        assert!(
            m["display"][0].get("logo").is_none(),
            "http logos are left out"
        );
        let c = &m["credential_configurations_supported"][CONFIG_JWT_VC_JSON];
        assert_eq!(c["format"], "jwt_vc_json");
        assert_eq!(
            c["credential_definition"],
            json!({"type": ["VerifiableCredential", "OpenBadgeCredential"]})
        );
        assert!(c["credential_metadata"]["claims"].is_array());
        assert_eq!(c["display"], c["credential_metadata"]["display"]);
        let ld = &m["credential_configurations_supported"][CONFIG_JWT_VC_JSON_LD];
        assert_eq!(
            ld["credential_definition"]["@context"],
            json!([VCDM2_CONTEXT, OB3_CONTEXT])
        );
        let ldp = &m["credential_configurations_supported"][CONFIG_LDP_VC];
        assert_eq!(ldp["format"], "ldp_vc");
        assert_eq!(ldp["credential_definition"], ld["credential_definition"]);
        assert_eq!(
            ldp["credential_signing_alg_values_supported"],
            json!(["eddsa-rdfc-2022"])
        );
        let a = authorization_server_metadata("https://badges.example.edu");
        assert_eq!(a["pre-authorized_grant_anonymous_access_supported"], true);
        assert_eq!(a["issuer"], m["credential_issuer"]);
    }
}
