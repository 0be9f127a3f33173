//! The command line: `accolade serve | keys | verify | bake | unbake | bench | staff |
//! migrate | admin-token | export | import`.

pub mod backup;
pub mod bake;
pub mod bench;
pub mod config;
pub mod fleet;
pub mod keys;
pub mod serve;
pub mod staff;
pub mod transfer;
pub mod verify;

use anyhow::Context as _;
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
    /// A TOML file of `serve` settings (keys are flag names: listen, public_url,
    /// ...); flags and ACCOLADE_* variables win over it.
    #[arg(long, global = true, env = "ACCOLADE_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
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
    /// Back up the store (and with --with-keys the keys directory) into one file,
    /// encrypted with a passphrase; beside a running service, through its API.
    Backup(backup::BackupArgs),
    /// Restore a backup into an empty data dir (or database) and keys directory.
    Restore(backup::RestoreArgs),
    /// Check a config file.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print the API reference (OpenAPI 3.1 JSON, as served at /openapi.json), or
    /// with --markdown the endpoint tables of docs/api.md.
    Openapi(OpenapiArgs),
}

/// `accolade openapi`.
#[derive(Debug, clap::Args)]
pub struct OpenapiArgs {
    /// The endpoint tables in Markdown instead of the OpenAPI document.
    #[arg(long)]
    pub markdown: bool,
    /// The public URL the document names as its server.
    #[arg(long, default_value = "http://127.0.0.1:8080", value_parser = parse_public_url)]
    pub public_url: url::Url,
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
        Command::Backup(args) => backup::backup(&args).map(|()| 0),
        Command::Restore(args) => backup::restore(&args).map(|()| 0),
        Command::Config(config::ConfigCommand::Check(args)) => {
            config::check(&args, config::from_file())
        }
        Command::Openapi(args) => {
            if args.markdown {
                print!("{}", crate::http::openapi::markdown());
            } else {
                let doc = crate::http::openapi::document(args.public_url.as_str());
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            Ok(0)
        }
    }
}

/// One exchange with the running service, over plain HTTP on the address it
/// recorded in its data directory (`serving.json`): the status and the JSON answer.
/// For the commands that work beside a running service (`verify`, `staff add`).
pub(crate) fn call_service(
    url: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> anyhow::Result<(u16, serde_json::Value)> {
    use std::io::{Read as _, Write as _};
    let u = url::Url::parse(url).with_context(|| format!("the recorded address {url:?}"))?;
    if u.scheme() != "http" {
        anyhow::bail!(
            "the running service listens on {url}; commands reach it over plain HTTP only: stop it, or call its API over HTTPS yourself"
        );
    }
    let host = u.host_str().context("the recorded address has no host")?;
    let port = u.port_or_known_default().unwrap_or(80);
    let body = body.to_string();
    let path = format!("{}{path}", u.path().trim_end_matches('/'));
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = std::net::TcpStream::connect((host, port))
        .with_context(|| format!("reaching the running service at {url}"))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let text = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    let v = serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null);
    Ok((status, v))
}

/// The body of a chunked HTTP/1.1 answer.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// `--listen`: an address and port (`127.0.0.1:8080`, `[::]:443`), or a host name
/// and port (`localhost:8081`) that resolves to one.
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    let s = s.trim();
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    if !s.contains(':') || s.contains("://") {
        return Err(format!(
            "{s:?} is not an address and port: give both, such as 127.0.0.1:8080, 0.0.0.0:8080 or localhost:8080 (the public address goes in --public-url)"
        ));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("{s:?} does not resolve to an address: {e}"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

/// `--public-url`: an absolute http(s) URL; a bare host name gets a hint.
pub fn parse_public_url(s: &str) -> Result<url::Url, String> {
    let s = s.trim();
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Ok(u),
        Ok(u) if u.host_str().is_none() && !s.contains("://") => Err(format!(
            "{s:?} is not a URL: add the scheme, such as https://{s}"
        )),
        Ok(u) => Err(format!(
            "{s:?} has the scheme {:?}; the public URL is https://... (or http:// for local use)",
            u.scheme()
        )),
        Err(url::ParseError::RelativeUrlWithoutBase) => Err(format!(
            "{s:?} is not a URL: add the scheme, such as https://{s}"
        )),
        Err(e) => Err(format!("{s:?} is not a URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_host_names_and_explain_what_is_missing() {
        assert_eq!(
            parse_listen("127.0.0.1:8081").expect("addr").to_string(),
            "127.0.0.1:8081"
        );
        assert_eq!(parse_listen("localhost:8081").expect("addr").port(), 8081);
        let e = parse_listen("8081").expect_err("no host");
        assert!(e.contains("give both"), "{e}");
        let e = parse_listen("https://badges.example.edu").expect_err("a URL");
        assert!(e.contains("--public-url"), "{e}");
    }

    #[test]
    fn a_public_url_without_a_scheme_gets_the_fix() {
        let e = parse_public_url("badges.example.edu").expect_err("no scheme");
        assert!(e.contains("https://badges.example.edu"), "{e}");
        let e = parse_public_url("localhost:8080").expect_err("no scheme");
        assert!(e.contains("add the scheme"), "{e}");
        let e = parse_public_url("ftp://x.example").expect_err("scheme");
        assert!(e.contains("\"ftp\""), "{e}");
        assert!(parse_public_url("https://example.edu/badges").is_ok());
    }
}
