//! `accolade keys rotate|add|list|retire|revoke`: on a keys directory, or on the keys a fleet's
//! database keeps sealed (`--database-url` with `ACCOLADE_KEY_ENCRYPTION_KEY`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use anyhow::Context as _;

use crate::jose::Algorithm;
use crate::keyring::sealed::{KeyEncryptionKey, KeySet};
use crate::keyring::{self, Keyring};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a new key and make it the signing key. Earlier keys stay in the DID
    /// document, so every badge signed before still verifies. A running service (every
    /// node of a fleet sharing the directory) picks the change up within 30 seconds.
    Rotate {
        #[command(flatten)]
        dir: KeysDir,
        /// Algorithm of the new key (default: the current signing key's).
        #[arg(long)]
        alg: Option<Algorithm>,
    },
    /// Add a key of an algorithm beside the others, unless one is published already;
    /// the signing key stays. For Data Integrity proofs (`eddsa-rdfc-2022` needs an
    /// Ed25519 key, `ecdsa-rdfc-2019` a P-256 one), published ahead of their first
    /// use. A running service picks it up within 30 seconds.
    Add {
        #[command(flatten)]
        dir: KeysDir,
        /// Algorithm of the key (ES256, RS256 or EdDSA).
        #[arg(long)]
        alg: Algorithm,
    },
    /// List the keys: id, algorithm, creation time, and which one signs.
    List {
        #[command(flatten)]
        dir: KeysDir,
    },
    /// Retire a rotated-out key: its private key is deleted and it is marked retired.
    /// Its public key stays in the DID document, so badges it signed before still
    /// verify; a badge it appears to have signed dated after the retirement is refused
    /// by this service. The signing key cannot be retired (rotate first). A running
    /// service follows within 30 seconds.
    Retire {
        #[command(flatten)]
        dir: KeysDir,
        /// The key id (as `keys list` shows it).
        kid: String,
    },
    /// Revoke a compromised key: it leaves the DID document (and its private key is
    /// deleted), so every badge it signed stops verifying, here and everywhere else.
    /// Reissue those badges with the signing key. The signing key cannot be revoked
    /// (rotate first). A running service follows within 30 seconds.
    Revoke {
        #[command(flatten)]
        dir: KeysDir,
        /// The key id (as `keys list` shows it).
        kid: String,
    },
}

#[derive(Debug, Args)]
pub struct KeysDir {
    /// The keys directory.
    #[arg(long, env = "ACCOLADE_KEYS_DIR", default_value = "./keys")]
    pub keys_dir: PathBuf,
    /// A fleet's database: with ACCOLADE_KEY_ENCRYPTION_KEY set, act on the keys it
    /// keeps (sealed) instead of the directory.
    #[arg(
        long,
        env = "ACCOLADE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
}

/// Where the command acts: the directory, or a fleet's database and its key.
enum Place {
    Dir(PathBuf),
    Database(Box<crate::store::Store>, KeyEncryptionKey),
}

impl KeysDir {
    fn place(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Place> {
        let kek = std::env::var("ACCOLADE_KEY_ENCRYPTION_KEY")
            .ok()
            .filter(|k| !k.is_empty());
        match (&self.database_url, kek) {
            (Some(url), Some(kek)) => {
                let store = rt
                    .block_on(crate::store::Store::connect(url))
                    .context("connecting to the PostgreSQL database")?;
                Ok(Place::Database(Box::new(store), kek.parse()?))
            }
            (Some(_), None) => {
                eprintln!(
                    "note: no ACCOLADE_KEY_ENCRYPTION_KEY, so the fleet's keys are those of the keys directory {}",
                    self.keys_dir.display()
                );
                Ok(Place::Dir(self.keys_dir.clone()))
            }
            (None, Some(_)) => anyhow::bail!(
                "ACCOLADE_KEY_ENCRYPTION_KEY is set: give the fleet's --database-url (or unset it to act on the keys directory)"
            ),
            (None, None) => Ok(Place::Dir(self.keys_dir.clone())),
        }
    }
}

/// Changes the key set a fleet's database keeps with `change`, retrying when another
/// writer changed it in between; what `change` returned.
fn change_sealed<T>(
    rt: &tokio::runtime::Runtime,
    store: &crate::store::Store,
    kek: &KeyEncryptionKey,
    change: impl FnMut(&mut KeySet) -> Result<T, keyring::Error>,
) -> anyhow::Result<T> {
    Ok(rt.block_on(crate::app::KeySource::change_sealed(
        &*store.fleet,
        kek,
        change,
    ))?)
}

fn list(ring: &Keyring) {
    println!("{:<45} {:<6} {:<22} status", "kid", "alg", "created");
    let retired = ring.retired_keys();
    for info in ring.keys().map(|(i, _)| i).chain(retired) {
        let status = if info.kid == ring.signing_kid() {
            "signing".to_owned()
        } else if info.revoked {
            "revoked".to_owned()
        } else if let Some(t) = &info.retired_at {
            format!("retired {t}")
        } else {
            "published".to_owned()
        };
        println!(
            "{:<45} {:<6} {:<22} {status}",
            info.kid,
            info.alg.name(),
            info.created
        );
    }
}

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cmd {
        KeysCommand::Rotate { dir, alg } => match dir.place(&rt)? {
            Place::Dir(d) => {
                let alg = match alg {
                    Some(a) => a,
                    None => Keyring::load(&d)
                        .map(|r| r.signing_key().algorithm())
                        .unwrap_or(Algorithm::ES256),
                };
                let kid = keyring::rotate(&d, alg)?;
                println!("new signing key {kid} ({alg}) in {}", d.display());
                println!(
                    "a running service (every node sharing the directory) signs with it within 30 s; earlier keys stay published"
                );
            }
            Place::Database(store, kek) => {
                let (kid, alg) = change_sealed(&rt, &store, &kek, |set| {
                    let alg = match alg {
                        Some(a) => a,
                        None => set.keyring()?.signing_key().algorithm(),
                    };
                    Ok((set.rotate(alg)?, alg))
                })?;
                println!("new signing key {kid} ({alg}), sealed in the fleet's database");
                println!("every node signs with it within 30 s; earlier keys stay published");
            }
        },
        KeysCommand::Add { dir, alg } => {
            let kid = match dir.place(&rt)? {
                Place::Dir(d) => keyring::add(&d, alg)?,
                Place::Database(store, kek) => {
                    change_sealed(&rt, &store, &kek, |set| set.add(alg))?
                }
            };
            println!("{alg} key {kid} is published beside the signing key");
            println!("a running service (every node of a fleet) lists it within 30 s");
        }
        KeysCommand::List { dir } => match dir.place(&rt)? {
            Place::Dir(d) => list(&Keyring::load(&d)?),
            Place::Database(store, kek) => {
                let ring = rt.block_on(
                    crate::app::KeySource::Database {
                        fleet: store.fleet.clone(),
                        kek,
                    }
                    .load(),
                )?;
                list(&ring);
            }
        },
        KeysCommand::Retire { dir, kid } => {
            let now = time::OffsetDateTime::now_utc();
            match dir.place(&rt)? {
                Place::Dir(d) => keyring::retire(&d, &kid, now)?,
                Place::Database(store, kek) => {
                    change_sealed(&rt, &store, &kek, |set| set.retire(&kid, now))?;
                }
            }
            println!(
                "key {kid} retired: its private key is deleted; its public key stays published, so badges it signed before still verify, and badges dated after now that claim it are refused (running nodes follow within 30 s)"
            );
        }
        KeysCommand::Revoke { dir, kid } => {
            match dir.place(&rt)? {
                Place::Dir(d) => keyring::revoke(&d, &kid)?,
                Place::Database(store, kek) => {
                    change_sealed(&rt, &store, &kek, |set| set.revoke(&kid))?;
                }
            }
            println!(
                "key {kid} revoked: it leaves the DID document and every badge it signed stops verifying (running nodes follow within 30 s); reissue those badges"
            );
        }
    }
    Ok(())
}
