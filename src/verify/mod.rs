//! Verifying a badge: the pipeline behind `POST /api/v1/verify`, the W3C VC-API
//! verify routes and `accolade verify`.
//!
//! Steps, each reported as one check when it applies, in this order:
//! 1. **Parse.** What arrives is one of:
//!    - an OB 3.0 §8.2 JWT: the payload is the credential plus `iss`, `sub`, `nbf`,
//!      `jti`, `exp`; header `typ` is `JWT` or absent;
//!    - a VC-JOSE-COSE credential (`typ: vc+jwt`, VC-JOSE-COSE §3.1.1), whose
//!      registered claims are optional;
//!    - a VCDM 1.1 JWT (VCDM 1.1 §6.3.1): the credential sits in the `vc` claim and
//!      the registered claims stand for `issuer`, `id`, `credentialSubject.id`,
//!      `issuanceDate` and `expirationDate`, which the `vc` object may leave out;
//!    - an `EnvelopedVerifiableCredential` (VCDM 2.0 §4.13) whose `id` is a
//!      `data:application/vc+jwt,` URL: verified as the JWT inside;
//!    - a JSON credential with an embedded Data Integrity proof
//!      (`DataIntegrityProof` with `eddsa-rdfc-2022` or `ecdsa-rdfc-2019`, see
//!      [`integrity`]; also the older `Ed25519Signature2020` and `JsonWebSignature2020`), its issuer identified by a DID; other proof types, suites and
//!      URL issuers are `indeterminate`;
//!    - a baked PNG or SVG (OB 3.0 §5.3, see [`crate::bake`]): the credential inside.
//!
//!    A compact JWS is parsed strictly (length cap, exactly two dots, base64url, JSON
//!    objects without duplicate members). Input that is none of these is an
//!    [`Error::Malformed`] (HTTP 400); everything else is a report (HTTP 200).
//! 2. **Signature** (`signature`). Header allowlist per kind of JWT: OB 3.0 §8.2.3
//!    badges carry only `alg`, `kid`, `jwk`, `typ`; VC-JOSE-COSE credentials `kid`,
//!    `typ`, `cty`. The key is the issuer's, found through [`Verifier::resolve_key`]:
//!    - our own DID resolves locally, with no network call;
//!    - did:key (Ed25519, P-256) and did:jwk resolve offline;
//!    - did:web of any other issuer is read through the hardened outbound client and
//!      cached ([`remote`]): the document's `id` must be the DID, and the key must be
//!      listed under `assertionMethod`;
//!    - an issuer whose `id` is an HTTPS URL: the `kid` is an HTTPS URL on the same
//!      origin that dereferences to a JWK (OB 3.0 §8.2.4.1 "Dereferencing the Public
//!      Key").
//!
//!    `kid` must name a key of the issuer; an embedded `jwk` is accepted only when its
//!    RFC 7638 thumbprint equals that key's. The algorithm is the key's, never the
//!    header's alone; there is no HMAC path. A key that cannot be had (a host that is
//!    down, refused by the outbound rules) is `indeterminate`; a key that is not the
//!    issuer's, or a signature that does not verify, fails.
//! 3. **Claims** (`claims`). OB 3.0 §8.2.4: `iss` = `issuer.id`, `sub` =
//!    `credentialSubject.id`, `nbf` = `validFrom` (`issuanceDate`), `jti` = `id`,
//!    `exp` = `validUntil` (`expirationDate`); NumericDates must be numbers.
//! 4. **Expiry** (`expiry`). `validFrom`/`validUntil` (or the VCDM 1.1 names) and
//!    `nbf`/`exp` against the injected clock with [`LEEWAY_SECONDS`] of leeway.
//! 5. **Status** (`status`). Every Bitstring Status List entry, ours and foreign, see
//!    [`status`]; revoked or suspended fails, a list that cannot be had is
//!    `indeterminate`.
//! 6. **Schema** (`schema`). Every credential is held to the VC Data Model's rules
//!    ([`crate::model::vcdm`]: contexts, types, ids, issuer, subject, dates, typed
//!    status, schema, evidence, terms of use and refresh entries). An Open Badge
//!    (`OpenBadgeCredential` / `AchievementCredential`) is also held to the OB 3.0
//!    AchievementCredential JSON Schema plus the rules it cannot express, and an
//!    endorsement to the EndorsementCredential schema; any other credential to the data
//!    model alone. The report's `standard` says which: `ob3`, `vcdm2` or `vcdm1.1`. For
//!    the OB schemas a VCDM 1.1 credential is checked under the VCDM 2.0 names
//!    (`issuanceDate` → `validFrom`, `expirationDate` → `validUntil`, the 1.1 base
//!    context → the 2.0 one), as 1EdTech's "any" schemas accept both. An enveloped
//!    credential must itself have the VCDM 2.0 context first and its type (§4.13.1).
//! 7. **Issuer trust** (`issuer_trust`), for badges and endorsements alike. Our own
//!    DID passes when the signature did. Otherwise the [`crate::trust`] registry
//!    decides, when the verifier has one: a `trusted` entry passes when the signature
//!    did (a signature that did not verify is `indeterminate`: a forgery naming a
//!    trusted issuer is not from that issuer); a `blocked` entry fails. Either way the
//!    report carries the entry (`issuer_registry`: the registry's name and logo, never
//!    the badge's). An issuer the registry does not list is `indeterminate`. The
//!    endorsements check ignores its endorsements' trust, as `verified` does.
//! 8. **Recipient** (`recipient`), only when the caller supplies an e-mail address:
//!    hashed IdentityObject match, see [`recipient`].
//! 9. **Endorsements** (`endorsements`), only when the badge carries any
//!    (`endorsement`, `endorsementJwt` on the credential, its achievement or its
//!    issuer): each is verified through steps 1–6 against the EndorsementCredential
//!    schema (OB 3.0 §9.1 "Verify Endorsements"; endorsements of endorsements are not
//!    followed), its `credentialSubject.id` must be the id of what it sits on, and it
//!    is reported beside the badge's checks.
//!
//! `verified` is true only when every check but `issuer_trust` passes.
//!
//! Limits, so that no badge can make the verifier work for someone else: URLs named by
//! a credential whose signature did not verify are never fetched (its status is
//! `indeterminate`, its endorsements are not looked at); at most
//! [`status::MAX_ENTRIES`] status entries, [`MAX_ENDORSEMENTS`] endorsements and,
//! without a `kid`, [`MAX_CANDIDATES`] keys are tried; one verification starts at most
//! [`remote::FETCHES_PER_VERIFICATION`] fetches, none after
//! [`remote::FETCH_WINDOW`].

pub mod clr;
pub mod local;
pub mod ob2;
pub mod presentation;
pub mod recipient;
pub mod remote;
pub mod report;
pub mod status;

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

pub use local::{AwardFlags, LocalStatus, OwnKeys, PublishedKeys};
pub use presentation::{PresentationOptions, PresentationReport, combined_trust};
pub use remote::{Fetch, NoFetch, Relationship, Remote, Ttls};
pub use report::{Check, CheckName, Outcome, Report};

use crate::clock::{SharedClock, parse_datetime};
use crate::did::{Did, DidUrl};
use crate::integrity;
use crate::jose::jws::{CompactJws, HeaderPolicy};
use crate::jose::{self, PublicJwk, claims};
use crate::model::{schema, vcdm};
pub(crate) use crate::records::short;

/// Clock skew tolerated on `validFrom`/`nbf` and `validUntil`/`exp`.
pub const LEEWAY_SECONDS: i64 = 60;

/// The most endorsements verified for one badge; more are `indeterminate`.
pub const MAX_ENDORSEMENTS: usize = 8;

/// Without a `kid`, the most keys of the issuer tried against the signature.
pub const MAX_CANDIDATES: usize = 4;

/// Input that cannot be examined at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Malformed(String),
}

/// What the caller asks beyond the badge itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Check that the badge was issued to this e-mail address.
    pub recipient_email: Option<String>,
}

/// OB 3.0 §8.2.3: the only header parameters a JWT badge may carry.
pub const BADGE_POLICY: HeaderPolicy = HeaderPolicy {
    allowed: &["kid", "jwk", "typ"],
    typ: &[None, Some("JWT")],
    typ_label: "\"JWT\" or absent (an Open Badges 3.0 JWT)",
};

/// VC-JOSE-COSE §3.1.1 credentials: `typ: vc+jwt`, optionally `cty`.
pub const VC_JOSE_POLICY: HeaderPolicy = HeaderPolicy {
    allowed: &["kid", "typ", "cty"],
    typ: &[Some("vc+jwt")],
    typ_label: "\"vc+jwt\"",
};

/// The verifier: knows our own DID and published keys, the clock, this service's
/// lists and awards (read locally, in the service), and how to reach other hosts. It
/// never holds a private key.
#[derive(Clone)]
pub struct Verifier {
    own: Option<Arc<dyn OwnKeys>>,
    clock: SharedClock,
    local: Option<Arc<dyn LocalStatus>>,
    remote: Arc<Remote>,
    registry: Option<crate::trust::Registry>,
    /// Credentials verified and not yet counted in the store ([`crate::stats`]).
    tally: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("own_did", &self.own.as_ref().map(|o| o.did()))
            .field("local_status", &self.local.is_some())
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

/// Where the key lookup ended.
pub(crate) enum KeyLookup {
    Found(Box<PublicJwk>, String),
    Fail(String),
    Indeterminate(String),
}

/// What kind of document a pipeline run judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Badge,
    Endorsement,
    /// A credential inside a CLR (its own bundles are not followed).
    Bundled,
}

/// How the credential was carried in a JWT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Ob3,
    VcJose,
    Vcdm11,
}

impl Verifier {
    /// A verifier that resolves `own` locally (the service's DID and published keys)
    /// and reaches no other host.
    pub fn new(own: Option<Arc<dyn OwnKeys>>, clock: SharedClock) -> Self {
        Self {
            own,
            clock,
            local: None,
            remote: Arc::new(Remote::offline()),
            registry: None,
            tally: Arc::default(),
        }
    }

    /// The count of credentials verified not yet saved (shared with clones).
    pub fn tally(&self) -> Arc<std::sync::atomic::AtomicU64> {
        self.tally.clone()
    }

    fn count(&self) {
        self.tally
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Decides `issuer_trust` for issuers other than our own through `registry`.
    #[must_use]
    pub fn with_registry(mut self, registry: crate::trust::Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The trust registry, when there is one.
    pub fn registry(&self) -> Option<&crate::trust::Registry> {
        self.registry.as_ref()
    }

    /// Reads this service's own status lists and awards through `local`.
    #[must_use]
    pub fn with_local_status(mut self, local: Arc<dyn LocalStatus>) -> Self {
        self.local = Some(local);
        self
    }

    /// Reaches other hosts (DID documents, keys, status lists) through `remote`.
    #[must_use]
    pub fn with_remote(mut self, remote: Arc<Remote>) -> Self {
        self.remote = remote;
        self
    }

    /// Reaches other hosts through `fetch`, with the default cache lifetimes.
    #[must_use]
    pub fn with_fetcher(self, fetch: Arc<dyn Fetch>) -> Self {
        self.with_remote(Arc::new(Remote::new(fetch, Ttls::default())))
    }

    /// The fetcher and caches.
    pub fn remote(&self) -> &Arc<Remote> {
        &self.remote
    }

    /// Verifies whatever a caller sent: a compact JWT string, or a JSON credential
    /// (including an `EnvelopedVerifiableCredential`).
    pub async fn verify_value(&self, v: &Value) -> Result<Report, Error> {
        self.verify_value_with(v, &Options::default()).await
    }

    /// As [`Verifier::verify_value`], with options.
    pub async fn verify_value_with(&self, v: &Value, opts: &Options) -> Result<Report, Error> {
        match v {
            // An address: an Open Badges 2.0 hosted assertion, or a badge page.
            Value::String(s)
                if s.trim().starts_with("https://") || s.trim().starts_with("http://") =>
            {
                self.verify_url(s.trim(), opts).await
            }
            Value::String(s) => self.verify_jwt_with(s.trim(), opts).await,
            Value::Object(o) => self.verify_json_with(o, opts).await,
            _ => Err(Error::Malformed(
                "\"credential\" must be a compact JWT string or a JSON credential object".into(),
            )),
        }
    }

    /// Verifies a compact JWS credential.
    pub async fn verify_jwt(&self, token: &str) -> Result<Report, Error> {
        self.verify_jwt_with(token, &Options::default()).await
    }

    /// As [`Verifier::verify_jwt`], with options.
    pub async fn verify_jwt_with(&self, token: &str, opts: &Options) -> Result<Report, Error> {
        self.count();
        tallied(remote::with_budget(self.run_jwt(token, Subject::Badge, opts)).await)
    }

    /// Verifies a JSON credential.
    pub async fn verify_json(&self, obj: &Map<String, Value>) -> Result<Report, Error> {
        self.verify_json_with(obj, &Options::default()).await
    }

    /// As [`Verifier::verify_json`], with options.
    pub async fn verify_json_with(
        &self,
        obj: &Map<String, Value>,
        opts: &Options,
    ) -> Result<Report, Error> {
        self.count();
        if ob2::is_ob2(obj) {
            return tallied(remote::with_budget(self.run_ob2_json(obj, opts)).await);
        }
        tallied(remote::with_budget(self.run_json(obj, Subject::Badge, opts)).await)
    }

    /// Verifies the credential baked into a PNG or SVG image.
    pub async fn verify_baked(
        &self,
        kind: crate::bake::ImageKind,
        bytes: &[u8],
        opts: &Options,
    ) -> Result<Report, Error> {
        match unbake(kind, bytes.to_vec()).await? {
            crate::bake::Baked::Jwt(jwt) => self.verify_jwt_with(&jwt, opts).await,
            crate::bake::Baked::Json(v) => self.verify_value_with(&v, opts).await,
            crate::bake::Baked::Ob2(text) => {
                self.count();
                tallied(remote::with_budget(self.run_ob2_text(&text, opts)).await)
            }
        }
    }

    /// Fetches a badge from the address someone gave (a badge page, which answers
    /// with the credential when asked for it; a hosted credential) through the
    /// outbound client, and verifies what it serves: a compact JWT, a JSON credential
    /// or a baked image. The fetch counts against the verification's budget.
    pub async fn verify_url(&self, url: &str, opts: &Options) -> Result<Report, Error> {
        self.count();
        let report = remote::with_budget(async {
            let body = match self.remote.fetch(url, crate::net::Kind::Badge).await {
                Ok(b) => b,
                // Open Badges 2.0 revokes a hosted assertion with 410 Gone.
                Err(crate::net::FetchError::Status(410)) => return Ok(ob2::gone(url)),
                Err(e) => {
                    return Err(Error::Malformed(format!(
                        "the badge at {} could not be fetched: {e}",
                        short(url)
                    )));
                }
            };
            if let Some(kind) = crate::bake::sniff(&body) {
                return match unbake(kind, body.to_vec()).await? {
                    crate::bake::Baked::Ob2(text) => self.run_ob2_text(&text, opts).await,
                    crate::bake::Baked::Jwt(jwt) => self.run_jwt(&jwt, Subject::Badge, opts).await,
                    crate::bake::Baked::Json(Value::Object(o)) => {
                        self.run_json(&o, Subject::Badge, opts).await
                    }
                    crate::bake::Baked::Json(_) => {
                        Err(Error::Malformed("the image holds no credential".into()))
                    }
                };
            }
            let text = std::str::from_utf8(&body)
                .map_err(|_| {
                    Error::Malformed(format!("{} did not answer with a badge", short(url)))
                })?
                .trim();
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(text) {
                if ob2::is_ob2(&o) {
                    return self.judge_hosted(url, o, opts).await;
                }
                return self.run_json(&o, Subject::Badge, opts).await;
            }
            if text.split('.').count() == 3 && !text.contains(char::is_whitespace) {
                return self.run_jwt(text, Subject::Badge, opts).await;
            }
            Err(Error::Malformed(format!(
                "{} answered with something that is not a badge (a web page, perhaps)",
                short(url)
            )))
        })
        .await;
        tallied(report)
    }

    /// Step 1 for a JWT, then the rest of the pipeline.
    async fn run_jwt(
        &self,
        token: &str,
        subject: Subject,
        opts: &Options,
    ) -> Result<Report, Error> {
        let parsed = CompactJws::parse(token)
            .map_err(|e| (e, "not a compact JWS"))
            .and_then(|jws| {
                let payload = jws
                    .payload_json()
                    .map_err(|e| (e, "not a JWT credential"))?;
                Ok((jws, payload))
            });
        let (jws, payload) = match parsed {
            Ok(p) => p,
            // Duplicate members: examinable, but never to be interpreted.
            Err((jose::Error::DuplicateKey { part, key }, _)) => {
                let mut report = Report::new();
                report.fail(
                    CheckName::Signature,
                    format!(
                        "the {part} has a duplicate member \"{key}\"; refusing to interpret it"
                    ),
                );
                return Ok(report.finish());
            }
            Err((e, what)) => return Err(Error::Malformed(format!("{what}: {e}"))),
        };
        if subject == Subject::Badge && ob2::is_ob2(&payload) {
            return self.run_ob2_signed(&jws, payload, opts).await;
        }
        let form = if jws.typ() == Some("vc+jwt") {
            Form::VcJose
        } else if payload.contains_key("vc") {
            Form::Vcdm11
        } else {
            Form::Ob3
        };
        // The credential, and the payload whose claims are compared with it.
        let (credential, claim_view) = match form {
            Form::Vcdm11 => match vcdm11_view(&payload) {
                Ok((c, v)) => (Value::Object(c), Cow::Owned(v)),
                Err(m) => return Err(Error::Malformed(m)),
            },
            Form::Ob3 | Form::VcJose => (
                Value::Object(claims::strip_jwt_claims(&payload)),
                Cow::Borrowed(&payload),
            ),
        };
        let mut report = Report::new();
        report.issuer = claims::issuer_id(&claim_view)
            .or_else(|| payload.get("iss").and_then(Value::as_str))
            .map(str::to_owned);

        // 2. Signature.
        let policy = if form == Form::VcJose {
            &VC_JOSE_POLICY
        } else {
            &BADGE_POLICY
        };
        self.check_signature(&jws, &claim_view, policy, &mut report)
            .await;
        // 3. Claims.
        let problems = if form == Form::VcJose {
            claims::check_present_claims(&claim_view)
        } else {
            claims::check_jwt_claims(&claim_view)
        };
        if problems.is_empty() {
            report.pass(CheckName::Claims);
        } else {
            report.fail(
                CheckName::Claims,
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            );
        }
        // 4–9.
        self.rest(&credential, Some(&payload), subject, opts, &mut report)
            .await;
        drop(claim_view);
        report.credential = Some(Value::Object(payload));
        Ok(report.finish())
    }

    /// Step 1 for JSON, then the rest of the pipeline: an EnvelopedVerifiableCredential
    /// is unwrapped and verified as its JWT; an embedded Data Integrity proof is
    /// verified ([`Verifier::check_integrity`]); a credential without any proof fails.
    async fn run_json(
        &self,
        obj: &Map<String, Value>,
        subject: Subject,
        opts: &Options,
    ) -> Result<Report, Error> {
        if has_type(obj.get("type"), "EnvelopedVerifiableCredential") {
            let jwt = enveloped_credential(obj)?;
            return Box::pin(self.run_jwt(jwt, subject, opts)).await;
        }
        check_json_credential(obj)?;
        let mut report = Report::new();
        report.credential = Some(Value::Object(obj.clone()));
        report.issuer = claims::issuer_id(obj).map(str::to_owned);
        match obj.get("proof") {
            None => report.fail(
                CheckName::Signature,
                "the credential carries no proof; send the signed JWT instead",
            ),
            Some(_) => self.check_integrity(obj, &mut report).await,
        }
        // The schema of this generation rejects a single `proof` object; judge the
        // credential, not its proof container.
        let mut credential = obj.clone();
        credential.remove("proof");
        let credential = Value::Object(credential);
        self.rest(&credential, None, subject, opts, &mut report)
            .await;
        Ok(report.finish())
    }

    /// Step 2 for a credential secured with an embedded Data Integrity proof
    /// ([`integrity`]): the proof's method must be a key of the issuer listed for
    /// `assertionMethod`, and the proof must verify.
    async fn check_integrity(&self, obj: &Map<String, Value>, report: &mut Report) {
        use integrity::ProofError;
        let outcome = Box::pin(async {
            let proof = integrity::proof_of(obj)?;
            integrity::suite_of(proof)?;
            if proof.get("proofPurpose").and_then(Value::as_str) != Some("assertionMethod") {
                return Err(ProofError::Invalid(
                    "a credential's proof must have the purpose assertionMethod".into(),
                ));
            }
            let Some(method) = proof.get("verificationMethod").and_then(Value::as_str) else {
                return Err(ProofError::Invalid(
                    "the proof names no verificationMethod".into(),
                ));
            };
            let Some(issuer) = claims::issuer_id(obj) else {
                return Err(ProofError::Invalid("the credential names no issuer".into()));
            };
            let key = match self.resolve_method(issuer, method).await {
                KeyLookup::Found(k, _) => k,
                KeyLookup::Fail(m) => return Err(ProofError::Invalid(m)),
                KeyLookup::Indeterminate(m) => return Err(ProofError::Unsupported(m)),
            };
            integrity::verify(obj, method, issuer, &key).await?;
            Ok(method.to_owned())
        })
        .await;
        match outcome {
            Ok(method) => {
                report.verification_method = Some(method);
                report.pass(CheckName::Signature);
            }
            Err(ProofError::Invalid(m)) => report.fail(CheckName::Signature, m),
            Err(ProofError::Unsupported(m)) => report.indeterminate(CheckName::Signature, m),
        }
    }

    /// The issuer's key a Data Integrity proof names (`method`, a DID URL of the
    /// issuer), listed for `assertionMethod`.
    pub(crate) async fn resolve_method(&self, issuer: &str, method: &str) -> KeyLookup {
        self.resolve_method_for(issuer, method, Relationship::AssertionMethod)
            .await
    }

    /// The key of `issuer` (an issuer, or a presentation's holder) a Data Integrity
    /// proof names, listed for `rel`.
    pub(crate) async fn resolve_method_for(
        &self,
        issuer: &str,
        method: &str,
        rel: Relationship,
    ) -> KeyLookup {
        let Ok(issuer_did) = issuer.parse::<Did>() else {
            return KeyLookup::Indeterminate(format!(
                "Data Integrity proofs are verified for issuers identified by a DID; {:?} is not one",
                short(issuer)
            ));
        };
        let Ok(url) = method.parse::<DidUrl>() else {
            return KeyLookup::Fail(format!(
                "the verification method {:?} is not a DID URL",
                short(method)
            ));
        };
        if url.did() != &issuer_did {
            return KeyLookup::Fail(format!(
                "the proof was made with a key of {}, not of the issuer {issuer_did}",
                url.did()
            ));
        }
        self.key_named(&issuer_did, &url, rel, "the proof").await
    }

    /// The key `url`, a DID URL of `issuer_did`, names, listed for `rel`: offline for
    /// this service's own DID, did:key and did:jwk, through the outbound client for
    /// did:web. `named_by` says what named it (a `kid`, a proof) in messages.
    async fn key_named(
        &self,
        issuer_did: &Did,
        url: &DidUrl,
        rel: Relationship,
        named_by: &str,
    ) -> KeyLookup {
        let found = |k: PublicJwk| KeyLookup::Found(Box::new(k), url.to_string());
        if self.is_own(issuer_did.as_str()) {
            return match self
                .own
                .as_ref()
                .and_then(|o| o.published_key(url.fragment()))
            {
                Some(k) => found(k),
                None => KeyLookup::Fail(format!(
                    "the issuer's DID document has no key {:?}",
                    url.fragment()
                )),
            };
        }
        let one_key = |only: &str| {
            KeyLookup::Fail(format!(
                "a did:{} document has one key, #{only}; {named_by} names #{}",
                issuer_did.method(),
                url.fragment()
            ))
        };
        match issuer_did.method() {
            "key" if url.fragment() != issuer_did.method_specific_id() => {
                one_key(issuer_did.method_specific_id())
            }
            "jwk" if url.fragment() != crate::did::jwk::FRAGMENT => {
                one_key(crate::did::jwk::FRAGMENT)
            }
            "key" => match crate::did::key::resolve(issuer_did) {
                Ok(k) => found(k),
                Err(e) => KeyLookup::Fail(e.to_string()),
            },
            "jwk" => match crate::did::jwk::resolve(issuer_did) {
                Ok(k) => found(k),
                Err(e) => KeyLookup::Fail(e.to_string()),
            },
            "web" => match self.remote.did_web(issuer_did).await {
                Err(f) if f.definite => KeyLookup::Fail(f.message),
                Err(f) => KeyLookup::Indeterminate(f.message),
                Ok(doc) => match doc.key_for(&url.to_string(), rel) {
                    Ok(k) => found(k.clone()),
                    Err(m) => KeyLookup::Fail(m),
                },
            },
            m => KeyLookup::Indeterminate(format!("the DID method \"{m}\" is not supported")),
        }
    }

    /// Steps 4–9, on the credential (a JSON object).
    async fn rest(
        &self,
        document: &Value,
        jwt: Option<&Map<String, Value>>,
        subject: Subject,
        opts: &Options,
        report: &mut Report,
    ) {
        let empty = Map::new();
        let credential = document.as_object().unwrap_or(&empty);
        // 4. Expiry.
        self.check_expiry(credential, jwt, report);
        // 5. Status.
        self.check_status(credential, report).await;
        // 6. Schema.
        let named = self.check_named_schemas(credential, report).await;
        check_schema(document, subject, named, report);
        // 7. Issuer trust.
        self.check_issuer_trust(report);
        if subject == Subject::Endorsement {
            return;
        }
        // 8. Recipient.
        if let Some(email) = &opts.recipient_email {
            match recipient::check(credential, email) {
                recipient::Match::Yes => report.pass(CheckName::Recipient),
                recipient::Match::No(m) => report.fail(CheckName::Recipient, m),
                recipient::Match::Unknown(m) => report.indeterminate(CheckName::Recipient, m),
            }
        }
        // 9. Endorsements.
        self.check_endorsements(credential, report).await;
        // 10. The credentials a CLR bundles.
        if subject == Subject::Badge && has_type(credential.get("type"), "ClrCredential") {
            self.check_clr(credential, opts, report).await;
        }
    }

    /// For this service's own badges: why one signed by a retired key (its private
    /// key deleted, `accolade keys retire`) but dated after the retirement is not the
    /// issuer's.
    fn signed_after_retirement(
        &self,
        issuer: &str,
        method: &str,
        payload: &Map<String, Value>,
    ) -> Option<String> {
        if !self.is_own(issuer) {
            return None;
        }
        let kid = method.rsplit_once('#').map_or(method, |(_, f)| f);
        let retired = self.own.as_ref()?.retired_at(kid)?;
        let num = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_f64)
                .map(|f| f.floor() as i64)
        };
        let dated = num("nbf").or_else(|| num("iat")).or_else(|| {
            // A credential in the payload itself (no JWT claims): its `validFrom`.
            claims::valid_from(payload)
                .and_then(crate::clock::parse_datetime)
                .map(time::OffsetDateTime::unix_timestamp)
        })?;
        (dated > retired).then(|| {
            format!(
                "signed by the issuer's key #{kid}, which was retired at {}, but dated {} after it: the issuer no longer holds that key",
                crate::clock::format_seconds(crate::clock::from_unix(retired)),
                crate::clock::format_seconds(crate::clock::from_unix(dated)),
            )
        })
    }

    fn is_own(&self, did: &str) -> bool {
        self.own.as_ref().is_some_and(|o| o.did().as_str() == did)
    }

    async fn check_signature(
        &self,
        jws: &CompactJws,
        payload: &Map<String, Value>,
        policy: &HeaderPolicy,
        report: &mut Report,
    ) {
        if let Err(e) = jws.check_header(policy) {
            report.fail(CheckName::Signature, e.to_string());
            return;
        }
        let issuer =
            claims::issuer_id(payload).or_else(|| payload.get("iss").and_then(Value::as_str));
        let Some(issuer) = issuer else {
            report.fail(CheckName::Signature, "the credential names no issuer");
            return;
        };
        if let (Some(iss), Some(id)) = (
            payload.get("iss").and_then(Value::as_str),
            claims::issuer_id(payload),
        ) && iss != id
        {
            report.fail(
                CheckName::Signature,
                format!(
                    "\"iss\" ({iss}) and issuer.id ({id}) disagree; the signing key cannot be chosen"
                ),
            );
            return;
        }
        let embedded = match jws.header().get("jwk") {
            None => None,
            Some(v) => match PublicJwk::from_value(v) {
                Ok(k) => Some(k),
                Err(e) => {
                    report.fail(CheckName::Signature, format!("embedded jwk: {e}"));
                    return;
                }
            },
        };
        match self
            .resolve_key(
                issuer,
                jws,
                embedded.as_ref(),
                Relationship::AssertionMethod,
            )
            .await
        {
            KeyLookup::Found(key, vm) => {
                if let Some(e) = embedded
                    && e.thumbprint() != key.thumbprint()
                {
                    report.fail(
                        CheckName::Signature,
                        "the embedded jwk is not the issuer's key named by kid",
                    );
                    return;
                }
                match jws.verify(&key) {
                    Ok(()) => {
                        if let Some(m) = self.signed_after_retirement(issuer, &vm, payload) {
                            report.fail(CheckName::Signature, m);
                            return;
                        }
                        report.verification_method = Some(vm);
                        report.pass(CheckName::Signature);
                    }
                    Err(e) => report.fail(CheckName::Signature, e.to_string()),
                }
            }
            KeyLookup::Fail(m) => report.fail(CheckName::Signature, m),
            KeyLookup::Indeterminate(m) => report.indeterminate(CheckName::Signature, m),
        }
    }

    /// Finds the issuer's key the JWS claims to be signed with.
    pub(crate) async fn resolve_key(
        &self,
        issuer: &str,
        jws: &CompactJws,
        embedded: Option<&PublicJwk>,
        rel: Relationship,
    ) -> KeyLookup {
        if issuer.starts_with("https://") || issuer.starts_with("http://") {
            return self.resolve_url_key(issuer, jws, embedded).await;
        }
        let Ok(issuer_did) = issuer.parse::<Did>() else {
            return KeyLookup::Indeterminate(format!(
                "the issuer {:?} is neither a DID nor an HTTPS URL; its keys cannot be found",
                short(issuer)
            ));
        };
        let kid = match jws.kid() {
            None => None,
            Some(k) => match k.parse::<DidUrl>() {
                Ok(u) if u.did() == &issuer_did => Some(u),
                Ok(u) => {
                    return KeyLookup::Fail(format!(
                        "kid names a key of {}, not of the issuer {issuer_did}",
                        u.did()
                    ));
                }
                Err(_) => {
                    return KeyLookup::Fail(format!(
                        "kid {:?} is not a DID URL of the issuer {issuer_did}",
                        short(k)
                    ));
                }
            },
        };
        if let Some(u) = &kid {
            return self.key_named(&issuer_did, u, rel, "kid").await;
        }
        // No kid: the key among the issuer's that verifies.
        if self.is_own(issuer_did.as_str()) {
            let Some(keys) = &self.own else {
                return KeyLookup::Indeterminate("no local keys".into());
            };
            let published = keys.published();
            return pick_key(
                jws,
                embedded,
                published
                    .iter()
                    .map(|p| (format!("{issuer_did}#{}", p.kid), &p.jwk)),
            );
        }
        match issuer_did.method() {
            "key" => match crate::did::key::resolve(&issuer_did) {
                Ok(k) => {
                    let vm = format!("{issuer_did}#{}", issuer_did.method_specific_id());
                    KeyLookup::Found(Box::new(k), vm)
                }
                Err(e) => KeyLookup::Fail(e.to_string()),
            },
            "jwk" => match crate::did::jwk::resolve(&issuer_did) {
                Ok(k) => KeyLookup::Found(
                    Box::new(k),
                    format!("{issuer_did}#{}", crate::did::jwk::FRAGMENT),
                ),
                Err(e) => KeyLookup::Fail(e.to_string()),
            },
            "web" => match self.remote.did_web(&issuer_did).await {
                Err(f) if f.definite => KeyLookup::Fail(f.message),
                Err(f) => KeyLookup::Indeterminate(f.message),
                Ok(doc) => pick_key(
                    jws,
                    embedded,
                    doc.keys_for(rel).map(|(id, k)| (id.to_owned(), k)),
                ),
            },
            m => KeyLookup::Indeterminate(format!("the DID method \"{m}\" is not supported")),
        }
    }

    /// An issuer identified by an HTTPS URL: the `kid` must be a URL on the issuer's
    /// origin that dereferences to a JWK. A bare embedded `jwk` cannot be tied to the
    /// issuer and is not trusted.
    async fn resolve_url_key(
        &self,
        issuer: &str,
        jws: &CompactJws,
        embedded: Option<&PublicJwk>,
    ) -> KeyLookup {
        let Ok(issuer_url) = url::Url::parse(issuer) else {
            return KeyLookup::Fail(format!("the issuer {:?} is not a URL", short(issuer)));
        };
        let Some(kid) = jws.kid() else {
            return KeyLookup::Indeterminate(match embedded {
                Some(_) => "the issuer is a URL and the JWT carries only an embedded jwk, which cannot be tied to the issuer; sign with a kid URL on the issuer's origin".into(),
                None => "the issuer is a URL and the JWT has no kid".into(),
            });
        };
        let Ok(kid_url) = url::Url::parse(kid) else {
            return KeyLookup::Fail(format!(
                "kid {:?} is not a URL on the issuer's origin",
                short(kid)
            ));
        };
        if kid_url.origin() != issuer_url.origin() {
            return KeyLookup::Fail(format!(
                "kid {:?} is not on the issuer's origin {}",
                short(kid),
                issuer_url.origin().ascii_serialization()
            ));
        }
        // On a shared host (one origin, many publishers by path), a key elsewhere on
        // the origin proves nothing: it must be the issuer's URL or sit below it.
        let base = issuer_url.path().trim_end_matches('/');
        let kid_path = kid_url.path();
        let below = base.is_empty()
            || kid_path == base
            || kid_path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'));
        if !below {
            return KeyLookup::Indeterminate(format!(
                "kid {:?} is on the issuer's host but not under the issuer's path {base}/; on a shared host that does not show the key is the issuer's",
                short(kid)
            ));
        }
        match self.remote.jwk_at(kid).await {
            Ok(k) => KeyLookup::Found(Box::new(k), kid.to_owned()),
            Err(f) if f.definite => KeyLookup::Fail(f.message),
            Err(f) => KeyLookup::Indeterminate(f.message),
        }
    }

    fn check_expiry(
        &self,
        credential: &Map<String, Value>,
        jwt: Option<&Map<String, Value>>,
        report: &mut Report,
    ) {
        let now = self.clock.now().unix_timestamp();
        let date = |s: Option<&str>, name: &str| -> Result<Option<i64>, String> {
            match s {
                None => Ok(None),
                Some(s) => parse_datetime(s)
                    .map(|t| Some(t.unix_timestamp()))
                    .ok_or_else(|| format!("{name} {s:?} is not a date-time with a time zone")),
            }
        };
        let from = date(claims::valid_from(credential), "validFrom");
        let until = date(claims::valid_until(credential), "validUntil");
        let (from, until) = match (from, until) {
            (Ok(f), Ok(u)) => (f, u),
            (Err(m), _) | (_, Err(m)) => {
                report.fail(CheckName::Expiry, m);
                return;
            }
        };
        let num = |k: &str| {
            jwt.and_then(|p| p.get(k))
                .and_then(Value::as_f64)
                .map(|f| f.floor() as i64)
        };
        let not_before = [from, num("nbf")].into_iter().flatten().max();
        let not_after = [until, num("exp")].into_iter().flatten().min();
        let Some(not_before) = not_before else {
            report.fail(CheckName::Expiry, "the credential has no validFrom");
            return;
        };
        if now + LEEWAY_SECONDS < not_before {
            report.fail(
                CheckName::Expiry,
                format!("not valid before {}", fmt_unix(not_before)),
            );
        } else if not_after.is_some_and(|t| now - LEEWAY_SECONDS > t) {
            report.fail(
                CheckName::Expiry,
                format!("expired at {}", fmt_unix(not_after.unwrap_or_default())),
            );
        } else {
            report.pass(CheckName::Expiry);
        }
    }

    /// Trust speaks of who signed, so it is only granted for a signature that
    /// passed: a forgery that names our DID, or a trusted issuer, is not "from a
    /// trusted issuer". A block needs no signature: whatever names a blocked issuer
    /// is refused.
    fn check_issuer_trust(&self, report: &mut Report) {
        use crate::trust::Status;
        let signed = report.outcome(CheckName::Signature) == Some(Outcome::Pass)
            || report.outcome(CheckName::Hosted) == Some(Outcome::Pass);
        let Some(issuer) = report.issuer.clone() else {
            report.indeterminate(CheckName::IssuerTrust, "issuer not in registry");
            return;
        };
        if self.is_own(&issuer) {
            if signed {
                report.pass(CheckName::IssuerTrust);
            } else {
                report.indeterminate(
                    CheckName::IssuerTrust,
                    "names this service's DID, but the signature did not verify",
                );
            }
            return;
        }
        let entry = self.registry.as_ref().and_then(|r| r.lookup(&issuer));
        match entry {
            Some(e) if e.status == Status::Blocked => {
                report.fail(
                    CheckName::IssuerTrust,
                    format!("issuer is blocked in the trust registry: {}", e.name),
                );
                report.issuer_registry = Some(e.listing());
            }
            Some(e) if signed => {
                report.pass(CheckName::IssuerTrust);
                report.issuer_registry = Some(e.listing());
            }
            Some(e) => report.indeterminate(
                CheckName::IssuerTrust,
                format!(
                    "names {}, trusted in the registry, but the signature did not verify",
                    e.name
                ),
            ),
            None => report.indeterminate(CheckName::IssuerTrust, "issuer not in registry"),
        }
    }

    /// Step 9: every endorsement on the credential, its achievement and its issuer.
    async fn check_endorsements(&self, credential: &Map<String, Value>, report: &mut Report) {
        let found = endorsements_of(credential);
        if found.is_empty() {
            return;
        }
        if report.outcome(CheckName::Signature) != Some(Outcome::Pass) {
            report.indeterminate(
                CheckName::Endorsements,
                "not checked: the badge's signature did not verify",
            );
            return;
        }
        let none = Options::default();
        let mut fails = Vec::new();
        let mut unknown = Vec::new();
        for (i, (place, endorsed, e)) in found.iter().enumerate() {
            if i == MAX_ENDORSEMENTS {
                unknown.push(format!(
                    "{} endorsements; only the first {MAX_ENDORSEMENTS} are verified",
                    found.len()
                ));
                break;
            }
            let r = match e {
                Value::String(jwt) => {
                    Box::pin(self.run_jwt(jwt.trim(), Subject::Endorsement, &none)).await
                }
                Value::Object(o) => Box::pin(self.run_json(o, Subject::Endorsement, &none)).await,
                _ => Err(Error::Malformed("neither a JWT nor a credential".into())),
            };
            let mut r = match r {
                Ok(r) => r,
                Err(Error::Malformed(m)) => {
                    fails.push(format!("{place}: {m}"));
                    continue;
                }
            };
            // An endorsement speaks of what it sits on (OB 3.0 EndorsementSubject.id).
            let subject = r
                .credential
                .as_ref()
                .and_then(Value::as_object)
                .and_then(payload_subject)
                .map(str::to_owned);
            if subject.as_deref() != *endorsed {
                r.fail(
                    CheckName::Claims,
                    format!(
                        "it endorses {}, not {}",
                        subject.as_deref().unwrap_or("no identified subject"),
                        endorsed.unwrap_or("an unidentified document")
                    ),
                );
                r = r.finish();
            }
            let by = r
                .issuer
                .clone()
                .unwrap_or_else(|| "an unnamed issuer".into());
            // Like `verified`, the check ignores whether the endorser is trusted.
            let judged = || {
                r.checks
                    .iter()
                    .filter(|c| c.check != CheckName::IssuerTrust)
            };
            let worst = judged()
                .find(|c| c.outcome == Outcome::Fail)
                .or_else(|| judged().find(|c| c.outcome == Outcome::Indeterminate));
            if let Some(c) = worst {
                let name = c.check.as_str();
                let line = format!(
                    "{place} (by {by}): {name} {}",
                    c.message.as_deref().unwrap_or("")
                );
                if c.outcome == Outcome::Fail {
                    fails.push(line);
                } else {
                    unknown.push(line);
                }
            }
            report.endorsements.push(r);
        }
        if !fails.is_empty() {
            fails.extend(unknown);
            report.fail(CheckName::Endorsements, fails.join("; "));
        } else if !unknown.is_empty() {
            report.indeterminate(CheckName::Endorsements, unknown.join("; "));
        } else {
            report.pass(CheckName::Endorsements);
        }
    }
}

/// The subject of a decoded credential or JWT payload: `credentialSubject.id`, in
/// the VCDM 1.1 `vc` claim when there is one, or else `sub`.
pub(crate) fn payload_subject(payload: &Map<String, Value>) -> Option<&str> {
    payload
        .get("vc")
        .and_then(Value::as_object)
        .and_then(claims::subject_id)
        .or_else(|| claims::subject_id(payload))
        .or_else(|| payload.get("sub").and_then(Value::as_str))
}

/// Reads the credential baked into an image. Walking a large image (CRCs,
/// inflation) is CPU work: off the async workers.
async fn unbake(kind: crate::bake::ImageKind, bytes: Vec<u8>) -> Result<crate::bake::Baked, Error> {
    tokio::task::spawn_blocking(move || crate::bake::extract(kind, &bytes))
        .await
        .map_err(|e| Error::Malformed(format!("the image could not be read: {e}")))?
        .map_err(|e| Error::Malformed(format!("the image: {e}")))
}

/// Among candidate keys (no `kid`): the one the embedded `jwk` names, or else the
/// first of the header's algorithm whose signature verifies, in document order.
fn pick_key<'a>(
    jws: &CompactJws,
    embedded: Option<&PublicJwk>,
    candidates: impl Iterator<Item = (String, &'a PublicJwk)>,
) -> KeyLookup {
    let mut candidates: Vec<(String, &PublicJwk)> = candidates
        .filter(|(_, k)| match embedded {
            Some(e) => k.thumbprint() == e.thumbprint(),
            None => Some(k.algorithm().name()) == jws.alg(),
        })
        .take(MAX_CANDIDATES + 1)
        .collect();
    let cut = candidates.len() > MAX_CANDIDATES;
    candidates.truncate(MAX_CANDIDATES);
    if embedded.is_some() && candidates.is_empty() {
        return KeyLookup::Fail(
            "the embedded jwk is not a key of the issuer's DID document".into(),
        );
    }
    for (vm, k) in &candidates {
        if jws.verify(k).is_ok() {
            return KeyLookup::Found(Box::new((*k).clone()), vm.clone());
        }
    }
    if cut {
        return KeyLookup::Indeterminate(format!(
            "the JWT names no kid and the issuer has more than {MAX_CANDIDATES} keys of its algorithm; none of the first {MAX_CANDIDATES} verifies"
        ));
    }
    KeyLookup::Fail("no key of the issuer's DID document verifies the signature".into())
}

/// The JWT inside an EnvelopedVerifiableCredential's `data:` URL.
/// Step 1 alone: whether `v` can be examined as a credential (the pipeline would
/// answer with a report rather than [`Error::Malformed`]). Nothing is verified.
pub fn read_credential(v: &Value) -> Result<(), Error> {
    match v {
        Value::String(s) => {
            let jws = CompactJws::parse(s.trim())
                .map_err(|e| Error::Malformed(format!("not a compact JWS: {e}")))?;
            let payload = match jws.payload_json() {
                Ok(p) => p,
                // Examinable: the report fails the signature.
                Err(jose::Error::DuplicateKey { .. }) => return Ok(()),
                Err(e) => return Err(Error::Malformed(format!("not a JWT credential: {e}"))),
            };
            if jws.typ() != Some("vc+jwt") && payload.contains_key("vc") {
                vcdm11_view(&payload).map_err(Error::Malformed)?;
            }
            Ok(())
        }
        Value::Object(o) if has_type(o.get("type"), "EnvelopedVerifiableCredential") => {
            read_credential(&Value::String(enveloped_credential(o)?.to_owned()))
        }
        Value::Object(o) if ob2::is_ob2(o) => Ok(()),
        Value::Object(o) => check_json_credential(o),
        _ => Err(Error::Malformed(
            "neither a JWT nor a credential object".into(),
        )),
    }
}

/// The JWT inside an `EnvelopedVerifiableCredential` (VCDM 2.0 §4.13.1: the VCDM 2.0
/// context first, the type, a `data:application/vc+jwt,` id; the media types of
/// earlier drafts are read too).
fn enveloped_credential(o: &Map<String, Value>) -> Result<&str, Error> {
    const KIND: &str = "EnvelopedVerifiableCredential";
    let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    // VC-JOSE-COSE's media type, and those of earlier drafts.
    let media = [
        "application/vc+jwt",
        "application/jwt",
        "application/vc-ld+jwt",
    ]
    .into_iter()
    .find(|m| id.starts_with(&format!("data:{m},")))
    .unwrap_or("application/vc+jwt");
    vcdm::enveloped(o, KIND, media).map_err(|v| {
        Error::Malformed(format!(
            "not an enveloped credential: {}",
            schema::joined(&v)
        ))
    })
}

/// What a JSON credential needs to be examined at all.
fn check_json_credential(o: &Map<String, Value>) -> Result<(), Error> {
    if o.contains_key("credentialSubject") && o.contains_key("@context") {
        Ok(())
    } else {
        Err(Error::Malformed(
            "not a verifiable credential: it has no @context or credentialSubject".into(),
        ))
    }
}

fn has_type(v: Option<&Value>, t: &str) -> bool {
    match v {
        Some(Value::String(s)) => s == t,
        Some(Value::Array(a)) => a.iter().any(|x| x == t),
        _ => false,
    }
}

type Credential = Map<String, Value>;

/// A VCDM 1.1 JWT (§6.3.1): the credential from the `vc` claim with the properties
/// the claims stand for filled in where the `vc` object leaves them out, and the view
/// whose claims are compared with it (the credential plus the registered claims).
fn vcdm11_view(payload: &Map<String, Value>) -> Result<(Credential, Credential), String> {
    let Some(vc) = payload.get("vc").and_then(Value::as_object) else {
        return Err("the \"vc\" claim of a VCDM 1.1 JWT must be an object".into());
    };
    let mut cred = vc.clone();
    let claim_str = |k: &str| payload.get(k).and_then(Value::as_str);
    let claim_date = |k: &str| {
        payload
            .get(k)
            .and_then(Value::as_i64)
            .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok())
            .map(crate::clock::format_seconds)
    };
    if !cred.contains_key("id")
        && let Some(j) = claim_str("jti")
    {
        cred.insert("id".into(), Value::String(j.to_owned()));
    }
    if !cred.contains_key("issuer")
        && let Some(i) = claim_str("iss")
    {
        cred.insert("issuer".into(), Value::String(i.to_owned()));
    }
    if !cred.contains_key("issuanceDate")
        && !cred.contains_key("validFrom")
        && let Some(d) = claim_date("nbf")
    {
        cred.insert("issuanceDate".into(), Value::String(d));
    }
    if !cred.contains_key("expirationDate")
        && !cred.contains_key("validUntil")
        && let Some(d) = claim_date("exp")
    {
        cred.insert("expirationDate".into(), Value::String(d));
    }
    if let Some(sub) = claim_str("sub")
        && let Some(Value::Object(s)) = cred.get_mut("credentialSubject")
        && !s.contains_key("id")
    {
        s.insert("id".into(), Value::String(sub.to_owned()));
    }
    let mut view = cred.clone();
    for k in claims::REGISTERED {
        if let Some(v) = payload.get(k) {
            view.insert(k.to_owned(), v.clone());
        }
    }
    Ok((cred, view))
}

/// Step 6. Every credential is held to the VC Data Model's rules ([`vcdm`]); an Open
/// Badge (`OpenBadgeCredential` / `AchievementCredential`) to the OB 3.0 schema as well,
/// and an endorsement to the EndorsementCredential schema. The report names the
/// standard applied. For the OB schemas a VCDM 1.1 credential is judged under the VCDM
/// 2.0 names.
/// What the schemas a credential names (`credentialSchema`) found.
#[derive(Debug, Default)]
struct NamedSchemas {
    violations: Vec<crate::model::schema::Violation>,
    /// Why a named schema could not be applied.
    undecided: Vec<String>,
}

/// The most `credentialSchema` entries applied to one credential.
pub const MAX_NAMED_SCHEMAS: usize = 4;

impl Verifier {
    /// The JSON Schemas the credential names (VCDM 2.0 §4.11), applied to the
    /// credential: type `JsonSchema` (VC JSON Schema §2.1) fetched through the
    /// outbound client; 1EdTech's `1EdTechJsonSchemaValidator2019` for the OB 3.0
    /// AchievementCredential and EndorsementCredential schemas, which are bundled and
    /// never fetched (other URLs of that type, often examples that resolve nowhere,
    /// are not applied). Only once the signature passed (a forged credential makes no
    /// one fetch anything); other types (`JsonSchemaCredential`, ...) are not applied.
    async fn check_named_schemas(
        &self,
        credential: &Map<String, Value>,
        report: &Report,
    ) -> NamedSchemas {
        let mut out = NamedSchemas::default();
        let entries: Vec<&Value> = match credential.get("credentialSchema") {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => return out,
        };
        if report.outcome(CheckName::Signature) != Some(Outcome::Pass) {
            return out;
        }
        let mut bare = credential.clone();
        bare.remove("proof");
        let bare = Value::Object(bare);
        let bundled = [
            schema::ACHIEVEMENT_CREDENTIAL_SCHEMA_URL,
            schema::ENDORSEMENT_CREDENTIAL_SCHEMA_URL,
        ];
        let applied = entries.iter().filter_map(|e| {
            let t = e.get("type").and_then(Value::as_str)?;
            let id = e.get("id").and_then(Value::as_str)?;
            (t == "JsonSchema" || (t == "1EdTechJsonSchemaValidator2019" && bundled.contains(&id)))
                .then_some(id)
        });
        for (i, url) in applied.enumerate() {
            if i >= MAX_NAMED_SCHEMAS {
                out.undecided.push(format!(
                    "only the first {MAX_NAMED_SCHEMAS} schemas a credential names are applied"
                ));
                break;
            }
            // The bundled OB schemas (a VCDM 1.1 credential under the 2.0 names, as
            // the OB check reads it).
            let bundled = if url == schema::ACHIEVEMENT_CREDENTIAL_SCHEMA_URL {
                Some(Subject::Badge)
            } else if url == schema::ENDORSEMENT_CREDENTIAL_SCHEMA_URL {
                Some(Subject::Endorsement)
            } else {
                None
            };
            if let Some(which) = bundled {
                if let Err(v) = check_ob_schema(&bare, which) {
                    out.violations.extend(v);
                }
                continue;
            }
            match self.remote.json_schema(url).await {
                Ok(v) => out
                    .violations
                    .extend(schema::violations_of(&v, &bare).into_iter().map(|mut x| {
                        x.message = format!("{x} (credentialSchema {url})");
                        x
                    })),
                Err(f) if f.definite => out.violations.push(crate::model::schema::Violation {
                    path: "/credentialSchema".into(),
                    message: f.message,
                }),
                Err(f) => out.undecided.push(f.message),
            }
        }
        out
    }
}

fn check_schema(document: &Value, subject: Subject, named: NamedSchemas, report: &mut Report) {
    let types = document.get("type");
    let ob_schema = match subject {
        Subject::Endorsement => Some(Subject::Endorsement),
        Subject::Badge | Subject::Bundled
            if has_type(types, "AchievementCredential")
                || has_type(types, "OpenBadgeCredential") =>
        {
            Some(Subject::Badge)
        }
        Subject::Badge | Subject::Bundled if has_type(types, "EndorsementCredential") => {
            Some(Subject::Endorsement)
        }
        Subject::Badge | Subject::Bundled => None,
    };
    let mut violations = Vec::new();
    if let Err(v) = vcdm::check_credential(document) {
        violations.extend(v);
    }
    let is_clr = has_type(types, "ClrCredential");
    if is_clr {
        violations.extend(clr::rules(document));
    }
    let version = vcdm::version_of(document);
    report.standard = Some(match ob_schema {
        Some(_) => "ob3",
        None if is_clr => "clr2",
        None => version.standard(),
    });
    if let Some(which) = ob_schema
        && let Err(v) = check_ob_schema(document, which)
    {
        // The OB schema repeats some data model rules: each message once.
        for x in v {
            if !violations.iter().any(|y| y.path == x.path) {
                violations.push(x);
            }
        }
    }
    for x in named.violations {
        if !violations.contains(&x) {
            violations.push(x);
        }
    }
    if !violations.is_empty() {
        report.fail(CheckName::Schema, schema::joined(&violations));
    } else if !named.undecided.is_empty() {
        report.indeterminate(CheckName::Schema, named.undecided.join("; "));
    } else {
        report.pass(CheckName::Schema);
    }
}

/// The OB 3.0 schema of `subject` (credential or endorsement), a VCDM 1.1 credential
/// under the VCDM 2.0 names.
fn check_ob_schema(
    document: &Value,
    subject: Subject,
) -> Result<(), Vec<crate::model::schema::Violation>> {
    let v1 = vcdm::version_of(document) == vcdm::Version::V1_1;
    let mapped;
    let doc = if v1 && let Some(credential) = document.as_object() {
        let mut doc = credential.clone();
        if let Some(Value::Array(ctx)) = doc.get_mut("@context")
            && let Some(first) = ctx.first_mut()
        {
            *first = Value::String(vcdm::VCDM2_CONTEXT.into());
        }
        for (old, new) in [
            ("issuanceDate", "validFrom"),
            ("expirationDate", "validUntil"),
        ] {
            if let Some(v) = doc.remove(old) {
                doc.entry(new.to_owned()).or_insert(v);
            }
        }
        mapped = Value::Object(doc);
        &mapped
    } else {
        document
    };
    match subject {
        Subject::Badge | Subject::Bundled => schema::check_credential(doc),
        Subject::Endorsement => schema::check_endorsement(doc),
    }
}

/// The endorsements a badge carries: where each sits, the id of what it sits on (the
/// credential, its achievement or its issuer), and the endorsement.
fn endorsements_of(credential: &Map<String, Value>) -> Vec<(String, Option<&str>, &Value)> {
    fn collect<'a>(
        out: &mut Vec<(String, Option<&'a str>, &'a Value)>,
        holder: Option<&'a Map<String, Value>>,
        place: &str,
    ) {
        let Some(h) = holder else { return };
        let id = h.get("id").and_then(Value::as_str);
        for key in ["endorsement", "endorsementJwt"] {
            let items: Vec<&Value> = match h.get(key) {
                Some(Value::Array(a)) => a.iter().collect(),
                Some(v) => vec![v],
                None => Vec::new(),
            };
            for (i, v) in items.into_iter().enumerate() {
                out.push((format!("{place}{key}[{i}]"), id, v));
            }
        }
    }
    let mut out = Vec::new();
    collect(&mut out, Some(credential), "");
    let achievement = credential
        .get("credentialSubject")
        .and_then(|s| s.get("achievement"))
        .and_then(Value::as_object);
    collect(&mut out, achievement, "credentialSubject.achievement.");
    collect(
        &mut out,
        credential.get("issuer").and_then(Value::as_object),
        "issuer.",
    );
    out
}

fn fmt_unix(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(crate::clock::format_seconds)
        .unwrap_or_else(|_| t.to_string())
}

/// Counts a verification a caller asked for by its outcome (`verified`, `failed`,
/// or `unreadable` for input that is no credential), and passes it on.
fn tallied(r: Result<Report, Error>) -> Result<Report, Error> {
    let outcome = match &r {
        Ok(r) if r.verified => "verified",
        Ok(_) => "failed",
        Err(_) => "unreadable",
    };
    crate::metrics::metrics()
        .verifications
        .inc(&["credential", outcome]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::jose::{Algorithm, SigningKey, jws::sign_compact};
    use serde_json::json;

    fn verifier() -> Verifier {
        Verifier::new(None, Arc::new(FixedClock::at(1_800_000_000)))
    }

    fn did_key_badge(key: &SigningKey, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let did = crate::did::key::did_key_for(key.public_jwk()).expect("did");
        let mut c: Value = serde_json::from_str(include_str!(
            "../../tests/vectors/examples/ob3_basic_openbadgecredential.json"
        ))
        .expect("example");
        c["issuer"]["id"] = json!(did.as_str());
        let mut c = c.as_object().cloned().expect("object");
        claims::add_jwt_claims(&mut c).expect("claims");
        edit(&mut c);
        let kid = format!("{did}#{}", did.method_specific_id());
        let payload = serde_json::to_vec(&c).expect("json");
        sign_compact(key, Some(&kid), Some("JWT"), &payload).expect("sign")
    }

    #[tokio::test]
    async fn a_did_key_badge_verifies_offline_without_trust() {
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let r = verifier()
            .verify_jwt(&did_key_badge(&key, |_| {}))
            .await
            .expect("report");
        assert!(r.verified, "{r:?}");
        assert_eq!(r.trusted, None);
        assert_eq!(
            r.outcome(CheckName::IssuerTrust),
            Some(Outcome::Indeterminate)
        );
        assert!(
            r.verification_method
                .is_some_and(|vm| vm.starts_with("did:key:zDn"))
        );
    }

    #[tokio::test]
    async fn our_own_did_without_keys_is_never_trusted_by_a_keyless_verifier() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let token = did_key_badge(&key, |c| {
            c.insert("issuer".into(), json!("did:web:badges.example.edu"));
            c.insert("iss".into(), json!("did:web:badges.example.edu"));
        });
        let r = verifier().verify_jwt(&token).await.expect("report");
        assert!(!r.verified);
        assert_eq!(
            r.outcome(CheckName::Signature),
            Some(Outcome::Fail),
            "{r:?}"
        );
    }

    async fn registry_with(
        entries: &[(&str, &str, crate::trust::Status)],
    ) -> (tempfile::TempDir, crate::trust::Registry) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = crate::store::Store::open(dir.path()).expect("store");
        let reg = crate::trust::Registry::open(store.trust.clone(), Arc::new(FixedClock::at(0)))
            .await
            .expect("open");
        for (id, name, status) in entries {
            let fields = crate::trust::Fields {
                name: (*name).into(),
                website: None,
                logo: Some("https://registry.example/logo.png".into()),
                location: None,
                status: *status,
            };
            reg.put(id.parse().expect("id"), fields, crate::trust::Source::Admin)
                .await
                .expect("put");
        }
        (dir, reg)
    }

    #[tokio::test]
    async fn the_registry_decides_trust_for_a_did_key_issuer() {
        use crate::trust::Status;
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let did = crate::did::key::did_key_for(key.public_jwk()).expect("did");
        let token = did_key_badge(&key, |_| {});
        for (status, trusted, outcome) in [
            (Status::Trusted, Some(true), Outcome::Pass),
            (Status::Blocked, Some(false), Outcome::Fail),
        ] {
            let (_dir, reg) = registry_with(&[(did.as_str(), "Registry Name", status)]).await;
            let r = verifier()
                .with_registry(reg)
                .verify_jwt(&token)
                .await
                .expect("report");
            assert!(r.verified, "{r:?}");
            assert_eq!(r.trusted, trusted);
            assert_eq!(r.outcome(CheckName::IssuerTrust), Some(outcome));
            let listing = r.issuer_registry.expect("listing");
            assert_eq!(
                (listing.name.as_str(), listing.status),
                ("Registry Name", status)
            );
        }
    }

    #[tokio::test]
    async fn a_url_issuer_is_looked_up_as_stated_and_only_a_good_signature_earns_trust() {
        use crate::trust::Status;
        let (_dir, reg) = registry_with(&[
            ("https://example.edu/issuer", "Example U", Status::Trusted),
            (
                "https://blocked.example/issuer",
                "Blocked U",
                Status::Blocked,
            ),
        ])
        .await;
        let v = verifier().with_registry(reg);
        let run = |issuer: &str, signature: Outcome| {
            let mut r = Report::new();
            r.issuer = Some(issuer.to_owned());
            r.push(CheckName::Signature, signature, None);
            v.check_issuer_trust(&mut r);
            r.finish()
        };
        let r = run("https://example.edu/issuer", Outcome::Pass);
        assert_eq!(r.trusted, Some(true));
        assert_eq!(r.issuer_registry.map(|l| l.name), Some("Example U".into()));
        for sig in [Outcome::Fail, Outcome::Indeterminate] {
            let r = run("https://example.edu/issuer", sig);
            assert_eq!(
                r.outcome(CheckName::IssuerTrust),
                Some(Outcome::Indeterminate)
            );
            assert!(r.issuer_registry.is_none());
        }
        let r = run("https://blocked.example/issuer", Outcome::Fail);
        assert_eq!(r.trusted, Some(false));
        let r = run("https://example.edu/issuer/", Outcome::Pass);
        assert_eq!(r.trusted, None, "ids match exactly as stated");
    }

    #[tokio::test]
    async fn values_that_are_neither_jwt_nor_credential_are_malformed() {
        for v in [json!(1), json!(null), json!([]), json!({"a": 1})] {
            assert!(verifier().verify_value(&v).await.is_err(), "{v}");
        }
        let bad_envelope = json!({"type": "EnvelopedVerifiableCredential", "id": "https://x"});
        assert!(verifier().verify_value(&bad_envelope).await.is_err());
    }
}
