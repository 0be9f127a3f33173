//! The signing keys of a fleet kept in its database, sealed under
//! `ACCOLADE_KEY_ENCRYPTION_KEY` (64 hexadecimal digits: a 256-bit key).
//!
//! A [`KeySet`] is what a keys directory holds — the manifest, each key's PKCS#8 PEM
//! and the link secret — as one value. Sealed, the manifest stays readable (key ids,
//! algorithms, dates: all public) and every secret is encrypted with AES-256-GCM under
//! the key-encryption key, a fresh 96-bit nonce each, with the secret's role and key id
//! as associated data, so that a sealed key cannot be passed off as another or as the
//! link secret. The database alone never gives a key away; a wrong key-encryption key
//! fails to open the set and says so.

use std::path::Path;
use std::sync::Arc;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use super::{Error, KeyInfo, Keyring, LinkSecret, Manifest, io, pem_files, read_manifest};
use crate::jose::{self, Algorithm, SigningKey};

/// The key the secrets of a sealed key set are encrypted under. `Debug` never
/// prints it.
#[derive(Clone)]
pub struct KeyEncryptionKey([u8; 32]);

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

impl std::str::FromStr for KeyEncryptionKey {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        hex::decode(s.trim())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .map(Self)
            .ok_or(Error::Sealed(
                "ACCOLADE_KEY_ENCRYPTION_KEY must be 64 hexadecimal digits (256 bits; `openssl rand -hex 32` makes one)"
                    .into(),
            ))
    }
}

impl KeyEncryptionKey {
    fn key(&self) -> LessSafeKey {
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.0)
                .unwrap_or_else(|_| unreachable!("32 bytes is an AES-256 key")),
        )
    }

    fn seal(&self, role: &str, plain: &[u8]) -> Result<String, Error> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
        let mut buf = plain.to_vec();
        self.key()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(role.as_bytes()),
                &mut buf,
            )
            .map_err(|_| Error::Sealed(format!("sealing {role} failed")))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(jose::b64(out))
    }

    fn open(&self, role: &str, sealed: &str) -> Result<Vec<u8>, Error> {
        let wrong = || {
            Error::Sealed(format!(
                "{role} does not open under ACCOLADE_KEY_ENCRYPTION_KEY: the fleet's keys were sealed under another key (or altered)"
            ))
        };
        let bytes = jose::b64_decode(sealed, "sealed").map_err(|_| wrong())?;
        if bytes.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, body) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut buf = body.to_vec();
        let plain = self
            .key()
            .open_in_place(nonce, Aad::from(role.as_bytes()), &mut buf)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

/// A whole key set in memory: what a keys directory holds, as one value.
#[derive(Clone)]
pub struct KeySet {
    manifest: Manifest,
    /// Each key's PKCS#8 PEM, by key id.
    pems: Vec<(String, Vec<u8>)>,
    link_secret: [u8; 32],
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("manifest", &self.manifest)
            .finish_non_exhaustive()
    }
}

/// The sealed form, as the database keeps it (JSON).
#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    manifest: Manifest,
    keys: Vec<SealedKey>,
    link_secret: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct SealedKey {
    kid: String,
    sealed: String,
}

fn key_role(kid: &str) -> String {
    format!("accolade signing key {kid}")
}

const LINK_ROLE: &str = "accolade link secret";

impl KeySet {
    /// A new set: one key of `alg`, signing, and a new link secret.
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        let mut link_secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut link_secret);
        let mut set = Self {
            manifest: Manifest::default(),
            pems: Vec::new(),
            link_secret,
        };
        set.rotate(alg)?;
        Ok(set)
    }

    /// The set a keys directory holds (checked as [`Keyring::load`] checks it).
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        let ring = Keyring::load(dir)?;
        let mut manifest = read_manifest(dir)?;
        manifest.keys = ring.entries.iter().map(|(i, _)| i.clone()).collect();
        manifest.signing = Some(ring.signing_kid().to_owned());
        let mut pems = Vec::new();
        for path in pem_files(dir)? {
            let pem = std::fs::read(&path).map_err(io(&path))?;
            let key = SigningKey::from_pkcs8_pem(&pem).map_err(|source| Error::Key {
                path: path.clone(),
                source,
            })?;
            pems.push((key.id().to_owned(), pem));
        }
        Ok(Self {
            manifest,
            pems,
            link_secret: *ring.link_secret().bytes(),
        })
    }

    /// The keyring to sign with.
    pub fn keyring(&self) -> Result<Keyring, Error> {
        let mut entries = Vec::new();
        for info in &self.manifest.keys {
            if (info.retired_at.is_some() || info.revoked)
                && !self.pems.iter().any(|(kid, _)| kid == &info.kid)
            {
                // Retired (published from the manifest) or revoked: no private key.
                continue;
            }
            let pem = self
                .pems
                .iter()
                .find(|(kid, _)| kid == &info.kid)
                .map(|(_, p)| p)
                .ok_or_else(|| Error::Sealed(format!("key {} has no private key", info.kid)))?;
            let key = SigningKey::from_pkcs8_pem(pem).map_err(|source| Error::Key {
                path: format!("key {}", info.kid).into(),
                source,
            })?;
            if key.id() != info.kid {
                return Err(Error::Sealed(format!(
                    "key {} holds key {}",
                    info.kid,
                    key.id()
                )));
            }
            entries.push((info.clone(), Arc::new(key)));
        }
        if entries.is_empty() {
            return Err(Error::Sealed("the key set holds no key".into()));
        }
        Ok(Keyring::assemble(
            &self.manifest,
            entries,
            LinkSecret::from_bytes(self.link_secret),
        ))
    }

    /// Adds a key of `alg` and makes it the signing key; its id.
    pub fn rotate(&mut self, alg: Algorithm) -> Result<String, Error> {
        let kid = self.push_new(alg)?;
        self.manifest.signing = Some(kid.clone());
        Ok(kid)
    }

    /// The newest published key of `alg`, added first (beside the others, the signing
    /// key as it was) when there is none: two nodes adding at once end with one.
    pub fn add(&mut self, alg: Algorithm) -> Result<String, Error> {
        if !self.pems.is_empty()
            && let Some((info, _)) = self.keyring()?.newest_of(alg)
        {
            return Ok(info.kid.clone());
        }
        self.push_new(alg)
    }

    /// A new key of `alg` in the set.
    fn push_new(&mut self, alg: Algorithm) -> Result<String, Error> {
        if self.manifest.signing.is_none() && !self.pems.is_empty() {
            // Keys moved in without a signing key named: name the one signing now,
            // so that the key added here does not take its place.
            self.manifest.signing = Some(self.keyring()?.signing_kid().to_owned());
        }
        let (key, pem) = SigningKey::generate(alg).map_err(Error::Generate)?;
        let kid = key.id().to_owned();
        self.manifest.keys.push(KeyInfo::new(
            kid.clone(),
            alg,
            crate::clock::format_seconds(time::OffsetDateTime::now_utc()),
        ));
        self.pems.push((kid.clone(), pem));
        Ok(kid)
    }

    /// Retires `kid` at `now`: its private key leaves the set, its public key stays
    /// published, and badges it signed dated after `now` are refused. Refused for the
    /// signing key.
    pub fn retire(&mut self, kid: &str, now: time::OffsetDateTime) -> Result<(), Error> {
        let ring = self.keyring()?;
        super::retire_in(&mut self.manifest, &ring, kid, now)?;
        self.pems.retain(|(k, _)| k != kid);
        Ok(())
    }

    /// Revokes `kid`: it leaves the DID document and the set. Refused for the
    /// signing key.
    pub fn revoke(&mut self, kid: &str) -> Result<(), Error> {
        let ring = self.keyring()?;
        super::revoke_in(&mut self.manifest, &ring, kid)?;
        self.pems.retain(|(k, _)| k != kid);
        Ok(())
    }

    /// The set sealed under `kek`, as JSON.
    pub fn seal(&self, kek: &KeyEncryptionKey) -> Result<String, Error> {
        let mut keys = Vec::new();
        for (kid, pem) in &self.pems {
            keys.push(SealedKey {
                kid: kid.clone(),
                sealed: kek.seal(&key_role(kid), pem)?,
            });
        }
        let sealed = Sealed {
            manifest: self.manifest.clone(),
            keys,
            link_secret: kek.seal(LINK_ROLE, &self.link_secret)?,
        };
        serde_json::to_string(&sealed).map_err(|e| Error::Sealed(e.to_string()))
    }

    /// Opens a set sealed under `kek`.
    pub fn unseal(json: &str, kek: &KeyEncryptionKey) -> Result<Self, Error> {
        let sealed: Sealed = serde_json::from_str(json)
            .map_err(|e| Error::Sealed(format!("the sealed key set is not readable: {e}")))?;
        let mut pems = Vec::new();
        for k in &sealed.keys {
            pems.push((k.kid.clone(), kek.open(&key_role(&k.kid), &k.sealed)?));
        }
        let link_secret = <[u8; 32]>::try_from(kek.open(LINK_ROLE, &sealed.link_secret)?)
            .map_err(|_| Error::Sealed("the link secret is not 32 bytes".into()))?;
        Ok(Self {
            manifest: sealed.manifest,
            pems,
            link_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        hex::encode([byte; 32]).parse().expect("kek")
    }

    #[test]
    fn a_key_encryption_key_is_64_hex_digits() {
        assert!("00".parse::<KeyEncryptionKey>().is_err());
        assert!("zz".repeat(32).parse::<KeyEncryptionKey>().is_err());
        let k = kek(7);
        assert_eq!(format!("{k:?}"), "KeyEncryptionKey(<redacted>)");
    }

    #[test]
    fn an_added_key_is_published_beside_the_signing_key_which_stays() {
        let mut set = KeySet::generate(Algorithm::ES256).expect("set");
        let signing = set.keyring().expect("ring").signing_kid().to_owned();
        let added = set.add(Algorithm::EdDSA).expect("add");
        let ring = KeySet::unseal(&set.seal(&kek(2)).expect("seal"), &kek(2))
            .expect("unseal")
            .keyring()
            .expect("ring");
        assert_eq!(ring.signing_kid(), signing);
        assert!(ring.published().iter().any(|k| k.kid == added));
        assert_eq!(
            ring.newest_of(Algorithm::EdDSA).map(|(i, _)| i.kid.clone()),
            Some(added)
        );
    }

    #[test]
    fn a_sealed_set_opens_under_its_key_only_and_hides_every_secret() {
        let mut set = KeySet::generate(Algorithm::EdDSA).expect("set");
        let first = set.keyring().expect("ring").signing_kid().to_owned();
        let second = set.rotate(Algorithm::ES256).expect("rotate");
        set.revoke(&first).expect("revoke");
        let json = set.seal(&kek(1)).expect("seal");
        for (_, pem) in &set.pems {
            let body = String::from_utf8_lossy(pem);
            let line = body.lines().nth(1).expect("a base64 line");
            assert!(!json.contains(line), "a private key in clear");
        }
        assert!(!json.contains(&hex::encode(set.link_secret)));
        let opened = KeySet::unseal(&json, &kek(1)).expect("unseal");
        let ring = opened.keyring().expect("ring");
        assert_eq!(ring.signing_kid(), second);
        assert_eq!(
            ring.published().len(),
            1,
            "the revoked key is not published"
        );
        assert!(
            !opened.pems.iter().any(|(k, _)| *k == first),
            "revoked key kept"
        );
        // Retiring: the private key goes, the public one stays published.
        let mut opened = opened;
        let third = opened.rotate(Algorithm::EdDSA).expect("rotate");
        opened
            .retire(&second, crate::clock::from_unix(1_800_000_000))
            .expect("retire");
        let ring = KeySet::unseal(&opened.seal(&kek(1)).expect("seal"), &kek(1))
            .expect("unseal")
            .keyring()
            .expect("ring");
        assert_eq!(ring.signing_kid(), third);
        let retired = ring.published().into_iter().find(|k| k.kid == second);
        assert_eq!(retired.and_then(|k| k.retired_at), Some(1_800_000_000));
        assert_eq!(ring.link_secret().bytes(), &set.link_secret);
        let err = KeySet::unseal(&json, &kek(2)).expect_err("another key");
        assert!(err.to_string().contains("another key"), "{err}");
    }

    #[test]
    fn a_sealed_key_cannot_be_passed_off_as_another() {
        let mut set = KeySet::generate(Algorithm::ES256).expect("set");
        set.rotate(Algorithm::ES256).expect("rotate");
        let json = set.seal(&kek(3)).expect("seal");
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
        let a = v["keys"][0]["sealed"].clone();
        v["keys"][0]["sealed"] = v["keys"][1]["sealed"].clone();
        v["keys"][1]["sealed"] = a;
        assert!(KeySet::unseal(&v.to_string(), &kek(3)).is_err());
        let mut v: serde_json::Value = serde_json::from_str(&json).expect("json");
        v["link_secret"] = v["keys"][0]["sealed"].clone();
        assert!(KeySet::unseal(&v.to_string(), &kek(3)).is_err());
    }

    #[test]
    fn a_directory_moves_into_a_set_with_its_link_secret() {
        let dir = tempfile::tempdir().expect("tmp");
        let ring = Keyring::load_or_generate(dir.path(), Algorithm::ES256).expect("dir");
        let set = KeySet::from_dir(dir.path()).expect("from dir");
        let again = KeySet::unseal(&set.seal(&kek(4)).expect("seal"), &kek(4))
            .expect("unseal")
            .keyring()
            .expect("ring");
        assert_eq!(again.signing_kid(), ring.signing_kid());
        assert_eq!(again.link_secret().bytes(), ring.link_secret().bytes());
        let kids =
            |r: &Keyring| -> Vec<String> { r.published().into_iter().map(|p| p.kid).collect() };
        assert_eq!(kids(&again), kids(&ring));
    }
}
