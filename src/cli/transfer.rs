//! `accolade export` and `accolade import`: all of a store's state as one archive
//! (`store::transfer`), to move an issuer between the embedded store and PostgreSQL
//! or keep a portable copy.
//!
//! `export` reads a data dir directly when no service holds it; beside a running
//! service it downloads `GET /api/v1/export` from the address the service recorded in
//! the data dir, with the admin token. With `--database-url` it reads a fleet's
//! database, nodes running or not. The archive is written to `FILE.partial` and renamed
//! once it has been read back whole, so a file under the chosen name is complete.

use std::io::{BufReader, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use http_body_util::BodyExt as _;

use crate::app;
use crate::store::Store;
use crate::store::transfer::{self, Header, Summary, WriteLines};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The data dir to export (beside a running service, through its API).
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Export a fleet's PostgreSQL database instead of a data dir.
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// The archive to write (JSON Lines); `-` writes to standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive `accolade export` wrote.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The data dir to import into (it must hold nothing yet).
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Import into a fleet's PostgreSQL database (which must hold nothing yet).
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
}

/// The header an export of a data dir starts with: what the dir says it is.
pub(crate) fn header_for(data_dir: Option<&Path>) -> Header {
    let public_url = data_dir.and_then(app::read_identity);
    let did = public_url
        .as_ref()
        .and_then(|u| crate::did::web::identity_for_url(u).ok())
        .map(|i| i.did.to_string());
    Header {
        version: transfer::VERSION,
        exported_at: time::OffsetDateTime::now_utc(),
        from: String::new(),
        public_url: public_url.map(|u| u.to_string()),
        did,
    }
}

pub fn export(a: &ExportArgs) -> anyhow::Result<()> {
    let rt = crate::cli::fleet::runtime()?;
    let to_stdout = a.output.as_os_str() == "-";
    let partial = partial_path(&a.output);
    let opened = match &a.database_url {
        Some(u) => Ok(rt
            .block_on(Store::connect(u))
            .context("connecting to the PostgreSQL database")?),
        None => Store::open(&a.data_dir),
    };
    // Through the running service (its address), or not.
    let through = match opened {
        Ok(store) => {
            let header = header_for(a.database_url.is_none().then_some(a.data_dir.as_path()));
            if to_stdout {
                let out = std::io::BufWriter::new(std::io::stdout());
                let mut lines = WriteLines(out);
                let s = rt.block_on(transfer::export(&store, header, &mut lines))?;
                lines.0.flush()?;
                eprintln!("exported {s}");
                return Ok(());
            }
            let file = create(&partial)?;
            let mut lines = WriteLines(std::io::BufWriter::new(file));
            rt.block_on(transfer::export(&store, header, &mut lines))
                .with_context(|| format!("exporting into {}", partial.display()))?;
            lines.0.into_inner()?.sync_all()?;
            None
        }
        Err(open_err) => {
            let Some(url) = app::read_serving(&a.data_dir) else {
                return Err(anyhow::Error::new(open_err)
                    .context(format!("opening the store in {}", a.data_dir.display())));
            };
            if to_stdout {
                let mut out = std::io::stdout();
                rt.block_on(download(&a.data_dir, &url, &mut out))?;
                return Ok(());
            }
            let mut file = create(&partial)?;
            rt.block_on(download(&a.data_dir, &url, &mut file))?;
            file.sync_all()?;
            Some(url)
        }
    };
    // Read back whole before it takes the chosen name.
    let checked = std::fs::File::open(&partial)
        .map_err(anyhow::Error::from)
        .and_then(|f| Ok(transfer::check(BufReader::new(f))?));
    let (_, s): (Header, Summary) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("the archive written is incomplete; nothing was kept"));
        }
    };
    std::fs::rename(&partial, &a.output)
        .with_context(|| format!("renaming {} to {}", partial.display(), a.output.display()))?;
    match through {
        Some(url) => println!(
            "exported {s} into {} (through the running service at {url})",
            a.output.display()
        ),
        None => println!("exported {s} into {}", a.output.display()),
    }
    println!(
        "signing keys and the admin token are not in the archive: keep the keys directory (or the fleet's sealed keys) with it"
    );
    Ok(())
}

pub(crate) fn partial_path(output: &Path) -> PathBuf {
    let mut p = output.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

/// A new file only its owner can read (an archive holds sessions and codes).
pub(crate) fn create(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// `GET /api/v1/export` from the running service (plain HTTP on its own address),
/// streamed into `out`.
pub(crate) async fn download(
    data_dir: &Path,
    url: &str,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let u = url::Url::parse(url).with_context(|| format!("the recorded address {url:?}"))?;
    if u.scheme() != "http" {
        bail!(
            "the running service listens on {url}; `export` reaches it over plain HTTP only: stop it, or download GET /api/v1/export with the admin token"
        );
    }
    let host = u
        .host_str()
        .context("the recorded address has no host")?
        .to_owned();
    let port = u.port_or_known_default().unwrap_or(80);
    let token = crate::cli::staff::admin_token(data_dir)?;
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("reaching the running service at {url}"))?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .context("talking HTTP to the running service")?;
    tokio::spawn(conn);
    let path = format!("{}/api/v1/export", u.path().trim_end_matches('/'));
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(http_body_util::Empty::<bytes::Bytes>::new())?;
    let res = send
        .send_request(req)
        .await
        .context("asking the running service for the export")?;
    let status = res.status();
    let mut body = res.into_body();
    if !status.is_success() {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        bail!(
            "the running service refused: {} ({status})",
            v.get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("no answer")
        );
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the export from the running service")?;
        if let Some(data) = frame.data_ref() {
            out.write_all(data)?;
        }
    }
    out.flush()?;
    Ok(())
}

pub fn import(a: &ImportArgs) -> anyhow::Result<()> {
    let rt = crate::cli::fleet::runtime()?;
    std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let store = match &a.database_url {
        Some(u) => rt
            .block_on(Store::connect(u))
            .context("connecting to the PostgreSQL database")?,
        None => Store::open(&a.data_dir).with_context(|| {
            format!(
                "opening the store in {} (stop a service that holds it)",
                a.data_dir.display()
            )
        })?,
    };
    let file = a.file.clone();
    let (header, summary) = rt
        .block_on(transfer::import(&store, move || {
            Ok(BufReader::new(std::fs::File::open(&file)?))
        }))
        .with_context(|| format!("importing {}", a.file.display()))?;
    let target = match &a.database_url {
        Some(_) => "the PostgreSQL database".to_owned(),
        None => {
            if let Some(public_url) = header
                .public_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
                && app::read_identity(&a.data_dir).is_none()
                && let Ok(id) = crate::did::web::identity_for_url(&public_url)
            {
                app::write_identity(&a.data_dir, &public_url, &id.did.to_string())?;
            }
            a.data_dir.display().to_string()
        }
    };
    println!(
        "imported {summary} into {target} (a {} export of {})",
        header.from,
        crate::clock::format_seconds(header.exported_at)
    );
    match &header.public_url {
        Some(u) => println!(
            "serve it with the same signing keys and --public-url {u}: every badge issued before still verifies"
        ),
        None => println!(
            "serve it with the same signing keys and the same --public-url: every badge issued before still verifies"
        ),
    }
    Ok(())
}
