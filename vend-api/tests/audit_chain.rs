//! The audit chain: every write appends an entry without digits; `vend-api audit verify`
//! passes on an intact chain and names the first bad entry after tampering.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::Command;

use common::{PAN, digits, start_at};
use serde_json::json;

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vend-api"))
        .args(args)
        .env_remove("VEND_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn chain_verifies_and_tampering_is_named() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let mut all_digits = Vec::new();
    for amount in ["1", "2", "3"] {
        let b = t
            .credit(&k, PAN, "electricity", "kWh", amount)
            .await
            .expect(201);
        all_digits.push(digits(&b, 0));
    }
    let b = t
        .issue(
            &format!("/v1/meters/{PAN}/tokens/management"),
            &k,
            &json!({"function": "clear_tamper"}),
        )
        .await
        .expect(201);
    all_digits.push(digits(&b, 0));

    let page = t.get("/v1/audit?limit=1000", &k).await.expect(200);
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "apikey.create",
            "meter.register",
            "token.credit",
            "token.credit",
            "token.credit",
            "token.management"
        ]
    );
    assert!(
        entries
            .iter()
            .skip(1)
            .all(|e| e["actor"].as_str().unwrap().starts_with("test-"))
    );
    let text = serde_json::to_string(&page).unwrap();
    for d in &all_digits {
        assert!(!text.contains(d.as_str()), "audit log holds digits {d}");
        assert!(!text.contains(&d[..10]), "audit log holds part of {d}");
    }
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], i + 1);
        if i > 0 {
            assert_eq!(e["prev_hash"], entries[i - 1]["hash"]);
        }
    }
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    assert_eq!(
        (v["ok"].as_bool(), v["entries"].as_i64()),
        (Some(true), Some(6)),
        "{v}"
    );

    let db = t.config.database.path.to_str().unwrap().to_owned();
    let (code, out, err) = cli(&["audit", "verify", "--db", &db]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("audit chain ok: 6 entries, head "), "{out}");

    // Tamper with entry 4 behind the service's back (dropping the append-only trigger).
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_log_append_only_u")
        .unwrap();
    conn.execute(
        "UPDATE audit_log SET details = replace(details, '\"tid\"', '\"tix\"') WHERE seq = 4",
        [],
    )
    .unwrap();
    let (code, _, err) = cli(&["audit", "verify", "--db", &db]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("audit entry seq 4: content does not match its hash"),
        "{err}"
    );
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    assert_eq!(
        (v["ok"].as_bool(), v["first_bad_seq"].as_i64()),
        (Some(false), Some(4)),
        "{v}"
    );

    // A deleted entry is a gap at the next one.
    conn.execute_batch("DROP TRIGGER audit_log_append_only_d")
        .unwrap();
    conn.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    let (code, _, err) = cli(&["audit", "verify", "--db", &db]);
    assert_eq!(code, 2);
    assert!(
        err.contains("audit entry seq 3: sequence gap, expected seq 2"),
        "{err}"
    );

    let (code, _, err) = cli(&["audit", "verify", "--db", "/nonexistent/x.sqlite3"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn cli_migrate_and_apikey_create() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.sqlite3");
    let db = db.to_str().unwrap();
    let (code, out, err) = cli(&["migrate", "--db", db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied migrations [1]"), "{out}");
    let (code, out, _) = cli(&["migrate", "--db", db]);
    assert_eq!((code, out.contains("schema up to date")), (0, true));
    let (code, out, err) = cli(&[
        "apikey",
        "create",
        "--name",
        "pos-1",
        "--scopes",
        "vend,meters",
        "--db",
        db,
    ]);
    assert_eq!(code, 0, "{err}");
    let key = out.trim();
    assert!(
        vend_api::apikey::PresentedKey::parse(key).is_some(),
        "{key}"
    );
    let (code, _, err) = cli(&[
        "apikey", "create", "--name", "pos-1", "--scopes", "vend", "--db", db,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("an api key named \"pos-1\" exists"), "{err}");
    let (code, _, err) = cli(&[
        "apikey", "create", "--name", "x", "--scopes", "admin", "--db", db,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown scope \"admin\""), "{err}");
    let (code, out, _) = cli(&["apikey", "list", "--db", db]);
    assert_eq!(code, 0);
    assert!(
        out.contains("pos-1") && out.contains("vend,meters") && !out.contains(&key[20..]),
        "{out}"
    );
    // The database stores only the hash of the secret.
    let conn = rusqlite::Connection::open(db).unwrap();
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM api_keys WHERE instr(public_id || name || scopes, ?1) > 0",
            [&key[20..]],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 0);
    let (code, out, _) = cli(&["audit", "verify", "--db", db]);
    assert_eq!(code, 0);
    assert!(out.starts_with("audit chain ok: 1 entries"), "{out}");
}
