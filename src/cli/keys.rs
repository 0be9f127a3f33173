//! `accolade keys rotate|list|retire`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::jose::Algorithm;
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
    /// List the keys: id, algorithm, creation time, and which one signs.
    List {
        #[command(flatten)]
        dir: KeysDir,
    },
    /// Stop publishing a key in the DID document. Badges it signed stop verifying;
    /// the signing key cannot be retired. A running service follows within 30 seconds.
    Retire {
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
}

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate { dir, alg } => {
            let alg = match alg {
                Some(a) => a,
                None => Keyring::load(&dir.keys_dir)
                    .map(|r| r.signing_key().algorithm())
                    .unwrap_or(Algorithm::ES256),
            };
            let kid = keyring::rotate(&dir.keys_dir, alg)?;
            println!(
                "new signing key {kid} ({alg}) in {}",
                dir.keys_dir.display()
            );
            println!("restart the service to sign with it; earlier keys stay published");
        }
        KeysCommand::List { dir } => {
            let ring = Keyring::load(&dir.keys_dir)?;
            println!("{:<45} {:<6} {:<22} status", "kid", "alg", "created");
            for (info, _) in ring.keys() {
                let status = if info.kid == ring.signing_kid() {
                    "signing"
                } else if info.retired {
                    "retired"
                } else {
                    "published"
                };
                println!(
                    "{:<45} {:<6} {:<22} {status}",
                    info.kid,
                    info.alg.name(),
                    info.created
                );
            }
        }
        KeysCommand::Retire { dir, kid } => {
            keyring::retire(&dir.keys_dir, &kid)?;
            println!("key {kid} retired: no longer in the DID document after a restart");
        }
    }
    Ok(())
}
