//! Meters: registration and its refusals, reads, replacement with history, low-credit
//! events.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{PAN, meter_body, pan_from, start_at};
use serde_json::json;

#[tokio::test]
async fn register_read_and_refusals() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.key("meters").await;
    let m = t
        .post(
            "/v1/meters",
            &k,
            &meter_body(PAN, "201457", 1, "04", 2014, "07", "ACC-9"),
        )
        .await
        .expect(201);
    assert_eq!(
        (
            m["pan"].as_str(),
            m["status"].as_str(),
            m["customer_ref"].as_str()
        ),
        (Some(PAN), Some("active"), Some("ACC-9"))
    );
    assert_eq!(
        m["key"],
        json!({"sgc": "201457", "ti": "01", "krn": 1, "kt": 2, "ea": "07", "dkga": "04", "base_date": 2014})
    );
    assert_eq!(t.get(&format!("/v1/meters/{PAN}"), &k).await.expect(200), m);
    t.post(
        "/v1/meters",
        &k,
        &meter_body(PAN, "201457", 1, "04", 2014, "07", "ACC-9"),
    )
    .await
    .expect_error(409, "meter_exists", None);

    let other = pan_from(123);
    let cases = [
        (
            meter_body("600727000000000008", "201457", 1, "04", 2014, "07", "A"),
            "invalid_pan",
            "pan",
        ),
        (
            meter_body("60072700000000000", "201457", 1, "04", 2014, "07", "A"),
            "invalid_pan",
            "pan",
        ),
        (
            meter_body(&other, "20145", 1, "04", 2014, "07", "A"),
            "out_of_range",
            "sgc",
        ),
        (
            meter_body(&other, "201457", 0, "04", 2014, "07", "A"),
            "out_of_range",
            "krn",
        ),
        (
            meter_body(&other, "201457", 1, "03", 2014, "07", "A"),
            "out_of_range",
            "dkga",
        ),
        (
            meter_body(&other, "201457", 1, "04", 2000, "07", "A"),
            "out_of_range",
            "base_date",
        ),
        (
            meter_body(&other, "201457", 1, "04", 2014, "08", "A"),
            "out_of_range",
            "ea",
        ),
        (
            meter_body(&other, "201457", 1, "02", 2014, "07", "A"),
            "key_attribute_mismatch",
            "dkga",
        ),
        (
            meter_body(&other, "201457", 1, "04", 1993, "07", "A"),
            "key_attribute_mismatch",
            "base_date",
        ),
        (
            meter_body(&other, "201457", 1, "04", 2014, "11", "A"),
            "key_attribute_mismatch",
            "ea",
        ),
        (
            meter_body(&other, "201457", 1, "04", 2014, "07", ""),
            "invalid_customer_ref",
            "customer_ref",
        ),
    ];
    for (body, code, field) in cases {
        t.post("/v1/meters", &k, &body)
            .await
            .expect_error(422, code, Some(field));
    }
    let b = t
        .post(
            "/v1/meters",
            &k,
            &meter_body(&other, "999999", 1, "04", 2014, "07", "A"),
        )
        .await
        .expect_error(422, "unknown_vending_key", None);
    assert_eq!(
        b["message"],
        "no vending key sgc999999-krn1-kt2 in the store"
    );
    let mut extra = meter_body(&other, "201457", 1, "04", 2014, "07", "A");
    extra["colour"] = json!("red");
    t.post("/v1/meters", &k, &extra)
        .await
        .expect_error(422, "invalid_field", Some("colour"));
    let mut missing = meter_body(&other, "201457", 1, "04", 2014, "07", "A");
    missing.as_object_mut().unwrap().remove("sgc");
    t.post("/v1/meters", &k, &missing)
        .await
        .expect_error(422, "invalid_field", Some("sgc"));
    let mut wrong = meter_body(&other, "201457", 1, "04", 2014, "07", "A");
    wrong["krn"] = json!("one");
    t.post("/v1/meters", &k, &wrong)
        .await
        .expect_error(422, "invalid_field", Some("krn"));
    t.get(&format!("/v1/meters/{other}"), &k)
        .await
        .expect_error(404, "unknown_meter", None);
    t.get("/v1/meters/123", &k)
        .await
        .expect_error(422, "invalid_pan", Some("pan"));
}

/// Replacement: the old meter is retired with its history, the new one takes the customer
/// reference, tokens to the old one are refused, and the customer's list shows both.
#[tokio::test]
async fn replace_keeps_history() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.post(
        "/v1/meters",
        &k,
        &meter_body(PAN, "201457", 1, "04", 2014, "07", "ACC-42"),
    )
    .await
    .expect(201);
    t.credit(&k, PAN, "electricity", "kWh", "5")
        .await
        .expect(201);
    let new_pan = pan_from(777);
    let body = json!({"new_pan": new_pan, "reason": "display broken",
        "key": {"sgc": "201457", "ti": "01", "krn": 1, "kt": 2, "ea": "07", "dkga": "04", "base_date": 2014}});
    let n = t
        .post(&format!("/v1/meters/{PAN}/replace"), &k, &body)
        .await
        .expect(201);
    assert_eq!(
        (
            n["pan"].as_str(),
            n["customer_ref"].as_str(),
            n["replaces"].as_str()
        ),
        (Some(new_pan.as_str()), Some("ACC-42"), Some(PAN))
    );
    let old = t.get(&format!("/v1/meters/{PAN}"), &k).await.expect(200);
    assert_eq!(
        (old["status"].as_str(), old["replaced_by"].as_str()),
        (Some("retired"), Some(new_pan.as_str()))
    );
    assert_eq!(old["retire_reason"], "display broken");
    let b = t
        .credit(&k, PAN, "electricity", "kWh", "5")
        .await
        .expect_error(409, "meter_retired", None);
    assert!(b["message"].as_str().unwrap().contains(&new_pan), "{b}");
    t.credit(&k, &new_pan, "electricity", "kWh", "5")
        .await
        .expect(201);
    // History kept: the old meter's tokens are still there.
    let old_tokens = t
        .get(&format!("/v1/meters/{PAN}/tokens"), &k)
        .await
        .expect(200);
    assert_eq!(old_tokens["tokens"].as_array().unwrap().len(), 1);
    let list = t
        .get("/v1/meters?customer_ref=ACC-42", &k)
        .await
        .expect(200);
    let pans: Vec<&str> = list["meters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["pan"].as_str().unwrap())
        .collect();
    assert_eq!(pans, [PAN, new_pan.as_str()]);
    // Replacing twice is refused; replacing with a taken PAN too.
    t.post(&format!("/v1/meters/{PAN}/replace"), &k, &body)
        .await
        .expect_error(409, "meter_retired", None);
    let mut taken = body.clone();
    taken["new_pan"] = json!(PAN);
    t.post(&format!("/v1/meters/{new_pan}/replace"), &k, &taken)
        .await
        .expect_error(409, "meter_exists", None);
    let audit = t.get("/v1/audit", &k).await.expect(200);
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"meter.replace"), "{actions:?}");
}

#[tokio::test]
async fn low_credit_events() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let url = format!("/v1/meters/{PAN}/events/low-credit");
    let b = t
        .post(
            &url,
            &k,
            &json!({"remaining": "4.5", "unit": "kWh", "reported_at": "2026-06-01T11:59:00Z"}),
        )
        .await
        .expect(202);
    assert!(b["event_id"].as_i64().unwrap() > 0);
    t.post(&url, &k, &json!({})).await.expect(202);
    t.post(&url, &k, &json!({"reported_at": "yesterday"}))
        .await
        .expect_error(422, "invalid_time", Some("reported_at"));
    t.post(&url, &k, &json!({"remaining": "lots"}))
        .await
        .expect_error(422, "invalid_amount", Some("remaining"));
    let vend = t.key("vend").await;
    t.post(&url, &vend, &json!({}))
        .await
        .expect_error(403, "forbidden", None);
}

vend_api_tests_on_postgres!(
    register_read_and_refusals,
    replace_keeps_history,
    low_credit_events,
);
