//! The Open Badges 3.0 data model, as typed serde structs named as the spec names them.
//!
//! Spec: 1EdTech Open Badges Specification v3.0 (document v1.2), §B "Data Models"
//! (<https://www.imsglobal.org/spec/ob/v3p0/#data-models>), on the W3C Verifiable
//! Credentials Data Model 2.0 (<https://www.w3.org/TR/vc-data-model-2.0/>).
//!
//! Every struct keeps properties it does not name in `extra`, so extensions and
//! properties of later spec revisions survive a round trip unchanged; every property
//! that the spec allows as "one or many" keeps the form it arrived in.

pub mod ob;
pub mod schema;
pub mod vcdm;

pub use ob::*;

use serde::{Deserialize, Serialize};

/// The JSON-LD context of VCDM 2.0 (must come first).
pub const VCDM2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The Open Badges 3.0 context named by spec document v1.2.
pub const OB3_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// A property that may hold one value or an array of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value, as it appeared.
    One(T),
    /// An array, as it appeared.
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    /// Iterates over the values, whichever form they came in.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        match self {
            OneOrMany::One(t) => std::slice::from_ref(t).iter(),
            OneOrMany::Many(v) => v.iter(),
        }
    }
}

impl OneOrMany<String> {
    /// Whether any of the values equals `s`.
    pub fn contains(&self, s: &str) -> bool {
        self.iter().any(|t| t == s)
    }
}

impl<T> From<Vec<T>> for OneOrMany<T> {
    fn from(v: Vec<T>) -> Self {
        OneOrMany::Many(v)
    }
}

/// `type: [...]` with the given values.
pub fn types(names: &[&str]) -> OneOrMany<String> {
    OneOrMany::Many(names.iter().map(|s| (*s).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn text() -> impl Strategy<Value = String> {
        "[ -~\u{e9}\u{4e2d}]{0,24}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any Achievement built from arbitrary text survives JSON and back unchanged,
        /// including extension members and both forms of `type`.
        #[test]
        fn achievements_round_trip_through_json(
            name in text(), description in text(), narrative in proptest::option::of(text()),
            tags in proptest::option::of(proptest::collection::vec(text(), 0..4)),
            credits in proptest::option::of(0u32..1000),
            ext_key in "[a-z]{1,8}", ext_val in text(), one_type in any::<bool>(),
        ) {
            let mut doc = json!({
                "id": "https://badges.example.edu/achievements/1",
                "type": if one_type { json!("Achievement") } else { json!(["Achievement"]) },
                "name": name, "description": description,
                "criteria": {"narrative": narrative},
            });
            if narrative.is_none() {
                doc["criteria"] = json!({});
            }
            if let Some(t) = tags { doc["tag"] = json!(t); }
            if let Some(c) = credits { doc["creditsAvailable"] = json!(c); }
            doc[format!("x-{ext_key}")] = json!(ext_val);
            let typed: Achievement = serde_json::from_value(doc.clone()).expect("parses");
            let back: Value = serde_json::to_value(&typed).expect("serialises");
            prop_assert_eq!(back, doc);
        }
    }
}
