//! The issuer's colours on the pages, with text colours chosen for WCAG 2.1 AA
//! contrast (§1.4.3: at least 4.5:1 for text; relative luminance and contrast ratio as
//! WCAG 2.1 defines them).

use crate::catalogue::{DEFAULT_ACCENT, DEFAULT_PRIMARY};

/// Colours as `#rrggbb`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Header and button background.
    pub primary: String,
    /// Text on `primary`.
    pub on_primary: String,
    /// Decorative accent (rules, focus rings, badges' rims).
    pub accent: String,
    /// Text on `accent`.
    pub on_accent: String,
    /// Links on the white page: `primary` when it reads well there, else a dark blue.
    pub link: String,
}

const WHITE: &str = "#ffffff";
const INK: &str = "#15191e";
const FALLBACK_LINK: &str = "#0b4f9c";

fn rgb(hex: &str) -> Option<[f64; 3]> {
    let h = hex.strip_prefix('#')?;
    if h.len() != 6 {
        return None;
    }
    let c = |i: usize| u8::from_str_radix(h.get(i..i + 2)?, 16).ok().map(f64::from);
    Some([c(0)?, c(2)?, c(4)?])
}

/// WCAG 2.1 relative luminance.
pub fn luminance(hex: &str) -> Option<f64> {
    let [r, g, b] = rgb(hex)?.map(|v| {
        let s = v / 255.0;
        if s <= 0.039_28 {
            s / 12.92
        } else {
            ((s + 0.055) / 1.055).powf(2.4)
        }
    });
    Some(0.2126 * r + 0.7152 * g + 0.0722 * b)
}

/// WCAG 2.1 contrast ratio of two colours.
pub fn contrast(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

/// White, ink or black on `bg`: the first that reaches 4.5:1. One of white and black
/// always does (the worst case, a luminance of about 0.18, still gives 4.58:1).
fn text_on(bg: &str) -> String {
    [WHITE, INK, "#000000"]
        .into_iter()
        .find(|c| contrast(bg, c).unwrap_or(0.0) >= 4.5)
        .unwrap_or("#000000")
        .to_owned()
}

impl Theme {
    /// The theme of the issuer's colours (defaults where unset or unreadable).
    pub fn new(primary: Option<&str>, accent: Option<&str>) -> Self {
        let pick =
            |c: Option<&str>, d: &str| c.filter(|c| rgb(c).is_some()).unwrap_or(d).to_owned();
        let primary = pick(primary, DEFAULT_PRIMARY);
        let accent = pick(accent, DEFAULT_ACCENT);
        let link = if contrast(&primary, WHITE).unwrap_or(0.0) >= 4.5 {
            primary.clone()
        } else {
            FALLBACK_LINK.to_owned()
        };
        Self {
            on_primary: text_on(&primary),
            on_accent: text_on(&accent),
            primary,
            accent,
            link,
        }
    }

    /// The style sheet that sets these colours (custom properties the main style sheet
    /// uses).
    pub fn css(&self) -> String {
        format!(
            ":root{{--primary:{};--on-primary:{};--accent:{};--on-accent:{};--link:{};}}\n",
            self.primary, self.on_primary, self.accent, self.on_accent, self.link
        )
    }

    /// A short version of the colours, for the style sheet's URL.
    pub fn version(&self) -> String {
        let d = crate::images::content_address(self.css().as_bytes());
        d[..12].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_ratios_match_wcag_figures() {
        let r = contrast("#000000", "#ffffff").expect("ratio");
        assert!((r - 21.0).abs() < 0.01, "{r}");
        let r = contrast("#777777", "#ffffff").expect("ratio");
        assert!((r - 4.48).abs() < 0.01, "{r}");
    }

    #[test]
    fn every_text_colour_meets_aa_whatever_the_issuer_picks() {
        for (p, a) in [
            ("#ffff00", "#000080"),
            ("#12355b", "#f2a900"),
            ("#777777", "#888888"),
            ("#ffffff", "#ffffff"),
            ("#000000", "#000000"),
        ] {
            let t = Theme::new(Some(p), Some(a));
            assert!(
                contrast(&t.primary, &t.on_primary).expect("r") >= 4.5,
                "{p}"
            );
            assert!(contrast(&t.accent, &t.on_accent).expect("r") >= 4.5, "{a}");
            assert!(contrast(&t.link, WHITE).expect("r") >= 4.5, "{p}");
        }
    }

    #[test]
    fn unreadable_colours_fall_back_to_the_defaults() {
        let t = Theme::new(Some("red"), None);
        assert_eq!(t.primary, DEFAULT_PRIMARY);
        assert_eq!(t.accent, DEFAULT_ACCENT);
    }
}
