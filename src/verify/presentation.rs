//! Verifying a presentation: a holder's envelope around badges.
//!
//! Forms accepted:
//! - a VP-JWT: VCDM 1.1 §6.3.1 (the presentation in the `vp` claim, `iss` = holder,
//!   `nonce`, `aud`) or VC-JOSE-COSE §3.2 (`typ: vp+jwt`, the payload *is* the
//!   presentation, `holder`);
//! - an `EnvelopedVerifiablePresentation` (VCDM 2.0 §4.13) whose `id` is a
//!   `data:application/vp+jwt,` URL;
//! - a JSON `VerifiablePresentation` with an embedded Data Integrity proof
//!   ([`crate::integrity`]) made for `authentication` by a key of its `holder`, whose
//!   `challenge` and `domain` are what the caller expects; no proof fails — unless
//!   the caller says the presentation is unsigned (W3C VC-API's `presentation`
//!   member), in which case only its credentials are judged.
//!
//! The presentation's own checks: `signature` (the holder's key, resolved like an
//! issuer's: did:key, did:jwk, did:web), `nonce` and `audience` when the caller
//! expects them (VC-API `options.challenge` and `options.domain`), `expiry` when the
//! JWT carries `exp`/`nbf`, and, when the caller asks for it
//! ([`PresentationOptions::holder_binding`]), `holder_binding`: every credential's
//! `credentialSubject.id` is the holder. Each credential gets the full badge pipeline.
//! `verified` is true only when every presentation check passes and every credential
//! is verified.

use serde::Serialize;
use serde_json::{Map, Value};

use super::{
    Check, CheckName, Error, KeyLookup, LEEWAY_SECONDS, Outcome, Relationship, Report, Verifier,
    has_type,
};
use crate::jose::PublicJwk;
use crate::jose::jws::{CompactJws, HeaderPolicy};
use crate::model::vcdm;

/// The most credentials verified in one presentation.
pub const MAX_CREDENTIALS: usize = 16;

/// VP-JWT headers: VC-JOSE-COSE `vp+jwt`, or a VCDM 1.1 `JWT`.
pub const VP_POLICY: HeaderPolicy = HeaderPolicy {
    allowed: &["kid", "jwk", "typ", "cty"],
    typ: &[None, Some("JWT"), Some("vp+jwt")],
    typ_label: "\"vp+jwt\", \"JWT\" or absent",
};

/// What the caller expects of the presentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PresentationOptions {
    /// The nonce the holder must have signed (`nonce` claim).
    pub challenge: Option<String>,
    /// The audience the holder must have named (`aud`).
    pub domain: Option<String>,
    /// The presentation is expected to carry no proof (VC-API `presentation`).
    pub unsigned: bool,
    /// Every credential must be about the holder (`holder_binding`): what OpenID4VP
    /// and `/api/v1/verify` ask; the W3C VC-API only when its caller does.
    pub holder_binding: bool,
}

/// The answer for a presentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PresentationReport {
    pub verified: bool,
    /// The holder, as the presentation names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// The presentation's own checks.
    pub checks: Vec<Check>,
    /// One report per credential, in order.
    pub credentials: Vec<Report>,
    /// The decoded presentation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presentation: Option<Value>,
    /// What the caller should know although no check failed (an unsigned presentation
    /// proves no holder).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl PresentationReport {
    fn push(&mut self, check: CheckName, outcome: Outcome, message: Option<String>) {
        self.checks.push(Check {
            check,
            outcome,
            message,
        });
    }

    fn pass(&mut self, check: CheckName) {
        self.push(check, Outcome::Pass, None);
    }

    fn fail(&mut self, check: CheckName, m: impl Into<String>) {
        self.push(check, Outcome::Fail, Some(m.into()));
    }

    /// Decides the verdict. A presentation holding no credential proves nothing about
    /// anyone, so it is never verified, however well it is signed.
    fn finish(mut self) -> Self {
        if self.credentials.is_empty()
            && !self
                .checks
                .iter()
                .any(|c| c.check == CheckName::Credentials)
        {
            self.fail(
                CheckName::Credentials,
                "the presentation holds no credential",
            );
        }
        self.verified = !self.credentials.is_empty()
            && self.checks.iter().all(|c| c.outcome == Outcome::Pass)
            && self.credentials.iter().all(|r| r.verified);
        self
    }
}

/// Reads a presentation as [`Verifier::verify_presentation`] would, verifying
/// nothing: whether it can be examined (else [`Error::Malformed`]), and how many
/// badges it holds. Callers that must not spend work on an unreadable answer read
/// every presentation first.
pub fn read_presentation(v: &Value) -> Result<usize, Error> {
    let payload;
    let vp = match v {
        Value::String(s) => {
            payload = parse_vp_jwt(s.trim())?.1;
            presentation_in(&payload)?
        }
        Value::Object(o) if has_type(o.get("type"), "EnvelopedVerifiablePresentation") => {
            return read_presentation(&Value::String(enveloped_presentation(o)?.to_owned()));
        }
        Value::Object(o) => o,
        _ => return Err(not_a_presentation()),
    };
    check_presentation_type(vp)?;
    let creds = credentials_of(vp)?;
    for (i, c) in creds.iter().enumerate() {
        super::read_credential(c).map_err(|Error::Malformed(m)| {
            Error::Malformed(format!("verifiableCredential[{i}]: {m}"))
        })?;
    }
    Ok(creds.len())
}

/// The trust of several badges together: `false` when any badge's issuer is
/// distrusted, `true` when every badge's issuer is trusted (and there is one),
/// `null` otherwise.
pub fn combined_trust<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Option<bool> {
    let (mut any, mut all_trusted) = (false, true);
    for r in reports {
        any = true;
        match r.trusted {
            Some(false) => return Some(false),
            Some(true) => {}
            None => all_trusted = false,
        }
    }
    (any && all_trusted).then_some(true)
}

fn not_a_presentation() -> Error {
    Error::Malformed("a presentation is a VP-JWT string or a JSON presentation object".into())
}

/// The JWT inside an `EnvelopedVerifiablePresentation` (VCDM 2.0 §4.13.2: the VCDM
/// 2.0 context first, the type, a `data:application/vp+jwt,` id).
fn enveloped_presentation(o: &Map<String, Value>) -> Result<&str, Error> {
    const KIND: &str = "EnvelopedVerifiablePresentation";
    let id = o.get("id").and_then(Value::as_str).unwrap_or_default();
    let media = if id.starts_with("data:application/jwt,") {
        "application/jwt"
    } else {
        "application/vp+jwt"
    };
    vcdm::enveloped(o, KIND, media).map_err(|v| malformed("not an enveloped presentation", &v))
}

fn malformed(what: &str, v: &[crate::model::schema::Violation]) -> Error {
    Error::Malformed(format!("{what}: {}", crate::model::schema::joined(v)))
}

/// A VP-JWT and its payload.
fn parse_vp_jwt(token: &str) -> Result<(CompactJws, Map<String, Value>), Error> {
    let jws = CompactJws::parse(token)
        .map_err(|e| Error::Malformed(format!("not a compact JWS: {e}")))?;
    let payload = jws
        .payload_json()
        .map_err(|e| Error::Malformed(format!("not a JWT presentation: {e}")))?;
    Ok((jws, payload))
}

/// The presentation in a VP-JWT payload: VCDM 1.1 keeps it in `vp`; VC-JOSE-COSE
/// makes it the payload.
fn presentation_in(payload: &Map<String, Value>) -> Result<&Map<String, Value>, Error> {
    match payload.get("vp") {
        Some(Value::Object(vp)) => Ok(vp),
        Some(_) => Err(Error::Malformed(
            "the \"vp\" claim must be an object".into(),
        )),
        None => Ok(payload),
    }
}

/// A presentation must meet the data model (VCDM 2.0 §4.13, or 1.1 for a 1.1 one).
fn check_presentation_type(vp: &Map<String, Value>) -> Result<(), Error> {
    if !has_type(vp.get("type"), "VerifiablePresentation") {
        return Err(Error::Malformed(
            "not a presentation: its type does not include VerifiablePresentation".into(),
        ));
    }
    vcdm::check_presentation_object(vp).map_err(|v| malformed("not a valid presentation", &v))
}

/// A presentation's credentials, at most [`MAX_CREDENTIALS`].
fn credentials_of(vp: &Map<String, Value>) -> Result<Vec<&Value>, Error> {
    let creds: Vec<&Value> = match vp.get("verifiableCredential") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
    };
    if creds.len() > MAX_CREDENTIALS {
        return Err(Error::Malformed(format!(
            "a presentation may hold at most {MAX_CREDENTIALS} credentials; it holds {}",
            creds.len()
        )));
    }
    Ok(creds)
}

impl Verifier {
    /// Verifies a presentation in any of the accepted forms.
    pub async fn verify_presentation(
        &self,
        v: &Value,
        opts: &PresentationOptions,
    ) -> Result<PresentationReport, Error> {
        // Each badge may need its issuer's document and status lists.
        let fetches = super::remote::FETCHES_PER_VERIFICATION + 8 * MAX_CREDENTIALS;
        let report = super::remote::with_budget_of(fetches, self.presentation(v, opts)).await;
        let outcome = match &report {
            Ok(r) if r.verified => "verified",
            Ok(_) => "failed",
            Err(_) => "unreadable",
        };
        crate::metrics::metrics()
            .verifications
            .inc(&["presentation", outcome]);
        report
    }

    async fn presentation(
        &self,
        v: &Value,
        opts: &PresentationOptions,
    ) -> Result<PresentationReport, Error> {
        match v {
            Value::String(s) => self.verify_vp_jwt(s.trim(), opts).await,
            Value::Object(o) if has_type(o.get("type"), "EnvelopedVerifiablePresentation") => {
                self.verify_vp_jwt(enveloped_presentation(o)?, opts).await
            }
            Value::Object(o) => self.verify_vp_json(o, opts).await,
            _ => Err(not_a_presentation()),
        }
    }

    async fn verify_vp_jwt(
        &self,
        token: &str,
        opts: &PresentationOptions,
    ) -> Result<PresentationReport, Error> {
        let (jws, payload) = parse_vp_jwt(token)?;
        let vp = presentation_in(&payload)?.clone();
        check_presentation_type(&vp)?;
        let mut report = PresentationReport {
            verified: false,
            holder: None,
            checks: Vec::new(),
            credentials: Vec::new(),
            presentation: Some(Value::Object(payload.clone())),
            warnings: Vec::new(),
        };
        let iss = payload.get("iss").and_then(Value::as_str);
        let holder = match vp.get("holder") {
            Some(Value::String(h)) => Some(h.as_str()),
            Some(Value::Object(h)) => h.get("id").and_then(Value::as_str),
            _ => None,
        };
        let holder = match (iss, holder) {
            (Some(i), Some(h)) if i != h => {
                report.fail(
                    CheckName::Signature,
                    format!("\"iss\" ({i}) and the presentation's holder ({h}) disagree"),
                );
                None
            }
            (Some(i), _) => Some(i.to_owned()),
            (None, Some(h)) => Some(h.to_owned()),
            (None, None) => {
                report.fail(CheckName::Signature, "the presentation names no holder");
                None
            }
        };
        report.holder.clone_from(&holder);
        if let Some(holder) = &holder {
            self.check_holder_signature(&jws, holder, &mut report).await;
        }
        check_nonce_and_audience(&payload, opts, &mut report);
        self.check_vp_times(&payload, &mut report);
        let bind_to = holder.as_deref().filter(|_| opts.holder_binding);
        self.check_credentials(&vp, bind_to, &mut report).await?;
        Ok(report.finish())
    }

    async fn check_holder_signature(
        &self,
        jws: &CompactJws,
        holder: &str,
        report: &mut PresentationReport,
    ) {
        if let Err(e) = jws.check_header(&VP_POLICY) {
            report.fail(CheckName::Signature, e.to_string());
            return;
        }
        let embedded = match jws.header().get("jwk").map(PublicJwk::from_value) {
            None => None,
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                report.fail(CheckName::Signature, format!("embedded jwk: {e}"));
                return;
            }
        };
        match self
            .resolve_key(holder, jws, embedded.as_ref(), Relationship::Authentication)
            .await
        {
            KeyLookup::Found(key, _) => {
                if let Some(e) = &embedded
                    && e.thumbprint() != key.thumbprint()
                {
                    report.fail(
                        CheckName::Signature,
                        "the embedded jwk is not the holder's key",
                    );
                    return;
                }
                match jws.verify(&key) {
                    Ok(()) => report.pass(CheckName::Signature),
                    Err(e) => report.fail(CheckName::Signature, e.to_string()),
                }
            }
            KeyLookup::Fail(m) => report.fail(CheckName::Signature, m),
            KeyLookup::Indeterminate(m) => {
                report.push(CheckName::Signature, Outcome::Indeterminate, Some(m));
            }
        }
    }

    fn check_vp_times(&self, payload: &Map<String, Value>, report: &mut PresentationReport) {
        let now = self.clock.now().unix_timestamp();
        let num = |k: &str| payload.get(k).map(|v| v.as_f64().map(|f| f.floor() as i64));
        let (exp, nbf) = (num("exp"), num("nbf"));
        if exp.is_none() && nbf.is_none() {
            return;
        }
        match (exp, nbf) {
            (Some(None), _) | (_, Some(None)) => {
                report.fail(CheckName::Expiry, "exp and nbf must be NumericDates");
            }
            (Some(Some(e)), _) if now - LEEWAY_SECONDS > e => {
                report.fail(CheckName::Expiry, "the presentation has expired");
            }
            (_, Some(Some(n))) if now + LEEWAY_SECONDS < n => {
                report.fail(CheckName::Expiry, "the presentation is not valid yet");
            }
            _ => report.pass(CheckName::Expiry),
        }
    }

    async fn verify_vp_json(
        &self,
        vp: &Map<String, Value>,
        opts: &PresentationOptions,
    ) -> Result<PresentationReport, Error> {
        check_presentation_type(vp)?;
        let holder = match vp.get("holder") {
            Some(Value::String(h)) => Some(h.clone()),
            Some(Value::Object(h)) => h.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        };
        let mut report = PresentationReport {
            verified: false,
            holder: holder.clone(),
            checks: Vec::new(),
            credentials: Vec::new(),
            presentation: Some(Value::Object(vp.clone())),
            warnings: Vec::new(),
        };
        match (vp.get("proof"), opts.unsigned) {
            (Some(_), _) => {
                self.check_presentation_proof(vp, holder.as_deref(), opts, &mut report)
                    .await;
            }
            (None, false) => report.fail(
                CheckName::Signature,
                "the presentation carries no proof; send it signed (a VP-JWT or a Data Integrity proof)",
            ),
            (None, true) => {}
        }
        if (opts.challenge.is_some() || opts.domain.is_some()) && vp.get("proof").is_none() {
            report.fail(
                CheckName::Nonce,
                "an unsigned presentation cannot prove the challenge or domain",
            );
        }
        // Without a holder proof there is no holder to bind to.
        let bind_to = if opts.unsigned || !opts.holder_binding {
            None
        } else {
            holder.as_deref()
        };
        self.check_credentials(vp, bind_to, &mut report).await?;
        if vp.get("proof").is_none() {
            // Anyone can write any `holder` into an unsigned presentation.
            report.holder = None;
            report.warnings.push(
                "the presentation is not signed, so it proves no holder: its credentials were checked, not who presents them".into(),
            );
        }
        Ok(report.finish())
    }

    /// A JSON presentation's Data Integrity proof (VC Data Integrity §4.6; VCDM 2.0
    /// §4.12 for the holder): made for `authentication` by a key of the holder, over
    /// the whole presentation, its credentials included; the `challenge` and `domain`
    /// it carries are what the caller expects (`nonce` and `audience`).
    async fn check_presentation_proof(
        &self,
        vp: &Map<String, Value>,
        holder: Option<&str>,
        opts: &PresentationOptions,
        report: &mut PresentationReport,
    ) {
        use crate::integrity::{self, ProofError};
        let proof = match integrity::proof_of(vp) {
            Ok(p) => p.clone(),
            Err(ProofError::Invalid(m)) => return report.fail(CheckName::Signature, m),
            Err(ProofError::Unsupported(m)) => {
                return report.push(CheckName::Signature, Outcome::Indeterminate, Some(m));
            }
        };
        let outcome = Box::pin(async {
            integrity::suite_of(&proof)?;
            if proof.get("proofPurpose").and_then(Value::as_str) != Some("authentication") {
                return Err(ProofError::Invalid(
                    "a presentation's proof must have the purpose authentication".into(),
                ));
            }
            let method = proof
                .get("verificationMethod")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ProofError::Invalid("the proof names no verificationMethod".into())
                })?;
            let Some(holder) = holder else {
                return Err(ProofError::Invalid(
                    "the presentation names no holder, so nothing says whose key signed it".into(),
                ));
            };
            let key = match self
                .resolve_method_for(holder, method, Relationship::Authentication)
                .await
            {
                KeyLookup::Found(k, _) => k,
                KeyLookup::Fail(m) => return Err(ProofError::Invalid(m)),
                KeyLookup::Indeterminate(m) => return Err(ProofError::Unsupported(m)),
            };
            integrity::verify(vp, method, holder, &key).await
        })
        .await;
        let proved = match outcome {
            Ok(()) => {
                report.pass(CheckName::Signature);
                true
            }
            Err(ProofError::Invalid(m)) => {
                report.fail(CheckName::Signature, m);
                false
            }
            Err(ProofError::Unsupported(m)) => {
                report.push(CheckName::Signature, Outcome::Indeterminate, Some(m));
                false
            }
        };
        // What the proof says is only worth what the proof is: unproved, the nonce
        // and audience are undecided.
        let mut judge =
            |check: CheckName, want: &Option<String>, got: Option<&Value>, what: &str| {
                let Some(want) = want else { return };
                let named = match got {
                    Some(Value::String(s)) => s == want,
                    Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(want)),
                    _ => false,
                };
                if !named {
                    report.fail(check, format!("the proof's {what} is not the one expected"));
                } else if proved {
                    report.pass(check);
                } else {
                    report.push(
                        check,
                        Outcome::Indeterminate,
                        Some(format!("the {what} sits in a proof that did not verify")),
                    );
                }
            };
        judge(
            CheckName::Nonce,
            &opts.challenge,
            proof.get("challenge"),
            "challenge",
        );
        judge(
            CheckName::Audience,
            &opts.domain,
            proof.get("domain"),
            "domain",
        );
    }

    /// Verifies every credential of `vp` and, when `holder` is known, that each one
    /// is about the holder.
    async fn check_credentials(
        &self,
        vp: &Map<String, Value>,
        holder: Option<&str>,
        report: &mut PresentationReport,
    ) -> Result<(), Error> {
        let creds = credentials_of(vp)?;
        let mut unbound = Vec::new();
        for (i, c) in creds.iter().enumerate() {
            let r = match self.verify_value(c).await {
                Ok(r) => r,
                Err(Error::Malformed(m)) => {
                    return Err(Error::Malformed(format!("verifiableCredential[{i}]: {m}")));
                }
            };
            if let Some(h) = holder {
                let subject = r
                    .credential
                    .as_ref()
                    .and_then(Value::as_object)
                    .and_then(super::payload_subject)
                    .map(str::to_owned);
                if subject.as_deref() != Some(h) {
                    unbound.push(format!(
                        "verifiableCredential[{i}] is about {}, not the holder",
                        subject.as_deref().unwrap_or("no identified subject")
                    ));
                }
            }
            report.credentials.push(r);
        }
        if holder.is_some() && !creds.is_empty() {
            if unbound.is_empty() {
                report.pass(CheckName::HolderBinding);
            } else {
                report.fail(CheckName::HolderBinding, unbound.join("; "));
            }
        }
        Ok(())
    }
}

fn check_nonce_and_audience(
    payload: &Map<String, Value>,
    opts: &PresentationOptions,
    report: &mut PresentationReport,
) {
    if let Some(want) = &opts.challenge {
        match payload.get("nonce").and_then(Value::as_str) {
            Some(n) if n == want => report.pass(CheckName::Nonce),
            Some(_) => report.fail(
                CheckName::Nonce,
                "the presentation's nonce is not the challenge",
            ),
            None => report.fail(CheckName::Nonce, "the presentation has no nonce"),
        }
    }
    if let Some(want) = &opts.domain {
        let ok = match payload.get("aud") {
            Some(Value::String(a)) => a == want,
            Some(Value::Array(a)) => a.iter().any(|x| x == want.as_str()),
            _ => false,
        };
        if ok {
            report.pass(CheckName::Audience);
        } else {
            report.fail(
                CheckName::Audience,
                "the presentation is not addressed to this audience",
            );
        }
    }
}
