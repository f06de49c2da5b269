//! Small validated data elements shared by tokens, meters and key derivation.
//!
//! Each type's constructor checks its domain, so a value that exists is valid
//! (SPEC-codec Appendix B, SPEC-crypto §5.1).

use core::fmt;
use core::str::FromStr;

use crate::error::{CodecError, Field};

fn out_of_range(field: Field, value: impl Into<u64>) -> CodecError {
    CodecError::OutOfRange {
        field,
        value: value.into(),
    }
}

/// Parses exactly `N` ASCII decimal digits into a number.
pub(crate) fn parse_fixed_digits<const N: usize>(s: &str, field: Field) -> Result<u32, CodecError> {
    let bytes = s.as_bytes();
    if bytes.len() != N {
        return Err(CodecError::FieldLength {
            field,
            expected: N,
            got: bytes.len(),
        });
    }
    let mut value: u32 = 0;
    for (position, &b) in bytes.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(CodecError::InvalidCharacter {
                position,
                found: char::from(b),
            });
        }
        value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
    }
    Ok(value)
}

/// The 2-bit token class (SPEC-codec §2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TokenClass {
    /// Class 0: credit transfer, encrypted.
    Credit = 0,
    /// Class 1: non-meter-specific engineering tokens, not encrypted.
    Engineering = 1,
    /// Class 2: meter-specific management tokens (and key change), encrypted.
    Management = 2,
    /// Class 3: reserved.
    Reserved = 3,
}

impl TokenClass {
    /// The class from its 2-bit value; only the low 2 bits of `bits` are read.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => TokenClass::Credit,
            1 => TokenClass::Engineering,
            2 => TokenClass::Management,
            _ => TokenClass::Reserved,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

macro_rules! nibble_type {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(u8);

        impl $name {
            /// Builds the value; fails above 15.
            pub const fn new(value: u8) -> Result<Self, CodecError> {
                if value > 0xF {
                    Err(CodecError::OutOfRange { field: $field, value: value as u64 })
                } else {
                    Ok(Self(value))
                }
            }

            /// Builds from the low 4 bits of `bits`, ignoring the rest.
            pub const fn from_low_bits(bits: u64) -> Self {
                Self((bits & 0xF) as u8)
            }

            /// The 4-bit value.
            pub const fn get(self) -> u8 {
                self.0
            }
        }

        impl TryFrom<u8> for $name {
            type Error = CodecError;
            fn try_from(value: u8) -> Result<Self, CodecError> {
                Self::new(value)
            }
        }
    };
}

nibble_type!(
    /// Token subclass, block bits 63..60.
    Subclass,
    Field::Subclass
);
nibble_type!(
    /// The random nibble (RND) that makes otherwise identical tokens differ (SPEC-codec Appendix B).
    Rnd,
    Field::Rnd
);

/// Decoder key type (SPEC-crypto §5.1; brief decision 5: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum KeyType {
    /// Initialisation key put in by the manufacturer; never issued by a vending system.
    Ditk = 0,
    /// Default key: may not receive credit.
    Ddtk = 1,
    /// Unique key, one per meter.
    Dutk = 2,
    /// Common key, shared by a supply group.
    Dctk = 3,
}

impl KeyType {
    /// The key type from its 2-bit value; only the low 2 bits of `bits` are read.
    pub const fn from_bits(bits: u8) -> Self {
        match bits & 3 {
            0 => KeyType::Ditk,
            1 => KeyType::Ddtk,
            2 => KeyType::Dutk,
            _ => KeyType::Dctk,
        }
    }

    /// The 2-bit value.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for KeyType {
    type Error = CodecError;
    fn try_from(value: u8) -> Result<Self, CodecError> {
        if value > 3 {
            return Err(out_of_range(Field::KeyType, value));
        }
        Ok(Self::from_bits(value))
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Ditk => "DITK",
            KeyType::Ddtk => "DDTK",
            KeyType::Dutk => "DUTK",
            KeyType::Dctk => "DCTK",
        })
    }
}

/// Key revision number, one digit 1..=9 (transcription of clause 6.1.8, SPEC-codec Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyRevision(u8);

impl KeyRevision {
    /// Builds the KRN; fails outside 1..=9.
    pub const fn new(value: u8) -> Result<Self, CodecError> {
        if value >= 1 && value <= 9 {
            Ok(Self(value))
        } else {
            Err(CodecError::OutOfRange {
                field: Field::KeyRevision,
                value: value as u64,
            })
        }
    }

    /// The digit.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for KeyRevision {
    type Error = CodecError;
    fn try_from(value: u8) -> Result<Self, CodecError> {
        Self::new(value)
    }
}

impl fmt::Display for KeyRevision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Tariff index, two decimal digits 00..=99 (SPEC-codec Appendix B).
///
/// It is written as BCD in the DKGA02 control block but as plain binary in the 2/4 key change
/// token (SPEC-crypto §5.3); [`TariffIndex::get`] is the number, callers choose the encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TariffIndex(u8);

impl TariffIndex {
    /// Builds the TI; fails above 99.
    pub const fn new(value: u8) -> Result<Self, CodecError> {
        if value <= 99 {
            Ok(Self(value))
        } else {
            Err(CodecError::OutOfRange {
                field: Field::TariffIndex,
                value: value as u64,
            })
        }
    }

    /// The number 0..=99.
    pub const fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for TariffIndex {
    type Error = CodecError;
    fn try_from(value: u8) -> Result<Self, CodecError> {
        Self::new(value)
    }
}

impl FromStr for TariffIndex {
    type Err = CodecError;
    /// Exactly two decimal digits, e.g. `"01"`.
    fn from_str(s: &str) -> Result<Self, CodecError> {
        let v = parse_fixed_digits::<2>(s, Field::TariffIndex)?;
        // Two digits are at most 99, so the conversion cannot fail.
        Self::new(u8::try_from(v).map_err(|_| out_of_range(Field::TariffIndex, v))?)
    }
}

impl fmt::Display for TariffIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

/// Supply group code, six decimal digits (SPEC-codec Appendix B); carried as a 24-bit binary
/// number in key change tokens (SPEC-crypto §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SupplyGroupCode(u32);

impl SupplyGroupCode {
    /// Largest six-digit code.
    pub const MAX: u32 = 999_999;

    /// Builds the SGC; fails above 999999.
    pub const fn new(value: u32) -> Result<Self, CodecError> {
        if value <= Self::MAX {
            Ok(Self(value))
        } else {
            Err(CodecError::OutOfRange {
                field: Field::SupplyGroupCode,
                value: value as u64,
            })
        }
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for SupplyGroupCode {
    type Error = CodecError;
    fn try_from(value: u32) -> Result<Self, CodecError> {
        Self::new(value)
    }
}

impl FromStr for SupplyGroupCode {
    type Err = CodecError;
    /// Exactly six decimal digits, e.g. `"123456"`.
    fn from_str(s: &str) -> Result<Self, CodecError> {
        Self::new(parse_fixed_digits::<6>(s, Field::SupplyGroupCode)?)
    }
}

impl fmt::Display for SupplyGroupCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// Key expiry number (SPEC-codec §5.3): the key may not be used for a TID whose top 8 bits exceed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyExpiryNumber(u8);

impl KeyExpiryNumber {
    /// KEN 255: never expires within its base date.
    pub const NEVER: Self = Self(255);

    /// Wraps the 8-bit value (every value is valid).
    pub const fn new(value: u8) -> Self {
        Self(value)
    }

    /// Joins KENHO (2/3 token) and KENLO (2/4 token).
    pub const fn from_nibbles(high: KenNibble, low: KenNibble) -> Self {
        Self((high.get() << 4) | low.get())
    }

    /// The 8-bit value.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// KENHO, carried in the 1st key change token.
    pub const fn high(self) -> KenNibble {
        KenNibble::from_low_bits((self.0 >> 4) as u64)
    }

    /// KENLO, carried in the 2nd key change token.
    pub const fn low(self) -> KenNibble {
        KenNibble::from_low_bits(self.0 as u64)
    }
}

nibble_type!(
    /// One half of a key expiry number (KENHO or KENLO).
    KenNibble,
    Field::KeyExpiryNibble
);

/// Encryption algorithm code (SPEC-codec Appendix B).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EncryptionAlgorithm {
    /// EA07: the Standard Transfer Algorithm.
    Sta = 7,
    /// EA09: single DES; withdrawn for new products by the 2018 edition, kept for legacy meters.
    Dea = 9,
    /// EA11: MISTY1 (RFC 2994), 128-bit key.
    Misty1 = 11,
}

/// Width of a decoder key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyWidth {
    /// 64-bit key (STA, DEA): key change sets of 2 or 3 tokens.
    Bits64,
    /// 128-bit key (MISTY1): key change sets of 4 tokens.
    Bits128,
}

impl KeyWidth {
    /// Width in bits.
    pub const fn bits(self) -> u16 {
        match self {
            KeyWidth::Bits64 => 64,
            KeyWidth::Bits128 => 128,
        }
    }
}

impl EncryptionAlgorithm {
    /// Every algorithm, in code order.
    pub const ALL: [Self; 3] = [Self::Sta, Self::Dea, Self::Misty1];

    /// The numeric code (7, 9, 11).
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The algorithm from its numeric code.
    pub const fn from_code(code: u8) -> Result<Self, CodecError> {
        match code {
            7 => Ok(Self::Sta),
            9 => Ok(Self::Dea),
            11 => Ok(Self::Misty1),
            _ => Err(CodecError::OutOfRange {
                field: Field::EncryptionAlgorithm,
                value: code as u64,
            }),
        }
    }

    /// Decoder key width the algorithm needs.
    pub const fn key_width(self) -> KeyWidth {
        match self {
            Self::Sta | Self::Dea => KeyWidth::Bits64,
            Self::Misty1 => KeyWidth::Bits128,
        }
    }
}

impl FromStr for EncryptionAlgorithm {
    type Err = CodecError;
    /// Two digits as vectors and key records write them: `"07"`, `"09"`, `"11"`.
    fn from_str(s: &str) -> Result<Self, CodecError> {
        let code = parse_fixed_digits::<2>(s, Field::EncryptionAlgorithm)?;
        Self::from_code(
            u8::try_from(code).map_err(|_| out_of_range(Field::EncryptionAlgorithm, code))?,
        )
    }
}

impl fmt::Display for EncryptionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Sta => "STA",
            Self::Dea => "DEA",
            Self::Misty1 => "MISTY1",
        };
        write!(f, "EA{:02} ({name})", self.code())
    }
}

/// TID base date (SPEC-codec §5.1): 00:00 UTC on 1 January of 1993, 2014 or 2035.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaseDate {
    /// 1993-01-01, the original base date (its TIDs ran out on 2024-11-24 20:15 UTC).
    Y1993,
    /// 2014-01-01, the base date meters moved to at the 2024 TID rollover.
    Y2014,
    /// 2035-01-01, the next base date.
    Y2035,
}

impl BaseDate {
    /// Every base date, oldest first.
    pub const ALL: [Self; 3] = [Self::Y1993, Self::Y2014, Self::Y2035];

    /// The calendar year.
    pub const fn year(self) -> u16 {
        match self {
            Self::Y1993 => 1993,
            Self::Y2014 => 2014,
            Self::Y2035 => 2035,
        }
    }

    /// The base date for a year; fails for any other year.
    pub const fn from_year(year: u16) -> Result<Self, CodecError> {
        match year {
            1993 => Ok(Self::Y1993),
            2014 => Ok(Self::Y2014),
            2035 => Ok(Self::Y2035),
            _ => Err(CodecError::OutOfRange {
                field: Field::BaseDate,
                value: year as u64,
            }),
        }
    }

    /// The two-digit code DKGA04 puts in its message: `"93"`, `"14"`, `"35"` (SPEC-crypto §5.7).
    pub const fn code(self) -> &'static str {
        match self {
            Self::Y1993 => "93",
            Self::Y2014 => "14",
            Self::Y2035 => "35",
        }
    }

    /// The base date after this one, the target of a rollover key change.
    pub const fn next(self) -> Option<Self> {
        match self {
            Self::Y1993 => Some(Self::Y2014),
            Self::Y2014 => Some(Self::Y2035),
            Self::Y2035 => None,
        }
    }
}

impl fmt::Display for BaseDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_enforced() {
        assert!(KeyRevision::new(0).is_err());
        assert!(KeyRevision::new(10).is_err());
        assert_eq!(KeyRevision::new(9).unwrap().get(), 9);
        assert!(TariffIndex::new(100).is_err());
        assert!(SupplyGroupCode::new(1_000_000).is_err());
        assert!(Subclass::new(16).is_err());
        assert!(KeyType::try_from(4).is_err());
    }

    #[test]
    fn text_forms_round_trip() {
        let ti: TariffIndex = "01".parse().unwrap();
        assert_eq!(ti.get(), 1);
        assert!("1".parse::<TariffIndex>().is_err());
        assert!("0x".parse::<TariffIndex>().is_err());
        let sgc: SupplyGroupCode = "012345".parse().unwrap();
        assert_eq!(sgc.get(), 12345);
        extern crate std;
        use std::string::ToString;
        assert_eq!(sgc.to_string(), "012345");
        assert_eq!(
            "11".parse::<EncryptionAlgorithm>().unwrap(),
            EncryptionAlgorithm::Misty1
        );
        assert!("08".parse::<EncryptionAlgorithm>().is_err());
    }

    #[test]
    fn ken_splits_into_nibbles() {
        let ken = KeyExpiryNumber::new(0xA5);
        assert_eq!(ken.high().get(), 0xA);
        assert_eq!(ken.low().get(), 0x5);
        assert_eq!(KeyExpiryNumber::from_nibbles(ken.high(), ken.low()), ken);
    }
}
