//! An earner as this issuer knows them: the identity their awards name, the public
//! profile they publish, and the generation of their private manage link.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Invalid;

/// The shortest and longest profile handle.
pub const HANDLE_MIN: usize = 3;
pub const HANDLE_MAX: usize = 40;

/// A profile handle: 3 to 40 characters of `[a-z0-9-]`, not starting or ending with
/// `-`. The earner picks it; it is the last segment of `/profiles/{handle}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Handle(String);

impl Handle {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Handle {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        let ok_chars = s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(HANDLE_MIN..=HANDLE_MAX).contains(&s.len()) {
            return Err(Invalid(format!(
                "a profile name has {HANDLE_MIN} to {HANDLE_MAX} characters"
            )));
        }
        if !ok_chars {
            return Err(Invalid(
                "a profile name uses only lower-case letters a–z, digits and hyphens".into(),
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(Invalid(
                "a profile name does not start or end with a hyphen".into(),
            ));
        }
        Ok(Handle(s))
    }
}

impl std::str::FromStr for Handle {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        Handle::try_from(s.trim().to_ascii_lowercase())
    }
}

impl From<Handle> for String {
    fn from(h: Handle) -> String {
        h.0
    }
}

impl std::fmt::Display for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the service keeps about one earner. Absent until the earner (or an admin)
/// first changes something: an earner with no record has generation 0, no handle and
/// nothing published.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarnerRecord {
    /// `mailto:<normalised e-mail>`, or the DID (or other IRI) of awards that name no
    /// e-mail address.
    pub identity: String,
    #[serde(default)]
    pub handle: Option<Handle>,
    /// Whether `/profiles/{handle}` is shown.
    #[serde(default)]
    pub published: bool,
    /// Awards (their uuids) the earner left off the published profile.
    #[serde(default)]
    pub excluded: Vec<Uuid>,
    /// A line under the earner's name on the profile.
    #[serde(default)]
    pub headline: Option<String>,
    /// Bumped when the manage link is renewed: links of earlier generations stop
    /// working.
    #[serde(default)]
    pub generation: u32,
}

impl EarnerRecord {
    /// The record an earner has before anything was changed.
    pub fn new(identity: String) -> Self {
        Self {
            identity,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_checked_and_normalised() {
        assert_eq!(
            "Ada-L".parse::<Handle>().expect("test value").as_str(),
            "ada-l"
        );
        for bad in ["ab", "-ada", "ada-", "ada lovelace", "adá", &"a".repeat(41)] {
            assert!(bad.parse::<Handle>().is_err(), "{bad:?} accepted");
        }
        assert!("a1-b2".parse::<Handle>().is_ok());
        let json = serde_json::to_string(&"ada".parse::<Handle>().expect("test value"))
            .expect("test value");
        assert_eq!(json, "\"ada\"");
        assert!(serde_json::from_str::<Handle>("\"A B\"").is_err());
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = EarnerRecord {
            identity: "mailto:ada@example.org".into(),
            handle: Some("ada".parse().expect("test value")),
            published: true,
            excluded: vec![Uuid::nil()],
            headline: Some("Cloud engineer".into()),
            generation: 3,
        };
        let back: EarnerRecord =
            serde_json::from_slice(&serde_json::to_vec(&r).expect("test value"))
                .expect("test value");
        assert_eq!(back, r);
    }
}
