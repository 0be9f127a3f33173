//! Request budgets a fleet shares: the per-address limit, partner keys' limits and the
//! anonymous presentation-request limit hold for the fleet as a whole, not per node.
//!
//! Every bucket lives in the shared store ([`SharedLimits::take_tokens`], refilled by
//! the service's clock: nodes keep their clocks in step, as they must for tokens and
//! badges anyway). A node draws a bucket's tokens in chunks of an eighth of
//! its burst and spends them locally for up to a second, so a busy client costs the
//! database one call per chunk, not one per request. Tokens only ever come out of the
//! shared bucket, so the fleet never admits more than the budget; what a node drew
//! and did not spend within the second is lost to the client (at most an eighth of a
//! burst per node and second).
//!
//! When the database cannot be reached, requests are admitted (a limiter must not be
//! what takes the service down) and a warning is logged at most once a minute.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::SharedClock;
use crate::store::{SharedLimits, TokenAsk};

/// How long tokens drawn from the shared bucket may be spent locally.
const GRANT_LIFE: Duration = Duration::from_secs(1);

/// A node draws this fraction of a bucket's burst at a time.
const CHUNKS_PER_BURST: f64 = 8.0;

/// Drawn grants are pruned when more clients than this hold one.
const MAX_GRANTS: usize = 10_000;

/// Tokens a node drew, or a refusal it was given; times are the clock's, in seconds.
struct Grant {
    tokens: f64,
    until: f64,
    /// The shared bucket said no until then: refused here without asking again
    /// (other nodes can only take from it meanwhile, never add).
    refused_until: Option<f64>,
}

/// The buckets of a fleet, drawn from the shared store.
pub struct SharedBuckets {
    store: Arc<dyn SharedLimits>,
    clock: SharedClock,
    grants: Mutex<HashMap<String, Grant>>,
    /// When the last warning about an unreachable store was logged (seconds since
    /// `started`).
    warned: AtomicU64,
    started: Instant,
}

impl std::fmt::Debug for SharedBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBuckets").finish_non_exhaustive()
    }
}

/// What a request costs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cost {
    /// Admitted only when this many tokens are there.
    Exactly(f64),
    /// Admitted while the bucket is not in debt, which this much may put it in.
    OnCredit(f64),
}

impl SharedBuckets {
    pub fn new(store: Arc<dyn SharedLimits>, clock: SharedClock) -> Self {
        Self {
            store,
            clock,
            grants: Mutex::new(HashMap::new()),
            warned: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    /// Takes `cost` from the bucket `key` (refilled at `rate` a second up to `burst`):
    /// `Err` with the seconds to wait when the fleet's budget is spent.
    pub async fn take(&self, key: &str, rate: f64, burst: f64, cost: Cost) -> Result<(), f64> {
        if rate <= 0.0 || burst <= 0.0 {
            return Err(f64::INFINITY);
        }
        let now = self.clock.now().unix_timestamp_nanos() as f64 / 1e9;
        if let Some(wait) = self.refused(key, now) {
            return Err(wait);
        }
        let ask = match cost {
            Cost::Exactly(c) => {
                if self.spend_drawn(key, c, now) {
                    return Ok(());
                }
                TokenAsk {
                    least: c,
                    // Whole requests' worth: a fraction left over could never be spent.
                    most: c.max((burst / CHUNKS_PER_BURST).floor() * c),
                    credit: false,
                }
            }
            Cost::OnCredit(c) => TokenAsk {
                least: 0.0,
                most: c,
                credit: true,
            },
        };
        let got = match self.store.take_tokens(key, now, rate, burst, ask).await {
            Ok(t) => t,
            Err(e) => {
                self.warn(&e);
                return Ok(());
            }
        };
        let admitted = match cost {
            Cost::Exactly(c) => got.taken >= c,
            Cost::OnCredit(_) => got.taken > 0.0,
        };
        if !admitted {
            let wait = got.wait.max(0.001);
            self.keep_refusal(key, wait, now);
            return Err(wait);
        }
        if let Cost::Exactly(c) = cost
            && got.taken > c
        {
            self.keep_drawn(key, got.taken - c, now);
        }
        Ok(())
    }

    /// Spends from what this node drew earlier, if it still may and has enough.
    fn spend_drawn(&self, key: &str, cost: f64, now: f64) -> bool {
        let mut grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        match grants.get_mut(key) {
            Some(g) if g.until > now && g.tokens >= cost => {
                g.tokens -= cost;
                true
            }
            _ => false,
        }
    }

    /// The seconds left of a refusal the shared bucket gave, if one holds.
    fn refused(&self, key: &str, now: f64) -> Option<f64> {
        let grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        let until = grants.get(key)?.refused_until?;
        (until > now).then_some(until - now)
    }

    fn keep_drawn(&self, key: &str, tokens: f64, now: f64) {
        self.keep(
            key,
            Grant {
                tokens,
                until: now + GRANT_LIFE.as_secs_f64(),
                refused_until: None,
            },
            now,
        );
    }

    fn keep_refusal(&self, key: &str, wait: f64, now: f64) {
        let until = now + wait.min(3600.0);
        self.keep(
            key,
            Grant {
                tokens: 0.0,
                until,
                refused_until: Some(until),
            },
            now,
        );
    }

    fn keep(&self, key: &str, grant: Grant, now: f64) {
        let mut grants = self.grants.lock().unwrap_or_else(PoisonError::into_inner);
        if grants.len() >= MAX_GRANTS {
            grants.retain(|_, g| g.until > now);
        }
        grants.insert(key.to_owned(), grant);
    }

    fn warn(&self, e: &crate::store::Error) {
        let at = self.started.elapsed().as_secs() + 60;
        let last = self.warned.load(Ordering::Relaxed);
        if (last == 0 || at >= last + 60)
            && self
                .warned
                .compare_exchange(last, at, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!("shared rate limits unavailable, requests admitted meanwhile: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Error, ThrottleChangeFn, ThrottleRecord, TokensTaken};
    use async_trait::async_trait;

    /// One bucket with a fixed number of tokens and no refill, counting calls.
    struct Fixed {
        tokens: Mutex<f64>,
        calls: AtomicU64,
        down: bool,
    }

    #[async_trait]
    impl SharedLimits for Fixed {
        async fn take_tokens(
            &self,
            _key: &str,
            _now: f64,
            rate: f64,
            _burst: f64,
            ask: TokenAsk,
        ) -> Result<TokensTaken, Error> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            if self.down {
                return Err(Error::Task("the database is away".into()));
            }
            let mut have = self.tokens.lock().expect("lock");
            let taken = if ask.credit {
                if *have >= 0.0 { ask.most } else { 0.0 }
            } else if *have >= ask.least {
                ask.most.min(*have)
            } else {
                0.0
            };
            *have -= taken;
            Ok(TokensTaken {
                taken,
                wait: if taken > 0.0 {
                    0.0
                } else {
                    (ask.least - *have) / rate
                },
            })
        }
        async fn throttle(&self, _key: &str) -> Result<Option<ThrottleRecord>, Error> {
            Ok(None)
        }
        async fn change_throttle(
            &self,
            _key: &str,
            _change: &mut ThrottleChangeFn<'_>,
        ) -> Result<(), Error> {
            Ok(())
        }
        async fn sweep_limits(&self, _now: i64) -> Result<usize, Error> {
            Ok(0)
        }
    }

    fn clock() -> SharedClock {
        Arc::new(crate::clock::FixedClock::at(1_800_000_000))
    }

    fn fixed(tokens: f64, down: bool) -> Arc<Fixed> {
        Arc::new(Fixed {
            tokens: Mutex::new(tokens),
            calls: AtomicU64::new(0),
            down,
        })
    }

    #[tokio::test]
    async fn tokens_are_drawn_in_chunks_and_never_more_than_the_bucket_holds() {
        let store = fixed(100.0, false);
        // Two nodes sharing one bucket of 100 (burst 80: chunks of 10).
        let a = SharedBuckets::new(store.clone(), clock());
        let b = SharedBuckets::new(store.clone(), clock());
        let mut admitted = 0;
        for i in 0..300 {
            let node = if i % 2 == 0 { &a } else { &b };
            if node.take("k", 1.0, 80.0, Cost::Exactly(1.0)).await.is_ok() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 100, "exactly the bucket, over both nodes");
        // Ten draws of ten, then one refusal per node, remembered for its wait.
        let calls = store.calls.load(Ordering::Relaxed);
        assert!(calls <= 12, "{calls} calls for 300 requests");
    }

    #[tokio::test]
    async fn credit_is_given_while_not_in_debt_and_a_refusal_says_how_long() {
        let store = fixed(3.0, false);
        let n = SharedBuckets::new(store.clone(), clock());
        n.take("k", 2.0, 8.0, Cost::OnCredit(10.0))
            .await
            .expect("not in debt");
        let wait = n
            .take("k", 2.0, 8.0, Cost::OnCredit(1.0))
            .await
            .expect_err("in debt");
        assert!(wait > 0.0);
        // Refused here again without asking the store, for the time it gave.
        let calls = store.calls.load(Ordering::Relaxed);
        let again = n
            .take("k", 2.0, 8.0, Cost::Exactly(1.0))
            .await
            .expect_err("in debt");
        assert!(again <= wait && again > wait - 0.5, "{again} after {wait}");
        assert_eq!(store.calls.load(Ordering::Relaxed), calls);
        // Another node asks the store: a whole request needs the debt paid and 1 more.
        let other = SharedBuckets::new(store.clone(), clock());
        let wait = other
            .take("k", 2.0, 8.0, Cost::Exactly(1.0))
            .await
            .expect_err("in debt");
        assert!((wait - 4.0).abs() < 1e-9, "{wait}: (1 - -7) / 2");
    }

    #[tokio::test]
    async fn an_unreachable_store_admits() {
        let n = SharedBuckets::new(fixed(0.0, true), clock());
        for _ in 0..3 {
            n.take("k", 1.0, 1.0, Cost::Exactly(1.0))
                .await
                .expect("admitted");
        }
    }
}
