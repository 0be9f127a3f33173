//! The verification report: one entry per check, and a verdict.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Fail,
    /// Could not be decided (a key that cannot be resolved, a proof type not supported).
    Indeterminate,
}

/// The checks, by their report names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// JOSE header rules, key resolution, and the signature itself.
    Signature,
    /// The registered JWT claims agree with the credential (OB 3.0 §8.2.4).
    Claims,
    /// `validFrom`/`validUntil` (and `nbf`/`exp`) against the clock.
    Expiry,
    /// Revocation and suspension.
    Status,
    /// The OB 3.0 AchievementCredential JSON Schema and the rules beside it.
    Schema,
    /// Whether the issuer is one the verifier knows.
    IssuerTrust,
    /// The badge names the e-mail address the caller supplied.
    Recipient,
    /// Every endorsement the badge carries verifies.
    Endorsements,
    /// A presentation's nonce is the challenge the verifier set.
    Nonce,
    /// A presentation is addressed to the verifier.
    Audience,
    /// Every credential in a presentation is about its holder.
    HolderBinding,
    /// The badges presented are what the presentation request asked for.
    Requested,
    /// An Open Badges 2.0 hosted assertion is served at its id, where its issuer
    /// allows.
    Hosted,
    /// An Open Badges 2.0 assertion's badge class and issuer are hosted where they say
    /// and agree with it.
    BadgeClass,
    /// Every credential a CLR bundles verifies.
    Credentials,
}

impl CheckName {
    /// The name reports use (the serialised form).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Signature => "signature",
            CheckName::Claims => "claims",
            CheckName::Expiry => "expiry",
            CheckName::Status => "status",
            CheckName::Schema => "schema",
            CheckName::IssuerTrust => "issuer_trust",
            CheckName::Recipient => "recipient",
            CheckName::Endorsements => "endorsements",
            CheckName::Nonce => "nonce",
            CheckName::Audience => "audience",
            CheckName::HolderBinding => "holder_binding",
            CheckName::Requested => "requested",
            CheckName::Hosted => "hosted",
            CheckName::BadgeClass => "badge_class",
            CheckName::Credentials => "credentials",
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    pub check: CheckName,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The answer of a verification.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    /// True only when every check except `issuer_trust` passed.
    pub verified: bool,
    /// The `issuer_trust` outcome alone: `true`, `false`, or `null` for unknown.
    pub trusted: Option<bool>,
    pub checks: Vec<Check>,
    /// The standard the credential was judged by: `ob3`, `clr2`, `vcdm2`, `vcdm1.1`,
    /// `ob2-hosted` or `ob2-signed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard: Option<&'static str>,
    /// The decoded credential (the JWT payload for JWT badges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<Value>,
    /// The issuer id as the credential states it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The verification method that verified the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<String>,
    /// The trust registry's entry for the issuer, when the registry decided
    /// `issuer_trust` (name and logo are the registry's, never the badge's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer_registry: Option<crate::trust::Listing>,
    /// One report per endorsement, when the badge carries any.
    #[schema(no_recursion)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub endorsements: Vec<Report>,
    /// One report per credential a CLR bundles.
    #[schema(no_recursion)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Report>,
}

impl Report {
    /// An empty report to fill.
    pub fn new() -> Self {
        Self {
            verified: false,
            trusted: None,
            checks: Vec::new(),
            standard: None,
            credential: None,
            issuer: None,
            verification_method: None,
            issuer_registry: None,
            endorsements: Vec::new(),
            credentials: Vec::new(),
        }
    }

    /// Adds a check.
    pub fn push(&mut self, check: CheckName, outcome: Outcome, message: Option<String>) {
        self.checks.push(Check {
            check,
            outcome,
            message,
        });
    }

    pub fn pass(&mut self, check: CheckName) {
        self.push(check, Outcome::Pass, None);
    }

    pub fn fail(&mut self, check: CheckName, message: impl Into<String>) {
        self.push(check, Outcome::Fail, Some(message.into()));
    }

    pub fn indeterminate(&mut self, check: CheckName, message: impl Into<String>) {
        self.push(check, Outcome::Indeterminate, Some(message.into()));
    }

    /// The outcome of a check, if it ran.
    pub fn outcome(&self, check: CheckName) -> Option<Outcome> {
        self.checks
            .iter()
            .find(|c| c.check == check)
            .map(|c| c.outcome)
    }

    /// What keeps the credential from being verified: every check but `issuer_trust`
    /// that did not pass, as `check: message`.
    pub fn problems(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| c.check != CheckName::IssuerTrust && c.outcome != Outcome::Pass)
            .map(|c| match &c.message {
                Some(m) => format!("{}: {m}", c.check.as_str()),
                None => c.check.as_str().to_owned(),
            })
            .collect()
    }

    /// Whether a check other than `issuer_trust` failed outright (rather than being
    /// undecided).
    pub fn has_failure(&self) -> bool {
        self.checks
            .iter()
            .any(|c| c.check != CheckName::IssuerTrust && c.outcome == Outcome::Fail)
    }

    /// Computes `verified` and `trusted` from the checks.
    pub fn finish(mut self) -> Self {
        // Something must vouch for the content: a signature, or (Open Badges 2.0
        // hosted verification) the issuer's own host serving it.
        let has_signature = self
            .checks
            .iter()
            .any(|c| matches!(c.check, CheckName::Signature | CheckName::Hosted));
        self.verified = has_signature
            && self
                .checks
                .iter()
                .filter(|c| c.check != CheckName::IssuerTrust)
                .all(|c| c.outcome == Outcome::Pass);
        self.trusted = match self.outcome(CheckName::IssuerTrust) {
            Some(Outcome::Pass) => Some(true),
            Some(Outcome::Fail) => Some(false),
            Some(Outcome::Indeterminate) | None => None,
        };
        self
    }
}

impl Default for Report {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_ignores_issuer_trust_but_nothing_else() {
        let mut r = Report::new();
        r.pass(CheckName::Signature);
        r.pass(CheckName::Expiry);
        r.indeterminate(CheckName::IssuerTrust, "unknown");
        let r = r.finish();
        assert!(r.verified);
        assert_eq!(r.trusted, None);

        let mut r = Report::new();
        r.pass(CheckName::Signature);
        r.indeterminate(CheckName::Status, "list unavailable");
        r.pass(CheckName::IssuerTrust);
        let r = r.finish();
        assert!(!r.verified);
        assert_eq!(r.trusted, Some(true));
    }

    #[test]
    fn a_report_without_a_signature_check_is_never_verified() {
        let mut r = Report::new();
        r.pass(CheckName::Schema);
        assert!(!r.finish().verified);
    }

    #[test]
    fn names_are_the_serialised_names() {
        for c in [
            CheckName::Signature,
            CheckName::Claims,
            CheckName::Expiry,
            CheckName::Status,
            CheckName::Schema,
            CheckName::IssuerTrust,
            CheckName::Recipient,
            CheckName::Endorsements,
            CheckName::Nonce,
            CheckName::Audience,
            CheckName::HolderBinding,
            CheckName::Requested,
        ] {
            assert_eq!(serde_json::to_value(c).expect("json"), c.as_str());
        }
    }

    #[test]
    fn serialises_as_the_contract_shape() {
        let mut r = Report::new();
        r.pass(CheckName::Signature);
        r.fail(CheckName::Status, "revoked");
        r.indeterminate(CheckName::IssuerTrust, "issuer not in registry");
        let v = serde_json::to_value(r.finish()).expect("json");
        assert_eq!(v["verified"], serde_json::json!(false));
        assert_eq!(v["trusted"], serde_json::Value::Null);
        assert_eq!(
            v["checks"][0],
            serde_json::json!({"check": "signature", "outcome": "pass"})
        );
        assert_eq!(
            v["checks"][1],
            serde_json::json!({"check": "status", "outcome": "fail", "message": "revoked"})
        );
        assert_eq!(v["checks"][2]["check"], serde_json::json!("issuer_trust"));
    }
}
