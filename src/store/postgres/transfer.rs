//! Export and import of a PostgreSQL store (`store::transfer` has the archive).
//!
//! A dump reads one snapshot (a `REPEATABLE READ`, read-only transaction), so nodes
//! may keep working while it runs; big tables are read through a portal, a page at a
//! time. A restore writes each batch in one transaction; awards and their events take
//! fresh listing positions from the sequences, in the archive's order.

use async_trait::async_trait;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{PgStore, award_of, from_json, insert_award_row, json, purpose_of, purpose_tag, secs};
use crate::images::ImageFormat;
use crate::records::{TemplateKind, Visibility};
use crate::store::transfer::{Record, Sink, Transfer};
use crate::store::{Error, codec};

/// Rows fetched per round trip in a dump.
const PAGE: i32 = 1000;

/// Runs `sql` in the snapshot and hands every row to `each`, a page at a time.
async fn rows<'a>(
    tx: &deadpool_postgres::Transaction<'a>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    sink: &mut (dyn Sink + '_),
    each: impl Fn(&Row) -> Result<Option<Record>, Error>,
) -> Result<(), Error> {
    let portal = tx.bind(sql, params).await?;
    loop {
        let page = tx.query_portal(&portal, PAGE).await?;
        for r in &page {
            if let Some(rec) = each(r)? {
                sink.put(rec).await?;
            }
        }
        if page.len() < PAGE as usize {
            return Ok(());
        }
    }
}

fn u32_of(what: &str, v: i32) -> Result<u32, Error> {
    u32::try_from(v).map_err(|_| Error::Corrupt(what.into(), format!("{v} is negative")))
}

fn digest_of(what: &str, v: Vec<u8>) -> Result<[u8; 32], Error> {
    v.try_into()
        .map_err(|_| Error::Corrupt(what.into(), "a digest is 32 bytes".into()))
}

#[async_trait]
impl Transfer for PgStore {
    fn engine(&self) -> &'static str {
        "postgresql"
    }

    async fn holds_nothing(&self) -> Result<bool, Error> {
        let r = self
            .query_one(
                "SELECT NOT EXISTS (SELECT 1 FROM meta WHERE key = 'issuer_profile')
                    AND NOT EXISTS (SELECT 1 FROM achievements)
                    AND NOT EXISTS (SELECT 1 FROM awards)
                    AND NOT EXISTS (SELECT 1 FROM status_slots)
                    AND NOT EXISTS (SELECT 1 FROM staff)
                    AND NOT EXISTS (SELECT 1 FROM audit_log)",
                &[],
            )
            .await?;
        Ok(r.try_get(0)?)
    }

    async fn dump(&self, sink: &mut (dyn Sink + '_)) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let body = |r: &Row| -> Result<Vec<u8>, Error> { Ok(r.try_get("body")?) };
        rows(
            &tx,
            "SELECT body FROM meta WHERE key = 'issuer_profile'",
            &[],
            sink,
            |r| {
                Ok(Some(Record::IssuerProfile(from_json(
                    "issuer profile",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM achievements ORDER BY key",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Achievement(from_json(
                    "achievement",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT key, revision, body FROM achievement_revisions ORDER BY key, revision",
            &[],
            sink,
            |r| {
                let revision: i64 = r.try_get("revision")?;
                Ok(Some(Record::Revision {
                    key: r.try_get("key")?,
                    revision: u32::try_from(revision).map_err(|_| {
                        Error::Corrupt("achievement revision".into(), revision.to_string())
                    })?,
                    achievement: from_json("achievement revision", &body(r)?)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM badge_types ORDER BY id",
            &[],
            sink,
            |r| Ok(Some(Record::BadgeType(from_json("badge type", &body(r)?)?))),
        )
        .await?;
        rows(
            &tx,
            "SELECT achievement, body FROM placements ORDER BY achievement",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Placement {
                    achievement: r.try_get("achievement")?,
                    placement: from_json("placement", &body(r)?)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT digest, format, width, height, bytes FROM images ORDER BY digest",
            &[],
            sink,
            |r| {
                let format: String = r.try_get("format")?;
                Ok(Some(Record::Image {
                    digest: r.try_get("digest")?,
                    format: match format.as_str() {
                        "png" => ImageFormat::Png,
                        "svg" => ImageFormat::Svg,
                        other => return Err(Error::Corrupt("image".into(), other.to_owned())),
                    },
                    width: u32_of("image width", r.try_get("width")?)?,
                    height: u32_of("image height", r.try_get("height")?)?,
                    bytes: r.try_get("bytes")?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM trust_entries ORDER BY id",
            &[],
            sink,
            |r| {
                Ok(Some(Record::TrustEntry(from_json(
                    "trust entry",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM partner_keys ORDER BY id",
            &[],
            sink,
            |r| {
                Ok(Some(Record::PartnerKey(from_json(
                    "partner key",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM earners ORDER BY identity",
            &[],
            sink,
            |r| Ok(Some(Record::Earner(from_json("earner", &body(r)?)?))),
        )
        .await?;
        rows(&tx, "SELECT body FROM staff ORDER BY id", &[], sink, |r| {
            Ok(Some(Record::Staff(from_json("staff member", &body(r)?)?)))
        })
        .await?;
        rows(
            &tx,
            "SELECT digest, body FROM staff_sessions ORDER BY digest",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Session {
                    digest: digest_of("session", r.try_get("digest")?)?,
                    session: from_json("session", &body(r)?)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT digest, body FROM personal_tokens ORDER BY digest",
            &[],
            sink,
            |r| {
                Ok(Some(Record::PersonalToken {
                    digest: digest_of("personal token", r.try_get("digest")?)?,
                    token: from_json("personal token", &body(r)?)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM staff_links ORDER BY id",
            &[],
            sink,
            |r| Ok(Some(Record::StaffLink(from_json("staff link", &body(r)?)?))),
        )
        .await?;
        rows(
            &tx,
            "SELECT key, body FROM settings ORDER BY key",
            &[],
            sink,
            |r| {
                let key: String = r.try_get("key")?;
                let b = body(r)?;
                Ok(match key.as_str() {
                    "security" => Some(Record::SecuritySettings(from_json(
                        "security settings",
                        &b,
                    )?)),
                    "mail" => Some(Record::MailSettings(from_json("mail settings", &b)?)),
                    k => match k.strip_prefix("template/").and_then(|t| {
                        TemplateKind::ALL
                            .into_iter()
                            .find(|kind| kind.as_str() == t)
                    }) {
                        Some(kind) => Some(Record::MailTemplate {
                            kind,
                            template: from_json("mail template", &b)?,
                        }),
                        None => {
                            return Err(Error::Corrupt(
                                "settings".into(),
                                format!("unknown setting {k:?}"),
                            ));
                        }
                    },
                })
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT name, day, n FROM counters ORDER BY name, day",
            &[],
            sink,
            |r| {
                let n: i64 = r.try_get("n")?;
                Ok(Some(Record::Counter {
                    name: r.try_get("name")?,
                    day: r.try_get("day")?,
                    n: n.max(0) as u64,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM presentation_requests ORDER BY id",
            &[],
            sink,
            |r| {
                Ok(Some(Record::PresentationRequest(from_json(
                    "presentation request",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT nonce, expires_at FROM nonces ORDER BY nonce",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Nonce {
                    nonce: r.try_get("nonce")?,
                    expires_at: r.try_get("expires_at")?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT digest, body FROM tokens ORDER BY digest",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Token {
                    digest: digest_of("token", r.try_get("digest")?)?,
                    grant: body(r)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT seq, body FROM awards ORDER BY seq",
            &[],
            sink,
            |r| {
                Ok(Some(Record::award(&award_of(
                    r.try_get("seq")?,
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT copy, award FROM award_copies ORDER BY copy",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Copy {
                    copy: r.try_get("copy")?,
                    award: r.try_get("award")?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT award, body FROM award_events ORDER BY award, seq",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Event {
                    award: r.try_get("award")?,
                    body: body(r)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT kind, value, award, failures FROM handles ORDER BY kind, value",
            &[],
            sink,
            |r| {
                let failures: i16 = r.try_get("failures")?;
                Ok(Some(Record::Handle {
                    kind: r.try_get("kind")?,
                    value: r.try_get("value")?,
                    award: r.try_get("award")?,
                    failures: u8::try_from(failures).unwrap_or(u8::MAX),
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT award, hidden FROM visibility ORDER BY award",
            &[],
            sink,
            |r| {
                let hidden: bool = r.try_get("hidden")?;
                Ok(Some(Record::Visibility {
                    award: r.try_get("award")?,
                    visibility: if hidden {
                        Visibility::Hidden
                    } else {
                        Visibility::Public
                    },
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM outbox ORDER BY key",
            &[],
            sink,
            |r| {
                Ok(Some(Record::OutboxMessage(from_json(
                    "outbox message",
                    &body(r)?,
                )?)))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT award FROM opt_outs ORDER BY award",
            &[],
            sink,
            |r| {
                let award: Uuid = r.try_get("award")?;
                Ok(Some(Record::OptOut { award }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT list, idx, award, reserved_at IS NOT NULL AS reserved
               FROM status_slots ORDER BY list, idx",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Slot {
                    list: u32_of("status slot", r.try_get("list")?)?,
                    index: u32_of("status slot", r.try_get("idx")?)?,
                    award: r.try_get("award")?,
                    reserved: r.try_get("reserved")?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT purpose, list, idx FROM status_bits ORDER BY purpose, list, idx",
            &[],
            sink,
            |r| {
                Ok(Some(Record::Bit {
                    purpose: purpose_of(r.try_get("purpose")?)?,
                    list: u32_of("status bit", r.try_get("list")?)?,
                    index: u32_of("status bit", r.try_get("idx")?)?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT purpose, list, digest, jwt FROM signed_lists ORDER BY purpose, list",
            &[],
            sink,
            |r| {
                Ok(Some(Record::SignedList {
                    purpose: purpose_of(r.try_get("purpose")?)?,
                    list: u32_of("signed list", r.try_get("list")?)?,
                    digest: r.try_get("digest")?,
                    jwt: r.try_get("jwt")?,
                }))
            },
        )
        .await?;
        rows(
            &tx,
            "SELECT body FROM audit_log ORDER BY seq",
            &[],
            sink,
            |r| Ok(Some(Record::audit(from_json("audit record", &body(r)?)?))),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn restore(&self, records: &[Record]) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        for r in records {
            match r {
                Record::Achievement(rec) => {
                    tx.execute(
                        "INSERT INTO achievements (key, created_at, body) VALUES ($1, $2, $3)",
                        &[&rec.key, &secs(rec.created_at), &json("achievement", rec)?],
                    )
                    .await?;
                }
                Record::Revision {
                    key,
                    revision,
                    achievement,
                } => {
                    tx.execute(
                        "INSERT INTO achievement_revisions (key, revision, body) VALUES ($1, $2, $3)",
                        &[
                            key,
                            &i64::from(*revision),
                            &json("achievement revision", achievement)?,
                        ],
                    )
                    .await?;
                }
                Record::Award { body } => {
                    insert_award_row(&tx, &codec::read_award(body)?).await?;
                }
                Record::Copy { copy, award } => {
                    tx.execute(
                        "INSERT INTO award_copies (copy, award) VALUES ($1, $2)",
                        &[copy, award],
                    )
                    .await?;
                }
                Record::Event { award, body } => {
                    codec::read_audit(body)?;
                    tx.execute(
                        "INSERT INTO award_events (award, seq, body)
                         VALUES ($1, nextval('event_seq'), $2)",
                        &[award, body],
                    )
                    .await?;
                }
                Record::Handle {
                    kind,
                    value,
                    award,
                    failures,
                } => {
                    crate::store::transfer::handle_of(kind, value.clone())?;
                    tx.execute(
                        "INSERT INTO handles (kind, value, award, failures) VALUES ($1, $2, $3, $4)",
                        &[kind, value, award, &i16::from(*failures)],
                    )
                    .await?;
                }
                Record::Slot {
                    list,
                    index,
                    award,
                    reserved,
                } => {
                    tx.execute(
                        "INSERT INTO status_slots (list, idx, award, reserved_at)
                         VALUES ($1, $2, $3, CASE WHEN $4 THEN extract(epoch FROM now())::bigint END)",
                        &[&(*list as i32), &(*index as i32), award, reserved],
                    )
                    .await?;
                }
                Record::Bit {
                    purpose,
                    list,
                    index,
                } => {
                    tx.execute(
                        "INSERT INTO status_bits (purpose, list, idx) VALUES ($1, $2, $3)",
                        &[&purpose_tag(*purpose), &(*list as i32), &(*index as i32)],
                    )
                    .await?;
                }
                Record::SignedList {
                    purpose,
                    list,
                    digest,
                    jwt,
                } => {
                    tx.execute(
                        "INSERT INTO signed_lists (purpose, list, digest, jwt) VALUES ($1, $2, $3, $4)",
                        &[&purpose_tag(*purpose), &(*list as i32), digest, jwt],
                    )
                    .await?;
                }
                other => {
                    return Err(Error::Task(format!(
                        "a {} record goes through the repositories",
                        other.kind()
                    )));
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }
}
