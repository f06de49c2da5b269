//! Faults of key ceremonies: components that do not check, do not agree, or do not suffice.
//!
//! A component is named by its index and custodian, and judged by its key check value (KCV),
//! which is made to be shown. Its bytes never appear.

use core::fmt;
use std::error::Error;

use crate::ceremony::{CustodianName, Kcv};
use crate::error::HexFault;

/// Why a ceremony was refused.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CeremonyError {
    /// A custodian name that is empty, too long or holds a character outside the allowed set.
    CustodianName {
        /// What is wrong.
        fault: NameFault,
    },
    /// The same custodian twice: dual control needs distinct people.
    DuplicateCustodian {
        /// The name.
        custodian: CustodianName,
    },
    /// Custodian count and threshold that the scheme cannot use.
    Shape {
        /// Custodians (N).
        custodians: usize,
        /// Components needed to rebuild the key (M; N for XOR).
        threshold: usize,
    },
    /// Fewer components than the threshold.
    Count {
        /// Components given.
        got: usize,
        /// Components needed.
        need: usize,
    },
    /// Two components with the same index.
    DuplicateIndex {
        /// The index.
        index: u8,
    },
    /// A component index outside `1..=N`.
    IndexRange {
        /// The index.
        index: u8,
        /// N.
        custodians: u8,
    },
    /// A component that disagrees with the record or with the first component.
    Mismatch {
        /// Its index.
        index: u8,
        /// Its custodian.
        custodian: CustodianName,
        /// The field that differs.
        field: ComponentField,
    },
    /// A component of the wrong length for its key derivation algorithm.
    ComponentLength {
        /// Its index.
        index: u8,
        /// Its custodian.
        custodian: CustodianName,
        /// Bytes the algorithm's keys have.
        expected: usize,
        /// Bytes given (hex digits / 2).
        got: usize,
    },
    /// A component whose hex text is not valid hex.
    ComponentHex {
        /// Its index.
        index: u8,
        /// Its custodian.
        custodian: CustodianName,
        /// What is wrong with the text (positions only).
        fault: HexFault,
    },
    /// A component whose bytes do not give the KCV written beside them: mistyped, corrupted or
    /// swapped.
    ComponentKcv {
        /// Its index.
        index: u8,
        /// Its custodian.
        custodian: CustodianName,
        /// The KCV in the component file.
        expected: Kcv,
        /// The KCV of the bytes.
        computed: Kcv,
    },
    /// The combined key does not give the key KCV the components carry.
    KeyKcv {
        /// The KCV the components carry.
        expected: Kcv,
        /// The KCV of the combined key.
        computed: Kcv,
    },
    /// A combined DKGA02 key without odd parity in every byte. DES ignores parity bits, so no
    /// KCV can see them, but DKGA02's final XOR uses them: a component with a wrong parity bit
    /// passes every KCV and yields wrong decoder keys. KMC-issued and generated DES keys have
    /// odd parity, so even parity means a damaged component.
    KeyParity,
    /// A component file of a format version this crate does not write.
    ComponentVersion,
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CeremonyError::CustodianName { fault } => write!(f, "custodian name {fault}"),
            CeremonyError::DuplicateCustodian { custodian } => write!(
                f,
                "custodian {custodian} appears twice: each component needs its own custodian"
            ),
            CeremonyError::Shape {
                custodians,
                threshold,
            } => write!(
                f,
                "cannot split among {custodians} custodians with threshold {threshold}: need \
                 2 <= threshold <= custodians <= 255"
            ),
            CeremonyError::Count { got, need } => {
                write!(f, "{got} components given, {need} needed")
            }
            CeremonyError::DuplicateIndex { index } => {
                write!(f, "component {index} given twice")
            }
            CeremonyError::IndexRange { index, custodians } => {
                write!(f, "component index {index} outside 1..={custodians}")
            }
            CeremonyError::Mismatch {
                index,
                custodian,
                field,
            } => write!(
                f,
                "component {index} ({custodian}) has a different {field} than the others"
            ),
            CeremonyError::ComponentLength {
                index,
                custodian,
                expected,
                got,
            } => write!(
                f,
                "component {index} ({custodian}) must be {expected} bytes, got {got}"
            ),
            CeremonyError::ComponentHex {
                index,
                custodian,
                fault,
            } => write!(f, "component {index} ({custodian}): {fault}"),
            CeremonyError::ComponentKcv {
                index,
                custodian,
                expected,
                computed,
            } => write!(
                f,
                "component {index} ({custodian}) fails its key check: file says {expected}, \
                 component gives {computed}"
            ),
            CeremonyError::KeyKcv { expected, computed } => write!(
                f,
                "combined key fails its key check: components say {expected}, key gives \
                 {computed}"
            ),
            CeremonyError::KeyParity => f.write_str(
                "combined dkga02 key lacks odd parity in some byte: a component's parity bit is \
                 wrong (key check values cannot see parity bits, dkga02 uses them)",
            ),
            CeremonyError::ComponentVersion => {
                f.write_str("component file format is not sts-key-component/1")
            }
        }
    }
}

impl Error for CeremonyError {}

/// A field on which components (or a component and the record) must agree.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentField {
    /// The vending key id.
    KeyId,
    /// The key derivation algorithm (and so the key length).
    Dkga,
    /// XOR or Shamir.
    Scheme,
    /// The threshold M.
    Threshold,
    /// The custodian count N.
    Custodians,
    /// The combined key's KCV.
    KeyKcv,
}

impl fmt::Display for ComponentField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentField::KeyId => "vending key id",
            ComponentField::Dkga => "key derivation algorithm",
            ComponentField::Scheme => "split scheme",
            ComponentField::Threshold => "threshold",
            ComponentField::Custodians => "custodian count",
            ComponentField::KeyKcv => "key check value of the key",
        })
    }
}

/// What is wrong with a custodian name.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameFault {
    /// No characters.
    Empty,
    /// More than 64 characters.
    TooLong {
        /// Characters given.
        len: usize,
    },
    /// A character other than a letter, digit, space or `.`, `_`, `-`, `@`.
    Character {
        /// Its position (in characters).
        position: usize,
    },
}

impl fmt::Display for NameFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameFault::Empty => f.write_str("is empty"),
            NameFault::TooLong { len } => write!(f, "has {len} characters, at most 64 allowed"),
            NameFault::Character { position } => write!(
                f,
                "has a character other than a letter, digit, space, '.', '_', '-' or '@' at \
                 position {position}"
            ),
        }
    }
}
