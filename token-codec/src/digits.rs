//! The 20-digit decimal form of a 66-bit token number (SPEC-codec §1.3).

use core::fmt;
use core::str::FromStr;

use crate::error::CodecError;

/// Largest 66-bit value, 73 786 976 294 838 206 463.
pub const MAX_TOKEN_NUMBER: u128 = (1 << 66) - 1;

/// A 66-bit token number (class bits already transposed in, SPEC-codec §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenNumber(u128);

impl TokenNumber {
    /// Wraps a value; fails above 2^66 − 1.
    pub const fn new(value: u128) -> Result<Self, CodecError> {
        if value > MAX_TOKEN_NUMBER {
            Err(CodecError::ValueTooLarge)
        } else {
            Ok(Self(value))
        }
    }

    /// Builds from the top 2 bits (65..64) and the low 64 bits.
    pub const fn from_parts(top: u8, low: u64) -> Self {
        Self(((top as u128 & 3) << 64) | low as u128)
    }

    /// Bits 65..64.
    pub const fn top(self) -> u8 {
        ((self.0 >> 64) & 3) as u8
    }

    /// Bits 63..0.
    // Keeping only the low 64 bits is the point of this accessor.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn low(self) -> u64 {
        self.0 as u64
    }

    /// The value.
    pub const fn get(self) -> u128 {
        self.0
    }
}

/// Exactly 20 ASCII digits whose value is a 66-bit token number.
///
/// Parsing strips display separators first (brief decision 15): ASCII spaces, tabs, line
/// breaks and dashes, so `2371-6100-5011-8319-4197` and a pasted line both parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenDigits([u8; 20]);

impl TokenDigits {
    /// Parses typed or pasted digits; see the type docs for accepted separators.
    pub fn parse(input: &str) -> Result<Self, CodecError> {
        let mut digits = [0u8; 20];
        let mut count: usize = 0;
        for (position, ch) in input.chars().enumerate() {
            match ch {
                '0'..='9' => {
                    if let Some(slot) = digits.get_mut(count) {
                        *slot = ch as u8;
                    }
                    count = count.saturating_add(1);
                }
                ' ' | '\t' | '\r' | '\n' | '-' => {}
                found => return Err(CodecError::InvalidCharacter { position, found }),
            }
        }
        if count != 20 {
            return Err(CodecError::DigitCount { got: count });
        }
        let value = digits
            .iter()
            .fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0'));
        TokenNumber::new(value)?;
        Ok(Self(digits))
    }

    /// The zero-padded decimal form of a token number.
    // `value < 2^66`, so `value / 10^10 < 2^34` and `value % 10^10 < 10^10`: both fit in u64.
    #[allow(clippy::cast_possible_truncation)]
    pub fn from_number(number: TokenNumber) -> Self {
        // Split once so the per-digit work is in u64 (much cheaper than u128 division).
        const TEN_POW_10: u128 = 10_000_000_000;
        let value = number.get();
        let high = (value / TEN_POW_10) as u64;
        let low = (value % TEN_POW_10) as u64;
        let mut out = [b'0'; 20];
        let (high_digits, low_digits) = out.split_at_mut(10);
        write_decimal(high, high_digits);
        write_decimal(low, low_digits);
        Self(out)
    }

    /// The token number the digits spell.
    pub fn number(&self) -> TokenNumber {
        // Parsing and `from_number` guarantee 20 digits worth at most 2^66 − 1.
        TokenNumber(
            self.0
                .iter()
                .fold(0u128, |acc, &d| acc * 10 + u128::from(d - b'0')),
        )
    }

    /// The 20 digits as a string.
    pub fn as_str(&self) -> &str {
        // Every byte is an ASCII digit, so this never fails.
        core::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The digits grouped 4-4-4-4-4 with spaces, as printed on receipts.
    pub fn grouped(&self) -> Grouped<'_> {
        Grouped(self)
    }
}

/// Writes `value` (< 10^10) as exactly `out.len()` zero-padded decimal digits.
fn write_decimal(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        // `value % 10` is below 10, so the narrowing cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let digit = (value % 10) as u8;
        *slot = b'0' + digit;
        value /= 10;
    }
}

impl FromStr for TokenDigits {
    type Err = CodecError;
    fn from_str(s: &str) -> Result<Self, CodecError> {
        Self::parse(s)
    }
}

impl fmt::Display for TokenDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for TokenDigits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigits({})", self.as_str())
    }
}

/// Display adapter printing digits as `2371 6100 5011 8319 4197`.
#[derive(Debug, Clone, Copy)]
pub struct Grouped<'a>(&'a TokenDigits);

impl fmt::Display for Grouped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.0.0.chunks(4).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(core::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use proptest::prelude::*;
    use std::string::{String, ToString};

    #[test]
    fn parses_with_separators() {
        let d = TokenDigits::parse("2371-6100-5011-8319-4197").unwrap();
        assert_eq!(d.as_str(), "23716100501183194197");
        assert_eq!(d.grouped().to_string(), "2371 6100 5011 8319 4197");
        assert_eq!(
            TokenDigits::parse(" 2371 6100 5011 8319 4197\n").unwrap(),
            d
        );
    }

    #[test]
    fn precise_errors() {
        assert_eq!(
            TokenDigits::parse("2371610050118319419"),
            Err(CodecError::DigitCount { got: 19 })
        );
        assert_eq!(
            TokenDigits::parse(""),
            Err(CodecError::DigitCount { got: 0 })
        );
        assert_eq!(
            TokenDigits::parse("2371x"),
            Err(CodecError::InvalidCharacter {
                position: 4,
                found: 'x'
            })
        );
        // 2^66 is one past the largest token number.
        assert_eq!(
            TokenDigits::parse("73786976294838206464"),
            Err(CodecError::ValueTooLarge)
        );
        assert!(TokenDigits::parse("73786976294838206463").is_ok());
        assert_eq!(
            TokenDigits::parse("99999999999999999999"),
            Err(CodecError::ValueTooLarge)
        );
    }

    proptest! {
        #[test]
        fn any_string_never_panics(s in ".*") {
            let _ = TokenDigits::parse(&s);
        }

        #[test]
        fn any_digit_string_never_panics(s in "[0-9 -]{0,40}") {
            let _ = TokenDigits::parse(&s);
        }

        #[test]
        fn every_66_bit_value_round_trips(v in 0u128..=MAX_TOKEN_NUMBER) {
            let n = TokenNumber::new(v).unwrap();
            let d = TokenDigits::from_number(n);
            prop_assert_eq!(d.as_str(), std::format!("{v:020}"));
            prop_assert_eq!(TokenDigits::parse(d.as_str()).unwrap().number(), n);
            let spaced: String = d.grouped().to_string();
            prop_assert_eq!(TokenDigits::parse(&spaced).unwrap(), d);
        }
    }
}
