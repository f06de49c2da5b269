//! A sealed development key store holding the public sample keys, each entered the way a real
//! vending key is: split into two custodians' XOR components, then brought back through the
//! audited import ceremony (which checks every component's KCV before combining).
//!
//! TEST ONLY: the keys are public. The store exists so that the vending service's demo runs
//! on the same code path as production key loading.

use std::path::Path;
use std::sync::Arc;

use hsm_core::ceremony::{self, AuditLog, CustodianName, Scheme};
use hsm_core::store::SealedSoftStore;
use hsm_core::{
    EncryptionAlgorithm, HsmError, KeyExpiryNumber, KeyStore, KeyType, Passphrase, VendingKeyId,
    VendingKeyRecord, Window,
};

use crate::sample_keys::{SampleKeyError, SampleVendingKey, sample_vending_keys};

/// What happened to one sample key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleKeyOutcome {
    /// The key's record id, e.g. `sgc123456-krn1-kt2`.
    pub id: VendingKeyId,
    /// Its key check value.
    pub kcv: String,
    /// True if this run imported it; false if the store already held it.
    pub imported: bool,
}

/// Why the sample store could not be built.
#[derive(Debug)]
pub enum SampleStoreError {
    /// The compiled-in sample key file is broken.
    Keys(SampleKeyError),
    /// The store or a ceremony refused.
    Hsm(HsmError),
}

impl std::fmt::Display for SampleStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleStoreError::Keys(e) => e.fmt(f),
            SampleStoreError::Hsm(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SampleStoreError {}

impl From<HsmError> for SampleStoreError {
    fn from(e: HsmError) -> Self {
        SampleStoreError::Hsm(e)
    }
}

/// The record a sample key is stored under: a unique-key (DUTK) vending key for EA07 meters,
/// KEN 255, valid at all times for credit and key change.
pub fn sample_record(key: &SampleVendingKey) -> VendingKeyRecord {
    VendingKeyRecord {
        id: VendingKeyId {
            sgc: key.sgc(),
            krn: key.krn(),
            kt: KeyType::Dutk,
        },
        dkga: key.dkga(),
        ea: EncryptionAlgorithm::Sta,
        base_date: key.base_date(),
        ken: KeyExpiryNumber::NEVER,
        credit_window: Window::ALWAYS,
        key_change_window: Window::ALWAYS,
    }
}

/// Opens the sealed store at `path` (creating it if absent) and imports every sample key it
/// does not hold yet, each by an XOR 2-of-2 import ceremony logged to `audit`. A key already
/// present is checked against its record, never replaced.
pub fn build_sample_store(
    path: &Path,
    passphrase: &Passphrase,
    audit: &Path,
) -> Result<(Arc<SealedSoftStore>, Vec<SampleKeyOutcome>), SampleStoreError> {
    let store = if path.exists() {
        SealedSoftStore::open(path, passphrase)?
    } else {
        SealedSoftStore::create(path, passphrase)?
    };
    let log = AuditLog::new(
        audit,
        "scripts/serve (sample keys)",
        &format!("sealed:{}", path.display()),
    );
    let custodians: Vec<CustodianName> = ["sample-custodian-1", "sample-custodian-2"]
        .iter()
        .map(|n| n.parse())
        .collect::<Result<_, _>>()?;
    let mut outcomes = Vec::new();
    for key in sample_vending_keys().map_err(SampleStoreError::Keys)? {
        let record = sample_record(&key);
        let held = store.records()?.into_iter().find(|r| r.id == record.id);
        let imported = match held {
            Some(r) if r == record => false,
            Some(_) => return Err(HsmError::VendingKeyExists { id: record.id }.into()),
            None => {
                let parts =
                    ceremony::split(&record, &key.vending_key()?, &custodians, Scheme::Xor)?;
                ceremony::import(&store, &record, &parts, &log)?;
                true
            }
        };
        let kcv = store.kcv(&record.id)?.to_string();
        outcomes.push(SampleKeyOutcome {
            id: record.id,
            kcv,
            imported,
        });
    }
    Ok((Arc::new(store), outcomes))
}
