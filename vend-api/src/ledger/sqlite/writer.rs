//! The single writer: one thread owns the write connection and commits jobs in batches.
//!
//! Group commit: the writer blocks for a first job, then takes whatever else is queued (up to
//! `batch_max`) into one `BEGIN IMMEDIATE … COMMIT`. Each job runs inside its own SAVEPOINT,
//! so a job that fails its own checks is rolled back alone and does not poison the batch.
//! Replies are sent only after `COMMIT` returns: with `synchronous=FULL` that is after the
//! WAL is on disk. If the commit fails, every job of the batch gets the failure and nothing
//! of it is kept. One fsync then covers a whole batch, which is where the throughput comes
//! from; latency stays at roughly one commit plus one batch of work.
//!
//! The audit chain head lives here in memory, so appending is a hash and an insert; it is
//! restored when a job rolls back and re-read from disk when a commit fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot};

use super::backend;
use super::checkpoint::Checkpointer;
use crate::audit::{ChainHead, NewAuditEntry, hash_from_hex, to_hex};
use crate::ledger::batch::job_reply;
use crate::ledger::{LedgerError, LedgerResult, OutboxPolicy};
use crate::metrics::LedgerMetrics;

/// What the writer hands a job.
pub(super) struct WriteCtx<'a> {
    /// The write connection, inside the batch's transaction and the job's savepoint.
    pub(super) conn: &'a Connection,
    head: &'a mut ChainHead,
    /// Outbox options.
    pub(super) policy: OutboxPolicy,
}

impl WriteCtx<'_> {
    /// Appends an audit entry to the chain.
    pub(super) fn audit(&mut self, entry: NewAuditEntry) -> LedgerResult<()> {
        let e = self.head.append(entry);
        let mut stmt = self
            .conn
            .prepare_cached(
                "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(backend("append audit"))?;
        stmt.execute(rusqlite::params![
            e.seq,
            e.entry.at,
            e.entry.actor,
            e.entry.action,
            e.entry.subject,
            crate::audit::canonical_json(&e.entry.details),
            to_hex(&e.prev_hash),
            to_hex(&e.hash),
        ])
        .map_err(backend("append audit"))?;
        Ok(())
    }
}

/// A unit of work for the writer.
pub(super) trait WriteJob: Send {
    /// Runs inside a savepoint; false means "roll my savepoint back".
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool;
    /// Fails the job without running it.
    fn abort(&mut self, error: LedgerError);
    /// Replies, once the batch's commit is known (`Err` carries the commit failure).
    fn finish(self: Box<Self>, commit: Result<(), Arc<str>>);
}

struct Op<T, F> {
    f: Option<F>,
    result: Option<LedgerResult<T>>,
    reply: oneshot::Sender<LedgerResult<T>>,
}

impl<T, F> WriteJob for Op<T, F>
where
    T: Send,
    F: FnOnce(&mut WriteCtx<'_>) -> LedgerResult<T> + Send,
{
    fn run(&mut self, ctx: &mut WriteCtx<'_>) -> bool {
        let r = match self.f.take() {
            Some(f) => f(ctx),
            None => Err(LedgerError::Closed),
        };
        let ok = r.is_ok();
        self.result = Some(r);
        ok
    }

    fn abort(&mut self, error: LedgerError) {
        self.f = None;
        self.result = Some(Err(error));
    }

    fn finish(self: Box<Self>, commit: Result<(), Arc<str>>) {
        let out = job_reply(commit, self.result);
        // The caller may have gone (request timed out); the work is committed regardless
        // and an idempotent retry will find it.
        let _ = self.reply.send(out);
    }
}

/// A handle for submitting jobs.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Box<dyn WriteJob>>,
}

impl Writer {
    /// Starts the writer thread over `conn`.
    pub(super) fn start(
        conn: Connection,
        path: PathBuf,
        batch_max: usize,
        queue: usize,
        policy: OutboxPolicy,
        metrics: Option<LedgerMetrics>,
    ) -> LedgerResult<Self> {
        let head = load_head(&conn)?;
        // Checkpoints run beside the writer, not inside its commits (see `checkpoint`).
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(backend("configure writer"))?;
        let checkpointer = Checkpointer::start(path)?;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let cfg = RunConfig {
            batch_max: batch_max.max(1),
            policy,
            metrics,
            checkpointer,
        };
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || run(conn, rx, head, cfg))
            .map_err(|e| LedgerError::Backend {
                op: "start writer",
                source: Box::new(e),
            })?;
        Ok(Self { tx })
    }

    /// False once the writer thread has stopped.
    pub(super) fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Runs `f` in the next batch and waits for the commit.
    pub(super) async fn submit<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> LedgerResult<T> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(Op {
            f: Some(f),
            result: None,
            reply,
        });
        self.tx.send(job).await.map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }
}

/// Reads the chain head from disk.
fn load_head(conn: &Connection) -> LedgerResult<ChainHead> {
    let row: Option<(i64, String)> = conn
        .query_row(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(backend("read audit head"))?;
    match row {
        None => Ok(ChainHead::EMPTY),
        Some((seq, hash)) => Ok(ChainHead {
            seq,
            hash: hash_from_hex(&hash).ok_or(LedgerError::Corrupt { what: "audit hash" })?,
        }),
    }
}

/// What the writer thread runs with.
struct RunConfig {
    batch_max: usize,
    policy: OutboxPolicy,
    metrics: Option<LedgerMetrics>,
    checkpointer: Checkpointer,
}

fn run(
    conn: Connection,
    mut rx: mpsc::Receiver<Box<dyn WriteJob>>,
    mut head: ChainHead,
    cfg: RunConfig,
) {
    let RunConfig {
        batch_max,
        policy,
        metrics,
        checkpointer,
    } = cfg;
    let mut batch: Vec<Box<dyn WriteJob>> = Vec::with_capacity(batch_max);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < batch_max {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let commit = run_batch(&conn, &mut batch, &mut head, policy);
        if commit.is_err() {
            // Whatever the chain head was before the batch, the disk knows it.
            match load_head(&conn) {
                Ok(h) => head = h,
                Err(e) => tracing::error!(error = %e, "cannot re-read the audit head"),
            }
        }
        if let Some(m) = &metrics {
            m.observe_batch(batch.len(), started.elapsed(), commit.is_ok());
        }
        for job in batch.drain(..) {
            job.finish(commit.clone());
        }
        // After the replies: a rewinding checkpoint delays the next batch, not this one.
        checkpointer.after_commit(&conn);
    }
    tracing::info!("ledger writer stopped");
}

/// Runs a parameterless statement through the statement cache (the savepoint statements run
/// twice per job: parsing them each time is measurable).
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(
    conn: &Connection,
    batch: &mut [Box<dyn WriteJob>],
    head: &mut ChainHead,
    policy: OutboxPolicy,
) -> Result<(), Arc<str>> {
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| Arc::<str>::from(e.to_string()))?;
    for job in batch.iter_mut() {
        if let Err(e) = exec_cached(conn, "SAVEPOINT job") {
            job.abort(backend("savepoint")(e));
            continue;
        }
        let before = *head;
        let ok = job.run(&mut WriteCtx {
            conn,
            head: &mut *head,
            policy,
        });
        if ok {
            match exec_cached(conn, "RELEASE job") {
                Ok(()) => continue,
                Err(e) => job.abort(backend("release savepoint")(e)),
            }
        }
        *head = before;
        if let Err(e) = conn.execute_batch("ROLLBACK TO job; RELEASE job") {
            tracing::error!(error = %e, "cannot roll back a job's savepoint");
        }
    }
    // A severe error (disk full, I/O) can make SQLite roll the whole transaction back on
    // its own; then nothing of the batch is on disk and every job must hear so.
    if conn.is_autocommit() {
        return Err(Arc::from("the transaction was rolled back by the database"));
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => Ok(()),
        Err(e) => {
            let msg = Arc::<str>::from(e.to_string());
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::verify_rows;
    use crate::ledger::sqlite::{read, schema};
    use serde_json::json;

    fn job(
        name: &'static str,
        fail: bool,
    ) -> (Box<dyn WriteJob>, oneshot::Receiver<LedgerResult<i64>>) {
        let (reply, rx) = oneshot::channel();
        let f = move |ctx: &mut WriteCtx<'_>| -> LedgerResult<i64> {
            ctx.conn
                .execute(
                    "INSERT INTO api_keys (public_id, name, scopes, secret_sha256, created_at) \
                     VALUES (?1, ?1, 'vend', zeroblob(32), 0)",
                    [name],
                )
                .map_err(backend("test insert"))?;
            ctx.audit(NewAuditEntry {
                at: "t".into(),
                actor: "test".into(),
                action: "test".into(),
                subject: name.into(),
                details: json!({}),
            })?;
            if fail {
                return Err(LedgerError::Corrupt {
                    what: "test refusal",
                });
            }
            Ok(ctx.conn.last_insert_rowid())
        };
        (
            Box::new(Op {
                f: Some(f),
                result: None,
                reply,
            }),
            rx,
        )
    }

    /// A job that fails after writing is rolled back to its savepoint alone; the others in
    /// the batch commit, and the audit chain has no hole where the failed job's entry was.
    #[test]
    fn a_failing_job_does_not_poison_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = schema::open_writer(&dir.path().join("w.sqlite3")).unwrap();
        schema::migrate(&mut conn).unwrap();
        let mut head = ChainHead::EMPTY;
        let (a, ra) = job("a", false);
        let (b, rb) = job("b", true);
        let (c, rc) = job("c", false);
        let mut batch = vec![a, b, c];
        let commit = run_batch(&conn, &mut batch, &mut head, OutboxPolicy::default());
        assert!(commit.is_ok());
        for j in batch {
            j.finish(commit.clone());
        }
        assert!(ra.blocking_recv().unwrap().is_ok());
        assert!(matches!(
            rb.blocking_recv().unwrap(),
            Err(LedgerError::Corrupt { .. })
        ));
        assert!(rc.blocking_recv().unwrap().is_ok());
        let names: Vec<String> = read::api_keys(&conn)
            .unwrap()
            .into_iter()
            .map(|k| k.name)
            .collect();
        assert_eq!(names, ["a", "c"]);
        let rows = read::audit_rows(&conn, 0, 10).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(verify_rows(ChainHead::EMPTY, rows), Ok(head));
        assert_eq!(load_head(&conn).unwrap(), head);
    }
}
