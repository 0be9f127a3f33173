//! Turning staff input into an Open Badges 3.0 Achievement (§B.1.2).
//!
//! Input is an Achievement without `id` (the service assigns a URL under the public
//! URL). For convenience a few shorthands are accepted and expanded into the spec
//! form: `tags` for `tag`, a string `criteria` for `{"narrative": ...}`, a string
//! `image` for an Image object, and missing `type` values of nested classes. The
//! result must pass the schema's `Achievement` class and the rules it cannot express.

use serde_json::{Map, Value, json};

use super::{Error, image_from_input};
use crate::model::{Achievement, is_achievement_type, schema};

/// The largest achievement definition accepted, serialised. Every badge carries it,
/// so it must leave room under the JWT size verifiers accept.
pub const MAX_ACHIEVEMENT_BYTES: usize = 512 * 1024;

/// Builds the Achievement with `id` from staff input.
pub fn achievement_from_input(input: &Value, id: &str) -> Result<Achievement, Error> {
    let Value::Object(input) = input else {
        return Err(Error::invalid(
            "body",
            "an Achievement must be a JSON object",
        ));
    };
    let size = serde_json::to_vec(input).map_or(usize::MAX, |v| v.len());
    if size > MAX_ACHIEVEMENT_BYTES {
        return Err(Error::invalid(
            "body",
            &format!(
                "the achievement is {size} bytes; at most {MAX_ACHIEVEMENT_BYTES} fit in a badge (put large images at a URL)"
            ),
        ));
    }
    let mut obj: Map<String, Value> = input.clone();
    obj.remove("archived");
    if let Some(given) = obj.remove("id")
        && given.as_str() != Some(id)
    {
        return Err(Error::invalid(
            "id",
            "is assigned by the service; leave it out",
        ));
    }
    match obj.remove("type") {
        None => {}
        Some(t) if t == json!("Achievement") || t == json!(["Achievement"]) => {}
        Some(_) => {
            return Err(Error::invalid(
                "type",
                "must be \"Achievement\" (or left out)",
            ));
        }
    }
    obj.insert("id".into(), json!(id));
    obj.insert("type".into(), json!(["Achievement"]));

    if let Some(tags) = obj.remove("tags") {
        if obj.contains_key("tag") {
            return Err(Error::invalid(
                "tags",
                "give either \"tag\" or \"tags\", not both",
            ));
        }
        obj.insert("tag".into(), tags);
    }
    for field in ["name", "description"] {
        match obj.get(field) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) => return Err(Error::invalid(field, "must not be empty")),
            Some(_) => return Err(Error::invalid(field, "must be a string")),
            None => return Err(Error::invalid(field, "is required")),
        }
    }
    match obj.get_mut("criteria") {
        None => {
            return Err(Error::invalid(
                "criteria",
                "is required (an object with \"narrative\" and/or \"id\")",
            ));
        }
        Some(Value::String(s)) => {
            let narrative = s.clone();
            obj.insert("criteria".into(), json!({"narrative": narrative}));
        }
        Some(Value::Object(c)) => {
            let has = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.trim().is_empty())
            };
            if !has("narrative") && !has("id") {
                return Err(Error::invalid(
                    "criteria",
                    "needs a \"narrative\" or an \"id\" (a URL describing the criteria)",
                ));
            }
            if let Some(cid) = c.get("id").and_then(Value::as_str) {
                super::validate_http_url(cid).map_err(|m| Error::invalid("criteria.id", &m))?;
            }
        }
        Some(_) => return Err(Error::invalid("criteria", "must be an object")),
    }
    if let Some(img) = obj.get("image") {
        let img = image_from_input(img).map_err(|m| Error::invalid("image", &m))?;
        obj.insert(
            "image".into(),
            serde_json::to_value(img).map_err(|e| Error::invalid("image", &e.to_string()))?,
        );
    }
    if let Some(t) = obj.get("achievementType") {
        match t.as_str() {
            Some(s) if is_achievement_type(s) => {}
            _ => {
                return Err(Error::invalid(
                    "achievementType",
                    &format!(
                        "{t} is not in the Open Badges AchievementType vocabulary (Badge, Certification, Competency, ...) and is not an extension term \"ext:Name\""
                    ),
                ));
            }
        }
    }
    if let Some(tags) = obj.get("tag") {
        let ok = tags.as_array().is_some_and(|a| {
            a.iter()
                .all(|t| t.as_str().is_some_and(|s| !s.trim().is_empty()))
        });
        if !ok {
            return Err(Error::invalid(
                "tag",
                "must be an array of non-empty strings",
            ));
        }
    }
    add_types(&mut obj, "alignment", json!(["Alignment"]));
    add_types(&mut obj, "related", json!(["Related"]));
    add_types(&mut obj, "otherIdentifier", json!("IdentifierEntry"));
    if let Some(Value::Array(rds)) = obj.get_mut("resultDescription") {
        for rd in rds.iter_mut().filter_map(Value::as_object_mut) {
            rd.entry("type").or_insert(json!(["ResultDescription"]));
            rd.entry("id")
                .or_insert_with(|| json!(format!("urn:uuid:{}", uuid::Uuid::new_v4())));
            add_types(rd, "alignment", json!(["Alignment"]));
            if let Some(Value::Array(levels)) = rd.get_mut("rubricCriterionLevel") {
                for l in levels.iter_mut().filter_map(Value::as_object_mut) {
                    l.entry("type").or_insert(json!(["RubricCriterionLevel"]));
                    l.entry("id")
                        .or_insert_with(|| json!(format!("urn:uuid:{}", uuid::Uuid::new_v4())));
                    add_types(l, "alignment", json!(["Alignment"]));
                }
            }
        }
    }
    if let Some(Value::Object(c)) = obj.get_mut("creator") {
        c.entry("type").or_insert(json!(["Profile"]));
    }
    if let Some(Value::Array(alignments)) = obj.get("alignment") {
        for (i, a) in alignments.iter().enumerate() {
            if let Some(u) = a.get("targetUrl").and_then(Value::as_str) {
                super::validate_http_url(u)
                    .map_err(|m| Error::invalid(&format!("alignment[{i}].targetUrl"), &m))?;
            }
        }
    }

    let doc = Value::Object(obj);
    let unknown = schema::unknown_members("Achievement", &doc);
    if !unknown.is_empty() {
        return Err(Error::Schema(unknown));
    }
    if let Err(violations) = schema::check_achievement(&doc) {
        return Err(Error::Schema(violations));
    }
    serde_json::from_value(doc).map_err(|e| Error::invalid("body", &e.to_string()))
}

fn add_types(obj: &mut Map<String, Value>, field: &str, t: Value) {
    if let Some(Value::Array(items)) = obj.get_mut(field) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.entry("type").or_insert_with(|| t.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "https://badges.example.edu/achievements/1";

    #[test]
    fn minimal_input_becomes_a_schema_valid_achievement() {
        let a = achievement_from_input(
            &json!({"name": "Cloud Practitioner", "description": "Knows the cloud", "criteria": {"narrative": "Pass the exam"}}),
            ID,
        )
        .expect("valid");
        assert_eq!(a.id, ID);
        assert!(a.type_.contains("Achievement"));
        assert_eq!(a.criteria.narrative.as_deref(), Some("Pass the exam"));
    }

    #[test]
    fn shorthands_are_expanded_into_the_spec_form() {
        let a = achievement_from_input(
            &json!({
                "name": "Architect", "description": "Designs systems", "criteria": "Build three systems",
                "achievementType": "ext:Proficiency",
                "tags": ["cloud", "architecture"],
                "image": "https://badges.example.edu/architect.png",
                "alignment": [{"targetName": "ESCO cloud", "targetUrl": "https://esco.example/c/1", "targetType": "CFItem"}],
                "resultDescription": [{"name": "Score", "resultType": "Percent"}],
                "inLanguage": "en", "version": "2", "humanCode": "ARC-200"
            }),
            ID,
        )
        .expect("valid");
        assert_eq!(a.tag, Some(vec!["cloud".into(), "architecture".into()]));
        assert_eq!(a.image.as_ref().map(|i| i.type_.as_str()), Some("Image"));
        assert_eq!(a.criteria.narrative.as_deref(), Some("Build three systems"));
        let rd = &a.result_description.as_ref().expect("rd")[0];
        assert!(rd.id.starts_with("urn:uuid:"));
        assert!(
            a.alignment.as_ref().expect("al")[0]
                .type_
                .contains("Alignment")
        );
    }

    #[test]
    fn missing_or_bad_fields_get_clear_messages() {
        let cases = [
            (
                json!({"description": "d", "criteria": {"narrative": "n"}}),
                "name",
            ),
            (
                json!({"name": " ", "description": "d", "criteria": {"narrative": "n"}}),
                "name",
            ),
            (json!({"name": "n", "description": "d"}), "criteria"),
            (
                json!({"name": "n", "description": "d", "criteria": {}}),
                "criteria",
            ),
            (
                json!({"name": "n", "description": "d", "criteria": "c", "achievementType": "Skill"}),
                "achievementType",
            ),
            (
                json!({"name": "n", "description": "d", "criteria": "c", "id": "https://evil.example/x"}),
                "id",
            ),
            (
                json!({"name": "n", "description": "d", "criteria": "c", "type": "Badge"}),
                "type",
            ),
            (
                json!({"name": "n", "description": "d", "criteria": "c", "tags": [1]}),
                "tag",
            ),
            (
                json!({"name": "n", "description": "d", "criteria": "c", "image": "javascript:x"}),
                "image",
            ),
        ];
        for (input, field) in cases {
            let err = achievement_from_input(&input, ID).expect_err("invalid");
            assert!(err.to_string().starts_with(field), "{field}: {err}");
        }
    }

    #[test]
    fn schema_violations_in_nested_classes_are_reported() {
        let err = achievement_from_input(
            &json!({"name": "n", "description": "d", "criteria": "c", "alignment": [{"targetName": "x"}]}),
            ID,
        )
        .expect_err("invalid");
        assert!(matches!(err, Error::Schema(_)), "{err}");
        assert!(err.to_string().contains("targetUrl"), "{err}");
    }
}
