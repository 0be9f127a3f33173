//! E-mail, for `accolade bench --mail-only`: a CSV award of [`ROWS`] earners with
//! `delivery` `email` through the router, then the outbox worker handing every message
//! to an SMTP server on this machine (the in-process [`crate::mail::sink`], so the
//! figure is this service's side: rendering, the outbox's writes and flushes, SMTP).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;

use crate::mail::sink::SmtpSink;

/// Rows in the CSV award.
pub const ROWS: usize = 10_000;

/// The figures.
#[derive(Debug, Clone, Copy)]
pub struct MailBench {
    pub rows: usize,
    /// The batch award (CSV parsed, awards and their outbox messages written, flushed).
    pub award_seconds: f64,
    /// From the first send to the last message the sink acknowledged.
    pub send_seconds: f64,
}

impl MailBench {
    pub fn awards_per_sec(&self) -> f64 {
        self.rows as f64 / self.award_seconds
    }

    pub fn mails_per_sec(&self) -> f64 {
        self.rows as f64 / self.send_seconds
    }
}

/// Runs the benchmark in a temporary directory.
pub fn run(rows: usize) -> anyhow::Result<MailBench> {
    let dir = tempfile_dir()?;
    let out = run_in(&dir, rows);
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("accolade-bench-mail-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn run_in(dir: &std::path::Path, rows: usize) -> anyhow::Result<MailBench> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let sink = SmtpSink::start().await?;
        let (mut state, _) = super::bench_state(dir).await?;
        state.set_smtp(crate::mail::SmtpConfig::parse(
            &sink.url(),
            "Example Badges <badges@example.edu>",
            None,
            None,
        )?)?;
        let ach = state
            .issuer
            .create_achievement(&super::bench_achievement())
            .await?;
        let mut csv = String::from("achievement_id,name,email,delivery\n");
        for i in 0..rows {
            csv.push_str(&format!(
                "{},Earner {i},earner{i}@example.org,email\n",
                ach.achievement.id
            ));
        }
        let router = crate::http::router(state.clone());
        let started = Instant::now();
        let res = router
            .oneshot(
                Request::post("/api/v1/awards/batch")
                    .header(header::AUTHORIZATION, "Bearer bench")
                    .header(header::CONTENT_TYPE, "text/csv")
                    .body(Body::from(csv))?,
            )
            .await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        anyhow::ensure!(
            status == StatusCode::OK,
            "the batch award failed: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let award_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let mut sent = 0;
        while sent < rows {
            let d = state.mail.deliver_due().await?;
            anyhow::ensure!(d.total() > 0, "the outbox stalled after {sent} messages");
            anyhow::ensure!(
                d.failed == 0 && d.retried == 0,
                "messages were refused: {d:?}"
            );
            sent += d.sent;
        }
        let got = sink.wait_for(rows, Duration::from_secs(30)).await;
        let send_seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(got == rows, "the sink has {got} of {rows} messages");
        Ok(MailBench {
            rows,
            award_seconds,
            send_seconds,
        })
    })
}
