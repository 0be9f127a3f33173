//! `accolade verify`: verifies a badge locally, with no server.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use serde_json::Value;

use crate::clock::SystemClock;
use crate::did::web::identity_for_url;
use crate::keyring::Keyring;
use crate::store::Store;
use crate::verify::{Options, OwnKeys, PublishedKeys, Verifier};

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
    #[arg(long, env = "ACCOLADE_PUBLIC_URL", value_parser = super::parse_public_url)]
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
    // service is not running (the embedded store allows one process at a time);
    // beside the running service, the badge goes to its verify API instead.
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
            Err(open_err) => match crate::app::read_serving(&args.data_dir) {
                Some(serving) => {
                    let credential = match credential_of(&input) {
                        Ok(c) => c,
                        Err(e) => {
                            eprintln!("cannot verify: {e}");
                            return Ok(2);
                        }
                    };
                    let mut body = serde_json::json!({"credential": credential});
                    if let Some(e) = &args.recipient_email {
                        body["recipient_email"] = Value::from(e.as_str());
                    }
                    let (status, report) =
                        super::call_service(&serving, "POST", "/api/v1/verify", None, &body)?;
                    if status != 200 {
                        eprintln!(
                            "cannot verify: the running service at {serving} answered {status}: {}",
                            report["message"].as_str().unwrap_or("no message")
                        );
                        return Ok(2);
                    }
                    eprintln!("note: verified by the running service at {serving}");
                    return print_report(&report, args.json);
                }
                None => eprintln!(
                    "note: the store in {} cannot be read ({open_err}), so its status lists are not checked here",
                    args.data_dir.display()
                ),
            },
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
    print_report(&serde_json::to_value(&report)?, args.json)
}

/// The credential an input holds, as the verify API takes it: a JWT string or a
/// JSON object (unbaked from an image first).
fn credential_of(input: &Input) -> anyhow::Result<Value> {
    let text = match input {
        Input::Image(kind, bytes) => match crate::bake::extract(*kind, bytes)? {
            crate::bake::Baked::Jwt(jwt) => return Ok(Value::String(jwt)),
            crate::bake::Baked::Json(v) => return Ok(v),
            crate::bake::Baked::Ob2(text) => text,
        },
        Input::Text(t) => t.clone(),
    };
    let t = text.trim();
    if t.starts_with('{') {
        let v: Value = serde_json::from_str(t).map_err(|e| anyhow::anyhow!("not JSON: {e}"))?;
        Ok(v.get("credential")
            .or_else(|| v.get("verifiableCredential"))
            .cloned()
            .unwrap_or(v))
    } else {
        Ok(Value::String(t.to_owned()))
    }
}

/// What a badge says, a line each: achievement, issuer, earner, dates.
fn summary(report: &Value) -> Vec<(&'static str, String)> {
    let c = &report["credential"];
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let subject = match &c["credentialSubject"] {
        Value::Array(a) => a.first().cloned().unwrap_or(Value::Null),
        v => v.clone(),
    };
    let achievement = text(&subject["achievement"]["name"])
        .or_else(|| text(&c["badge"]["name"]))
        .or_else(|| text(&c["name"]));
    let issuer = match (&c["issuer"], report["issuer"].as_str()) {
        (Value::Object(o), id) => {
            let name = o.get("name").and_then(Value::as_str);
            match (name, id.or_else(|| o.get("id").and_then(Value::as_str))) {
                (Some(n), Some(i)) => Some(format!("{n} ({i})")),
                (Some(n), None) => Some(n.to_owned()),
                (None, i) => i.map(str::to_owned),
            }
        }
        (_, id) => id.map(str::to_owned),
    };
    let earner = text(&subject["name"])
        .or_else(|| text(&subject["id"]))
        .or_else(|| {
            subject["identifier"]
                .as_array()
                .and_then(|a| a.first())
                .and_then(|i| i["identityType"].as_str())
                .map(|t| format!("identified by {t} (hashed)"))
        });
    let issued = text(&c["validFrom"])
        .or_else(|| text(&c["issuanceDate"]))
        .or_else(|| text(&c["issuedOn"]));
    let until = text(&c["validUntil"]).or_else(|| text(&c["expirationDate"]));
    [
        ("achievement", achievement),
        ("issuer", issuer),
        ("earner", earner),
        ("issued", issued),
        ("valid until", until),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// Prints a report (as the verify API answers it); the exit code.
fn print_report(report: &Value, json: bool) -> anyhow::Result<i32> {
    let verified = report["verified"].as_bool().unwrap_or(false);
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        let said = summary(report);
        for (k, v) in &said {
            println!("{:<12} {v}", format!("{k}:"));
        }
        if !said.is_empty() {
            println!();
        }
        println!("verified: {}", if verified { "yes" } else { "no" });
        for c in report["checks"].as_array().into_iter().flatten() {
            let name = c["check"].as_str().unwrap_or("?");
            let o = match c["outcome"].as_str() {
                Some("fail") => "FAIL",
                Some(o) => o,
                None => "?",
            };
            match c["message"].as_str() {
                Some(m) => println!("  {name:<13} {o:<13} {m}"),
                None => println!("  {name:<13} {o}"),
            }
        }
    }
    Ok(if verified { 0 } else { 1 })
}
