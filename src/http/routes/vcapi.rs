//! W3C VC-API (w3c-ccg/vc-api, the issuer and verifier services):
//!
//! - `POST /credentials/issue` (admin token): `{"credential": {...}, "options": {...}}`
//!   → `201 {"verifiableCredential": {EnvelopedVerifiableCredential}}` whose `id` is
//!   `data:application/vc+jwt,<jwt>`. The credential is an OpenBadgeCredential for one
//!   of this issuer's achievements: it becomes a direct award (recorded, with its
//!   status entries, revocable like any other), and the badge is built from the
//!   achievement as the issuer defines it. Members the award cannot carry are refused
//!   (422) rather than dropped.
//! - `POST /credentials/verify`: `{"verifiableCredential": ..., "options": {...}}` →
//!   `200` when the credential verifies, `400` with the same body when it does not
//!   (the VC-API answers a credential that does not verify with a 4xx), `400` for input that
//!   cannot be examined.
//! - `POST /presentations/verify`: `{"verifiablePresentation": ..., "options":
//!   {"challenge", "domain", "holderBinding"}}` or `{"presentation": ...}` (unsigned)
//!   → `200` when it verifies, `400` with the same body when it does not (as for
//!   credentials), `400` for input that cannot be examined. The holder need not be the
//!   subject of each credential unless `options.holderBinding` is `true`.
//!
//! Verification answers carry the VC-API result members — `verified`, `problemDetails`
//! (RFC 9457 objects with `type`, `title`, `detail`), and the earlier `checks`,
//! `warnings`, `errors` — beside this service's own per-check report (`report`).
//! `returnResults` and `returnProblemDetails` are accepted; results and problem
//! details are always returned. `returnCredential` adds the decoded credential. Unknown
//! options are an error (VC-API "Handling Unknown Options and Data").

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::routes::verify::count_verifications;
use crate::issue::{AwardRequest, Delivery, RecipientInput};
use crate::partner::PartnerKey;
use crate::verify::{CheckName, Outcome, PresentationOptions, Report};

const VCDM2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
const VCDM: &str = "https://www.w3.org/TR/vc-data-model#";
const BSL: &str = "https://www.w3.org/TR/vc-bitstring-status-list/#";
const UNKNOWN_OPTION: &str = "https://www.w3.org/TR/vc-api#UNKNOWN_OPTION_PROVIDED";

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// The `options` object, refusing members outside `known`.
fn options<'a>(
    body: &'a Map<String, Value>,
    known: &[&str],
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    let Some(o) = body.get("options") else {
        return Ok(None);
    };
    let Some(o) = o.as_object() else {
        return Err(ApiError::bad_request("\"options\" must be an object"));
    };
    if let Some(k) = o.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_option",
            format!(
                "unknown option {k:?} ({UNKNOWN_OPTION}); known: {}",
                known.join(", ")
            ),
        ));
    }
    Ok(Some(o))
}

fn flag(opts: Option<&Map<String, Value>>, name: &str) -> Result<bool, ApiError> {
    match opts.and_then(|o| o.get(name)) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::bad_request(format!(
            "options.{name} must be true or false"
        ))),
    }
}

fn unprocessable(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_credential",
        message,
    )
}

/// `POST /credentials/issue`.
pub async fn issue(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "credential" | "options"))
    {
        return Err(ApiError::bad_request(format!(
            "unknown member {k:?}; send {{\"credential\": {{...}}, \"options\": {{...}}}}"
        )));
    }
    let opts = options(&body, &["credentialId", "mandatoryPointers"])?;
    if let Some(o) = opts {
        if o.contains_key("credentialId") {
            return Err(unprocessable(
                "options.credentialId is not supported: this issuer assigns urn:uuid ids",
            ));
        }
        if o.contains_key("mandatoryPointers") {
            return Err(unprocessable(
                "options.mandatoryPointers applies to selective-disclosure proofs; badges here are JWTs",
            ));
        }
    }
    let Some(cred) = body.get("credential").and_then(Value::as_object) else {
        return Err(ApiError::bad_request(
            "\"credential\" must be a JSON object",
        ));
    };
    let req = award_for(&state, cred).await?;
    let out = state.issuer.award(req).await?;
    let jwt = out
        .credential
        .ok_or_else(|| ApiError::internal(&"a direct award returned no credential"))?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "verifiableCredential": {
                "@context": VCDM2_CONTEXT,
                "id": format!("data:application/vc+jwt,{jwt}"),
                "type": "EnvelopedVerifiableCredential",
            }
        })),
    )
        .into_response())
}

fn extra_members<'a>(m: &'a Map<String, Value>, known: &[&str]) -> Vec<&'a str> {
    m.keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect()
}

/// Maps a VC-API credential onto a direct award, refusing what it cannot carry.
async fn award_for(state: &AppState, cred: &Map<String, Value>) -> Result<AwardRequest, ApiError> {
    const TOP: [&str; 7] = [
        "@context",
        "type",
        "issuer",
        "credentialSubject",
        "validFrom",
        "validUntil",
        "evidence",
    ];
    const SUBJECT: [&str; 4] = ["id", "type", "achievement", "result"];
    if cred.contains_key("id") {
        return Err(unprocessable(
            "the credential has an id; this issuer assigns one (urn:uuid)",
        ));
    }
    let extra = extra_members(cred, &TOP);
    if !extra.is_empty() {
        return Err(unprocessable(format!(
            "members this issuer does not carry: {} (the badge's name, description and image come from the achievement)",
            extra.join(", ")
        )));
    }
    // The badge's @context is the VCDM 2.0 context then the OB 3.0 one.
    let contexts: Vec<&str> = cred
        .get("@context")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ob = |c: &str| {
        c.starts_with("https://purl.imsglobal.org/spec/ob/v3p0/context") && c.ends_with(".json")
    };
    if !(contexts.len() == 2 && contexts[0] == VCDM2_CONTEXT && ob(contexts[1])) {
        return Err(unprocessable(format!(
            "@context must be [{VCDM2_CONTEXT}, the OB 3.0 context]; other contexts are not carried"
        )));
    }
    let types: Vec<&str> = match cred.get("type") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => vec![s.as_str()],
        _ => Vec::new(),
    };
    let known = |t: &&str| {
        matches!(
            *t,
            "VerifiableCredential" | "OpenBadgeCredential" | "AchievementCredential"
        )
    };
    if !types
        .iter()
        .any(|t| matches!(*t, "OpenBadgeCredential" | "AchievementCredential"))
        || !types.iter().all(known)
    {
        return Err(unprocessable(
            "type must be VerifiableCredential and OpenBadgeCredential (or AchievementCredential); other types are not carried",
        ));
    }
    let ours = state.issuer.did().as_str();
    let issuer = match cred.get("issuer") {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Object(o)) => {
            let extra = extra_members(o, &["id", "type"]);
            let profile = |t: &Value| t == "Profile" || *t == json!(["Profile"]);
            if o.get("type").is_some_and(|t| !profile(t)) {
                return Err(unprocessable("issuer.type must be Profile"));
            }
            if !extra.is_empty() {
                return Err(unprocessable(format!(
                    "issuer members this issuer does not carry: {} (the profile is set with PUT /api/v1/issuer)",
                    extra.join(", ")
                )));
            }
            o.get("id").and_then(Value::as_str)
        }
        Some(_) => Some(""),
    };
    if let Some(i) = issuer
        && i != ours
    {
        return Err(ApiError::bad_request(format!(
            "the issuer {i:?} does not match this service's DID {ours}"
        )));
    }
    let Some(subject) = cred.get("credentialSubject").and_then(Value::as_object) else {
        return Err(unprocessable("credentialSubject must be an object"));
    };
    let extra = extra_members(subject, &SUBJECT);
    if !extra.is_empty() {
        return Err(unprocessable(format!(
            "credentialSubject members this issuer does not carry: {}",
            extra.join(", ")
        )));
    }
    let Some(holder) = subject.get("id").and_then(Value::as_str) else {
        return Err(unprocessable(
            "credentialSubject.id (the earner's DID) is required; earners without a DID claim through an offer",
        ));
    };
    match subject.get("type") {
        None => {}
        Some(t) if t == "AchievementSubject" || *t == json!(["AchievementSubject"]) => {}
        Some(_) => {
            return Err(unprocessable(
                "credentialSubject.type must be AchievementSubject",
            ));
        }
    }
    let (achievement_id, given) = match subject.get("achievement") {
        Some(Value::String(s)) => (s.clone(), None),
        Some(Value::Object(a)) => (
            a.get("id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| unprocessable("credentialSubject.achievement.id is required"))?,
            Some(a),
        ),
        _ => {
            return Err(unprocessable(
                "credentialSubject.achievement must name one of this issuer's achievements",
            ));
        }
    };
    // The badge carries the achievement as defined here; anything given must agree.
    if let Some(given) = given {
        let stored = state
            .issuer
            .achievement(&achievement_id)
            .await
            .map_err(|_| {
                unprocessable(format!(
                    "{achievement_id:?} is not one of this issuer's achievements"
                ))
            })?;
        let stored =
            serde_json::to_value(&stored.achievement).map_err(|e| ApiError::internal(&e))?;
        let as_list = |v: &Value| match v {
            Value::String(_) => Value::Array(vec![v.clone()]),
            other => other.clone(),
        };
        let differing: Vec<&str> = given
            .iter()
            .filter(|(k, v)| match stored.get(k.as_str()) {
                Some(mine) if k.as_str() == "type" => as_list(mine) != as_list(v),
                Some(mine) => mine != *v,
                None => true,
            })
            .map(|(k, _)| k.as_str())
            .collect();
        if !differing.is_empty() {
            return Err(unprocessable(format!(
                "credentialSubject.achievement differs from the achievement as defined here in: {} (send just its id)",
                differing.join(", ")
            )));
        }
    }
    let string = |k: &str| -> Result<Option<String>, ApiError> {
        match cred.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(unprocessable(format!("{k} must be a date-time string"))),
        }
    };
    let list = |v: Option<&Value>, name: &str| -> Result<Option<Vec<Value>>, ApiError> {
        match v {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(o @ Value::Object(_)) => Ok(Some(vec![o.clone()])),
            Some(_) => Err(unprocessable(format!("{name} must be an array of objects"))),
        }
    };
    Ok(AwardRequest {
        achievement_id,
        recipient: RecipientInput {
            name: None,
            email: None,
            id: Some(holder.to_owned()),
        },
        valid_from: string("validFrom")?,
        valid_until: string("validUntil")?,
        tx_code: None,
        approval_required: None,
        delivery: Some(Delivery::Direct),
        credential_configuration_id: None,
        evidence: list(cred.get("evidence"), "evidence")?,
        result: list(subject.get("result"), "credentialSubject.result")?,
        narrative: None,
    })
}

/// RFC 9457 problem details for every check that did not pass.
fn problems(checks: &[crate::verify::Check]) -> (Vec<Value>, Vec<Value>, Vec<&'static str>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut passed = Vec::new();
    for c in checks {
        let name = c.check.as_str();
        let detail = c.message.clone().unwrap_or_default();
        let ty = match (c.check, c.outcome) {
            (_, Outcome::Pass) => {
                passed.push(name);
                continue;
            }
            (
                CheckName::Signature
                | CheckName::Nonce
                | CheckName::Audience
                | CheckName::HolderBinding,
                Outcome::Fail,
            ) => {
                format!("{VCDM}CRYPTOGRAPHIC_SECURITY_ERROR")
            }
            (CheckName::Claims | CheckName::Schema, Outcome::Fail) => {
                format!("{VCDM}MALFORMED_VALUE_ERROR")
            }
            (CheckName::Status, Outcome::Indeterminate) => format!("{BSL}STATUS_RETRIEVAL_ERROR"),
            (CheckName::Status, Outcome::Fail)
                if !matches!(
                    detail.as_str(),
                    "revoked" | "suspended" | "revoked; suspended"
                ) =>
            {
                format!("{BSL}STATUS_VERIFICATION_ERROR")
            }
            _ => "about:blank".to_owned(),
        };
        let p = json!({
            "type": ty,
            "title": format!("{name}: {}", if c.outcome == Outcome::Fail { "failed" } else { "could not be decided" }),
            "detail": detail,
        });
        // Trust is reported beside verification, never as its error: a blocked
        // issuer is a warning, an unknown one nothing at all.
        if c.check == CheckName::IssuerTrust {
            if c.outcome == Outcome::Fail {
                warnings.push(p);
            }
        } else if c.outcome == Outcome::Fail {
            errors.push(p);
        } else {
            warnings.push(p);
        }
    }
    (errors, warnings, passed)
}

fn credential_result(report: &Report, return_credential: bool) -> Value {
    let (errors, warnings, passed) = problems(&report.checks);
    let mut all = errors.clone();
    all.extend(warnings.iter().cloned());
    let mut v = json!({
        "verified": report.verified,
        "checks": passed,
        "errors": errors,
        "warnings": warnings,
        "problemDetails": all,
        "report": report,
    });
    if return_credential && let Some(o) = v.as_object_mut() {
        o.insert(
            "credential".into(),
            report.credential.clone().unwrap_or(Value::Null),
        );
    }
    v
}

/// `POST /credentials/verify`.
pub async fn verify_credential(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    if let Some(k) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "verifiableCredential" | "options"))
    {
        return Err(ApiError::bad_request(format!(
            "unknown member {k:?}; send {{\"verifiableCredential\": ..., \"options\": {{...}}}}"
        )));
    }
    let opts = options(
        &body,
        &[
            "returnResults",
            "returnProblemDetails",
            "returnCredential",
            "checks",
        ],
    )?;
    flag(opts, "returnResults")?;
    flag(opts, "returnProblemDetails")?;
    let return_credential = flag(opts, "returnCredential")?;
    let Some(vc) = body.get("verifiableCredential") else {
        return Err(ApiError::bad_request(
            "\"verifiableCredential\" is required",
        ));
    };
    let report = state.verifier.verify_value(vc).await?;
    count_verifications(key.as_ref(), 1);
    let status = if report.verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Json(credential_result(&report, return_credential))).into_response())
}

/// `POST /presentations/verify`.
pub async fn verify_presentation(
    State(state): State<AppState>,
    key: Option<Extension<PartnerKey>>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = parse_body(&body)?;
    if let Some(k) = body.keys().find(|k| {
        !matches!(
            k.as_str(),
            "verifiablePresentation" | "presentation" | "options"
        )
    }) {
        return Err(ApiError::bad_request(format!(
            "unknown member {k:?}; send {{\"verifiablePresentation\": ..., \"options\": {{...}}}}"
        )));
    }
    let opts = options(
        &body,
        &["challenge", "domain", "returnPresentation", "holderBinding"],
    )?;
    let text = |k: &str| -> Result<Option<String>, ApiError> {
        match opts.and_then(|o| o.get(k)) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::bad_request(format!(
                "options.{k} must be a string"
            ))),
        }
    };
    let return_presentation = flag(opts, "returnPresentation")?;
    let (vp, unsigned) = match (body.get("verifiablePresentation"), body.get("presentation")) {
        (Some(v), None) => (v, false),
        (None, Some(p)) => (p, true),
        _ => {
            return Err(ApiError::bad_request(
                "send exactly one of \"verifiablePresentation\" and \"presentation\"",
            ));
        }
    };
    let popts = PresentationOptions {
        challenge: text("challenge")?,
        domain: text("domain")?,
        unsigned,
        holder_binding: flag(opts, "holderBinding")?,
    };
    let mut report = state.verifier.verify_presentation(vp, &popts).await?;
    count_verifications(key.as_ref(), report.credentials.len());
    let (errors, warnings, passed) = problems(&report.checks);
    let credential_results: Vec<Value> = report
        .credentials
        .iter()
        .map(|r| credential_result(r, false))
        .collect();
    let mut all = errors.clone();
    all.extend(warnings.iter().cloned());
    for r in &credential_results {
        for key in ["errors", "warnings"] {
            if let Some(a) = r.get(key).and_then(Value::as_array) {
                all.extend(a.iter().cloned());
            }
        }
    }
    let presentation = report.presentation.take();
    let mut v = json!({
        "verified": report.verified,
        "checks": passed,
        "errors": errors,
        "warnings": warnings,
        "problemDetails": all,
        "presentationResult": {"verified": report.verified, "checks": report.checks, "holder": report.holder},
        "credentialResults": credential_results,
    });
    if return_presentation && let Some(o) = v.as_object_mut() {
        o.insert(
            "verifiablePresentation".into(),
            presentation.unwrap_or(Value::Null),
        );
    }
    // As for credentials: a presentation that does not verify is answered with a 4xx
    // carrying the same body.
    let status = if report.verified {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok((status, Json(v)).into_response())
}
