//! The rules of the W3C Verifiable Credentials Data Model that a processor can check
//! on the document alone, for any credential or presentation (not only Open Badges).
//!
//! VC Data Model 2.0:
//! - §4.3 Contexts: `@context` is an ordered set (a JSON array) whose first item is
//!   `https://www.w3.org/ns/credentials/v2`; later items are URLs or objects.
//! - §4.4 Identifiers: an `id`, where there is one, is a single URL.
//! - §4.5 Types: `type` is present, one string or a set of strings, and includes
//!   `VerifiableCredential` (a presentation: `VerifiablePresentation`).
//! - §4.6 Names and Descriptions: `name` and `description` are strings or language
//!   value objects (`@value`, with `@language` / `@direction` strings), or sets of them.
//! - §4.7 Issuer: `issuer` is present, a URL or an object whose `id` is a URL.
//! - §4.8 Credential Subject: `credentialSubject` is present, an object or a non-empty
//!   set of objects; a subject's `id` is a URL.
//! - §4.9 Validity Period: `validFrom` / `validUntil` are XML Schema `dateTimeStamp`s
//!   (a date-time with its time zone).
//! - §4.10 Status, §4.11 Data Schemas, §5.4 Refreshing, §5.5 Terms of Use, §5.6
//!   Evidence: every `credentialStatus`, `credentialSchema`, `refreshService`,
//!   `termsOfUse` and `evidence` object has a `type`; a data schema also has an `id`.
//! - §4.13 Verifiable Presentations: a `holder` is a URL or an object whose `id` is a
//!   URL; `verifiableCredential` is an object or a set of objects.
//! - §4.13.1 / §4.13.2 Enveloped forms: `EnvelopedVerifiableCredential` /
//!   `EnvelopedVerifiablePresentation` with the VCDM 2.0 context first and an `id` that
//!   is a `data:` URL (`data:application/vc+jwt,` / `data:application/vp+jwt,` here).
//!
//! VC Data Model 1.1 credentials (the first context `https://www.w3.org/2018/credentials/v1`)
//! are held to the same shape with the 1.1 names: `issuanceDate` is required,
//! `issuanceDate` / `expirationDate` are date-times, and `validFrom` / `validUntil` are
//! not 1.1 terms.

use serde_json::{Map, Value};

use super::schema::Violation;
use crate::clock::parse_datetime;

pub use super::VCDM2_CONTEXT;
/// The VCDM 1.1 base context.
pub const VCDM1_CONTEXT: &str = "https://www.w3.org/2018/credentials/v1";

/// Which data model a credential follows (its first context).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2,
    V1_1,
}

impl Version {
    /// The name a verification report gives the standard applied.
    pub fn standard(self) -> &'static str {
        match self {
            Version::V2 => "vcdm2",
            Version::V1_1 => "vcdm1.1",
        }
    }
}

/// Which version a document follows, by its first context: 1.1 for the 1.1 base
/// context, 2.0 otherwise (what it is judged by, whether or not it passes).
pub fn version_of(doc: &Value) -> Version {
    let first = match doc.get("@context") {
        Some(Value::Array(a)) => a.first(),
        other => other,
    };
    if first.and_then(Value::as_str) == Some(VCDM1_CONTEXT) {
        Version::V1_1
    } else {
        Version::V2
    }
}

fn violation(path: &str, message: impl Into<String>) -> Violation {
    Violation {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Whether `s` is a URL (an absolute URI: `https:`, `did:`, `urn:uuid:`, ...).
pub fn is_url(s: &str) -> bool {
    url::Url::parse(s).is_ok()
}

/// Reads `@context`: which version its first item names, with violations of §4.3.
fn context(doc: &Map<String, Value>, allow_v1: bool, out: &mut Vec<Violation>) -> Version {
    let Some(ctx) = doc.get("@context") else {
        out.push(violation("/@context", "is missing (VCDM 2.0 §4.3)"));
        return Version::V2;
    };
    // A set of one may be written as its one item, as JSON-LD allows (and as the
    // enveloped examples of §4.13 do).
    let one;
    let items = match ctx {
        Value::Array(a) => a.as_slice(),
        Value::String(_) => {
            one = [ctx.clone()];
            one.as_slice()
        }
        _ => {
            out.push(violation(
                "/@context",
                "must be an ordered set (an array) whose first item is the VCDM 2.0 context (§4.3)",
            ));
            return Version::V2;
        }
    };
    let version = match items.first().and_then(Value::as_str) {
        Some(VCDM2_CONTEXT) => Version::V2,
        Some(VCDM1_CONTEXT) if allow_v1 => Version::V1_1,
        _ => {
            out.push(violation(
                "/@context/0",
                format!("the first context must be {VCDM2_CONTEXT} (VCDM 2.0 §4.3)"),
            ));
            Version::V2
        }
    };
    for (i, item) in items.iter().enumerate().skip(1) {
        let ok = match item {
            Value::String(s) => is_url(s),
            Value::Object(_) => true,
            _ => false,
        };
        if !ok {
            out.push(violation(
                &format!("/@context/{i}"),
                "each context is a URL or an object (§4.3)",
            ));
        }
    }
    version
}

/// The `type` values, with violations of §4.5 (`must` names the type required).
fn types<'a>(doc: &'a Map<String, Value>, must: &str, out: &mut Vec<Violation>) -> Vec<&'a str> {
    let found: Vec<&str> = match doc.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) if !a.is_empty() && a.iter().all(Value::is_string) => {
            a.iter().filter_map(Value::as_str).collect()
        }
        Some(_) => {
            out.push(violation(
                "/type",
                "must be a string or a non-empty set of strings (§4.5)",
            ));
            return Vec::new();
        }
        None => {
            out.push(violation("/type", "is missing (§4.5)"));
            return Vec::new();
        }
    };
    if !found.contains(&must) {
        out.push(violation("/type", format!("must include {must} (§4.5)")));
    }
    found
}

fn optional_id(v: &Map<String, Value>, path: &str, out: &mut Vec<Violation>) {
    match v.get("id") {
        None => {}
        Some(Value::String(s)) if is_url(s) => {}
        Some(_) => out.push(violation(
            &format!("{path}/id"),
            "an id must be a single URL (§4.4)",
        )),
    }
}

/// A URL, or an object whose `id` is a URL (`issuer`, `holder`).
fn url_or_object_with_id(v: &Value, path: &str, section: &str, out: &mut Vec<Violation>) {
    let ok = match v {
        Value::String(s) => is_url(s),
        Value::Object(o) => o.get("id").and_then(Value::as_str).is_some_and(is_url),
        _ => false,
    };
    if !ok {
        out.push(violation(
            path,
            format!("must be a URL or an object whose id is a URL ({section})"),
        ));
    }
}

/// The objects of a member that is one object or a set of them.
fn objects<'a>(
    v: &'a Value,
    path: &str,
    section: &str,
    out: &mut Vec<Violation>,
) -> Vec<(String, &'a Map<String, Value>)> {
    match v {
        Value::Object(o) => vec![(path.to_owned(), o)],
        Value::Array(a) if !a.is_empty() => {
            let mut found = Vec::new();
            for (i, item) in a.iter().enumerate() {
                match item.as_object() {
                    Some(o) => found.push((format!("{path}/{i}"), o)),
                    None => out.push(violation(
                        &format!("{path}/{i}"),
                        format!("must be an object ({section})"),
                    )),
                }
            }
            found
        }
        _ => {
            out.push(violation(
                path,
                format!("must be an object or a non-empty set of objects ({section})"),
            ));
            Vec::new()
        }
    }
}

/// §4.6: a string, a language value object, or a set of either.
fn language_text(v: &Value, path: &str, out: &mut Vec<Violation>) {
    fn one(v: &Value) -> bool {
        match v {
            Value::String(_) => true,
            Value::Object(o) => {
                o.get("@value").is_some_and(Value::is_string)
                    && o.keys()
                        .all(|k| matches!(k.as_str(), "@value" | "@language" | "@direction"))
                    && ["@language", "@direction"]
                        .iter()
                        .all(|k| o.get(*k).is_none_or(Value::is_string))
            }
            _ => false,
        }
    }
    let ok = match v {
        Value::Array(a) => !a.is_empty() && a.iter().all(one),
        other => one(other),
    };
    if !ok {
        out.push(violation(
            path,
            "must be a string or a language value object ({\"@value\", \"@language\", \"@direction\"}), or a set of them (§4.6)",
        ));
    }
}

/// §4.10, §4.11, §5.4–5.6: every object of these members has a `type`.
fn typed_members(doc: &Map<String, Value>, out: &mut Vec<Violation>) {
    for (name, section, needs_id) in [
        ("credentialStatus", "§4.10", false),
        ("credentialSchema", "§4.11", true),
        ("refreshService", "§5.4", false),
        ("termsOfUse", "§5.5", false),
        ("evidence", "§5.6", false),
    ] {
        let Some(v) = doc.get(name) else { continue };
        for (path, o) in objects(v, &format!("/{name}"), section, out) {
            let typed = match o.get("type") {
                Some(Value::String(_)) => true,
                Some(Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_string),
                _ => false,
            };
            if !typed {
                out.push(violation(&path, format!("needs a type ({section})")));
            }
            if needs_id && !o.get("id").and_then(Value::as_str).is_some_and(is_url) {
                out.push(violation(&path, format!("needs an id URL ({section})")));
            } else {
                optional_id(o, &path, out);
            }
        }
    }
}

fn date_time_stamp(doc: &Map<String, Value>, name: &str, out: &mut Vec<Violation>) {
    match doc.get(name) {
        None => {}
        Some(Value::String(s)) if parse_datetime(s).is_some() => {}
        Some(_) => out.push(violation(
            &format!("/{name}"),
            "must be a date-time with its time zone (XML Schema dateTimeStamp, §4.9)",
        )),
    }
}

/// Checks a credential (not enveloped) against the data model; the version it
/// follows, or what it breaks.
pub fn check_credential(doc: &Value) -> Result<Version, Vec<Violation>> {
    let mut out = Vec::new();
    let Some(doc) = doc.as_object() else {
        return Err(vec![violation("", "a credential is a JSON object")]);
    };
    let version = context(doc, true, &mut out);
    let types = types(doc, "VerifiableCredential", &mut out);
    if types.contains(&"EnvelopedVerifiableCredential") {
        out.push(violation(
            "/type",
            "an enveloped credential is checked as the credential inside (§4.13.1)",
        ));
    }
    optional_id(doc, "", &mut out);
    match doc.get("issuer") {
        Some(v) => url_or_object_with_id(v, "/issuer", "§4.7", &mut out),
        None => out.push(violation("/issuer", "is missing (§4.7)")),
    }
    match doc.get("credentialSubject") {
        Some(v) => {
            for (path, s) in objects(v, "/credentialSubject", "§4.8", &mut out) {
                optional_id(s, &path, &mut out);
            }
        }
        None => out.push(violation("/credentialSubject", "is missing (§4.8)")),
    }
    for name in ["name", "description"] {
        if let Some(v) = doc.get(name) {
            language_text(v, &format!("/{name}"), &mut out);
        }
    }
    match version {
        Version::V2 => {
            date_time_stamp(doc, "validFrom", &mut out);
            date_time_stamp(doc, "validUntil", &mut out);
        }
        Version::V1_1 => {
            if !doc.contains_key("issuanceDate") {
                out.push(violation(
                    "/issuanceDate",
                    "is missing (a VCDM 1.1 credential states when it was issued)",
                ));
            }
            date_time_stamp(doc, "issuanceDate", &mut out);
            date_time_stamp(doc, "expirationDate", &mut out);
        }
    }
    typed_members(doc, &mut out);
    if out.is_empty() {
        Ok(version)
    } else {
        Err(out)
    }
}

/// Checks an enveloped credential or presentation object (§4.13.1, §4.13.2): the
/// VCDM 2.0 context first, the enveloped type, and a `data:` URL id with `media_type`;
/// the token inside.
pub fn enveloped<'a>(
    doc: &'a Map<String, Value>,
    kind: &str,
    media_type: &str,
) -> Result<&'a str, Vec<Violation>> {
    let mut out = Vec::new();
    context(doc, false, &mut out);
    types(doc, kind, &mut out);
    let prefix = format!("data:{media_type},");
    let token = doc
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| id.strip_prefix(&prefix));
    if token.is_none() {
        out.push(violation(
            "/id",
            format!("an {kind} has an id that is a {prefix}... URL (§4.13)"),
        ));
    }
    match token {
        Some(t) if out.is_empty() => Ok(t),
        _ => Err(out),
    }
}

/// Checks a presentation (not enveloped) against the data model (§4.13).
pub fn check_presentation(doc: &Value) -> Result<(), Vec<Violation>> {
    match doc.as_object() {
        Some(o) => check_presentation_object(o),
        None => Err(vec![violation("", "a presentation is a JSON object")]),
    }
}

/// [`check_presentation`] of a presentation already known to be an object.
pub fn check_presentation_object(doc: &Map<String, Value>) -> Result<(), Vec<Violation>> {
    let mut out = Vec::new();
    let version = context(doc, true, &mut out);
    types(doc, "VerifiablePresentation", &mut out);
    optional_id(doc, "", &mut out);
    if let Some(h) = doc.get("holder") {
        url_or_object_with_id(h, "/holder", "§4.13", &mut out);
    }
    match (doc.get("verifiableCredential"), version) {
        (None, _) => {}
        // VCDM 1.1 §6.3.1: in a JWT presentation the credentials may be JWTs.
        (Some(Value::Array(a)), Version::V1_1)
            if !a.is_empty() && a.iter().all(|c| c.is_string() || c.is_object()) => {}
        (Some(Value::String(_)), Version::V1_1) => {}
        (Some(v), _) => {
            objects(v, "/verifiableCredential", "§4.13", &mut out);
        }
    }
    typed_members(doc, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "@context": [VCDM2_CONTEXT, "https://www.w3.org/ns/credentials/examples/v2"],
            "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
            "type": ["VerifiableCredential", "ExampleAlumniCredential"],
            "name": [{"@value": "Alumni Credential", "@language": "en"}, "Alumni"],
            "description": "A minimum viable example of an Alumni Credential.",
            "issuer": {"id": "https://university.example/issuers/565049", "name": "Example U"},
            "validFrom": "2023-01-01T00:00:00Z",
            "credentialSubject": [{"id": "did:example:123", "alumniOf": "Example U"}],
            "credentialStatus": {"id": "https://u.example/status/1#9", "type": "BitstringStatusListEntry"},
            "credentialSchema": [{"id": "https://example.org/schema.json", "type": "JsonSchema"}],
            "evidence": [{"type": ["Evidence"], "id": "https://u.example/evidence/1"}]
        })
    }

    fn breaks(change: impl FnOnce(&mut Map<String, Value>)) -> Vec<String> {
        let mut doc = good();
        change(doc.as_object_mut().expect("object"));
        check_credential(&doc)
            .expect_err("refused")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn a_minimal_vcdm2_credential_passes() {
        assert_eq!(check_credential(&good()), Ok(Version::V2));
        // The context as a set of one, written as its item.
        let mut one = good();
        one["@context"] = json!(VCDM2_CONTEXT);
        assert_eq!(check_credential(&one), Ok(Version::V2));
    }

    #[test]
    fn each_rule_has_a_counter_example() {
        type Change = Box<dyn FnOnce(&mut Map<String, Value>)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "/@context: is missing",
                Box::new(|d| {
                    d.remove("@context");
                }),
            ),
            (
                "/@context: must be an ordered set",
                Box::new(|d| {
                    d.insert("@context".into(), json!({"@vocab": "https://example.org/"}));
                }),
            ),
            (
                "/@context/0: the first context",
                Box::new(|d| {
                    d.insert("@context".into(), json!("https://example.org/ctx"));
                }),
            ),
            (
                "/@context/0: the first context",
                Box::new(|d| {
                    d.insert("@context".into(), json!([]));
                }),
            ),
            (
                "/@context/0: the first context",
                Box::new(|d| {
                    d.insert(
                        "@context".into(),
                        json!([
                            "https://www.w3.org/ns/credentials/examples/v2",
                            VCDM2_CONTEXT
                        ]),
                    );
                }),
            ),
            (
                "/@context/1: each context",
                Box::new(|d| {
                    d.insert("@context".into(), json!([VCDM2_CONTEXT, 7]));
                }),
            ),
            (
                "/id: an id must be a single URL",
                Box::new(|d| {
                    d.insert("id".into(), json!("58172aac"));
                }),
            ),
            (
                "/type: is missing",
                Box::new(|d| {
                    d.remove("type");
                }),
            ),
            (
                "/type: must include VerifiableCredential",
                Box::new(|d| {
                    d.insert("type".into(), json!(["ExampleAlumniCredential"]));
                }),
            ),
            (
                "/type: must be a string",
                Box::new(|d| {
                    d.insert("type".into(), json!([]));
                }),
            ),
            (
                "/issuer: is missing",
                Box::new(|d| {
                    d.remove("issuer");
                }),
            ),
            (
                "/issuer: must be a URL",
                Box::new(|d| {
                    d.insert("issuer".into(), json!({"name": "No id"}));
                }),
            ),
            (
                "/issuer: must be a URL",
                Box::new(|d| {
                    d.insert("issuer".into(), json!("not a url"));
                }),
            ),
            (
                "/credentialSubject: is missing",
                Box::new(|d| {
                    d.remove("credentialSubject");
                }),
            ),
            (
                "/credentialSubject: must be an object",
                Box::new(|d| {
                    d.insert("credentialSubject".into(), json!([]));
                }),
            ),
            (
                "/credentialSubject/0: must be an object",
                Box::new(|d| {
                    d.insert("credentialSubject".into(), json!(["did:example:1"]));
                }),
            ),
            (
                "/credentialSubject/id: an id",
                Box::new(|d| {
                    d.insert("credentialSubject".into(), json!({"id": "me"}));
                }),
            ),
            (
                "/validFrom: must be a date-time",
                Box::new(|d| {
                    d.insert("validFrom".into(), json!("2023-01-01T00:00:00"));
                }),
            ),
            (
                "/validUntil: must be a date-time",
                Box::new(|d| {
                    d.insert("validUntil".into(), json!("2023-01-01"));
                }),
            ),
            (
                "/name: must be a string or a language value",
                Box::new(|d| {
                    d.insert("name".into(), json!({"en": "Alumni"}));
                }),
            ),
            (
                "/description: must be a string or a language value",
                Box::new(|d| {
                    d.insert("description".into(), json!(42));
                }),
            ),
            (
                "/credentialStatus: needs a type",
                Box::new(|d| {
                    d.insert(
                        "credentialStatus".into(),
                        json!({"id": "https://u.example/s#1"}),
                    );
                }),
            ),
            (
                "/credentialSchema/0: needs an id URL",
                Box::new(|d| {
                    d.insert("credentialSchema".into(), json!([{"type": "JsonSchema"}]));
                }),
            ),
            (
                "/evidence/0: needs a type",
                Box::new(|d| {
                    d.insert("evidence".into(), json!([{"id": "https://u.example/e"}]));
                }),
            ),
            (
                "/termsOfUse: needs a type",
                Box::new(|d| {
                    d.insert("termsOfUse".into(), json!({"id": "https://u.example/tou"}));
                }),
            ),
            (
                "/refreshService: needs a type",
                Box::new(|d| {
                    d.insert(
                        "refreshService".into(),
                        json!({"id": "https://u.example/r"}),
                    );
                }),
            ),
        ];
        for (want, change) in cases {
            let got = breaks(change);
            assert!(got.iter().any(|v| v.starts_with(want)), "{want}: {got:?}");
        }
    }

    #[test]
    fn a_vcdm11_credential_is_held_to_the_11_names() {
        let mut doc = good();
        let d = doc.as_object_mut().expect("object");
        d.insert("@context".into(), json!([VCDM1_CONTEXT]));
        d.remove("validFrom");
        d.insert("issuanceDate".into(), json!("2010-01-01T19:23:24Z"));
        assert_eq!(check_credential(&doc), Ok(Version::V1_1));
        doc.as_object_mut().expect("object").remove("issuanceDate");
        let e = check_credential(&doc).expect_err("no issuanceDate");
        assert!(
            e[0].to_string().starts_with("/issuanceDate: is missing"),
            "{e:?}"
        );
    }

    #[test]
    fn enveloped_forms_need_the_context_the_type_and_a_data_url() {
        let ok = json!({"@context": [VCDM2_CONTEXT], "type": "EnvelopedVerifiableCredential",
                        "id": "data:application/vc+jwt,eyJ.eyJ.sig"});
        let o = ok.as_object().expect("object");
        assert_eq!(
            enveloped(o, "EnvelopedVerifiableCredential", "application/vc+jwt"),
            Ok("eyJ.eyJ.sig")
        );
        for bad in [
            json!({"@context": [], "type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,x"}),
            json!({"@context": ["https://example.org/ctx", VCDM2_CONTEXT], "type": "EnvelopedVerifiableCredential", "id": "data:application/vc+jwt,x"}),
            json!({"@context": [VCDM2_CONTEXT], "type": "VerifiableCredential", "id": "data:application/vc+jwt,x"}),
            json!({"@context": [VCDM2_CONTEXT], "type": "EnvelopedVerifiableCredential", "id": "https://example.org/x"}),
        ] {
            assert!(
                enveloped(
                    bad.as_object().expect("object"),
                    "EnvelopedVerifiableCredential",
                    "application/vc+jwt"
                )
                .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn presentations_need_the_context_and_their_type() {
        let vp = json!({"@context": [VCDM2_CONTEXT], "type": ["VerifiablePresentation"],
                        "holder": "did:example:holder", "verifiableCredential": [good()]});
        assert_eq!(check_presentation(&vp), Ok(()));
        // A VCDM 1.1 JWT presentation may carry its credentials as JWTs; 2.0 envelopes them.
        let v11 = json!({"@context": [VCDM1_CONTEXT], "type": "VerifiablePresentation",
                         "verifiableCredential": ["eyJ.eyJ.sig"]});
        assert_eq!(check_presentation(&v11), Ok(()));
        let mut v2 = v11;
        v2["@context"] = json!([VCDM2_CONTEXT]);
        assert!(check_presentation(&v2).is_err());
        for (bad, want) in [
            (
                json!({"type": "VerifiablePresentation"}),
                "/@context: is missing",
            ),
            (
                json!({"@context": ["https://example.org/x"], "type": "VerifiablePresentation"}),
                "/@context/0",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiableCredential"}),
                "/type: must include VerifiablePresentation",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "holder": {"name": "x"}}),
                "/holder",
            ),
            (
                json!({"@context": [VCDM2_CONTEXT], "type": "VerifiablePresentation", "verifiableCredential": "eyJ"}),
                "/verifiableCredential",
            ),
        ] {
            let e = check_presentation(&bad).expect_err("refused");
            assert!(
                e.iter().any(|v| v.to_string().starts_with(want)),
                "{want}: {e:?}"
            );
        }
    }
}
