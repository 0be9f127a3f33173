//! Sharing a badge: "Add to LinkedIn" (LinkedIn's add-to-profile link for a
//! certification), share links, and the e-mail signature and embed snippets.
//!
//! The add-to-profile link is `https://www.linkedin.com/profile/add` with
//! `startTask=CERTIFICATION_NAME`, `name` (the achievement), `organizationId` when the
//! issuer profile has a LinkedIn organisation id and `organizationName` otherwise,
//! `issueYear`/`issueMonth` (month 1–12, unpadded) from `validFrom` in UTC,
//! `expirationYear`/`expirationMonth` from `validUntil` when the badge expires,
//! `certUrl` (the badge page) and `certId` (the credential's uuid).

use time::OffsetDateTime;
use url::form_urlencoded::Serializer;

/// What an add-to-profile link names.
#[derive(Debug, Clone)]
pub struct Certification<'a> {
    pub name: &'a str,
    pub organization_name: &'a str,
    pub organization_id: Option<&'a str>,
    pub issued: OffsetDateTime,
    pub expires: Option<OffsetDateTime>,
    pub page_url: &'a str,
    pub cert_id: &'a str,
}

/// LinkedIn's "Add to profile" link for a certification.
pub fn linkedin_add(c: &Certification<'_>) -> String {
    let mut q = Serializer::new(String::new());
    q.append_pair("startTask", "CERTIFICATION_NAME");
    q.append_pair("name", c.name);
    match c.organization_id {
        Some(id) => q.append_pair("organizationId", id),
        None => q.append_pair("organizationName", c.organization_name),
    };
    let issued = c.issued.to_offset(time::UtcOffset::UTC);
    q.append_pair("issueYear", &issued.year().to_string());
    q.append_pair("issueMonth", &u8::from(issued.month()).to_string());
    if let Some(e) = c.expires {
        let e = e.to_offset(time::UtcOffset::UTC);
        q.append_pair("expirationYear", &e.year().to_string());
        q.append_pair("expirationMonth", &u8::from(e.month()).to_string());
    }
    q.append_pair("certUrl", c.page_url);
    q.append_pair("certId", c.cert_id);
    format!("https://www.linkedin.com/profile/add?{}", q.finish())
}

/// A share link of one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareLink {
    /// `linkedin`, `x`, `facebook`, `email`.
    pub network: &'static str,
    pub label: &'static str,
    pub href: String,
}

fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    q.finish()
}

/// Share links for a page with a title.
pub fn share_links(page_url: &str, text: &str) -> Vec<ShareLink> {
    vec![
        ShareLink {
            network: "linkedin",
            label: "LinkedIn",
            href: format!(
                "https://www.linkedin.com/sharing/share-offsite/?{}",
                query(&[("url", page_url)])
            ),
        },
        ShareLink {
            network: "x",
            label: "X",
            href: format!(
                "https://x.com/intent/post?{}",
                query(&[("text", text), ("url", page_url)])
            ),
        },
        ShareLink {
            network: "facebook",
            label: "Facebook",
            href: format!(
                "https://www.facebook.com/sharer/sharer.php?{}",
                query(&[("u", page_url)])
            ),
        },
        ShareLink {
            network: "email",
            label: "E-mail",
            // mailto wants %20 for spaces, not '+'.
            href: format!(
                "mailto:?subject={}&body={}",
                percent(text),
                percent(&format!("{text}\n{page_url}"))
            ),
        },
    ]
}

/// Percent-encodes everything but unreserved characters (RFC 3986 §2.3).
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML that is shown to be copied, not rendered by us.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An e-mail signature snippet: a small badge image and a link, with inline styles
/// (mail clients ignore style sheets) and absolute URLs.
pub fn signature_snippet(page_url: &str, image_url: &str, name: &str, issuer: &str) -> String {
    format!(
        concat!(
            r#"<table cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;font-family:Arial,Helvetica,sans-serif;">"#,
            r#"<tr><td style="padding:0 10px 0 0;vertical-align:middle;">"#,
            r#"<a href="{page}"><img src="{img}" width="64" height="64" alt="{alt}" style="display:block;border:0;width:64px;height:64px;"></a></td>"#,
            r#"<td style="vertical-align:middle;font-size:13px;line-height:1.4;color:#1b1f24;">"#,
            r#"<a href="{page}" style="color:#0b57d0;font-weight:bold;text-decoration:none;">{name}</a><br>"#,
            r#"<span style="color:#57606a;">Verified badge from {issuer}</span></td></tr></table>"#
        ),
        page = esc(page_url),
        img = esc(image_url),
        alt = esc(&format!("{name} badge")),
        name = esc(name),
        issuer = esc(issuer),
    )
}

/// An embed snippet: the badge's embed view in an iframe.
pub fn embed_snippet(embed_url: &str, name: &str) -> String {
    format!(
        r#"<iframe src="{}" title="{}" width="340" height="420" style="border:0;" loading="lazy"></iframe>"#,
        esc(embed_url),
        esc(&format!("{name} badge")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn cert() -> Certification<'static> {
        Certification {
            name: "Cloud Architect & Security",
            organization_name: "Northwind Institute",
            organization_id: None,
            issued: datetime!(2026-03-05 23:30 -02:00),
            expires: Some(datetime!(2028-11-30 12:00 UTC)),
            page_url: "https://badges.example/badges/0190f0c0-0000-7000-8000-000000000001",
            cert_id: "0190f0c0-0000-7000-8000-000000000001",
        }
    }

    fn params(url: &str) -> Vec<(String, String)> {
        let u = url::Url::parse(url).expect("url");
        u.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn add_to_linkedin_names_the_certification_with_utc_months_unpadded() {
        let p = params(&linkedin_add(&cert()));
        let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("startTask"), Some("CERTIFICATION_NAME"));
        assert_eq!(get("name"), Some("Cloud Architect & Security"));
        assert_eq!(get("organizationName"), Some("Northwind Institute"));
        assert_eq!(get("organizationId"), None);
        // 23:30 at -02:00 is 01:30 UTC on 6 March.
        assert_eq!(get("issueYear"), Some("2026"));
        assert_eq!(get("issueMonth"), Some("3"));
        assert_eq!(get("expirationYear"), Some("2028"));
        assert_eq!(get("expirationMonth"), Some("11"));
        assert_eq!(get("certUrl"), Some(cert().page_url));
        assert_eq!(get("certId"), Some(cert().cert_id));
    }

    #[test]
    fn an_organisation_id_replaces_the_name_and_no_expiry_leaves_it_out() {
        let mut c = cert();
        c.organization_id = Some("1337");
        c.expires = None;
        let p = params(&linkedin_add(&c));
        assert!(p.contains(&("organizationId".into(), "1337".into())));
        assert!(
            !p.iter()
                .any(|(k, _)| k == "organizationName" || k.starts_with("expiration"))
        );
    }

    #[test]
    fn share_links_carry_the_page_url_and_mail_has_no_plus_signs() {
        let links = share_links("https://b.example/badges/x", "My badge: A & B");
        assert_eq!(links.len(), 4);
        for l in &links {
            assert!(
                l.href.contains("https%3A%2F%2Fb.example%2Fbadges%2Fx"),
                "{}: {}",
                l.network,
                l.href
            );
        }
        let mail = &links[3].href;
        assert!(
            mail.starts_with("mailto:?subject=My%20badge%3A%20A%20%26%20B"),
            "{mail}"
        );
    }

    #[test]
    fn snippets_escape_what_they_quote() {
        let s = signature_snippet(
            "https://b.example/p?a=1&b=2",
            "https://b.example/i.png",
            "<b>x</b>",
            "O'Neil",
        );
        assert!(s.contains("https://b.example/p?a=1&amp;b=2"));
        assert!(!s.contains("<b>x</b>"));
        assert!(s.contains("O&#39;Neil"));
        let e = embed_snippet("https://b.example/e\"x", "n");
        assert!(e.contains("e&quot;x"));
    }
}
