//! Meter identity numbers: the decoder reference number ([`Drn`]), the 18-digit meter PAN
//! ([`MeterPan`]) and the PANBlock that DKGA02 derives keys from (SPEC-crypto §5.2, SPEC-codec
//! Appendix A.1).
//!
//! A meter PAN is `IIN ‖ IAIN ‖ check digit`, where the IAIN is the meter's DRN:
//! - IIN `600727` (legacy, 6 digits) + 11-digit DRN (2-digit manufacturer code, 8-digit serial,
//!   Luhn digit) + Luhn digit;
//! - IIN `0000` (4 digits) + 13-digit DRN (4-digit manufacturer code, 8-digit serial, Luhn
//!   digit) + Luhn digit.
//!
//! Both Luhn digits are checked on parsing, so a `MeterPan` that exists is well formed.

mod drn;
mod pan;

use core::fmt;

pub use drn::Drn;
pub use pan::{MeterPan, PanBlock};

/// Issuer identification number at the head of a meter PAN (SPEC-crypto §5.2).
///
/// Choice (the brief is silent): only the two IINs the brief describes are accepted, and a PAN
/// is told apart by its prefix (`600727…` or `0000…`; no PAN can start with both). A PAN with
/// any other prefix is refused ([`PanError::UnknownIin`](crate::error::PanError::UnknownIin)): where the DRN and its Luhn digit sit
/// depends on the IIN's length, so guessing would derive keys for a misread PAN. To accept
/// another IIN, add a variant here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Iin {
    /// `600727`: the legacy 6-digit IIN, followed by an 11-digit DRN.
    SixDigit,
    /// `0000`: the 4-digit IIN, followed by a 13-digit DRN.
    FourDigit,
}

impl Iin {
    /// The IIN's digits.
    pub const fn digits(self) -> &'static str {
        match self {
            Iin::SixDigit => "600727",
            Iin::FourDigit => "0000",
        }
    }

    /// Number of IIN digits (6 or 4).
    pub const fn digit_count(self) -> usize {
        self.digits().len()
    }

    /// Number of digits of the DRN that follows this IIN (11 or 13).
    pub const fn drn_digit_count(self) -> usize {
        match self {
            Iin::SixDigit => 11,
            Iin::FourDigit => 13,
        }
    }

    /// The IIN that heads `pan`, if it is one we know.
    fn of_pan(pan: &[u8; 18]) -> Option<Self> {
        [Iin::SixDigit, Iin::FourDigit]
            .into_iter()
            .find(|iin| pan.starts_with(iin.digits().as_bytes()))
    }
}

impl fmt::Display for Iin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.digits())
    }
}

/// Checks that every character of `s` is a decimal digit; on failure, says which one was not.
fn first_non_digit(s: &str) -> Option<(usize, char)> {
    s.chars().enumerate().find(|(_, c)| !c.is_ascii_digit())
}

/// The value of a run of ASCII digits (already checked to be digits).
fn value_of(digits: &[u8]) -> u64 {
    digits.iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(d.saturating_sub(b'0')))
    })
}

/// The digit an ASCII byte stands for (already checked to be a digit).
fn digit_of(ascii: u8) -> u8 {
    ascii.saturating_sub(b'0')
}
