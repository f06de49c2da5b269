//! Decoder key derivation in software: DKGA02 (DES) and DKGA04 (HMAC-SHA-256), 64- and 128-bit.
//!
//! Inputs are the public vectors' (see `sts_benches::fixtures`): DKGA02 with vending key
//! `ABABABABABABABAB`, PAN 600727000000000009, SGC 123456, TI 01, KRN 1, KT 2; DKGA04 with
//! vending key `ABABABABABABABAB949494949494949401234567`, SGC 123457, BD 1993.

// Setup only: the meter identities are parsed from constant public-vector inputs, which
// `sts_benches`' unit tests check give the published keys. A failure there is a broken fixture
// and must stop the run before anything is timed; nothing inside a timed loop can panic.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use hsm_core::{dkga02, dkga04};
use sts_benches::fixtures::{BASE_DATE, meter_p1, vending_key_64, vending_key_160};
use token_codec::EncryptionAlgorithm;

/// DKGA02 and DKGA04 (both widths), from vending key and meter identity to decoder key.
fn derive(c: &mut Criterion) {
    let vk02 = vending_key_64();
    let vk04 = vending_key_160();
    let p1_02 = meter_p1("123456").expect("DKGA02 vector identity parses");
    let p1_04 = meter_p1("123457").expect("DKGA04 vector identity parses");

    let mut g = c.benchmark_group("derive");
    g.throughput(Throughput::Elements(1));
    g.bench_function("DKGA02 64-bit", |b| {
        b.iter(|| dkga02(black_box(&vk02), black_box(&p1_02)));
    });
    g.bench_function("DKGA04 64-bit (EA07)", |b| {
        b.iter(|| {
            dkga04(
                black_box(&vk04),
                black_box(&p1_04),
                black_box(BASE_DATE),
                black_box(EncryptionAlgorithm::Sta),
            )
        });
    });
    g.bench_function("DKGA04 128-bit (EA11)", |b| {
        b.iter(|| {
            dkga04(
                black_box(&vk04),
                black_box(&p1_04),
                black_box(BASE_DATE),
                black_box(EncryptionAlgorithm::Misty1),
            )
        });
    });
    g.finish();
}

/// What `criterion_group!` + `criterion_main!` expand to, written out because the macro's
/// `pub fn` has no doc comment and the workspace lints `missing_docs`.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    derive(&mut c);
    c.final_summary();
}
