//! Issuing through the real router, checked against published STS vectors
//! (`shared/sts/vectors/*.jsonl`: NectarAPI CTSA suites, STS 531-1-07 list) where they
//! exist, and against the brief's rules (rounding, TIDs, scopes) where they do not.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{PAN, digits, start_at};
use serde_json::json;

const CREDIT: &str = "/v1/meters/600727000000000009/tokens/credit";
const MGMT: &str = "/v1/meters/600727000000000009/tokens/management";
const ENG: &str = "/v1/meters/600727000000000009/tokens/engineering";

/// CTSA01 step 1 and 3 (dkga02_sta.jsonl: ctsa01-1, ctsa01-3): 0.1 kWh and 0.1 m³ on the
/// DKGA02 meter, RND 5.
#[tokio::test]
async fn credit_reproduces_ctsa01() {
    let t = start_at((2004, 3, 1, 13, 55));
    let k = t.admin().await;
    t.register(&k, PAN, "123456", 1, "02", 1993).await;
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "0.1")
        .await
        .expect(201);
    assert_eq!(digits(&b, 0), "23716100501183194197");
    assert_eq!(b["tokens"][0]["digits_grouped"], "2371 6100 5011 8319 4197");
    assert_eq!(b["tokens"][0]["tid"], 5_871_715);
    assert_eq!(b["tokens"][0]["base_date"], 1993);
    assert_eq!(b["summary"]["credit"]["credited"], "0.1");
    t.set_time(2004, 3, 1, 14, 5);
    let b = t.credit(&k, PAN, "water", "m3", "0.1").await.expect(201);
    assert_eq!(digits(&b, 0), "42502136492215507402");
}

/// CTSA10 (ctsa10-1, -4, -5, -9): amounts round up to the encodable value; the answer says
/// what the meter will credit.
#[tokio::test]
async fn credit_rounds_up_like_ctsa10() {
    let t = start_at((2004, 4, 1, 0, 30));
    let k = t.admin().await;
    t.register(&k, PAN, "123456", 1, "02", 1993).await;
    let cases = [
        ((0, 30), "25.6", "26456622012185850752", "25.6"),
        ((0, 45), "2000", "71997443697501228179", "2000.4"),
        ((0, 50), "18022.3", "58589277912776864555", "18022.4"),
        ((1, 54), "1820162.4", "42222423067848970276", "1820162.4"),
    ];
    for ((h, m), amount, want, credited) in cases {
        t.set_time(2004, 4, 1, h, m);
        let b = t
            .credit(&k, PAN, "electricity", "kWh", amount)
            .await
            .expect(201);
        assert_eq!(digits(&b, 0), want, "{amount}");
        assert_eq!(b["summary"]["credit"]["credited"], credited, "{amount}");
        assert_eq!(b["summary"]["credit"]["requested"], amount);
    }
}

/// Extra decimals round up (the customer never gets less), refusals are precise 422s.
#[tokio::test]
async fn amounts_round_up_and_bad_amounts_are_422() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "1.2345")
        .await
        .expect(201);
    assert_eq!(b["summary"]["credit"]["credited"], "1.3");
    let b = t.credit(&k, PAN, "time", "h", "1.5").await.expect(201);
    assert_eq!(b["summary"]["credit"]["credited_units"], "900");
    assert_eq!(b["tokens"][0]["subclass"], 3);
    let b = t.credit(&k, PAN, "gas", "m3", "0.05").await.expect(201);
    assert_eq!(b["summary"]["credit"]["credited"], "0.1");
    for (amount, code) in [
        ("0", "invalid_amount"),
        ("-1", "invalid_amount"),
        ("1820162.5", "invalid_amount"),
        ("1e3", "invalid_amount"),
        ("", "invalid_amount"),
    ] {
        t.credit(&k, PAN, "electricity", "kWh", amount)
            .await
            .expect_error(422, code, Some("amount"));
    }
    t.credit(&k, PAN, "water", "kWh", "1")
        .await
        .expect_error(422, "invalid_unit", Some("unit"));
    let r = t
        .issue(
            CREDIT,
            &k,
            &json!({"utility": "electricity", "unit": "kWh", "amount": 5}),
        )
        .await;
    let b = r.expect_error(422, "invalid_field", Some("amount"));
    assert!(
        b["message"].as_str().unwrap().contains("expected a string"),
        "{b}"
    );
    // Nothing was written by the refusals: only the three good tokens are listed.
    let list = t
        .get(&format!("/v1/meters/{PAN}/tokens"), &k)
        .await
        .expect(200);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 3);
}

/// STS 531-1-07 CTSA20 step 1 (currency.jsonl ctsa20-1): +1.00000 currency at TID 5 419 321
/// on the 2014 POS key; a debit needs the manage scope and rounds its magnitude down.
#[tokio::test]
async fn currency_credit_and_debit() {
    let t = start_at((2024, 4, 21, 10, 1));
    let admin = t.admin().await;
    let vend = t.key("vend").await;
    t.register(&admin, PAN, "201457", 1, "04", 2014).await;
    let b = t
        .credit(&vend, PAN, "electricity", "currency", "1")
        .await
        .expect(201);
    assert_eq!(digits(&b, 0), "42334201269947232996");
    assert_eq!(b["tokens"][0]["tid"], 5_419_321);
    assert_eq!(b["tokens"][0]["kind"], "currency_credit");
    assert_eq!(b["summary"]["credit"]["credited"], "1.00004");
    t.credit(&vend, PAN, "electricity", "currency", "-1")
        .await
        .expect_error(403, "forbidden", None);
    let b = t
        .credit(&admin, PAN, "electricity", "currency", "-1")
        .await
        .expect(201);
    assert_eq!(b["summary"]["credit"]["credited"], "-0.99994");
}

/// CTSA03, 04, 06, 07 (dkga02_sta.jsonl): management tokens reproduce; vend scope is refused.
#[tokio::test]
async fn management_tokens_reproduce_ctsa() {
    let t = start_at((2004, 3, 28, 9, 1));
    let admin = t.admin().await;
    t.register(&admin, PAN, "123456", 1, "02", 1993).await;
    let cases = [
        (
            (9, 1),
            json!({"function": "max_power_limit", "watts": 1000}),
            "50901894209860263092",
        ),
        (
            (9, 15),
            json!({"function": "clear_credit", "register": "all"}),
            "29511990995826640868",
        ),
        (
            (10, 0),
            json!({"function": "clear_tamper"}),
            "37037300014464855694",
        ),
        (
            (10, 20),
            json!({"function": "phase_unbalance_limit", "watts": 10}),
            "30220533115430798647",
        ),
    ];
    for ((h, m), body, want) in cases {
        t.set_time(2004, 3, 28, h, m);
        let b = t.issue(MGMT, &admin, &body).await.expect(201);
        assert_eq!(digits(&b, 0), want, "{body}");
        assert_eq!(b["tokens"][0]["class"], 2);
    }
    let vend = t.key("vend").await;
    t.issue(MGMT, &vend, &json!({"function": "clear_tamper"}))
        .await
        .expect_error(403, "forbidden", None);
    t.issue(MGMT, &admin, &json!({"function": "clear_credit"}))
        .await
        .expect_error(422, "missing_field", Some("register"));
    t.issue(
        MGMT,
        &admin,
        &json!({"function": "clear_tamper", "watts": 5}),
    )
    .await
    .expect_error(422, "unexpected_field", Some("watts"));
    t.issue(
        MGMT,
        &admin,
        &json!({"function": "tariff_rate", "value": 70000}),
    )
    .await
    .expect_error(422, "out_of_range", Some("value"));
    t.issue(MGMT, &admin, &json!({"function": "self_destruct"}))
        .await
        .expect_error(422, "invalid_field", Some("function"));
}

/// CTSA02 (ctsa02-1, ctsa02-2): class 1 meter test tokens (not encrypted).
#[tokio::test]
async fn engineering_tokens_reproduce_ctsa02() {
    let t = start_at((2004, 3, 1, 13, 55));
    let admin = t.admin().await;
    t.register(&admin, PAN, "123456", 1, "02", 1993).await;
    let b = t.issue(ENG, &admin, &json!({"function": "meter_test", "control": 68_719_476_735_i64, "manufacturer_code": "00"})).await.expect(201);
    assert_eq!(digits(&b, 0), "56493153725450313471");
    assert_eq!(
        (
            b["tokens"][0]["class"].as_u64(),
            b["tokens"][0]["tid"].is_null()
        ),
        (Some(1), true)
    );
    let b = t
        .issue(
            ENG,
            &admin,
            &json!({"function": "meter_test", "control": 268_435_455, "manufacturer_code": "0000"}),
        )
        .await
        .expect(201);
    assert_eq!(digits(&b, 0), "02305843005052951967");
    t.issue(
        ENG,
        &admin,
        &json!({"function": "meter_test", "control": 268_435_456_i64, "manufacturer_code": "0000"}),
    )
    .await
    .expect_error(422, "out_of_range", Some("control"));
}

/// TIDs: two tokens in one minute get successive minutes; the reserved minute 00:01 is
/// skipped (SPEC-codec §5.2, brief decision 4).
#[tokio::test]
async fn tids_are_unique_increasing_and_skip_the_reserved_minute() {
    let t = start_at((2026, 7, 29, 0, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let mut tids = Vec::new();
    for _ in 0..3 {
        let b = t
            .credit(&k, PAN, "electricity", "kWh", "1")
            .await
            .expect(201);
        tids.push(b["tokens"][0]["tid"].as_u64().unwrap());
    }
    // 00:00 → 6 612 480, then 00:01 is reserved, then 00:02, 00:03.
    assert_eq!(tids, [6_612_480, 6_612_482, 6_612_483]);
    // Management tokens share the meter's TID sequence.
    let b = t
        .issue(MGMT, &k, &json!({"function": "clear_tamper"}))
        .await
        .expect(201);
    assert_eq!(b["tokens"][0]["tid"], 6_612_484);
}

/// Past 2^24 − 1 minutes from its base date a key has no TIDs left: a 422 asking for a key
/// change (brief decision 4), never a wrap. A key whose credit window has closed is a 422
/// naming the window.
#[tokio::test]
async fn exhausted_tids_and_closed_key_windows_are_422() {
    let t = start_at((2026, 1, 1, 0, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "123457", 1, "04", 1993).await;
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect_error(422, "tid_exhausted", None);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("a key change to a later base date is required"),
        "{b}"
    );

    use hsm_core::{BaseDate, Dkga, EncryptionAlgorithm, KeyStore, MemoryStore, Window};
    use vend_api::keystore::sample;
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
    rec.credit_window = Window {
        from: None,
        until: Some(token_codec::UtcMinute::from_civil(2025, 1, 1, 0, 0).unwrap()),
    };
    store
        .import(&rec, sample::key(Dkga::Dkga04).unwrap())
        .unwrap();
    let t = common::start(common::Opts {
        store: Some(std::sync::Arc::new(store)),
        at: (2026, 1, 1, 0, 0),
        ..Default::default()
    });
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect_error(422, "key_window_closed", None);
    assert_eq!(
        b["message"],
        "vending key sgc201457-krn1-kt2 is not valid for credit issuance at 2026-01-01T00:00Z"
    );
}

/// Unknown meters are 404; bad PANs in the path name the field.
#[tokio::test]
async fn unknown_meter_and_bad_pan() {
    let t = start_at((2026, 1, 1, 0, 0));
    let k = t.admin().await;
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect_error(404, "unknown_meter", None);
    let b = t
        .credit(&k, "600727000000000008", "electricity", "kWh", "1")
        .await
        .expect_error(422, "invalid_pan", Some("pan"));
    assert_eq!(b["message"], "meter pan check digit: expected 9, got 8");
}

/// A meter holding a default key (DDTK) answers `ddtk` to credit (brief decision 12): vending
/// refuses credit with a 422 that says what to do, and still issues management tokens.
#[tokio::test]
async fn default_key_meters_get_no_credit() {
    use hsm_core::{BaseDate, Dkga, EncryptionAlgorithm, KeyStore, KeyType, MemoryStore};
    use vend_api::keystore::sample;
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
    rec.id.kt = KeyType::Ddtk;
    store
        .import(&rec, sample::key(Dkga::Dkga04).unwrap())
        .unwrap();
    let t = common::start(common::Opts {
        store: Some(std::sync::Arc::new(store)),
        ..Default::default()
    });
    let k = t.admin().await;
    let mut body = common::meter_body(PAN, "201457", 1, "04", 2014, "07", "ACC-D");
    body["kt"] = json!(1);
    t.post("/v1/meters", &k, &body).await.expect(201);
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect_error(422, "default_key", None);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("issue a key change first"),
        "{b}"
    );
    t.issue(MGMT, &k, &json!({"function": "clear_tamper"}))
        .await
        .expect(201);
}

vend_api_tests_on_postgres!(
    credit_reproduces_ctsa01,
    currency_credit_and_debit,
    management_tokens_reproduce_ctsa,
    tids_are_unique_increasing_and_skip_the_reserved_minute,
    exhausted_tids_and_closed_key_windows_are_422,
    unknown_meter_and_bad_pan,
    default_key_meters_get_no_credit,
);
