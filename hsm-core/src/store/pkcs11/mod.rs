//! [`Pkcs11Store`]: vending keys as non-extractable objects on a PKCS#11 token (tested against
//! SoftHSM 2.6.1 through cryptoki 0.12), with derivation inside the token.
//!
//! Objects and their attributes: see `objects.rs`. Sessions, login and fault recovery: see
//! `session.rs`. The token is found by label, never by slot number.
//!
//! # What runs inside the token
//!
//! - DKGA04: `CKM_SHA256_HMAC` with the stored key over the DKGA04 message. The 32-byte MAC
//!   leaves the token; the decoder key is its first 8 or 16 bytes
//!   ([`crate::dkga04_finish`]). The MAC reveals nothing about the vending key.
//! - DKGA02: `CKM_DES3_ECB` with the stored key (K‖K‖K, single DES) over the input block I.
//!   The DES output O = DES_VK(I) leaves the token.
//!
//! What leaves is the decoder key (STA, DEA and MISTY1 are not PKCS#11 mechanisms, so the
//! token cannot encrypt STS tokens itself): it exists only in [`DecoderKey`], which
//! zeroizes itself, and every intermediate (O, the MAC, the XOR term) is held in zeroizing
//! buffers and cleared once used.
//!
//! # DKGA02's last step, and why the vending key leaves the token for it
//!
//! DKGA02 is DK = O ⊕ I ⊕ VK: the last XOR needs the vending key itself. Note first that any
//! host that holds DK and O (or DK and VK) knows both, since VK = DK ⊕ O ⊕ I: a split in which
//! the token returns O and the host finishes must hand the host VK's equivalent. Only a token
//! that XORs two of its own secrets and returns DK alone keeps VK inside.
//!
//! What SoftHSM 2.6.1 offers (measured; `pkcs11-tool -M` and trial `C_DeriveKey` calls through
//! cryptoki 0.12): the derive mechanisms `CKM_{DES,DES3,AES}_{ECB,CBC}_ENCRYPT_DATA` (a new key
//! = an encryption under a base key of data the host supplies), `CKM_DH_PKCS_DERIVE` and
//! `CKM_ECDH1_DERIVE`. `CKM_XOR_BASE_AND_DATA`, `CKM_CONCATENATE_BASE_AND_KEY`,
//! `CKM_CONCATENATE_BASE_AND_DATA`, `CKM_CONCATENATE_DATA_AND_BASE` and
//! `CKM_EXTRACT_KEY_FROM_KEY` each fail with `CKR_MECHANISM_INVALID`. No mechanism combines two
//! secrets by XOR, and the only mechanisms that take a key's value as input (wrapping) refuse
//! a non-extractable key (`CKR_KEY_UNEXTRACTABLE`). So no sequence of SoftHSM calls yields DK
//! without VK's equivalent reaching the host; `CKM_XOR_BASE_AND_DATA` (where offered) would
//! not help either, since its data would be O ⊕ I, which the host then holds beside DK.
//!
//! The smallest honest alternative, chosen here: the DES step runs in the token on the
//! non-extractable key object, and the XOR term VK is kept on the token a second time,
//! encrypted (AES-256-GCM, associated data = the key's label) under the store's
//! key-encryption key, itself a non-extractable token key. Each DKGA02 derivation decrypts
//! the term inside the token into a zeroizing buffer, XORs, and drops it. The vending key's own
//! `CKA_VALUE` is never read; at rest VK exists only under the token's protection; in use it is
//! in this process's memory for the length of one XOR (as it must be, see above). Costs one
//! more PKCS#11 call per DKGA02 derivation (measured in `benches/benches/keystore.rs`).
//! Honestly put: once VK is in memory for the XOR, the token's DES step adds no secrecy of its
//! own. It is kept because it gives the derivation the shape of an HSM that can finish DKGA02
//! inside (only the DKGA02 arm in `derive.rs` would change for a token with a vendor mechanism
//! that XORs two keys), and it keeps the vending key object usable for encryption only. DES in
//! software on the unsealed VK would save a call with the same exposure. Rejected: reading VK
//! from a plain data object (readable by any logged-in session without the token's
//! cryptography), and caching VK in memory (resident for the process's life).
//!
//! # Caching and other processes
//!
//! Object handles and records are cached per vending key (records are not secret); the cache
//! is dropped whenever the session pool sees a fault, and an entry whose handle the token no
//! longer knows is looked up again once. A key removed by another process therefore fails
//! with [`HsmError::UnknownVendingKey`] at its next derivation; a record changed by another
//! process (remove, then import under the same id) is seen when the old handle fails. A key
//! that is missing together with the store's key-encryption key is not unknown: the token's
//! objects vanished (its storage went away), a transient [`Pkcs11Error::TokenNotFound`], and
//! the library is reset so the token is read afresh once it is back (see `session.rs`).

mod derive;
mod objects;
mod session;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use cryptoki::error::RvError;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use token_codec::DecoderKey;

use self::objects::Entry;
use self::session::{CallError, Pool, step};
use super::{KeyStore, VendingKeyId, VendingKeyRecord, check_import, check_meter_matches};
use crate::ceremony::Kcv;
use crate::derive::MeterIdentity;
use crate::error::{HsmError, Pkcs11Error, Pkcs11Op};
use crate::passphrase::Pin;
use crate::vending_key::VendingKey;

/// The environment variable naming the PKCS#11 module.
pub const MODULE_ENV: &str = "STS_PKCS11_MODULE";
/// The module used when [`MODULE_ENV`] is unset: Debian's SoftHSM2.
pub const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Where the token is and how many sessions to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// The PKCS#11 module (shared library).
    pub module: PathBuf,
    /// The token's label.
    pub token_label: String,
    /// Sessions kept open (at least 1); about one per worker thread that derives.
    pub sessions: usize,
}

impl Pkcs11Config {
    /// A configuration with 4 sessions.
    pub fn new(module: impl Into<PathBuf>, token_label: &str) -> Self {
        Self {
            module: module.into(),
            token_label: token_label.to_owned(),
            sessions: 4,
        }
    }

    /// The module path from [`MODULE_ENV`], or [`DEFAULT_MODULE`].
    pub fn module_from_env() -> PathBuf {
        std::env::var_os(MODULE_ENV).map_or_else(|| PathBuf::from(DEFAULT_MODULE), PathBuf::from)
    }
}

#[derive(Default)]
struct Cache {
    generation: u64,
    kek: Option<ObjectHandle>,
    entries: HashMap<VendingKeyId, Arc<Entry>>,
}

/// Vending keys on a PKCS#11 token (see the module documentation). `Send + Sync`.
pub struct Pkcs11Store {
    pool: Pool,
    cache: RwLock<Cache>,
    /// Serializes this process's imports and removals (check-then-create on the token).
    admin: Mutex<()>,
    /// Set once the store was found initialized: a key-encryption key missing after that is a
    /// token fault, not an uninitialized store.
    opened: AtomicBool,
}

impl std::fmt::Debug for Pkcs11Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pkcs11Store({:?})", self.pool.label())
    }
}

impl Pkcs11Store {
    /// Initializes a key store on the token: generates the key-encryption key inside it.
    /// Fails with [`Pkcs11Error::AlreadyInitialized`] if the token has one.
    pub fn init(config: &Pkcs11Config, pin: &Pin) -> Result<Self, HsmError> {
        let store = Self::connect(config, pin)?;
        let label = config.token_label.clone();
        store.pool.run_lookup(|s| match objects::find_kek(s)? {
            Some(_) => Err(Pkcs11Error::AlreadyInitialized {
                label: label.clone(),
            }
            .into()),
            None => objects::generate_kek(s).map(|_| ()),
        })?;
        store.opened.store(true, Ordering::Release);
        Ok(store)
    }

    /// Opens the key store on the token labelled `config.token_label`: loads the module
    /// ([`Pkcs11Error::ModuleNotFound`] names a missing path), finds the token, logs in
    /// (a wrong PIN is [`Pkcs11Error::Call`] with `CKR_PIN_INCORRECT`), and checks that the
    /// store was initialized.
    pub fn open(config: &Pkcs11Config, pin: &Pin) -> Result<Self, HsmError> {
        let store = Self::connect(config, pin)?;
        store.kek()?;
        store.opened.store(true, Ordering::Release);
        Ok(store)
    }

    fn connect(config: &Pkcs11Config, pin: &Pin) -> Result<Self, HsmError> {
        Ok(Self {
            pool: Pool::connect(&config.module, &config.token_label, pin, config.sessions)?,
            cache: RwLock::new(Cache::default()),
            admin: Mutex::new(()),
            opened: AtomicBool::new(false),
        })
    }

    /// The token's label.
    pub fn token_label(&self) -> &str {
        self.pool.label()
    }

    /// Reads the cache (a shared lock: derivations on many threads do not wait for each
    /// other); `None` if it is from before the pool's last fault.
    fn cached<T>(&self, f: impl FnOnce(&Cache) -> Option<T>) -> Result<Option<T>, HsmError> {
        let cache = self.cache.read().map_err(|_| HsmError::StorePoisoned)?;
        if cache.generation != self.pool.generation() {
            return Ok(None);
        }
        Ok(f(&cache))
    }

    /// The cache for writing, emptied first if the pool has seen a fault since it was filled.
    fn fresh_cache(&self) -> Result<std::sync::RwLockWriteGuard<'_, Cache>, HsmError> {
        let mut cache = self.cache.write().map_err(|_| HsmError::StorePoisoned)?;
        let generation = self.pool.generation();
        if cache.generation != generation {
            *cache = Cache {
                generation,
                ..Cache::default()
            };
        }
        Ok(cache)
    }

    fn kek(&self) -> Result<ObjectHandle, HsmError> {
        if let Some(kek) = self.cached(|c| c.kek)? {
            return Ok(kek);
        }
        let Some(kek) = self.pool.run_lookup(objects::find_kek)? else {
            return Err(self.kek_missing());
        };
        self.fresh_cache()?.kek = Some(kek);
        Ok(kek)
    }

    /// The key-encryption key cannot be found: the store was never initialized, or (once it
    /// was opened) the token's objects vanished, which SoftHSM2 shows as an empty token when
    /// its files go away. That is a token fault: transient, and the library is reset at the
    /// next call (see `session.rs`).
    fn kek_missing(&self) -> HsmError {
        let label = self.pool.label().to_owned();
        if self.opened.load(Ordering::Acquire) {
            self.pool.token_lost();
            Pkcs11Error::TokenNotFound { label }.into()
        } else {
            Pkcs11Error::NotInitialized { label }.into()
        }
    }

    fn entry(&self, id: &VendingKeyId) -> Result<Arc<Entry>, HsmError> {
        if let Some(entry) = self.cached(|c| c.entries.get(id).cloned())? {
            return Ok(entry);
        }
        let Some(entry) = self.pool.run_lookup(|s| objects::load_entry(s, id))? else {
            // Unknown, unless the store itself has gone (see `kek_missing`).
            return Err(match self.pool.run_lookup(objects::find_kek)? {
                Some(_) => HsmError::UnknownVendingKey { id: *id },
                None => self.kek_missing(),
            });
        };
        let entry = Arc::new(entry);
        self.fresh_cache()?.entries.insert(*id, entry.clone());
        Ok(entry)
    }

    fn evict(&self, id: &VendingKeyId) {
        if let Ok(mut cache) = self.cache.write() {
            cache.entries.remove(id);
        }
    }

    /// Runs `f` with the key's cached entry; if the token no longer knows a cached handle,
    /// looks the key up again once.
    fn with_entry<T>(
        &self,
        id: &VendingKeyId,
        f: impl Fn(&Session, &Entry, ObjectHandle) -> Result<T, CallError>,
    ) -> Result<T, HsmError> {
        let mut retried = false;
        loop {
            let entry = self.entry(id)?;
            let kek = self.kek()?;
            match self.pool.run(|s| f(s, &entry, kek)) {
                Err(HsmError::Pkcs11(Pkcs11Error::Call { rv, .. }))
                    if !retried
                        && matches!(
                            rv,
                            RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid
                        ) =>
                {
                    retried = true;
                    self.evict(id);
                    if let Ok(mut cache) = self.cache.write() {
                        cache.kek = None;
                    }
                }
                other => return other,
            }
        }
    }
}

impl KeyStore for Pkcs11Store {
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError> {
        self.pool.run_lookup(objects::list_records)
    }

    fn record(&self, id: &VendingKeyId) -> Result<VendingKeyRecord, HsmError> {
        self.entry(id).map(|e| e.record)
    }

    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError> {
        self.with_entry(id, |s, entry, kek| {
            check_meter_matches(&entry.record, meter)?;
            derive::derive_on_token(s, entry, kek, meter)
        })
    }

    fn import(&self, record: &VendingKeyRecord, key: VendingKey) -> Result<(), HsmError> {
        check_import(record, &key)?;
        let _admin = self.admin.lock().map_err(|_| HsmError::StorePoisoned)?;
        let kek = self.kek()?;
        let id = record.id;
        self.pool.run_lookup(|s| {
            if !objects::find_labelled(s, &id)?.is_empty() {
                return Err(HsmError::VendingKeyExists { id }.into());
            }
            let handle = objects::create_key(s, &id, &key)?;
            let rest = match &key {
                VendingKey::Dkga02(vk) => objects::seal_xor_term(s, kek, &id, vk).map(Some),
                VendingKey::Dkga04(_) => Ok(None),
            }
            .and_then(|term| objects::create_record(s, record, term));
            if rest.is_err() {
                // No half-imported key: a key object without its record is removed again.
                let _ = s.destroy_object(handle);
            }
            rest.map(|_| ())
        })?;
        self.evict(&id);
        Ok(())
    }

    fn remove(&self, id: &VendingKeyId) -> Result<(), HsmError> {
        let _admin = self.admin.lock().map_err(|_| HsmError::StorePoisoned)?;
        self.evict(id);
        self.pool.run_lookup(|s| {
            let handles = objects::find_labelled(s, id)?;
            if handles.is_empty() {
                return Err(HsmError::UnknownVendingKey { id: *id }.into());
            }
            // Find order puts no object first; destroy all (record and key, or an orphan).
            for handle in handles {
                step(Pkcs11Op::DestroyObject, s.destroy_object(handle))?;
            }
            Ok(())
        })?;
        self.evict(id);
        Ok(())
    }

    fn kcv(&self, id: &VendingKeyId) -> Result<Kcv, HsmError> {
        self.with_entry(id, |s, entry, _| derive::kcv_on_token(s, entry))
    }
}

/// Confirms at compile time that the store can be shared across threads.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Pkcs11Store>();
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn missing_module_is_named() {
        let config = Pkcs11Config::new("/nonexistent/libpkcs11-missing.so", "T");
        let err = Pkcs11Store::open(&config, &Pin::new("1234".into())).unwrap_err();
        assert_eq!(
            err,
            HsmError::Pkcs11(Pkcs11Error::ModuleNotFound {
                path: Path::new("/nonexistent/libpkcs11-missing.so").to_path_buf()
            })
        );
        assert_eq!(
            err.to_string(),
            "pkcs#11 module /nonexistent/libpkcs11-missing.so does not exist"
        );
        assert!(!err.is_transient());
    }
}
