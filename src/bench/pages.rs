//! Public pages, for `accolade bench`, on one thread and in the same run:
//! - the verify pipeline on this service's own badge (what a badge page's live status
//!   check runs), the yardstick;
//! - badge pages rendered per second through the router with the live check on every
//!   view (no reuse of an earlier verification), and with the short reuse the service
//!   runs with;
//! - the catalogue rendered per second;
//! - PNG bakes per second (the 600 px badge image, credential chunk inserted, CRCs
//!   written), and the baked PNG downloaded through the router;
//! - the earner's private page and published profile (three badges of theirs), first
//!   among the few awards above, then with [`CROWD`] awards to other people in the
//!   store: finding an earner's awards reads the award listing, so this is the figure
//!   that falls as a store grows;
//! - the verify page answering a pasted JWT (multipart form in, the page out).

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::json;
use tower::ServiceExt as _;

use crate::issue::AwardRequest;

/// The figures.
#[derive(Debug, Clone)]
pub struct PagesBench {
    /// The verify pipeline on the badge the page shows, one thread.
    pub verify_per_sec: f64,
    /// Badge pages with the live status check on every view.
    pub badge_pages_per_sec: f64,
    /// Badge pages reusing a verification for a few seconds (as the service runs).
    pub badge_pages_cached_per_sec: f64,
    pub catalogue_per_sec: f64,
    /// `bake_png` on the 600 px badge image.
    pub bakes_per_sec: f64,
    /// `GET /badges/{id}/badge.png` through the router.
    pub png_downloads_per_sec: f64,
    pub png_bytes: usize,
    /// The earner's manage page and profile among a handful of awards.
    pub earner_page_per_sec: f64,
    pub profile_per_sec: f64,
    /// The same with [`CROWD`] more awards to other people in the store.
    pub earner_page_crowd_per_sec: f64,
    pub profile_crowd_per_sec: f64,
    /// `POST /verify` with a pasted JWT.
    pub verify_page_per_sec: f64,
}

/// Awards to other people added for the second earner-page figures.
pub const CROWD: usize = 2_000;

impl PagesBench {
    /// Badge pages (live check) as a fraction of the verify pipeline.
    pub fn ratio(&self) -> f64 {
        self.badge_pages_per_sec / self.verify_per_sec
    }
}

async fn get(router: &Router, path: &str, accept: &str) -> anyhow::Result<usize> {
    let res = router
        .clone()
        .oneshot(
            Request::get(path)
                .header(header::ACCEPT, accept)
                .body(Body::empty())?,
        )
        .await?;
    let status = res.status();
    let bytes = res.into_body().collect().await?.to_bytes();
    if status != StatusCode::OK {
        anyhow::bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
    }
    Ok(bytes.len())
}

pub(crate) async fn rate<F, Fut>(window: Duration, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..10 {
        f().await?;
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < window {
        f().await?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Runs the page benchmark, `window` per measurement.
pub fn run(window: Duration) -> anyhow::Result<PagesBench> {
    super::in_scratch_dir(|dir| run_in(dir, window))
}

fn run_in(dir: &std::path::Path, window: Duration) -> anyhow::Result<PagesBench> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let (state, _) = super::bench_state(dir).await?;
        let issuer = state.issuer.clone();
        let ach = issuer
            .create_achievement(&super::bench_achievement())
            .await?;
        for name in ["Cloud Practitioner", "Security Specialist", "Data Engineer"] {
            let mut input = super::bench_achievement();
            input["name"] = json!(name);
            issuer.create_achievement(&input).await?;
        }
        let req: AwardRequest = serde_json::from_value(json!({
            "achievement_id": ach.achievement.id,
            "recipient": {"name": "Ada Lovelace", "email": "ada@example.org",
                          "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"},
            "delivery": "direct",
        }))?;
        let out = issuer.award(req).await?;
        let jwt = out
            .credential
            .clone()
            .ok_or_else(|| anyhow::anyhow!("a direct award has no credential"))?;
        let id = out.record.id;
        let page = format!("/badges/{id}");
        const HTML: &str = "text/html";

        let verifier = state.verifier.clone();
        let verify_per_sec = rate(window, || {
            let (v, jwt) = (verifier.clone(), jwt.clone());
            async move {
                let r = v.verify_jwt(&jwt).await?;
                anyhow::ensure!(r.verified, "the badge does not verify");
                Ok(())
            }
        })
        .await?;

        let mut live = state.clone();
        live.set_page_status_ttl(Duration::ZERO);
        let live_router = crate::http::router(live);
        let badge_pages_per_sec = rate(window, || {
            let (r, p) = (live_router.clone(), page.clone());
            async move { get(&r, &p, HTML).await.map(drop) }
        })
        .await?;

        let router = crate::http::router(state.clone());
        let badge_pages_cached_per_sec = rate(window, || {
            let (r, p) = (router.clone(), page.clone());
            async move { get(&r, &p, HTML).await.map(drop) }
        })
        .await?;
        let catalogue_per_sec = rate(window, || {
            let r = router.clone();
            async move { get(&r, "/", HTML).await.map(drop) }
        })
        .await?;

        let badge = match state.pages.find_badge(&id.to_string()).await? {
            crate::views::BadgeLookup::Found(b) => b,
            _ => anyhow::bail!("the badge has no page"),
        };
        let art = state.pages.badge_art(&badge).await?;
        let png = state.catalogue.png(&art, 600).await?;
        let png_bytes = crate::bake::bake_png(&png, &jwt)?.len();
        let bakes_per_sec = rate(window, || {
            let r = crate::bake::bake_png(&png, &jwt)
                .map(drop)
                .map_err(Into::into);
            async move { r }
        })
        .await?;
        let png_path = format!("{page}/badge.png");
        let png_downloads_per_sec = rate(window, || {
            let (r, p) = (router.clone(), png_path.clone());
            async move { get(&r, &p, "image/png").await.map(drop) }
        })
        .await?;
        // The earner: three badges to one address, a published profile.
        let mut mine = Vec::new();
        for i in 0..3 {
            let req: AwardRequest = serde_json::from_value(json!({
                "achievement_id": ach.achievement.id,
                "recipient": {"name": "Grace Hopper", "email": "grace@example.org",
                              "id": format!("did:example:grace-{i}")},
                "delivery": "direct",
            }))?;
            mine.push(issuer.award(req).await?.record);
        }
        let manage_url = state
            .earners
            .manage_url(&mine[0])
            .await?
            .ok_or_else(|| anyhow::anyhow!("the earner has no page"))?;
        let manage = manage_url
            .strip_prefix(&issuer.identifier())
            .unwrap_or(&manage_url)
            .to_owned();
        let (award, mac) = manage
            .trim_start_matches("/earner/")
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("unexpected manage link {manage}"))?;
        let earner = state.earners.open(award, mac).await?;
        state
            .earners
            .change(
                &earner,
                crate::earners::Change::Profile {
                    handle: "grace-hopper".into(),
                    headline: None,
                },
            )
            .await?;
        let earner = state.earners.open(award, mac).await?;
        state
            .earners
            .change(&earner, crate::earners::Change::Publish(true))
            .await?;
        let earner_pages = |router: Router| {
            let manage = manage.clone();
            async move {
                let earner = rate(window, || {
                    let (r, p) = (router.clone(), manage.clone());
                    async move { get(&r, &p, HTML).await.map(drop) }
                })
                .await?;
                let profile = rate(window, || {
                    let r = router.clone();
                    async move { get(&r, "/profiles/grace-hopper", HTML).await.map(drop) }
                })
                .await?;
                anyhow::Ok((earner, profile))
            }
        };
        let (earner_page_per_sec, profile_per_sec) = earner_pages(router.clone()).await?;

        let boundary = "bench-boundary";
        let form = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"method\"\r\n\r\npaste\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"credential\"\r\n\r\n{jwt}\r\n\
             --{boundary}--\r\n"
        );
        let verify_page_per_sec = rate(window, || {
            let (r, body) = (router.clone(), form.clone());
            async move {
                let res = r
                    .oneshot(
                        Request::post("/verify")
                            .header(
                                header::CONTENT_TYPE,
                                format!("multipart/form-data; boundary={boundary}"),
                            )
                            .body(Body::from(body))?,
                    )
                    .await?;
                let bytes = res.into_body().collect().await?.to_bytes();
                let needle: &[u8] = b"data-verdict=\"authentic\"";
                anyhow::ensure!(
                    bytes.windows(needle.len()).any(|w| w == needle),
                    "the verify page did not say authentic"
                );
                Ok(())
            }
        })
        .await?;

        for i in 0..CROWD {
            let req: AwardRequest = serde_json::from_value(json!({
                "achievement_id": ach.achievement.id,
                "recipient": {"name": "Someone Else", "email": format!("person{i}@example.org")},
            }))?;
            issuer.award(req).await?;
        }
        let (earner_page_crowd_per_sec, profile_crowd_per_sec) =
            earner_pages(router.clone()).await?;

        Ok(PagesBench {
            earner_page_per_sec,
            profile_per_sec,
            earner_page_crowd_per_sec,
            profile_crowd_per_sec,
            verify_page_per_sec,
            verify_per_sec,
            badge_pages_per_sec,
            badge_pages_cached_per_sec,
            catalogue_per_sec,
            bakes_per_sec,
            png_downloads_per_sec,
            png_bytes,
        })
    })
}
