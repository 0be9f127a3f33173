//! Earners: the people this issuer awarded badges to, as they manage them.
//!
//! An earner is known by the identity their awards name: the (normalised) e-mail
//! address, or the DID (or other IRI) of awards that name no address. Their badges are
//! every award of this issuer to that address, together with every award to a DID that
//! one of those awards also names ("same e-mail or same DID").
//!
//! **The manage link** (`earner_url` in every award answer and on the claim page) is
//! `{public url}/earner/{award uuid}/{mac}`, where `mac` is the base64url HMAC-SHA-256,
//! under the keys directory's link secret, of the earner's identity and the generation
//! of their links. Nothing secret is stored: a link is checked by deriving it again.
//! Renewing (an admin's action) bumps the generation, and every earlier link of that
//! earner stops working.
//!
//! **The profile** `/profiles/{handle}`: the earner picks a handle and publishes an
//! overview of their issued, unrevoked badges whose pages are public, minus those they
//! leave off it.

use std::collections::BTreeSet;

use subtle::ConstantTimeEq as _;
use uuid::Uuid;

use crate::catalogue::Catalogue;
use crate::issue::{self, Issuer};
use crate::keyring::LinkSecret;
use crate::records::{Award, EarnerRecord, Handle, Visibility};
use crate::store::{self, AwardFilter, Store};

/// Earner failures.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manage link that is not (or no longer) valid.
    #[error("this link is not valid")]
    LinkNotValid,
    #[error("{0}")]
    Invalid(String),
    /// The handle is another earner's.
    #[error("{0}")]
    Taken(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Issue(#[from] issue::Error),
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The most awards one earner's page lists.
const MAX_BADGES: usize = 1_000;
/// The longest profile headline.
pub const HEADLINE_MAX: usize = 120;

/// An earner opened through a valid manage link: their record and their badges,
/// newest first.
#[derive(Debug, Clone)]
pub struct Earner {
    pub record: EarnerRecord,
    /// The award whose link opened the page.
    pub via: Uuid,
    pub awards: Vec<Award>,
    /// The manage link as it stands (the one used to open it).
    pub manage_url: String,
}

impl Earner {
    /// The name the awards give the earner (the newest award naming one).
    pub fn name(&self) -> Option<&str> {
        self.awards.iter().find_map(|a| a.recipient.name.as_deref())
    }

    /// Whether an award is one of this earner's.
    pub fn holds(&self, award: Uuid) -> bool {
        self.awards.iter().any(|a| a.id == award)
    }
}

/// A change an earner makes on their manage page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Show or hide one badge's public page.
    Visibility(Uuid, Visibility),
    /// Put one badge on the profile, or leave it off.
    OnProfile(Uuid, bool),
    /// Pick the profile's handle and headline.
    Profile {
        handle: String,
        headline: Option<String>,
    },
    /// Publish or withdraw the profile.
    Publish(bool),
}

/// The earners of this issuer.
#[derive(Clone)]
pub struct Earners {
    store: std::sync::Arc<dyn store::Earners>,
    issuer: Issuer,
    catalogue: Catalogue,
    secret: LinkSecret,
    base: String,
}

impl std::fmt::Debug for Earners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Earners").finish_non_exhaustive()
    }
}

/// The identity an award names its earner by.
pub fn identity_of(award: &Award) -> Option<String> {
    // A credential issued as given through the VC-API is not a badge: no earner page.
    if award.is_general() {
        return None;
    }
    identity_of_recipient(&award.recipient)
}

fn identity_of_recipient(r: &crate::records::Recipient) -> Option<String> {
    match (&r.email, &r.id) {
        (Some(e), _) => Some(format!("mailto:{e}")),
        (None, Some(id)) => Some(id.clone()),
        (None, None) => None,
    }
}

impl Earners {
    pub fn new(store: &Store, issuer: Issuer, catalogue: Catalogue) -> Self {
        let base = issuer.identifier();
        let secret = issuer.link_secret();
        Self {
            store: store.earners.clone(),
            issuer,
            catalogue,
            secret,
            base,
        }
    }

    fn mac(&self, identity: &str, generation: u32) -> String {
        let mut msg = generation.to_be_bytes().to_vec();
        msg.extend_from_slice(identity.as_bytes());
        self.secret.derive("accolade earner manage link", &msg)
    }

    async fn record(&self, identity: &str) -> Result<EarnerRecord, Error> {
        Ok(self
            .store
            .earner(identity)
            .await?
            .unwrap_or_else(|| EarnerRecord::new(identity.to_owned())))
    }

    /// The manage link of an award's earner (`None` for an award naming nobody).
    pub async fn manage_url(&self, award: &Award) -> Result<Option<String>, Error> {
        let Some(identity) = identity_of(award) else {
            return Ok(None);
        };
        let rec = self.record(&identity).await?;
        Ok(Some(self.url_for(award.id, &rec)))
    }

    fn url_for(&self, award: Uuid, rec: &EarnerRecord) -> String {
        format!(
            "{}/earner/{award}/{}",
            self.base,
            self.mac(&rec.identity, rec.generation)
        )
    }

    /// Opens an earner by a manage link's two segments.
    pub async fn open(&self, award: &str, mac: &str) -> Result<Earner, Error> {
        let id = Uuid::parse_str(award).map_err(|_| Error::LinkNotValid)?;
        let rec = match self.issuer.credential(&id.to_string()).await {
            Ok(r) if r.id == id => r,
            Ok(_) | Err(issue::Error::NotFound(_)) => return Err(Error::LinkNotValid),
            Err(e) => return Err(e.into()),
        };
        let identity = identity_of(&rec).ok_or(Error::LinkNotValid)?;
        let record = self.record(&identity).await?;
        let expected = self.mac(&identity, record.generation);
        if !bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
            return Err(Error::LinkNotValid);
        }
        let awards = self.awards_of(&identity).await?;
        Ok(Earner {
            manage_url: self.url_for(id, &record),
            record,
            via: id,
            awards,
        })
    }

    /// Every award of an identity: those to its address (or DID), and those to a DID
    /// one of them names. Newest first.
    pub async fn awards_of(&self, identity: &str) -> Result<Vec<Award>, Error> {
        let first = match identity.strip_prefix("mailto:") {
            Some(email) => AwardFilter {
                email: Some(email.to_owned()),
                ..AwardFilter::default()
            },
            None => AwardFilter {
                recipient_id: Some(identity.to_owned()),
                ..AwardFilter::default()
            },
        };
        let mut out = self.all(&first).await?;
        let dids: BTreeSet<String> = out
            .iter()
            .filter_map(|a| a.recipient.id.clone())
            .filter(|d| d != identity)
            .collect();
        for did in dids {
            let more = self
                .all(&AwardFilter {
                    recipient_id: Some(did),
                    ..AwardFilter::default()
                })
                .await?;
            for a in more {
                if !out.iter().any(|b| b.id == a.id) {
                    out.push(a);
                }
            }
        }
        out.retain(|a| !a.is_general());
        out.sort_by_key(|a| std::cmp::Reverse(a.seq));
        out.truncate(MAX_BADGES);
        Ok(out)
    }

    async fn all(&self, filter: &AwardFilter) -> Result<Vec<Award>, Error> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.issuer.credentials(filter, 500, cursor).await?;
            out.extend(page.awards);
            match page.next {
                Some(n) if out.len() < MAX_BADGES => cursor = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// Applies an earner's change; durable when this returns.
    pub async fn change(&self, earner: &Earner, change: Change) -> Result<EarnerRecord, Error> {
        let mut rec = earner.record.clone();
        match change {
            Change::Visibility(award, v) => {
                if !earner.holds(award) {
                    return Err(Error::NotFound("badge".into()));
                }
                self.catalogue.set_visibility(award, v).await?;
                return Ok(rec);
            }
            Change::OnProfile(award, on) => {
                if !earner.holds(award) {
                    return Err(Error::NotFound("badge".into()));
                }
                rec.excluded.retain(|a| *a != award);
                if !on {
                    rec.excluded.push(award);
                }
            }
            Change::Profile { handle, headline } => {
                let handle: Handle = handle
                    .parse()
                    .map_err(|e: crate::records::Invalid| Error::Invalid(e.0))?;
                let headline = headline
                    .map(|h| h.trim().to_owned())
                    .filter(|h| !h.is_empty());
                if headline
                    .as_ref()
                    .is_some_and(|h| h.chars().count() > HEADLINE_MAX)
                {
                    return Err(Error::Invalid(format!(
                        "a headline has at most {HEADLINE_MAX} characters"
                    )));
                }
                if headline
                    .as_ref()
                    .is_some_and(|h| h.chars().any(char::is_control))
                {
                    return Err(Error::Invalid("a headline is one line of text".into()));
                }
                rec.handle = Some(handle);
                rec.headline = headline;
            }
            Change::Publish(on) => {
                if on && rec.handle.is_none() {
                    return Err(Error::Invalid(
                        "pick a profile name before publishing".into(),
                    ));
                }
                rec.published = on;
            }
        }
        self.put(&rec).await?;
        Ok(rec)
    }

    async fn put(&self, rec: &EarnerRecord) -> Result<(), Error> {
        match self.store.put_earner(rec).await {
            Ok(()) => {}
            Err(store::Error::Refused(m)) => return Err(Error::Taken(m)),
            Err(e) => return Err(e.into()),
        }
        self.store.flush().await?;
        Ok(())
    }

    /// An admin's renewal of the manage link of an award's earner: every earlier link
    /// stops working. Returns the new link; durable when this returns.
    pub async fn renew(&self, credential_id: &str) -> Result<String, Error> {
        let award = self.issuer.credential(credential_id).await?;
        let identity = identity_of(&award)
            .ok_or_else(|| Error::Invalid("the award names no recipient".into()))?;
        let mut rec = self.record(&identity).await?;
        rec.generation = rec.generation.wrapping_add(1);
        self.put(&rec).await?;
        tracing::info!(jti = %award.credential_id(), "earner manage link renewed");
        Ok(self.url_for(award.id, &rec))
    }

    /// A published profile and the badges it shows (issued, unrevoked, with a public
    /// page, not left off), newest first.
    pub async fn profile(&self, handle: &str) -> Result<(EarnerRecord, Vec<Award>), Error> {
        let not_found = || Error::NotFound("profile".into());
        let handle: Handle = handle.parse().map_err(|_| not_found())?;
        let rec = self
            .store
            .earner_by_handle(&handle)
            .await?
            .filter(|r| r.published)
            .ok_or_else(not_found)?;
        let mut shown = Vec::new();
        for a in self.awards_of(&rec.identity).await? {
            if self.on_profile(&rec, &a).await? {
                shown.push(a);
            }
        }
        Ok((rec, shown))
    }

    /// Whether a badge appears on its earner's profile.
    pub async fn on_profile(&self, rec: &EarnerRecord, a: &Award) -> Result<bool, Error> {
        Ok(shown_on_profile(rec, a, true) && self.catalogue.is_public(a.id).await?)
    }
}

/// Whether a badge appears on its earner's profile, given whether its page is public:
/// issued, not revoked, and not left off.
pub fn shown_on_profile(rec: &EarnerRecord, a: &Award, public: bool) -> bool {
    public && !a.issued.is_empty() && !a.revoked && !rec.excluded.contains(&a.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Recipient;

    fn recipient(email: Option<&str>, id: Option<&str>) -> Recipient {
        Recipient {
            name: None,
            email: email.map(str::to_owned),
            id: id.map(str::to_owned),
        }
    }

    #[test]
    fn the_identity_is_the_address_first_then_the_did() {
        assert_eq!(
            identity_of_recipient(&recipient(Some("ada@example.org"), Some("did:key:z6Mk")))
                .as_deref(),
            Some("mailto:ada@example.org")
        );
        assert_eq!(
            identity_of_recipient(&recipient(None, Some("did:key:z6Mk"))).as_deref(),
            Some("did:key:z6Mk")
        );
        assert_eq!(identity_of_recipient(&recipient(None, None)), None);
    }
}
