//! Endorsements: this issuer vouching for someone else's achievement or profile
//! (Open Badges 3.0 §B.1.5 `EndorsementCredential`, §B.1.6 `EndorsementSubject`), and
//! endorsements that others made of this issuer's achievements, attached to them so
//! that every badge issued afterwards carries them (§B.1.2 `endorsement`,
//! `endorsementJwt`).
//!
//! An endorsement is issued like any credential of [`super::general`]: it gets an id,
//! a revocation entry (so that an endorsement can be withdrawn), and is signed as an
//! OB 3.0 §8.2 JWT (the form `endorsementJwt` holds) or with a Data Integrity proof
//! (the form `endorsement` holds).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::general::{IssueOptions, IssuedCredential, Securing};
use super::{Error, Issuer};
use crate::clock::parse_datetime;
use crate::integrity::Suite;
use crate::model::vcdm;
use crate::records::achievement::AchievementRecord;

/// The most endorsements one achievement carries; each travels in every badge.
pub const MAX_ATTACHED: usize = 8;

/// `POST /api/v1/endorsements`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndorsementRequest {
    /// The id (a URL: DID or https) of the achievement or profile endorsed.
    pub subject_id: String,
    /// `endorsementComment`: what the endorser says.
    #[serde(default)]
    pub comment: Option<String>,
    /// The credential's `name`; by default "Endorsement by <issuer name>".
    #[serde(default)]
    pub name: Option<String>,
    /// RFC 3339 `validUntil`, when the endorsement lapses.
    #[serde(default)]
    pub valid_until: Option<String>,
    /// `jwt` (the default), `eddsa-rdfc-2022` or `ecdsa-rdfc-2019`.
    #[serde(default)]
    pub proof: Option<String>,
}

/// How an admin route asks for a credential to be secured: `jwt` (OB 3.0 §8.2, the
/// default), `vc+jwt` (enveloped) or a Data Integrity suite.
pub fn securing_named(proof: Option<&str>) -> Result<Securing, Error> {
    match proof {
        None | Some("jwt") => Ok(Securing::Ob3Jwt),
        Some("vc+jwt") => Ok(Securing::Jose),
        Some(s) => Suite::signing(s)
            .map(Securing::DataIntegrity)
            .ok_or_else(|| {
                Error::invalid(
                    "proof",
                    "must be \"jwt\" (the default), \"vc+jwt\", \"eddsa-rdfc-2022\" or \"ecdsa-rdfc-2019\"",
                )
            }),
    }
}

fn text(field: &str, v: Option<&str>, max: usize) -> Result<Option<String>, Error> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Err(Error::invalid(field, "must not be empty")),
        Some(s) if s.chars().count() > max => Err(Error::invalid(
            field,
            &format!("is longer than {max} characters"),
        )),
        Some(s) => Ok(Some(s.trim().to_owned())),
    }
}

impl Issuer {
    /// Issues an `EndorsementCredential` from this issuer about `req.subject_id`.
    pub async fn issue_endorsement(
        &self,
        req: &EndorsementRequest,
    ) -> Result<IssuedCredential, Error> {
        if !vcdm::is_url(&req.subject_id) {
            return Err(Error::invalid(
                "subject_id",
                "must be the id (a URL or DID) of the achievement or profile endorsed",
            ));
        }
        let securing = securing_named(req.proof.as_deref())?;
        let comment = text("comment", req.comment.as_deref(), 10_000)?;
        let name = text("name", req.name.as_deref(), 500)?;
        let profile = self.badge_profile().await?;
        let issuer = serde_json::to_value(&*profile).map_err(|e| Error::Build(e.to_string()))?;
        let name = name.unwrap_or_else(|| match &profile.name {
            Some(n) => format!("Endorsement by {n}"),
            None => "Endorsement".to_owned(),
        });
        let mut subject = Map::new();
        subject.insert("id".into(), json!(req.subject_id));
        subject.insert("type".into(), json!(["EndorsementSubject"]));
        if let Some(c) = comment {
            subject.insert("endorsementComment".into(), json!(c));
        }
        let mut credential = Map::new();
        credential.insert(
            "@context".into(),
            json!([vcdm::VCDM2_CONTEXT, crate::model::OB3_CONTEXT]),
        );
        credential.insert(
            "type".into(),
            json!(["VerifiableCredential", "EndorsementCredential"]),
        );
        credential.insert("name".into(), json!(name));
        credential.insert("issuer".into(), issuer);
        credential.insert("credentialSubject".into(), Value::Object(subject));
        if let Some(u) = &req.valid_until {
            if parse_datetime(u).is_none() {
                return Err(Error::invalid(
                    "valid_until",
                    "must be an RFC 3339 date-time, e.g. 2030-01-01T00:00:00Z",
                ));
            }
            credential.insert("validUntil".into(), json!(u));
        }
        self.issue_credential(
            credential,
            &IssueOptions {
                securing,
                status: None,
            },
        )
        .await
    }

    /// Attaches an endorsement someone made of achievement `id` (already verified by
    /// the caller): a compact JWT goes under `endorsementJwt`, a credential with an
    /// embedded proof under `endorsement`. Its subject must be this achievement; the
    /// same endorsement twice is kept once. Badges issued afterwards carry it.
    pub async fn attach_endorsement(
        &self,
        id: &str,
        endorsement: &Value,
        subject_id: &str,
    ) -> Result<AchievementRecord, Error> {
        let current = self.achievement(id).await?;
        if subject_id != current.achievement.id {
            return Err(Error::invalid(
                "credential",
                &format!(
                    "endorses {subject_id}, not this achievement ({})",
                    current.achievement.id
                ),
            ));
        }
        let mut input =
            serde_json::to_value(&current.achievement).map_err(|e| Error::Build(e.to_string()))?;
        let obj = input
            .as_object_mut()
            .ok_or_else(|| Error::Build("achievement is not an object".into()))?;
        let (member, item) = match endorsement {
            Value::String(jwt) => ("endorsementJwt", Value::String(jwt.clone())),
            Value::Object(_) => ("endorsement", endorsement.clone()),
            _ => {
                return Err(Error::invalid(
                    "credential",
                    "must be a compact JWT or a credential object with an embedded proof",
                ));
            }
        };
        let count = ["endorsement", "endorsementJwt"]
            .iter()
            .filter_map(|k| obj.get(*k).and_then(Value::as_array))
            .map(Vec::len)
            .sum::<usize>();
        let list = obj
            .entry(member)
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(list) = list else {
            return Err(Error::Build(format!("{member} is not a list")));
        };
        if list.contains(&item) {
            return Ok((*current).clone());
        }
        if count >= MAX_ATTACHED {
            return Err(Error::invalid(
                "credential",
                &format!(
                    "an achievement carries at most {MAX_ATTACHED} endorsements (every badge carries them); detach one first"
                ),
            ));
        }
        list.push(item);
        self.update_achievement(id, &input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_names_map_to_securing_and_unknown_ones_are_refused() {
        assert_eq!(securing_named(None).ok(), Some(Securing::Ob3Jwt));
        assert_eq!(securing_named(Some("jwt")).ok(), Some(Securing::Ob3Jwt));
        assert_eq!(securing_named(Some("vc+jwt")).ok(), Some(Securing::Jose));
        assert_eq!(
            securing_named(Some("eddsa-rdfc-2022")).ok(),
            Some(Securing::DataIntegrity(Suite::EddsaRdfc2022))
        );
        assert!(securing_named(Some("Ed25519Signature2020")).is_err());
    }

    #[test]
    fn unknown_members_of_a_request_are_refused() {
        let ok: Result<EndorsementRequest, _> =
            serde_json::from_value(json!({"subject_id": "did:example:1", "comment": "Good"}));
        assert!(ok.is_ok());
        let typo: Result<EndorsementRequest, _> =
            serde_json::from_value(json!({"subject_id": "did:example:1", "coment": "Good"}));
        assert!(typo.expect_err("a typo").to_string().contains("coment"));
    }
}
