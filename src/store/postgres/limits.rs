//! The limits a fleet shares (migration 0002): token buckets taken from by one
//! function call each (`accolade_take`), and
//! sign-in throttles changed under a row lock.

use async_trait::async_trait;

use super::PgStore;
use crate::store::{Error, SharedLimits, ThrottleChangeFn, ThrottleRecord, TokenAsk, TokensTaken};

/// A bucket not touched for this long is full again whatever its rate (the largest
/// burst is a few thousand requests at one or more a second), and can go.
const BUCKET_IDLE_SECONDS: f64 = 3600.0;

/// A throttle nobody failed for a day counts from zero again.
const THROTTLE_MEMORY_SECONDS: i64 = 86_400;

#[async_trait]
impl SharedLimits for PgStore {
    async fn take_tokens(
        &self,
        key: &str,
        now: f64,
        rate: f64,
        burst: f64,
        ask: TokenAsk,
    ) -> Result<TokensTaken, Error> {
        let r = self
            .query_one(
                "SELECT taken, wait FROM accolade_take($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &key,
                    &now,
                    &rate,
                    &burst,
                    &ask.least,
                    &ask.most,
                    &ask.credit,
                ],
            )
            .await?;
        Ok(TokensTaken {
            taken: r.try_get("taken")?,
            wait: r.try_get("wait")?,
        })
    }

    async fn throttle(&self, key: &str) -> Result<Option<ThrottleRecord>, Error> {
        let row = self
            .query_opt(
                "SELECT count, until, last FROM throttles WHERE key = $1",
                &[&key],
            )
            .await?;
        row.map(|r| record(&r)).transpose()
    }

    async fn change_throttle(
        &self,
        key: &str,
        change: &mut ThrottleChangeFn<'_>,
    ) -> Result<(), Error> {
        let mut c = self.c().await?;
        let tx = c.transaction().await?;
        // A placeholder row first, so that the lock below holds even for a key nobody
        // failed under yet (two nodes' first failures then count as two).
        tx.execute(
            "INSERT INTO throttles (key, count, until, last) VALUES ($1, 0, 0, 0)
             ON CONFLICT (key) DO NOTHING",
            &[&key],
        )
        .await?;
        let row = tx
            .query_one(
                "SELECT count, until, last FROM throttles WHERE key = $1 FOR UPDATE",
                &[&key],
            )
            .await?;
        let before = Some(record(&row)?).filter(|r| r.count > 0 || r.until > 0);
        match change(before) {
            Some(after) => {
                tx.execute(
                    "UPDATE throttles SET count = $2, until = $3, last = $4 WHERE key = $1",
                    &[
                        &key,
                        &i32::try_from(after.count).unwrap_or(i32::MAX),
                        &after.until,
                        &after.last,
                    ],
                )
                .await?;
            }
            None => {
                tx.execute("DELETE FROM throttles WHERE key = $1", &[&key])
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn sweep_limits(&self, now: i64) -> Result<usize, Error> {
        let buckets = self
            .execute(
                "DELETE FROM rate_buckets WHERE at < $1::float8 - $2::float8",
                &[&(now as f64), &BUCKET_IDLE_SECONDS],
            )
            .await?;
        let throttles = self
            .execute(
                "DELETE FROM throttles WHERE until <= $1::bigint AND last < $1::bigint - $2::bigint",
                &[&now, &THROTTLE_MEMORY_SECONDS],
            )
            .await?;
        Ok((buckets + throttles) as usize)
    }
}

fn record(r: &tokio_postgres::Row) -> Result<ThrottleRecord, Error> {
    let count: i32 = r.try_get("count")?;
    Ok(ThrottleRecord {
        count: count.max(0) as u32,
        until: r.try_get("until")?,
        last: r.try_get("last")?,
    })
}
