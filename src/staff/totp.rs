//! Time-based one-time passwords for staff sign-in.
//!
//! This is TOTP as specified by RFC 6238 §4: the moving factor is
//! `T = floor((unix_time - T0) / X)` with `T0 = 0` and a time step `X` of
//! 30 seconds, and the code is HOTP (RFC 4226) of that counter: HMAC-SHA-1
//! over the counter as an 8-byte big-endian integer, shortened by the
//! dynamic truncation of RFC 4226 §5.3 (the low nibble of the last byte of
//! the MAC picks an offset, the 31 bits at that offset are taken modulo
//! `10^digits`). Codes have 6 digits, the default that authenticator apps
//! expect.
//!
//! Secrets are 20 random bytes (the HMAC-SHA-1 output size, as RFC 4226 §4
//! recommends), shown to people as RFC 4648 base32 and handed to
//! authenticator apps in the Key URI format
//! (`otpauth://totp/Issuer:account?secret=…&issuer=…`, as documented by
//! Google Authenticator's "Key Uri Format" page).
//!
//! [`TotpSecret::check`] accepts the current step and one step either side
//! (RFC 6238 §5.2 recommends allowing at most one step of network delay and
//! clock drift), compares codes in constant time and supports replay
//! protection (RFC 6238 §5.2: a code must not be accepted twice) through the
//! last step the caller has recorded as used.

use std::fmt;

use rand::RngCore;
use ring::hmac;
use subtle::ConstantTimeEq;

/// The time step, in seconds (RFC 6238 §4.1, `X`).
pub const STEP_SECONDS: u64 = 30;
/// The number of digits in a code.
pub const DIGITS: u32 = 6;
/// The length of a generated secret, in bytes.
pub const SECRET_LEN: usize = 20;

/// RFC 4648 §6 base32 alphabet.
const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A TOTP shared secret (20 random bytes). Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A new secret of [`SECRET_LEN`] bytes from the operating system's
    /// random number generator.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Wraps raw secret bytes (as stored).
    pub fn from_bytes(b: Vec<u8>) -> Self {
        Self(b)
    }

    /// The raw secret bytes (to store).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32, upper case, without `=` padding (the form
    /// authenticator apps expect).
    pub fn base32(&self) -> String {
        base32_encode(&self.0)
    }

    /// Parses base32 as typed or pasted by a person: case-insensitive,
    /// ignoring whitespace and `=` padding. `None` when a character is not
    /// in the base32 alphabet, the length cannot be the encoding of whole
    /// bytes, or the text holds no bytes at all.
    pub fn from_base32(s: &str) -> Option<Self> {
        let bytes = base32_decode(s)?;
        if bytes.is_empty() {
            return None;
        }
        Some(Self(bytes))
    }

    /// The Key URI that authenticator apps read (usually from a QR code):
    /// `otpauth://totp/{issuer}:{account}?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30`.
    ///
    /// The issuer and account are percent-encoded (everything except the
    /// RFC 3986 unreserved characters `ALPHA DIGIT - . _ ~`), so a `:` or
    /// `@` in either cannot be confused with the label separator.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let issuer = percent_encode(issuer);
        let account = percent_encode(account);
        let secret = self.base32();
        format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
             &algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
        )
    }

    /// The code for a time step (unix seconds / 30).
    pub fn code_at_step(&self, step: u64) -> String {
        hotp(&self.0, step, DIGITS)
    }

    /// The code at a point in time (unix seconds; times before 1970 count
    /// as step 0).
    pub fn code_at(&self, unix_seconds: i64) -> String {
        self.code_at_step(step_of(unix_seconds))
    }

    /// Checks `code` (6 ASCII digits after trimming spaces) at now's step
    /// and one step either side, with a constant-time comparison; returns
    /// the matched step, which the caller records as used.
    ///
    /// `last_step`: a step already used (replay protection): only steps
    /// strictly greater are accepted. Spaces anywhere in the code are
    /// ignored, since apps often show codes as `123 456`.
    pub fn check(&self, code: &str, unix_seconds: i64, last_step: Option<u64>) -> Option<u64> {
        let code: Vec<u8> = code.bytes().filter(|b| *b != b' ').collect();
        if code.len() != DIGITS as usize || !code.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let now = step_of(unix_seconds);
        let candidates = [now.checked_sub(1), Some(now), now.checked_add(1)];
        // Every candidate is computed and compared, with no early exit, so
        // the time taken does not depend on which step (if any) matched.
        let mut matched = None;
        for step in candidates.into_iter().flatten() {
            let expected = self.code_at_step(step);
            let equal: bool = expected.as_bytes().ct_eq(&code).into();
            let fresh = last_step.is_none_or(|last| step > last);
            if equal && fresh {
                // The latest matching step wins, so that the code cannot be
                // replayed at any step of the window.
                matched = Some(step);
            }
        }
        matched
    }
}

/// The RFC 6238 time step of a unix time; times before the epoch are step 0.
fn step_of(unix_seconds: i64) -> u64 {
    u64::try_from(unix_seconds).unwrap_or(0) / STEP_SECONDS
}

/// HOTP (RFC 4226 §5.3): HMAC-SHA-1 of the big-endian counter, dynamically
/// truncated to 31 bits, reduced to `digits` decimal digits, zero-padded.
fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    // RFC 4226 §5.3: the offset is the low 4 bits of the last byte, so
    // `offset + 3 <= 15 + 3 < 20`, within the 20-byte SHA-1 MAC.
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_be_bytes);
    let binary = word & 0x7fff_ffff;
    let modulus = 10u64.pow(digits);
    let value = u64::from(binary) % modulus;
    let width = digits as usize;
    format!("{value:0width$}")
}

/// RFC 4648 §6 base32, upper case, no padding.
fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            let index = ((buffer >> bits) & 0x1f) as usize;
            out.push(char::from(BASE32_ALPHABET[index]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        let index = ((buffer << (5 - bits)) & 0x1f) as usize;
        out.push(char::from(BASE32_ALPHABET[index]));
    }
    out
}

/// RFC 4648 §6 base32 decoding: case-insensitive, whitespace and `=`
/// ignored. `None` on a character outside the alphabet or a length that no
/// whole number of bytes encodes to (1, 3 or 6 symbols in the last group).
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    let mut symbols = 0usize;
    for c in text.chars() {
        if c == '=' || c.is_whitespace() {
            continue;
        }
        let value = match c.to_ascii_uppercase() {
            u @ 'A'..='Z' => u as u32 - 'A' as u32,
            d @ '2'..='7' => d as u32 - '2' as u32 + 26,
            _ => return None,
        };
        symbols += 1;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    match symbols % 8 {
        1 | 3 | 6 => None,
        _ => Some(out),
    }
}

/// Everything but the RFC 3986 unreserved characters (`ALPHA DIGIT - . _ ~`).
const NOT_UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// RFC 6238 Appendix B, SHA-1 seed.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        let vectors: [(i64, &str); 6] = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, expected) in vectors {
            assert_eq!(hotp(RFC_SEED, step_of(time), 8), expected, "T = {time}");
        }
    }

    #[test]
    fn rfc4226_appendix_d_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in (0u64..).zip(expected) {
            assert_eq!(hotp(RFC_SEED, counter, 6), code, "counter {counter}");
        }
    }

    #[test]
    fn six_digit_codes_are_the_low_digits() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        assert_eq!(secret.code_at(59), "287082");
        assert_eq!(secret.code_at(1_111_111_109), "081804");
        assert_eq!(secret.code_at_step(1), "287082");
        assert_eq!(secret.code_at(-5), secret.code_at_step(0));
    }

    #[test]
    fn rfc4648_base32_vectors() {
        let vectors = [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base32_encode(plain.as_bytes()), encoded);
            assert_eq!(
                base32_decode(encoded).expect("decodes"),
                plain.as_bytes(),
                "{encoded}"
            );
        }
        // Padded, lower case and spaced forms decode the same.
        let secret = TotpSecret::from_base32("mzxw 6ytb oi======").expect("decodes");
        assert_eq!(secret.as_bytes(), b"foobar");
        assert_eq!(secret.base32(), "MZXW6YTBOI");
    }

    #[test]
    fn base32_rejects_bad_input() {
        assert_eq!(TotpSecret::from_base32("MZXW1"), None, "1 is not base32");
        assert_eq!(TotpSecret::from_base32("MZ!W"), None);
        assert_eq!(TotpSecret::from_base32("M"), None, "dangling symbol");
        assert_eq!(TotpSecret::from_base32("MZX"), None);
        assert_eq!(TotpSecret::from_base32("MZXW6Y"), None);
        assert_eq!(TotpSecret::from_base32(""), None, "empty secret");
        assert_eq!(TotpSecret::from_base32(" == "), None);
    }

    #[test]
    fn base32_round_trips() {
        let mut rng = rand::thread_rng();
        for _ in 0..500 {
            let len = rng.gen_range(1..=64);
            let mut bytes = vec![0u8; len];
            rng.fill_bytes(&mut bytes);
            let secret = TotpSecret::from_bytes(bytes);
            let encoded = secret.base32();
            assert!(!encoded.contains('='));
            assert_eq!(encoded, encoded.to_ascii_uppercase());
            assert_eq!(encoded.len(), (len * 8).div_ceil(5));
            assert_eq!(
                TotpSecret::from_base32(&encoded).as_ref(),
                Some(&secret),
                "{encoded}"
            );
            assert_eq!(
                TotpSecret::from_base32(&encoded.to_ascii_lowercase()).as_ref(),
                Some(&secret)
            );
        }
    }

    #[test]
    fn generated_secrets_are_20_random_bytes() {
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), SECRET_LEN);
        assert_eq!(a.base32().len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn check_accepts_one_step_either_side() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        let now: i64 = 1_700_000_015;
        let step = step_of(now);
        for delta in [-1i64, 0, 1] {
            let at = now + delta * 30;
            let code = secret.code_at(at);
            assert_eq!(
                secret.check(&code, now, None),
                Some(step_of(at)),
                "delta {delta}"
            );
        }
        assert_eq!(
            secret.check(&secret.code_at_step(step), now, Some(step - 1)),
            Some(step)
        );
        let spaced = secret.code_at(now);
        let spaced = format!(" {} {} ", &spaced[..3], &spaced[3..]);
        assert_eq!(secret.check(&spaced, now, None), Some(step));
    }

    #[test]
    fn check_refuses_two_steps_away() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        let now: i64 = 1_700_000_015;
        let step = step_of(now);
        for far in [step - 2, step + 2] {
            let code = secret.code_at_step(far);
            // Make sure the far code does not collide with an accepted one.
            let window: Vec<String> = (step - 1..=step + 1)
                .map(|s| secret.code_at_step(s))
                .collect();
            assert!(!window.contains(&code));
            assert_eq!(secret.check(&code, now, None), None, "step {far}");
        }
    }

    #[test]
    fn check_refuses_replay() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        let now: i64 = 1_700_000_015;
        let step = step_of(now);
        let code = secret.code_at_step(step);
        let used = secret.check(&code, now, None).expect("first use");
        assert_eq!(used, step);
        assert_eq!(secret.check(&code, now, Some(used)), None, "same step");
        assert_eq!(secret.check(&code, now + 29, Some(used)), None);
        let earlier = secret.code_at_step(step - 1);
        assert_eq!(secret.check(&earlier, now, Some(used)), None, "earlier");
        assert_eq!(secret.check(&code, now, Some(step + 1)), None);
        let next = secret.code_at_step(step + 1);
        assert_eq!(secret.check(&next, now, Some(used)), Some(step + 1));
    }

    #[test]
    fn check_refuses_malformed_codes() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        let now: i64 = 59;
        let code = secret.code_at(now);
        assert_eq!(code, "287082");
        assert_eq!(secret.check(&code, now, None), Some(1));
        for bad in [
            "",
            "28708",
            "2870820",
            "0287082",
            "28708a",
            "28708\u{0662}",
            "+87082",
            "-87082",
            "2870 8",
            "２８７０８２",
        ] {
            assert_eq!(secret.check(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn check_near_the_epoch() {
        let secret = TotpSecret::from_bytes(RFC_SEED.to_vec());
        assert_eq!(secret.check(&secret.code_at_step(0), 0, None), Some(0));
        assert_eq!(secret.check(&secret.code_at_step(1), 0, None), Some(1));
        assert_eq!(secret.check(&secret.code_at_step(0), -100, None), Some(0));
    }

    #[test]
    fn key_uri_format() {
        let secret = TotpSecret::from_bytes(b"foobar".to_vec());
        assert_eq!(
            secret.uri("Accolade", "ada@example.org"),
            "otpauth://totp/Accolade:ada%40example.org?secret=MZXW6YTBOI\
             &issuer=Accolade&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            secret.uri("Acme: Badges & Co", "Zoë ~a_b-c.d"),
            "otpauth://totp/Acme%3A%20Badges%20%26%20Co:Zo%C3%AB%20~a_b-c.d\
             ?secret=MZXW6YTBOI&issuer=Acme%3A%20Badges%20%26%20Co\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn debug_redacts_the_secret() {
        let secret = TotpSecret::from_bytes(b"foobar".to_vec());
        let shown = format!("{secret:?}");
        assert_eq!(shown, "TotpSecret(<redacted>)");
        assert!(!shown.contains("MZXW6YTBOI"));
        assert!(!shown.contains("102"));
    }
}
