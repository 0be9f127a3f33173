//! W3C VC-API (w3c-ccg/vc-api, the issuer and verifier services):
//!
//! - `POST /credentials/issue` (an authorized call, role issuer or owner):
//!   `{"credential": {...}, "options": {...}}` → `201 {"verifiableCredential": ...}`.
//!   Any VC Data Model 2.0 credential whose issuer is this service (filled in when
//!   absent), signed as given with its unknown members kept
//!   ([`crate::issue::general`]): an `EnvelopedVerifiableCredential` holding a
//!   `vc+jwt` by default, or the credential with a Data Integrity proof when
//!   `options.proof` (or `options.cryptosuite`) is `eddsa-rdfc-2022` or
//!   `ecdsa-rdfc-2019`. `options.credentialStatus` (`{"type":
//!   "BitstringStatusListEntry", "statusPurpose": "revocation" | "suspension"}`, or a
//!   list) chooses the status entries; `options.credentialId` sets the id. A
//!   credential that breaks the data model → `400` naming the rule; an id issued
//!   before → `409`.
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
use crate::issue::general::{IssueOptions, Securing};
use crate::partner::PartnerKey;
use crate::status::StatusPurpose;
use crate::verify::{CheckName, Outcome, PresentationOptions, Report};

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
    let opts = options(
        &body,
        &[
            "proof",
            "cryptosuite",
            "credentialStatus",
            "credentialId",
            "mandatoryPointers",
        ],
    )?;
    let Some(mut cred) = body.get("credential").and_then(Value::as_object).cloned() else {
        return Err(ApiError::bad_request(
            "\"credential\" must be a JSON object",
        ));
    };
    let opt = |k: &str| opts.and_then(|o| o.get(k));
    if opt("mandatoryPointers").is_some() {
        return Err(unprocessable(
            "options.mandatoryPointers applies to selective-disclosure suites (ecdsa-sd-2023, bbs-2023), which this issuer does not use",
        ));
    }
    let securing = match (opt("proof"), opt("cryptosuite")) {
        (None, None) => Securing::Jose,
        (Some(Value::String(s)), None) | (None, Some(Value::String(s))) => {
            Securing::parse(s).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "options.proof {s:?} is not one this issuer makes: \"vc+jwt\" (the default), \"eddsa-rdfc-2022\" or \"ecdsa-rdfc-2019\""
                ))
            })?
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give options.proof or options.cryptosuite, not both",
            ));
        }
        _ => return Err(ApiError::bad_request("options.proof must be a string")),
    };
    match opt("credentialId") {
        None => {}
        Some(Value::String(id)) => {
            if cred.get("id").is_some_and(|given| given != id.as_str()) {
                return Err(ApiError::bad_request(
                    "options.credentialId differs from the credential's id",
                ));
            }
            cred.insert("id".into(), Value::String(id.clone()));
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "options.credentialId must be a URL string",
            ));
        }
    }
    let status = match opt("credentialStatus") {
        None => None,
        Some(v) => Some(status_purposes(v)?),
    };
    let issued = state
        .issuer
        .issue_credential(cred, &IssueOptions { securing, status })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"verifiableCredential": issued.verifiable_credential()?})),
    )
        .into_response())
}

/// The purposes `options.credentialStatus` asks for: one `{"type":
/// "BitstringStatusListEntry", "statusPurpose"?}` object or a list of them; an entry
/// without a purpose asks for revocation.
fn status_purposes(v: &Value) -> Result<Vec<StatusPurpose>, ApiError> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for item in items {
        let Some(o) = item.as_object() else {
            return Err(ApiError::bad_request(
                "options.credentialStatus must be an object (or a list of objects) with a type",
            ));
        };
        match o.get("type").and_then(Value::as_str) {
            Some("BitstringStatusListEntry") => {}
            Some(t) => {
                return Err(ApiError::bad_request(format!(
                    "options.credentialStatus type {t:?} is not one this issuer publishes (BitstringStatusListEntry)"
                )));
            }
            None => {
                return Err(ApiError::bad_request(
                    "options.credentialStatus needs \"type\": \"BitstringStatusListEntry\"",
                ));
            }
        }
        match o.get("statusPurpose") {
            None => {
                for p in [StatusPurpose::Revocation] {
                    if !out.contains(&p) {
                        out.push(p);
                    }
                }
            }
            Some(Value::String(p)) => {
                let p: StatusPurpose = p.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "options.credentialStatus statusPurpose {p:?}: this issuer publishes revocation and suspension lists"
                    ))
                })?;
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "options.credentialStatus statusPurpose must be a string",
                ));
            }
        }
    }
    out.sort();
    Ok(out)
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
    let (errors, mut warnings, passed) = problems(&report.checks);
    warnings.extend(report.warnings.iter().map(|w| {
        json!({"type": "urn:accolade:problem:holder-not-proven", "title": "holder not proven", "detail": w})
    }));
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
