//! What a presentation request asks for, and whether an answer fits it.
//!
//! Two query languages:
//! - **DCQL** (OpenID4VP 1.0 §6,
//!   <https://openid.net/specs/openid-4-verifiable-presentations-1_0.html>): a
//!   `credentials` array of Credential Queries, each with an `id`, a `format`, `meta`
//!   and optional `claims`/`claim_sets`, and optional
//!   `credential_sets`. Badges travel as `jwt_vc_json` (Appendix B.1.3.1), whose `meta`
//!   is `type_values`: alternatives, each a set of types the credential must all carry
//!   (§B.1.3.1.1 speaks of fully expanded type IRIs; wallets that match on the
//!   credential's `type` array compare compact names, so the queries built here list
//!   both forms as alternatives, and the matcher accepts either).
//!   Claims paths (§7) are arrays of strings (object members), non-negative integers
//!   (array elements) and `null` (every element); they are applied to the credential
//!   (the JWT payload of an OB 3.0 badge; under `vc` for a VCDM 1.1 JWT).
//! - **DIF Presentation Exchange** 2.0 `presentation_definition`
//!   (<https://identity.foundation/presentation-exchange/spec/v2.0.0/>), for wallets
//!   that speak the drafts before DCQL. Each input descriptor's `constraints.fields`
//!   are evaluated on the badges presented: a field holds when one of its `path`s
//!   (JSONPath: `$`, `.name`, `['name']`, `[n]`, `[*]`, `.*`) selects a value that its
//!   `filter` (JSON Schema) accepts; every descriptor must be held by some badge and
//!   named in the submission. What cannot be evaluated is refused when the request
//!   is made (`submission_requirements`, `predicate`, `limit_disclosure: required`,
//!   other JSONPath forms), never ignored.
//!
//! DCQL queries are held to what can be checked too: unknown members, and
//! `trusted_authorities` (its authority types are not DIDs; the request's
//! `trusted_issuers` serve instead), are refused, as is
//! `require_cryptographic_holder_binding: false` (a presentation here is always
//! bound to its holder).
//!
//! Whatever the language, the request's constraints are checked on every badge
//! presented: a wallet's own matching is a convenience, never the verifier's answer.

use serde_json::{Map, Value, json};

/// The type IRIs' namespaces whose terms badges use in compact form.
const OB_VOCAB: &str = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#";
const VC_VOCAB: &str = "https://www.w3.org/2018/credentials#";

/// The credential format badges are presented in.
pub const FORMAT: &str = "jwt_vc_json";
/// The query id of the badge in queries built from constraints.
pub const QUERY_ID: &str = "badge";
/// The most Credential Queries or input descriptors a request may hold.
pub const MAX_QUERIES: usize = 16;
/// The most claims one Credential Query may constrain.
pub const MAX_CLAIMS: usize = 32;
/// The most values a constraint may list.
pub const MAX_VALUES: usize = 256;

pub use crate::records::presentation::{Constraints, Query};

/// The compact form of a type, for comparison: OB and VCDM vocabulary IRIs lose
/// their namespace, and `AchievementCredential` (an alias in the OB context) is
/// `OpenBadgeCredential`.
fn compact(t: &str) -> &str {
    let t = t
        .strip_prefix(OB_VOCAB)
        .or_else(|| t.strip_prefix(VC_VOCAB))
        .unwrap_or(t);
    if t == "AchievementCredential" {
        "OpenBadgeCredential"
    } else {
        t
    }
}

/// The fully expanded IRI of a compact type this service knows, if any.
fn expanded(t: &str) -> Option<String> {
    match compact(t) {
        "VerifiableCredential" => Some(format!("{VC_VOCAB}VerifiableCredential")),
        c @ ("OpenBadgeCredential" | "EndorsementCredential" | "ClrCredential") => {
            Some(format!("{OB_VOCAB}{c}"))
        }
        _ => None,
    }
}

fn types_of(cred: &Map<String, Value>) -> Vec<&str> {
    match cred.get("type") {
        Some(Value::String(s)) => vec![compact(s)],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(compact).collect(),
        _ => Vec::new(),
    }
}

/// The DCQL query for `c`: one `jwt_vc_json` badge, its types as alternatives in
/// expanded and compact form, and claims for the issuers and achievements asked for.
pub fn dcql_for(c: &Constraints) -> Value {
    let types: Vec<&str> = if c.credential_types.is_empty() {
        vec!["OpenBadgeCredential"]
    } else {
        c.credential_types.iter().map(String::as_str).collect()
    };
    let mut alternatives: Vec<Value> = Vec::new();
    for t in types {
        let mut forms = Vec::new();
        if let Some(iri) = expanded(t) {
            forms.push(iri);
        }
        forms.push(compact(t).to_owned());
        if compact(t) == "OpenBadgeCredential" {
            forms.push("AchievementCredential".to_owned());
        }
        for f in forms {
            let alt = json!([f]);
            if !alternatives.contains(&alt) {
                alternatives.push(alt);
            }
        }
    }
    let mut query = json!({
        "id": QUERY_ID,
        "format": FORMAT,
        "meta": {"type_values": alternatives},
    });
    let mut claims = Vec::new();
    if !c.trusted_issuers.is_empty() {
        claims.push(json!({"id": "issuer", "path": ["issuer", "id"], "values": c.trusted_issuers}));
    }
    if !c.achievement_ids.is_empty() {
        claims.push(json!({
            "id": "achievement",
            "path": ["credentialSubject", "achievement", "id"],
            "values": c.achievement_ids,
        }));
    }
    if !claims.is_empty() {
        query["claims"] = Value::Array(claims);
    }
    json!({"credentials": [query]})
}

/// The DIF Presentation Exchange definition for `c`, for wallets before DCQL.
pub fn definition_for(c: &Constraints, id: &str, algs: &[&str]) -> Value {
    let types: Vec<String> = if c.credential_types.is_empty() {
        vec!["OpenBadgeCredential".to_owned()]
    } else {
        c.credential_types
            .iter()
            .map(|t| compact(t).to_owned())
            .collect()
    };
    let mut fields = vec![json!({
        "path": ["$.type", "$.vc.type"],
        "filter": {"type": "array", "contains": {"type": "string", "enum": types}},
    })];
    if !c.trusted_issuers.is_empty() {
        fields.push(json!({
            "path": ["$.issuer.id", "$.issuer", "$.iss", "$.vc.issuer.id", "$.vc.issuer"],
            "filter": {"type": "string", "enum": c.trusted_issuers},
        }));
    }
    if !c.achievement_ids.is_empty() {
        fields.push(json!({
            "path": ["$.credentialSubject.achievement.id", "$.vc.credentialSubject.achievement.id"],
            "filter": {"type": "string", "enum": c.achievement_ids},
        }));
    }
    json!({
        "id": id,
        "input_descriptors": [{
            "id": QUERY_ID,
            "name": "Open Badge",
            "purpose": "The badge you are asked to share",
            "format": {"jwt_vc_json": {"alg": algs}, "jwt_vp_json": {"alg": algs}},
            "constraints": {"fields": fields},
        }],
    })
}

fn is_query_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn string_array<'a>(v: &'a Value, what: &str) -> Result<Vec<&'a str>, String> {
    let a = v
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| format!("{what} must be a non-empty array of strings"))?;
    a.iter()
        .map(|x| {
            x.as_str()
                .ok_or_else(|| format!("{what} must be a non-empty array of strings"))
        })
        .collect()
}

/// Checks a DCQL query's shape (OpenID4VP 1.0 §6.1–§6.4) and that every Credential
/// Query asks for a format badges come in.
pub fn validate_dcql(q: &Value) -> Result<(), String> {
    let o = q
        .as_object()
        .ok_or("dcql_query must be an object with a \"credentials\" array")?;
    if let Some(k) = o
        .keys()
        .find(|k| !matches!(k.as_str(), "credentials" | "credential_sets"))
    {
        return Err(format!("dcql_query has an unknown member {k:?}"));
    }
    let creds = o
        .get("credentials")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or("dcql_query.credentials must be a non-empty array")?;
    if creds.len() > MAX_QUERIES {
        return Err(format!(
            "dcql_query may hold at most {MAX_QUERIES} Credential Queries"
        ));
    }
    let mut ids = Vec::new();
    for (i, c) in creds.iter().enumerate() {
        let at = format!("dcql_query.credentials[{i}]");
        let c = c.as_object().ok_or(format!("{at} must be an object"))?;
        only(
            c,
            &at,
            &[
                "id",
                "format",
                "multiple",
                "meta",
                "trusted_authorities",
                "require_cryptographic_holder_binding",
                "claims",
                "claim_sets",
            ],
        )?;
        if c.contains_key("trusted_authorities") {
            return Err(format!(
                "{at}.trusted_authorities is not supported; list issuers in \"trusted_issuers\" instead"
            ));
        }
        match c.get("require_cryptographic_holder_binding") {
            None | Some(Value::Bool(true)) => {}
            Some(_) => {
                return Err(format!(
                    "{at}.require_cryptographic_holder_binding must be true: badges are presented bound to their holder"
                ));
            }
        }
        let id = c
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| is_query_id(s))
            .ok_or(format!(
                "{at}.id must be a string of letters, digits, '_' and '-'"
            ))?;
        if ids.contains(&id) {
            return Err(format!("{at}.id {id:?} is used twice"));
        }
        ids.push(id);
        match c.get("format").and_then(Value::as_str) {
            Some(FORMAT) => {}
            Some(f) => {
                return Err(format!(
                    "{at}.format {f:?} is not supported; badges are presented as \"{FORMAT}\""
                ));
            }
            None => return Err(format!("{at}.format is required")),
        }
        if let Some(m) = c.get("multiple")
            && !m.is_boolean()
        {
            return Err(format!("{at}.multiple must be a boolean"));
        }
        let meta = c
            .get("meta")
            .and_then(Value::as_object)
            .ok_or(format!("{at}.meta is required for {FORMAT}"))?;
        only(meta, &format!("{at}.meta"), &["type_values"])?;
        let tv = meta
            .get("type_values")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or(format!(
                "{at}.meta.type_values must be a non-empty array of string arrays"
            ))?;
        for alt in tv {
            string_array(alt, &format!("{at}.meta.type_values[]"))?;
        }
        let mut claim_ids = Vec::new();
        if let Some(claims) = c.get("claims") {
            let claims = claims
                .as_array()
                .filter(|a| !a.is_empty() && a.len() <= MAX_CLAIMS)
                .ok_or(format!(
                    "{at}.claims must be a non-empty array of at most {MAX_CLAIMS} claims"
                ))?;
            for (j, cl) in claims.iter().enumerate() {
                let cat = format!("{at}.claims[{j}]");
                let cl = cl.as_object().ok_or(format!("{cat} must be an object"))?;
                only(cl, &cat, &["id", "path", "values"])?;
                if let Some(cid) = cl.get("id") {
                    let cid = cid
                        .as_str()
                        .filter(|s| is_query_id(s))
                        .ok_or(format!("{cat}.id must be a query id"))?;
                    claim_ids.push(cid);
                }
                parse_path(cl.get("path")).map_err(|e| format!("{cat}.path {e}"))?;
                if let Some(vals) = cl.get("values") {
                    let vals = vals
                        .as_array()
                        .filter(|a| !a.is_empty() && a.len() <= MAX_VALUES)
                        .ok_or(format!("{cat}.values must be a non-empty array"))?;
                    if vals
                        .iter()
                        .any(|v| !(v.is_string() || v.is_number() || v.is_boolean()))
                    {
                        return Err(format!(
                            "{cat}.values may hold only strings, numbers and booleans"
                        ));
                    }
                }
            }
        }
        if let Some(sets) = c.get("claim_sets") {
            let sets = sets
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or(format!("{at}.claim_sets must be a non-empty array"))?;
            for s in sets {
                for cid in string_array(s, &format!("{at}.claim_sets[]"))? {
                    if !claim_ids.contains(&cid) {
                        return Err(format!(
                            "{at}.claim_sets names {cid:?}, which is no claim's id"
                        ));
                    }
                }
            }
        }
    }
    if let Some(sets) = o.get("credential_sets") {
        let sets = sets
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or("dcql_query.credential_sets must be a non-empty array")?;
        for (i, s) in sets.iter().enumerate() {
            if let Some(o) = s.as_object() {
                only(
                    o,
                    &format!("dcql_query.credential_sets[{i}]"),
                    &["options", "required", "purpose"],
                )?;
            }
            let options = s
                .get("options")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or(format!(
                    "dcql_query.credential_sets[{i}].options must be a non-empty array"
                ))?;
            for opt in options {
                for id in string_array(opt, &format!("dcql_query.credential_sets[{i}].options[]"))?
                {
                    if !ids.contains(&id) {
                        return Err(format!(
                            "dcql_query.credential_sets[{i}] names {id:?}, which is no Credential Query's id"
                        ));
                    }
                }
            }
            if let Some(r) = s.get("required")
                && !r.is_boolean()
            {
                return Err(format!(
                    "dcql_query.credential_sets[{i}].required must be a boolean"
                ));
            }
        }
    }
    Ok(())
}

/// Refuses members other than `allowed` (a query member this service does not
/// know could narrow what the employer asked for).
fn only(o: &Map<String, Value>, at: &str, allowed: &[&str]) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{at} has a member this service cannot evaluate: {k:?}"
        )),
        None => Ok(()),
    }
}

/// Checks a Presentation Exchange definition: its shape, and that every constraint
/// can be evaluated (JSONPath in the supported subset, filters valid JSON Schema).
pub fn validate_definition(pd: &Value) -> Result<(), String> {
    let o = pd
        .as_object()
        .ok_or("presentation_definition must be an object")?;
    only(
        o,
        "presentation_definition",
        &["id", "name", "purpose", "format", "input_descriptors"],
    )?;
    o.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or("presentation_definition.id must be a non-empty string")?;
    let ds = o
        .get("input_descriptors")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= MAX_QUERIES)
        .ok_or(format!(
            "presentation_definition.input_descriptors must hold 1 to {MAX_QUERIES} descriptors"
        ))?;
    let mut ids = Vec::new();
    for (i, d) in ds.iter().enumerate() {
        let id = d
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(format!(
                "presentation_definition.input_descriptors[{i}].id must be a non-empty string"
            ))?;
        if ids.contains(&id) {
            return Err(format!(
                "presentation_definition.input_descriptors[{i}].id {id:?} is used twice"
            ));
        }
        if id.contains(',') || id.len() > 128 {
            return Err(format!(
                "presentation_definition.input_descriptors[{i}].id must be at most 128 characters, without ','"
            ));
        }
        ids.push(id);
        let at = format!("presentation_definition.input_descriptors[{i}]");
        let d = d.as_object().ok_or(format!("{at} must be an object"))?;
        only(d, &at, &["id", "name", "purpose", "format", "constraints"])?;
        let Some(cons) = d.get("constraints") else {
            continue;
        };
        let cons = cons
            .as_object()
            .ok_or(format!("{at}.constraints must be an object"))?;
        only(
            cons,
            &format!("{at}.constraints"),
            &["fields", "limit_disclosure"],
        )?;
        match cons.get("limit_disclosure") {
            None => {}
            Some(Value::String(p)) if p == "preferred" => {}
            Some(_) => {
                return Err(format!(
                    "{at}.constraints.limit_disclosure can only be \"preferred\": JWT badges disclose every claim"
                ));
            }
        }
        let fields = match cons.get("fields") {
            None => continue,
            Some(Value::Array(f)) if f.len() <= MAX_CLAIMS => f,
            Some(_) => {
                return Err(format!(
                    "{at}.constraints.fields must be an array of at most {MAX_CLAIMS} fields"
                ));
            }
        };
        for (j, f) in fields.iter().enumerate() {
            let fat = format!("{at}.constraints.fields[{j}]");
            let f = f.as_object().ok_or(format!("{fat} must be an object"))?;
            only(
                f,
                &fat,
                &[
                    "id",
                    "name",
                    "purpose",
                    "path",
                    "filter",
                    "optional",
                    "intent_to_retain",
                ],
            )?;
            let paths = f
                .get("path")
                .map(|p| string_array(p, &format!("{fat}.path")))
                .transpose()?
                .ok_or(format!("{fat}.path is required"))?;
            for p in paths {
                parse_jsonpath(p).map_err(|e| format!("{fat}.path {p:?}: {e}"))?;
            }
            if let Some(filter) = f.get("filter") {
                compile_filter(filter).map_err(|e| format!("{fat}.filter {e}"))?;
            }
            if let Some(opt) = f.get("optional")
                && !opt.is_boolean()
            {
                return Err(format!("{fat}.optional must be a boolean"));
            }
        }
    }
    Ok(())
}

/// The supported JSONPath subset: `$` then `.name`, `['name']`, `["name"]`, `[n]`,
/// `[*]` or `.*`.
fn parse_jsonpath(p: &str) -> Result<Vec<Step>, String> {
    let rest = p.strip_prefix('$').ok_or("must start with $")?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'@';
    while i < b.len() {
        match b[i] {
            b'.' if b.get(i + 1) == Some(&b'*') => {
                steps.push(Step::Wildcard);
                i += 2;
            }
            b'.' => {
                let start = i + 1;
                i = start;
                while i < b.len() && name_byte(b[i]) {
                    i += 1;
                }
                if i == start {
                    return Err("an empty member name".into());
                }
                steps.push(Step::Key(rest[start..i].to_owned()));
            }
            b'[' => {
                let close = rest[i..].find(']').map(|c| i + c).ok_or("an unclosed [")?;
                let inner = &rest[i + 1..close];
                if inner == "*" {
                    steps.push(Step::Wildcard);
                } else if let Some(n) = inner
                    .strip_prefix('\'')
                    .and_then(|x| x.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')))
                {
                    if n.contains(['\'', '"', '\\']) {
                        return Err("quoted names may not hold quotes or backslashes".into());
                    }
                    steps.push(Step::Key(n.to_owned()));
                } else if !inner.is_empty() && inner.bytes().all(|c| c.is_ascii_digit()) {
                    steps.push(Step::Index(
                        inner.parse().map_err(|_| "an index too large")?,
                    ));
                } else {
                    return Err(format!(
                        "[{inner}] is not supported (names, indices and * are)"
                    ));
                }
                i = close + 1;
            }
            _ => return Err(format!("unexpected {:?}", char::from(b[i]))),
        }
    }
    if steps.is_empty() {
        return Err("selects the whole badge; name a member".into());
    }
    Ok(steps)
}

/// JSON Schema keywords a filter may use, and those whose values are schemas.
const FILTER_KEYWORDS: &[&str] = &[
    "type",
    "const",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "format",
    "contains",
    "minContains",
    "maxContains",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "not",
    "anyOf",
    "allOf",
    "oneOf",
    "properties",
    "required",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "title",
    "description",
    "$comment",
];
/// The largest filter, serialised.
pub const MAX_FILTER_BYTES: usize = 2048;
/// The most values one path may select in a badge.
const MAX_SELECTED: usize = 256;

fn check_filter_keywords(v: &Value, depth: usize) -> Result<(), String> {
    if depth > 8 {
        return Err("nests too deeply".into());
    }
    let Some(o) = v.as_object() else {
        return match v {
            Value::Bool(_) => Ok(()),
            _ => Err("is not a schema object".into()),
        };
    };
    for (k, val) in o {
        if !FILTER_KEYWORDS.contains(&k.as_str()) {
            return Err(format!(
                "uses {k:?}, which this service does not evaluate (no references, no extensions)"
            ));
        }
        match k.as_str() {
            "contains" | "items" | "not" | "additionalProperties" => {
                check_filter_keywords(val, depth + 1)?;
            }
            "anyOf" | "allOf" | "oneOf" => {
                for sub in val.as_array().ok_or(format!("{k} must be an array"))? {
                    check_filter_keywords(sub, depth + 1)?;
                }
            }
            "properties" => {
                for sub in val
                    .as_object()
                    .ok_or("properties must be an object")?
                    .values()
                {
                    check_filter_keywords(sub, depth + 1)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A Presentation Exchange filter as a validator: small, only the keywords above,
/// formats asserted, and patterns run by a linear-time regex engine (no
/// backtracking, so no pattern can take unbounded time).
fn compile_filter(filter: &Value) -> Result<jsonschema::Validator, String> {
    let size = serde_json::to_vec(filter).map_or(usize::MAX, |b| b.len());
    if size > MAX_FILTER_BYTES {
        return Err(format!(
            "is {size} bytes; at most {MAX_FILTER_BYTES} are accepted"
        ));
    }
    check_filter_keywords(filter, 0)?;
    jsonschema::options()
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .should_validate_formats(true)
        .build(filter)
        .map_err(|e| format!("is not a valid JSON Schema: {e}"))
}

/// One required field of an input descriptor, ready to evaluate.
struct Field {
    paths: Vec<(String, Vec<Step>)>,
    filter: Option<(Value, jsonschema::Validator)>,
}

/// An input descriptor's required fields, compiled once per answer.
pub struct Descriptor {
    fields: Vec<Field>,
}

impl Descriptor {
    /// Compiles a descriptor that [`validate_definition`] accepted.
    pub fn compile(d: &Value) -> Result<Self, String> {
        let mut fields = Vec::new();
        for f in d
            .pointer("/constraints/fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if f.get("optional").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let paths = f
                .get("path")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| parse_jsonpath(p).map(|steps| (p.to_owned(), steps)))
                .collect::<Result<Vec<_>, _>>()?;
            let filter = match f.get("filter") {
                Some(x) => Some((x.clone(), compile_filter(x)?)),
                None => None,
            };
            fields.push(Field { paths, filter });
        }
        Ok(Self { fields })
    }

    /// Whether a badge (its JWT payload) holds every required field.
    pub fn holds(&self, cred: &Map<String, Value>) -> Result<(), String> {
        for f in &self.fields {
            let held = f.paths.iter().any(|(_, steps)| {
                select_in(steps, cred)
                    .into_iter()
                    .take(MAX_SELECTED)
                    .any(|v| f.filter.as_ref().is_none_or(|(_, val)| val.is_valid(v)))
            });
            if !held {
                let shown: Vec<&str> = f.paths.iter().map(|(p, _)| p.as_str()).collect();
                return Err(format!(
                    "no value at {} fits the field{}",
                    shown.join(" | "),
                    f.filter
                        .as_ref()
                        .map(|(x, _)| format!(" filter {x}"))
                        .unwrap_or_default()
                ));
            }
        }
        Ok(())
    }
}

/// Whether a badge (its JWT payload) holds every required field of an input
/// descriptor.
pub fn fits_descriptor(d: &Value, cred: &Map<String, Value>) -> Result<(), String> {
    Descriptor::compile(d)?.holds(cred)
}

/// One element of a claims path pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
    /// DCQL `null`: every element of an array.
    All,
    /// JSONPath `*`: every element of an array or member of an object.
    Wildcard,
}

fn parse_path(p: Option<&Value>) -> Result<Vec<Step>, String> {
    let a = p
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= 16)
        .ok_or("must be a non-empty array of at most 16 elements")?;
    a.iter()
        .map(|s| match s {
            Value::String(k) => Ok(Step::Key(k.clone())),
            Value::Null => Ok(Step::All),
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Step::Index)
                .ok_or_else(|| "may hold only non-negative integers".to_owned()),
            _ => Err("may hold only strings, non-negative integers and null".to_owned()),
        })
        .collect()
}

/// OpenID4VP 1.0 §7.1: the values a claims path selects.
/// [`select`] from an object root.
fn select_in<'a>(path: &[Step], root: &'a Map<String, Value>) -> Vec<&'a Value> {
    let Some((first, rest)) = path.split_first() else {
        return Vec::new();
    };
    let start: Vec<&Value> = match first {
        Step::Key(k) => root.get(k).into_iter().collect(),
        Step::Wildcard => root.values().collect(),
        Step::Index(_) | Step::All => Vec::new(),
    };
    start.into_iter().flat_map(|v| select(rest, v)).collect()
}

fn select<'a>(path: &[Step], v: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![v];
    for step in path {
        let mut next = Vec::new();
        for c in current {
            match (step, c) {
                (Step::Key(k), Value::Object(o)) => next.extend(o.get(k)),
                (Step::Index(i), Value::Array(a)) => next.extend(a.get(*i)),
                (Step::All | Step::Wildcard, Value::Array(a)) => next.extend(a.iter()),
                (Step::Wildcard, Value::Object(o)) => next.extend(o.values()),
                _ => {}
            }
        }
        current = next;
    }
    current
}

fn scalar_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The object claims paths apply to: the payload, or its `vc` claim (VCDM 1.1).
fn claims_root(cred: &Map<String, Value>) -> &Map<String, Value> {
    if !cred.contains_key("credentialSubject")
        && let Some(Value::Object(vc)) = cred.get("vc")
    {
        return vc;
    }
    cred
}

/// Whether a presented credential fits one DCQL Credential Query (§6.3): its types
/// satisfy one `type_values` alternative and its claims one claim set.
pub fn fits_credential_query(cq: &Value, cred: &Map<String, Value>) -> Result<(), String> {
    let root = claims_root(cred);
    let have = types_of(root);
    let alternatives = cq
        .pointer("/meta/type_values")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let type_ok = alternatives.is_empty()
        || alternatives.iter().any(|alt| {
            alt.as_array().is_some_and(|ts| {
                ts.iter()
                    .filter_map(Value::as_str)
                    .all(|t| have.contains(&compact(t)))
            })
        });
    if !type_ok {
        return Err(format!(
            "its types [{}] satisfy none of the requested type_values",
            have.join(", ")
        ));
    }
    let Some(claims) = cq.get("claims").and_then(Value::as_array) else {
        return Ok(());
    };
    let root = Value::Object(root.clone());
    let mut failed: Vec<(Option<&str>, String)> = Vec::new();
    for cl in claims {
        let path = parse_path(cl.get("path")).unwrap_or_default();
        let selected = select(&path, &root);
        let shown = cl.get("path").map(Value::to_string).unwrap_or_default();
        let problem = if selected.is_empty() {
            Some(format!("it has no claim at {shown}"))
        } else if let Some(vals) = cl.get("values").and_then(Value::as_array) {
            (!selected
                .iter()
                .any(|s| vals.iter().any(|v| scalar_eq(s, v))))
            .then(|| format!("its claim at {shown} is none of the requested values"))
        } else {
            None
        };
        if let Some(p) = problem {
            failed.push((cl.get("id").and_then(Value::as_str), p));
        }
    }
    match cq.get("claim_sets").and_then(Value::as_array) {
        None => match failed.first() {
            None => Ok(()),
            Some((_, p)) => Err(p.clone()),
        },
        Some(sets) => {
            let ok = sets.iter().any(|s| {
                s.as_array().is_some_and(|ids| {
                    ids.iter()
                        .filter_map(Value::as_str)
                        .all(|id| !failed.iter().any(|(f, _)| *f == Some(id)))
                })
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "it satisfies none of the claim sets ({})",
                    failed
                        .iter()
                        .map(|(_, p)| p.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ))
            }
        }
    }
}

/// Which Credential Queries an answer must cover (§6.4): every query when there are
/// no credential sets; otherwise, for each required set, one of its options (the
/// answer must cover some option completely).
pub fn unmet_sets(query: &Value, answered: &[&str]) -> Option<String> {
    let ids: Vec<&str> = query
        .get("credentials")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|c| c.get("id")?.as_str()).collect())
        .unwrap_or_default();
    match query.get("credential_sets").and_then(Value::as_array) {
        None => {
            let missing: Vec<&str> = ids
                .iter()
                .copied()
                .filter(|id| !answered.contains(id))
                .collect();
            (!missing.is_empty()).then(|| format!("no presentation for {}", missing.join(", ")))
        }
        Some(sets) => {
            for (i, s) in sets.iter().enumerate() {
                if s.get("required").and_then(Value::as_bool) == Some(false) {
                    continue;
                }
                let met = s
                    .get("options")
                    .and_then(Value::as_array)
                    .is_some_and(|opts| {
                        opts.iter().any(|o| {
                            o.as_array().is_some_and(|o| {
                                o.iter()
                                    .filter_map(Value::as_str)
                                    .all(|id| answered.contains(&id))
                            })
                        })
                    });
                if !met {
                    return Some(format!("credential set {i} is not met"));
                }
            }
            None
        }
    }
}

/// The request's own constraints on one badge.
pub fn fits_constraints(c: &Constraints, cred: &Map<String, Value>) -> Result<(), String> {
    let root = claims_root(cred);
    if !c.credential_types.is_empty() {
        let have = types_of(root);
        if !c
            .credential_types
            .iter()
            .any(|t| have.contains(&compact(t)))
        {
            return Err(format!("it is not a {}", c.credential_types.join(" or ")));
        }
    }
    if !c.trusted_issuers.is_empty() {
        let issuer = match root.get("issuer") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
            _ => None,
        }
        .or_else(|| cred.get("iss").and_then(Value::as_str));
        match issuer {
            Some(i) if c.trusted_issuers.iter().any(|t| t == i) => {}
            Some(i) => return Err(format!("its issuer {i} is not one this request accepts")),
            None => return Err("it names no issuer".to_owned()),
        }
    }
    if !c.achievement_ids.is_empty() {
        let subject = root.get("credentialSubject");
        let subjects: Vec<&Value> = match subject {
            Some(Value::Array(a)) => a.iter().collect(),
            Some(v) => vec![v],
            None => Vec::new(),
        };
        let ok = subjects.iter().any(|s| {
            s.pointer("/achievement/id")
                .and_then(Value::as_str)
                .is_some_and(|a| c.achievement_ids.iter().any(|w| w == a))
        });
        if !ok {
            return Err("it is not for an achievement this request asks for".to_owned());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn badge(issuer: &str, achievement: &str) -> Map<String, Value> {
        json!({
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": issuer, "type": ["Profile"], "name": "Example"},
            "credentialSubject": {"id": "did:key:z6Mk", "achievement": {"id": achievement}},
        })
        .as_object()
        .cloned()
        .expect("object")
    }

    #[test]
    fn built_dcql_is_valid_and_lists_expanded_and_compact_types() {
        let c = Constraints {
            credential_types: vec!["OpenBadgeCredential".into()],
            trusted_issuers: vec!["did:web:a.example".into()],
            achievement_ids: vec!["https://a.example/achievements/1".into()],
        };
        let q = dcql_for(&c);
        validate_dcql(&q).expect("valid");
        assert_eq!(
            q["credentials"][0]["meta"]["type_values"],
            json!([
                ["https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"],
                ["OpenBadgeCredential"],
                ["AchievementCredential"]
            ])
        );
        let cq = &q["credentials"][0];
        fits_credential_query(
            cq,
            &badge("did:web:a.example", "https://a.example/achievements/1"),
        )
        .expect("fits");
        let e = fits_credential_query(
            cq,
            &badge("did:web:b.example", "https://a.example/achievements/1"),
        )
        .expect_err("other issuer");
        assert!(e.contains("[\"issuer\",\"id\"]"), "{e}");
        assert!(fits_credential_query(cq, &badge("did:web:a.example", "x")).is_err());
    }

    #[test]
    fn type_values_match_expanded_or_compact_and_need_every_type_of_an_alternative() {
        let cred = badge("did:web:a", "x");
        let q = |tv: Value| json!({"id": "b", "format": FORMAT, "meta": {"type_values": tv}});
        fits_credential_query(
            &q(json!([[
                "https://www.w3.org/2018/credentials#VerifiableCredential",
                "https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential"
            ]])),
            &cred,
        )
        .expect("expanded");
        fits_credential_query(
            &q(json!([["ClrCredential"], ["OpenBadgeCredential"]])),
            &cred,
        )
        .expect("second alternative");
        assert!(
            fits_credential_query(&q(json!([["OpenBadgeCredential", "ClrCredential"]])), &cred)
                .is_err()
        );
    }

    #[test]
    fn claims_paths_select_members_indices_and_wildcards() {
        let v = json!({"a": [{"b": 1}, {"b": 2}], "c": {"d": "x"}});
        let p = |j: Value| parse_path(Some(&j)).expect("path");
        assert_eq!(
            select(&p(json!(["a", null, "b"])), &v),
            vec![&json!(1), &json!(2)]
        );
        assert_eq!(select(&p(json!(["a", 1, "b"])), &v), vec![&json!(2)]);
        assert_eq!(select(&p(json!(["c", "d"])), &v), vec![&json!("x")]);
        assert!(select(&p(json!(["c", 0])), &v).is_empty());
        assert!(parse_path(Some(&json!([-1]))).is_err());
        assert!(parse_path(Some(&json!([]))).is_err());
        assert!(parse_path(Some(&json!([true]))).is_err());
    }

    #[test]
    fn claim_sets_need_one_set_whose_claims_all_hold() {
        let cred = badge("did:web:a", "ach-1");
        let cq = json!({"id": "b", "format": FORMAT, "meta": {"type_values": [["OpenBadgeCredential"]]},
            "claims": [
                {"id": "i", "path": ["issuer", "id"], "values": ["did:web:other"]},
                {"id": "a", "path": ["credentialSubject", "achievement", "id"], "values": ["ach-1"]}
            ],
            "claim_sets": [["i"], ["a"]]});
        validate_dcql(&json!({"credentials": [cq]})).expect("valid");
        fits_credential_query(&cq, &cred).expect("second set holds");
        let mut strict = cq;
        strict["claim_sets"] = json!([["i", "a"]]);
        assert!(fits_credential_query(&strict, &cred).is_err());
    }

    #[test]
    fn malformed_dcql_is_refused_with_the_place_named() {
        for (q, needle) in [
            (json!([]), "object"),
            (json!({"credentials": []}), "non-empty"),
            (
                json!({"credentials": [{"id": "a b", "format": FORMAT}]}),
                ".id",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "mso_mdoc", "meta": {}}]}),
                "not supported",
            ),
            (
                json!({"credentials": [{"id": "a", "format": FORMAT}]}),
                "meta",
            ),
            (
                json!({"credentials": [{"id": "a", "format": FORMAT, "meta": {"type_values": [[]]}}]}),
                "type_values",
            ),
            (
                json!({"credentials": [{"id": "a", "format": FORMAT, "meta": {"type_values": [["X"]]}, "claims": [{"path": []}]}]}),
                "path",
            ),
            (
                json!({"credentials": [{"id": "a", "format": FORMAT, "meta": {"type_values": [["X"]]}}], "credential_sets": [{"options": [["b"]]}]}),
                "\"b\"",
            ),
            (
                json!({"credentials": [{"id": "a", "format": FORMAT, "meta": {"type_values": [["X"]]}}], "extra": 1}),
                "unknown member",
            ),
        ] {
            let e = validate_dcql(&q).expect_err("invalid");
            assert!(e.contains(needle), "{q}: {e}");
        }
    }

    #[test]
    fn credential_sets_decide_which_queries_must_be_answered() {
        let q = json!({"credentials": [{"id": "a"}, {"id": "b"}]});
        assert!(unmet_sets(&q, &["a"]).is_some());
        assert!(unmet_sets(&q, &["a", "b"]).is_none());
        let q = json!({"credentials": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
            "credential_sets": [{"options": [["a"], ["b"]]}, {"required": false, "options": [["c"]]}]});
        assert!(unmet_sets(&q, &["b"]).is_none());
        assert!(unmet_sets(&q, &["c"]).is_some());
    }

    #[test]
    fn constraints_check_types_issuers_and_achievements() {
        let cred = badge("did:web:a", "ach-1");
        let mut c = Constraints::default();
        fits_constraints(&c, &cred).expect("no constraints");
        c.credential_types =
            vec!["https://purl.imsglobal.org/spec/vc/ob/vocab.html#OpenBadgeCredential".into()];
        fits_constraints(&c, &cred).expect("expanded type");
        c.trusted_issuers = vec!["did:web:b".into()];
        assert!(
            fits_constraints(&c, &cred)
                .expect_err("issuer")
                .contains("did:web:a")
        );
        c.trusted_issuers.push("did:web:a".into());
        c.achievement_ids = vec!["ach-2".into()];
        assert!(fits_constraints(&c, &cred).is_err());
        c.achievement_ids.push("ach-1".into());
        fits_constraints(&c, &cred).expect("all hold");
        c.credential_types = vec!["ClrCredential".into()];
        assert!(fits_constraints(&c, &cred).is_err());
    }

    #[test]
    fn the_built_definition_is_valid() {
        let pd = definition_for(&Constraints::default(), "pd-1", &["ES256"]);
        validate_definition(&pd).expect("valid");
        assert!(validate_definition(&json!({"id": "x", "input_descriptors": []})).is_err());
    }
}
