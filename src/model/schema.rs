//! Validation against the 1EdTech Open Badges 3.0 AchievementCredential JSON Schema
//! (draft 2019-09, vendored in `contexts/`, see `contexts/README.md`), plus the rules
//! the schema cannot express.
//!
//! The schema is compiled once. Valid documents take the fast `is_valid` path; only a
//! failing document pays for collecting readable errors.

use std::sync::LazyLock;

use jsonschema::Validator;
use serde::Serialize;
use serde_json::{Value, json};

use crate::clock::parse_datetime;

/// The vendored schema, byte for byte.
pub const ACHIEVEMENT_CREDENTIAL_SCHEMA: &str =
    include_str!("../../contexts/ob_v3p0_achievementcredential_schema.json");

/// The canonical URL of the schema (for `credentialSchema` and reports).
pub const ACHIEVEMENT_CREDENTIAL_SCHEMA_URL: &str =
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json";
/// Where 1EdTech publishes the OB 3.0 EndorsementCredential schema (checked here with
/// the bundled schema's `EndorsementCredential` definition, never fetched).
pub const ENDORSEMENT_CREDENTIAL_SCHEMA_URL: &str =
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_endorsementcredential_schema.json";

/// The most violations listed for one document.
const MAX_VIOLATIONS: usize = 20;
/// The longest message kept for one violation (values such as data URIs can be huge).
const MAX_MESSAGE: usize = 300;

/// One way a document breaks the schema or the extra rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// JSON Pointer to the offending value (`""` for the document itself).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Violations as one message, separated by `; `.
pub fn joined(v: &[Violation]) -> String {
    v.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn compile(root_ref: Option<&str>) -> Result<Validator, String> {
    let mut schema: Value =
        serde_json::from_str(ACHIEVEMENT_CREDENTIAL_SCHEMA).map_err(|e| e.to_string())?;
    if let (Some(def), Some(obj)) = (root_ref, schema.as_object_mut()) {
        // Validate against one class of the schema: keep `$defs`, replace the root.
        let defs = obj.remove("$defs").unwrap_or(Value::Null);
        let dialect = obj.remove("$schema").unwrap_or(Value::Null);
        schema = json!({
            "$schema": dialect,
            "$id": format!("urn:accolade:ob3:{def}"),
            "$ref": format!("#/$defs/{def}"),
            "$defs": defs,
        });
    }
    jsonschema::draft201909::new(&schema).map_err(|e| e.to_string())
}

static CREDENTIAL: LazyLock<Result<Validator, String>> = LazyLock::new(|| compile(None));
static ACHIEVEMENT: LazyLock<Result<Validator, String>> =
    LazyLock::new(|| compile(Some("Achievement")));
static PROFILE: LazyLock<Result<Validator, String>> = LazyLock::new(|| compile(Some("Profile")));
static ENDORSEMENT: LazyLock<Result<Validator, String>> =
    LazyLock::new(|| compile(Some("EndorsementCredential")));

fn run(validator: &LazyLock<Result<Validator, String>>, doc: &Value) -> Vec<Violation> {
    match &**validator {
        Ok(v) => violations_of(v, doc),
        Err(e) => vec![Violation {
            path: String::new(),
            message: format!("the schema itself failed to compile: {e}"),
        }],
    }
}

/// How `doc` breaks the schema `v` (at most [`MAX_VIOLATIONS`], messages cut short).
pub fn violations_of(v: &Validator, doc: &Value) -> Vec<Violation> {
    if v.is_valid(doc) {
        return Vec::new();
    }
    v.iter_errors(doc)
        .take(MAX_VIOLATIONS)
        .map(|e| {
            let mut message = e.to_string();
            if message.len() > MAX_MESSAGE {
                let mut cut = MAX_MESSAGE;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
                message.push('…');
            }
            Violation {
                path: e.instance_path().to_string(),
                message,
            }
        })
        .collect()
}

fn rule(path: &str, message: &str) -> Violation {
    Violation {
        path: path.to_owned(),
        message: message.to_owned(),
    }
}

/// Checks an AchievementCredential (or OpenBadgeCredential) against the schema and
/// the rules it cannot express:
/// - the subject is identified: `credentialSubject` has `id` or a non-empty `identifier`;
/// - `validFrom`/`validUntil` are date-times with a time zone, `validUntil` not before
///   `validFrom`.
/// - `credentialStatus` may be an array of entries (VCDM 2.0 §4.10), which this
///   generation of the OB schema does not allow: each entry is held to the schema's
///   `CredentialStatus` rules (`id` and `type` strings) instead.
pub fn check_credential(doc: &Value) -> Result<(), Vec<Violation>> {
    let mut out = Vec::new();
    let single;
    let doc = match doc.get("credentialStatus") {
        Some(Value::Array(entries)) => {
            if entries.is_empty() {
                out.push(rule("/credentialStatus", "is an empty array"));
            }
            for (i, e) in entries.iter().enumerate() {
                let ok = |k: &str| e.get(k).is_some_and(Value::is_string);
                if !ok("id") || !ok("type") {
                    out.push(rule(
                        &format!("/credentialStatus/{i}"),
                        "a status entry needs \"id\" and \"type\" strings",
                    ));
                }
            }
            let mut d = doc.clone();
            if let Some(o) = d.as_object_mut() {
                match entries.first() {
                    Some(first) if first.is_object() => {
                        o.insert("credentialStatus".into(), first.clone());
                    }
                    _ => {
                        o.remove("credentialStatus");
                    }
                }
            }
            single = d;
            &single
        }
        _ => doc,
    };
    out.extend(run(&CREDENTIAL, doc));
    let subject = doc.get("credentialSubject");
    let has_id = subject
        .and_then(|s| s.get("id"))
        .is_some_and(Value::is_string);
    let has_identifier = subject
        .and_then(|s| s.get("identifier"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if subject.is_some() && !has_id && !has_identifier {
        out.push(rule(
            "/credentialSubject",
            "the recipient must be identified by \"id\" or \"identifier\"",
        ));
    }
    let from = doc.get("validFrom").and_then(Value::as_str);
    let until = doc.get("validUntil").and_then(Value::as_str);
    let from_t = from.and_then(parse_datetime);
    let until_t = until.and_then(parse_datetime);
    if from.is_some() && from_t.is_none() {
        out.push(rule("/validFrom", "is not a date-time with a time zone"));
    }
    if until.is_some() && until_t.is_none() {
        out.push(rule("/validUntil", "is not a date-time with a time zone"));
    }
    if let (Some(f), Some(u)) = (from_t, until_t)
        && u < f
    {
        out.push(rule("/validUntil", "is before validFrom"));
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks one Achievement against the schema's `Achievement` class.
pub fn check_achievement(doc: &Value) -> Result<(), Vec<Violation>> {
    let out = run(&ACHIEVEMENT, doc);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks an EndorsementCredential against the schema's `EndorsementCredential` class.
pub fn check_endorsement(doc: &Value) -> Result<(), Vec<Violation>> {
    let out = run(&ENDORSEMENT, doc);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Checks one Profile against the schema's `Profile` class.
pub fn check_profile(doc: &Value) -> Result<(), Vec<Violation>> {
    let out = run(&PROFILE, doc);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// The bundled schema's classes (`$defs`), parsed once.
static DEFS: LazyLock<Value> = LazyLock::new(|| {
    serde_json::from_str::<Value>(ACHIEVEMENT_CREDENTIAL_SCHEMA)
        .ok()
        .and_then(|mut s| s.get_mut("$defs").map(Value::take))
        .unwrap_or(Value::Null)
});

/// Whether a member name is an extension term: `ext:Name` or any other absolute IRI
/// (`https://example.org/terms#level`, `urn:...`): a scheme, a colon, the rest.
pub fn is_extension_term(name: &str) -> bool {
    let Some((scheme, rest)) = name.split_once(':') else {
        return false;
    };
    !rest.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The class a property's schema refers to (`{"$ref": "#/$defs/X"}`, or an array of
/// them).
fn class_of(prop: &Value) -> Option<&str> {
    let r = prop
        .get("$ref")
        .or_else(|| prop.get("items").and_then(|i| i.get("$ref")))?;
    r.as_str()?.strip_prefix("#/$defs/")
}

/// The known name closest to a misspelt one, when one is close: the same letters
/// ignoring case and `_`/`-`, or at most two edits away (for messages that suggest
/// the name meant).
pub fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a str> {
    fn fold(s: &str) -> Vec<char> {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .flat_map(char::to_lowercase)
            .collect()
    }
    fn distance(a: &[char], b: &[char]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                cur[j + 1] = (prev[j] + usize::from(ca != cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    let n = fold(name);
    known
        .map(|k| (distance(&n, &fold(k)), k))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Members of `doc` (and of the objects inside it, class by class) that are neither
/// properties of the schema's `class` nor extension terms ([`is_extension_term`]).
/// The schema allows additional properties; staff input does not, so that a typo is
/// refused instead of being signed into every badge.
pub fn unknown_members(class: &str, doc: &Value) -> Vec<Violation> {
    let mut out = Vec::new();
    walk(class, doc, "", &mut out);
    out
}

fn walk(class: &str, doc: &Value, path: &str, out: &mut Vec<Violation>) {
    let Some(props) = DEFS
        .get(class)
        .and_then(|c| c.get("properties"))
        .and_then(Value::as_object)
    else {
        return;
    };
    let Some(obj) = doc.as_object() else {
        return;
    };
    for (name, value) in obj {
        let here = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
        let Some(prop) = props.get(name) else {
            if !is_extension_term(name) {
                let hint = closest(name, props.keys())
                    .map(|k| format!("; did you mean \"{k}\"?"))
                    .unwrap_or_default();
                out.push(rule(
                    &here,
                    &format!(
                        "\"{name}\" is not a property of {class}{hint} (extensions need a term such as \"ext:{name}\" or a full IRI)"
                    ),
                ));
            }
            continue;
        };
        if let Some(inner) = class_of(prop) {
            match value {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        walk(inner, item, &format!("{here}/{i}"), out);
                    }
                }
                v => walk(inner, v, &here, out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_members_are_named_with_a_suggestion_and_extensions_pass() {
        let doc = json!({
            "name": "A", "achievment_type": "Badge", "colour": "red",
            "ext:level": 3, "https://example.org/terms#x": 1,
            "criteria": {"narrative": "n", "narative": "typo"},
            "alignment": [{"targetName": "t", "targetUrl": "https://x.example", "targetFramework": "f", "tagretCode": "c"}],
        });
        let v = unknown_members("Achievement", &doc);
        let text: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(v.len(), 4, "{text:?}");
        assert!(
            text.iter().any(|t| t.starts_with("/achievment_type: ")
                && t.contains("did you mean \"achievementType\"")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("/colour: ") && !t.contains("did you mean")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.starts_with("/criteria/narative: ") && t.contains("\"narrative\"")),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("/alignment/0/tagretCode: ") && t.contains("\"targetCode\"")), "{text:?}");
        assert!(is_extension_term("ext:Level") && is_extension_term("urn:x:y"));
        assert!(
            !is_extension_term("colour")
                && !is_extension_term("1x:y")
                && !is_extension_term("ext:")
        );
    }

    fn basic() -> Value {
        serde_json::from_str(include_str!(
            "../../tests/vectors/examples/ob3_basic_openbadgecredential.json"
        ))
        .expect("example parses")
    }

    #[test]
    fn the_spec_basic_example_passes() {
        check_credential(&basic()).expect("valid");
    }

    #[test]
    fn a_subject_without_id_or_identifier_fails_the_extra_rule() {
        let mut doc = basic();
        doc["credentialSubject"]
            .as_object_mut()
            .expect("obj")
            .remove("id");
        let errs = check_credential(&doc).expect_err("invalid");
        assert!(
            errs.iter().any(|v| v.path == "/credentialSubject"),
            "{errs:?}"
        );
    }

    #[test]
    fn schema_errors_name_the_path() {
        let mut doc = basic();
        doc["type"] = json!("OpenBadgeCredential");
        let errs = check_credential(&doc).expect_err("invalid");
        assert!(errs.iter().any(|v| v.path == "/type"), "{errs:?}");
    }

    #[test]
    fn dates_must_have_zones_and_be_ordered() {
        let mut doc = basic();
        doc["validFrom"] = json!("2010-01-01T00:00:00");
        doc["validUntil"] = json!("2009-01-01T00:00:00Z");
        let errs = check_credential(&doc).expect_err("invalid");
        assert!(errs.iter().any(|v| v.path == "/validFrom"), "{errs:?}");

        let mut doc = basic();
        doc["validUntil"] = json!("2009-01-01T00:00:00Z");
        let errs = check_credential(&doc).expect_err("invalid");
        assert!(
            errs.iter().any(|v| v.message.contains("before")),
            "{errs:?}"
        );
    }

    #[test]
    fn achievement_class_is_checked_on_its_own() {
        let a = basic()["credentialSubject"]["achievement"].clone();
        check_achievement(&a).expect("valid");
        let mut bad = a;
        bad.as_object_mut().expect("obj").remove("criteria");
        let errs = check_achievement(&bad).expect_err("invalid");
        assert!(errs[0].message.contains("criteria"), "{errs:?}");
    }
}
