//! The PostgreSQL ledger: any number of `vend-api` instances share one database and keep the
//! [`Ledger`] contract between them.
//!
//! **Transactions: batched, like the SQLite writer.** Each instance runs `writers` writer
//! tasks (default 2) on a thread of their own, each owning one connection. A writer takes
//! whatever is queued (up to `batch_max`) into one `BEGIN … COMMIT`, runs every job in its
//! own `SAVEPOINT` (a refused job rolls back alone, as in SQLite), appends the batch's audit
//! entries and commits, and answers only after `COMMIT` returned (`synchronous_commit = on`,
//! forced on every session, so after the WAL is flushed). A job costs two round trips
//! (savepoint, meter lock and reads pipelined; then the writes pipelined), a batch two more
//! under the chain head. `batch_max = 1` with several writers is the "one transaction per
//! vend" design; measured on one 2-core machine (64 clients, one instance) it did about a
//! third of the batched throughput with three times the latency, because every transaction
//! pays a WAL flush while holding the audit chain head, which serialises the commits of all
//! instances. Two writers rather than one overlap one batch's round trips with another's
//! (about 1.5 times the throughput of one writer on that machine); with two instances
//! saturating its CPU, one writer each did slightly better.
//!
//! **Locks, in a fixed order so instances cannot deadlock each other.**
//! 1. The meter row, `SELECT … FOR NO KEY UPDATE` (the `FOR UPDATE` variant that still lets
//!    other transactions insert rows referencing the meter), before its `tid_state` is read:
//!    issues for one meter serialise across instances, so TIDs stay unique and increasing.
//!    A writer sorts its batch by meter PAN, so every batch takes meter locks in one global
//!    order.
//! 2. The audit chain head row (`audit_head`), `SELECT … FOR UPDATE`, taken last, just
//!    before `COMMIT`, so it is held only for the audit insert and the commit itself: chain
//!    order is commit order, and `audit verify` passes however instances interleave.
//!
//! **Idempotency.** The issue job checks `issues` for the (API key, idempotency key) *after*
//! locking the meter: a same-request race between instances (same path, so same meter) is
//! then a plain replay. A different request racing on the same key hits
//! `UNIQUE (api_key_id, idempotency_key)`; the job's savepoint rolls back and the job runs
//! again in the next batch, where it finds the winner's row and answers replay or 409.
//!
//! **Retries.** A deadlock (40P01) or serialization failure (40001) rolls the job back to
//! its savepoint and re-runs it in the writer's next batch (so the locks the other side
//! waits for are released first), at most [`writer::MAX_TRIES`] times; the mint closure is
//! `FnMut` for this. A batch whose transaction broke before `COMMIT` was sent (connection
//! lost) is retried likewise on a fresh connection. A failure during `COMMIT` itself is
//! reported as a backend error (HTTP 503: "retry with the same Idempotency-Key"), because
//! the commit may have happened.
//!
//! **Outbox.** Rows are written in the job's transaction; delivery claims them with
//! `FOR UPDATE SKIP LOCKED` plus a lease, so two instances never deliver one message
//! concurrently.
//!
//! Reads and webhook claims use a pool (`pool_size` connections); they never wait for a
//! writer. Connections are plain TCP or a Unix socket (no TLS in this build).

mod issue_op;
mod read;
pub mod schema;
mod write_ops;
mod writer;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use hsm_core::MeterPan;
use token_codec::TokenDigits;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::{
    Actor, ApiKeyRecord, BoxFuture, CustomerRef, Delivery, IssueCommand, IssueOutcome, IssueRecord,
    Ledger, LedgerError, LedgerResult, MeterEvent, MeterEventRecord, MeterRecord, NewApiKey,
    NewMeter, OutboxMessage, OutboxPolicy, ReplaceMeter, TokenRecord,
};
use crate::audit::{ChainBreak, ChainHead, StoredRow, verify_rows};
use crate::clock::UnixSeconds;
use crate::metrics::LedgerMetrics;
use writer::Writer;

/// How to open the PostgreSQL ledger.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Where and as whom to connect (password included if any; its `Debug` redacts it).
    pub connect: tokio_postgres::Config,
    /// Pooled connections for reads and webhook claims.
    pub pool_size: usize,
    /// Writer tasks, each with its own connection and batches.
    pub writers: usize,
    /// Most jobs in one commit.
    pub batch_max: usize,
    /// Jobs that may wait for the writers before submitters are held back.
    pub queue: usize,
    /// Apply pending migrations on open (otherwise refuse an old schema).
    pub migrate: bool,
    /// Longest wait for a row lock (a meter held by a stuck session) before the job fails
    /// with a backend error instead of stalling its writer.
    pub lock_timeout: Duration,
    /// Webhook outbox options.
    pub outbox: OutboxPolicy,
}

impl PgOptions {
    /// Defaults for a connection config.
    pub fn new(connect: tokio_postgres::Config) -> Self {
        Self {
            connect,
            pool_size: 8,
            writers: 2,
            batch_max: 256,
            queue: 8192,
            migrate: true,
            lock_timeout: Duration::from_secs(5),
            outbox: OutboxPolicy::default(),
        }
    }

    /// The session settings every connection gets: durability and the lock bound are not
    /// left to the server's or the role's defaults.
    fn session(&self) -> tokio_postgres::Config {
        let mut c = self.connect.clone();
        let mut options = c.get_options().unwrap_or_default().to_owned();
        options.push_str(&format!(
            " -c synchronous_commit=on -c lock_timeout={}",
            self.lock_timeout.as_millis().max(1)
        ));
        c.options(options.trim());
        if c.get_application_name().is_none() {
            c.application_name("vend-api");
        }
        if c.get_connect_timeout().is_none() {
            c.connect_timeout(Duration::from_secs(5));
        }
        c
    }
}

/// A pooled connection (with its prepared-statement cache).
pub(super) type Conn = deadpool_postgres::ClientWrapper;

/// Maps a PostgreSQL error to [`LedgerError::Backend`] naming our operation.
pub(super) fn backend(op: &'static str) -> impl Fn(tokio_postgres::Error) -> LedgerError {
    move |e| LedgerError::Backend {
        op,
        source: Box::new(e),
    }
}

fn pool_error(op: &'static str) -> impl Fn(deadpool_postgres::PoolError) -> LedgerError {
    move |e| LedgerError::Backend {
        op,
        source: Box::new(e),
    }
}

/// The constraint a unique violation hit, if `e` is one.
pub(super) fn unique_violation(e: &tokio_postgres::Error) -> Option<&str> {
    let db = e.as_db_error()?;
    (db.code() == &SqlState::UNIQUE_VIOLATION).then(|| db.constraint().unwrap_or(""))
}

/// The PostgreSQL error inside a ledger error, if any.
pub(super) fn pg_error(e: &LedgerError) -> Option<&tokio_postgres::Error> {
    match e {
        LedgerError::Backend { source, .. } => source.downcast_ref::<tokio_postgres::Error>(),
        _ => None,
    }
}

fn new_pool(config: tokio_postgres::Config, size: usize) -> LedgerResult<Pool> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .create_timeout(Some(Duration::from_secs(5)))
        .wait_timeout(Some(Duration::from_secs(10)))
        .build()
        .map_err(|e| LedgerError::Backend {
            op: "create connection pool",
            source: e.to_string().into(),
        })
}

/// The PostgreSQL ledger.
pub struct PgLedger {
    writer: Writer,
    reads: Pool,
}

impl std::fmt::Debug for PgLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLedger").finish_non_exhaustive()
    }
}

/// Applies pending migrations (`vend-api migrate`); returns the versions applied.
pub async fn migrate_database(opts: &PgOptions) -> LedgerResult<Vec<u32>> {
    let mut client = schema::connect(&opts.session()).await?;
    schema::migrate(&mut client).await
}

/// Verifies the audit chain of a database without starting a writer (`vend-api audit
/// verify`).
pub async fn verify_database(opts: &PgOptions) -> LedgerResult<Result<ChainHead, ChainBreak>> {
    let pool = new_pool(opts.session(), 1)?;
    let conn = pool.get().await.map_err(pool_error("connect"))?;
    verify_chain(&conn).await
}

/// Runs `fut` to completion on a private runtime in its own thread: the ledger opens from
/// synchronous code (`app::build`) that may itself run inside a runtime.
fn on_private_runtime<T, F>(op: &'static str, fut: F) -> LedgerResult<T>
where
    T: Send + 'static,
    F: std::future::Future<Output = LedgerResult<T>> + Send + 'static,
{
    let thread = std::thread::Builder::new()
        .name("ledger-setup".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| LedgerError::Backend {
                    op,
                    source: Box::new(e),
                })?;
            rt.block_on(fut)
        })
        .map_err(|e| LedgerError::Backend {
            op,
            source: Box::new(e),
        })?;
    thread.join().map_err(|_| LedgerError::Closed)?
}

impl PgLedger {
    /// Connects, migrates (if `opts.migrate`), checks the schema version and starts the
    /// writers (on their own thread). Synchronous, for `app::build`, and callable inside a
    /// runtime: the setup runs on a private thread. Reads use the caller's runtime.
    pub fn open(opts: &PgOptions, metrics: Option<LedgerMetrics>) -> LedgerResult<Self> {
        let session = opts.session();
        let migrate = opts.migrate;
        on_private_runtime("open database", async move {
            schema::prepare(&session, migrate).await
        })?;
        Self::start(opts, metrics)
    }

    /// [`PgLedger::open`] for async callers.
    pub async fn connect(opts: &PgOptions, metrics: Option<LedgerMetrics>) -> LedgerResult<Self> {
        schema::prepare(&opts.session(), opts.migrate).await?;
        Self::start(opts, metrics)
    }

    fn start(opts: &PgOptions, metrics: Option<LedgerMetrics>) -> LedgerResult<Self> {
        let session = opts.session();
        let writes = new_pool(session.clone(), opts.writers)?;
        let reads = new_pool(session, opts.pool_size)?;
        let writer = Writer::start(
            writes,
            opts.writers.max(1),
            opts.batch_max.max(1),
            opts.queue.max(1),
            opts.outbox,
            metrics,
        )?;
        Ok(Self { writer, reads })
    }

    async fn read<T>(
        &self,
        f: impl for<'c> FnOnce(&'c Conn) -> BoxFuture<'c, LedgerResult<T>>,
    ) -> LedgerResult<T> {
        let conn = self.reads.get().await.map_err(pool_error("connect"))?;
        f(&conn).await
    }
}

impl Ledger for PgLedger {
    fn register_meter(
        &self,
        meter: NewMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>> {
        Box::pin(
            self.writer
                .submit(write_ops::RegisterMeter { meter, actor, at }),
        )
    }

    fn replace_meter(
        &self,
        cmd: ReplaceMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>> {
        Box::pin(self.writer.submit(write_ops::Replace { cmd, actor, at }))
    }

    fn meter(&self, pan: MeterPan) -> BoxFuture<'_, LedgerResult<Option<MeterRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::meter_by_pan(c, pan))))
    }

    fn meters_by_customer(
        &self,
        customer: CustomerRef,
    ) -> BoxFuture<'_, LedgerResult<Vec<MeterRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::meters_by_customer(c, customer))))
    }

    fn issue(&self, cmd: IssueCommand) -> BoxFuture<'_, LedgerResult<IssueOutcome>> {
        Box::pin(self.writer.submit(issue_op::IssueOp(cmd)))
    }

    fn issue_record(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<IssueRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::issue(c, id))))
    }

    fn token(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<TokenRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::token(c, id))))
    }

    fn meter_tokens(
        &self,
        pan: MeterPan,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::meter_tokens(c, pan, before, limit))))
    }

    fn tokens_by_digits(
        &self,
        digits: TokenDigits,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::tokens_by_digits(c, digits))))
    }

    fn record_event(
        &self,
        event: MeterEvent,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterEventRecord>> {
        Box::pin(
            self.writer
                .submit(write_ops::RecordEvent { event, actor, at }),
        )
    }

    fn create_api_key(
        &self,
        key: NewApiKey,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<ApiKeyRecord>> {
        Box::pin(
            self.writer
                .submit(write_ops::CreateApiKey { key, actor, at }),
        )
    }

    fn api_key(&self, public_id: String) -> BoxFuture<'_, LedgerResult<Option<ApiKeyRecord>>> {
        Box::pin(self.read(move |c| Box::pin(read::api_key(c, public_id))))
    }

    fn api_keys(&self) -> BoxFuture<'_, LedgerResult<Vec<ApiKeyRecord>>> {
        Box::pin(self.read(|c| Box::pin(read::api_keys(c))))
    }

    fn revoke_api_key(
        &self,
        name: String,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<bool>> {
        Box::pin(
            self.writer
                .submit(write_ops::RevokeApiKey { name, actor, at }),
        )
    }

    fn audit_rows(&self, after: i64, limit: u32) -> BoxFuture<'_, LedgerResult<Vec<StoredRow>>> {
        Box::pin(self.read(move |c| Box::pin(read::audit_rows(c, after, limit))))
    }

    fn verify_audit(&self) -> BoxFuture<'_, LedgerResult<Result<ChainHead, ChainBreak>>> {
        Box::pin(self.read(|c| Box::pin(verify_chain(c))))
    }

    fn claim_webhooks(
        &self,
        now: UnixSeconds,
        limit: u32,
        lease: i64,
    ) -> BoxFuture<'_, LedgerResult<Vec<OutboxMessage>>> {
        Box::pin(self.read(move |c| Box::pin(write_ops::claim_webhooks(c, now, limit, lease))))
    }

    fn settle_webhook(
        &self,
        id: i64,
        outcome: Delivery,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<()>> {
        Box::pin(self.read(move |c| Box::pin(write_ops::settle_webhook(c, id, outcome, at))))
    }

    fn ping(&self) -> BoxFuture<'_, LedgerResult<()>> {
        Box::pin(async move {
            if !self.writer.is_alive() {
                return Err(LedgerError::Closed);
            }
            self.read(|c| {
                Box::pin(async move {
                    c.simple_query("SELECT 1").await.map_err(backend("ping"))?;
                    Ok(())
                })
            })
            .await
        })
    }
}

/// Verifies the whole chain in pages. Appends commit in chain order (the head row
/// serialises them), so every committed state a page reads is a prefix of the chain.
async fn verify_chain(c: &Conn) -> LedgerResult<Result<ChainHead, ChainBreak>> {
    const PAGE: u32 = 1000;
    let mut head = ChainHead::EMPTY;
    loop {
        let rows = read::audit_rows(c, head.seq, PAGE).await?;
        let n = rows.len();
        head = match verify_rows(head, rows) {
            Ok(h) => h,
            Err(brk) => return Ok(Err(brk)),
        };
        if n < usize::try_from(PAGE).unwrap_or(usize::MAX) {
            return Ok(Ok(head));
        }
    }
}

/// Shared by the writer and the read pool: what a retry-worthy failure looks like.
pub(super) fn is_transient(e: &LedgerError) -> bool {
    pg_error(e).is_some_and(|p| {
        p.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            || p.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED)
            || unique_violation(p) == Some(issue_op::IDEMPOTENCY_CONSTRAINT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every session commits durably and bounds its lock waits whatever the URL, the role or
    /// the database configure; options the URL sets are kept.
    #[test]
    fn sessions_force_durable_commits() {
        let mut opts = PgOptions::new(
            "postgresql://vend@db.example/vend?options=-c%20search_path%3Dledger"
                .parse()
                .unwrap(),
        );
        opts.lock_timeout = Duration::from_millis(2500);
        let s = opts.session();
        assert_eq!(
            s.get_options(),
            Some("-c search_path=ledger -c synchronous_commit=on -c lock_timeout=2500")
        );
        assert_eq!(s.get_application_name(), Some("vend-api"));
        assert_eq!(s.get_connect_timeout(), Some(&Duration::from_secs(5)));
        // The password never shows in Debug output.
        let mut c = opts.connect.clone();
        c.password("hunter2");
        assert!(!format!("{:?}", PgOptions::new(c)).contains("hunter2"));
    }
}
