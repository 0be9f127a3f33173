//! `accolade backup` and `accolade restore`: the store's export archive, optionally
//! with the keys directory, in one file, optionally encrypted with a passphrase.
//!
//! File format (version 1):
//! - the line `accolade-backup 1`;
//! - a JSON line: what the file holds (`encrypted`, `with_keys`, `created_at`, the
//!   public URL) and, when encrypted, how the key is derived (Argon2id with its
//!   parameters and a random salt) and the nonce prefix;
//! - the body: plain, or in sealed chunks. The body is a JSON line with the keys
//!   directory's files (`{"keys": [{"name", "body"}]}` or `{"keys": null}`), then the
//!   export archive (`accolade export`'s JSON Lines).
//!
//! Encryption: AES-256-GCM over chunks of at most 64 KiB, each written as a 4-byte
//! big-endian length and the sealed bytes. Chunk `i` uses the nonce `prefix (7 bytes)
//! ‖ i (4 bytes, big-endian) ‖ last (1 byte)` and the header line as associated data,
//! so chunks cannot be reordered, dropped, cut off at the end or moved to another file
//! without the restore saying so (the STREAM construction of Hoang, Reyhanitabar,
//! Rogaway and Vizár). The key is Argon2id(passphrase, salt) with m = 64 MiB, t = 3,
//! p = 1.
//!
//! Backups are made beside a running service through its export API (the archive is
//! written as the store is read, record by record), or from a data directory or a
//! fleet's database directly.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Args;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use crate::app;
use crate::jose::{b64, b64_decode};
use crate::store::Store;
use crate::store::transfer::{self, WriteLines};

/// The first line of every backup.
const MAGIC: &str = "accolade-backup 1";
/// Plaintext bytes per sealed chunk.
const CHUNK: usize = 64 * 1024;
/// The passphrase's environment variable.
pub const PASSPHRASE_ENV: &str = "ACCOLADE_BACKUP_PASSPHRASE";
/// Argon2id cost: 64 MiB, three passes, one lane.
const KDF_M: u32 = 64 * 1024;
const KDF_T: u32 = 3;
const KDF_P: u32 = 1;
/// The largest key file copied (PEM keys are a few KiB).
const MAX_KEY_FILE: u64 = 1024 * 1024;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The backup file to write (made 0600; written as FILE.partial and renamed once
    /// complete).
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    /// The data dir to back up (beside a running service, through its API).
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Back up a fleet's PostgreSQL database instead of a data dir.
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Include the keys directory (signing keys and the link secret). Needs a
    /// passphrase.
    #[arg(long)]
    pub with_keys: bool,
    /// The keys directory to include with --with-keys.
    #[arg(long, env = "ACCOLADE_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// Encrypt with the passphrase in this file (first line), or else in the
    /// ACCOLADE_BACKUP_PASSPHRASE variable. Without either, the backup is plain.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup `accolade backup` wrote.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The data dir to restore into (it must hold nothing yet).
    #[arg(long, env = "ACCOLADE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Restore into a fleet's PostgreSQL database (which must hold nothing yet).
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Where a backup's keys go (a directory that holds no key yet).
    #[arg(long, env = "ACCOLADE_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// The passphrase of an encrypted backup, in this file (first line), or else in
    /// the ACCOLADE_BACKUP_PASSPHRASE variable.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// The second line of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Header {
    encrypted: bool,
    with_keys: bool,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kdf: Option<Kdf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce_prefix: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Kdf {
    alg: String,
    m: u32,
    t: u32,
    p: u32,
    salt: String,
}

/// A file of the keys directory.
#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    name: String,
    body: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct KeysLine {
    keys: Option<Vec<KeyFile>>,
}

/// The passphrase from `file` or the environment, if any.
fn passphrase(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    if let Some(f) = file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let p = text.lines().next().unwrap_or_default().to_owned();
        if p.is_empty() {
            bail!("{} holds no passphrase on its first line", f.display());
        }
        return Ok(Some(p));
    }
    Ok(std::env::var(PASSPHRASE_ENV).ok().filter(|p| !p.is_empty()))
}

fn derive_key(pass: &str, kdf: &Kdf) -> anyhow::Result<LessSafeKey> {
    if kdf.alg != "argon2id" {
        bail!("the backup's key derivation {:?} is unknown", kdf.alg);
    }
    if kdf.m > 4 * 1024 * 1024 || kdf.t > 64 || kdf.p > 16 {
        bail!("the backup asks for an unreasonable key derivation cost");
    }
    let salt = b64_decode(&kdf.salt, "salt").map_err(|_| anyhow::anyhow!("the backup's salt"))?;
    let params = argon2::Params::new(kdf.m, kdf.t, kdf.p, Some(32))
        .map_err(|e| anyhow::anyhow!("key derivation parameters: {e}"))?;
    let mut key = [0u8; 32];
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password_into(pass.as_bytes(), &salt, &mut key)
        .map_err(|e| anyhow::anyhow!("deriving the key: {e}"))?;
    let unbound =
        UnboundKey::new(&AES_256_GCM, &key).map_err(|_| anyhow::anyhow!("the backup key"))?;
    Ok(LessSafeKey::new(unbound))
}

fn nonce(prefix: &[u8; 7], index: u32, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// Seals what is written into chunks; [`SealWriter::finish`] seals the last one.
struct SealWriter<W: Write> {
    out: W,
    key: LessSafeKey,
    prefix: [u8; 7],
    aad: Vec<u8>,
    buf: Vec<u8>,
    index: u32,
}

impl<W: Write> SealWriter<W> {
    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let mut chunk = std::mem::take(&mut self.buf);
        self.key
            .seal_in_place_append_tag(
                nonce(&self.prefix, self.index, last),
                Aad::from(&self.aad),
                &mut chunk,
            )
            .map_err(|_| std::io::Error::other("sealing a chunk"))?;
        let len = u32::try_from(chunk.len()).map_err(std::io::Error::other)?;
        self.out.write_all(&len.to_be_bytes())?;
        self.out.write_all(&chunk)?;
        self.index = self
            .index
            .checked_add(1)
            .ok_or_else(|| std::io::Error::other("a backup of more than 2^32 chunks"))?;
        self.buf = chunk;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<W> {
        self.seal(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.seal(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Opens sealed chunks; an error for a chunk that does not open, and for a file
/// that ends before its last chunk.
struct OpenReader<R: Read> {
    input: R,
    key: LessSafeKey,
    prefix: [u8; 7],
    aad: Vec<u8>,
    plain: Vec<u8>,
    pos: usize,
    index: u32,
    done: bool,
}

impl<R: Read> OpenReader<R> {
    fn next_chunk(&mut self) -> std::io::Result<()> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
        let mut len = [0u8; 4];
        if let Err(e) = self.input.read_exact(&mut len) {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad("the backup ends early: it is cut off")
            } else {
                e
            });
        }
        let len = u32::from_be_bytes(len) as usize;
        if !(16..=CHUNK + 16).contains(&len) {
            return Err(bad("a chunk of the backup has an impossible length"));
        }
        let mut sealed = vec![0u8; len];
        self.input
            .read_exact(&mut sealed)
            .map_err(|_| bad("the backup ends early: it is cut off"))?;
        // The last chunk says so in its nonce: try the usual case first.
        for last in [false, true] {
            let mut attempt = sealed.clone();
            if let Ok(plain) = self.key.open_in_place(
                nonce(&self.prefix, self.index, last),
                Aad::from(&self.aad),
                &mut attempt,
            ) {
                self.plain = plain.to_vec();
                self.pos = 0;
                self.index += 1;
                self.done = last;
                return Ok(());
            }
        }
        Err(bad(
            "the backup does not open: a wrong passphrase, or the file was changed",
        ))
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.plain.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.plain.len() - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The keys directory's regular files (private keys, the manifest, the link secret).
fn read_keys(dir: &Path) -> anyhow::Result<Vec<KeyFile>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let meta = e.metadata()?;
        if !meta.is_file() || meta.len() > MAX_KEY_FILE {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let body = std::fs::read_to_string(e.path())
            .with_context(|| format!("reading {}", e.path().display()))?;
        out.push(KeyFile { name, body });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    if !out.iter().any(|k| k.name.ends_with(".pem")) {
        bail!("{} holds no private key to back up", dir.display());
    }
    Ok(out)
}

/// Writes a backup's body (keys line, then the archive) into `out`.
fn write_body(a: &BackupArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<Option<String>> {
    let keys = if a.with_keys {
        Some(read_keys(&a.keys_dir)?)
    } else {
        None
    };
    serde_json::to_writer(&mut *out, &KeysLine { keys })?;
    out.write_all(b"\n")?;
    let rt = crate::cli::fleet::runtime()?;
    let opened = match &a.database_url {
        Some(u) => Ok(rt
            .block_on(Store::connect(u))
            .context("connecting to the PostgreSQL database")?),
        None => Store::open(&a.data_dir),
    };
    match opened {
        Ok(store) => {
            let header = super::transfer::header_for(
                a.database_url.is_none().then_some(a.data_dir.as_path()),
            );
            let mut lines = WriteLines(std::io::BufWriter::new(out));
            rt.block_on(transfer::export(&store, header, &mut lines))?;
            lines.0.flush()?;
            Ok(None)
        }
        Err(open_err) => {
            let Some(url) = app::read_serving(&a.data_dir) else {
                return Err(anyhow::Error::new(open_err)
                    .context(format!("opening the store in {}", a.data_dir.display())));
            };
            rt.block_on(super::transfer::download(&a.data_dir, &url, out))?;
            Ok(Some(url))
        }
    }
}

pub fn backup(a: &BackupArgs) -> anyhow::Result<()> {
    let pass = passphrase(a.passphrase_file.as_deref())?;
    if a.with_keys && pass.is_none() {
        bail!(
            "--with-keys puts the signing keys in the file: give a passphrase (--passphrase-file, or {PASSPHRASE_ENV}) so that it is encrypted"
        );
    }
    let public_url = app::read_identity(&a.data_dir).map(|u| u.to_string());
    let mut header = Header {
        encrypted: pass.is_some(),
        with_keys: a.with_keys,
        created_at: crate::clock::format_seconds(time::OffsetDateTime::now_utc()),
        public_url,
        kdf: None,
        nonce_prefix: None,
    };
    let mut prefix = [0u8; 7];
    let key = match &pass {
        Some(p) => {
            let mut salt = [0u8; 16];
            rand::Rng::fill(&mut rand::thread_rng(), &mut salt);
            rand::Rng::fill(&mut rand::thread_rng(), &mut prefix);
            let kdf = Kdf {
                alg: "argon2id".into(),
                m: KDF_M,
                t: KDF_T,
                p: KDF_P,
                salt: b64(salt),
            };
            let key = derive_key(p, &kdf)?;
            header.kdf = Some(kdf);
            header.nonce_prefix = Some(b64(prefix));
            Some(key)
        }
        None => None,
    };
    let header_line = serde_json::to_string(&header)?;
    let partial = super::transfer::partial_path(&a.out);
    let file = super::transfer::create(&partial)?;
    let mut w = std::io::BufWriter::new(file);
    writeln!(w, "{MAGIC}")?;
    writeln!(w, "{header_line}")?;
    let written = match key {
        Some(key) => {
            let mut seal = SealWriter {
                out: w,
                key,
                prefix,
                aad: header_line.clone().into_bytes(),
                buf: Vec::with_capacity(CHUNK + 16),
                index: 0,
            };
            let through = write_body(a, &mut seal);
            let w = seal.finish()?;
            through.map(|t| (t, w))
        }
        None => write_body(a, &mut w).map(|t| (t, w)),
    };
    let (through, w) = match written {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("nothing was kept"));
        }
    };
    w.into_inner()
        .map_err(|e| anyhow::anyhow!("writing the backup: {e}"))?
        .sync_all()?;
    // Read back whole (and opened, when sealed) before it takes the chosen name.
    let checked = open_backup(&partial, pass.as_deref()).and_then(|(_, mut body)| {
        let mut first = String::new();
        body.read_line(&mut first)?;
        Ok(transfer::check(body)?)
    });
    let (_, summary) = match checked {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e.context("the backup written does not read back; nothing was kept"));
        }
    };
    std::fs::rename(&partial, &a.out)
        .with_context(|| format!("renaming {} to {}", partial.display(), a.out.display()))?;
    let how = match (&header.encrypted, a.with_keys) {
        (true, true) => "encrypted, with the keys directory",
        (true, false) => "encrypted, without keys",
        (false, _) => "not encrypted, without keys",
    };
    match through {
        Some(url) => println!(
            "backed up {summary} into {} ({how}; through the running service at {url})",
            a.out.display()
        ),
        None => println!("backed up {summary} into {} ({how})", a.out.display()),
    }
    if !a.with_keys {
        println!(
            "the signing keys are not in it: keep the keys directory too (or use --with-keys)"
        );
    }
    Ok(())
}

/// Opens a backup: its header and a reader of its body (opened when sealed).
fn open_backup(
    path: &Path,
    pass: Option<&str>,
) -> anyhow::Result<(Header, Box<dyn BufRead + Send>)> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = BufReader::new(f);
    let mut magic = String::new();
    r.read_line(&mut magic)?;
    if magic.trim_end() != MAGIC {
        bail!(
            "{} is not an accolade backup (an `accolade export` archive is restored with `accolade import`)",
            path.display()
        );
    }
    let mut line = String::new();
    r.read_line(&mut line)?;
    let header_line = line.trim_end_matches('\n').to_owned();
    let header: Header = serde_json::from_str(&header_line).context("the backup's header line")?;
    if !header.encrypted {
        return Ok((header, Box::new(r)));
    }
    let Some(pass) = pass else {
        bail!(
            "the backup is encrypted: give its passphrase (--passphrase-file, or {PASSPHRASE_ENV})"
        );
    };
    let kdf = header
        .kdf
        .clone()
        .context("the backup names no key derivation")?;
    let prefix: [u8; 7] = header
        .nonce_prefix
        .as_deref()
        .and_then(|p| b64_decode(p, "nonce prefix").ok())
        .and_then(|p| p.try_into().ok())
        .context("the backup's nonce prefix")?;
    let key = derive_key(pass, &kdf)?;
    let reader = OpenReader {
        input: r,
        key,
        prefix,
        aad: header_line.into_bytes(),
        plain: Vec::new(),
        pos: 0,
        index: 0,
        done: false,
    };
    Ok((header, Box::new(BufReader::new(reader))))
}

/// Writes a backup's keys into `dir`, which must hold no private key yet.
fn restore_keys(dir: &Path, keys: &[KeyFile]) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().ends_with(".pem") {
                bail!(
                    "{} already holds a signing key; restore the backup's keys into an empty directory (--keys-dir)",
                    dir.display()
                );
            }
        }
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    for k in keys {
        if k.name.contains('/') || k.name.starts_with('.') || k.name.is_empty() {
            bail!("the backup names a key file {:?}", k.name);
        }
        let path = dir.join(&k.name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(k.body.as_bytes())?;
        f.sync_all()?;
    }
    Ok(())
}

pub fn restore(a: &RestoreArgs) -> anyhow::Result<()> {
    let pass = passphrase(a.passphrase_file.as_deref())?;
    let (header, mut body) = open_backup(&a.file, pass.as_deref())?;
    let mut first = String::new();
    body.read_line(&mut first)?;
    let keys: KeysLine = serde_json::from_str(&first).context("the backup's keys line")?;
    // Everything is checked (and, when sealed, opened) before anything is written.
    let (_, summary) = transfer::check(body)?;
    if let Some(keys) = &keys.keys {
        restore_keys(&a.keys_dir, keys)?;
    }
    let rt = crate::cli::fleet::runtime()?;
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
    let (file, pass2) = (a.file.clone(), pass.clone());
    let (archive, _) = rt
        .block_on(transfer::import(&store, move || {
            let (_, mut body) =
                open_backup(&file, pass2.as_deref()).map_err(std::io::Error::other)?;
            let mut skip = String::new();
            body.read_line(&mut skip)?;
            Ok(body)
        }))
        .with_context(|| format!("restoring {}", a.file.display()))?;
    if a.database_url.is_none()
        && let Some(u) = header
            .public_url
            .as_deref()
            .or(archive.public_url.as_deref())
            .and_then(|u| url::Url::parse(u).ok())
        && let Ok(id) = crate::did::web::identity_for_url(&u)
    {
        app::write_identity(&a.data_dir, &u, &id.did.to_string())?;
    }
    println!(
        "restored {summary} (a backup of {}){}",
        header.created_at,
        if keys.keys.is_some() {
            format!(", keys into {}", a.keys_dir.display())
        } else {
            String::new()
        }
    );
    if let Some(u) = &header.public_url {
        println!("serve it with --public-url {u}: every badge issued before still verifies");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(plain: &[u8], pass: &str) -> (Vec<u8>, Header) {
        let kdf = Kdf {
            alg: "argon2id".into(),
            m: 1024,
            t: 1,
            p: 1,
            salt: b64([7u8; 16]),
        };
        let header = Header {
            encrypted: true,
            with_keys: false,
            created_at: "2026-12-06T00:00:00Z".into(),
            public_url: None,
            kdf: Some(kdf.clone()),
            nonce_prefix: Some(b64([1u8; 7])),
        };
        let aad = serde_json::to_string(&header).expect("json").into_bytes();
        let mut w = SealWriter {
            out: Vec::new(),
            key: derive_key(pass, &kdf).expect("key"),
            prefix: [1u8; 7],
            aad,
            buf: Vec::new(),
            index: 0,
        };
        w.write_all(plain).expect("write");
        (w.finish().expect("finish"), header)
    }

    fn opened(bytes: &[u8], header: &Header, pass: &str) -> std::io::Result<Vec<u8>> {
        let kdf = header.kdf.clone().expect("kdf");
        let mut r = OpenReader {
            input: bytes,
            key: derive_key(pass, &kdf).expect("key"),
            prefix: [1u8; 7],
            aad: serde_json::to_string(header).expect("json").into_bytes(),
            plain: Vec::new(),
            pos: 0,
            index: 0,
            done: false,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn sealed_chunks_round_trip_and_refuse_a_wrong_passphrase_a_cut_and_a_change() {
        let plain: Vec<u8> = (0..(CHUNK * 2 + 100)).map(|i| (i % 251) as u8).collect();
        let (bytes, header) = sealed(&plain, "correct horse");
        assert_eq!(
            opened(&bytes, &header, "correct horse").expect("opens"),
            plain
        );
        assert!(
            !bytes.windows(64).any(|w| w == &plain[..64]),
            "plaintext shows"
        );
        let e = opened(&bytes, &header, "wrong horse").expect_err("wrong passphrase");
        assert!(e.to_string().contains("does not open"), "{e}");
        // Cut after the first chunk: the missing last chunk is noticed.
        let first = 4 + u32::from_be_bytes(bytes[..4].try_into().expect("len")) as usize;
        let e = opened(&bytes[..first], &header, "correct horse").expect_err("cut");
        assert!(e.to_string().contains("cut off"), "{e}");
        // A flipped byte anywhere, or another header, does not open.
        let mut changed = bytes.clone();
        changed[first + 10] ^= 1;
        assert!(opened(&changed, &header, "correct horse").is_err());
        let mut other = header;
        other.with_keys = true;
        assert!(opened(&bytes, &other, "correct horse").is_err());
        // An empty body still has its (empty) last chunk.
        let (empty, header) = sealed(b"", "p");
        assert_eq!(opened(&empty, &header, "p").expect("opens"), b"");
    }
}
