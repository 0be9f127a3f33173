//! Award figures on PostgreSQL, for `accolade bench --database-url`: durable direct
//! awards per second by one node and by two nodes over one database (two stores,
//! two issuers following each other's change notices, in this process), with the
//! CPU each award cost this process and the database's processes on this machine.
//!
//! The run works in a schema of its own (`bench_<uuid>`), dropped at the end.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::clock::SystemClock;
use crate::issue::{AwardRequest, Issuer, StatusConfig};
use crate::jose::Algorithm;
use crate::keyring::{Keyring, LiveKeys};
use crate::store::Store;

/// One configuration's figures.
#[derive(Debug, Clone)]
pub struct FleetBench {
    pub nodes: usize,
    pub clients: usize,
    pub awards_per_sec: f64,
    pub awards: u64,
    /// This process's CPU (every thread) per award, microseconds.
    pub accolade_cpu_micros: Option<f64>,
    /// The CPU of this machine's `postgres` processes per award, microseconds
    /// (`None` when the database runs elsewhere or /proc is not there).
    pub database_cpu_micros: Option<f64>,
}

/// Runs the award phase with 1 and with 2 nodes, `clients` tasks in all.
pub fn run(url: &str, clients: usize, window: Duration) -> anyhow::Result<Vec<FleetBench>> {
    super::in_scratch_dir(|dir| {
        let keys = Arc::new(Keyring::load_or_generate(
            &dir.join("keys"),
            Algorithm::ES256,
        )?);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
            crate::store::postgres::create_schema(url, &schema).await?;
            let in_schema = crate::store::postgres::url_in_schema(url, &schema);
            let result = async {
                let mut out = Vec::new();
                for nodes in [1, 2] {
                    out.push(phase(&in_schema, keys.clone(), nodes, clients, window).await?);
                }
                anyhow::Ok(out)
            }
            .await;
            crate::store::postgres::drop_schema(url, &schema).await?;
            result
        })
    })
}

async fn phase(
    url: &str,
    keys: Arc<Keyring>,
    nodes: usize,
    clients: usize,
    window: Duration,
) -> anyhow::Result<FleetBench> {
    let public_url = url::Url::parse("https://badges.example.edu")?;
    let did = crate::did::web::identity_for_url(&public_url)?.did;
    let mut issuers = Vec::new();
    for _ in 0..nodes {
        let store = Store::connect(url).await?;
        let issuer = Issuer::open(
            &store,
            LiveKeys::new(keys.clone()),
            did.clone(),
            public_url.clone(),
            Arc::new(SystemClock),
            StatusConfig::default(),
        )
        .await?;
        if let Some(mut changes) = store.fleet.changes() {
            let follower = issuer.clone();
            tokio::spawn(async move {
                while let Ok(c) = changes.recv().await {
                    let _ = follower.follow(&c).await;
                }
            });
        }
        issuers.push(issuer);
    }
    let ach = issuers[0]
        .create_achievement(&super::bench_achievement())
        .await?;
    let id = ach.achievement.id.clone();
    let req = move || -> AwardRequest {
        serde_json::from_value(json!({
            "achievement_id": id,
            "recipient": {"name": "Ada Lovelace", "email": "ada@example.org",
                          "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"},
            "delivery": "direct"
        }))
        .unwrap_or_else(|e| unreachable!("a fixed request parses: {e}"))
    };
    let req = Arc::new(req);
    let issuers = Arc::new(issuers);
    let turn = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let db0 = database_cpu_seconds();
    let (rate, n, cpu) = super::status::phase(clients, window, move || {
        let issuers = issuers.clone();
        let req = req.clone();
        let i = turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % issuers.len();
        async move { issuers[i].award(req()).await.map(|_| true) }
    })
    .await?;
    let database_cpu_micros = match (db0, database_cpu_seconds()) {
        (Some(a), Some(b)) if n > 0 && b > a => Some((b - a) * 1e6 / n as f64),
        _ => None,
    };
    Ok(FleetBench {
        nodes,
        clients,
        awards_per_sec: rate,
        awards: n,
        accolade_cpu_micros: cpu,
        database_cpu_micros,
    })
}

/// User and system CPU seconds of every `postgres` process on this machine so far
/// (Linux /proc), or `None` when there is none to read.
fn database_cpu_seconds() -> Option<f64> {
    let mut total = 0.0;
    let mut found = false;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        if &stat[open + 1..close] != "postgres" {
            continue;
        }
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if let (Some(u), Some(s)) = (
            f.get(11).and_then(|v| v.parse::<f64>().ok()),
            f.get(12).and_then(|v| v.parse::<f64>().ok()),
        ) {
            total += (u + s) / 100.0;
            found = true;
        }
    }
    found.then_some(total)
}
