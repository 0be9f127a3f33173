//! The `status` check: Bitstring Status List v1.0 §3.2 "Validate Algorithm", for every
//! `credentialStatus` entry of a credential.
//!
//! - Entries are BitstringStatusListEntry objects (§2.1), or one of two older methods
//!   other issuers still use:
//!   - `StatusList2021Entry` (W3C CCG Status List 2021, the VCDM 1.1 predecessor):
//!     the same entry members and bit order; its list is a `StatusList2021Credential`
//!     whose `StatusList2021` subject carries an `encodedList` in base64url (or base64)
//!     without the multibase prefix; a JWT list may be a VCDM 1.1 JWT (`vc` claim).
//!   - `1EdTechRevocationList` (OB 3.0 §9.1 step 4, the 1EdTech Revocation List
//!     Status Method): the entry's `id` is the list's URL; the list is JSON with
//!     `revokedCredentials`, objects with `id`, optional `revoked` (false: not
//!     revoked) and `revocationReason`. The credential is revoked when its own `id` is
//!     listed. The list carries no proof: its URL is authenticated by the credential's
//!     signature, and nothing is fetched for a credential whose signature failed.
//!
//!   Another status method, a purpose other than `revocation`/`suspension` that could
//!   invalidate the credential, or a `statusSize` other than 1 is `indeterminate`,
//!   never `pass`. `refresh` and `message` entries do not bear on validity and are
//!   skipped.
//! - Our own lists are read locally, straight from the live bits. Other lists are
//!   fetched through the verifier's [`super::Remote`] (the hardened client), verified
//!   and decoded once, and cached for their `ttl` (§2.2) up to the positive TTL; a list
//!   that cannot be had is `indeterminate` (§3.5 STATUS_RETRIEVAL_ERROR).
//! - A fetched list must be a compact JWS typed `vc+jwt` (a badge, typed `JWT`, is never
//!   accepted as a list), signed by a key of the *badge's* issuer (stricter than §3.2,
//!   which leaves issuer validation to the use case: a list from someone else could
//!   revoke or clear badges it has no say over), whose `type` includes
//!   BitstringStatusListCredential, whose `statusPurpose` includes the entry's (§3.2
//!   step 5), whose `id`, when present, is the URL it came from, and which is within its
//!   validity period.
//! - The expanded list must hold at least 131,072 entries (§3.2 step 9,
//!   STATUS_LIST_LENGTH_ERROR) and the index must fall inside it (§3.2 step 10,
//!   RANGE_ERROR): a truncated list or an out-of-range index fails, and is never read
//!   as "not revoked".
//! - For badges of this service, the award's own state is consulted too, so a
//!   suspension is enforced even when the badge carries only a revocation entry.

use serde_json::{Map, Value};

use std::sync::Arc;
use std::time::Duration;

use super::remote::{Failure, RemoteList, RevocationShape};
use super::{CheckName, KeyLookup, LEEWAY_SECONDS, Report, VC_JOSE_POLICY, Verifier, fmt_unix};
use crate::clock::parse_datetime;
use crate::jose::claims;
use crate::jose::jws::CompactJws;
use crate::net::Kind;
use crate::status::{Bitstring, LIST_SIZE, MAX_COMPRESSED, MAX_EXPANDED, StatusSlot};

/// What one entry said.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// The bit is clear.
    Clear,
    /// The bit is set: the credential is revoked or suspended.
    Set(&'static str),
    Fail(String),
    Indeterminate(String),
    /// The entry does not bear on validity.
    Skip,
}

fn purpose_name(p: &str) -> Option<&'static str> {
    match p {
        "revocation" => Some("revocation"),
        "suspension" => Some("suspension"),
        _ => None,
    }
}

fn state_word(purpose: &str) -> &'static str {
    if purpose == "revocation" {
        "revoked"
    } else {
        "suspended"
    }
}

use super::has_type;

/// The most status entries checked for one credential.
pub const MAX_ENTRIES: usize = 8;

/// The bitstring list methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListMethod {
    /// Bitstring Status List v1.0.
    Bitstring,
    /// W3C CCG Status List 2021.
    StatusList2021,
}

impl ListMethod {
    fn credential_type(self) -> &'static str {
        match self {
            ListMethod::Bitstring => "BitstringStatusListCredential",
            ListMethod::StatusList2021 => "StatusList2021Credential",
        }
    }

    fn subject_type(self) -> &'static str {
        match self {
            ListMethod::Bitstring => "BitstringStatusList",
            ListMethod::StatusList2021 => "StatusList2021",
        }
    }

    /// The cache key of a list at `url`.
    fn key(self, url: &str) -> String {
        match self {
            ListMethod::Bitstring => url.to_owned(),
            ListMethod::StatusList2021 => format!("sl2021 {url}"),
        }
    }
}

/// A Status List 2021 `encodedList` (base64url or base64, no multibase prefix) in the
/// Bitstring Status List form (`u` + base64url without padding). Every GZIP stream
/// begins `H4sI` in base64, so a prefixed value is recognised too.
fn multibase_list(encoded: &str) -> String {
    if encoded.starts_with("uH4sI") {
        return encoded.to_owned();
    }
    let mut out = String::with_capacity(encoded.len() + 1);
    out.push('u');
    out.extend(encoded.chars().filter(|c| *c != '=').map(|c| match c {
        '+' => '-',
        '/' => '_',
        c => c,
    }));
    out
}

impl Verifier {
    pub(super) async fn check_status(&self, credential: &Map<String, Value>, report: &mut Report) {
        let entries: Vec<&Value> = match credential.get("credentialStatus") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
        };
        let issuer = claims::issuer_id(credential);
        let own_record = match (
            &self.local,
            issuer,
            credential.get("id").and_then(Value::as_str),
        ) {
            (Some(local), Some(i), Some(id)) if self.is_own(i) => local.award_flags(id).await,
            _ => None,
        };
        if entries.is_empty() && own_record.is_none() {
            return;
        }
        if credential
            .get("credentialStatus")
            .is_some_and(|v| v.as_array().is_some_and(Vec::is_empty))
        {
            report.fail(CheckName::Status, "credentialStatus is an empty array");
            return;
        }
        if entries.len() > MAX_ENTRIES {
            report.indeterminate(
                CheckName::Status,
                format!(
                    "the credential has {} status entries; at most {MAX_ENTRIES} are checked",
                    entries.len()
                ),
            );
            return;
        }
        // URLs named by a credential whose signature did not verify are the sender's,
        // not the issuer's: they are not fetched.
        let may_fetch = report.outcome(CheckName::Signature) == Some(super::Outcome::Pass);
        let mut fails = Vec::new();
        let mut unknown = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            let label = if entries.len() > 1 {
                format!("credentialStatus[{i}]")
            } else {
                "credentialStatus".to_owned()
            };
            let id = credential.get("id").and_then(Value::as_str);
            match self.check_entry(e, issuer, id, may_fetch).await {
                Entry::Clear | Entry::Skip => {}
                Entry::Set(p) => fails.push(state_word(p).to_owned()),
                Entry::Fail(m) => fails.push(format!("{label}: {m}")),
                Entry::Indeterminate(m) => unknown.push(format!("{label}: {m}")),
            }
        }
        if let Some(rec) = own_record {
            // The award's own state: a suspension counts even when the badge carries
            // only a revocation entry.
            for (flag, purpose) in [(rec.revoked, "revocation"), (rec.suspended, "suspension")] {
                let word = state_word(purpose).to_owned();
                if flag && !fails.contains(&word) {
                    fails.push(word);
                }
            }
        }
        if !fails.is_empty() {
            fails.extend(unknown);
            report.fail(CheckName::Status, fails.join("; "));
        } else if !unknown.is_empty() {
            report.indeterminate(CheckName::Status, unknown.join("; "));
        } else {
            report.pass(CheckName::Status);
        }
    }

    async fn check_entry(
        &self,
        e: &Value,
        badge_issuer: Option<&str>,
        credential_id: Option<&str>,
        may_fetch: bool,
    ) -> Entry {
        let Some(e) = e.as_object() else {
            return Entry::Fail("a status entry must be an object".into());
        };
        let ty = e.get("type").and_then(Value::as_str).unwrap_or("(none)");
        let method = match ty {
            "BitstringStatusListEntry" => ListMethod::Bitstring,
            "StatusList2021Entry" => ListMethod::StatusList2021,
            "1EdTechRevocationList" => {
                return self
                    .check_revocation_list(e, credential_id, may_fetch)
                    .await;
            }
            _ => {
                return Entry::Indeterminate(format!("the status method {ty:?} is not supported"));
            }
        };
        let Some(purpose) = e.get("statusPurpose").and_then(Value::as_str) else {
            return Entry::Fail("statusPurpose must be a string".into());
        };
        let Some(purpose) = purpose_name(purpose) else {
            return match purpose {
                "refresh" | "message" => Entry::Skip,
                other => Entry::Indeterminate(format!("unknown status purpose {other:?}")),
            };
        };
        let index = match e.get("statusListIndex") {
            Some(Value::String(s))
                if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse::<u64>().unwrap_or(u64::MAX)
            }
            _ => {
                return Entry::Fail(
                    "statusListIndex must be a non-negative integer written as a base-10 string"
                        .into(),
                );
            }
        };
        match e.get("statusSize") {
            None => {}
            Some(v) if v.as_u64() == Some(1) => {}
            Some(v) => {
                return Entry::Indeterminate(format!(
                    "statusSize {v} is not supported for {purpose} (only 1)"
                ));
            }
        }
        let Some(url) = e.get("statusListCredential").and_then(Value::as_str) else {
            return Entry::Fail("statusListCredential must be a URL".into());
        };
        if crate::net::validate_http_url(url).is_err() {
            return Entry::Fail(format!(
                "statusListCredential {url:?} is not an http(s) URL"
            ));
        }
        let Some(badge_issuer) = badge_issuer else {
            return Entry::Fail("the credential names no issuer".into());
        };

        // Our own lists, read locally.
        if method == ListMethod::Bitstring
            && let Some(local) = &self.local
            && let Some((list_purpose, list)) = local.list_of(url)
        {
            if list_purpose.as_str() != purpose {
                return Entry::Fail(format!(
                    "the entry's purpose is {purpose}, but {url} is a {list_purpose} list"
                ));
            }
            if !self.is_own(badge_issuer) {
                let own = self
                    .own
                    .as_ref()
                    .map(|o| o.did().to_string())
                    .unwrap_or_default();
                return Entry::Fail(format!(
                    "the status list belongs to {own}, not to the credential's issuer {badge_issuer}"
                ));
            }
            if index >= u64::from(LIST_SIZE) {
                return Entry::Fail(format!(
                    "statusListIndex {index} is outside the list ({LIST_SIZE} entries)"
                ));
            }
            let slot = StatusSlot {
                list,
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            return match local.bit(list_purpose, slot) {
                None => Entry::Fail(format!("there is no status list {url}")),
                Some(true) => Entry::Set(purpose),
                Some(false) => Entry::Clear,
            };
        }

        if !may_fetch {
            return Entry::Indeterminate(format!(
                "{url} was not fetched: the credential's signature did not verify"
            ));
        }
        let list = match self.remote_list(url, method).await {
            Ok(l) => l,
            Err(f) if f.definite => return Entry::Fail(f.message),
            Err(f) => return Entry::Indeterminate(f.message),
        };
        self.judge(&list, purpose, index, badge_issuer)
    }

    /// A `1EdTechRevocationList` entry: the credential is revoked when the list at the
    /// entry's `id` names the credential's `id` (and does not say `revoked: false`).
    async fn check_revocation_list(
        &self,
        e: &Map<String, Value>,
        credential_id: Option<&str>,
        may_fetch: bool,
    ) -> Entry {
        let Some(url) = e.get("id").and_then(Value::as_str) else {
            return Entry::Fail("a 1EdTechRevocationList entry's id must be the list's URL".into());
        };
        if crate::net::validate_http_url(url).is_err() {
            return Entry::Fail(format!("the revocation list {url:?} is not an http(s) URL"));
        }
        let Some(credential_id) = credential_id else {
            return Entry::Fail(
                "the credential has no id, so no revocation list can name it".into(),
            );
        };
        if !may_fetch {
            return Entry::Indeterminate(format!(
                "{url} was not fetched: the credential's signature did not verify"
            ));
        }
        match self
            .remote
            .revoked_ids(url, RevocationShape::OneEdTech)
            .await
        {
            Ok(list) => match list.ids.get(credential_id) {
                None => Entry::Clear,
                Some(Some(reason)) => Entry::Fail(format!("revoked: {reason}")),
                Some(None) => Entry::Set("revocation"),
            },
            Err(f) if f.definite => Entry::Fail(f.message),
            Err(f) => Entry::Indeterminate(f.message),
        }
    }

    /// A fetched, verified and decoded list, from the cache when it is fresh.
    async fn remote_list(&self, url: &str, method: ListMethod) -> Result<Arc<RemoteList>, Failure> {
        let remote = self.remote.clone();
        let ttls = remote.ttls;
        remote
            .lists
            .get(&method.key(url), || async {
                let body = match remote
                    .fetch_or_failure(url, Kind::StatusList, "the status list")
                    .await
                {
                    Ok(b) => b,
                    Err((f, ttl)) => return (Err(f), ttl),
                };
                let Ok(text) = std::str::from_utf8(&body) else {
                    return (
                        Err(Failure::fail("the status list is not UTF-8 text")),
                        ttls.negative,
                    );
                };
                match self.load_list(text, url, method).await {
                    Ok((list, ttl)) => {
                        let keep = ttl.map_or(ttls.positive, |t| t.min(ttls.positive));
                        (Ok(Arc::new(list)), keep)
                    }
                    // The list's key lookup may have failed for want of budget.
                    Err(f) => (Err(f), super::remote::derived_failure_ttl(ttls)),
                }
            })
            .await
    }

    /// §3.2 steps 4–9 on a fetched list credential: its form, signature, type, id and
    /// length. Returns the list and its `ttl`.
    async fn load_list(
        &self,
        body: &str,
        url: &str,
        method: ListMethod,
    ) -> Result<(RemoteList, Option<Duration>), Failure> {
        let body = body.trim();
        let (payload, issuer) = if body.starts_with('{') {
            self.list_with_proof(body).await?
        } else {
            let jws = CompactJws::parse(body)
                .map_err(|e| Failure::fail(format!("the status list is not a compact JWS: {e}")))?;
            // A Status List 2021 list may be a VCDM 1.1 JWT (`typ` JWT or absent, the
            // credential in the `vc` claim); its type keeps a badge from passing as one.
            let policy = match method {
                ListMethod::Bitstring => &VC_JOSE_POLICY,
                ListMethod::StatusList2021
                    if jws.header().get("typ").and_then(Value::as_str) == Some("vc+jwt") =>
                {
                    &VC_JOSE_POLICY
                }
                ListMethod::StatusList2021 => &super::BADGE_POLICY,
            };
            jws.check_header(policy)
                .map_err(|e| Failure::fail(format!("the status list's header: {e}")))?;
            let mut payload = jws
                .payload_json()
                .map_err(|e| Failure::fail(format!("the status list's payload: {e}")))?;
            if method == ListMethod::StatusList2021
                && let Some(Value::Object(vc)) = payload.get("vc")
            {
                let mut inner = vc.clone();
                if !inner.contains_key("issuer")
                    && let Some(iss) = payload.get("iss")
                {
                    inner.insert("issuer".into(), iss.clone());
                }
                if !inner.contains_key("id")
                    && let Some(jti) = payload.get("jti")
                {
                    inner.insert("id".into(), jti.clone());
                }
                payload = inner;
            }
            let issuer = claims::issuer_id(&payload).unwrap_or_default().to_owned();
            match self
                .resolve_key(&issuer, &jws, None, super::Relationship::AssertionMethod)
                .await
            {
                KeyLookup::Found(key, _) => jws
                    .verify(&key)
                    .map_err(|e| Failure::fail(format!("the status list's signature: {e}")))?,
                KeyLookup::Fail(m) => {
                    return Err(Failure::fail(format!("the status list's signature: {m}")));
                }
                KeyLookup::Indeterminate(m) => {
                    return Err(Failure::unknown(format!(
                        "the status list's signature: {m}"
                    )));
                }
            }
            (payload, issuer)
        };
        if !has_type(payload.get("type"), method.credential_type()) {
            return Err(Failure::fail(format!(
                "the status list is not a {}",
                method.credential_type()
            )));
        }
        if let Some(id) = payload.get("id")
            && id.as_str() != Some(url)
        {
            return Err(Failure::fail(format!(
                "the status list's id {id} is not the URL it came from"
            )));
        }
        let when = |k: &str| {
            payload
                .get(k)
                .and_then(Value::as_str)
                .and_then(parse_datetime)
                .map(|t| t.unix_timestamp())
        };
        let (from, until) = match method {
            ListMethod::Bitstring => ("validFrom", "validUntil"),
            ListMethod::StatusList2021 if payload.contains_key("validFrom") => {
                ("validFrom", "validUntil")
            }
            ListMethod::StatusList2021 => ("issuanceDate", "expirationDate"),
        };
        let Some(subject) = payload.get("credentialSubject").and_then(Value::as_object) else {
            return Err(Failure::fail("the status list has no credentialSubject"));
        };
        if !has_type(subject.get("type"), method.subject_type()) {
            return Err(Failure::fail(format!(
                "the status list's subject is not a {}",
                method.subject_type()
            )));
        }
        let purposes: Vec<String> = match subject.get("statusPurpose") {
            Some(Value::String(p)) => vec![p.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let Some(encoded) = subject.get("encodedList").and_then(Value::as_str) else {
            return Err(Failure::fail("the status list has no encodedList"));
        };
        let encoded = match method {
            ListMethod::Bitstring => encoded.to_owned(),
            ListMethod::StatusList2021 => multibase_list(encoded),
        };
        let bits = Bitstring::decode(&encoded, MAX_COMPRESSED, MAX_EXPANDED)
            .map_err(|e| Failure::fail(format!("the status list: {e}")))?;
        if bits.len() < LIST_SIZE as usize {
            return Err(Failure::fail(format!(
                "the status list has {} entries, fewer than the {LIST_SIZE} a list must have",
                bits.len()
            )));
        }
        // §2.2: `ttl` in milliseconds, a hint for when to fetch again.
        let ttl = subject
            .get("ttl")
            .and_then(Value::as_u64)
            .map(|ms| Duration::from_millis(ms.max(1_000)));
        let list = RemoteList {
            issuer,
            purposes,
            bits,
            valid_from: when(from),
            valid_until: when(until),
        };
        Ok((list, ttl))
    }

    /// A list credential in JSON secured with an embedded Data Integrity proof (Bitstring
    /// Status List v1.0 §3.2 step 4, "validate the status list credential"), made by a
    /// key of its issuer for `assertionMethod`: the credential and its issuer.
    async fn list_with_proof(&self, body: &str) -> Result<(Map<String, Value>, String), Failure> {
        use crate::integrity::{self, ProofError};
        let doc: Map<String, Value> = serde_json::from_str(body)
            .map_err(|e| Failure::fail(format!("the status list is not a JSON object: {e}")))?;
        let issuer = claims::issuer_id(&doc).unwrap_or_default().to_owned();
        let signed = Box::pin(async {
            let proof = integrity::proof_of(&doc)?;
            integrity::suite_of(proof)?;
            if proof.get("proofPurpose").and_then(Value::as_str) != Some("assertionMethod") {
                return Err(ProofError::Invalid(
                    "its proof's purpose is not assertionMethod".into(),
                ));
            }
            let method = proof
                .get("verificationMethod")
                .and_then(Value::as_str)
                .ok_or_else(|| ProofError::Invalid("its proof names no method".into()))?;
            let key = match self.resolve_method(&issuer, method).await {
                KeyLookup::Found(k, _) => k,
                KeyLookup::Fail(m) => return Err(ProofError::Invalid(m)),
                KeyLookup::Indeterminate(m) => return Err(ProofError::Unsupported(m)),
            };
            integrity::verify(&doc, method, &issuer, &key).await
        })
        .await;
        match signed {
            Ok(()) => {
                let mut payload = doc;
                payload.remove("proof");
                Ok((payload, issuer))
            }
            Err(ProofError::Invalid(m)) => {
                Err(Failure::fail(format!("the status list's proof: {m}")))
            }
            Err(ProofError::Unsupported(m)) => {
                Err(Failure::unknown(format!("the status list's proof: {m}")))
            }
        }
    }

    /// §3.2 steps 5 and 10 for one entry against a loaded list.
    fn judge(
        &self,
        list: &RemoteList,
        purpose: &'static str,
        index: u64,
        badge_issuer: &str,
    ) -> Entry {
        if list.issuer != badge_issuer {
            return Entry::Fail(format!(
                "the status list was issued by {:?}, not by the credential's issuer {badge_issuer}",
                list.issuer
            ));
        }
        let now = self.clock.now().unix_timestamp();
        if let Some(t) = list.valid_until
            && now - LEEWAY_SECONDS > t
        {
            return Entry::Indeterminate(format!("the status list expired at {}", fmt_unix(t)));
        }
        if let Some(t) = list.valid_from
            && now + LEEWAY_SECONDS < t
        {
            return Entry::Indeterminate(format!(
                "the status list is not valid before {}",
                fmt_unix(t)
            ));
        }
        if !list.purposes.iter().any(|p| p == purpose) {
            return Entry::Fail(format!("the status list is not a {purpose} list"));
        }
        match usize::try_from(index).ok().and_then(|i| list.bits.get(i)) {
            None => Entry::Fail(format!(
                "statusListIndex {index} is outside the list ({} entries)",
                list.bits.len()
            )),
            Some(true) => Entry::Set(purpose),
            Some(false) => Entry::Clear,
        }
    }
}
