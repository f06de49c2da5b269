//! A key store in process memory: for tests and for tools that load keys for one run.
//! Keys are zeroized when removed or when the store is dropped; nothing is persisted.

use std::collections::BTreeMap;
use std::sync::RwLock;

use token_codec::DecoderKey;

use super::{KeyStore, VendingKeyId, VendingKeyRecord, check_import, check_meter_matches};
use crate::ceremony::Kcv;
use crate::derive::{MeterIdentity, derive_decoder_key};
use crate::error::HsmError;
use crate::vending_key::VendingKey;

/// Vending keys held in memory.
#[derive(Default)]
pub struct MemoryStore {
    keys: RwLock<BTreeMap<VendingKeyId, (VendingKeyRecord, VendingKey)>>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore(<redacted>)")
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KeyStore for MemoryStore {
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError> {
        let keys = self.keys.read().map_err(|_| HsmError::StorePoisoned)?;
        Ok(keys.values().map(|(r, _)| *r).collect())
    }

    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError> {
        let keys = self.keys.read().map_err(|_| HsmError::StorePoisoned)?;
        let (record, key) = keys
            .get(id)
            .ok_or(HsmError::UnknownVendingKey { id: *id })?;
        check_meter_matches(record, meter)?;
        derive_decoder_key(key, meter, record.base_date, record.ea)
    }

    fn import(&self, record: &VendingKeyRecord, key: VendingKey) -> Result<(), HsmError> {
        check_import(record, &key)?;
        let mut keys = self.keys.write().map_err(|_| HsmError::StorePoisoned)?;
        if keys.contains_key(&record.id) {
            return Err(HsmError::VendingKeyExists { id: record.id });
        }
        keys.insert(record.id, (*record, key));
        Ok(())
    }

    fn remove(&self, id: &VendingKeyId) -> Result<(), HsmError> {
        let mut keys = self.keys.write().map_err(|_| HsmError::StorePoisoned)?;
        // Dropping the VendingKey zeroizes it.
        keys.remove(id)
            .map(|_| ())
            .ok_or(HsmError::UnknownVendingKey { id: *id })
    }

    fn kcv(&self, id: &VendingKeyId) -> Result<Kcv, HsmError> {
        let keys = self.keys.read().map_err(|_| HsmError::StorePoisoned)?;
        let (_, key) = keys
            .get(id)
            .ok_or(HsmError::UnknownVendingKey { id: *id })?;
        Ok(Kcv::of(key))
    }
}
