//! A large store, for `accolade bench --scale-only`: [`ROWS`] badges awarded through
//! the real award pipeline (direct delivery: each one built, checked against the OB 3.0
//! schema, signed and kept with its signed copy, durable batch by batch), then:
//! - the bytes on disk per credential (every file of the data directory);
//! - a fresh `accolade serve` process over that store: the time from its start to
//!   `listening on`, and its resident memory then and after answering requests for
//!   badges spread over the whole store (each badge's page, with its live status
//!   check, and its signed copy);
//! - a second start over the same store. The embedded store replays at start-up the
//!   log written since it was last opened (it records where it stands only when
//!   it opens), so the first start after a million awards replays all of them and a
//!   restart does not.
//!
//! With `--scale-dir` the store is kept, and a later run over a directory that holds
//! one measures it again without filling it.
//!
//! The service's own caches are part of the resident figure: the store's page cache holds at
//! most 64 MiB, and the verify pipeline's key and list caches are small.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::json;

/// Credentials in the store.
pub const ROWS: usize = 1_000_000;
/// Awards per durable batch while filling.
const BATCH: usize = 5_000;
const PUBLIC_URL: &str = "https://badges.example.edu";

#[derive(Debug, Clone)]
pub struct ScaleBench {
    pub rows: usize,
    /// `None`: the store was filled by an earlier run.
    pub fill_seconds: Option<f64>,
    pub bytes_on_disk: u64,
    /// From spawning `accolade serve` to its `listening on` line.
    pub start_seconds: f64,
    /// The same, for a second start right after the first.
    pub restart_seconds: f64,
    /// Resident memory of that process once listening, and after the requests.
    pub rss_ready: u64,
    pub rss_after: u64,
    pub requests: usize,
}

impl ScaleBench {
    pub fn bytes_per_credential(&self) -> f64 {
        self.bytes_on_disk as f64 / self.rows as f64
    }
}

/// Runs the benchmark in `keep` (filled unless it holds a store already) or in a
/// scratch directory.
pub fn run(rows: usize, keep: Option<&Path>) -> anyhow::Result<ScaleBench> {
    match keep {
        Some(dir) => measure(dir, rows),
        None => super::in_scratch_dir(|dir| measure(dir, rows)),
    }
}

/// The sample of award ids a filled store keeps beside it.
const SAMPLE: &str = "scale-sample.txt";

fn measure(dir: &Path, rows: usize) -> anyhow::Result<ScaleBench> {
    let sample = dir.join(SAMPLE);
    let (fill_seconds, ids, rows) = if sample.exists() {
        let text = std::fs::read_to_string(&sample)?;
        let mut lines = text.lines();
        let rows = lines.next().and_then(|n| n.parse().ok()).ok_or_else(|| {
            anyhow::anyhow!("{} does not start with its row count", sample.display())
        })?;
        (None, lines.map(str::to_owned).collect(), rows)
    } else {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let (fill_seconds, ids) = rt.block_on(fill(dir, rows))?;
        drop(rt);
        std::fs::write(&sample, format!("{rows}\n{}\n", ids.join("\n")))?;
        (Some(fill_seconds), ids, rows)
    };
    let bytes_on_disk = size_of(&dir.join("data"))?;
    let first = serve_over(dir, &ids)?;
    let again = serve_over(dir, &[])?;
    Ok(ScaleBench {
        rows,
        fill_seconds,
        bytes_on_disk,
        start_seconds: first.0,
        restart_seconds: again.0,
        rss_ready: first.1,
        rss_after: first.2,
        requests: first.3,
    })
}

/// Awards `rows` badges; returns the time taken and a sample of award ids spread over
/// the store.
async fn fill(dir: &Path, rows: usize) -> anyhow::Result<(f64, Vec<String>)> {
    let (state, store) = super::bench_state(dir).await?;
    state
        .issuer
        .set_profile(crate::issue::IssuerProfile {
            name: "Example University".into(),
            ..Default::default()
        })
        .await?;
    let achievement = state
        .issuer
        .create_achievement(&super::bench_achievement())
        .await?;
    let started = Instant::now();
    let mut ids = Vec::new();
    let mut done = 0;
    while done < rows {
        let n = BATCH.min(rows - done);
        let reqs = (done..done + n)
            .map(|i| {
                serde_json::from_value::<crate::issue::AwardRequest>(json!({
                    "achievement_id": achievement.achievement.id,
                    "delivery": "direct",
                    "recipient": {
                        "name": format!("Earner {i}"),
                        "email": format!("earner{i}@example.org"),
                        "id": "did:key:z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi",
                    },
                }))
                .map_err(|e| crate::issue::Error::invalid("row", &e.to_string()))
            })
            .collect();
        for (k, out) in state
            .issuer
            .award_batch(reqs)
            .await?
            .into_iter()
            .enumerate()
        {
            let out = out?;
            if (done + k) % (rows / 100).max(1) == 0 {
                ids.push(out.record.id.to_string());
            }
        }
        done += n;
    }
    store.flush().await?;
    let fill_seconds = started.elapsed().as_secs_f64();
    drop(state);
    drop(store);
    Ok((fill_seconds, ids))
}

fn size_of(path: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            size_of(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// The resident set of a process, in bytes (`VmRSS` of /proc/<pid>/status).
fn rss_of(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for process {pid}"))?;
    Ok(kb * 1024)
}

/// One plain HTTP/1.1 request; the status code.
fn request(addr: &str, method: &str, path: &str, body: &str) -> anyhow::Result<u16> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)?;
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line from {addr}"))
}

/// Starts `accolade serve` over the filled store, times it and reads its memory.
fn serve_over(dir: &Path, ids: &[String]) -> anyhow::Result<(f64, u64, u64, usize)> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            PUBLIC_URL,
        ])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--keys-dir")
        .arg(dir.join("keys"))
        .env("ACCOLADE_ADMIN_TOKEN", "scale-bench-admin-token-0123456789")
        .env("ACCOLADE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let result = (|| {
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                let mut why = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut why);
                }
                anyhow::bail!("the service ended before listening: {why}");
            };
            let line = line?;
            if let Some(rest) = line.strip_prefix("listening on http://") {
                break rest.trim().to_owned();
            }
        };
        let start_seconds = started.elapsed().as_secs_f64();
        let rss_ready = rss_of(child.id())?;
        let mut requests = 0;
        for id in ids {
            anyhow::ensure!(
                request(&addr, "GET", &format!("/badges/{id}"), "")? == 200,
                "the page of badge {id}"
            );
            let jwt_path = format!("/badges/{id}/credential.jwt");
            anyhow::ensure!(request(&addr, "GET", &jwt_path, "")? == 200);
            requests += 2;
        }
        let rss_after = rss_of(child.id())?;
        Ok((start_seconds, rss_ready, rss_after, requests))
    })();
    let _ = child.kill();
    let _ = child.wait();
    result
}
