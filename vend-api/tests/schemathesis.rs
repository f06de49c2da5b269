//! Runs `scripts/schemathesis.sh`: schemathesis (Python, from PyPI) against the service's own
//! OpenAPI document, failing on any 5xx. Ignored by default because it needs python3 and,
//! on first use, PyPI:
//!
//! ```text
//! cargo test -p vend-api --test schemathesis -- --ignored
//! ```
// Tests may unwrap: a failing assertion is the point of a test.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
#[ignore = "needs python3 and schemathesis; run with --ignored"]
fn schemathesis_finds_no_server_errors() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/schemathesis.sh");
    let status = Command::new("bash").arg(script).status().unwrap();
    assert!(status.success(), "schemathesis.sh failed: {status}");
}
