//! The PostgreSQL ledger beyond the shared behaviour tests (those run on both backends
//! through `vend_api_tests_on_postgres!`): two instances on one database, a mint refusal
//! inside a batch, migrations racing, webhook claims across instances, a lost and a
//! refused connection, and the command line against a `postgres://` URL. Each test gets a
//! fresh database on the test binary's throwaway cluster (`common::pg`).
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use common::{Opts, PAN, TestApp, pan_from, pg, start};
use hsm_core::{
    DecoderKey, HsmError, KeyStore, MemoryStore, MeterIdentity, MeterPan, VendingKey, VendingKeyId,
    VendingKeyRecord,
};
use serde_json::{Value, json};
use tower::ServiceExt;
use vend_api::app::{self, App};
use vend_api::clock::Clock;
use vend_api::config::WebhookConfig;

/// A service on a fresh PostgreSQL database.
fn start_pg(mut o: Opts) -> TestApp {
    let inner = o.tweak.take();
    o.tweak = Some(Box::new(move |c| {
        c.database.backend = "postgres".into();
        c.database.url = Some(pg::fresh_database());
        c.database.pool_size = 4;
        if let Some(t) = inner {
            t(c);
        }
    }));
    o.rnd5 = false;
    start(o)
}

/// A second instance on the same database (its own pools and writer).
fn second(t: &TestApp) -> App {
    app::build(&t.config, common::deps(t)).unwrap()
}

/// Webhooks configured (so outbox rows are written) but never delivered: no dispatcher
/// runs in a router-only test.
fn with_outbox(c: &mut vend_api::config::Config) {
    c.webhook = Some(WebhookConfig {
        url: "http://127.0.0.1:9/hook".into(),
        secret_env: "TEST_WEBHOOK_SECRET".into(),
        max_attempts: 5,
        initial_backoff_ms: 1000,
        max_backoff_ms: 60_000,
        timeout_ms: 2000,
        poll_interval_ms: 1000,
        include_digits: false,
    });
}

async fn post(
    router: &Router,
    key: &str,
    uri: &str,
    idem: &str,
    body: &Value,
) -> (u16, Value, bool) {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header("authorization", format!("Bearer {key}"))
        .header("idempotency-key", idem)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = router.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let replayed = resp.headers().get("idempotent-replayed").is_some();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&bytes).unwrap(), replayed)
}

async fn count(db: &tokio_postgres::Client, sql: &str) -> i64 {
    db.query_one(sql, &[]).await.unwrap().get(0)
}

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

/// Two instances hammer three meters at once: hundreds of vends, most idempotency keys sent
/// to both instances together, some reused with another body on the other instance. No
/// (meter, base date, TID) is issued twice, every key is issued once and every retry got the
/// same digits, and the audit chain verifies from either instance and the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_double_issue() {
    // Small batches and two writers per instance: many transactions in flight at once, so
    // the instances' jobs interleave at the meter locks, the idempotency constraint and the
    // chain head (one big batch per instance would simply queue behind the other).
    let a = start_pg(Opts {
        tweak: Some(Box::new(|c| {
            c.database.batch_max = 4;
            c.database.writers = 2;
        })),
        ..Opts::default()
    });
    let b = second(&a);
    let key = a.admin().await;
    // Three hot meters, and six more for the keys reused across meters. Those sort first,
    // so their locks are taken before a batch queues on a hot meter.
    let pans: Vec<String> = (0..3).map(|i| pan_from(7100 + i)).collect();
    let cross: Vec<String> = (0..6).map(|i| pan_from(7000 + i)).collect();
    for p in pans.iter().chain(&cross) {
        a.register(&key, p, "201457", 1, "04", 2014).await;
    }
    let routers = [a.router.clone(), b.router()];
    let body = |amount: u32| json!({"utility": "electricity", "unit": "kWh", "amount": amount.to_string()});

    // kind 0: the same request to both instances; 1: the key reused on the other instance
    // for another meter (another request: the loser gets 409; the two lock different
    // meters, so the idempotency constraint decides the race); 2: a single request to one
    // instance.
    let mut tasks = Vec::new();
    for i in 0..360u32 {
        let kind = i % 3;
        let idem = format!("k-{i}");
        let meter = (i / 3 % 3) as usize;
        let c = (i / 3 % 3) as usize;
        let sends: Vec<(usize, &String)> = match kind {
            0 => vec![(0, &pans[meter]), (1, &pans[meter])],
            1 => vec![(1, &cross[c]), (0, &cross[c + 3])],
            _ => vec![((i / 3 % 2) as usize, &pans[meter])],
        };
        for (instance, pan) in sends {
            let pan = pan.clone();
            let uri = format!("/v1/meters/{pan}/tokens/credit");
            let body = body(1 + i % 5);
            let (router, key, idem) = (routers[instance].clone(), key.clone(), idem.clone());
            tasks.push(tokio::spawn(async move {
                let (status, body, replayed) = post(&router, &key, &uri, &idem, &body).await;
                (kind, idem, pan, status, body, replayed)
            }));
        }
    }
    let mut by_key: BTreeMap<String, Vec<(u32, u16, Value, bool)>> = BTreeMap::new();
    let mut pan_of_key = BTreeMap::new();
    for task in tasks {
        let (kind, idem, pan, status, body, replayed) = task.await.unwrap();
        if status == 201 {
            pan_of_key.insert(idem.clone(), pan);
        }
        by_key
            .entry(idem)
            .or_default()
            .push((kind, status, body, replayed));
    }
    // token id → (meter, TID); every key issued once.
    let mut tokens: BTreeMap<i64, (String, u64)> = BTreeMap::new();
    for (idem, answers) in &by_key {
        let ok: Vec<&(u32, u16, Value, bool)> = answers.iter().filter(|a| a.1 == 201).collect();
        match answers[0].0 {
            0 => {
                assert_eq!(ok.len(), 2, "{idem}: {answers:?}");
                assert_eq!(ok[0].2, ok[1].2, "{idem}: a retry got other digits");
                assert_eq!(
                    ok.iter().filter(|a| a.3).count(),
                    1,
                    "{idem}: exactly one answer is the replay"
                );
            }
            1 => {
                assert_eq!(ok.len(), 1, "{idem}: {answers:?}");
                let refused: Vec<_> = answers.iter().filter(|a| a.1 != 201).collect();
                assert_eq!(refused.len(), 1, "{idem}: {answers:?}");
                assert_eq!(
                    (refused[0].1, refused[0].2["code"].as_str()),
                    (409, Some("idempotency_key_reused"))
                );
            }
            _ => assert_eq!(ok.len(), 1, "{idem}: {answers:?}"),
        }
        let tok = &ok[0].2["tokens"][0];
        let id = tok["token_id"].as_i64().unwrap();
        let tid = tok["tid"].as_u64().unwrap();
        if let Some(prev) = tokens.insert(id, (pan_of_key[idem].clone(), tid)) {
            panic!("token {id} answered for two keys: {prev:?}");
        }
    }
    assert_eq!(tokens.len(), 360);
    let mut seen = BTreeSet::new();
    let mut last: BTreeMap<&str, u64> = BTreeMap::new();
    for (pan, tid) in tokens.values() {
        assert!(
            seen.insert((pan.clone(), *tid)),
            "TID {tid} issued twice to {pan}"
        );
        // In token id (commit) order, TIDs increase per meter.
        let l = last.entry(pan.as_str()).or_insert(0);
        assert!(*tid > *l, "{pan}: TID {tid} after {l}");
        *l = *tid;
    }

    let db = pg::client(a.config.database.url.as_deref().unwrap()).await;
    assert_eq!(count(&db, "SELECT count(*) FROM issues").await, 360);
    assert_eq!(count(&db, "SELECT count(*) FROM tokens").await, 360);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM (SELECT 1 FROM tokens GROUP BY meter_id, base_date, tid \
             HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    // 1 key + 9 meters + 360 issues, from either instance.
    for router in &routers {
        let req = Request::builder()
            .uri("/v1/audit/verify")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let resp = router.clone().oneshot(req).await.unwrap();
        let v: Value = serde_json::from_slice(
            &axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            (v["ok"].as_bool(), v["entries"].as_i64()),
            (Some(true), Some(370)),
            "{v}"
        );
    }
    let url = a.config.database.url.clone().unwrap();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || cli(&["audit", "verify", "--db", &url]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("audit chain ok: 370 entries, head "),
        "{out}"
    );
}

/// Row counts a failed vend must not change (and the failing meter's last TID).
async fn snapshot(db: &tokio_postgres::Client) -> Vec<i64> {
    let mut out = Vec::new();
    for q in [
        "SELECT count(*) FROM issues",
        "SELECT count(*) FROM tokens",
        "SELECT count(*) FROM audit_log",
        "SELECT count(*) FROM webhook_outbox",
        "SELECT coalesce(sum(last_tid), 0)::bigint FROM tid_state t \
         JOIN meters m ON m.id = t.meter_id WHERE m.pan = '600727000000000009'",
    ] {
        out.push(count(db, q).await);
    }
    out
}

/// The sample store, with derivation failing for one meter while `down` is set.
struct FailsFor {
    inner: MemoryStore,
    pan: MeterPan,
    down: AtomicBool,
}

impl KeyStore for FailsFor {
    fn records(&self) -> Result<Vec<VendingKeyRecord>, HsmError> {
        self.inner.records()
    }
    fn derive(&self, id: &VendingKeyId, meter: &MeterIdentity) -> Result<DecoderKey, HsmError> {
        if self.down.load(Ordering::SeqCst) && *meter.pan() == self.pan {
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

/// A key store fault inside the transaction is a clean 503 and leaves no row of its own:
/// no issue, token, TID state, audit entry or outbox row, while vends to another meter in
/// the same batches commit. A retry with the same key succeeds once the store is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mint_refusal_leaves_no_rows() {
    let store = Arc::new(FailsFor {
        inner: vend_api::keystore::sample::store().unwrap(),
        pan: PAN.parse().unwrap(),
        down: AtomicBool::new(false),
    });
    let t = Arc::new(start_pg(Opts {
        store: Some(store.clone()),
        tweak: Some(Box::new(with_outbox)),
        ..Opts::default()
    }));
    let k = t.admin().await;
    let other = pan_from(7200);
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    t.register(&k, &other, "201457", 1, "04", 2014).await;
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    let db = pg::client(t.config.database.url.as_deref().unwrap()).await;
    let before = snapshot(&db).await;

    store.down.store(true, Ordering::SeqCst);
    let body = json!({"utility": "electricity", "unit": "kWh", "amount": "3"});
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (t, k, body) = (Arc::clone(&t), k.clone(), body.clone());
        let pan = if i % 2 == 0 {
            PAN.to_owned()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let r = t
                .call(
                    "POST",
                    &format!("/v1/meters/{pan}/tokens/credit"),
                    Some(&k),
                    Some(&format!("f-{i}")),
                    Some(&body),
                )
                .await;
            (pan, r.status.as_u16(), r.body)
        }));
    }
    for task in tasks {
        let (pan, status, body) = task.await.unwrap();
        if pan == PAN {
            assert_eq!(
                (status, body["code"].as_str()),
                (503, Some("unavailable")),
                "{body}"
            );
        } else {
            assert_eq!(status, 201, "{body}");
        }
    }
    let after = snapshot(&db).await;
    // The other meter's 20 vends: an issue, a token, an audit entry and an outbox row each;
    // nothing for the failing meter, whose last TID is unchanged.
    assert_eq!(
        after,
        vec![
            before[0] + 20,
            before[1] + 20,
            before[2] + 20,
            before[3] + 20,
            before[4]
        ]
    );
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    assert_eq!(v["ok"].as_bool(), Some(true), "{v}");

    store.down.store(false, Ordering::SeqCst);
    t.call(
        "POST",
        &format!("/v1/meters/{PAN}/tokens/credit"),
        Some(&k),
        Some("f-0"),
        Some(&body),
    )
    .await
    .expect(201);
}

/// Instances starting together on an empty database: the advisory lock lets one migrate and
/// the others find the schema in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_migrations_apply_once() {
    let url = pg::fresh_database();
    let opts = vend_api::ledger::postgres::PgOptions::new(url.parse().unwrap());
    // Each run has its own connection; they race for the advisory lock.
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let o = opts.clone();
            tokio::spawn(async move { vend_api::ledger::postgres::migrate_database(&o).await })
        })
        .collect();
    let mut flat = Vec::new();
    for r in runs {
        flat.extend(r.await.unwrap().unwrap());
    }
    flat.sort_unstable();
    assert_eq!(flat, vec![1]);
    let db = pg::client(&url).await;
    assert_eq!(count(&db, "SELECT count(*) FROM schema_version").await, 1);
    // And a ledger opens on it without migrating.
    let mut no_migrate = opts.clone();
    no_migrate.migrate = false;
    vend_api::ledger::postgres::PgLedger::connect(&no_migrate, None)
        .await
        .unwrap();
}

/// Two instances claiming the same outbox at once never get the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_claims_are_disjoint_across_instances() {
    let a = start_pg(Opts {
        tweak: Some(Box::new(with_outbox)),
        ..Opts::default()
    });
    let b = second(&a);
    let k = a.admin().await;
    a.register(&k, PAN, "201457", 1, "04", 2014).await;
    for i in 0..60 {
        a.post(
            &format!("/v1/meters/{PAN}/events/low-credit"),
            &k,
            &json!({"remaining": format!("{i}"), "unit": "kWh"}),
        )
        .await
        .expect(202);
    }
    let now = a.clock.now();
    let claim = |ledger: Arc<dyn vend_api::ledger::Ledger>| {
        tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let batch = ledger.claim_webhooks(now, 7, 600).await.unwrap();
                if batch.is_empty() {
                    return ids;
                }
                ids.extend(batch.into_iter().map(|m| m.id));
            }
        })
    };
    let (x, y) = (
        claim(Arc::clone(&a.app.ledger)),
        claim(Arc::clone(&b.ledger)),
    );
    let (x, y) = (x.await.unwrap(), y.await.unwrap());
    let xs: BTreeSet<i64> = x.iter().copied().collect();
    let ys: BTreeSet<i64> = y.iter().copied().collect();
    assert_eq!((xs.len(), ys.len()), (x.len(), y.len()));
    assert!(
        xs.is_disjoint(&ys),
        "claimed twice: {:?}",
        xs.intersection(&ys)
    );
    assert_eq!(xs.len() + ys.len(), 60);
}

/// A connection killed under the service heals on its own (the writer retries the batch on a
/// fresh connection); a database refusing connections is a 503 naming no internals, and a
/// retry with the same Idempotency-Key succeeds once it is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_connections_heal_and_an_outage_is_503() {
    let t = start_pg(Opts::default());
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    let url = t.config.database.url.clone().unwrap();
    let name = url.rsplit('/').next().unwrap().to_owned();
    let admin = pg::client(&pg::shared().url("postgres")).await;
    let kill = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
    );
    assert!(count(&admin, &kill).await > 0);
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    count(&admin, &kill).await;
    let body = json!({"utility": "electricity", "unit": "kWh", "amount": "2"});
    let uri = format!("/v1/meters/{PAN}/tokens/credit");
    let r = t
        .call("POST", &uri, Some(&k), Some("outage"), Some(&body))
        .await;
    assert_eq!(
        r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    let b = r.expect_error(503, "unavailable", None);
    assert!(!b.to_string().contains(&name), "{b}");

    admin
        .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    t.call("POST", &uri, Some(&k), Some("outage"), Some(&body))
        .await
        .expect(201);
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    assert_eq!(
        (v["ok"].as_bool(), v["entries"].as_i64()),
        (Some(true), Some(5)),
        "{v}"
    );
}

/// `vend-api migrate`, `apikey` and `audit verify` against a `postgres://` URL; tampering is
/// named by the verifier; a URL carrying a password is refused.
#[test]
fn cli_against_a_postgres_url() {
    let url = pg::fresh_database();
    let (code, out, err) = cli(&["migrate", "--db", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("applied migrations [1]"), "{out}");
    let (code, out, _) = cli(&["migrate", "--db", &url]);
    assert_eq!(
        (code, out.contains("schema up to date")),
        (0, true),
        "{out}"
    );
    for name in ["pos-1", "pos-2", "pos-3"] {
        let (code, out, err) = cli(&[
            "apikey",
            "create",
            "--name",
            name,
            "--scopes",
            "vend,meters",
            "--db",
            &url,
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(
            vend_api::apikey::PresentedKey::parse(out.trim()).is_some(),
            "{out}"
        );
    }
    let (code, _, err) = cli(&[
        "apikey", "create", "--name", "pos-1", "--scopes", "vend", "--db", &url,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("an api key named \"pos-1\" exists"), "{err}");
    let (code, out, _) = cli(&["apikey", "list", "--db", &url]);
    assert!(code == 0 && out.contains("pos-3\tvk_"), "{out}");
    let (code, out, err) = cli(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("audit chain ok: 3 entries, head "), "{out}");

    // Tamper with entry 2 behind the service's back (as the superuser, triggers off).
    let tamper = url.clone();
    pg::blocking(async move {
        let db = pg::client(&tamper).await;
        db.batch_execute(
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; \
             UPDATE audit_log SET details = replace(details, 'pos-2', 'pos-9') WHERE seq = 2",
        )
        .await
        .unwrap();
    });
    let (code, _, err) = cli(&["audit", "verify", "--db", &url]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("audit entry seq 2: content does not match its hash"),
        "{err}"
    );

    let with_password = url.replacen("postgres@", "postgres:secret@", 1);
    let (code, _, err) = cli(&["audit", "verify", "--db", &with_password]);
    assert_eq!(code, 1);
    assert!(
        err.contains("holds a password") && !err.contains("secret"),
        "{err}"
    );
}

/// The append-only triggers hold on PostgreSQL too.
#[tokio::test]
async fn history_is_append_only() {
    let t = start_pg(Opts::default());
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    let db = pg::client(t.config.database.url.as_deref().unwrap()).await;
    for sql in [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "UPDATE tokens SET digits = '0'",
        "DELETE FROM issues",
        "TRUNCATE meter_events",
    ] {
        let e = db.batch_execute(sql).await.unwrap_err();
        let msg = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        assert!(msg.ends_with("is append-only"), "{sql}: {e}");
    }
}

/// A deadlock with another session makes the vend the victim (it waited first); the writer
/// rolls its job back to the savepoint and runs it again in the next batch, and the client
/// sees a plain 201 after about `deadlock_timeout` (1 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_victim_is_retried() {
    let t = Arc::new(start_pg(Opts::default()));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    let mut other = pg::client(t.config.database.url.as_deref().unwrap()).await;
    let tx = other.transaction().await.unwrap();
    // The other session holds idempotency key "dead" (uncommitted)…
    tx.batch_execute(
        "INSERT INTO issues (meter_id, kind, api_key_id, actor, idempotency_key, request_sha256, \
         summary, created_at) SELECT m.id, 'credit', (SELECT max(id) FROM api_keys), 'x', 'dead', \
         '\\x00', '{}', 0 FROM meters m",
    )
    .await
    .unwrap();
    // …so the vend locks the meter and then waits on the key.
    let vend = {
        let (t, k) = (Arc::clone(&t), k.clone());
        tokio::spawn(async move {
            let body = json!({"utility": "electricity", "unit": "kWh", "amount": "1"});
            let r = t
                .call(
                    "POST",
                    &format!("/v1/meters/{PAN}/tokens/credit"),
                    Some(&k),
                    Some("dead"),
                    Some(&body),
                )
                .await;
            (r.status.as_u16(), r.body)
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Now the other session wants the meter: a cycle, and the vend waited first.
    tx.batch_execute("SELECT 1 FROM meters FOR UPDATE")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let (status, body) = vend.await.unwrap();
    assert_eq!(status, 201, "{body}");
    let db = pg::client(t.config.database.url.as_deref().unwrap()).await;
    assert_eq!(count(&db, "SELECT count(*) FROM issues").await, 1);
    let v = t.get("/v1/audit/verify", &k).await.expect(200);
    assert_eq!(
        (v["ok"].as_bool(), v["entries"].as_i64()),
        (Some(true), Some(3)),
        "{v}"
    );
}
