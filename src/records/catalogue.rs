//! How the public catalogue presents achievements: badge types, where each achievement
//! sits (type, featured), whether a badge's page is public, and uploaded images. None
//! of this is ever signed into a credential; staff change it freely.

use serde::{Deserialize, Serialize};

/// A kind of badge the catalogue groups achievements by (an institution's Knowledge,
/// Skill, Proficiency, Professional Certification, Other, or whatever it defines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BadgeType {
    /// A short slug: 1 to 40 characters of `[a-z0-9-]`.
    pub id: String,
    pub name: String,
    /// What earning a badge of this type says about its earner.
    #[serde(default)]
    pub description: String,
    /// Types are listed by `order`, then by name.
    #[serde(default)]
    pub order: i64,
}

/// Where an achievement sits in the catalogue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Placement {
    /// The id of its [`BadgeType`], if it has one.
    #[serde(default)]
    pub badge_type: Option<String>,
    #[serde(default)]
    pub featured: bool,
    /// Featured achievements are shown by this order (then by name).
    #[serde(default)]
    pub featured_order: i64,
}

/// Whether a badge's public page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Hidden,
}

impl Visibility {
    pub fn is_public(self) -> bool {
        self == Visibility::Public
    }
}

/// An uploaded image, kept under the SHA-256 of its (sanitised) bytes: its URL never
/// changes and it is never deleted, since issued badges point at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// Lower-case hex SHA-256 of `bytes`.
    pub digest: String,
    pub format: crate::images::ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}
