//! `accolade bench`: prints badges issued per second beside the raw signature rate,
//! and the durability, claim, verification and page figures.

use std::time::Duration;

use clap::Args;

use crate::jose::Algorithm;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds per measurement.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,
    /// Only this algorithm (default: ES256, RS256 and EdDSA).
    #[arg(long, value_parser = clap::value_parser!(Algorithm))]
    pub alg: Option<Algorithm>,
    /// Concurrent clients for the durability figures.
    #[arg(long, default_value_t = 128)]
    pub clients: usize,
    /// Concurrent wallets for the OpenID4VCI claim figures.
    #[arg(long, default_value_t = 64)]
    pub wallets: usize,
    /// Only the OpenID4VCI claim figures (with the raw ES256 rates they compare to).
    #[arg(long)]
    pub claims_only: bool,
    /// Concurrent clients of /api/v1/verify for the verification figures.
    #[arg(long, default_value_t = 64)]
    pub verifiers: usize,
    /// Only the verification figures.
    #[arg(long)]
    pub verify_only: bool,
    /// Only the award figures (with the ES256 build-and-sign rate they compare to).
    #[arg(long)]
    pub awards_only: bool,
    /// Only the public page figures (badge pages beside the verify pipeline, PNG bakes).
    #[arg(long)]
    pub pages_only: bool,
    /// Only the e-mail figures: a CSV award by e-mail and the messages handed to an
    /// SMTP server on this machine.
    #[arg(long)]
    pub mail_only: bool,
    /// Rows of the e-mail benchmark's CSV award.
    #[arg(long, default_value_t = crate::bench::mail::ROWS)]
    pub mail_rows: usize,
    /// Also measure awards on this PostgreSQL database (one node, then two nodes in
    /// this process), in a schema of their own that is dropped afterwards.
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Only the Data Integrity figures (sign and verify per second beside vc+jwt).
    #[arg(long)]
    pub integrity_only: bool,
    /// Only the staff console's credential search over a large store.
    #[arg(long)]
    pub search_only: bool,
    /// Awards in the search benchmark's store.
    #[arg(long, default_value_t = crate::bench::search::ROWS)]
    pub search_rows: usize,
    /// Only the large-store figures: bytes on disk per credential, start-up time and
    /// resident memory of `accolade serve` over a store of --scale-rows badges.
    #[arg(long)]
    pub scale_only: bool,
    /// Badges in the large store (each signed through the award pipeline).
    #[arg(long, default_value_t = crate::bench::scale::ROWS)]
    pub scale_rows: usize,
    /// Keep the large store in this directory (filled when it holds none) instead of a
    /// scratch one, so that later runs measure it again without filling it.
    #[arg(long)]
    pub scale_dir: Option<std::path::PathBuf>,
}

impl clap::builder::ValueParserFactory for Algorithm {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Algorithm>().map_err(|e| e.to_string()))
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let window = Duration::from_secs_f64(args.seconds.clamp(0.05, 60.0));
    let mut es256 = None;
    let algs: Vec<Algorithm> = match args.alg {
        Some(a) => vec![a],
        None => Algorithm::ALL.to_vec(),
    };
    if cfg!(debug_assertions) {
        println!("note: debug build; run `cargo run --release -- bench` for real figures");
    }
    if args.claims_only {
        return claims(args, window, None);
    }
    if args.verify_only {
        return verifications(args, window, &algs);
    }
    if args.pages_only {
        return pages(window);
    }
    if args.mail_only {
        return mail(args.mail_rows);
    }
    if args.search_only {
        return search(args.search_rows);
    }
    if args.scale_only {
        return scale(args.scale_rows, args.scale_dir.as_deref());
    }
    if args.integrity_only {
        return integrity(window);
    }
    if args.awards_only {
        let es = crate::bench::run(Algorithm::ES256, window)?;
        return awards(args, window, &es);
    }
    println!(
        "{:<6} {:>14} {:>16} {:>8} {:>14}",
        "alg", "raw signs/s", "badges/s", "ratio", "verifies/s"
    );
    for &alg in &algs {
        let r = crate::bench::run(alg, window)?;
        if alg == Algorithm::ES256 {
            es256 = Some(r.clone());
        }
        println!(
            "{:<6} {:>14.0} {:>16.0} {:>8.2} {:>14.0}",
            r.alg.name(),
            r.raw_signs_per_sec,
            r.badges_per_sec,
            r.ratio(),
            r.verifies_per_sec
        );
    }
    println!(
        "(one thread; badges/s = build + OB 3.0 schema check + claims + serialise + sign, no store writes)"
    );
    println!();
    let es = match es256 {
        Some(es) => es,
        None => crate::bench::run(Algorithm::ES256, window)?,
    };
    awards(args, window, &es)?;
    println!();
    claims(args, window, Some(es))?;
    println!();
    verifications(args, window, &algs)?;
    println!();
    integrity(window)?;
    println!();
    pages(window)
}

/// Data Integrity sign and verify rates beside the vc+jwt ones of the same run.
fn integrity(window: Duration) -> anyhow::Result<()> {
    let rows = crate::bench::integrity::run(window)?;
    println!(
        "Securing one credential (the OB 3.0 test vector credential, did:key issuer), one thread:"
    );
    println!(
        "  {:<18} {:>12} {:>12}",
        "mechanism", "signs/s", "verifies/s"
    );
    for r in &rows {
        println!(
            "  {:<18} {:>12.0} {:>12.0}",
            r.what, r.signs_per_sec, r.verifies_per_sec
        );
    }
    println!(
        "  (Data Integrity: JSON-LD expansion + RDFC-1.0 canonicalisation + SHA-256 + signature each time, offline contexts; vc+jwt: serialise + sign, parse + verify)"
    );
    Ok(())
}

/// Badge pages beside the verify pipeline of the same run, and PNG bakes.
fn search(rows: usize) -> anyhow::Result<()> {
    let b = crate::bench::search::run(rows.max(1))?;
    println!(
        "Staff console credential search: {} awards written in {:.1} s; each page rendered through the router with an owner's session (median of 5):",
        b.rows, b.fill_seconds
    );
    println!("  {:<40} {:>10} {:>8}  query", "search", "ms", "rows");
    for t in &b.timings {
        println!(
            "  {:<40} {:>10.2} {:>8}  {}",
            t.what,
            t.median.as_secs_f64() * 1000.0,
            t.results,
            t.query
        );
    }
    Ok(())
}

fn scale(rows: usize, dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let b = crate::bench::scale::run(rows.max(1), dir)?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match b.fill_seconds {
        Some(fill) => println!(
            "A store of {} badges, each awarded through the pipeline and kept with its signed copy (filled in {:.0} s, {:.0} awards/s):",
            b.rows,
            fill,
            b.rows as f64 / fill
        ),
        None => println!(
            "A store of {} badges, each awarded through the pipeline and kept with its signed copy (filled before):",
            b.rows
        ),
    }
    println!(
        "  on disk                  {:>10.1} MiB   {:.0} bytes per credential (goal <= 3,072)",
        mib(b.bytes_on_disk),
        b.bytes_per_credential()
    );
    println!(
        "  accolade serve start-up  {:>10.2} s     to `listening on`, {} (goal <= 2 s)",
        b.start_seconds,
        if b.fill_seconds.is_some() {
            "the first start after the writes"
        } else {
            "over a store opened before"
        }
    );
    println!(
        "                           {:>10.2} s     a restart after that start",
        b.restart_seconds
    );
    println!(
        "  resident memory          {:>10.1} MiB   when listening; {:.1} MiB after {} requests for badges across the store (goal <= 64 MiB + the 64 MiB page cache)",
        mib(b.rss_ready),
        mib(b.rss_after),
        b.requests
    );
    Ok(())
}

fn mail(rows: usize) -> anyhow::Result<()> {
    let m = crate::bench::mail::run(rows.max(1))?;
    println!(
        "E-mail (a CSV award with delivery \"email\", then the outbox worker; SMTP sink on this machine):"
    );
    println!(
        "  CSV award of {} rows          {:>8.2} s   {:>10.0} awards/s (outbox messages written with them)",
        m.rows,
        m.award_seconds,
        m.awards_per_sec()
    );
    println!(
        "  e-mails handed to the sink    {:>8.2} s   {:>10.0} e-mails/s",
        m.send_seconds,
        m.mails_per_sec()
    );
    Ok(())
}

fn pages(window: Duration) -> anyhow::Result<()> {
    let p = crate::bench::pages::run(window)?;
    println!(
        "Public pages (one thread, through the router in process; the badge is this service's own ES256 badge):"
    );
    println!(
        "  verify pipeline (own badge)     {:>10.0} /s",
        p.verify_per_sec
    );
    println!(
        "  badge page, live status check   {:>10.0} /s   ratio {:.2} of the pipeline (goal >= 0.5)",
        p.badge_pages_per_sec,
        p.ratio()
    );
    println!(
        "  badge page, status reused {:>2} s  {:>10.0} /s",
        crate::views::STATUS_TTL.as_secs(),
        p.badge_pages_cached_per_sec
    );
    println!(
        "  catalogue page                  {:>10.0} /s",
        p.catalogue_per_sec
    );
    println!(
        "  PNG bakes ({} KiB baked image)  {:>10.0} /s",
        p.png_bytes / 1024,
        p.bakes_per_sec
    );
    println!(
        "  GET /badges/{{id}}/badge.png      {:>10.0} /s",
        p.png_downloads_per_sec
    );
    println!(
        "  earner's page (3 badges)        {:>10.0} /s   with {} other awards stored {:>8.0} /s",
        p.earner_page_per_sec,
        crate::bench::pages::CROWD,
        p.earner_page_crowd_per_sec
    );
    println!(
        "  published profile (3 badges)    {:>10.0} /s   with {} other awards stored {:>8.0} /s",
        p.profile_per_sec,
        crate::bench::pages::CROWD,
        p.profile_crowd_per_sec
    );
    println!(
        "  POST /verify, pasted JWT        {:>10.0} /s",
        p.verify_page_per_sec
    );
    Ok(())
}

/// Awards through the real store beside the build-and-sign rate of the same run, with
/// the goals they are held to.
fn awards(
    args: &BenchArgs,
    window: Duration,
    es256: &crate::bench::BenchResult,
) -> anyhow::Result<()> {
    let s = crate::bench::status::run(args.clients.clamp(1, 4096), window)?;
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per_core = s.in_memory_awards_per_sec / cores as f64;
    let vs_sign = per_core / es256.badges_per_sec;
    let durable = s.durable_awards_per_sec / s.in_memory_awards_per_sec;
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    println!(
        "status list publish (131,072 entries, 1 % revoked, GZIP + base64url, no signature): {:.0} µs, {} bytes",
        s.publish_micros, s.encoded_len
    );
    println!(
        "awards with {} concurrent clients on {cores} core(s) (ES256, direct delivery, real store):",
        s.clients
    );
    println!(
        "  build + sign, one thread {:>10.0} /s   (the yardstick: no store)",
        es256.badges_per_sec
    );
    let cpu = |c: Option<f64>| c.map_or(String::new(), |c| format!("   {c:.0} µs CPU each"));
    println!(
        "  in memory (no flush)     {:>10.0} /s   {per_core:.0} per core = {vs_sign:.2} x build + sign   goal >= 0.50: {}{}",
        s.in_memory_awards_per_sec,
        verdict(vs_sign >= 0.5),
        cpu(s.in_memory_cpu_micros)
    );
    println!(
        "  durable (2 flushes)      {:>10.0} /s   {durable:.2} x in memory   goal >= 0.80: {}{}   ({} awards, {} fsyncs)",
        s.durable_awards_per_sec,
        verdict(durable >= 0.8),
        cpu(s.durable_cpu_micros),
        s.awards,
        s.award_flushes
    );
    println!(
        "revocations, durable       {:>10.0} /s",
        s.durable_revocations_per_sec
    );
    if let Some(url) = &args.database_url {
        let runs = crate::bench::fleet::run(url, args.clients.clamp(1, 4096), window)?;
        println!(
            "awards on PostgreSQL ({}; ES256, direct delivery, {} clients in all):",
            crate::store::postgres::describe(url),
            args.clients.clamp(1, 4096)
        );
        for r in &runs {
            let db = r
                .database_cpu_micros
                .map_or("database elsewhere".to_owned(), |c| {
                    format!("database {c:.0} µs")
                });
            println!(
                "  {} node(s)                {:>10.0} /s   {:.2} x build + sign   CPU per award: accolade {}, {db}   ({} awards)",
                r.nodes,
                r.awards_per_sec,
                r.awards_per_sec / es256.badges_per_sec,
                r.accolade_cpu_micros
                    .map_or("?".to_owned(), |c| format!("{c:.0} µs")),
                r.awards
            );
        }
    }
    println!(
        "  (server CPU per award over HTTP: python3 conformance/award_cpu.py --binary target/release/accolade)"
    );
    Ok(())
}

fn verifications(args: &BenchArgs, window: Duration, algs: &[Algorithm]) -> anyhow::Result<()> {
    let clients = args.verifiers.clamp(1, 4096);
    println!(
        "Verifying another issuer's badges (did:web document and status list fetched over HTTP once, then cached; parse, signature, claims, expiry, status, schema, trust):"
    );
    println!(
        "{:<6} {:>14} {:>18} {:>7} {:>16} {:>24}",
        "alg", "raw verifies/s", "pipeline/s 1 thr", "ratio", "API /s", "API p50 / p99 at half"
    );
    let mut rows = Vec::new();
    for alg in algs {
        let v = crate::bench::verify::run(*alg, clients, window)?;
        println!(
            "{:<6} {:>14.0} {:>18.0} {:>7.2} {:>16.0} {:>12.2} / {:.2} ms",
            v.alg.name(),
            v.raw_verifies_per_sec,
            v.pipeline_per_sec,
            v.ratio(),
            v.api_per_sec,
            v.p50_ms,
            v.p99_ms
        );
        rows.push(v);
    }
    println!(
        "(raw and pipeline on one thread; API: POST /api/v1/verify through the router in process, {clients} concurrent clients on every core; latency open loop at half the API rate)"
    );
    println!();
    println!(
        "Presentations: a VP-JWT holding one badge, signed by a wallet key of the badge's algorithm (holder signature, nonce, audience, holder binding, the badge's pipeline):"
    );
    println!(
        "{:<6} {:>14} {:>20} {:>7} {:>22}",
        "badge", "raw verifies/s", "presentations/s 1 thr", "ratio", "OpenID4VP exchanges/s"
    );
    for v in &rows {
        println!(
            "{:<6} {:>14.0} {:>20.0} {:>7.2} {:>22.0}",
            v.alg.name(),
            v.raw_verifies_per_sec,
            v.presentations_per_sec,
            v.presentation_ratio(),
            v.exchanges_per_sec
        );
    }
    println!(
        "(raw: the badge's signature alone, same run; ratio goal >= 0.25 with two signatures per VP; exchanges: create request, fetch signed request object, wallet signs VP, direct_post, read verdict, {clients} concurrent wallets, writes durable)"
    );
    Ok(())
}

fn claims(
    args: &BenchArgs,
    window: Duration,
    es256: Option<crate::bench::BenchResult>,
) -> anyhow::Result<()> {
    let es = match es256 {
        Some(r) => r,
        None => crate::bench::run(Algorithm::ES256, window)?,
    };
    let c = crate::bench::claim::run(args.wallets.clamp(1, 4096), window)?;
    let bound = 1.0 / (1.0 / es.raw_signs_per_sec + 1.0 / es.verifies_per_sec);
    println!(
        "OpenID4VCI claim flows with {} concurrent wallets (token + nonce + credential; ES256 proof verified, ES256 badge signed; codes and nonces durable):",
        c.wallets
    );
    println!(
        "  raw ES256 in this run: sign {:.0} /s, verify {:.0} /s; 1/(1/sign + 1/verify) = {:.0} /s",
        es.raw_signs_per_sec, es.verifies_per_sec, bound
    );
    println!(
        "  claim flows            {:>10.0} /s   ratio {:.2} of that   {} flows, {} fsyncs",
        c.flows_per_sec,
        c.flows_per_sec / bound,
        c.flows,
        c.flushes
    );
    println!(
        "  credential endpoint at {:.0} flows/s (half load): p50 {:.2} ms, p99 {:.2} ms ({} requests)",
        c.latency_rate, c.credential_p50_ms, c.credential_p99_ms, c.latency_samples
    );
    if let Some((u, k)) = c.cpu_ms_per_flow {
        println!("  process CPU per flow: {u:.3} ms user + {k:.3} ms system");
    }
    println!("  (in process through the router; wallets sign their proofs on the same cores)");
    Ok(())
}
