//! Comprehensive Learner Records (CLR 2.0 `ClrCredential`): the record's own checks
//! run as for any credential; then every credential it bundles
//! (`credentialSubject.verifiableCredential`) is verified on its own through the same
//! pipeline and reported under `credentials`, and the `credentials` check sums them
//! up (CLR 2.0 §B "ClrSubject"; the bundled entries are credential objects with their
//! own proofs, so their issuers may differ from the record's).
//!
//! Rules beside the data model's, reported under `schema`: the record has a `name`;
//! its subject is a `ClrSubject` naming the learner by `id` or `identifier`; and
//! `verifiableCredential` is a non-empty list of credential objects. A bundled
//! credential whose subject `id` differs from the record's subject `id` fails: a
//! record is about one learner. Bundled credentials are not followed when the record's
//! own signature did not verify, and records inside a record are not opened.

use serde_json::{Map, Value};

use super::{CheckName, Options, Outcome, Report, Subject, Verifier, has_type};
use crate::model::schema::Violation;

/// The most credentials of one record verified.
pub const MAX_BUNDLED: usize = 50;

fn violation(path: &str, message: &str) -> Violation {
    Violation {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// The CLR 2.0 rules the data model does not cover.
pub(super) fn rules(doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    if !doc.get("name").is_some_and(Value::is_string) {
        out.push(violation("/name", "a ClrCredential needs a name (CLR 2.0)"));
    }
    let Some(subject) = doc.get("credentialSubject").and_then(Value::as_object) else {
        out.push(violation(
            "/credentialSubject",
            "a ClrCredential's subject must be one ClrSubject object",
        ));
        return out;
    };
    if !has_type(subject.get("type"), "ClrSubject") {
        out.push(violation(
            "/credentialSubject/type",
            "must include ClrSubject",
        ));
    }
    if !subject.contains_key("id") && !subject.contains_key("identifier") {
        out.push(violation(
            "/credentialSubject",
            "a ClrSubject names the learner by id or identifier",
        ));
    }
    match subject.get("verifiableCredential") {
        Some(Value::Array(a)) if !a.is_empty() => {
            for (i, c) in a.iter().enumerate() {
                if !c.is_object() {
                    out.push(violation(
                        &format!("/credentialSubject/verifiableCredential/{i}"),
                        "must be a credential object (CLR 2.0 bundles credentials with embedded proofs, not JWT strings)",
                    ));
                }
            }
        }
        _ => out.push(violation(
            "/credentialSubject/verifiableCredential",
            "a ClrSubject bundles at least one credential",
        )),
    }
    out
}

fn subject_id(c: &Map<String, Value>) -> Option<&str> {
    match c.get("credentialSubject")? {
        Value::Object(o) => o.get("id")?.as_str(),
        Value::Array(a) => a.first()?.get("id")?.as_str(),
        _ => None,
    }
}

impl Verifier {
    /// The `credentials` check of a ClrCredential.
    pub(super) async fn check_clr(
        &self,
        record: &Map<String, Value>,
        opts: &Options,
        report: &mut Report,
    ) {
        let entries: Vec<&Value> = match record
            .get("credentialSubject")
            .and_then(|s| s.get("verifiableCredential"))
        {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        if entries.is_empty() {
            report.fail(CheckName::Credentials, "the record bundles no credential");
            return;
        }
        if report.outcome(CheckName::Signature) != Some(Outcome::Pass) {
            report.indeterminate(
                CheckName::Credentials,
                "the bundled credentials were not examined: the record's signature did not verify",
            );
            return;
        }
        if entries.len() > MAX_BUNDLED {
            report.indeterminate(
                CheckName::Credentials,
                format!(
                    "the record bundles {} credentials; at most {MAX_BUNDLED} are verified",
                    entries.len()
                ),
            );
            return;
        }
        let learner = subject_id(record).map(str::to_owned);
        let mut failed = Vec::new();
        let mut unknown = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let label = format!("verifiableCredential[{i}]");
            let inner = match entry {
                Value::Object(o) => Box::pin(self.run_json(o, Subject::Bundled, opts)).await,
                Value::String(s) => Box::pin(self.run_jwt(s.trim(), Subject::Bundled, opts)).await,
                _ => Err(super::Error::Malformed("not a credential".into())),
            };
            let inner = match inner {
                Ok(r) => r,
                Err(e) => {
                    failed.push(format!("{label}: {e}"));
                    let mut r = Report::new();
                    r.fail(CheckName::Schema, e.to_string());
                    report.credentials.push(r.finish());
                    continue;
                }
            };
            let theirs = inner
                .credential
                .as_ref()
                .and_then(Value::as_object)
                .and_then(|c| subject_id(c.get("vc").and_then(Value::as_object).unwrap_or(c)))
                .map(str::to_owned);
            if let (Some(l), Some(t)) = (&learner, &theirs)
                && l != t
            {
                failed.push(format!(
                    "{label}: it is about {t}, not the record's learner {l}"
                ));
            }
            let bad = inner.problems();
            if inner.has_failure() {
                failed.push(format!("{label}: {}", bad.join("; ")));
            } else if !inner.verified {
                unknown.push(format!("{label}: {}", bad.join("; ")));
            }
            report.credentials.push(inner);
        }
        if !failed.is_empty() {
            failed.extend(unknown);
            report.fail(CheckName::Credentials, failed.join(" | "));
        } else if !unknown.is_empty() {
            report.indeterminate(CheckName::Credentials, unknown.join(" | "));
        } else {
            report.pass(CheckName::Credentials);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_record_rules_name_what_is_missing() {
        let good = json!({"name": "Transcript", "credentialSubject": {"type": ["ClrSubject"],
            "id": "did:example:1", "verifiableCredential": [{"id": "urn:x"}]}});
        assert!(rules(&good).is_empty());
        let bad = json!({"credentialSubject": {"type": "AchievementSubject",
            "verifiableCredential": ["eyJ.a.b"]}});
        let paths: Vec<String> = rules(&bad).into_iter().map(|v| v.path).collect();
        assert_eq!(
            paths,
            [
                "/name",
                "/credentialSubject/type",
                "/credentialSubject",
                "/credentialSubject/verifiableCredential/0"
            ]
        );
        let empty = json!({"name": "x", "credentialSubject": {"type": "ClrSubject", "id": "did:example:1",
            "verifiableCredential": []}});
        assert_eq!(rules(&empty).len(), 1);
    }
}
