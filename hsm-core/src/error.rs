//! The crate's one error type, [`HsmError`], and the smaller enums it carries.
//!
//! Variants name the fault and carry the evidence (lengths, positions, expected and found check
//! digits), never key material: a vending key's text or bytes never appear in an error.
//!
//! Wrapped errors ([`HsmError::Codec`], [`HsmError::MeterPan`], and one enum per layer below
//! the store: [`HsmError::Sealed`], [`HsmError::Pkcs11`], [`HsmError::Ceremony`]) are
//! transparent: `Display` prints the inner message and `source()` forwards to the inner error's
//! source, so an error reporter that walks the chain prints each message once (the rustls
//! habit).
//!
//! [`HsmError::is_transient`] sorts out the faults worth retrying (a token pulled or reset, a
//! dead session): a service answers those with "try again later".

mod ceremony;
mod file;
mod pan;
mod pkcs11;
mod sealed;

use core::fmt;
use std::error::Error;
use std::io;
use std::path::PathBuf;

use token_codec::{BaseDate, CodecError, EncryptionAlgorithm, UtcMinute};

use crate::derive::Dkga;
use crate::store::{KeyUse, VendingKeyId};

pub use ceremony::{CeremonyError, ComponentField, NameFault};
pub use file::{FileOp, JsonCategory, JsonDoc};
pub(crate) use file::{io_error, json_error};
pub use pan::PanError;
pub(crate) use pkcs11::is_session_fault;
pub use pkcs11::{ObjectFault, Pkcs11Error, Pkcs11Function, Pkcs11Op};
pub use sealed::{FormatFault, SealedError};

/// Everything that can go wrong in this crate.
///
/// Grows by layer: identities and derivation, then key stores (sealed file, PKCS#11) and
/// ceremonies, each with its own nested enum. Not `Copy`: some variants carry paths and names.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HsmError {
    /// A codec data element (supply group code, tariff index, key revision…) was invalid.
    Codec(CodecError),
    /// A meter PAN or decoder reference number failed to parse.
    MeterPan(PanError),
    /// A vending key of the wrong length for its key derivation algorithm.
    VendingKeyLength {
        /// The algorithm the key is for.
        dkga: Dkga,
        /// Bytes the algorithm needs.
        expected: usize,
        /// Bytes given (for hex text: digits / 2).
        got: usize,
    },
    /// Secret text (a key in hex) that is not valid hex. The text itself is never echoed.
    SecretHex {
        /// Which secret.
        field: SecretField,
        /// What is wrong with it.
        fault: HexFault,
    },
    /// A key derivation algorithm code this crate does not implement (DKGA01, DKGA03, or none).
    UnsupportedDkga {
        /// The two-digit code asked for.
        code: u8,
    },
    /// A key derivation algorithm given in a form other than two decimal digits.
    DkgaFormat,
    /// The key derivation algorithm cannot yield a key as wide as the encryption algorithm needs.
    KeyWidth {
        /// The key derivation algorithm.
        dkga: Dkga,
        /// The encryption algorithm that needs the key.
        algorithm: EncryptionAlgorithm,
    },
    /// DKGA04 for a common key (key type 3, DCTK): the brief does not say which meter PAN its
    /// message carries, so no key is derived rather than an unverified one.
    Dkga04CommonKey,
    /// No vending key with this id in the store (never imported, or removed).
    UnknownVendingKey {
        /// The id asked for.
        id: VendingKeyId,
    },
    /// A vending key with this id is already in the store.
    VendingKeyExists {
        /// The id.
        id: VendingKeyId,
    },
    /// Key bytes of one DKGA offered for a record of another.
    VendingKeyKind {
        /// The record's id.
        id: VendingKeyId,
        /// The record's DKGA.
        record: Dkga,
        /// The key's DKGA.
        key: Dkga,
    },
    /// A meter whose SGC, KRN or KT is not the vending key's.
    MeterKeyMismatch {
        /// The vending key.
        key: VendingKeyId,
        /// The meter's SGC, KRN and KT.
        meter: VendingKeyId,
    },
    /// The vending key may not be used for this at this time.
    OutsideWindow {
        /// The vending key.
        id: VendingKeyId,
        /// What it was asked for.
        use_: KeyUse,
        /// When.
        at: UtcMinute,
    },
    /// A thread panicked while holding the store's lock; the store refuses further use.
    StorePoisoned,
    /// A key change between keys of different encryption algorithms: no token carries the
    /// algorithm, so a meter cannot change it.
    AlgorithmChange {
        /// The current key's algorithm.
        from: EncryptionAlgorithm,
        /// The new key's algorithm.
        to: EncryptionAlgorithm,
    },
    /// A key change to a base date other than the current one or the next.
    BaseDateJump {
        /// The current key's base date.
        from: BaseDate,
        /// The new key's base date.
        to: BaseDate,
    },
    /// The sealed development store failed.
    Sealed(SealedError),
    /// A PKCS#11 module, token or call failed.
    Pkcs11(Pkcs11Error),
    /// A key ceremony was refused.
    Ceremony(CeremonyError),
    /// A file operation failed (store file, component file, audit log).
    Io {
        /// The operation.
        op: FileOp,
        /// The file.
        path: PathBuf,
        /// The OS error's kind.
        kind: io::ErrorKind,
    },
    /// JSON that does not parse as the document expected (position and category only).
    Json {
        /// The document.
        doc: JsonDoc,
        /// Line (from 1).
        line: usize,
        /// Column (from 1).
        column: usize,
        /// What kind of fault.
        category: JsonCategory,
    },
    /// A vending key id not of the form `sgc123456-krn1-kt2`.
    KeyIdFormat,
    /// A store location not of the form `sealed:PATH` or `pkcs11:MODULE:TOKEN_LABEL`.
    StoreLocationFormat,
    /// A time not of the form `2024-11-23T00:00Z` (UTC, to the minute), or not a real date.
    TimeFormat,
    /// A validity window whose start is not before its end.
    WindowOrder {
        /// The window's use.
        use_: KeyUse,
    },
    /// An operator secret expected in an environment variable that is unset or not UTF-8.
    SecretEnv {
        /// The variable's name.
        var: String,
    },
    /// An empty passphrase or PIN.
    EmptySecret {
        /// Which secret.
        field: SecretField,
    },
    /// The operating system's random generator failed.
    Random,
    /// The store cannot compute a key check value for its keys.
    KcvUnavailable {
        /// The key asked about.
        id: VendingKeyId,
    },
}

impl HsmError {
    /// True if the same request may succeed later without anyone changing anything: the HSM
    /// was unplugged, reset or busy, or a session died. A vending service answers these with
    /// 503 and a retry hint; every other error is the request's or the configuration's fault.
    pub fn is_transient(&self) -> bool {
        match self {
            HsmError::Pkcs11(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl fmt::Display for HsmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HsmError::Codec(e) => fmt::Display::fmt(&e, f),
            HsmError::MeterPan(e) => fmt::Display::fmt(&e, f),
            HsmError::Sealed(ref e) => fmt::Display::fmt(e, f),
            HsmError::Pkcs11(ref e) => fmt::Display::fmt(e, f),
            HsmError::Ceremony(ref e) => fmt::Display::fmt(e, f),
            HsmError::Io { op, ref path, kind } => {
                write!(f, "cannot {op} {}: {kind}", path.display())
            }
            HsmError::Json {
                doc,
                line,
                column,
                category,
            } => write!(f, "{doc} json, line {line} column {column}: {category}"),
            HsmError::KeyIdFormat => {
                f.write_str("vending key id must look like sgc123456-krn1-kt2")
            }
            HsmError::StoreLocationFormat => {
                f.write_str("key store must be sealed:PATH or pkcs11:MODULE:TOKEN_LABEL")
            }
            HsmError::TimeFormat => {
                f.write_str("time must be a real UTC minute written like 2024-11-23T00:00Z")
            }
            HsmError::WindowOrder { use_ } => {
                write!(f, "{use_} window must start before it ends")
            }
            HsmError::SecretEnv { ref var } => {
                write!(f, "environment variable {var} is not set or not UTF-8")
            }
            HsmError::EmptySecret { field } => write!(f, "{field} is empty"),
            HsmError::Random => f.write_str("the operating system's random generator failed"),
            HsmError::KcvUnavailable { id } => {
                write!(f, "this store cannot compute a key check value for {id}")
            }
            HsmError::VendingKeyLength {
                dkga,
                expected,
                got,
            } => {
                write!(
                    f,
                    "vending key must be {expected} bytes for {dkga}, got {got}"
                )
            }
            HsmError::SecretHex { field, fault } => write!(f, "{field}: {fault}"),
            HsmError::UnsupportedDkga { code } => match code {
                1 => f.write_str(
                    "key derivation DKGA01 is not supported: legacy algorithm restricted to \
                     listed DRN ranges and supply groups, no public vector",
                ),
                3 => f.write_str(
                    "key derivation DKGA03 is not supported: withdrawn in the 2018 edition",
                ),
                _ => write!(
                    f,
                    "key derivation DKGA{code:02} is not defined (supported: DKGA02, DKGA04)"
                ),
            },
            HsmError::DkgaFormat => {
                f.write_str("key derivation algorithm must be two digits, e.g. \"02\"")
            }
            HsmError::KeyWidth { dkga, algorithm } => write!(
                f,
                "key derivation {dkga} yields 64-bit keys only; {algorithm} needs a {}-bit key",
                algorithm.key_width().bits()
            ),
            HsmError::Dkga04CommonKey => f.write_str(
                "key derivation DKGA04 for a common key (DCTK, key type 3) is not supported: \
                 the meter pan its message carries is not established",
            ),
            HsmError::UnknownVendingKey { id } => write!(f, "no vending key {id} in the store"),
            HsmError::VendingKeyExists { id } => {
                write!(f, "vending key {id} is already in the store")
            }
            HsmError::VendingKeyKind { id, record, key } => write!(
                f,
                "vending key {id} is recorded for {record} but the key given is for {key}"
            ),
            HsmError::MeterKeyMismatch { key, meter } => {
                write!(f, "meter ({meter}) does not belong to vending key {key}")
            }
            HsmError::OutsideWindow { id, use_, at } => {
                write!(f, "vending key {id} is not valid for {use_} at {at}")
            }
            HsmError::AlgorithmChange { from, to } => write!(
                f,
                "a key change cannot move a meter from {from} to {to}: no token carries the \
                 encryption algorithm"
            ),
            HsmError::BaseDateJump { from, to } => write!(
                f,
                "a key change can move a meter from base date {from} only to the next base date, \
                 not {to}"
            ),
            HsmError::StorePoisoned => {
                f.write_str("key store unusable: a thread panicked while holding it")
            }
        }
    }
}

impl Error for HsmError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        // Transparent wrappers: the inner message is already in our `Display`.
        match self {
            HsmError::Codec(e) => e.source(),
            HsmError::MeterPan(e) => e.source(),
            HsmError::Sealed(e) => e.source(),
            HsmError::Pkcs11(e) => e.source(),
            HsmError::Ceremony(e) => e.source(),
            _ => None,
        }
    }
}

impl From<CodecError> for HsmError {
    fn from(e: CodecError) -> Self {
        HsmError::Codec(e)
    }
}

impl From<PanError> for HsmError {
    fn from(e: PanError) -> Self {
        HsmError::MeterPan(e)
    }
}

impl From<SealedError> for HsmError {
    fn from(e: SealedError) -> Self {
        HsmError::Sealed(e)
    }
}

impl From<Pkcs11Error> for HsmError {
    fn from(e: Pkcs11Error) -> Self {
        HsmError::Pkcs11(e)
    }
}

impl From<CeremonyError> for HsmError {
    fn from(e: CeremonyError) -> Self {
        HsmError::Ceremony(e)
    }
}

/// A secret that can arrive as text, named in errors instead of its value.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretField {
    /// A vending key (VUDK, VCDK, VDDK).
    VendingKey,
    /// A sealed store's passphrase.
    Passphrase,
    /// A PKCS#11 user PIN.
    Pin,
}

impl fmt::Display for SecretField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretField::VendingKey => "vending key",
            SecretField::Passphrase => "passphrase",
            SecretField::Pin => "pin",
        })
    }
}

/// What is wrong with hex text. Carries positions and counts only, never characters.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HexFault {
    /// An odd number of hex digits: the text cannot be whole bytes.
    OddDigits {
        /// Characters given.
        digits: usize,
    },
    /// A character that is not a hex digit (`0-9`, `a-f`, `A-F`).
    NotHex {
        /// Byte position of the character.
        position: usize,
    },
}

impl fmt::Display for HexFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            HexFault::OddDigits { digits } => write!(f, "odd number of hex digits ({digits})"),
            HexFault::NotHex { position } => {
                write!(f, "character at position {position} is not a hex digit")
            }
        }
    }
}

#[cfg(test)]
mod tests;
