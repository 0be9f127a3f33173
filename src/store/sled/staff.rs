//! The staff, audit and outbox repositories.
//!
//! - `staff`, by one-byte prefix: `a` id → [`StaffRecord`]; `e` e-mail → id; `s` session
//!   digest → [`SessionRecord`]; `t` token digest → [`PersonalToken`]; `l` link id →
//!   [`StaffLink`]; `k` → [`SecuritySettings`]. All JSON.
//! - `audit_log`: big-endian sequence number → [`AuditRecord`] (JSON).
//! - `outbox`: `m` key → [`OutboxMessage`]; `p` key → `()` while it is pending; `a`
//!   award id (16 bytes) + key → `()`; `o` award id → opted out; `t` template kind →
//!   [`MailTemplate`]; `c` → [`MailSettings`].

use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{SledStore, from_json, json, prefixed};
use crate::records::{
    AuditRecord, MailSettings, MailTemplate, OutboxMessage, PersonalToken, SecuritySettings,
    SessionRecord, StaffLink, StaffRecord, TemplateKind,
};
use crate::store::{AuditFilter, AuditLog, Error, Outbox, Staff, StaffChangeFn};

const ACCOUNT: u8 = b'a';
const EMAIL: u8 = b'e';
const SESSION: u8 = b's';
const TOKEN: u8 = b't';
const LINK: u8 = b'l';
const SECURITY: &[u8] = b"k";

const MESSAGE: u8 = b'm';
const PENDING: u8 = b'p';
const BY_AWARD: u8 = b'a';
const OPT_OUT: u8 = b'o';
const TEMPLATE: u8 = b't';
const MAIL_SETTINGS: &[u8] = b"c";

fn get_json<T: serde::de::DeserializeOwned>(
    tree: &::sled::Tree,
    what: &str,
    key: &[u8],
) -> Result<Option<T>, Error> {
    tree.get(key)?.map(|v| from_json(what, &v)).transpose()
}

fn scan<T: serde::de::DeserializeOwned>(
    tree: &::sled::Tree,
    what: &str,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, T)>, Error> {
    tree.scan_prefix(prefix)
        .map(|item| {
            let (k, v) = item?;
            Ok((k[prefix.len()..].to_vec(), from_json(what, &v)?))
        })
        .collect()
}

fn digest_of(k: &[u8]) -> Result<[u8; 32], Error> {
    k.try_into()
        .map_err(|_| Error::Corrupt("staff key".into(), hex::encode(k)))
}

impl SledStore {
    /// Writes outbox messages (the first step of recording an award with them).
    pub(super) fn write_messages(&self, mail: &[OutboxMessage]) -> Result<(), Error> {
        for m in mail {
            self.write_message(m)?;
        }
        Ok(())
    }

    fn write_message(&self, m: &OutboxMessage) -> Result<(), Error> {
        let key = m.key.as_bytes();
        // Index entries before the record (an entry leading nowhere is ignored).
        if let Some(a) = m.award {
            let mut k = prefixed(BY_AWARD, a.as_bytes());
            k.extend_from_slice(key);
            self.outbox.insert(k, &[])?;
        }
        if m.state.pending() {
            self.outbox.insert(prefixed(PENDING, key), &[])?;
        }
        self.outbox
            .insert(prefixed(MESSAGE, key), json("outbox message", m)?)?;
        if !m.state.pending() {
            self.outbox.remove(prefixed(PENDING, key))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Staff for SledStore {
    async fn staff_members(&self) -> Result<Vec<StaffRecord>, Error> {
        let mut all: Vec<StaffRecord> = scan(&self.staff, "staff member", &[ACCOUNT])?
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn staff_member(&self, id: Uuid) -> Result<Option<StaffRecord>, Error> {
        get_json(
            &self.staff,
            "staff member",
            &prefixed(ACCOUNT, id.as_bytes()),
        )
    }

    async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRecord>, Error> {
        let Some(id) = self.staff.get(prefixed(EMAIL, email.as_bytes()))? else {
            return Ok(None);
        };
        let id = super::uuid_value("staff e-mail", &id)?;
        self.staff_member(id).await
    }

    async fn insert_staff(&self, member: &StaffRecord) -> Result<(), Error> {
        let ek = prefixed(EMAIL, member.email.as_bytes());
        let ak = prefixed(ACCOUNT, member.id.as_bytes());
        let value = json("staff member", member)?;
        let r = self.staff.transaction(|t| {
            if t.get(&ek)?.is_some() {
                return Err(ConflictableTransactionError::Abort(Error::Refused(
                    format!("{} has an account already", member.email),
                )));
            }
            t.insert(ek.as_slice(), member.id.as_bytes().as_slice())?;
            t.insert(ak.as_slice(), value.as_slice())?;
            Ok(())
        });
        match r {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }

    async fn update_staff(
        &self,
        id: Uuid,
        change: &mut StaffChangeFn<'_>,
    ) -> Result<StaffRecord, Error> {
        let key = prefixed(ACCOUNT, id.as_bytes());
        loop {
            let Some(old) = self.staff.get(&key)? else {
                return Err(Error::Missing(id));
            };
            let mut rec: StaffRecord = from_json("staff member", &old)?;
            let email = rec.email.clone();
            if !change(&mut rec)? {
                return Ok(rec);
            }
            rec.email = email;
            let new = json("staff member", &rec)?;
            if self
                .staff
                .compare_and_swap(&key, Some(old), Some(new))?
                .is_ok()
            {
                return Ok(rec);
            }
        }
    }

    async fn remove_staff(&self, id: Uuid) -> Result<bool, Error> {
        let Some(rec) = self.staff_member(id).await? else {
            return Ok(false);
        };
        self.remove_sessions_of(id).await?;
        for (d, _) in self.personal_tokens(id).await? {
            self.staff.remove(prefixed(TOKEN, &d))?;
        }
        for (k, l) in scan::<StaffLink>(&self.staff, "staff link", &[LINK])? {
            if l.staff == id {
                self.staff.remove(prefixed(LINK, &k))?;
            }
        }
        // The record before its e-mail entry: an entry leading nowhere is ignored.
        self.staff.remove(prefixed(ACCOUNT, id.as_bytes()))?;
        self.staff.remove(prefixed(EMAIL, rec.email.as_bytes()))?;
        Ok(true)
    }

    async fn put_session(&self, digest: &[u8; 32], session: &SessionRecord) -> Result<(), Error> {
        self.staff
            .insert(prefixed(SESSION, digest), json("session", session)?)?;
        Ok(())
    }

    async fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>, Error> {
        get_json(&self.staff, "session", &prefixed(SESSION, digest))
    }

    async fn remove_session(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        Ok(self.staff.remove(prefixed(SESSION, digest))?.is_some())
    }

    async fn touch_session(&self, digest: &[u8; 32], at: OffsetDateTime) -> Result<bool, Error> {
        self.touch::<SessionRecord>(&prefixed(SESSION, digest), "session", |s| {
            s.last_seen = at;
        })
    }

    async fn remove_sessions_of(&self, staff: Uuid) -> Result<usize, Error> {
        self.sweep_sessions(&|s| s.staff != staff).await
    }

    async fn sweep_sessions(
        &self,
        keep: &(dyn for<'r> Fn(&'r SessionRecord) -> bool + Sync),
    ) -> Result<usize, Error> {
        let mut n = 0;
        for (k, s) in scan::<SessionRecord>(&self.staff, "session", &[SESSION])? {
            if !keep(&s) {
                self.staff.remove(prefixed(SESSION, &k))?;
                n += 1;
            }
        }
        Ok(n)
    }

    async fn put_personal_token(&self, digest: &[u8; 32], t: &PersonalToken) -> Result<(), Error> {
        self.staff
            .insert(prefixed(TOKEN, digest), json("personal token", t)?)?;
        Ok(())
    }

    async fn personal_token(&self, digest: &[u8; 32]) -> Result<Option<PersonalToken>, Error> {
        get_json(&self.staff, "personal token", &prefixed(TOKEN, digest))
    }

    async fn personal_tokens(&self, staff: Uuid) -> Result<Vec<([u8; 32], PersonalToken)>, Error> {
        let mut out = Vec::new();
        for (k, t) in scan::<PersonalToken>(&self.staff, "personal token", &[TOKEN])? {
            if t.staff == staff {
                out.push((digest_of(&k)?, t));
            }
        }
        out.sort_by_key(|t| t.1.created_at);
        Ok(out)
    }

    async fn remove_personal_token(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        Ok(self.staff.remove(prefixed(TOKEN, digest))?.is_some())
    }

    async fn touch_personal_token(
        &self,
        digest: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.touch::<PersonalToken>(&prefixed(TOKEN, digest), "personal token", |t| {
            t.last_used_at = Some(at);
        })
    }

    async fn put_staff_link(&self, link: &StaffLink) -> Result<(), Error> {
        self.staff.insert(
            prefixed(LINK, link.id.as_bytes()),
            json("staff link", link)?,
        )?;
        Ok(())
    }

    async fn staff_link(&self, id: Uuid) -> Result<Option<StaffLink>, Error> {
        get_json(&self.staff, "staff link", &prefixed(LINK, id.as_bytes()))
    }

    async fn use_staff_link(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, Error> {
        let key = prefixed(LINK, id.as_bytes());
        loop {
            let Some(old) = self.staff.get(&key)? else {
                return Ok(false);
            };
            let mut link: StaffLink = from_json("staff link", &old)?;
            if link.used_at.is_some() {
                return Ok(false);
            }
            link.used_at = Some(at);
            let new = json("staff link", &link)?;
            if self
                .staff
                .compare_and_swap(&key, Some(old), Some(new))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    async fn expire_staff_links(&self, staff: Uuid, at: OffsetDateTime) -> Result<usize, Error> {
        let mut n = 0;
        for (k, l) in scan::<StaffLink>(&self.staff, "staff link", &[LINK])? {
            if l.staff == staff && l.used_at.is_none() {
                let id = Uuid::from_slice(&k)
                    .map_err(|e| Error::Corrupt("staff link".into(), e.to_string()))?;
                if self.use_staff_link(id, at).await? {
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    async fn security_settings(&self) -> Result<SecuritySettings, Error> {
        Ok(get_json(&self.staff, "security settings", SECURITY)?.unwrap_or_default())
    }

    async fn put_security_settings(&self, s: &SecuritySettings) -> Result<(), Error> {
        self.staff.insert(SECURITY, json("security settings", s)?)?;
        Ok(())
    }
}

#[async_trait]
impl AuditLog for SledStore {
    async fn append_audit(&self, record: &mut AuditRecord) -> Result<(), Error> {
        record.seq = self.db.generate_id()?;
        self.audit_log
            .insert(record.seq.to_be_bytes(), json("audit record", record)?)?;
        Ok(())
    }

    async fn audit_log(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<Vec<AuditRecord>, Error> {
        let upper = cursor.unwrap_or(u64::MAX);
        let mut out = Vec::new();
        for item in self.audit_log.range(..upper.to_be_bytes()).rev() {
            let (_, v) = item?;
            let r: AuditRecord = from_json("audit record", &v)?;
            // Newest first: past `since`, nothing older can match.
            if filter.since.is_some_and(|s| r.at < s) {
                break;
            }
            if filter.matches(&r) {
                out.push(r);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Outbox for SledStore {
    async fn enqueue(&self, message: &OutboxMessage) -> Result<bool, Error> {
        let key = prefixed(MESSAGE, message.key.as_bytes());
        let value = json("outbox message", message)?;
        // Claim the key first; the index entries follow (written again, harmlessly).
        if self
            .outbox
            .compare_and_swap(&key, None as Option<&[u8]>, Some(value))?
            .is_err()
        {
            return Ok(false);
        }
        self.write_message(message)?;
        Ok(true)
    }

    async fn message(&self, key: &str) -> Result<Option<OutboxMessage>, Error> {
        get_json(
            &self.outbox,
            "outbox message",
            &prefixed(MESSAGE, key.as_bytes()),
        )
    }

    async fn put_message(&self, message: &OutboxMessage) -> Result<(), Error> {
        self.write_message(message)
    }

    async fn pending_messages(&self) -> Result<Vec<OutboxMessage>, Error> {
        let mut out = Vec::new();
        for item in self.outbox.scan_prefix([PENDING]) {
            let (k, _) = item?;
            if let Some(m) = self.message_at(&k[1..])?
                && m.state.pending()
            {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    async fn award_messages(&self, award: Uuid) -> Result<Vec<OutboxMessage>, Error> {
        let prefix = prefixed(BY_AWARD, award.as_bytes());
        let mut out = Vec::new();
        for item in self.outbox.scan_prefix(&prefix) {
            let (k, _) = item?;
            if let Some(m) = self.message_at(&k[prefix.len()..])? {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    async fn mailed_awards(&self) -> Result<Vec<Uuid>, Error> {
        let mut out: Vec<Uuid> = Vec::new();
        let suffix = b"/award";
        for item in self.outbox.scan_prefix([BY_AWARD]) {
            let (k, _) = item?;
            if k.len() > 17 && k.ends_with(suffix) {
                out.push(super::uuid_value("outbox award", &k[1..17])?);
            }
        }
        Ok(out)
    }

    async fn set_opt_out(&self, award: Uuid, out: bool) -> Result<(), Error> {
        let k = prefixed(OPT_OUT, award.as_bytes());
        if out {
            self.outbox.insert(k, &[1u8])?;
        } else {
            self.outbox.remove(k)?;
        }
        Ok(())
    }

    async fn opted_out(&self, award: Uuid) -> Result<bool, Error> {
        Ok(self
            .outbox
            .get(prefixed(OPT_OUT, award.as_bytes()))?
            .is_some())
    }

    async fn template(&self, kind: TemplateKind) -> Result<Option<MailTemplate>, Error> {
        get_json(
            &self.outbox,
            "mail template",
            &prefixed(TEMPLATE, kind.as_str().as_bytes()),
        )
    }

    async fn put_template(
        &self,
        kind: TemplateKind,
        template: Option<&MailTemplate>,
    ) -> Result<(), Error> {
        let k = prefixed(TEMPLATE, kind.as_str().as_bytes());
        match template {
            Some(t) => {
                self.outbox.insert(k, json("mail template", t)?)?;
            }
            None => {
                self.outbox.remove(k)?;
            }
        }
        Ok(())
    }

    async fn mail_settings(&self) -> Result<MailSettings, Error> {
        Ok(get_json(&self.outbox, "mail settings", MAIL_SETTINGS)?.unwrap_or_default())
    }

    async fn put_mail_settings(&self, s: &MailSettings) -> Result<(), Error> {
        self.outbox
            .insert(MAIL_SETTINGS, json("mail settings", s)?)?;
        Ok(())
    }
}

impl SledStore {
    /// Changes a JSON record in `staff` only while it exists (compare-and-swap).
    fn touch<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &str,
        change: impl Fn(&mut T),
    ) -> Result<bool, Error> {
        loop {
            let Some(old) = self.staff.get(key)? else {
                return Ok(false);
            };
            let mut rec: T = from_json(what, &old)?;
            change(&mut rec);
            let new = json(what, &rec)?;
            if self
                .staff
                .compare_and_swap(key, Some(old), Some(new))?
                .is_ok()
            {
                return Ok(true);
            }
        }
    }

    fn message_at(&self, key: &[u8]) -> Result<Option<OutboxMessage>, Error> {
        get_json(&self.outbox, "outbox message", &prefixed(MESSAGE, key))
    }
}
