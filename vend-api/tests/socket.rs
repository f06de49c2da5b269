//! Through a real socket: the service on 127.0.0.1:0 with a webhook receiver beside it.
//! Covers vending over HTTP, the signed `token.issued` and `meter.low_credit` webhooks, a
//! retried delivery after a 500, and graceful shutdown.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{Opts, PAN, WEBHOOK_SECRET, start};
use serde_json::{Value, json};
use vend_api::config::WebhookConfig;

#[derive(Clone, Default)]
struct Received {
    hits: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    fail_first: Arc<Mutex<bool>>,
}

async fn hook(State(r): State<Received>, headers: HeaderMap, body: String) -> StatusCode {
    let mut fail = r.fail_first.lock().unwrap();
    r.hits.lock().unwrap().push((headers, body));
    if *fail {
        *fail = false;
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    StatusCode::OK
}

async fn wait_for(r: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    for _ in 0..200 {
        let hits = r.hits.lock().unwrap().clone();
        if hits.len() >= n {
            return hits;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "webhook receiver got {} of {n} deliveries",
        r.hits.lock().unwrap().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vend_over_a_socket_with_signed_webhooks() {
    // The webhook receiver.
    let received = Received {
        fail_first: Arc::new(Mutex::new(true)),
        ..Received::default()
    };
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook_listener.local_addr().unwrap();
    let hook_app = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(hook_listener, hook_app).await.unwrap() });

    let t = start(Opts {
        tweak: Some(Box::new(move |c| {
            c.webhook = Some(WebhookConfig {
                url: format!("http://{hook_addr}/hook"),
                secret_env: "TEST_WEBHOOK_SECRET".into(),
                max_attempts: 5,
                initial_backoff_ms: 1000,
                max_backoff_ms: 60_000,
                timeout_ms: 2000,
                poll_interval_ms: 20,
                include_digits: false,
            });
        })),
        ..Opts::default()
    });
    let key = t.admin().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = vend_api::app::build(&t.config, common::deps(&t)).unwrap();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let health: Value = client
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let r = client
        .get(format!("{base}/v1/meters/{PAN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{base}/v1/meters"))
        .bearer_auth(&key)
        .json(&common::meter_body(
            PAN, "201457", 1, "04", 2014, "07", "ACC-7",
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = client
        .post(format!("{base}/v1/meters/{PAN}/tokens/credit"))
        .bearer_auth(&key)
        .header("idempotency-key", "sock-1")
        .json(&json!({"utility": "electricity", "unit": "kWh", "amount": "10"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert!(r.headers().get("x-request-id").is_some());
    let issued: Value = r.json().await.unwrap();
    let digits = issued["tokens"][0]["digits"].as_str().unwrap().to_owned();
    assert_eq!(digits.len(), 20);

    // First delivery answered 500: retried after the backoff (1 s on the manual clock).
    let hits = wait_for(&received, 1).await;
    assert_eq!(hits.len(), 1);
    t.clock.advance(2);
    let hits = wait_for(&received, 2).await;
    let (headers, body) = &hits[1];
    assert_eq!(headers["x-vend-event"], "token.issued");
    assert_eq!(headers["x-vend-delivery"], hits[0].0["x-vend-delivery"]);
    let ts: i64 = headers["x-vend-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let want = vend_api::webhook::signature(WEBHOOK_SECRET.as_bytes(), ts, body.as_bytes());
    assert_eq!(headers["x-vend-signature"].to_str().unwrap(), want);
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["meter"], PAN);
    assert_eq!(payload["customer_ref"], "ACC-7");
    assert_eq!(
        payload["tokens"][0]["digits_masked"],
        format!("****-****-****-****-{}", &digits[16..])
    );
    assert!(
        !body.contains(&digits),
        "full digits in a webhook without include_digits"
    );

    // A head-end's low-credit report becomes a webhook too.
    let r = client
        .post(format!("{base}/v1/meters/{PAN}/events/low-credit"))
        .bearer_auth(&key)
        .json(&json!({"remaining": "2.5", "unit": "kWh"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let hits = wait_for(&received, 3).await;
    assert_eq!(hits[2].0["x-vend-event"], "meter.low_credit");
    let p: Value = serde_json::from_str(&hits[2].1).unwrap();
    assert_eq!(p["details"]["remaining"], "2.5");

    let metrics = client
        .get(format!("{base}/metrics"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"vend_webhook_deliveries_total{outcome="retry"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"vend_webhook_deliveries_total{outcome="delivered"} 2"#),
        "{metrics}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

vend_api_tests_on_postgres!(vend_over_a_socket_with_signed_webhooks);
