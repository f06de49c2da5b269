//! Decoder key derivation through the key stores: inside a SoftHSM2 token (`Pkcs11Store`)
//! and in software (`SealedSoftStore`, keys decrypted in memory), one thread and four.
//!
//! Inputs are the public vectors' (see `sts_benches::fixtures`): DKGA02 with vending key
//! `ABABABABABABABAB` for meter P1 in SGC 123456, DKGA04 (EA07, BD 1993) with vending key
//! `ABABABABABABABAB949494949494949401234567` in SGC 123457. Setup checks that both stores give
//! the published decoder keys before anything is timed.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` once per process, so this benchmark creates a throwaway
//! token and runs itself again with `SOFTHSM2_CONF` pointing at it (see `hsm_core::softhsm`). Module: `STS_PKCS11_MODULE`, default
//! `/usr/lib/softhsm/libsofthsm2.so`; a missing module stops the run, naming the variable.
//!
//! DKGA02 through SoftHSM costs two token calls (the DES step, then unsealing the XOR term:
//! see `hsm_core::store::pkcs11`), DKGA04 one (HMAC-SHA-256).

// Setup only: stores and fixtures are built from constant public-vector inputs, and a failure
// there must stop the run before anything is timed; nothing inside a timed loop can panic.
#![allow(clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use hsm_core::softhsm::{SoftHsmToken, rerun_with_conf};
use hsm_core::{
    Dkga, KdfCost, KeyExpiryNumber, KeyStore, MeterIdentity, Passphrase, Pin, Pkcs11Config,
    Pkcs11Store, SealedSoftStore, VendingKey, VendingKeyId, VendingKeyRecord, Window,
};
use sts_benches::fixtures::{BASE_DATE, KEY_64, VENDING_KEY_64, VENDING_KEY_160, meter_p1};
use token_codec::EncryptionAlgorithm;

const LABEL: &str = "sts-bench";
const PIN: &str = "2468";
const THREADS: usize = 4;
/// Set in the rerun, which does the work.
const CHILD_ENV: &str = "STS_BENCH_SOFTHSM_CHILD";

fn record(meter: &MeterIdentity, dkga: Dkga) -> VendingKeyRecord {
    VendingKeyRecord {
        id: VendingKeyId {
            sgc: meter.sgc(),
            krn: meter.krn(),
            kt: meter.kt(),
        },
        dkga,
        ea: EncryptionAlgorithm::Sta,
        base_date: BASE_DATE,
        ken: KeyExpiryNumber::NEVER,
        credit_window: Window::ALWAYS,
        key_change_window: Window::ALWAYS,
    }
}

/// The two public vending keys, imported into `store`; checks the published decoder keys.
fn load(store: &dyn KeyStore, p1_02: &MeterIdentity, p1_04: &MeterIdentity) {
    store
        .import(
            &record(p1_02, Dkga::Dkga02),
            VendingKey::try_from_slice(Dkga::Dkga02, &VENDING_KEY_64).expect("DKGA02 key"),
        )
        .expect("DKGA02 import");
    store
        .import(
            &record(p1_04, Dkga::Dkga04),
            VendingKey::try_from_slice(Dkga::Dkga04, &VENDING_KEY_160).expect("DKGA04 key"),
        )
        .expect("DKGA04 import");
    let dk = store
        .derive(&record(p1_02, Dkga::Dkga02).id, p1_02)
        .expect("DKGA02 derive");
    assert_eq!(dk.expose_bytes(), &KEY_64, "dk02-p1");
    let dk = store
        .derive(&record(p1_04, Dkga::Dkga04).id, p1_04)
        .expect("DKGA04 derive");
    assert_eq!(
        dk.expose_bytes(),
        &[0xAA, 0x4B, 0xAA, 0x87, 0x49, 0xC1, 0x0D, 0x27],
        "dk04-p1-bd93"
    );
}

/// `iters` derivations spread over [`THREADS`] threads; the wall time of all of them.
fn threaded(
    store: &dyn KeyStore,
    id: &VendingKeyId,
    meter: &MeterIdentity,
    iters: u64,
) -> Duration {
    let per_thread = iters.div_ceil(THREADS as u64);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..per_thread {
                    let _ = black_box(store.derive(black_box(id), black_box(meter)));
                }
            });
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let p1_02 = meter_p1("123456").expect("DKGA02 vector identity parses");
    let p1_04 = meter_p1("123457").expect("DKGA04 vector identity parses");
    let mut config = Pkcs11Config::new(Pkcs11Config::module_from_env(), LABEL);
    config.sessions = THREADS;
    let hsm = Pkcs11Store::init(&config, &Pin::new(PIN.to_owned())).expect("SoftHSM2 store");
    load(&hsm, &p1_02, &p1_04);
    let file = std::env::temp_dir().join(format!("sts-bench-sealed-{}", std::process::id()));
    let _ = std::fs::remove_file(&file);
    // The KDF's cost is paid once at open; derivation does not depend on it.
    let cost = KdfCost {
        memory_kib: 64,
        iterations: 1,
        lanes: 1,
    };
    let sealed = SealedSoftStore::create_with_cost(&file, &Passphrase::new("bench".into()), cost)
        .expect("sealed store");
    load(&sealed, &p1_02, &p1_04);

    let stores: [(&str, &dyn KeyStore); 2] = [("SoftHSM", &hsm), ("sealed (software)", &sealed)];
    let cases = [
        ("DKGA02", record(&p1_02, Dkga::Dkga02).id, p1_02),
        ("DKGA04 64-bit", record(&p1_04, Dkga::Dkga04).id, p1_04),
    ];
    let mut g = c.benchmark_group("keystore_derive");
    g.throughput(Throughput::Elements(1));
    for (store_name, store) in stores {
        for (case, id, meter) in &cases {
            g.bench_function(format!("{store_name} {case}"), |b| {
                b.iter(|| store.derive(black_box(id), black_box(meter)));
            });
        }
    }
    g.finish();
    let mut g = c.benchmark_group("keystore_derive_4_threads");
    g.throughput(Throughput::Elements(1));
    for (store_name, store) in stores {
        for (case, id, meter) in &cases {
            g.bench_function(format!("{store_name} {case}"), |b| {
                b.iter_custom(|iters| threaded(store, id, meter, iters));
            });
        }
    }
    g.finish();
    let _ = std::fs::remove_file(&file);
}

/// Creates a token and reruns this benchmark under it, unless this is that rerun.
fn main() -> ExitCode {
    if std::env::var_os(CHILD_ENV).is_none() {
        let module = Pkcs11Config::module_from_env();
        if !module.exists() {
            eprintln!(
                "PKCS#11 module {} not found: install softhsm2 or set STS_PKCS11_MODULE",
                module.display()
            );
            return ExitCode::FAILURE;
        }
        let token = SoftHsmToken::create(LABEL, "87654321", PIN).expect("SoftHSM2 token");
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        let status = rerun_with_conf(&token, &args, &[(CHILD_ENV, "1")])
            .expect("current executable")
            .status()
            .expect("benchmark rerun");
        return if status.success() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    // What `criterion_group!` + `criterion_main!` expand to, written out because the macro's
    // `pub fn` has no doc comment and the workspace lints `missing_docs`.
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    ExitCode::SUCCESS
}
