//! The trust registry's entries: the issuers this service vouches for or refuses.
//! The registry itself (lookups, imports, the rule that blocking wins):
//! [`crate::trust`].

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Invalid, short};
use crate::did::Did;

/// The longest issuer id accepted (as for DIDs, [`crate::did::MAX_DID_LEN`]).
pub const MAX_ID_LEN: usize = 2048;

/// An issuer id as badges state it: a DID (`did:<method>:<method-specific-id>`, DID
/// Core §3.1) or an absolute `https` URL. Plain `http` is accepted only for
/// `localhost`, `127.0.0.1` and `[::1]` (local development).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
pub struct IssuerId(String);

impl IssuerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for IssuerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for IssuerId {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let shown = short(s);
        if s.len() > MAX_ID_LEN {
            return Err(Invalid(format!(
                "issuer id {shown:?} is longer than {MAX_ID_LEN} bytes"
            )));
        }
        if s.starts_with("did:") {
            return s
                .parse::<Did>()
                .map(|d| IssuerId(d.as_str().to_owned()))
                .map_err(|_| {
                    Invalid(format!(
                        "issuer id {shown:?} is not a DID: expected did:<method>:<method-specific-id>"
                    ))
                });
        }
        let url = url::Url::parse(s).map_err(|_| {
            Invalid(format!(
                "issuer id {shown:?} is neither a DID (did:<method>:<id>) nor an absolute https URL"
            ))
        })?;
        let local = matches!(
            url.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        );
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            "http" => {
                return Err(Invalid(format!(
                    "issuer id {shown:?} uses http; only https URLs identify issuers (http only for localhost)"
                )));
            }
            other => {
                return Err(Invalid(format!(
                    "issuer id {shown:?} has the scheme {other:?}; expected a DID or an https URL"
                )));
            }
        }
        if url.host().is_none() {
            return Err(Invalid(format!("issuer id {shown:?} has no host")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Invalid(format!(
                "issuer id {shown:?} carries credentials; an issuer URL has none"
            )));
        }
        Ok(IssuerId(s.to_owned()))
    }
}

impl TryFrom<String> for IssuerId {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        s.parse()
    }
}

impl From<IssuerId> for String {
    fn from(id: IssuerId) -> String {
        id.0
    }
}

/// Whether the registry vouches for an issuer or refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Trusted,
    Blocked,
}

/// Where an entry came from. Serialised as `admin`, `file:<path>` or
/// `import:<registry name>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub enum Source {
    /// Set through the admin API.
    Admin,
    /// The `--trust-registry` file at this path.
    File(String),
    /// An imported registry of this name.
    Import(String),
}

impl TryFrom<String> for Source {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        if s == "admin" {
            Ok(Source::Admin)
        } else if let Some(p) = s.strip_prefix("file:") {
            Ok(Source::File(p.to_owned()))
        } else if let Some(n) = s.strip_prefix("import:") {
            Ok(Source::Import(n.to_owned()))
        } else {
            Err(Invalid(format!("unknown entry source {s:?}")))
        }
    }
}

impl From<Source> for String {
    fn from(s: Source) -> String {
        match s {
            Source::Admin => "admin".into(),
            Source::File(p) => format!("file:{p}"),
            Source::Import(n) => format!("import:{n}"),
        }
    }
}

/// One registry entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The issuer id exactly as badges state it.
    pub id: IssuerId,
    /// The name a verifier shows: the registry's, never the badge's.
    pub name: String,
    pub website: Option<String>,
    /// An https URL or a `data:image/...` URI.
    pub logo: Option<String>,
    /// Free text (DCC registries give a city and country).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub status: Status,
    pub source: Source,
    #[serde(with = "crate::clock::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "crate::clock::rfc3339")]
    pub updated_at: OffsetDateTime,
}
