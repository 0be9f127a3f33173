//! Endorsements as pages show them: who vouches, what they say, and whether the
//! endorsement verifies (OB 3.0 §B.1.5; checked as §9.1 "Verify Endorsements" asks).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::verify::Report;

/// One endorsement on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct EndorsementView {
    /// The endorser's name (its id when it gives none).
    pub endorser: String,
    /// The endorser's web page or profile URL, when it is an `https` one.
    pub endorser_url: Option<String>,
    pub comment: Option<String>,
    /// `validFrom` (or `issuanceDate`), as `YYYY-MM-DD`.
    pub date: Option<String>,
    /// `pass` (verified), `fail` or `indeterminate`.
    pub outcome: &'static str,
    /// Why it did not verify.
    pub problem: Option<String>,
}

impl EndorsementView {
    /// The view of one endorsement's verification report.
    pub fn of(report: &Report) -> Self {
        let empty = Value::Null;
        let c = report.credential.as_ref().unwrap_or(&empty);
        // A VCDM 1.1 JWT keeps the credential under `vc`.
        let c = c.get("vc").unwrap_or(c);
        let issuer = c.get("issuer");
        let issuer_id = issuer
            .and_then(|i| i.as_str().or_else(|| i.get("id").and_then(Value::as_str)))
            .unwrap_or("an unnamed endorser");
        let name = issuer
            .and_then(|i| i.get("name"))
            .and_then(Value::as_str)
            .filter(|n| !n.trim().is_empty());
        let https = |v: Option<&Value>| {
            v.and_then(Value::as_str)
                .filter(|u| u.starts_with("https://"))
                .map(str::to_owned)
        };
        let endorser_url = https(issuer.and_then(|i| i.get("url")))
            .or_else(|| https(issuer.and_then(|i| i.get("id"))));
        let comment = c
            .get("credentialSubject")
            .and_then(|s| s.get("endorsementComment"))
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned);
        let date = c
            .get("validFrom")
            .or_else(|| c.get("issuanceDate"))
            .and_then(Value::as_str)
            .and_then(|d| d.get(..10))
            .map(str::to_owned);
        let outcome = if report.verified {
            "pass"
        } else if report.has_failure() {
            "fail"
        } else {
            "indeterminate"
        };
        let problem = if report.verified {
            None
        } else {
            report.problems().into_iter().next()
        };
        Self {
            endorser: name.unwrap_or(issuer_id).to_owned(),
            endorser_url,
            comment,
            date,
            outcome,
            problem,
        }
    }

    /// The label pages show beside it.
    pub fn label(&self) -> &'static str {
        match self.outcome {
            "pass" => "Verified",
            "fail" => "Does not verify",
            _ => "Could not be checked",
        }
    }
}

/// Endorsement views kept for a short while per achievement revision, so that a
/// busy page does not verify the same endorsements on every view.
#[derive(Debug)]
pub struct EndorsementCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Vec<EndorsementView>)>>,
}

/// The most achievements whose endorsement views are kept.
const CACHED: usize = 512;

impl EndorsementCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &str) -> Option<Vec<EndorsementView>> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        map.get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn put(&self, key: String, views: Vec<EndorsementView>) {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= CACHED {
            map.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if map.len() >= CACHED {
                map.clear();
            }
        }
        map.insert(key, (Instant::now(), views));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::CheckName;
    use serde_json::json;

    fn report(verified: bool, credential: Value) -> Report {
        let mut r = Report::new();
        r.verified = verified;
        r.pass(CheckName::Signature);
        if !verified {
            r.fail(CheckName::Status, "revoked");
        }
        r.credential = Some(credential);
        r
    }

    #[test]
    fn a_view_names_the_endorser_comment_and_date() {
        let v = EndorsementView::of(&report(
            true,
            json!({"issuer": {"id": "https://state.example/i", "name": "State Board"},
                   "validFrom": "2026-01-02T00:00:00Z",
                   "credentialSubject": {"endorsementComment": "In good standing"}}),
        ));
        assert_eq!(v.endorser, "State Board");
        assert_eq!(v.endorser_url.as_deref(), Some("https://state.example/i"));
        assert_eq!(v.comment.as_deref(), Some("In good standing"));
        assert_eq!(v.date.as_deref(), Some("2026-01-02"));
        assert_eq!((v.outcome, v.label()), ("pass", "Verified"));
        assert_eq!(v.problem, None);
    }

    #[test]
    fn a_failing_endorsement_says_why_and_plain_http_urls_are_not_linked() {
        let v = EndorsementView::of(&report(
            false,
            json!({"vc": {"issuer": "http://plain.example/i", "issuanceDate": "2020-05-06T00:00:00Z"}}),
        ));
        assert_eq!(v.endorser, "http://plain.example/i");
        assert_eq!(v.endorser_url, None);
        assert_eq!(v.date.as_deref(), Some("2020-05-06"));
        assert_eq!(v.outcome, "fail");
        assert_eq!(v.problem.as_deref(), Some("status: revoked"));
    }
}
