//! Durability and status-list figures, for `accolade bench`:
//! - the CPU time to publish a changed 131,072-entry list with 1 % of its bits set
//!   (GZIP + base64url, the signature excluded);
//! - durable direct awards per second with many concurrent clients, beside the same
//!   pipeline with no flush at all (the in-memory rate), on a real store;
//! - durable revocations per second with the same concurrency.
//!
//! Everything runs in process against a store in a temporary directory, on a
//! multi-threaded runtime, so the figures are what the service itself can do.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng as _;
use serde_json::json;

use crate::clock::SystemClock;
use crate::issue::revoke::{ActionContext, StatusAction};
use crate::issue::{AwardRequest, Issuer, StatusConfig};
use crate::jose::Algorithm;
use crate::keyring::Keyring;
use crate::status::{Bitstring, LIST_SIZE};
use crate::store::Store;

/// The figures.
#[derive(Debug, Clone)]
pub struct StatusBench {
    pub clients: usize,
    /// Microseconds to encode a changed list (median of many runs).
    pub publish_micros: f64,
    /// Bytes of the encoded list.
    pub encoded_len: usize,
    pub in_memory_awards_per_sec: f64,
    /// Process CPU (every thread, user and system) per award in memory, microseconds.
    pub in_memory_cpu_micros: Option<f64>,
    pub durable_awards_per_sec: f64,
    /// Process CPU per durable award, microseconds.
    pub durable_cpu_micros: Option<f64>,
    pub durable_revocations_per_sec: f64,
    /// fsyncs the durable award run needed.
    pub award_flushes: u64,
    pub awards: u64,
}

/// Runs the status benchmark with `clients` concurrent tasks, `window` per phase.
pub fn run(clients: usize, window: Duration) -> anyhow::Result<StatusBench> {
    let (publish_micros, encoded_len) = publish_time();
    super::in_scratch_dir(|dir| run_in(dir, clients, window, publish_micros, encoded_len))
}

fn publish_time() -> (f64, usize) {
    let mut bits = Bitstring::zeros(LIST_SIZE as usize);
    let mut rng = rand::thread_rng();
    while bits.count_ones() < LIST_SIZE as usize / 100 {
        bits.set(rng.gen_range(0..LIST_SIZE as usize), true);
    }
    let mut times = Vec::new();
    let mut len = 0;
    for _ in 0..200 {
        // A change, then the publication of the changed list.
        bits.set(rng.gen_range(0..LIST_SIZE as usize), true);
        let t = Instant::now();
        len = bits.encode().len();
        times.push(t.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], len)
}

fn run_in(
    dir: &std::path::Path,
    clients: usize,
    window: Duration,
    publish_micros: f64,
    encoded_len: usize,
) -> anyhow::Result<StatusBench> {
    let keys = Arc::new(Keyring::load_or_generate(
        &dir.join("keys"),
        Algorithm::ES256,
    )?);
    let store = Store::open(&dir.join("data"))?;
    let public_url = url::Url::parse("https://badges.example.edu")?;
    let did = crate::did::web::identity_for_url(&public_url)?.did;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let issuer = Issuer::open(
            &store,
            crate::keyring::LiveKeys::new(keys),
            did,
            public_url,
            Arc::new(SystemClock),
            StatusConfig::default(),
        )
        .await?;
        let ach = issuer
            .create_achievement(&super::bench_achievement())
            .await?;
        let req = move || -> AwardRequest {
            serde_json::from_value(json!({
                "achievement_id": ach.achievement.id,
                "recipient": {"name": "Ada Lovelace", "email": "ada@example.org",
                              "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"},
                "delivery": "direct"
            }))
            .unwrap_or_else(|e| unreachable!("a fixed request parses: {e}"))
        };
        let req = Arc::new(req);

        // In memory: the same pipeline, no flush.
        let in_memory = phase(clients, window, {
            let issuer = issuer.clone();
            let req = req.clone();
            move || {
                let issuer = issuer.clone();
                let req = req.clone();
                async move { issuer.award_in_memory(req()).await.map(|_| true) }
            }
        })
        .await?;
        store.flush().await?;

        let flushes_before = store.flushes();
        let durable = phase(clients, window, {
            let issuer = issuer.clone();
            let req = req.clone();
            move || {
                let issuer = issuer.clone();
                let req = req.clone();
                async move { issuer.award(req()).await.map(|_| true) }
            }
        })
        .await?;
        let award_flushes = store.flushes() - flushes_before;

        // Revocations: of the awards made above, newest first, each once.
        let all = issuer
            .credentials(&Default::default(), 500_000, None)
            .await?;
        let ids: Arc<Vec<String>> =
            Arc::new(all.awards.iter().map(|r| r.credential_id()).collect());
        let next = Arc::new(AtomicU64::new(0));
        let revocations = phase(clients, window, {
            let issuer = issuer.clone();
            move || {
                let issuer = issuer.clone();
                let ids = ids.clone();
                let next = next.clone();
                async move {
                    let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(id) = ids.get(n) else {
                        return Ok(false);
                    };
                    issuer
                        .change_status(id, StatusAction::Revoke, &ActionContext::default())
                        .await
                        .map(|_| true)
                }
            }
        })
        .await?;
        Ok::<_, anyhow::Error>(StatusBench {
            clients,
            publish_micros,
            encoded_len,
            in_memory_awards_per_sec: in_memory.0,
            in_memory_cpu_micros: in_memory.2,
            durable_awards_per_sec: durable.0,
            durable_cpu_micros: durable.2,
            durable_revocations_per_sec: revocations.0,
            award_flushes,
            awards: durable.1,
        })
    })
}

/// Runs `clients` tasks that each call `op` back to back for `window` (or until it
/// has nothing left to do); returns the rate, the count and the process CPU per
/// operation in microseconds.
pub(crate) async fn phase<F, Fut>(
    clients: usize,
    window: Duration,
    op: F,
) -> anyhow::Result<(f64, u64, Option<f64>)>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<bool, crate::issue::Error>> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let cpu0 = super::cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let op = op.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            while start.elapsed() < window {
                if !op().await? {
                    break;
                }
                done.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            Ok::<_, crate::issue::Error>(start.elapsed())
        }));
    }
    let mut elapsed = Duration::ZERO;
    for t in tasks {
        elapsed = elapsed.max(t.await??);
    }
    let n = done.load(Ordering::Relaxed);
    let cpu = match (cpu0, super::cpu_seconds()) {
        (Some((u0, s0)), Some((u1, s1))) if n > 0 => Some((u1 + s1 - u0 - s0) * 1e6 / n as f64),
        _ => None,
    };
    Ok((n as f64 / elapsed.as_secs_f64(), n, cpu))
}
