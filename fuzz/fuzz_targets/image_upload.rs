//! The image upload path (`images`): `check_upload` (sniffing, content type, PNG size
//! and credential removal, the SVG sanitiser), the sanitiser alone, and what the
//! service then does with stored art: render it as a small PNG. An accepted SVG must
//! be inert (no dropped element, handler, script URL or outside reference survives)
//! and sanitising it again must change nothing.
//!
//! Input: one byte choosing the declared content type (none, PNG, SVG, or another),
//! then the uploaded bytes.
#![no_main]

use accolade::images::{self, ImageFormat};
use accolade_fuzz::not_inert;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let declared = match mode % 4 {
        0 => None,
        1 => Some("image/png"),
        2 => Some("image/svg+xml; charset=utf-8"),
        _ => Some("text/html"),
    };
    if let Ok(clean) = images::sanitize_svg(bytes) {
        // Sanitising is idempotent (as the module's own property tests state).
        let again =
            images::sanitize_svg(clean.as_bytes()).expect("a sanitised SVG is accepted again");
        assert_eq!(again, clean, "sanitising a sanitised SVG changed it");
    }
    let Ok(up) = images::check_upload(bytes, declared) else {
        return;
    };
    let _ = images::content_address(&up.bytes);
    let _ = match up.format {
        ImageFormat::Png => images::resize_png(&up.bytes, 32),
        ImageFormat::Svg => match std::str::from_utf8(&up.bytes) {
            Ok(svg) => {
                if let Some(problem) = not_inert(svg) {
                    panic!("an accepted SVG upload is not inert ({problem}): {svg}");
                }
                images::rasterise(svg, 32)
            }
            Err(_) => panic!("a sanitised SVG is not UTF-8"),
        },
    };
});
