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

pub use ob::*;

use serde::{Deserialize, Serialize};

/// The JSON-LD context of VCDM 2.0 (must come first).
pub const VCDM2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
/// The Open Badges 3.0 context named by spec document v1.2.
pub const OB3_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// A property that may hold one value or an array of values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
