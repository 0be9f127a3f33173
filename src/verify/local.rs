//! What the verifier reads of this service's own badges, through narrow views that
//! hold no private key: the DID and the keys its DID document publishes
//! ([`OwnKeys`]), and the status lists and awards ([`LocalStatus`]). Badges of this
//! service are then checked with no network call, and a suspension is seen even when
//! a badge carries only a revocation entry.

use async_trait::async_trait;

use crate::did::Did;
use crate::did::web::PublishedKey;
use crate::jose::PublicJwk;
use crate::status::{StatusPurpose, StatusSlot};

/// This service's identity as a verifier needs it.
pub trait OwnKeys: Send + Sync + std::fmt::Debug {
    /// The service's DID.
    fn did(&self) -> &Did;
    /// Every key the DID document publishes.
    fn published(&self) -> Vec<PublishedKey>;
    /// A published key by id (the fragment of its verification method id).
    fn published_key(&self, kid: &str) -> Option<PublicJwk>;
    /// When the key `kid` was retired (unix seconds): what it signs dated later is
    /// not the issuer's.
    fn retired_at(&self, kid: &str) -> Option<i64> {
        self.published()
            .into_iter()
            .find(|k| k.kid == kid)
            .and_then(|k| k.retired_at)
    }
}

/// A DID and the keys it published when this value was made (at start-up).
#[derive(Debug, Clone)]
pub struct PublishedKeys {
    did: Did,
    keys: Vec<PublishedKey>,
}

impl PublishedKeys {
    pub fn new(did: Did, keys: Vec<PublishedKey>) -> Self {
        Self { did, keys }
    }
}

impl OwnKeys for PublishedKeys {
    fn did(&self) -> &Did {
        &self.did
    }

    fn published(&self) -> Vec<PublishedKey> {
        self.keys.clone()
    }

    fn published_key(&self, kid: &str) -> Option<PublicJwk> {
        self.keys
            .iter()
            .find(|k| k.kid == kid)
            .map(|k| k.jwk.clone())
    }
}

/// The state of one of this service's awards, as the status check reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwardFlags {
    pub revoked: bool,
    pub suspended: bool,
}

/// This service's status lists and awards.
#[async_trait]
pub trait LocalStatus: Send + Sync + std::fmt::Debug {
    /// Recognises one of this service's list URLs: its purpose and list number.
    fn list_of(&self, url: &str) -> Option<(StatusPurpose, u32)>;
    /// A bit of one of this service's lists; `None` for a list that does not exist.
    fn bit(&self, purpose: StatusPurpose, slot: StatusSlot) -> Option<bool>;
    /// The state of the award a credential id (`urn:uuid:...`) belongs to; `None`
    /// when this service made no such award (or it cannot be read now).
    async fn award_flags(&self, credential_id: &str) -> Option<AwardFlags>;
}
