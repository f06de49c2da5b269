//! The decoder reference number (DRN), the meter's own number inside its PAN
//! (SPEC-crypto §5.2).

use core::fmt;
use core::str::FromStr;

use super::{Iin, digit_of, first_non_digit, value_of};
use crate::error::{HsmError, PanError};
use crate::luhn;

/// A decoder reference number: the meter's own number inside its PAN, 11 digits (after IIN
/// `600727`) or 13 digits (after IIN `0000`), ending in its own Luhn digit (SPEC-crypto §5.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Drn {
    /// Which IIN the DRN's length goes with; it fixes the digit count.
    iin: Iin,
    /// The DRN as a number, check digit included (below 10^13).
    value: u64,
}

impl Drn {
    /// Checks a DRN's digits (ASCII, already known to be digits) against its Luhn digit.
    pub(super) fn from_digits(digits: &[u8], iin: Iin) -> Result<Self, PanError> {
        let Some((&last, payload)) = digits.split_last() else {
            return Err(PanError::DrnLength { got: 0 });
        };
        let expected = luhn::check_digit(payload);
        let got = digit_of(last);
        if expected != got {
            return Err(PanError::DrnCheckDigit { expected, got });
        }
        Ok(Drn {
            iin,
            value: value_of(digits),
        })
    }

    /// A DRN from its value, for digits already checked (a PAN's own DRN).
    pub(super) const fn from_checked(iin: Iin, value: u64) -> Self {
        Drn { iin, value }
    }

    /// The DRN as a number, check digit included.
    pub(super) const fn value(self) -> u64 {
        self.value
    }

    /// The IIN a DRN of this length follows in a meter PAN.
    pub const fn iin(self) -> Iin {
        self.iin
    }

    /// Number of digits (11 or 13).
    pub const fn digit_count(self) -> usize {
        self.iin.drn_digit_count()
    }

    /// The manufacturer code: the leading 2 (11-digit DRN) or 4 (13-digit DRN) digits.
    pub fn manufacturer_code(self) -> u16 {
        // Invariant: value < 10^13, so value / 10^9 < 10^4 fits in a u16.
        u16::try_from(self.value / 1_000_000_000).unwrap_or(u16::MAX)
    }

    /// The 8-digit serial number between the manufacturer code and the check digit.
    pub fn serial(self) -> u32 {
        // Invariant: reduced modulo 10^8, so it fits in a u32.
        u32::try_from(self.value / 10 % 100_000_000).unwrap_or(u32::MAX)
    }

    /// The DRN's Luhn check digit (its last digit).
    pub fn check_digit(self) -> u8 {
        let [digit, ..] = (self.value % 10).to_le_bytes();
        digit
    }
}

impl FromStr for Drn {
    type Err = HsmError;

    /// Exactly 11 or 13 decimal digits whose last is the Luhn digit of the others, e.g.
    /// `"0100000000008"`. No separators are accepted.
    fn from_str(s: &str) -> Result<Self, HsmError> {
        if let Some((position, found)) = first_non_digit(s) {
            return Err(PanError::DrnNonDigit { position, found }.into());
        }
        let iin = match s.len() {
            11 => Iin::SixDigit,
            13 => Iin::FourDigit,
            got => return Err(PanError::DrnLength { got }.into()),
        };
        Ok(Drn::from_digits(s.as_bytes(), iin)?)
    }
}

impl fmt::Display for Drn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.iin {
            Iin::SixDigit => write!(f, "{:011}", self.value),
            Iin::FourDigit => write!(f, "{:013}", self.value),
        }
    }
}

impl fmt::Debug for Drn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Drn({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_drns_are_refused_precisely() {
        let err = |s: &str| match s.parse::<Drn>() {
            Err(HsmError::MeterPan(e)) => e,
            other => panic!("{s}: expected a pan error, got {other:?}"),
        };
        assert_eq!(
            err("0100000000007"),
            PanError::DrnCheckDigit {
                expected: 8,
                got: 7
            }
        );
        assert_eq!(err("010000000000"), PanError::DrnLength { got: 12 });
        assert_eq!(
            err("0100000x00008"),
            PanError::DrnNonDigit {
                position: 7,
                found: 'x'
            }
        );
        assert_eq!(
            "0100000000007".parse::<Drn>().unwrap_err().to_string(),
            "drn check digit: expected 8, got 7"
        );
    }
}
