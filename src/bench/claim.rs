//! OpenID4VCI claim flows, for `accolade bench`:
//! - complete flows per second with many concurrent wallets: token (pre-authorized
//!   code with a transaction code), nonce, and credential request with an ES256 proof
//!   that the service verifies before it signs the ES256 badge; every spent code and
//!   nonce is flushed (grouped) before its answer;
//! - the credential endpoint's latency (p50, p99) at half that rate, open loop.
//!
//! Requests go through the real router in process (no sockets). The wallets run on
//! the same cores: their proof signatures are part of the cost measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::issue::AwardRequest;
use crate::issue::offers::PRE_AUTHORIZED_GRANT;
use crate::jose::{Algorithm, SigningKey, b64};

/// The figures.
#[derive(Debug, Clone)]
pub struct ClaimBench {
    pub wallets: usize,
    pub flows_per_sec: f64,
    pub flows: u64,
    /// fsyncs during the throughput run.
    pub flushes: u64,
    /// The open-loop rate of the latency run.
    pub latency_rate: f64,
    pub credential_p50_ms: f64,
    pub credential_p99_ms: f64,
    pub latency_samples: usize,
    /// Process CPU (user, system) per flow in milliseconds, wallets included.
    pub cpu_ms_per_flow: Option<(f64, f64)>,
}

/// An award waiting for a wallet: its code and transaction code.
struct Pending {
    code: String,
    tx_code: String,
}

struct Wallet {
    key: SigningKey,
    kid: String,
}

impl Wallet {
    fn new() -> anyhow::Result<Self> {
        let (key, _) = SigningKey::generate(Algorithm::ES256)?;
        let did = crate::did::key::did_key_for(key.public_jwk())?;
        let kid = format!("{did}#{}", did.method_specific_id());
        Ok(Self { key, kid })
    }

    fn proof(&self, aud: &str, nonce: &str) -> anyhow::Result<String> {
        let header = json!({"alg": "ES256", "typ": "openid4vci-proof+jwt", "kid": self.kid});
        let iat = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = json!({"aud": aud, "iat": iat, "nonce": nonce});
        let input = format!(
            "{}.{}",
            b64(serde_json::to_vec(&header)?),
            b64(serde_json::to_vec(&claims)?)
        );
        let sig = self.key.sign(input.as_bytes())?;
        Ok(format!("{input}.{}", b64(sig)))
    }
}

async fn call(router: &Router, req: Request<Body>) -> anyhow::Result<Value> {
    let res = router.clone().oneshot(req).await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    if status != StatusCode::OK {
        anyhow::bail!("{status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// One complete flow; returns the credential request's latency.
async fn flow(router: &Router, aud: &str, w: &Wallet, p: &Pending) -> anyhow::Result<Duration> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", PRE_AUTHORIZED_GRANT),
            ("pre-authorized_code", p.code.as_str()),
            ("tx_code", p.tx_code.as_str()),
        ])
        .finish();
    let t = call(
        router,
        Request::post("/oid4vci/token")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))?,
    )
    .await?;
    let token = t["access_token"].as_str().unwrap_or_default().to_owned();
    let n = call(router, Request::post("/oid4vci/nonce").body(Body::empty())?).await?;
    let proof = w.proof(aud, n["c_nonce"].as_str().unwrap_or_default())?;
    let body = json!({
        "credential_configuration_id": crate::issue::offers::CONFIG_JWT_VC_JSON,
        "proofs": {"jwt": [proof]},
    });
    let start = Instant::now();
    let r = call(
        router,
        Request::post("/oid4vci/credential")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&body)?))?,
    )
    .await?;
    let took = start.elapsed();
    if r["credentials"][0]["credential"].as_str().is_none() {
        anyhow::bail!("no credential in {r}");
    }
    Ok(took)
}

/// Runs the claim benchmark with `wallets` concurrent wallets, `window` per phase.
pub fn run(wallets: usize, window: Duration) -> anyhow::Result<ClaimBench> {
    super::in_scratch_dir(|dir| run_in(dir, wallets, window))
}

fn run_in(dir: &std::path::Path, wallets: usize, window: Duration) -> anyhow::Result<ClaimBench> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (state, store) = super::bench_state(dir).await?;
        let issuer = state.issuer.clone();
        let aud = issuer.identifier();
        let router = crate::http::router(state);
        let ach = issuer
            .create_achievement(&super::bench_achievement())
            .await?;
        // Offers for both phases, made before the clock starts.
        // Enough for both phases at well over the rates seen on a 2-core machine.
        let needed = (window.as_secs_f64() * 14_000.0) as usize + 4 * wallets;
        let mut pending = Vec::with_capacity(needed);
        while pending.len() < needed {
            let reqs = (0..2000)
                .map(|_| {
                    serde_json::from_value::<AwardRequest>(json!({
                        "achievement_id": ach.achievement.id,
                        "recipient": {"name": "Ada Lovelace", "email": "ada@example.org"},
                    }))
                    .map_err(|e| crate::issue::Error::invalid("award", &e.to_string()))
                })
                .collect();
            for out in issuer.award_batch(reqs).await? {
                let out = out?;
                let (Some(o), Some(tx)) = (out.record.wallet.offer, out.tx_code) else {
                    anyhow::bail!("an offered award has no offer");
                };
                pending.push(Pending {
                    code: issuer.offer_code(out.record.id, &o),
                    tx_code: tx,
                });
            }
        }
        let pending = Arc::new(pending);
        let next = Arc::new(AtomicUsize::new(0));
        let wallet_keys: Vec<Arc<Wallet>> = (0..wallets)
            .map(|_| Wallet::new().map(Arc::new))
            .collect::<anyhow::Result<_>>()?;

        // Throughput: every wallet claims back to back.
        let done = Arc::new(AtomicU64::new(0));
        let flushes_before = store.flushes();
        let cpu0 = super::cpu_seconds();
        let start = Instant::now();
        let mut tasks = Vec::new();
        for w in &wallet_keys {
            let (router, aud, w, pending, next, done) = (
                router.clone(),
                aud.clone(),
                w.clone(),
                pending.clone(),
                next.clone(),
                done.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < window {
                    let Some(p) = pending.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    flow(&router, &aud, &w, p).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>(start.elapsed())
            }));
        }
        let mut elapsed = Duration::ZERO;
        for t in tasks {
            elapsed = elapsed.max(t.await??);
        }
        let flows = done.load(Ordering::Relaxed);
        let flows_per_sec = flows as f64 / elapsed.as_secs_f64();
        let flushes = store.flushes() - flushes_before;
        let cpu = super::cpu_seconds()
            .zip(cpu0)
            .map(|((u1, s1), (u0, s0))| (u1 - u0, s1 - s0));

        // Latency: flows started at half that rate, whatever the answers' pace.
        let latency_rate = flows_per_sec / 2.0;
        let gap = Duration::from_secs_f64(1.0 / latency_rate.max(1.0));
        let mut tick = tokio::time::interval(gap);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = Instant::now();
        let mut tasks = Vec::new();
        let mut i = 0usize;
        while start.elapsed() < window {
            tick.tick().await;
            let Some(_) = pending.get(next.load(Ordering::Relaxed)) else {
                break;
            };
            let (router, aud, pending, next) =
                (router.clone(), aud.clone(), pending.clone(), next.clone());
            let w = wallet_keys[i % wallet_keys.len()].clone();
            i += 1;
            tasks.push(tokio::spawn(async move {
                let Some(p) = pending.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return Ok(None);
                };
                flow(&router, &aud, &w, p).await.map(Some)
            }));
        }
        let mut lat = Vec::with_capacity(tasks.len());
        for t in tasks {
            if let Some(d) = t.await?? {
                lat.push(d.as_secs_f64() * 1e3);
            }
        }
        lat.sort_by(f64::total_cmp);
        let pct = |q: f64| super::percentile(&lat, q);
        Ok(ClaimBench {
            wallets,
            flows_per_sec,
            flows,
            flushes,
            latency_rate,
            credential_p50_ms: pct(0.50),
            credential_p99_ms: pct(0.99),
            latency_samples: lat.len(),
            cpu_ms_per_flow: cpu
                .map(|(u, k)| (u * 1e3 / flows.max(1) as f64, k * 1e3 / flows.max(1) as f64)),
        })
    })
}
