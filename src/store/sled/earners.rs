//! The earner repository.
//!
//! - `earners`, by one-byte prefix: `e` identity → [`EarnerRecord`] (JSON); `h` profile
//!   handle → the identity holding it. A record and its handle change in one
//!   transaction (rare writes: an earner's own changes).

use ::sled::transaction::{ConflictableTransactionError, TransactionError};
use async_trait::async_trait;

use super::{SledStore, from_json, json, prefixed};
use crate::records::{EarnerRecord, Handle};
use crate::store::{Earners, Error};

const EARNER: u8 = b'e';
const HANDLE: u8 = b'h';

#[async_trait]
impl Earners for SledStore {
    async fn earner(&self, identity: &str) -> Result<Option<EarnerRecord>, Error> {
        self.earners
            .get(prefixed(EARNER, identity.as_bytes()))?
            .map(|v| from_json("earner", &v))
            .transpose()
    }

    async fn earner_by_handle(&self, handle: &Handle) -> Result<Option<EarnerRecord>, Error> {
        let Some(identity) = self
            .earners
            .get(prefixed(HANDLE, handle.as_str().as_bytes()))?
        else {
            return Ok(None);
        };
        let identity = String::from_utf8(identity.to_vec())
            .map_err(|e| Error::Corrupt(format!("handle {handle}"), e.to_string()))?;
        self.earner(&identity).await
    }

    async fn put_earner(&self, earner: &EarnerRecord) -> Result<(), Error> {
        let key = prefixed(EARNER, earner.identity.as_bytes());
        let value = json("earner", earner)?;
        let identity = earner.identity.as_bytes();
        let result = self.earners.transaction(|t| {
            let old: Option<EarnerRecord> = match t.get(&key)? {
                Some(v) => {
                    Some(from_json("earner", &v).map_err(ConflictableTransactionError::Abort)?)
                }
                None => None,
            };
            if let Some(h) = &earner.handle {
                let hk = prefixed(HANDLE, h.as_str().as_bytes());
                match t.get(&hk)? {
                    Some(holder) if holder.as_ref() != identity => {
                        return Err(ConflictableTransactionError::Abort(Error::Refused(
                            format!("the profile name {h:?} is taken"),
                        )));
                    }
                    Some(_) => {}
                    None => {
                        t.insert(hk, identity)?;
                    }
                }
            }
            if let Some(old) = old.and_then(|o| o.handle)
                && Some(&old) != earner.handle.as_ref()
            {
                t.remove(prefixed(HANDLE, old.as_str().as_bytes()))?;
            }
            t.insert(key.as_slice(), value.as_slice())?;
            Ok(())
        });
        match result {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earner(identity: &str, handle: Option<&str>) -> EarnerRecord {
        EarnerRecord {
            handle: handle.map(|h| h.parse().expect("handle")),
            ..EarnerRecord::new(identity.into())
        }
    }

    #[tokio::test]
    async fn handles_are_unique_and_follow_their_earner() {
        let dir = tempfile::tempdir().expect("tmp");
        let (s, _) = SledStore::open(dir.path()).expect("open");
        let ada = earner("mailto:ada@example.org", Some("ada"));
        s.put_earner(&ada).await.expect("claims ada");
        let taken = s
            .put_earner(&earner("mailto:bob@example.org", Some("ada")))
            .await;
        assert!(matches!(taken, Err(Error::Refused(_))), "{taken:?}");
        assert!(
            s.earner("mailto:bob@example.org")
                .await
                .expect("test value")
                .is_none()
        );
        // Renaming lets the old handle go.
        s.put_earner(&earner("mailto:ada@example.org", Some("ada-l")))
            .await
            .expect("renames");
        let h = |x: &str| x.parse::<Handle>().expect("test value");
        assert!(
            s.earner_by_handle(&h("ada"))
                .await
                .expect("test value")
                .is_none()
        );
        assert_eq!(
            s.earner_by_handle(&h("ada-l"))
                .await
                .expect("test value")
                .expect("test value")
                .identity,
            "mailto:ada@example.org"
        );
        s.put_earner(&earner("mailto:bob@example.org", Some("ada")))
            .await
            .expect("free again");
        assert_eq!(
            s.earner("mailto:bob@example.org")
                .await
                .expect("test value")
                .expect("test value")
                .handle,
            Some(h("ada"))
        );
    }
}
