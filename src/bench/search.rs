//! The staff console's credential search, for `accolade bench --search-only`: a store
//! of [`ROWS`] awards (names, e-mail addresses, four achievements, some revoked,
//! suspended, waiting or expired), then each console search page rendered through the
//! router in process with a signed-in owner's session, timed from request to the last
//! byte of the page, and the dashboard. The awards are written straight to the store (no signing): the
//! figure is the search and the page, not the award pipeline.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::clock::from_unix;
use crate::records::{AchievementRef, Award, AwardState, Recipient, Role};
use crate::status::StatusSlot;

/// Awards in the store.
pub const ROWS: usize = 1_000_000;

const FIRST: [&str; 16] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Tim",
    "Radia", "Ken", "Dennis", "Shafi", "Leslie", "Tony",
];
const LAST: [&str; 16] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Backus",
    "Hamilton",
    "Berners",
    "Perlman",
    "Thompson",
    "Ritchie",
    "Goldwasser",
    "Lamport",
    "Hoare",
];

/// One search and its time (median of the runs).
#[derive(Debug, Clone)]
pub struct Timing {
    pub what: String,
    pub query: String,
    pub results: usize,
    pub median: Duration,
}

#[derive(Debug, Clone)]
pub struct SearchBench {
    pub rows: usize,
    pub fill_seconds: f64,
    pub timings: Vec<Timing>,
}

/// Runs the benchmark in a scratch directory.
pub fn run(rows: usize) -> anyhow::Result<SearchBench> {
    super::in_scratch_dir(|dir| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rt.block_on(run_in(dir, rows))
    })
}

fn award(i: usize, achievement: uuid::Uuid, now: i64) -> Award {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    // Every 1,000th earner has a rare family name.
    let last = if i % 1000 == 7 { "Zuse" } else { last };
    let state = if i % 10 == 3 {
        AwardState::Offered
    } else {
        AwardState::Issued
    };
    Award {
        id: uuid::Uuid::new_v4(),
        seq: 0,
        achievement: AchievementRef {
            key: achievement,
            revision: 1,
        },
        recipient: Recipient {
            name: Some(format!("{first} {last}")),
            email: Some(format!("earner{i}@example.org")),
            id: None,
        },
        state,
        salt: "6c1f0e2a9d10b6d3".into(),
        valid_from: from_unix(now - 86_400 * 400),
        // One in 200 has expired; the others expire in two years.
        valid_until: Some(from_unix(if i % 200 == 5 {
            now - 86_400
        } else {
            now + 86_400 * 730
        })),
        tx_code_required: true,
        approval_required: false,
        extras: None,
        issued: vec![],
        revoked: i % 100 == 11,
        suspended: i % 1000 == 13,
        status: Some(StatusSlot {
            list: (i / 131_072) as u32 + 1,
            index: (i % 131_072) as u32,
        }),
        wallet: Default::default(),
        created_at: from_unix(now - 86_400),
        updated_at: from_unix(now - 86_400),
    }
}

async fn run_in(dir: &std::path::Path, rows: usize) -> anyhow::Result<SearchBench> {
    let (state, store) = super::bench_state(dir).await?;
    let mut keys = Vec::new();
    for n in 0..4 {
        let mut a = super::bench_achievement();
        a["name"] = serde_json::json!(format!("Achievement {n}"));
        let rec = state.issuer.create_achievement(&a).await?;
        keys.push(rec.key);
    }
    let now = state.clock.now().unix_timestamp();
    let started = Instant::now();
    for i in 0..rows {
        let mut a = award(i, keys[i % keys.len()], now);
        store.awards.insert_award(&mut a, &[], &[]).await?;
    }
    store.flush().await?;
    let fill_seconds = started.elapsed().as_secs_f64();

    state
        .staff
        .add(
            "owner@example.edu",
            "Bench Owner",
            Role::Owner,
            Some("a bench passphrase 2026"),
        )
        .await?;
    let s = state
        .staff
        .sign_in(
            "owner@example.edu",
            "a bench passphrase 2026",
            None,
            None,
            None,
        )
        .await?;
    let cookie = format!("accolade_session={}", s.cookie);
    let router = crate::http::router(state.clone());
    let ach = keys[1].to_string();
    let searches: Vec<(&str, String)> = vec![
        ("newest page, no filter", String::new()),
        (
            "one earner by e-mail",
            "q=earner123456%40example.org".into(),
        ),
        ("a rare name word (1 in 1,000)", "q=zuse".into()),
        ("a common name word (1 in 16)", "q=lovelace".into()),
        ("first and family name", "q=grace+hopper".into()),
        ("revoked (1 in 100)", "state=revoked".into()),
        ("suspended (1 in 1,000)", "state=suspended".into()),
        ("waiting to be claimed (1 in 10)", "state=offered".into()),
        ("one achievement (1 in 4)", format!("achievement={ach}")),
        (
            "expired (1 in 200, no index: a walk)",
            "state=expired".into(),
        ),
        (
            "common name word and revoked",
            "q=lovelace&state=revoked".into(),
        ),
    ];
    let mut timings = Vec::new();
    for (what, query) in searches {
        let uri = format!("/admin/credentials?{query}");
        let mut times = Vec::new();
        let mut results = 0;
        for _ in 0..5 {
            let req = Request::get(&uri)
                .header(header::COOKIE, &cookie)
                .body(Body::empty())?;
            let t = Instant::now();
            let res = router.clone().oneshot(req).await?;
            let status = res.status();
            let body = res.into_body().collect().await?.to_bytes();
            times.push(t.elapsed());
            anyhow::ensure!(status == StatusCode::OK, "{uri}: {status}");
            results = String::from_utf8_lossy(&body)
                .matches("<tr data-credential=")
                .count();
        }
        times.sort();
        timings.push(Timing {
            what: what.to_owned(),
            query,
            results,
            median: times[times.len() / 2],
        });
    }
    // The dashboard: the first load counts every award (keys only), later loads read
    // the totals the store keeps.
    let mut times = Vec::new();
    for _ in 0..6 {
        let req = Request::get("/admin")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())?;
        let t = Instant::now();
        let res = router.clone().oneshot(req).await?;
        let status = res.status();
        let _ = res.into_body().collect().await?;
        times.push(t.elapsed());
        anyhow::ensure!(status == StatusCode::OK, "/admin: {status}");
    }
    timings.push(Timing {
        what: "dashboard, first load (counts keys)".into(),
        query: String::new(),
        results: 0,
        median: times[0],
    });
    let mut later = times[1..].to_vec();
    later.sort();
    timings.push(Timing {
        what: "dashboard, later loads".into(),
        query: String::new(),
        results: 0,
        median: later[later.len() / 2],
    });
    Ok(SearchBench {
        rows,
        fill_seconds,
        timings,
    })
}
