//! In-process issuance throughput, for `accolade bench` and `cargo bench`.
//!
//! For each algorithm it measures, single-threaded and in the same run:
//! - the raw signature rate of the key over a badge-sized JWS signing input, and
//! - badges fully issued per second: credential built from a stored award (with its
//!   status entry, as the service issues it), checked against the OB 3.0 JSON Schema,
//!   claims added, serialised and signed: the yardstick the award figures compare to.
//!
//! No store writes (no fsync) here; [`status`] measures durability and status lists,
//! [`claim`] OpenID4VCI claim flows, [`verify`] verifying another issuer's badges,
//! [`pages`] the public pages and baked images.

pub mod claim;
pub mod fleet;
pub mod integrity;
pub mod mail;
pub mod pages;
pub mod scale;
pub mod search;
pub mod status;
pub mod verify;

use std::time::{Duration, Instant};

use crate::clock::from_unix;
use crate::issue::{self, IssuerProfile};
use crate::jose::jws::CompactJws;
use crate::jose::{Algorithm, SigningKey};
use crate::model::Achievement;
use crate::records::{AchievementRef, Award, AwardState, Recipient};

/// One algorithm's figures.
#[derive(Debug, Clone)]
pub struct BenchResult {
    pub alg: Algorithm,
    /// Raw signatures per second.
    pub raw_signs_per_sec: f64,
    /// Badges built, schema-checked and signed per second.
    pub badges_per_sec: f64,
    /// Signature verifications per second (of a badge).
    pub verifies_per_sec: f64,
}

impl BenchResult {
    /// Badge rate as a fraction of the raw signature rate.
    pub fn ratio(&self) -> f64 {
        self.badges_per_sec / self.raw_signs_per_sec
    }
}

fn rate(window: Duration, mut f: impl FnMut()) -> f64 {
    // Warm up (lazy schema compilation, caches), then count.
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < window {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The process's user and system CPU seconds so far (Linux `/proc/self/stat`,
/// clock ticks of 1/100 s), or `None` elsewhere.
pub(crate) fn cpu_seconds() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = s.rsplit(')').next()?;
    let f: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of proc(5), counted after the command name.
    let user: f64 = f.get(11)?.parse().ok()?;
    let sys: f64 = f.get(12)?.parse().ok()?;
    Some((user / 100.0, sys / 100.0))
}

/// The `q` quantile of sorted samples (NaN when there are none).
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Runs `f` with a fresh scratch directory (store and keys), removed afterwards.
pub(crate) fn in_scratch_dir<T>(
    f: impl FnOnce(&std::path::Path) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let dir = std::env::temp_dir().join(format!("accolade-bench-{}", uuid::Uuid::new_v4()));
    let result = f(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The service over a scratch directory (ES256 key, no rate limit), as benchmarks
/// drive it: opened inside the caller's runtime. Returns the state and its store.
pub(crate) async fn bench_state(
    dir: &std::path::Path,
) -> anyhow::Result<(crate::app::AppState, crate::store::Store)> {
    let keys = std::sync::Arc::new(crate::keyring::Keyring::load_or_generate(
        &dir.join("keys"),
        Algorithm::ES256,
    )?);
    let store = crate::store::Store::open(&dir.join("data"))?;
    let mut state = crate::app::AppState::with_status(
        store.clone(),
        keys,
        url::Url::parse("https://badges.example.edu")?,
        crate::app::AdminToken::new("bench"),
        std::sync::Arc::new(crate::clock::SystemClock),
        issue::StatusConfig::default(),
    )
    .await?;
    state.set_rate_limit(crate::app::RateLimit::Off);
    Ok((state, store))
}

/// The achievement the store benchmarks award (staff input).
pub(crate) fn bench_achievement() -> serde_json::Value {
    serde_json::json!({
        "name": "Cloud Architect — Proficiency",
        "description": "Designs resilient cloud architectures.",
        "criteria": {"narrative": "Passed the proctored exam."}
    })
}

/// A representative award of a real achievement: e-mail and name identifiers, a DID.
pub fn sample_record() -> (Award, Achievement) {
    let key = uuid::Uuid::parse_str("0b6d3f5e-8a0c-4a43-9b7a-54c1f0e2a9d1")
        .unwrap_or_else(|e| unreachable!("a constant uuid parses: {e}"));
    let id = format!("https://badges.example.edu/achievements/{key}");
    let award = Award {
        id: uuid::Uuid::new_v4(),
        seq: 1,
        achievement: AchievementRef { key, revision: 1 },
        recipient: Recipient {
            name: Some("Ada Lovelace".into()),
            email: Some("ada@example.org".into()),
            id: Some("did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi".into()),
        },
        state: AwardState::Offered,
        salt: "6c1f0e2a9d10b6d3".into(),
        valid_from: from_unix(1_767_225_600),
        valid_until: Some(from_unix(1_861_920_000)),
        tx_code_required: false,
        approval_required: false,
        extras: None,
        issued: vec![],
        revoked: false,
        suspended: false,
        status: Some(crate::status::StatusSlot {
            list: 1,
            index: 94_567,
        }),
        wallet: Default::default(),
        created_at: from_unix(1_767_225_600),
        updated_at: from_unix(1_767_225_600),
    };
    (award, issue::sample_achievement(&id))
}

/// Runs the benchmark for one algorithm, `window` per measurement.
pub fn run(alg: Algorithm, window: Duration) -> Result<BenchResult, issue::Error> {
    let (key, _) = SigningKey::generate(alg)?;
    let kid = format!("did:web:badges.example.edu#{}", key.id());
    let profile = IssuerProfile {
        name: "Example Academy".into(),
        url: Some("https://badges.example.edu".into()),
        ..IssuerProfile::default()
    }
    .to_profile("did:web:badges.example.edu");
    let (record, achievement) = sample_record();
    let urls = crate::status::StatusUrls::new(
        &url::Url::parse("https://badges.example.edu")
            .unwrap_or_else(|e| unreachable!("a constant URL parses: {e}")),
    );
    let purposes = crate::status::BadgePurposes::default();
    let build = || {
        let mut c = issue::build_credential(
            &profile,
            &record,
            &achievement,
            record.recipient.id.as_deref(),
        )?;
        if let Some(slot) = record.status {
            issue::set_status(&mut c, &urls, slot, &purposes)?;
        }
        Ok::<_, issue::Error>(c)
    };
    let sample = issue::sign_badge(&build()?, &key, &kid)?;
    let signing_input = sample
        .rsplit_once('.')
        .map(|(i, _)| i.to_owned())
        .unwrap_or_default();
    let mut failed = None;

    let raw = rate(window, || {
        if let Err(e) = key.sign(signing_input.as_bytes()) {
            failed = Some(issue::Error::Sign(e));
        }
    });
    let badges = rate(window, || {
        let r = build().and_then(|c| issue::sign_badge(&c, &key, &kid));
        if let Err(e) = r {
            failed = Some(e);
        }
    });
    let verifies = rate(window, || {
        let ok = CompactJws::parse(&sample).and_then(|j| j.verify(key.public_jwk()));
        if let Err(e) = ok {
            failed = Some(issue::Error::Sign(e));
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(BenchResult {
        alg,
        raw_signs_per_sec: raw,
        badges_per_sec: badges,
        verifies_per_sec: verifies,
    })
}
