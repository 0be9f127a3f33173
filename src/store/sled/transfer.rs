//! Export and import of the embedded store (`store::transfer` has the archive).
//!
//! A dump walks the trees in the archive's order; a walk is not a snapshot, so the
//! order is what keeps an export consistent while the service writes (a slot is
//! written before the award naming it, and the slots are walked after the awards).

use async_trait::async_trait;

use super::{
    SledStore, bit_key, code_value, from_json, handle_key, json, list_key, purpose_of,
    reservation_key, revision_key, slot_key, slot_of, uuid_value,
};
use crate::records::{AchievementRef, TemplateKind, Visibility};
use crate::status::StatusSlot;
use crate::store::transfer::{Record, Sink, Transfer, handle_of};
use crate::store::{Error, Images as _, codec};

fn corrupt(what: &str, why: &str) -> Error {
    Error::Corrupt(what.to_owned(), why.to_owned())
}

fn u32_at(k: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(k.get(at..at + 4)?.try_into().ok()?))
}

#[async_trait]
impl Transfer for SledStore {
    fn engine(&self) -> &'static str {
        "sled"
    }

    async fn holds_nothing(&self) -> Result<bool, Error> {
        Ok(self.meta.get(super::PROFILE_KEY)?.is_none()
            && self.achievements.is_empty()
            && self.awards.is_empty()
            && self.slots.is_empty()
            && self.staff.is_empty()
            && self.audit_log.is_empty())
    }

    async fn dump(&self, sink: &mut (dyn Sink + '_)) -> Result<(), Error> {
        if let Some(p) = self.meta.get(super::PROFILE_KEY)? {
            sink.put(Record::IssuerProfile(from_json("issuer profile", &p)?))
                .await?;
        }
        for v in self.achievements.iter().values() {
            sink.put(Record::Achievement(from_json("achievement", &v?)?))
                .await?;
        }
        for item in self.revisions.iter() {
            let (k, v) = item?;
            let key = uuid_value("achievement revision", &k)?;
            let revision = u32_at(&k, 16).ok_or_else(|| corrupt("achievement revision", "key"))?;
            sink.put(Record::Revision {
                key,
                revision,
                achievement: from_json("achievement revision", &v)?,
            })
            .await?;
        }
        for item in self.catalogue.scan_prefix([super::catalogue::TYPE]) {
            let (_, v) = item?;
            sink.put(Record::BadgeType(from_json("badge type", &v)?))
                .await?;
        }
        for item in self.catalogue.scan_prefix([super::catalogue::PLACEMENT]) {
            let (k, v) = item?;
            sink.put(Record::Placement {
                achievement: uuid_value("placement", &k[1..])?,
                placement: from_json("placement", &v)?,
            })
            .await?;
        }
        for k in self.images.iter().keys() {
            let k = k?;
            let digest = std::str::from_utf8(&k).map_err(|_| corrupt("image", "digest"))?;
            if let Some(img) = self.image(digest).await? {
                sink.put(Record::Image {
                    digest: img.digest,
                    format: img.format,
                    width: img.width,
                    height: img.height,
                    bytes: img.bytes,
                })
                .await?;
            }
        }
        for v in self.trust.iter().values() {
            sink.put(Record::TrustEntry(from_json("trust entry", &v?)?))
                .await?;
        }
        for v in self.partners.iter().values() {
            sink.put(Record::PartnerKey(from_json("partner key", &v?)?))
                .await?;
        }
        for item in self.earners.scan_prefix(b"e") {
            let (_, v) = item?;
            sink.put(Record::Earner(from_json("earner", &v)?)).await?;
        }
        self.dump_staff(sink).await?;
        for item in self.counters.scan_prefix(b"c") {
            let (k, v) = item?;
            let zero = k[1..]
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| corrupt("counter", "key"))?;
            let name = std::str::from_utf8(&k[1..1 + zero])
                .map_err(|_| corrupt("counter", "name"))?
                .to_owned();
            let day = k
                .get(2 + zero..)
                .and_then(|d| <[u8; 8]>::try_from(d).ok())
                .map(i64::from_be_bytes)
                .ok_or_else(|| corrupt("counter", "day"))?;
            let n = <[u8; 8]>::try_from(v.as_ref())
                .map(u64::from_be_bytes)
                .map_err(|_| corrupt("counter", "count"))?;
            sink.put(Record::Counter { name, day, n }).await?;
        }
        for v in self.requests.iter().values() {
            sink.put(Record::PresentationRequest(from_json(
                "presentation request",
                &v?,
            )?))
            .await?;
        }
        for item in self.wallet.scan_prefix(b"n") {
            let (k, v) = item?;
            let expires_at = <[u8; 8]>::try_from(v.as_ref())
                .map(i64::from_be_bytes)
                .map_err(|_| corrupt("nonce", "expiry"))?;
            sink.put(Record::Nonce {
                nonce: String::from_utf8(k[1..].to_vec()).map_err(|_| corrupt("nonce", "text"))?,
                expires_at,
            })
            .await?;
        }
        for item in self.wallet.scan_prefix(b"t") {
            let (k, v) = item?;
            let digest = <[u8; 32]>::try_from(&k[1..]).map_err(|_| corrupt("token", "digest"))?;
            sink.put(Record::Token {
                digest,
                grant: v.to_vec(),
            })
            .await?;
        }
        // Awards in listing order, then what names them.
        for v in self.by_seq.iter().values() {
            let id = uuid_value("award listing", &v?)?;
            if let Some(bytes) = self.awards.get(id.as_bytes())? {
                sink.put(Record::award(&codec::read_award(&bytes)?)).await?;
            }
        }
        for item in self.copies.iter() {
            let (k, v) = item?;
            sink.put(Record::Copy {
                copy: uuid_value("copy", &k)?,
                award: uuid_value("copy", &v)?,
            })
            .await?;
        }
        for item in self.audit.iter() {
            let (k, v) = item?;
            sink.put(Record::Event {
                award: uuid_value("award event", &k)?,
                body: v.to_vec(),
            })
            .await?;
        }
        for tag in [b'c', b'o', b'l', b'x', b'm'] {
            for item in self.wallet.scan_prefix([tag]) {
                let (k, v) = item?;
                let value =
                    String::from_utf8(k[1..].to_vec()).map_err(|_| corrupt("handle", "text"))?;
                sink.put(Record::Handle {
                    kind: char::from(tag).to_string(),
                    value,
                    award: uuid_value("handle", &v)?,
                    failures: if tag == b'c' {
                        v.get(16).copied().unwrap_or(0)
                    } else {
                        0
                    },
                })
                .await?;
            }
        }
        for item in self.catalogue.scan_prefix([super::catalogue::VISIBILITY]) {
            let (k, v) = item?;
            sink.put(Record::Visibility {
                award: uuid_value("visibility", &k[1..])?,
                visibility: if v.as_ref() == b"h" {
                    Visibility::Hidden
                } else {
                    Visibility::Public
                },
            })
            .await?;
        }
        for item in self.outbox.scan_prefix(b"m") {
            let (_, v) = item?;
            sink.put(Record::OutboxMessage(from_json("outbox message", &v)?))
                .await?;
        }
        for item in self.outbox.scan_prefix(b"o") {
            let (k, _) = item?;
            sink.put(Record::OptOut {
                award: uuid_value("opt-out", &k[1..])?,
            })
            .await?;
        }
        for item in self.slots.iter() {
            let (k, v) = item?;
            let slot = slot_of(&k).ok_or_else(|| corrupt("status slot", "key"))?;
            let owner = uuid_value("status slot", &v)?;
            // The slot is the owner's (its value says so): pending while its entry is.
            let pending = self
                .reservations
                .contains_key(reservation_key(slot, owner))?;
            sink.put(Record::slot(slot, owner, pending)).await?;
        }
        for k in self.bits.iter().keys() {
            let k = k?;
            let purpose = k
                .first()
                .and_then(|t| purpose_of(*t))
                .ok_or_else(|| corrupt("status bit", "purpose"))?;
            let slot = slot_of(&k[1..]).ok_or_else(|| corrupt("status bit", "key"))?;
            sink.put(Record::Bit {
                purpose,
                list: slot.list,
                index: slot.index,
            })
            .await?;
        }
        for item in self.signed.iter() {
            let (k, v) = item?;
            let purpose = k
                .first()
                .and_then(|t| purpose_of(*t))
                .ok_or_else(|| corrupt("signed list", "purpose"))?;
            let list = u32_at(&k, 1).ok_or_else(|| corrupt("signed list", "key"))?;
            let s: crate::status::SignedList = from_json("signed list", &v)?;
            sink.put(Record::SignedList {
                purpose,
                list,
                digest: s.digest,
                jwt: s.jwt,
            })
            .await?;
        }
        for v in self.audit_log.iter().values() {
            sink.put(Record::audit(from_json("audit record", &v?)?))
                .await?;
        }
        Ok(())
    }

    async fn restore(&self, records: &[Record]) -> Result<(), Error> {
        for r in records {
            match r {
                Record::Achievement(rec) => {
                    self.achievements
                        .insert(rec.key.to_string(), json("achievement", rec)?)?;
                }
                Record::Revision {
                    key,
                    revision,
                    achievement,
                } => {
                    let at = AchievementRef {
                        key: *key,
                        revision: *revision,
                    };
                    self.revisions
                        .insert(revision_key(at), json("achievement revision", achievement)?)?;
                }
                Record::Award { body } => {
                    // Its handles come as their own records, as they stand.
                    self.write_listed(&mut codec::read_award(body)?)?;
                }
                Record::Copy { copy, award } => {
                    self.copies
                        .insert(copy.as_bytes(), award.as_bytes().as_slice())?;
                }
                Record::Event { award, body } => {
                    codec::read_audit(body)?;
                    self.audit
                        .insert(self.audit_key(*award)?, body.as_slice())?;
                }
                Record::Handle {
                    kind,
                    value,
                    award,
                    failures,
                } => {
                    let h = handle_of(kind, value.clone())?;
                    let v = match h {
                        crate::records::WalletHandle::Code(_) => code_value(*award, *failures),
                        _ => award.as_bytes().to_vec(),
                    };
                    self.wallet.insert(handle_key(&h), v)?;
                }
                Record::Slot {
                    list,
                    index,
                    award,
                    reserved: r,
                } => {
                    let slot = StatusSlot {
                        list: *list,
                        index: *index,
                    };
                    if *r {
                        self.reservations
                            .insert(reservation_key(slot, *award), &[])?;
                    }
                    self.slots
                        .insert(slot_key(slot), award.as_bytes().as_slice())?;
                }
                Record::Bit {
                    purpose,
                    list,
                    index,
                } => {
                    let slot = StatusSlot {
                        list: *list,
                        index: *index,
                    };
                    self.bits.insert(bit_key(*purpose, slot), &[])?;
                }
                Record::SignedList {
                    purpose,
                    list,
                    digest,
                    jwt,
                } => {
                    let s = crate::status::SignedList {
                        digest: digest.clone(),
                        jwt: jwt.clone(),
                    };
                    self.signed
                        .insert(list_key(*purpose, *list), json("signed list", &s)?)?;
                }
                other => {
                    return Err(Error::Task(format!(
                        "a {} record goes through the repositories",
                        other.kind()
                    )));
                }
            }
        }
        Ok(())
    }
}

impl SledStore {
    async fn dump_staff(&self, sink: &mut (dyn Sink + '_)) -> Result<(), Error> {
        for item in self.staff.scan_prefix(b"a") {
            let (_, v) = item?;
            sink.put(Record::Staff(from_json("staff member", &v)?))
                .await?;
        }
        for item in self.staff.scan_prefix(b"s") {
            let (k, v) = item?;
            sink.put(Record::Session {
                digest: <[u8; 32]>::try_from(&k[1..]).map_err(|_| corrupt("session", "key"))?,
                session: from_json("session", &v)?,
            })
            .await?;
        }
        for item in self.staff.scan_prefix(b"t") {
            let (k, v) = item?;
            sink.put(Record::PersonalToken {
                digest: <[u8; 32]>::try_from(&k[1..])
                    .map_err(|_| corrupt("personal token", "key"))?,
                token: from_json("personal token", &v)?,
            })
            .await?;
        }
        for item in self.staff.scan_prefix(b"l") {
            let (_, v) = item?;
            sink.put(Record::StaffLink(from_json("staff link", &v)?))
                .await?;
        }
        if let Some(v) = self.staff.get(b"k")? {
            sink.put(Record::SecuritySettings(from_json(
                "security settings",
                &v,
            )?))
            .await?;
        }
        if let Some(v) = self.outbox.get(b"c")? {
            sink.put(Record::MailSettings(from_json("mail settings", &v)?))
                .await?;
        }
        for kind in TemplateKind::ALL {
            let mut k = vec![b't'];
            k.extend_from_slice(kind.as_str().as_bytes());
            if let Some(v) = self.outbox.get(k)? {
                sink.put(Record::MailTemplate {
                    kind,
                    template: from_json("mail template", &v)?,
                })
                .await?;
            }
        }
        Ok(())
    }
}
