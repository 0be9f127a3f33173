//! What the service has done, counted for Prometheus.
//!
//! One process-wide registry ([`metrics`]) of counters and histograms, written with
//! relaxed atomics on the paths they count (a counter costs one uncontended atomic
//! add; a route's histogram a read lock and three adds) and rendered on demand in the
//! Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines,
//! then one sample per line, histograms as cumulative `_bucket{le=...}` samples with
//! `_sum` and `_count`.
//!
//! The module depends on nothing else in the crate, so every module can count into
//! it; gauges that are read rather than counted (store size, refusals kept by the
//! admission layer) are passed to [`Metrics::render`] by the caller.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::Duration;

/// Upper bounds (seconds) of the latency buckets: 100 µs to 10 s.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0,
];

/// Upper bounds of the flush batch-size buckets (writes made durable by one fsync).
pub const BATCH_BUCKETS: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Observations in fixed buckets, with their sum (kept in millionths) and count.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, v: f64) {
        // Only the first bucket that holds the value is counted; rendering makes the
        // counts cumulative.
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let micros = (v.max(0.0) * 1e6).round();
        // A float past u64 saturates in `as`; no observation comes near it.
        self.sum_micros.fetch_add(micros as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in self.bounds.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = |s: &str| {
            if s.is_empty() {
                String::new()
            } else {
                format!("{{{s}}}")
            }
        };
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
        let _ = writeln!(out, "{name}_count{} {count}", braces(labels));
    }
}

/// A family of counters told apart by label values, created on first use.
#[derive(Debug, Default)]
pub struct CounterVec(RwLock<BTreeMap<String, Arc<Counter>>>);

/// Label values joined into one map key (a separator no label value holds).
const SEP: char = '\u{1f}';

/// Looks `labels` up in `map` with their joined key built in a reused buffer: a
/// series that exists costs no allocation (every HTTP request counts two).
fn lookup<T: Clone>(
    map: &RwLock<BTreeMap<String, T>>,
    labels: &[&str],
    new: impl FnOnce() -> T,
) -> T {
    thread_local! {
        static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    KEY.with(|k| {
        let mut key = k.borrow_mut();
        key.clear();
        for (i, l) in labels.iter().enumerate() {
            if i > 0 {
                key.push(SEP);
            }
            key.push_str(l);
        }
        if let Some(v) = map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key.as_str())
        {
            return v.clone();
        }
        map.write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key.clone())
            .or_insert_with(new)
            .clone()
    })
}

fn split(key: &str) -> Vec<String> {
    key.split(SEP).map(str::to_owned).collect()
}

impl CounterVec {
    pub fn with(&self, labels: &[&str]) -> Arc<Counter> {
        lookup(&self.0, labels, Arc::default)
    }

    pub fn inc(&self, labels: &[&str]) {
        self.with(labels).inc();
    }

    fn entries(&self) -> Vec<(Vec<String>, u64)> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, c)| (split(k), c.get()))
            .collect()
    }
}

/// A family of histograms told apart by label values.
#[derive(Debug)]
pub struct HistogramVec {
    bounds: &'static [f64],
    map: RwLock<BTreeMap<String, Arc<Histogram>>>,
}

impl HistogramVec {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            map: RwLock::default(),
        }
    }

    pub fn with(&self, labels: &[&str]) -> Arc<Histogram> {
        lookup(&self.map, labels, || Arc::new(Histogram::new(self.bounds)))
    }
}

/// Every metric the service keeps.
#[derive(Debug)]
pub struct Metrics {
    /// Awards recorded, by `delivery` (`direct`, `offer`).
    pub awards: CounterVec,
    /// Signed badges handed to earners, by `via` (`wallet`, `web`).
    pub claims: CounterVec,
    /// Verifications answered, by `kind` (`credential`, `presentation`) and `outcome`
    /// (`verified`, `failed`).
    pub verifications: CounterVec,
    /// HTTP requests answered, by `route` (the route's pattern, never the path: paths
    /// hold secrets), `method` and `status` class.
    pub requests: CounterVec,
    /// Their latency, by `route` and `method`.
    pub latency: HistogramVec,
    /// Outbound fetches, by `result` (`ok`, `error`, `limited`).
    pub fetches: CounterVec,
    /// Outbound fetch latency.
    pub fetch_latency: Histogram,
    /// Status lists re-encoded for publication.
    pub list_publications: Counter,
    /// Writes made durable by one flush.
    pub flush_batch: Histogram,
    /// E-mails, by `result` (`sent`, `failed`).
    pub emails: CounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            awards: CounterVec::default(),
            claims: CounterVec::default(),
            verifications: CounterVec::default(),
            requests: CounterVec::default(),
            latency: HistogramVec::new(&LATENCY_BUCKETS),
            fetches: CounterVec::default(),
            fetch_latency: Histogram::new(&LATENCY_BUCKETS),
            list_publications: Counter::default(),
            flush_batch: Histogram::new(&BATCH_BUCKETS),
            emails: CounterVec::default(),
        }
    }
}

/// Values read at scrape time rather than counted.
#[derive(Debug, Default, Clone)]
pub struct Gauges {
    /// Bytes the store takes on disk, when the backend can tell.
    pub store_bytes: Option<u64>,
    /// Refusals by cause (`429`, `503`, `413`, `408`, connections, outbound).
    pub refusals: Vec<(&'static str, u64)>,
    /// Seconds since the process started.
    pub uptime_seconds: f64,
    /// The running version.
    pub version: &'static str,
}

/// A label value escaped as the text format asks (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn label_set(names: &[&str], values: &[String]) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
        .collect::<Vec<_>>()
        .join(",")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn counter_family(out: &mut String, name: &str, help: &str, names: &[&str], v: &CounterVec) {
    header(out, name, "counter", help);
    for (values, n) in v.entries() {
        let _ = writeln!(out, "{name}{{{}}} {n}", label_set(names, &values));
    }
}

impl Metrics {
    /// The registry in the Prometheus text format.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::with_capacity(16 * 1024);
        header(
            &mut out,
            "accolade_build_info",
            "gauge",
            "The running version.",
        );
        let _ = writeln!(
            out,
            "accolade_build_info{{version=\"{}\"}} 1",
            escape(g.version)
        );
        header(
            &mut out,
            "accolade_uptime_seconds",
            "gauge",
            "Seconds since the process started.",
        );
        let _ = writeln!(out, "accolade_uptime_seconds {:.3}", g.uptime_seconds);
        counter_family(
            &mut out,
            "accolade_awards_total",
            "Awards recorded, by delivery (direct or offer).",
            &["delivery"],
            &self.awards,
        );
        counter_family(
            &mut out,
            "accolade_claims_total",
            "Signed badges handed to earners, by way (wallet or web).",
            &["via"],
            &self.claims,
        );
        counter_family(
            &mut out,
            "accolade_verifications_total",
            "Verifications answered, by kind and outcome.",
            &["kind", "outcome"],
            &self.verifications,
        );
        counter_family(
            &mut out,
            "accolade_http_requests_total",
            "HTTP requests answered, by route pattern, method and status class.",
            &["route", "method", "status"],
            &self.requests,
        );
        let name = "accolade_http_request_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Time to answer an HTTP request, by route pattern and method.",
        );
        let routes: Vec<(Vec<String>, Arc<Histogram>)> = self
            .latency
            .map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, h)| (split(k), h.clone()))
            .collect();
        for (values, h) in routes {
            h.render(&mut out, name, &label_set(&["route", "method"], &values));
        }
        counter_family(
            &mut out,
            "accolade_outbound_fetches_total",
            "Outbound fetches (DID documents, status lists, keys, OB 2.0 documents), by result.",
            &["result"],
            &self.fetches,
        );
        let name = "accolade_outbound_fetch_duration_seconds";
        header(&mut out, name, "histogram", "Time an outbound fetch took.");
        self.fetch_latency.render(&mut out, name, "");
        header(
            &mut out,
            "accolade_status_list_publications_total",
            "counter",
            "Status lists re-encoded for publication.",
        );
        let _ = writeln!(
            out,
            "accolade_status_list_publications_total {}",
            self.list_publications.get()
        );
        let name = "accolade_store_flush_batch_size";
        header(
            &mut out,
            name,
            "histogram",
            "Writes made durable by one flush of the store.",
        );
        self.flush_batch.render(&mut out, name, "");
        counter_family(
            &mut out,
            "accolade_emails_total",
            "E-mails handed to the SMTP server, by result.",
            &["result"],
            &self.emails,
        );
        header(
            &mut out,
            "accolade_refusals_total",
            "counter",
            "Requests, connections and outbound fetches refused by a limit, by cause.",
        );
        for (cause, n) in &g.refusals {
            let _ = writeln!(out, "accolade_refusals_total{{cause=\"{cause}\"}} {n}");
        }
        if let Some(bytes) = g.store_bytes {
            header(
                &mut out,
                "accolade_store_bytes",
                "gauge",
                "Bytes the store takes on disk.",
            );
            let _ = writeln!(out, "accolade_store_bytes {bytes}");
        }
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::default);
static STARTED: LazyLock<std::time::Instant> = LazyLock::new(std::time::Instant::now);

/// Starts the uptime clock (the service calls this as it starts).
pub fn mark_start() {
    LazyLock::force(&STARTED);
}

/// Time since [`mark_start`] (or since the first call to this).
pub fn uptime() -> Duration {
    STARTED.elapsed()
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_histogram_renders_cumulative_buckets_with_sum_and_count() {
        let h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.05);
        h.observe(0.5);
        h.observe(0.7);
        h.observe(3.0);
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"/a\"");
        assert_eq!(
            out,
            "x_bucket{route=\"/a\",le=\"0.1\"} 1\n\
             x_bucket{route=\"/a\",le=\"1\"} 3\n\
             x_bucket{route=\"/a\",le=\"+Inf\"} 4\n\
             x_sum{route=\"/a\"} 4.25\n\
             x_count{route=\"/a\"} 4\n"
        );
    }

    #[test]
    fn label_values_are_escaped_and_families_carry_help_and_type() {
        let m = Metrics::default();
        m.requests.inc(&["/a\"b\\c\nd", "GET", "2xx"]);
        m.requests.inc(&["/a\"b\\c\nd", "GET", "2xx"]);
        m.awards.inc(&["direct"]);
        let text = m.render(&Gauges {
            refusals: vec![("busy", 3)],
            store_bytes: Some(4096),
            uptime_seconds: 1.5,
            version: "1.2.3",
        });
        assert!(text.contains(
            "accolade_http_requests_total{route=\"/a\\\"b\\\\c\\nd\",method=\"GET\",status=\"2xx\"} 2\n"
        ));
        assert!(text.contains("# TYPE accolade_awards_total counter\n"));
        assert!(text.contains("accolade_awards_total{delivery=\"direct\"} 1\n"));
        assert!(text.contains("accolade_refusals_total{cause=\"busy\"} 3\n"));
        assert!(text.contains("accolade_store_bytes 4096\n"));
        assert!(text.contains("accolade_build_info{version=\"1.2.3\"} 1\n"));
        // Every sample line belongs to a family announced before it.
        let mut announced = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                announced.insert(rest.split(' ').next().unwrap_or_default().to_owned());
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap_or_default();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| announced.contains(*f)))
                    .unwrap_or(name);
                assert!(announced.contains(family), "{line}");
            }
        }
    }
}
