//! The generated badge: a 600 × 600 seal drawn when an achievement has no image.
//!
//! A scalloped rosette in the accent colour around a disc in the primary colour, stars
//! at the top, the achievement's name in the middle, its type on a ribbon across the
//! lower half and the issuer's name along the bottom of the disc. The output is plain
//! SVG 1.1 (no script, no style sheet, no external reference), so it renders the same in
//! browsers and in [`rasterise`](super::rasterise).
//!
//! - **Text** is set in DejaVu Sans Bold (`'DejaVu Sans', Verdana, Arial, sans-serif`
//!   elsewhere). Lines are measured with that face's advance widths (built into
//!   [`advance`]) so the name wraps, shrinks and, as a last resort, ends in an ellipsis
//!   before it would leave the disc. Every piece of text is XML-escaped.
//! - **Colour**: `#rgb` or `#rrggbb`, else the defaults. Text is white or near-black,
//!   whichever contrasts more with what lies beneath it, and if even that falls short
//!   of WCAG 2 AA (4.5:1) the background is darkened or lightened until it meets it.

use std::fmt::Write as _;

use quick_xml::escape::escape;

/// What the generated badge shows.
#[derive(Debug, Clone, Copy)]
pub struct Design<'a> {
    /// The achievement's name.
    pub name: &'a str,
    /// The issuer's name.
    pub issuer: &'a str,
    /// The achievement type (`Certification`, `ext:Workshop`, ...), shown on the ribbon.
    pub badge_type: Option<&'a str>,
    /// The main colour, `#rrggbb` (or `#rgb`).
    pub primary: &'a str,
    /// The second colour, for the rim, the ribbon and the stars.
    pub accent: &'a str,
}

/// The primary colour when none (or a malformed one) is given.
const DEFAULT_PRIMARY: Rgb = Rgb([0x12, 0x35, 0x5b]);
/// The accent colour when none (or a malformed one) is given.
const DEFAULT_ACCENT: Rgb = Rgb([0xf2, 0xa9, 0x00]);
const WHITE: Rgb = Rgb([0xff, 0xff, 0xff]);
const BLACK: Rgb = Rgb([0, 0, 0]);
/// Dark text: near-black reads softer than black and still contrasts 17:1 with white.
const INK: Rgb = Rgb([0x14, 0x17, 0x1c]);
/// WCAG 2 AA contrast for normal text.
const AA: f64 = 4.5;
/// The font stack: the embedded face first, then faces with similar metrics.
const FONT: &str = "'DejaVu Sans', Verdana, Arial, sans-serif";

/// The canvas and its centre.
const SIDE: f64 = 600.0;
const C: f64 = SIDE / 2.0;

/// The name's box: centred at this height, at most this wide and tall.
const NAME_CENTRE: f64 = 245.0;
const NAME_WIDTH: f64 = 376.0;
const NAME_HEIGHT: f64 = 190.0;
const NAME_MAX_LINES: usize = 4;
const NAME_SIZES: (f64, f64) = (50.0, 22.0);
const LINE_HEIGHT: f64 = 1.14;

/// The ribbon band: vertical centre, height, half width.
const RIBBON_Y: f64 = 388.0;
const RIBBON_H: f64 = 58.0;
const RIBBON_HALF: f64 = 236.0;
/// Room for the type on the ribbon, and its letter spacing.
const RIBBON_TEXT_WIDTH: f64 = 380.0;
const RIBBON_SPACING: f64 = 2.5;

/// The issuer's arc: baseline radius and the longest text it carries.
const ISSUER_RADIUS: f64 = 208.0;
const ISSUER_WIDTH: f64 = 330.0;
const ISSUER_SPACING: f64 = 1.0;

/// Draws the badge. Always succeeds: bad colours fall back to the defaults and text that
/// does not fit is shrunk, then shortened.
pub fn default_design(d: &Design<'_>) -> String {
    let primary = Rgb::parse(d.primary).unwrap_or(DEFAULT_PRIMARY);
    let accent = Rgb::parse(d.accent).unwrap_or(DEFAULT_ACCENT);

    // The disc: lighter in the middle, darker at the rim, a sheen across the top. The
    // text colour must hold AA over all three.
    let mut disc = [
        primary.mix(WHITE, 0.10),
        primary.mix(BLACK, 0.22),
        primary.mix(WHITE, 0.10).mix(WHITE, 0.12),
    ];
    let ink = legible(&mut disc);
    let [disc_light, disc_dark, _] = disc;
    let rim_light = accent.mix(WHITE, 0.45);
    let rim_dark = accent.mix(BLACK, 0.30);
    let band = primary.mix(BLACK, 0.45);
    let mut ribbon = [accent.mix(WHITE, 0.18), accent.mix(BLACK, 0.06)];
    let ribbon_ink = legible(&mut ribbon);
    let [ribbon_light, ribbon_base] = ribbon;
    let ribbon_tail = ribbon_base.mix(BLACK, 0.28);
    let ribbon_fold = ribbon_base.mix(BLACK, 0.50);

    let mut svg = String::with_capacity(8 * 1024);
    let title = format!("{} — {}", d.name.trim(), d.issuer.trim());
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="600" height="600" viewBox="0 0 600 600" role="img"><title>{title}</title><defs><radialGradient id="badge-disc" cx="50%" cy="36%" r="64%"><stop offset="0" stop-color="{disc_light}"/><stop offset="1" stop-color="{disc_dark}"/></radialGradient><linearGradient id="badge-rim" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="{rim_light}"/><stop offset="0.5" stop-color="{accent}"/><stop offset="1" stop-color="{rim_dark}"/></linearGradient><linearGradient id="badge-sheen" gradientUnits="userSpaceOnUse" x1="0" y1="57" x2="0" y2="262"><stop offset="0" stop-color="#ffffff" stop-opacity="0.2"/><stop offset="1" stop-color="#ffffff" stop-opacity="0"/></linearGradient><linearGradient id="badge-ribbon" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{ribbon_light}"/><stop offset="1" stop-color="{ribbon_base}"/></linearGradient><path id="badge-issuer-arc" d="M{l} {c}A{r} {r} 0 0 0 {rr} {c}"/></defs>"##,
        title = escape(title.as_str()),
        disc_light = disc_light.hex(),
        disc_dark = disc_dark.hex(),
        rim_light = rim_light.hex(),
        accent = accent.hex(),
        rim_dark = rim_dark.hex(),
        ribbon_light = ribbon_light.hex(),
        ribbon_base = ribbon_base.hex(),
        l = num(C - ISSUER_RADIUS),
        rr = num(C + ISSUER_RADIUS),
        c = num(C),
        r = num(ISSUER_RADIUS),
    );

    // The rosette, its rim, the disc and its stitching.
    let _ = write!(
        svg,
        r#"<path d="{rosette}" fill="url(#badge-rim)" stroke="{rim_dark}" stroke-width="2"/><circle cx="300" cy="300" r="258" fill="{band}"/><circle cx="300" cy="300" r="250" fill="none" stroke="url(#badge-rim)" stroke-width="5"/><circle cx="300" cy="300" r="243" fill="url(#badge-disc)"/><circle cx="300" cy="300" r="229" fill="none" stroke="{ink}" stroke-opacity="0.4" stroke-width="2.5" stroke-linecap="round" stroke-dasharray="0.5 9"/><path d="M57 300A243 243 0 0 1 543 300C470 236 130 236 57 300Z" fill="url(#badge-sheen)"/>"#,
        rosette = rosette(40, 276.0, 11.0),
        rim_dark = rim_dark.hex(),
        band = band.hex(),
        ink = ink.hex(),
    );

    // Stars at the top.
    let _ = write!(
        svg,
        r#"<g fill="{accent}" stroke="{rim_dark}" stroke-width="1.5" stroke-linejoin="round"><path d="{big}"/><path d="{left}"/><path d="{right}"/></g>"#,
        accent = accent.hex(),
        rim_dark = rim_dark.hex(),
        big = star(C, 104.0, 24.0),
        left = star(C - 48.0, 116.0, 14.0),
        right = star(C + 48.0, 116.0, 14.0),
    );

    // The name.
    let name = fit_name(d.name.trim());
    let leading = name.size * LINE_HEIGHT;
    let first = NAME_CENTRE - leading * (name.lines.len() as f64 - 1.0) / 2.0 + name.size * 0.36;
    let _ = write!(
        svg,
        r#"<g font-family="{FONT}" font-weight="bold" font-size="{size}" text-anchor="middle" fill="{ink}">"#,
        size = num(name.size),
        ink = ink.hex(),
    );
    for (i, line) in name.lines.iter().enumerate() {
        let _ = write!(
            svg,
            r#"<text x="300" y="{y}">{text}</text>"#,
            y = num(first + leading * i as f64),
            text = escape(line.as_str()),
        );
    }
    svg.push_str("</g>");

    // The ribbon: tails behind, folds, the band, the type.
    let (top, bottom) = (RIBBON_Y - RIBBON_H / 2.0, RIBBON_Y + RIBBON_H / 2.0);
    let (left, right) = (C - RIBBON_HALF, C + RIBBON_HALF);
    let drop = 16.0;
    let tail = 52.0;
    let notch = 16.0;
    let _ = write!(
        svg,
        r#"<g stroke-linejoin="round"><path d="M{lt} {tt}H{li}V{tb}H{lt}L{ln} {tm}Z" fill="{tail_c}"/><path d="M{rt} {tt}H{ri}V{tb}H{rt}L{rn} {tm}Z" fill="{tail_c}"/><path d="M{left} {bottom}L{li} {tb}V{bottom}Z" fill="{fold}"/><path d="M{right} {bottom}L{ri} {tb}V{bottom}Z" fill="{fold}"/><path d="M{left} {top}Q300 {qt} {right} {top}V{bottom}Q300 {qb} {left} {bottom}Z" fill="url(#badge-ribbon)"/><path d="M{left} {hl}Q300 {qh} {right} {hl}" fill="none" stroke="{ink}" stroke-opacity="0.25" stroke-width="1.5"/><path d="M{left} {hb}Q300 {qhb} {right} {hb}" fill="none" stroke="{ink}" stroke-opacity="0.25" stroke-width="1.5"/></g>"#,
        lt = num(left - tail),
        li = num(left + 24.0),
        rt = num(right + tail),
        ri = num(right - 24.0),
        tt = num(top + drop),
        tb = num(bottom + drop),
        tm = num(RIBBON_Y + drop),
        ln = num(left - tail + notch),
        rn = num(right + tail - notch),
        tail_c = ribbon_tail.hex(),
        fold = ribbon_fold.hex(),
        qt = num(top - 10.0),
        qb = num(bottom - 10.0),
        hl = num(top + 6.0),
        qh = num(top - 4.0),
        hb = num(bottom - 6.0),
        qhb = num(bottom - 16.0),
        ink = ribbon_ink.hex(),
    );
    match d.badge_type.map(type_label).filter(|t| !t.is_empty()) {
        Some(label) => {
            let (text, size) = fit_line(&label, RIBBON_TEXT_WIDTH, (24.0, 15.0), RIBBON_SPACING);
            let _ = write!(
                svg,
                r#"<text x="300" y="{y}" font-family="{FONT}" font-weight="bold" font-size="{size}" letter-spacing="{RIBBON_SPACING}" text-anchor="middle" fill="{ink}">{text}</text>"#,
                y = num(RIBBON_Y - 5.0 + size * 0.36),
                size = num(size),
                ink = ribbon_ink.hex(),
                text = escape(text.as_str()),
            );
        }
        None => {
            let _ = write!(
                svg,
                r#"<g fill="{ink}"><path d="{a}"/><path d="{b}"/><path d="{c}"/></g>"#,
                ink = ribbon_ink.hex(),
                a = star(C - 34.0, RIBBON_Y - 5.0, 10.0),
                b = star(C, RIBBON_Y - 5.0, 12.0),
                c = star(C + 34.0, RIBBON_Y - 5.0, 10.0),
            );
        }
    }

    // The issuer, along the bottom of the disc.
    let (issuer, size) = fit_line(d.issuer.trim(), ISSUER_WIDTH, (20.0, 13.0), ISSUER_SPACING);
    let _ = write!(
        svg,
        r##"<text font-family="{FONT}" font-weight="bold" font-size="{size}" letter-spacing="{ISSUER_SPACING}" text-anchor="middle" fill="{ink}"><textPath xlink:href="#badge-issuer-arc" startOffset="50%">{text}</textPath></text></svg>"##,
        size = num(size),
        ink = ink.hex(),
        text = escape(issuer.as_str()),
    );
    svg
}

/// A colour as its three 8-bit channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rgb([u8; 3]);

impl Rgb {
    /// `#rgb` or `#rrggbb` (either case, surrounding space ignored).
    fn parse(s: &str) -> Option<Self> {
        let hex = s.trim().strip_prefix('#')?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).ok();
        let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        match hex.len() {
            3 => Some(Self([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17])),
            6 => Some(Self([pair(0)?, pair(2)?, pair(4)?])),
            _ => None,
        }
    }

    fn hex(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// `self` moved a fraction `t` of the way to `other`.
    fn mix(self, other: Self, t: f64) -> Self {
        let channel =
            |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        let ([r, g, b], [r2, g2, b2]) = (self.0, other.0);
        Self([channel(r, r2), channel(g, g2), channel(b, b2)])
    }

    /// WCAG 2 relative luminance.
    fn luminance(self) -> f64 {
        let linear = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        let [r, g, b] = self.0;
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }
}

/// WCAG 2 contrast ratio (1 to 21).
fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Chooses white or ink for text over every one of `backgrounds` (the one with the
/// better worst case) and moves each background away from the text colour until the
/// pair meets AA.
fn legible(backgrounds: &mut [Rgb]) -> Rgb {
    let worst = |text: Rgb, bgs: &[Rgb]| {
        bgs.iter()
            .map(|bg| contrast(text, *bg))
            .fold(f64::INFINITY, f64::min)
    };
    let text = if worst(WHITE, backgrounds) >= worst(INK, backgrounds) {
        WHITE
    } else {
        INK
    };
    let away = if text == WHITE { BLACK } else { WHITE };
    for bg in backgrounds.iter_mut() {
        // Each step closes 8% of the gap to black (or white), against which the text
        // contrasts at least 17:1, so this ends well within the bound.
        for _ in 0..64 {
            if contrast(text, *bg) >= AA {
                break;
            }
            *bg = bg.mix(away, 0.08);
        }
    }
    text
}

/// A name set in lines at a size.
struct Fitted {
    lines: Vec<String>,
    size: f64,
}

/// Sets the name at the largest size at which it fits the box in at most
/// [`NAME_MAX_LINES`] balanced lines; failing that, at the smallest size with the last
/// line cut short by an ellipsis.
fn fit_name(name: &str) -> Fitted {
    let words = words(name);
    let (max, min) = NAME_SIZES;
    let mut size = max;
    while size >= min {
        let lines_allowed =
            ((NAME_HEIGHT / (size * LINE_HEIGHT)).floor() as usize).clamp(1, NAME_MAX_LINES);
        let width = NAME_WIDTH;
        if let Some(lines) = wrap(&words, size, width)
            && lines.len() <= lines_allowed
        {
            return Fitted {
                lines: balance(&words, size, width, lines),
                size,
            };
        }
        size -= 2.0;
    }
    // At the smallest size: break words that are too long, keep the first lines, and
    // end the last with an ellipsis.
    let size = min;
    let lines_allowed =
        ((NAME_HEIGHT / (size * LINE_HEIGHT)).floor() as usize).clamp(1, NAME_MAX_LINES);
    let pieces: Vec<String> = words
        .iter()
        .flat_map(|w| split_to_width(w, size, NAME_WIDTH))
        .collect();
    let mut lines = wrap(&pieces, size, NAME_WIDTH).unwrap_or_default();
    if lines.len() > lines_allowed {
        let rest = lines.split_off(lines_allowed - 1).join(" ");
        lines.push(ellipsize(&rest, size, NAME_WIDTH, 0.0, true));
    }
    Fitted { lines, size }
}

/// The words of a name; a lone dash or ampersand stays with the word before it, so that
/// no line starts with one.
fn words(name: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in name.split_whitespace() {
        match words.last_mut() {
            Some(last) if matches!(word, "—" | "–" | "-" | "&" | "|" | "/" | ":") => {
                last.push(' ');
                last.push_str(word);
            }
            _ => words.push(word.to_owned()),
        }
    }
    words
}

/// Greedy wrapping at `width`; `None` when one word alone is wider.
fn wrap(words: &[String], size: f64, width: f64) -> Option<Vec<String>> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in words {
        if text_width(word, size, 0.0) > width {
            return None;
        }
        if line.is_empty() {
            line.push_str(word);
            continue;
        }
        let candidate = format!("{line} {word}");
        if text_width(&candidate, size, 0.0) <= width {
            line = candidate;
        } else {
            lines.push(std::mem::replace(&mut line, word.clone()));
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    Some(lines)
}

/// The same number of lines as `lines`, as even in length as greedy wrapping at a
/// narrower width makes them (no short last line under long ones).
fn balance(words: &[String], size: f64, width: f64, lines: Vec<String>) -> Vec<String> {
    let count = lines.len();
    if count < 2 {
        return lines;
    }
    let (mut lo, mut hi) = (0.0, width);
    let mut best = lines;
    for _ in 0..14 {
        let mid = (lo + hi) / 2.0;
        match wrap(words, size, mid) {
            Some(candidate) if candidate.len() <= count => {
                best = candidate;
                hi = mid;
            }
            _ => lo = mid,
        }
    }
    best
}

/// A word cut into pieces no wider than `width`.
fn split_to_width(word: &str, size: f64, width: f64) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    for c in word.chars() {
        piece.push(c);
        if text_width(&piece, size, 0.0) > width && piece.chars().count() > 1 {
            piece.pop();
            pieces.push(std::mem::take(&mut piece));
            piece.push(c);
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

/// One line of text at the largest size in `sizes` (largest, smallest) at which it is
/// no wider than `width`, else at the smallest, shortened with an ellipsis.
fn fit_line(text: &str, width: f64, sizes: (f64, f64), spacing: f64) -> (String, f64) {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (max, min) = sizes;
    let mut size = max;
    while size >= min {
        if text_width(&text, size, spacing) <= width {
            return (text, size);
        }
        size -= 1.0;
    }
    (ellipsize(&text, min, width, spacing, false), min)
}

/// `text` cut (at a word boundary when one is near) so that it and an ellipsis fit
/// `width`; `always` adds the ellipsis even when the text fits, as it stands for text
/// left out.
fn ellipsize(text: &str, size: f64, width: f64, spacing: f64, always: bool) -> String {
    if !always && text_width(text, size, spacing) <= width {
        return text.to_owned();
    }
    let mut cut: String = text.to_owned();
    loop {
        let candidate = format!("{}…", cut.trim_end());
        if text_width(&candidate, size, spacing) <= width || cut.is_empty() {
            return candidate;
        }
        cut.pop();
        // Prefer ending on a whole word when that costs less than a third of the line.
        if let Some(space) = cut.rfind(' ')
            && text_width(&cut[..space], size, spacing) > width * 0.66
            && text_width(&format!("{}…", &cut[..space]), size, spacing) <= width
        {
            return format!("{}…", cut[..space].trim_end());
        }
    }
}

/// The label on the ribbon: `ext:` dropped, CamelCase split, upper case.
fn type_label(badge_type: &str) -> String {
    let t = badge_type.trim();
    let t = t.strip_prefix("ext:").unwrap_or(t);
    let mut out = String::with_capacity(t.len() + 4);
    let mut prev: Option<char> = None;
    for c in t.chars() {
        if c.is_uppercase() && prev.is_some_and(char::is_lowercase) {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out.to_uppercase()
}

/// The width of `text` in DejaVu Sans Bold at `size` px, `spacing` px after every
/// character.
fn text_width(text: &str, size: f64, spacing: f64) -> f64 {
    text.chars()
        .map(|c| f64::from(advance(c)) * size / 1000.0 + spacing)
        .sum()
}

/// Advance widths of DejaVu Sans Bold in thousandths of an em, from the font's `hmtx`
/// table: printable ASCII, then Latin-1 from U+00A0.
const ASCII: [u16; 95] = [
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696,
    696, 696, 696, 696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683,
    683, 821, 837, 372, 372, 775, 637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771,
    724, 725, 457, 365, 457, 838, 500, 500, 675, 716, 593, 716, 678, 435, 716, 712, 343, 343, 665,
    343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924, 645, 652, 582, 712, 365, 712, 838,
];
const LATIN1: [u16; 96] = [
    348, 456, 696, 696, 636, 696, 365, 500, 500, 1000, 564, 646, 838, 415, 1000, 500, 500, 838,
    438, 438, 500, 736, 636, 380, 500, 438, 564, 646, 1035, 1035, 1035, 580, 774, 774, 774, 774,
    774, 774, 1085, 734, 683, 683, 683, 683, 372, 372, 372, 372, 838, 837, 850, 850, 850, 850, 850,
    838, 850, 812, 812, 812, 812, 724, 738, 719, 675, 675, 675, 675, 675, 675, 1048, 593, 678, 678,
    678, 678, 343, 343, 343, 343, 687, 712, 687, 687, 687, 687, 687, 838, 687, 712, 712, 712, 712,
    652, 716, 652,
];

/// The advance of one character; outside the tables, a typical punctuation width or a
/// generous estimate (a full em for East Asian wide characters).
fn advance(c: char) -> u16 {
    let code = u32::from(c);
    match code {
        0x20..=0x7e => ASCII[(code - 0x20) as usize],
        0xa0..=0xff => LATIN1[(code - 0xa0) as usize],
        0x2013 => 500,
        0x2014 | 0x2026 | 0x2122 => 1000,
        0x2018 | 0x2019 => 380,
        0x201c | 0x201d => 657,
        0x2022 => 639,
        0x1100..=0x115f | 0x2e80..=0xa4cf | 0xac00..=0xd7a3 | 0xf900..=0xfaff | 0xff00..=0xff60 => {
            1000
        }
        _ => 760,
    }
}

/// A scalloped circle: `count` shallow arcs bulging `depth` beyond `radius`.
fn rosette(count: u32, radius: f64, depth: f64) -> String {
    let step = std::f64::consts::TAU / f64::from(count);
    let chord = 2.0 * radius * (step / 2.0).sin();
    // The radius of an arc over `chord` whose middle stands `depth` off it.
    let arc = (chord * chord / 4.0 + depth * depth) / (2.0 * depth);
    let point = |i: u32| {
        let a = step * f64::from(i) - std::f64::consts::FRAC_PI_2;
        (C + radius * a.cos(), C + radius * a.sin())
    };
    let (x0, y0) = point(0);
    let mut d = format!("M{} {}", num(x0), num(y0));
    for i in 1..=count {
        let (x, y) = point(i);
        let _ = write!(d, "A{a} {a} 0 0 1 {} {}", num(x), num(y), a = num(arc));
    }
    d.push('Z');
    d
}

/// A five-pointed star centred on (`cx`, `cy`), point up.
fn star(cx: f64, cy: f64, r: f64) -> String {
    let inner = r * 0.42;
    let mut d = String::new();
    for i in 0..10 {
        let a = std::f64::consts::PI / 5.0 * f64::from(i) - std::f64::consts::FRAC_PI_2;
        let len = if i % 2 == 0 { r } else { inner };
        let _ = write!(
            d,
            "{}{} {}",
            if i == 0 { 'M' } else { 'L' },
            num(cx + len * a.cos()),
            num(cy + len * a.sin())
        );
    }
    d.push('Z');
    d
}

/// A coordinate with at most two decimals and no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    use super::*;
    use crate::bake;
    use crate::images::{rasterise, sanitize_svg};

    fn design<'a>(name: &'a str, issuer: &'a str, badge_type: Option<&'a str>) -> Design<'a> {
        Design {
            name,
            issuer,
            badge_type,
            primary: "#12355b",
            accent: "#f2a900",
        }
    }

    /// Every text node of a document, unescaped, in order.
    fn texts(svg: &str) -> Vec<String> {
        let mut reader = Reader::from_str(svg);
        let mut out = Vec::new();
        let mut current = String::new();
        loop {
            match reader.read_event().expect("well-formed XML") {
                Event::Text(t) => current.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let resolved = match r.resolve_char_ref().expect("char ref") {
                        Some(c) => c.to_string(),
                        None => quick_xml::escape::resolve_xml_entity(&r)
                            .expect("predefined entity")
                            .to_owned(),
                    };
                    current.push_str(&resolved);
                }
                Event::End(_) | Event::Start(_) | Event::Empty(_) if !current.is_empty() => {
                    out.push(std::mem::take(&mut current));
                }
                Event::Eof => break,
                _ => {}
            }
        }
        out
    }

    #[test]
    fn the_design_is_well_formed_svg_that_the_sanitiser_keeps_whole() {
        let svg = default_design(&design(
            "Cloud Practitioner",
            "Example Academy",
            Some("Certification"),
        ));
        let clean = sanitize_svg(svg.as_bytes()).expect("sanitised");
        assert_eq!(texts(&clean), texts(&svg));
        assert_eq!(clean.matches('<').count(), svg.matches('<').count());
        let t = texts(&svg);
        assert!(t.contains(&"Cloud".to_owned()), "{t:?}");
        assert!(t.contains(&"Practitioner".to_owned()), "{t:?}");
        assert!(t.contains(&"CERTIFICATION".to_owned()), "{t:?}");
        assert!(t.contains(&"Example Academy".to_owned()), "{t:?}");
    }

    #[test]
    fn the_design_rasterises_to_a_png_of_the_requested_size() {
        let svg = default_design(&design(
            "Cloud Practitioner",
            "Example Academy",
            Some("Badge"),
        ));
        for size in [64, 600] {
            let png = rasterise(&svg, size).expect("rendered");
            assert_eq!(bake::png_dimensions(&png).expect("png"), (size, size));
        }
    }

    #[test]
    fn hostile_names_are_escaped() {
        let hostile = r#"</text><script>alert("x")</script><text>&amp; ' ]]>"#;
        let svg = default_design(&Design {
            name: hostile,
            issuer: hostile,
            badge_type: Some(hostile),
            primary: r#""/><script>alert(1)</script>"#,
            accent: "javascript:alert(1)",
        });
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("javascript"), "{svg}");
        let clean = sanitize_svg(svg.as_bytes()).expect("sanitised");
        assert_eq!(texts(&clean), texts(&svg));
        let all = texts(&svg).concat();
        assert!(all.contains("alert(\"x\")"), "{all}");
    }

    #[test]
    fn a_long_name_wraps_into_at_most_four_lines_that_fit() {
        let name = "Certified Cloud Security Professional — Advanced Architecture";
        let fitted = fit_name(name);
        assert!(
            (2..=NAME_MAX_LINES).contains(&fitted.lines.len()),
            "{:?}",
            fitted.lines
        );
        assert_eq!(fitted.lines.join(" "), name);
        assert!(fitted.size < NAME_SIZES.0 && fitted.size >= NAME_SIZES.1);
        for line in &fitted.lines {
            assert!(text_width(line, fitted.size, 0.0) <= NAME_WIDTH, "{line}");
            assert!(!line.starts_with('—'), "{line}");
        }
    }

    #[test]
    fn a_short_name_is_set_large_on_one_line() {
        let fitted = fit_name("Python");
        assert_eq!(fitted.lines, ["Python"]);
        assert_eq!(fitted.size, NAME_SIZES.0);
    }

    #[test]
    fn an_overlong_name_ends_in_an_ellipsis() {
        let name = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip";
        let fitted = fit_name(name);
        assert_eq!(fitted.size, NAME_SIZES.1);
        assert!(fitted.lines.len() <= NAME_MAX_LINES);
        let last = fitted.lines.last().expect("lines");
        assert!(last.ends_with('…'), "{last}");
        for line in &fitted.lines {
            assert!(text_width(line, fitted.size, 0.0) <= NAME_WIDTH, "{line}");
        }
    }

    #[test]
    fn a_name_that_is_one_long_word_is_broken() {
        let fitted = fit_name(&"W".repeat(200));
        assert!(fitted.lines.len() <= NAME_MAX_LINES);
        for line in &fitted.lines {
            assert!(text_width(line, fitted.size, 0.0) <= NAME_WIDTH, "{line}");
        }
    }

    #[test]
    fn long_issuers_and_types_are_shrunk_then_shortened() {
        let (text, size) = fit_line("Example Academy", ISSUER_WIDTH, (20.0, 13.0), 1.0);
        assert_eq!((text.as_str(), size), ("Example Academy", 20.0));
        let long = "The Very Long and Distinguished Northwind Institute of Technology and Applied Sciences";
        let (text, size) = fit_line(long, ISSUER_WIDTH, (20.0, 13.0), 1.0);
        assert_eq!(size, 13.0);
        assert!(text.ends_with('…'), "{text}");
        assert!(text_width(&text, size, 1.0) <= ISSUER_WIDTH, "{text}");
    }

    #[test]
    fn badge_types_read_as_labels() {
        assert_eq!(type_label("Certification"), "CERTIFICATION");
        assert_eq!(
            type_label("ApprenticeshipCertificate"),
            "APPRENTICESHIP CERTIFICATE"
        );
        assert_eq!(type_label("ext:Workshop"), "WORKSHOP");
        assert_eq!(
            type_label("Professional Certification"),
            "PROFESSIONAL CERTIFICATION"
        );
    }

    #[test]
    fn colours_are_validated_with_defaults_for_the_rest() {
        assert_eq!(Rgb::parse("#12355b"), Some(Rgb([0x12, 0x35, 0x5b])));
        assert_eq!(Rgb::parse(" #ABC "), Some(Rgb([0xaa, 0xbb, 0xcc])));
        for bad in [
            "12355b", "#12355", "#12355bb", "#ggg", "red", "", "#", "#+1+2+3",
        ] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
        let good = default_design(&design("A", "B", None));
        let bad = default_design(&Design {
            primary: "navy",
            accent: "#12",
            ..design("A", "B", None)
        });
        assert_eq!(good, bad);
    }

    #[test]
    fn text_keeps_aa_contrast_on_any_colours() {
        for (primary, accent) in [
            ("#12355b", "#f2a900"),
            ("#ffffff", "#ffffff"),
            ("#000000", "#000000"),
            ("#777777", "#808080"),
            ("#ffcc00", "#0055ff"),
            ("#e03131", "#2f9e44"),
            ("#4dabf7", "#f783ac"),
        ] {
            let p = Rgb::parse(primary).expect("colour");
            let a = Rgb::parse(accent).expect("colour");
            let mut disc = [p.mix(WHITE, 0.10), p.mix(BLACK, 0.22)];
            let ink = legible(&mut disc);
            for bg in disc {
                assert!(contrast(ink, bg) >= AA, "{primary}: {}", contrast(ink, bg));
            }
            let mut ribbon = [a.mix(WHITE, 0.18), a.mix(BLACK, 0.06)];
            let ink = legible(&mut ribbon);
            for bg in ribbon {
                assert!(contrast(ink, bg) >= AA, "{accent}: {}", contrast(ink, bg));
            }
        }
    }

    #[test]
    fn dark_text_goes_on_light_colours_and_white_on_dark() {
        assert_eq!(
            legible(&mut [Rgb::parse("#12355b").expect("colour")]),
            WHITE
        );
        assert_eq!(legible(&mut [Rgb::parse("#f2a900").expect("colour")]), INK);
        assert!((contrast(WHITE, BLACK) - 21.0).abs() < 1e-9);
    }

    #[test]
    fn coordinates_are_short() {
        assert_eq!(num(300.0), "300");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(1.0 / 3.0), "0.33");
        assert_eq!(num(-0.001), "0");
    }
}
