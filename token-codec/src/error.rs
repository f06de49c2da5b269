//! The codec's one error type.

use core::fmt;

use crate::ident::EncryptionAlgorithm;

/// A named data element, used by [`CodecError::OutOfRange`] to say which field was wrong.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Token class (2 bits).
    Class,
    /// Token subclass (4 bits).
    Subclass,
    /// Random number nibble.
    Rnd,
    /// Token identifier (24 bits).
    Tid,
    /// Key type.
    KeyType,
    /// Key revision number (1..=9).
    KeyRevision,
    /// Tariff index (00..=99).
    TariffIndex,
    /// Supply group code (000000..=999999).
    SupplyGroupCode,
    /// Half of a supply group code in a 128-bit key change set (12 bits).
    SupplyGroupCodeHalf,
    /// Key expiry number nibble.
    KeyExpiryNibble,
    /// Base date year.
    BaseDate,
    /// Encryption algorithm code.
    EncryptionAlgorithm,
    /// Class 1 test/display control field.
    Control,
    /// Manufacturer code.
    ManufacturerCode,
    /// Raw 44-bit payload of an undefined class 1 subclass.
    Payload,
    /// Currency exponent (5 bits).
    Exponent,
    /// Mantissa (14 bits).
    Mantissa,
    /// Calendar year.
    Year,
    /// Calendar month.
    Month,
    /// Day of month.
    Day,
    /// Hour of day.
    Hour,
    /// Minute of hour.
    Minute,
}

impl Field {
    /// The field's name as the brief writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Field::Class => "class",
            Field::Subclass => "subclass",
            Field::Rnd => "rnd",
            Field::Tid => "tid",
            Field::KeyType => "key type",
            Field::KeyRevision => "key revision number",
            Field::TariffIndex => "tariff index",
            Field::SupplyGroupCode => "supply group code",
            Field::SupplyGroupCodeHalf => "supply group code half",
            Field::KeyExpiryNibble => "key expiry number nibble",
            Field::BaseDate => "base date",
            Field::EncryptionAlgorithm => "encryption algorithm",
            Field::Control => "control",
            Field::ManufacturerCode => "manufacturer code",
            Field::Payload => "payload",
            Field::Exponent => "exponent",
            Field::Mantissa => "mantissa",
            Field::Year => "year",
            Field::Month => "month",
            Field::Day => "day",
            Field::Hour => "hour",
            Field::Minute => "minute",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything that can go wrong building, parsing or decoding a token.
///
/// Variants carry the evidence (counts, stored and computed values), never key material.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodecError {
    /// A character that is neither a digit nor an allowed separator (space, tab, dash).
    InvalidCharacter {
        /// Zero-based character position in the input.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// The input has a digit count other than 20 (separators not counted).
    DigitCount {
        /// Digits found.
        got: usize,
    },
    /// Twenty digits whose value does not fit in 66 bits.
    ValueTooLarge,
    /// Class 3 is reserved: no token function is defined for it.
    ReservedClass,
    /// The CRC recomputed over the decrypted block differs from the stored one.
    CrcMismatch {
        /// CRC field found in block bits 15..0.
        stored: u16,
        /// CRC field computed from class and block bits 63..16.
        computed: u16,
    },
    /// A subclass this implementation does not define.
    UnknownSubclass {
        /// Token class.
        class: u8,
        /// Subclass (0..=15).
        subclass: u8,
    },
    /// A field value outside its domain.
    OutOfRange {
        /// Which field.
        field: Field,
        /// The value found.
        value: u64,
    },
    /// A text field of the wrong length (e.g. a tariff index that is not 2 digits).
    FieldLength {
        /// Which field.
        field: Field,
        /// Characters required.
        expected: usize,
        /// Characters given.
        got: usize,
    },
    /// A transfer amount larger than the 16-bit (or currency) field can carry.
    AmountTooLarge {
        /// Requested base units.
        requested: u128,
        /// Largest encodable base units.
        max: u128,
    },
    /// The instant lies before the base date.
    BeforeBaseDate,
    /// Minutes since the base date exceed the 24-bit TID: a key change to a later base date is needed.
    TidOverflow {
        /// Minutes since the base date.
        minutes: u64,
    },
    /// The TID lies beyond the key's expiry number: `(TID >> 16) > KEN`.
    KeyExpired {
        /// Top 8 bits of the TID.
        tid_high: u8,
        /// Key expiry number of the key.
        ken: u8,
    },
    /// A decoder key of the wrong width for the algorithm.
    KeyLength {
        /// The algorithm asked for.
        algorithm: EncryptionAlgorithm,
        /// Key width it needs, in bits.
        expected_bits: u16,
        /// Key width given, in bits.
        got_bits: u16,
    },
    /// The algorithm was compiled out of this build (cargo feature disabled).
    AlgorithmUnavailable {
        /// The missing algorithm.
        algorithm: EncryptionAlgorithm,
    },
    /// A token that cannot be part of the requested key change set, or a set missing a part.
    KeyChangeSet {
        /// What is wrong with the set.
        reason: KeyChangeSetFault,
    },
}

/// Why a key change set cannot be built.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChangeSetFault {
    /// A 128-bit key needs the supply group code for its 3rd and 4th sections.
    SgcRequiredFor128BitKey,
}

impl fmt::Display for KeyChangeSetFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyChangeSetFault::SgcRequiredFor128BitKey => {
                f.write_str("a 128-bit key change set needs the supply group code")
            }
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CodecError::InvalidCharacter { position, found } => {
                write!(f, "invalid character {found:?} at position {position}")
            }
            CodecError::DigitCount { got } => write!(f, "not 20 digits: got {got}"),
            CodecError::ValueTooLarge => f.write_str("value exceeds 2^66-1"),
            CodecError::ReservedClass => f.write_str("class 3 is reserved: no token function"),
            CodecError::CrcMismatch { stored, computed } => {
                write!(
                    f,
                    "crc mismatch: stored 0x{stored:04X}, computed 0x{computed:04X}"
                )
            }
            CodecError::UnknownSubclass { class, subclass } => {
                write!(f, "unknown subclass {subclass} of class {class}")
            }
            CodecError::OutOfRange { field, value } => {
                write!(f, "{field} out of range: {value}")
            }
            CodecError::FieldLength {
                field,
                expected,
                got,
            } => {
                write!(f, "{field} must be {expected} digits, got {got}")
            }
            CodecError::AmountTooLarge { requested, max } => {
                write!(
                    f,
                    "amount {requested} base units exceeds the largest encodable {max}"
                )
            }
            CodecError::BeforeBaseDate => f.write_str("issue time is before the base date"),
            CodecError::TidOverflow { minutes } => write!(
                f,
                "tid overflow: {minutes} minutes since the base date exceed 2^24-1; \
                 a key change to a later base date is required"
            ),
            CodecError::KeyExpired { tid_high, ken } => {
                write!(
                    f,
                    "key expired: tid high byte {tid_high} > key expiry number {ken}"
                )
            }
            CodecError::KeyLength {
                algorithm,
                expected_bits,
                got_bits,
            } => write!(
                f,
                "{algorithm} needs a {expected_bits}-bit decoder key, got {got_bits} bits"
            ),
            CodecError::AlgorithmUnavailable { algorithm } => {
                write!(f, "{algorithm} is not compiled into this build")
            }
            CodecError::KeyChangeSet { reason } => write!(f, "key change set: {reason}"),
        }
    }
}

impl core::error::Error for CodecError {}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn messages_say_what_was_wrong() {
        let cases = [
            (CodecError::DigitCount { got: 19 }, "not 20 digits: got 19"),
            (CodecError::ValueTooLarge, "value exceeds 2^66-1"),
            (
                CodecError::CrcMismatch {
                    stored: 0x19E6,
                    computed: 0x1A00,
                },
                "crc mismatch: stored 0x19E6, computed 0x1A00",
            ),
            (
                CodecError::UnknownSubclass {
                    class: 2,
                    subclass: 12,
                },
                "unknown subclass 12 of class 2",
            ),
            (
                CodecError::OutOfRange {
                    field: Field::TariffIndex,
                    value: 150,
                },
                "tariff index out of range: 150",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }
}
