//! Many concurrent vends through the router (so the writer forms multi-job batches): TIDs
//! stay unique and increasing per meter, refused jobs do not disturb their batch-mates, and
//! the audit chain stays intact.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{pan_from, start_at};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_vends_keep_tids_unique_and_increasing() {
    let t = Arc::new(start_at((2026, 6, 1, 12, 0)));
    let k = Arc::new(t.admin().await);
    let pans: Vec<String> = (0..5).map(|i| pan_from(9000 + i)).collect();
    for p in &pans {
        t.register(&k, p, "201457", 1, "04", 2014).await;
    }
    let unknown = pan_from(8888);
    let mut tasks = Vec::new();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..300usize {
        let (t, k) = (Arc::clone(&t), Arc::clone(&k));
        // Every tenth request is for an unregistered meter and must fail alone.
        let pan = if i % 10 == 9 {
            unknown.clone()
        } else {
            pans[i % 5].clone()
        };
        *expected.entry(pan.clone()).or_default() += 1;
        tasks.push(tokio::spawn(async move {
            let body = json!({"utility": "electricity", "unit": "kWh", "amount": "1"});
            let r = t
                .call(
                    "POST",
                    &format!("/v1/meters/{pan}/tokens/credit"),
                    Some(&k),
                    Some(&format!("c-{i}")),
                    Some(&body),
                )
                .await;
            (pan, r.status.as_u16(), r.body)
        }));
    }
    let mut by_meter: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    let (mut ok, mut missing) = (0, 0);
    for task in tasks {
        let (pan, status, body) = task.await.unwrap();
        match status {
            201 => {
                ok += 1;
                let tok = &body["tokens"][0];
                by_meter.entry(pan).or_default().push((
                    tok["token_id"].as_i64().unwrap(),
                    tok["tid"].as_u64().unwrap(),
                ));
            }
            404 => {
                assert_eq!(pan, unknown);
                missing += 1;
            }
            s => panic!("unexpected {s}: {body}"),
        }
    }
    assert_eq!((ok, missing), (270, 30));
    for (pan, mut toks) in by_meter {
        toks.sort();
        assert_eq!(toks.len(), expected[&pan], "{pan}");
        // In commit order (token id), TIDs strictly increase: unique and monotonic.
        assert!(toks.windows(2).all(|w| w[0].1 < w[1].1), "{pan}: {toks:?}");
    }
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    // 1 key + 5 meters + 270 tokens.
    assert_eq!(
        (v["ok"].as_bool(), v["entries"].as_i64()),
        (Some(true), Some(276)),
        "{v}"
    );
}

vend_api_tests_on_postgres!(concurrent_vends_keep_tids_unique_and_increasing);
