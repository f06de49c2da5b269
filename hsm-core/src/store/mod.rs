//! Where vending keys live and what may be asked of them.
//!
//! A [`KeyStore`] holds vending keys with their attributes and answers one question: the
//! decoder key of a meter under one of its keys. Backends: [`MemoryStore`] (process memory,
//! for tests), [`SealedSoftStore`] (a passphrase-sealed file, for development and tests) and
//! [`Pkcs11Store`] (a PKCS#11 token: keys created non-extractable, derivation inside the
//! token). Callers that vend go through [`crate::Issuer`], which checks validity windows and
//! returns token digits, so a vending service never holds a vending key or a decoder key.
//!
//! Vending keys enter a persistent store through a key ceremony ([`crate::ceremony`]).

mod json;
mod location;
mod memory;
pub mod pkcs11;
mod record;
pub mod sealed;

pub use json::parse_minute;
pub use location::{PASSPHRASE_ENV, PIN_ENV, StoreLocation};
pub use memory::MemoryStore;
pub use pkcs11::{Pkcs11Config, Pkcs11Store};
pub use record::{KeyUse, VendingKeyId, VendingKeyRecord, Window};
pub use sealed::SealedSoftStore;

use token_codec::DecoderKey;

use crate::ceremony::Kcv;
use crate::derive::MeterIdentity;
use crate::error::HsmError;
use crate::vending_key::VendingKey;

/// A store of vending keys. Implementations are shared across threads.
pub trait KeyStore: Send + Sync {
    /// Attributes of every vending key held (never key bytes).
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError>;

    /// Attributes of one vending key.
    fn record(&self, id: &VendingKeyId) -> Result<VendingKeyRecord, HsmError> {
        self.records()?
            .into_iter()
            .find(|r| r.id == *id)
            .ok_or(HsmError::UnknownVendingKey { id: *id })
    }

    /// The decoder key of `meter` under vending key `id`, derived with the key's DKGA, base
    /// date and EA. The meter's SGC, KRN and KT must be the key's. Validity windows are the
    /// caller's concern ([`crate::Issuer`] checks them).
    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError>;

    /// Stores a vending key under its record's id; refuses an id already present.
    fn import(&self, record: &VendingKeyRecord, key: VendingKey) -> Result<(), HsmError>;

    /// Removes a vending key.
    fn remove(&self, id: &VendingKeyId) -> Result<(), HsmError>;

    /// The key check value of a stored vending key (see [`Kcv`]), computed where the key
    /// lives: a PKCS#11 store computes it inside the token. Lets custodians confirm which key
    /// a store holds without anyone seeing it. The default answers
    /// [`HsmError::KcvUnavailable`], for stores that cannot tell.
    fn kcv(&self, id: &VendingKeyId) -> Result<Kcv, HsmError> {
        Err(HsmError::KcvUnavailable { id: *id })
    }
}

/// What every store checks before it takes a key: the record is consistent and the key is of
/// the record's DKGA (its length follows from that).
pub(crate) fn check_import(record: &VendingKeyRecord, key: &VendingKey) -> Result<(), HsmError> {
    record.check()?;
    if key.dkga() != record.dkga {
        return Err(HsmError::VendingKeyKind {
            id: record.id,
            record: record.dkga,
            key: key.dkga(),
        });
    }
    Ok(())
}

/// Checks that `meter` belongs to vending key `record` (same SGC, KRN, KT).
pub fn check_meter_matches(
    record: &VendingKeyRecord,
    meter: &MeterIdentity,
) -> Result<(), HsmError> {
    let id = VendingKeyId {
        sgc: meter.sgc(),
        krn: meter.krn(),
        kt: meter.kt(),
    };
    if id == record.id {
        Ok(())
    } else {
        Err(HsmError::MeterKeyMismatch {
            key: record.id,
            meter: id,
        })
    }
}
