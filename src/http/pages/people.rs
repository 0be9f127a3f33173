//! Templates of the earner's pages (manage page, profile) and the employer's verify
//! page. Same layout and rules as [`super::templates`].

use maud::{Markup, PreEscaped, html};

use super::templates::{date, layout};
use crate::views::badge::CheckView;
use crate::views::earner::{EarnerBadge, ManageView, Overview, ProfileView};
use crate::views::verify::{Facts, Trust, VerifyOutcome, VerifyView, WalletRequest};

fn overview(o: &Overview, heading_id: &str) -> Markup {
    html! {
        @if !o.types.is_empty() {
            ul.tally role="list" aria-label="Badges by type" {
                @for (t, n) in &o.types { li { strong { (n) } " " (t) } }
            }
        }
        @if o.skills.is_empty() && o.tags.is_empty() {
            p.small { "The badges shown name no skills or standards." }
        }
        @if !o.skills.is_empty() {
            h3 id={ (heading_id) "-skills" } { "Skills and standards" }
            ul.skills role="list" {
                @for s in &o.skills {
                    li data-skill=(s.name) {
                        @if let Some(u) = &s.url { a href=(u) rel="noopener" { (s.name) } } @else { strong { (s.name) } }
                        @if let Some(f) = &s.framework { " " span.quiet { "(" (f) ")" } }
                        span.small { " — from " (s.badges.join(", ")) }
                    }
                }
            }
        }
        @if !o.tags.is_empty() {
            h3 id={ (heading_id) "-tags" } { "Topics" }
            ul.tags role="list" { @for (t, n) in &o.tags { li { (t) @if *n > 1 { " ×" (n) } } } }
        }
    }
}

fn badge_tile(b: &EarnerBadge) -> Markup {
    html! {
        div.art { img src=(b.image_url) alt="" width="256" height="256" loading="lazy"; }
        div.body {
            @if let Some(t) = &b.type_name { span.pill { (t) } " " }
            @if let Some(t) = &b.achievement_type { span.pill.quiet { (t) } }
            h3 {
                @if let Some(u) = &b.badge_url { @if b.public { a href=(u) { (b.name) } } @else { (b.name) } }
                @else { (b.name) }
            }
            p.small {
                @if let Some(i) = b.issued_on { "Issued " time datetime=(crate::clock::format_seconds(i)) { (date(i)) } }
                @if let Some(x) = b.expires { " · valid until " time datetime=(crate::clock::format_seconds(x)) { (date(x)) } }
            }
        }
    }
}

/// The earner's manage page.
pub fn manage(v: &ManageView) -> Markup {
    let s = &v.site;
    let main = html! {
        div.wrap {
            div.stack {
                div {
                    h1 { "Your badges from " (s.issuer_name) }
                    @if let Some(n) = &v.name { p.lead { "Hello " (n) ". This private page lists every badge " (s.issuer_name) " awarded you. Keep its link to yourself: anyone with it can change what is shown." } }
                    @else { p.lead { "This private page lists every badge " (s.issuer_name) " awarded you. Keep its link to yourself: anyone with it can change what is shown." } }
                }
                @if let Some(n) = &v.notice {
                    p class={ "notice-line " (if n.ok { "ok" } else { "error" }) } role=(if n.ok { "status" } else { "alert" }) data-notice=(if n.ok { "ok" } else { "error" }) { (n.text) }
                }
                section.panel aria-labelledby="badges-h" {
                    h2 #badges-h { "Badges" }
                    @if v.badges.is_empty() { p { "No badges yet." } }
                    ul.earner-badges role="list" {
                        @for b in &v.badges {
                            li.earner-badge data-badge=(b.id) data-standing=(b.standing.as_str()) data-public=(if b.public { "true" } else { "false" }) data-on-profile=(if b.on_profile { "true" } else { "false" }) {
                                (badge_tile(b))
                                div.controls {
                                    p.standing { (b.standing.words()) }
                                    @if let Some(u) = &b.claim_url { p { a.button.primary href=(u) { "Accept this badge" } } }
                                    @if b.badge_url.is_some() {
                                        p.small { "Badge page: " @if b.public { "public" } @else { "private" } }
                                        form method="post" action=(v.action_url) {
                                            input type="hidden" name="badge" value=(b.id);
                                            @if b.public {
                                                button.button type="submit" name="action" value="hide" data-action="hide" { "Make page private" }
                                            } @else {
                                                button.button type="submit" name="action" value="show" data-action="show" { "Make page public" }
                                            }
                                            @if b.chosen {
                                                button.button type="submit" name="action" value="exclude" data-action="exclude" { "Leave off profile" }
                                            } @else {
                                                button.button type="submit" name="action" value="include" data-action="include" { "Show on profile" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if v.badges.iter().any(|b| b.badge_url.is_some()) {
                section.panel aria-labelledby="clr-h" data-section="clr" {
                    h2 #clr-h { "Download a learner record" }
                    p { "A Comprehensive Learner Record (CLR 2.0) puts the badges you choose into one file signed by " (s.issuer_name) ". Each badge inside keeps its own signature, so a school, an employer or a wallet can check every one of them." }
                    form method="get" action={ (v.action_url) "/clr" } data-action="clr" {
                        fieldset {
                            legend { "Badges to include" }
                            @for b in v.badges.iter().filter(|b| b.badge_url.is_some()) {
                                label.inline { input type="checkbox" name="badge" value=(b.id) checked; (b.name) }
                            }
                        }
                        fieldset {
                            legend { "Format" }
                            label.inline { input type="radio" name="format" value="json" checked; "JSON-LD with a Data Integrity proof (for wallets and learner record platforms)" }
                            label.inline { input type="radio" name="format" value="jwt"; "JWT" }
                        }
                        button.button.primary type="submit" { "Download learner record" }
                    }
                }
                }
                section.panel aria-labelledby="profile-h" {
                    h2 #profile-h { "Your public profile" }
                    p { "One page that brings your badges together with the skills they show. Only badges whose pages are public, and that you have not left off, appear on it." }
                    form.profile-form method="post" action=(v.action_url) data-action="profile" {
                        input type="hidden" name="action" value="profile";
                        label for="handle" { "Profile name" }
                        p.hint #handle-hint { "3 to 40 lower-case letters, digits or hyphens: your profile's address ends with it." }
                        input #handle name="handle" type="text" required minlength="3" maxlength="40" pattern="[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9]" autocomplete="username" value=[v.handle.as_deref()] aria-describedby="handle-hint";
                        label for="headline" { "Headline (optional)" }
                        input #headline name="headline" type="text" maxlength=(crate::earners::HEADLINE_MAX) value=[v.headline.as_deref()];
                        button.button type="submit" { "Save" }
                    }
                    @if let Some(u) = &v.profile_url {
                        @if v.published {
                            p data-profile="published" { "Published at " a href=(u) { (u) } }
                            form method="post" action=(v.action_url) {
                                button.button type="submit" name="action" value="unpublish" data-action="unpublish" { "Withdraw profile" }
                            }
                        } @else {
                            p data-profile="unpublished" { "Not published. Once published it will be at " span.mono { (u) } "." }
                            form method="post" action=(v.action_url) {
                                button.button.primary type="submit" name="action" value="publish" data-action="publish" { "Publish profile" }
                            }
                        }
                    }
                    h3 { "What your profile shows" }
                    (overview(&v.overview, "manage"))
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

/// `/profiles/{handle}`.
pub fn profile(v: &ProfileView) -> Markup {
    let s = &v.site;
    let main = html! {
        div.hero {
            div.wrap {
                h1 { (v.name) }
                @if let Some(h) = &v.headline { p.lead { (h) } }
                div.meta {
                    span { (v.badges.len()) " verified badge" @if v.badges.len() != 1 { "s" } " from " (s.issuer_name) }
                }
            }
        }
        div.wrap {
            section.block data-section="skills" aria-labelledby="skills-h" {
                header { h2 #skills-h { "Skills overview" } p { "What these badges add up to, from the skills and standards each one is aligned to." } }
                (overview(&v.overview, "profile"))
            }
            section.block data-section="badges" aria-labelledby="badges-h" {
                header { h2 #badges-h { "Badges" } p { "Each badge links to its own page, where anyone can verify it." } }
                ul.grid role="list" {
                    @for b in &v.badges {
                        li data-badge=(b.id) { article.card { (badge_tile(b)) } }
                    }
                }
            }
            section.block.sharing data-section="share" aria-labelledby="share-h" {
                header { h2 #share-h { "Share this profile" } }
                div.panel {
                    label for="profile-url" { "Profile address" }
                    input #profile-url type="url" readonly value=(v.url);
                    p { button.button type="button" data-copy="profile-url" hidden { "Copy address" } }
                    ul.share {
                        @for l in &v.shares {
                            li { a data-share=(l.network) href=(l.href) rel="noopener" { (l.label) } }
                        }
                    }
                    @if !v.badges.is_empty() {
                        p { "All these badges in one signed file, a Comprehensive Learner Record (CLR 2.0): "
                            a data-download="clr" href={ (v.url) "/clr?format=json" } download="learner-record.json" { "download the learner record" } "." }
                    }
                }
            }
        }
    };
    layout(s, &v.meta, None, main)
}

fn trust_line(t: &Trust, site_name: &str) -> Markup {
    html! {
        div.trust data-trust=(t.as_str()) {
            h3 { "The issuer" }
            @match t {
                Trust::Own => p { "Issued by " strong { (site_name) } ", the organisation that runs this page." },
                Trust::Listed(name) => p { "The issuer is on our list of trusted issuers" @if let Some(n) = name { " as " strong { (n) } } "." },
                Trust::Blocked(name) => p { strong { "Warning: " } "the issuer" @if let Some(n) = name { " (" (n) ")" } " is on our list of issuers not to trust." },
                Trust::Unknown => p { "We do not know this issuer. The badge can still be authentic; check that the issuer below is who you expect." },
            }
        }
    }
}

fn check_line(c: &CheckView) -> Markup {
    html! {
        li data-check=(c.check) data-outcome=(c.outcome) {
            span class={ "outcome " (c.outcome) } { (match c.outcome { "pass" => "Pass", "fail" => "Fail", _ => "Unknown" }) }
            span { (c.label) @if let Some(m) = &c.message { span.msg { (m) } } }
        }
    }
}

fn facts(f: &Facts) -> Markup {
    html! {
        div.verify-facts.with-image[f.image.is_some()] {
            @if let Some(img) = &f.image { img src=(img) alt="" width="160" height="160"; }
            dl.facts {
                @if let Some(a) = &f.achievement { dt { "Badge" } dd { strong { (a) } } }
                @if let Some(d) = &f.description { dt { "What it says" } dd { (d) } }
                dt { "Issued by" }
                dd {
                    @if let Some(n) = &f.issuer_name { (n) } @else { "Not named" }
                    @if let Some(i) = &f.issuer_id { br; span.mono { (i) } }
                }
                dt { "Earner" }
                dd {
                    @if let Some(n) = &f.earner { (n) } @else { "Not named in the badge" }
                    @if let Some(i) = &f.earner_id { br; span.mono { (i) } }
                    @if f.earner_email_hashed { br; span.small { "Their e-mail address is in the badge as a fingerprint: give it with the badge to check that it matches." } }
                }
                @if let Some(i) = f.issued { dt { "Issued on" } dd { time datetime=(crate::clock::format_seconds(i)) { (date(i)) } } }
                dt { "Expires" }
                dd { @if let Some(x) = f.expires { time datetime=(crate::clock::format_seconds(x)) { (date(x)) } } @else { "Does not expire" } }
                @if let Some(c) = &f.credential_id { dt { "Credential" } dd.mono { (c) } }
            }
        }
    }
}

pub(crate) fn result(o: &VerifyOutcome, site_name: &str) -> Markup {
    html! {
        section.panel.result #result aria-labelledby="result-h" {
            h2 #result-h { "Result" }
            div class={ "verdict " (o.verdict.as_str()) } data-verdict=(o.verdict.as_str()) role="status" {
                strong { (o.verdict.headline()) }
                @if let Some(p) = &o.problem { p.problem data-problem="input" { (p) } }
                @else { p { (o.verdict.explanation()) } }
            }
            @if o.problem.is_none() {
                (trust_line(&o.trust, site_name))
                @if let Some(h) = &o.holder { p.small { "Presented by the wallet of " span.mono { (h) } "." } }
                @if let Some(f) = &o.facts { h3 { "What the badge says" } (facts(f)) }
                h3 { "Each check" }
                ul.checks { @for c in &o.checks { (check_line(c)) } }
                p.actions.no-print { button.button type="button" data-print hidden { "Print this result" } }
            }
        }
    }
}

pub(crate) fn wallet(w: &WalletRequest) -> Markup {
    html! {
        section.panel #wallet aria-labelledby="wallet-h" data-request=(w.id) data-request-state=(w.state) data-poll=(w.poll_url) {
            h2 #wallet-h { "Ask the candidate's wallet" }
            @match w.state.as_str() {
                "pending" => {
                    p { "Ask the candidate to scan this code with their wallet, or to open the link on the phone their wallet is on. This page shows the answer when it arrives." }
                    div.qr data-qr="request" { (PreEscaped(&w.qr_svg)) }
                    p.actions { a.button href=(w.link) data-link="request" { "Open in wallet" } }
                    p.small {
                        "The request expires at " (format!("{:02}:{:02} UTC", w.expires.hour(), w.expires.minute())) ". "
                        a href=(w.page_url) data-refresh { "Refresh to see the answer" }
                    }
                }
                "expired" => { p { "This request expired without an answer. Start a new one below." } }
                _ => { p { "The wallet has answered; the result is below." } }
            }
        }
    }
}

/// The optional e-mail address each verify form may carry.
fn email_field(id: &str) -> Markup {
    let hint = format!("{id}-hint");
    html! {
        label for=(id) { "Candidate's e-mail address (optional)" }
        input id=(id) name="email" type="email" autocomplete="off" aria-describedby=(hint);
        p.hint id=(hint) { "Checks that the badge was issued to this address." }
    }
}

/// `/verify` and its results.
pub fn verify(v: &VerifyView) -> Markup {
    let s = &v.site;
    let action = format!("{}/verify", s.base);
    let main = html! {
        div.wrap {
            div.stack {
                div.no-print {
                    h1 { "Verify a badge" }
                    p.lead { "Check that an Open Badge is real: that it was issued by the organisation it names, has not been changed, and has not expired or been revoked." }
                }
                @if let Some(w) = &v.wallet { (wallet(w)) }
                @if let Some(o) = &v.outcome { (result(o, &s.issuer_name)) }
                div.verify-forms.no-print {
                    section.panel aria-labelledby="upload-h" {
                        h2 #upload-h { "Upload a badge image" }
                        p { "A badge image (PNG or SVG) downloaded from a badge page carries the credential inside it." }
                        form method="post" action=(action) enctype="multipart/form-data" data-action="verify-upload" {
                            input type="hidden" name="method" value="upload";
                            div.dropzone data-dropzone {
                                label for="badge-file" { "Badge image" }
                                input #badge-file name="file" type="file" accept="image/png,image/svg+xml,.png,.svg" required;
                                p.small.drop-hint hidden { "…or drop the file here." }
                            }
                            (email_field("email-upload"))
                            button.button.primary type="submit" { "Verify image" }
                        }
                    }
                    section.panel aria-labelledby="paste-h" {
                        h2 #paste-h { "Paste a credential" }
                        form method="post" action=(action) enctype="multipart/form-data" data-action="verify-paste" {
                            input type="hidden" name="method" value="paste";
                            label for="credential" { "The credential (a JWT, or JSON)" }
                            textarea #credential name="credential" rows="5" spellcheck="false" required {}
                            (email_field("email-paste"))
                            button.button.primary type="submit" { "Verify" }
                        }
                    }
                    section.panel aria-labelledby="url-h" {
                        h2 #url-h { "Give a badge page's address" }
                        form method="post" action=(action) enctype="multipart/form-data" data-action="verify-url" {
                            input type="hidden" name="method" value="url";
                            label for="badge-url" { "Badge page address" }
                            input #badge-url name="url" type="url" inputmode="url" placeholder="https://" required;
                            (email_field("email-url"))
                            button.button.primary type="submit" { "Verify" }
                        }
                    }
                    section.panel aria-labelledby="ask-h" {
                        h2 #ask-h { "Ask the candidate's wallet" }
                        p { "The candidate shares the badge straight from their digital wallet (OpenID for Verifiable Presentations). You see a QR code to show them." }
                        form method="post" action={ (action) "/wallet" } data-action="verify-wallet" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button.button.primary type="submit" { "Show a QR code" }
                        }
                    }
                }
            }
        }
    };
    layout(s, &v.meta, Some("verify-page"), main)
}
