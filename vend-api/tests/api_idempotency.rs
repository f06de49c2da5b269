//! Idempotent retries, conflicts, and re-issue of past tokens.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{PAN, digits, start, start_at};
use serde_json::json;

const CREDIT: &str = "/v1/meters/600727000000000009/tokens/credit";

/// Same key and body: the original tokens, marked as a replay, and no new TID. Same key and
/// another body: 409. Reordered keys and whitespace are the same body.
#[tokio::test]
async fn retry_returns_the_original_and_reuse_is_409() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let body = json!({"utility": "electricity", "unit": "kWh", "amount": "12.5"});
    let first = t
        .call("POST", CREDIT, Some(&k), Some("order-1"), Some(&body))
        .await;
    assert!(first.headers.get("idempotent-replayed").is_none());
    let first = first.expect(201);
    t.clock.advance(600);
    let again = t
        .call("POST", CREDIT, Some(&k), Some("order-1"), Some(&body))
        .await;
    assert_eq!(again.headers.get("idempotent-replayed").unwrap(), "true");
    assert_eq!(again.expect(201), first);

    // The same JSON written differently is the same request.
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(CREDIT)
        .header("authorization", format!("Bearer {k}"))
        .header("idempotency-key", "order-1")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            r#"{ "amount" : "12.5", "unit":"kWh",  "utility":"electricity" }"#,
        ))
        .unwrap();
    assert_eq!(t.send(req).await.expect(201), first);

    let other = json!({"utility": "electricity", "unit": "kWh", "amount": "13"});
    t.call("POST", CREDIT, Some(&k), Some("order-1"), Some(&other))
        .await
        .expect_error(409, "idempotency_key_reused", None);
    // The key is scoped to the API key: another client may use the same string.
    let k2 = t.key("vend").await;
    let b = t
        .call("POST", CREDIT, Some(&k2), Some("order-1"), Some(&other))
        .await
        .expect(201);
    assert_ne!(digits(&b, 0), digits(&first, 0));
    // Only two tokens exist.
    let list = t
        .get(&format!("/v1/meters/{PAN}/tokens"), &k)
        .await
        .expect(200);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
}

/// A refused request stores nothing under its idempotency key: fixing the request and
/// retrying with the same key works.
#[tokio::test]
async fn refused_requests_do_not_consume_the_key() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let big = json!({"utility": "electricity", "unit": "kWh", "amount": "9999999"});
    t.call("POST", CREDIT, Some(&k), Some("k-1"), Some(&big))
        .await
        .expect_error(422, "invalid_amount", Some("amount"));
    let ok = json!({"utility": "electricity", "unit": "kWh", "amount": "1"});
    t.call("POST", CREDIT, Some(&k), Some("k-1"), Some(&ok))
        .await
        .expect(201);
    t.call("POST", CREDIT, Some(&k), None, Some(&ok))
        .await
        .expect_error(400, "invalid_header", Some("Idempotency-Key"));
    t.call("POST", CREDIT, Some(&k), Some("has space"), Some(&ok))
        .await
        .expect_error(400, "invalid_header", Some("Idempotency-Key"));
}

/// Re-issue: a past token comes back with the same digits and TID, as a token and as part
/// of its issue, and the meter's token list pages newest first.
#[tokio::test]
async fn reissue_returns_the_same_digits() {
    let t = start(common::Opts {
        rnd5: false,
        ..Default::default()
    });
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let mut issued = Vec::new();
    for i in 0..3 {
        let b = t
            .credit(&k, PAN, "electricity", "kWh", &format!("{}", i + 1))
            .await
            .expect(201);
        issued.push(b);
    }
    let first = &issued[0];
    let id = first["tokens"][0]["token_id"].as_i64().unwrap();
    t.clock.advance(3600);
    let tok = t.get(&format!("/v1/tokens/{id}"), &k).await.expect(200);
    assert_eq!(tok["digits"], first["tokens"][0]["digits"]);
    assert_eq!(tok["tid"], first["tokens"][0]["tid"]);
    assert_eq!(tok["issued_at"], first["tokens"][0]["issued_at"]);
    let issue = t
        .get(&format!("/v1/issues/{}", first["issue_id"]), &k)
        .await
        .expect(200);
    assert_eq!(&issue, first);
    let page = t
        .get(&format!("/v1/meters/{PAN}/tokens?limit=2"), &k)
        .await
        .expect(200);
    let ids: Vec<i64> = page["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["token_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1]);
    let rest = t
        .get(
            &format!("/v1/meters/{PAN}/tokens?limit=2&before={}", ids[1]),
            &k,
        )
        .await
        .expect(200);
    assert_eq!(rest["tokens"][0]["token_id"], id);
    t.get("/v1/tokens/999999", &k)
        .await
        .expect_error(404, "unknown_token", None);
    t.get("/v1/tokens/abc", &k)
        .await
        .expect_error(422, "invalid_path", Some("token_id"));
    t.get(&format!("/v1/meters/{PAN}/tokens?limit=0"), &k)
        .await
        .expect_error(422, "out_of_range", Some("limit"));
    t.get(&format!("/v1/meters/{PAN}/tokens?colour=red"), &k)
        .await
        .expect_error(422, "invalid_query", Some("colour"));
    // Random RND: the digits of equal requests differ.
    assert_ne!(
        digits(&issued[1], 0),
        digits(
            &t.credit(&k, PAN, "electricity", "kWh", "2")
                .await
                .expect(201),
            0
        )
    );
}

vend_api_tests_on_postgres!(
    retry_returns_the_original_and_reuse_is_409,
    refused_requests_do_not_consume_the_key,
    reissue_returns_the_same_digits,
);
