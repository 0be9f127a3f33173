//! Taking badges back and pausing them, and publishing the lists that say so.
//!
//! - Revoke is permanent and idempotent; revoking an offered award also ends its offer.
//! - Suspend and unsuspend are reversible and idempotent; both refuse a revoked badge.
//! - One award may have several signed copies (a wallet's batch request), each with
//!   its own status slot; one change sets or clears every copy's bit.
//! - Revoking an offered award also ends its offer: the code's handle goes with the
//!   same atomic change, so the code is refused from then on.
//! - Each change writes the award, the list bits and an audit event as one atomic
//!   store change ([`crate::store::Awards::update_award`]); the lists in memory follow
//!   once the store holds it. Status changes are ordered by one lock, so the lists in
//!   memory end as the store does when two changes of one award race; the caller
//!   flushes before answering.
//!
//! Publication (Bitstring Status List v1.0 §2.2, §3.1; VC-JOSE-COSE §3.1.1): the list
//! credential is signed as `typ: vc+jwt` by the issuer's current key, cached by list
//! version, and kept in the store so a restart re-signs only lists that changed.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Error, Issuer, VC_JWT_TYP};
use crate::clock::format_seconds;
use crate::jose::jws;
use crate::records::{AuditEvent, Award};
use crate::status::{Published, SignedList, StatusPurpose, StatusSlot};
use crate::store::{self, AwardChange, BitWrite, HandleOp};

/// The longest reason or actor kept.
pub const MAX_REASON_CHARS: usize = 1000;

/// A staff action on a credential's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusAction {
    Revoke,
    Suspend,
    Unsuspend,
}

impl StatusAction {
    /// The audit log's name.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusAction::Revoke => "revoke",
            StatusAction::Suspend => "suspend",
            StatusAction::Unsuspend => "unsuspend",
        }
    }
}

/// Who asks for a change, and why.
#[derive(Debug, Clone, Default)]
pub struct ActionContext {
    pub reason: Option<String>,
    pub actor: Option<String>,
}

impl ActionContext {
    fn checked(&self) -> Result<(Option<String>, String), Error> {
        let clean = |s: &Option<String>, field: &str| -> Result<Option<String>, Error> {
            match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) if s.chars().count() > MAX_REASON_CHARS => Err(Error::invalid(
                    field,
                    &format!("must be at most {MAX_REASON_CHARS} characters"),
                )),
                Some(s) if s.chars().any(|c| c.is_control() && c != '\n') => {
                    Err(Error::invalid(field, "must not contain control characters"))
                }
                Some(s) => Ok(Some(s.to_owned())),
            }
        };
        Ok((
            clean(&self.reason, "reason")?,
            clean(&self.actor, "actor")?.unwrap_or_else(|| "admin".into()),
        ))
    }
}

impl Issuer {
    /// Applies a status action to one credential; durable only after a flush.
    /// Returns the award as it now is.
    pub async fn change_status_unflushed(
        &self,
        id: &str,
        action: StatusAction,
        ctx: &ActionContext,
    ) -> Result<Award, Error> {
        let (reason, actor) = ctx.checked()?;
        // A batch copy's id stands for its award: one action covers every copy.
        let uuid = self.credential(id).await?.id;
        let now = self.now();
        let event = AuditEvent {
            at: now,
            action: action.as_str().into(),
            actor,
            reason,
        };
        let (purpose, value) = match action {
            StatusAction::Revoke => (StatusPurpose::Revocation, true),
            StatusAction::Suspend => (StatusPurpose::Suspension, true),
            StatusAction::Unsuspend => (StatusPurpose::Suspension, false),
        };
        // Held until the lists in memory follow the store.
        let _order = self.status_writer.lock().await;
        let result = self
            .awards
            .change(uuid, |rec| {
                let mut handles = Vec::new();
                if purpose == StatusPurpose::Revocation {
                    if rec.revoked {
                        return Ok((AwardChange::none(), false));
                    }
                    rec.revoked = true;
                    if let Some(o) = rec.wallet.offer.take() {
                        handles.extend(self.offer_handles(rec.id, &o).map(HandleOp::Unlink));
                    }
                } else {
                    if rec.revoked {
                        return Err(store::Error::Refused(
                            "the credential is revoked; revocation is permanent".into(),
                        ));
                    }
                    if rec.suspended == value {
                        return Ok((AwardChange::none(), false));
                    }
                    rec.suspended = value;
                }
                rec.updated_at = now;
                let bits = rec
                    .slots()
                    .into_iter()
                    .map(|slot| BitWrite {
                        purpose,
                        slot,
                        value,
                    })
                    .collect();
                let change = AwardChange {
                    write: true,
                    bits,
                    audit: Some(event.clone()),
                    handles,
                };
                Ok((change, true))
            })
            .await;
        let (rec, written) = match result {
            Ok(r) => r,
            Err(store::Error::Missing(_)) => {
                return Err(Error::NotFound(format!("credential {id}")));
            }
            Err(store::Error::Refused(msg)) => return Err(Error::Conflict(msg)),
            Err(e) => return Err(e.into()),
        };
        if written {
            for slot in rec.slots() {
                self.lists.apply(purpose, slot, value);
            }
            tracing::info!(jti = %rec.credential_id(), action = action.as_str(), "credential status changed");
        }
        Ok(rec)
    }

    /// Applies a status action to one credential; durable when this returns.
    pub async fn change_status(
        &self,
        id: &str,
        action: StatusAction,
        ctx: &ActionContext,
    ) -> Result<Award, Error> {
        let rec = self.change_status_unflushed(id, action, ctx).await?;
        // Flush also when nothing changed: the state read may be a concurrent
        // request's write that is not durable yet.
        self.awards.flush().await?;
        Ok(rec)
    }

    /// Revokes many credentials, each on its own, with one flush.
    pub async fn revoke_batch(
        &self,
        ids: &[String],
        ctx: &ActionContext,
    ) -> Result<Vec<Result<Award, Error>>, Error> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(
                self.change_status_unflushed(id, StatusAction::Revoke, ctx)
                    .await,
            );
        }
        self.awards.flush().await?;
        Ok(out)
    }

    /// The audit events of a credential, oldest first.
    pub async fn audit_events(&self, id: &str) -> Result<Vec<AuditEvent>, Error> {
        let rec = self.credential(id).await?;
        Ok(self.awards.audit_events(rec.id).await?)
    }

    /// The signed list credential for `purpose`/`list`, or `None` when no such list
    /// exists. Signed again only when the list changed since the last signature.
    pub async fn published_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<Arc<Published>>, Error> {
        let Some(version) = self.lists.version(purpose, list) else {
            return Ok(None);
        };
        if let Some(p) = self.lists.cached(purpose, list, version) {
            return Ok(Some(p));
        }
        let Some(snap) = self.lists.snapshot(purpose, list) else {
            return Ok(None);
        };
        let keys = self.keys().current();
        let kid = format!("{}#{}", self.did(), keys.signing_kid());
        let ttl = self.status_config.ttl_seconds;
        let mut h = Sha256::new();
        h.update(snap.bits.as_bytes());
        h.update(kid.as_bytes());
        h.update(ttl.to_be_bytes());
        let digest = hex::encode(h.finalize());
        let jwt = match self.status_store.signed_list(purpose, list).await? {
            Some(p) if p.digest == digest => p.jwt,
            _ => {
                let cred = self.status_list_credential(purpose, list, &snap.bits.encode());
                let payload = serde_json::to_vec(&cred).map_err(|e| Error::Build(e.to_string()))?;
                let jwt =
                    jws::sign_compact(keys.signing_key(), Some(&kid), Some(VC_JWT_TYP), &payload)?;
                crate::metrics::metrics().list_publications.inc();
                // Another node may have signed the same bits first: serve its copy.
                self.status_store
                    .put_signed_list(purpose, list, &SignedList { digest, jwt })
                    .await?
                    .jwt
            }
        };
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(jwt.as_bytes()))[..32]);
        let p = Arc::new(Published {
            jwt,
            etag,
            version: snap.version,
        });
        self.lists.cache(purpose, list, p.clone());
        Ok(Some(p))
    }

    /// The list credential for `purpose`/`list` as JSON with a Data Integrity proof
    /// (Bitstring Status List v1.0 §2.2 secured with VC Data Integrity), for clients
    /// that ask for `application/json`: the same credential as the JWT form (same
    /// `validFrom`), with `created` = `validFrom`. The proof is `eddsa-rdfc-2022` with
    /// the newest Ed25519 key when the service has one — EdDSA signatures are
    /// deterministic, so every node of a fleet serves the same bytes and ETag — or
    /// else `ecdsa-rdfc-2019` with the P-256 signing key (each node then signs its
    /// own copy once per change). `None` when there is no such list, or no key that
    /// makes either proof (an RSA signing key alone): the JWT form serves. No key is
    /// ever made for this (anyone may ask for a list). The body is in
    /// [`Published::jwt`].
    pub async fn published_list_json(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<Arc<Published>>, Error> {
        let Some(jwt) = self.published_list(purpose, list).await? else {
            return Ok(None);
        };
        let keys = self.keys().current();
        let (suite, kid, key) =
            if let Some((info, key)) = keys.newest_of(crate::jose::Algorithm::EdDSA) {
                (
                    crate::integrity::Suite::EddsaRdfc2022,
                    info.kid.clone(),
                    key.clone(),
                )
            } else if keys.signing_key().algorithm() == crate::jose::Algorithm::ES256 {
                (
                    crate::integrity::Suite::EcdsaRdfc2019,
                    keys.signing_kid().to_owned(),
                    keys.signing_key().clone(),
                )
            } else {
                return Ok(None);
            };
        // Made again when the list changes (the JWT's ETag) or the key does.
        let source = format!("{} {kid}", jwt.etag);
        let cached = self
            .json_lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(purpose, list))
            .filter(|(s, _)| *s == source)
            .map(|(_, p)| p.clone());
        if let Some(p) = cached {
            return Ok(Some(p));
        }
        let credential = jws::CompactJws::parse(&jwt.jwt)
            .ok()
            .and_then(|j| j.payload_json().ok())
            .ok_or_else(|| Error::Build("the signed status list does not decode".into()))?;
        let created = credential
            .get("validFrom")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format_seconds(self.now()));
        let method = self.multikey_method(&key)?;
        let options = crate::integrity::ProofOptions {
            suite,
            purpose: "assertionMethod",
            created,
            challenge: None,
            domain: None,
        };
        let signed =
            crate::integrity::sign(&credential, &options, &key, &method, self.did().as_str())
                .await
                .map_err(|e| Error::Build(e.to_string()))?;
        crate::metrics::metrics().list_publications.inc();
        let body = serde_json::to_string(&signed).map_err(|e| Error::Build(e.to_string()))?;
        let etag = format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(body.as_bytes()))[..32]
        );
        let p = Arc::new(Published {
            jwt: body,
            etag,
            version: jwt.version,
        });
        self.json_lists
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((purpose, list), (source, p.clone()));
        Ok(Some(p))
    }

    /// The unsigned BitstringStatusListCredential of one list (§2.2, Example 3).
    pub fn status_list_credential(
        &self,
        purpose: StatusPurpose,
        list: u32,
        encoded: &str,
    ) -> Value {
        let url = self.status_urls.list_url(purpose, list);
        json!({
            "@context": [crate::model::VCDM2_CONTEXT],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.did.as_str(),
            "validFrom": format_seconds(self.now()),
            "credentialSubject": {
                "id": format!("{url}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": purpose.as_str(),
                "encodedList": encoded,
                "ttl": self.status_config.ttl_seconds.saturating_mul(1000),
            }
        })
    }

    /// The award a slot was given to.
    pub async fn slot_owner(&self, slot: StatusSlot) -> Result<Option<Uuid>, Error> {
        Ok(self.status_store.slot_owner(slot).await?)
    }
}
