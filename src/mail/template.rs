//! Message templates: a subject, a text body and an HTML body with `{{placeholder}}`s.
//! Values are inserted as they are into the subject and text body (with line breaks
//! removed from the subject) and HTML-escaped into the HTML body, so a name such as
//! `<script>` reaches the earner as text.

use std::collections::BTreeMap;

use crate::records::{MailTemplate, TemplateKind};

/// The placeholders a template of `kind` may use.
pub fn placeholders(kind: TemplateKind) -> &'static [&'static str] {
    const AWARD: &[&str] = &[
        "earner_name",
        "achievement_name",
        "achievement_description",
        "issuer_name",
        "issuer_url",
        "claim_url",
        "earner_url",
        "tx_code_hint",
        "valid_until",
        "days",
        "unsubscribe_url",
    ];
    const STAFF: &[&str] = &[
        "name",
        "email",
        "role",
        "issuer_name",
        "link_url",
        "expires_at",
    ];
    const TEST: &[&str] = &["issuer_name", "sent_at"];
    match kind {
        TemplateKind::Award | TemplateKind::UnclaimedReminder | TemplateKind::ExpiryReminder => {
            AWARD
        }
        TemplateKind::Invitation | TemplateKind::PasswordReset => STAFF,
        TemplateKind::Test => TEST,
    }
}

/// A template that does not fit its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

/// Checks that every placeholder is known and every `{{` closed, and the sizes.
pub fn check(kind: TemplateKind, t: &MailTemplate) -> Result<(), Invalid> {
    let allowed = placeholders(kind);
    for (field, text, max) in [
        ("subject", &t.subject, 300),
        ("text", &t.text, 64 * 1024),
        ("html", &t.html, 256 * 1024),
    ] {
        if text.trim().is_empty() {
            return Err(Invalid {
                field,
                message: "is empty".into(),
            });
        }
        if text.len() > max {
            return Err(Invalid {
                field,
                message: format!("is longer than {max} bytes"),
            });
        }
        let mut rest = text.as_str();
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                return Err(Invalid {
                    field,
                    message: "has a {{ without its }}".into(),
                });
            };
            let name = after[..j].trim();
            if !allowed.contains(&name) {
                return Err(Invalid {
                    field,
                    message: format!(
                        "{{{{{name}}}}} is not a placeholder of this template; it may use {}",
                        allowed.join(", ")
                    ),
                });
            }
            rest = &after[j + 2..];
        }
    }
    Ok(())
}

fn escape_html(s: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(s.len());
    // `&`, `<`, `>` and `"`: enough for text and for double-quoted attributes.
    let _ = maud::Escaper::new(&mut out).write_str(s);
    out
}

fn fill(text: &str, values: &BTreeMap<&str, String>, esc: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        match after.find("}}") {
            Some(j) => {
                let name = after[..j].trim();
                if let Some(v) = values.get(name) {
                    out.push_str(&esc(v));
                }
                rest = &after[j + 2..];
            }
            None => {
                out.push_str(&rest[i..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Fills a template.
pub fn render(t: &MailTemplate, values: &BTreeMap<&str, String>) -> Rendered {
    let subject = fill(&t.subject, values, |s| s.to_owned())
        .replace(['\r', '\n'], " ")
        .trim()
        .to_owned();
    Rendered {
        subject,
        text: fill(&t.text, values, |s| s.to_owned()),
        html: fill(&t.html, values, escape_html),
    }
}

fn html_page(body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\n\
<body style=\"margin:0;padding:24px;background:#f4f5f7;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2330;line-height:1.5\">\n\
<div style=\"max-width:560px;margin:0 auto;background:#ffffff;border-radius:12px;padding:28px\">\n{body}\n</div></body></html>\n"
    )
}

const BUTTON: &str = "display:inline-block;background:#1f4fd1;color:#ffffff;text-decoration:none;padding:12px 20px;border-radius:8px;font-weight:600";

/// The template used when the issuer has not set one.
pub fn default_template(kind: TemplateKind) -> MailTemplate {
    let t = |subject: &str, text: &str, html: &str| MailTemplate {
        subject: subject.into(),
        text: text.into(),
        html: html_page(html),
    };
    let footer_text = "\n--\nYou get this message because {{issuer_name}} awarded you a badge.\nNo more reminders about this badge: {{unsubscribe_url}}\n";
    let footer_html = "<p style=\"font-size:13px;color:#5b6475;border-top:1px solid #e3e6ec;padding-top:12px;margin-top:24px\">You get this message because {{issuer_name}} awarded you a badge. <a href=\"{{unsubscribe_url}}\" style=\"color:#5b6475\">No more reminders about this badge</a>.</p>";
    match kind {
        TemplateKind::Award => t(
            "{{issuer_name}} awarded you “{{achievement_name}}”",
            &format!(
                "Hello {{{{earner_name}}}},\n\n{{{{issuer_name}}}} has awarded you the badge “{{{{achievement_name}}}}”.\n\n{{{{achievement_description}}}}\n\nClaim your badge — add it to your digital wallet, or accept it on the web:\n{{{{claim_url}}}}\n\n{{{{tx_code_hint}}}}\n\nAll your badges from {{{{issuer_name}}}}, to share or download (keep this link to yourself):\n{{{{earner_url}}}}\n{footer_text}"
            ),
            &format!(
                "<p>Hello {{{{earner_name}}}},</p>\n<p>{{{{issuer_name}}}} has awarded you the badge <strong>{{{{achievement_name}}}}</strong>.</p>\n<p style=\"color:#3b4252\">{{{{achievement_description}}}}</p>\n<p><a href=\"{{{{claim_url}}}}\" style=\"{BUTTON}\">Claim your badge</a></p>\n<p>Add it to your digital wallet, or accept it on the web.</p>\n<p>{{{{tx_code_hint}}}}</p>\n<p><a href=\"{{{{earner_url}}}}\">All your badges from {{{{issuer_name}}}}</a>, to share or download (keep this link to yourself).</p>\n{footer_html}"
            ),
        ),
        TemplateKind::UnclaimedReminder => t(
            "Your badge “{{achievement_name}}” is waiting for you",
            &format!(
                "Hello {{{{earner_name}}}},\n\n{{{{issuer_name}}}} awarded you the badge “{{{{achievement_name}}}}” {{{{days}}}} ago, and it has not been claimed yet.\n\nClaim it here:\n{{{{claim_url}}}}\n\n{{{{tx_code_hint}}}}\n\nAll your badges: {{{{earner_url}}}}\n{footer_text}"
            ),
            &format!(
                "<p>Hello {{{{earner_name}}}},</p>\n<p>{{{{issuer_name}}}} awarded you the badge <strong>{{{{achievement_name}}}}</strong> {{{{days}}}} ago, and it has not been claimed yet.</p>\n<p><a href=\"{{{{claim_url}}}}\" style=\"{BUTTON}\">Claim your badge</a></p>\n<p>{{{{tx_code_hint}}}}</p>\n<p><a href=\"{{{{earner_url}}}}\">All your badges</a></p>\n{footer_html}"
            ),
        ),
        TemplateKind::ExpiryReminder => t(
            "Your badge “{{achievement_name}}” expires in {{days}}",
            &format!(
                "Hello {{{{earner_name}}}},\n\nYour badge “{{{{achievement_name}}}}” from {{{{issuer_name}}}} is valid until {{{{valid_until}}}} — {{{{days}}}} from now.\n\nSee your badges: {{{{earner_url}}}}\n{footer_text}"
            ),
            &format!(
                "<p>Hello {{{{earner_name}}}},</p>\n<p>Your badge <strong>{{{{achievement_name}}}}</strong> from {{{{issuer_name}}}} is valid until {{{{valid_until}}}} — {{{{days}}}} from now.</p>\n<p><a href=\"{{{{earner_url}}}}\" style=\"{BUTTON}\">See your badges</a></p>\n{footer_html}"
            ),
        ),
        TemplateKind::Invitation => t(
            "You are invited to run {{issuer_name}}'s badges",
            "Hello {{name}},\n\nYou have been given a {{role}} account for {{issuer_name}}'s badges, signing in as {{email}}.\n\nChoose your password here (the link works once, until {{expires_at}}):\n{{link_url}}\n",
            &format!(
                "<p>Hello {{{{name}}}},</p>\n<p>You have been given a <strong>{{{{role}}}}</strong> account for {{{{issuer_name}}}}'s badges, signing in as {{{{email}}}}.</p>\n<p><a href=\"{{{{link_url}}}}\" style=\"{BUTTON}\">Choose your password</a></p>\n<p style=\"font-size:13px;color:#5b6475\">The link works once, until {{{{expires_at}}}}.</p>"
            ),
        ),
        TemplateKind::PasswordReset => t(
            "Reset your password for {{issuer_name}}'s badges",
            "Hello {{name}},\n\nSomeone (we hope you) asked to reset the password of {{email}}.\n\nChoose a new password here (the link works once, until {{expires_at}}):\n{{link_url}}\n\nIf it was not you, ignore this message: your password stays as it is.\n",
            &format!(
                "<p>Hello {{{{name}}}},</p>\n<p>Someone (we hope you) asked to reset the password of {{{{email}}}}.</p>\n<p><a href=\"{{{{link_url}}}}\" style=\"{BUTTON}\">Choose a new password</a></p>\n<p style=\"font-size:13px;color:#5b6475\">The link works once, until {{{{expires_at}}}}. If it was not you, ignore this message: your password stays as it is.</p>"
            ),
        ),
        TemplateKind::Test => t(
            "Test message from {{issuer_name}}'s badges",
            "This is a test message, sent at {{sent_at}}. E-mail works.\n",
            "<p>This is a test message, sent at {{sent_at}}. E-mail works.</p>",
        ),
    }
}

/// Values that show what a template looks like (the preview).
pub fn sample_values(
    kind: TemplateKind,
    issuer_name: &str,
    base: &str,
) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    v.insert("issuer_name", issuer_name.to_owned());
    match kind {
        TemplateKind::Award | TemplateKind::UnclaimedReminder | TemplateKind::ExpiryReminder => {
            v.insert("earner_name", "Ada Lovelace".into());
            v.insert("achievement_name", "Cloud Practitioner".into());
            v.insert(
                "achievement_description",
                "Knows the core services and how to use them well.".into(),
            );
            v.insert("issuer_url", base.to_owned());
            v.insert("claim_url", format!("{base}/claim/EXAMPLE"));
            v.insert("earner_url", format!("{base}/earner/EXAMPLE"));
            v.insert(
                "tx_code_hint",
                "Your wallet will ask for a 6-digit code: use the one you were given separately."
                    .into(),
            );
            v.insert("valid_until", "2028-01-01".into());
            v.insert("days", "7 days".into());
            v.insert(
                "unsubscribe_url",
                format!("{base}/mail/unsubscribe/EXAMPLE"),
            );
        }
        TemplateKind::Invitation | TemplateKind::PasswordReset => {
            v.insert("name", "Grace Hopper".into());
            v.insert("email", "grace@example.edu".into());
            v.insert("role", "issuer".into());
            v.insert("link_url", format!("{base}/admin/invitation/EXAMPLE"));
            v.insert("expires_at", "2027-01-08 12:00 UTC".into());
        }
        TemplateKind::Test => {
            v.insert("sent_at", "2027-01-01 12:00 UTC".into());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_template_passes_its_own_check_and_fills_every_placeholder() {
        for kind in TemplateKind::ALL {
            let t = default_template(kind);
            check(kind, &t).expect("default template is valid");
            let r = render(
                &t,
                &sample_values(kind, "Example University", "https://b.example"),
            );
            for part in [&r.subject, &r.text, &r.html] {
                assert!(!part.contains("{{"), "{kind:?}: {part}");
            }
        }
    }

    #[test]
    fn values_are_escaped_in_html_only_and_subjects_stay_on_one_line() {
        let t = MailTemplate {
            subject: "Hi {{earner_name}}".into(),
            text: "Hi {{earner_name}}".into(),
            html: "<p>Hi {{earner_name}}</p>".into(),
        };
        let mut v = BTreeMap::new();
        v.insert(
            "earner_name",
            "<b>Ada</b> & \"co\"\r\nBcc: x@y.z".to_owned(),
        );
        let r = render(&t, &v);
        assert_eq!(r.subject, "Hi <b>Ada</b> & \"co\"  Bcc: x@y.z");
        assert!(r.text.contains("<b>Ada</b>"));
        assert!(
            r.html
                .contains("&lt;b&gt;Ada&lt;/b&gt; &amp; &quot;co&quot;")
        );
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused_by_name() {
        let mut t = default_template(TemplateKind::Award);
        t.text.push_str("{{password}}");
        let e = check(TemplateKind::Award, &t).expect_err("unknown");
        assert_eq!(e.field, "text");
        assert!(e.message.contains("{{password}}"), "{}", e.message);
        let mut t = default_template(TemplateKind::Invitation);
        t.subject = "Hello {{name".into();
        assert_eq!(
            check(TemplateKind::Invitation, &t).expect_err("open").field,
            "subject"
        );
        let mut t = default_template(TemplateKind::Invitation);
        t.subject = "{{claim_url}}".into();
        assert!(check(TemplateKind::Invitation, &t).is_err());
    }
}
