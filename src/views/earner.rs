//! The earner's pages: the private manage page behind `earner_url` (every badge this
//! issuer awarded them, hide or show each badge page, pick what the profile shows,
//! publish it) and the published overview `/profiles/{handle}`, which combines the
//! chosen badges into the skills and alignments they add up to.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use uuid::Uuid;

use super::{Error, Meta, Pages, Site, words};
use crate::earners::Earner;
use crate::records::{Award, EarnerRecord};

/// Where one of the earner's badges stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Awarded, not accepted or claimed yet.
    Offered,
    Issued,
    Expired,
    Suspended,
    Revoked,
}

impl Standing {
    /// The `data-standing` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Offered => "offered",
            Standing::Issued => "issued",
            Standing::Expired => "expired",
            Standing::Suspended => "suspended",
            Standing::Revoked => "revoked",
        }
    }

    pub fn words(self) -> &'static str {
        match self {
            Standing::Offered => "Waiting for you to accept it",
            Standing::Issued => "Issued",
            Standing::Expired => "Expired",
            Standing::Suspended => "Suspended by the issuer",
            Standing::Revoked => "Revoked by the issuer",
        }
    }
}

/// One of the earner's badges.
#[derive(Debug, Clone)]
pub struct EarnerBadge {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub image_url: String,
    pub type_name: Option<String>,
    pub achievement_type: Option<String>,
    pub issued_on: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
    pub standing: Standing,
    /// The badge page (issued badges).
    pub badge_url: Option<String>,
    /// Where to accept it (badges not yet issued).
    pub claim_url: Option<String>,
    /// Whether its badge page is public.
    pub public: bool,
    /// Whether it is on the published profile (when that is published).
    pub on_profile: bool,
    /// Not left off the profile by the earner.
    pub chosen: bool,
}

/// A skill or standard the badges align to, with the badges that do.
#[derive(Debug, Clone)]
pub struct Skill {
    pub name: String,
    pub url: Option<String>,
    pub framework: Option<String>,
    pub badges: Vec<String>,
}

/// What a set of badges adds up to.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// Alignments, most-evidenced first.
    pub skills: Vec<Skill>,
    /// Tags with how many badges carry each, most common first.
    pub tags: Vec<(String, usize)>,
    /// Badge types with their counts, most common first.
    pub types: Vec<(String, usize)>,
}

/// The private manage page.
#[derive(Debug, Clone)]
pub struct ManageView {
    pub site: Site,
    pub meta: Meta,
    pub name: Option<String>,
    /// Where the page's forms post (the manage link itself).
    pub action_url: String,
    pub badges: Vec<EarnerBadge>,
    pub handle: Option<String>,
    pub headline: Option<String>,
    pub published: bool,
    pub profile_url: Option<String>,
    /// What the profile shows, as it would be published.
    pub overview: Overview,
    pub notice: Option<Notice>,
}

/// A line at the top of the manage page after a change.
#[derive(Debug, Clone)]
pub struct Notice {
    pub ok: bool,
    pub text: String,
}

/// `/profiles/{handle}`.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub site: Site,
    pub meta: Meta,
    pub name: String,
    pub headline: Option<String>,
    pub badges: Vec<EarnerBadge>,
    pub overview: Overview,
    pub url: String,
    /// Share links (LinkedIn, X, Facebook, e-mail) to the profile.
    pub shares: Vec<super::share::ShareLink>,
}

/// Adds up what badges say: alignments, tags, badge types.
pub fn overview(badges: &[(EarnerBadge, Vec<super::AlignmentView>, Vec<String>)]) -> Overview {
    let mut skills: BTreeMap<String, Skill> = BTreeMap::new();
    let mut tags: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut types: BTreeMap<String, usize> = BTreeMap::new();
    for (b, alignments, badge_tags) in badges {
        for a in alignments {
            let key = a.name.trim().to_lowercase();
            let s = skills.entry(key).or_insert_with(|| Skill {
                name: a.name.trim().to_owned(),
                url: a.url.clone(),
                framework: a.framework.clone(),
                badges: Vec::new(),
            });
            if !s.badges.contains(&b.name) {
                s.badges.push(b.name.clone());
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in badge_tags {
            let key = t.trim().to_lowercase();
            if key.is_empty() || !seen.insert(key.clone()) {
                continue;
            }
            tags.entry(key)
                .or_insert_with(|| (t.trim().to_owned(), 0))
                .1 += 1;
        }
        if let Some(t) = &b.type_name {
            *types.entry(t.clone()).or_default() += 1;
        }
    }
    let mut skills: Vec<Skill> = skills.into_values().collect();
    skills.sort_by(|a, b| {
        b.badges
            .len()
            .cmp(&a.badges.len())
            .then(a.name.cmp(&b.name))
    });
    let mut tags: Vec<(String, usize)> = tags.into_values().collect();
    tags.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut types: Vec<(String, usize)> = types.into_iter().collect();
    types.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Overview {
        skills,
        tags,
        types,
    }
}

type Described = (EarnerBadge, Vec<super::AlignmentView>, Vec<String>);

impl Pages {
    /// One of an earner's badges, with the alignments and tags it carries.
    async fn earner_badge(
        &self,
        site: &Site,
        rec: &EarnerRecord,
        a: &Award,
    ) -> Result<Described, Error> {
        let achievement = self.issuer.revision(a.achievement).await?;
        let text = super::AchievementText::of(&achievement, 3);
        let snap = self.catalogue.snapshot().await?;
        let type_name = snap.type_of(a.achievement.key).map(|t| t.name.clone());
        let now = self.now();
        let issued = !a.issued.is_empty();
        let standing = if a.revoked {
            Standing::Revoked
        } else if a.suspended {
            Standing::Suspended
        } else if a.valid_until.is_some_and(|u| u <= now) {
            Standing::Expired
        } else if issued {
            Standing::Issued
        } else {
            Standing::Offered
        };
        let public = self.catalogue.is_public(a.id).await?;
        let on_profile = crate::earners::shown_on_profile(rec, a, public);
        let badge = EarnerBadge {
            id: a.id,
            name: achievement.name.clone(),
            description: super::summary(&achievement.description, 200),
            image_url: format!(
                "{}/achievements/{}/image.png?v={}",
                site.base, a.achievement.key, a.achievement.revision
            ),
            type_name,
            achievement_type: achievement.achievement_type.as_deref().map(words),
            issued_on: a.issued.first().map(|c| c.issued_at),
            expires: a.valid_until,
            standing,
            badge_url: (issued && !a.revoked).then(|| format!("{}/badges/{}", site.base, a.id)),
            claim_url: if issued || a.revoked {
                None
            } else {
                self.issuer.claim_url(a)
            },
            public,
            on_profile,
            chosen: !rec.excluded.contains(&a.id),
        };
        Ok((badge, text.alignments, text.tags))
    }

    /// The manage page of an earner opened through their link.
    pub async fn manage_view(
        &self,
        earner: &Earner,
        notice: Option<Notice>,
    ) -> Result<ManageView, Error> {
        let site = self.site().await?;
        let mut described = Vec::with_capacity(earner.awards.len());
        for a in &earner.awards {
            described.push(self.earner_badge(&site, &earner.record, a).await?);
        }
        let shown: Vec<Described> = described
            .iter()
            .filter(|(b, _, _)| b.on_profile)
            .cloned()
            .collect();
        let rec = &earner.record;
        let meta = Meta {
            title: format!("Your badges from {}", site.issuer_name),
            description: format!(
                "Manage the badges {} awarded you and your public profile.",
                site.issuer_name
            ),
            url: format!("{}/", site.base),
            image: None,
            image_alt: None,
            noindex: true,
            og_type: "website",
        };
        Ok(ManageView {
            name: earner.name().map(str::to_owned),
            action_url: earner.manage_url.clone(),
            badges: described.into_iter().map(|(b, _, _)| b).collect(),
            handle: rec.handle.as_ref().map(|h| h.as_str().to_owned()),
            headline: rec.headline.clone(),
            published: rec.published,
            profile_url: rec
                .handle
                .as_ref()
                .map(|h| format!("{}/profiles/{h}", site.base)),
            overview: overview(&shown),
            notice,
            site,
            meta,
        })
    }

    /// A published profile.
    pub async fn profile_view(&self, handle: &str) -> Result<ProfileView, Error> {
        let (rec, awards) = self.earners.profile(handle).await.map_err(|e| match e {
            crate::earners::Error::NotFound(_) => Error::NotFound("profile".into()),
            other => other.into(),
        })?;
        let site = self.site().await?;
        let mut described = Vec::with_capacity(awards.len());
        for a in &awards {
            described.push(self.earner_badge(&site, &rec, a).await?);
        }
        let name = awards
            .iter()
            .find_map(|a| a.recipient.name.clone())
            .unwrap_or_else(|| "Badge earner".into());
        let handle = rec.handle.as_ref().map_or("", |h| h.as_str());
        let url = format!("{}/profiles/{handle}", site.base);
        let n = described.len();
        let meta = Meta {
            title: format!("{name}'s badges from {}", site.issuer_name),
            description: rec.headline.clone().unwrap_or_else(|| {
                format!(
                    "{name} holds {n} verified badge{} from {}.",
                    if n == 1 { "" } else { "s" },
                    site.issuer_name
                )
            }),
            url: url.clone(),
            image: described.first().map(|(b, _, _)| b.image_url.clone()),
            image_alt: described
                .first()
                .map(|(b, _, _)| format!("{} badge", b.name)),
            noindex: false,
            og_type: "profile",
        };
        let shares = super::share::share_links(
            &url,
            &format!("{name}'s verified badges from {}", site.issuer_name),
        );
        Ok(ProfileView {
            shares,
            overview: overview(&described),
            badges: described.into_iter().map(|(b, _, _)| b).collect(),
            headline: rec.headline.clone(),
            name,
            url,
            site,
            meta,
        })
    }
}

/// How a learner record download is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClrFormat {
    /// JSON with a Data Integrity proof.
    Json,
    /// An OB 3.0 §8.2 style compact JWT.
    Jwt,
}

impl ClrFormat {
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("json") => Some(Self::Json),
            Some("jwt") => Some(Self::Jwt),
            Some(_) => None,
        }
    }
}

/// A learner record as a file.
#[derive(Debug, Clone)]
pub struct ClrFile {
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub filename: String,
}

impl Pages {
    /// A CLR 2.0 learner record of `awards` (the earner's), bundling those `chosen`
    /// (all when none is) that are issued and in force; signed on request and not
    /// recorded (see [`crate::issue::clr`]), and kept for the next request for the
    /// same bundle.
    pub async fn clr_of(
        &self,
        awards: &[Award],
        chosen: &[Uuid],
        format: ClrFormat,
    ) -> Result<ClrFile, Error> {
        use crate::issue::clr::Bundled;
        let eligible: Vec<&Award> = awards
            .iter()
            .filter(|a| !a.issued.is_empty() && !a.revoked && !a.suspended && !a.is_general())
            .collect();
        let badges: Vec<Bundled> = eligible
            .iter()
            .filter(|a| chosen.is_empty() || chosen.contains(&a.id))
            .filter_map(|a| Bundled::of((*a).clone()))
            .collect();
        if badges.is_empty() {
            return Err(Error::NotFound("badges to put in a learner record".into()));
        }
        let email = badges.iter().find_map(|b| b.award.recipient.email.clone());
        let did = badges.iter().find_map(|b| b.award.recipient.id.clone());
        let partial = badges.len() < eligible.len();
        let doc = self
            .issuer
            .clr_document(
                email.as_deref(),
                did.as_deref(),
                &badges,
                partial,
                None,
                false,
            )
            .await?;
        let id = doc
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        use crate::issue::general::Securing;
        // JSON carries a Data Integrity proof; with no key for one (none is made
        // here), the JWT is what there is.
        let (securing, format) = match (format, self.issuer.ready_suite()) {
            (ClrFormat::Json, Some(suite)) => (Securing::DataIntegrity(suite), ClrFormat::Json),
            _ => (Securing::Ob3Jwt, ClrFormat::Jwt),
        };
        let key = format!("{id} {format:?}");
        let text = match self.clr_files.get(&key) {
            Some(v) => v.as_str().unwrap_or_default().to_owned(),
            None => {
                let signed = self.issuer.sign_clr(&doc, securing).await?;
                self.clr_files.put(
                    key,
                    std::sync::Arc::new(serde_json::Value::String(signed.clone())),
                );
                signed
            }
        };
        Ok(match format {
            ClrFormat::Json => ClrFile {
                body: text.into_bytes(),
                content_type: "application/vc",
                filename: "learner-record.json".into(),
            },
            ClrFormat::Jwt => ClrFile {
                body: text.into_bytes(),
                content_type: "application/jwt",
                filename: "learner-record.jwt".into(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::AlignmentView;

    fn badge(name: &str, type_name: Option<&str>) -> EarnerBadge {
        EarnerBadge {
            id: Uuid::new_v4(),
            name: name.into(),
            description: String::new(),
            image_url: String::new(),
            type_name: type_name.map(str::to_owned),
            achievement_type: None,
            issued_on: None,
            expires: None,
            standing: Standing::Issued,
            badge_url: None,
            claim_url: None,
            public: true,
            on_profile: true,
            chosen: true,
        }
    }

    fn align(name: &str) -> AlignmentView {
        AlignmentView {
            name: name.into(),
            url: None,
            framework: Some("ESCO".into()),
            code: None,
            description: None,
        }
    }

    #[test]
    fn the_overview_adds_up_skills_tags_and_types() {
        let o = overview(&[
            (
                badge("Cloud Architect", Some("Certification")),
                vec![align("Cloud computing"), align("Security")],
                vec!["cloud".into(), "Cloud".into()],
            ),
            (
                badge("Cloud Fundamentals", Some("Knowledge")),
                vec![align("cloud computing ")],
                vec!["cloud".into(), "basics".into()],
            ),
            (badge("Other", None), vec![], vec![]),
        ]);
        assert_eq!(o.skills[0].name, "Cloud computing");
        assert_eq!(
            o.skills[0].badges,
            vec![
                "Cloud Architect".to_owned(),
                "Cloud Fundamentals".to_owned()
            ]
        );
        assert_eq!(o.skills[1].name, "Security");
        // A tag counts once per badge, whatever its case.
        assert_eq!(o.tags[0], ("cloud".to_owned(), 2));
        assert_eq!(o.tags[1], ("basics".to_owned(), 1));
        assert_eq!(
            o.types,
            vec![("Certification".to_owned(), 1), ("Knowledge".to_owned(), 1)]
        );
    }
}
