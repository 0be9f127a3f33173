//! The employer's page `/verify`: a badge pasted, uploaded, named by its page's
//! address, or asked of the candidate's wallet (OpenID4VP), and the answer for someone
//! who has never heard of a JWT.
//!
//! The verdict (`data-verdict`) is `authentic` when the report is verified,
//! `not-authentic` when some check fails, and `cannot-tell` otherwise, including
//! input that is not a credential. Whether the issuer is one the registry vouches for
//! is shown apart from it: a badge can be authentic and come from an issuer nobody
//! here knows.

use serde_json::Value;
use time::OffsetDateTime;

use super::badge::CheckView;
use super::{Error, Meta, Pages, Site, summary};
use crate::clock::parse_datetime;
use crate::verify::report::{Check, CheckName, Outcome};

/// The page's answer in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Authentic,
    NotAuthentic,
    CannotTell,
}

impl Verdict {
    /// The `data-verdict` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Authentic => "authentic",
            Verdict::NotAuthentic => "not-authentic",
            Verdict::CannotTell => "cannot-tell",
        }
    }

    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Authentic => "Authentic badge",
            Verdict::NotAuthentic => "Not authentic",
            Verdict::CannotTell => "We cannot tell",
        }
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Verdict::Authentic => {
                "This badge was issued by the organisation named below, has not been changed since, is within its validity period, and has not been revoked or suspended."
            }
            Verdict::NotAuthentic => {
                "At least one check failed: do not rely on this badge. The lines below say which."
            }
            Verdict::CannotTell => {
                "Not every check could be completed, so this badge can be neither confirmed nor ruled out. The lines below say what is missing."
            }
        }
    }
}

/// What the registry says of the issuer, apart from the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// This service itself issued it.
    Own,
    /// Listed as trusted (under this name).
    Listed(Option<String>),
    Blocked(Option<String>),
    Unknown,
}

impl Trust {
    /// The `data-trust` value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Trust::Own | Trust::Listed(_) => "listed",
            Trust::Blocked(_) => "blocked",
            Trust::Unknown => "unknown",
        }
    }
}

/// What the badge says, for people.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub achievement: Option<String>,
    pub description: Option<String>,
    pub issuer_name: Option<String>,
    pub issuer_id: Option<String>,
    pub earner: Option<String>,
    /// The subject's identifier (a DID), when it has one.
    pub earner_id: Option<String>,
    /// The badge names its earner's e-mail address as a salted hash (OB 3.0
    /// `IdentityObject`): it can be checked against an address, not read.
    pub earner_email_hashed: bool,
    pub issued: Option<OffsetDateTime>,
    pub expires: Option<OffsetDateTime>,
    /// An `https:` or `data:image/` image of the achievement.
    pub image: Option<String>,
    pub credential_id: Option<String>,
    /// The achievement's id (a URL for OB 3.0 badges).
    pub achievement_id: Option<String>,
}

/// One verification, as the page shows it.
#[derive(Debug, Clone)]
pub struct VerifyOutcome {
    pub verdict: Verdict,
    pub trust: Trust,
    pub checks: Vec<CheckView>,
    pub facts: Option<Facts>,
    /// Why the input could not be examined (friendly words).
    pub problem: Option<String>,
    /// Who presented it, for wallet answers.
    pub holder: Option<String>,
}

/// Plain-language lines for the checks the page explains.
fn plain(c: &CheckView) -> CheckView {
    let mut c = c.clone();
    let msg = c.message.as_deref().unwrap_or_default();
    c.message = match (c.check, c.outcome) {
        ("signature", "pass") => {
            Some("The digital signature matches the issuer's published key.".into())
        }
        ("signature", "fail") => Some(format!(
            "The signature does not match: the badge was altered or not made by its issuer. ({msg})"
        )),
        ("expiry", "pass") => Some("The badge is within its validity period.".into()),
        ("expiry", "fail") => Some(format!("It is outside its validity period ({msg}).")),
        ("status", "fail") => Some(format!("The issuer has withdrawn it: {msg}.")),
        ("status", "pass") => Some("The issuer has not revoked or suspended it.".into()),
        ("schema", "pass") => Some("It is a well-formed Open Badge.".into()),
        ("recipient", "pass") => Some("It was issued to the e-mail address you gave.".into()),
        ("recipient", "fail") => Some("It was not issued to the e-mail address you gave.".into()),
        _ => c.message,
    };
    c
}

/// The outcome of a report (the `/api/v1/verify` JSON shape, or a presentation
/// request's result).
pub fn outcome_of(report: &Value, own_did: &str) -> VerifyOutcome {
    let parse_checks = |v: Option<&Value>| -> Vec<Check> {
        v.and_then(|c| serde_json::from_value::<Vec<Check>>(c.clone()).ok())
            .unwrap_or_default()
    };
    // A presentation's result carries its own checks and one report per badge.
    let first = report
        .get("credentials")
        .and_then(Value::as_array)
        .and_then(|c| c.first());
    let mut checks = parse_checks(report.get("checks"));
    if let Some(cred) = first {
        for c in parse_checks(cred.get("checks")) {
            if !checks.iter().any(|x| x.check == c.check) {
                checks.push(c);
            }
        }
    }
    let verified = report.get("verified").and_then(Value::as_bool) == Some(true);
    let failed = checks
        .iter()
        .any(|c| c.check != CheckName::IssuerTrust && c.outcome == Outcome::Fail);
    let verdict = if verified {
        Verdict::Authentic
    } else if failed {
        Verdict::NotAuthentic
    } else {
        Verdict::CannotTell
    };
    let source = first.unwrap_or(report);
    let issuer_id = source
        .get("issuer")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let registry_name = source
        .get("issuer_registry")
        .and_then(|r| r.get("name"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let trust = match report.get("trusted").and_then(Value::as_bool) {
        _ if issuer_id.as_deref() == Some(own_did) => Trust::Own,
        Some(true) => Trust::Listed(registry_name),
        Some(false) => Trust::Blocked(registry_name),
        None => Trust::Unknown,
    };
    let facts = source
        .get("credential")
        .filter(|c| c.is_object())
        .map(facts_of);
    let mut views: Vec<CheckView> = checks
        .iter()
        .filter(|c| c.check != CheckName::IssuerTrust)
        .map(|c| plain(&CheckView::of(c)))
        .collect();
    views.sort_by_key(|c| match c.outcome {
        "fail" => 0,
        "indeterminate" => 1,
        _ => 2,
    });
    VerifyOutcome {
        verdict,
        trust,
        checks: views,
        facts,
        problem: None,
        holder: report
            .get("holder")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// What input that could not be examined gets.
pub fn problem(message: &str) -> VerifyOutcome {
    VerifyOutcome {
        verdict: Verdict::CannotTell,
        trust: Trust::Unknown,
        checks: Vec::new(),
        facts: None,
        problem: Some(message.to_owned()),
        holder: None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        // Multilingual strings: any value.
        Value::Object(o) => o.values().find_map(|v| text(Some(v))),
        _ => None,
    }
}

fn image(v: Option<&Value>) -> Option<String> {
    let v = v?;
    let url = v.as_str().or_else(|| v.get("id").and_then(Value::as_str))?;
    (url.starts_with("https://")
        || url.starts_with("data:image/png")
        || url.starts_with("data:image/jpeg"))
    .then(|| url.to_owned())
}

/// The `identityHash` of the subject's first `IdentityObject` of a type (OB 3.0
/// §B.1.12), hashed or in the clear as asked.
fn identity(subject: Option<&Value>, kind: &str, hashed: bool) -> Option<String> {
    let ids = subject?.get("identifier")?;
    let list = match ids {
        Value::Array(a) => a.iter().collect::<Vec<_>>(),
        other => vec![other],
    };
    list.into_iter()
        .find(|i| {
            i.get("identityType").and_then(Value::as_str) == Some(kind)
                && i.get("hashed").and_then(Value::as_bool).unwrap_or(false) == hashed
        })
        .and_then(|i| text(i.get("identityHash")))
}

fn date(v: Option<&Value>) -> Option<OffsetDateTime> {
    parse_datetime(v?.as_str()?)
}

/// What a decoded credential says (OB 3.0 and VCDM fields, OB 2.0 where it differs).
pub fn facts_of(c: &Value) -> Facts {
    let subject = match c.get("credentialSubject") {
        Some(Value::Array(a)) => a.first(),
        other => other,
    };
    let achievement = subject.and_then(|s| s.get("achievement"));
    let issuer = c.get("issuer");
    Facts {
        achievement: text(achievement.and_then(|a| a.get("name"))).or_else(|| text(c.get("name"))),
        description: text(achievement.and_then(|a| a.get("description")))
            .or_else(|| text(c.get("description")))
            .map(|d| summary(&d, 400)),
        issuer_name: issuer.and_then(|i| text(i.get("name"))),
        issuer_id: issuer.and_then(|i| i.as_str().map(str::to_owned).or_else(|| text(i.get("id")))),
        earner: subject
            .and_then(|s| text(s.get("name")))
            .or_else(|| identity(subject, "name", false)),
        earner_id: subject.and_then(|s| text(s.get("id"))),
        earner_email_hashed: identity(subject, "emailAddress", true).is_some(),
        issued: date(c.get("validFrom"))
            .or_else(|| date(c.get("issuanceDate")))
            .or_else(|| date(subject.and_then(|s| s.get("activityEndDate")))),
        expires: date(c.get("validUntil")).or_else(|| date(c.get("expirationDate"))),
        image: image(achievement.and_then(|a| a.get("image"))).or_else(|| image(c.get("image"))),
        credential_id: text(c.get("id")),
        achievement_id: text(achievement.and_then(|a| a.get("id"))),
    }
}

/// A wallet presentation started from the page.
#[derive(Debug, Clone)]
pub struct WalletRequest {
    pub id: String,
    /// The `openid4vp://` link (the QR code's content).
    pub link: String,
    pub qr_svg: String,
    /// `pending`, `verified`, `rejected`, `expired`.
    pub state: String,
    pub expires: OffsetDateTime,
    /// This page, for the refresh link.
    pub page_url: String,
    /// The JSON the page's script polls.
    pub poll_url: String,
}

/// `/verify` and its results.
#[derive(Debug, Clone)]
pub struct VerifyView {
    pub site: Site,
    pub meta: Meta,
    /// The form token of the wallet form.
    pub csrf: String,
    pub outcome: Option<VerifyOutcome>,
    pub wallet: Option<WalletRequest>,
    /// How the badge was given: `paste`, `upload`, `url`, `wallet`.
    pub method: Option<&'static str>,
}

impl Pages {
    /// The verify page, with an outcome when there is one.
    pub async fn verify_view(
        &self,
        csrf: String,
        outcome: Option<VerifyOutcome>,
        wallet: Option<WalletRequest>,
        method: Option<&'static str>,
    ) -> Result<VerifyView, Error> {
        let site = self.site().await?;
        let meta = Meta {
            title: format!("Verify a badge — {}", site.issuer_name),
            description: "Check that an Open Badge is authentic: paste it, upload the badge image, give its page's address, or ask the candidate's wallet.".into(),
            url: format!("{}/verify", site.base),
            image: None,
            image_alt: None,
            noindex: outcome.is_some() || wallet.is_some(),
            og_type: "website",
        };
        Ok(VerifyView {
            site,
            meta,
            csrf,
            outcome,
            wallet,
            method,
        })
    }

    /// The verifier the pages use.
    pub fn verifier(&self) -> &crate::verify::Verifier {
        &self.verifier
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const OWN: &str = "did:web:badges.example.edu";

    #[test]
    fn verdicts_follow_the_report() {
        let ok = json!({"verified": true, "trusted": null, "issuer": OWN,
            "checks": [{"check": "signature", "outcome": "pass"}],
            "credential": {"issuer": {"id": OWN, "name": "Example"},
                "credentialSubject": {"name": "Ada", "achievement": {"name": "Cloud Architect"}},
                "validFrom": "2026-01-01T00:00:00Z"}});
        let o = outcome_of(&ok, OWN);
        assert_eq!(o.verdict, Verdict::Authentic);
        assert_eq!(o.trust, Trust::Own);
        let f = o.facts.expect("facts");
        assert_eq!(f.achievement.as_deref(), Some("Cloud Architect"));
        assert_eq!(f.earner.as_deref(), Some("Ada"));
        assert_eq!(f.issuer_name.as_deref(), Some("Example"));
        assert!(f.issued.is_some());
        assert!(!f.earner_email_hashed);

        // An e-mail earner: the name and the hashed address are identity objects.
        let by_email = json!({"credentialSubject": {"identifier": [
            {"type": "IdentityObject", "hashed": true, "identityType": "emailAddress",
             "identityHash": "sha256$53f3", "salt": "35ab"},
            {"type": "IdentityObject", "hashed": false, "identityType": "name",
             "identityHash": "Grace Hopper"}]}});
        let f = facts_of(&by_email);
        assert_eq!(f.earner.as_deref(), Some("Grace Hopper"));
        assert!(f.earner_email_hashed);
        assert_eq!(f.earner_id, None);

        let revoked = json!({"verified": false, "trusted": false,
            "issuer_registry": {"name": "Bad Co"},
            "checks": [{"check": "signature", "outcome": "pass"},
                       {"check": "status", "outcome": "fail", "message": "revoked"},
                       {"check": "issuer_trust", "outcome": "fail"}]});
        let o = outcome_of(&revoked, OWN);
        assert_eq!(o.verdict, Verdict::NotAuthentic);
        assert_eq!(o.trust, Trust::Blocked(Some("Bad Co".into())));
        assert_eq!(o.checks[0].check, "status", "failures first");
        assert!(o.checks.iter().all(|c| c.check != "issuer_trust"));

        // Only the trust check fails and something is indeterminate: cannot tell.
        let unknown = json!({"verified": false, "trusted": null,
            "checks": [{"check": "signature", "outcome": "indeterminate", "message": "DID not reachable"},
                       {"check": "issuer_trust", "outcome": "fail"}]});
        let o = outcome_of(&unknown, OWN);
        assert_eq!(o.verdict, Verdict::CannotTell);
        assert_eq!(o.trust, Trust::Unknown);
        assert_eq!(problem("x").verdict.as_str(), "cannot-tell");
    }

    #[test]
    fn presentation_results_show_the_badge_inside() {
        let r = json!({"verified": true, "trusted": true, "holder": "did:key:z6Mk",
            "checks": [{"check": "nonce", "outcome": "pass"}],
            "credentials": [{"verified": true, "issuer": "did:web:other.example",
                "issuer_registry": {"name": "Other University"},
                "checks": [{"check": "signature", "outcome": "pass"}],
                "credential": {"credentialSubject": {"achievement": {"name": "Data Skills",
                    "image": {"id": "https://other.example/i.png", "type": "Image"}}}}}]});
        let o = outcome_of(&r, OWN);
        assert_eq!(o.verdict, Verdict::Authentic);
        assert_eq!(o.trust, Trust::Listed(Some("Other University".into())));
        assert_eq!(o.holder.as_deref(), Some("did:key:z6Mk"));
        let checks: Vec<&str> = o.checks.iter().map(|c| c.check).collect();
        assert!(checks.contains(&"nonce") && checks.contains(&"signature"));
        let f = o.facts.expect("facts");
        assert_eq!(f.image.as_deref(), Some("https://other.example/i.png"));
    }
}
