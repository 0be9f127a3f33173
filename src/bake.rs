//! Baked badges (Open Badges 3.0 §5.3 "Baked Badge"; §5.3.1 PNG, §5.3.2 SVG): reading
//! the credential out of an image ([`extract`]) and baking one in ([`bake_png`],
//! [`bake_svg`]).
//!
//! - **PNG** (§5.3.1): the credential is the text of the `iTXt` chunk whose keyword is
//!   `openbadgecredential`: a compact JWS (VC-JWT, §8.2) or the JSON of the credential
//!   (embedded proof). The chunk MUST NOT appear more than once, so a second one is an
//!   error rather than "first one wins". The chunks are walked by hand (signature, then
//!   length / type / data / CRC-32 up to `IEND`); pixels are never decoded and every
//!   CRC is checked. §5.3.1 says "Compression MUST NOT be used", but a compressed
//!   `iTXt` (flag 1, method 0 = zlib) is still read, inflating at most
//!   [`MAX_CREDENTIAL_BYTES`].
//! - **SVG** (§5.3.2): one `<credential>` element in the namespace
//!   `https://purl.imsglobal.org/ob/v3p0` (the spec writes it `openbadges:credential`;
//!   any prefix, or a default namespace, bound to that namespace is the same element).
//!   Its `verify` attribute is the compact JWS; without one, its body (CDATA as the spec
//!   asks, or escaped text) is the JSON credential. The root element must be `<svg>`.
//!   Only the five predefined XML entities and character references are expanded: a
//!   DOCTYPE with an internal subset is refused and nothing external is ever fetched.
//! - Open Badges 2.0 baked images (`iTXt`/`tEXt` keyword `openbadges`, SVG namespace
//!   `http://openbadges.org`) are recognised and refused with their own error: an
//!   OB 2.0 assertion is not an OB 3.0 credential.
//! - Limits: [`MAX_IMAGE_BYTES`] for the image, [`MAX_CREDENTIAL_BYTES`] for the
//!   credential text, inflated or not. Errors never echo more than a short excerpt.
//!
//! Baking writes only the compact JWS form, and always leaves exactly one credential in
//! the image, so that what [`extract`] reads back is the JWT that was baked:
//!
//! - [`bake_png`] copies the chunks (each CRC checked, nothing decoded, one allocation
//!   for the output), drops every `iTXt`/`tEXt`/`zTXt` chunk keyed `openbadgecredential`
//!   or `openbadges` (OB 2.0), and writes one uncompressed `iTXt` chunk (flag 0, method
//!   0, empty language tag and translated keyword) right after `IHDR`. It runs per
//!   request, so it stays a byte copy.
//! - [`bake_svg`] streams the document (no tree is built): the bytes are copied as they
//!   came except for any OB 3.0 `credential` element (any prefix) and any OB 2.0
//!   element, which are left out with their content; the root `<svg>` gains
//!   `xmlns:openbadges` (once) and, as its first child,
//!   `<openbadges:credential verify="..."></openbadges:credential>`. A DOCTYPE of any
//!   kind is refused: the output must mean what the input showed.
//! - [`unbake_png`] and [`unbake_svg`] remove a baked credential without adding one
//!   (an uploaded image must not carry someone else's badge).

use std::io::Read as _;

use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

/// The largest image [`extract`] reads.
pub const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// The largest credential text (after inflating a compressed `iTXt`) [`extract`] accepts.
pub const MAX_CREDENTIAL_BYTES: usize = 1024 * 1024;

/// The `iTXt` keyword of an OB 3.0 baked PNG (§5.3.1).
pub const PNG_KEYWORD: &str = "openbadgecredential";
/// The namespace of the `<openbadges:credential>` element of an OB 3.0 baked SVG (§5.3.2).
pub const SVG_NAMESPACE: &str = "https://purl.imsglobal.org/ob/v3p0";

/// The PNG keyword of an OB 2.0 baked badge.
const OB2_PNG_KEYWORD: &[u8] = b"openbadges";
/// The SVG namespace of an OB 2.0 baked badge.
const OB2_SVG_NAMESPACE: &str = "http://openbadges.org";
/// The namespace of SVG itself.
const SVG_ELEMENT_NAMESPACE: &str = "http://www.w3.org/2000/svg";
/// The 8-byte PNG signature (PNG §5.2).
const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
/// A PNG chunk length may not exceed 2^31 - 1 (PNG §5.3).
const MAX_PNG_CHUNK_LEN: usize = 0x7fff_ffff;
/// How far into a document [`sniff`] looks for `<svg` after an XML prolog.
const SNIFF_WINDOW: usize = 1024;
/// The longest excerpt of a parser message an error carries.
const MAX_MESSAGE: usize = 160;

/// The image formats a credential can be baked into (§5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Svg,
}

/// A credential as it was baked: a compact JWS (VC-JWT) or the JSON of a credential
/// with an embedded proof. Neither is verified here.
#[derive(Debug, Clone, PartialEq)]
pub enum Baked {
    Jwt(String),
    Json(serde_json::Value),
    /// What an Open Badges 2.0 image carries (Baking Specification 1.0): a signed
    /// assertion's compact JWS, a hosted assertion's JSON, or (the legacy form) the
    /// hosted assertion's URL. Read only when no OB 3.0 credential is baked in.
    Ob2(String),
}

/// Why no credential could be read from an image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image is larger than {limit} bytes")]
    ImageTooLarge { limit: usize },
    #[error("not a PNG image (no PNG signature)")]
    NotPng,
    #[error("malformed PNG: {0}")]
    MalformedPng(String),
    #[error("PNG chunk {chunk} fails its CRC-32 check")]
    BadCrc { chunk: String },
    #[error("malformed SVG: {0}")]
    MalformedSvg(String),
    #[error("SVG has a DOCTYPE with an internal subset; DTD declarations are refused")]
    DocTypeSubset,
    #[error("the root element is not <svg>")]
    NotSvgRoot,
    #[error("no credential baked in")]
    NoCredential,
    #[error("more than one credential is baked in (ambiguous)")]
    Ambiguous,
    #[error("the credential is in a {chunk} chunk; Open Badges 3.0 bakes it in an iTXt chunk")]
    NotItxt { chunk: &'static str },
    #[error("baked credential is larger than {limit} bytes")]
    CredentialTooLarge { limit: usize },
    #[error("compressed iTXt text cannot be read: {0}")]
    Compression(String),
    #[error("baked credential is not UTF-8 text")]
    NotUtf8,
    #[error("baked credential is not a JSON object: {0}")]
    Json(String),
    #[error("baked credential is neither a JSON credential nor a compact JWS")]
    NotCredential,
    #[error("the credential element has both a verify attribute and a body")]
    BothForms,
    #[error(
        "the credential to bake is not a compact JWS (three base64url parts separated by dots)"
    )]
    NotCompactJws,
    #[error("the SVG has a DOCTYPE; a badge image must not declare one")]
    DocType,
    #[error("the SVG binds the prefix openbadges to another namespace")]
    PrefixInUse,
}

/// Recognises an image by its bytes: the PNG signature, or an SVG document (optional
/// BOM, whitespace, XML declaration, processing instructions, comments and DOCTYPE,
/// then `<svg`; or, after such a prolog, `<svg` within the first 1 KiB).
pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
    if bytes.starts_with(&PNG_SIGNATURE) {
        return Some(ImageKind::Png);
    }
    let doc = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if starts_with_svg_tag(skip_prolog(doc)) {
        return Some(ImageKind::Svg);
    }
    let trimmed = doc.trim_ascii_start();
    if trimmed.starts_with(b"<?") || trimmed.starts_with(b"<!") {
        let window = &bytes[..bytes.len().min(SNIFF_WINDOW)];
        let mut at = 0;
        while let Some(i) = find(&window[at..], b"<svg") {
            if starts_with_svg_tag(&window[at + i..]) {
                return Some(ImageKind::Svg);
            }
            at += i + 1;
        }
    }
    None
}

/// Recognises an image by content type (`image/png`, `image/svg+xml`; parameters and
/// letter case are ignored).
pub fn kind_for_content_type(ct: &str) -> Option<ImageKind> {
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("image/png") {
        Some(ImageKind::Png)
    } else if essence.eq_ignore_ascii_case("image/svg+xml") {
        Some(ImageKind::Svg)
    } else {
        None
    }
}

/// Extracts the baked credential from an image of the given kind.
pub fn extract(kind: ImageKind, bytes: &[u8]) -> Result<Baked, Error> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(Error::ImageTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    match kind {
        ImageKind::Png => extract_png(bytes),
        ImageKind::Svg => extract_svg(bytes),
    }
}

// ---------------------------------------------------------------------------------
// PNG

fn extract_png(bytes: &[u8]) -> Result<Baked, Error> {
    let mut rest = bytes.strip_prefix(&PNG_SIGNATURE).ok_or(Error::NotPng)?;
    let mut found: Option<String> = None;
    let mut ob2: Option<Result<String, Error>> = None;
    let mut ob2_count = 0usize;
    let mut first = true;
    loop {
        let (kind, data) = next_chunk(&mut rest)?;
        if first && &kind != b"IHDR" {
            return Err(Error::MalformedPng("the first chunk is not IHDR".into()));
        }
        first = false;
        match &kind {
            b"IEND" => break,
            b"iTXt" => {
                let Some((keyword, body)) = split_keyword(data) else {
                    continue;
                };
                if keyword == PNG_KEYWORD.as_bytes() {
                    if found.is_some() {
                        return Err(Error::Ambiguous);
                    }
                    found = Some(itxt_text(body)?);
                } else if keyword == OB2_PNG_KEYWORD {
                    ob2_count += 1;
                    ob2 = Some(itxt_text(body));
                }
            }
            b"tEXt" | b"zTXt" => {
                let Some((keyword, body)) = split_keyword(data) else {
                    continue;
                };
                if keyword == PNG_KEYWORD.as_bytes() {
                    return Err(Error::NotItxt {
                        chunk: if &kind == b"tEXt" { "tEXt" } else { "zTXt" },
                    });
                }
                if keyword == OB2_PNG_KEYWORD {
                    ob2_count += 1;
                    // The legacy form: a hosted assertion's URL in Latin-1 text.
                    ob2 = Some(if &kind == b"tEXt" && body.len() <= MAX_CREDENTIAL_BYTES {
                        Ok(body.iter().map(|b| char::from(*b)).collect())
                    } else {
                        Err(Error::NotItxt { chunk: "zTXt" })
                    });
                }
            }
            _ => {}
        }
    }
    match (found, ob2) {
        (Some(text), _) => classify(&text),
        (None, Some(_)) if ob2_count > 1 => Err(Error::Ambiguous),
        (None, Some(text)) => Ok(Baked::Ob2(text?.trim().to_owned())),
        (None, None) => Err(Error::NoCredential),
    }
}

/// Takes the next chunk off `rest`, checking its length, type and CRC-32.
fn next_chunk<'a>(rest: &mut &'a [u8]) -> Result<([u8; 4], &'a [u8]), Error> {
    let truncated = || Error::MalformedPng("truncated (no IEND chunk)".into());
    let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
    let len = usize::try_from(u32::from_be_bytes(*len))
        .ok()
        .filter(|len| *len <= MAX_PNG_CHUNK_LEN)
        .ok_or_else(|| Error::MalformedPng("chunk length exceeds 2^31 - 1".into()))?;
    let (kind, tail) = tail.split_first_chunk::<4>().ok_or_else(truncated)?;
    if !kind.iter().all(u8::is_ascii_alphabetic) {
        return Err(Error::MalformedPng("invalid chunk type".into()));
    }
    if tail.len() < len.saturating_add(4) {
        return Err(truncated());
    }
    let (data, tail) = tail.split_at(len);
    let (crc, tail) = tail.split_first_chunk::<4>().ok_or_else(truncated)?;
    let mut sum = flate2::Crc::new();
    sum.update(kind);
    sum.update(data);
    if sum.sum() != u32::from_be_bytes(*crc) {
        return Err(Error::BadCrc {
            chunk: String::from_utf8_lossy(kind).into_owned(),
        });
    }
    *rest = tail;
    Ok((*kind, data))
}

/// Splits a text chunk at the NUL ending its keyword (1 to 79 bytes, PNG §11.3.4);
/// `None` for a chunk without a valid keyword, which cannot be a badge's.
fn split_keyword(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let nul = data
        .iter()
        .take(80)
        .position(|b| *b == 0)
        .filter(|n| *n >= 1)?;
    Some((&data[..nul], &data[nul + 1..]))
}

/// The text of an `iTXt` chunk after its keyword: compression flag, compression
/// method, language tag NUL, translated keyword NUL, text (PNG §11.3.4.5).
fn itxt_text(body: &[u8]) -> Result<String, Error> {
    let malformed = || Error::MalformedPng("truncated iTXt chunk".into());
    let [flag, method, rest @ ..] = body else {
        return Err(malformed());
    };
    let lang_end = rest.iter().position(|b| *b == 0).ok_or_else(malformed)?;
    let rest = &rest[lang_end + 1..];
    let tkey_end = rest.iter().position(|b| *b == 0).ok_or_else(malformed)?;
    let text = &rest[tkey_end + 1..];
    let bytes = match (flag, method) {
        (0, _) => text.to_vec(),
        (1, 0) => inflate_capped(text)?,
        (1, m) => {
            return Err(Error::Compression(format!(
                "unknown compression method {m}"
            )));
        }
        (f, _) => {
            return Err(Error::MalformedPng(format!(
                "invalid iTXt compression flag {f}"
            )));
        }
    };
    if bytes.len() > MAX_CREDENTIAL_BYTES {
        return Err(Error::CredentialTooLarge {
            limit: MAX_CREDENTIAL_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8)
}

/// Inflates a zlib stream, stopping one byte past [`MAX_CREDENTIAL_BYTES`].
fn inflate_capped(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    let cap = u64::try_from(MAX_CREDENTIAL_BYTES).unwrap_or(u64::MAX);
    flate2::read::ZlibDecoder::new(data)
        .take(cap.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::Compression(clip(e)))?;
    if out.len() > MAX_CREDENTIAL_BYTES {
        return Err(Error::CredentialTooLarge {
            limit: MAX_CREDENTIAL_BYTES,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------
// SVG

/// What a namespace resolved to, owned so the reader can be used again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    None,
    Svg,
    Ob3,
    Ob2,
    Other,
    /// A prefix with no namespace declaration in scope.
    Unknown,
}

impl Ns {
    fn of(ns: &ResolveResult<'_>) -> Self {
        match ns {
            ResolveResult::Bound(n) => match n.into_inner() {
                SVG_ELEMENT_NAMESPACE => Self::Svg,
                SVG_NAMESPACE => Self::Ob3,
                OB2_SVG_NAMESPACE => Self::Ob2,
                _ => Self::Other,
            },
            ResolveResult::Unbound => Self::None,
            ResolveResult::Unknown(_) => Self::Unknown,
        }
    }
}

/// An `<openbadges:credential>` element: its `verify` attribute and its body.
#[derive(Default)]
struct Element {
    verify: Option<String>,
    body: String,
    /// An OB 2.0 `<openbadges:assertion>`.
    ob2: bool,
}

impl Element {
    fn push(&mut self, text: &str) -> Result<(), Error> {
        if self.body.len().saturating_add(text.len()) > MAX_CREDENTIAL_BYTES {
            return Err(Error::CredentialTooLarge {
                limit: MAX_CREDENTIAL_BYTES,
            });
        }
        self.body.push_str(text);
        Ok(())
    }

    fn into_baked(self) -> Result<Baked, Error> {
        if self.ob2 {
            // A hosted badge: the assertion's JSON in the body (its URL in `verify`);
            // a signed one: the JWS in `verify` and no body.
            let body = self.body.trim();
            return match (body.is_empty(), self.verify) {
                (false, _) => Ok(Baked::Ob2(body.to_owned())),
                (true, Some(v)) if !v.trim().is_empty() => Ok(Baked::Ob2(v.trim().to_owned())),
                _ => Err(Error::NoCredential),
            };
        }
        match self.verify {
            Some(_) if !self.body.trim().is_empty() => Err(Error::BothForms),
            Some(jws) => {
                let jws = jws.trim();
                if is_compact_jws(jws) {
                    Ok(Baked::Jwt(jws.to_owned()))
                } else {
                    Err(Error::NotCredential)
                }
            }
            None => classify(&self.body),
        }
    }
}

fn extract_svg(bytes: &[u8]) -> Result<Baked, Error> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|_| Error::MalformedSvg("not UTF-8".into()))?;
    let mut reader = NsReader::from_str(text);
    let mut depth = 0usize;
    let mut root_seen = false;
    let mut open: Option<Element> = None;
    let mut found: Option<Element> = None;
    let mut found_ob2: Option<Element> = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(xml_error)?;
        let ns = Ns::of(&ns);
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                if ns == Ns::Unknown {
                    return Err(Error::MalformedSvg("undeclared namespace prefix".into()));
                }
                if open.is_some() {
                    return Err(Error::MalformedSvg(
                        "markup inside the credential element".into(),
                    ));
                }
                let local = e.local_name();
                if !root_seen {
                    if local.as_ref() != "svg" || !matches!(ns, Ns::Svg | Ns::None) {
                        return Err(Error::NotSvgRoot);
                    }
                    root_seen = true;
                } else if depth == 0 {
                    return Err(Error::MalformedSvg("content after the root element".into()));
                } else if (ns == Ns::Ob3 && local.as_ref() == "credential")
                    || (ns == Ns::Ob2 && local.as_ref() == "assertion")
                {
                    let is_ob2 = ns == Ns::Ob2;
                    if (!is_ob2 && found.is_some()) || (is_ob2 && found_ob2.is_some()) {
                        return Err(Error::Ambiguous);
                    }
                    let mut element = Element {
                        ob2: is_ob2,
                        ..Element::default()
                    };
                    for attr in e.attributes() {
                        let attr = attr.map_err(|e| Error::MalformedSvg(clip(e)))?;
                        if attr.key.prefix().is_none() && attr.key.local_name().as_ref() == "verify"
                        {
                            let value = attr
                                .normalized_value_with(
                                    XmlVersion::Implicit1_0,
                                    1,
                                    resolve_xml_entity,
                                )
                                .map_err(xml_error)?;
                            if value.len() > MAX_CREDENTIAL_BYTES {
                                return Err(Error::CredentialTooLarge {
                                    limit: MAX_CREDENTIAL_BYTES,
                                });
                            }
                            element.verify = Some(value.into_owned());
                        }
                    }
                    if !empty {
                        open = Some(element);
                    } else if is_ob2 {
                        found_ob2 = Some(element);
                    } else {
                        found = Some(element);
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some(element) = open.take() {
                    if element.ob2 {
                        found_ob2 = Some(element);
                    } else {
                        found = Some(element);
                    }
                }
            }
            Event::Text(t) => {
                if let Some(element) = open.as_mut() {
                    element.push(&t.xml10_content())?;
                }
            }
            Event::CData(t) => {
                if let Some(element) = open.as_mut() {
                    element.push(&t.xml10_content())?;
                }
            }
            Event::GeneralRef(r) => {
                let ch = r.resolve_char_ref().map_err(xml_error)?;
                let mut utf8 = [0u8; 4];
                let text = match ch {
                    Some(c) => &*c.encode_utf8(&mut utf8),
                    None => resolve_xml_entity(&r).ok_or_else(|| {
                        Error::MalformedSvg("reference to an undeclared entity".into())
                    })?,
                };
                if let Some(element) = open.as_mut() {
                    element.push(text)?;
                }
            }
            Event::DocType(d) => {
                if d.contains('[') {
                    return Err(Error::DocTypeSubset);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !root_seen {
        return Err(Error::NotSvgRoot);
    }
    if depth != 0 || open.is_some() {
        return Err(Error::MalformedSvg("unexpected end of document".into()));
    }
    match found.or(found_ob2) {
        Some(element) => element.into_baked(),
        None => Err(Error::NoCredential),
    }
}

fn xml_error(e: impl std::fmt::Display) -> Error {
    Error::MalformedSvg(clip(e))
}

// ---------------------------------------------------------------------------------
// Baking

/// Bakes a compact JWS into a PNG (§5.3.1): the image with every earlier credential
/// chunk removed and one uncompressed `iTXt` chunk keyed `openbadgecredential` right
/// after `IHDR`.
pub fn bake_png(png: &[u8], jwt: &str) -> Result<Vec<u8>, Error> {
    check_jwt(jwt)?;
    rewrite_png(png, Some(jwt))
}

/// The PNG without any baked credential (OB 3.0 or OB 2.0), every chunk CRC checked.
pub fn unbake_png(png: &[u8]) -> Result<Vec<u8>, Error> {
    rewrite_png(png, None)
}

/// The width and height a PNG's `IHDR` chunk states (PNG §11.2.2), read without
/// decoding anything else; both are at least 1.
pub fn png_dimensions(png: &[u8]) -> Result<(u32, u32), Error> {
    let mut rest = png.strip_prefix(&PNG_SIGNATURE).ok_or(Error::NotPng)?;
    let (kind, data) = next_chunk(&mut rest)?;
    let malformed = || Error::MalformedPng("the first chunk is not a valid IHDR".into());
    if &kind != b"IHDR" || data.len() != 13 {
        return Err(malformed());
    }
    let (width, tail) = data.split_first_chunk::<4>().ok_or_else(malformed)?;
    let (height, _) = tail.split_first_chunk::<4>().ok_or_else(malformed)?;
    let (width, height) = (u32::from_be_bytes(*width), u32::from_be_bytes(*height));
    if width == 0 || height == 0 {
        return Err(Error::MalformedPng("the image has no pixels".into()));
    }
    Ok((width, height))
}

/// Bakes a compact JWS into an SVG (§5.3.2): the document with every earlier credential
/// element removed, `xmlns:openbadges` declared on the root, and one
/// `<openbadges:credential verify="...">` as the root's first child.
pub fn bake_svg(svg: &str, jwt: &str) -> Result<String, Error> {
    check_jwt(jwt)?;
    let baked = rewrite_svg(svg, Some(jwt))?;
    // Only what reads back is handed out (text the reader refuses, such as an
    // entity before the root element, is refused here too).
    extract(ImageKind::Svg, baked.as_bytes())?;
    Ok(baked)
}

/// The SVG without any baked credential element (OB 3.0 or OB 2.0).
pub fn unbake_svg(svg: &str) -> Result<String, Error> {
    rewrite_svg(svg, None)
}

/// Only what [`extract`] reads back unchanged may be baked: a compact JWS within the cap.
fn check_jwt(jwt: &str) -> Result<(), Error> {
    if jwt.len() > MAX_CREDENTIAL_BYTES {
        return Err(Error::CredentialTooLarge {
            limit: MAX_CREDENTIAL_BYTES,
        });
    }
    if !is_compact_jws(jwt) {
        return Err(Error::NotCompactJws);
    }
    Ok(())
}

/// Copies `png` chunk by chunk up to `IEND` (anything after it is dropped), leaving out
/// credential chunks and, with `jwt`, writing the new one after `IHDR`.
fn rewrite_png(png: &[u8], jwt: Option<&str>) -> Result<Vec<u8>, Error> {
    if png.len() > MAX_IMAGE_BYTES {
        return Err(Error::ImageTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    let mut rest = png.strip_prefix(&PNG_SIGNATURE).ok_or(Error::NotPng)?;
    let extra = jwt.map_or(0, |jwt| ITXT_OVERHEAD + jwt.len());
    let mut out = Vec::with_capacity(png.len() + extra);
    out.extend_from_slice(&PNG_SIGNATURE);
    let mut first = true;
    loop {
        let before = rest;
        let (kind, data) = next_chunk(&mut rest)?;
        let raw = &before[..before.len() - rest.len()];
        if first {
            if &kind != b"IHDR" {
                return Err(Error::MalformedPng("the first chunk is not IHDR".into()));
            }
            first = false;
            out.extend_from_slice(raw);
            if let Some(jwt) = jwt {
                push_itxt(&mut out, jwt)?;
            }
            continue;
        }
        if is_credential_chunk(&kind, data) {
            continue;
        }
        out.extend_from_slice(raw);
        if &kind == b"IEND" {
            return Ok(out);
        }
    }
}

/// Length, type and CRC (12 bytes), the keyword, and its NUL, the compression flag and
/// method, and the two empty strings' NULs (5 bytes).
const ITXT_OVERHEAD: usize = 12 + PNG_KEYWORD.len() + 5;

/// Appends an uncompressed `iTXt` chunk holding `text` under [`PNG_KEYWORD`].
fn push_itxt(out: &mut Vec<u8>, text: &str) -> Result<(), Error> {
    let len = u32::try_from(PNG_KEYWORD.len() + 5 + text.len()).map_err(|_| {
        Error::CredentialTooLarge {
            limit: MAX_CREDENTIAL_BYTES,
        }
    })?;
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(b"iTXt");
    out.extend_from_slice(PNG_KEYWORD.as_bytes());
    // Keyword NUL, compression flag 0, method 0, language tag "" NUL, translated
    // keyword "" NUL.
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    out.extend_from_slice(text.as_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(&out[start..]);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    Ok(())
}

/// A text chunk keyed as an OB 3.0 credential or an OB 2.0 assertion.
fn is_credential_chunk(kind: &[u8; 4], data: &[u8]) -> bool {
    matches!(kind, b"iTXt" | b"tEXt" | b"zTXt")
        && split_keyword(data).is_some_and(|(keyword, _)| {
            keyword == PNG_KEYWORD.as_bytes() || keyword == OB2_PNG_KEYWORD
        })
}

/// Copies `svg` event by event, byte for byte, leaving out credential elements and,
/// with `jwt`, declaring the prefix on the root and writing the new element first.
fn rewrite_svg(svg: &str, jwt: Option<&str>) -> Result<String, Error> {
    if svg.len() > MAX_IMAGE_BYTES {
        return Err(Error::ImageTooLarge {
            limit: MAX_IMAGE_BYTES,
        });
    }
    let doc = svg.strip_prefix('\u{feff}').unwrap_or(svg);
    let extra = jwt.map_or(0, |jwt| jwt.len() + 160);
    let mut out = String::with_capacity(doc.len() + extra);
    let mut reader = NsReader::from_str(doc);
    let mut depth = 0usize;
    let mut root_seen = false;
    // The depth at which a left-out element opened, while inside it.
    let mut skipping: Option<usize> = None;
    loop {
        let before = position(&reader);
        let (ns, event) = reader.read_resolved_event().map_err(xml_error)?;
        let ns = Ns::of(&ns);
        let raw = doc
            .get(before..position(&reader))
            .ok_or_else(|| Error::MalformedSvg("unexpected parser position".into()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                if ns == Ns::Unknown {
                    return Err(Error::MalformedSvg("undeclared namespace prefix".into()));
                }
                let local = e.local_name();
                if !root_seen {
                    if local.as_ref() != "svg" || !matches!(ns, Ns::Svg | Ns::None) {
                        return Err(Error::NotSvgRoot);
                    }
                    root_seen = true;
                    match jwt {
                        Some(jwt) => push_baked_root(&mut out, e, raw, empty, jwt)?,
                        None => out.push_str(raw),
                    }
                } else if depth == 0 {
                    return Err(Error::MalformedSvg("content after the root element".into()));
                } else if skipping.is_none() {
                    let credential =
                        (ns == Ns::Ob3 && local.as_ref() == "credential") || ns == Ns::Ob2;
                    if credential {
                        if !empty {
                            skipping = Some(depth);
                        }
                    } else {
                        out.push_str(raw);
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if skipping == Some(depth) {
                    skipping = None;
                } else if skipping.is_none() {
                    out.push_str(raw);
                }
            }
            Event::DocType(_) => return Err(Error::DocType),
            Event::Eof => break,
            Event::Text(_)
            | Event::CData(_)
            | Event::GeneralRef(_)
            | Event::Comment(_)
            | Event::Decl(_)
            | Event::PI(_) => {
                if skipping.is_none() {
                    out.push_str(raw);
                }
            }
        }
    }
    if !root_seen {
        return Err(Error::NotSvgRoot);
    }
    if depth != 0 {
        return Err(Error::MalformedSvg("unexpected end of document".into()));
    }
    Ok(out)
}

/// The reader's byte offset into the document.
fn position(reader: &NsReader<&[u8]>) -> usize {
    usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX)
}

/// Writes the root start tag with `xmlns:openbadges` bound to [`SVG_NAMESPACE`], then the
/// credential element (and, for an empty root, the end tag).
fn push_baked_root(
    out: &mut String,
    root: &quick_xml::events::BytesStart<'_>,
    raw: &str,
    empty: bool,
    jwt: &str,
) -> Result<(), Error> {
    let mut declared = false;
    let mut rebuild = false;
    for attr in root.attributes() {
        let attr = attr.map_err(|e| Error::MalformedSvg(clip(e)))?;
        if attr.key.as_ref() == "xmlns:openbadges" {
            let value = attr
                .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_xml_entity)
                .map_err(xml_error)?;
            match value.as_ref() {
                SVG_NAMESPACE => declared = true,
                // An OB 2.0 badge binds the same prefix to its namespace; every element
                // in it is left out, so the declaration goes too.
                OB2_SVG_NAMESPACE => rebuild = true,
                _ => return Err(Error::PrefixInUse),
            }
        }
    }
    let name = root.name().as_ref().to_owned();
    if rebuild {
        out.push('<');
        out.push_str(&name);
        for attr in root.attributes() {
            let attr = attr.map_err(|e| Error::MalformedSvg(clip(e)))?;
            if attr.key.as_ref() == "xmlns:openbadges" {
                continue;
            }
            let key = attr.key.as_ref();
            let value = attr
                .normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_xml_entity)
                .map_err(xml_error)?;
            out.push(' ');
            out.push_str(key);
            out.push_str("=\"");
            out.push_str(&quick_xml::escape::escape(value.as_ref()));
            out.push('"');
        }
    } else {
        let open = raw
            .strip_suffix("/>")
            .or_else(|| raw.strip_suffix('>'))
            .ok_or_else(|| Error::MalformedSvg("unexpected root tag".into()))?;
        out.push_str(open.trim_end());
    }
    if !declared {
        out.push_str(" xmlns:openbadges=\"");
        out.push_str(SVG_NAMESPACE);
        out.push('"');
    }
    out.push('>');
    out.push_str("<openbadges:credential verify=\"");
    out.push_str(&quick_xml::escape::escape(jwt));
    out.push_str("\"></openbadges:credential>");
    if empty {
        out.push_str("</");
        out.push_str(&name);
        out.push('>');
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// Shared

/// Classifies baked text: JSON if it starts with `{` (after trimming), else it must be
/// a compact JWS.
fn classify(text: &str) -> Result<Baked, Error> {
    let text = text.trim();
    if text.starts_with('{') {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map(|map| Baked::Json(serde_json::Value::Object(map)))
            .map_err(|e| Error::Json(clip(e)))
    } else if is_compact_jws(text) {
        Ok(Baked::Jwt(text.to_owned()))
    } else {
        Err(Error::NotCredential)
    }
}

/// Three non-empty base64url parts (no padding) separated by exactly two dots.
pub fn is_compact_jws(s: &str) -> bool {
    s.bytes().filter(|b| *b == b'.').count() == 2
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Skips whitespace, the XML declaration, processing instructions, comments and a
/// DOCTYPE at the start of a document.
fn skip_prolog(mut doc: &[u8]) -> &[u8] {
    loop {
        doc = doc.trim_ascii_start();
        let end = if doc.starts_with(b"<!--") {
            find(&doc[4..], b"-->").map(|i| i + 7)
        } else if doc.starts_with(b"<?") {
            find(doc, b"?>").map(|i| i + 2)
        } else if doc.starts_with(b"<!DOCTYPE") {
            doctype_end(doc)
        } else {
            return doc;
        };
        match end {
            Some(end) => doc = &doc[end..],
            None => return &[],
        }
    }
}

/// The length of a DOCTYPE declaration, internal subset included.
fn doctype_end(doc: &[u8]) -> Option<usize> {
    let stop = doc.iter().position(|b| *b == b'>' || *b == b'[')?;
    if doc[stop] == b'>' {
        return Some(stop + 1);
    }
    let close = stop + find(&doc[stop..], b"]")?;
    let gt = close + doc[close..].iter().position(|b| *b == b'>')?;
    Some(gt + 1)
}

fn starts_with_svg_tag(doc: &[u8]) -> bool {
    doc.starts_with(b"<svg")
        && doc
            .get(4)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parser message, cut short so that errors never echo much of the input.
fn clip(message: impl std::fmt::Display) -> String {
    let mut s = message.to_string();
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJkaWQ6d2ViOmV4YW1wbGUuZWR1In0.c2lnbmF0dXJl";

    fn credential() -> serde_json::Value {
        json!({
            "@context": [
                "https://www.w3.org/ns/credentials/v2",
                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
            ],
            "id": "http://example.edu/credentials/3732",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "https://example.edu/issuers/565049", "type": "Profile", "name": "Example <University> & \"Co\""},
            "validFrom": "2010-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21"},
            "proof": {}
        })
    }

    // --- PNG builders -------------------------------------------------------------

    /// A 2x2 RGB PNG from the `png` crate, with the given iTXt chunks (uncompressed).
    fn png_with_itxt(chunks: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 2, 2);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            for (k, v) in chunks {
                enc.add_itxt_chunk((*k).to_owned(), (*v).to_owned())
                    .expect("itxt");
            }
            let mut w = enc.write_header().expect("header");
            w.write_image_data(&[0x20; 12]).expect("pixels");
        }
        out
    }

    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = u32::try_from(data.len())
            .expect("len")
            .to_be_bytes()
            .to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
        out
    }

    /// `png` with `chunks` inserted just before its IEND chunk.
    fn insert_before_iend(png: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
        let (head, iend) = png.split_at(png.len() - 12);
        assert_eq!(&iend[4..8], b"IEND");
        let mut out = head.to_vec();
        for c in chunks {
            out.extend_from_slice(c);
        }
        out.extend_from_slice(iend);
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("deflate");
        enc.finish().expect("finish")
    }

    /// The data of an iTXt chunk, built by hand.
    fn itxt_data(keyword: &[u8], flag: u8, method: u8, text: &[u8]) -> Vec<u8> {
        let mut d = keyword.to_vec();
        d.extend_from_slice(&[0, flag, method]);
        d.extend_from_slice(b"en\0Open Badge\0");
        d.extend_from_slice(text);
        d
    }

    fn png_with(chunks: &[Vec<u8>]) -> Vec<u8> {
        insert_before_iend(&png_with_itxt(&[]), chunks)
    }

    // --- PNG ----------------------------------------------------------------------

    #[test]
    fn png_jwt_written_by_the_png_crate_is_read_back() {
        let png = png_with_itxt(&[("Software", "test"), (PNG_KEYWORD, JWS)]);
        assert_eq!(sniff(&png), Some(ImageKind::Png));
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn png_json_credential_is_read_back() {
        let text = serde_json::to_string_pretty(&credential()).expect("json");
        let png = png_with_itxt(&[(PNG_KEYWORD, &text)]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Json(credential())
        );
    }

    #[test]
    fn png_text_around_a_jwt_is_trimmed() {
        let png = png_with_itxt(&[(PNG_KEYWORD, &format!("\n  {JWS}\r\n"))]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn png_itxt_compressed_by_the_png_crate_is_read_back() {
        let text = serde_json::to_string(&credential()).expect("json");
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 1, 1);
            enc.set_color(png::ColorType::Grayscale);
            let mut w = enc.write_header().expect("header");
            let mut c = png::text_metadata::ITXtChunk::new(PNG_KEYWORD, text);
            // png 0.17 compresses the text but leaves the flag to the caller.
            c.compress_text().expect("compress");
            c.compressed = true;
            w.write_text_chunk(&c).expect("itxt");
            w.write_image_data(&[0]).expect("pixels");
        }
        assert!(
            find(&out, b"OpenBadgeCredential").is_none(),
            "text left uncompressed"
        );
        assert_eq!(
            extract(ImageKind::Png, &out).expect("baked"),
            Baked::Json(credential())
        );
    }

    #[test]
    fn png_itxt_compressed_by_hand_is_read_back() {
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 1, 0, &zlib(JWS.as_bytes()));
        let png = png_with(&[chunk(b"iTXt", &data)]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn png_unknown_compression_method_is_refused() {
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 1, 7, &zlib(JWS.as_bytes()));
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(matches!(err, Err(Error::Compression(_))), "{err:?}");
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 2, 0, JWS.as_bytes());
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(matches!(err, Err(Error::MalformedPng(_))), "{err:?}");
    }

    #[test]
    fn png_corrupt_zlib_stream_is_refused() {
        let mut z = zlib(JWS.as_bytes());
        z[0] = 0xff;
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 1, 0, &z);
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(matches!(err, Err(Error::Compression(_))), "{err:?}");
    }

    #[test]
    fn png_zlib_bomb_stops_at_the_cap() {
        // 64 MiB of zeros deflate to about 64 KiB: well under the image cap.
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 16];
        for _ in 0..1024 {
            enc.write_all(&block).expect("deflate");
        }
        let z = enc.finish().expect("finish");
        assert!(z.len() < MAX_IMAGE_BYTES);
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 1, 0, &z);
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(
            matches!(
                err,
                Err(Error::CredentialTooLarge {
                    limit: MAX_CREDENTIAL_BYTES
                })
            ),
            "{err:?}"
        );
    }

    #[test]
    fn png_uncompressed_text_over_the_cap_is_refused() {
        let text = "a".repeat(MAX_CREDENTIAL_BYTES + 1);
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 0, 0, text.as_bytes());
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(
            matches!(err, Err(Error::CredentialTooLarge { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn png_over_the_image_cap_is_refused_before_parsing() {
        let mut png = png_with_itxt(&[(PNG_KEYWORD, JWS)]);
        png.resize(MAX_IMAGE_BYTES + 1, 0);
        let err = extract(ImageKind::Png, &png);
        assert!(matches!(err, Err(Error::ImageTooLarge { .. })), "{err:?}");
        let err = extract(ImageKind::Svg, &png);
        assert!(matches!(err, Err(Error::ImageTooLarge { .. })), "{err:?}");
    }

    #[test]
    fn png_non_utf8_text_is_refused() {
        let data = itxt_data(PNG_KEYWORD.as_bytes(), 0, 0, b"\xff\xfe.a.b");
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"iTXt", &data)]));
        assert!(matches!(err, Err(Error::NotUtf8)), "{err:?}");
    }

    #[test]
    fn png_not_an_image() {
        for bytes in [&b""[..], b"GIF89a....", b"\x89PNG\r\n", b"{\"a\":1}"] {
            let err = extract(ImageKind::Png, bytes);
            assert!(matches!(err, Err(Error::NotPng)), "{err:?}");
        }
    }

    #[test]
    fn png_every_truncation_is_an_error() {
        let png = png_with_itxt(&[(PNG_KEYWORD, JWS)]);
        for n in 0..png.len() {
            let err = extract(ImageKind::Png, &png[..n]);
            assert!(
                matches!(err, Err(Error::NotPng | Error::MalformedPng(_))),
                "{n}: {err:?}"
            );
        }
        // Bytes after IEND are not read.
        let mut tail = png;
        tail.extend_from_slice(b"trailing garbage");
        assert!(extract(ImageKind::Png, &tail).is_ok());
    }

    #[test]
    fn png_bad_crc_is_refused() {
        let png = png_with_itxt(&[(PNG_KEYWORD, JWS)]);
        let at = find(&png, JWS.as_bytes()).expect("text") + 5;
        let mut bad = png;
        bad[at] ^= 0x01;
        let err = extract(ImageKind::Png, &bad);
        assert!(
            matches!(&err, Err(Error::BadCrc { chunk }) if chunk == "iTXt"),
            "{err:?}"
        );
        // A CRC error anywhere counts, even in a chunk nobody reads.
        let mut bad = png_with(&[chunk(b"tIME", &[7, 0xe8, 1, 1, 0, 0, 0])]);
        let at = find(&bad, b"tIME").expect("tIME") + 4;
        bad[at] ^= 0x01;
        let err = extract(ImageKind::Png, &bad);
        assert!(matches!(err, Err(Error::BadCrc { .. })), "{err:?}");
    }

    #[test]
    fn png_chunk_length_overflow_is_refused() {
        let png = png_with_itxt(&[]);
        let mut bad = png[..8].to_vec();
        bad.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        bad.extend_from_slice(b"IHDR");
        bad.extend_from_slice(&png[16..]);
        let err = extract(ImageKind::Png, &bad);
        assert!(matches!(err, Err(Error::MalformedPng(_))), "{err:?}");
        // A length in range but past the end of the data.
        let mut bad = png[..8].to_vec();
        bad.extend_from_slice(&0x7fff_fff0u32.to_be_bytes());
        bad.extend_from_slice(&png[12..]);
        let err = extract(ImageKind::Png, &bad);
        assert!(matches!(err, Err(Error::MalformedPng(_))), "{err:?}");
    }

    #[test]
    fn png_must_start_with_ihdr() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend(chunk(
            b"iTXt",
            &itxt_data(PNG_KEYWORD.as_bytes(), 0, 0, JWS.as_bytes()),
        ));
        png.extend(chunk(b"IEND", b""));
        let err = extract(ImageKind::Png, &png);
        assert!(matches!(err, Err(Error::MalformedPng(_))), "{err:?}");
    }

    #[test]
    fn png_text_chunks_without_a_valid_keyword_are_skipped() {
        let png = png_with(&[
            chunk(b"tEXt", b"no terminator"),
            chunk(b"iTXt", &[b'k'; 100]),
            chunk(b"zTXt", b"\0empty keyword"),
            chunk(
                b"iTXt",
                &itxt_data(PNG_KEYWORD.as_bytes(), 0, 0, JWS.as_bytes()),
            ),
        ]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn png_two_credentials_are_ambiguous() {
        let png = png_with_itxt(&[(PNG_KEYWORD, JWS), (PNG_KEYWORD, JWS)]);
        let err = extract(ImageKind::Png, &png);
        assert!(matches!(err, Err(Error::Ambiguous)), "{err:?}");
    }

    #[test]
    fn png_without_credential() {
        let png = png_with_itxt(&[("Comment", JWS), ("openbadgecredentials", JWS)]);
        let err = extract(ImageKind::Png, &png);
        assert!(matches!(err, Err(Error::NoCredential)), "{err:?}");
        assert_eq!(
            err.map(|_| ()).expect_err("error").to_string(),
            "no credential baked in"
        );
    }

    #[test]
    fn png_open_badges_2_is_read_as_such() {
        let png = png_with_itxt(&[("openbadges", JWS)]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Ob2(JWS.into())
        );
        // The legacy tEXt form too.
        let mut text = b"openbadges\0".to_vec();
        text.extend_from_slice(b"https://example.org/assertion.json");
        assert_eq!(
            extract(ImageKind::Png, &png_with(&[chunk(b"tEXt", &text)])).expect("baked"),
            Baked::Ob2("https://example.org/assertion.json".into())
        );
        // Two are ambiguous.
        let png = png_with_itxt(&[("openbadges", JWS), ("openbadges", "x")]);
        assert!(matches!(
            extract(ImageKind::Png, &png),
            Err(Error::Ambiguous)
        ));
        // An OB 3.0 credential next to an OB 2.0 one is still read.
        let png = png_with_itxt(&[("openbadges", "x"), (PNG_KEYWORD, JWS)]);
        assert_eq!(
            extract(ImageKind::Png, &png).expect("baked"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn png_credential_in_a_text_chunk_is_refused() {
        let mut text = PNG_KEYWORD.as_bytes().to_vec();
        text.push(0);
        text.extend_from_slice(JWS.as_bytes());
        let err = extract(ImageKind::Png, &png_with(&[chunk(b"tEXt", &text)]));
        assert!(
            matches!(err, Err(Error::NotItxt { chunk: "tEXt" })),
            "{err:?}"
        );
    }

    #[test]
    fn png_text_that_is_neither_jwt_nor_json() {
        for text in ["https://example.org/badge.json", "a.b", "", "[1,2]"] {
            let png = png_with_itxt(&[(PNG_KEYWORD, text)]);
            let err = extract(ImageKind::Png, &png);
            assert!(matches!(err, Err(Error::NotCredential)), "{text}: {err:?}");
        }
        let png = png_with_itxt(&[(PNG_KEYWORD, "{\"id\": ")]);
        let err = extract(ImageKind::Png, &png);
        assert!(matches!(err, Err(Error::Json(_))), "{err:?}");
    }

    // --- SVG ----------------------------------------------------------------------

    fn svg_ok(svg: &str) -> Baked {
        assert_eq!(sniff(svg.as_bytes()), Some(ImageKind::Svg), "{svg}");
        extract(ImageKind::Svg, svg.as_bytes()).expect("baked")
    }

    fn svg_err(svg: &str) -> Error {
        match extract(ImageKind::Svg, svg.as_bytes()) {
            Ok(b) => panic!("unexpectedly read {b:?} from {svg}"),
            Err(e) => e,
        }
    }

    #[test]
    fn svg_spec_example_with_vc_jwt() {
        // OB 3.0 §5.3.2, "An example of a well baked SVG with VC-JWT proof".
        let svg = r#"<?xml version="1.0" encoding="UTF-8"?>
  <svg xmlns="http://www.w3.org/2000/svg"
    xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"
    viewBox="0 0 512 512">
    <openbadges:credential verify="header.payload.signature"></openbadges:credential>

    <!-- rest-of-image -->
  </svg>"#;
        assert_eq!(svg_ok(svg), Baked::Jwt("header.payload.signature".into()));
    }

    #[test]
    fn svg_spec_example_with_embedded_proof_in_cdata() {
        // OB 3.0 §5.3.2, "An example of a well baked SVG with embedded proof".
        let svg = r#"<?xml version="1.0" encoding="UTF-8"?>
  <svg xmlns="http://www.w3.org/2000/svg"
    xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"
    viewBox="0 0 512 512">
    <openbadges:credential>
      <![CDATA[
        {
          "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
          ],
          "id": "http://example.edu/credentials/3732",
          "type": ["VerifiableCredential", "OpenBadgeCredential"],
          "issuer": {
            "id": "https://example.edu/issuers/565049",
            "type": "Profile",
            "name": "Example University"
          },
          "validFrom": "2010-01-01T00:00:00Z",
          "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21"
          },
          "proof": { }
        }
      ]]>
    </openbadges:credential>

    <!-- rest-of-image -->
  </svg>"#;
        let Baked::Json(v) = svg_ok(svg) else {
            panic!("not JSON")
        };
        assert_eq!(v["id"], "http://example.edu/credentials/3732");
        assert_eq!(v["issuer"]["name"], "Example University");
    }

    #[test]
    fn svg_empty_element_with_verify_attribute() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}"/><circle r="4"/></svg>"#
        );
        assert_eq!(svg_ok(&svg), Baked::Jwt(JWS.into()));
    }

    #[test]
    fn svg_any_prefix_bound_to_the_namespace_works() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob3="{SVG_NAMESPACE}"><ob3:credential verify="{JWS}"/></svg>"#
        );
        assert_eq!(svg_ok(&svg), Baked::Jwt(JWS.into()));
        // A default namespace on the element itself, nested deeper.
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg"><g><credential xmlns="{SVG_NAMESPACE}" verify="{JWS}"></credential></g></svg>"#
        );
        assert_eq!(svg_ok(&svg), Baked::Jwt(JWS.into()));
    }

    #[test]
    fn svg_prefix_bound_elsewhere_is_not_a_credential() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://example.org/ob"><openbadges:credential verify="{JWS}"/></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::NoCredential));
        // An unprefixed <credential> in the SVG namespace is not one either.
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg"><credential verify="{JWS}"/></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::NoCredential));
    }

    #[test]
    fn svg_undeclared_prefix_is_refused() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg"><openbadges:credential verify="{JWS}"/></svg>"#
        );
        let err = svg_err(&svg);
        assert!(matches!(err, Error::MalformedSvg(_)), "{err:?}");
    }

    #[test]
    fn svg_json_as_escaped_text() {
        let text = serde_json::to_string(&credential()).expect("json");
        let escaped = quick_xml::escape::escape(text.as_str()).replace('"', "&#x22;");
        let svg = format!(
            "\u{feff}<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:openbadges=\"{SVG_NAMESPACE}\">\r\n<openbadges:credential>\r\n{escaped}\r\n</openbadges:credential></svg>"
        );
        assert_eq!(svg_ok(&svg), Baked::Json(credential()));
    }

    #[test]
    fn svg_json_split_over_text_and_cdata() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential>{{"id": <![CDATA["urn:x<&>"]]><!-- note -->, "n": 1}}</openbadges:credential></svg>"#
        );
        assert_eq!(svg_ok(&svg), Baked::Json(json!({"id": "urn:x<&>", "n": 1})));
    }

    #[test]
    fn svg_two_credentials_are_ambiguous() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}" xmlns:x="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}"/><g><x:credential verify="{JWS}"/></g></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::Ambiguous));
    }

    #[test]
    fn svg_without_credential() {
        let err = svg_err(r#"<svg xmlns="http://www.w3.org/2000/svg"><rect width="1"/></svg>"#);
        assert!(matches!(err, Error::NoCredential), "{err:?}");
        let err = svg_err(r#"<svg xmlns="http://www.w3.org/2000/svg"/>"#);
        assert!(matches!(err, Error::NoCredential), "{err:?}");
    }

    #[test]
    fn svg_open_badges_2_is_read_as_such() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="https://example.org/assertion.json"><![CDATA[{"uid": "1"}]]></openbadges:assertion></svg>"#;
        assert_eq!(
            extract(ImageKind::Svg, svg.as_bytes()).expect("baked"),
            Baked::Ob2(r#"{"uid": "1"}"#.into())
        );
        let signed = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="{JWS}"/></svg>"#
        );
        assert_eq!(
            extract(ImageKind::Svg, signed.as_bytes()).expect("baked"),
            Baked::Ob2(JWS.into())
        );
    }

    #[test]
    fn svg_doctype_with_an_internal_subset_is_refused() {
        let svg = format!(
            r#"<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY ext SYSTEM "file:///etc/passwd">
]>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential>&lol2;&ext;</openbadges:credential></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::DocTypeSubset));
    }

    #[test]
    fn svg_public_doctype_without_subset_is_accepted() {
        let svg = format!(
            r#"<?xml version="1.0" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<!-- made by hand -->
<svg xmlns="http://www.w3.org/2000/svg" version="1.1" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}"/></svg>"#
        );
        assert_eq!(svg_ok(&svg), Baked::Jwt(JWS.into()));
    }

    #[test]
    fn svg_undeclared_entity_is_refused() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential>&xxe;</openbadges:credential></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::MalformedSvg(_)));
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="&xxe;"/></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::MalformedSvg(_)));
    }

    #[test]
    fn svg_root_must_be_svg() {
        let doc = format!(
            r#"<html xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}"/></html>"#
        );
        assert!(matches!(svg_err(&doc), Error::NotSvgRoot));
        let doc = format!(
            r#"<openbadges:credential xmlns:openbadges="{SVG_NAMESPACE}" verify="{JWS}"/>"#
        );
        assert!(matches!(svg_err(&doc), Error::NotSvgRoot));
        let doc = r#"<svg xmlns="https://example.org/not-svg"/>"#;
        assert!(matches!(svg_err(doc), Error::NotSvgRoot));
        assert!(matches!(svg_err("  <!-- nothing -->  "), Error::NotSvgRoot));
    }

    #[test]
    fn svg_malformed_documents_are_refused() {
        let head = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}">"#
        );
        for doc in [
            format!("{head}<openbadges:credential verify=\"{JWS}\"/>"),
            format!("{head}<openbadges:credential verify=\"{JWS}\"/></g></svg>"),
            format!("{head}<openbadges:credential verify=\"{JWS}\"/></svg><svg/>"),
            format!("{head}<openbadges:credential verify=\"{JWS}\" verify=\"{JWS}\"/></svg>"),
            format!("{head}<openbadges:credential>{{}} & </openbadges:credential></svg>"),
            format!("{head}<openbadges:credential><g/>{{}}</openbadges:credential></svg>"),
        ] {
            let err = svg_err(&doc);
            assert!(matches!(err, Error::MalformedSvg(_)), "{doc}: {err:?}");
        }
        let err = extract(ImageKind::Svg, b"<svg>\xff\xfe</svg>");
        assert!(matches!(err, Err(Error::MalformedSvg(_))), "{err:?}");
    }

    #[test]
    fn svg_verify_attribute_and_body_together_are_refused() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}">{{"id": "x"}}</openbadges:credential></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::BothForms));
    }

    #[test]
    fn svg_text_that_is_neither_jwt_nor_json() {
        for (attr, body) in [
            (r#" verify="not a jws""#, ""),
            (r#" verify="{&quot;id&quot;: 1}""#, ""),
            ("", "https://example.org/badge.json"),
            ("", ""),
        ] {
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential{attr}>{body}</openbadges:credential></svg>"#
            );
            assert!(matches!(svg_err(&svg), Error::NotCredential), "{svg}");
        }
    }

    #[test]
    fn svg_body_over_the_cap_is_refused() {
        let body = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_CREDENTIAL_BYTES));
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential><![CDATA[{body}]]></openbadges:credential></svg>"#
        );
        assert!(matches!(svg_err(&svg), Error::CredentialTooLarge { .. }));
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{}"/></svg>"#,
            "a".repeat(MAX_CREDENTIAL_BYTES + 1)
        );
        assert!(matches!(svg_err(&svg), Error::CredentialTooLarge { .. }));
    }

    #[test]
    fn errors_do_not_echo_large_input() {
        let name = "g".repeat(100_000);
        let svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg"><{name}></x></svg>"#);
        let err = svg_err(&svg);
        assert!(matches!(err, Error::MalformedSvg(_)), "{err:?}");
        assert!(err.to_string().len() < 300, "{}", err.to_string().len());
        let json = format!("{{\"{}\" 1}}", "k".repeat(100_000));
        let png = png_with_itxt(&[(PNG_KEYWORD, &json)]);
        let err = extract(ImageKind::Png, &png)
            .map(|_| ())
            .expect_err("error");
        assert!(err.to_string().len() < 300, "{err}");
    }

    // --- Baking -------------------------------------------------------------------

    /// The chunk types of a PNG, in order.
    fn chunk_types(png: &[u8]) -> Vec<String> {
        let mut rest = png.strip_prefix(&PNG_SIGNATURE).expect("signature");
        let mut types = Vec::new();
        while !rest.is_empty() {
            let (kind, _) = next_chunk(&mut rest).expect("chunk");
            types.push(String::from_utf8_lossy(&kind).into_owned());
        }
        types
    }

    const JWS2: &str = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJkaWQ6a2V5OnoifQ.c2lnbmF0dXJlMg";

    #[test]
    fn png_baked_jwt_is_read_back() {
        let png = png_with_itxt(&[("Software", "test")]);
        let baked = bake_png(&png, JWS).expect("baked");
        assert_eq!(
            extract(ImageKind::Png, &baked).expect("read"),
            Baked::Jwt(JWS.into())
        );
        assert_eq!(sniff(&baked), Some(ImageKind::Png));
    }

    #[test]
    fn png_bake_writes_one_uncompressed_itxt_right_after_ihdr() {
        let png = png_with_itxt(&[]);
        let baked = bake_png(&png, JWS).expect("baked");
        assert_eq!(chunk_types(&baked), ["IHDR", "iTXt", "IDAT", "IEND"]);
        assert_eq!(baked.len(), png.len() + ITXT_OVERHEAD + JWS.len());
        let mut expected = PNG_KEYWORD.as_bytes().to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0]);
        expected.extend_from_slice(JWS.as_bytes());
        assert_eq!(&baked[33 + 8..33 + 8 + expected.len()], expected.as_slice());
        // The png crate reads it back too, as an uncompressed iTXt.
        let decoder = png::Decoder::new(baked.as_slice());
        let reader = decoder.read_info().expect("decodes");
        let chunks = &reader.info().utf8_text;
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].keyword, PNG_KEYWORD);
        assert!(!chunks[0].compressed);
        assert_eq!(chunks[0].get_text().expect("text"), JWS);
    }

    #[test]
    fn png_baking_twice_leaves_one_chunk_with_the_second_jwt() {
        let once = bake_png(&png_with_itxt(&[]), JWS).expect("baked");
        let twice = bake_png(&once, JWS2).expect("baked again");
        assert_eq!(chunk_types(&twice), ["IHDR", "iTXt", "IDAT", "IEND"]);
        assert_eq!(
            extract(ImageKind::Png, &twice).expect("read"),
            Baked::Jwt(JWS2.into())
        );
        assert_eq!(twice.len(), once.len() - JWS.len() + JWS2.len());
    }

    #[test]
    fn png_bake_replaces_every_earlier_credential_chunk() {
        let png = png_with(&[
            chunk(
                b"iTXt",
                &itxt_data(PNG_KEYWORD.as_bytes(), 1, 0, &zlib(JWS.as_bytes())),
            ),
            chunk(b"tEXt", b"openbadgecredential\0a.b.c"),
            chunk(
                b"zTXt",
                &[b"openbadgecredential\0\0".as_slice(), &zlib(b"a.b.c")].concat(),
            ),
            chunk(
                b"iTXt",
                &itxt_data(OB2_PNG_KEYWORD, 0, 0, b"https://example.org/a"),
            ),
            chunk(b"tEXt", b"openbadges\0https://example.org/a"),
            chunk(b"tEXt", b"Comment\0kept"),
        ]);
        assert!(extract(ImageKind::Png, &png).is_err());
        let baked = bake_png(&png, JWS2).expect("baked");
        assert_eq!(
            chunk_types(&baked),
            ["IHDR", "iTXt", "IDAT", "tEXt", "IEND"]
        );
        assert!(find(&baked, b"Comment\0kept").is_some());
        assert_eq!(
            extract(ImageKind::Png, &baked).expect("read"),
            Baked::Jwt(JWS2.into())
        );
    }

    #[test]
    fn png_bake_copies_other_chunks_byte_for_byte_and_drops_what_follows_iend() {
        let png = png_with_itxt(&[("Software", "test"), ("Title", "A badge")]);
        let mut trailing = png.clone();
        trailing.extend_from_slice(b"garbage after IEND");
        let baked = bake_png(&trailing, JWS).expect("baked");
        assert_eq!(unbake_png(&baked).expect("unbaked"), png);
        assert_eq!(unbake_png(&png).expect("nothing to remove"), png);
    }

    #[test]
    fn png_bake_refuses_damaged_images_and_non_jws_credentials() {
        let png = png_with_itxt(&[]);
        let mut bad = png.clone();
        let n = bad.len();
        bad[n - 20] ^= 1;
        assert!(matches!(bake_png(&bad, JWS), Err(Error::BadCrc { .. })));
        assert!(matches!(bake_png(b"GIF89a", JWS), Err(Error::NotPng)));
        assert!(matches!(
            bake_png(&png[..png.len() - 12], JWS),
            Err(Error::MalformedPng(_))
        ));
        let mut no_ihdr = PNG_SIGNATURE.to_vec();
        no_ihdr.extend(chunk(b"IEND", b""));
        assert!(matches!(
            bake_png(&no_ihdr, JWS),
            Err(Error::MalformedPng(_))
        ));
        for jwt in ["", "a.b", "a.b.c.d", " a.b.c", "{\"id\":1}", "a.b.c\n"] {
            assert!(
                matches!(bake_png(&png, jwt), Err(Error::NotCompactJws)),
                "{jwt:?}"
            );
        }
        let huge = format!("a.b.{}", "c".repeat(MAX_CREDENTIAL_BYTES));
        assert!(matches!(
            bake_png(&png, &huge),
            Err(Error::CredentialTooLarge { .. })
        ));
    }

    #[test]
    fn png_dimensions_come_from_ihdr() {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, 7, 3);
            enc.set_color(png::ColorType::Grayscale);
            let mut w = enc.write_header().expect("header");
            w.write_image_data(&[0; 21]).expect("pixels");
        }
        assert_eq!(png_dimensions(&out).expect("size"), (7, 3));
        assert!(matches!(png_dimensions(b"nope"), Err(Error::NotPng)));
        let mut bad = PNG_SIGNATURE.to_vec();
        bad.extend(chunk(b"IHDR", &[0; 12]));
        assert!(matches!(png_dimensions(&bad), Err(Error::MalformedPng(_))));
    }

    const PLAIN_SVG: &str = r##"<?xml version="1.0" encoding="UTF-8"?>
<!-- a badge -->
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" class='a "b"'>
  <title>Tom &amp; Jerry</title>
  <g><rect width="10" height="10" fill="#123"/><![CDATA[ x ]]></g>
</svg>
"##;

    /// How many elements named `credential` in the OB 3.0 namespace a document holds.
    fn credential_elements(svg: &str) -> usize {
        let mut reader = NsReader::from_str(svg);
        let mut n = 0;
        loop {
            let (ns, event) = reader.read_resolved_event().expect("xml");
            let ns = Ns::of(&ns);
            match event {
                Event::Start(e) | Event::Empty(e)
                    if ns == Ns::Ob3 && e.local_name().as_ref() == "credential" =>
                {
                    n += 1;
                }
                Event::Eof => return n,
                _ => {}
            }
        }
    }

    #[test]
    fn svg_baked_jwt_is_read_back_and_the_rest_is_untouched() {
        let baked = bake_svg(PLAIN_SVG, JWS).expect("baked");
        assert_eq!(
            extract(ImageKind::Svg, baked.as_bytes()).expect("read"),
            Baked::Jwt(JWS.into())
        );
        let expected = PLAIN_SVG.replace(
            "class='a \"b\"'>",
            &format!(
                "class='a \"b\"' xmlns:openbadges=\"{SVG_NAMESPACE}\"><openbadges:credential verify=\"{JWS}\"></openbadges:credential>"
            ),
        );
        assert_eq!(baked, expected);
        assert_eq!(unbake_svg(PLAIN_SVG).expect("unbaked"), PLAIN_SVG);
    }

    #[test]
    fn svg_baking_twice_leaves_one_element_with_the_second_jwt() {
        let once = bake_svg(PLAIN_SVG, JWS).expect("baked");
        let twice = bake_svg(&once, JWS2).expect("baked again");
        assert_eq!(credential_elements(&twice), 1);
        assert_eq!(twice.matches("xmlns:openbadges=").count(), 1);
        assert_eq!(
            extract(ImageKind::Svg, twice.as_bytes()).expect("read"),
            Baked::Jwt(JWS2.into())
        );
        assert_eq!(twice, once.replace(JWS, JWS2));
    }

    #[test]
    fn svg_bake_removes_credentials_under_any_prefix_and_ob2_assertions() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:ob="{SVG_NAMESPACE}" xmlns:openbadges="http://openbadges.org"><openbadges:assertion verify="https://example.org/a"><x>y</x></openbadges:assertion><g><ob:credential><![CDATA[{{"id": "x"}}]]></ob:credential><credential xmlns="{SVG_NAMESPACE}" verify="{JWS}"/></g><circle r="1"/></svg>"#
        );
        let baked = bake_svg(&svg, JWS2).expect("baked");
        assert_eq!(credential_elements(&baked), 1);
        assert!(
            !baked.contains("assertion") && !baked.contains("openbadges.org"),
            "{baked}"
        );
        assert!(baked.contains("<g></g><circle r=\"1\"/>"), "{baked}");
        assert_eq!(
            extract(ImageKind::Svg, baked.as_bytes()).expect("read"),
            Baked::Jwt(JWS2.into())
        );
        let plain = unbake_svg(&svg).expect("unbaked");
        assert!(matches!(
            extract(ImageKind::Svg, plain.as_bytes()),
            Err(Error::NoCredential)
        ));
    }

    #[test]
    fn svg_bake_keeps_an_existing_declaration_and_fills_an_empty_root() {
        let svg = format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}" />"#
        );
        let baked = bake_svg(&svg, JWS).expect("baked");
        assert_eq!(
            baked,
            format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential verify="{JWS}"></openbadges:credential></svg>"#
            )
        );
        let prefixed = r#"<s:svg xmlns:s="http://www.w3.org/2000/svg"/>"#;
        let baked = bake_svg(prefixed, JWS).expect("baked");
        assert!(
            baked.ends_with("</openbadges:credential></s:svg>"),
            "{baked}"
        );
        assert_eq!(
            extract(ImageKind::Svg, baked.as_bytes()).expect("read"),
            Baked::Jwt(JWS.into())
        );
    }

    #[test]
    fn svg_bake_refuses_a_doctype_and_a_conflicting_prefix() {
        let doctype = r#"<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>"#;
        assert!(matches!(bake_svg(doctype, JWS), Err(Error::DocType)));
        let entities =
            r#"<!DOCTYPE svg [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>"#;
        assert!(matches!(bake_svg(entities, JWS), Err(Error::DocType)));
        let taken = r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="https://example.org/other"/>"#;
        assert!(matches!(bake_svg(taken, JWS), Err(Error::PrefixInUse)));
    }

    #[test]
    fn svg_bake_refuses_what_is_not_an_svg_document() {
        assert!(matches!(bake_svg("<html/>", JWS), Err(Error::NotSvgRoot)));
        assert!(matches!(bake_svg("", JWS), Err(Error::NotSvgRoot)));
        assert!(matches!(
            bake_svg("<svg><g></svg>", JWS),
            Err(Error::MalformedSvg(_))
        ));
        assert!(matches!(
            bake_svg("<svg><g>", JWS),
            Err(Error::MalformedSvg(_))
        ));
        assert!(matches!(
            bake_svg("<svg/><svg/>", JWS),
            Err(Error::MalformedSvg(_))
        ));
        assert!(matches!(
            bake_svg("<svg/>", "\"><script>"),
            Err(Error::NotCompactJws)
        ));
    }

    #[test]
    fn svg_bake_drops_a_byte_order_mark() {
        let baked = bake_svg("\u{feff}<svg/>", JWS).expect("baked");
        assert!(baked.starts_with("<svg "), "{baked}");
    }

    // --- Classification, sniffing, content types -------------------------------------

    #[test]
    fn compact_jws_shape() {
        assert!(is_compact_jws(JWS));
        assert!(is_compact_jws("a.b.c"));
        assert!(is_compact_jws("A-_9.b.c"));
        for s in [
            "a.b", "a.b.c.d", "a..c", ".b.c", "a.b.", "a.b.c=", "a.b .c", "a.b.c\n", "a+b.c.d",
            "a/b.c.d", "",
        ] {
            assert!(!is_compact_jws(s), "{s:?}");
        }
        assert_eq!(
            classify(" a.b.c\n").expect("jws"),
            Baked::Jwt("a.b.c".into())
        );
        assert_eq!(classify("\n {}").expect("json"), Baked::Json(json!({})));
        assert!(matches!(classify("{\"a\":1} x"), Err(Error::Json(_))));
        assert!(matches!(classify("a.b.c d"), Err(Error::NotCredential)));
    }

    #[test]
    fn sniff_recognises_png_and_svg() {
        assert_eq!(sniff(&png_with_itxt(&[])), Some(ImageKind::Png));
        for doc in [
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            "<svg>",
            "\u{feff}  \n<svg\n>",
            "<?xml version=\"1.0\"?><!-- c --><svg width=\"1\">",
            "<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" \"x.dtd\">\n<svg/>",
            "<!DOCTYPE svg [ <!ENTITY a \"b\"> ]><svg/>",
            "<?xml version=\"1.0\"?><svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"><svg>",
        ] {
            assert_eq!(sniff(doc.as_bytes()), Some(ImageKind::Svg), "{doc}");
        }
        // A prolog longer than the window, then <svg, is still walked.
        let long = format!("<?xml version=\"1.0\"?><!--{}--><svg/>", "-x".repeat(2000));
        assert_eq!(sniff(long.as_bytes()), Some(ImageKind::Svg));
    }

    #[test]
    fn sniff_refuses_other_things() {
        for doc in [
            &b""[..],
            b"GIF89a",
            b"\x89PNG\r\n\x1a",
            b"<html><svg></svg></html>",
            b"<svgx/>",
            b"<svg",
            b"{\"a\": \"<svg>\"}",
            b"eyJ.eyJ.sig",
            b"%PDF-1.7",
        ] {
            assert_eq!(sniff(doc), None, "{}", String::from_utf8_lossy(doc));
        }
        let far = format!("<?xml version=\"1.0\"?>{}<html><svg/>", " ".repeat(2000));
        assert_eq!(sniff(far.as_bytes()), None);
    }

    #[test]
    fn content_types() {
        assert_eq!(kind_for_content_type("image/png"), Some(ImageKind::Png));
        assert_eq!(kind_for_content_type("IMAGE/PNG"), Some(ImageKind::Png));
        assert_eq!(
            kind_for_content_type("image/svg+xml; charset=utf-8"),
            Some(ImageKind::Svg)
        );
        assert_eq!(
            kind_for_content_type(" Image/SVG+XML "),
            Some(ImageKind::Svg)
        );
        for ct in [
            "image/jpeg",
            "image/svg",
            "text/xml",
            "application/json",
            "",
            "image/png+x",
        ] {
            assert_eq!(kind_for_content_type(ct), None, "{ct}");
        }
    }

    /// A compact JWS of random base64url parts.
    fn jws() -> impl Strategy<Value = String> {
        (
            "[A-Za-z0-9_-]{1,60}",
            "[A-Za-z0-9_-]{1,400}",
            "[A-Za-z0-9_-]{1,90}",
        )
            .prop_map(|(h, p, s)| format!("{h}.{p}.{s}"))
    }

    proptest! {
        #[test]
        fn baked_png_gives_back_exactly_the_jwt(first in jws(), second in jws()) {
            let png = png_with_itxt(&[("Comment", "x")]);
            let once = bake_png(&png, &first).expect("baked");
            prop_assert_eq!(extract(ImageKind::Png, &once).expect("read"), Baked::Jwt(first));
            let twice = bake_png(&once, &second).expect("baked again");
            prop_assert_eq!(
                chunk_types(&twice).iter().filter(|t| *t == "iTXt").count(),
                2 // the credential and the Comment
            );
            prop_assert_eq!(extract(ImageKind::Png, &twice).expect("read"), Baked::Jwt(second));
            prop_assert_eq!(unbake_png(&twice).expect("unbaked"), png);
        }

        #[test]
        fn baked_svg_gives_back_exactly_the_jwt(
            first in jws(),
            second in jws(),
            body in "[a-z ]{0,20}",
        ) {
            let svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg"><text>{body}</text></svg>"#);
            let once = bake_svg(&svg, &first).expect("baked");
            prop_assert_eq!(extract(ImageKind::Svg, once.as_bytes()).expect("read"), Baked::Jwt(first));
            let twice = bake_svg(&once, &second).expect("baked again");
            prop_assert_eq!(credential_elements(&twice), 1);
            prop_assert_eq!(extract(ImageKind::Svg, twice.as_bytes()).expect("read"), Baked::Jwt(second));
        }

        #[test]
        fn unbaking_an_svg_without_a_credential_changes_nothing(
            body in "[a-z0-9 =\"'<>/&;#.-]{0,120}",
        ) {
            let svg = format!(r#"<svg xmlns="http://www.w3.org/2000/svg">{body}</svg>"#);
            if let Ok(out) = unbake_svg(&svg) {
                prop_assert_eq!(out, svg);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = extract(ImageKind::Png, &bytes);
            let _ = extract(ImageKind::Svg, &bytes);
            let _ = sniff(&bytes);
        }

        #[test]
        fn random_chunks_after_a_png_signature_never_panic(
            chunks in proptest::collection::vec(
                (prop::sample::select(vec![*b"iTXt", *b"tEXt", *b"zTXt", *b"IHDR", *b"IEND", *b"IDAT"]),
                 proptest::collection::vec(any::<u8>(), 0..256)),
                0..6),
            fix_crc in any::<bool>(),
        ) {
            let mut png = PNG_SIGNATURE.to_vec();
            for (kind, data) in &chunks {
                let mut c = chunk(kind, data);
                if !fix_crc {
                    let n = c.len();
                    c[n - 1] ^= 1;
                }
                png.extend(c);
            }
            let _ = extract(ImageKind::Png, &png);
        }

        #[test]
        fn random_text_inside_an_svg_never_panics(
            body in "[<>&;#a-z0-9:\"'=\\[\\]!/ {}.?-]{0,200}",
        ) {
            let svg = format!(
                r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{SVG_NAMESPACE}"><openbadges:credential>{body}</openbadges:credential></svg>"#
            );
            let _ = extract(ImageKind::Svg, svg.as_bytes());
            let _ = sniff(svg.as_bytes());
        }
    }
}
