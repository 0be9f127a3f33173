//! The command line: `accolade serve | keys | verify | bake | unbake | bench | staff |
//! migrate | admin-token | export | import`.

pub mod bake;
pub mod bench;
pub mod fleet;
pub mod keys;
pub mod serve;
pub mod staff;
pub mod transfer;
pub mod verify;

use clap::{Parser, Subcommand};

/// accolade — an Open Badges 3.0 credential service.
///
/// Institutions define achievements and award them; each award becomes a W3C
/// Verifiable Credential signed as a JWT by the institution's did:web identity, which
/// anyone can verify against the published DID document.
#[derive(Debug, Parser)]
#[command(
    name = "accolade",
    version = crate::app::VERSION,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written to standard error: text (coloured on a terminal
    /// only) or json (one object per line, for log collectors).
    #[arg(
        long,
        global = true,
        env = "ACCOLADE_LOG_FORMAT",
        default_value = "text",
        value_enum
    )]
    pub log_format: LogFormat,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (admin API, verify API, DID document).
    Serve(Box<serve::ServeArgs>),
    /// Manage the issuer's signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Verify a badge locally: a JWT, a file holding one, or a JSON credential.
    Verify(verify::VerifyArgs),
    /// Bake a credential (a compact JWT) into a PNG or SVG badge image.
    Bake(bake::BakeArgs),
    /// Print the credential baked into a PNG or SVG badge image.
    Unbake(bake::UnbakeArgs),
    /// Measure issuance throughput per algorithm against the raw signature rate.
    Bench(bench::BenchArgs),
    /// Manage staff accounts.
    #[command(subcommand)]
    Staff(staff::StaffCommand),
    /// Apply the PostgreSQL migrations a fleet's database lacks, without serving.
    Migrate(fleet::DatabaseArgs),
    /// Print the admin token a fleet shares (kept in its PostgreSQL database).
    AdminToken(fleet::DatabaseArgs),
    /// Write all of a store's state (a data dir or PostgreSQL) into one archive file.
    Export(transfer::ExportArgs),
    /// Load an archive `accolade export` wrote into an empty store (a data dir or PostgreSQL).
    Import(transfer::ImportArgs),
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Serve(args) => serve::run(*args).map(|()| 0),
        Command::Keys(cmd) => keys::run(cmd).map(|()| 0),
        Command::Verify(args) => verify::run(args),
        Command::Bake(args) => bake::run_bake(&args),
        Command::Unbake(args) => bake::run_unbake(&args),
        Command::Bench(args) => bench::run(&args).map(|()| 0),
        Command::Staff(cmd) => staff::run(cmd).map(|()| 0),
        Command::Migrate(args) => fleet::migrate(&args).map(|()| 0),
        Command::AdminToken(args) => fleet::admin_token(&args).map(|()| 0),
        Command::Export(args) => transfer::export(&args).map(|()| 0),
        Command::Import(args) => transfer::import(&args).map(|()| 0),
    }
}
