//! The bitstring of a status list and its `encodedList` form (Bitstring Status List
//! v1.0 §3.3 "Bitstring Generation Algorithm" and §3.4 "Bitstring Expansion
//! Algorithm").
//!
//! - Index 0 is the left-most bit: the most significant bit of byte 0 (§2.2, §7.1).
//! - `encodedList` = the multibase base64url form (prefix `u`, no padding) of the GZIP
//!   (RFC 1952) compression of the bitstring.
//! - Expansion is bounded: a verifier never inflates more than it was told it may.

use std::io::{Read as _, Write as _};

use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};

/// Why an `encodedList` could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("encodedList is not multibase base64url (it must start with \"u\")")]
    Multibase,
    #[error("encodedList is not base64url: {0}")]
    Base64(String),
    #[error("encodedList is not GZIP data: {0}")]
    Gzip(String),
    #[error("encodedList expands to more than {0} bytes")]
    TooLarge(usize),
}

/// A fixed-length string of bits.
#[derive(Clone, PartialEq, Eq)]
pub struct Bitstring {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Bitstring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Bitstring({} bits, {} set)",
            self.len(),
            self.count_ones()
        )
    }
}

impl Bitstring {
    /// `bits` zero bits, rounded up to whole bytes.
    pub fn zeros(bits: usize) -> Self {
        Self {
            bytes: vec![0; bits.div_ceil(8)],
        }
    }

    /// A bitstring over existing bytes.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The bytes, index 0 in the high bit of the first.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Length in bits.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Whether it holds no bits at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bit at `index`, or `None` past the end (never "unset").
    pub fn get(&self, index: usize) -> Option<bool> {
        let byte = self.bytes.get(index / 8)?;
        Some(byte & (0x80 >> (index % 8)) != 0)
    }

    /// Sets or clears the bit at `index`; returns the previous value, or `None` (and
    /// changes nothing) past the end.
    pub fn set(&mut self, index: usize, value: bool) -> Option<bool> {
        let byte = self.bytes.get_mut(index / 8)?;
        let mask = 0x80 >> (index % 8);
        let old = *byte & mask != 0;
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        Some(old)
    }

    /// How many bits are set.
    pub fn count_ones(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The first clear bit at or after `start`, wrapping around; `None` when full.
    pub fn next_clear(&self, start: usize) -> Option<usize> {
        let n = self.bytes.len();
        if n == 0 {
            return None;
        }
        let start = start % self.len();
        // The rest of the starting byte, then whole bytes, then the start of the
        // starting byte again.
        let first = start / 8;
        for bit in start..(first + 1) * 8 {
            if self.get(bit) == Some(false) {
                return Some(bit);
            }
        }
        for k in 1..=n {
            let i = (first + k) % n;
            let b = self.bytes[i];
            if b != 0xff {
                let bit = i * 8 + b.leading_ones() as usize;
                if i != first || bit < start {
                    return Some(bit);
                }
            }
        }
        None
    }

    /// The `encodedList` value: `u` + base64url-without-padding(GZIP(bytes)).
    pub fn encode(&self) -> String {
        let mut gz = flate2::GzBuilder::new()
            .mtime(0)
            .write(Vec::with_capacity(1024), flate2::Compression::fast());
        // Writing to a Vec cannot fail.
        let _ = gz.write_all(&self.bytes);
        let compressed = gz.finish().unwrap_or_default();
        let mut out = String::with_capacity(1 + compressed.len().div_ceil(3) * 4);
        out.push('u');
        URL_SAFE_NO_PAD.encode_string(&compressed, &mut out);
        out
    }

    /// Expands an `encodedList`, refusing compressed input longer than
    /// `max_compressed` bytes or output longer than `max_expanded` bytes.
    pub fn decode(
        encoded: &str,
        max_compressed: usize,
        max_expanded: usize,
    ) -> Result<Self, Error> {
        let b64 = encoded.strip_prefix('u').ok_or(Error::Multibase)?;
        if b64.len() > max_compressed.div_ceil(3) * 4 + 4 {
            return Err(Error::TooLarge(max_expanded));
        }
        // The spec says "no padding"; a padded value is still unambiguous.
        let compressed = if b64.ends_with('=') {
            URL_SAFE.decode(b64)
        } else {
            URL_SAFE_NO_PAD.decode(b64)
        }
        .map_err(|e| Error::Base64(e.to_string()))?;
        let mut bytes = Vec::with_capacity(max_expanded.min(1 << 20).min(compressed.len() * 64));
        let limit = u64::try_from(max_expanded).unwrap_or(u64::MAX) + 1;
        flate2::read::MultiGzDecoder::new(compressed.as_slice())
            .take(limit)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::Gzip(e.to_string()))?;
        if bytes.len() > max_expanded {
            return Err(Error::TooLarge(max_expanded));
        }
        Ok(Self { bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn index_zero_is_the_high_bit_of_the_first_byte() {
        let mut b = Bitstring::zeros(16);
        b.set(0, true);
        b.set(9, true);
        b.set(15, true);
        assert_eq!(b.as_bytes(), &[0b1000_0000, 0b0100_0001]);
        assert_eq!(b.get(16), None);
        assert_eq!(b.set(16, true), None);
    }

    #[test]
    fn the_spec_example_list_expands_to_131072_clear_bits() {
        // Bitstring Status List v1.0, Example 3 (an empty 16 KB list).
        let example = "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA";
        let b = Bitstring::decode(example, 64 * 1024, 2 << 20).expect("decodes");
        assert_eq!(b.len(), 131_072);
        assert_eq!(b.count_ones(), 0);
    }

    #[test]
    fn encoding_is_gzip_with_a_multibase_prefix_and_no_padding() {
        let mut b = Bitstring::zeros(131_072);
        b.set(94_567, true);
        let e = b.encode();
        assert!(e.starts_with("uH4sI"), "{e}");
        assert!(!e.contains('=') && !e.contains('+') && !e.contains('/'));
        assert_eq!(Bitstring::decode(&e, 64 * 1024, 2 << 20), Ok(b));
    }

    #[test]
    fn expansion_is_bounded_and_bad_input_is_named() {
        let big = Bitstring::zeros(8 * 4096).encode();
        assert_eq!(
            Bitstring::decode(&big, 64 * 1024, 4095),
            Err(Error::TooLarge(4095))
        );
        assert_eq!(Bitstring::decode("H4sI", 1024, 1024), Err(Error::Multibase));
        assert!(matches!(
            Bitstring::decode("u!!!", 1024, 1024),
            Err(Error::Base64(_))
        ));
        assert!(matches!(
            Bitstring::decode("uAAAA", 1024, 1024),
            Err(Error::Gzip(_))
        ));
        let long = format!("u{}", "A".repeat(10_000));
        assert_eq!(
            Bitstring::decode(&long, 1024, 1 << 20),
            Err(Error::TooLarge(1 << 20))
        );
    }

    #[test]
    fn next_clear_wraps_and_reports_full() {
        let mut b = Bitstring::zeros(16);
        for i in 0..16 {
            if i != 3 {
                b.set(i, true);
            }
        }
        assert_eq!(b.next_clear(5), Some(3));
        assert_eq!(b.next_clear(3), Some(3));
        b.set(3, true);
        assert_eq!(b.next_clear(0), None);
        b.set(10, false);
        assert_eq!(b.next_clear(11), Some(10));
        assert_eq!(b.next_clear(9), Some(10));
    }

    proptest! {
        #[test]
        fn set_get_encode_decode_round_trip(
            bytes in 1usize..2048,
            ops in proptest::collection::vec((any::<usize>(), any::<bool>()), 0..200),
        ) {
            let mut b = Bitstring::zeros(bytes * 8);
            let mut model = vec![false; bytes * 8];
            for (i, v) in ops {
                let i = i % (bytes * 8);
                prop_assert_eq!(b.set(i, v), Some(model[i]));
                model[i] = v;
            }
            for (i, v) in model.iter().enumerate() {
                prop_assert_eq!(b.get(i), Some(*v));
            }
            prop_assert_eq!(b.count_ones(), model.iter().filter(|v| **v).count());
            let back = Bitstring::decode(&b.encode(), 1 << 20, 1 << 20);
            prop_assert_eq!(back, Ok(b));
        }

        #[test]
        fn next_clear_finds_the_first_clear_bit_from_start(
            bytes in 1usize..64,
            set in proptest::collection::vec(any::<usize>(), 0..600),
            start in any::<usize>(),
        ) {
            let n = bytes * 8;
            let mut b = Bitstring::zeros(n);
            for i in set {
                b.set(i % n, true);
            }
            let expected = (0..n).map(|k| (start % n + k) % n).find(|&i| b.get(i) == Some(false));
            prop_assert_eq!(b.next_clear(start), expected);
        }
    }
}
