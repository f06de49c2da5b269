//! Key change sets through the real router: published sets (CTSA05, CTSA26, MISTY1 CTSA05),
//! the 2024 rollover with a credit token under the new key, and atomicity (a set whose
//! credit fails writes nothing).
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use common::{Opts, PAN, digits, start, start_at};
use hsm_core::{BaseDate, Dkga, EncryptionAlgorithm, KeyStore, MemoryStore};
use serde_json::{Value, json};
use token_codec::{Tid, UtcMinute};
use vend_api::keystore::sample;

const KC: &str = "/v1/meters/600727000000000009/tokens/key-change";

fn all_digits(b: &Value) -> Vec<String> {
    b["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["digits"].as_str().unwrap().to_owned())
        .collect()
}

/// CTSA05 step 1 (dkga02_sta.jsonl ctsa05-1): TI 01 → 02 under the DKGA02 key. The meter's
/// key moves; later credit is made under the new key and verifies with it.
#[tokio::test]
async fn ctsa05_pair_and_the_meter_moves_to_the_new_key() {
    let t = start_at((2004, 3, 1, 14, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123456", 1, "02", 1993).await;
    let b = t
        .issue(
            KC,
            &k,
            &json!({"to": {"sgc": "123456", "ti": "02", "krn": 1}}),
        )
        .await
        .expect(201);
    assert_eq!(
        all_digits(&b),
        ["51638423060042734509", "15361891762113502242"]
    );
    let kinds: Vec<&str> = b["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["key_change_1", "key_change_2"]);
    assert_eq!(b["summary"]["key_change"]["rollover"], false);
    assert_eq!(b["summary"]["key_change"]["from"]["ti"], "01");
    assert_eq!(b["summary"]["key_change"]["to"]["ti"], "02");
    let m = t.get(&format!("/v1/meters/{PAN}"), &k).await.expect(200);
    assert_eq!(m["key"]["ti"], "02");
    assert!(m["key_changed_at"].is_string());
    let c = t
        .credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    let v = t
        .post(
            &format!("/v1/meters/{PAN}/verify"),
            &k,
            &json!({"digits": digits(&c, 0)}),
        )
        .await
        .expect(200);
    assert_eq!(v["accepted"], true, "{v}");
    // The old-key credit token (CTSA01) no longer verifies for this meter.
    let v = t
        .post(
            &format!("/v1/meters/{PAN}/verify"),
            &k,
            &json!({"digits": "23716100501183194197"}),
        )
        .await
        .expect(200);
    assert_eq!(v["category"], "crc");
}

/// CTSA26 (dkga04.jsonl ctsa26-p1): base date 2014 → 2035, RO = 1.
#[tokio::test]
async fn ctsa26_rollover_to_2035() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 4, "04", 2014).await;
    let b = t
        .issue(
            KC,
            &k,
            &json!({"to": {"sgc": "123457", "ti": "01", "krn": 5, "base_date": 2035}}),
        )
        .await
        .expect(201);
    assert_eq!(
        all_digits(&b),
        ["44163577485799480640", "26556810679164981397"]
    );
    assert_eq!(b["summary"]["key_change"]["rollover"], true);
    assert_eq!(b["summary"]["key_change"]["to"]["base_date"], 2035);
}

/// The 2024 rollover: a 1993 meter gets the key change pair and a credit token under the
/// 2014 key in one issue; TIDs continue from the 2014 base date.
#[tokio::test]
async fn rollover_with_credit_issues_three_tokens_atomically() {
    let t = start_at((2024, 11, 1, 9, 30));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 1, "04", 1993).await;
    let body = json!({"to": {"sgc": "123457", "ti": "01", "krn": 4}, "credit": {"utility": "electricity", "unit": "kWh", "amount": "10"}});
    let b = t.issue(KC, &k, &body).await.expect(201);
    assert_eq!(b["tokens"].as_array().unwrap().len(), 3);
    assert_eq!(b["tokens"][2]["kind"], "credit");
    assert_eq!(b["tokens"][2]["base_date"], 2014);
    let at = UtcMinute::from_civil(2024, 11, 1, 9, 30).unwrap();
    assert_eq!(
        b["tokens"][2]["tid"],
        Tid::for_issue(at, BaseDate::Y2014).unwrap().get()
    );
    assert_eq!(b["summary"]["key_change"]["rollover"], true);
    assert_eq!(b["summary"]["credit"]["credited"], "10.0");
    // The credit token decodes under the meter's new key.
    let v = t
        .post(
            &format!("/v1/meters/{PAN}/verify"),
            &k,
            &json!({"digits": digits(&b, 2)}),
        )
        .await
        .expect(200);
    assert_eq!(
        (v["accepted"].as_bool(), v["token"]["amount"].as_str()),
        (Some(true), Some("10.0")),
        "{v}"
    );
    assert_eq!(v["ledger"]["issued_to_this_meter"], true);
    // The next credit continues the 2014 sequence.
    let c = t
        .credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    assert_eq!(
        c["tokens"][0]["tid"].as_u64().unwrap(),
        b["tokens"][2]["tid"].as_u64().unwrap() + 1
    );
}

/// Key change + credit is one transaction: a credit the new key cannot carry (2035 key
/// before 2035) fails the whole request, and the meter keeps its key with no tokens written.
#[tokio::test]
async fn key_change_with_failing_credit_writes_nothing() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 4, "04", 2014).await;
    let body = json!({"to": {"sgc": "123457", "ti": "01", "krn": 5}, "credit": {"utility": "electricity", "unit": "kWh", "amount": "10"}});
    t.issue(KC, &k, &body)
        .await
        .expect_error(422, "before_base_date", None);
    let m = t.get(&format!("/v1/meters/{PAN}"), &k).await.expect(200);
    assert_eq!(
        (m["key"]["krn"].as_u64(), m["key"]["base_date"].as_u64()),
        (Some(4), Some(2014))
    );
    assert!(m["key_changed_at"].is_null());
    let list = t
        .get(&format!("/v1/meters/{PAN}/tokens"), &k)
        .await
        .expect(200);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0);
    let audit = t.get("/v1/audit", &k).await.expect(200);
    assert!(
        audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] != "token.key_change"),
        "{audit}"
    );
}

/// MISTY1 CTSA05 (misty1.jsonl m-ctsa05-p1): a 128-bit key's set has 4 tokens; its credit
/// vector m-p1-bd93-1 reproduces too.
#[tokio::test]
async fn misty1_four_token_set() {
    let store = MemoryStore::new();
    let rec = sample::record(
        123_457,
        1,
        Dkga::Dkga04,
        EncryptionAlgorithm::Misty1,
        BaseDate::Y1993,
        false,
    )
    .unwrap();
    store
        .import(&rec, sample::key(Dkga::Dkga04).unwrap())
        .unwrap();
    let t = start(Opts {
        store: Some(Arc::new(store)),
        at: (2004, 3, 1, 13, 0),
        ..Opts::default()
    });
    let k = t.admin().await;
    t.post(
        "/v1/meters",
        &k,
        &common::meter_body(PAN, "123457", 1, "04", 1993, "11", "ACC-M"),
    )
    .await
    .expect(201);
    let c = t
        .credit(&k, PAN, "electricity", "kWh", "0.1")
        .await
        .expect(201);
    assert_eq!(digits(&c, 0), "59386323472137426967");
    let b = t
        .issue(
            KC,
            &k,
            &json!({"to": {"sgc": "123457", "ti": "02", "krn": 1}}),
        )
        .await
        .expect(201);
    assert_eq!(
        all_digits(&b),
        [
            "34812744915211133004",
            "46903925208523674737",
            "71464563847088610152",
            "67904239402617643990"
        ]
    );
    let subs: Vec<u64> = b["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subclass"].as_u64().unwrap())
        .collect();
    assert_eq!(subs, [3, 4, 8, 9]);
}

/// A 64-bit key with `sgc_token` gets the 3-token set; refusals are 4xx.
#[tokio::test]
async fn three_token_set_and_refusals() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 4, "04", 2014).await;
    let b = t
        .issue(
            KC,
            &k,
            &json!({"to": {"sgc": "201457", "ti": "01", "krn": 1}, "sgc_token": true}),
        )
        .await
        .expect(201);
    let subs: Vec<u64> = b["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["subclass"].as_u64().unwrap())
        .collect();
    assert_eq!(subs, [3, 4, 8]);
    assert_eq!(b["summary"]["key_change"]["key_change_tokens"], 3);
    t.issue(
        KC,
        &k,
        &json!({"to": {"sgc": "201457", "ti": "01", "krn": 1}}),
    )
    .await
    .expect_error(422, "same_key", Some("to"));
    t.issue(
        KC,
        &k,
        &json!({"to": {"sgc": "999999", "ti": "01", "krn": 1}}),
    )
    .await
    .expect_error(422, "unknown_vending_key", None);
    t.issue(
        KC,
        &k,
        &json!({"to": {"sgc": "201457", "ti": "01", "krn": 10}}),
    )
    .await
    .expect_error(422, "out_of_range", Some("to.krn"));
    t.issue(KC, &k, &json!({"to": {"sgc": "123457", "ti": "01", "krn": 4}, "credit": {"utility": "electricity", "unit": "kWh", "amount": "-1"}}))
        .await
        .expect_error(422, "invalid_amount", Some("credit.amount"));
    let vend = t.key("vend").await;
    t.issue(
        KC,
        &vend,
        &json!({"to": {"sgc": "123457", "ti": "01", "krn": 4}}),
    )
    .await
    .expect_error(403, "forbidden", None);
}

/// A base date can only move to the next one.
#[tokio::test]
async fn base_date_jump_is_refused() {
    let t = start_at((2024, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 1, "04", 1993).await;
    let b = t
        .issue(
            KC,
            &k,
            &json!({"to": {"sgc": "123457", "ti": "01", "krn": 5}}),
        )
        .await
        .expect_error(422, "key_change_refused", None);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("only to the next base date"),
        "{b}"
    );
}

vend_api_tests_on_postgres!(
    ctsa05_pair_and_the_meter_moves_to_the_new_key,
    ctsa26_rollover_to_2035,
    rollover_with_credit_issues_three_tokens_atomically,
    key_change_with_failing_credit_writes_nothing,
    three_token_set_and_refusals,
);
