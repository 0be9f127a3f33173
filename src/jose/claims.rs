//! The mapping between a credential and its JWT claims.
//!
//! Open Badges 3.0 §8.2.4 "JWT Payload Format": the payload *is* the credential, with
//! these registered claims added (<https://www.imsglobal.org/spec/ob/v3p0/#jwt-payload-format>):
//!
//! | claim | value |
//! |---|---|
//! | `exp` | `validUntil` as a NumericDate, when present |
//! | `iss` | `issuer.id` |
//! | `nbf` | `validFrom` as a NumericDate |
//! | `jti` | `id` |
//! | `sub` | `credentialSubject.id` |
//!
//! Verification checks the same table in reverse: every claim present must equal its
//! credential property, `iss` and `nbf` must be present, `sub` must be present when the
//! subject has an `id`, and the NumericDates must be JSON numbers.

use serde_json::{Map, Value};

use crate::clock::parse_datetime;

/// The registered claims this module adds to a credential.
pub const REGISTERED: [&str; 5] = ["iss", "sub", "nbf", "jti", "exp"];

/// A credential that cannot be expressed as OB 3.0 JWT claims, or a payload whose
/// claims disagree with its credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the credential has no {0}")]
    Missing(&'static str),
    #[error("{0} is not a date-time with a time zone")]
    BadDate(&'static str),
    #[error("claim \"{claim}\" {problem}")]
    Mismatch {
        claim: &'static str,
        problem: String,
    },
}

/// `issuer.id`, whether `issuer` is a Profile object or a bare IRI.
pub fn issuer_id(credential: &Map<String, Value>) -> Option<&str> {
    match credential.get("issuer")? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id")?.as_str(),
        _ => None,
    }
}

/// `credentialSubject.id` (of the first subject when there are several).
pub fn subject_id(credential: &Map<String, Value>) -> Option<&str> {
    match credential.get("credentialSubject")? {
        Value::Object(o) => o.get("id")?.as_str(),
        Value::Array(a) => a.first()?.get("id")?.as_str(),
        _ => None,
    }
}

/// The date a credential becomes valid: VCDM 2.0 `validFrom`, or VCDM 1.1
/// `issuanceDate` for older badges.
pub fn valid_from(credential: &Map<String, Value>) -> Option<&str> {
    credential
        .get("validFrom")
        .or_else(|| credential.get("issuanceDate"))
        .and_then(Value::as_str)
}

/// The date a credential stops being valid: `validUntil`, or VCDM 1.1 `expirationDate`.
pub fn valid_until(credential: &Map<String, Value>) -> Option<&str> {
    credential
        .get("validUntil")
        .or_else(|| credential.get("expirationDate"))
        .and_then(Value::as_str)
}

/// Adds the §8.2.4 claims to `credential`, turning it into a JWT payload.
pub fn add_jwt_claims(credential: &mut Map<String, Value>) -> Result<(), Error> {
    let iss = issuer_id(credential)
        .ok_or(Error::Missing("issuer.id"))?
        .to_owned();
    let jti = credential
        .get("id")
        .and_then(Value::as_str)
        .ok_or(Error::Missing("id"))?
        .to_owned();
    let nbf = parse_datetime(valid_from(credential).ok_or(Error::Missing("validFrom"))?)
        .ok_or(Error::BadDate("validFrom"))?
        .unix_timestamp();
    let exp = match valid_until(credential) {
        Some(s) => Some(
            parse_datetime(s)
                .ok_or(Error::BadDate("validUntil"))?
                .unix_timestamp(),
        ),
        None => None,
    };
    let sub = subject_id(credential).map(str::to_owned);
    credential.insert("iss".into(), Value::String(iss));
    if let Some(sub) = sub {
        credential.insert("sub".into(), Value::String(sub));
    }
    credential.insert("nbf".into(), Value::from(nbf));
    credential.insert("jti".into(), Value::String(jti));
    if let Some(exp) = exp {
        credential.insert("exp".into(), Value::from(exp));
    }
    Ok(())
}

/// A NumericDate claim: must be a JSON number when present.
fn numeric(payload: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, Error> {
    match payload.get(claim) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or(Error::Mismatch {
                claim,
                problem: "is not a usable NumericDate".into(),
            }),
        Some(_) => Err(Error::Mismatch {
            claim,
            problem: "must be a number (NumericDate)".into(),
        }),
    }
}

fn string_claim<'a>(
    payload: &'a Map<String, Value>,
    claim: &'static str,
) -> Result<Option<&'a str>, Error> {
    match payload.get(claim) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::Mismatch {
            claim,
            problem: "must be a string".into(),
        }),
    }
}

/// Checks that an OB 3.0 JWT payload's registered claims agree with its credential.
/// Returns every disagreement, so a report can list them all.
pub fn check_jwt_claims(payload: &Map<String, Value>) -> Vec<Error> {
    check_claims(payload, true)
}

/// As [`check_jwt_claims`], but claims may be absent (VC-JOSE-COSE §3.1.1: the
/// payload is the credential; registered claims are optional and must agree when
/// present).
pub fn check_present_claims(payload: &Map<String, Value>) -> Vec<Error> {
    check_claims(payload, false)
}

fn check_claims(payload: &Map<String, Value>, required: bool) -> Vec<Error> {
    let mut problems = Vec::new();
    let absent_ok = |claim: &str| !required && !payload.contains_key(claim);
    let mut push = |r: Result<(), Error>| {
        if let Err(e) = r {
            problems.push(e);
        }
    };

    push((|| {
        if absent_ok("iss") {
            return Ok(());
        }
        let iss = string_claim(payload, "iss")?;
        match (iss, issuer_id(payload)) {
            (Some(i), Some(id)) if i == id => Ok(()),
            (None, _) => Err(Error::Mismatch {
                claim: "iss",
                problem: "is missing".into(),
            }),
            (Some(_), None) => Err(Error::Missing("issuer.id")),
            (Some(i), Some(id)) => Err(Error::Mismatch {
                claim: "iss",
                problem: format!("is {i:?} but issuer.id is {id:?}"),
            }),
        }
    })());

    push((|| {
        if absent_ok("sub") {
            return Ok(());
        }
        let sub = string_claim(payload, "sub")?;
        match (sub, subject_id(payload)) {
            (None, None) => Ok(()),
            (Some(s), Some(id)) if s == id => Ok(()),
            (None, Some(_)) => Err(Error::Mismatch {
                claim: "sub",
                problem: "is missing although credentialSubject.id is set".into(),
            }),
            (Some(s), None) => Err(Error::Mismatch {
                claim: "sub",
                problem: format!("is {s:?} but credentialSubject has no id"),
            }),
            (Some(s), Some(id)) => Err(Error::Mismatch {
                claim: "sub",
                problem: format!("is {s:?} but credentialSubject.id is {id:?}"),
            }),
        }
    })());

    push((|| {
        let jti = string_claim(payload, "jti")?;
        let id = payload.get("id").and_then(Value::as_str);
        match (jti, id) {
            (None, None) => Ok(()),
            (None, Some(_)) if !required => Ok(()),
            (None, Some(_)) => Err(Error::Mismatch {
                claim: "jti",
                problem: "is missing although the credential has an id".into(),
            }),
            (Some(j), Some(id)) if j == id => Ok(()),
            (Some(j), id) => Err(Error::Mismatch {
                claim: "jti",
                problem: format!("is {j:?} but the credential id is {id:?}"),
            }),
        }
    })());

    push((|| {
        if absent_ok("nbf") {
            return Ok(());
        }
        let nbf = numeric(payload, "nbf")?.ok_or(Error::Mismatch {
            claim: "nbf",
            problem: "is missing".into(),
        })?;
        let from = valid_from(payload).ok_or(Error::Missing("validFrom"))?;
        let from = parse_datetime(from)
            .ok_or(Error::BadDate("validFrom"))?
            .unix_timestamp();
        if nbf == from {
            Ok(())
        } else {
            Err(Error::Mismatch {
                claim: "nbf",
                problem: format!("is {nbf} but validFrom is {from}"),
            })
        }
    })());

    push((|| {
        if absent_ok("exp") {
            return Ok(());
        }
        let exp = numeric(payload, "exp")?;
        let until = match valid_until(payload) {
            Some(s) => Some(
                parse_datetime(s)
                    .ok_or(Error::BadDate("validUntil"))?
                    .unix_timestamp(),
            ),
            None => None,
        };
        match (exp, until) {
            (None, None) => Ok(()),
            (Some(e), Some(u)) if e == u => Ok(()),
            (None, Some(_)) => Err(Error::Mismatch {
                claim: "exp",
                problem: "is missing although validUntil is set".into(),
            }),
            (Some(e), None) => Err(Error::Mismatch {
                claim: "exp",
                problem: format!("is {e} but the credential has no validUntil"),
            }),
            (Some(e), Some(u)) => Err(Error::Mismatch {
                claim: "exp",
                problem: format!("is {e} but validUntil is {u}"),
            }),
        }
    })());

    problems
}

/// The credential inside a payload: the payload without the registered claims.
pub fn strip_jwt_claims(payload: &Map<String, Value>) -> Map<String, Value> {
    payload
        .iter()
        .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn credential() -> Map<String, Value> {
        json!({
            "id": "urn:uuid:1",
            "issuer": {"id": "did:web:example.edu", "type": ["Profile"]},
            "validFrom": "2024-01-01T00:00:00Z",
            "validUntil": "2025-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:key:z6Mk", "type": ["AchievementSubject"]}
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    #[test]
    fn claims_are_added_exactly_per_section_8_2_4() {
        let mut c = credential();
        add_jwt_claims(&mut c).expect("adds");
        assert_eq!(c["iss"], json!("did:web:example.edu"));
        assert_eq!(c["sub"], json!("did:key:z6Mk"));
        assert_eq!(c["jti"], json!("urn:uuid:1"));
        assert_eq!(c["nbf"], json!(1_704_067_200));
        assert_eq!(c["exp"], json!(1_735_689_600));
        assert!(check_jwt_claims(&c).is_empty());
        assert_eq!(strip_jwt_claims(&c), credential());
    }

    #[test]
    fn no_exp_without_valid_until_and_no_sub_without_subject_id() {
        let mut c = credential();
        c.remove("validUntil");
        c["credentialSubject"]
            .as_object_mut()
            .expect("obj")
            .remove("id");
        add_jwt_claims(&mut c).expect("adds");
        assert!(!c.contains_key("exp"));
        assert!(!c.contains_key("sub"));
        assert!(check_jwt_claims(&c).is_empty());
    }

    #[test]
    fn every_disagreement_is_reported() {
        let mut c = credential();
        add_jwt_claims(&mut c).expect("adds");
        c.insert("iss".into(), json!("did:web:evil.example"));
        c.insert("sub".into(), json!("did:key:other"));
        c.insert("jti".into(), json!("urn:uuid:2"));
        c.insert("nbf".into(), json!(1));
        c.insert("exp".into(), json!("2025"));
        let problems = check_jwt_claims(&c);
        assert_eq!(problems.len(), 5, "{problems:?}");
    }

    #[test]
    fn missing_iss_nbf_and_jti_fail() {
        let mut c = credential();
        add_jwt_claims(&mut c).expect("adds");
        c.remove("iss");
        c.remove("nbf");
        c.remove("jti");
        let problems = check_jwt_claims(&c);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn vc_jose_payloads_may_omit_claims_but_not_contradict_them() {
        let c = credential();
        assert!(check_present_claims(&c).is_empty());
        let mut c2 = c.clone();
        c2.insert("iss".into(), json!("did:web:evil.example"));
        assert_eq!(check_present_claims(&c2).len(), 1);
        assert_eq!(
            check_jwt_claims(&c).len(),
            5,
            "iss, sub, nbf, jti and exp are required here"
        );
    }

    #[test]
    fn issuer_as_bare_iri_is_understood() {
        let mut c = credential();
        c.insert("issuer".into(), json!("https://example.edu/issuer"));
        add_jwt_claims(&mut c).expect("adds");
        assert_eq!(c["iss"], json!("https://example.edu/issuer"));
    }
}
