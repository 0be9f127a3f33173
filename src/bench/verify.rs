//! Verifying another issuer's badges, for `accolade bench`:
//!
//! Issuer A runs in process on a real socket at `http://127.0.0.1:<port>` (its did:web
//! document and status list served over HTTP). Verifier B is a second service state
//! that may reach A (`--allow-http-did-web`). After one verification has warmed B's
//! caches, for one algorithm:
//! - the raw signature verification rate over the badge (one thread);
//! - B's whole pipeline (parse, signature, claims, expiry, status, schema, trust) on
//!   one thread, called directly: the like-for-like comparison with the raw rate;
//! - `POST /api/v1/verify` through B's router (in process, no sockets) with many
//!   concurrent clients on every core;
//! - that endpoint's latency (p50, p99) at half the rate it sustained, open loop;
//! - presentations (a VP-JWT signed by a wallet key of the same algorithm holding
//!   one badge: two signatures, nonce, audience, holder binding and the badge's pipeline) on one
//!   thread, the figure to set beside the raw rate;
//! - whole OpenID4VP exchanges through B's router with many concurrent wallets:
//!   create the request, fetch the signed request object, sign a VP, answer by
//!   `direct_post` (both writes durable), read the verdict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

use crate::app::{AdminToken, AppState, RateLimit};
use crate::clock::SystemClock;
use crate::issue::{AwardRequest, StatusConfig};
use crate::jose::Algorithm;
use crate::jose::SigningKey;
use crate::jose::jws::CompactJws;
use crate::jose::jws::sign_compact;
use crate::keyring::Keyring;
use crate::store::Store;
use crate::verify::PresentationOptions;

/// The figures for one algorithm.
#[derive(Debug, Clone)]
pub struct VerifyBench {
    pub alg: Algorithm,
    pub raw_verifies_per_sec: f64,
    /// The pipeline on one thread, caches warm.
    pub pipeline_per_sec: f64,
    pub clients: usize,
    /// `/api/v1/verify` with `clients` concurrent clients.
    pub api_per_sec: f64,
    pub latency_rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub latency_samples: usize,
    /// Presentations (one badge each) verified per second on one thread.
    pub presentations_per_sec: f64,
    /// Whole OpenID4VP exchanges per second with `clients` concurrent wallets.
    pub exchanges_per_sec: f64,
}

impl VerifyBench {
    /// Pipeline rate as a fraction of the raw verify rate.
    pub fn ratio(&self) -> f64 {
        self.pipeline_per_sec / self.raw_verifies_per_sec
    }

    /// Presentation rate as a fraction of the raw verify rate.
    pub fn presentation_ratio(&self) -> f64 {
        self.presentations_per_sec / self.raw_verifies_per_sec
    }
}

pub fn run(alg: Algorithm, clients: usize, window: Duration) -> anyhow::Result<VerifyBench> {
    super::in_scratch_dir(|dir| run_in(dir, alg, clients, window))
}

/// An instance, and its keys.
async fn state(
    dir: &std::path::Path,
    alg: Algorithm,
    public_url: &str,
) -> anyhow::Result<(AppState, Arc<Keyring>)> {
    let keys = Arc::new(Keyring::load_or_generate(&dir.join("keys"), alg)?);
    let store = Store::open(&dir.join("data"))?;
    let mut s = AppState::with_status(
        store,
        keys.clone(),
        url::Url::parse(public_url)?,
        AdminToken::new("bench"),
        Arc::new(SystemClock),
        StatusConfig::default(),
    )
    .await?;
    s.set_rate_limit(RateLimit::Off);
    Ok((s, keys))
}

async fn verify_once(router: &Router, body: &Arc<Vec<u8>>) -> anyhow::Result<()> {
    let req = Request::post("/api/v1/verify")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.as_ref().clone()))?;
    let res = router.clone().oneshot(req).await?;
    anyhow::ensure!(
        res.status() == StatusCode::OK,
        "verify answered {}",
        res.status()
    );
    let bytes = res.into_body().collect().await?.to_bytes();
    anyhow::ensure!(
        bytes.starts_with(b"{\"verified\":true"),
        "not verified: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(())
}

fn run_in(
    dir: &std::path::Path,
    alg: Algorithm,
    clients: usize,
    window: Duration,
) -> anyhow::Result<VerifyBench> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // Issuer A, on a socket.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (a, a_keys) = state(&dir.join("a"), alg, &format!("http://{addr}")).await?;
        let a_router = crate::http::router(a.clone());
        tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                a_router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await;
        });
        let ach = a
            .issuer
            .create_achievement(&super::bench_achievement())
            .await?;
        // The wallet: a did:key of the same algorithm, the badge's subject (RSA has
        // no did:key, so an RSA wallet is a did:jwk).
        let holder = Arc::new(SigningKey::generate(alg)?.0);
        let (holder_did, holder_kid) = match crate::did::key::did_key_for(holder.public_jwk()) {
            Ok(did) => {
                let kid = format!("{did}#{}", did.method_specific_id());
                (did.to_string(), kid)
            }
            Err(_) => {
                let did = crate::did::jwk::did_jwk_for(holder.public_jwk());
                (did.to_string(), format!("{did}#0"))
            }
        };
        let req: AwardRequest = serde_json::from_value(json!({
            "achievement_id": ach.achievement.id,
            "delivery": "direct",
            "recipient": {"name": "Ada Lovelace", "email": "ada@example.org", "id": holder_did},
        }))?;
        let badge = a
            .issuer
            .award(req)
            .await?
            .credential
            .ok_or_else(|| anyhow::anyhow!("a direct award without a credential"))?;

        // Verifier B, allowed to reach A.
        let (mut b, _) =
            state(&dir.join("b"), Algorithm::ES256, "https://verifier.example").await?;
        b.set_allow_http_did_web(vec![
            format!("127.0.0.1:{}", addr.port())
                .parse()
                .map_err(anyhow::Error::msg)?,
        ]);
        let verifier = b.verifier.clone();
        let router = crate::http::router(b);
        let body = Arc::new(serde_json::to_vec(&json!({"credential": badge}))?);
        verify_once(&router, &body).await?; // warms the caches

        // Raw signature verification, one thread.
        let jws = CompactJws::parse(&badge)?;
        let key = a_keys.signing_key().public_jwk().clone();
        let raw = tokio::task::spawn_blocking(move || {
            super::rate(window, || {
                let _ = jws.verify(&key);
            })
        })
        .await?;

        // The pipeline, one task at a time.
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < window {
            let r = verifier.verify_jwt(&badge).await?;
            anyhow::ensure!(r.verified, "the pipeline did not verify: {r:?}");
            n += 1;
        }
        let pipeline = n as f64 / start.elapsed().as_secs_f64();

        // The endpoint, many clients.
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (router, body, done) = (router.clone(), body.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < window {
                    verify_once(&router, &body).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>(start.elapsed())
            }));
        }
        let mut elapsed = Duration::ZERO;
        for t in tasks {
            elapsed = elapsed.max(t.await??);
        }
        let api = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();

        // Latency at half that rate, open loop.
        let latency_rate = api / 2.0;
        let gap = Duration::from_secs_f64(1.0 / latency_rate.max(1.0));
        let mut tick = tokio::time::interval(gap);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = Instant::now();
        let mut tasks = Vec::new();
        while start.elapsed() < window {
            tick.tick().await;
            let (router, body) = (router.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                verify_once(&router, &body).await.map(|()| t0.elapsed())
            }));
        }
        let mut lat = Vec::with_capacity(tasks.len());
        for t in tasks {
            lat.push(t.await??.as_secs_f64() * 1e3);
        }
        lat.sort_by(f64::total_cmp);
        let pct = |q: f64| super::percentile(&lat, q);

        // Presentations, one task at a time.
        let wallet = Wallet {
            key: holder,
            did: holder_did,
            kid: holder_kid,
            badge: badge.clone(),
        };
        let opts = PresentationOptions {
            challenge: Some("bench-nonce".into()),
            domain: Some("https://verifier.example".into()),
            unsigned: false,
            holder_binding: true,
        };
        let vp = serde_json::Value::String(wallet.vp("bench-nonce", "https://verifier.example")?);
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < window {
            let r = verifier.verify_presentation(&vp, &opts).await?;
            anyhow::ensure!(r.verified, "the presentation did not verify: {r:?}");
            n += 1;
        }
        let presentations = n as f64 / start.elapsed().as_secs_f64();

        // Whole exchanges, many wallets.
        let wallet = Arc::new(wallet);
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (router, wallet, done) = (router.clone(), wallet.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < window {
                    exchange(&router, &wallet).await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>(start.elapsed())
            }));
        }
        let mut elapsed = Duration::ZERO;
        for t in tasks {
            elapsed = elapsed.max(t.await??);
        }
        let exchanges = done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64();
        Ok(VerifyBench {
            alg,
            raw_verifies_per_sec: raw,
            pipeline_per_sec: pipeline,
            clients,
            api_per_sec: api,
            latency_rate,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            latency_samples: lat.len(),
            presentations_per_sec: presentations,
            exchanges_per_sec: exchanges,
        })
    })
}

/// A wallet holding one badge.
struct Wallet {
    key: Arc<SigningKey>,
    did: String,
    kid: String,
    badge: String,
}

impl Wallet {
    /// A VP-JWT holding the badge, for `nonce` and `aud`.
    fn vp(&self, nonce: &str, aud: &str) -> anyhow::Result<String> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let payload = json!({"iss": self.did, "aud": aud, "nonce": nonce, "iat": now,
            "exp": now + 300,
            "vp": {"@context": ["https://www.w3.org/2018/credentials/v1"],
                   "type": ["VerifiablePresentation"], "holder": self.did,
                   "verifiableCredential": [self.badge]}});
        Ok(sign_compact(
            &self.key,
            Some(&self.kid),
            Some("JWT"),
            &serde_json::to_vec(&payload)?,
        )?)
    }
}

async fn call(router: &Router, req: Request<Body>) -> anyhow::Result<(StatusCode, bytes::Bytes)> {
    let res = router.clone().oneshot(req).await?;
    let status = res.status();
    Ok((status, res.into_body().collect().await?.to_bytes()))
}

fn local_path(url: &str) -> anyhow::Result<String> {
    let u = url::Url::parse(url)?;
    Ok(u.path().to_owned())
}

/// One OpenID4VP exchange: the employer's request, the wallet's fetch and answer,
/// the employer's read of the verdict.
async fn exchange(router: &Router, wallet: &Wallet) -> anyhow::Result<()> {
    let (s, body) = call(
        router,
        Request::post("/api/v1/presentation-requests")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"credential_types":["OpenBadgeCredential"]}"#,
            ))?,
    )
    .await?;
    anyhow::ensure!(s == StatusCode::CREATED, "create answered {s}");
    let created: serde_json::Value = serde_json::from_slice(&body)?;
    let field = |k: &str| {
        created[k]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no {k}"))
    };
    let (s, jwt) = call(
        router,
        Request::get(local_path(&field("request_uri")?)?).body(Body::empty())?,
    )
    .await?;
    anyhow::ensure!(s == StatusCode::OK, "request_uri answered {s}");
    let claims = CompactJws::parse(std::str::from_utf8(&jwt)?)?.payload_json()?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("no {k} in the request object"))
    };
    let vp = wallet.vp(&text("nonce")?, &text("client_id")?)?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("vp_token", &json!({"badge": [vp]}).to_string())
        .append_pair("state", &text("state")?)
        .finish();
    let (s, body) = call(
        router,
        Request::post(local_path(&text("response_uri")?)?)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form))?,
    )
    .await?;
    anyhow::ensure!(
        s == StatusCode::OK,
        "the answer got {s}: {}",
        String::from_utf8_lossy(&body)
    );
    let (s, body) = call(
        router,
        Request::get(format!("/api/v1/presentation-requests/{}", field("id")?))
            .body(Body::empty())?,
    )
    .await?;
    anyhow::ensure!(
        s == StatusCode::OK && body.windows(18).any(|w| w == b"\"state\":\"verified\""),
        "the request is not verified"
    );
    Ok(())
}
