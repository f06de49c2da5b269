//! The result categories vectors name (`expect.error`) and the errors that fall in each.
//!
//! VECTORS.md names `format` (not 20 digits, not a number, > 2^66 − 1), `crc` and `function`
//! (a class or subclass this implementation does not support) for `reject` vectors, and
//! `format` for a refused key derivation. `range` (a field value outside its domain) is the
//! meter's category for the same fault (README.md decision 12) and is accepted too.

use core::fmt;
use core::str::FromStr;

use hsm_core::HsmError;
use token_codec::CodecError;

/// A category of refusal, as vector files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The input is not well formed: not 20 digits, not a number, too large; a malformed PAN,
    /// hex text or digit string.
    Format,
    /// The CRC of the decrypted block does not match.
    Crc,
    /// No function is defined for the class or subclass, or the algorithm is not supported.
    Function,
    /// A field value outside its domain.
    Range,
}

impl Category {
    /// Every category, in the order VECTORS.md lists them.
    pub const ALL: [Self; 4] = [Self::Format, Self::Crc, Self::Function, Self::Range];

    /// The name vector files use.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Format => "format",
            Self::Crc => "crc",
            Self::Function => "function",
            Self::Range => "range",
        }
    }

    /// The category of a codec error; `None` for errors no vector category describes (a key
    /// of the wrong width, a cipher compiled out, a key expiry, which is a meter result).
    pub const fn of_codec(error: &CodecError) -> Option<Self> {
        match error {
            CodecError::InvalidCharacter { .. }
            | CodecError::DigitCount { .. }
            | CodecError::ValueTooLarge
            | CodecError::FieldLength { .. } => Some(Self::Format),
            CodecError::CrcMismatch { .. } => Some(Self::Crc),
            CodecError::ReservedClass | CodecError::UnknownSubclass { .. } => Some(Self::Function),
            CodecError::OutOfRange { .. }
            | CodecError::AmountTooLarge { .. }
            | CodecError::BeforeBaseDate
            | CodecError::TidOverflow { .. } => Some(Self::Range),
            _ => None,
        }
    }

    /// The category of a refused key derivation: a malformed PAN, vending key or code is
    /// `format`; a value outside its domain `range`; an algorithm or key type the derivation
    /// does not support `function`.
    pub fn of_hsm(error: &HsmError) -> Self {
        match error {
            HsmError::MeterPan(_)
            | HsmError::SecretHex { .. }
            | HsmError::VendingKeyLength { .. }
            | HsmError::DkgaFormat => Self::Format,
            HsmError::Codec(e) => Self::of_codec(e).unwrap_or(Self::Range),
            _ => Self::Function,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A category name that is not one of [`Category::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCategory(pub String);

impl fmt::Display for UnknownCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown category {:?} (expected format, crc, function or range)",
            self.0
        )
    }
}

impl std::error::Error for UnknownCategory {}

impl FromStr for Category {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, UnknownCategory> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use token_codec::Field;

    #[test]
    fn codec_errors_map_as_vectors_md_says() {
        assert_eq!(
            Category::of_codec(&CodecError::DigitCount { got: 19 }),
            Some(Category::Format)
        );
        assert_eq!(
            Category::of_codec(&CodecError::ValueTooLarge),
            Some(Category::Format)
        );
        assert_eq!(
            Category::of_codec(&CodecError::CrcMismatch {
                stored: 1,
                computed: 2
            }),
            Some(Category::Crc)
        );
        assert_eq!(
            Category::of_codec(&CodecError::ReservedClass),
            Some(Category::Function)
        );
        assert_eq!(
            Category::of_codec(&CodecError::OutOfRange {
                field: Field::KeyRevision,
                value: 0
            }),
            Some(Category::Range)
        );
        for c in Category::ALL {
            assert_eq!(c.name().parse::<Category>(), Ok(c));
        }
        assert!("used".parse::<Category>().is_err());
    }
}
