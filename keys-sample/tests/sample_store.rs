//! The sealed sample store: built through the import ceremony, reopened without duplicating,
//! and it derives the published decoder keys.

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hsm_core::{KeyRevision, KeyStore, KeyType, MeterIdentity, Passphrase, VendingKeyId};
use keys_sample::sample_store::build_sample_store;

#[test]
fn builds_reopens_and_derives_published_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.sealed");
    let audit = dir.path().join("audit.jsonl");
    let pass = Passphrase::new("test passphrase".to_owned());
    let (store, first) = build_sample_store(&path, &pass, &audit).unwrap();
    assert!(first.len() >= 5 && first.iter().all(|o| o.imported));
    let id = VendingKeyId {
        sgc: "123456".parse().unwrap(),
        krn: KeyRevision::new(1).unwrap(),
        kt: KeyType::Dutk,
    };
    let meter = MeterIdentity::new(
        "600727000000000009".parse().unwrap(),
        id.sgc,
        "01".parse().unwrap(),
        id.krn,
        id.kt,
    );
    let dk = store.derive(&id, &meter).unwrap();
    assert_eq!(
        dk.expose_bytes(),
        [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]
    );
    drop(store);
    let (_, again) = build_sample_store(&path, &pass, &audit).unwrap();
    assert!(again.iter().all(|o| !o.imported));
    let audit_text = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(
        audit_text.lines().count(),
        first.len(),
        "one audited import per key"
    );
    assert!(
        !audit_text.contains("ABABABAB"),
        "no key bytes in the audit log"
    );
    let wrong = Passphrase::new("wrong".to_owned());
    assert!(build_sample_store(&path, &wrong, &audit).is_err());
}
