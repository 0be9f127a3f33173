//! Unbaking (`bake`): reading the credential out of a PNG or SVG (OB 3.0 §5.3 and the
//! OB 2.0 baking forms), sniffing, dimensions, removing a baked credential, and
//! baking a new one into the image, which must then read back unchanged.
//!
//! Input: the image bytes.
#![no_main]

use accolade::bake::{self, Baked, ImageKind};
use accolade::jose::jws::CompactJws;
use accolade::verify::read_credential;
use libfuzzer_sys::fuzz_target;

/// A compact JWS to bake (its signature is never checked here).
const JWT: &str =
    "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJkaWQ6ZXhhbXBsZTppc3N1ZXIifQ.c2lnbmF0dXJl";

fn read(baked: Baked) {
    match baked {
        Baked::Jwt(jwt) => {
            let _ = CompactJws::parse(&jwt);
        }
        Baked::Json(v) => {
            let _ = read_credential(&v);
        }
        Baked::Ob2(text) => {
            let _ = CompactJws::parse(&text);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = bake::sniff(data);
    for kind in [ImageKind::Png, ImageKind::Svg] {
        if let Ok(baked) = bake::extract(kind, data) {
            read(baked);
        }
    }
    let _ = bake::png_dimensions(data);
    let _ = bake::unbake_png(data);
    if let Ok(png) = bake::bake_png(data, JWT) {
        match bake::extract(ImageKind::Png, &png) {
            Ok(Baked::Jwt(jwt)) => assert_eq!(jwt, JWT, "a baked PNG reads back another JWT"),
            other => panic!("a PNG baked without error does not read back: {other:?}"),
        }
    }
    if let Ok(svg) = std::str::from_utf8(data) {
        let _ = bake::unbake_svg(svg);
        if let Ok(baked) = bake::bake_svg(svg, JWT) {
            match bake::extract(ImageKind::Svg, baked.as_bytes()) {
                Ok(Baked::Jwt(jwt)) => assert_eq!(jwt, JWT, "a baked SVG reads back another JWT"),
                other => panic!("an SVG baked without error does not read back: {other:?}"),
            }
        }
    }
});
