//! The issuer Profile (OB 3.0 §B.1.4) that every badge names as its `issuer`, and that
//! OpenID4VCI `display` shows to earners. Staff set its human parts; its `id` is always
//! the service's DID.

use super::{Error, image_from_input, validate_http_url};
use crate::model::{Profile, types};

pub use crate::records::profile::IssuerProfile;

impl IssuerProfile {
    /// The profile used until staff set one: the public URL's host as the name.
    pub fn default_for(public_url: &url::Url) -> Self {
        Self {
            name: public_url.host_str().unwrap_or("accolade").to_owned(),
            url: Some(public_url.as_str().trim_end_matches('/').to_owned()),
            ..Self::default()
        }
    }

    /// Checks and normalises staff input.
    pub fn validated(mut self) -> Result<Self, Error> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() {
            return Err(Error::invalid("name", "must not be empty"));
        }
        if self.name.chars().count() > 200 {
            return Err(Error::invalid("name", "must be at most 200 characters"));
        }
        if let Some(u) = &self.url {
            validate_http_url(u).map_err(|m| Error::invalid("url", &m))?;
        }
        if let Some(e) = self.email.take() {
            self.email = Some(super::normalise_email(&e).map_err(|m| Error::invalid("email", &m))?);
        }
        if let Some(img) = self.image.take() {
            let img = image_from_input(&img).map_err(|m| Error::invalid("image", &m))?;
            self.image = Some(
                serde_json::to_value(img).map_err(|e| Error::invalid("image", &e.to_string()))?,
            );
        }
        for (field, colour) in [
            ("primary_color", &mut self.primary_color),
            ("accent_color", &mut self.accent_color),
        ] {
            if let Some(c) = colour.take() {
                *colour = Some(normalise_colour(&c).ok_or_else(|| {
                    Error::invalid(field, "must be a colour written #rgb or #rrggbb")
                })?);
            }
        }
        if let Some(id) = self.linkedin_organization_id.take() {
            let id = id.trim();
            if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Error::invalid(
                    "linkedin_organization_id",
                    "must be the organisation's numeric LinkedIn id",
                ));
            }
            self.linkedin_organization_id = Some(id.to_owned());
        }
        if let Some(h) = self.wallet_help.take() {
            let h = h.trim();
            if h.chars().count() > crate::records::profile::WALLET_HELP_MAX {
                return Err(Error::invalid(
                    "wallet_help",
                    &format!(
                        "may be at most {} characters",
                        crate::records::profile::WALLET_HELP_MAX
                    ),
                ));
            }
            self.wallet_help = (!h.is_empty()).then(|| h.to_owned());
        }
        Ok(self)
    }

    /// The OB 3.0 Profile for badges: `id` is the issuer DID.
    pub fn to_profile(&self, did: &str) -> Profile {
        Profile {
            id: did.to_owned(),
            type_: types(&["Profile"]),
            name: Some(self.name.clone()),
            url: self.url.clone(),
            phone: None,
            description: self.description.clone(),
            endorsement: None,
            endorsement_jwt: None,
            image: self
                .image
                .as_ref()
                .and_then(|v| serde_json::from_value(v.clone()).ok()),
            email: self.email.clone(),
            address: None,
            other_identifier: None,
            official: None,
            parent_org: None,
            family_name: None,
            given_name: None,
            additional_name: None,
            patronymic_name: None,
            honorific_prefix: None,
            honorific_suffix: None,
            family_name_prefix: None,
            date_of_birth: None,
            extra: Default::default(),
        }
    }
}

/// `#rgb` or `#rrggbb` (any case) as lower-case `#rrggbb`.
pub fn normalise_colour(s: &str) -> Option<String> {
    let hex = s.trim().strip_prefix('#')?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let full = match hex.len() {
        3 => hex.chars().flat_map(|c| [c, c]).collect::<String>(),
        6 => hex.to_owned(),
        _ => return None,
    };
    Some(format!("#{}", full.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_valid_profile_is_normalised_and_passes_the_profile_schema() {
        let p: IssuerProfile = serde_json::from_value(json!({
            "name": "  Example Cloud Academy ",
            "url": "https://academy.example.com",
            "email": "Badges@Example.com",
            "image": "https://academy.example.com/logo.png"
        }))
        .expect("parses");
        let p = p.validated().expect("valid");
        assert_eq!(p.name, "Example Cloud Academy");
        assert_eq!(p.email.as_deref(), Some("badges@example.com"));
        assert_eq!(
            p.image,
            Some(json!({"id": "https://academy.example.com/logo.png", "type": "Image"}))
        );
        let profile =
            serde_json::to_value(p.to_profile("did:web:academy.example.com")).expect("json");
        crate::model::schema::check_profile(&profile).expect("schema-valid");
    }

    #[test]
    fn page_settings_are_normalised_and_never_reach_the_badge_profile() {
        let p: IssuerProfile = serde_json::from_value(json!({
            "name": "Northwind",
            "primary_color": "#1D4E89",
            "accent_color": "#fa0",
            "linkedin_organization_id": " 1337 ",
            "default_visibility": "hidden",
            "wallet_help": "  Works with **any** OpenID4VCI wallet.  "
        }))
        .expect("parses");
        let p = p.validated().expect("valid");
        assert_eq!(p.primary_color.as_deref(), Some("#1d4e89"));
        assert_eq!(p.accent_color.as_deref(), Some("#ffaa00"));
        assert_eq!(p.linkedin_organization_id.as_deref(), Some("1337"));
        assert_eq!(
            p.wallet_help.as_deref(),
            Some("Works with **any** OpenID4VCI wallet.")
        );
        let badge = serde_json::to_value(p.to_profile("did:web:x")).expect("json");
        for k in [
            "primary_color",
            "accent_color",
            "linkedin_organization_id",
            "default_visibility",
            "wallet_help",
        ] {
            assert!(badge.get(k).is_none(), "{k} leaked into the badge profile");
        }
    }

    #[test]
    fn bad_profiles_get_field_messages() {
        for (body, field) in [
            (json!({"name": ""}), "name"),
            (json!({"name": "x", "url": "ftp://x"}), "url"),
            (json!({"name": "x", "email": "nope"}), "email"),
            (
                json!({"name": "x", "image": "javascript:alert(1)"}),
                "image",
            ),
            (
                json!({"name": "x", "primary_color": "blue"}),
                "primary_color",
            ),
            (
                json!({"name": "x", "accent_color": "#12345"}),
                "accent_color",
            ),
            (
                json!({"name": "x", "linkedin_organization_id": "acme"}),
                "linkedin_organization_id",
            ),
        ] {
            let p: IssuerProfile = serde_json::from_value(body).expect("parses");
            let err = p.validated().expect_err("invalid");
            assert!(err.to_string().starts_with(field), "{err}");
        }
    }
}
