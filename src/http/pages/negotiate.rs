//! Content negotiation by `Accept` (RFC 9110 §12.5.1): the offered type with the
//! highest quality wins, its quality taken from the most specific range that matches
//! it; among equal qualities, the one the client listed first. With no `Accept`, or
//! when nothing offered is acceptable or only wildcards match, the route's default.

use axum::http::{HeaderMap, header};

struct Range<'a> {
    main: &'a str,
    sub: &'a str,
    q: f32,
    pos: usize,
}

fn ranges(headers: &HeaderMap) -> Vec<Range<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(v) = value.to_str() else { continue };
        for item in v.split(',') {
            let mut parts = item.split(';');
            let Some((main, sub)) = parts.next().map(str::trim).and_then(|t| t.split_once('/'))
            else {
                continue;
            };
            let mut q = 1.0f32;
            for p in parts {
                if let Some((k, v)) = p.split_once('=')
                    && k.trim().eq_ignore_ascii_case("q")
                {
                    q = v.trim().parse::<f32>().unwrap_or(0.0).clamp(0.0, 1.0);
                }
            }
            out.push(Range {
                main: main.trim(),
                sub: sub.trim(),
                q,
                pos,
            });
            pos += 1;
        }
    }
    out
}

/// Picks one of `offered` (lower-case media types) for the request, or `default`.
pub fn negotiate<'t>(headers: &HeaderMap, offered: &[&'t str], default: &'t str) -> &'t str {
    let ranges = ranges(headers);
    if ranges.is_empty() {
        return default;
    }
    // (quality, position of the range that matched, specificity, type)
    let mut best: Option<(f32, usize, &'t str)> = None;
    let mut default_excluded = false;
    for &t in offered {
        let (main, sub) = t.split_once('/').unwrap_or((t, ""));
        let matched = ranges
            .iter()
            .filter_map(|r| {
                let spec = if r.main.eq_ignore_ascii_case(main) && r.sub.eq_ignore_ascii_case(sub) {
                    2
                } else if r.main.eq_ignore_ascii_case(main) && r.sub == "*" {
                    1
                } else if r.main == "*" && r.sub == "*" {
                    0
                } else {
                    return None;
                };
                Some((spec, r))
            })
            .max_by_key(|(spec, _)| *spec);
        let Some((spec, r)) = matched else { continue };
        if r.q <= 0.0 {
            default_excluded |= t == default;
            continue;
        }
        // Wildcard matches say nothing about this type in particular: they rank after
        // any explicit one and leave the default in charge.
        let pos = if spec == 0 { usize::MAX } else { r.pos };
        let better = match best {
            None => true,
            Some((q, p, _)) => r.q > q || (r.q == q && pos < p),
        };
        if better {
            best = Some((r.q, pos, t));
        }
    }
    match best {
        Some((_, usize::MAX, t)) if default_excluded => t,
        Some((_, usize::MAX, _)) | None => default,
        Some((_, _, t)) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn pick(accept: Option<&str>, offered: &[&'static str], default: &'static str) -> &'static str {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert(header::ACCEPT, HeaderValue::from_str(a).expect("header"));
        }
        negotiate(&h, offered, default)
    }

    const BADGE: &[&str] = &[
        "text/html",
        "application/json",
        "application/ld+json",
        "application/vc+jwt",
    ];

    #[test]
    fn a_browser_gets_the_page() {
        let chrome =
            "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert_eq!(pick(Some(chrome), BADGE, "application/json"), "text/html");
    }

    #[test]
    fn no_accept_or_only_wildcards_gets_the_default() {
        assert_eq!(pick(None, BADGE, "text/html"), "text/html");
        assert_eq!(
            pick(Some("*/*"), BADGE, "application/json"),
            "application/json"
        );
        assert_eq!(pick(Some("image/png"), BADGE, "text/html"), "text/html");
    }

    #[test]
    fn the_highest_quality_wins_then_the_first_listed() {
        assert_eq!(
            pick(
                Some("text/html;q=0.5, application/json"),
                BADGE,
                "text/html"
            ),
            "application/json"
        );
        assert_eq!(
            pick(Some("application/vc+jwt"), BADGE, "text/html"),
            "application/vc+jwt"
        );
        assert_eq!(
            pick(Some("application/ld+json, text/html"), BADGE, "text/html"),
            "application/ld+json"
        );
        assert_eq!(
            pick(
                Some("text/*, application/json;q=0.9"),
                BADGE,
                "application/json"
            ),
            "text/html"
        );
    }

    #[test]
    fn a_zero_quality_excludes_a_type() {
        assert_eq!(
            pick(Some("text/html;q=0, */*"), BADGE, "text/html"),
            "application/json"
        );
        assert_eq!(
            pick(
                Some("text/html;q=0, application/json;q=0.1"),
                BADGE,
                "text/html"
            ),
            "application/json"
        );
    }
}
