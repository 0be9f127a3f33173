//! Bringing a store of the first format up to date (format 1 → 2).
//!
//! Format 1 kept awards as JSON, each with a copy of its achievement as it stood when
//! awarded, instants as text (and some as Unix seconds), audit events and token grants
//! as JSON, presentation requests with Unix-second instants, and the awards being
//! signed in a tree of their own (`pending`). Format 2 names the achievement revision
//! instead of copying it, encodes awards, audit events and grants compactly
//! ([`super::codec`]), and marks an award being signed on its status slot.
//!
//! The conversion runs when the store opens, record by record, and is safe to
//! interrupt: each record is recognised by its own shape (a compact record's first
//! byte is never `{`), so a conversion cut short by a crash resumes where it stopped,
//! and the format mark is written only once everything is converted. An award's
//! achievement copy becomes a revision of that achievement: the latest revision when
//! the definitions are the same, otherwise a revision of its own (shared by every
//! award that copied the same definition).

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{SledStore, codec, from_json, json, revision_key};
use crate::clock::{from_unix, parse_datetime, whole_seconds};
use crate::model::Achievement;
use crate::records::{
    AchievementRecord, AchievementRef, AuditEvent, Award, AwardState, ClaimLink,
    CredentialIdentifier, DeferredRequest, IssuedCopy, Offer, OfferSecret, Recipient, TokenGrant,
    WalletEvent, WalletState,
};
use crate::status::StatusSlot;
use crate::store::Error;

/// Converts every first-format record; returns what was converted, for the start-up
/// message.
pub(super) fn from_format_1(s: &SledStore) -> Result<String, Error> {
    let mut revisions = Revisions::load(s)?;
    let awards = awards(s, &mut revisions)?;
    let pending = pending(s)?;
    let audit = audit_events(s)?;
    let tokens = tokens(s)?;
    let requests = presentation_requests(s)?;
    s.db.flush()?;
    Ok(format!(
        "store upgraded from format 1 to 2: {awards} awards ({} achievement definitions kept as revisions, {pending} left unsigned by a crash), {audit} audit events, {tokens} tokens, {requests} presentation requests converted",
        revisions.made
    ))
}

fn instant(what: &str, s: &str) -> Result<time::OffsetDateTime, Error> {
    parse_datetime(s)
        .map(whole_seconds)
        .ok_or_else(|| Error::Corrupt(what.to_owned(), format!("{s:?} is not an instant")))
}

fn opt_instant(what: &str, s: Option<&str>) -> Result<Option<time::OffsetDateTime>, Error> {
    s.map(|s| instant(what, s)).transpose()
}

/// Every achievement's revisions, to find (or make) the one an award copied.
struct Revisions {
    /// Per achievement: its revisions' definitions (as JSON, for comparison).
    known: HashMap<Uuid, Vec<(u32, Value)>>,
    made: usize,
}

impl Revisions {
    fn load(s: &SledStore) -> Result<Self, Error> {
        let mut known: HashMap<Uuid, Vec<(u32, Value)>> = HashMap::new();
        for item in s.achievements.iter() {
            let (k, v) = item?;
            let rec: AchievementRecord = from_json("achievement", &v)?;
            let key = rec.reference();
            if s.revisions.get(revision_key(key))?.is_none() {
                s.revisions.insert(
                    revision_key(key),
                    json("achievement revision", &rec.achievement)?,
                )?;
            }
            // Written back so that the record names its revision.
            s.achievements.insert(k, json("achievement", &rec)?)?;
            known
                .entry(rec.key)
                .or_default()
                .push((rec.revision, to_value(&rec.achievement)?));
        }
        for item in s.revisions.iter() {
            let (k, v) = item?;
            let (Some(key), Some(rev)) = (
                k.get(..16).and_then(|b| Uuid::from_slice(b).ok()),
                k.get(16..20)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(u32::from_be_bytes),
            ) else {
                continue;
            };
            let list = known.entry(key).or_default();
            if !list.iter().any(|(r, _)| *r == rev) {
                list.push((rev, serde_json::from_slice(&v).unwrap_or(Value::Null)));
            }
        }
        Ok(Self { known, made: 0 })
    }

    /// The revision of `key` whose definition is `copy`, made if there is none.
    fn find_or_make(
        &mut self,
        s: &SledStore,
        key: Uuid,
        copy: &Achievement,
    ) -> Result<AchievementRef, Error> {
        let value = to_value(copy)?;
        let list = self.known.entry(key).or_default();
        if let Some((rev, _)) = list.iter().find(|(_, v)| *v == value) {
            return Ok(AchievementRef {
                key,
                revision: *rev,
            });
        }
        // Not the current definition: kept under a number after every other one. The
        // achievement's own next change goes past it.
        let revision = list.iter().map(|(r, _)| *r).max().unwrap_or(0) + 1;
        let r = AchievementRef { key, revision };
        s.revisions
            .insert(revision_key(r), json("achievement revision", copy)?)?;
        list.push((revision, value));
        self.made += 1;
        if let Some(bytes) = s.achievements.get(key.to_string())? {
            let mut rec: AchievementRecord = from_json("achievement", &bytes)?;
            if rec.revision < revision {
                // The current definition moves to the newest number, so that
                // revisions stay ordered by age.
                rec.revision = revision + 1;
                let current = AchievementRef {
                    key,
                    revision: rec.revision,
                };
                s.revisions.insert(
                    revision_key(current),
                    json("achievement revision", &rec.achievement)?,
                )?;
                s.achievements
                    .insert(key.to_string(), json("achievement", &rec)?)?;
                let v = to_value(&rec.achievement)?;
                if let Some(list) = self.known.get_mut(&key) {
                    list.push((rec.revision, v));
                }
            }
        }
        Ok(r)
    }
}

fn to_value(a: &Achievement) -> Result<Value, Error> {
    serde_json::to_value(a).map_err(|e| Error::Corrupt("achievement".into(), e.to_string()))
}

/// An award as format 1 stored it.
#[derive(Deserialize)]
struct AwardV1 {
    id: Uuid,
    seq: u64,
    achievement_id: String,
    achievement: Achievement,
    recipient: Recipient,
    state: AwardState,
    salt: String,
    valid_from: String,
    #[serde(default)]
    valid_until: Option<String>,
    tx_code_required: bool,
    approval_required: bool,
    #[serde(default)]
    extras: Option<Value>,
    #[serde(default)]
    issued: Vec<CopyV1>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    status: Option<StatusSlot>,
    #[serde(default)]
    wallet: WalletV1,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
struct CopyV1 {
    jwt: String,
    kid: String,
    issued_at: String,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    status: Option<StatusSlot>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    notification_id: Option<String>,
}

#[derive(Deserialize, Default)]
struct WalletV1 {
    #[serde(default)]
    offer: Option<OfferV1>,
    #[serde(default)]
    tx_code: Option<String>,
    #[serde(default)]
    claim_id: Option<String>,
    #[serde(default)]
    approved: bool,
    #[serde(default)]
    deferred: Option<DeferredV1>,
    #[serde(default)]
    events: Vec<EventV1>,
    #[serde(default)]
    generation: u32,
    #[serde(default)]
    configuration_id: Option<String>,
}

#[derive(Deserialize)]
struct OfferV1 {
    id: String,
    code: String,
    expires_at: i64,
    created_at: String,
}

#[derive(Deserialize)]
struct DeferredV1 {
    transaction_id: String,
    holders: Vec<String>,
    configuration_id: String,
    requested_at: String,
    #[serde(default)]
    delivered: bool,
    #[serde(default)]
    draft13: bool,
}

#[derive(Deserialize)]
struct EventV1 {
    event: String,
    #[serde(default)]
    description: Option<String>,
    notification_id: String,
    at: String,
}

impl AwardV1 {
    fn convert(self, achievement: AchievementRef) -> Result<Award, Error> {
        let what = format!("award {}", self.id);
        let w = self.wallet;
        Ok(Award {
            id: self.id,
            seq: self.seq,
            achievement,
            recipient: self.recipient,
            state: self.state,
            salt: self.salt,
            valid_from: instant(&what, &self.valid_from)?,
            valid_until: opt_instant(&what, self.valid_until.as_deref())?,
            tx_code_required: self.tx_code_required,
            approval_required: self.approval_required,
            extras: self.extras,
            issued: self
                .issued
                .into_iter()
                .map(|c| {
                    Ok(IssuedCopy {
                        issued_at: instant(&what, &c.issued_at)?,
                        jwt: c.jwt,
                        kid: c.kid,
                        id: c.id,
                        status: c.status,
                        subject: c.subject,
                        notification_id: c.notification_id,
                    })
                })
                .collect::<Result<_, Error>>()?,
            revoked: self.revoked,
            suspended: self.suspended,
            status: self.status,
            wallet: WalletState {
                offer: w
                    .offer
                    .map(|o| {
                        Ok::<_, Error>(Offer {
                            secret: OfferSecret::Clear {
                                id: o.id,
                                code: o.code,
                            },
                            expires_at: from_unix(o.expires_at),
                            created_at: instant(&what, &o.created_at)?,
                        })
                    })
                    .transpose()?,
                tx_code: w.tx_code,
                claim: w.claim_id.map(ClaimLink::Clear),
                approved: w.approved,
                deferred: w
                    .deferred
                    .map(|d| {
                        Ok::<_, Error>(DeferredRequest {
                            transaction_id: d.transaction_id,
                            holders: d.holders,
                            configuration_id: d.configuration_id,
                            requested_at: instant(&what, &d.requested_at)?,
                            delivered: d.delivered,
                            draft13: d.draft13,
                        })
                    })
                    .transpose()?,
                events: w
                    .events
                    .into_iter()
                    .map(|e| {
                        Ok(WalletEvent {
                            at: instant(&what, &e.at)?,
                            event: e.event,
                            description: e.description,
                            notification_id: e.notification_id,
                        })
                    })
                    .collect::<Result<_, Error>>()?,
                generation: w.generation,
                configuration_id: w.configuration_id,
            },
            created_at: instant(&what, &self.created_at)?,
            updated_at: instant(&what, &self.updated_at)?,
        })
    }
}

fn is_json(v: &[u8]) -> bool {
    v.first() == Some(&b'{')
}

fn awards(s: &SledStore, revisions: &mut Revisions) -> Result<usize, Error> {
    let mut n = 0;
    for item in s.awards.iter() {
        let (k, v) = item?;
        if !is_json(&v) {
            continue;
        }
        let old: AwardV1 = from_json("award (format 1)", &v)?;
        let key = old
            .achievement_id
            .rsplit('/')
            .next()
            .and_then(|last| Uuid::parse_str(last).ok())
            .ok_or_else(|| {
                Error::Corrupt(
                    format!("award {}", old.id),
                    format!(
                        "achievement id {:?} names no achievement",
                        old.achievement_id
                    ),
                )
            })?;
        let r = revisions.find_or_make(s, key, &old.achievement)?;
        let award = old.convert(r)?;
        s.awards.insert(k, codec::award(&award))?;
        n += 1;
    }
    Ok(n)
}

/// Awards format 1 recorded before signing them, and a crash left unsigned: they are
/// entered as pending reservations, for the start-up recovery to burn them.
pub(super) fn pending(s: &SledStore) -> Result<usize, Error> {
    let tree = s.db.open_tree("pending")?;
    let mut n = 0;
    for item in tree.iter() {
        let (k, _) = item?;
        let id = super::uuid_value("pending", &k)?;
        if let Some(slot) = s
            .awards
            .get(id.as_bytes())?
            .and_then(|v| codec::read_award(&v).ok().and_then(|a| a.status))
        {
            s.reservations
                .insert(super::reservation_key(slot, id), &[])?;
            s.slots.insert(super::slot_key(slot), id.as_bytes())?;
            n += 1;
        }
        tree.remove(k)?;
    }
    drop(tree);
    s.db.drop_tree("pending")?;
    Ok(n)
}

#[derive(Deserialize)]
struct AuditV1 {
    at: String,
    action: String,
    actor: String,
    #[serde(default)]
    reason: Option<String>,
}

fn audit_events(s: &SledStore) -> Result<usize, Error> {
    let mut n = 0;
    for item in s.audit.iter() {
        let (k, v) = item?;
        if !is_json(&v) {
            continue;
        }
        let old: AuditV1 = from_json("audit event (format 1)", &v)?;
        let e = AuditEvent {
            at: instant("audit event", &old.at)?,
            action: old.action,
            actor: old.actor,
            reason: old.reason,
        };
        s.audit.insert(k, codec::audit(&e))?;
        n += 1;
    }
    Ok(n)
}

#[derive(Deserialize)]
struct TokenV1 {
    award: Uuid,
    configuration_ids: Vec<String>,
    #[serde(default)]
    credential_identifiers: Vec<IdentifierV1>,
    expires_at: i64,
    #[serde(default)]
    refresh: bool,
    #[serde(default)]
    generation: u32,
}

#[derive(Deserialize)]
struct IdentifierV1 {
    id: String,
    configuration_id: String,
}

fn tokens(s: &SledStore) -> Result<usize, Error> {
    let mut n = 0;
    for item in s.wallet.scan_prefix([b't']) {
        let (k, v) = item?;
        if !is_json(&v) {
            continue;
        }
        let old: TokenV1 = from_json("token (format 1)", &v)?;
        let g = TokenGrant {
            award: old.award,
            configuration_ids: old.configuration_ids,
            credential_identifiers: old
                .credential_identifiers
                .into_iter()
                .map(|c| CredentialIdentifier {
                    id: c.id,
                    configuration_id: c.configuration_id,
                })
                .collect(),
            expires_at: from_unix(old.expires_at),
            refresh: old.refresh,
            generation: old.generation,
        };
        s.wallet.insert(k, codec::token(&g))?;
        n += 1;
    }
    Ok(n)
}

/// Format 1 wrote a request's instants as Unix seconds.
fn presentation_requests(s: &SledStore) -> Result<usize, Error> {
    let mut n = 0;
    for item in s.requests.iter() {
        let (k, v) = item?;
        let mut doc: serde_json::Map<String, Value> = from_json("presentation request", &v)?;
        let mut changed = false;
        for field in ["created_at", "expires_at", "answered_at"] {
            if let Some(secs) = doc.get(field).and_then(Value::as_i64) {
                doc.insert(
                    field.into(),
                    Value::String(crate::clock::format_seconds(from_unix(secs))),
                );
                changed = true;
            }
        }
        if changed {
            s.requests.insert(k, json("presentation request", &doc)?)?;
            n += 1;
        }
    }
    Ok(n)
}
