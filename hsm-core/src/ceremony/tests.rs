//! Ceremonies against a memory store: what goes in, what is refused, and what the audit log
//! says (and never says).

use std::fs;

use token_codec::{BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType};

use super::*;
use crate::derive::MeterIdentity;
use crate::store::{MemoryStore, Window};

fn record(dkga: Dkga) -> VendingKeyRecord {
    VendingKeyRecord {
        id: VendingKeyId {
            sgc: if dkga == Dkga::Dkga02 {
                "123456"
            } else {
                "123457"
            }
            .parse()
            .unwrap(),
            krn: KeyRevision::new(1).unwrap(),
            kt: KeyType::Dutk,
        },
        dkga,
        ea: EncryptionAlgorithm::Sta,
        base_date: BaseDate::Y1993,
        ken: KeyExpiryNumber::NEVER,
        credit_window: Window::ALWAYS,
        key_change_window: Window::ALWAYS,
    }
}

fn names(list: &[&str]) -> Vec<CustodianName> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

fn log() -> (tempfile::TempDir, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path().join("audit.jsonl"), "tester", "memory:");
    (dir, log)
}

fn audit_lines(log: &AuditLog) -> Vec<serde_json::Value> {
    fs::read_to_string(log.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The published DKGA02 test key as XOR components a KMC might send: AB…AB = 0F…0F ⊕ A4…A4.
fn xor_components_of_ab() -> Vec<Component> {
    let parts = [[0x0Fu8; 8], [0xA4; 8]];
    let key_kcv: Kcv = "C33F45".parse().unwrap();
    parts
        .iter()
        .zip(1u8..)
        .map(|(bytes, index)| Component {
            key_id: record(Dkga::Dkga02).id,
            dkga: Dkga::Dkga02,
            custodian: format!("custodian-{index}").parse().unwrap(),
            index,
            scheme: SchemeKind::Xor,
            threshold: 2,
            custodians: 2,
            bytes: zeroize::Zeroizing::new(bytes.to_vec()),
            kcv: Kcv::of_key_bytes(Dkga::Dkga02, bytes).unwrap(),
            key_kcv,
        })
        .collect()
}

fn p1() -> MeterIdentity {
    MeterIdentity::new(
        "600727000000000009".parse().unwrap(),
        "123456".parse().unwrap(),
        "01".parse().unwrap(),
        KeyRevision::new(1).unwrap(),
        KeyType::Dutk,
    )
}

#[test]
fn xor_import_yields_the_published_decoder_key() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let kcv = import(&store, &record(Dkga::Dkga02), &xor_components_of_ab(), &log).unwrap();
    assert_eq!(kcv.to_string(), "C33F45");
    let dk = store.derive(&record(Dkga::Dkga02).id, &p1()).unwrap();
    assert_eq!(
        dk.expose_bytes(),
        [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]
    );
    let lines = audit_lines(&log);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["event"], "ceremony-import");
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["key_kcv"], "C33F45");
    assert_eq!(lines[0]["components"][1]["custodian"], "custodian-2");
    assert_eq!(lines[0]["record"]["sgc"], "123456");
}

#[test]
fn a_wrong_component_is_named_and_nothing_is_stored() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let mut components = xor_components_of_ab();
    components[1].bytes[0] ^= 0x02;
    let err = import(&store, &record(Dkga::Dkga02), &components, &log).unwrap_err();
    let HsmError::Ceremony(CeremonyError::ComponentKcv {
        index,
        ref custodian,
        ..
    }) = err
    else {
        panic!("{err:?}");
    };
    assert_eq!((index, custodian.as_str()), (2, "custodian-2"));
    assert!(
        err.to_string()
            .starts_with("component 2 (custodian-2) fails its key check")
    );
    assert!(store.records().unwrap().is_empty());
    let line = &audit_lines(&log)[0];
    assert_eq!(line["outcome"], "refused");
    assert_eq!(line["error"], err.to_string());
    // No component or key bytes anywhere in the log.
    let text = fs::read_to_string(log.path()).unwrap().to_uppercase();
    for secret in ["0F0F0F0F", "A4A4A4A4", "A5A4A4A4", "ABABABAB"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

/// A parity bit flipped in a component passes both KCVs (DES ignores parity) but would change
/// every DKGA02 decoder key: the parity check catches it.
#[test]
fn a_flipped_parity_bit_is_caught() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let mut components = xor_components_of_ab();
    components[0].bytes[3] ^= 0x01;
    components[0].kcv = Kcv::of_key_bytes(Dkga::Dkga02, &components[0].bytes).unwrap();
    let err = import(&store, &record(Dkga::Dkga02), &components, &log).unwrap_err();
    assert_eq!(err, HsmError::Ceremony(CeremonyError::KeyParity));
    assert!(store.records().unwrap().is_empty());
}

#[test]
fn refusals_are_precise() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let r = record(Dkga::Dkga02);
    let mut c = xor_components_of_ab();
    c.truncate(1);
    assert_eq!(
        import(&store, &r, &c, &log).unwrap_err(),
        HsmError::Ceremony(CeremonyError::Count { got: 1, need: 2 })
    );
    let mut c = xor_components_of_ab();
    c[1].index = 1;
    assert_eq!(
        import(&store, &r, &c, &log).unwrap_err(),
        HsmError::Ceremony(CeremonyError::DuplicateIndex { index: 1 })
    );
    let mut c = xor_components_of_ab();
    c[1].custodian = c[0].custodian.clone();
    assert!(matches!(
        import(&store, &r, &c, &log).unwrap_err(),
        HsmError::Ceremony(CeremonyError::DuplicateCustodian { .. })
    ));
    let mut c = xor_components_of_ab();
    c[0].key_kcv = "000000".parse().unwrap();
    c[1].key_kcv = c[0].key_kcv;
    assert_eq!(
        import(&store, &r, &c, &log).unwrap_err().to_string(),
        "combined key fails its key check: components say 000000, key gives C33F45"
    );
    let mut other = r;
    other.id.krn = KeyRevision::new(2).unwrap();
    assert!(matches!(
        import(&store, &other, &xor_components_of_ab(), &log).unwrap_err(),
        HsmError::Ceremony(CeremonyError::Mismatch {
            index: 1,
            field: ComponentField::KeyId,
            ..
        })
    ));
    assert_eq!(audit_lines(&log).len(), 5);
    assert!(store.records().unwrap().is_empty());
}

fn generate_into(
    store: &MemoryStore,
    dkga: Dkga,
    scheme: Scheme,
    who: &[&str],
    log: &AuditLog,
) -> (Kcv, Vec<Vec<u8>>) {
    let mut files = Vec::new();
    let kcv = generate(store, &record(dkga), &names(who), scheme, log, &mut |c| {
        files.push(c.to_json().to_vec());
        Ok(())
    })
    .unwrap();
    (kcv, files)
}

#[test]
fn shamir_generate_then_any_two_of_three_import_the_same_key() {
    for dkga in [Dkga::Dkga02, Dkga::Dkga04] {
        let (_dir, log) = log();
        let source = MemoryStore::new();
        let who = ["alice", "bob", "carol"];
        let (kcv, files) =
            generate_into(&source, dkga, Scheme::Shamir { threshold: 2 }, &who, &log);
        assert_eq!(source.kcv(&record(dkga).id).unwrap(), kcv);
        let parsed: Vec<Component> = files
            .iter()
            .map(|f| Component::from_json(std::str::from_utf8(f).unwrap()).unwrap())
            .collect();
        assert!(
            parsed
                .iter()
                .all(|c| c.key_kcv() == kcv && c.threshold() == 2)
        );
        let mut parsed = parsed.into_iter();
        let (a, _b, c) = (
            parsed.next().unwrap(),
            parsed.next().unwrap(),
            parsed.next().unwrap(),
        );
        let target = MemoryStore::new();
        assert_eq!(import(&target, &record(dkga), &[c, a], &log).unwrap(), kcv);
        let lines = audit_lines(&log);
        assert_eq!(lines[0]["event"], "ceremony-generate");
        assert_eq!(lines[0]["scheme"], "shamir");
        assert_eq!(lines[1]["components"].as_array().unwrap().len(), 2);
    }
}

#[test]
fn xor_generate_and_bad_shapes() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let (kcv, files) = generate_into(&store, Dkga::Dkga02, Scheme::Xor, &["a", "b", "c"], &log);
    assert_eq!(files.len(), 3);
    let comps: Vec<Component> = files
        .iter()
        .map(|f| Component::from_json(std::str::from_utf8(f).unwrap()).unwrap())
        .collect();
    let again = MemoryStore::new();
    assert_eq!(
        import(&again, &record(Dkga::Dkga02), &comps, &log).unwrap(),
        kcv
    );
    let mut deliver = |_: &Component| Ok(());
    for (who, scheme) in [
        (&["a"][..], Scheme::Xor),
        (&["a", "b"][..], Scheme::Shamir { threshold: 3 }),
        (&["a", "b"][..], Scheme::Shamir { threshold: 1 }),
    ] {
        let err = generate(
            &MemoryStore::new(),
            &record(Dkga::Dkga02),
            &names(who),
            scheme,
            &log,
            &mut deliver,
        )
        .unwrap_err();
        assert!(
            matches!(err, HsmError::Ceremony(CeremonyError::Shape { .. })),
            "{err:?}"
        );
    }
}

#[test]
fn failed_delivery_stores_nothing() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    let mut deliver = |c: &Component| {
        if c.index() == 2 {
            Err(HsmError::Random)
        } else {
            Ok(())
        }
    };
    let err = generate(
        &store,
        &record(Dkga::Dkga04),
        &names(&["a", "b"]),
        Scheme::Xor,
        &log,
        &mut deliver,
    )
    .unwrap_err();
    assert_eq!(err, HsmError::Random);
    assert!(store.records().unwrap().is_empty());
    assert_eq!(audit_lines(&log)[0]["outcome"], "refused");
}

#[test]
fn removal_is_audited() {
    let (_dir, log) = log();
    let store = MemoryStore::new();
    import(&store, &record(Dkga::Dkga02), &xor_components_of_ab(), &log).unwrap();
    remove(&store, &record(Dkga::Dkga02).id, &log).unwrap();
    let err = remove(&store, &record(Dkga::Dkga02).id, &log).unwrap_err();
    assert!(matches!(err, HsmError::UnknownVendingKey { .. }));
    let lines = audit_lines(&log);
    assert_eq!(lines[1]["event"], "remove");
    assert_eq!(lines[1]["key_kcv"], "C33F45");
    assert_eq!(lines[2]["outcome"], "refused");
}

#[test]
fn generated_des_keys_have_odd_parity() {
    for _ in 0..8 {
        let VendingKey::Dkga02(k) = fresh_key(Dkga::Dkga02).unwrap() else {
            panic!("wrong kind");
        };
        assert!(k.expose_bytes().iter().all(|b| b.count_ones() % 2 == 1));
    }
}

/// A known key split by `split` and brought back by `import` gives the published decoder
/// keys (DKGA02 P1 → E653341F9D5BF36F; DKGA04 P1 BD93 → AA4BAA8749C10D27), by XOR and Shamir.
#[test]
fn split_then_import_reproduces_the_published_keys() {
    let cases = [
        (Dkga::Dkga02, "ABABABABABABABAB", "E653341F9D5BF36F"),
        (
            Dkga::Dkga04,
            "ABABABABABABABAB949494949494949401234567",
            "AA4BAA8749C10D27",
        ),
    ];
    for (dkga, vk, dk) in cases {
        for scheme in [Scheme::Xor, Scheme::Shamir { threshold: 2 }] {
            let store = MemoryStore::new();
            let (_dir, log) = log();
            let rec = record(dkga);
            let key = VendingKey::from_hex(dkga, vk).unwrap();
            let parts = split(
                &rec,
                &key,
                &names(
                    &["ann", "bob", "cid"][..match scheme {
                        Scheme::Xor => 2,
                        Scheme::Shamir { .. } => 3,
                    }],
                ),
                scheme,
            )
            .unwrap();
            // Shamir 2-of-3: any two custodians suffice.
            let brought = if matches!(scheme, Scheme::Shamir { .. }) {
                &parts[1..]
            } else {
                &parts[..]
            };
            import(&store, &rec, brought, &log).unwrap();
            let meter = MeterIdentity::new(
                "600727000000000009".parse().unwrap(),
                rec.id.sgc,
                "01".parse().unwrap(),
                rec.id.krn,
                rec.id.kt,
            );
            let got = store.derive(&rec.id, &meter).unwrap();
            let hex: String = got
                .expose_bytes()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect();
            assert_eq!(hex, dk, "{dkga} {scheme:?}");
        }
    }
}

#[test]
fn split_refuses_bad_shapes() {
    let rec = record(Dkga::Dkga02);
    let key = VendingKey::from_hex(Dkga::Dkga02, "ABABABABABABABAB").unwrap();
    assert!(split(&rec, &key, &names(&["ann", "ann"]), Scheme::Xor).is_err());
    assert!(split(&rec, &key, &names(&["ann"]), Scheme::Xor).is_err());
    let wide =
        VendingKey::from_hex(Dkga::Dkga04, "ABABABABABABABAB949494949494949401234567").unwrap();
    assert!(split(&rec, &wide, &names(&["ann", "bob"]), Scheme::Xor).is_err());
}
