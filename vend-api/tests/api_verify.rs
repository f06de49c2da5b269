//! The support desk's verify endpoint: decoded content, refusal categories, ledger facts.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{Opts, PAN, digits, pan_from, start, start_at};
use hsm_core::{BaseDate, Dkga, EncryptionAlgorithm, KeyExpiryNumber, KeyStore, MemoryStore};
use serde_json::{Value, json};
use vend_api::keystore::sample;

const VERIFY: &str = "/v1/meters/600727000000000009/verify";

async fn verify(t: &common::TestApp, k: &str, d: &str) -> Value {
    t.post(VERIFY, k, &json!({"digits": d})).await.expect(200)
}

#[tokio::test]
async fn decodes_and_matches_the_ledger() {
    let t = start_at((2004, 3, 1, 13, 55));
    let k = t.admin().await;
    t.register(&k, PAN, "123456", 1, "02", 1993).await;
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "0.1")
        .await
        .expect(201);
    let v = verify(&t, &k, "2371 6100 5011 8319 4197").await;
    assert_eq!(v["accepted"], true, "{v}");
    assert!(v["category"].is_null());
    assert_eq!(v["token"]["kind"], "credit");
    assert_eq!(v["token"]["amount"], "0.1");
    assert_eq!(v["token"]["unit"], "kWh");
    assert_eq!(v["token"]["tid"], 5_871_715);
    assert_eq!(v["token"]["tid_time"], "2004-03-01T13:55Z");
    assert_eq!(v["ledger"]["issued_to_this_meter"], true);
    assert_eq!(v["ledger"]["token_id"], b["tokens"][0]["token_id"]);
    assert_eq!(v["ledger"]["issued_at"], "2004-03-01T13:55:00Z");
    assert_eq!(v["ledger"]["under_current_key"], true);

    // Mistyped: the last digit changed.
    let v = verify(&t, &k, "23716100501183194198").await;
    assert_eq!(
        (v["accepted"].as_bool(), v["category"].as_str()),
        (Some(false), Some("crc")),
        "{v}"
    );
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("not for this meter or mistyped")
    );
    assert_eq!(v["ledger"]["issued_to_this_meter"], false);
    // Not 20 digits, not a number, too large.
    for bad in [
        "2371610050118319419",
        "2371x100501183194197",
        "99999999999999999999",
    ] {
        let v = verify(&t, &k, bad).await;
        assert_eq!(v["category"], "format", "{bad}: {v}");
    }
    // Class 3 (bits 28, 27 set) has no function.
    let v = verify(&t, &k, &format!("{:020}", 3u64 << 27)).await;
    assert_eq!(v["category"], "function", "{v}");
    // A management token decodes too (CTSA06 clear tamper, made for this meter's key).
    let v = verify(&t, &k, "37037300014464855694").await;
    assert_eq!(
        (v["token"]["kind"].as_str(), v["token"]["value"].as_u64()),
        (Some("clear_tamper"), Some(0)),
        "{v}"
    );
    assert_eq!(v["ledger"]["issued_to_this_meter"], false);
}

/// A token made for one meter is a CRC failure on another, and the ledger says whose it is.
#[tokio::test]
async fn another_meters_token_is_crc_and_named() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let other = pan_from(4242);
    t.register(&k, &other, "201457", 1, "04", 2014).await;
    let b = t
        .credit(&k, &other, "electricity", "kWh", "3")
        .await
        .expect(201);
    let v = verify(&t, &k, &digits(&b, 0)).await;
    assert_eq!(v["category"], "crc", "{v}");
    assert_eq!(v["ledger"]["other_meters"], json!([other]));
    t.post(
        "/v1/meters/600727000000000008/verify",
        &k,
        &json!({"digits": "1"}),
    )
    .await
    .expect_error(422, "invalid_pan", Some("pan"));
    t.post(
        &format!("/v1/meters/{}/verify", pan_from(1)),
        &k,
        &json!({"digits": "1"}),
    )
    .await
    .expect_error(404, "unknown_meter", None);
}

/// STS 531-1-07 CTSA01 on the POS key (pos-ctsa01-1, TID 85 740: high byte 1) under a key
/// whose expiry number is 0: the meter would answer "key expired".
#[tokio::test]
async fn key_expired_is_reported() {
    let store = MemoryStore::new();
    let mut rec = sample::record(
        201_457,
        1,
        Dkga::Dkga04,
        EncryptionAlgorithm::Sta,
        BaseDate::Y2014,
        false,
    )
    .unwrap();
    rec.ken = KeyExpiryNumber::new(0);
    store
        .import(&rec, sample::key(Dkga::Dkga04).unwrap())
        .unwrap();
    let t = start(Opts {
        store: Some(Arc::new(store)),
        at: (2014, 3, 1, 13, 0),
        ..Opts::default()
    });
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let v = verify(&t, &k, "70630503470028726114").await;
    assert_eq!(
        (v["accepted"].as_bool(), v["category"].as_str()),
        (Some(false), Some("key_expired")),
        "{v}"
    );
    assert_eq!(v["token"]["tid"], 85_740);
    assert_eq!(
        v["message"],
        "key expired: tid high byte 1 > key expiry number 0"
    );
    // Vending refuses the same TID range too.
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect_error(422, "key_expired", None);
}

vend_api_tests_on_postgres!(decodes_and_matches_the_ledger);
