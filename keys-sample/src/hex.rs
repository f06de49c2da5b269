//! Hex text in vector files and CLI arguments: big-endian, either case, no `0x`, exact lengths.
//!
//! Errors give lengths and positions, never characters, because the text may be a key.

use core::fmt;

/// Why hex text was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HexError {
    /// The text has the wrong number of hex digits.
    Length {
        /// Digits required.
        expected: usize,
        /// Characters given.
        got: usize,
    },
    /// A character that is not a hex digit.
    NotHex {
        /// Zero-based character position.
        position: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HexError::Length { expected, got } => {
                write!(f, "expected {expected} hex digits, got {got}")
            }
            HexError::NotHex { position } => {
                write!(f, "character at position {position} is not a hex digit")
            }
        }
    }
}

impl std::error::Error for HexError {}

/// Characters in `text` (not bytes: a stray multi-byte character counts once).
fn char_count(text: &str) -> usize {
    text.chars().count()
}

fn nibble(c: char) -> Option<u8> {
    c.to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Parses exactly `digits` hex digits (at most 16) as a big-endian number.
pub fn parse_u64(text: &str, digits: usize) -> Result<u64, HexError> {
    let got = char_count(text);
    if got != digits || digits > 16 {
        return Err(HexError::Length {
            expected: digits,
            got,
        });
    }
    text.chars()
        .enumerate()
        .try_fold(0u64, |acc, (position, c)| {
            nibble(c)
                .map(|n| (acc << 4) | u64::from(n))
                .ok_or(HexError::NotHex { position })
        })
}

/// Decodes exactly `2 * out.len()` hex digits into `out`. On error `out` may hold part of the
/// value: callers decoding a key pass a zeroizing buffer.
pub fn decode_into(text: &str, out: &mut [u8]) -> Result<(), HexError> {
    let expected = out.len().saturating_mul(2);
    let got = char_count(text);
    if got != expected {
        return Err(HexError::Length { expected, got });
    }
    let mut chars = text.chars().enumerate();
    for slot in out.iter_mut() {
        let mut byte = 0u8;
        for _ in 0..2 {
            let (position, c) = chars.next().ok_or(HexError::Length { expected, got })?;
            byte = (byte << 4) | nibble(c).ok_or(HexError::NotHex { position })?;
        }
        *slot = byte;
    }
    Ok(())
}

/// Upper-case hex of `bytes`, the form the vector files use.
pub fn upper(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len().saturating_mul(2));
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_lengths() {
        assert_eq!(parse_u64("05599863000119E6", 16), Ok(0x0559_9863_0001_19E6));
        assert_eq!(parse_u64("0ffa", 4), Ok(0x0FFA));
        assert_eq!(
            parse_u64("0FFA", 5),
            Err(HexError::Length {
                expected: 5,
                got: 4
            })
        );
        assert_eq!(parse_u64("0FXA", 4), Err(HexError::NotHex { position: 2 }));
        let mut out = [0u8; 2];
        decode_into("aB09", &mut out).unwrap();
        assert_eq!(out, [0xAB, 0x09]);
        assert_eq!(upper(&out), "AB09");
        assert_eq!(
            decode_into("aB0", &mut out),
            Err(HexError::Length {
                expected: 4,
                got: 3
            })
        );
        assert_eq!(
            decode_into("aB0é", &mut out),
            Err(HexError::NotHex { position: 3 })
        );
    }
}
