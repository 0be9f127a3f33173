//! The issuer Profile's editable parts (OB 3.0 §B.1.4); its `id` is always the
//! service's DID and is not kept. The page settings beside them (colours, LinkedIn
//! organisation, default page visibility) are never part of a badge. Checks and the OB form: [`crate::issue::profile`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The editable parts of the issuer Profile (`GET`/`PUT /api/v1/issuer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuerProfile {
    /// Shown on every badge; required.
    pub name: String,
    /// The institution's home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A contact address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Logo: an http(s) URL or a `data:image/...` URI (or an OB Image object).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    /// The main colour of the public pages and of generated badge designs (`#rrggbb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    /// The second colour (`#rrggbb`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accent_color: Option<String>,
    /// The institution's LinkedIn organisation id: "Add to LinkedIn" then names the
    /// organisation by id instead of by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin_organization_id: Option<String>,
    /// Whether a new badge's public page is shown until staff hide it (the default) or
    /// hidden until they show it.
    #[serde(default)]
    pub default_visibility: super::catalogue::Visibility,
    /// What the claim page tells earners about wallets (Markdown, at most
    /// [`WALLET_HELP_MAX`] characters): which wallets are known to work, where to get
    /// one. Without it the page says what any wallet needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_help: Option<String>,
}

/// The longest `wallet_help`.
pub const WALLET_HELP_MAX: usize = 2000;

/// The identity a store was created for: the public URL and the did:web DID derived
/// from it. Every badge the store records names that DID, so a start under another
/// public URL is refused unless the move is asked for explicitly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreIdentity {
    pub public_url: String,
    pub did: String,
}
