//! Criteria narratives in Markdown (OB 3.0 §B.2.2: `Criteria.narrative` "may be
//! formatted as Markdown"), rendered safely: raw HTML is shown as text, links keep only
//! `http`, `https` and `mailto` targets, images become their alt text, and headings
//! start at the level the page gives them so the page's outline stays ordered.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The longest narrative rendered (longer text is cut).
const MAX_INPUT: usize = 64 * 1024;

fn safe_link(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
}

fn shift(level: HeadingLevel, by: u8) -> HeadingLevel {
    let n = (level as u8).saturating_add(by).min(6);
    HeadingLevel::try_from(n as usize).unwrap_or(HeadingLevel::H6)
}

/// Renders `text` to HTML; the top heading level in it becomes `top` (2 to 6).
pub fn to_html(text: &str, top: u8) -> String {
    let mut end = text.len().min(MAX_INPUT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let by = top.clamp(2, 6) - 1;
    let mut open_links: Vec<bool> = Vec::new();
    let mut in_image = 0usize;
    let events = Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
        .filter_map(|e| match e {
            Event::Html(h) | Event::InlineHtml(h) => Some(Event::Text(h)),
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => Some(Event::Start(Tag::Heading {
                level: shift(level, by),
                id,
                classes,
                attrs,
            })),
            Event::End(TagEnd::Heading(level)) => {
                Some(Event::End(TagEnd::Heading(shift(level, by))))
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let keep = safe_link(&dest_url);
                open_links.push(keep);
                keep.then_some(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }))
            }
            Event::End(TagEnd::Link) => {
                let keep = open_links.pop().unwrap_or(false);
                keep.then_some(Event::End(TagEnd::Link))
            }
            Event::Start(Tag::Image { .. }) => {
                in_image += 1;
                None
            }
            Event::End(TagEnd::Image) => {
                in_image = in_image.saturating_sub(1);
                None
            }
            Event::Text(t) if in_image > 0 => Some(Event::Text(t)),
            Event::FootnoteReference(r) => Some(Event::Text(CowStr::from(format!("[{r}]")))),
            other => Some(other),
        });
    let mut out = String::with_capacity(text.len() * 2);
    pulldown_cmark::html::push_html(&mut out, events);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_is_shown_as_text_never_as_markup() {
        let html = to_html(
            "Pass <script>alert(1)</script> and <img src=x onerror=alert(1)>",
            3,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn lists_emphasis_and_web_links_render() {
        let html = to_html(
            "- **Pass** the exam\n- read [the guide](https://example.org/g)",
            3,
        );
        assert!(html.contains("<ul>"), "{html}");
        assert!(html.contains("<strong>Pass</strong>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org/g">the guide</a>"#),
            "{html}"
        );
    }

    #[test]
    fn script_links_lose_their_target_and_keep_their_text() {
        for md in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,hi)",
        ] {
            let html = to_html(md, 3);
            assert!(!html.contains("href"), "{md}: {html}");
            assert!(html.contains('x'), "{md}: {html}");
        }
    }

    #[test]
    fn images_become_their_alt_text() {
        let html = to_html("![a diagram](https://tracker.example/p.png)", 3);
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("a diagram"), "{html}");
    }

    #[test]
    fn headings_start_at_the_level_given() {
        let html = to_html("# Steps\n## Exam", 3);
        assert!(html.contains("<h3>Steps</h3>"), "{html}");
        assert!(html.contains("<h4>Exam</h4>"), "{html}");
    }
}
