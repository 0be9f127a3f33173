//! `accolade verify`: verifies a badge locally, with no server.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::Value;

use crate::clock::SystemClock;
use crate::did::web::identity_for_url;
use crate::keyring::Keyring;
use crate::store::Store;
use crate::verify::{Options, Outcome, OwnKeys, PublishedKeys, Verifier};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A compact JWT, or a file holding a JWT, a JSON credential (or an
    /// EnvelopedVerifiableCredential, or `{"credential": ...}`), or a baked PNG or SVG
    /// badge. `-` reads standard input.
    pub input: String,
    /// HOST:PORT exempt from the outbound rules: its did:web documents, keys and status
    /// lists may be fetched over plain HTTP from a loopback or private address
    /// (repeatable; local development and tests).
    #[arg(
        long = "allow-http-did-web",
        env = "ACCOLADE_ALLOW_HTTP_DID_WEB",
        value_delimiter = ',',
        value_name = "HOST:PORT"
    )]
    pub allow_http_did_web: Vec<crate::net::AllowedHost>,
    /// Also check that the badge was issued to this e-mail address.
    #[arg(long, value_name = "EMAIL")]
    pub recipient_email: Option<String>,
    /// This service's public URL: badges of its DID are checked against --keys-dir.
    #[arg(long, env = "ACCOLADE_PUBLIC_URL")]
    pub public_url: Option<url::Url>,
    /// This service's data directory: without --public-url, the public URL that
    /// `serve` last ran with is read from here.
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// This service's keys directory.
    #[arg(long, env = "ACCOLADE_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes: 0 verified, 1 not verified, 2 input that cannot be examined.
pub fn run(args: VerifyArgs) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(verify(args))
}

/// What the input is.
enum Input {
    Text(String),
    Image(crate::bake::ImageKind, Vec<u8>),
}

/// The most bytes read from a file or standard input: what the verify API takes.
pub const MAX_INPUT: usize = crate::http::VERIFY_BODY_LIMIT;

/// Reads at most [`MAX_INPUT`] bytes of `r`; more is an error (a device such as
/// `/dev/zero` never ends).
fn read_capped(r: impl std::io::Read, what: &str) -> anyhow::Result<Vec<u8>> {
    let mut b = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(r, MAX_INPUT as u64 + 1), &mut b)
        .map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    if b.len() > MAX_INPUT {
        anyhow::bail!(
            "{what} is larger than {} MiB, more than any badge",
            MAX_INPUT / (1024 * 1024)
        );
    }
    Ok(b)
}

fn read_input(arg: &str) -> anyhow::Result<Input> {
    let bytes = if arg == "-" {
        read_capped(std::io::stdin(), "standard input")?
    } else {
        match std::fs::File::open(arg) {
            Ok(f) => {
                if f.metadata().is_ok_and(|m| m.is_dir()) {
                    anyhow::bail!("{arg} is a directory");
                }
                read_capped(f, arg)?
            }
            // A JWT holds no '/' and a JSON credential starts with '{': anything
            // else was meant as a file.
            Err(e) if arg.contains('/') && !arg.trim_start().starts_with('{') => {
                anyhow::bail!("cannot read {arg}: {e}")
            }
            // Not a file: the argument is the JWT (or JSON) itself.
            Err(_) => return Ok(Input::Text(arg.to_owned())),
        }
    };
    if let Some(kind) = crate::bake::sniff(&bytes) {
        return Ok(Input::Image(kind, bytes));
    }
    String::from_utf8(bytes)
        .map(Input::Text)
        .map_err(|_| anyhow::anyhow!("{arg} is neither text nor a PNG or SVG image"))
}

async fn verify(args: VerifyArgs) -> anyhow::Result<i32> {
    let input = match read_input(&args.input) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("cannot verify: {e}");
            return Ok(2);
        }
    };
    let public_url = args
        .public_url
        .clone()
        .or_else(|| crate::app::read_identity(&args.data_dir));
    let own: Option<Arc<dyn OwnKeys>> = match &public_url {
        Some(u) => {
            let id = identity_for_url(u)?;
            match Keyring::load(&args.keys_dir) {
                Ok(ring) => Some(Arc::new(PublishedKeys::new(id.did, ring.published()))),
                // Explicitly told who we are: missing keys are an error.
                Err(e) if args.public_url.is_some() => return Err(e.into()),
                Err(_) => None,
            }
        }
        None => None,
    };
    let clock: crate::clock::SharedClock = Arc::new(SystemClock);
    let outbound = crate::net::Outbound::new(args.allow_http_did_web.iter().cloned());
    let mut verifier = Verifier::new(own.clone(), clock.clone()).with_fetcher(Arc::new(outbound));
    // The service's own lists and awards, read straight from its store when the
    // service is not running (the embedded store allows one process at a time).
    if let (Some(_), Some(url)) = (&own, &public_url)
        && args.data_dir.join("db").exists()
    {
        match Store::open(&args.data_dir) {
            Ok(store) => {
                if let Some(note) = store.upgraded() {
                    eprintln!("note: {note}");
                }
                match crate::issue::local_status(&store, url).await {
                    Ok(local) => verifier = verifier.with_local_status(local),
                    Err(e) => eprintln!("warning: reading the status lists: {e}"),
                }
            }
            Err(_) => eprintln!(
                "note: the store in {} is in use (is the service running?), so its status lists are not read here; POST the badge to /api/v1/verify for a live answer",
                args.data_dir.display()
            ),
        }
    }
    let opts = Options {
        recipient_email: args.recipient_email.clone(),
    };
    let result = match &input {
        Input::Image(kind, bytes) => verifier.verify_baked(*kind, bytes, &opts).await,
        Input::Text(text) => {
            let trimmed = text.trim();
            if trimmed.starts_with('{') {
                match serde_json::from_str::<Value>(trimmed) {
                    Ok(v) => {
                        let inner = v
                            .get("credential")
                            .or_else(|| v.get("verifiableCredential"))
                            .cloned()
                            .unwrap_or(v);
                        verifier.verify_value_with(&inner, &opts).await
                    }
                    Err(e) => {
                        eprintln!("not JSON: {e}");
                        return Ok(2);
                    }
                }
            } else {
                verifier.verify_jwt_with(trimmed, &opts).await
            }
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot verify: {e}");
            return Ok(2);
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("verified: {}", if report.verified { "yes" } else { "no" });
        if let Some(i) = &report.issuer {
            println!("issuer:   {i}");
        }
        for c in &report.checks {
            let o = match c.outcome {
                Outcome::Pass => "pass",
                Outcome::Fail => "FAIL",
                Outcome::Indeterminate => "indeterminate",
            };
            let name = c.check.as_str();
            match &c.message {
                Some(m) => println!("  {name:<13} {o:<13} {m}"),
                None => println!("  {name:<13} {o}"),
            }
        }
    }
    Ok(if report.verified { 0 } else { 1 })
}
