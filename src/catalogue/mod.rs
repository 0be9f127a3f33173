//! The public catalogue's settings and images: badge types, where each achievement
//! sits (type, featured, order), whether a badge's page is public, uploaded images,
//! and the art a badge is drawn with.
//!
//! None of this is signed into a credential except an uploaded image's URL: uploading
//! an achievement's image points its `image` at the new immutable URL for later awards
//! (OB 3.0 §B.1.2 `Achievement.image`, §B.2.4 `Image`), as uploading the issuer's logo
//! does for the issuer Profile's `image`. Images are kept under the SHA-256 of their
//! sanitised bytes and never deleted, since issued badges point at them.
//!
//! A badge's art is its achievement's uploaded image, an image given as a `data:` URI,
//! or, failing both, a generated design (name, issuer, badge type, the issuer's
//! colours). PNG forms of SVG art are rasterised once and kept in a small cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use serde::Deserialize;
use uuid::Uuid;

use crate::images::{self, Design, ImageFormat};
use crate::issue::{self, Issuer};
use crate::records::{BadgeType, Placement, StoredImage, Visibility};
use crate::store::{self, Store};

/// Catalogue failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Image(#[from] images::Error),
    #[error(transparent)]
    Issue(#[from] issue::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("rendering an image failed: {0}")]
    Render(String),
}

fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// The body of `POST /api/v1/badge-types` (and, without `id`, of `PUT`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BadgeTypeInput {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub order: Option<i64>,
}

/// The body of `PUT /api/v1/achievements/{id}/catalogue`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementInput {
    #[serde(default)]
    pub badge_type: Option<String>,
    #[serde(default)]
    pub featured: bool,
    #[serde(default)]
    pub featured_order: i64,
}

/// The longest badge type id.
const MAX_TYPE_ID: usize = 40;

/// Checks a badge type id: 1 to 40 of `[a-z0-9-]`, not starting or ending with `-`.
pub fn check_type_id(id: &str) -> Result<(), Error> {
    let ok = !id.is_empty()
        && id.len() <= MAX_TYPE_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "id",
            "must be 1 to 40 characters of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

/// A type id made from a name: "Professional Certification" → `professional-certification`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= MAX_TYPE_ID {
            break;
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<String, Error> {
    let s = s.trim();
    if required && s.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    Ok(s.to_owned())
}

/// What the catalogue pages read on every view, built once per change.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// By `order`, then name.
    pub types: Vec<BadgeType>,
    pub placements: HashMap<Uuid, Placement>,
}

impl Snapshot {
    /// An achievement's placement, with a type that no longer exists read as none.
    pub fn placement(&self, achievement: Uuid) -> Placement {
        let mut p = self
            .placements
            .get(&achievement)
            .cloned()
            .unwrap_or_default();
        if let Some(t) = &p.badge_type
            && self.badge_type(t).is_none()
        {
            p.badge_type = None;
        }
        p
    }

    pub fn badge_type(&self, id: &str) -> Option<&BadgeType> {
        self.types.iter().find(|t| t.id == id)
    }

    /// The badge type an achievement is placed under, if any.
    pub fn type_of(&self, achievement: Uuid) -> Option<&BadgeType> {
        self.badge_type(self.placement(achievement).badge_type.as_deref()?)
    }
}

/// The art a badge is drawn with.
#[derive(Debug, Clone)]
pub enum Art {
    Png(Arc<[u8]>),
    Svg(Arc<str>),
}

impl Art {
    /// A short key naming these bytes (for caches and ETags).
    pub fn digest(&self) -> String {
        match self {
            Art::Png(b) => images::content_address(b),
            Art::Svg(s) => images::content_address(s.as_bytes()),
        }
    }
}

/// Rasterised PNGs by (art digest, size).
type Rasters = HashMap<(String, u32), Arc<[u8]>>;

/// How many rasterised images the cache keeps.
const RASTER_CACHE: usize = 256;

/// The catalogue service.
#[derive(Clone)]
pub struct Catalogue {
    store: Arc<dyn store::Catalogue>,
    images: Arc<dyn store::Images>,
    issuer: Issuer,
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// Rasterised PNGs by (art digest, size).
    rasters: Arc<Mutex<Rasters>>,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue").finish_non_exhaustive()
    }
}

impl Catalogue {
    pub fn new(store: &Store, issuer: Issuer) -> Self {
        Self {
            store: store.catalogue.clone(),
            images: store.images.clone(),
            issuer,
            snapshot: Arc::default(),
            rasters: Arc::default(),
        }
    }

    /// Types and placements as they stand (cached until the next change).
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, Error> {
        if let Some(s) = self
            .snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(s.clone());
        }
        let snap = Arc::new(Snapshot {
            types: self.store.badge_types().await?,
            placements: self.store.placements().await?.into_iter().collect(),
        });
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(snap.clone());
        Ok(snap)
    }

    /// Forgets the cached types and placements (another node of a fleet changed
    /// them).
    pub fn forget(&self) {
        self.changed();
    }

    fn changed(&self) {
        *self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    // ---- badge types ----

    pub async fn badge_types(&self) -> Result<Vec<BadgeType>, Error> {
        Ok(self.snapshot().await?.types.clone())
    }

    pub async fn badge_type(&self, id: &str) -> Result<BadgeType, Error> {
        self.store
            .badge_type(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("badge type {id}")))
    }

    /// Creates a type (its id given, or made from its name); durable when this returns.
    pub async fn create_badge_type(&self, input: BadgeTypeInput) -> Result<BadgeType, Error> {
        let name = check_text("name", &input.name, 80, true)?;
        let id = match input.id {
            Some(id) => id.trim().to_owned(),
            None => slug(&name),
        };
        check_type_id(&id)?;
        if self.store.badge_type(&id).await?.is_some() {
            return Err(invalid("id", format!("a badge type {id:?} already exists")));
        }
        let t = BadgeType {
            id,
            name,
            description: check_text(
                "description",
                input.description.as_deref().unwrap_or(""),
                2000,
                false,
            )?,
            order: input.order.unwrap_or(0),
        };
        self.store.put_badge_type(&t).await?;
        self.changed();
        self.store.flush().await?;
        Ok(t)
    }

    /// Replaces a type's name, description and order; durable when this returns.
    pub async fn update_badge_type(
        &self,
        id: &str,
        input: BadgeTypeInput,
    ) -> Result<BadgeType, Error> {
        let current = self.badge_type(id).await?;
        if let Some(other) = input.id.as_deref()
            && other.trim() != current.id
        {
            return Err(invalid("id", "a badge type's id cannot change"));
        }
        let t = BadgeType {
            id: current.id,
            name: check_text("name", &input.name, 80, true)?,
            description: check_text(
                "description",
                input.description.as_deref().unwrap_or(""),
                2000,
                false,
            )?,
            order: input.order.unwrap_or(current.order),
        };
        self.store.put_badge_type(&t).await?;
        self.changed();
        self.store.flush().await?;
        Ok(t)
    }

    /// Removes a type; its achievements become untyped. Durable when this returns.
    pub async fn delete_badge_type(&self, id: &str) -> Result<(), Error> {
        if !self.store.remove_badge_type(id).await? {
            return Err(Error::NotFound(format!("badge type {id}")));
        }
        for (key, mut p) in self.store.placements().await? {
            if p.badge_type.as_deref() == Some(id) {
                p.badge_type = None;
                self.store.put_placement(key, &p).await?;
            }
        }
        self.changed();
        self.store.flush().await?;
        Ok(())
    }

    // ---- placements ----

    /// Sets where an achievement sits; durable when this returns.
    pub async fn place(
        &self,
        achievement_id: &str,
        input: PlacementInput,
    ) -> Result<Placement, Error> {
        let rec = self.issuer.achievement(achievement_id).await?;
        let badge_type = match input.badge_type.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => {
                if self.store.badge_type(t).await?.is_none() {
                    return Err(invalid(
                        "badge_type",
                        format!("no badge type {t:?}; create it first"),
                    ));
                }
                Some(t.to_owned())
            }
        };
        let p = Placement {
            badge_type,
            featured: input.featured,
            featured_order: input.featured_order,
        };
        self.store.put_placement(rec.key, &p).await?;
        self.changed();
        self.store.flush().await?;
        Ok(p)
    }

    /// Where an achievement sits (untyped and not featured when never placed).
    pub async fn placement(&self, achievement_id: &str) -> Result<Placement, Error> {
        let rec = self.issuer.achievement(achievement_id).await?;
        Ok(self.snapshot().await?.placement(rec.key))
    }

    // ---- page visibility ----

    /// Whether an award's page is public: staff's choice, else the issuer's default.
    pub async fn is_public(&self, award: Uuid) -> Result<bool, Error> {
        Ok(match self.store.visibility(award).await? {
            Some(v) => v.is_public(),
            None => self.issuer.profile().await?.default_visibility.is_public(),
        })
    }

    /// Hides or shows an award's page; durable when this returns.
    pub async fn set_visibility(&self, award: Uuid, v: Visibility) -> Result<(), Error> {
        self.store.set_visibility(award, v).await?;
        self.store.flush().await?;
        Ok(())
    }

    // ---- images ----

    /// The URL an uploaded image is served at.
    pub fn image_url(&self, digest: &str, format: ImageFormat) -> String {
        format!(
            "{}/images/{digest}.{}",
            self.issuer.identifier(),
            format.extension()
        )
    }

    /// Checks (and for SVG, sanitises) an upload and keeps it; durable when this returns.
    pub async fn store_image(
        &self,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<StoredImage, Error> {
        let up = images::check_upload(bytes, content_type)?;
        let img = StoredImage {
            digest: images::content_address(&up.bytes),
            format: up.format,
            width: up.width,
            height: up.height,
            bytes: up.bytes,
        };
        self.images.put_image(&img).await?;
        self.images.flush().await?;
        Ok(img)
    }

    /// Uploads an achievement's image and points the achievement at it.
    pub async fn set_achievement_image(
        &self,
        achievement_id: &str,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<String, Error> {
        self.issuer.achievement(achievement_id).await?;
        let img = self.store_image(bytes, content_type).await?;
        let url = self.image_url(&img.digest, img.format);
        self.issuer
            .set_achievement_image(achievement_id, ob_image(&url))
            .await?;
        Ok(url)
    }

    /// Uploads the issuer's logo and points the issuer Profile at it.
    pub async fn set_issuer_image(
        &self,
        bytes: &[u8],
        content_type: Option<&str>,
    ) -> Result<String, Error> {
        let img = self.store_image(bytes, content_type).await?;
        let url = self.image_url(&img.digest, img.format);
        let mut profile = self.issuer.profile().await?;
        profile.image = Some(serde_json::json!({"id": url, "type": "Image"}));
        self.issuer.set_profile(profile).await?;
        Ok(url)
    }

    /// An uploaded image by its file name (`<sha256>.png` or `.svg`).
    pub async fn image(&self, file: &str) -> Result<Option<StoredImage>, Error> {
        let Some((digest, ext)) = file.rsplit_once('.') else {
            return Ok(None);
        };
        if digest.len() != 64
            || !digest
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Ok(None);
        }
        Ok(self
            .images
            .image(digest)
            .await?
            .filter(|img| img.format.extension() == ext))
    }

    /// The uploaded image an image URL of this service names.
    async fn own_image(&self, url: &str) -> Result<Option<StoredImage>, Error> {
        let prefix = format!("{}/images/", self.issuer.identifier());
        match url.strip_prefix(&prefix) {
            Some(file) => self.image(file).await,
            None => Ok(None),
        }
    }

    /// The art for an achievement as a badge names it: its image when it is one of
    /// ours or a `data:` URI holding a PNG or SVG, else the generated design.
    pub async fn art(&self, art: ArtRequest<'_>) -> Result<Art, Error> {
        if let Some(url) = art.image {
            if let Some(img) = self.own_image(url).await? {
                return Ok(match img.format {
                    ImageFormat::Png => Art::Png(img.bytes.into()),
                    ImageFormat::Svg => Art::Svg(String::from_utf8_lossy(&img.bytes).into()),
                });
            }
            if let Some(art) = data_uri_art(url) {
                return Ok(art);
            }
        }
        let profile = self.issuer.profile().await?;
        let design = images::default_design(&Design {
            name: art.name,
            issuer: &profile.name,
            badge_type: art.badge_type,
            primary: profile.primary_color.as_deref().unwrap_or(DEFAULT_PRIMARY),
            accent: profile.accent_color.as_deref().unwrap_or(DEFAULT_ACCENT),
        });
        Ok(Art::Svg(design.into()))
    }

    /// The art as a PNG of `size` pixels square (PNG art that is already about that
    /// size is used as it is).
    pub async fn png(&self, art: &Art, size: u32) -> Result<Arc<[u8]>, Error> {
        let key = (art.digest(), size);
        if let Some(hit) = self
            .rasters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return Ok(hit.clone());
        }
        let owned = art.clone();
        let png: Arc<[u8]> = tokio::task::spawn_blocking(move || match owned {
            Art::Png(b) => images::resize_png(&b, size),
            Art::Svg(s) => images::rasterise(&s, size),
        })
        .await
        .map_err(|e| Error::Render(e.to_string()))??
        .into();
        let mut cache = self.rasters.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= RASTER_CACHE {
            cache.clear();
        }
        cache.insert(key, png.clone());
        Ok(png)
    }
}

/// What [`Catalogue::art`] needs to know of an achievement.
#[derive(Debug, Clone, Copy)]
pub struct ArtRequest<'a> {
    pub name: &'a str,
    pub image: Option<&'a str>,
    pub badge_type: Option<&'a str>,
}

/// The page colours when the issuer set none.
pub const DEFAULT_PRIMARY: &str = "#12355b";
pub const DEFAULT_ACCENT: &str = "#f2a900";

fn ob_image(url: &str) -> crate::model::Image {
    crate::model::Image {
        id: url.to_owned(),
        type_: "Image".into(),
        caption: None,
    }
}

/// PNG or SVG art carried in a `data:` URI (base64, or percent-encoded SVG); the SVG is
/// sanitised as an upload would be.
fn data_uri_art(uri: &str) -> Option<Art> {
    use base64::Engine as _;
    let rest = uri.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let bytes = if meta.ends_with(";base64") {
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .ok()?
    } else {
        percent_decode(data)?
    };
    let up = images::check_upload(&bytes, None).ok()?;
    Some(match up.format {
        ImageFormat::Png => Art::Png(up.bytes.into()),
        ImageFormat::Svg => Art::Svg(String::from_utf8(up.bytes).ok()?.into()),
    })
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ids_are_slugs() {
        assert_eq!(
            slug("Professional Certification"),
            "professional-certification"
        );
        assert_eq!(slug("  Skill / Level 2 "), "skill-level-2");
        assert!(check_type_id("knowledge").is_ok());
        for bad in ["", "-x", "x-", "Upper", "a b", &"x".repeat(41)] {
            assert!(check_type_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_placement_naming_a_removed_type_reads_as_untyped() {
        let key = Uuid::nil();
        let mut snap = Snapshot::default();
        snap.placements.insert(
            key,
            Placement {
                badge_type: Some("gone".into()),
                featured: true,
                featured_order: 2,
            },
        );
        let p = snap.placement(key);
        assert_eq!(p.badge_type, None);
        assert!(p.featured);
    }

    #[test]
    fn percent_encoded_data_uris_decode() {
        assert_eq!(
            percent_decode("%3Csvg%2F%3E").as_deref(),
            Some(&b"<svg/>"[..])
        );
        assert_eq!(percent_decode("%zz"), None);
    }
}
