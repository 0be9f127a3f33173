//! OpenID for Verifiable Presentations 1.0
//! (<https://openid.net/specs/openid-4-verifiable-presentations-1_0.html>): this
//! service as the Verifier an employer uses to ask a wallet for a badge.
//!
//! The flow, with the sections of OpenID4VP 1.0 it follows:
//! 1. The employer creates a presentation request ([`Oid4vp::create`]): a query
//!    ([`query`]: DCQL, §6, or a DIF Presentation Exchange definition for wallets
//!    before DCQL), a fresh `nonce` (§5.2), a `state`, and a lifetime.
//! 2. The wallet opens the `openid4vp://` link (§5.1) and fetches the request object
//!    from `request_uri` (§5.7, RFC 9101) with GET, or with POST (`request_uri_method`,
//!    §5.10, echoing `wallet_nonce`).
//!    - Client identifier prefix `decentralized_identifier:` (§5.9.3): the request
//!      object is a JWT (`typ` `oauth-authz-req+jwt`) signed by this service's
//!      did:web key, `kid` a DID URL of that DID.
//!    - Prefix `redirect_uri:` (§5.9.3): the request may not be signed; the whole
//!      request travels by value in the link, and `request_uri` serves the same
//!      parameters as an unsecured (`alg: none`) request object for wallets that
//!      fetch by reference.
//!    - A `presentation_definition` request speaks the drafts before 1.0: a bare DID
//!      (or the response URI) as `client_id` with `client_id_scheme`.
//! 3. The wallet answers by `direct_post` (§8.2) to the request's `response_uri`:
//!    `vp_token` (§8.1: for DCQL a JSON object from Credential Query id to an array of
//!    presentations; for Presentation Exchange one presentation or an array, with
//!    `presentation_submission`) and `state`, or an error (§8.5).
//! 4. Each presentation is verified ([`crate::verify::presentation`]) with the
//!    request's `nonce` and its `client_id` as audience (Appendix B.1.3.1.3): the
//!    holder's signature, holder binding (every badge is about the key that signed),
//!    and each badge through the whole pipeline. A `requested` check then asks
//!    whether the badges fit the query and the request's constraints.
//!
//! States: `pending` until answered, then `verified` or `rejected`; `expired` once
//! its lifetime passes unanswered. The first answer that can be read decides the
//! request: it is recorded by compare-and-swap against the pending record, so of
//! concurrent answers exactly one lands, and it is flushed before the wallet hears
//! back (a reader may see the verdict a moment before it is on disk; a crash in that
//! moment leaves the request pending, and the wallet was never told otherwise). A
//! replayed answer is refused. Answers that cannot be read (no `vp_token`, a `state`
//! that is not the request's, a token that is not JSON, a presentation that is not a
//! presentation) are refused without deciding anything, and every presentation of an
//! answer is read before any is verified, so malformed posts cost little and decide
//! nothing. Only an answer whose presentations are signed by their holder over this
//! request's nonce and audience decides it (`verified`, or `rejected` by what its
//! badges' checks found): a wallet's error answer (§8.5, e.g. `access_denied`) is not
//! authenticated, and whoever saw the QR code could send it or a failing answer, so
//! those, like unreadable answers, are kept under `attempts` and the request stays
//! `pending` until the real wallet answers or it expires.
//!
//! Bounds: a request record (query included) is at most [`MAX_RECORD_BYTES`];
//! anonymous callers may keep at most [`MAX_ANONYMOUS_RECORDS`] of all
//! [`MAX_RECORDS`], each client at most as many as its per-second and hourly quotas
//! let it make (see `http::middleware`), each living at most [`MAX_ANONYMOUS_TTL`]
//! unanswered and [`ANONYMOUS_RETENTION`] once answered, its answer kept in at most
//! [`MAX_ANONYMOUS_ANSWERED_BYTES`]; an answer holds at most [`MAX_PRESENTATIONS`]
//! presentations and [`crate::verify::presentation::MAX_CREDENTIALS`] badges in all,
//! verified under one fetch budget.

pub mod query;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::clock::SharedClock;
use crate::did::Did;
use crate::issue::offers::random_id;
use crate::jose::jws;
use crate::keyring::LiveKeys;
use crate::store::{self, PresentationRequests, RequestSummary};
use crate::verify::{Check, CheckName, Outcome, PresentationOptions, PresentationReport, Verifier};

pub use crate::records::presentation::{
    Attempt, ClientIdPrefix, MAX_ATTEMPTS, PresentationRequest as RequestRecord, State,
};
pub use query::{Constraints, Query};

/// Lifetime of a request when the employer names none, seconds.
pub const DEFAULT_TTL: i64 = 600;
/// Shortest and longest lifetimes a request may ask for, seconds: a day for
/// partners, half an hour for anonymous callers.
pub const MIN_TTL: i64 = 30;
pub const MAX_TTL: i64 = 24 * 3600;
pub const MAX_ANONYMOUS_TTL: i64 = 1800;
/// How long an answered request (and its result) is kept after the answer, seconds.
pub const RETENTION: i64 = 24 * 3600;
/// How long an anonymous caller's answered request is kept, seconds.
pub const ANONYMOUS_RETENTION: i64 = 3600;
/// How long an unanswered request is kept after it expired, seconds (an
/// anonymous caller's, a few minutes: time to see that it expired).
pub const UNANSWERED_RETENTION: i64 = 3600;
pub const ANONYMOUS_UNANSWERED_RETENTION: i64 = 300;
/// The most requests kept at once; creating more is refused until some are swept.
pub const MAX_RECORDS: usize = 300_000;
/// Of those, the most that anonymous callers may hold, so that they cannot crowd
/// out partners.
pub const MAX_ANONYMOUS_RECORDS: usize = 100_000;
/// The largest request record (query and constraints included), bytes.
pub const MAX_RECORD_BYTES: usize = 48 * 1024;
/// The largest answered record: past it the decoded badges are left out of the
/// stored result (their checks stay).
pub const MAX_ANSWERED_BYTES: usize = 256 * 1024;
/// The same for a request an anonymous caller made.
pub const MAX_ANONYMOUS_ANSWERED_BYTES: usize = 32 * 1024;
/// The path (under the public URL) that serves request objects.
pub const REQUEST_PATH: &str = "/oid4vp/requests";
/// The path (under the public URL) that takes wallets' answers.
pub const RESPONSE_PATH: &str = "/oid4vp/responses";
/// The `aud` of a request object under static discovery (§5.8, SIOPv2 §9).
pub const SELF_ISSUED_AUD: &str = "https://self-issued.me/v2";
/// The JWT type of a request object (RFC 9101 §10.8).
pub const REQUEST_TYP: &str = "oauth-authz-req+jwt";
/// Signature algorithms accepted on presentations (and the badges in them).
pub const ALG_VALUES: &[&str] = &["ES256", "EdDSA", "RS256"];
/// The most presentations one answer may carry.
pub const MAX_PRESENTATIONS: usize = 8;

/// What an employer asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewRequest {
    pub constraints: Constraints,
    pub dcql_query: Option<Value>,
    pub presentation_definition: Option<Value>,
    /// Build a Presentation Exchange definition from the constraints (older wallets).
    pub legacy: bool,
    pub prefix: ClientIdPrefix,
    pub expires_in: Option<i64>,
    /// The longest lifetime this caller may ask for.
    pub max_ttl: i64,
    pub purpose: Option<String>,
    pub created_by: Option<String>,
}

/// A wallet's `direct_post` body (§8.2), as form fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ResponseForm {
    pub vp_token: Option<String>,
    pub state: Option<String>,
    pub presentation_submission: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Why a request could not be made, served or answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The employer's request is not acceptable.
    #[error("{0}")]
    InvalidQuery(String),
    /// The wallet's answer cannot be read; nothing was decided.
    #[error("{0}")]
    InvalidResponse(String),
    #[error("no presentation request {0}")]
    NotFound(String),
    #[error("the presentation request has expired")]
    Expired,
    #[error("the presentation request has already been answered")]
    AlreadyAnswered,
    #[error("too many presentation requests are open; try again later")]
    Busy,
    #[error("signing the request object: {0}")]
    Sign(#[from] crate::jose::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The verifier side of OpenID4VP.
#[derive(Clone)]
pub struct Oid4vp {
    requests: Arc<dyn PresentationRequests>,
    /// The service's DID: request objects are signed by its key.
    did: Did,
    keys: Arc<LiveKeys>,
    /// The public URL without a trailing slash.
    base: String,
    clock: SharedClock,
    /// Records held: (all, anonymous).
    records: Arc<(AtomicUsize, AtomicUsize)>,
    /// Request objects fetched by GET, signed once per request and signing key (what
    /// strangers can ask for again and again).
    signed: Arc<std::sync::Mutex<std::collections::HashMap<(Uuid, String), String>>>,
}

/// Request objects kept in [`Oid4vp::signed`] before it starts afresh.
const SIGNED_ENTRIES: usize = 4096;

impl std::fmt::Debug for Oid4vp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oid4vp")
            .field("did", &self.did)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn corrupt(e: serde_json::Error) -> Error {
    Error::Store(store::Error::Corrupt(
        "presentation request".into(),
        e.to_string(),
    ))
}

impl Oid4vp {
    /// Opens the request records: `did` and `keys` sign request objects, `public_url`
    /// is where wallets reach the service.
    pub async fn open(
        requests: Arc<dyn PresentationRequests>,
        did: Did,
        keys: Arc<LiveKeys>,
        public_url: &url::Url,
        clock: SharedClock,
    ) -> Result<Self, Error> {
        let held = requests.request_summaries().await?;
        let anonymous = held.iter().filter(|r| r.created_by.is_none()).count();
        let records = Arc::new((AtomicUsize::new(held.len()), AtomicUsize::new(anonymous)));
        Ok(Self {
            requests,
            did,
            keys,
            base: public_url.as_str().trim_end_matches('/').to_owned(),
            clock,
            records,
            signed: Arc::default(),
        })
    }

    fn now(&self) -> OffsetDateTime {
        self.clock.timestamp()
    }

    /// The public URL without a trailing slash.
    fn base(&self) -> &str {
        &self.base
    }

    /// Where the wallet fetches a request object.
    pub fn request_uri(&self, rec: &RequestRecord) -> String {
        format!("{}{REQUEST_PATH}/{}", self.base(), rec.tx)
    }

    /// Where the wallet posts its answer.
    pub fn response_uri(&self, rec: &RequestRecord) -> String {
        format!("{}{RESPONSE_PATH}/{}", self.base(), rec.tx)
    }

    /// The Client Identifier the request carries (and the presentation's audience).
    pub fn client_id(&self, rec: &RequestRecord) -> String {
        match (rec.prefix, rec.is_legacy()) {
            (ClientIdPrefix::DecentralizedIdentifier, false) => {
                format!("decentralized_identifier:{}", self.did)
            }
            (ClientIdPrefix::DecentralizedIdentifier, true) => self.did.to_string(),
            (ClientIdPrefix::RedirectUri, false) => {
                format!("redirect_uri:{}", self.response_uri(rec))
            }
            (ClientIdPrefix::RedirectUri, true) => self.response_uri(rec),
        }
    }

    /// Creates a request and records it (durably).
    pub async fn create(&self, input: NewRequest) -> Result<RequestRecord, Error> {
        let ttl = input.expires_in.unwrap_or(DEFAULT_TTL);
        let max = input.max_ttl.clamp(MIN_TTL, MAX_TTL);
        if !(MIN_TTL..=max).contains(&ttl) {
            return Err(Error::InvalidQuery(format!(
                "expires_in must be between {MIN_TTL} and {max} seconds"
            )));
        }
        check_constraints(&input.constraints)?;
        if let Some(p) = &input.purpose
            && p.chars().count() > 500
        {
            return Err(Error::InvalidQuery(
                "purpose may be at most 500 characters".into(),
            ));
        }
        let id = Uuid::new_v4();
        let query =
            match (input.dcql_query, input.presentation_definition) {
                (Some(_), Some(_)) => {
                    return Err(Error::InvalidQuery(
                        "send either dcql_query or presentation_definition, not both".into(),
                    ));
                }
                (Some(q), None) => {
                    query::validate_dcql(&q).map_err(Error::InvalidQuery)?;
                    Query::Dcql(q)
                }
                (None, Some(pd)) => {
                    query::validate_definition(&pd).map_err(Error::InvalidQuery)?;
                    Query::PresentationDefinition(pd)
                }
                // The definition travels to the wallet: its id is not the employer's.
                (None, None) if input.legacy => Query::PresentationDefinition(
                    query::definition_for(&input.constraints, &random_id(16), ALG_VALUES),
                ),
                (None, None) => Query::Dcql(query::dcql_for(&input.constraints)),
            };
        let anonymous = input.created_by.is_none();
        if self.records.0.load(Ordering::Relaxed) >= MAX_RECORDS
            || (anonymous && self.records.1.load(Ordering::Relaxed) >= MAX_ANONYMOUS_RECORDS)
        {
            return Err(Error::Busy);
        }
        let now = self.now();
        let rec = RequestRecord {
            id,
            tx: random_id(16),
            created_at: now,
            expires_at: now + Duration::seconds(ttl),
            nonce: random_id(24),
            oauth_state: random_id(16),
            prefix: input.prefix,
            query,
            constraints: input.constraints,
            purpose: input.purpose,
            created_by: input.created_by,
            status: State::Pending,
            answered_at: None,
            reason: None,
            result: None,
            attempts: Vec::new(),
        };
        let bytes = serde_json::to_vec(&rec).map_err(corrupt)?;
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(Error::InvalidQuery(format!(
                "the request is {} bytes with its query; at most {MAX_RECORD_BYTES} are accepted",
                bytes.len()
            )));
        }
        if rec.prefix == ClientIdPrefix::RedirectUri
            && crate::qr::svg(&self.authorization_request(&rec)).is_err()
        {
            return Err(Error::InvalidQuery(
                "this request is too long to travel by value in a QR code; use the decentralized_identifier prefix, which sends it by reference"
                    .into(),
            ));
        }
        self.requests.insert_request(&rec).await?;
        self.records.0.fetch_add(1, Ordering::Relaxed);
        if anonymous {
            self.records.1.fetch_add(1, Ordering::Relaxed);
        }
        self.requests.flush().await?;
        Ok(rec)
    }

    /// A request by id.
    pub async fn get(&self, id: Uuid) -> Result<RequestRecord, Error> {
        self.requests
            .request(id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// The id of the request whose wallet handle is `tx`.
    pub async fn id_for_tx(&self, tx: &str) -> Result<Uuid, Error> {
        self.requests
            .request_for_tx(tx)
            .await?
            .ok_or_else(|| Error::NotFound(tx.to_owned()))
    }

    /// The current state of a request.
    pub fn state(&self, rec: &RequestRecord) -> State {
        rec.state_at(self.now())
    }

    fn client_metadata(&self, rec: &RequestRecord) -> Value {
        if rec.is_legacy() {
            json!({"vp_formats": {
                "jwt_vp_json": {"alg": ALG_VALUES},
                "jwt_vc_json": {"alg": ALG_VALUES},
            }})
        } else {
            json!({"vp_formats_supported": {
                "jwt_vc_json": {"alg_values": ALG_VALUES},
            }})
        }
    }

    /// The Authorization Request parameters (§5.1), as they go in a request object.
    pub fn request_parameters(&self, rec: &RequestRecord) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("client_id".into(), json!(self.client_id(rec)));
        if rec.is_legacy() {
            let scheme = match rec.prefix {
                ClientIdPrefix::DecentralizedIdentifier => "did",
                ClientIdPrefix::RedirectUri => "redirect_uri",
            };
            p.insert("client_id_scheme".into(), json!(scheme));
        }
        p.insert("response_type".into(), json!("vp_token"));
        p.insert("response_mode".into(), json!("direct_post"));
        p.insert("response_uri".into(), json!(self.response_uri(rec)));
        p.insert("nonce".into(), json!(rec.nonce));
        p.insert("state".into(), json!(rec.oauth_state));
        match &rec.query {
            Query::Dcql(q) => p.insert("dcql_query".into(), q.clone()),
            Query::PresentationDefinition(pd) => {
                p.insert("presentation_definition".into(), pd.clone())
            }
        };
        p.insert("client_metadata".into(), self.client_metadata(rec));
        p
    }

    /// The `openid4vp://` link a wallet opens (§5.1): by reference for a signed
    /// request, by value for an unsigned one.
    pub fn authorization_request(&self, rec: &RequestRecord) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        {
            match rec.prefix {
                ClientIdPrefix::DecentralizedIdentifier => {
                    q.append_pair("client_id", &self.client_id(rec));
                    if rec.is_legacy() {
                        q.append_pair("client_id_scheme", "did");
                    }
                    q.append_pair("request_uri", &self.request_uri(rec));
                }
                ClientIdPrefix::RedirectUri => {
                    for (k, v) in self.request_parameters(rec) {
                        match v {
                            Value::String(s) => q.append_pair(&k, &s),
                            other => q.append_pair(&k, &other.to_string()),
                        };
                    }
                }
            }
        }
        format!("openid4vp://?{}", q.finish())
    }

    /// The request object for a request still pending: signed by the service's key
    /// (`decentralized_identifier:`), or unsecured (`redirect_uri:`, RFC 9101 §6.1
    /// with `alg: none`). `wallet_nonce` is echoed for `request_uri_method=post`.
    pub async fn request_object(
        &self,
        id: Uuid,
        wallet_nonce: Option<&str>,
    ) -> Result<String, Error> {
        let rec = self.get(id).await?;
        match self.state(&rec) {
            State::Pending => {}
            State::Expired => return Err(Error::Expired),
            State::Verified | State::Rejected => return Err(Error::AlreadyAnswered),
        }
        let signer = self.keys.current().signing_kid().to_owned();
        let memo_key = (id, signer);
        let lock = || {
            self.signed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if wallet_nonce.is_none()
            && let Some(jwt) = lock().get(&memo_key)
        {
            return Ok(jwt.clone());
        }
        let jwt = self.sign_request_object(&rec, wallet_nonce)?;
        if wallet_nonce.is_none() {
            let mut memo = lock();
            if memo.len() >= SIGNED_ENTRIES {
                memo.clear();
            }
            memo.insert(memo_key, jwt.clone());
        }
        Ok(jwt)
    }

    fn sign_request_object(
        &self,
        rec: &RequestRecord,
        wallet_nonce: Option<&str>,
    ) -> Result<String, Error> {
        let mut claims = self.request_parameters(rec);
        let now = self.now();
        claims.insert("aud".into(), json!(SELF_ISSUED_AUD));
        if rec.prefix == ClientIdPrefix::DecentralizedIdentifier {
            // RFC 9101 §4: a signed request names its signer. The DID itself, not the
            // prefixed client_id, so that `kid` is a DID URL under it.
            claims.insert("iss".into(), json!(self.did.to_string()));
        }
        claims.insert("iat".into(), json!(now.unix_timestamp()));
        claims.insert("exp".into(), json!(rec.expires_at.unix_timestamp()));
        if let Some(n) = wallet_nonce {
            claims.insert("wallet_nonce".into(), json!(n));
        }
        let payload = serde_json::to_vec(&claims).map_err(corrupt)?;
        match rec.prefix {
            ClientIdPrefix::DecentralizedIdentifier => {
                let keys = self.keys.current();
                Ok(jws::sign_compact(
                    keys.signing_key(),
                    Some(&format!("{}#{}", self.did, keys.signing_kid())),
                    Some(REQUEST_TYP),
                    &payload,
                )?)
            }
            ClientIdPrefix::RedirectUri => {
                let header = json!({"alg": "none", "typ": REQUEST_TYP}).to_string();
                Ok(format!(
                    "{}.{}.",
                    crate::jose::b64(header),
                    crate::jose::b64(payload)
                ))
            }
        }
    }

    /// Takes a wallet's answer: verifies it and records the verdict, once.
    pub async fn respond(
        &self,
        verifier: &Verifier,
        id: Uuid,
        form: &ResponseForm,
    ) -> Result<RequestRecord, Error> {
        let rec = self.get(id).await?;
        match self.state(&rec) {
            State::Pending => {}
            State::Expired => return Err(Error::Expired),
            State::Verified | State::Rejected => return Err(Error::AlreadyAnswered),
        }
        match form.state.as_deref() {
            Some(s) if s == rec.oauth_state => {}
            Some(_) => {
                return Err(Error::InvalidResponse(
                    "state is not this request's state".into(),
                ));
            }
            None => return Err(Error::InvalidResponse("state is missing".into())),
        }
        if let Some(code) = &form.error {
            // Anyone who saw the QR code can post this: it decides nothing.
            let text = match &form.error_description {
                Some(d) => format!("a wallet declined ({code}): {d}"),
                None => format!("a wallet declined ({code})"),
            };
            self.attempt(&rec, text).await?;
            return Ok(rec);
        }
        let token = match form.vp_token.as_deref() {
            Some(t) => t,
            None => {
                let e = Error::InvalidResponse("vp_token is missing".into());
                self.attempt(&rec, e.to_string()).await?;
                return Err(e);
            }
        };
        let answer = match self.read_answer(&rec, token, form) {
            Ok(a) => a,
            Err(e) => {
                self.attempt(&rec, e.to_string()).await?;
                return Err(e);
            }
        };
        let (result, proven) = crate::verify::remote::with_budget_of(
            crate::verify::remote::FETCHES_PER_VERIFICATION
                + 8 * crate::verify::presentation::MAX_CREDENTIALS,
            self.judge(verifier, &rec, answer),
        )
        .await?;
        if !proven {
            let why = format!(
                "the answer is not proven by its holder (presentation signature, nonce and audience must verify): {}",
                failure_summary(&result)
            );
            // Processed (so `200` for the wallet, §8.2), but it decides nothing.
            self.attempt(&rec, why).await?;
            return Ok(rec);
        }
        let verified = result
            .get("verified")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let reason = (!verified).then(|| short(&failure_summary(&result)));
        let status = if verified {
            State::Verified
        } else {
            State::Rejected
        };
        let result = Some(result);
        // Verification may have taken a while: the lifetime is judged at the verdict.
        if rec.state_at(self.now()) == State::Expired {
            return Err(Error::Expired);
        }
        let mut done = rec;
        // Attempts recorded while this answer was being verified are kept.
        if let Some(cur) = self.requests.request(done.id).await? {
            done.attempts = cur.attempts;
        }
        done.status = status;
        done.answered_at = Some(self.now());
        done.reason = reason;
        done.result = result;
        let bytes = serde_json::to_vec(&done).map_err(corrupt)?.len();
        // Strangers' requests are kept smaller: past the cap, the decoded badges go
        // and their checks stay.
        let cap = if done.created_by.is_none() {
            MAX_ANONYMOUS_ANSWERED_BYTES
        } else {
            MAX_ANSWERED_BYTES
        };
        if bytes > cap
            && let Some(Value::Object(r)) = done.result.as_mut()
        {
            r.remove("credential");
            if let Some(Value::Array(creds)) = r.get_mut("credentials") {
                for c in creds.iter_mut().filter_map(Value::as_object_mut) {
                    c.remove("credential");
                    c.remove("endorsements");
                }
            }
            r.insert(
                "note".into(),
                json!("the decoded badges were too large to keep; their checks are kept"),
            );
        }
        if !self.requests.decide(&done).await? {
            return Err(Error::AlreadyAnswered);
        }
        self.requests.flush().await?;
        Ok(done)
    }

    /// Records an answer that decided nothing on the still pending request (the
    /// latest [`MAX_ATTEMPTS`] are kept; a request decided meanwhile is left alone).
    async fn attempt(&self, rec: &RequestRecord, reason: String) -> Result<(), Error> {
        let Some(mut cur) = self.requests.request(rec.id).await? else {
            return Ok(());
        };
        if cur.status != State::Pending {
            return Ok(());
        }
        cur.attempts.push(Attempt {
            at: self.now(),
            reason: short(&reason),
        });
        if cur.attempts.len() > MAX_ATTEMPTS {
            let extra = cur.attempts.len() - MAX_ATTEMPTS;
            cur.attempts.drain(..extra);
        }
        self.requests.decide(&cur).await?;
        Ok(())
    }

    /// Splits `vp_token` into (Credential Query id, presentation) pairs.
    fn read_answer(
        &self,
        rec: &RequestRecord,
        token: &str,
        form: &ResponseForm,
    ) -> Result<Vec<(String, Value)>, Error> {
        let bad = |m: &str| Error::InvalidResponse(m.to_owned());
        let mut out = Vec::new();
        match &rec.query {
            Query::Dcql(_) => {
                let v: Value = serde_json::from_str(token).map_err(|_| {
                    bad("vp_token must be a JSON object from Credential Query id to presentations")
                })?;
                let o = v.as_object().ok_or_else(|| {
                    bad("vp_token must be a JSON object from Credential Query id to presentations")
                })?;
                for (qid, ps) in o {
                    match ps {
                        // 1.0 §8.1: an array of presentations per query; drafts sent one.
                        Value::Array(a) if !a.is_empty() => {
                            out.extend(a.iter().map(|p| (qid.clone(), p.clone())));
                        }
                        Value::String(_) | Value::Object(_) => out.push((qid.clone(), ps.clone())),
                        _ => {
                            return Err(bad(
                                "each vp_token member must be a presentation or a non-empty array of them",
                            ));
                        }
                    }
                }
            }
            Query::PresentationDefinition(pd) => {
                let sub: Value = form
                    .presentation_submission
                    .as_deref()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .ok_or_else(|| bad("presentation_submission is missing or not JSON"))?;
                if sub.get("definition_id").and_then(Value::as_str)
                    != pd.get("id").and_then(Value::as_str)
                {
                    return Err(bad(
                        "presentation_submission.definition_id is not this request's definition",
                    ));
                }
                let token = token.trim();
                let vps: Vec<Value> = if token.starts_with('[') || token.starts_with('{') {
                    match serde_json::from_str(token) {
                        Ok(Value::Array(a)) => a,
                        Ok(v) => vec![v],
                        Err(_) => return Err(bad("vp_token is not valid JSON")),
                    }
                } else {
                    vec![Value::String(token.to_owned())]
                };
                // Definition ids hold no ',' (see `validate_definition`), so the
                // submission's ids can travel joined by one.
                let descriptors: Vec<&str> = sub
                    .get("descriptor_map")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|d| d.get("id")?.as_str())
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|id: &&str| !id.contains(','))
                    .collect();
                let label = if descriptors.is_empty() {
                    String::new()
                } else {
                    descriptors.join(",")
                };
                out.extend(vps.into_iter().map(|p| (label.clone(), p)));
            }
        }
        if out.is_empty() {
            return Err(bad("vp_token holds no presentation"));
        }
        if out.len() > MAX_PRESENTATIONS {
            return Err(Error::InvalidResponse(format!(
                "vp_token holds {} presentations; at most {MAX_PRESENTATIONS} are accepted",
                out.len()
            )));
        }
        // Every presentation is read before any is verified.
        let mut badges = 0;
        for (qid, p) in &out {
            badges += crate::verify::presentation::read_presentation(p).map_err(
                |crate::verify::Error::Malformed(m)| {
                    Error::InvalidResponse(format!(
                        "the presentation for {qid:?} cannot be read: {m}"
                    ))
                },
            )?;
        }
        let most = crate::verify::presentation::MAX_CREDENTIALS;
        if badges > most {
            return Err(Error::InvalidResponse(format!(
                "the answer holds {badges} badges; at most {most} are accepted"
            )));
        }
        Ok(out)
    }

    /// Verifies every presentation and whether together they answer the query.
    async fn judge(
        &self,
        verifier: &Verifier,
        rec: &RequestRecord,
        answer: Vec<(String, Value)>,
    ) -> Result<(Value, bool), Error> {
        let opts = PresentationOptions {
            challenge: Some(rec.nonce.clone()),
            domain: Some(self.client_id(rec)),
            unsigned: false,
            holder_binding: true,
        };
        let mut reports: Vec<(String, PresentationReport)> = Vec::new();
        for (qid, p) in answer {
            // Every presentation was read first (`read_presentation` follows the
            // verifier's own rules), so this is not expected; if it happens the
            // answer decides nothing.
            let r = verifier.verify_presentation(&p, &opts).await.map_err(|e| {
                Error::InvalidResponse(format!("the presentation for {qid:?} cannot be read: {e}"))
            })?;
            reports.push((qid, r));
        }
        // Only the holder's own proof over this request's nonce and audience lets an
        // answer decide it.
        let proven = reports.iter().all(|(_, r)| {
            [CheckName::Signature, CheckName::Nonce, CheckName::Audience]
                .iter()
                .all(|n| {
                    r.checks
                        .iter()
                        .any(|c| c.check == *n && c.outcome == Outcome::Pass)
                        && r.checks
                            .iter()
                            .all(|c| c.check != *n || c.outcome == Outcome::Pass)
                })
        });
        let requested = requested_check(rec, &reports);
        Ok((combine(reports, requested), proven))
    }

    /// Removes records whose retention has passed. Returns how many.
    pub async fn sweep(&self) -> Result<usize, Error> {
        let now = self.now();
        let past = |r: &RequestSummary| match (r.answered_at, &r.created_by) {
            (Some(t), Some(_)) => t + Duration::seconds(RETENTION) < now,
            (Some(t), None) => t + Duration::seconds(ANONYMOUS_RETENTION) < now,
            (None, Some(_)) => r.expires_at + Duration::seconds(UNANSWERED_RETENTION) < now,
            (None, None) => r.expires_at + Duration::seconds(ANONYMOUS_UNANSWERED_RETENTION) < now,
        };
        let gone = self.requests.sweep_requests(&past).await?;
        for r in &gone {
            decrement(&self.records.0);
            if r.created_by.is_none() {
                decrement(&self.records.1);
            }
        }
        Ok(gone.len())
    }
}

fn decrement(n: &AtomicUsize) {
    let _ = n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1));
}

fn check_constraints(c: &Constraints) -> Result<(), Error> {
    for (name, list) in [
        ("credential_types", &c.credential_types),
        ("trusted_issuers", &c.trusted_issuers),
        ("achievement_ids", &c.achievement_ids),
    ] {
        if list.len() > query::MAX_VALUES {
            return Err(Error::InvalidQuery(format!(
                "{name} may list at most {} values",
                query::MAX_VALUES
            )));
        }
        if list.iter().any(|s| s.is_empty() || s.len() > 2048) {
            return Err(Error::InvalidQuery(format!(
                "{name} must hold non-empty strings of at most 2048 bytes"
            )));
        }
    }
    // Issuers are named as badges name them: a DID or an https URL.
    for id in &c.trusted_issuers {
        if let Err(e) = id.parse::<crate::records::trust::IssuerId>() {
            return Err(Error::InvalidQuery(format!("trusted_issuers: {e}")));
        }
    }
    Ok(())
}

fn short(s: &str) -> String {
    if s.chars().count() <= 500 {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(497).collect();
        t.push_str("...");
        t
    }
}

/// The `requested` check: every presented badge fits its Credential Query and the
/// request's constraints, and the answer covers what the query requires.
fn requested_check(rec: &RequestRecord, reports: &[(String, PresentationReport)]) -> Check {
    let mut problems = Vec::new();
    let mut answered: Vec<&str> = Vec::new();
    for (qid, r) in reports {
        let cq = match &rec.query {
            Query::Dcql(q) => {
                let cq = q
                    .get("credentials")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|c| c.get("id").and_then(Value::as_str) == Some(qid))
                    });
                match cq {
                    Some(cq) => {
                        answered.push(qid);
                        Some(cq)
                    }
                    None => {
                        problems.push(format!("{qid:?} is not a Credential Query of this request"));
                        continue;
                    }
                }
            }
            Query::PresentationDefinition(_) => None,
        };
        if r.credentials.is_empty() {
            problems.push(format!("the presentation for {qid:?} holds no badge"));
        }
        if let Some(cq) = cq
            && cq.get("multiple").and_then(Value::as_bool) != Some(true)
            && (r.credentials.len() > 1 || reports.iter().filter(|(q, _)| q == qid).count() > 1)
        {
            problems.push(format!("{qid:?} asks for one badge; more were presented"));
        }
        for (i, c) in r.credentials.iter().enumerate() {
            let Some(cred) = c.credential.as_ref().and_then(Value::as_object) else {
                problems.push(format!("badge {i} for {qid:?} could not be read"));
                continue;
            };
            if let Some(cq) = cq
                && let Err(e) = query::fits_credential_query(cq, cred)
            {
                problems.push(format!("badge {i} for {qid:?} does not fit the query: {e}"));
            }
            if let Err(e) = query::fits_constraints(&rec.constraints, cred) {
                problems.push(format!("badge {i} for {qid:?}: {e}"));
            }
        }
    }
    match &rec.query {
        Query::Dcql(q) => {
            if let Some(m) = query::unmet_sets(q, &answered) {
                problems.push(m);
            }
        }
        Query::PresentationDefinition(pd) => {
            let wanted: Vec<&str> = pd
                .get("input_descriptors")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|d| d.get("id")?.as_str()).collect())
                .unwrap_or_default();
            let mapped: Vec<&str> = reports.iter().flat_map(|(l, _)| l.split(',')).collect();
            let missing: Vec<&str> = wanted
                .iter()
                .copied()
                .filter(|w| !mapped.contains(w))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "the presentation_submission covers no {}",
                    missing.join(", ")
                ));
            }
            // Each input descriptor must be held by a badge presented.
            let badges: Vec<&Map<String, Value>> = reports
                .iter()
                .flat_map(|(_, r)| &r.credentials)
                .filter_map(|c| c.credential.as_ref().and_then(Value::as_object))
                .collect();
            for d in pd
                .get("input_descriptors")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let id = d.get("id").and_then(Value::as_str).unwrap_or_default();
                let compiled = match query::Descriptor::compile(d) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(format!("input descriptor {id:?} cannot be evaluated: {e}"));
                        continue;
                    }
                };
                let mut why = None;
                let held = badges.iter().any(|b| match compiled.holds(b) {
                    Ok(()) => true,
                    Err(e) => {
                        why.get_or_insert(e);
                        false
                    }
                });
                if !held {
                    problems.push(format!(
                        "no badge holds input descriptor {id:?}{}",
                        why.map(|w| format!(": {w}")).unwrap_or_default()
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Check {
            check: CheckName::Requested,
            outcome: Outcome::Pass,
            message: None,
        }
    } else {
        Check {
            check: CheckName::Requested,
            outcome: Outcome::Fail,
            message: Some(short(&problems.join("; "))),
        }
    }
}

/// One result for the whole answer, in the `/api/v1/verify` presentation shape: the
/// presentations' checks merged (worst outcome per check), the `requested` check,
/// every badge's report, and each presentation's own report.
fn combine(reports: Vec<(String, PresentationReport)>, requested: Check) -> Value {
    let mut checks: Vec<Check> = Vec::new();
    for (_, r) in &reports {
        for c in &r.checks {
            match checks.iter_mut().find(|x| x.check == c.check) {
                None => checks.push(c.clone()),
                Some(x) => {
                    let rank = |o: Outcome| match o {
                        Outcome::Pass => 0,
                        Outcome::Indeterminate => 1,
                        Outcome::Fail => 2,
                    };
                    if rank(c.outcome) > rank(x.outcome) {
                        x.outcome = c.outcome;
                    }
                    if let Some(m) = &c.message {
                        x.message = Some(match x.message.take() {
                            Some(prev) => format!("{prev}; {m}"),
                            None => m.clone(),
                        });
                    }
                }
            }
        }
    }
    checks.push(requested);
    let credentials: Vec<&crate::verify::Report> =
        reports.iter().flat_map(|(_, r)| &r.credentials).collect();
    let verified = checks.iter().all(|c| c.outcome == Outcome::Pass)
        && !credentials.is_empty()
        && credentials.iter().all(|r| r.verified)
        && reports.iter().all(|(_, r)| r.verified);
    let trusted = crate::verify::combined_trust(credentials.iter().copied());
    let mut holders: Vec<String> = Vec::new();
    for h in reports.iter().filter_map(|(_, r)| r.holder.clone()) {
        if !holders.contains(&h) {
            holders.push(h);
        }
    }
    let holder = holders.first().cloned();
    let credential = credentials.first().and_then(|r| r.credential.clone());
    // Each presentation's own verdict; its badges are under `credentials` already,
    // and the raw presentation is not kept.
    let presentations: Vec<Value> = reports
        .iter()
        .map(|(q, r)| {
            json!({"query_id": q, "verified": r.verified, "holder": r.holder, "checks": r.checks})
        })
        .collect();
    json!({
        "verified": verified,
        "trusted": trusted,
        "holder": holder,
        "holders": holders,
        "checks": checks,
        "credentials": credentials,
        "credential": credential,
        "presentations": presentations,
    })
}

/// The first failing or indeterminate check, for the record's `reason`.
fn failure_summary(result: &Value) -> String {
    let first_bad = |checks: Option<&Value>| -> Option<String> {
        checks?.as_array()?.iter().find_map(|c| {
            let outcome = c.get("outcome")?.as_str()?;
            if outcome == "pass" || c.get("check")?.as_str()? == "issuer_trust" {
                return None;
            }
            let name = c.get("check")?.as_str()?;
            Some(match c.get("message").and_then(Value::as_str) {
                Some(m) => format!("{name} {outcome}: {m}"),
                None => format!("{name} {outcome}"),
            })
        })
    };
    if let Some(s) = first_bad(result.get("checks")) {
        return s;
    }
    if let Some(creds) = result.get("credentials").and_then(Value::as_array) {
        for (i, c) in creds.iter().enumerate() {
            if let Some(s) = first_bad(c.get("checks")) {
                return format!("badge {i}: {s}");
            }
        }
    }
    "the presentation did not verify".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_parse_and_unknown_ones_are_named() {
        assert_eq!(
            "decentralized_identifier".parse::<ClientIdPrefix>(),
            Ok(ClientIdPrefix::DecentralizedIdentifier)
        );
        assert_eq!(
            "redirect_uri:".parse::<ClientIdPrefix>(),
            Ok(ClientIdPrefix::RedirectUri)
        );
        let e = "x509_san_dns"
            .parse::<ClientIdPrefix>()
            .expect_err("unsupported");
        assert!(e.contains("x509_san_dns"));
    }

    #[test]
    fn a_pending_request_expires_only_when_unanswered() {
        let mut rec = RequestRecord {
            id: Uuid::nil(),
            tx: "t".into(),
            created_at: crate::clock::from_unix(0),
            expires_at: crate::clock::from_unix(100),
            nonce: "n".into(),
            oauth_state: "s".into(),
            prefix: ClientIdPrefix::DecentralizedIdentifier,
            query: Query::Dcql(query::dcql_for(&Constraints::default())),
            constraints: Constraints::default(),
            purpose: None,
            created_by: None,
            status: State::Pending,
            answered_at: None,
            reason: None,
            result: None,
            attempts: Vec::new(),
        };
        assert_eq!(rec.state_at(crate::clock::from_unix(100)), State::Pending);
        assert_eq!(rec.state_at(crate::clock::from_unix(101)), State::Expired);
        rec.status = State::Verified;
        assert_eq!(rec.state_at(crate::clock::from_unix(101)), State::Verified);
        let back: RequestRecord =
            serde_json::from_slice(&serde_json::to_vec(&rec).expect("json")).expect("parse");
        assert_eq!(back, rec);
    }

    #[test]
    fn merged_checks_keep_the_worst_outcome_and_every_message() {
        let r = |outcome, m: Option<&str>| PresentationReport {
            verified: outcome == Outcome::Pass,
            holder: Some("did:key:z".into()),
            checks: vec![Check {
                check: CheckName::Nonce,
                outcome,
                message: m.map(str::to_owned),
            }],
            credentials: Vec::new(),
            presentation: None,
            warnings: Vec::new(),
        };
        let pass = Check {
            check: CheckName::Requested,
            outcome: Outcome::Pass,
            message: None,
        };
        let v = combine(
            vec![
                ("a".into(), r(Outcome::Pass, None)),
                ("b".into(), r(Outcome::Fail, Some("wrong nonce"))),
            ],
            pass,
        );
        assert_eq!(v["verified"], json!(false), "no badges and a failed check");
        assert_eq!(v["checks"][0]["outcome"], json!("fail"));
        assert_eq!(v["checks"][0]["message"], json!("wrong nonce"));
        assert_eq!(v["checks"][1]["check"], json!("requested"));
        assert_eq!(failure_summary(&v), "nonce fail: wrong nonce");
    }
}
