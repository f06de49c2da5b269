//! A key store that fails the way an unplugged HSM does: issuing answers 503 with a retry
//! hint (never 500), writes nothing, and a retry with the same Idempotency-Key succeeds once
//! the store is back.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{Opts, PAN, start};
use hsm_core::{
    DecoderKey, HsmError, KeyStore, MemoryStore, MeterIdentity, VendingKey, VendingKeyId,
    VendingKeyRecord,
};
use serde_json::json;

/// The sample store, with derivation failing while `down` is set.
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl KeyStore for Flaky {
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError> {
        self.inner.records()
    }
    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(HsmError::StorePoisoned);
        }
        self.inner.derive(id, meter)
    }
    fn import(&self, record: &VendingKeyRecord, key: VendingKey) -> Result<(), HsmError> {
        self.inner.import(record, key)
    }
    fn remove(&self, id: &VendingKeyId) -> Result<(), HsmError> {
        self.inner.remove(id)
    }
}

#[tokio::test]
async fn store_fault_is_503_and_retry_succeeds() {
    let store = Arc::new(Flaky {
        inner: vend_api::keystore::sample::store().unwrap(),
        down: AtomicBool::new(false),
    });
    let t = start(Opts {
        store: Some(store.clone()),
        ..Opts::default()
    });
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    store.down.store(true, Ordering::SeqCst);
    let body = json!({"utility": "electricity", "unit": "kWh", "amount": "3"});
    let uri = format!("/v1/meters/{PAN}/tokens/credit");
    let r = t
        .call("POST", &uri, Some(&k), Some("retry-me"), Some(&body))
        .await;
    assert_eq!(r.headers.get("retry-after").unwrap(), "30");
    let b = r.expect_error(503, "unavailable", None);
    assert!(
        b["message"]
            .as_str()
            .unwrap()
            .contains("retry in 30 s with the same Idempotency-Key"),
        "{b}"
    );
    let list = t
        .get(&format!("/v1/meters/{PAN}/tokens"), &k)
        .await
        .expect(200);
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0);
    store.down.store(false, Ordering::SeqCst);
    t.call("POST", &uri, Some(&k), Some("retry-me"), Some(&body))
        .await
        .expect(201);
}
