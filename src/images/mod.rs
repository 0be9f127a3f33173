//! Badge images: checking uploads, sanitising SVG, the generated design, rendering.
//!
//! Open Badges 3.0 gives an achievement (and an issuer profile) an `image` (an `Image`:
//! an `id` URI and a `type` of `Image`), and bakes credentials into PNG and SVG images
//! (§5.3, see [`crate::bake`]). This module is the layer beneath that: what an image may
//! be, and how to make one. It uses [`crate::bake`] and nothing else of the crate.
//!
//! - [`check_upload`]: at most [`MAX_UPLOAD_BYTES`]; a PNG (every chunk walked and
//!   CRC-checked, at most [`MAX_PNG_SIDE`] pixels a side so that decoding it later
//!   cannot exhaust memory, any baked credential removed) or an SVG (rebuilt by
//!   [`sanitize_svg`]). The declared content type, when there is one, must agree with
//!   the bytes.
//! - [`sanitize_svg`]: an allowlist of SVG presentation elements and a denylist of
//!   attributes; no scripts, event handlers, external references, style sheets,
//!   entities or foreign content survive (see `sanitize.rs` for the rules).
//! - [`default_design`]: the badge drawn when an achievement has no image of its own.
//! - [`rasterise`], [`resize_png`]: PNG renditions for pages, previews and baking; the
//!   only fonts are the two DejaVu Sans faces compiled in from `assets/fonts/`, and
//!   nothing outside the document is ever loaded.
//! - [`png_in_svg`]: a PNG wrapped in an SVG, so that a PNG badge can be baked as SVG.
//! - [`content_address`]: the name an image is stored under.
//!
//! Errors are written for people: the admin API passes them on as they are.

mod design;
mod render;
mod sanitize;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::bake::{self, ImageKind};

pub use design::{Design, default_design};
pub use render::{MAX_RENDER_PX, png_in_svg, rasterise, resize_png};
pub use sanitize::sanitize_svg;

/// The largest image [`check_upload`] accepts.
pub const MAX_UPLOAD_BYTES: usize = 1024 * 1024;
/// The widest and tallest PNG accepted (decoded, 4096 × 4096 RGBA is 64 MiB).
pub const MAX_PNG_SIDE: u32 = 4096;
/// The size assumed for an SVG that states neither width and height nor a viewBox.
const DEFAULT_SVG_SIDE: u32 = 600;

/// The two image formats badges use (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    Png,
    Svg,
}

impl ImageFormat {
    /// The media type the image is served with.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Svg => "svg",
        }
    }

    /// The name people know the format by.
    fn label(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Svg => "SVG",
        }
    }
}

impl From<ImageKind> for ImageFormat {
    fn from(kind: ImageKind) -> Self {
        match kind {
            ImageKind::Png => Self::Png,
            ImageKind::Svg => Self::Svg,
        }
    }
}

impl From<ImageFormat> for ImageKind {
    fn from(format: ImageFormat) -> Self {
        match format {
            ImageFormat::Png => Self::Png,
            ImageFormat::Svg => Self::Svg,
        }
    }
}

/// An image that passed [`check_upload`]: safe to store and to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub format: ImageFormat,
    /// The PNG without baked credentials, or the sanitised SVG (UTF-8).
    pub bytes: Vec<u8>,
    /// In pixels; for an SVG, its intrinsic size (rounded), which may exceed the PNG
    /// limits since an SVG scales.
    pub width: u32,
    pub height: u32,
}

/// Why an image was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the image is larger than 1 MiB")]
    TooLarge,
    #[error("the image is neither PNG nor SVG")]
    NotAnImage,
    #[error("the content type {given:?} is not accepted; send image/png or image/svg+xml")]
    ContentType { given: String },
    #[error("the content type says {declared} but the image is {actual}")]
    ContentTypeMismatch {
        declared: &'static str,
        actual: &'static str,
    },
    #[error("the PNG cannot be read: {0}")]
    Png(bake::Error),
    #[error("the PNG is {width}×{height} pixels; at most 4096×4096")]
    PngTooLarge { width: u32, height: u32 },
    #[error("the PNG cannot be decoded: {0}")]
    PngDecode(String),
    #[error("the SVG is not UTF-8 text")]
    SvgNotUtf8,
    #[error("the SVG is not well-formed XML: {0}")]
    SvgMalformed(String),
    #[error("the SVG has a DOCTYPE; entities are not accepted")]
    SvgDocType,
    #[error(
        "the SVG refers to the entity &{0}; only the five predefined XML entities are accepted"
    )]
    SvgEntity(String),
    #[error("the root element of the SVG is not <svg>")]
    SvgRoot,
    #[error("the SVG nests elements more than {limit} deep")]
    SvgTooDeep { limit: usize },
    #[error("the image size must be between 1 and {limit} pixels, not {size}")]
    SizeOutOfRange { size: u32, limit: u32 },
    #[error("the SVG cannot be rendered: {0}")]
    Render(String),
    #[error("the PNG cannot be written: {0}")]
    Encode(String),
}

/// Checks an uploaded image and returns it ready to store: see the module doc.
pub fn check_upload(bytes: &[u8], declared_content_type: Option<&str>) -> Result<Upload, Error> {
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(Error::TooLarge);
    }
    let sniffed = bake::sniff(bytes).map(ImageFormat::from);
    if let Some(ct) = declared_content_type {
        let declared = bake::kind_for_content_type(ct)
            .map(ImageFormat::from)
            .ok_or_else(|| Error::ContentType { given: excerpt(ct) })?;
        let actual = sniffed.ok_or(Error::NotAnImage)?;
        if declared != actual {
            return Err(Error::ContentTypeMismatch {
                declared: declared.media_type(),
                actual: actual.label(),
            });
        }
    }
    match sniffed.ok_or(Error::NotAnImage)? {
        ImageFormat::Png => {
            let (width, height) = png_size(bytes)?;
            let bytes = bake::unbake_png(bytes).map_err(Error::Png)?;
            Ok(Upload {
                format: ImageFormat::Png,
                bytes,
                width,
                height,
            })
        }
        ImageFormat::Svg => {
            let (svg, size) = sanitize::sanitize(bytes)?;
            let (width, height) = size.pixels();
            Ok(Upload {
                format: ImageFormat::Svg,
                bytes: svg.into_bytes(),
                width,
                height,
            })
        }
    }
}

/// A PNG's dimensions from its `IHDR`, refused beyond [`MAX_PNG_SIDE`].
fn png_size(png: &[u8]) -> Result<(u32, u32), Error> {
    let (width, height) = bake::png_dimensions(png).map_err(Error::Png)?;
    if width > MAX_PNG_SIDE || height > MAX_PNG_SIDE {
        return Err(Error::PngTooLarge { width, height });
    }
    Ok((width, height))
}

/// The name an image is stored and served under: the lower-case hex SHA-256 of its bytes.
pub fn content_address(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// At most 60 characters of something a client sent, for a message.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` × `height` RGBA PNG, every pixel `rgba`.
    pub(super) fn solid_png(width: u32, height: u32, rgba: [u8; 4]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().expect("header");
            let pixels: Vec<u8> = rgba
                .iter()
                .copied()
                .cycle()
                .take(4 * width as usize * height as usize)
                .collect();
            w.write_image_data(&pixels).expect("pixels");
        }
        out
    }

    /// A PNG whose IHDR claims `width` × `height` but which holds almost nothing: the
    /// shape of a decompression bomb.
    fn claimed_png(width: u32, height: u32) -> Vec<u8> {
        let mut png = solid_png(1, 1, [0, 0, 0, 255]);
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let mut crc = flate2::Crc::new();
        crc.update(&png[12..29]);
        png[29..33].copy_from_slice(&crc.sum().to_be_bytes());
        png
    }

    const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6d2ViOmV4YW1wbGUuZWR1In0.c2lnbmF0dXJl";

    #[test]
    fn formats_name_their_media_types_and_extensions() {
        assert_eq!(ImageFormat::Png.media_type(), "image/png");
        assert_eq!(ImageFormat::Svg.media_type(), "image/svg+xml");
        assert_eq!(ImageFormat::Png.extension(), "png");
        assert_eq!(ImageFormat::Svg.extension(), "svg");
        assert_eq!(
            serde_json::to_string(&[ImageFormat::Png, ImageFormat::Svg]).expect("json"),
            r#"["png","svg"]"#
        );
        let back: ImageFormat = serde_json::from_str(r#""svg""#).expect("json");
        assert_eq!(back, ImageFormat::Svg);
    }

    #[test]
    fn a_png_upload_keeps_its_pixels_and_reports_its_size() {
        let png = solid_png(3, 2, [10, 20, 30, 255]);
        let up = check_upload(&png, Some("image/png")).expect("upload");
        assert_eq!(up.format, ImageFormat::Png);
        assert_eq!((up.width, up.height), (3, 2));
        assert_eq!(up.bytes, png);
        let up = check_upload(&png, None).expect("upload without a content type");
        assert_eq!(up.bytes, png);
    }

    #[test]
    fn a_png_upload_loses_any_baked_credential() {
        let png = solid_png(2, 2, [0, 0, 0, 255]);
        let baked = bake::bake_png(&png, JWS).expect("bake");
        let up = check_upload(&baked, Some("image/png")).expect("upload");
        assert_eq!(up.bytes, png);
        assert!(matches!(
            bake::extract(ImageKind::Png, &up.bytes),
            Err(bake::Error::NoCredential)
        ));
    }

    #[test]
    fn an_svg_upload_is_sanitised_and_sized() {
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150" onload="alert(1)"><script>alert(1)</script><rect width="10" height="10"/></svg>"#;
        let up = check_upload(svg, Some("image/svg+xml; charset=utf-8")).expect("upload");
        assert_eq!(up.format, ImageFormat::Svg);
        assert_eq!((up.width, up.height), (300, 150));
        let text = String::from_utf8(up.bytes).expect("utf-8");
        assert!(
            !text.contains("script") && !text.contains("onload"),
            "{text}"
        );
        assert!(text.contains("<rect"), "{text}");
    }

    #[test]
    fn an_svg_upload_loses_any_baked_credential() {
        let svg = bake::bake_svg(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>"#,
            JWS,
        )
        .expect("bake");
        let up = check_upload(svg.as_bytes(), None).expect("upload");
        assert!(matches!(
            bake::extract(ImageKind::Svg, &up.bytes),
            Err(bake::Error::NoCredential)
        ));
        assert_eq!((up.width, up.height), (10, 10));
    }

    #[test]
    fn an_upload_over_one_mebibyte_is_refused() {
        let mut png = solid_png(1, 1, [0; 4]);
        png.resize(MAX_UPLOAD_BYTES + 1, 0);
        let err = check_upload(&png, None).expect_err("too large");
        assert!(matches!(err, Error::TooLarge));
        assert_eq!(err.to_string(), "the image is larger than 1 MiB");
    }

    #[test]
    fn an_upload_that_is_neither_png_nor_svg_is_refused() {
        for bytes in [
            &b"GIF89a...."[..],
            b"",
            b"<html><svg/></html>",
            b"\xff\xd8\xff\xe0",
        ] {
            let err = check_upload(bytes, None).expect_err("not an image");
            assert!(matches!(err, Error::NotAnImage), "{err:?}");
        }
        let err = check_upload(b"GIF89a", Some("image/png")).expect_err("not an image");
        assert_eq!(err.to_string(), "the image is neither PNG nor SVG");
    }

    #[test]
    fn a_content_type_that_disagrees_with_the_bytes_is_refused() {
        let png = solid_png(1, 1, [0; 4]);
        let err = check_upload(&png, Some("image/svg+xml")).expect_err("mismatch");
        assert!(matches!(
            err,
            Error::ContentTypeMismatch {
                declared: "image/svg+xml",
                actual: "PNG"
            }
        ));
        let err = check_upload(b"<svg/>", Some("image/png")).expect_err("mismatch");
        assert_eq!(
            err.to_string(),
            "the content type says image/png but the image is SVG"
        );
    }

    #[test]
    fn other_content_types_are_refused_naming_what_is_accepted() {
        let png = solid_png(1, 1, [0; 4]);
        for ct in ["image/jpeg", "text/xml", "application/octet-stream", ""] {
            let err = check_upload(&png, Some(ct)).expect_err("content type");
            assert!(matches!(err, Error::ContentType { .. }), "{err:?}");
            assert!(
                err.to_string().contains("image/png or image/svg+xml"),
                "{err}"
            );
        }
        let long = "x".repeat(1000);
        let err = check_upload(&png, Some(&long)).expect_err("content type");
        assert!(err.to_string().len() < 200, "{err}");
    }

    #[test]
    fn a_png_claiming_more_than_4096_pixels_a_side_is_refused() {
        let err = check_upload(&claimed_png(9000, 9000), None).expect_err("too large");
        assert!(matches!(
            err,
            Error::PngTooLarge {
                width: 9000,
                height: 9000
            }
        ));
        assert_eq!(
            err.to_string(),
            "the PNG is 9000×9000 pixels; at most 4096×4096"
        );
        assert!(check_upload(&claimed_png(4097, 1), None).is_err());
        assert!(check_upload(&claimed_png(1, 4097), None).is_err());
        let up = check_upload(&claimed_png(4096, 4096), None).expect("at the limit");
        assert_eq!((up.width, up.height), (4096, 4096));
    }

    #[test]
    fn a_png_with_a_bad_crc_or_no_iend_is_refused() {
        let mut png = solid_png(2, 2, [1, 2, 3, 255]);
        let n = png.len();
        png[n - 20] ^= 0xff;
        assert!(matches!(check_upload(&png, None), Err(Error::Png(_))));
        let png = solid_png(2, 2, [1, 2, 3, 255]);
        let cut = &png[..png.len() - 12];
        let err = check_upload(cut, None).expect_err("truncated");
        assert!(
            err.to_string().starts_with("the PNG cannot be read"),
            "{err}"
        );
    }

    #[test]
    fn a_png_with_zero_width_is_refused() {
        assert!(matches!(
            check_upload(&claimed_png(0, 10), None),
            Err(Error::Png(_))
        ));
    }

    #[test]
    fn content_addresses_are_lower_case_sha256() {
        assert_eq!(
            content_address(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(content_address(b"").len(), 64);
    }
}
