//! `accolade staff add`: creates a staff account, reading the password as one line
//! from standard input. With the service stopped it writes the store directly; beside
//! a running service (which holds the store) it calls that service's admin API at the
//! address the service recorded in the data dir, with the admin token
//! (`ACCOLADE_ADMIN_TOKEN`, or the data dir's `admin-token` file). With
//! `--database-url` it writes a fleet's database directly, nodes running or not.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

use crate::app;
use crate::clock::SystemClock;
use crate::records::Role;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create an account (the password is read as one line from standard input).
    Add(AddArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The data dir of the service.
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The member's e-mail address (their sign-in name).
    #[arg(long)]
    pub email: String,
    /// The member's name.
    #[arg(long)]
    pub name: String,
    /// owner, issuer or viewer.
    #[arg(long)]
    pub role: Role,
    /// A fleet's database: the account is written there (every node sees it at once).
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
}

impl clap::builder::ValueParserFactory for Role {
    type Parser = clap::builder::ValueParser;
    fn value_parser() -> Self::Parser {
        clap::builder::ValueParser::new(|s: &str| s.parse::<Role>().map_err(|e| e.to_string()))
    }
}

pub fn run(cmd: StaffCommand) -> anyhow::Result<()> {
    match cmd {
        StaffCommand::Add(a) => add(&a),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let pw = line.strip_suffix('\n').unwrap_or(&line);
    let pw = pw.strip_suffix('\r').unwrap_or(pw).to_owned();
    crate::staff::password::check_policy(&pw)?;
    Ok(pw)
}

fn add(a: &AddArgs) -> anyhow::Result<()> {
    let password = read_password()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let opened = match &a.database_url {
        Some(u) => Ok(rt
            .block_on(Store::connect(u))
            .context("connecting to the PostgreSQL database")?),
        None => Store::open(&a.data_dir),
    };
    match opened {
        Ok(store) => rt.block_on(async {
            let url = app::read_identity(&a.data_dir)
                .unwrap_or_else(|| url::Url::parse("http://localhost").expect("a literal URL"));
            let mut secret = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
            // No link is made for an account with a password: any secret will do.
            let staff = crate::staff::Staff::new(
                &store,
                crate::keyring::LinkSecret::from_bytes(secret),
                &url,
                Arc::new(SystemClock),
            );
            let (m, _) = staff
                .add(&a.email, &a.name, a.role, Some(&password))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut e = staff.entry(None, "staff.create", Some(m.id.to_string()), None);
            e.actor = "command line".into();
            e.detail = Some(serde_json::json!({"email": m.email, "role": m.role.as_str()}));
            staff.record(e).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            store.flush().await?;
            println!(
                "{} ({}) can sign in as {} with the role {}",
                m.name, m.id, m.email, m.role
            );
            Ok(())
        }),
        Err(open_err) => {
            let Some(url) = app::read_serving(&a.data_dir) else {
                return Err(anyhow::Error::new(open_err)
                    .context(format!("opening the store in {}", a.data_dir.display())));
            };
            through_api(&a.data_dir, &url, a, &password)
        }
    }
}

/// The admin token for a data dir.
pub(crate) fn admin_token(data_dir: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::env::var("ACCOLADE_ADMIN_TOKEN")
        && !t.is_empty()
    {
        return Ok(t);
    }
    let p = data_dir.join("admin-token");
    Ok(std::fs::read_to_string(&p)
        .with_context(|| format!("reading the admin token from {}", p.display()))?
        .trim()
        .to_owned())
}

/// `POST /api/v1/staff` on the running service (plain HTTP on its own address).
fn through_api(data_dir: &Path, url: &str, a: &AddArgs, password: &str) -> anyhow::Result<()> {
    let token = admin_token(data_dir)?;
    let body = serde_json::json!({
        "email": a.email, "name": a.name, "role": a.role.as_str(), "password": password,
    });
    let (status, v) = super::call_service(url, "POST", "/api/v1/staff", Some(&token), &body)?;
    if status != 201 {
        bail!(
            "the running service refused: {} ({status})",
            v.get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no answer")
        );
    }
    println!(
        "{} ({}) can sign in as {} with the role {} (added through the running service at {url})",
        v["name"].as_str().unwrap_or_default(),
        v["id"].as_str().unwrap_or_default(),
        v["email"].as_str().unwrap_or_default(),
        v["role"].as_str().unwrap_or_default(),
    );
    Ok(())
}
