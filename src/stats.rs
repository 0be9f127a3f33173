//! Figures for the staff console's dashboard that no record holds: how many
//! credentials were verified, by day.
//!
//! The verifier counts in memory ([`crate::verify::Verifier::tally`]); [`Tally::persist`]
//! adds what was counted to the day's counter in the store (every few seconds while
//! serving, and at shutdown), so a crash loses at most the last few seconds' count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::SharedClock;
use crate::store::{self, Counters};

/// The counter of verified credentials.
pub const VERIFICATIONS: &str = "verifications";

/// The day an instant falls on: days since the Unix epoch, UTC.
pub fn day(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp().div_euclid(86_400)
}

#[derive(Clone)]
pub struct Tally {
    pending: Arc<AtomicU64>,
    store: Arc<dyn Counters>,
    clock: SharedClock,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally")
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Tally {
    pub fn new(pending: Arc<AtomicU64>, store: Arc<dyn Counters>, clock: SharedClock) -> Self {
        Self {
            pending,
            store,
            clock,
        }
    }

    /// Adds what was counted since the last call to today's counter.
    pub async fn persist(&self) -> Result<(), store::Error> {
        let n = self.pending.swap(0, Ordering::Relaxed);
        if n == 0 {
            return Ok(());
        }
        let today = day(self.clock.now());
        if let Err(e) = self.store.add_count(VERIFICATIONS, today, n).await {
            // Counted again next time.
            self.pending.fetch_add(n, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }

    /// Credentials verified over the last `days` days (today included), counting
    /// what is not saved yet.
    pub async fn verifications(&self, days: i64) -> Result<u64, store::Error> {
        let today = day(self.clock.now());
        let saved = self
            .store
            .count(VERIFICATIONS, today - days + 1, today)
            .await?;
        Ok(saved + self.pending.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn counts_are_kept_by_day_and_summed_over_a_week() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::Store::open(dir.path()).expect("store");
        let clock = Arc::new(FixedClock::at(1_767_225_600));
        let pending = Arc::new(AtomicU64::new(0));
        let t = Tally::new(pending.clone(), store.counters.clone(), clock.clone());
        pending.fetch_add(3, Ordering::Relaxed);
        t.persist().await.expect("persist");
        assert_eq!(pending.load(Ordering::Relaxed), 0);
        // Eight days later, the first day is outside the week.
        clock.set(1_767_225_600 + 8 * 86_400);
        pending.fetch_add(2, Ordering::Relaxed);
        assert_eq!(t.verifications(7).await.expect("count"), 2);
        t.persist().await.expect("persist");
        assert_eq!(t.verifications(7).await.expect("count"), 2);
        assert_eq!(t.verifications(9).await.expect("count"), 5);
    }
}
