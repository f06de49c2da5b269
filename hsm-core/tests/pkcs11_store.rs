//! `Pkcs11Store` against a real SoftHSM2 token, created by each test in a temporary
//! `SOFTHSM2_CONF` (see `support::in_softhsm`): the public vectors, non-extractability, and
//! ceremonies. Module: `STS_PKCS11_MODULE`, default `/usr/lib/softhsm/libsofthsm2.so`; if it
//! is missing these tests fail, naming the variable.
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

use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass};
use hsm_core::ceremony::{self, AuditLog};
use hsm_core::{Component, Dkga, Kcv, KeyStore, Pkcs11Store, Scheme, VendingKey};
use support::pkcs11::{config, import_public_keys, own_session, p1, pin, record};
use support::{in_softhsm, replay_vectors};

#[test]
fn pkcs11_public_vectors_derive_inside_the_token() {
    in_softhsm(
        "pkcs11_public_vectors_derive_inside_the_token",
        "vectors",
        |label| {
            let store = Pkcs11Store::init(&config(label), &pin()).unwrap();
            let passed = replay_vectors(&store);
            eprintln!("{passed} decoder_key vectors passed through SoftHSM2");
            // Records persist on the token: a second store sees them and derives the same keys.
            let again = Pkcs11Store::open(&config(label), &pin()).unwrap();
            assert_eq!(again.records().unwrap(), store.records().unwrap());
            assert_eq!(replay_vectors(&again), passed);
            // The token's KCVs are the software definitions' (Kcv docs, OpenSSL values).
            for case in support::decoder_key_cases() {
                let stored = again.record(&case.record.id).unwrap();
                if stored == case.record {
                    let key = VendingKey::from_hex(case.record.dkga, &case.vending_key).unwrap();
                    assert_eq!(
                        again.kcv(&case.record.id).unwrap(),
                        Kcv::of(&key),
                        "{}",
                        case.at
                    );
                }
            }
        },
    );
}

#[test]
fn pkcs11_vending_keys_cannot_be_extracted() {
    in_softhsm(
        "pkcs11_vending_keys_cannot_be_extracted",
        "extract",
        |label| {
            let store = Pkcs11Store::init(&config(label), &pin()).unwrap();
            import_public_keys(&store);
            let (_ctx, s) = own_session(label);
            let wrapper = s
                .generate_key(
                    &Mechanism::AesKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::AES),
                        Attribute::ValueLen(32.into()),
                        Attribute::Token(false),
                        Attribute::Wrap(true),
                    ],
                )
                .unwrap();
            for dkga in [Dkga::Dkga02, Dkga::Dkga04] {
                let label_bytes = record(dkga).id.to_string().into_bytes();
                let keys = s
                    .find_objects(&[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::Label(label_bytes.clone()),
                    ])
                    .unwrap();
                assert_eq!(keys.len(), 1, "{dkga}");
                let key = keys[0];
                let attrs = s
                    .get_attributes(key, &[AttributeType::Extractable, AttributeType::Sensitive])
                    .unwrap();
                assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
                assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
                // C_GetAttributeValue reports CKA_VALUE as sensitive...
                let info = s.get_attribute_info(key, &[AttributeType::Value]).unwrap();
                assert!(matches!(info[..], [AttributeInfo::Sensitive]), "{info:?}");
                // ...and cryptoki 0.12's get_attributes silently leaves it out (no error).
                assert_eq!(s.get_attributes(key, &[AttributeType::Value]).unwrap(), []);
                // Neither flag can be turned back (the object is not modifiable at all, so SoftHSM
                // answers CKR_ACTION_PROHIBITED before it would say CKR_ATTRIBUTE_READ_ONLY), and
                // the key cannot be wrapped out.
                for attr in [Attribute::Extractable(true), Attribute::Sensitive(false)] {
                    let err = s.update_attributes(key, &[attr]).unwrap_err();
                    assert!(
                        matches!(err, CkError::Pkcs11(RvError::ActionProhibited, _)),
                        "{err}"
                    );
                }
                let attrs = s
                    .get_attributes(key, &[AttributeType::Extractable])
                    .unwrap();
                assert_eq!(attrs, [Attribute::Extractable(false)]);
                let err = s
                    .wrap_key(&Mechanism::AesKeyWrapPad, wrapper, key)
                    .unwrap_err();
                assert!(
                    matches!(err, CkError::Pkcs11(RvError::KeyUnextractable, _)),
                    "{err}"
                );
                // The record object holds the record (and the sealed XOR term), never the key.
                let data = s
                    .find_objects(&[
                        Attribute::Class(ObjectClass::DATA),
                        Attribute::Label(label_bytes),
                    ])
                    .unwrap();
                let value = s.get_attributes(data[0], &[AttributeType::Value]).unwrap();
                let Attribute::Value(bytes) = &value[0] else {
                    panic!("{value:?}")
                };
                let text = String::from_utf8(bytes.clone()).unwrap().to_uppercase();
                assert!(!text.contains("ABABABAB"), "{text}");
                assert_eq!(text.contains("XOR_TERM"), dkga == Dkga::Dkga02, "{text}");
            }
            // The key-encryption key is no more extractable than the vending keys.
            let kek = s
                .find_objects(&[Attribute::Label(b"sts-keystore-kek".to_vec())])
                .unwrap();
            let info = s
                .get_attribute_info(kek[0], &[AttributeType::Value])
                .unwrap();
            assert!(matches!(info[..], [AttributeInfo::Sensitive]), "{info:?}");
        },
    );
}

/// The published DKGA02 key as two XOR components (0F…0F ⊕ A4…A4 = AB…AB) in component
/// files, imported by ceremony; then a fresh DKGA04 key generated 2-of-3 into the token.
#[test]
fn pkcs11_ceremonies() {
    in_softhsm("pkcs11_ceremonies", "ceremony", |label| {
        let store = Pkcs11Store::init(&config(label), &pin()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let audit = AuditLog::new(dir.path().join("audit.jsonl"), "test", "pkcs11:test");
        let components: Vec<Component> = [
            ("alice", 1, "0F0F0F0F0F0F0F0F"),
            ("bob", 2, "A4A4A4A4A4A4A4A4"),
        ]
        .iter()
        .map(|(who, index, hex)| {
            let bytes: Vec<u8> = (0..8)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let kcv = Kcv::of_key_bytes(Dkga::Dkga02, &bytes).unwrap();
            Component::from_json(&format!(
                r#"{{"format": "sts-key-component/1", "key_id": "sgc123456-krn1-kt2",
                        "dkga": "02", "custodian": "{who}", "index": {index}, "scheme": "xor",
                        "threshold": 2, "custodians": 2, "component": "{hex}",
                        "component_kcv": "{kcv}", "key_kcv": "C33F45"}}"#
            ))
            .unwrap()
        })
        .collect();
        let kcv = ceremony::import(&store, &record(Dkga::Dkga02), &components, &audit).unwrap();
        assert_eq!(kcv.to_string(), "C33F45");
        assert_eq!(store.kcv(&record(Dkga::Dkga02).id).unwrap(), kcv);
        let dk = store
            .derive(&record(Dkga::Dkga02).id, &p1("123456", "01"))
            .unwrap();
        assert_eq!(
            dk.expose_bytes(),
            [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]
        );

        let custodians: Vec<_> = ["alice", "bob", "carol"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        let mut written = Vec::new();
        let kcv = ceremony::generate(
            &store,
            &record(Dkga::Dkga04),
            &custodians,
            Scheme::Shamir { threshold: 2 },
            &audit,
            &mut |c| {
                let path = dir.path().join(format!("component-{}.json", c.index()));
                c.write_new(&path)?;
                written.push(path);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(store.kcv(&record(Dkga::Dkga04).id).unwrap(), kcv);
        assert_eq!(written.len(), 3);
        let back = Component::read(&written[2]).unwrap();
        assert_eq!(back.key_kcv(), kcv);
        let log = std::fs::read_to_string(audit.path()).unwrap();
        assert_eq!(log.lines().count(), 2);
        assert!(log.contains("\"outcome\":\"ok\""), "{log}");
    });
}
