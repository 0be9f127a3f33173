//! Comprehensive Learner Records (CLR 2.0 `ClrCredential`): one credential from this
//! issuer bundling an earner's badges, each keeping its own proof.
//!
//! The ClrCredential (CLR 2.0 §B "ClrCredential", "ClrSubject") carries the contexts
//! VCDM 2.0, CLR 2.0.1 and OB 3.0.3 in that order; `name`, `issuer` (the issuer
//! profile), `validFrom`; and a `ClrSubject` naming the earner by `id` (the DID the
//! badges are bound to) and/or an `identifier` (a salted SHA-256 IdentityObject of the
//! e-mail address, as badges carry it), with `verifiableCredential`: each badge as the
//! same credential it was issued as, with an embedded Data Integrity proof (CLR 2.0
//! entries are credential objects, not compact JWTs). `partial` says whether the
//! record leaves out some of the earner's badges.
//!
//! The admin API issues one like any credential ([`super::general`]: recorded, with a
//! revocation entry, signed as an OB 3.0 §8.2 JWT — CLR 2.0 secures JWTs the same way —
//! or with a Data Integrity proof). The earner's pages sign one on request without
//! recording it ([`Issuer::sign_clr`]): its id is derived from what it bundles, and it
//! has no status entry of its own; each bundled badge carries its own.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::general::{IssueOptions, IssuedCredential, Securing};
use super::{Error, Issuer, email_identity_hash};
use crate::records::award::Award;

/// The CLR 2.0 context.
pub const CLR_CONTEXT: &str = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json";

/// The most badges one record bundles.
pub const MAX_BUNDLED: usize = 50;

/// Who the record is about: `{"email": ...}` or `{"id": "<DID>"}`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClrRecipient {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// `POST /api/v1/clr`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClrRequest {
    pub recipient: ClrRecipient,
    pub credential_ids: Vec<String>,
    /// `jwt` (the default), `eddsa-rdfc-2022` or `ecdsa-rdfc-2019`.
    #[serde(default)]
    pub proof: Option<String>,
    /// The record's `name`; by default "Learner record from <issuer name>".
    #[serde(default)]
    pub name: Option<String>,
}

/// One badge to bundle: its award and the signed copy.
#[derive(Debug, Clone)]
pub struct Bundled {
    pub award: Award,
    pub jwt: String,
}

impl Bundled {
    /// The award's own copy (or its first), when it was issued.
    pub fn of(award: Award) -> Option<Self> {
        let copy = award
            .issued
            .iter()
            .find(|c| c.id.is_none())
            .or_else(|| award.issued.first())?;
        Some(Self {
            jwt: copy.jwt.clone(),
            award,
        })
    }

    fn subject(&self) -> Option<String> {
        let payload = crate::jose::jws::CompactJws::parse(&self.jwt)
            .and_then(|j| j.payload_json())
            .ok()?;
        payload
            .get("credentialSubject")?
            .get("id")?
            .as_str()
            .map(str::to_owned)
    }
}

impl Issuer {
    /// The unsigned ClrCredential bundling `badges` for the earner named by `email`
    /// and/or `did`. `partial`: some of the earner's badges are left out.
    pub async fn clr_document(
        &self,
        email: Option<&str>,
        did: Option<&str>,
        badges: &[Bundled],
        partial: bool,
        name: Option<&str>,
        make_key: bool,
    ) -> Result<Map<String, Value>, Error> {
        if badges.is_empty() {
            return Err(Error::invalid(
                "credential_ids",
                "name at least one issued badge",
            ));
        }
        // A name-based id: the same record asked for twice is the same credential.
        let mut seed = format!("{}|{}|", email.unwrap_or(""), did.unwrap_or(""));
        let mut ids: Vec<String> = badges.iter().map(|b| b.award.id.to_string()).collect();
        ids.sort();
        seed.push_str(&ids.join(","));
        let id = Uuid::new_v5(&Uuid::NAMESPACE_URL, seed.as_bytes());
        let mut credentials = Vec::with_capacity(badges.len());
        for b in badges {
            let di = self
                .data_integrity_form(&b.jwt, make_key)
                .await?
                .ok_or_else(|| {
                    Error::Build(
                        "the issuer has no key for a Data Integrity proof, which bundled badges carry"
                            .into(),
                    )
                })?;
            credentials.push(di);
        }
        // The earner: the DID the badges are bound to, when they agree on one.
        let subjects: Vec<Option<String>> = badges.iter().map(Bundled::subject).collect();
        let bound = match subjects.first() {
            Some(Some(first)) if subjects.iter().all(|s| s.as_ref() == Some(first)) => {
                Some(first.clone())
            }
            _ => None,
        };
        let mut subject = Map::new();
        if let Some(d) = did.map(str::to_owned).or(bound) {
            subject.insert("id".into(), json!(d));
        }
        subject.insert("type".into(), json!(["ClrSubject"]));
        if let Some(e) = email {
            let salt = id.simple().to_string()[..16].to_owned();
            subject.insert(
                "identifier".into(),
                json!([{
                    "type": "IdentityObject",
                    "identityHash": email_identity_hash(e, &salt),
                    "identityType": "emailAddress",
                    "hashed": true,
                    "salt": salt,
                }]),
            );
        }
        if !subject.contains_key("id") && !subject.contains_key("identifier") {
            return Err(Error::invalid("recipient", "give the earner's email or id"));
        }
        subject.insert("verifiableCredential".into(), Value::Array(credentials));
        let profile = self.badge_profile().await?;
        let issuer = serde_json::to_value(&*profile).map_err(|e| Error::Build(e.to_string()))?;
        let earner = badges.iter().find_map(|b| b.award.recipient.name.clone());
        let name = name
            .map(str::to_owned)
            .unwrap_or_else(|| match (&earner, &profile.name) {
                (Some(e), Some(i)) => format!("Learner record of {e} from {i}"),
                (None, Some(i)) => format!("Learner record from {i}"),
                (Some(e), None) => format!("Learner record of {e}"),
                (None, None) => "Learner record".to_owned(),
            });
        let mut doc = Map::new();
        doc.insert(
            "@context".into(),
            json!([
                crate::model::VCDM2_CONTEXT,
                CLR_CONTEXT,
                crate::model::OB3_CONTEXT
            ]),
        );
        doc.insert("id".into(), json!(format!("urn:uuid:{id}")));
        doc.insert(
            "type".into(),
            json!(["VerifiableCredential", "ClrCredential"]),
        );
        doc.insert("name".into(), json!(name));
        doc.insert("issuer".into(), issuer);
        doc.insert(
            "validFrom".into(),
            json!(crate::clock::format_seconds(self.now())),
        );
        doc.insert("partial".into(), json!(partial));
        doc.insert("credentialSubject".into(), Value::Object(subject));
        Ok(doc)
    }

    /// The badges `req` names, checked to be the earner's, issued and in force.
    async fn clr_badges(&self, req: &ClrRequest) -> Result<(Vec<Bundled>, bool), Error> {
        let email = self.clr_email(req)?;
        let did = req.recipient.id.as_deref();
        if email.is_none() && did.is_none() {
            return Err(Error::invalid("recipient", "give the earner's email or id"));
        }
        if req.credential_ids.is_empty() || req.credential_ids.len() > MAX_BUNDLED {
            return Err(Error::invalid(
                "credential_ids",
                &format!("name between 1 and {MAX_BUNDLED} of the earner's badges"),
            ));
        }
        let mut badges: Vec<Bundled> = Vec::with_capacity(req.credential_ids.len());
        for cid in &req.credential_ids {
            let award = self.credential(cid).await?;
            let bad = |why: &str| Error::invalid("credential_ids", &format!("{cid}: {why}"));
            if award.is_general() {
                return Err(bad("not a badge awarded here"));
            }
            let theirs = email.as_deref().is_some_and(|e| {
                award
                    .recipient
                    .email
                    .as_deref()
                    .is_some_and(|a| a.eq_ignore_ascii_case(e))
            }) || did.is_some_and(|d| {
                award.recipient.id.as_deref() == Some(d)
                    || award.issued.iter().any(|c| c.subject.as_deref() == Some(d))
            });
            if !theirs {
                return Err(bad("awarded to someone else"));
            }
            if award.revoked {
                return Err(bad("revoked"));
            }
            if award.suspended {
                return Err(bad("suspended"));
            }
            if badges.iter().any(|b| b.award.id == award.id) {
                return Err(bad("named twice"));
            }
            let Some(b) = Bundled::of(award) else {
                return Err(bad("not issued yet (the earner has not accepted it)"));
            };
            badges.push(b);
        }
        // Partial when the earner holds other badges in force.
        let held = match &email {
            Some(e) => {
                let filter = crate::store::AwardFilter {
                    email: Some(e.clone()),
                    ..Default::default()
                };
                self.credentials(&filter, 500, None)
                    .await?
                    .awards
                    .iter()
                    .filter(|a| !a.issued.is_empty() && !a.revoked && !a.is_general())
                    .count()
            }
            None => badges.len(),
        };
        let partial = held > badges.len();
        Ok((badges, partial))
    }

    fn clr_email(&self, req: &ClrRequest) -> Result<Option<String>, Error> {
        req.recipient
            .email
            .as_deref()
            .map(crate::records::normalise_email)
            .transpose()
            .map_err(|e| Error::invalid("recipient.email", &e))
    }

    /// Issues a ClrCredential for the admin API (recorded, revocable).
    pub async fn issue_clr(&self, req: &ClrRequest) -> Result<IssuedCredential, Error> {
        let securing = super::endorse::securing_named(req.proof.as_deref())?;
        let (badges, partial) = self.clr_badges(req).await?;
        let email = self.clr_email(req)?;
        let mut doc = self
            .clr_document(
                email.as_deref(),
                req.recipient.id.as_deref(),
                &badges,
                partial,
                req.name.as_deref(),
                true,
            )
            .await?;
        // Recorded under a fresh id: one earner may be given several records.
        doc.insert(
            "id".into(),
            json!(format!(
                "urn:uuid:{}",
                crate::clock::time_ordered_id(self.now())
            )),
        );
        self.issue_credential(
            doc,
            &IssueOptions {
                securing,
                status: None,
            },
        )
        .await
    }

    /// Signs a ClrCredential without recording it (the earner's pages): the compact
    /// JWT, or the credential with its proof as JSON text.
    pub async fn sign_clr(
        &self,
        doc: &Map<String, Value>,
        securing: Securing,
    ) -> Result<String, Error> {
        Ok(self.secure_document(doc, securing).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_a_misspelt_member_is_refused() {
        let ok: Result<ClrRequest, _> = serde_json::from_value(
            json!({"recipient": {"email": "a@example.org"}, "credential_ids": ["x"]}),
        );
        assert!(ok.is_ok());
        let typo: Result<ClrRequest, _> = serde_json::from_value(
            json!({"recipient": {"email": "a@example.org"}, "credentials": ["x"]}),
        );
        assert!(typo.is_err());
        let nested: Result<ClrRequest, _> = serde_json::from_value(
            json!({"recipient": {"mail": "a@example.org"}, "credential_ids": ["x"]}),
        );
        assert!(nested.is_err());
    }
}
