//! The repositories in PostgreSQL (tested on 15): one database shared by any number
//! of `accolade serve` processes, a fleet acting as one service.
//!
//! # Tables
//! `migrations/` holds the schema, applied in order at start (or by `accolade
//! migrate`) under an advisory lock, so that nodes starting together apply each
//! migration once. Migrations only ever add (expand); a later release drops what no
//! running version reads any more (contract), so that old and new nodes run side by
//! side through a rolling upgrade. `accolade_schema` records what was applied; a node
//! finding migrations newer than it knows runs on (the newer schema is a superset).
//!
//! Records are kept as the embedded store keeps them (JSON, or the compact award
//! encoding of `codec.rs`) in a `body` column, with the columns that queries filter on
//! beside them. Times in columns are Unix seconds.
//!
//! # The rules of `store`, across processes
//! - **Durability**: a write is durable when its statement (or transaction) commits,
//!   so [`Durable::flush`] has nothing to do.
//! - **One method, one atomic unit**: a transaction, with the rows it changes locked
//!   (`SELECT ... FOR UPDATE`), so a change function runs once.
//! - **Single use**: codes, nonces, tokens and presentation answers are spent by one
//!   `DELETE` or conditional `UPDATE`; of any number of nodes, one sees the row go.
//! - **Status slots**: the primary key `(list, idx)` of `status_slots` refuses a slot
//!   given out before, whichever node gave it.
//! - **Word of changes**: triggers `NOTIFY` the channel `accolade:<schema>` when a
//!   slot is given out, a status bit changes, an award changes, or the profile,
//!   achievements, registry, partner keys, catalogue or settings do; every node
//!   listens ([`Fleet::changes`]) and drops or updates what it caches. A node that
//!   loses its listening connection reconnects and tells its caches that anything may
//!   have changed ([`Change::All`]).
//! - **Limits** (migration 2, `limits.rs`): request budgets are token buckets in
//!   `rate_buckets`, each take one call of `accolade_take` (the row locked from
//!   refill to take); sign-in throttles are rows of `throttles`, changed under
//!   `SELECT ... FOR UPDATE`.
//! - **Moving data** (`transfer.rs`): an export reads one `REPEATABLE READ` snapshot.

mod limits;
mod repos;
mod tls;
mod transfer;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient as _, Manager, ManagerConfig, Pool, RecyclingMethod};
use time::OffsetDateTime;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::codec;
use super::{
    AchievementChange, Achievements, Award, AwardChangeFn, AwardCounts, AwardFilter, AwardPage,
    AwardStanding, Awards, Change, Counters, Durable, Error, Fleet, HandleOp, IssuerProfiles,
    StatusLists, StatusState,
};
use crate::model::Achievement;
use crate::records::profile::IssuerProfile;
use crate::records::{AchievementRecord, AchievementRef, AuditEvent, AwardState, OutboxMessage};
use crate::status::{SignedList, StatusPurpose, StatusSlot};

pub use tls::{SslMode, describe};

/// The migrations, in order: version, name, SQL.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (
        2,
        "shared limits",
        include_str!("migrations/0002_limits.sql"),
    ),
];

/// The first key of the advisory lock migrations take (the second is the schema's).
const MIGRATION_LOCK: i32 = 0x0acc_01ad;

/// Connections a node keeps to the database at most.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        backend(explained(&e))
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        backend(explained(&e))
    }
}

/// An error with its causes, outermost first ("error performing TLS handshake:
/// invalid peer certificate: UnknownIssuer"), each said once.
fn explained(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn backend(msg: String) -> Error {
    Error::Backend(msg.into())
}

fn json<T: serde::Serialize>(what: &str, v: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(v).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(what.to_owned(), e.to_string()))
}

fn secs(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

fn purpose_tag(p: StatusPurpose) -> i16 {
    match p {
        StatusPurpose::Revocation => 0,
        StatusPurpose::Suspension => 1,
    }
}

fn purpose_of(tag: i16) -> Result<StatusPurpose, Error> {
    match tag {
        0 => Ok(StatusPurpose::Revocation),
        1 => Ok(StatusPurpose::Suspension),
        other => Err(Error::Corrupt(
            "status bit".into(),
            format!("purpose {other}"),
        )),
    }
}

/// A slot's list and index as the columns hold them.
fn slot_cols(s: StatusSlot) -> (i32, i32) {
    (s.list as i32, s.index as i32)
}

fn slot_of(list: i32, idx: i32) -> StatusSlot {
    StatusSlot {
        list: list as u32,
        index: idx as u32,
    }
}

/// The columns of an award queries filter on.
struct AwardCols {
    email: Option<String>,
    recipient_id: Option<String>,
    name_words: Vec<String>,
    offered: bool,
    revoked: bool,
    suspended: bool,
    valid_until: Option<i64>,
    body: Vec<u8>,
}

fn award_cols(a: &Award) -> AwardCols {
    AwardCols {
        email: a.recipient.email.clone(),
        recipient_id: a.recipient.id.clone(),
        name_words: super::name_words(a.recipient.name.as_deref().unwrap_or("")),
        offered: a.state == AwardState::Offered,
        revoked: a.revoked,
        suspended: a.suspended,
        valid_until: a.valid_until.map(secs),
        body: codec::award(a),
    }
}

/// An award read back: its body, with the listing position the row holds.
fn award_of(seq: i64, body: &[u8]) -> Result<Award, Error> {
    let mut a = codec::read_award(body)?;
    a.seq = seq as u64;
    Ok(a)
}

/// The store.
pub struct PgStore {
    pool: Pool,
    changes: broadcast::Sender<Change>,
    /// Every change since the store was opened, for the first to ask.
    first: std::sync::Mutex<Option<broadcast::Receiver<Change>>>,
    listener: tokio::task::AbortHandle,
    /// Migrations this connection applied (for the start-up message).
    applied: Vec<i32>,
    reads: AtomicU64,
    flushes: AtomicU64,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// What connecting found and did.
#[derive(Debug, Clone)]
pub struct Connected {
    /// Migrations applied now.
    pub applied: Vec<i32>,
    /// The newest migration the database has.
    pub version: i32,
}

impl PgStore {
    /// Connects (pooled) to the database at `url`, applies the migrations it lacks
    /// and starts listening for changes.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let (config, tls) = tls::parse(url)?;
        let mgr = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(mgr)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| backend(format!("the connection pool: {e}")))?;
        let (applied, _) = {
            let mut c = pool.get().await?;
            migrate(&mut c).await?
        };
        let schema: String = pool
            .get()
            .await?
            .query_one("SELECT current_schema()", &[])
            .await?
            .try_get(0)?;
        // The first receiver exists before the listener does, so that whoever takes it
        // (the node's follower) sees every change from the moment this store was
        // opened, before any cache was filled from it.
        let (changes, first) = broadcast::channel(8192);
        let (ready, listening) = tokio::sync::oneshot::channel();
        let listener =
            tokio::spawn(listen(config, tls, schema, changes.clone(), ready)).abort_handle();
        match tokio::time::timeout(std::time::Duration::from_secs(15), listening).await {
            Ok(Ok(())) => {}
            _ => {
                listener.abort();
                return Err(backend(
                    "could not LISTEN for the changes of other nodes within 15 s".into(),
                ));
            }
        }
        Ok(Self {
            pool,
            changes,
            first: std::sync::Mutex::new(Some(first)),
            listener,
            applied,
            reads: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
        })
    }

    /// The migrations this connection applied.
    pub fn applied(&self) -> &[i32] {
        &self.applied
    }

    /// One statement on a pooled connection: its rows.
    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, Error> {
        Ok(self.c().await?.query(sql, params).await?)
    }

    /// One statement on a pooled connection: its row, if any.
    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, Error> {
        Ok(self.c().await?.query_opt(sql, params).await?)
    }

    /// The record (a JSON body) one statement reads, if any.
    async fn record<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<T>, Error> {
        self.query_opt(sql, params)
            .await?
            .map(|r| from_json(what, &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    /// One statement on a pooled connection: its one row.
    async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, Error> {
        Ok(self.c().await?.query_one(sql, params).await?)
    }

    /// One statement on a pooled connection: how many rows it changed.
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, Error> {
        Ok(self.c().await?.execute(sql, params).await?)
    }

    async fn c(&self) -> Result<deadpool_postgres::Object, Error> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        Ok(self.pool.get().await?)
    }
}

/// Applies the migrations the database lacks, under the advisory lock; returns the
/// versions applied and the newest the database has.
async fn migrate(c: &mut deadpool_postgres::Object) -> Result<(Vec<i32>, i32), Error> {
    c.execute(
        "SELECT pg_advisory_lock($1, hashtext(current_schema()))",
        &[&MIGRATION_LOCK],
    )
    .await?;
    let result = apply_migrations(c).await;
    let unlocked = c
        .execute(
            "SELECT pg_advisory_unlock($1, hashtext(current_schema()))",
            &[&MIGRATION_LOCK],
        )
        .await;
    let out = result?;
    unlocked?;
    Ok(out)
}

async fn apply_migrations(c: &mut deadpool_postgres::Object) -> Result<(Vec<i32>, i32), Error> {
    // "already exists, skipping" is no news at every start.
    c.batch_execute("SET client_min_messages TO warning")
        .await?;
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS accolade_schema (
            version     integer PRIMARY KEY,
            name        text NOT NULL,
            applied_at  timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await?;
    let have: Vec<i32> = c
        .query("SELECT version FROM accolade_schema", &[])
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if have.contains(version) {
            continue;
        }
        let tx = c.transaction().await?;
        tx.batch_execute(sql)
            .await
            .map_err(|e| backend(format!("migration {version} ({name}): {}", db_message(&e))))?;
        tx.execute(
            "INSERT INTO accolade_schema (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version, name, "database migration applied");
        applied.push(*version);
    }
    let newest = have
        .iter()
        .chain(&applied)
        .copied()
        .max()
        .unwrap_or_default();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if newest > known {
        tracing::warn!(
            database = newest,
            known,
            "the database has migrations newer than this version knows (a rolling upgrade in progress?)"
        );
    }
    Ok((applied, newest))
}

/// What the server said, with its detail when there is one.
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

/// Creates the schema `name` (letters, digits and `_` only) in the database at
/// `url`, for tests and benchmarks that want a store of their own.
pub async fn create_schema(url: &str, name: &str) -> Result<(), Error> {
    schema_statement(url, name, "CREATE SCHEMA").await
}

/// Drops the schema `name` and everything in it.
pub async fn drop_schema(url: &str, name: &str) -> Result<(), Error> {
    schema_statement(url, name, "DROP SCHEMA IF EXISTS").await
}

async fn schema_statement(url: &str, name: &str, verb: &str) -> Result<(), Error> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(backend(format!("{name:?} is not a plain schema name")));
    }
    let (config, tls) = tls::parse(url)?;
    let (client, conn) = config.connect(tls).await?;
    let task = tokio::spawn(conn);
    let cascade = if verb.starts_with("DROP") {
        " CASCADE"
    } else {
        ""
    };
    client
        .batch_execute(&format!("{verb} {name}{cascade}"))
        .await?;
    drop(client);
    let _ = task.await;
    Ok(())
}

/// `url` with `schema` first on the search path (the store then lives in it).
pub fn url_in_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{schema}")
}

/// Applies the migrations at `url` and says what it did (`accolade migrate`).
pub async fn migrate_only(url: &str) -> Result<Connected, Error> {
    let (config, tls) = tls::parse(url)?;
    let mgr = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(mgr)
        .max_size(1)
        .build()
        .map_err(|e| backend(format!("the connection pool: {e}")))?;
    let mut c = pool.get().await?;
    let (applied, version) = migrate(&mut c).await?;
    Ok(Connected { applied, version })
}

/// Listens for the notifications of `schema`'s triggers, forwarding them to
/// `changes`; reconnects (after a second) when the connection drops, and then says
/// that anything may have changed.
async fn listen(
    config: tokio_postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    schema: String,
    changes: broadcast::Sender<Change>,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut first = true;
    let mut ready = Some(ready);
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut conn)) => {
                let out = changes.clone();
                let messages = tokio::spawn(async move {
                    while let Some(m) = std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                        match m {
                            Ok(AsyncMessage::Notification(n)) => {
                                if let Some(c) = Change::parse(n.payload()) {
                                    let _ = out.send(c);
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "the database listener failed");
                                break;
                            }
                        }
                    }
                });
                let channel = format!("accolade:{schema}").replace('"', "\"\"");
                match client.batch_execute(&format!("LISTEN \"{channel}\"")).await {
                    Ok(()) => {
                        if !first {
                            let _ = changes.send(Change::All);
                        }
                        first = false;
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                        let _ = messages.await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not listen for changes");
                        messages.abort();
                    }
                }
                drop(client);
            }
            Err(e) => {
                tracing::warn!(error = %e, "the database listener could not connect");
            }
        }
        // Whatever was missed while away is unknown.
        let _ = changes.send(Change::All);
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

#[async_trait]
impl Durable for PgStore {
    /// Every write is durable once its statement commits.
    async fn flush(&self) -> Result<(), Error> {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many times callers asked for durability (each already had it).
    fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }

    async fn ping(&self) -> Result<(), Error> {
        self.c().await?.execute("SELECT 1", &[]).await?;
        Ok(())
    }

    async fn size_on_disk(&self) -> Result<u64, Error> {
        let row = self
            .c()
            .await?
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await?;
        Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or_default())
    }
}

#[async_trait]
impl Fleet for PgStore {
    fn shared(&self) -> bool {
        true
    }

    fn changes(&self) -> Option<broadcast::Receiver<Change>> {
        let mut first = self
            .first
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Some(first.take().unwrap_or_else(|| self.changes.subscribe()))
    }

    async fn lease(&self, name: &str, holder: &str, now: i64, until: i64) -> Result<bool, Error> {
        let rows = self
            .execute(
                "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
                 WHERE leases.holder = EXCLUDED.holder OR leases.until < $4",
                &[&name, &holder, &until, &now],
            )
            .await?;
        Ok(rows == 1)
    }

    async fn shared_value(&self, name: &str, made: &str) -> Result<String, Error> {
        let c = self.c().await?;
        let key = format!("shared/{name}");
        c.execute(
            "INSERT INTO meta (key, body) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            &[&key, &made.as_bytes()],
        )
        .await?;
        let body: Vec<u8> = c
            .query_one("SELECT body FROM meta WHERE key = $1", &[&key])
            .await?
            .try_get(0)?;
        String::from_utf8(body).map_err(|e| Error::Corrupt(key, e.to_string()))
    }

    async fn current_shared_value(&self, name: &str) -> Result<Option<String>, Error> {
        let key = format!("shared/{name}");
        let row = self
            .query_opt("SELECT body FROM meta WHERE key = $1", &[&key])
            .await?;
        row.map(|r| {
            let body: Vec<u8> = r.try_get(0)?;
            String::from_utf8(body).map_err(|e| Error::Corrupt(key.clone(), e.to_string()))
        })
        .transpose()
    }

    async fn replace_shared_value(
        &self,
        name: &str,
        expected: &str,
        new: &str,
    ) -> Result<bool, Error> {
        let key = format!("shared/{name}");
        let n = self
            .execute(
                "UPDATE meta SET body = $3 WHERE key = $1 AND body = $2",
                &[&key, &expected.as_bytes(), &new.as_bytes()],
            )
            .await?;
        Ok(n == 1)
    }
}

#[async_trait]
impl IssuerProfiles for PgStore {
    async fn issuer_profile(&self) -> Result<Option<IssuerProfile>, Error> {
        let row = self
            .query_opt("SELECT body FROM meta WHERE key = 'issuer_profile'", &[])
            .await?;
        row.map(|r| from_json("issuer profile", &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    async fn put_issuer_profile(&self, profile: &IssuerProfile) -> Result<(), Error> {
        self.execute(
            "INSERT INTO meta (key, body) VALUES ('issuer_profile', $1)
                 ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
            &[&json("issuer profile", profile)?],
        )
        .await?;
        Ok(())
    }

    async fn identity(&self) -> Result<Option<crate::records::profile::StoreIdentity>, Error> {
        let row = self
            .query_opt("SELECT body FROM meta WHERE key = 'identity'", &[])
            .await?;
        row.map(|r| from_json("store identity", &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    async fn put_identity(
        &self,
        identity: &crate::records::profile::StoreIdentity,
    ) -> Result<(), Error> {
        self.execute(
            "INSERT INTO meta (key, body) VALUES ('identity', $1)
                 ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
            &[&json("store identity", identity)?],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Achievements for PgStore {
    async fn achievement(&self, key: Uuid) -> Result<Option<AchievementRecord>, Error> {
        let row = self
            .query_opt("SELECT body FROM achievements WHERE key = $1", &[&key])
            .await?;
        row.map(|r| from_json("achievement", &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    async fn achievements(&self) -> Result<Vec<AchievementRecord>, Error> {
        let rows = self.query("SELECT body FROM achievements", &[]).await?;
        let mut out = rows
            .iter()
            .map(|r| from_json::<AchievementRecord>("achievement", &r.try_get::<_, Vec<u8>>(0)?))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.key.cmp(&b.key)));
        Ok(out)
    }

    async fn revision(&self, of: AchievementRef) -> Result<Option<Achievement>, Error> {
        let row = self
            .query_opt(
                "SELECT body FROM achievement_revisions WHERE key = $1 AND revision = $2",
                &[&of.key, &i64::from(of.revision)],
            )
            .await?;
        row.map(|r| from_json("achievement revision", &r.try_get::<_, Vec<u8>>(0)?))
            .transpose()
    }

    async fn insert_achievement(&self, rec: &AchievementRecord) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        tx.execute(
            "INSERT INTO achievement_revisions (key, revision, body) VALUES ($1, $2, $3)
             ON CONFLICT (key, revision) DO UPDATE SET body = EXCLUDED.body",
            &[
                &rec.key,
                &i64::from(rec.revision),
                &json("achievement revision", &rec.achievement)?,
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO achievements (key, created_at, body) VALUES ($1, $2, $3)
             ON CONFLICT (key) DO UPDATE SET body = EXCLUDED.body",
            &[&rec.key, &secs(rec.created_at), &json("achievement", rec)?],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_achievement(
        &self,
        key: Uuid,
        change: &mut AchievementChange<'_>,
    ) -> Result<AchievementRecord, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT body FROM achievements WHERE key = $1 FOR UPDATE",
                &[&key],
            )
            .await?
            .ok_or(Error::Missing(key))?;
        let mut rec: AchievementRecord = from_json("achievement", &row.try_get::<_, Vec<u8>>(0)?)?;
        let revision = rec.revision;
        if !change(&mut rec)? {
            return Ok(rec);
        }
        if rec.revision != revision {
            tx.execute(
                "INSERT INTO achievement_revisions (key, revision, body) VALUES ($1, $2, $3)
                 ON CONFLICT (key, revision) DO UPDATE SET body = EXCLUDED.body",
                &[
                    &key,
                    &i64::from(rec.revision),
                    &json("achievement revision", &rec.achievement)?,
                ],
            )
            .await?;
        }
        tx.execute(
            "UPDATE achievements SET body = $2 WHERE key = $1",
            &[&key, &json("achievement", &rec)?],
        )
        .await?;
        tx.commit().await?;
        Ok(rec)
    }
}

pub(super) fn handle_cols(h: &crate::records::WalletHandle) -> (&'static str, &str) {
    use crate::records::WalletHandle as H;
    match h {
        H::Code(s) => ("c", s),
        H::Offer(s) => ("o", s),
        H::Claim(s) => ("l", s),
        H::Transaction(s) => ("x", s),
        H::Notification(s) => ("m", s),
    }
}

/// Writes outbox messages (within the caller's transaction).
async fn write_messages(
    tx: &impl deadpool_postgres::GenericClient,
    mail: &[OutboxMessage],
) -> Result<(), Error> {
    for m in mail {
        repos::put_message_in(tx, m).await?;
    }
    Ok(())
}

/// Records an award whose slot is settled, with its handles; sets its `seq`.
async fn write_award(
    tx: &impl deadpool_postgres::GenericClient,
    award: &mut Award,
    handles: &[crate::records::WalletHandle],
) -> Result<(), Error> {
    for (kind, value) in handles.iter().map(handle_cols) {
        tx.execute(
            "INSERT INTO handles (kind, value, award) VALUES ($1, $2, $3)
             ON CONFLICT (kind, value) DO UPDATE SET award = EXCLUDED.award, failures = 0",
            &[&kind, &value, &award.id],
        )
        .await?;
    }
    award.seq = insert_award_row(tx, award).await?;
    Ok(())
}

/// Inserts an award's row at the next listing position; returns that position.
pub(super) async fn insert_award_row(
    tx: &impl deadpool_postgres::GenericClient,
    award: &Award,
) -> Result<u64, Error> {
    let cols = award_cols(award);
    let seq: i64 = tx
        .query_one(
            "INSERT INTO awards (id, seq, achievement, email, recipient_id, name_words, offered,
                                 revoked, suspended, valid_until, body)
             VALUES ($1, nextval('award_seq'), $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING seq",
            &[
                &award.id,
                &award.achievement.key,
                &cols.email,
                &cols.recipient_id,
                &cols.name_words,
                &cols.offered,
                &cols.revoked,
                &cols.suspended,
                &cols.valid_until,
                &cols.body,
            ],
        )
        .await?
        .try_get(0)?;
    Ok(seq as u64)
}

/// Takes a slot for `owner` (reserved, or not): refused if it was ever given out.
async fn take_slot(
    tx: &impl deadpool_postgres::GenericClient,
    slot: StatusSlot,
    owner: Uuid,
    reserved: bool,
) -> Result<(), Error> {
    let (list, idx) = slot_cols(slot);
    let taken = tx
        .execute(
            "INSERT INTO status_slots (list, idx, award, reserved_at)
             VALUES ($1, $2, $3, CASE WHEN $4 THEN extract(epoch FROM now())::bigint END)
             ON CONFLICT (list, idx) DO NOTHING",
            &[&list, &idx, &owner, &reserved],
        )
        .await?;
    if taken == 1 {
        Ok(())
    } else {
        Err(Error::SlotTaken {
            list: slot.list,
            index: slot.index,
        })
    }
}

#[async_trait]
impl Awards for PgStore {
    async fn reserve_award(&self, id: Uuid, slot: StatusSlot) -> Result<(), Error> {
        let c = self.c().await?;
        take_slot(&c, slot, id, true).await
    }

    async fn insert_award(
        &self,
        award: &mut Award,
        handles: &[crate::records::WalletHandle],
        mail: &[OutboxMessage],
    ) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        write_messages(&tx, mail).await?;
        if let Some(slot) = award.status {
            take_slot(&tx, slot, award.id, false).await?;
        }
        write_award(&tx, award, handles).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_reserved(&self, award: &mut Award) -> Result<(), Error> {
        let Some(slot) = award.status else {
            return Err(Error::Corrupt(
                format!("award {}", award.id),
                "a reserved award without a status slot".into(),
            ));
        };
        let (list, idx) = slot_cols(slot);
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT award, reserved_at IS NOT NULL FROM status_slots
                 WHERE list = $1 AND idx = $2 FOR UPDATE",
                &[&list, &idx],
            )
            .await?;
        let still_reserved = match row {
            Some(r) => r.try_get::<_, Uuid>(0)? == award.id && r.try_get::<_, bool>(1)?,
            None => false,
        };
        if !still_reserved {
            return Err(Error::SlotTaken {
                list: slot.list,
                index: slot.index,
            });
        }
        // A reserved award is a direct one: no offer, no claim page.
        write_award(&tx, award, &[]).await?;
        tx.execute(
            "UPDATE status_slots SET reserved_at = NULL WHERE list = $1 AND idx = $2",
            &[&list, &idx],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn pending_awards(
        &self,
        older_than: Option<std::time::Duration>,
    ) -> Result<Vec<(Uuid, StatusSlot)>, Error> {
        let age = older_than.map_or(-1, |d| d.as_secs() as i64);
        let rows = self.query(
                "SELECT award, list, idx FROM status_slots
                 WHERE reserved_at IS NOT NULL
                   AND ($1::bigint < 0 OR reserved_at <= extract(epoch FROM now())::bigint - $1::bigint)",
                &[&age],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, slot_of(r.try_get(1)?, r.try_get(2)?))))
            .collect()
    }

    async fn burn_award(
        &self,
        id: Uuid,
        slot: StatusSlot,
        event: &AuditEvent,
    ) -> Result<(), Error> {
        let (list, idx) = slot_cols(slot);
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT award, reserved_at IS NOT NULL FROM status_slots
                 WHERE list = $1 AND idx = $2 FOR UPDATE",
                &[&list, &idx],
            )
            .await?;
        let reserved = match row {
            Some(r) => r.try_get::<_, Uuid>(0)? == id && r.try_get::<_, bool>(1)?,
            None => false,
        };
        if !reserved {
            // Burned (or recorded) already.
            return Ok(());
        }
        tx.execute(
            "INSERT INTO award_events (award, seq, body) VALUES ($1, nextval('event_seq'), $2)",
            &[&id, &codec::audit(event)],
        )
        .await?;
        // An award recorded under this id with another slot is not this reservation's
        // (two issues of one caller-given id raced): it stays.
        let recorded = tx
            .query_opt(
                "SELECT seq, body FROM awards WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?;
        if let Some(r) = recorded {
            let award = award_of(r.try_get(0)?, &r.try_get::<_, Vec<u8>>(1)?)?;
            if award.status == Some(slot) {
                tx.execute("DELETE FROM awards WHERE id = $1", &[&id])
                    .await?;
            }
        }
        // The slot stays the award's for ever.
        tx.execute(
            "UPDATE status_slots SET reserved_at = NULL WHERE list = $1 AND idx = $2",
            &[&list, &idx],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn award(&self, id: Uuid) -> Result<Option<Award>, Error> {
        let row = self
            .query_opt("SELECT seq, body FROM awards WHERE id = $1", &[&id])
            .await?;
        row.map(|r| award_of(r.try_get(0)?, &r.try_get::<_, Vec<u8>>(1)?))
            .transpose()
    }

    async fn award_standing(&self, id: Uuid) -> Result<Option<AwardStanding>, Error> {
        let row = self
            .query_opt(
                "SELECT revoked, suspended FROM awards WHERE id = $1",
                &[&id],
            )
            .await?;
        row.map(|r| {
            Ok(AwardStanding {
                revoked: r.try_get(0)?,
                suspended: r.try_get(1)?,
            })
        })
        .transpose()
    }

    async fn award_of_copy(&self, copy: Uuid) -> Result<Option<Uuid>, Error> {
        let row = self
            .query_opt("SELECT award FROM award_copies WHERE copy = $1", &[&copy])
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn add_copy(&self, award: Uuid, copy: Uuid, slot: StatusSlot) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        take_slot(&tx, slot, award, false).await?;
        tx.execute(
            "INSERT INTO award_copies (copy, award) VALUES ($1, $2)
             ON CONFLICT (copy) DO UPDATE SET award = EXCLUDED.award",
            &[&copy, &award],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn awards(
        &self,
        filter: &AwardFilter,
        limit: usize,
        cursor: Option<u64>,
    ) -> Result<AwardPage, Error> {
        let upper = cursor.map_or(i64::MAX, |c| c.min(i64::MAX as u64) as i64);
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(upper)];
        let mut sql = String::from("SELECT seq, body FROM awards WHERE seq < $1");
        let mut add = |cond: &str, p: Box<dyn ToSql + Sync + Send>| {
            params.push(p);
            sql.push_str(&cond.replace('?', &format!("${}", params.len())));
        };
        if let Some(k) = filter.achievement {
            add(" AND achievement = ?", Box::new(k));
        }
        if let Some(e) = &filter.email {
            add(" AND email = ?", Box::new(e.clone()));
        }
        if let Some(i) = &filter.recipient_id {
            add(" AND recipient_id = ?", Box::new(i.clone()));
        }
        if let Some(s) = filter.state {
            add(" AND offered = ?", Box::new(s == AwardState::Offered));
        }
        if !filter.name_words.is_empty() {
            add(" AND name_words @> ?", Box::new(filter.name_words.clone()));
        }
        if let Some(r) = filter.revoked {
            add(" AND revoked = ?", Box::new(r));
        }
        if let Some(s) = filter.suspended {
            add(" AND suspended = ?", Box::new(s));
        }
        match filter.expired {
            Some((true, now)) => add(
                " AND valid_until IS NOT NULL AND valid_until <= ?",
                Box::new(secs(now)),
            ),
            Some((false, now)) => add(
                " AND (valid_until IS NULL OR valid_until > ?)",
                Box::new(secs(now)),
            ),
            None => {}
        }
        sql.push_str(&format!(
            " ORDER BY seq DESC LIMIT {}",
            limit.saturating_add(1)
        ));
        let refs: Vec<&(dyn ToSql + Sync)> = params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let rows = self.query(&sql, &refs).await?;
        let mut page = AwardPage::default();
        for r in rows {
            let award = award_of(r.try_get(0)?, &r.try_get::<_, Vec<u8>>(1)?)?;
            if !filter.matches(&award) {
                continue;
            }
            if page.awards.len() == limit {
                page.next = page.awards.last().map(|a| a.seq);
                break;
            }
            page.awards.push(award);
        }
        Ok(page)
    }

    async fn update_award(&self, id: Uuid, change: &mut AwardChangeFn<'_>) -> Result<Award, Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        let row = tx
            .query_opt(
                "SELECT seq, body FROM awards WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await?
            .ok_or(Error::Missing(id))?;
        let mut award = award_of(row.try_get(0)?, &row.try_get::<_, Vec<u8>>(1)?)?;
        let ch = change(&mut award)?;
        if !ch.write {
            return Ok(award);
        }
        for op in &ch.handles {
            match op {
                HandleOp::Link(h) => {
                    let (kind, value) = handle_cols(h);
                    tx.execute(
                        "INSERT INTO handles (kind, value, award) VALUES ($1, $2, $3)
                         ON CONFLICT (kind, value) DO UPDATE SET award = EXCLUDED.award, failures = 0",
                        &[&kind, &value, &id],
                    )
                    .await?;
                }
                HandleOp::Unlink(h) => {
                    let (kind, value) = handle_cols(h);
                    tx.execute(
                        "DELETE FROM handles WHERE kind = $1 AND value = $2",
                        &[&kind, &value],
                    )
                    .await?;
                }
                HandleOp::RelinkCode {
                    old,
                    new,
                    max_failures,
                } => {
                    let failures: i16 = match old {
                        Some(o) => tx
                            .query_opt(
                                "DELETE FROM handles WHERE kind = 'c' AND value = $1 RETURNING failures",
                                &[o],
                            )
                            .await?
                            .map(|r| r.try_get(0))
                            .transpose()?
                            .unwrap_or(0),
                        None => 0,
                    };
                    if failures >= i16::from(*max_failures) {
                        return Err(Error::Refused("too many wrong transaction codes".into()));
                    }
                    tx.execute(
                        "INSERT INTO handles (kind, value, award, failures) VALUES ('c', $1, $2, $3)
                         ON CONFLICT (kind, value) DO UPDATE
                         SET award = EXCLUDED.award, failures = EXCLUDED.failures",
                        &[new, &id, &failures],
                    )
                    .await?;
                }
            }
        }
        for b in &ch.bits {
            let (list, idx) = slot_cols(b.slot);
            let p = purpose_tag(b.purpose);
            if b.value {
                tx.execute(
                    "INSERT INTO status_bits (purpose, list, idx) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING",
                    &[&p, &list, &idx],
                )
                .await?;
            } else {
                tx.execute(
                    "DELETE FROM status_bits WHERE purpose = $1 AND list = $2 AND idx = $3",
                    &[&p, &list, &idx],
                )
                .await?;
            }
        }
        if let Some(e) = &ch.audit {
            tx.execute(
                "INSERT INTO award_events (award, seq, body) VALUES ($1, nextval('event_seq'), $2)",
                &[&id, &codec::audit(e)],
            )
            .await?;
        }
        let cols = award_cols(&award);
        tx.execute(
            "UPDATE awards SET achievement = $2, email = $3, recipient_id = $4, name_words = $5,
                offered = $6, revoked = $7, suspended = $8, valid_until = $9, body = $10
             WHERE id = $1",
            &[
                &id,
                &award.achievement.key,
                &cols.email,
                &cols.recipient_id,
                &cols.name_words,
                &cols.offered,
                &cols.revoked,
                &cols.suspended,
                &cols.valid_until,
                &cols.body,
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(award)
    }

    async fn audit_events(&self, id: Uuid) -> Result<Vec<AuditEvent>, Error> {
        let rows = self
            .query(
                "SELECT body FROM award_events WHERE award = $1 ORDER BY seq",
                &[&id],
            )
            .await?;
        rows.iter()
            .map(|r| codec::read_audit(&r.try_get::<_, Vec<u8>>(0)?))
            .collect()
    }

    async fn award_counts(&self) -> Result<AwardCounts, Error> {
        let r = self
            .query_one(
                "SELECT count(*), count(*) FILTER (WHERE offered),
                        count(*) FILTER (WHERE revoked), count(*) FILTER (WHERE suspended)
                 FROM awards",
                &[],
            )
            .await?;
        let n = |i: usize| -> Result<u64, Error> { Ok(r.try_get::<_, i64>(i)? as u64) };
        Ok(AwardCounts {
            total: n(0)?,
            offered: n(1)?,
            revoked: n(2)?,
            suspended: n(3)?,
        })
    }
}

#[async_trait]
impl Counters for PgStore {
    async fn add_count(&self, name: &str, day: i64, n: u64) -> Result<(), Error> {
        self.execute(
            "INSERT INTO counters (name, day, n) VALUES ($1, $2, $3)
                 ON CONFLICT (name, day) DO UPDATE SET n = counters.n + EXCLUDED.n",
            &[&name, &day, &(n.min(i64::MAX as u64) as i64)],
        )
        .await?;
        Ok(())
    }

    async fn count(&self, name: &str, from: i64, to: i64) -> Result<u64, Error> {
        let sum: Option<i64> = self
            .query_one(
                "SELECT sum(n)::bigint FROM counters WHERE name = $1 AND day BETWEEN $2 AND $3",
                &[&name, &from, &to],
            )
            .await?
            .try_get(0)?;
        Ok(sum.unwrap_or(0).max(0) as u64)
    }
}

#[async_trait]
impl StatusLists for PgStore {
    async fn status_state(&self) -> Result<StatusState, Error> {
        let c = self.c().await?;
        let mut state = StatusState::default();
        // Only the newest list's slots: the lists before it are closed.
        let newest: i32 = c
            .query_one("SELECT coalesce(max(list), 0) FROM status_slots", &[])
            .await?
            .try_get(0)?;
        state.closed_lists = u32::try_from(newest.saturating_sub(1)).unwrap_or(0);
        for r in c
            .query(
                "SELECT list, idx FROM status_slots WHERE list = $1",
                &[&newest],
            )
            .await?
        {
            state.slots.push(slot_of(r.try_get(0)?, r.try_get(1)?));
        }
        for r in c
            .query("SELECT purpose, list, idx FROM status_bits", &[])
            .await?
        {
            state.bits.push((
                purpose_of(r.try_get(0)?)?,
                slot_of(r.try_get(1)?, r.try_get(2)?),
            ));
        }
        Ok(state)
    }

    async fn slot_owner(&self, slot: StatusSlot) -> Result<Option<Uuid>, Error> {
        let (list, idx) = slot_cols(slot);
        let row = self
            .query_opt(
                "SELECT award FROM status_slots WHERE list = $1 AND idx = $2",
                &[&list, &idx],
            )
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
    ) -> Result<Option<SignedList>, Error> {
        let row = self
            .query_opt(
                "SELECT digest, jwt FROM signed_lists WHERE purpose = $1 AND list = $2",
                &[&purpose_tag(purpose), &(list as i32)],
            )
            .await?;
        row.map(|r| {
            Ok(SignedList {
                digest: r.try_get(0)?,
                jwt: r.try_get(1)?,
            })
        })
        .transpose()
    }

    async fn put_signed_list(
        &self,
        purpose: StatusPurpose,
        list: u32,
        signed: &SignedList,
    ) -> Result<SignedList, Error> {
        let c = self.c().await?;
        let (p, l) = (purpose_tag(purpose), list as i32);
        // A copy of the same bits kept already (another node signed them first) stays.
        c.execute(
            "INSERT INTO signed_lists (purpose, list, digest, jwt) VALUES ($1, $2, $3, $4)
             ON CONFLICT (purpose, list) DO UPDATE SET digest = EXCLUDED.digest, jwt = EXCLUDED.jwt
             WHERE signed_lists.digest <> EXCLUDED.digest",
            &[&p, &l, &signed.digest, &signed.jwt],
        )
        .await?;
        let standing = c
            .query_opt(
                "SELECT digest, jwt FROM signed_lists WHERE purpose = $1 AND list = $2",
                &[&p, &l],
            )
            .await?;
        Ok(match standing {
            Some(r) if r.try_get::<_, String>(0)? == signed.digest => SignedList {
                digest: signed.digest.clone(),
                jwt: r.try_get(1)?,
            },
            // Another node wrote other bits since: this node's copy is right for its bits.
            _ => signed.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_explained_with_its_causes_each_once() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("error performing TLS handshake")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(std::io::Error::other(
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            explained(&e),
            "error performing TLS handshake: invalid peer certificate: UnknownIssuer"
        );
    }

    #[test]
    fn notifications_parse_as_the_triggers_write_them() {
        let slot = StatusSlot { list: 3, index: 17 };
        assert_eq!(Change::parse("slot:3:17"), Some(Change::Slot(slot)));
        assert_eq!(
            Change::parse("bit:1:3:17:1"),
            Some(Change::Bit {
                purpose: StatusPurpose::Suspension,
                slot,
                value: true
            })
        );
        assert_eq!(
            Change::parse("bit:0:3:17:0"),
            Some(Change::Bit {
                purpose: StatusPurpose::Revocation,
                slot,
                value: false
            })
        );
        let id = Uuid::new_v4();
        assert_eq!(
            Change::parse(&format!("award:{id}")),
            Some(Change::Award(id))
        );
        assert_eq!(Change::parse("trust"), Some(Change::Trust));
        assert_eq!(Change::parse("bit:7:1:1:1"), None);
        assert_eq!(Change::parse("slot:x:1"), None);
        assert_eq!(Change::parse("nonsense"), None);
    }

    #[test]
    fn migrations_are_numbered_in_order_from_one() {
        for (i, (v, _, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v as usize, i + 1);
        }
    }
}
