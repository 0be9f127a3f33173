//! Verifying a badge: the pipeline behind `POST /api/v1/verify` and `accolade verify`.
//!
//! Steps, each reported as one check (CONTRACT §4):
//! 1. **Parse.** A compact JWS is parsed strictly (length cap, exactly two dots,
//!    base64url, JSON objects without duplicate members). Input that is not a JWS or a
//!    JSON credential at all is an [`Error::Malformed`] (HTTP 400); everything else is
//!    a report (HTTP 200).
//! 2. **Signature.** Header allowlist per kind of JWT: OB 3.0 §8.2.3 badges carry only
//!    `alg`, `kid`, `jwk`, `typ` (`JWT` or absent); VC-JOSE-COSE credentials carry
//!    `typ: vc+jwt`. Proof JWTs, status lists and anything else are not badges. The key
//!    comes from the issuer's DID: `kid` must be a DID URL of the issuer DID naming a
//!    key of its document (`assertionMethod`); an embedded `jwk` is accepted only when
//!    its RFC 7638 thumbprint equals that key's. The algorithm is the key's, never the
//!    header's alone; there is no HMAC path.
//!    Our own DID resolves locally; did:key resolves offline; other issuers' did:web
//!    documents are `indeterminate` in this version.
//! 3. **Claims.** OB 3.0 §8.2.4: `iss` = `issuer.id`, `sub` = `credentialSubject.id`,
//!    `nbf` = `validFrom`, `jti` = `id`, `exp` = `validUntil`, NumericDates numeric.
//! 4. **Expiry.** `validFrom`/`validUntil` (and `nbf`/`exp`) against the injected
//!    clock with [`LEEWAY_SECONDS`] of leeway.
//! 5. **Status.** Bitstring Status List entries, see [`status`]: our own lists are read
//!    locally, others through a [`StatusListFetcher`]; revoked or suspended fails, a
//!    list that cannot be had is `indeterminate`. Present when the credential has
//!    `credentialStatus` or is one of our own awards.
//! 6. **Schema.** The OB 3.0 AchievementCredential JSON Schema plus the rules it cannot
//!    express (the recipient has `id` or `identifier`).
//! 7. **Issuer trust.** Our own DID passes; every other issuer is `indeterminate`.
//!
//! `verified` is true only when every check but `issuer_trust` passes.

pub mod report;
pub mod status;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use report::{Check, CheckName, Outcome, Report};
pub use status::{NoFetch, StatusListFetcher};

use crate::clock::{SharedClock, parse_datetime};
use crate::did::{Did, DidUrl};
use crate::jose::jws::{CompactJws, HeaderPolicy};
use crate::jose::{self, PublicJwk, claims};
use crate::keyring::Keyring;
use crate::model::schema;

/// Clock skew tolerated on `validFrom`/`nbf` and `validUntil`/`exp`.
pub const LEEWAY_SECONDS: i64 = 60;

/// Input that cannot be examined at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Malformed(String),
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

/// The verifier: knows our own DID and keys, the clock, and (in the service) the
/// issuer whose lists and awards it reads locally.
#[derive(Clone)]
pub struct Verifier {
    own: Option<(Did, Arc<Keyring>)>,
    clock: SharedClock,
    issuer: Option<crate::issue::Issuer>,
    fetcher: Arc<dyn StatusListFetcher>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("own_did", &self.own.as_ref().map(|(d, _)| d))
            .field("local_status", &self.issuer.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the signature check ended.
enum KeyLookup {
    Found(Box<PublicJwk>, String),
    Fail(String),
    Indeterminate(String),
}

impl Verifier {
    /// A verifier that resolves `own` locally (the service's DID and keys).
    pub fn new(own: Option<(Did, Arc<Keyring>)>, clock: SharedClock) -> Self {
        Self {
            own,
            clock,
            issuer: None,
            fetcher: Arc::new(NoFetch),
        }
    }

    /// Reads the status lists and awards of `issuer` (our own) locally.
    #[must_use]
    pub fn with_issuer(mut self, issuer: crate::issue::Issuer) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// Fetches other issuers' status lists with `fetcher`.
    #[must_use]
    pub fn with_fetcher(mut self, fetcher: Arc<dyn StatusListFetcher>) -> Self {
        self.fetcher = fetcher;
        self
    }

    /// Verifies whatever a caller sent: a compact JWT string, or a JSON credential
    /// (including an `EnvelopedVerifiableCredential`).
    pub fn verify_value(&self, v: &Value) -> Result<Report, Error> {
        match v {
            Value::String(s) => self.verify_jwt(s.trim()),
            Value::Object(o) => self.verify_json(o),
            _ => Err(Error::Malformed(
                "\"credential\" must be a compact JWT string or a JSON credential object".into(),
            )),
        }
    }

    /// Verifies a compact JWS credential.
    pub fn verify_jwt(&self, token: &str) -> Result<Report, Error> {
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
        let mut report = Report::new();
        report.credential = Some(Value::Object(payload.clone()));

        let vc_jose = jws.typ() == Some("vc+jwt");
        if payload.contains_key("vc") && !vc_jose {
            // VCDM 1.1 JWT form (`vc` claim).
            report.issuer = payload
                .get("iss")
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.check_signature(&jws, &payload, &BADGE_POLICY, &mut report);
            report.indeterminate(
                CheckName::Claims,
                "credentials in the VCDM 1.1 \"vc\" claim form are not checked by this version",
            );
            return Ok(report.finish());
        }
        let policy = if vc_jose {
            &VC_JOSE_POLICY
        } else {
            &BADGE_POLICY
        };
        report.issuer = claims::issuer_id(&payload)
            .or_else(|| payload.get("iss").and_then(Value::as_str))
            .map(str::to_owned);
        self.check_signature(&jws, &payload, policy, &mut report);

        let problems = if vc_jose {
            claims::check_present_claims(&payload)
        } else {
            claims::check_jwt_claims(&payload)
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
        let credential = claims::strip_jwt_claims(&payload);
        self.check_expiry(&credential, Some(&payload), &mut report);
        self.check_status(&credential, &mut report);
        self.check_schema(&credential, &mut report);
        self.check_issuer_trust(&mut report);
        Ok(report.finish())
    }

    /// Verifies a JSON credential: an EnvelopedVerifiableCredential is unwrapped and
    /// verified as its JWT; an embedded Data Integrity proof is `indeterminate` in this
    /// version; a credential without any proof fails.
    pub fn verify_json(&self, obj: &Map<String, Value>) -> Result<Report, Error> {
        let is_type = |t: &str| match obj.get("type") {
            Some(Value::String(s)) => s == t,
            Some(Value::Array(a)) => a.iter().any(|v| v == t),
            _ => false,
        };
        if is_type("EnvelopedVerifiableCredential") {
            let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
            let jwt = [
                "data:application/vc+jwt,",
                "data:application/jwt,",
                "data:application/vc-ld+jwt,",
            ]
            .iter()
            .find_map(|p| id.strip_prefix(p))
            .ok_or_else(|| {
                Error::Malformed(
                    "an EnvelopedVerifiableCredential's id must be data:application/vc+jwt,<jwt>"
                        .into(),
                )
            })?;
            return self.verify_jwt(jwt);
        }
        if !obj.contains_key("credentialSubject") || !obj.contains_key("@context") {
            return Err(Error::Malformed(
                "not a verifiable credential: it has no @context or credentialSubject".into(),
            ));
        }
        let mut report = Report::new();
        report.credential = Some(Value::Object(obj.clone()));
        report.issuer = claims::issuer_id(obj).map(str::to_owned);
        match obj.get("proof") {
            None => report.fail(
                CheckName::Signature,
                "the credential carries no proof; send the signed JWT instead",
            ),
            Some(_) => report.indeterminate(
                CheckName::Signature,
                "embedded Data Integrity proofs are not verified by this version",
            ),
        }
        // The schema of this generation rejects a single `proof` object; judge the
        // credential, not its proof container.
        let mut credential = obj.clone();
        credential.remove("proof");
        self.check_expiry(&credential, None, &mut report);
        self.check_status(&credential, &mut report);
        self.check_schema(&credential, &mut report);
        self.check_issuer_trust(&mut report);
        Ok(report.finish())
    }

    fn is_own(&self, did: &str) -> bool {
        self.own.as_ref().is_some_and(|(d, _)| d.as_str() == did)
    }

    fn check_signature(
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
                    format!("\"iss\" ({iss}) and issuer.id ({id}) disagree; the signing key cannot be chosen"),
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
        match self.resolve_key(issuer, jws, embedded.as_ref()) {
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
    fn resolve_key(
        &self,
        issuer: &str,
        jws: &CompactJws,
        embedded: Option<&PublicJwk>,
    ) -> KeyLookup {
        let Ok(issuer_did) = issuer.parse::<Did>() else {
            return KeyLookup::Indeterminate(format!(
                "the issuer {issuer:?} is not a DID; resolving HTTPS issuer keys is not supported by this version"
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
                        "kid {k:?} is not a DID URL of the issuer {issuer_did}"
                    ));
                }
            },
        };
        if self.is_own(issuer_did.as_str()) {
            let Some((_, keys)) = &self.own else {
                return KeyLookup::Indeterminate("no local keys".into());
            };
            return match kid {
                Some(u) => match keys.published_key(u.fragment()) {
                    Some(k) => KeyLookup::Found(Box::new(k.clone()), u.to_string()),
                    None => KeyLookup::Fail(format!(
                        "the issuer's DID document has no key {:?}",
                        u.fragment()
                    )),
                },
                None => {
                    // No kid: the embedded jwk (if any) must be one of our keys; otherwise
                    // try the published keys of the header's algorithm.
                    let published = keys.published();
                    let candidates: Vec<_> = published
                        .iter()
                        .filter(|p| match embedded {
                            Some(e) => p.jwk.thumbprint() == e.thumbprint(),
                            None => Some(p.jwk.algorithm().name()) == jws.alg(),
                        })
                        .collect();
                    if embedded.is_some() && candidates.is_empty() {
                        return KeyLookup::Fail(
                            "the embedded jwk is not a key of the issuer's DID document".into(),
                        );
                    }
                    for c in &candidates {
                        if jws.verify(&c.jwk).is_ok() {
                            return KeyLookup::Found(
                                Box::new(c.jwk.clone()),
                                format!("{issuer_did}#{}", c.kid),
                            );
                        }
                    }
                    KeyLookup::Fail(
                        "no key of the issuer's DID document verifies the signature".into(),
                    )
                }
            };
        }
        match issuer_did.method() {
            "key" => match crate::did::key::resolve(&issuer_did) {
                Ok(k) => {
                    if let Some(u) = &kid
                        && u.fragment() != issuer_did.method_specific_id()
                    {
                        return KeyLookup::Fail(format!(
                            "a did:key document has one key, #{}; kid names #{}",
                            issuer_did.method_specific_id(),
                            u.fragment()
                        ));
                    }
                    let vm = format!("{issuer_did}#{}", issuer_did.method_specific_id());
                    KeyLookup::Found(Box::new(k), vm)
                }
                Err(e) => KeyLookup::Fail(e.to_string()),
            },
            "web" => KeyLookup::Indeterminate(format!(
                "resolving the did:web document of another issuer ({issuer_did}) is not supported by this version"
            )),
            m => KeyLookup::Indeterminate(format!("the DID method \"{m}\" is not supported")),
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

    fn check_schema(&self, credential: &Map<String, Value>, report: &mut Report) {
        match schema::check_credential(&Value::Object(credential.clone())) {
            Ok(()) => report.pass(CheckName::Schema),
            Err(v) => report.fail(
                CheckName::Schema,
                v.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        }
    }

    /// Trust speaks of who signed, so it is only decided for a signature that
    /// passed: a forgery that names our DID is not "from a trusted issuer".
    fn check_issuer_trust(&self, report: &mut Report) {
        let signed = report.outcome(CheckName::Signature) == Some(Outcome::Pass);
        match report.issuer.as_deref() {
            Some(i) if self.is_own(i) && signed => report.pass(CheckName::IssuerTrust),
            Some(i) if self.is_own(i) => report.indeterminate(
                CheckName::IssuerTrust,
                "names this service's DID, but the signature did not verify",
            ),
            _ => report.indeterminate(CheckName::IssuerTrust, "issuer not in registry"),
        }
    }
}

fn fmt_unix(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(crate::clock::format_seconds)
        .unwrap_or_else(|_| t.to_string())
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

    #[test]
    fn a_did_key_badge_verifies_offline_without_trust() {
        let (key, _) = SigningKey::generate(Algorithm::ES256).expect("key");
        let r = verifier()
            .verify_jwt(&did_key_badge(&key, |_| {}))
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

    #[test]
    fn our_own_did_without_keys_is_never_trusted_by_a_keyless_verifier() {
        let (key, _) = SigningKey::generate(Algorithm::EdDSA).expect("key");
        let token = did_key_badge(&key, |c| {
            c.insert("issuer".into(), json!("did:web:badges.example.edu"));
            c.insert("iss".into(), json!("did:web:badges.example.edu"));
        });
        let r = verifier().verify_jwt(&token).expect("report");
        assert!(!r.verified);
        assert_eq!(
            r.outcome(CheckName::Signature),
            Some(Outcome::Fail),
            "{r:?}"
        );
    }

    #[test]
    fn values_that_are_neither_jwt_nor_credential_are_malformed() {
        for v in [json!(1), json!(null), json!([]), json!({"a": 1})] {
            assert!(verifier().verify_value(&v).is_err(), "{v}");
        }
        let bad_envelope = json!({"type": "EnvelopedVerifiableCredential", "id": "https://x"});
        assert!(verifier().verify_value(&bad_envelope).is_err());
    }
}
