//! The badge page `/badges/{id}`: what was signed, who earned it, and its status as
//! the verifier finds it now.
//!
//! `data-status` is one of `valid`, `expired`, `suspended`, `revoked`,
//! `not-yet-valid`, with that precedence (revoked before suspended before expired
//! before not yet valid), or `invalid` when a check other than these fails (a key
//! revoked after a compromise, say): the page never calls a badge valid that the
//! verifier does not.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{AchievementText, Error, Meta, Pages, Site, share, summary};
use crate::catalogue::{Art, ArtRequest};
use crate::model::Achievement;
use crate::records::{Award, BadgeType};
use crate::verify::report::{CheckName, Outcome, Report};

/// How long a badge page's verification is reused while the award does not change.
pub const STATUS_TTL: Duration = Duration::from_secs(15);

/// How many verifications the cache keeps.
const STATUS_CACHE: usize = 10_000;

/// A badge's standing, as its page says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStatus {
    Valid,
    Expired,
    Suspended,
    Revoked,
    NotYetValid,
    Invalid,
}

impl PageStatus {
    /// The `data-status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            PageStatus::Valid => "valid",
            PageStatus::Expired => "expired",
            PageStatus::Suspended => "suspended",
            PageStatus::Revoked => "revoked",
            PageStatus::NotYetValid => "not-yet-valid",
            PageStatus::Invalid => "invalid",
        }
    }

    /// Whether the page offers sharing (LinkedIn, signature, embed): only a badge in
    /// good standing (or one not valid yet) is worth showing off.
    pub fn is_shareable(self) -> bool {
        matches!(self, PageStatus::Valid | PageStatus::NotYetValid)
    }

    /// The status in a few words.
    pub fn headline(self) -> &'static str {
        match self {
            PageStatus::Valid => "Valid badge",
            PageStatus::Expired => "Expired",
            PageStatus::Suspended => "Suspended",
            PageStatus::Revoked => "Revoked",
            PageStatus::NotYetValid => "Not yet valid",
            PageStatus::Invalid => "Could not be verified",
        }
    }

    /// What the status means, in a sentence.
    pub fn explanation(self, issuer: &str) -> String {
        match self {
            PageStatus::Valid => format!(
                "This badge is authentic: it was issued by {issuer}, has not been changed, and is in good standing."
            ),
            PageStatus::Expired => {
                "This badge was authentic but its validity period has ended.".into()
            }
            PageStatus::Suspended => {
                format!("{issuer} has suspended this badge for now. It may be reinstated.")
            }
            PageStatus::Revoked => {
                format!("{issuer} has revoked this badge. It is no longer valid.")
            }
            PageStatus::NotYetValid => {
                "This badge is authentic but its validity period has not started yet.".into()
            }
            PageStatus::Invalid => {
                "One or more checks of this badge failed; see the details below.".into()
            }
        }
    }

    /// The page status from a verification report and the award's flags.
    pub fn from_report(
        report: &Report,
        award: &Award,
        now: OffsetDateTime,
        valid_from: Option<OffsetDateTime>,
        valid_until: Option<OffsetDateTime>,
    ) -> Self {
        let status_msg = report
            .checks
            .iter()
            .find(|c| c.check == CheckName::Status && c.outcome == Outcome::Fail)
            .and_then(|c| c.message.as_deref())
            .unwrap_or("");
        if award.revoked || status_msg.contains("revoked") {
            return PageStatus::Revoked;
        }
        if award.suspended || status_msg.contains("suspended") {
            return PageStatus::Suspended;
        }
        if valid_until.is_some_and(|u| u <= now) {
            return PageStatus::Expired;
        }
        if valid_from.is_some_and(|f| f > now) {
            return PageStatus::NotYetValid;
        }
        if report.verified {
            PageStatus::Valid
        } else {
            PageStatus::Invalid
        }
    }
}

/// One check of the verification, as the page lists it.
#[derive(Debug, Clone)]
pub struct CheckView {
    /// The report's name of the check (`signature`, ...).
    pub check: &'static str,
    pub label: &'static str,
    /// `pass`, `fail`, `indeterminate`.
    pub outcome: &'static str,
    pub message: Option<String>,
}

impl CheckView {
    /// A report's check as pages list it.
    pub fn of(c: &crate::verify::report::Check) -> Self {
        Self {
            check: c.check.as_str(),
            label: label(c.check),
            outcome: outcome(c.outcome),
            message: c.message.clone(),
        }
    }
}

fn label(c: CheckName) -> &'static str {
    match c {
        CheckName::Signature => "Signed by the issuer",
        CheckName::Claims => "Envelope matches the badge",
        CheckName::Expiry => "Within its validity period",
        CheckName::Status => "Not revoked or suspended",
        CheckName::Schema => "Well-formed Open Badge",
        CheckName::IssuerTrust => "Issuer is known",
        CheckName::Recipient => "Issued to the expected person",
        CheckName::Endorsements => "Endorsements verify",
        CheckName::Nonce => "Fresh presentation",
        CheckName::Audience => "Addressed to this verifier",
        CheckName::HolderBinding => "Presented by its holder",
        CheckName::Requested => "What was asked for",
        CheckName::Hosted => "Hosted by its issuer",
        CheckName::BadgeClass => "Badge class and issuer agree",
        CheckName::Credentials => "Every bundled credential verifies",
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Indeterminate => "indeterminate",
    }
}

/// Where a badge's files are.
#[derive(Debug, Clone)]
pub struct Downloads {
    pub png: String,
    pub svg: String,
    pub jwt: String,
    /// The credential with a Data Integrity proof, when the issuer has a key for one.
    pub json: Option<String>,
    /// A small PNG for e-mail signatures.
    pub small_png: String,
}

/// `/badges/{id}`.
#[derive(Debug, Clone)]
pub struct BadgeView {
    pub site: Site,
    pub meta: Meta,
    /// The uuid in the page's URL.
    pub id: Uuid,
    pub credential_id: String,
    pub page_url: String,
    pub embed_url: String,
    pub text: AchievementText,
    pub image_url: String,
    pub image_alt: String,
    /// This service's page of the achievement, when the badge names one of ours.
    pub achievement_url: Option<String>,
    pub badge_type: Option<BadgeType>,
    pub earner: Option<String>,
    pub issued: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
    pub status: PageStatus,
    pub explanation: String,
    pub verified: bool,
    pub checks: Vec<CheckView>,
    pub checked_at: OffsetDateTime,
    pub verification_method: Option<String>,
    pub downloads: Downloads,
    pub linkedin_add: String,
    pub shares: Vec<share::ShareLink>,
    pub signature: String,
    pub embed: String,
    /// The endorsements the badge carries, each as the verifier found it.
    pub endorsements: Vec<super::endorsement::EndorsementView>,
}

/// What a badge id finds.
#[derive(Debug)]
pub enum BadgeLookup<T> {
    Found(T),
    /// Staff hid the page.
    Hidden,
    /// Awarded but not claimed yet: there is no badge to show.
    NotIssued,
}

/// One signed badge: its award, its JWT and the uuid the page is under.
#[derive(Debug, Clone)]
pub struct Badge {
    pub award: Award,
    pub id: Uuid,
    pub jwt: String,
    /// The decoded credential (the JWT payload).
    pub credential: Value,
}

impl Badge {
    /// The achievement the badge carries.
    pub fn achievement(&self) -> Option<Achievement> {
        let a = self
            .credential
            .get("credentialSubject")?
            .get("achievement")?;
        serde_json::from_value(a.clone()).ok()
    }

    fn date(&self, key: &str) -> Option<OffsetDateTime> {
        let s = self.credential.get(key)?.as_str()?;
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
    }
}

/// Data Integrity forms of signed badges, by the JWT's signature (bounded: emptied
/// when full).
#[derive(Debug, Default)]
pub struct FormCache(std::sync::Mutex<std::collections::HashMap<String, Arc<Value>>>);

/// The most Data Integrity forms kept.
const FORMS_KEPT: usize = 1024;

impl FormCache {
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    pub(crate) fn put(&self, key: String, v: Arc<Value>) {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if m.len() >= FORMS_KEPT {
            m.clear();
        }
        m.insert(key, v);
    }
}

struct Cached {
    at: Instant,
    updated: OffsetDateTime,
    flags: (bool, bool),
    report: Arc<Report>,
}

/// Recent verifications of badge pages.
pub(crate) struct StatusCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, Cached>>,
}

impl StatusCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::default(),
        }
    }

    fn get(&self, id: Uuid, award: &Award) -> Option<Arc<Report>> {
        if self.ttl.is_zero() {
            return None;
        }
        let map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let c = map.get(&id)?;
        (c.at.elapsed() < self.ttl
            && c.updated == award.updated_at
            && c.flags == (award.revoked, award.suspended))
            .then(|| c.report.clone())
    }

    fn put(&self, id: Uuid, award: &Award, report: Arc<Report>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= STATUS_CACHE {
            let ttl = self.ttl;
            map.retain(|_, c| c.at.elapsed() < ttl);
            if map.len() >= STATUS_CACHE {
                map.clear();
            }
        }
        map.insert(
            id,
            Cached {
                at: Instant::now(),
                updated: award.updated_at,
                flags: (award.revoked, award.suspended),
                report,
            },
        );
    }
}

impl Pages {
    /// The signed badge an id names (an award's uuid: its first copy; a batch copy's
    /// uuid: that copy), whether or not its page is public.
    pub async fn find_badge(&self, id: &str) -> Result<BadgeLookup<Badge>, Error> {
        let not_found = || Error::NotFound(format!("badge {id}"));
        let uuid = crate::issue::parse_credential_id(id).ok_or_else(not_found)?;
        let award = match self.issuer.credential(&uuid.to_string()).await {
            Ok(a) => a,
            Err(crate::issue::Error::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        // A credential issued as given through the VC-API is not a badge of this
        // issuer's achievements: it has no badge page.
        if award.is_general() {
            return Err(not_found());
        }
        let copy = if award.id == uuid {
            award
                .issued
                .iter()
                .find(|c| c.id.is_none())
                .or_else(|| award.issued.first())
        } else {
            award.issued.iter().find(|c| c.id == Some(uuid))
        };
        let Some(copy) = copy else {
            return Ok(BadgeLookup::NotIssued);
        };
        if !self.catalogue.is_public(award.id).await? {
            return Ok(BadgeLookup::Hidden);
        }
        let credential = crate::jose::jws::CompactJws::parse(&copy.jwt)
            .ok()
            .and_then(|j| j.payload_json().ok())
            .map(Value::Object)
            .unwrap_or(Value::Null);
        Ok(BadgeLookup::Found(Badge {
            jwt: copy.jwt.clone(),
            id: uuid,
            award,
            credential,
        }))
    }

    /// The verification of a badge (reused for a short while).
    pub async fn badge_report(&self, badge: &Badge) -> Result<Arc<Report>, Error> {
        if let Some(r) = self.statuses.get(badge.id, &badge.award) {
            return Ok(r);
        }
        let report = Arc::new(self.verifier.verify_jwt(&badge.jwt).await?);
        self.statuses.put(badge.id, &badge.award, report.clone());
        Ok(report)
    }

    /// The badge with an embedded Data Integrity proof instead of its JWT envelope
    /// (the same credential), kept for a while per signed copy so that page visitors
    /// do not cost a signature each. `None` when the issuer has no key for one (none
    /// is made for an anonymous request).
    pub async fn data_integrity_form(&self, badge: &Badge) -> Result<Option<Arc<Value>>, Error> {
        let key = badge.jwt.rsplit('.').next().unwrap_or_default().to_owned();
        if let Some(v) = self.di_forms.get(&key) {
            return Ok(Some(v));
        }
        let Some(doc) = self.issuer.data_integrity_form(&badge.jwt, false).await? else {
            return Ok(None);
        };
        let doc = Arc::new(doc);
        self.di_forms.put(key, doc.clone());
        Ok(Some(doc))
    }

    /// The art a badge is drawn with.
    pub async fn badge_art(&self, badge: &Badge) -> Result<Art, Error> {
        let achievement = badge.achievement();
        let snap = self.catalogue.snapshot().await?;
        let type_name = snap
            .type_of(badge.award.achievement.key)
            .map(|t| t.name.clone());
        let name = achievement
            .as_ref()
            .map_or("Open Badge", |a| a.name.as_str());
        Ok(self
            .catalogue
            .art(ArtRequest {
                name,
                image: achievement
                    .as_ref()
                    .and_then(|a| a.image.as_ref())
                    .map(|i| i.id.as_str()),
                badge_type: type_name.as_deref(),
            })
            .await?)
    }

    /// The badge page's view.
    pub async fn badge_view(&self, id: &str) -> Result<BadgeLookup<BadgeView>, Error> {
        let badge = match self.find_badge(id).await? {
            BadgeLookup::Found(b) => b,
            BadgeLookup::Hidden => return Ok(BadgeLookup::Hidden),
            BadgeLookup::NotIssued => return Ok(BadgeLookup::NotIssued),
        };
        let report = self.badge_report(&badge).await?;
        let site = self.site().await?;
        let profile = self.issuer.profile().await?;
        let now = self.now();
        let achievement = badge.achievement();
        let text = achievement
            .as_ref()
            .map(|a| AchievementText::of(a, 3))
            .unwrap_or_else(|| AchievementText {
                name: "Open Badge".into(),
                description: String::new(),
                criteria_html: None,
                criteria_url: None,
                alignments: Vec::new(),
                tags: Vec::new(),
                achievement_type: None,
                details: Vec::new(),
            });
        let issued = badge.date("validFrom");
        let expires = badge.date("validUntil");
        let status = PageStatus::from_report(&report, &badge.award, now, issued, expires);
        let page_url = format!("{}/badges/{}", site.base, badge.id);
        let snap = self.catalogue.snapshot().await?;
        let badge_type = snap.type_of(badge.award.achievement.key).cloned();
        let earner = badge.award.recipient.name.clone().or_else(|| {
            badge
                .credential
                .get("credentialSubject")
                .and_then(|s| s.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let downloads = Downloads {
            png: format!("{page_url}/badge.png"),
            svg: format!("{page_url}/badge.svg"),
            jwt: format!("{page_url}/credential.jwt"),
            json: self
                .issuer
                .ready_suite()
                .is_some()
                .then(|| format!("{page_url}/credential.json")),
            small_png: format!("{page_url}/small.png"),
        };
        let cert_id = badge.id.to_string();
        let linkedin_add = share::linkedin_add(&share::Certification {
            name: &text.name,
            organization_name: &profile.name,
            organization_id: profile.linkedin_organization_id.as_deref(),
            issued: issued.unwrap_or(badge.award.valid_from),
            expires,
            page_url: &page_url,
            cert_id: &cert_id,
        });
        let share_text = match &earner {
            Some(e) => format!("{e} earned {} from {}", text.name, site.issuer_name),
            None => format!("{} from {}", text.name, site.issuer_name),
        };
        let shares = share::share_links(&page_url, &share_text);
        let signature = share::signature_snippet(
            &page_url,
            &downloads.small_png,
            &text.name,
            &site.issuer_name,
        );
        let embed_url = format!("{page_url}/embed");
        let embed = share::embed_snippet(&embed_url, &text.name);
        let achievement_url = Some(self.issuer.achievement_url(badge.award.achievement.key))
            .filter(|u| achievement.as_ref().is_some_and(|a| &a.id == u));
        let checks = report.checks.iter().map(CheckView::of).collect();
        let title = match &earner {
            Some(e) => format!("{} — earned by {e}", text.name),
            None => text.name.clone(),
        };
        let meta = Meta {
            title: format!("{title} | {}", site.issuer_name),
            description: if text.description.is_empty() {
                share_text
            } else {
                summary(&format!("{share_text}. {}", text.description), 200)
            },
            url: page_url.clone(),
            image: Some(downloads.png.clone()),
            image_alt: Some(format!("{} badge", text.name)),
            noindex: false,
            og_type: "article",
        };
        Ok(BadgeLookup::Found(BadgeView {
            image_alt: format!("{} badge from {}", text.name, site.issuer_name),
            image_url: downloads.png.clone(),
            explanation: status.explanation(&site.issuer_name),
            credential_id: badge.award.credential_id(),
            id: badge.id,
            site,
            meta,
            page_url,
            embed_url,
            text,
            achievement_url,
            badge_type,
            earner,
            issued,
            expires,
            status,
            verified: report.verified,
            checks,
            checked_at: now,
            verification_method: report.verification_method.clone(),
            downloads,
            linkedin_add,
            shares,
            signature,
            embed,
            endorsements: report
                .endorsements
                .iter()
                .map(super::endorsement::EndorsementView::of)
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn award(revoked: bool, suspended: bool) -> Award {
        Award {
            id: Uuid::nil(),
            seq: 0,
            achievement: crate::records::AchievementRef {
                key: Uuid::nil(),
                revision: 1,
            },
            recipient: Default::default(),
            state: crate::records::AwardState::Issued,
            salt: String::new(),
            valid_from: datetime!(2026-01-01 0:00 UTC),
            valid_until: None,
            tx_code_required: false,
            approval_required: false,
            extras: None,
            issued: Vec::new(),
            revoked,
            suspended,
            status: None,
            wallet: Default::default(),
            created_at: datetime!(2026-01-01 0:00 UTC),
            updated_at: datetime!(2026-01-01 0:00 UTC),
        }
    }

    fn report(verified: bool) -> Report {
        let mut r = Report::new();
        r.verified = verified;
        r
    }

    #[test]
    fn status_precedence_is_revoked_suspended_expired_not_yet_valid_valid() {
        let now = datetime!(2027-01-01 0:00 UTC);
        let past = Some(datetime!(2026-06-01 0:00 UTC));
        let future = Some(datetime!(2028-01-01 0:00 UTC));
        let r = report(false);
        assert_eq!(
            PageStatus::from_report(&r, &award(true, true), now, future, past),
            PageStatus::Revoked
        );
        assert_eq!(
            PageStatus::from_report(&r, &award(false, true), now, future, past),
            PageStatus::Suspended
        );
        assert_eq!(
            PageStatus::from_report(&r, &award(false, false), now, future, past),
            PageStatus::Expired
        );
        assert_eq!(
            PageStatus::from_report(&r, &award(false, false), now, future, future),
            PageStatus::NotYetValid
        );
        assert_eq!(
            PageStatus::from_report(&report(true), &award(false, false), now, past, future),
            PageStatus::Valid
        );
        assert_eq!(
            PageStatus::from_report(&r, &award(false, false), now, past, future),
            PageStatus::Invalid
        );
    }

    #[test]
    fn a_status_list_that_says_revoked_wins_over_the_record() {
        let mut r = report(false);
        r.fail(CheckName::Status, "revoked");
        let now = datetime!(2027-01-01 0:00 UTC);
        assert_eq!(
            PageStatus::from_report(&r, &award(false, false), now, None, None),
            PageStatus::Revoked
        );
    }

    #[test]
    fn a_cached_verification_is_dropped_when_the_award_changes() {
        let cache = StatusCache::new(Duration::from_secs(60));
        let a = award(false, false);
        cache.put(a.id, &a, Arc::new(report(true)));
        assert!(cache.get(a.id, &a).is_some());
        let mut revoked = a.clone();
        revoked.revoked = true;
        assert!(cache.get(a.id, &revoked).is_none());
        let off = StatusCache::new(Duration::ZERO);
        off.put(a.id, &a, Arc::new(report(true)));
        assert!(off.get(a.id, &a).is_none());
    }
}
