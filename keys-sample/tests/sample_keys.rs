//! The sample (public TEST) vending keys derive the decoder keys the public vectors publish
//! (`vectors/dkga02_sta.jsonl`, `vectors/dkga04.jsonl`: NectarAPI STS 531-1-0 and the
//! STSCompliancePOS STS 531-1-07 list).

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use hsm_core::{
    Dkga, EncryptionAlgorithm, KeyType, MeterIdentity, TariffIndex, derive_decoder_key,
};
use keys_sample::sample_vending_keys;

#[test]
fn sample_keys_reproduce_the_published_decoder_keys() {
    let keys = sample_vending_keys().unwrap();
    assert_eq!(keys.len(), 5);
    // (record id, EA, published decoder key for P1 600727000000000009, TI 01, KT 2)
    let cases = [
        ("dkga02-sgc123456-krn1", "07", "E653341F9D5BF36F"),
        ("dkga04-sgc123457-krn1", "07", "AA4BAA8749C10D27"),
        (
            "dkga04-sgc123457-krn1",
            "11",
            "F94B6ED353C3BFDB113E2D3A7EA3C41D",
        ),
        ("dkga04-sgc123457-krn4", "07", "9DC0722C29A6CC0C"),
        ("dkga04-sgc123457-krn5", "07", "B08205E074AFC5D6"),
        ("dkga04-sgc201457-krn1", "07", "87F3ECBB2E46B48F"),
    ];
    for (id, ea, want) in cases {
        let k = keys.iter().find(|k| k.id() == id).unwrap();
        let ident = MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            k.sgc(),
            "01".parse::<TariffIndex>().unwrap(),
            k.krn(),
            KeyType::Dutk,
        );
        let ea: EncryptionAlgorithm = ea.parse().unwrap();
        let dk = derive_decoder_key(&k.vending_key().unwrap(), &ident, k.base_date(), ea).unwrap();
        assert_eq!(keys_sample::hex::upper(dk.expose_bytes()), want, "{id}");
        assert!(k.source().contains("vectors/"), "{id}: source");
    }
    assert_eq!(keys[0].dkga(), Dkga::Dkga02);
}

#[test]
fn debug_leaves_the_key_out() {
    let keys = sample_vending_keys().unwrap();
    let text = format!("{keys:?}");
    assert!(!text.contains("ABAB"), "{text}");
    assert!(text.contains("public test key"));
}

#[test]
fn the_key_file_says_test_only() {
    let text = include_str!("../keys/sample-vending-keys.json");
    assert!(text.contains("TEST ONLY, NEVER FOR PRODUCTION"));
    let readme = include_str!("../keys/README.md");
    assert!(readme.contains("TEST ONLY"));
}
