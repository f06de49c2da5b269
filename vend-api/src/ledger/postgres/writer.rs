//! The writers: tasks that each own one connection and commit jobs in batches (see the
//! module docs of `ledger::postgres` for the lock order and why).
//!
//! A batch: `BEGIN; SAVEPOINT j`, then each job in turn (`RELEASE SAVEPOINT j; SAVEPOINT j`
//! after a job that succeeded, `ROLLBACK TO SAVEPOINT j` after one that did not), then the
//! batch's audit entries under the chain-head lock, pipelined with `COMMIT`. Replies go out
//! after the commit. Audit entries are collected per job and chained only at the end, so a
//! rolled-back job leaves no hole and the head row is locked for as short as possible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use hsm_core::MeterPan;
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_postgres::types::ToSql;

use super::{Conn, is_transient, pg_error};
use crate::audit::{ChainHead, NewAuditEntry, canonical_json, hash_from_hex, to_hex};
use crate::ledger::batch::{CommitFailed, job_reply};
use crate::ledger::{BoxFuture, LedgerError, LedgerResult, OutboxPolicy};
use crate::metrics::LedgerMetrics;

/// How often a job runs before a transient failure (deadlock, serialization failure, an
/// idempotency race, a connection lost before `COMMIT`) is reported instead of retried.
pub(super) const MAX_TRIES: u32 = 5;

/// What a job sees: the writer's connection, inside the batch's transaction and the job's
/// savepoint.
pub(super) struct WriteCtx<'a> {
    /// The connection.
    pub(super) conn: &'a Conn,
    audit: Vec<NewAuditEntry>,
    /// Outbox options.
    pub(super) policy: OutboxPolicy,
}

impl WriteCtx<'_> {
    /// Queues an audit entry; it is chained and written when the batch commits, and dropped
    /// if this job rolls back.
    pub(super) fn audit(&mut self, entry: NewAuditEntry) {
        self.audit.push(entry);
    }
}

/// One kind of write (issue, register a meter…).
pub(super) trait Operation: Send + 'static {
    /// What the caller gets.
    type Output: Send + 'static;
    /// The meter whose row this operation locks first: a batch runs its jobs in this order,
    /// so every batch of every instance takes meter locks in one global order.
    fn lock_key(&self) -> Option<MeterPan>;
    /// Runs inside the job's savepoint. May run more than once (retries); only the
    /// committed run's effects exist.
    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<Self::Output>>;
}

/// How a job's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Succeeded; keep its savepoint.
    Done,
    /// Refused; roll its savepoint back and answer the refusal.
    Refused,
    /// Failed transiently; roll back and run it again in the next batch.
    Retry,
}

trait Job: Send {
    fn lock_key(&self) -> Option<MeterPan>;
    fn run<'a>(&'a mut self, ctx: &'a mut WriteCtx<'_>) -> BoxFuture<'a, Step>;
    /// Counts a try; false once the job has had [`MAX_TRIES`].
    fn try_again(&mut self) -> bool;
    /// Replaces the job's result with a failure.
    fn fail(&mut self, error: LedgerError);
    /// True if the job's stored result is a refusal that stands whatever the batch does.
    fn refused(&self) -> bool;
    /// Replies, once the batch's fate is known (`Err` carries the commit failure).
    fn finish(self: Box<Self>, commit: Result<(), Arc<str>>);
}

struct Op<O: Operation> {
    op: O,
    result: Option<LedgerResult<O::Output>>,
    reply: oneshot::Sender<LedgerResult<O::Output>>,
    tries: u32,
}

impl<O: Operation> Job for Op<O> {
    fn lock_key(&self) -> Option<MeterPan> {
        self.op.lock_key()
    }

    fn run<'a>(&'a mut self, ctx: &'a mut WriteCtx<'_>) -> BoxFuture<'a, Step> {
        Box::pin(async move {
            let r = self.op.run(ctx).await;
            let step = match &r {
                Ok(_) => Step::Done,
                Err(e) if is_transient(e) => Step::Retry,
                // A broken connection is the batch's fault, not the job's.
                Err(e) if pg_error(e).is_some_and(tokio_postgres::Error::is_closed) => Step::Retry,
                Err(_) => Step::Refused,
            };
            self.result = Some(r);
            step
        })
    }

    fn try_again(&mut self) -> bool {
        self.tries = self.tries.saturating_add(1);
        self.tries < MAX_TRIES
    }

    fn fail(&mut self, error: LedgerError) {
        self.result = Some(Err(error));
    }

    fn refused(&self) -> bool {
        matches!(&self.result, Some(Err(e)) if !matches!(e, LedgerError::Backend { .. }))
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
    tx: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    /// Starts `writers` writer tasks sharing one queue, on a runtime of their own in a
    /// dedicated thread (as the SQLite writer has its thread): their round trips to the
    /// database, and their connections' I/O, do not queue behind HTTP work.
    pub(super) fn start(
        pool: Pool,
        writers: usize,
        batch_max: usize,
        queue: usize,
        policy: OutboxPolicy,
        metrics: Option<LedgerMetrics>,
    ) -> LedgerResult<Self> {
        let (tx, rx) = mpsc::channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LedgerError::Backend {
                op: "start writer",
                source: Box::new(e),
            })?;
        std::thread::Builder::new()
            .name("ledger-writer".into())
            .spawn(move || {
                rt.block_on(async move {
                    let tasks: Vec<_> = (0..writers)
                        .map(|_| {
                            tokio::spawn(run(
                                Arc::clone(&rx),
                                pool.clone(),
                                batch_max,
                                policy,
                                metrics.clone(),
                            ))
                        })
                        .collect();
                    drop(rx);
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
            .map_err(|e| LedgerError::Backend {
                op: "start writer",
                source: Box::new(e),
            })?;
        Ok(Self { tx })
    }

    /// False once every writer has stopped.
    pub(super) fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Runs `op` in a coming batch and waits for the commit.
    pub(super) async fn submit<O: Operation>(&self, op: O) -> LedgerResult<O::Output> {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(Op {
            op,
            result: None,
            reply,
            tries: 0,
        });
        self.tx.send(job).await.map_err(|_| LedgerError::Closed)?;
        rx.await.map_err(|_| LedgerError::Closed)?
    }
}

/// How a batch ended.
enum BatchEnd {
    /// Committed: every job's result stands.
    Committed,
    /// Nothing of it was committed, and `COMMIT` was never reached: jobs that did not
    /// refuse may run again.
    RolledBack(Arc<str>),
    /// `COMMIT` failed or its answer was lost: the batch may or may not have committed.
    Unknown(Arc<str>),
    /// No connection: fail fast (503) rather than queue behind a dead database.
    NoConnection(Arc<str>),
}

async fn run(
    rx: Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>,
    pool: Pool,
    batch_max: usize,
    policy: OutboxPolicy,
    metrics: Option<LedgerMetrics>,
) {
    let mut carry: Vec<Box<dyn Job>> = Vec::new();
    loop {
        let mut batch = std::mem::take(&mut carry);
        // An idle writer waits for work holding the queue; one with jobs to retry must not
        // wait behind it, so it only takes more if the queue is free.
        let queue = if batch.is_empty() {
            let mut queue = rx.lock().await;
            match queue.recv().await {
                Some(job) => batch.push(job),
                None => break,
            }
            Some(queue)
        } else {
            rx.try_lock().ok()
        };
        if let Some(mut queue) = queue {
            while batch.len() < batch_max {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
        }
        // Stable: jobs for one meter keep their arrival order.
        batch.sort_by_key(|j| j.lock_key());
        let started = Instant::now();
        let (end, steps) = run_batch(&pool, &mut batch, policy).await;
        if let Some(m) = &metrics {
            m.observe_batch(
                batch.len(),
                started.elapsed(),
                matches!(end, BatchEnd::Committed),
            );
        }
        let mut pause = false;
        for (mut job, step) in batch.into_iter().zip(steps) {
            let commit = match &end {
                BatchEnd::Committed => {
                    if step == Step::Retry {
                        if job.try_again() {
                            carry.push(job);
                            continue;
                        }
                        job.finish(Err(Arc::from("retries exhausted")));
                        continue;
                    }
                    Ok(())
                }
                BatchEnd::RolledBack(msg) => {
                    if !job.refused() && job.try_again() {
                        pause = true;
                        carry.push(job);
                        continue;
                    }
                    if !job.refused() {
                        job.fail(LedgerError::Backend {
                            op: "write batch",
                            source: Box::new(CommitFailed(Arc::clone(msg))),
                        });
                    }
                    Err(Arc::clone(msg))
                }
                BatchEnd::Unknown(msg) => Err(Arc::clone(msg)),
                BatchEnd::NoConnection(msg) => {
                    job.fail(LedgerError::Backend {
                        op: "connect",
                        source: Box::new(CommitFailed(Arc::clone(msg))),
                    });
                    Err(Arc::clone(msg))
                }
            };
            job.finish(commit);
        }
        if pause {
            // A connection failed mid-batch; give the pool a moment before the retry.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tracing::info!("ledger writer stopped");
}

/// Runs one batch; returns how it ended and each job's step (same order as `batch`).
async fn run_batch(
    pool: &Pool,
    batch: &mut [Box<dyn Job>],
    policy: OutboxPolicy,
) -> (BatchEnd, Vec<Step>) {
    let mut steps = Vec::with_capacity(batch.len());
    let conn = match pool.get().await {
        Ok(c) => c,
        Err(e) => {
            steps.resize(batch.len(), Step::Refused);
            return (BatchEnd::NoConnection(Arc::from(e.to_string())), steps);
        }
    };
    let end = match transaction(&conn, batch, &mut steps, policy).await {
        Ok(end) => end,
        Err(e) => BatchEnd::RolledBack(Arc::from(e.to_string())),
    };
    steps.resize(batch.len(), Step::Retry);
    if !matches!(end, BatchEnd::Committed) {
        // Never hand a connection back to the pool inside a transaction: roll back, and if
        // even that fails, drop the connection.
        if conn.batch_execute("ROLLBACK").await.is_err() {
            drop(Object::take(conn));
        }
    }
    (end, steps)
}

/// The batch's transaction. `Err` means it broke before `COMMIT` was sent.
async fn transaction(
    conn: &Object,
    batch: &mut [Box<dyn Job>],
    steps: &mut Vec<Step>,
    policy: OutboxPolicy,
) -> Result<BatchEnd, tokio_postgres::Error> {
    // BEGIN alone and awaited: nothing below may ever run outside the transaction.
    conn.batch_execute("BEGIN").await?;
    let mut entries: Vec<NewAuditEntry> = Vec::new();
    // The savepoint statement each job needs, pipelined with the job's first statements
    // (a `biased` join polls in order, so it is sent first): one round trip less per job. If
    // it fails, the transaction is aborted and the job's statements fail with it.
    let mut prelude = "SAVEPOINT j";
    for job in batch.iter_mut() {
        let mut ctx = WriteCtx {
            conn,
            audit: Vec::new(),
            policy,
        };
        let (pre, step) = tokio::join!(biased; conn.batch_execute(prelude), job.run(&mut ctx));
        steps.push(step);
        pre?;
        if step == Step::Done {
            entries.append(&mut ctx.audit);
            prelude = "RELEASE SAVEPOINT j; SAVEPOINT j";
        } else {
            // Rolling back to j keeps j: it becomes the next job's savepoint.
            prelude = "ROLLBACK TO SAVEPOINT j";
        }
    }
    let undo = (prelude == "ROLLBACK TO SAVEPOINT j").then_some(prelude);
    if entries.is_empty() {
        if let Some(undo) = undo {
            conn.batch_execute(undo).await?;
        }
        return Ok(match conn.batch_execute("COMMIT").await {
            Ok(()) => BatchEnd::Committed,
            Err(e) => BatchEnd::Unknown(Arc::from(e.to_string())),
        });
    }
    append_and_commit(conn, undo, entries).await
}

/// Locks the chain head, chains `entries` after it, writes them and moves the head, and
/// commits, the last three pipelined (one round trip while the head is held).
async fn append_and_commit(
    conn: &Object,
    undo: Option<&str>,
    entries: Vec<NewAuditEntry>,
) -> Result<BatchEnd, tokio_postgres::Error> {
    let lock = conn
        .prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
        .await?;
    // The last job's rollback (if it failed) goes in the same round trip as the lock.
    let (undone, row) = tokio::join!(
        biased;
        async {
            match undo {
                Some(sql) => conn.batch_execute(sql).await,
                None => Ok(()),
            }
        },
        conn.query_one(&lock, &[]),
    );
    undone?;
    let row = row?;
    let seq: i64 = row.try_get(0)?;
    let hash: &str = row.try_get(1)?;
    let Some(hash) = hash_from_hex(hash) else {
        return Ok(BatchEnd::RolledBack(Arc::from(
            "the audit head row holds an unreadable hash",
        )));
    };
    let mut head = ChainHead { seq, hash };
    let n = entries.len();
    let (mut seqs, mut ats, mut actors, mut actions) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut subjects, mut details, mut prevs, mut hashes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for entry in entries {
        let e = head.append(entry);
        seqs.push(e.seq);
        details.push(canonical_json(&e.entry.details));
        ats.push(e.entry.at);
        actors.push(e.entry.actor);
        actions.push(e.entry.action);
        subjects.push(e.entry.subject);
        prevs.push(to_hex(&e.prev_hash));
        hashes.push(to_hex(&e.hash));
    }
    let insert = conn
        .prepare_cached(
            "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::text[], $7::text[], $8::text[])",
        )
        .await?;
    let move_head = conn
        .prepare_cached("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
        .await?;
    let head_hash = to_hex(&head.hash);
    // Pipelined: all three are sent, in this order (`biased`, and every statement is
    // prepared already), before any answer is read. A failed INSERT or UPDATE
    // turns the COMMIT into a rollback, which PostgreSQL reports without an error, so the
    // first two results decide whether the commit counted.
    let rows: [&(dyn ToSql + Sync); 8] = [
        &seqs, &ats, &actors, &actions, &subjects, &details, &prevs, &hashes,
    ];
    let new_head: [&(dyn ToSql + Sync); 2] = [&head.seq, &head_hash];
    let (ins, upd, commit) = tokio::join!(
        biased;
        conn.execute(&insert, &rows),
        conn.execute(&move_head, &new_head),
        conn.batch_execute("COMMIT"),
    );
    for r in [ins, upd] {
        match r {
            Ok(_) => {}
            // The server refused a statement: the transaction is aborted, COMMIT rolled back.
            Err(e) if e.as_db_error().is_some() => return Err(e),
            // The connection broke: the server may have run all three.
            Err(e) => return Ok(BatchEnd::Unknown(Arc::from(e.to_string()))),
        }
    }
    Ok(match commit {
        Ok(()) => BatchEnd::Committed,
        Err(e) => BatchEnd::Unknown(Arc::from(e.to_string())),
    })
}
