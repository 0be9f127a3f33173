//! Offers: how an award that is not delivered directly reaches the earner's wallet.
//!
//! Every offered award gets a pre-authorized-code Credential Offer (OpenID4VCI 1.0
//! §4.1.1, the same shape in draft 13): `credential_issuer`, `credential_configuration_ids`
//! and a `urn:ietf:params:oauth:grant-type:pre-authorized_code` grant carrying the code
//! and, when the award asks for one, a `tx_code` description (numeric, six digits). The
//! offer is passed by reference (`credential_offer_uri`, §4.1.3) inside an
//! `openid-credential-offer://` link, and can also be fetched by value.
//!
//! Lifetimes: the code and its offer live [`OFFER_TTL_SECONDS`]. The claim page URL
//! lives as long as the award: opened after the offer expired, it mints a fresh one
//! with the same transaction code. Five wrong transaction codes lock the award's offers
//! until an admin re-offers, which also replaces the transaction code, so guessing
//! cannot go on by minting new offers.

use rand::Rng as _;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Error, Issuer, base};
use crate::jose::b64;
use crate::records::{Award, AwardState, ClaimLink, Offer, OfferSecret, WalletHandle};
use crate::store::{self, AwardChange, HandleOp};

pub use crate::records::wallet::{
    CONFIG_JWT_VC_JSON, CONFIG_JWT_VC_JSON_LD, CONFIG_LDP_VC, CONFIGURATIONS,
};

/// How long a pre-authorized code and its offer are accepted.
pub const OFFER_TTL_SECONDS: i64 = 15 * 60;
/// Wrong transaction codes that kill an offer.
pub const MAX_TX_CODE_FAILURES: u8 = 5;
/// Digits in a transaction code.
pub const TX_CODE_LENGTH: usize = 6;
/// The pre-authorized code grant type (OpenID4VCI 1.0 §4.1.1).
pub const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// `bytes` random bytes as base64url: codes, tokens, nonces and ids.
pub fn random_id(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill(b.as_mut_slice());
    b64(b)
}

/// A uniformly random numeric transaction code.
/// What a stored transaction code digest starts with.
pub const TX_DIGEST_PREFIX: &str = "h1:";

pub fn new_tx_code() -> String {
    let mut rng = rand::thread_rng();
    (0..TX_CODE_LENGTH)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// Where an award stands for its claim page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// An offer is live.
    Open,
    /// The badge is in a wallet.
    Issued,
    /// The award was revoked.
    Revoked,
    /// Too many wrong transaction codes; an admin must re-offer.
    Locked,
    /// A wallet asked and the issuer has not approved yet.
    AwaitingApproval,
}

/// An award as its claim page shows it.
#[derive(Debug, Clone)]
pub struct Claim {
    pub record: Award,
    pub state: ClaimState,
}

/// Characters kept of a derived offer or claim page id (132 bits).
const DERIVED_ID_CHARS: usize = 22;

impl Issuer {
    /// A fresh offer for an award.
    pub(crate) fn new_offer(&self) -> Offer {
        let now = self.now();
        Offer {
            secret: OfferSecret::Seed(random_id(16)),
            expires_at: now + time::Duration::seconds(OFFER_TTL_SECONDS),
            created_at: now,
        }
    }

    /// A keyed hash (under the keys directory's link secret) of an award id and `seed`.
    fn derived(&self, purpose: &str, award: Uuid, seed: &str) -> String {
        let mut msg = award.as_bytes().to_vec();
        msg.extend_from_slice(seed.as_bytes());
        self.keys.current().link_secret().derive(purpose, &msg)
    }

    /// The id of an offer (in its `credential_offer_uri`).
    pub fn offer_id(&self, award: Uuid, offer: &Offer) -> String {
        match &offer.secret {
            OfferSecret::Seed(seed) => {
                let mut id = self.derived("offer id", award, seed);
                id.truncate(DERIVED_ID_CHARS);
                id
            }
            OfferSecret::Clear { id, .. } => id.clone(),
        }
    }

    /// The pre-authorized code of an offer.
    pub fn offer_code(&self, award: Uuid, offer: &Offer) -> String {
        match &offer.secret {
            OfferSecret::Seed(seed) => self.derived("pre-authorized_code", award, seed),
            OfferSecret::Clear { code, .. } => code.clone(),
        }
    }

    /// The id in an award's claim page URL, when it has a claim page.
    pub fn claim_id(&self, rec: &Award) -> Option<String> {
        Some(match rec.wallet.claim.as_ref()? {
            ClaimLink::Derived => {
                let mut id = self.derived("claim id", rec.id, "");
                id.truncate(DERIVED_ID_CHARS);
                id
            }
            ClaimLink::Clear(id) => id.clone(),
        })
    }

    fn handle_digest(&self, purpose: &str, value: &str) -> String {
        self.keys
            .current()
            .link_secret()
            .derive(purpose, value.as_bytes())
    }

    /// The key a pre-authorized code is indexed under (its keyed hash).
    pub(crate) fn code_digest(&self, code: &str) -> String {
        self.handle_digest("code handle", code)
    }

    /// The form a handle is indexed under: for codes, offer ids and claim ids a keyed
    /// hash, so that the index does not hold what it leads to.
    pub(crate) fn stored_handle(&self, handle: &WalletHandle) -> WalletHandle {
        let digest = |purpose: &str, v: &str| self.handle_digest(purpose, v);
        match handle {
            WalletHandle::Code(v) => WalletHandle::Code(self.code_digest(v)),
            WalletHandle::Offer(v) => WalletHandle::Offer(digest("offer handle", v)),
            WalletHandle::Claim(v) => WalletHandle::Claim(digest("claim handle", v)),
            other => other.clone(),
        }
    }

    /// The index entries of an offer: its code's and its id's. An offer recorded by an
    /// earlier version is indexed as it is.
    pub(crate) fn offer_handles(&self, award: Uuid, offer: &Offer) -> [WalletHandle; 2] {
        match &offer.secret {
            OfferSecret::Seed(_) => [
                self.stored_handle(&WalletHandle::Code(self.offer_code(award, offer))),
                self.stored_handle(&WalletHandle::Offer(self.offer_id(award, offer))),
            ],
            OfferSecret::Clear { id, code } => [
                WalletHandle::Code(code.clone()),
                WalletHandle::Offer(id.clone()),
            ],
        }
    }

    /// The key of an offer's code entry (the award and its wrong transaction codes).
    pub(crate) fn code_key(&self, award: Uuid, offer: &Offer) -> String {
        match &offer.secret {
            OfferSecret::Seed(_) => self.code_digest(&self.offer_code(award, offer)),
            OfferSecret::Clear { code, .. } => code.clone(),
        }
    }

    /// The index entry of an award's claim page.
    pub(crate) fn claim_handle(&self, rec: &Award) -> Option<WalletHandle> {
        match rec.wallet.claim.as_ref()? {
            ClaimLink::Derived => Some(
                self.stored_handle(&WalletHandle::Claim(self.claim_id(rec).unwrap_or_default())),
            ),
            ClaimLink::Clear(id) => Some(WalletHandle::Claim(id.clone())),
        }
    }

    /// Every index entry of a newly recorded award.
    pub(crate) fn award_handles(&self, rec: &Award) -> Vec<WalletHandle> {
        let mut out = Vec::new();
        if let Some(o) = &rec.wallet.offer {
            out.extend(self.offer_handles(rec.id, o));
        }
        out.extend(self.claim_handle(rec));
        out
    }

    /// The award a value presented by a caller leads to, and the index entry it was
    /// found under: the keyed hash, or the value itself for entries recorded by
    /// earlier versions. The caller still compares the value with the award's own.
    pub(crate) async fn find_handle(
        &self,
        handle: WalletHandle,
    ) -> Result<Option<(Uuid, WalletHandle)>, store::Error> {
        let stored = self.stored_handle(&handle);
        if let Some(a) = self.offers.award_for(&stored).await? {
            return Ok(Some((a, stored)));
        }
        Ok(self.offers.award_for(&handle).await?.map(|a| (a, handle)))
    }

    /// The URL the offer object is served at (`credential_offer_uri`).
    pub fn offer_url(&self, award: Uuid, offer: &Offer) -> String {
        format!(
            "{}/oid4vci/offers/{}",
            base(&self.public_url),
            self.offer_id(award, offer)
        )
    }

    /// The `openid-credential-offer://` link of an offer, by reference.
    pub fn offer_uri(&self, award: Uuid, offer: &Offer) -> String {
        let mut u = url::Url::parse("openid-credential-offer://")
            .unwrap_or_else(|e| unreachable!("a constant URL parses: {e}"));
        u.query_pairs_mut()
            .append_pair("credential_offer_uri", &self.offer_url(award, offer));
        u.to_string()
    }

    /// The `openid-credential-offer://` link carrying the offer by value
    /// (`credential_offer`, §4.1.2), for wallets or channels that cannot fetch it.
    pub fn offer_uri_by_value(&self, rec: &Award, offer: &Offer) -> String {
        let mut u = url::Url::parse("openid-credential-offer://")
            .unwrap_or_else(|e| unreachable!("a constant URL parses: {e}"));
        u.query_pairs_mut().append_pair(
            "credential_offer",
            &self.credential_offer(rec, offer).to_string(),
        );
        u.to_string()
    }

    /// The claim page of an award.
    pub fn claim_url(&self, rec: &Award) -> Option<String> {
        self.claim_id(rec)
            .map(|c| format!("{}/claim/{c}", base(&self.public_url)))
    }

    /// The Credential Offer object (OpenID4VCI 1.0 §4.1.1).
    pub fn credential_offer(&self, rec: &Award, offer: &Offer) -> Value {
        let mut grant = json!({"pre-authorized_code": self.offer_code(rec.id, offer)});
        if rec.wallet.tx_code.is_some() {
            grant["tx_code"] = json!({
                "input_mode": "numeric",
                "length": TX_CODE_LENGTH,
                "description": "Enter the code the issuer sent you with this badge",
            });
        }
        json!({
            "credential_issuer": base(&self.public_url),
            "credential_configuration_ids": [rec.wallet.configuration()],
            "grants": {PRE_AUTHORIZED_GRANT: grant},
        })
    }

    /// The award's offer if it is live now: not expired, and its code neither spent
    /// (a spent code's handle is gone; the award is not rewritten for it) nor killed by
    /// wrong transaction codes.
    pub async fn offer_live<'a>(&self, rec: &'a Award) -> Option<&'a Offer> {
        let o = rec.wallet.offer.as_ref()?;
        if o.expires_at <= self.clock.now() || !rec.wallet_open() {
            return None;
        }
        let code = self
            .offers
            .code(&self.code_key(rec.id, o))
            .await
            .ok()
            .flatten()?;
        (code.failures < MAX_TX_CODE_FAILURES).then_some(o)
    }

    /// The offer object served at `credential_offer_uri`, while it is live.
    pub async fn offer_by_id(&self, id: &str) -> Result<Value, Error> {
        let not_found = || {
            Error::NotFound(
                "credential offer (it may have expired: open the claim link again)".into(),
            )
        };
        let (award, _) = self
            .find_handle(WalletHandle::Offer(id.to_owned()))
            .await?
            .ok_or_else(not_found)?;
        let rec = self.awards.award(award).await?.ok_or_else(not_found)?;
        match self.offer_live(&rec).await {
            Some(o) if same(&self.offer_id(award, o), id) => Ok(self.credential_offer(&rec, o)),
            _ => Err(not_found()),
        }
    }

    /// An admin's re-offer: a fresh offer and, when the award asks for one, a fresh
    /// transaction code. Earlier offers, their wrong-code counts, the tokens they
    /// bought and any wallet request waiting for approval are all dropped. Durable
    /// when this returns.
    pub async fn reoffer(&self, id: &str) -> Result<(Award, Option<String>), Error> {
        let award = self.credential(id).await?.id;
        let offer = self.new_offer();
        let now = self.now();
        let clear = new_tx_code();
        let digest = self.tx_code_digest(award, &clear);
        let mut tx_code = None;
        let rec = self
            .awards
            .update_award(award, &mut |rec: &mut Award| {
                if rec.revoked {
                    return Err(store::Error::Refused(
                        "the award is revoked; it cannot be offered again".into(),
                    ));
                }
                if !rec.wallet_open() {
                    return Err(store::Error::Refused(
                        "the award was delivered directly or is already in a wallet".into(),
                    ));
                }
                let mut ops = Vec::new();
                if let Some(old) = rec.wallet.offer.replace(offer.clone()) {
                    ops.extend(self.offer_handles(award, &old).map(HandleOp::Unlink));
                }
                ops.extend(self.offer_handles(award, &offer).map(HandleOp::Link));
                if let Some(d) = rec.wallet.deferred.take() {
                    ops.push(HandleOp::Unlink(WalletHandle::Transaction(
                        d.transaction_id,
                    )));
                }
                if rec.wallet.claim.is_none() {
                    rec.wallet.claim = Some(ClaimLink::Derived);
                    ops.extend(self.claim_handle(rec).map(HandleOp::Link));
                }
                tx_code = None;
                if rec.tx_code_required {
                    rec.wallet.tx_code = Some(digest.clone());
                    tx_code = Some(clear.clone());
                }
                rec.wallet.generation = rec.wallet.generation.wrapping_add(1);
                rec.updated_at = now;
                Ok(AwardChange::with_handles(ops))
            })
            .await
            .map_err(state_error)?;
        self.awards.flush().await?;
        tracing::info!(jti = %rec.credential_id(), "award re-offered");
        Ok((rec, tx_code))
    }

    /// Where an award stands for its claim page, from a plain read.
    async fn claim_state(&self, rec: &Award) -> Result<(ClaimState, bool), Error> {
        let state = if rec.revoked {
            ClaimState::Revoked
        } else if !rec.wallet_open() {
            ClaimState::Issued
        } else if rec.wallet.deferred.is_some() {
            ClaimState::AwaitingApproval
        } else {
            ClaimState::Open
        };
        let now = self.clock.now();
        let (state, live) = match (&rec.wallet.offer, state) {
            (Some(o), ClaimState::Open) => match self.offers.code(&self.code_key(rec.id, o)).await?
            {
                Some(e) if e.failures >= MAX_TX_CODE_FAILURES && rec.wallet.tx_code.is_some() => {
                    (ClaimState::Locked, false)
                }
                Some(_) => (ClaimState::Open, o.expires_at > now),
                None => (ClaimState::Open, false),
            },
            (_, s) => (s, false),
        };
        Ok((state, live))
    }

    /// The award behind a claim page, with a live offer when it can have one: an
    /// expired or used offer is replaced (same transaction code, and the wrong tries
    /// made against it carry over). A page view that changes nothing writes nothing;
    /// one that mints an offer is durable when this returns.
    pub async fn claim(&self, claim_id: &str) -> Result<Claim, Error> {
        let not_found = || Error::NotFound("claim link".into());
        let (award, _) = self
            .find_handle(WalletHandle::Claim(claim_id.to_owned()))
            .await?
            .ok_or_else(not_found)?;
        let record = self.awards.award(award).await?.ok_or_else(not_found)?;
        if !self
            .claim_id(&record)
            .is_some_and(|own| same(&own, claim_id))
        {
            return Err(not_found());
        }
        let (state, live) = self.claim_state(&record).await?;
        if state != ClaimState::Open || live {
            return Ok(Claim { record, state });
        }
        let checked = record
            .wallet
            .offer
            .as_ref()
            .map(|o| self.code_key(award, o));
        let offer = self.new_offer();
        let stamp = self.now();
        let minted = self
            .awards
            .change(award, |rec| {
                let unchanged =
                    rec.wallet.offer.as_ref().map(|o| self.code_key(award, o)) == checked;
                if !rec.wallet_open() || rec.wallet.deferred.is_some() || !unchanged {
                    // Changed since the read above (another page view minted already).
                    return Ok((AwardChange::none(), false));
                }
                let [_, new_offer] = self.offer_handles(award, &offer);
                let mut ops = vec![HandleOp::RelinkCode {
                    old: checked.clone(),
                    new: self.code_key(award, &offer),
                    max_failures: MAX_TX_CODE_FAILURES,
                }];
                if let Some(old) = rec.wallet.offer.replace(offer.clone()) {
                    let [_, old_offer] = self.offer_handles(award, &old);
                    ops.push(HandleOp::Unlink(old_offer));
                }
                ops.push(HandleOp::Link(new_offer));
                rec.updated_at = stamp;
                Ok((AwardChange::with_handles(ops), true))
            })
            .await;
        let record = match minted {
            Ok((rec, true)) => {
                self.awards.flush().await?;
                rec
            }
            Ok((rec, false)) => rec,
            Err(store::Error::Refused(_)) => {
                return Ok(Claim {
                    record,
                    state: ClaimState::Locked,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let (state, _) = self.claim_state(&record).await?;
        Ok(Claim { record, state })
    }
}

impl Issuer {
    /// Accepts a badge on its claim page, without a wallet: the transaction code (when
    /// the award has one) is checked against the live offer's code, counting wrong
    /// tries exactly as the wallet path does, so both paths share the five tries. The
    /// badge is signed for the award's own recipient (its DID, or the hashed e-mail
    /// identity) under the award's own id and status slot, and the award becomes
    /// issued; its offer stays live, so a wallet can still take a copy bound to its key
    /// later. Accepting an award that already has a badge changes nothing. Durable when
    /// this returns.
    pub async fn accept_on_web(
        &self,
        claim_id: &str,
        tx_code: Option<&str>,
    ) -> Result<Award, Error> {
        loop {
            let claim = self.claim(claim_id).await?;
            let rec = claim.record;
            if !rec.issued.is_empty() && !rec.revoked {
                return Ok(rec);
            }
            match claim.state {
                ClaimState::Revoked => {
                    return Err(Error::WrongState(
                        "this badge was revoked by its issuer".into(),
                    ));
                }
                ClaimState::Locked => return Err(Error::Locked),
                ClaimState::AwaitingApproval => {
                    return Err(Error::WrongState(
                        "a wallet asked for this badge and the issuer has not approved it yet"
                            .into(),
                    ));
                }
                ClaimState::Issued | ClaimState::Open => {}
            }
            if rec.suspended {
                return Err(Error::WrongState(
                    "this badge is suspended by its issuer".into(),
                ));
            }
            if rec.approval_required && !rec.wallet.approved {
                return Err(Error::WrongState(
                    "the issuer approves this badge before it is issued; try again once they have"
                        .into(),
                ));
            }
            if let Some(expected) = rec.wallet.tx_code.as_deref() {
                let offer = rec.wallet.offer.as_ref().ok_or_else(|| {
                    Error::WrongState("this badge has no live offer; open its link again".into())
                })?;
                let code_key = self.code_key(rec.id, offer);
                let Some(entry) = self.offers.code(&code_key).await? else {
                    return Err(Error::WrongState(
                        "a wallet is collecting this badge right now; open its link again in a minute".into(),
                    ));
                };
                if entry.failures >= MAX_TX_CODE_FAILURES {
                    return Err(Error::Locked);
                }
                let given = tx_code.map(str::trim).unwrap_or_default();
                if given.is_empty() {
                    return Err(Error::invalid(
                        "tx_code",
                        "enter the code the issuer sent you",
                    ));
                }
                if !self.tx_code_matches(rec.id, expected, given) {
                    let Some(left) = count_wrong_tx_code(&*self.offers, &code_key, entry).await?
                    else {
                        continue;
                    };
                    return Err(Error::WrongTxCode { left });
                }
            }
            let jwt = self.sign_award(&rec, rec.recipient.id.as_deref()).await?;
            let mut copy = crate::records::IssuedCopy::new(jwt, self.kid_url(), self.now());
            copy.subject.clone_from(&rec.recipient.id);
            let stamp = self.now();
            let (rec, _) = self
                .awards
                .change(rec.id, |r| {
                    if r.revoked {
                        return Err(store::Error::Refused(
                            "this badge was revoked by its issuer".into(),
                        ));
                    }
                    if r.suspended {
                        return Err(store::Error::Refused(
                            "this badge is suspended by its issuer".into(),
                        ));
                    }
                    if !r.issued.is_empty() {
                        // Accepted (or taken by a wallet) meanwhile: that badge stands.
                        return Ok((AwardChange::none(), ()));
                    }
                    r.issued.push(copy.clone());
                    r.state = AwardState::Issued;
                    r.updated_at = stamp;
                    Ok((AwardChange::award(), ()))
                })
                .await
                .map_err(state_error)?;
            self.awards.flush().await?;
            crate::metrics::metrics().claims.inc(&["web"]);
            tracing::info!(jti = %rec.credential_id(), "badge accepted on its claim page");
            return Ok(rec);
        }
    }
}

/// Counts one wrong transaction code against the pre-authorized `code`, as read in
/// `seen`, durably before the caller answers (a crash must not forget a wrong try).
/// Returns the tries left, or `None` when the code changed meanwhile (read it again).
/// The wallet's token endpoint and the claim page share this count.
pub(crate) async fn count_wrong_tx_code(
    offers: &dyn store::Offers,
    code: &str,
    seen: crate::records::CodeEntry,
) -> Result<Option<u8>, store::Error> {
    if !offers.count_wrong_tx_code(code, seen).await? {
        return Ok(None);
    }
    offers.flush().await?;
    Ok(Some(MAX_TX_CODE_FAILURES.saturating_sub(seen.failures + 1)))
}

/// Whether two secrets are equal, compared in constant time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Maps a refused store change to the issuer's conflict error.
pub(crate) fn state_error(e: store::Error) -> Error {
    match e {
        store::Error::Refused(m) => Error::WrongState(m),
        store::Error::Missing(id) => Error::NotFound(format!("credential urn:uuid:{id}")),
        other => other.into(),
    }
}
