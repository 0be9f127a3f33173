//! QR codes for offer links, as SVG (inline in pages) and PNG (to download or print).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};

/// Modules of white border on each side (ISO/IEC 18004 asks for four).
const QUIET_ZONE: usize = 4;
/// Pixels per module in the PNG.
const PNG_SCALE: usize = 6;

/// Why a QR code could not be made (the data is too long for any version).
#[derive(Debug, thiserror::Error)]
#[error("cannot make a QR code: {0}")]
pub struct Error(String);

fn code(data: &str) -> Result<QrCode, Error> {
    QrCode::with_error_correction_level(data.as_bytes(), EcLevel::M)
        .map_err(|e| Error(e.to_string()))
}

/// Codes drawn lately, by data: the same link (a claim page's offer, a presentation
/// request) is drawn once however often strangers ask for it.
struct Drawn<T> {
    map: Mutex<HashMap<String, T>>,
}

/// How many drawings each memo keeps before it starts afresh.
const MEMO_ENTRIES: usize = 512;

impl<T: Clone> Drawn<T> {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }

    fn get_or(&self, data: &str, draw: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
        let lock = || {
            self.map
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        if let Some(v) = lock().get(data) {
            return Ok(v.clone());
        }
        let v = draw()?;
        let mut map = lock();
        if map.len() >= MEMO_ENTRIES {
            map.clear();
        }
        map.insert(data.to_owned(), v.clone());
        Ok(v)
    }
}

static SVGS: LazyLock<Drawn<String>> = LazyLock::new(Drawn::new);
static PNGS: LazyLock<Drawn<Vec<u8>>> = LazyLock::new(Drawn::new);

/// The QR code of `data` as an SVG document.
pub fn svg(data: &str) -> Result<String, Error> {
    SVGS.get_or(data, || draw_svg(data))
}

fn draw_svg(data: &str) -> Result<String, Error> {
    Ok(code(data)?
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build())
}

/// The QR code of `data` as a greyscale PNG.
pub fn png(data: &str) -> Result<Vec<u8>, Error> {
    PNGS.get_or(data, || draw_png(data))
}

fn draw_png(data: &str) -> Result<Vec<u8>, Error> {
    let code = code(data)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * PNG_SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + QUIET_ZONE, i / modules + QUIET_ZONE);
        for y in my * PNG_SCALE..(my + 1) * PNG_SCALE {
            pixels[y * side + mx * PNG_SCALE..y * side + (mx + 1) * PNG_SCALE].fill(0);
        }
    }
    let side32 = u32::try_from(side).map_err(|e| Error(e.to_string()))?;
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side32, side32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| Error(e.to_string()))?;
        w.write_image_data(&pixels)
            .map_err(|e| Error(e.to_string()))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_drawn_once_and_served_the_same() {
        let link =
            "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fx.example%2Fo%2Fmemo";
        let first = svg(link).expect("svg");
        assert_eq!(first, draw_svg(link).expect("svg"));
        assert!(SVGS.map.lock().expect("lock").contains_key(link));
        assert_eq!(svg(link).expect("again"), first);
        assert_eq!(png(link).expect("png"), draw_png(link).expect("png"));
    }

    #[test]
    fn png_is_a_square_image_with_a_quiet_zone_and_dark_modules() {
        let data = "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fbadges.example.edu%2Foid4vci%2Foffers%2Fabc";
        let bytes = png(data).expect("png");
        let dec = png::Decoder::new(bytes.as_slice());
        let mut r = dec.read_info().expect("decodes");
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).expect("frame");
        assert_eq!(info.width, info.height);
        let side = info.width as usize;
        let modules = code(data).expect("code").width();
        assert_eq!(side, (modules + 2 * QUIET_ZONE) * PNG_SCALE);
        // The border is white; the top-left finder pattern starts dark.
        assert!(
            buf[..side * QUIET_ZONE * PNG_SCALE]
                .iter()
                .all(|p| *p == 255)
        );
        let corner = QUIET_ZONE * PNG_SCALE;
        assert_eq!(buf[corner * side + corner], 0);
    }

    #[test]
    fn svg_is_an_svg_document() {
        let s = svg("openid-credential-offer://?x=1").expect("svg");
        assert!(s.contains("<svg") && s.contains("</svg>"));
    }
}
