//! Taking badges back and pausing them, and publishing the lists that say so.
//!
//! - Revoke is permanent and idempotent; revoking an offered award also ends its offer.
//! - Suspend and unsuspend are reversible and idempotent; both refuse a revoked badge.
//! - One award may have several signed copies (a wallet's batch request), each with
//!   its own status slot; one change sets or clears every copy's bit.
//! - Revoking an offered award also ends its offer: the code's index entry goes in the
//!   same transaction, so the code is refused from then on.
//! - Each change writes the record, the list bit and an audit event in one store
//!   transaction while the lists are locked, so concurrent changes in one list never
//!   lose each other; the caller flushes before answering.
//!
//! Publication (Bitstring Status List v1.0 §2.2, §3.1; VC-JOSE-COSE §3.1.1): the list
//! credential is signed as `typ: vc+jwt` by the issuer's current key, cached by list
//! version, and kept in the store so a restart re-signs only lists that changed.

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Error, Issuer, VC_JWT_TYP};
use crate::jose::jws;
use crate::status::{Published, StatusPurpose};
use crate::store::{AuditEvent, BitWrite, Change, CredentialRecord, PublishedList, WalletKey};

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
    /// Returns the record as it now is.
    pub fn change_status_unflushed(
        &self,
        id: &str,
        action: StatusAction,
        ctx: &ActionContext,
    ) -> Result<CredentialRecord, Error> {
        let (reason, actor) = ctx.checked()?;
        // A batch copy's id stands for its award: one action covers every copy.
        let uuid = self.credential(id)?.id;
        let now = self.now();
        let event = AuditEvent {
            at: now.clone(),
            action: action.as_str().into(),
            actor,
            reason,
        };
        // The lock orders this change with every other bit change, and the memory copy
        // is updated only after the store accepted the change.
        let (purpose, value) = match action {
            StatusAction::Revoke => (StatusPurpose::Revocation, true),
            StatusAction::Suspend => (StatusPurpose::Suspension, true),
            StatusAction::Unsuspend => (StatusPurpose::Suspension, false),
        };
        let mut lists = self.status.lock();
        let result = self.store.update_credential(uuid, |rec| {
            let mut unlink = Vec::new();
            if purpose == StatusPurpose::Revocation {
                if rec.revoked {
                    return Ok(None);
                }
                rec.revoked = true;
                if let Some(o) = rec.wallet.offer.take() {
                    unlink.push(WalletKey::Code(o.code));
                    unlink.push(WalletKey::Offer(o.id));
                }
            } else {
                if rec.revoked {
                    return Err(crate::store::Error::Refused(
                        "the credential is revoked; revocation is permanent".into(),
                    ));
                }
                if rec.suspended == value {
                    return Ok(None);
                }
                rec.suspended = value;
            }
            rec.updated_at.clone_from(&now);
            let bits = rec
                .slots()
                .into_iter()
                .map(|slot| BitWrite {
                    purpose,
                    slot,
                    value,
                })
                .collect();
            Ok(Some(Change {
                bits,
                audit: Some(event.clone()),
                unlink,
            }))
        });
        let (rec, written) = match result {
            Ok(r) => r,
            Err(crate::store::Error::Missing(_)) => {
                return Err(Error::NotFound(format!("credential {id}")));
            }
            Err(crate::store::Error::Refused(msg)) => return Err(Error::Conflict(msg)),
            Err(e) => return Err(e.into()),
        };
        if written {
            for slot in rec.slots() {
                lists.apply(purpose, slot, value);
            }
        }
        drop(lists);
        if written {
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
    ) -> Result<CredentialRecord, Error> {
        let rec = self.change_status_unflushed(id, action, ctx)?;
        // Flush also when nothing changed: the state read may be a concurrent
        // request's write that is not durable yet.
        self.store.flush().await?;
        Ok(rec)
    }

    /// Revokes many credentials, each on its own, with one flush.
    pub async fn revoke_batch(
        &self,
        ids: &[String],
        ctx: &ActionContext,
    ) -> Result<Vec<Result<CredentialRecord, Error>>, Error> {
        let out = ids
            .iter()
            .map(|id| self.change_status_unflushed(id, StatusAction::Revoke, ctx))
            .collect();
        self.store.flush().await?;
        Ok(out)
    }

    /// The audit events of a credential, oldest first.
    pub fn audit_events(&self, id: &str) -> Result<Vec<AuditEvent>, Error> {
        let rec = self.credential(id)?;
        Ok(self.store.audit_events(rec.id)?)
    }

    /// The signed list credential for `purpose`/`list`, or `None` when no such list
    /// exists. Signed again only when the list changed since the last signature.
    pub fn published_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<Arc<Published>>, Error> {
        let Some(version) = self.status.version(purpose, list) else {
            return Ok(None);
        };
        if let Some(p) = self.status.cached(purpose, list, version) {
            return Ok(Some(p));
        }
        let Some(snap) = self.status.snapshot(purpose, list) else {
            return Ok(None);
        };
        let kid = self.kid_url();
        let ttl = self.status_config.ttl_seconds;
        let mut h = Sha256::new();
        h.update(snap.bits.as_bytes());
        h.update(kid.as_bytes());
        h.update(ttl.to_be_bytes());
        let digest = hex::encode(h.finalize());
        let jwt = match self.store.published_list(purpose, list)? {
            Some(p) if p.digest == digest => p.jwt,
            _ => {
                let cred = self.status_list_credential(purpose, list, &snap.bits.encode());
                let payload = serde_json::to_vec(&cred).map_err(|e| Error::Build(e.to_string()))?;
                let jwt = jws::sign_compact(
                    self.keys.signing_key(),
                    Some(&kid),
                    Some(VC_JWT_TYP),
                    &payload,
                )?;
                self.store.put_published_list(
                    purpose,
                    list,
                    &PublishedList {
                        digest,
                        jwt: jwt.clone(),
                    },
                )?;
                jwt
            }
        };
        let etag = format!("\"{}\"", &hex::encode(Sha256::digest(jwt.as_bytes()))[..32]);
        let p = Arc::new(Published {
            jwt,
            etag,
            version: snap.version,
        });
        self.status.cache(purpose, list, p.clone());
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
            "validFrom": self.now(),
            "credentialSubject": {
                "id": format!("{url}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": purpose.as_str(),
                "encodedList": encoded,
                "ttl": self.status_config.ttl_seconds.saturating_mul(1000),
            }
        })
    }

    /// The record a slot belongs to (used by the verifier and tests).
    pub fn slot_owner(&self, slot: crate::status::StatusSlot) -> Result<Option<Uuid>, Error> {
        Ok(self.store.slot_owner(slot)?)
    }
}
