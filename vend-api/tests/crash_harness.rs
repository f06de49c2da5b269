//! The crash harness itself, at a tiny size: `vend-crash` SIGKILLs the (debug) server a few
//! times under load and passes; then the checks it relies on are shown to catch a lost, an
//! altered and an unreported issue when the client log is doctored. The full runs are
//! `scripts/crash.sh` (release binary, 20+ kills).
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vend_api::harness::acklog::AckLog;
use vend_api::harness::check;
use vend_api::harness::client::Api;
use vend_api::harness::mix::Meters;

const SERVER: &str = env!("CARGO_BIN_EXE_vend-api");
const CRASH: &str = env!("CARGO_BIN_EXE_vend-crash");
const FIRST_DRN: u64 = 6_100_000_000;
const METERS: u64 = 40;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn server_env(db: &Path, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("VEND_DATABASE__PATH", db.display().to_string()),
        ("VEND_SERVER__LISTEN", format!("127.0.0.1:{port}")),
        ("VEND_KEYSTORE__BACKEND", "memory-sample".into()),
        ("VEND_LOG__FILTER", "warn".into()),
        ("VEND_AUTH__BURST", "1000000".into()),
        ("VEND_AUTH__RATE_PER_SEC", "1000000".into()),
    ]
}

fn serve(db: &Path, port: u16) -> Child {
    let mut c = Command::new(SERVER);
    c.arg("serve").stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in server_env(db, port) {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kills_are_survived_and_the_checks_catch_doctored_logs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.sqlite3");
    let out = Command::new(SERVER)
        .args(["apikey", "create", "--db"])
        .arg(&db)
        .args([
            "--name",
            "crash",
            "--scopes",
            "vend,meters,manage,key_change,audit",
        ])
        .args(["--rate", "1000000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let port = free_port();
    let cmd = server_env(&db, port)
        .into_iter()
        .fold(String::from("env"), |s, (k, v)| format!("{s} {k}={v}"))
        + &format!(" {SERVER} serve");
    let run = Command::new(CRASH)
        .args([
            "--server",
            &cmd,
            "--url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .args(["--kills", "3", "--seed", "11", "--concurrency", "4"])
        .args(["--meters", &METERS.to_string()])
        .args(["--first-drn", &FIRST_DRN.to_string()])
        .args(["--min-up", "300ms", "--max-up", "800ms"])
        .args(["--replays-per-restart", "6", "--final-replays", "200"])
        .arg("--dir")
        .arg(dir.path())
        .env("VEND_CRASH_KEY", &key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("vend-crash: PASS (seed 11)"), "{stdout}");
    assert_eq!(stdout.matches("restarted as pid").count(), 3, "{stdout}");

    // The ledger as the harness left it, served again, against the log as written...
    let mut server = serve(&db, port);
    let base = format!("http://127.0.0.1:{port}");
    let api = Api::new(key, 4, Duration::from_secs(10)).unwrap();
    assert!(api.wait_ready(&base, Duration::from_secs(30)).await);
    let meters = Meters::new(FIRST_DRN, METERS);
    let recs = AckLog::read(&dir.path().join("acks.jsonl")).unwrap();
    assert!(recs.len() > 20, "{} acks", recs.len());
    let ok = check::ledger(&api, &base, &meters, &recs, true)
        .await
        .unwrap();
    assert!(ok.failures.is_empty(), "{}", ok.summary());

    // ... and against doctored copies: altered digits, a token the ledger never issued, and
    // an issue the log does not report.
    let mut altered = recs.clone();
    let d = &mut altered[0].ack.tokens[0].digits;
    let last = if d.ends_with('0') { "1" } else { "0" };
    d.replace_range(19..20, last);
    let r = check::ledger(&api, &base, &meters, &altered, true)
        .await
        .unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("differs in the ledger")),
        "{}",
        r.summary()
    );
    let mut phantom = recs.clone();
    phantom[1].ack.tokens[0].token_id += 1_000_000;
    let r = check::ledger(&api, &base, &meters, &phantom, true)
        .await
        .unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("is not in the ledger")),
        "{}",
        r.summary()
    );
    let dropped: Vec<_> = recs
        .iter()
        .filter(|r| r.ack.issue_id != recs[2].ack.issue_id)
        .cloned()
        .collect();
    let r = check::ledger(&api, &base, &meters, &dropped, true)
        .await
        .unwrap();
    assert!(
        r.failures
            .iter()
            .any(|f| f.contains("which no acknowledged answer reported")),
        "{}",
        r.summary()
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
