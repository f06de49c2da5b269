//! One 64-bit block through each STS encryption algorithm, and each algorithm's key setup.
//!
//! Keys: STA and DEA use DK(P1) `E653341F9D5BF36F`, MISTY1 uses `F94B6ED353C3BFDB113E2D3A7EA3C41D`
//! (see `sts_benches::fixtures`). The block is CTSA01 step 1's.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use sts_benches::fixtures::{CTSA01_BLOCK, CTSA01_STA_BLOCK, key_64, key_128};
use token_codec::TokenCipher;
use token_codec::dea::Dea;
use token_codec::misty1::Misty1;
use token_codec::sta::Sta;

/// Encrypt and decrypt one block with each algorithm, keyed once outside the loop.
fn block(c: &mut Criterion) {
    let (k64, k128) = (key_64(), key_128());
    let sta = Sta::new(&k64);
    let dea = Dea::new(&k64);
    let misty1 = Misty1::new(&k128);

    let mut g = c.benchmark_group("cipher_encrypt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("EA07 STA", |b| {
        b.iter(|| black_box(&sta).encrypt(black_box(CTSA01_BLOCK)));
    });
    g.bench_function("EA09 DEA", |b| {
        b.iter(|| black_box(&dea).encrypt(black_box(CTSA01_BLOCK)));
    });
    g.bench_function("EA11 MISTY1", |b| {
        b.iter(|| black_box(&misty1).encrypt(black_box(CTSA01_BLOCK)));
    });
    g.finish();

    let mut g = c.benchmark_group("cipher_decrypt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("EA07 STA", |b| {
        b.iter(|| black_box(&sta).decrypt(black_box(CTSA01_STA_BLOCK)));
    });
    g.bench_function("EA09 DEA", |b| {
        b.iter(|| black_box(&dea).decrypt(black_box(CTSA01_STA_BLOCK)));
    });
    g.bench_function("EA11 MISTY1", |b| {
        b.iter(|| black_box(&misty1).decrypt(black_box(CTSA01_STA_BLOCK)));
    });
    g.finish();
}

/// Key setup: building each cipher from a decoder key (the per-meter cost a vending service
/// pays before its first token for that meter).
fn key_setup(c: &mut Criterion) {
    let (k64, k128) = (key_64(), key_128());
    let mut g = c.benchmark_group("cipher_key_setup");
    g.throughput(Throughput::Elements(1));
    g.bench_function("EA07 Sta::new", |b| b.iter(|| Sta::new(black_box(&k64))));
    g.bench_function("EA09 Dea::new", |b| b.iter(|| Dea::new(black_box(&k64))));
    g.bench_function("EA11 Misty1::new", |b| {
        b.iter(|| Misty1::new(black_box(&k128)));
    });
    g.finish();
}

/// What `criterion_group!` + `criterion_main!` expand to, written out because the macro's
/// `pub fn` has no doc comment and the workspace lints `missing_docs`.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    block(&mut c);
    key_setup(&mut c);
    c.final_summary();
}
