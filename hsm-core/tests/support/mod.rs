//! Shared by the store tests: the public decoder-key vectors, replayed through any
//! `KeyStore`, and a throwaway SoftHSM2 token for the PKCS#11 tests.

// Test support: helpers fail the calling test by panicking, as assertions do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

use hsm_core::softhsm::{SoftHsmToken, rerun_with_conf};
use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyStore, KeyType,
    MeterIdentity, VendingKey, VendingKeyId, VendingKeyRecord, Window,
};
use serde_json::Value;

pub mod pkcs11;

/// One `decoder_key` vector with an expected key, as a record, a key and a meter.
pub struct Case {
    pub at: String,
    pub record: VendingKeyRecord,
    pub vending_key: String,
    pub meter: MeterIdentity,
    pub expect: Vec<u8>,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every `decoder_key` vector of `keys-sample/vectors/*.jsonl` that expects a key.
pub fn decoder_key_cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-sample/vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (i, line) in fs::read_to_string(&file).unwrap().lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let v: Value = serde_json::from_str(line).unwrap();
            let Some(want) = v["expect"]["decoder_key"].as_str() else {
                continue;
            };
            if v["kind"] != "decoder_key" {
                continue;
            }
            let dkga: Dkga = v["dkga"].as_str().unwrap().parse().unwrap();
            let ea: EncryptionAlgorithm = v["ea"].as_str().unwrap_or("07").parse().unwrap();
            let base_date = BaseDate::from_year(
                v["base_date"]
                    .as_u64()
                    .map_or(1993, |y| u16::try_from(y).unwrap()),
            )
            .unwrap();
            let meter = MeterIdentity::new(
                v["meter_pan"].as_str().unwrap().parse().unwrap(),
                v["sgc"].as_str().unwrap().parse().unwrap(),
                v["ti"].as_str().unwrap().parse().unwrap(),
                KeyRevision::new(u8::try_from(v["krn"].as_u64().unwrap()).unwrap()).unwrap(),
                KeyType::try_from(u8::try_from(v["kt"].as_u64().unwrap()).unwrap()).unwrap(),
            );
            let record = VendingKeyRecord {
                id: VendingKeyId {
                    sgc: meter.sgc(),
                    krn: meter.krn(),
                    kt: meter.kt(),
                },
                dkga,
                ea,
                base_date,
                ken: KeyExpiryNumber::NEVER,
                credit_window: Window::ALWAYS,
                key_change_window: Window::ALWAYS,
            };
            cases.push(Case {
                at: format!("{name}:{} {}", i + 1, v["id"].as_str().unwrap_or("?")),
                record,
                vending_key: v["vending_key"].as_str().unwrap().to_owned(),
                meter,
                expect: hex(want),
            });
        }
    }
    assert!(
        cases.len() >= 7,
        "expected the public DKGA02 and DKGA04 vectors, found {}",
        cases.len()
    );
    cases
}

/// Imports each vector's key (replacing a stored key whose record differs) and checks the
/// decoder key the store derives. Returns the number of vectors passed; fails listing every
/// failing `file:line id`.
pub fn replay_vectors(store: &dyn KeyStore) -> usize {
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in decoder_key_cases() {
        match store.record(&case.record.id) {
            Ok(r) if r == case.record => {}
            Ok(_) => {
                store.remove(&case.record.id).unwrap();
                import(store, &case);
            }
            Err(_) => import(store, &case),
        }
        match store.derive(&case.record.id, &case.meter) {
            Ok(dk) if dk.expose_bytes() == case.expect.as_slice() => passed += 1,
            Ok(dk) => failures.push(format!(
                "{}: expected {:02X?}, got {:02X?}",
                case.at,
                case.expect,
                dk.expose_bytes()
            )),
            Err(e) => failures.push(format!("{}: {e}", case.at)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    passed
}

fn import(store: &dyn KeyStore, case: &Case) {
    let key = VendingKey::from_hex(case.record.dkga, &case.vending_key).unwrap();
    store.import(&case.record, key).unwrap();
}

/// The PKCS#11 module under test: `STS_PKCS11_MODULE`, else Debian's SoftHSM2.
pub fn module() -> PathBuf {
    hsm_core::Pkcs11Config::module_from_env()
}

pub const SO_PIN: &str = "87654321";
pub const USER_PIN: &str = "2468";
const CHILD_ENV: &str = "STS_TEST_SOFTHSM_CHILD";
const LABEL_ENV: &str = "STS_TEST_TOKEN_LABEL";

/// Runs `body` in a child process of this test binary whose `SOFTHSM2_CONF` points at a fresh
/// token directory holding one token (label `label`, user PIN [`USER_PIN`]). The child is this
/// same test, filtered by `name`; the parent fails if it fails.
///
/// Fails, naming `STS_PKCS11_MODULE`, if the module does not exist: a missing module must
/// never let the PKCS#11 tests pass silently.
pub fn in_softhsm(name: &str, label: &str, body: impl FnOnce(&str)) {
    if std::env::var_os(CHILD_ENV).is_some() {
        let label = std::env::var(LABEL_ENV).unwrap();
        body(&label);
        return;
    }
    let module = module();
    assert!(
        module.exists(),
        "PKCS#11 module {} not found: install softhsm2 (apt-get install softhsm2) or set \
         STS_PKCS11_MODULE to a module path",
        module.display()
    );
    let token = SoftHsmToken::create(label, SO_PIN, USER_PIN)
        .unwrap_or_else(|e| panic!("cannot create a SoftHSM2 token: {e}"));
    let args: Vec<OsString> = [name, "--exact", "--nocapture", "--test-threads=1"]
        .iter()
        .map(OsString::from)
        .collect();
    let out = rerun_with_conf(&token, &args, &[(CHILD_ENV, "1"), (LABEL_ENV, label)])
        .unwrap()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name} failed in its SoftHSM2 child process ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
