//! The wallet, presentation, registry, catalogue, earner, staff, audit and outbox
//! repositories in PostgreSQL.

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{PgStore, from_json, handle_cols, json, secs};
use crate::images::ImageFormat;
use crate::records::partner::PartnerKeyRecord;
use crate::records::presentation::{PresentationRequest, State};
use crate::records::trust::{Entry as TrustEntry, IssuerId};
use crate::records::{
    AuditRecord, BadgeType, CodeEntry, EarnerRecord, Handle, MailSettings, MailTemplate,
    OutboxMessage, PersonalToken, Placement, SecuritySettings, SessionRecord, StaffLink,
    StaffRecord, StoredImage, TemplateKind, TokenGrant, Visibility, WalletHandle,
};
use crate::store::{
    AuditFilter, AuditLog, Catalogue, Earners, Error, Images, Nonces, Offers, Outbox, PartnerKeys,
    PresentationRequests, RequestSummary, Staff, StaffChangeFn, Tokens, TrustRegistry, codec,
};

fn body(r: &Row) -> Result<Vec<u8>, Error> {
    Ok(r.try_get::<_, Vec<u8>>("body")?)
}

fn each<T: serde::de::DeserializeOwned>(what: &str, rows: &[Row]) -> Result<Vec<T>, Error> {
    rows.iter().map(|r| from_json(what, &body(r)?)).collect()
}

fn one<T: serde::de::DeserializeOwned>(what: &str, row: Option<Row>) -> Result<Option<T>, Error> {
    row.map(|r| from_json(what, &body(&r)?)).transpose()
}

fn time_of(what: &str, s: i64) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(s)
        .map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

#[async_trait]
impl Offers for PgStore {
    async fn award_for(&self, handle: &WalletHandle) -> Result<Option<Uuid>, Error> {
        let (kind, value) = handle_cols(handle);
        let row = self
            .query_opt(
                "SELECT award FROM handles WHERE kind = $1 AND value = $2",
                &[&kind, &value],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn link(&self, handle: &WalletHandle, award: Uuid) -> Result<(), Error> {
        let (kind, value) = handle_cols(handle);
        self.execute(
            "INSERT INTO handles (kind, value, award) VALUES ($1, $2, $3)
                 ON CONFLICT (kind, value) DO UPDATE SET award = EXCLUDED.award, failures = 0",
            &[&kind, &value, &award],
        )
        .await?;
        Ok(())
    }

    async fn unlink(&self, handle: &WalletHandle) -> Result<(), Error> {
        let (kind, value) = handle_cols(handle);
        self.execute(
            "DELETE FROM handles WHERE kind = $1 AND value = $2",
            &[&kind, &value],
        )
        .await?;
        Ok(())
    }

    async fn code(&self, code: &str) -> Result<Option<CodeEntry>, Error> {
        let row = self
            .query_opt(
                "SELECT award, failures FROM handles WHERE kind = 'c' AND value = $1",
                &[&code],
            )
            .await?;
        row.map(|r| {
            Ok(CodeEntry {
                award: r.try_get(0)?,
                failures: r.try_get::<_, i16>(1)?.clamp(0, 255) as u8,
            })
        })
        .transpose()
    }

    async fn count_wrong_tx_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error> {
        let n = self
            .execute(
                "UPDATE handles SET failures = failures + 1
                 WHERE kind = 'c' AND value = $1 AND award = $2 AND failures = $3",
                &[&code, &seen.award, &i16::from(seen.failures)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn spend_code(&self, code: &str, seen: CodeEntry) -> Result<bool, Error> {
        let n = self.execute(
                "DELETE FROM handles WHERE kind = 'c' AND value = $1 AND award = $2 AND failures = $3",
                &[&code, &seen.award, &i16::from(seen.failures)],
            )
            .await?;
        Ok(n == 1)
    }
}

#[async_trait]
impl Tokens for PgStore {
    async fn put_token(&self, digest: &[u8; 32], grant: &TokenGrant) -> Result<(), Error> {
        self.execute(
                "INSERT INTO tokens (digest, expires_at, body) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at, body = EXCLUDED.body",
                &[&digest.as_slice(), &secs(grant.expires_at), &codec::token(grant)],
            )
            .await?;
        Ok(())
    }

    async fn token(&self, digest: &[u8; 32]) -> Result<Option<TokenGrant>, Error> {
        let row = self
            .query_opt(
                "SELECT body FROM tokens WHERE digest = $1",
                &[&digest.as_slice()],
            )
            .await?;
        row.map(|r| codec::read_token(&body(&r)?)).transpose()
    }

    async fn take_token(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        let n = self
            .execute(
                "DELETE FROM tokens WHERE digest = $1",
                &[&digest.as_slice()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn sweep_tokens(&self, now: OffsetDateTime) -> Result<usize, Error> {
        let n = self
            .execute("DELETE FROM tokens WHERE expires_at < $1", &[&secs(now)])
            .await?;
        Ok(n as usize)
    }
}

#[async_trait]
impl Nonces for PgStore {
    async fn put_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<(), Error> {
        self.execute(
            "INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2)
                 ON CONFLICT (nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at",
            &[&nonce, &secs(expires_at)],
        )
        .await?;
        Ok(())
    }

    async fn take_nonce(&self, nonce: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let row = self
            .query_opt(
                "DELETE FROM nonces WHERE nonce = $1 RETURNING expires_at",
                &[&nonce],
            )
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<_, i64>(0)? >= secs(now),
            None => false,
        })
    }

    async fn spend_nonce(&self, nonce: &str, expires_at: OffsetDateTime) -> Result<bool, Error> {
        let n = self
            .execute(
                "INSERT INTO nonces (nonce, expires_at) VALUES ($1, $2) ON CONFLICT (nonce) DO NOTHING",
                &[&nonce, &secs(expires_at)],
            )
            .await?;
        Ok(n == 1)
    }

    async fn sweep_nonces(&self, now: OffsetDateTime) -> Result<usize, Error> {
        let n = self
            .execute("DELETE FROM nonces WHERE expires_at < $1", &[&secs(now)])
            .await?;
        Ok(n as usize)
    }
}

fn summary(r: &Row) -> Result<RequestSummary, Error> {
    Ok(RequestSummary {
        id: r.try_get("id")?,
        tx: r.try_get("tx")?,
        expires_at: time_of("presentation request", r.try_get("expires_at")?)?,
        answered_at: r
            .try_get::<_, Option<i64>>("answered_at")?
            .map(|s| time_of("presentation request", s))
            .transpose()?,
        created_by: r.try_get("created_by")?,
    })
}

#[async_trait]
impl PresentationRequests for PgStore {
    async fn insert_request(&self, request: &PresentationRequest) -> Result<(), Error> {
        self.execute(
            "INSERT INTO presentation_requests
                    (id, tx, pending, expires_at, answered_at, created_by, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &request.id,
                &request.tx,
                &(request.status == State::Pending),
                &secs(request.expires_at),
                &request.answered_at.map(secs),
                &request.created_by,
                &json("presentation request", request)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn request(&self, id: Uuid) -> Result<Option<PresentationRequest>, Error> {
        self.record(
            "presentation request",
            "SELECT body FROM presentation_requests WHERE id = $1",
            &[&id],
        )
        .await
    }

    async fn request_for_tx(&self, tx: &str) -> Result<Option<Uuid>, Error> {
        let row = self
            .query_opt("SELECT id FROM presentation_requests WHERE tx = $1", &[&tx])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn decide(&self, decided: &PresentationRequest) -> Result<bool, Error> {
        let n = self
            .execute(
                "UPDATE presentation_requests
                 SET pending = $2, answered_at = $3, body = $4
                 WHERE id = $1 AND pending",
                &[
                    &decided.id,
                    &(decided.status == State::Pending),
                    &decided.answered_at.map(secs),
                    &json("presentation request", decided)?,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn sweep_requests(
        &self,
        expired: &(dyn for<'r> Fn(&'r RequestSummary) -> bool + Sync),
    ) -> Result<Vec<RequestSummary>, Error> {
        let c = self.c().await?;
        let rows = c
            .query(
                "SELECT id, tx, expires_at, answered_at, created_by FROM presentation_requests",
                &[],
            )
            .await?;
        let mut gone = Vec::new();
        for r in &rows {
            let s = summary(r)?;
            if expired(&s) {
                gone.push(s);
            }
        }
        let ids: Vec<Uuid> = gone.iter().map(|s| s.id).collect();
        let removed: Vec<Uuid> = c
            .query(
                "DELETE FROM presentation_requests WHERE id = ANY($1) RETURNING id",
                &[&ids],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        gone.retain(|s| removed.contains(&s.id));
        Ok(gone)
    }

    async fn request_summaries(&self) -> Result<Vec<RequestSummary>, Error> {
        let rows = self
            .query(
                "SELECT id, tx, expires_at, answered_at, created_by FROM presentation_requests",
                &[],
            )
            .await?;
        rows.iter().map(summary).collect()
    }
}

#[async_trait]
impl TrustRegistry for PgStore {
    async fn trust_entries(&self) -> Result<Vec<TrustEntry>, Error> {
        let rows = self
            .query("SELECT id, body FROM trust_entries ORDER BY id", &[])
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let key: String = r.try_get("id")?;
            let e: TrustEntry = from_json(&format!("trust registry entry {key}"), &body(r)?)?;
            if e.id.as_str() != key {
                return Err(Error::Corrupt(
                    format!("trust registry entry {key}"),
                    format!("it names {}", e.id),
                ));
            }
            out.push(e);
        }
        Ok(out)
    }

    async fn put_trust_entry(&self, entry: &TrustEntry) -> Result<(), Error> {
        self.execute(
            "INSERT INTO trust_entries (id, body) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
            &[&entry.id.as_str(), &json("trust registry entry", entry)?],
        )
        .await?;
        Ok(())
    }

    async fn remove_trust_entry(&self, id: &IssuerId) -> Result<bool, Error> {
        let n = self
            .execute("DELETE FROM trust_entries WHERE id = $1", &[&id.as_str()])
            .await?;
        Ok(n == 1)
    }
}

#[async_trait]
impl PartnerKeys for PgStore {
    async fn partner_keys(&self) -> Result<Vec<PartnerKeyRecord>, Error> {
        let rows = self
            .query("SELECT body FROM partner_keys ORDER BY id", &[])
            .await?;
        each("partner key", &rows)
    }

    async fn put_partner_key(&self, key: &PartnerKeyRecord) -> Result<(), Error> {
        self.change_partner_key(&key.id, |stored| {
            let mut next = key.clone();
            if let Some(s) = stored {
                next.usage = s.usage;
            }
            Some(next)
        })
        .await
        .map(|_| ())
    }

    async fn add_partner_usage(
        &self,
        id: &str,
        delta: &crate::records::partner::Usage,
    ) -> Result<Option<crate::records::partner::Usage>, Error> {
        let after = self
            .change_partner_key(id, |stored| {
                stored.map(|mut s| {
                    s.usage = s.usage.plus(delta);
                    s
                })
            })
            .await?;
        Ok(after.map(|r| r.usage))
    }
}

impl PgStore {
    /// Replaces a partner key's record with what `f` makes of it (`None`: leave it),
    /// in one transaction holding the row; the record as it then stands.
    async fn change_partner_key(
        &self,
        id: &str,
        f: impl FnOnce(Option<PartnerKeyRecord>) -> Option<PartnerKeyRecord>,
    ) -> Result<Option<PartnerKeyRecord>, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        // Two first writers of one new key: the second waits on the first's row.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('partner_keys:' || $1))",
            &[&id],
        )
        .await?;
        let row = tx
            .query_opt(
                "SELECT body FROM partner_keys WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?;
        let stored: Option<PartnerKeyRecord> = row
            .map(|r| from_json("partner key", &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()?;
        let Some(next) = f(stored) else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO partner_keys (id, body) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
            &[&id, &json("partner key", &next)?],
        )
        .await?;
        tx.commit().await?;
        Ok(Some(next))
    }
}

#[async_trait]
impl Catalogue for PgStore {
    async fn badge_types(&self) -> Result<Vec<BadgeType>, Error> {
        let rows = self.query("SELECT body FROM badge_types", &[]).await?;
        let mut out: Vec<BadgeType> = each("badge type", &rows)?;
        out.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    async fn badge_type(&self, id: &str) -> Result<Option<BadgeType>, Error> {
        self.record(
            "badge type",
            "SELECT body FROM badge_types WHERE id = $1",
            &[&id],
        )
        .await
    }

    async fn put_badge_type(&self, t: &BadgeType) -> Result<(), Error> {
        self.execute(
            "INSERT INTO badge_types (id, body) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
            &[&t.id, &json("badge type", t)?],
        )
        .await?;
        Ok(())
    }

    async fn remove_badge_type(&self, id: &str) -> Result<bool, Error> {
        let n = self
            .execute("DELETE FROM badge_types WHERE id = $1", &[&id])
            .await?;
        Ok(n == 1)
    }

    async fn placements(&self) -> Result<Vec<(Uuid, Placement)>, Error> {
        let rows = self
            .query("SELECT achievement, body FROM placements", &[])
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, from_json("placement", &body(r)?)?)))
            .collect()
    }

    async fn placement(&self, achievement: Uuid) -> Result<Option<Placement>, Error> {
        self.record(
            "placement",
            "SELECT body FROM placements WHERE achievement = $1",
            &[&achievement],
        )
        .await
    }

    async fn put_placement(&self, achievement: Uuid, p: &Placement) -> Result<(), Error> {
        self.execute(
            "INSERT INTO placements (achievement, body) VALUES ($1, $2)
                 ON CONFLICT (achievement) DO UPDATE SET body = EXCLUDED.body",
            &[&achievement, &json("placement", p)?],
        )
        .await?;
        Ok(())
    }

    async fn visibility(&self, award: Uuid) -> Result<Option<Visibility>, Error> {
        let row = self
            .query_opt("SELECT hidden FROM visibility WHERE award = $1", &[&award])
            .await?;
        row.map(|r| {
            Ok(if r.try_get::<_, bool>(0)? {
                Visibility::Hidden
            } else {
                Visibility::Public
            })
        })
        .transpose()
    }

    async fn set_visibility(&self, award: Uuid, v: Visibility) -> Result<(), Error> {
        self.execute(
            "INSERT INTO visibility (award, hidden) VALUES ($1, $2)
                 ON CONFLICT (award) DO UPDATE SET hidden = EXCLUDED.hidden",
            &[&award, &(v == Visibility::Hidden)],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Images for PgStore {
    async fn put_image(&self, image: &StoredImage) -> Result<(), Error> {
        let format = match image.format {
            ImageFormat::Png => "png",
            ImageFormat::Svg => "svg",
        };
        self.execute(
            "INSERT INTO images (digest, format, width, height, bytes) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (digest) DO NOTHING",
            &[
                &image.digest,
                &format,
                &(image.width as i32),
                &(image.height as i32),
                &image.bytes,
            ],
        )
        .await?;
        Ok(())
    }

    async fn image(&self, digest: &str) -> Result<Option<StoredImage>, Error> {
        let row = self
            .query_opt(
                "SELECT format, width, height, bytes FROM images WHERE digest = $1",
                &[&digest],
            )
            .await?;
        row.map(|r| {
            let format = match r.try_get::<_, String>(0)?.as_str() {
                "png" => ImageFormat::Png,
                "svg" => ImageFormat::Svg,
                other => {
                    return Err(Error::Corrupt(
                        format!("image {digest}"),
                        format!("format {other}"),
                    ));
                }
            };
            Ok(StoredImage {
                digest: digest.to_owned(),
                format,
                width: r.try_get::<_, i32>(1)? as u32,
                height: r.try_get::<_, i32>(2)? as u32,
                bytes: r.try_get(3)?,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl Earners for PgStore {
    async fn earner(&self, identity: &str) -> Result<Option<EarnerRecord>, Error> {
        self.record(
            "earner",
            "SELECT body FROM earners WHERE identity = $1",
            &[&identity],
        )
        .await
    }

    async fn earner_by_handle(&self, handle: &Handle) -> Result<Option<EarnerRecord>, Error> {
        self.record(
            "earner",
            "SELECT body FROM earners WHERE handle = $1",
            &[&handle.as_str()],
        )
        .await
    }

    async fn put_earner(&self, earner: &EarnerRecord) -> Result<(), Error> {
        let handle = earner.handle.as_ref().map(|h| h.as_str().to_owned());
        let r = self
            .c()
            .await?
            .execute(
                "INSERT INTO earners (identity, handle, body) VALUES ($1, $2, $3)
                 ON CONFLICT (identity) DO UPDATE SET handle = EXCLUDED.handle, body = EXCLUDED.body",
                &[&earner.identity, &handle, &json("earner", earner)?],
            )
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
                Err(Error::Refused(format!(
                    "the profile name {:?} is taken",
                    handle.unwrap_or_default()
                )))
            }
            Err(e) => Err(e.into()),
        }
    }
}

async fn setting<T: serde::de::DeserializeOwned>(
    s: &PgStore,
    what: &str,
    key: &str,
) -> Result<Option<T>, Error> {
    let row = s
        .c()
        .await?
        .query_opt("SELECT body FROM settings WHERE key = $1", &[&key])
        .await?;
    one(what, row)
}

async fn put_setting<T: serde::Serialize>(
    s: &PgStore,
    what: &str,
    key: &str,
    value: &T,
) -> Result<(), Error> {
    s.c()
        .await?
        .execute(
            "INSERT INTO settings (key, body) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
            &[&key, &json(what, value)?],
        )
        .await?;
    Ok(())
}

#[async_trait]
impl Staff for PgStore {
    async fn staff_members(&self) -> Result<Vec<StaffRecord>, Error> {
        let rows = self.query("SELECT body FROM staff", &[]).await?;
        let mut all: Vec<StaffRecord> = each("staff member", &rows)?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn staff_member(&self, id: Uuid) -> Result<Option<StaffRecord>, Error> {
        self.record(
            "staff member",
            "SELECT body FROM staff WHERE id = $1",
            &[&id],
        )
        .await
    }

    async fn staff_by_email(&self, email: &str) -> Result<Option<StaffRecord>, Error> {
        self.record(
            "staff member",
            "SELECT body FROM staff WHERE email = $1",
            &[&email],
        )
        .await
    }

    async fn insert_staff(&self, member: &StaffRecord) -> Result<(), Error> {
        let n = self
            .execute(
                "INSERT INTO staff (id, email, created_at, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[
                    &member.id,
                    &member.email,
                    &secs(member.created_at),
                    &json("staff member", member)?,
                ],
            )
            .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(Error::Refused(format!(
                "{} has an account already",
                member.email
            )))
        }
    }

    async fn update_staff(
        &self,
        id: Uuid,
        change: &mut StaffChangeFn<'_>,
    ) -> Result<StaffRecord, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt("SELECT body FROM staff WHERE id = $1 FOR UPDATE", &[&id])
            .await?
            .ok_or(Error::Missing(id))?;
        let mut rec: StaffRecord = from_json("staff member", &body(&row)?)?;
        let email = rec.email.clone();
        if !change(&mut rec)? {
            return Ok(rec);
        }
        rec.email = email;
        tx.execute(
            "UPDATE staff SET body = $2 WHERE id = $1",
            &[&id, &json("staff member", &rec)?],
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }

    async fn remove_staff(&self, id: Uuid) -> Result<bool, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        tx.execute("DELETE FROM staff_sessions WHERE staff = $1", &[&id])
            .await?;
        tx.execute("DELETE FROM personal_tokens WHERE staff = $1", &[&id])
            .await?;
        tx.execute("DELETE FROM staff_links WHERE staff = $1", &[&id])
            .await?;
        let n = tx
            .execute("DELETE FROM staff WHERE id = $1", &[&id])
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn put_session(&self, digest: &[u8; 32], session: &SessionRecord) -> Result<(), Error> {
        self.execute(
            "INSERT INTO staff_sessions (digest, staff, body) VALUES ($1, $2, $3)
                 ON CONFLICT (digest) DO UPDATE SET staff = EXCLUDED.staff, body = EXCLUDED.body",
            &[
                &digest.as_slice(),
                &session.staff,
                &json("session", session)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn session(&self, digest: &[u8; 32]) -> Result<Option<SessionRecord>, Error> {
        self.record(
            "session",
            "SELECT body FROM staff_sessions WHERE digest = $1",
            &[&digest.as_slice()],
        )
        .await
    }

    async fn remove_session(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        let n = self
            .execute(
                "DELETE FROM staff_sessions WHERE digest = $1",
                &[&digest.as_slice()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn touch_session(&self, digest: &[u8; 32], at: OffsetDateTime) -> Result<bool, Error> {
        self.touch(
            "staff_sessions",
            "session",
            digest,
            |s: &mut SessionRecord| {
                s.last_seen = at;
            },
        )
        .await
    }

    async fn remove_sessions_of(&self, staff: Uuid) -> Result<usize, Error> {
        let n = self
            .execute("DELETE FROM staff_sessions WHERE staff = $1", &[&staff])
            .await?;
        Ok(n as usize)
    }

    async fn sweep_sessions(
        &self,
        keep: &(dyn for<'r> Fn(&'r SessionRecord) -> bool + Sync),
    ) -> Result<usize, Error> {
        let c = self.c().await?;
        let rows = c
            .query("SELECT digest, body FROM staff_sessions", &[])
            .await?;
        let mut drop: Vec<Vec<u8>> = Vec::new();
        for r in &rows {
            let s: SessionRecord = from_json("session", &body(r)?)?;
            if !keep(&s) {
                drop.push(r.try_get("digest")?);
            }
        }
        let n = c
            .execute(
                "DELETE FROM staff_sessions WHERE digest = ANY($1)",
                &[&drop],
            )
            .await?;
        Ok(n as usize)
    }

    async fn put_personal_token(&self, digest: &[u8; 32], t: &PersonalToken) -> Result<(), Error> {
        self.execute(
            "INSERT INTO personal_tokens (digest, staff, created_at, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (digest) DO UPDATE SET staff = EXCLUDED.staff, body = EXCLUDED.body",
            &[
                &digest.as_slice(),
                &t.staff,
                &secs(t.created_at),
                &json("personal token", t)?,
            ],
        )
        .await?;
        Ok(())
    }

    async fn personal_token(&self, digest: &[u8; 32]) -> Result<Option<PersonalToken>, Error> {
        self.record(
            "personal token",
            "SELECT body FROM personal_tokens WHERE digest = $1",
            &[&digest.as_slice()],
        )
        .await
    }

    async fn personal_tokens(&self, staff: Uuid) -> Result<Vec<([u8; 32], PersonalToken)>, Error> {
        let rows = self
            .query(
                "SELECT digest, body FROM personal_tokens WHERE staff = $1",
                &[&staff],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let d: Vec<u8> = r.try_get("digest")?;
            let d: [u8; 32] = d
                .as_slice()
                .try_into()
                .map_err(|_| Error::Corrupt("personal token".into(), hex::encode(&d)))?;
            out.push((d, from_json("personal token", &body(r)?)?));
        }
        out.sort_by_key(|t: &([u8; 32], PersonalToken)| t.1.created_at);
        Ok(out)
    }

    async fn remove_personal_token(&self, digest: &[u8; 32]) -> Result<bool, Error> {
        let n = self
            .execute(
                "DELETE FROM personal_tokens WHERE digest = $1",
                &[&digest.as_slice()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn touch_personal_token(
        &self,
        digest: &[u8; 32],
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        self.touch(
            "personal_tokens",
            "personal token",
            digest,
            |t: &mut PersonalToken| {
                t.last_used_at = Some(at);
            },
        )
        .await
    }

    async fn put_staff_link(&self, link: &StaffLink) -> Result<(), Error> {
        self.execute(
                "INSERT INTO staff_links (id, staff, used, body) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO UPDATE SET staff = EXCLUDED.staff, used = EXCLUDED.used, body = EXCLUDED.body",
                &[
                    &link.id,
                    &link.staff,
                    &link.used_at.is_some(),
                    &json("staff link", link)?,
                ],
            )
            .await?;
        Ok(())
    }

    async fn staff_link(&self, id: Uuid) -> Result<Option<StaffLink>, Error> {
        self.record(
            "staff link",
            "SELECT body FROM staff_links WHERE id = $1",
            &[&id],
        )
        .await
    }

    async fn use_staff_link(&self, id: Uuid, at: OffsetDateTime) -> Result<bool, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT body FROM staff_links WHERE id = $1 AND NOT used FOR UPDATE",
                &[&id],
            )
            .await?
        else {
            return Ok(false);
        };
        let mut link: StaffLink = from_json("staff link", &body(&row)?)?;
        if link.used_at.is_some() {
            return Ok(false);
        }
        link.used_at = Some(at);
        tx.execute(
            "UPDATE staff_links SET used = true, body = $2 WHERE id = $1",
            &[&id, &json("staff link", &link)?],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn expire_staff_links(&self, staff: Uuid, at: OffsetDateTime) -> Result<usize, Error> {
        let ids: Vec<Uuid> = self
            .query(
                "SELECT id FROM staff_links WHERE staff = $1 AND NOT used",
                &[&staff],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        let mut n = 0;
        for id in ids {
            if self.use_staff_link(id, at).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn security_settings(&self) -> Result<SecuritySettings, Error> {
        Ok(setting(self, "security settings", "security")
            .await?
            .unwrap_or_default())
    }

    async fn put_security_settings(&self, s: &SecuritySettings) -> Result<(), Error> {
        put_setting(self, "security settings", "security", s).await
    }
}

impl PgStore {
    /// Changes a JSON record of `table` (keyed by `digest`) only while it exists.
    async fn touch<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        table: &str,
        what: &str,
        digest: &[u8; 32],
        change: impl FnOnce(&mut T) + Send,
    ) -> Result<bool, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let Some(row) = tx
            .query_opt(
                &format!("SELECT body FROM {table} WHERE digest = $1 FOR UPDATE"),
                &[&digest.as_slice()],
            )
            .await?
        else {
            return Ok(false);
        };
        let mut rec: T = from_json(what, &body(&row)?)?;
        change(&mut rec);
        tx.execute(
            &format!("UPDATE {table} SET body = $2 WHERE digest = $1"),
            &[&digest.as_slice(), &json(what, &rec)?],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// How many audit entries a page read fetches at a time.
const AUDIT_BATCH: i64 = 500;

#[async_trait]
impl AuditLog for PgStore {
    async fn append_audit(&self, record: &mut AuditRecord) -> Result<(), Error> {
        let c = self.c().await?;
        let seq: i64 = c
            .query_one("SELECT nextval('audit_seq')", &[])
            .await?
            .try_get(0)?;
        record.seq = seq as u64;
        c.execute(
            "INSERT INTO audit_log (seq, at, body) VALUES ($1, $2, $3)",
            &[&seq, &secs(record.at), &json("audit record", record)?],
        )
        .await?;
        Ok(())
    }

    async fn audit_log(
        &self,
        filter: &AuditFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<Vec<AuditRecord>, Error> {
        let c = self.c().await?;
        let mut upper = cursor.map_or(i64::MAX, |c| c.min(i64::MAX as u64) as i64);
        let since = filter.since.map_or(i64::MIN, |s| secs(s) - 1);
        let mut out = Vec::new();
        loop {
            let rows = c
                .query(
                    "SELECT seq, body FROM audit_log WHERE seq < $1 AND at >= $2
                     ORDER BY seq DESC LIMIT $3",
                    &[&upper, &since, &AUDIT_BATCH],
                )
                .await?;
            for r in &rows {
                upper = r.try_get("seq")?;
                let rec: AuditRecord = from_json("audit record", &body(r)?)?;
                if filter.matches(&rec) {
                    out.push(rec);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            if (rows.len() as i64) < AUDIT_BATCH {
                return Ok(out);
            }
        }
    }
}

/// Writes (or replaces) an outbox message through `c` (a transaction or not).
pub(super) async fn put_message_in(
    c: &impl deadpool_postgres::GenericClient,
    m: &OutboxMessage,
) -> Result<(), Error> {
    c.execute(
        "INSERT INTO outbox (key, award, pending, award_mail, created_at, body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (key) DO UPDATE SET award = EXCLUDED.award, pending = EXCLUDED.pending,
             award_mail = EXCLUDED.award_mail, body = EXCLUDED.body",
        &[
            &m.key,
            &m.award,
            &m.state.pending(),
            &(m.award.is_some() && m.key.ends_with("/award")),
            &secs(m.created_at),
            &json("outbox message", m)?,
        ],
    )
    .await?;
    Ok(())
}

fn sorted(mut v: Vec<OutboxMessage>) -> Vec<OutboxMessage> {
    v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
    v
}

#[async_trait]
impl Outbox for PgStore {
    async fn enqueue(&self, m: &OutboxMessage) -> Result<bool, Error> {
        let n = self
            .execute(
                "INSERT INTO outbox (key, award, pending, award_mail, created_at, body)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key) DO NOTHING",
                &[
                    &m.key,
                    &m.award,
                    &m.state.pending(),
                    &(m.award.is_some() && m.key.ends_with("/award")),
                    &secs(m.created_at),
                    &json("outbox message", m)?,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    async fn message(&self, key: &str) -> Result<Option<OutboxMessage>, Error> {
        self.record(
            "outbox message",
            "SELECT body FROM outbox WHERE key = $1",
            &[&key],
        )
        .await
    }

    async fn put_message(&self, message: &OutboxMessage) -> Result<(), Error> {
        let c = self.c().await?;
        put_message_in(&c, message).await
    }

    async fn pending_messages(&self) -> Result<Vec<OutboxMessage>, Error> {
        let rows = self
            .query("SELECT body FROM outbox WHERE pending", &[])
            .await?;
        let all: Vec<OutboxMessage> = each("outbox message", &rows)?;
        Ok(sorted(
            all.into_iter().filter(|m| m.state.pending()).collect(),
        ))
    }

    async fn award_messages(&self, award: Uuid) -> Result<Vec<OutboxMessage>, Error> {
        let rows = self
            .query("SELECT body FROM outbox WHERE award = $1", &[&award])
            .await?;
        Ok(sorted(each("outbox message", &rows)?))
    }

    async fn mailed_awards(&self) -> Result<Vec<Uuid>, Error> {
        let rows = self
            .query(
                "SELECT DISTINCT award FROM outbox WHERE award_mail AND award IS NOT NULL",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }

    async fn set_opt_out(&self, award: Uuid, out: bool) -> Result<(), Error> {
        let c = self.c().await?;
        if out {
            c.execute(
                "INSERT INTO opt_outs (award) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&award],
            )
            .await?;
        } else {
            c.execute("DELETE FROM opt_outs WHERE award = $1", &[&award])
                .await?;
        }
        Ok(())
    }

    async fn opted_out(&self, award: Uuid) -> Result<bool, Error> {
        Ok(self
            .query_opt("SELECT 1 FROM opt_outs WHERE award = $1", &[&award])
            .await?
            .is_some())
    }

    async fn template(&self, kind: TemplateKind) -> Result<Option<MailTemplate>, Error> {
        setting(
            self,
            "mail template",
            &format!("template/{}", kind.as_str()),
        )
        .await
    }

    async fn put_template(
        &self,
        kind: TemplateKind,
        template: Option<&MailTemplate>,
    ) -> Result<(), Error> {
        let key = format!("template/{}", kind.as_str());
        match template {
            Some(t) => put_setting(self, "mail template", &key, t).await,
            None => {
                self.execute("DELETE FROM settings WHERE key = $1", &[&key])
                    .await?;
                Ok(())
            }
        }
    }

    async fn mail_settings(&self) -> Result<MailSettings, Error> {
        Ok(setting(self, "mail settings", "mail")
            .await?
            .unwrap_or_default())
    }

    async fn put_mail_settings(&self, s: &MailSettings) -> Result<(), Error> {
        put_setting(self, "mail settings", "mail", s).await
    }
}
