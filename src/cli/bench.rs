//! `accolade bench`: prints badges issued per second beside the raw signature rate.

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
}

impl clap::builder::ValueParserFactory for Algorithm {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Algorithm>().map_err(|e| e.to_string()))
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let window = Duration::from_secs_f64(args.seconds.clamp(0.05, 60.0));
    let algs: Vec<Algorithm> = match args.alg {
        Some(a) => vec![a],
        None => Algorithm::ALL.to_vec(),
    };
    if cfg!(debug_assertions) {
        println!("note: debug build; run `cargo run --release -- bench` for real figures");
    }
    println!(
        "{:<6} {:>14} {:>16} {:>8} {:>14}",
        "alg", "raw signs/s", "badges/s", "ratio", "verifies/s"
    );
    for alg in algs {
        let r = crate::bench::run(alg, window)?;
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
    let s = crate::bench::status::run(args.clients.clamp(1, 4096), window)?;
    println!(
        "status list publish (131,072 entries, 1 % revoked, GZIP + base64url, no signature): {:.0} µs, {} bytes",
        s.publish_micros, s.encoded_len
    );
    println!(
        "awards with {} concurrent clients (ES256, direct delivery, real store):",
        s.clients
    );
    println!(
        "  in memory (no flush)   {:>10.0} /s",
        s.in_memory_awards_per_sec
    );
    println!(
        "  durable (2 flushes)    {:>10.0} /s   ratio {:.2}   {} awards, {} fsyncs",
        s.durable_awards_per_sec,
        s.durable_awards_per_sec / s.in_memory_awards_per_sec,
        s.awards,
        s.award_flushes
    );
    println!(
        "revocations, durable     {:>10.0} /s",
        s.durable_revocations_per_sec
    );
    Ok(())
}
