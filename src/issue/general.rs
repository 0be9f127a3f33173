//! Any VC Data Model 2.0 credential, signed as given: the issuer side of the W3C
//! VC-API (`POST /credentials/issue`, VC-API §3.3.1 "Issue Credential").
//!
//! The credential is held to the data model's rules ([`crate::model::vcdm`]); an Open
//! Badge (`OpenBadgeCredential` / `AchievementCredential`) also to the OB 3.0
//! AchievementCredential schema, an `EndorsementCredential` to its own. Its `issuer`
//! must be this service (it is filled in when absent). What the issuer adds:
//!
//! - `id`: a caller's URL id is kept (a second credential with the same id is a
//!   conflict); without one, `urn:uuid:<uuid>`;
//! - `validFrom`, now, when absent (VCDM 2.0 §4.9);
//! - `credentialStatus`: Bitstring Status List entries (Bitstring Status List v1.0
//!   §2.1): always one for revocation, so that staff can revoke it like any badge,
//!   and one for suspension when `options.credentialStatus` asks for it (by default,
//!   when badges carry one).
//!
//! It is secured as asked: enveloped in a VC-JOSE-COSE JWT (§3.1.1, `typ` `vc+jwt`,
//! `cty` `vc`, the credential as the payload with no claims added) by default, or with
//! an embedded Data Integrity proof (`eddsa-rdfc-2022` with an Ed25519 key,
//! `ecdsa-rdfc-2019` with a P-256 key, whatever the signing key's algorithm: a key of
//! the type the suite needs is made and published when there is none).
//!
//! Crash safety is an award's: the status slot is reserved and flushed before
//! anything is signed, and the signed credential recorded and flushed before it is
//! answered. The record is an award with no stored achievement
//! ([`crate::records::award::Award::is_general`]), listed and revocable with the rest.

use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{Error, Issuer, VC_JWT_TYP, check_payload_size};
use crate::clock::{format_seconds, parse_datetime, whole_seconds};
use crate::integrity::{self, ProofOptions, Suite};
use crate::jose::jws;
use crate::model::{schema, vcdm};
use crate::records::achievement::AchievementRef;
use crate::records::award::{Award, AwardState, IssuedCopy, Recipient};
use crate::records::wallet::WalletState;
use crate::status::StatusPurpose;

/// How a credential issued through the VC-API is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Securing {
    /// An `EnvelopedVerifiableCredential` holding a `vc+jwt`.
    Jose,
    /// An Open Badges 3.0 §8.2 JWT (`typ` `JWT`, the credential as the payload with
    /// `iss`, `sub`, `nbf`, `jti` and `exp` added), as badges, endorsements and CLRs
    /// (CLR 2.0 §8.2) are signed for wallets and `endorsementJwt`.
    Ob3Jwt,
    /// An embedded Data Integrity proof of this suite.
    DataIntegrity(Suite),
}

impl Securing {
    /// The name `options.proof` gives it, and the record keeps.
    pub fn name(self) -> &'static str {
        match self {
            Securing::Jose => "vc+jwt",
            Securing::Ob3Jwt => "jwt",
            Securing::DataIntegrity(s) => s.name(),
        }
    }

    /// From `options.proof` (or `options.cryptosuite`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "vc+jwt" | "jose" | "enveloped" => Some(Securing::Jose),
            // The VC-API's "jwt" has always meant the enveloped form; the admin routes
            // that sign OB 3.0 JWTs parse their own names.
            "jwt" => Some(Securing::Jose),
            other => Suite::signing(other).map(Securing::DataIntegrity),
        }
    }
}

/// What the caller asks for besides the credential.
#[derive(Debug, Clone)]
pub struct IssueOptions {
    pub securing: Securing,
    /// The purposes to give status entries for; `None`: those badges carry.
    pub status: Option<Vec<StatusPurpose>>,
}

/// A credential issued through the VC-API.
#[derive(Debug, Clone)]
pub struct IssuedCredential {
    pub record: Award,
    /// The compact `vc+jwt`, or the credential with its proof (JSON text).
    pub secured: String,
    pub securing: Securing,
}

impl IssuedCredential {
    /// What the VC-API answers in `verifiableCredential`.
    pub fn verifiable_credential(&self) -> Result<Value, Error> {
        match self.securing {
            Securing::Jose => Ok(json!({
                "@context": [vcdm::VCDM2_CONTEXT],
                "id": format!("data:application/vc+jwt,{}", self.secured),
                "type": "EnvelopedVerifiableCredential",
            })),
            Securing::Ob3Jwt => Ok(Value::String(self.secured.clone())),
            Securing::DataIntegrity(_) => {
                serde_json::from_str(&self.secured).map_err(|e| Error::Build(e.to_string()))
            }
        }
    }

    /// The credential as the admin routes answer it: the compact JWT as a string, or
    /// the credential with its embedded proof.
    pub fn credential(&self) -> Result<Value, Error> {
        match self.securing {
            Securing::Jose | Securing::Ob3Jwt => Ok(Value::String(self.secured.clone())),
            Securing::DataIntegrity(_) => {
                serde_json::from_str(&self.secured).map_err(|e| Error::Build(e.to_string()))
            }
        }
    }

    /// The credential id (`id` of the signed document).
    pub fn id(&self) -> String {
        self.record
            .extras
            .as_ref()
            .and_then(|e| e.get(DOCUMENT))
            .and_then(|d| d.get("id"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("urn:uuid:{}", self.record.id), str::to_owned)
    }
}

/// The member an award's `extras` keeps a general credential under (as signed, before
/// its proof or envelope).
pub const DOCUMENT: &str = "document";
/// The member saying how it was secured.
pub const SECURING: &str = "securing";

/// The award id of a credential id: the uuid of a `urn:uuid:`, or a name-based (v5)
/// uuid of any other URL, so that one URL can be issued once.
pub fn award_id_for(credential_id: &str) -> Uuid {
    crate::issue::parse_credential_id(credential_id)
        .unwrap_or_else(|| Uuid::new_v5(&Uuid::NAMESPACE_URL, credential_id.as_bytes()))
}

fn bad(message: impl Into<String>) -> Error {
    Error::BadCredential(message.into())
}

fn has_type(doc: &Map<String, Value>, t: &str) -> bool {
    match doc.get("type") {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|v| v == t),
        _ => false,
    }
}

impl Issuer {
    /// Checks, completes, records and signs `credential` (see the module docs).
    pub async fn issue_credential(
        &self,
        mut credential: Map<String, Value>,
        options: &IssueOptions,
    ) -> Result<IssuedCredential, Error> {
        let now = self.now();
        // The issuer.
        let ours = self.did().as_str().to_owned();
        match credential.get("issuer") {
            None => {
                credential.insert("issuer".into(), json!(ours));
            }
            Some(Value::String(s)) if *s == ours => {}
            Some(Value::Object(o)) if o.get("id").and_then(Value::as_str) == Some(&ours) => {}
            Some(other) => {
                let named = other
                    .as_str()
                    .or_else(|| other.get("id").and_then(Value::as_str))
                    .unwrap_or("(no id)");
                return Err(bad(format!(
                    "the issuer {named:?} is not this service ({ours}); a credential is issued by the service that signs it"
                )));
            }
        }
        if credential.contains_key("proof") {
            return Err(bad(
                "the credential already carries a proof; send it unsigned",
            ));
        }
        if credential.contains_key("credentialStatus") {
            return Err(bad(
                "credentialStatus is given by this issuer, so that it can revoke the credential; ask for purposes with options.credentialStatus",
            ));
        }
        // The id.
        let id = match credential.get("id") {
            None => {
                let id = crate::clock::time_ordered_id(now);
                credential.insert("id".into(), json!(format!("urn:uuid:{id}")));
                id
            }
            Some(Value::String(s)) if vcdm::is_url(s) => award_id_for(s),
            Some(_) => return Err(bad("id must be a URL (VCDM 2.0 §4.4)")),
        };
        let shown_id = credential
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let taken = || {
            Error::Taken(format!(
                "a credential with the id {shown_id} was issued already"
            ))
        };
        // Held until the credential is recorded: in this process, one id is checked and
        // recorded before the next check. Across a fleet's nodes the database's key
        // decides (below).
        let _one = self.general.lock().await;
        if super::find_award(&*self.awards, id).await?.is_some() {
            return Err(taken());
        }
        if !credential.contains_key("validFrom") {
            credential.insert("validFrom".into(), json!(format_seconds(now)));
        }
        // The data model's rules first (the messages name the section), then the
        // Open Badges schemas for what they govern.
        if let Err(v) = vcdm::check_credential(&Value::Object(credential.clone())) {
            return Err(bad(schema::joined(&v)));
        }
        if vcdm::version_of(&Value::Object(credential.clone())) != vcdm::Version::V2 {
            return Err(bad(format!(
                "the first @context must be {} (VCDM 2.0 §4.3): this issuer signs VC Data Model 2.0 credentials",
                vcdm::VCDM2_CONTEXT
            )));
        }
        let valid = |k: &str| {
            credential
                .get(k)
                .and_then(Value::as_str)
                .and_then(parse_datetime)
                .map(whole_seconds)
        };
        let valid_from = valid("validFrom").unwrap_or(now);
        let valid_until = valid("validUntil");
        if let Some(u) = valid_until
            && u <= valid_from
        {
            return Err(bad("validUntil must be after validFrom"));
        }
        // The status entries, on a slot reserved below.
        // A revocation entry always, so that staff can revoke what is listed; others
        // as asked (or as badges carry them).
        let mut purposes: Vec<StatusPurpose> = match &options.status {
            Some(p) => p.clone(),
            None => self.status_config.purposes.as_slice().to_vec(),
        };
        if !purposes.contains(&StatusPurpose::Revocation) {
            purposes.push(StatusPurpose::Revocation);
            purposes.sort();
        }
        let subject_id = match credential.get("credentialSubject") {
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let mut tries = 0;
        let (award, document) = loop {
            let slot = self.lists.allocate();
            let mut doc = credential.clone();
            doc.insert(
                "credentialStatus".into(),
                self.status_urls.entries_for(slot, &purposes),
            );
            let is_badge =
                has_type(&doc, "OpenBadgeCredential") || has_type(&doc, "AchievementCredential");
            let doc_value = Value::Object(doc.clone());
            if is_badge {
                schema::check_credential(&doc_value).map_err(Error::Schema)?;
            } else if has_type(&doc, "EndorsementCredential") {
                schema::check_endorsement(&doc_value).map_err(Error::Schema)?;
            }
            let award = Award {
                id,
                seq: 0,
                achievement: AchievementRef::general(),
                recipient: Recipient {
                    name: None,
                    email: None,
                    id: subject_id.clone(),
                },
                state: AwardState::Offered,
                salt: String::new(),
                valid_from,
                valid_until,
                tx_code_required: false,
                approval_required: false,
                extras: Some(json!({DOCUMENT: doc_value, SECURING: options.securing.name()})),
                issued: Vec::new(),
                revoked: false,
                suspended: false,
                status: Some(slot),
                wallet: WalletState::default(),
                created_at: now,
                updated_at: now,
            };
            match self.awards.reserve_award(award.id, slot).await {
                Err(crate::store::Error::SlotTaken { .. }) if tries < super::SLOT_TRIES => {
                    tries += 1;
                }
                Err(e) => return Err(e.into()),
                Ok(()) => break (award, doc),
            }
        };
        // The intent is durable before anything is signed.
        self.awards.flush().await?;
        let signed = self.secure_document(&document, options.securing).await;
        let (secured, kid) = match signed {
            Ok(s) => s,
            Err(e) => {
                if let Some(slot) = award.status {
                    let event = super::burned(self.now(), format!("signing failed: {e}"));
                    self.awards.burn_award(award.id, slot, &event).await?;
                }
                return Err(e);
            }
        };
        let mut award = award;
        let mut copy = IssuedCopy::new(secured.clone(), kid, self.now());
        copy.subject = subject_id;
        award.issued.push(copy);
        award.state = AwardState::Issued;
        if let Err(e) = self.awards.record_reserved(&mut award).await {
            // Another node recorded the same id first: this reservation is burned and
            // what was signed here is never handed out.
            let theirs = super::find_award(&*self.awards, id).await?;
            if let (Some(theirs), Some(slot)) = (theirs, award.status)
                && theirs.status != Some(slot)
            {
                let event = super::burned(self.now(), "the id was issued by another node".into());
                self.awards.burn_award(award.id, slot, &event).await?;
                return Err(taken());
            }
            return Err(e.into());
        }
        self.awards.flush().await?;
        let shown = document
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        tracing::info!(
            id = %shown,
            securing = options.securing.name(),
            "credential issued"
        );
        Ok(IssuedCredential {
            record: award,
            secured,
            securing: options.securing,
        })
    }

    /// The Data Integrity form of a badge this issuer signed as a JWT: the same
    /// credential (the JWT payload without its registered claims: the same `id`, the
    /// same status entries, the same subject) with an embedded proof, so that one
    /// award can be handed out in both envelopes (OpenID4VCI `ldp_vc`, the badge page's
    /// JSON-LD download, a CLR's bundled credentials). `eddsa-rdfc-2022` with the
    /// Ed25519 key, which is made when `make_key` (an authorized issuance) and there is
    /// none; otherwise `ecdsa-rdfc-2019` with a P-256 key when there is one. `None`
    /// when neither key exists and none may be made.
    pub async fn data_integrity_form(
        &self,
        jwt: &str,
        make_key: bool,
    ) -> Result<Option<Value>, Error> {
        let payload = jws::CompactJws::parse(jwt)
            .and_then(|j| j.payload_json())
            .map_err(|e| Error::Build(format!("the badge is not a JWT: {e}")))?;
        let credential = crate::jose::claims::strip_jwt_claims(&payload);
        let suite = match self.ready_suite() {
            _ if make_key => Suite::EddsaRdfc2022,
            Some(s) => s,
            None => return Ok(None),
        };
        // The key there is, or (only when `make_key`) a new Ed25519 one.
        let (_, key) = self
            .keys
            .key_for(suite.algorithm())
            .await
            .map_err(|e| Error::Build(format!("a key for {}: {e}", suite.name())))?;
        let (signed, _) = self.embed_proof(&credential, suite, &key).await?;
        Ok(Some(Value::Object(signed)))
    }

    /// Signs `doc` with an embedded `suite` proof for `assertionMethod` by `key` (one
    /// of this issuer's, named by its Multikey method); the document and the method.
    async fn embed_proof(
        &self,
        doc: &Map<String, Value>,
        suite: Suite,
        key: &std::sync::Arc<crate::jose::SigningKey>,
    ) -> Result<(Map<String, Value>, String), Error> {
        let method = self.multikey_method(key)?;
        let options = ProofOptions {
            suite,
            purpose: "assertionMethod",
            created: format_seconds(self.now()),
            challenge: None,
            domain: None,
        };
        let signed = integrity::sign(doc, &options, key, &method, self.did().as_str())
            .await
            .map_err(|e| match e {
                integrity::ProofError::Invalid(m) => bad(m),
                integrity::ProofError::Unsupported(m) => Error::Build(m),
            })?;
        Ok((signed, method))
    }

    /// The Data Integrity suite this issuer can sign with without making a key:
    /// `eddsa-rdfc-2022` with an Ed25519 key, else `ecdsa-rdfc-2019` with a P-256 one.
    pub fn ready_suite(&self) -> Option<Suite> {
        let keys = self.keys.current();
        if keys.newest_of(crate::jose::Algorithm::EdDSA).is_some() {
            Some(Suite::EddsaRdfc2022)
        } else if keys.newest_of(crate::jose::Algorithm::ES256).is_some() {
            Some(Suite::EcdsaRdfc2019)
        } else {
            None
        }
    }

    /// The DID URL a Data Integrity proof names `key` by: its `Multikey` method in
    /// this issuer's DID document (`<did>#z...`).
    pub(crate) fn multikey_method(&self, key: &crate::jose::SigningKey) -> Result<String, Error> {
        let fragment = crate::did::key::multibase(key.public_jwk())
            .map_err(|e| Error::Build(e.to_string()))?;
        Ok(format!("{}#{fragment}", self.did()))
    }

    /// Signs `doc` as `securing` says; the signed form and the DID URL of the key.
    pub(crate) async fn secure_document(
        &self,
        doc: &Map<String, Value>,
        securing: Securing,
    ) -> Result<(String, String), Error> {
        match securing {
            Securing::Ob3Jwt => {
                let mut claimed = doc.clone();
                crate::jose::claims::add_jwt_claims(&mut claimed)
                    .map_err(|e| Error::Build(e.to_string()))?;
                let payload =
                    serde_json::to_vec(&claimed).map_err(|e| Error::Build(e.to_string()))?;
                check_payload_size(&payload)?;
                let keys = self.keys.current();
                let kid = self.kid_url_of(&keys);
                let jwt = jws::sign_compact(
                    keys.signing_key(),
                    Some(&kid),
                    Some(super::BADGE_TYP),
                    &payload,
                )?;
                Ok((jwt, kid))
            }
            Securing::Jose => {
                let payload = serde_json::to_vec(doc).map_err(|e| Error::Build(e.to_string()))?;
                check_payload_size(&payload)?;
                let keys = self.keys.current();
                let kid = self.kid_url_of(&keys);
                let jwt = jws::sign_compact_with(
                    keys.signing_key(),
                    Some(&kid),
                    Some(VC_JWT_TYP),
                    Some("vc"),
                    &payload,
                )?;
                Ok((jwt, kid))
            }
            Securing::DataIntegrity(suite) => {
                let (_, key) = self
                    .keys
                    .key_for(suite.algorithm())
                    .await
                    .map_err(|e| Error::Build(format!("a key for {}: {e}", suite.name())))?;
                let (signed, method) = self.embed_proof(doc, suite, &key).await?;
                let text =
                    serde_json::to_string(&signed).map_err(|e| Error::Build(e.to_string()))?;
                Ok((text, method))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn securing_names_round_trip_and_unknown_ones_are_refused() {
        for s in [
            Securing::Jose,
            Securing::DataIntegrity(Suite::EddsaRdfc2022),
            Securing::DataIntegrity(Suite::EcdsaRdfc2019),
        ] {
            assert_eq!(Securing::parse(s.name()), Some(s));
        }
        assert_eq!(Securing::parse("Ed25519Signature2020"), None);
        assert_eq!(Securing::parse("bbs-2023"), None);
    }

    #[test]
    fn url_ids_map_to_one_award_id_and_uuids_to_themselves() {
        let u = "urn:uuid:0192f8a4-6f3e-7a1b-8c2d-3e4f5a6b7c8d";
        assert_eq!(award_id_for(u).to_string(), &u[9..]);
        let a = award_id_for("https://example.edu/credentials/3732");
        assert_eq!(a, award_id_for("https://example.edu/credentials/3732"));
        assert_ne!(a, award_id_for("https://example.edu/credentials/3733"));
    }
}
