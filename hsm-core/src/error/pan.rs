//! Why a meter PAN or decoder reference number was refused.

use core::fmt;
use std::error::Error;

/// Why a meter PAN or decoder reference number (DRN) was refused (SPEC-crypto §5.2).
///
/// Positions count characters from 0. PANs and DRNs are not secret, so a wrong character is
/// shown.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanError {
    /// A meter PAN with a digit count other than 18.
    Length {
        /// Characters given.
        got: usize,
    },
    /// A meter PAN containing something other than a decimal digit.
    NonDigit {
        /// Character position.
        position: usize,
        /// The character.
        found: char,
    },
    /// A meter PAN whose IIN is neither `600727` nor `0000`.
    UnknownIin {
        /// The PAN's first six digits.
        leading: u32,
    },
    /// A DRN with a digit count other than 11 or 13.
    DrnLength {
        /// Characters given.
        got: usize,
    },
    /// A DRN containing something other than a decimal digit.
    DrnNonDigit {
        /// Character position.
        position: usize,
        /// The character.
        found: char,
    },
    /// The DRN's own Luhn digit (its last digit) is wrong.
    DrnCheckDigit {
        /// Luhn digit of the DRN's other digits.
        expected: u8,
        /// Digit found.
        got: u8,
    },
    /// The meter PAN's final Luhn digit (over IIN ‖ IAIN) is wrong.
    PanCheckDigit {
        /// Luhn digit of the first 17 digits.
        expected: u8,
        /// Digit found.
        got: u8,
    },
}

impl fmt::Display for PanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PanError::Length { got } => write!(f, "meter pan must be 18 digits, got {got}"),
            PanError::NonDigit { position, found } => {
                write!(
                    f,
                    "meter pan has non-digit {found:?} at position {position}"
                )
            }
            PanError::UnknownIin { leading } => write!(
                f,
                "meter pan iin must be 600727 or 0000, but the pan starts {leading:06}"
            ),
            PanError::DrnLength { got } => write!(f, "drn must be 11 or 13 digits, got {got}"),
            PanError::DrnNonDigit { position, found } => {
                write!(f, "drn has non-digit {found:?} at position {position}")
            }
            PanError::DrnCheckDigit { expected, got } => {
                write!(f, "drn check digit: expected {expected}, got {got}")
            }
            PanError::PanCheckDigit { expected, got } => {
                write!(f, "meter pan check digit: expected {expected}, got {got}")
            }
        }
    }
}

impl Error for PanError {}
