//! Whole tokens: encode and decode with a given decoder key, for each encryption algorithm,
//! and parsing typed digits.
//!
//! The project target "token encode with a given decoder key within 1.5x of one DES block
//! encryption, measured in the same run" is read off the `token_encode` group, which holds the
//! encodes and the reference DES block side by side. `token_encode_steps` splits the STA encode
//! into its parts, so a missed target points at the step to fix.
//!
//! The token is CTSA01 step 1's (class 0 electricity credit, RND 5, TID 5871715, amount field 1);
//! keys as in `sts_benches::fixtures`.

// Setup only: the token and ciphers are built from constant public-vector inputs, which
// `sts_benches`' unit tests check reproduce CTSA01. A failure there is a broken fixture and must
// stop the run before anything is timed; nothing inside a timed loop can panic.
#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use sts_benches::fixtures::{ALGORITHMS, CTSA01_TYPED, cipher, ctsa01_token, key_64};
use token_codec::carrier::transpose_in;
use token_codec::dea::Dea;
use token_codec::sta::Sta;
use token_codec::{EncryptionAlgorithm, TokenCipher, TokenDigits, decode, encode};

/// A benchmark name for `ea`.
fn label(ea: EncryptionAlgorithm) -> String {
    let name = match ea {
        EncryptionAlgorithm::Sta => "STA",
        EncryptionAlgorithm::Dea => "DEA",
        EncryptionAlgorithm::Misty1 => "MISTY1",
    };
    format!("EA{:02} {name}", ea.code())
}

/// Encode per algorithm, plus one DES block as the target's yardstick, in one group.
fn token_encode(c: &mut Criterion) {
    let token = ctsa01_token().expect("CTSA01 token builds");
    let des = Dea::new(&key_64());
    let block = token.to_block();

    let mut g = c.benchmark_group("token_encode");
    g.throughput(Throughput::Elements(1));
    for ea in ALGORITHMS {
        let cipher = cipher(ea).expect("fixture key fits the algorithm");
        g.bench_function(label(ea), |b| {
            b.iter(|| encode(black_box(&token), black_box(&cipher)));
        });
    }
    g.bench_function("DES block (reference)", |b| {
        b.iter(|| black_box(&des).encrypt(black_box(block)));
    });
    g.finish();
}

/// The STA encode's steps, one at a time: block + CRC, cipher, carrier, decimal digits.
fn token_encode_steps(c: &mut Criterion) {
    let token = ctsa01_token().expect("CTSA01 token builds");
    let sta = Sta::new(&key_64());
    let block = token.to_block();
    let carried = sta.encrypt(block);
    let number = transpose_in(token.class(), carried);

    let mut g = c.benchmark_group("token_encode_steps");
    g.throughput(Throughput::Elements(1));
    g.bench_function("Token::to_block (fields + CRC)", |b| {
        b.iter(|| black_box(&token).to_block());
    });
    g.bench_function("Sta::encrypt", |b| {
        b.iter(|| black_box(&sta).encrypt(black_box(block)));
    });
    g.bench_function("carrier::transpose_in", |b| {
        b.iter(|| transpose_in(black_box(token.class()), black_box(carried)));
    });
    g.bench_function("TokenDigits::from_number", |b| {
        b.iter(|| TokenDigits::from_number(black_box(number)));
    });
    g.finish();
}

/// Decode per algorithm, from the digits that algorithm's encode gives.
fn token_decode(c: &mut Criterion) {
    let token = ctsa01_token().expect("CTSA01 token builds");
    let mut g = c.benchmark_group("token_decode");
    g.throughput(Throughput::Elements(1));
    for ea in ALGORITHMS {
        let cipher = cipher(ea).expect("fixture key fits the algorithm");
        let digits = encode(&token, &cipher);
        g.bench_function(label(ea), |b| {
            b.iter(|| decode(black_box(&digits), black_box(&cipher)));
        });
    }
    g.finish();
}

/// Parsing 20 typed digits with separators, `2371-6100-5011-8319-4197`.
fn token_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("token_parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("TokenDigits::parse (dashes)", |b| {
        b.iter(|| TokenDigits::parse(black_box(CTSA01_TYPED)));
    });
    g.finish();
}

/// What `criterion_group!` + `criterion_main!` expand to, written out because the macro's
/// `pub fn` has no doc comment and the workspace lints `missing_docs`.
fn main() {
    let mut c = Criterion::default().configure_from_args();
    token_encode(&mut c);
    token_encode_steps(&mut c);
    token_decode(&mut c);
    token_parse(&mut c);
    c.final_summary();
}
