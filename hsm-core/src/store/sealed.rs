//! [`SealedSoftStore`]: vending keys in a file sealed under an operator passphrase, for
//! development and tests. Not an HSM: keys are decrypted into this process's memory (zeroizing
//! types) and derivation runs in software.
//!
//! The file (format in [`mod@format`]) is XChaCha20-Poly1305 under a key Argon2id derives
//! from the passphrase; a key check in the header tells a wrong passphrase from a tampered
//! file. Every
//! mutation rewrites the whole file atomically (temporary file, `fsync`, rename, `fsync` of
//! the directory) before it returns `Ok`, so a crash leaves the old file or the new one.
//!
//! One process writes at a time: before each write the store checks that the file is still
//! the one it last read or wrote, and refuses with [`SealedError::Changed`] otherwise (another
//! process imported or removed a key). A process that only derives does not see keys another
//! process adds until it reopens the store.

pub mod format;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use sha2::{Digest, Sha256};
use token_codec::DecoderKey;

use self::format::{Kdf, KdfCost, SealKeys};
use super::{KeyStore, VendingKeyId, VendingKeyRecord, check_import, check_meter_matches};
use crate::atomic_file::{self, Existing};
use crate::ceremony::Kcv;
use crate::derive::{MeterIdentity, derive_decoder_key};
use crate::error::{FileOp, HsmError, SealedError, io_error};
use crate::passphrase::Passphrase;
use crate::vending_key::VendingKey;

type Entries = BTreeMap<VendingKeyId, (VendingKeyRecord, VendingKey)>;

struct State {
    entries: Entries,
    /// SHA-256 of the file as last read or written, to notice another writer.
    file_digest: [u8; 32],
}

/// Vending keys in a passphrase-sealed file (see the module documentation).
pub struct SealedSoftStore {
    path: PathBuf,
    kdf: Kdf,
    keys: SealKeys,
    state: RwLock<State>,
}

impl std::fmt::Debug for SealedSoftStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedSoftStore({})", self.path.display())
    }
}

impl SealedSoftStore {
    /// Creates a new, empty store file at `path` sealed under `passphrase`, with the default
    /// Argon2id costs ([`KdfCost::DEFAULT`]). Fails with [`SealedError::Exists`] if the file
    /// exists; an empty passphrase is refused.
    pub fn create(path: &Path, passphrase: &Passphrase) -> Result<Self, HsmError> {
        Self::create_with_cost(path, passphrase, KdfCost::DEFAULT)
    }

    /// [`SealedSoftStore::create`] with chosen Argon2id costs (lower costs make tests fast;
    /// the costs are stored in the file).
    pub fn create_with_cost(
        path: &Path,
        passphrase: &Passphrase,
        cost: KdfCost,
    ) -> Result<Self, HsmError> {
        passphrase.check_not_empty()?;
        if path.exists() {
            return Err(SealedError::Exists {
                path: path.to_path_buf(),
            }
            .into());
        }
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| HsmError::Random)?;
        let kdf = Kdf { cost, salt };
        let keys = format::derive_keys(path, passphrase, &kdf)?;
        let body = format::encode_body(path, core::iter::empty())?;
        let bytes = format::seal(path, &keys, &kdf, body)?;
        atomic_file::write(path, &bytes, Existing::Refuse).map_err(|e| match e {
            HsmError::Io {
                kind: std::io::ErrorKind::AlreadyExists,
                ..
            } => SealedError::Exists {
                path: path.to_path_buf(),
            }
            .into(),
            other => other,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            kdf,
            keys,
            state: RwLock::new(State {
                entries: Entries::new(),
                file_digest: Sha256::digest(&bytes).into(),
            }),
        })
    }

    /// Opens the store file at `path` with `passphrase`. A wrong passphrase is
    /// [`SealedError::WrongPassphrase`], altered contents [`SealedError::Tampered`], a file
    /// that is not a store [`SealedError::Format`].
    pub fn open(path: &Path, passphrase: &Passphrase) -> Result<Self, HsmError> {
        passphrase.check_not_empty()?;
        let bytes = fs::read(path).map_err(|e| io_error(FileOp::Read, path, &e))?;
        let format_error = |fault| SealedError::Format {
            path: path.to_path_buf(),
            fault,
        };
        let kdf = format::read_kdf(&bytes).map_err(format_error)?;
        let keys = format::derive_keys(path, passphrase, &kdf)?;
        let body = format::open(path, &keys, &kdf, &bytes)?;
        let mut entries = Entries::new();
        for (record, key) in format::decode_body(&body).map_err(format_error)? {
            if entries.insert(record.id, (record, key)).is_some() {
                return Err(format_error(crate::error::FormatFault::Body).into());
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            kdf,
            keys,
            state: RwLock::new(State {
                entries,
                file_digest: Sha256::digest(&bytes).into(),
            }),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Seals `entries` and writes them over the file, after checking that nobody else wrote
    /// it since. Returns the new file's digest.
    fn persist(&self, state: &State, entries: &Entries) -> Result<[u8; 32], HsmError> {
        let on_disk = fs::read(&self.path).map_err(|e| io_error(FileOp::Read, &self.path, &e))?;
        if <[u8; 32]>::from(Sha256::digest(&on_disk)) != state.file_digest {
            return Err(SealedError::Changed {
                path: self.path.clone(),
            }
            .into());
        }
        let body = format::encode_body(&self.path, entries.values().map(|(r, k)| (r, k)))?;
        let bytes = format::seal(&self.path, &self.keys, &self.kdf, body)?;
        atomic_file::write(&self.path, &bytes, Existing::Replace)?;
        Ok(Sha256::digest(&bytes).into())
    }
}

impl KeyStore for SealedSoftStore {
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError> {
        let state = self.state.read().map_err(|_| HsmError::StorePoisoned)?;
        Ok(state.entries.values().map(|(r, _)| *r).collect())
    }

    fn record(&self, id: &VendingKeyId) -> Result<VendingKeyRecord, HsmError> {
        let state = self.state.read().map_err(|_| HsmError::StorePoisoned)?;
        state
            .entries
            .get(id)
            .map(|(r, _)| *r)
            .ok_or(HsmError::UnknownVendingKey { id: *id })
    }

    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError> {
        let state = self.state.read().map_err(|_| HsmError::StorePoisoned)?;
        let (record, key) = state
            .entries
            .get(id)
            .ok_or(HsmError::UnknownVendingKey { id: *id })?;
        check_meter_matches(record, meter)?;
        derive_decoder_key(key, meter, record.base_date, record.ea)
    }

    fn import(&self, record: &VendingKeyRecord, key: VendingKey) -> Result<(), HsmError> {
        check_import(record, &key)?;
        let mut state = self.state.write().map_err(|_| HsmError::StorePoisoned)?;
        if state.entries.contains_key(&record.id) {
            return Err(HsmError::VendingKeyExists { id: record.id });
        }
        // Write the new set first; only a file that is safely on disk changes the memory.
        let mut entries = std::mem::take(&mut state.entries);
        entries.insert(record.id, (*record, key));
        match self.persist(&state, &entries) {
            Ok(digest) => {
                state.file_digest = digest;
                state.entries = entries;
                Ok(())
            }
            Err(e) => {
                // Dropping the new key zeroizes it.
                entries.remove(&record.id);
                state.entries = entries;
                Err(e)
            }
        }
    }

    fn remove(&self, id: &VendingKeyId) -> Result<(), HsmError> {
        let mut state = self.state.write().map_err(|_| HsmError::StorePoisoned)?;
        let mut entries = std::mem::take(&mut state.entries);
        let Some(removed) = entries.remove(id) else {
            state.entries = entries;
            return Err(HsmError::UnknownVendingKey { id: *id });
        };
        match self.persist(&state, &entries) {
            Ok(digest) => {
                state.file_digest = digest;
                state.entries = entries;
                Ok(())
            }
            Err(e) => {
                entries.insert(*id, removed);
                state.entries = entries;
                Err(e)
            }
        }
    }

    fn kcv(&self, id: &VendingKeyId) -> Result<Kcv, HsmError> {
        let state = self.state.read().map_err(|_| HsmError::StorePoisoned)?;
        let (_, key) = state
            .entries
            .get(id)
            .ok_or(HsmError::UnknownVendingKey { id: *id })?;
        Ok(Kcv::of(key))
    }
}
