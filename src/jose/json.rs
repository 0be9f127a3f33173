//! Strict JSON for security-relevant documents.
//!
//! `serde_json::Value` keeps the last of duplicate members silently, so
//! `{"alg":"ES256","alg":"none"}` would mean different things to different parsers.
//! JOSE headers and JWT payloads are parsed here instead, where any duplicate member
//! at any depth is an error (RFC 7515 §5.2 step 4 allows exactly this choice).

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a strict parse failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrictError {
    /// The same member name appears twice in one object.
    Duplicate(String),
    /// Not JSON at all (or nested deeper than serde_json's limit).
    Syntax(String),
}

/// Parses `bytes` as JSON, rejecting duplicate object members anywhere.
pub fn from_slice_strict(bytes: &[u8]) -> Result<Value, StrictError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed.deserialize(&mut de).map_err(classify)?;
    de.end().map_err(classify)?;
    Ok(value)
}

const DUP_PREFIX: &str = "duplicate member ";

fn classify(e: serde_json::Error) -> StrictError {
    let msg = e.to_string();
    match msg.strip_prefix(DUP_PREFIX) {
        Some(rest) => {
            let name = rest.split(" at line").next().unwrap_or(rest);
            StrictError::Duplicate(name.trim_matches('"').to_owned())
        }
        None => StrictError::Syntax(msg),
    }
}

struct StrictSeed;

impl<'de> DeserializeSeed<'de> for StrictSeed {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        StrictSeed.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(StrictSeed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // serde_json's `arbitrary_precision` (which the Data Integrity stack turns
            // on) hands a number over as a map of this one member holding its text.
            if out.is_empty() && key == NUMBER_TOKEN {
                let text: String = map.next_value()?;
                let n: serde_json::Number = text.parse().map_err(de::Error::custom)?;
                return Ok(Value::Number(n));
            }
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!("{DUP_PREFIX}\"{key}\"")));
            }
            let v = map.next_value_seed(StrictSeed)?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// How serde_json names a number it passes on whole (`arbitrary_precision`).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// A JSON value that was parsed strictly; usable as a serde field type.
#[derive(Debug, Clone, PartialEq)]
pub struct StrictValue(pub Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        StrictSeed.deserialize(d).map(StrictValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicate_member_at_top_level_is_rejected() {
        let err = from_slice_strict(br#"{"alg":"ES256","alg":"none"}"#).expect_err("dup");
        assert_eq!(err, StrictError::Duplicate("alg".into()));
    }

    #[test]
    fn duplicate_member_deep_inside_is_rejected() {
        let err = from_slice_strict(br#"{"a":[{"b":{"c":1,"c":2}}]}"#).expect_err("dup");
        assert_eq!(err, StrictError::Duplicate("c".into()));
    }

    #[test]
    fn ordinary_json_parses_to_the_same_value_as_serde_json() {
        let text = br#"{"a":1,"b":[true,null,"x",-2,1.5],"c":{"d":{}}}"#;
        let strict = from_slice_strict(text).expect("parses");
        let plain: Value = serde_json::from_slice(text).expect("parses");
        assert_eq!(strict, plain);
        assert_eq!(strict["b"][4], json!(1.5));
    }

    #[test]
    fn trailing_garbage_and_deep_nesting_are_syntax_errors() {
        assert!(matches!(
            from_slice_strict(b"{} x"),
            Err(StrictError::Syntax(_))
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(matches!(
            from_slice_strict(deep.as_bytes()),
            Err(StrictError::Syntax(_))
        ));
    }

    #[test]
    fn strict_value_works_as_a_field() {
        #[derive(Deserialize)]
        struct Body {
            v: StrictValue,
        }
        let ok: Body = serde_json::from_str(r#"{"v":{"a":1}}"#).expect("parses");
        assert_eq!(ok.v.0, json!({"a":1}));
        assert!(serde_json::from_str::<Body>(r#"{"v":{"a":1,"a":2}}"#).is_err());
    }
}
