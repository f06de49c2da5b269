//! `SealedSoftStore`: the public decoder-key vectors through a sealed file, persistence, and
//! the precise refusals (wrong passphrase, tampering, another writer, an existing file).
//!
//! Vectors: `keys-sample/vectors/*.jsonl` (NectarAPI STS 531-1-0 compliance sets and the
//! STSCompliancePOS list, SPEC-crypto §7).

// The whole file is a test: its helpers fail the test by panicking, as assertions do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::fs;
use std::path::Path;

use hsm_core::error::FormatFault;
use hsm_core::{
    Dkga, HsmError, KdfCost, KeyStore, Passphrase, SealedError, SealedSoftStore, VendingKey,
};

/// Cheap Argon2 costs: these tests are about the file, not the KDF's strength.
const FAST: KdfCost = KdfCost {
    memory_kib: 64,
    iterations: 1,
    lanes: 1,
};

fn pass() -> Passphrase {
    Passphrase::new("correct horse battery staple".to_owned())
}

fn created(dir: &Path) -> (std::path::PathBuf, SealedSoftStore) {
    let path = dir.join("keys.sealed");
    let store = SealedSoftStore::create_with_cost(&path, &pass(), FAST).unwrap();
    (path, store)
}

#[test]
fn sealed_public_vectors_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let (path, store) = created(dir.path());
    let passed = support::replay_vectors(&store);
    eprintln!("{passed} decoder_key vectors passed through the sealed store");
    let records = store.records().unwrap();
    drop(store);
    let reopened = SealedSoftStore::open(&path, &pass()).unwrap();
    assert_eq!(reopened.records().unwrap(), records);
    assert_eq!(support::replay_vectors(&reopened), passed);
    // No temporary file is left beside the store, and only the owner can read it.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["keys.sealed"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // The key's bytes are nowhere in the file.
    let bytes = fs::read(&path).unwrap();
    assert!(!bytes.windows(4).any(|w| w == [0xAB; 4]));
}

#[test]
fn default_costs_create_and_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("default.sealed");
    SealedSoftStore::create(&path, &pass()).unwrap();
    let store = SealedSoftStore::open(&path, &pass()).unwrap();
    assert!(store.records().unwrap().is_empty());
    assert_eq!(
        format!("{store:?}"),
        format!("SealedSoftStore({})", path.display())
    );
}

#[test]
fn wrong_passphrase_and_tampering_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (path, store) = created(dir.path());
    support::replay_vectors(&store);
    drop(store);
    let err = SealedSoftStore::open(&path, &Passphrase::new("wrong".into())).unwrap_err();
    assert_eq!(
        err,
        HsmError::Sealed(SealedError::WrongPassphrase { path: path.clone() })
    );
    assert!(
        err.to_string()
            .starts_with("wrong passphrase for key store")
    );

    let good = fs::read(&path).unwrap();
    let flip = |at: usize| {
        let mut bytes = good.clone();
        bytes[at] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        SealedSoftStore::open(&path, &pass()).unwrap_err()
    };
    let tampered = HsmError::Sealed(SealedError::Tampered { path: path.clone() });
    // Ciphertext, tag, and the nonce (bound as associated data): tampered.
    assert_eq!(flip(good.len() - 1), tampered);
    assert_eq!(flip(120), tampered);
    assert_eq!(flip(40), tampered);
    // The salt changes the derived key: indistinguishable from a wrong passphrase.
    assert_eq!(
        flip(25),
        HsmError::Sealed(SealedError::WrongPassphrase { path: path.clone() })
    );
    // Structure.
    assert_eq!(
        flip(0),
        HsmError::Sealed(SealedError::Format {
            path: path.clone(),
            fault: FormatFault::Magic
        })
    );
    fs::write(&path, &good[..50]).unwrap();
    assert_eq!(
        SealedSoftStore::open(&path, &pass()).unwrap_err(),
        HsmError::Sealed(SealedError::Format {
            path: path.clone(),
            fault: FormatFault::Truncated { len: 50 }
        })
    );
    let mut huge = good.clone();
    huge[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
    fs::write(&path, &huge).unwrap();
    assert_eq!(
        SealedSoftStore::open(&path, &pass()).unwrap_err(),
        HsmError::Sealed(SealedError::Format {
            path: path.clone(),
            fault: FormatFault::KdfCost
        })
    );
    fs::write(&path, &good).unwrap();
    SealedSoftStore::open(&path, &pass()).unwrap();
}

#[test]
fn create_refuses_an_existing_file_and_empty_passphrases() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _store) = created(dir.path());
    let err = SealedSoftStore::create(&path, &pass()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("key store {} already exists", path.display())
    );
    let err = SealedSoftStore::create(&dir.path().join("x"), &Passphrase::new(String::new()))
        .unwrap_err();
    assert_eq!(err.to_string(), "passphrase is empty");
    let err = SealedSoftStore::open(&dir.path().join("missing"), &pass()).unwrap_err();
    assert!(
        matches!(
            err,
            HsmError::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn another_writer_is_noticed_and_mutations_persist() {
    let dir = tempfile::tempdir().unwrap();
    let (path, first) = created(dir.path());
    let second = SealedSoftStore::open(&path, &pass()).unwrap();
    let case = &support::decoder_key_cases()[0];
    let key = || VendingKey::from_hex(case.record.dkga, &case.vending_key).unwrap();
    first.import(&case.record, key()).unwrap();
    // `second` read the file before `first` wrote: it must not overwrite that write.
    let err = second.import(&case.record, key()).unwrap_err();
    assert_eq!(
        err,
        HsmError::Sealed(SealedError::Changed { path: path.clone() })
    );
    assert!(
        second.records().unwrap().is_empty(),
        "a refused write changes nothing"
    );
    assert_eq!(
        first.import(&case.record, key()).unwrap_err(),
        HsmError::VendingKeyExists { id: case.record.id }
    );
    first.remove(&case.record.id).unwrap();
    assert_eq!(
        first.derive(&case.record.id, &case.meter).unwrap_err(),
        HsmError::UnknownVendingKey { id: case.record.id }
    );
    let reopened = SealedSoftStore::open(&path, &pass()).unwrap();
    assert!(reopened.records().unwrap().is_empty());
    let wrong_kind = VendingKey::from_hex(Dkga::Dkga04, "ABABABABABABABAB949494949494949401234567");
    let err = reopened
        .import(&case.record, wrong_kind.unwrap())
        .unwrap_err();
    assert!(matches!(err, HsmError::VendingKeyKind { .. }), "{err:?}");
}
