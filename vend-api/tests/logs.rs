//! The real binary at debug log level: logs are structured (JSON, with a request id) and
//! carry neither full token digits nor API key secrets.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_vend-api");
const PAN: &str = "600727000000000009";

#[tokio::test]
async fn logs_hold_no_digits_and_no_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("logs.sqlite3");
    let db = db.to_str().unwrap();
    let out = Command::new(BIN)
        .args([
            "apikey",
            "create",
            "--db",
            db,
            "--name",
            "logs",
            "--scopes",
            "vend,meters",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("VEND_DATABASE__PATH", db)
        .env("VEND_SERVER__LISTEN", format!("127.0.0.1:{port}"))
        .env("VEND_LOG__FILTER", "debug")
        .env("VEND_LOG__FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "server did not start");
    let meter = json!({"pan": PAN, "customer_ref": "LOG-1", "sgc": "201457", "ti": "01", "krn": 1, "kt": 2, "ea": "07", "dkga": "04", "base_date": 2014});
    let r = client
        .post(format!("{base}/v1/meters"))
        .bearer_auth(&key)
        .json(&meter)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let mut digits = Vec::new();
    for i in 0..3 {
        let r = client
            .post(format!("{base}/v1/meters/{PAN}/tokens/credit"))
            .bearer_auth(&key)
            .header("idempotency-key", format!("log-{i}"))
            .json(&json!({"utility": "electricity", "unit": "kWh", "amount": "5"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let b: Value = r.json().await.unwrap();
        digits.push(b["tokens"][0]["digits"].as_str().unwrap().to_owned());
    }
    let v: Value = client
        .post(format!("{base}/v1/meters/{PAN}/verify"))
        .bearer_auth(&key)
        .json(&json!({"digits": digits[0]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["accepted"], true);
    // A bad key in a request is not logged either.
    let _ = client
        .get(format!("{base}/v1/meters/{PAN}"))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();

    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    let secret = &key[20..];
    assert!(logs.contains("tokens issued"), "{logs}");
    assert!(logs.contains("request_id"), "{logs}");
    for d in &digits {
        assert!(!logs.contains(d.as_str()), "full digits {d} in the logs");
        assert!(
            logs.contains(&format!("****-****-****-****-{}", &d[16..])),
            "masked digits missing"
        );
    }
    assert!(!logs.contains(secret), "api key secret in the logs");
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
}
