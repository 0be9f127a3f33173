//! PNG renditions: SVG rendered with resvg, PNG rescaled with tiny-skia.
//!
//! Rendering must not depend on the machine, nor reach outside the document: the font
//! database holds only the two DejaVu Sans faces compiled in (every generic family maps
//! to them), `resources_dir` is unset so no relative path resolves, and `<image>`
//! references resolve only as embedded PNG data (which this build of resvg does not
//! paint: it is built without raster image support; [`resize_png`] handles PNG art).

use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use resvg::tiny_skia::{FilterQuality, Pixmap, PixmapPaint, Transform};
use resvg::usvg::{self, ImageHrefResolver, ImageKind, fontdb};

use super::{Error, png_size};

/// The largest square [`rasterise`] and [`resize_png`] draw, in pixels.
pub const MAX_RENDER_PX: u32 = 2048;

/// The family every text falls back to.
const FONT_FAMILY: &str = "DejaVu Sans";
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// The fonts, loaded once: only the embedded faces, whatever the system has.
static FONTS: LazyLock<Arc<fontdb::Database>> = LazyLock::new(|| {
    let mut db = fontdb::Database::new();
    db.load_font_source(fontdb::Source::Binary(Arc::new(DEJAVU_SANS)));
    db.load_font_source(fontdb::Source::Binary(Arc::new(DEJAVU_SANS_BOLD)));
    db.set_sans_serif_family(FONT_FAMILY);
    db.set_serif_family(FONT_FAMILY);
    db.set_monospace_family(FONT_FAMILY);
    db.set_cursive_family(FONT_FAMILY);
    db.set_fantasy_family(FONT_FAMILY);
    Arc::new(db)
});

/// Options that load nothing from outside the document.
fn options() -> usvg::Options<'static> {
    usvg::Options {
        resources_dir: None,
        font_family: FONT_FAMILY.to_owned(),
        fontdb: FONTS.clone(),
        image_href_resolver: ImageHrefResolver {
            resolve_data: Box::new(|mime, data, _| {
                (mime == "image/png").then_some(ImageKind::PNG(data))
            }),
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    }
}

/// Renders an SVG into a transparent `size_px` square PNG, the drawing scaled to fit and
/// centred.
pub fn rasterise(svg: &str, size_px: u32) -> Result<Vec<u8>, Error> {
    check_size(size_px)?;
    let tree = usvg::Tree::from_str(svg, &options()).map_err(|e| Error::Render(e.to_string()))?;
    let mut pixmap = square(size_px)?;
    let size = tree.size();
    let transform = fit(size.width(), size.height(), size_px);
    resvg::render(&tree, transform, &mut pixmap.as_mut());
    encode(&pixmap)
}

/// Rescales a PNG into a transparent `size_px` square PNG (fit, centred), with
/// high-quality filtering; its `IHDR` is checked against
/// [`MAX_PNG_SIDE`](super::MAX_PNG_SIDE) before
/// anything is decoded.
pub fn resize_png(png: &[u8], size_px: u32) -> Result<Vec<u8>, Error> {
    check_size(size_px)?;
    png_size(png)?;
    let mut source = Pixmap::decode_png(png).map_err(|e| Error::PngDecode(e.to_string()))?;
    // One bicubic step samples only 4 × 4 source pixels, so a large reduction is done
    // as halvings first: each averages every pixel, and no detail aliases.
    while source.width() / 2 >= size_px.saturating_mul(2)
        && source.height() / 2 >= size_px.saturating_mul(2)
    {
        source = halve(&source)?;
    }
    let mut pixmap = square(size_px)?;
    let transform = fit(source.width() as f32, source.height() as f32, size_px);
    let paint = PixmapPaint {
        quality: FilterQuality::Bicubic,
        ..PixmapPaint::default()
    };
    pixmap.draw_pixmap(0, 0, source.as_ref(), &paint, transform, None);
    encode(&pixmap)
}

/// An SVG showing a PNG at `width` × `height`, for baking PNG art as SVG (§5.3.2).
pub fn png_in_svg(png: &[u8], width: u32, height: u32) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><image width="{width}" height="{height}" preserveAspectRatio="xMidYMid meet" xlink:href="data:image/png;base64,{data}"/></svg>"#
    )
}

fn check_size(size_px: u32) -> Result<(), Error> {
    if size_px == 0 || size_px > MAX_RENDER_PX {
        return Err(Error::SizeOutOfRange {
            size: size_px,
            limit: MAX_RENDER_PX,
        });
    }
    Ok(())
}

fn square(size_px: u32) -> Result<Pixmap, Error> {
    Pixmap::new(size_px, size_px).ok_or(Error::SizeOutOfRange {
        size: size_px,
        limit: MAX_RENDER_PX,
    })
}

/// Scales a `width` × `height` drawing to fit a `size_px` square, centred.
fn fit(width: f32, height: f32, size_px: u32) -> Transform {
    let side = size_px as f32;
    let scale = (side / width).min(side / height);
    Transform::from_row(
        scale,
        0.0,
        0.0,
        scale,
        (side - width * scale) / 2.0,
        (side - height * scale) / 2.0,
    )
}

/// The pixmap at half its size, each pixel the average of four (bilinear at exactly
/// half a pixel's offset).
fn halve(source: &Pixmap) -> Result<Pixmap, Error> {
    let (w, h) = ((source.width() / 2).max(1), (source.height() / 2).max(1));
    let mut half = Pixmap::new(w, h).ok_or_else(|| Error::PngDecode("empty image".into()))?;
    let paint = PixmapPaint {
        quality: FilterQuality::Bilinear,
        ..PixmapPaint::default()
    };
    let transform = Transform::from_scale(
        w as f32 / source.width() as f32,
        h as f32 / source.height() as f32,
    );
    half.draw_pixmap(0, 0, source.as_ref(), &paint, transform, None);
    Ok(half)
}

fn encode(pixmap: &Pixmap) -> Result<Vec<u8>, Error> {
    pixmap
        .encode_png()
        .map_err(|e| Error::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::solid_png;
    use super::*;
    use crate::bake;

    fn dimensions(png: &[u8]) -> (u32, u32) {
        bake::png_dimensions(png).expect("a PNG")
    }

    fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 4] {
        let pixmap = Pixmap::decode_png(png).expect("decodes");
        let p = pixmap.pixel(x, y).expect("in range").demultiply();
        [p.red(), p.green(), p.blue(), p.alpha()]
    }

    const SQUARE: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="#ff0000"/></svg>"##;

    #[test]
    fn rasterise_draws_a_square_png_of_the_requested_size() {
        let png = rasterise(SQUARE, 64).expect("rendered");
        assert_eq!(dimensions(&png), (64, 64));
        assert_eq!(pixel(&png, 32, 32), [255, 0, 0, 255]);
    }

    #[test]
    fn rasterise_fits_a_wide_drawing_and_leaves_the_rest_transparent() {
        let wide = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 100"><rect width="200" height="100" fill="#0000ff"/></svg>"##;
        let png = rasterise(wide, 100).expect("rendered");
        assert_eq!(dimensions(&png), (100, 100));
        assert_eq!(pixel(&png, 50, 50), [0, 0, 255, 255]);
        assert_eq!(pixel(&png, 50, 5)[3], 0);
        assert_eq!(pixel(&png, 50, 95)[3], 0);
    }

    #[test]
    fn rasterise_refuses_sizes_beyond_2048_and_zero() {
        for size in [0, MAX_RENDER_PX + 1, u32::MAX] {
            let err = rasterise(SQUARE, size).expect_err("refused");
            assert!(matches!(err, Error::SizeOutOfRange { .. }), "{err:?}");
        }
        assert_eq!(
            dimensions(&rasterise(SQUARE, MAX_RENDER_PX).expect("at the limit")),
            (MAX_RENDER_PX, MAX_RENDER_PX)
        );
    }

    #[test]
    fn rasterise_draws_text_with_the_embedded_font() {
        let text = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><text x="10" y="70" font-size="80" font-family="NoSuchFont, serif">H</text></svg>"#;
        let png = rasterise(text, 100).expect("rendered");
        let pixmap = Pixmap::decode_png(&png).expect("decodes");
        let inked = pixmap.pixels().iter().filter(|p| p.alpha() > 0).count();
        assert!(inked > 500, "only {inked} pixels drawn");
    }

    #[test]
    fn rasterise_reports_what_is_not_svg() {
        assert!(matches!(rasterise("<html/>", 10), Err(Error::Render(_))));
        assert!(matches!(rasterise("not xml", 10), Err(Error::Render(_))));
    }

    #[test]
    fn rasterise_loads_no_external_image() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"><image width="10" height="10" xlink:href="/etc/hostname"/><image width="10" height="10" xlink:href="https://example.org/x.png"/></svg>"#;
        let png = rasterise(svg, 10).expect("rendered");
        assert_eq!(pixel(&png, 5, 5)[3], 0);
    }

    #[test]
    fn resize_png_scales_to_a_centred_square() {
        let png = solid_png(40, 20, [0, 128, 0, 255]);
        let out = resize_png(&png, 100).expect("resized");
        assert_eq!(dimensions(&out), (100, 100));
        assert_eq!(pixel(&out, 50, 50), [0, 128, 0, 255]);
        assert_eq!(pixel(&out, 50, 10)[3], 0);
        assert_eq!(pixel(&out, 50, 90)[3], 0);
    }

    #[test]
    fn resize_png_shrinks_large_images_through_halvings() {
        let png = solid_png(1500, 1500, [200, 100, 50, 255]);
        let out = resize_png(&png, 64).expect("resized");
        assert_eq!(dimensions(&out), (64, 64));
        assert_eq!(pixel(&out, 32, 32), [200, 100, 50, 255]);
        assert_eq!(pixel(&out, 0, 0)[3], 255);
    }

    #[test]
    fn resize_png_refuses_oversized_claims_and_bad_sizes() {
        let mut png = solid_png(1, 1, [0; 4]);
        png[16..20].copy_from_slice(&5000u32.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        assert!(matches!(
            resize_png(&png, 10),
            Err(Error::PngTooLarge { width: 5000, .. })
        ));
        let ok = solid_png(2, 2, [0; 4]);
        assert!(matches!(
            resize_png(&ok, 4096),
            Err(Error::SizeOutOfRange { .. })
        ));
        assert!(matches!(resize_png(b"GIF89a", 10), Err(Error::Png(_))));
    }

    #[test]
    fn png_in_svg_passes_the_sanitiser_and_can_be_baked() {
        let png = solid_png(3, 3, [1, 2, 3, 255]);
        let svg = png_in_svg(&png, 3, 3);
        let clean = super::super::sanitize_svg(svg.as_bytes()).expect("sanitised");
        assert_eq!(clean, svg);
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln";
        let baked = bake::bake_svg(&svg, jwt).expect("baked");
        assert_eq!(
            bake::extract(bake::ImageKind::Svg, baked.as_bytes()).expect("read"),
            bake::Baked::Jwt(jwt.into())
        );
    }
}
