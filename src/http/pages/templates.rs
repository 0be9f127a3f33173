//! The page templates: maud markup (checked at compile time, escaped by default) that
//! lays out the views of [`crate::views`]. One layout, one style sheet; no inline
//! style or script (the pages' Content-Security-Policy allows neither).

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::OffsetDateTime;

use crate::issue::offers::ClaimState;
use crate::views::badge::{BadgeView, CheckView};
use crate::views::claim::ClaimView;
use crate::views::{AchievementText, AchievementView, Card, CatalogueView, Meta, Site};

/// "3 December 2026" (UTC).
pub fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{} {} {}", t.day(), t.month(), t.year())
}

/// The one layout.
pub fn layout(site: &Site, meta: &Meta, body_class: Option<&str>, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (meta.title) }
                meta name="description" content=(meta.description);
                @if meta.noindex { meta name="robots" content="noindex, nofollow"; }
                link rel="canonical" href=(meta.url);
                meta property="og:type" content=(meta.og_type);
                meta property="og:site_name" content=(site.issuer_name);
                meta property="og:title" content=(meta.title);
                meta property="og:description" content=(meta.description);
                meta property="og:url" content=(meta.url);
                @if let Some(img) = &meta.image {
                    meta property="og:image" content=(img);
                    meta property="og:image:type" content="image/png";
                    @if let Some(alt) = &meta.image_alt { meta property="og:image:alt" content=(alt); }
                    meta name="twitter:card" content="summary";
                    meta name="twitter:image" content=(img);
                } @else {
                    meta name="twitter:card" content="summary";
                }
                meta name="twitter:title" content=(meta.title);
                meta name="twitter:description" content=(meta.description);
                meta name="theme-color" content=(site.theme.primary);
                link rel="icon" href={ (site.base) "/favicon.ico" };
                link rel="stylesheet" href={ (site.base) "/assets/style.css?v=" (super::asset_version()) };
                link rel="stylesheet" href={ (site.base) "/assets/theme.css?v=" (site.theme.version()) };
                script src={ (site.base) "/assets/app.js?v=" (super::asset_version()) } defer {}
            }
            body class=[body_class] {
                a.skip href="#main" { "Skip to content" }
                (header(site))
                main #main tabindex="-1" { (main) }
                (footer(site))
            }
        }
    }
}

fn header(site: &Site) -> Markup {
    html! {
        header.site-header {
            div.wrap {
                a href={ (site.base) "/" } {
                    @if let Some(logo) = &site.logo_url {
                        img src=(logo) alt="" width="40" height="40";
                    }
                    span { (site.issuer_name) }
                }
                span.tagline { "Open Badges" }
            }
        }
    }
}

fn footer(site: &Site) -> Markup {
    html! {
        footer.site-footer {
            div.wrap {
                p {
                    "Badges issued by "
                    @if let Some(u) = &site.issuer_url { a href=(u) { (site.issuer_name) } } @else { (site.issuer_name) }
                    " as Open Badges 3.0 verifiable credentials."
                }
                p { "Issuer identifier: " span.mono { (site.did) } }
                p { a href={ (site.base) "/" } { "All badges" } " · " a href={ (site.base) "/#about" } { "What is an Open Badge?" } }
            }
        }
    }
}

fn card(c: &Card) -> Markup {
    html! {
        li {
            article.card {
                div.art { img src=(c.image_url) alt="" width="256" height="256" loading="lazy"; }
                div.body {
                    @if let Some(t) = &c.type_name { span.pill { (t) } }
                    h3 { a href=(c.href) { (c.name) } }
                    p { (c.summary) }
                }
            }
        }
    }
}

fn cards(cs: &[Card]) -> Markup {
    html! { ul.grid role="list" { @for c in cs { (card(c)) } } }
}

/// `/`.
pub fn catalogue(v: &CatalogueView) -> Markup {
    let s = &v.site;
    let main = html! {
        div.hero {
            div.wrap {
                h1 { (s.issuer_name) }
                @if let Some(d) = &s.issuer_description { p.lead { (d) } }
                @else { p.lead { "The badges " (s.issuer_name) " awards, what each one means, and how to earn it." } }
                div.meta {
                    @if let Some(u) = &s.issuer_url { a href=(u) { "Visit " (s.issuer_name) } }
                    @if let Some(e) = &s.issuer_email { a href={ "mailto:" (e) } { (e) } }
                    span { (v.total) " badge" @if v.total != 1 { "s" } }
                }
            }
        }
        div.wrap {
            @if !v.featured.is_empty() {
                section.block data-section="featured" aria-labelledby="featured-h" {
                    header { h2 #featured-h { "Featured badges" } }
                    (cards(&v.featured))
                }
            }
            @if !v.new.is_empty() {
                section.block data-section="new" aria-labelledby="new-h" {
                    header { h2 #new-h { "New badges" } p { "Most recently added first." } }
                    (cards(&v.new))
                }
            }
            @if v.total == 0 {
                section.block { p.empty { "No badges have been published yet." } }
            }
            @for t in &v.types {
                section.block data-section="type" data-badge-type=(t.badge_type.id) aria-labelledby={ "type-" (t.badge_type.id) } {
                    header { h2 id={ "type-" (t.badge_type.id) } { (t.badge_type.name) } }
                    @if !t.badge_type.description.is_empty() { p.type-description { (t.badge_type.description) } }
                    (cards(&t.cards))
                }
            }
            @if !v.untyped.is_empty() && !v.types.is_empty() {
                section.block data-section="other" aria-labelledby="other-h" {
                    header { h2 #other-h { "More badges" } }
                    (cards(&v.untyped))
                }
            } @else if !v.untyped.is_empty() && v.featured.is_empty() && v.new.is_empty() {
                section.block data-section="all" aria-labelledby="all-h" {
                    header { h2 #all-h { "All badges" } }
                    (cards(&v.untyped))
                }
            }
            section.block #about aria-labelledby="about-h" {
                header { h2 #about-h { "About these badges" } }
                div.explain {
                    div.panel {
                        h3 { "What is an Open Badge?" }
                        p { "An Open Badge is a digital image that contains verified information about an achievement: what was achieved, who achieved it, who awarded it and when. Each badge here is an Open Badges 3.0 verifiable credential, digitally signed by " (s.issuer_name) "." }
                        p { "Earners keep their badges in a digital wallet, add them to professional profiles such as LinkedIn, and show them in e-mail signatures." }
                    }
                    div.panel {
                        h3 { "How to verify a badge" }
                        p { "Every badge has its own page, linked from wherever it is shared, that checks it live: the signature of " (s.issuer_name) ", that nothing was changed, that it is within its validity period, and that it was not revoked or suspended." }
                        p { "A downloaded badge image carries the signed credential inside it, so any Open Badges verifier can check the image itself." }
                    }
                    @if !v.types.is_empty() {
                        div.panel {
                            h3 { "Badge types" }
                            ul.types-list {
                                @for t in &v.types {
                                    li { a href={ "#type-" (t.badge_type.id) } { strong { (t.badge_type.name) } } @if !t.badge_type.description.is_empty() { span { (t.badge_type.description) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

fn achievement_text(t: &AchievementText, heading: &str) -> Markup {
    html! {
        @if t.criteria_html.is_some() || t.criteria_url.is_some() {
            section.panel aria-labelledby="criteria-h" {
                h2 #criteria-h { (heading) }
                @if let Some(c) = &t.criteria_html { div.criteria { (PreEscaped(c)) } }
                @if let Some(u) = &t.criteria_url { p { a href=(u) { "Full criteria" } } }
            }
        }
        @if !t.alignments.is_empty() {
            section.panel aria-labelledby="skills-h" {
                h2 #skills-h { "Skills and standards" }
                ul.alignments {
                    @for a in &t.alignments {
                        li {
                            @if let Some(u) = &a.url { a href=(u) { strong { (a.name) } } } @else { strong { (a.name) } }
                            @if a.framework.is_some() || a.code.is_some() {
                                span.fw {
                                    @if let Some(f) = &a.framework { (f) }
                                    @if a.framework.is_some() && a.code.is_some() { " · " }
                                    @if let Some(c) = &a.code { (c) }
                                }
                            }
                            @if let Some(d) = &a.description { span.fw { (d) } }
                        }
                    }
                }
            }
        }
        @if !t.tags.is_empty() {
            section.panel aria-labelledby="tags-h" {
                h2 #tags-h { "Tags" }
                ul.tags { @for tag in &t.tags { li { (tag) } } }
            }
        }
    }
}

/// `/achievements/{id}`.
pub fn achievement(v: &AchievementView) -> Markup {
    let s = &v.site;
    let t = &v.text;
    let main = html! {
        div.wrap {
            div.detail {
                aside {
                    div.badge-art { img src=(v.image_url) alt={ (t.name) " badge" } width="320" height="320"; }
                }
                div.stack {
                    div {
                        @if let Some(bt) = &v.badge_type { span.pill { (bt.name) } " " }
                        @if let Some(at) = &t.achievement_type { span.pill.quiet { (at) } }
                        h1 { (t.name) }
                        @if v.archived { p { strong { "This badge is no longer awarded." } } }
                        p.lead { (t.description) }
                    }
                    section.panel aria-labelledby="about-h" {
                        h2 #about-h { "About this badge" }
                        dl.facts {
                            dt { "Issued by" }
                            dd { @if let Some(u) = &s.issuer_url { a href=(u) { (s.issuer_name) } } @else { (s.issuer_name) } }
                            @if let Some(bt) = &v.badge_type {
                                dt { "Badge type" }
                                dd { (bt.name) @if !bt.description.is_empty() { " — " (bt.description) } }
                            }
                            @if let Some(at) = &t.achievement_type { dt { "Kind" } dd { (at) } }
                            @for (label, value) in &t.details { dt { (label) } dd { (value) } }
                        }
                    }
                    (achievement_text(t, "How to earn it"))
                    (endorsements(&v.endorsements, "this badge"))
                    @if t.criteria_html.is_none() && t.criteria_url.is_none() {
                        section.panel aria-labelledby="criteria-h" {
                            h2 #criteria-h { "How to earn it" }
                            p { "Ask " (s.issuer_name) " how this badge is awarded." }
                        }
                    }
                    p { a href={ (s.base) "/" } { "← All badges from " (s.issuer_name) } }
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

/// The endorsements section of achievement and badge pages (nothing when there are
/// none).
fn endorsements(items: &[crate::views::endorsement::EndorsementView], about: &str) -> Markup {
    html! {
        @if !items.is_empty() {
            section.panel aria-labelledby="endorsements-h" data-section="endorsements" {
                h2 #endorsements-h { "Endorsements" }
                p.small { "Organisations that vouch for " (about) ". Each endorsement is a signed credential of its own, checked when this page is built." }
                ul.endorsements {
                    @for e in items {
                        li data-endorsement-outcome=(e.outcome) {
                            div.endorser {
                                strong { @if let Some(u) = &e.endorser_url { a href=(u) rel="noopener" { (e.endorser) } } @else { (e.endorser) } }
                                " "
                                span class={ "outcome " (e.outcome) } { (e.label()) }
                            }
                            @if let Some(c) = &e.comment { blockquote { (c) } }
                            @if let Some(d) = &e.date { p.small { "Endorsed " time datetime=(d) { (d) } } }
                            @if let Some(p) = &e.problem { p.small.msg { (p) } }
                        }
                    }
                }
            }
        }
    }
}

fn check(c: &CheckView) -> Markup {
    html! {
        li data-check=(c.check) data-outcome=(c.outcome) {
            span class={ "outcome " (c.outcome) } { (match c.outcome { "pass" => "Pass", "fail" => "Fail", _ => "Unknown" }) }
            span { (c.label) @if let Some(m) = &c.message { span.msg { (m) } } }
        }
    }
}

/// `/badges/{id}`.
pub fn badge(v: &BadgeView) -> Markup {
    let s = &v.site;
    let t = &v.text;
    let main = html! {
        div.wrap {
            div.detail {
                aside.stack {
                    div.badge-art { img src=(v.image_url) alt=(v.image_alt) width="320" height="320"; }
                    div.status data-status=(v.status.as_str()) role="status" {
                        strong { (v.status.headline()) }
                        p { (v.explanation) }
                        p.small { "Checked " (date(v.checked_at)) " at " (format!("{:02}:{:02}", v.checked_at.hour(), v.checked_at.minute())) " UTC." }
                    }
                    @if v.status.is_shareable() {
                        div.actions {
                            a.button.linkedin data-share="linkedin-add" href=(v.linkedin_add) rel="noopener" { "Add to LinkedIn" }
                        }
                    }
                }
                div.stack {
                    div {
                        @if let Some(bt) = &v.badge_type { span.pill { (bt.name) } " " }
                        @if let Some(at) = &t.achievement_type { span.pill.quiet { (at) } }
                        h1 { (t.name) }
                        @if let Some(e) = &v.earner { p.lead { "Earned by " strong { (e) } } }
                        @if !t.description.is_empty() { p { (t.description) } }
                    }
                    section.panel aria-labelledby="facts-h" {
                        h2 #facts-h { "Badge details" }
                        dl.facts {
                            @if let Some(e) = &v.earner { dt { "Earner" } dd { (e) } }
                            dt { "Issued by" }
                            dd { @if let Some(u) = &s.issuer_url { a href=(u) { (s.issuer_name) } } @else { (s.issuer_name) } }
                            @if let Some(i) = v.issued { dt { "Issued on" } dd { time datetime=(crate::clock::format_seconds(i)) { (date(i)) } } }
                            dt { "Expires" }
                            dd { @if let Some(x) = v.expires { time datetime=(crate::clock::format_seconds(x)) { (date(x)) } } @else { "Does not expire" } }
                            @if let Some(bt) = &v.badge_type { dt { "Badge type" } dd { (bt.name) } }
                            dt { "Issuer identifier" } dd.mono { (s.did) }
                            dt { "Credential" } dd.mono { (v.credential_id) }
                            @if let Some(u) = &v.achievement_url { dt { "Achievement" } dd { a href=(u) { "About " (t.name) } } }
                        }
                    }
                    (achievement_text(t, "Criteria"))
                    (endorsements(&v.endorsements, "this badge"))
                    section.panel #verify aria-labelledby="verify-h" {
                        h2 #verify-h { "Verify this badge" }
                        p {
                            @if v.verified { "Every check passed. " } @else { "Not every check passed. " }
                            "This page checks the badge's digital signature against the public keys of " (s.issuer_name) ", its validity period and its revocation status each time it is viewed."
                        }
                        ul.checks { @for c in &v.checks { (check(c)) } }
                        @if let Some(m) = &v.verification_method { p.small { "Signed with key " span.mono { (m) } } }
                    }
                    section.panel.sharing aria-labelledby="download-h" {
                        h2 #download-h { "Download" }
                        p { "The image downloads carry the signed credential inside them (a baked badge), so anyone can verify the file itself." @if v.downloads.json.is_some() { " The JSON-LD credential is the same badge secured with a Data Integrity proof, for wallets and platforms that take that form." } }
                        div.actions {
                            a.button.primary data-download="png" href=(v.downloads.png) download={ "badge-" (v.id) ".png" } { "Badge image (PNG)" }
                            a.button data-download="svg" href=(v.downloads.svg) download={ "badge-" (v.id) ".svg" } { "Badge image (SVG)" }
                            a.button data-download="jwt" href=(v.downloads.jwt) download={ "badge-" (v.id) ".jwt" } { "Credential (JWT)" }
                            @if let Some(j) = &v.downloads.json { a.button data-download="json" href=(j) download={ "badge-" (v.id) ".json" } { "Credential (JSON-LD)" } }
                        }
                    }
                    @if v.status.is_shareable() {
                    section.panel.sharing aria-labelledby="share-h" {
                        h2 #share-h { "Share" }
                        ul.share {
                            @for l in &v.shares {
                                li { a data-share=(l.network) href=(l.href) rel="noopener" { (l.label) } }
                            }
                        }
                    }
                    section.panel.sharing aria-labelledby="signature-h" {
                        h2 #signature-h { "E-mail signature" }
                        p { "Paste this into your e-mail signature (as HTML). It shows a small badge linking to this page:" }
                        div.preview {
                            img src=(v.downloads.small_png) alt="" width="64" height="64";
                            div { a href=(v.page_url) { (t.name) } span { "Verified badge from " (s.issuer_name) } }
                        }
                        label for="signature-html" { "Signature HTML" }
                        textarea #signature-html readonly rows="5" { (v.signature) }
                        p { button.button type="button" data-copy="signature-html" hidden { "Copy signature" } }
                    }
                    section.panel.sharing aria-labelledby="embed-h" {
                        h2 #embed-h { "Embed" }
                        p { "Show this badge on a web page or portfolio:" }
                        label for="embed-html" { "Embed HTML" }
                        textarea #embed-html readonly rows="3" { (v.embed) }
                        p { button.button type="button" data-copy="embed-html" hidden { "Copy embed code" } }
                    }
                    }
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

/// `/badges/{id}/embed`: a small card for other sites' iframes.
pub fn embed(v: &BadgeView) -> Markup {
    let s = &v.site;
    let main = html! {
        div.embed-card {
            img src=(v.downloads.small_png) alt=(v.image_alt) width="160" height="160";
            h1 { a href=(v.page_url) target="_blank" rel="noopener" { (v.text.name) } }
            @if let Some(e) = &v.earner { p { "Earned by " (e) } }
            p { "Issued by " (s.issuer_name) }
            div.status data-status=(v.status.as_str()) { strong { (v.status.headline()) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (v.meta.title) }
                meta name="description" content=(v.meta.description);
                meta name="robots" content="noindex";
                link rel="stylesheet" href={ (s.base) "/assets/style.css?v=" (super::asset_version()) };
                link rel="stylesheet" href={ (s.base) "/assets/theme.css?v=" (s.theme.version()) };
            }
            body.embed { main { (main) } }
        }
    }
}

/// `/claim/{id}`.
pub fn claim(v: &ClaimView) -> Markup {
    let s = &v.site;
    let main = html! {
        div.wrap {
            div.detail {
                aside.stack {
                    div.badge-art { img src=(v.image_url) alt={ (v.name) " badge" } width="320" height="320"; }
                    @if let Some(u) = &v.earner_url {
                        p { a href=(u) data-link="earner" { "All your badges from " (s.issuer_name) } }
                    }
                }
                div.stack {
                    div {
                        @if let Some(t) = &v.badge_type { span.pill { (t) } }
                        h1 { (v.name) }
                        @if let Some(e) = &v.earner { p.lead { "Awarded to " strong { (e) } " by " (s.issuer_name) } }
                        @else { p.lead { "Awarded by " (s.issuer_name) } }
                        @if !v.description.is_empty() { p { (v.description) } }
                        @if let Some(x) = v.valid_until {
                            p.small { "Valid until " time datetime=(crate::clock::format_seconds(x)) { (date(x)) } "." }
                        }
                    }
                    @if let Some(u) = &v.badge_url {
                        section.panel.done data-claim="accepted" aria-labelledby="accepted-h" {
                            h2 #accepted-h { "Your badge is ready" }
                            p { "You have accepted this badge. Its page shows it to anyone you share it with, with the badge image and credential to download." }
                            p.actions { a.button.primary href=(u) { "Open your badge page" } }
                        }
                    } @else if v.badge_private {
                        section.panel.done data-claim="accepted" aria-labelledby="accepted-h" {
                            h2 #accepted-h { "Your badge is issued" }
                            p { "Its public page is private. Make it public from your badge list to share it." }
                        }
                    }
                    @if let Some(action) = &v.accept_url {
                        section.panel aria-labelledby="accept-h" {
                            h2 #accept-h { "Accept without a wallet" }
                            p { "No digital wallet? Accept the badge here. You get a badge page to share, the badge image with the credential inside it, and the credential file; you can still add it to a wallet later." }
                            form.accept method="post" action=(action) data-action="accept-badge" {
                                @if let Some(e) = &v.error {
                                    p.form-error #accept-error role="alert" data-error="tx_code" { (e) }
                                }
                                @if v.tx_code_required {
                                    label for="tx_code" { "Code from the issuer" }
                                    p.hint #tx-hint { "The " (crate::issue::offers::TX_CODE_LENGTH) "-digit code " (s.issuer_name) " sent you with this badge. Five wrong tries lock the badge until the issuer sends it again." }
                                    input #tx_code name="tx_code" type="text" inputmode="numeric" autocomplete="one-time-code"
                                        pattern="[0-9]*" maxlength="12" required
                                        aria-describedby=(if v.error.is_some() { "tx-hint accept-error" } else { "tx-hint" });
                                }
                                button.button.primary type="submit" { "Accept badge" }
                            }
                        }
                    }
                    section.panel aria-labelledby="claim-h" {
                        h2 #claim-h { @if v.badge_url.is_some() || v.badge_private { "Also add it to a wallet" } @else { "Add it to your digital wallet" } }
                        @match (v.state, &v.offer) {
                            (ClaimState::Open, Some(o)) => {
                                p { "Scan this code with your digital wallet, or open the link on the device your wallet is on." }
                                div.qr data-qr="offer" { (PreEscaped(&o.qr_svg)) }
                                p.actions { a.button href=(o.uri) data-link="offer" { "Open in wallet" } }
                                @if let Some(n) = o.tx_code_digits {
                                    p { "Your wallet will ask for the " (n) "-digit code " (s.issuer_name) " sent you with this badge." }
                                }
                                p.small {
                                    "This code works once and expires at "
                                    time datetime=(crate::clock::format_seconds(o.expires)) {
                                        (format!("{:02}:{:02} UTC", o.expires.hour(), o.expires.minute())) " on " (date(o.expires))
                                    }
                                    "; reload this page for a fresh one. QR code as "
                                    a href=(o.qr_png_url) { "PNG" } " or " a href=(o.qr_svg_url) { "SVG" } "."
                                }
                            }
                            (ClaimState::Issued, _) => { p { "This badge is already in a wallet." } }
                            (ClaimState::Revoked, _) => { p { "This badge was withdrawn by the issuer and can no longer be claimed." } }
                            (ClaimState::Locked, _) => { p { "Too many wrong codes were entered for this badge. Ask the issuer to send it again." } }
                            (ClaimState::AwaitingApproval, _) => { p { "Your wallet has asked for this badge; it will arrive once the issuer approves it." } }
                            (ClaimState::Open, None) => { p { "This badge cannot be claimed just now. Reload the page in a moment." } }
                        }
                        div.wallet-help { (PreEscaped(&v.wallet_help_html)) }
                    }
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

/// An error page: a status line, a heading and a sentence.
pub fn error(site: &Site, status: u16, heading: &str, message: &str) -> Markup {
    let meta = Meta {
        title: format!("{heading} — {}", site.issuer_name),
        description: message.to_owned(),
        url: format!("{}/", site.base),
        image: None,
        image_alt: None,
        noindex: true,
        og_type: "website",
    };
    let main = html! {
        div.wrap {
            div.notice {
                p.code { "Error " (status) }
                h1 { (heading) }
                p { (message) }
                p { a.button href={ (site.base) "/" } { "See all badges from " (site.issuer_name) } }
            }
        }
    };
    layout(site, &meta, None, main)
}
