//! OpenID for Verifiable Credential Issuance: the pre-authorized code flow, in the
//! OpenID4VCI 1.0 dialect and in the draft-13 dialect that deployed wallets still speak.
//!
//! The flow, with the sections it follows (1.0 unless said otherwise):
//! 1. The wallet opens an offer (§4.1, built in [`crate::issue::offers`]) and reads
//!    the issuer and authorization server metadata ([`metadata`], §12.2, §12.3).
//! 2. Token endpoint (§6): the pre-authorized code (with `tx_code` when the offer
//!    asked for one) buys an access token for exactly that award. The code is single
//!    use: it is spent by a compare-and-swap that removes its handle, so of many
//!    concurrent requests one wins. Five wrong transaction codes (counted in the same
//!    entry) kill the offer; the comparison runs in constant time. Access tokens live
//!    [`ACCESS_TOKEN_TTL`] seconds and die early if an admin re-offers. The response
//!    also carries `c_nonce` (draft 13 §6.2).
//! 3. Nonce endpoint (§7): a fresh, single-use `c_nonce`, kept server-side for
//!    [`NONCE_TTL`] seconds.
//! 4. Credential endpoint (§8; draft 13 §7): the wallet proves possession of its key
//!    ([`proof`]); the badge is built from the server-side award alone and bound to
//!    that key (`credentialSubject.id` = the holder DID). A request that carries
//!    `format` is answered in the draft-13 dialect, any other in the 1.0 dialect.
//!    Several proofs (1.0 `proofs.jwt[]`) give several badges, each with its own id
//!    and status slot, all recorded under the award.
//! 5. Deferred endpoint (§9; draft 13 §9) for awards that need approval, and the
//!    notification endpoint (§11; draft 13 §10).
//!
//! Durability: every spent code or nonce, every issued badge and every wrong
//! transaction code is flushed (grouped) before the answer, so a `kill -9` never
//! re-accepts what was used.

pub mod metadata;
pub mod proof;

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;
use time::{Duration, OffsetDateTime};

use crate::clock::SharedClock;
use crate::issue::offers::{
    CONFIG_JWT_VC_JSON, CONFIG_JWT_VC_JSON_LD, CONFIG_LDP_VC, CONFIGURATIONS, MAX_TX_CODE_FAILURES,
    PRE_AUTHORIZED_GRANT, count_wrong_tx_code, random_id,
};
use crate::issue::{self, Issuer};
use crate::records::{
    Award, AwardState, CredentialIdentifier, DeferredRequest, IssuedCopy, TokenGrant, WalletEvent,
    WalletHandle,
};
use crate::store::{self, AwardChange, Awards, HandleOp, Nonces, Offers, Store, Tokens};

/// Access token lifetime, seconds.
pub const ACCESS_TOKEN_TTL: i64 = 300;
/// Refresh token lifetime (awards that wait for approval), seconds.
pub const REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;
/// `c_nonce` lifetime, seconds.
pub const NONCE_TTL: i64 = 300;
/// The most proofs (badges) one credential request may carry (`batch_size`).
pub const BATCH_SIZE: usize = 10;
/// Seconds a wallet should wait between deferred requests.
pub const DEFERRED_INTERVAL: i64 = 60;

/// Which protocol version a request speaks; answers follow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenID4VCI 1.0.
    V1,
    /// OpenID4VCI draft 13.
    Draft13,
}

/// What the token, credential, deferred and notification endpoints answer with when
/// they refuse. Each variant is an error code of OAuth 2.0 (RFC 6749 §5.2, RFC 6750
/// §3.1) or OpenID4VCI (1.0 §8.3.1.2, §9.3, §11.3; draft 13 §7.3.1.2, §9.3).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnsupportedGrantType(String),
    /// RFC 9396 §5.
    #[error("{0}")]
    InvalidAuthorizationDetails(String),
    #[error("{0}")]
    InvalidToken(String),
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    InvalidCredentialRequest(String),
    #[error("{0}")]
    UnknownCredentialConfiguration(String),
    #[error("{0}")]
    UnknownCredentialIdentifier(String),
    #[error("{0}")]
    UnsupportedCredentialFormat(String),
    #[error("{0}")]
    UnsupportedCredentialType(String),
    #[error("{0}")]
    InvalidProof(String),
    #[error("{0}")]
    InvalidNonce(String),
    #[error("{0}")]
    InvalidEncryptionParameters(String),
    #[error("{0}")]
    CredentialRequestDenied(String),
    #[error("{0}")]
    InvalidTransactionId(String),
    /// Draft 13's answer while a deferred badge waits for approval.
    #[error("the badge is waiting for the issuer's approval")]
    IssuancePending,
    #[error("{0}")]
    InvalidNotificationId(String),
    #[error("{0}")]
    InvalidNotificationRequest(String),
    #[error(transparent)]
    Issue(#[from] issue::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

impl Error {
    /// The protocol's error code (`None` for internal failures).
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::InvalidGrant(_) => "invalid_grant",
            Error::UnsupportedGrantType(_) => "unsupported_grant_type",
            Error::InvalidAuthorizationDetails(_) => "invalid_authorization_details",
            Error::InvalidToken(_) => "invalid_token",
            Error::InsufficientScope(_) => "insufficient_scope",
            Error::InvalidCredentialRequest(_) => "invalid_credential_request",
            Error::UnknownCredentialConfiguration(_) => "unknown_credential_configuration",
            Error::UnknownCredentialIdentifier(_) => "unknown_credential_identifier",
            Error::UnsupportedCredentialFormat(_) => "unsupported_credential_format",
            Error::UnsupportedCredentialType(_) => "unsupported_credential_type",
            Error::InvalidProof(_) => "invalid_proof",
            Error::InvalidNonce(_) => "invalid_nonce",
            Error::InvalidEncryptionParameters(_) => "invalid_encryption_parameters",
            Error::CredentialRequestDenied(_) => "credential_request_denied",
            Error::InvalidTransactionId(_) => "invalid_transaction_id",
            Error::IssuancePending => "issuance_pending",
            Error::InvalidNotificationId(_) => "invalid_notification_id",
            Error::InvalidNotificationRequest(_) => "invalid_notification_request",
            Error::Issue(_) | Error::Store(_) => return None,
        })
    }
}

/// A token endpoint request (form fields, RFC 6749 §4.5 and OpenID4VCI §6.1).
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub pre_authorized_code: Option<String>,
    pub tx_code: Option<String>,
    pub refresh_token: Option<String>,
    /// RFC 9396 `authorization_details`, as the JSON text the form carried.
    pub authorization_details: Option<String>,
}

/// An answer of the credential or deferred endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// 200, or 202 for a deferred badge.
    pub status: u16,
    pub body: Value,
}

/// A fresh nonce.
#[derive(Debug, Clone)]
pub struct Nonce {
    pub value: String,
    pub expires_in: i64,
}

/// What a `c_nonce` of this service starts with (then its body and MAC).
const NONCE_PREFIX: &str = "n1.";

/// The OpenID4VCI side of the issuer.
#[derive(Clone)]
pub struct Oid4vci {
    issuer: Issuer,
    awards: Arc<dyn Awards>,
    offers: Arc<dyn Offers>,
    tokens: Arc<dyn Tokens>,
    nonces: Arc<dyn Nonces>,
    /// Keys the MAC of `c_nonce`s, which are stored only once spent.
    secret: crate::keyring::LinkSecret,
    clock: SharedClock,
}

impl std::fmt::Debug for Oid4vci {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oid4vci")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Oid4vci {
    pub fn new(
        issuer: Issuer,
        store: &Store,
        secret: crate::keyring::LinkSecret,
        clock: SharedClock,
    ) -> Self {
        Self {
            issuer,
            awards: store.awards.clone(),
            offers: store.offers.clone(),
            tokens: store.tokens.clone(),
            nonces: store.nonces.clone(),
            secret,
            clock,
        }
    }

    /// The issuer behind it.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// The Credential Issuer Identifier: the public URL without a trailing slash.
    pub fn identifier(&self) -> String {
        self.issuer.identifier()
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.timestamp()
    }

    /// Drops expired nonces and tokens (the service runs this once a minute).
    pub async fn sweep(&self) -> Result<usize, Error> {
        let now = self.now();
        Ok(self.nonces.sweep_nonces(now).await? + self.tokens.sweep_tokens(now).await?)
    }

    // ---- nonce endpoint ----

    /// A fresh `c_nonce` (1.0 §7.2). It carries its expiry and a MAC under the
    /// service's secret, so handing one out stores nothing: only a spent nonce is
    /// recorded (until it would have expired), which a proof must reach first.
    pub async fn nonce(&self) -> Result<Nonce, Error> {
        let expires = self.now().unix_timestamp() + NONCE_TTL;
        let mut body = expires.to_be_bytes().to_vec();
        let mut random = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut random);
        body.extend_from_slice(&random);
        let body = crate::jose::b64(&body);
        let mac = self.nonce_mac(&body);
        Ok(Nonce {
            value: format!("{NONCE_PREFIX}{body}.{mac}"),
            expires_in: NONCE_TTL,
        })
    }

    fn nonce_mac(&self, body: &str) -> String {
        let mut mac = self.secret.derive("c_nonce", body.as_bytes());
        mac.truncate(32);
        mac
    }

    /// The expiry (unix seconds) of a `c_nonce` this service made, if it is one.
    fn nonce_expiry(&self, nonce: &str) -> Option<i64> {
        let (body, mac) = nonce.strip_prefix(NONCE_PREFIX)?.split_once('.')?;
        let want = self.nonce_mac(body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            want.as_bytes(),
            mac.as_bytes(),
        )) {
            return None;
        }
        let bytes = crate::jose::b64_decode(body, "c_nonce").ok()?;
        Some(i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?))
    }

    // ---- token endpoint ----

    /// The token endpoint (1.0 §6): the pre-authorized code grant and, for awards that
    /// wait for approval, the refresh token grant.
    pub async fn token(&self, req: &TokenRequest) -> Result<Value, Error> {
        match req.grant_type.as_deref() {
            Some(PRE_AUTHORIZED_GRANT) => self.pre_authorized(req).await,
            Some("refresh_token") => self.refresh(req).await,
            Some(other) => Err(Error::UnsupportedGrantType(format!(
                "grant_type {other:?} is not supported; use {PRE_AUTHORIZED_GRANT}"
            ))),
            None => Err(Error::InvalidRequest("grant_type is missing".into())),
        }
    }

    async fn pre_authorized(&self, req: &TokenRequest) -> Result<Value, Error> {
        let code = req
            .pre_authorized_code
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::InvalidRequest("pre-authorized_code is missing".into()))?;
        let bad_code =
            || Error::InvalidGrant("the pre-authorized code is unknown, used or expired".into());
        if code.len() > 256 {
            return Err(bad_code());
        }
        let requested = parse_authorization_details(req.authorization_details.as_deref())?;
        let now = self.now();
        // Every step below is a plain read or a compare-and-swap on the code's handle,
        // which holds the award and the wrong tries so far: the swap that removes it
        // spends the code, and of concurrent requests exactly one makes it.
        let rec = loop {
            // Indexed under a keyed hash; offers from earlier versions as they are.
            let digest = self.issuer.code_digest(code);
            let (key, entry) = match self.offers.code(&digest).await? {
                Some(e) => (digest, e),
                None => (
                    code.to_owned(),
                    self.offers.code(code).await?.ok_or_else(bad_code)?,
                ),
            };
            let rec = self.awards.award(entry.award).await?.ok_or_else(bad_code)?;
            let offer_ok = rec.wallet.offer.as_ref().is_some_and(|o| {
                let own = self.issuer.offer_code(rec.id, o);
                bool::from(own.as_bytes().ct_eq(code.as_bytes()))
                    && self.issuer.code_key(rec.id, o) == key
                    && o.expires_at > now
            });
            if !offer_ok || !rec.wallet_open() {
                return Err(bad_code());
            }
            if let Some(c) = requested.iter().find(|c| *c != rec.wallet.configuration()) {
                return Err(Error::InvalidAuthorizationDetails(format!(
                    "authorization_details: the offer does not grant {c:?}"
                )));
            }
            match (rec.wallet.tx_code.as_deref(), req.tx_code.as_deref()) {
                (Some(_), _) if entry.failures >= MAX_TX_CODE_FAILURES => {
                    return Err(Error::InvalidGrant(
                        "too many wrong transaction codes; ask the issuer for a new offer".into(),
                    ));
                }
                (Some(_), None) => {
                    return Err(Error::InvalidRequest(
                        "this offer needs the tx_code the issuer sent".into(),
                    ));
                }
                (Some(expected), Some(given))
                    if !self.issuer.tx_code_matches(rec.id, expected, given) =>
                {
                    let Some(left) = count_wrong_tx_code(&*self.offers, &key, entry).await? else {
                        continue;
                    };
                    return Err(Error::InvalidGrant(if left == 0 {
                        "wrong tx_code; the offer is now dead".to_owned()
                    } else {
                        format!("wrong tx_code ({left} tries left)")
                    }));
                }
                (None, Some(_)) => {
                    return Err(Error::InvalidRequest(
                        "this offer has no transaction code; send none".into(),
                    ));
                }
                _ => {}
            }
            if self.offers.spend_code(&key, entry).await? {
                break rec;
            }
        };
        let access = random_id(32);
        let refresh = random_id(32);
        let identifiers: Vec<CredentialIdentifier> = requested
            .iter()
            .map(|c| CredentialIdentifier {
                id: random_id(16),
                configuration_id: c.clone(),
            })
            .collect();
        let grant = TokenGrant {
            award: rec.id,
            configuration_ids: vec![rec.wallet.configuration().to_owned()],
            credential_identifiers: identifiers.clone(),
            expires_at: now + Duration::seconds(ACCESS_TOKEN_TTL),
            refresh: false,
            generation: rec.wallet.generation,
        };
        self.tokens.put_token(&token_hash(&access), &grant).await?;
        if rec.approval_required {
            self.tokens
                .put_token(
                    &token_hash(&refresh),
                    &TokenGrant {
                        expires_at: now + Duration::seconds(REFRESH_TOKEN_TTL),
                        refresh: true,
                        ..grant
                    },
                )
                .await?;
        }
        if let Some(o) = &rec.wallet.offer {
            let [_, offer_handle] = self.issuer.offer_handles(rec.id, o);
            self.offers.unlink(&offer_handle).await?;
        }
        // Durable before answering: the spent code with the token it bought.
        self.offers.flush().await?;
        tracing::info!(jti = %rec.credential_id(), "pre-authorized code exchanged");
        self.token_response(
            &access,
            rec.approval_required.then_some(&refresh),
            &identifiers,
        )
        .await
    }

    async fn refresh(&self, req: &TokenRequest) -> Result<Value, Error> {
        let bad = || Error::InvalidGrant("the refresh token is unknown, used or expired".into());
        let token = req
            .refresh_token
            .as_deref()
            .ok_or_else(|| Error::InvalidRequest("refresh_token is missing".into()))?;
        let old = token_hash(token);
        let grant = self.tokens.token(&old).await?.ok_or_else(bad)?;
        let now = self.now();
        if !grant.refresh || grant.expires_at <= now {
            return Err(bad());
        }
        let dead = self
            .awards
            .award(grant.award)
            .await?
            .is_none_or(|r| r.revoked || r.wallet.generation != grant.generation);
        // Rotation: the old refresh token is single use.
        if dead || !self.tokens.take_token(&old).await? {
            return Err(bad());
        }
        let access = random_id(32);
        let refresh = random_id(32);
        self.tokens
            .put_token(
                &token_hash(&access),
                &TokenGrant {
                    expires_at: now + Duration::seconds(ACCESS_TOKEN_TTL),
                    refresh: false,
                    ..grant.clone()
                },
            )
            .await?;
        self.tokens
            .put_token(
                &token_hash(&refresh),
                &TokenGrant {
                    expires_at: now + Duration::seconds(REFRESH_TOKEN_TTL),
                    ..grant.clone()
                },
            )
            .await?;
        self.tokens.flush().await?;
        self.token_response(&access, Some(&refresh), &grant.credential_identifiers)
            .await
    }

    async fn token_response(
        &self,
        access: &str,
        refresh: Option<&String>,
        identifiers: &[CredentialIdentifier],
    ) -> Result<Value, Error> {
        let nonce = self.nonce().await?;
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "c_nonce": nonce.value,
            "c_nonce_expires_in": nonce.expires_in,
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        if !identifiers.is_empty() {
            body["authorization_details"] = identifiers
                .iter()
                .map(|i| {
                    json!({
                        "type": "openid_credential",
                        "credential_configuration_id": i.configuration_id,
                        "credential_identifiers": [i.id],
                    })
                })
                .collect();
        }
        Ok(body)
    }

    /// The grant behind a Bearer access token (RFC 6750 §2.1).
    pub async fn authenticate(&self, token: Option<&str>) -> Result<TokenGrant, Error> {
        let token =
            token.ok_or_else(|| Error::InvalidToken("an access token is required".into()))?;
        let grant = self
            .tokens
            .token(&token_hash(token))
            .await?
            .filter(|g| !g.refresh && g.expires_at > self.now())
            .ok_or_else(|| Error::InvalidToken("the access token is unknown or expired".into()))?;
        Ok(grant)
    }

    // ---- credential endpoint ----

    /// The credential endpoint (1.0 §8; draft 13 §7). Errors come back with the
    /// dialect the request spoke, so the caller can shape them.
    pub async fn credential(
        &self,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, (Dialect, Error)> {
        let dialect = if body.get("format").is_some() {
            Dialect::Draft13
        } else {
            Dialect::V1
        };
        self.credential_inner(token, body, dialect)
            .await
            .map_err(|e| (dialect, e))
    }

    async fn credential_inner(
        &self,
        token: Option<&str>,
        body: &Value,
        dialect: Dialect,
    ) -> Result<Answer, Error> {
        let grant = self.authenticate(token).await?;
        let obj = body.as_object().ok_or_else(|| {
            Error::InvalidCredentialRequest("the request body must be a JSON object".into())
        })?;
        if obj.contains_key("credential_response_encryption") {
            return Err(Error::InvalidEncryptionParameters(
                "credential response encryption is not supported (the metadata offers none)".into(),
            ));
        }
        let (configuration_id, proofs) = match dialect {
            Dialect::V1 => parse_v1_request(obj, &grant)?,
            Dialect::Draft13 => parse_draft13_request(obj, &grant)?,
        };
        let rec =
            self.awards.award(grant.award).await?.ok_or_else(|| {
                Error::CredentialRequestDenied("the award no longer exists".into())
            })?;
        check_generation(&grant, &rec)?;
        claimable(&rec, Issuing::Wallet).map_err(wallet_error)?;
        let audience = self.identifier();
        let now = self.now();
        let mut holders = Vec::with_capacity(proofs.len());
        // Keys by their RFC 7638 thumbprint: one key named twice (as a did:key and as
        // a jwk) is still one key.
        let mut thumbprints = std::collections::HashSet::new();
        let mut nonce: Option<String> = None;
        for (i, jwt) in proofs.iter().enumerate() {
            let p = proof::verify_proof(jwt, &audience, now.unix_timestamp())
                .map_err(|e| Error::InvalidProof(label(i, proofs.len(), &e.0)))?;
            let n = p.nonce.clone().ok_or_else(|| {
                Error::InvalidProof(label(
                    i,
                    proofs.len(),
                    "the proof has no nonce; get a c_nonce from the nonce endpoint",
                ))
            })?;
            if nonce.as_ref().is_some_and(|first| *first != n) {
                return Err(Error::InvalidProof(
                    "every proof of one request must carry the same c_nonce".into(),
                ));
            }
            nonce = Some(n);
            if !thumbprints.insert(p.key.thumbprint()) {
                return Err(Error::InvalidProof(
                    "two proofs are signed with the same key; each badge of a batch needs its own key".into(),
                ));
            }
            let holder = match rec.recipient.id.as_deref() {
                Some(named) if proof::key_matches_did(&p.key, named) => named.to_owned(),
                Some(named) => {
                    return Err(Error::InvalidProof(label(
                        i,
                        proofs.len(),
                        &format!(
                            "this badge was awarded to {named}; the proof is signed by another key ({})",
                            p.holder
                        ),
                    )));
                }
                None => p.holder.to_string(),
            };
            holders.push(holder);
        }
        let nonce = nonce.ok_or_else(|| Error::InvalidProof("no proof was sent".into()))?;
        let mut keys = std::collections::HashSet::new();
        if !holders.iter().all(|h| keys.insert(h)) {
            return Err(Error::InvalidProof(
                "two proofs name the same key; each badge of a batch needs its own key".into(),
            ));
        }
        self.spend_nonce(&nonce).await?;
        let result = self
            .claim_spent(rec, holders, configuration_id, dialect)
            .await;
        if result.is_err() {
            // The nonce is spent whatever happened next; make that durable too.
            self.nonces.flush().await?;
        }
        result
    }

    /// The credential request once its proofs checked out and its nonce is spent:
    /// defer it (awards that wait for approval) or issue.
    async fn claim_spent(
        &self,
        rec: Award,
        holders: Vec<String>,
        configuration_id: String,
        dialect: Dialect,
    ) -> Result<Answer, Error> {
        let mut rec = rec;
        if rec.approval_required && !rec.wallet.approved {
            match self
                .defer(&rec, &holders, configuration_id.clone(), dialect)
                .await?
            {
                Some(answer) => return Ok(answer),
                None => {
                    // Approved between the read and the deferral: issue now.
                    rec = self.awards.award(rec.id).await?.ok_or_else(|| {
                        Error::CredentialRequestDenied("the award no longer exists".into())
                    })?;
                }
            }
        }
        let (rec, copies) = self.issue_copies(rec, &holders, Issuing::Wallet).await?;
        tracing::info!(jti = %rec.credential_id(), copies = copies.len(), "badge claimed by a wallet");
        self.issued_answer(&copies, dialect, &configuration_id)
            .await
    }

    /// The credentials as the configuration asks: the compact JWTs as recorded, or
    /// (`ldp_vc`) the same credentials with a Data Integrity proof, as JSON objects.
    async fn issued_answer(
        &self,
        copies: &[IssuedCopy],
        dialect: Dialect,
        configuration_id: &str,
    ) -> Result<Answer, Error> {
        let notification_id = copies.first().and_then(|c| c.notification_id.clone());
        let mut credentials = Vec::with_capacity(copies.len());
        for c in copies {
            if configuration_id == CONFIG_LDP_VC {
                let di = self
                    .issuer
                    .data_integrity_form(&c.jwt, true)
                    .await?
                    .ok_or_else(|| {
                        Error::CredentialRequestDenied(
                            "no key for a Data Integrity proof could be had".into(),
                        )
                    })?;
                credentials.push(di);
            } else {
                credentials.push(Value::String(c.jwt.clone()));
            }
        }
        let body = match dialect {
            Dialect::V1 => json!({
                "credentials": credentials.iter().map(|c| json!({"credential": c})).collect::<Vec<_>>(),
                "notification_id": notification_id,
            }),
            Dialect::Draft13 => {
                let mut b = json!({
                    "credential": credentials.first(),
                    "notification_id": notification_id,
                });
                if let Ok(n) = self.nonce().await {
                    b["c_nonce"] = json!(n.value);
                    b["c_nonce_expires_in"] = json!(n.expires_in);
                }
                b
            }
        };
        Ok(Answer { status: 200, body })
    }

    /// Records a wallet's request for an award that waits for approval (1.0 §8.3:
    /// 202 with `transaction_id`). `None` if the award was approved meanwhile: the
    /// caller issues at once instead.
    async fn defer(
        &self,
        rec: &Award,
        holders: &[String],
        configuration_id: String,
        dialect: Dialect,
    ) -> Result<Option<Answer>, Error> {
        let transaction_id = random_id(24);
        let stamp = self.now();
        let request = DeferredRequest {
            transaction_id: transaction_id.clone(),
            holders: holders.to_vec(),
            configuration_id,
            requested_at: stamp,
            delivered: false,
            draft13: dialect == Dialect::Draft13,
        };
        // The handle first: if the award change fails, it leads nowhere useful.
        let handle = WalletHandle::Transaction(transaction_id.clone());
        self.offers.link(&handle, rec.id).await?;
        let (rec, deferred) = self
            .awards
            .change(rec.id, |r| {
                claimable(r, Issuing::Wallet)?;
                if r.wallet.approved {
                    return Ok((AwardChange::none(), false));
                }
                r.wallet.deferred = Some(request.clone());
                r.updated_at = stamp;
                Ok((AwardChange::award(), true))
            })
            .await
            .map_err(wallet_error)?;
        if !deferred {
            self.offers.unlink(&handle).await?;
            return Ok(None);
        }
        self.awards.flush().await?;
        tracing::info!(jti = %rec.credential_id(), "wallet request deferred until approval");
        let mut body = json!({"transaction_id": transaction_id});
        match dialect {
            Dialect::V1 => body["interval"] = json!(DEFERRED_INTERVAL),
            Dialect::Draft13 => {
                let n = self.nonce().await?;
                body["c_nonce"] = json!(n.value);
                body["c_nonce_expires_in"] = json!(n.expires_in);
            }
        }
        Ok(Some(Answer { status: 202, body }))
    }

    /// Consumes a `c_nonce`: a MAC-checked one unexpired and not spent before (its
    /// spending recorded, single use), or one stored by an earlier version (removed).
    async fn spend_nonce(&self, nonce: &str) -> Result<(), Error> {
        let now = self.now();
        let spent = if nonce.len() > 256 {
            false
        } else if let Some(expires) = self.nonce_expiry(nonce) {
            expires >= now.unix_timestamp()
                && self
                    .nonces
                    .spend_nonce(nonce, crate::clock::from_unix(expires))
                    .await?
        } else {
            !nonce.starts_with(NONCE_PREFIX) && self.nonces.take_nonce(nonce, now).await?
        };
        if spent {
            Ok(())
        } else {
            Err(Error::InvalidNonce(
                "the c_nonce is unknown, used or expired; get a fresh one".into(),
            ))
        }
    }

    /// Signs one badge per holder and records them under the award, then flushes.
    /// The first badge takes the award's own id and status slot; the others get
    /// their own. The award changes by compare-and-swap: a concurrent revocation or
    /// claim makes this one fail, never both succeed.
    async fn issue_copies(
        &self,
        rec: Award,
        holders: &[String],
        issuing: Issuing,
    ) -> Result<(Award, Vec<IssuedCopy>), Error> {
        let award = rec.id;
        let notification_id = random_id(16);
        let stamp = self.now();
        let kid = self.issuer.kid_url();
        let mut copies = Vec::with_capacity(holders.len());
        // The first copy takes the award's own id and slot, unless the earner already
        // accepted the badge on the claim page (that copy holds them).
        let own_taken = !rec.issued.is_empty();
        for (i, holder) in holders.iter().enumerate() {
            let (id, slot, jwt) = if i == 0 && !own_taken {
                (
                    None,
                    None,
                    self.issuer.sign_award(&rec, Some(holder)).await?,
                )
            } else {
                let id = crate::clock::time_ordered_id(self.clock.now());
                let slot = self.issuer.status_lists().allocate();
                let mut this = rec.clone();
                this.id = id;
                this.status = Some(slot);
                (
                    Some(id),
                    Some(slot),
                    self.issuer.sign_award(&this, Some(holder)).await?,
                )
            };
            copies.push(IssuedCopy {
                id,
                status: slot,
                subject: Some(holder.clone()),
                notification_id: Some(notification_id.clone()),
                ..IssuedCopy::new(jwt, kid.clone(), stamp)
            });
        }
        // Slots and ids of the extra copies first: if the award change then fails,
        // they stay taken and unused, which is harmless.
        for c in &copies {
            if let (Some(id), Some(slot)) = (c.id, c.status) {
                self.awards.add_copy(award, id, slot).await?;
            }
        }
        self.offers
            .link(&WalletHandle::Notification(notification_id.clone()), award)
            .await?;
        // The offer's code was spent at the token endpoint (its handle is gone); the
        // award lets go of it now.
        let rec = self
            .awards
            .update_award(award, &mut |r: &mut Award| {
                claimable(r, issuing)?;
                if !own_taken && !r.issued.is_empty() {
                    return Err(store::Error::Refused(
                        "the badge was accepted on its claim page meanwhile; ask again".into(),
                    ));
                }
                r.wallet.offer = None;
                r.issued.extend(copies.iter().cloned());
                r.state = AwardState::Issued;
                r.updated_at = stamp;
                Ok(AwardChange::award())
            })
            .await
            .map_err(wallet_error)?;
        self.awards.flush().await?;
        crate::metrics::metrics()
            .claims
            .with(&["wallet"])
            .add(copies.len() as u64);
        Ok((rec, copies))
    }

    /// Approves an award made with `approval_required`; a wallet request waiting for
    /// it is issued now and collected at the deferred endpoint. Durable when this
    /// returns.
    pub async fn approve(&self, id: &str) -> Result<Award, Error> {
        let rec = self.issuer.credential(id).await?;
        if rec.revoked {
            return Err(issue::Error::WrongState("the award is revoked".into()).into());
        }
        let stamp = self.now();
        let rec = self
            .awards
            .update_award(rec.id, &mut |r: &mut Award| {
                if r.wallet.approved {
                    return Ok(AwardChange::none());
                }
                r.wallet.approved = true;
                r.updated_at = stamp;
                Ok(AwardChange::award())
            })
            .await
            .map_err(|e| Error::Issue(issue::offers::state_error(e)))?;
        let id = rec.id;
        let rec = match &rec.wallet.deferred {
            Some(d) if rec.wallet_open() => {
                let holders = d.holders.clone();
                match self.issue_copies(rec, &holders, Issuing::Approval).await {
                    Ok((rec, _)) => rec,
                    Err(e) => {
                        // The approval itself is recorded either way.
                        self.awards.flush().await?;
                        match self.awards.award(id).await? {
                            // A concurrent approval issued it: same outcome.
                            Some(r) if r.in_wallet() => r,
                            _ => return Err(e),
                        }
                    }
                }
            }
            _ => {
                self.awards.flush().await?;
                rec
            }
        };
        tracing::info!(jti = %rec.credential_id(), "award approved");
        Ok(rec)
    }

    // ---- deferred endpoint ----

    /// The deferred credential endpoint (1.0 §9; draft 13 §9).
    pub async fn deferred(
        &self,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, (Dialect, Error)> {
        let tid = body.get("transaction_id").and_then(Value::as_str);
        // The request names no dialect: answer in the one the wallet used when it
        // was deferred.
        let found = match tid {
            Some(t) => self.deferred_award(t).await,
            None => Ok(None),
        };
        let dialect = match &found {
            Ok(Some(r)) if r.wallet.deferred.as_ref().is_some_and(|d| d.draft13) => {
                Dialect::Draft13
            }
            _ => Dialect::V1,
        };
        let result = match found {
            Ok(found) => self.deferred_inner(token, tid, found).await,
            Err(e) => Err(e),
        };
        result.map_err(|e| (dialect, e))
    }

    /// The award a `transaction_id` points at.
    async fn deferred_award(&self, tid: &str) -> Result<Option<Award>, Error> {
        match self
            .offers
            .award_for(&WalletHandle::Transaction(tid.to_owned()))
            .await?
        {
            Some(award) => Ok(self.awards.award(award).await?),
            None => Ok(None),
        }
    }

    async fn deferred_inner(
        &self,
        token: Option<&str>,
        tid: Option<&str>,
        found: Option<Award>,
    ) -> Result<Answer, Error> {
        let grant = self.authenticate(token).await?;
        let tid =
            tid.ok_or_else(|| Error::InvalidCredentialRequest("transaction_id is missing".into()))?;
        let unknown =
            || Error::InvalidTransactionId("unknown or already used transaction_id".into());
        let rec = found.filter(|r| r.id == grant.award).ok_or_else(unknown)?;
        let award = rec.id;
        check_generation(&grant, &rec)?;
        let d = rec
            .wallet
            .deferred
            .clone()
            .filter(|d| d.transaction_id == tid && !d.delivered)
            .ok_or_else(unknown)?;
        if rec.revoked {
            return Err(Error::CredentialRequestDenied(
                "the award was revoked".into(),
            ));
        }
        if !rec.in_wallet() {
            return if d.draft13 {
                Err(Error::IssuancePending)
            } else {
                Ok(Answer {
                    status: 202,
                    body: json!({"transaction_id": tid, "interval": DEFERRED_INTERVAL}),
                })
            };
        }
        let stamp = self.now();
        let rec = self
            .awards
            .update_award(award, &mut |r: &mut Award| {
                match r.wallet.deferred.as_mut() {
                    // Collected once: a concurrent second collection loses here.
                    Some(d) if d.transaction_id == tid && !d.delivered => d.delivered = true,
                    _ => return Err(store::Error::Refused("collected".into())),
                }
                r.updated_at = stamp;
                Ok(AwardChange::with_handles(vec![HandleOp::Unlink(
                    WalletHandle::Transaction(tid.to_owned()),
                )]))
            })
            .await
            .map_err(|e| match e {
                store::Error::Refused(_) => unknown(),
                other => other.into(),
            })?;
        self.awards.flush().await?;
        let copies: Vec<IssuedCopy> = rec
            .issued
            .iter()
            .filter(|c| c.subject.as_ref().is_some_and(|s| d.holders.contains(s)))
            .cloned()
            .collect();
        if copies.is_empty() {
            return Err(Error::CredentialRequestDenied(
                "the badge went to another wallet request".into(),
            ));
        }
        let dialect = if d.draft13 {
            Dialect::Draft13
        } else {
            Dialect::V1
        };
        self.issued_answer(&copies, dialect, &d.configuration_id)
            .await
    }

    // ---- notification endpoint ----

    /// The notification endpoint (1.0 §11): records what the wallet did with the
    /// badge on the award. Idempotent.
    pub async fn notify(&self, token: Option<&str>, body: &Value) -> Result<(), Error> {
        let grant = self.authenticate(token).await?;
        let bad = |m: &str| Error::InvalidNotificationRequest(m.to_owned());
        let nid = body
            .get("notification_id")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("notification_id is missing"))?;
        let event = body
            .get("event")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("event is missing"))?;
        if !matches!(
            event,
            "credential_accepted" | "credential_failure" | "credential_deleted"
        ) {
            return Err(bad(
                "event must be credential_accepted, credential_failure or credential_deleted",
            ));
        }
        let description = match body.get("event_description") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.chars().count() <= 1000 && s.is_ascii() => Some(s.clone()),
            Some(_) => {
                return Err(bad(
                    "event_description must be ASCII text of at most 1000 characters",
                ));
            }
        };
        let award = self
            .offers
            .award_for(&WalletHandle::Notification(nid.to_owned()))
            .await?
            .filter(|a| *a == grant.award)
            .ok_or_else(|| Error::InvalidNotificationId("unknown notification_id".into()))?;
        let stamp = self.now();
        self.awards
            .update_award(award, &mut |r: &mut Award| {
                if r.wallet.generation != grant.generation {
                    return Ok(AwardChange::none());
                }
                if r.wallet
                    .events
                    .iter()
                    .any(|e| e.notification_id == nid && e.event == event)
                {
                    return Ok(AwardChange::none());
                }
                r.wallet.events.push(WalletEvent {
                    event: event.to_owned(),
                    description: description.clone(),
                    notification_id: nid.to_owned(),
                    at: stamp,
                });
                Ok(AwardChange::award())
            })
            .await?;
        self.awards.flush().await?;
        tracing::info!(event, "wallet notification recorded");
        Ok(())
    }
}

fn label(i: usize, n: usize, m: &str) -> String {
    if n > 1 {
        format!("proofs.jwt[{i}]: {m}")
    } else {
        m.to_owned()
    }
}

/// Which issuance a store change is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Issuing {
    /// A wallet's credential request.
    Wallet,
    /// An admin's approval of a deferred request.
    Approval,
}

/// Why an award cannot be issued now, as the store change sees it.
fn claimable(r: &Award, issuing: Issuing) -> Result<(), store::Error> {
    if r.revoked {
        return Err(store::Error::Refused("the badge was revoked".into()));
    }
    if r.suspended {
        return Err(store::Error::Refused("the badge is suspended".into()));
    }
    if !r.wallet_open() {
        return Err(store::Error::Refused(
            "the badge was already issued to a wallet".into(),
        ));
    }
    match (issuing, &r.wallet.deferred) {
        (Issuing::Wallet, Some(_)) => Err(store::Error::Refused(
            "the badge was already requested; collect it at the deferred endpoint".into(),
        )),
        (Issuing::Approval, None) => Err(store::Error::Refused(
            "no wallet request is waiting for approval".into(),
        )),
        _ => Ok(()),
    }
}

/// Tokens bought with an offer an admin has since replaced buy nothing.
fn check_generation(grant: &TokenGrant, rec: &Award) -> Result<(), Error> {
    if grant.generation == rec.wallet.generation {
        Ok(())
    } else {
        Err(Error::InvalidToken(
            "the offer this token was bought with has been replaced".into(),
        ))
    }
}

fn wallet_error(e: store::Error) -> Error {
    match e {
        store::Error::Refused(m) => Error::CredentialRequestDenied(m),
        other => Error::Store(other),
    }
}

/// RFC 9396 `authorization_details` in a token request: only `openid_credential`
/// entries for configurations the offers grant.
fn parse_authorization_details(s: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(s) = s else {
        return Ok(Vec::new());
    };
    let bad = |m: &str| Error::InvalidAuthorizationDetails(format!("authorization_details: {m}"));
    let v: Value = serde_json::from_str(s).map_err(|_| bad("is not JSON"))?;
    let items = v.as_array().ok_or_else(|| bad("must be an array"))?;
    if items.is_empty() || items.len() > 4 {
        return Err(bad("must hold one to four entries"));
    }
    items
        .iter()
        .map(|i| {
            if i.get("type").and_then(Value::as_str) != Some("openid_credential") {
                return Err(bad("each entry's type must be openid_credential"));
            }
            match i.get("credential_configuration_id").and_then(Value::as_str) {
                Some(c) if CONFIGURATIONS.contains(&c) => Ok(c.to_owned()),
                Some(other) => Err(bad(&format!(
                    "unknown credential_configuration_id {other:?}"
                ))),
                None => Err(bad("each entry needs a credential_configuration_id")),
            }
        })
        .collect()
}

/// The proofs of a request: `proofs: {jwt: [...]}` (1.0) or `proof: {proof_type:
/// "jwt", jwt}` (draft 13, also accepted from 1.0 wallets that still send it).
fn parse_proofs(obj: &serde_json::Map<String, Value>) -> Result<Vec<String>, Error> {
    let missing = || Error::InvalidProof("the request carries no proof of possession".into());
    let bad = |m: &str| Error::InvalidCredentialRequest(m.to_owned());
    match (obj.get("proofs"), obj.get("proof")) {
        (Some(_), Some(_)) => Err(bad("send proofs or proof, not both")),
        (None, None) => Err(missing()),
        (Some(p), None) => {
            let p = p
                .as_object()
                .ok_or_else(|| bad("proofs must be an object"))?;
            if p.len() != 1 {
                return Err(bad("proofs must hold exactly one proof type"));
            }
            let jwts = p.get("jwt").ok_or_else(|| {
                Error::InvalidProof("only the jwt proof type is supported".into())
            })?;
            let jwts = jwts
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad("proofs.jwt must be a non-empty array"))?;
            if jwts.len() > BATCH_SIZE {
                return Err(bad(&format!(
                    "at most {BATCH_SIZE} proofs per request (batch_size)"
                )));
            }
            jwts.iter()
                .map(|j| {
                    j.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad("each proofs.jwt entry must be a string"))
                })
                .collect()
        }
        (None, Some(p)) => {
            if p.get("proof_type").and_then(Value::as_str) != Some("jwt") {
                return Err(Error::InvalidProof(
                    "proof.proof_type must be \"jwt\"".into(),
                ));
            }
            let jwt = p
                .get("jwt")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::InvalidProof("proof.jwt must be a string".into()))?;
            Ok(vec![jwt.to_owned()])
        }
    }
}

fn parse_v1_request(
    obj: &serde_json::Map<String, Value>,
    grant: &TokenGrant,
) -> Result<(String, Vec<String>), Error> {
    let bad = |m: &str| Error::InvalidCredentialRequest(m.to_owned());
    let config = match (
        obj.get("credential_configuration_id"),
        obj.get("credential_identifier"),
    ) {
        (Some(_), Some(_)) => {
            return Err(bad(
                "send credential_configuration_id or credential_identifier, not both",
            ));
        }
        (None, None) => {
            return Err(bad(
                "the request needs credential_configuration_id (or credential_identifier)",
            ));
        }
        (Some(c), None) => {
            let c = c
                .as_str()
                .ok_or_else(|| bad("credential_configuration_id must be a string"))?;
            if !grant.credential_identifiers.is_empty() {
                return Err(bad(
                    "the token response gave credential_identifiers: use credential_identifier",
                ));
            }
            if !CONFIGURATIONS.contains(&c) {
                return Err(Error::UnknownCredentialConfiguration(format!(
                    "unknown credential_configuration_id {c:?}"
                )));
            }
            granted(grant, c)?
        }
        (None, Some(i)) => {
            let i = i
                .as_str()
                .ok_or_else(|| bad("credential_identifier must be a string"))?;
            grant
                .credential_identifiers
                .iter()
                .find(|ci| ci.id == i)
                .map(|ci| ci.configuration_id.clone())
                .ok_or_else(|| {
                    Error::UnknownCredentialIdentifier(format!(
                        "unknown credential_identifier {i:?}"
                    ))
                })?
        }
    };
    Ok((config, parse_proofs(obj)?))
}

fn parse_draft13_request(
    obj: &serde_json::Map<String, Value>,
    grant: &TokenGrant,
) -> Result<(String, Vec<String>), Error> {
    let format = obj
        .get("format")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let config = match format {
        "jwt_vc_json" => CONFIG_JWT_VC_JSON,
        "jwt_vc_json-ld" => CONFIG_JWT_VC_JSON_LD,
        "ldp_vc" => CONFIG_LDP_VC,
        other => {
            return Err(Error::UnsupportedCredentialFormat(format!(
                "format {other:?} is not offered; jwt_vc_json, jwt_vc_json-ld and ldp_vc are"
            )));
        }
    };
    let types = obj
        .get("credential_definition")
        .and_then(|d| d.get("type"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::InvalidCredentialRequest(
                "credential_definition.type is required with format".into(),
            )
        })?;
    if !types.iter().any(|t| t == "OpenBadgeCredential") {
        return Err(Error::UnsupportedCredentialType(
            "credential_definition.type must include OpenBadgeCredential".into(),
        ));
    }
    if let Some(p) = obj.get("proofs")
        && obj.get("proof").is_none()
    {
        let _ = p;
        return Err(Error::InvalidCredentialRequest(
            "a draft-13 request (with format) carries one proof in proof".into(),
        ));
    }
    Ok((granted(grant, config)?, parse_proofs(obj)?))
}

fn granted(grant: &TokenGrant, config: &str) -> Result<String, Error> {
    if grant.configuration_ids.iter().any(|c| c == config) {
        Ok(config.to_owned())
    } else {
        Err(Error::InsufficientScope(format!(
            "the access token does not grant {config}; the offer granted {}",
            grant.configuration_ids.join(", ")
        )))
    }
}
