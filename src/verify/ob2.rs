//! Open Badges 2.0 assertions, the badges employers still receive most (IMS Open Badges
//! v2.0, "Verification"; Baking Specification 1.0 for images). The report names the
//! standard `ob2-hosted` or `ob2-signed` and carries these checks:
//!
//! - `hosted` (HostedBadge verification): the assertion was retrieved from its own
//!   `id`, and that id lies within the issuer's verification policy — the Profile's
//!   `verification` (`startsWith`, `allowedOrigins`) or, by default, the origin (host
//!   and port) of the issuer's `id`, which the badge class must share too. What is
//!   judged is always the copy fetched from the id: an assertion sent as JSON is only
//!   the address of its hosted copy. A host answering `410 Gone` revokes it.
//! - `signature` (SignedBadge verification): the compact JWS (header `alg`, optionally
//!   `typ` and `kid`) verifies under a `CryptographicKey` the issuer Profile lists in
//!   `publicKey` and whose `owner` is the Profile; `verification.creator`, when given,
//!   must be one of those keys. PEM keys of RSA (RS256, 2048 bits or more), P-256 and
//!   Ed25519 are read.
//! - `badge_class`: the badge class and the issuer the assertion names are hosted where
//!   they say (each document's `id` is the URL it came from, and has the right type),
//!   the badge class names that issuer, and an embedded badge class or issuer agrees
//!   with the copy at its id (name, description, criteria, image, issuer): a badge
//!   class edited after a signed assertion embedded it fails.
//! - `schema`: the members OB 2.0 requires of an Assertion (`id`, `type`, `recipient`,
//!   `badge`, `verification`, `issuedOn`), a BadgeClass (`name`, `description`,
//!   `image`, `criteria`, `issuer`) and an issuer Profile (`name`, `url`, `email`).
//! - `expiry`: `issuedOn` is not in the future and `expires` has not passed.
//! - `status`: a hosted assertion's `revoked`; a signed one's presence in the issuer's
//!   `revocationList` (`revokedAssertions`: ids, or objects with `id` or `uid` and a
//!   `revocationReason`).
//! - `recipient`, when the caller gives an e-mail address: the `recipient`
//!   IdentityObject (`type` `email`; `hashed` with `sha256$`/`md5$` over the address
//!   followed by the `salt`, or the address in clear).
//! - `issuer_trust`: the issuer Profile's id, through the registry as for any badge.
//!
//! Every document is fetched through the outbound client within the verification's
//! budget; nothing is fetched for a signed assertion whose JWS does not even parse.

use serde_json::{Map, Value};

use super::remote::{Failure, RevocationShape};
use super::{
    CheckName, Error, LEEWAY_SECONDS, Options, Outcome, Report, Verifier, fmt_unix, short,
};
use crate::clock::parse_datetime;
use crate::jose::PublicJwk;
use crate::jose::jws::{CompactJws, HeaderPolicy};
use crate::net::{FetchError, Kind};

/// The OB 2.0 JSON-LD context.
pub const OB2_CONTEXT: &str = "https://w3id.org/openbadges/v2";

/// The header of a signed OB 2.0 assertion: `alg` (RS256 is the spec's recommendation),
/// optionally `typ` and `kid`.
const OB2_POLICY: HeaderPolicy = HeaderPolicy {
    allowed: &["typ", "kid"],
    typ: &[None, Some("JWT"), Some("JWS")],
    typ_label: "\"JWT\" or absent (an Open Badges 2.0 signed assertion)",
};

/// The most keys of an issuer Profile tried.
const MAX_KEYS: usize = 4;

/// Whether `o` is an OB 2.0 document: it names the OB 2.0 context, or has the shape of
/// an Assertion (recipient, badge, verification) and no `credentialSubject`.
pub fn is_ob2(o: &Map<String, Value>) -> bool {
    let names_context = match o.get("@context") {
        Some(Value::String(c)) => is_ob2_context(c),
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).any(is_ob2_context),
        _ => false,
    };
    names_context
        || (!o.contains_key("credentialSubject")
            && o.contains_key("recipient")
            && o.contains_key("badge")
            && (o.contains_key("verification") || o.contains_key("verify")))
}

fn is_ob2_context(c: &str) -> bool {
    let c = c.trim_end_matches('/');
    c == OB2_CONTEXT
        || c == "https://w3id.org/openbadges/v2/context.json"
        || c == "https://openbadgespec.org/v2/context.json"
}

/// Whether `v` names any of `names` (OB 2.0 spells some types two ways).
fn has_type(v: Option<&Value>, names: &[&str]) -> bool {
    names.iter().any(|n| super::has_type(v, n))
}

/// The `id` of a member that is an IRI or an embedded object with an `id`.
fn id_of(v: Option<&Value>) -> Option<&str> {
    match v? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// The verification type, spelled either way: `hosted`/`HostedBadge` or
/// `signed`/`SignedBadge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Hosted,
    Signed,
}

fn method_of(a: &Map<String, Value>) -> Option<Method> {
    let v = a.get("verification").or_else(|| a.get("verify"))?;
    let t = v.get("type")?;
    if has_type(Some(t), &["hosted", "HostedBadge"]) {
        Some(Method::Hosted)
    } else if has_type(Some(t), &["signed", "SignedBadge"]) {
        Some(Method::Signed)
    } else {
        None
    }
}

/// `scheme://host[:port]` of an http(s) URL (the port only when it is not the
/// scheme's default, as URL origins are written).
fn origin(u: &str) -> Option<(String, String)> {
    let url = url::Url::parse(u).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    Some(match url.port() {
        Some(p) => (format!("{host}:{p}"), host),
        None => (host.clone(), host),
    })
}

/// OB 2.0 "Revoking Hosted Assertions": the host of the assertion at `url` answers
/// 410 Gone.
pub(super) fn gone(url: &str) -> Report {
    let mut o = Map::new();
    o.insert("id".into(), Value::String(url.to_owned()));
    let mut j = Judged::new("ob2-hosted", &o);
    j.report.pass(CheckName::Hosted);
    j.report
        .fail(CheckName::Status, "revoked: the host answers 410 Gone");
    j.report.finish()
}

/// What one verification of an OB 2.0 assertion collects.
struct Judged {
    report: Report,
    /// `schema` problems.
    schema: Vec<String>,
    /// `badge_class` problems, and whether any was only a retrieval failure.
    links: Vec<String>,
    links_unknown: Vec<String>,
}

impl Judged {
    fn new(standard: &'static str, assertion: &Map<String, Value>) -> Self {
        let mut report = Report::new();
        report.standard = Some(standard);
        report.credential = Some(Value::Object(assertion.clone()));
        Self {
            report,
            schema: Vec::new(),
            links: Vec::new(),
            links_unknown: Vec::new(),
        }
    }

    fn link_failure(&mut self, f: Failure) {
        if f.definite {
            self.links.push(f.message);
        } else {
            self.links_unknown.push(f.message);
        }
    }
}

impl Verifier {
    /// An OB 2.0 assertion as an image or a caller carries it: a compact JWS (signed),
    /// the assertion's JSON, or its URL (hosted).
    pub(super) async fn run_ob2_text(&self, text: &str, opts: &Options) -> Result<Report, Error> {
        let text = text.trim();
        if text.starts_with("https://") || text.starts_with("http://") {
            return self.run_ob2_hosted(text, opts).await;
        }
        if text.starts_with('{') {
            let v: Value = serde_json::from_str(text).map_err(|e| {
                Error::Malformed(format!("the Open Badges 2.0 assertion is not JSON: {e}"))
            })?;
            let Value::Object(o) = v else {
                return Err(Error::Malformed(
                    "the Open Badges 2.0 assertion is not a JSON object".into(),
                ));
            };
            return self.run_ob2_json(&o, opts).await;
        }
        let jws = CompactJws::parse(text).map_err(|e| {
            Error::Malformed(format!(
                "the image carries an Open Badges 2.0 assertion that is neither a URL, JSON nor a compact JWS: {e}"
            ))
        })?;
        let payload = jws
            .payload_json()
            .map_err(|e| Error::Malformed(format!("the signed assertion's payload: {e}")))?;
        self.run_ob2_signed(&jws, payload, opts).await
    }

    /// An OB 2.0 assertion sent as JSON: a hosted one is judged by the copy at its id;
    /// a signed one can only be judged from its JWS.
    pub(super) async fn run_ob2_json(
        &self,
        o: &Map<String, Value>,
        opts: &Options,
    ) -> Result<Report, Error> {
        match method_of(o) {
            Some(Method::Hosted) => {
                let Some(id) = o.get("id").and_then(Value::as_str) else {
                    return Err(Error::Malformed(
                        "the Open Badges 2.0 assertion has no id to retrieve it from".into(),
                    ));
                };
                if origin(id).is_none() {
                    return Err(Error::Malformed(format!(
                        "a hosted Open Badges 2.0 assertion's id must be an https URL, not {}",
                        short(id)
                    )));
                }
                self.run_ob2_hosted(id, opts).await
            }
            Some(Method::Signed) => Err(Error::Malformed(
                "a signed Open Badges 2.0 assertion is verified from its JWS (the baked text or the JWS string), not from its JSON"
                    .into(),
            )),
            None => Err(Error::Malformed(
                "the Open Badges 2.0 assertion's verification type is neither hosted nor signed"
                    .into(),
            )),
        }
    }

    /// HostedBadge verification of the assertion at `url`.
    pub(super) async fn run_ob2_hosted(&self, url: &str, opts: &Options) -> Result<Report, Error> {
        let body = match self.remote.fetch(url, Kind::Badge).await {
            Ok(b) => b,
            Err(FetchError::Status(410)) => return Ok(gone(url)),
            Err(e) => {
                return Err(Error::Malformed(format!(
                    "the badge at {} could not be fetched: {e}",
                    short(url)
                )));
            }
        };
        let assertion: Map<String, Value> = crate::jose::json::from_slice_strict(&body)
            .ok()
            .and_then(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .ok_or_else(|| {
                Error::Malformed(format!(
                    "{} did not answer with an Open Badges 2.0 assertion",
                    short(url)
                ))
            })?;
        self.judge_hosted(url, assertion, opts).await
    }

    /// The hosted checks on an assertion retrieved from `url`.
    pub(super) async fn judge_hosted(
        &self,
        url: &str,
        assertion: Map<String, Value>,
        opts: &Options,
    ) -> Result<Report, Error> {
        let mut j = Judged::new("ob2-hosted", &assertion);
        let id = assertion.get("id").and_then(Value::as_str).unwrap_or("");
        let mut hosted = Vec::new();
        if id != url {
            hosted.push(format!(
                "the assertion at {} says its id is {}: it is not hosted where it says",
                short(url),
                short(id)
            ));
        }
        if method_of(&assertion) != Some(Method::Hosted) {
            hosted.push("its verification type is not hosted (HostedBadge)".to_owned());
        }
        self.assertion_schema(&assertion, &mut j);
        let (badge, issuer) = self.linked(&assertion, &mut j).await;
        // The verification policy: the issuer's, or its id's origin by default.
        if let Some(issuer) = &issuer {
            let issuer_id = issuer.get("id").and_then(Value::as_str).unwrap_or("");
            let policy = issuer.get("verification").and_then(Value::as_object);
            let starts: Vec<&str> = match policy.and_then(|p| p.get("startsWith")) {
                Some(Value::String(s)) => vec![s.as_str()],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let allowed: Vec<String> = match policy.and_then(|p| p.get("allowedOrigins")) {
                Some(Value::String(s)) => vec![s.to_ascii_lowercase()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect(),
                _ => origin(issuer_id).map(|(o, _)| vec![o]).unwrap_or_default(),
            };
            if !starts.is_empty() && !starts.iter().any(|p| id.starts_with(p)) {
                hosted.push(format!(
                    "the assertion id {} does not start with what the issuer allows",
                    short(id)
                ));
            }
            let in_scope = |u: &str| {
                origin(u).is_some_and(|(with_port, host)| {
                    allowed.iter().any(|a| *a == with_port || *a == host)
                })
            };
            if !in_scope(id) {
                hosted.push(format!(
                    "the assertion {} is not hosted on an origin the issuer {} allows",
                    short(id),
                    short(issuer_id)
                ));
            }
            if policy.is_none()
                && let Some(b) = &badge
                && let Some(bid) = b.get("id").and_then(Value::as_str)
                && !in_scope(bid)
            {
                hosted.push(format!(
                    "the badge class {} is not hosted on the issuer's origin",
                    short(bid)
                ));
            }
        }
        if hosted.is_empty() {
            j.report.pass(CheckName::Hosted);
        } else {
            j.report.fail(CheckName::Hosted, hosted.join("; "));
        }
        self.assertion_expiry(&assertion, &mut j.report);
        // Status: the hosted copy's own `revoked`.
        match assertion.get("revoked") {
            Some(Value::Bool(true)) => {
                let why = assertion
                    .get("revocationReason")
                    .and_then(Value::as_str)
                    .map_or_else(|| "revoked".to_owned(), |r| format!("revoked: {r}"));
                j.report.fail(CheckName::Status, why);
            }
            _ => j.report.pass(CheckName::Status),
        }
        Ok(self.conclude(j, &assertion, opts))
    }

    /// SignedBadge verification of a compact JWS whose payload is `assertion`.
    pub(super) async fn run_ob2_signed(
        &self,
        jws: &CompactJws,
        assertion: Map<String, Value>,
        opts: &Options,
    ) -> Result<Report, Error> {
        let mut j = Judged::new("ob2-signed", &assertion);
        if method_of(&assertion) != Some(Method::Signed) {
            j.schema
                .push("its verification type is not signed (SignedBadge)".to_owned());
        }
        self.assertion_schema(&assertion, &mut j);
        let header_ok = jws.check_header(&OB2_POLICY);
        let (_, issuer) = self.linked(&assertion, &mut j).await;
        // The signature, under a key the issuer Profile lists.
        match (&header_ok, &issuer) {
            (Err(e), _) => j.report.fail(CheckName::Signature, format!("header: {e}")),
            (Ok(_), None) => j.report.indeterminate(
                CheckName::Signature,
                "the issuer Profile, which lists the keys, could not be had",
            ),
            (Ok(_), Some(issuer)) => {
                let (outcome, message) = self.ob2_signature(jws, &assertion, issuer).await;
                j.report.push(CheckName::Signature, outcome, message);
            }
        }
        self.assertion_expiry(&assertion, &mut j.report);
        // Status: the issuer's revocation list.
        let signed = j.report.outcome(CheckName::Signature) == Some(Outcome::Pass);
        let id = assertion.get("id").and_then(Value::as_str);
        let list = issuer
            .as_ref()
            .and_then(|i| id_of(i.get("revocationList")))
            .map(str::to_owned);
        match (list, id) {
            (_, None) => j.report.fail(CheckName::Status, "the assertion has no id"),
            (None, Some(_)) => j.report.pass(CheckName::Status),
            (Some(_), Some(_)) if !signed => j.report.indeterminate(
                CheckName::Status,
                "the revocation list was not consulted: the signature did not verify",
            ),
            (Some(url), Some(id)) => {
                match self.remote.revoked_ids(&url, RevocationShape::Ob2).await {
                    Ok(list) => match list.ids.get(id) {
                        None => j.report.pass(CheckName::Status),
                        Some(Some(r)) => j.report.fail(CheckName::Status, format!("revoked: {r}")),
                        Some(None) => j.report.fail(CheckName::Status, "revoked"),
                    },
                    Err(f) if f.definite => j.report.fail(CheckName::Status, f.message),
                    Err(f) => j.report.indeterminate(CheckName::Status, f.message),
                }
            }
        }
        Ok(self.conclude(j, &assertion, opts))
    }

    /// Tries the keys the issuer lists; `creator`, when given, must be one of them.
    async fn ob2_signature(
        &self,
        jws: &CompactJws,
        assertion: &Map<String, Value>,
        issuer: &Map<String, Value>,
    ) -> (Outcome, Option<String>) {
        let issuer_id = issuer.get("id").and_then(Value::as_str).unwrap_or("");
        let listed: Vec<String> = match issuer.get("publicKey") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|k| id_of(Some(k)))
                .map(str::to_owned)
                .collect(),
            Some(v) => id_of(Some(v)).map(str::to_owned).into_iter().collect(),
            None => Vec::new(),
        };
        if listed.is_empty() {
            return (
                Outcome::Fail,
                Some("the issuer Profile lists no publicKey".into()),
            );
        }
        let creator = assertion
            .get("verification")
            .or_else(|| assertion.get("verify"))
            .and_then(|v| v.get("creator"))
            .and_then(|c| id_of(Some(c)));
        let candidates: Vec<&String> = match creator {
            Some(c) if listed.iter().any(|k| k == c) => listed.iter().filter(|k| *k == c).collect(),
            Some(c) => {
                return (
                    Outcome::Fail,
                    Some(format!(
                        "signed by the key {}, which the issuer Profile does not list",
                        short(c)
                    )),
                );
            }
            None => listed.iter().take(MAX_KEYS).collect(),
        };
        let mut unknown = None;
        let mut last = None;
        for url in candidates {
            let key = match self.remote.ob2_document(url, Kind::Jwk, "the key").await {
                Ok(k) => k,
                Err(f) => {
                    if f.definite {
                        last = Some(f.message);
                    } else {
                        unknown = Some(f.message);
                    }
                    continue;
                }
            };
            if key.get("id").and_then(Value::as_str) != Some(url.as_str()) {
                last = Some(format!("the key at {} names another id", short(url)));
                continue;
            }
            if id_of(key.get("owner")) != Some(issuer_id) {
                last = Some(format!(
                    "the key {} is not owned by the issuer {}",
                    short(url),
                    short(issuer_id)
                ));
                continue;
            }
            let Some(pem) = key.get("publicKeyPem").and_then(Value::as_str) else {
                last = Some(format!("the key {} has no publicKeyPem", short(url)));
                continue;
            };
            let jwk = match PublicJwk::from_spki_pem(pem.as_bytes()) {
                Ok(k) => k,
                Err(e) => {
                    last = Some(format!("the key {}: {e}", short(url)));
                    continue;
                }
            };
            match jws.verify(&jwk) {
                Ok(()) => return (Outcome::Pass, None),
                Err(e) => last = Some(format!("the signature does not verify: {e}")),
            }
        }
        match (last, unknown) {
            (Some(m), _) => (Outcome::Fail, Some(m)),
            (None, Some(m)) => (Outcome::Indeterminate, Some(m)),
            (None, None) => (Outcome::Fail, Some("no key to verify with".into())),
        }
    }

    /// The badge class and issuer the assertion names, fetched and checked
    /// (`badge_class`, and the `schema` of each).
    async fn linked(
        &self,
        assertion: &Map<String, Value>,
        j: &mut Judged,
    ) -> (Option<Map<String, Value>>, Option<Map<String, Value>>) {
        let badge = match self
            .hosted_copy(
                assertion.get("badge"),
                &["BadgeClass"],
                "the badge class",
                j,
            )
            .await
        {
            Some(b) => b,
            None => return (None, None),
        };
        for m in ["name", "description", "image", "criteria", "issuer"] {
            if !badge.contains_key(m) {
                j.schema.push(format!("the badge class has no {m}"));
            }
        }
        let issuer = self
            .hosted_copy(badge.get("issuer"), &["Issuer", "Profile"], "the issuer", j)
            .await;
        if let Some(i) = &issuer {
            for m in ["name", "url", "email"] {
                if !i.contains_key(m) {
                    j.schema.push(format!("the issuer Profile has no {m}"));
                }
            }
            j.report.issuer = i.get("id").and_then(Value::as_str).map(str::to_owned);
        }
        (Some(badge), issuer)
    }

    /// The document a member names (an IRI, or an embedded object with an `id`), as
    /// served at that id; an embedded copy must agree with it.
    async fn hosted_copy(
        &self,
        member: Option<&Value>,
        types: &[&str],
        what: &str,
        j: &mut Judged,
    ) -> Option<Map<String, Value>> {
        let Some(url) = id_of(member) else {
            j.links.push(format!("{what} is not named by an id"));
            return None;
        };
        if origin(url).is_none() {
            j.links
                .push(format!("{what}'s id {} is not an http(s) URL", short(url)));
            return None;
        }
        let served = match self.remote.ob2_document(url, Kind::Badge, what).await {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                j.links
                    .push(format!("{what} at {} is not a JSON object", short(url)));
                return None;
            }
            Err(f) => {
                j.link_failure(f);
                return None;
            }
        };
        if served.get("id").and_then(Value::as_str) != Some(url) {
            j.links.push(format!(
                "{what} at {} says its id is something else: it is not hosted where it says",
                short(url)
            ));
            return None;
        }
        if !has_type(served.get("type"), types) {
            j.links
                .push(format!("{what} at {} is not a {}", short(url), types[0]));
            return None;
        }
        if let Some(Value::Object(embedded)) = member {
            let differs: Vec<&str> = [
                "name",
                "description",
                "criteria",
                "image",
                "issuer",
                "url",
                "email",
            ]
            .into_iter()
            .filter(|m| {
                let a = embedded.get(*m);
                let b = served.get(*m);
                // Linked documents may be embedded or named on either side.
                match (a, b) {
                    (None, _) => false,
                    (Some(x), Some(y)) => {
                        x != y && id_of(Some(x)).is_none_or(|i| Some(i) != id_of(Some(y)))
                    }
                    (Some(_), None) => true,
                }
            })
            .collect();
            if !differs.is_empty() {
                j.links.push(format!(
                    "{what} embedded in the assertion disagrees with the one at {} ({}): it was changed after issue",
                    short(url),
                    differs.join(", ")
                ));
            }
        }
        Some(served)
    }

    fn assertion_schema(&self, a: &Map<String, Value>, j: &mut Judged) {
        for m in ["id", "recipient", "badge", "issuedOn"] {
            if !a.contains_key(m) {
                j.schema.push(format!("the assertion has no {m}"));
            }
        }
        if !a.contains_key("verification") && !a.contains_key("verify") {
            j.schema.push("the assertion has no verification".into());
        }
        if !has_type(a.get("type"), &["Assertion"]) {
            j.schema
                .push("the assertion's type is not Assertion".into());
        }
        match a.get("recipient") {
            Some(Value::Object(r)) => {
                if r.get("identity").and_then(Value::as_str).is_none() {
                    j.schema.push("the recipient has no identity".into());
                }
                if r.get("type").and_then(Value::as_str).is_none() {
                    j.schema.push("the recipient has no type".into());
                }
            }
            Some(_) => j
                .schema
                .push("the recipient is not an IdentityObject".into()),
            None => {}
        }
    }

    fn assertion_expiry(&self, a: &Map<String, Value>, report: &mut Report) {
        let now = self.clock.now().unix_timestamp();
        let when = |k: &str| -> Result<Option<i64>, String> {
            match a.get(k) {
                None => Ok(None),
                Some(Value::String(s)) => parse_datetime(s)
                    .map(|t| Some(t.unix_timestamp()))
                    .ok_or_else(|| format!("{k} {s:?} is not an ISO 8601 date-time with a zone")),
                Some(_) => Err(format!("{k} must be a date-time string")),
            }
        };
        match (when("issuedOn"), when("expires")) {
            (Err(m), _) | (_, Err(m)) => report.fail(CheckName::Expiry, m),
            (Ok(Some(from)), _) if now + LEEWAY_SECONDS < from => report.fail(
                CheckName::Expiry,
                format!("issued on {}, in the future", fmt_unix(from)),
            ),
            (_, Ok(Some(until))) if now - LEEWAY_SECONDS > until => {
                report.fail(CheckName::Expiry, format!("expired on {}", fmt_unix(until)));
            }
            _ => report.pass(CheckName::Expiry),
        }
    }

    /// `badge_class`, `schema`, recipient and trust; then the verdict.
    fn conclude(&self, mut j: Judged, assertion: &Map<String, Value>, opts: &Options) -> Report {
        if !j.links.is_empty() {
            let all: Vec<&str> = j
                .links
                .iter()
                .chain(&j.links_unknown)
                .map(String::as_str)
                .collect();
            j.report.fail(CheckName::BadgeClass, all.join("; "));
        } else if !j.links_unknown.is_empty() {
            j.report
                .indeterminate(CheckName::BadgeClass, j.links_unknown.join("; "));
        } else {
            j.report.pass(CheckName::BadgeClass);
        }
        if j.schema.is_empty() {
            j.report.pass(CheckName::Schema);
        } else {
            j.report.fail(CheckName::Schema, j.schema.join("; "));
        }
        self.check_issuer_trust(&mut j.report);
        if let Some(email) = &opts.recipient_email {
            match recipient_matches(assertion, email) {
                super::recipient::Match::Yes => j.report.pass(CheckName::Recipient),
                super::recipient::Match::No(m) => j.report.fail(CheckName::Recipient, m),
                super::recipient::Match::Unknown(m) => {
                    j.report.indeterminate(CheckName::Recipient, m);
                }
            }
        }
        j.report.finish()
    }
}

/// The OB 2.0 `recipient` against an e-mail address (tried as given and lower-cased,
/// as for OB 3.0).
fn recipient_matches(a: &Map<String, Value>, email: &str) -> super::recipient::Match {
    use super::recipient::Match;
    let Some(r) = a.get("recipient").and_then(Value::as_object) else {
        return Match::No("the assertion names no recipient".into());
    };
    if r.get("type").and_then(Value::as_str) != Some("email") {
        return Match::Unknown("the recipient is not identified by an e-mail address".into());
    }
    let Some(identity) = r.get("identity").and_then(Value::as_str) else {
        return Match::No("the recipient has no identity".into());
    };
    let hashed = r.get("hashed").and_then(Value::as_bool).unwrap_or(false);
    let salt = r.get("salt").and_then(Value::as_str).unwrap_or_default();
    match super::recipient::identity_names(identity, hashed, salt, email) {
        Ok(true) => Match::Yes,
        Ok(false) => Match::No("the badge was issued to another address".into()),
        Err(m) => Match::Unknown(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ob2_documents_are_recognised_by_context_or_shape() {
        let by_context = json!({"@context": "https://w3id.org/openbadges/v2", "type": "Assertion"});
        assert!(is_ob2(by_context.as_object().expect("o")));
        let by_shape = json!({"recipient": {}, "badge": "https://x.example/b", "verify": {}});
        assert!(is_ob2(by_shape.as_object().expect("o")));
        let ob3 = json!({"@context": ["https://www.w3.org/ns/credentials/v2"], "credentialSubject": {},
                         "recipient": {}, "badge": "x", "verification": {}});
        assert!(!is_ob2(ob3.as_object().expect("o")));
    }

    #[test]
    fn origins_carry_the_port_only_when_it_is_not_the_default() {
        assert_eq!(
            origin("https://Example.org/a").map(|o| o.0),
            Some("example.org".to_owned())
        );
        assert_eq!(
            origin("http://127.0.0.1:8080/a").map(|o| o.0),
            Some("127.0.0.1:8080".to_owned())
        );
        assert_eq!(origin("urn:uuid:1"), None);
    }

    #[test]
    fn the_recipient_hash_covers_the_address_then_the_salt() {
        // sha256("a@example.orgdeadsea")
        let hash = {
            use sha2::Digest;
            hex::encode(sha2::Sha256::digest(b"a@example.orgdeadsea"))
        };
        let a = json!({"recipient": {"type": "email", "hashed": true, "salt": "deadsea",
                                     "identity": format!("sha256${}", hash.to_uppercase())}});
        let a = a.as_object().expect("o");
        assert_eq!(
            recipient_matches(a, "A@Example.org"),
            super::super::recipient::Match::Yes
        );
        assert!(matches!(
            recipient_matches(a, "b@example.org"),
            super::super::recipient::Match::No(_)
        ));
        let plain =
            json!({"recipient": {"type": "email", "hashed": false, "identity": "a@example.org"}});
        assert_eq!(
            recipient_matches(plain.as_object().expect("o"), "a@example.org"),
            super::super::recipient::Match::Yes
        );
    }
}
