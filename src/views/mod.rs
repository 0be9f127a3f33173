//! What each public page shows, built from the domain and nothing else: the catalogue,
//! an achievement, a badge (with its live status), and the site they share (issuer,
//! colours). Templates (in `http::pages`) only lay these out; handlers only pick the
//! view and the response.
//!
//! A badge's page shows what was signed (the achievement inside the credential, not
//! the achievement as it is today) and its status as the verifier finds it when the
//! page is viewed. Verification results are kept briefly ([`STATUS_TTL`]) and dropped
//! at once when the award changes (a revocation shows on the next view).

pub mod badge;
pub mod claim;
pub mod earner;
pub mod endorsement;
pub mod markdown;
pub mod share;
pub mod theme;
pub mod verify;

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalogue::{self, ArtRequest, Catalogue};
use crate::clock::SharedClock;
use crate::issue::{self, Issuer};
use crate::model::Achievement;
use crate::records::{AchievementRecord, BadgeType};
use crate::verify::Verifier;

pub use badge::{BadgeLookup, BadgeView, PageStatus, STATUS_TTL};
pub use theme::Theme;

/// Page failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Catalogue(#[from] catalogue::Error),
    #[error(transparent)]
    Issue(#[from] issue::Error),
    #[error(transparent)]
    Verify(#[from] crate::verify::Error),
    #[error(transparent)]
    Earner(#[from] crate::earners::Error),
    #[error("rendering failed: {0}")]
    Render(String),
}

/// What every page shows of the issuer.
#[derive(Debug, Clone)]
pub struct Site {
    /// The public URL without a trailing slash; every link is absolute under it.
    pub base: String,
    pub issuer_name: String,
    pub issuer_url: Option<String>,
    pub issuer_email: Option<String>,
    pub issuer_description: Option<String>,
    /// The issuer's logo (an http(s) URL or a `data:` image), if it has one.
    pub logo_url: Option<String>,
    pub did: String,
    pub theme: Theme,
}

/// A page's head: title, description, canonical URL, Open Graph image.
#[derive(Debug, Clone)]
pub struct Meta {
    pub title: String,
    pub description: String,
    pub url: String,
    /// A PNG (social sites ignore SVG).
    pub image: Option<String>,
    pub image_alt: Option<String>,
    pub noindex: bool,
    /// `website` or `article`.
    pub og_type: &'static str,
}

/// An achievement as a catalogue tile.
#[derive(Debug, Clone)]
pub struct Card {
    pub key: Uuid,
    pub href: String,
    pub name: String,
    pub summary: String,
    pub image_url: String,
    pub type_name: Option<String>,
}

/// One badge type with its achievements.
#[derive(Debug, Clone)]
pub struct TypeSection {
    pub badge_type: BadgeType,
    pub cards: Vec<Card>,
}

/// The catalogue `/`.
#[derive(Debug, Clone)]
pub struct CatalogueView {
    pub site: Site,
    pub meta: Meta,
    /// By `featured_order`, then name.
    pub featured: Vec<Card>,
    /// Newest first, at most [`NEW_BADGES`].
    pub new: Vec<Card>,
    /// Types that have achievements, by the types' order.
    pub types: Vec<TypeSection>,
    /// Achievements with no type, when some have one.
    pub untyped: Vec<Card>,
    pub total: usize,
}

/// How many achievements "new badges" shows.
pub const NEW_BADGES: usize = 6;

/// An alignment to a framework or standard.
#[derive(Debug, Clone)]
pub struct AlignmentView {
    pub name: String,
    pub url: Option<String>,
    pub framework: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
}

/// What an achievement says, as pages show it (shared by achievement and badge pages).
#[derive(Debug, Clone)]
pub struct AchievementText {
    pub name: String,
    pub description: String,
    /// Safe HTML from the Markdown narrative.
    pub criteria_html: Option<String>,
    /// Where the criteria are published, when they are.
    pub criteria_url: Option<String>,
    pub alignments: Vec<AlignmentView>,
    pub tags: Vec<String>,
    /// The OB `achievementType` in words ("Certificate", "Micro Credential").
    pub achievement_type: Option<String>,
    /// Label / value pairs: credits, level, field of study, specialisation, code.
    pub details: Vec<(&'static str, String)>,
}

/// `/achievements/{id}`.
#[derive(Debug, Clone)]
pub struct AchievementView {
    pub site: Site,
    pub meta: Meta,
    pub key: Uuid,
    pub text: AchievementText,
    pub image_url: String,
    pub badge_type: Option<BadgeType>,
    pub archived: bool,
    /// The endorsements the achievement carries, each with its verification.
    pub endorsements: Vec<endorsement::EndorsementView>,
}

/// Splits an OB enumeration value into words: `MicroCredential` → "Micro Credential";
/// `ext:` values lose their prefix.
pub fn words(value: &str) -> String {
    let v = value.strip_prefix("ext:").unwrap_or(value);
    let mut out = String::with_capacity(v.len() + 4);
    let mut prev_lower = false;
    for c in v.chars() {
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.push(if c == '_' { ' ' } else { c });
    }
    out
}

/// The first sentence or so of a description, for tiles and meta descriptions.
pub fn summary(text: &str, max_chars: usize) -> String {
    let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() <= max_chars {
        return t;
    }
    let cut: String = t.chars().take(max_chars).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

impl AchievementText {
    /// The text of an achievement; narrative headings start at `top`.
    pub fn of(a: &Achievement, top: u8) -> Self {
        let mut details = Vec::new();
        if let Some(c) = &a.credits_available {
            details.push(("Credits", c.to_string()));
        }
        for (label, v) in [
            ("Field of study", &a.field_of_study),
            ("Specialisation", &a.specialization),
            ("Code", &a.human_code),
            ("Version", &a.version),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.trim().is_empty()) {
                details.push((label, v.to_owned()));
            }
        }
        let http =
            |u: &str| (u.starts_with("https://") || u.starts_with("http://")).then(|| u.to_owned());
        Self {
            name: a.name.clone(),
            description: a.description.clone(),
            criteria_html: a
                .criteria
                .narrative
                .as_deref()
                .filter(|n| !n.trim().is_empty())
                .map(|n| markdown::to_html(n, top)),
            criteria_url: a.criteria.id.as_deref().and_then(http),
            alignments: a
                .alignment
                .iter()
                .flatten()
                .map(|al| AlignmentView {
                    name: al.target_name.clone(),
                    url: http(&al.target_url),
                    framework: al.target_framework.clone(),
                    code: al.target_code.clone(),
                    description: al.target_description.clone(),
                })
                .collect(),
            tags: a.tag.clone().unwrap_or_default(),
            achievement_type: a.achievement_type.as_deref().map(words),
            details,
        }
    }
}

/// Builds the public pages' views.
#[derive(Clone)]
pub struct Pages {
    issuer: Issuer,
    catalogue: Catalogue,
    earners: crate::earners::Earners,
    verifier: Verifier,
    clock: SharedClock,
    statuses: Arc<badge::StatusCache>,
    endorsements: Arc<endorsement::EndorsementCache>,
    di_forms: Arc<badge::FormCache>,
    clr_files: Arc<badge::FormCache>,
}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages").finish_non_exhaustive()
    }
}

impl Pages {
    pub fn new(
        issuer: Issuer,
        catalogue: Catalogue,
        earners: crate::earners::Earners,
        verifier: Verifier,
        clock: SharedClock,
    ) -> Self {
        Self {
            issuer,
            catalogue,
            earners,
            verifier,
            clock,
            statuses: Arc::new(badge::StatusCache::new(STATUS_TTL)),
            endorsements: Arc::new(endorsement::EndorsementCache::new(STATUS_TTL)),
            di_forms: Arc::new(badge::FormCache::default()),
            clr_files: Arc::new(badge::FormCache::default()),
        }
    }

    /// How long a badge's verification is kept (zero: verify on every view).
    pub fn with_status_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.statuses = Arc::new(badge::StatusCache::new(ttl));
        self.endorsements = Arc::new(endorsement::EndorsementCache::new(ttl));
        self
    }

    /// The same pages over another verifier.
    pub fn with_verifier(mut self, verifier: Verifier) -> Self {
        self.verifier = verifier;
        self
    }

    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The issuer as every page shows it.
    pub async fn site(&self) -> Result<Site, Error> {
        let p = self.issuer.profile().await?;
        let logo_url = p
            .image
            .as_ref()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).or(v.as_str()))
            .filter(|u| {
                u.starts_with("https://")
                    || u.starts_with("http://")
                    || u.starts_with("data:image/")
            })
            .map(str::to_owned);
        Ok(Site {
            base: self.issuer.identifier(),
            theme: Theme::new(p.primary_color.as_deref(), p.accent_color.as_deref()),
            issuer_name: p.name,
            issuer_url: p.url,
            issuer_email: p.email,
            issuer_description: p.description,
            logo_url,
            did: self.issuer.did().as_str().to_owned(),
        })
    }

    fn card(&self, site: &Site, rec: &AchievementRecord, type_name: Option<&str>) -> Card {
        Card {
            key: rec.key,
            href: format!("{}/achievements/{}", site.base, rec.key),
            name: rec.achievement.name.clone(),
            summary: summary(&rec.achievement.description, 140),
            image_url: image_png_url(site, rec),
            type_name: type_name.map(str::to_owned),
        }
    }

    /// The catalogue.
    pub async fn catalogue_view(&self) -> Result<CatalogueView, Error> {
        let site = self.site().await?;
        let snap = self.catalogue.snapshot().await?;
        let listed: Vec<AchievementRecord> = self
            .issuer
            .achievements()
            .await?
            .into_iter()
            .filter(|r| !r.archived)
            .collect();
        let type_of = |r: &AchievementRecord| snap.type_of(r.key).map(|t| t.name.clone());
        let mut featured: Vec<(i64, &AchievementRecord)> = listed
            .iter()
            .filter_map(|r| {
                let p = snap.placement(r.key);
                p.featured.then_some((p.featured_order, r))
            })
            .collect();
        featured.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.achievement.name.cmp(&b.1.achievement.name))
        });
        let featured = featured
            .into_iter()
            .map(|(_, r)| self.card(&site, r, type_of(r).as_deref()))
            .collect();
        let mut newest: Vec<&AchievementRecord> = listed.iter().collect();
        newest.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.key.cmp(&a.key)));
        let new = newest
            .into_iter()
            .take(NEW_BADGES)
            .map(|r| self.card(&site, r, type_of(r).as_deref()))
            .collect();
        let mut types = Vec::new();
        for t in &snap.types {
            let mut cards: Vec<Card> = listed
                .iter()
                .filter(|r| snap.placement(r.key).badge_type.as_deref() == Some(t.id.as_str()))
                .map(|r| self.card(&site, r, Some(&t.name)))
                .collect();
            if cards.is_empty() {
                continue;
            }
            cards.sort_by(|a, b| a.name.cmp(&b.name));
            types.push(TypeSection {
                badge_type: t.clone(),
                cards,
            });
        }
        let mut untyped: Vec<Card> = listed
            .iter()
            .filter(|r| snap.placement(r.key).badge_type.is_none())
            .map(|r| self.card(&site, r, None))
            .collect();
        untyped.sort_by(|a, b| a.name.cmp(&b.name));
        let description = site.issuer_description.clone().map_or_else(
            || {
                format!(
                    "Open Badges awarded by {}: what each badge means and how to earn it.",
                    site.issuer_name
                )
            },
            |d| summary(&d, 160),
        );
        let meta = Meta {
            title: format!("Badges from {}", site.issuer_name),
            description,
            url: format!("{}/", site.base),
            image: site.logo_url.clone().filter(|u| u.ends_with(".png")),
            image_alt: Some(format!("{} logo", site.issuer_name)),
            noindex: false,
            og_type: "website",
        };
        Ok(CatalogueView {
            total: listed.len(),
            site,
            meta,
            featured,
            new,
            types,
            untyped,
        })
    }

    /// One achievement's page.
    pub async fn achievement_view(&self, id: &str) -> Result<AchievementView, Error> {
        let rec = self.issuer.achievement(id).await?;
        let site = self.site().await?;
        let snap = self.catalogue.snapshot().await?;
        let badge_type = snap.type_of(rec.key).cloned();
        let text = AchievementText::of(&rec.achievement, 3);
        let image_url = image_png_url(&site, &rec);
        let meta = Meta {
            title: format!("{} — {}", text.name, site.issuer_name),
            description: summary(&text.description, 160),
            url: format!("{}/achievements/{}", site.base, rec.key),
            image: Some(image_url.clone()),
            image_alt: Some(format!("{} badge", text.name)),
            noindex: rec.archived,
            og_type: "website",
        };
        let endorsements = self.achievement_endorsements(&rec).await;
        Ok(AchievementView {
            endorsements,
            key: rec.key,
            archived: rec.archived,
            site,
            meta,
            text,
            image_url,
            badge_type,
        })
    }

    /// The endorsements an achievement carries (`endorsement` and `endorsementJwt`),
    /// each verified; at most [`crate::verify::MAX_ENDORSEMENTS`].
    async fn achievement_endorsements(
        &self,
        rec: &AchievementRecord,
    ) -> Vec<endorsement::EndorsementView> {
        let a = &rec.achievement;
        let items: Vec<serde_json::Value> = a
            .endorsement
            .iter()
            .flatten()
            .filter_map(|e| serde_json::to_value(e).ok())
            .chain(
                a.endorsement_jwt
                    .iter()
                    .flatten()
                    .map(|j| serde_json::Value::String(j.clone())),
            )
            .take(crate::verify::MAX_ENDORSEMENTS)
            .collect();
        if items.is_empty() {
            return Vec::new();
        }
        let key = format!("{}#{}", rec.key, rec.revision);
        if let Some(v) = self.endorsements.get(&key) {
            return v;
        }
        let mut views = Vec::with_capacity(items.len());
        for item in &items {
            match self.verifier.verify_value(item).await {
                Ok(report) => views.push(endorsement::EndorsementView::of(&report)),
                Err(e) => tracing::debug!(error = %e, "an attached endorsement cannot be read"),
            }
        }
        self.endorsements.put(key, views.clone());
        views
    }

    /// The art of an achievement as it stands (for its page and tiles).
    pub async fn achievement_art(&self, id: &str) -> Result<catalogue::Art, Error> {
        let rec = self.issuer.achievement(id).await?;
        let snap = self.catalogue.snapshot().await?;
        let type_name = snap.type_of(rec.key).map(|t| t.name.clone());
        Ok(self
            .catalogue
            .art(ArtRequest {
                name: &rec.achievement.name,
                image: rec.achievement.image.as_ref().map(|i| i.id.as_str()),
                badge_type: type_name.as_deref(),
            })
            .await?)
    }
}

/// The PNG of an achievement's art; the revision in the query makes a new URL when
/// the achievement changes.
fn image_png_url(site: &Site, rec: &AchievementRecord) -> String {
    format!(
        "{}/achievements/{}/image.png?v={}",
        site.base, rec.key, rec.revision
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumeration_values_read_as_words() {
        assert_eq!(words("MicroCredential"), "Micro Credential");
        assert_eq!(words("Certificate"), "Certificate");
        assert_eq!(words("ext:FieldWork"), "Field Work");
        assert_eq!(words("LearningProgram"), "Learning Program");
    }

    #[test]
    fn summaries_cut_at_a_word_with_an_ellipsis() {
        assert_eq!(summary("Short.", 50), "Short.");
        let s = summary(
            "Designs secure, resilient cloud systems across providers.",
            30,
        );
        assert!(s.ends_with('…'), "{s}");
        assert!(s.chars().count() <= 31, "{s}");
        assert!(!s.contains("  "));
    }
}
