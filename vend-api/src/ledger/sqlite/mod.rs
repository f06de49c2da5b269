//! The embedded SQLite ledger: one writer thread with group commit (`writer`), WAL
//! checkpoints beside it (`checkpoint`), a small pool of read connections for GETs and
//! verification, WAL and `synchronous=FULL`.

mod checkpoint;
mod issue_op;
mod read;
pub mod schema;
mod write_ops;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hsm_core::MeterPan;
use rusqlite::Connection;
use token_codec::TokenDigits;
use tokio::sync::Semaphore;

use super::{
    Actor, ApiKeyRecord, BoxFuture, CustomerRef, Delivery, IssueCommand, IssueOutcome, IssueRecord,
    Ledger, LedgerError, LedgerResult, MeterEvent, MeterEventRecord, MeterRecord, NewApiKey,
    NewMeter, OutboxMessage, OutboxPolicy, ReplaceMeter, TokenRecord,
};
use crate::audit::{ChainBreak, ChainHead, StoredRow, verify_rows};
use crate::clock::UnixSeconds;
use crate::metrics::LedgerMetrics;
use writer::Writer;

/// How to open the SQLite ledger.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Database file.
    pub path: PathBuf,
    /// Read connections in the pool.
    pub read_connections: usize,
    /// Most jobs in one commit.
    pub batch_max: usize,
    /// Jobs that may wait for the writer before submitters are held back.
    pub queue: usize,
    /// Apply pending migrations on open (otherwise refuse an old schema).
    pub migrate: bool,
    /// Webhook outbox options.
    pub outbox: OutboxPolicy,
}

impl SqliteOptions {
    /// Defaults for a database file.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            read_connections: 4,
            batch_max: 256,
            queue: 8192,
            migrate: true,
            outbox: OutboxPolicy::default(),
        }
    }
}

/// Maps a SQLite error to [`LedgerError::Backend`] naming our operation.
pub(super) fn backend(op: &'static str) -> impl Fn(rusqlite::Error) -> LedgerError {
    move |e| LedgerError::Backend {
        op,
        source: Box::new(e),
    }
}

/// True for a UNIQUE or PRIMARY KEY constraint failure.
pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

struct ReadPool {
    path: PathBuf,
    conns: Mutex<Vec<Connection>>,
    permits: Semaphore,
}

impl ReadPool {
    /// Runs `f` on a pooled read connection, off the async threads.
    async fn with<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| LedgerError::Closed)?;
        let pooled = self.conns.lock().map_err(|_| LedgerError::Closed)?.pop();
        let conn = match pooled {
            Some(c) => c,
            // A connection lost to a panicked task is replaced.
            None => schema::open_reader(&self.path).map_err(backend("open reader"))?,
        };
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|_| LedgerError::Closed)?;
        if let Ok(mut pool) = self.conns.lock() {
            pool.push(conn);
        }
        out
    }
}

/// The SQLite ledger.
pub struct SqliteLedger {
    writer: Writer,
    readers: Arc<ReadPool>,
}

impl std::fmt::Debug for SqliteLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedger")
            .field("path", &self.readers.path)
            .finish()
    }
}

/// Applies pending migrations to a database file (`vend-api migrate`); returns the versions
/// applied.
pub fn migrate_file(path: &Path) -> LedgerResult<Vec<u32>> {
    let mut conn = schema::open_writer(path).map_err(backend("open database"))?;
    schema::migrate(&mut conn).map_err(backend("migrate"))
}

impl SqliteLedger {
    /// Opens (and by default migrates) the database and starts the writer.
    pub fn open(opts: &SqliteOptions, metrics: Option<LedgerMetrics>) -> LedgerResult<Self> {
        let mut conn = schema::open_writer(&opts.path).map_err(backend("open database"))?;
        if opts.migrate {
            schema::migrate(&mut conn).map_err(backend("migrate"))?;
        }
        let version = schema::current_version(&conn).map_err(backend("read schema version"))?;
        if version != schema::latest_version() {
            return Err(LedgerError::Backend {
                op: "open database",
                source: format!(
                    "schema version {version}, this build needs {}: run `vend-api migrate`",
                    schema::latest_version()
                )
                .into(),
            });
        }
        let n = opts.read_connections.max(1);
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(schema::open_reader(&opts.path).map_err(backend("open reader"))?);
        }
        let readers = Arc::new(ReadPool {
            path: opts.path.clone(),
            conns: Mutex::new(conns),
            permits: Semaphore::new(n),
        });
        let writer = Writer::start(
            conn,
            opts.path.clone(),
            opts.batch_max,
            opts.queue,
            opts.outbox,
            metrics,
        )?;
        Ok(Self { writer, readers })
    }

    async fn read<T, F>(&self, f: F) -> LedgerResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> LedgerResult<T> + Send + 'static,
    {
        self.readers.with(f).await
    }
}

impl Ledger for SqliteLedger {
    fn register_meter(
        &self,
        meter: NewMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::register_meter(ctx, meter, actor, at)),
        )
    }

    fn replace_meter(
        &self,
        cmd: ReplaceMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::replace_meter(ctx, cmd, actor, at)),
        )
    }

    fn meter(&self, pan: MeterPan) -> BoxFuture<'_, LedgerResult<Option<MeterRecord>>> {
        Box::pin(self.read(move |c| read::meter_by_pan(c, &pan)))
    }

    fn meters_by_customer(
        &self,
        customer: CustomerRef,
    ) -> BoxFuture<'_, LedgerResult<Vec<MeterRecord>>> {
        Box::pin(self.read(move |c| read::meters_by_customer(c, &customer)))
    }

    fn issue(&self, cmd: IssueCommand) -> BoxFuture<'_, LedgerResult<IssueOutcome>> {
        Box::pin(self.writer.submit(move |ctx| issue_op::issue(ctx, cmd)))
    }

    fn issue_record(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<IssueRecord>>> {
        Box::pin(self.read(move |c| read::issue(c, id)))
    }

    fn token(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<TokenRecord>>> {
        Box::pin(self.read(move |c| read::token(c, id)))
    }

    fn meter_tokens(
        &self,
        pan: MeterPan,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>> {
        Box::pin(self.read(move |c| read::meter_tokens(c, &pan, before, limit)))
    }

    fn tokens_by_digits(
        &self,
        digits: TokenDigits,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>> {
        Box::pin(self.read(move |c| read::tokens_by_digits(c, &digits)))
    }

    fn record_event(
        &self,
        event: MeterEvent,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterEventRecord>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::record_event(ctx, event, actor, at)),
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
                .submit(move |ctx| write_ops::create_api_key(ctx, key, actor, at)),
        )
    }

    fn api_key(&self, public_id: String) -> BoxFuture<'_, LedgerResult<Option<ApiKeyRecord>>> {
        Box::pin(self.read(move |c| read::api_key(c, &public_id)))
    }

    fn api_keys(&self) -> BoxFuture<'_, LedgerResult<Vec<ApiKeyRecord>>> {
        Box::pin(self.read(read::api_keys))
    }

    fn revoke_api_key(
        &self,
        name: String,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<bool>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::revoke_api_key(ctx, name, actor, at)),
        )
    }

    fn audit_rows(&self, after: i64, limit: u32) -> BoxFuture<'_, LedgerResult<Vec<StoredRow>>> {
        Box::pin(self.read(move |c| read::audit_rows(c, after, limit)))
    }

    fn verify_audit(&self) -> BoxFuture<'_, LedgerResult<Result<ChainHead, ChainBreak>>> {
        Box::pin(self.read(verify_chain))
    }

    fn claim_webhooks(
        &self,
        now: UnixSeconds,
        limit: u32,
        lease: i64,
    ) -> BoxFuture<'_, LedgerResult<Vec<OutboxMessage>>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::claim_webhooks(ctx, now, limit, lease)),
        )
    }

    fn settle_webhook(
        &self,
        id: i64,
        outcome: Delivery,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<()>> {
        Box::pin(
            self.writer
                .submit(move |ctx| write_ops::settle_webhook(ctx, id, outcome, at)),
        )
    }

    fn ping(&self) -> BoxFuture<'_, LedgerResult<()>> {
        Box::pin(async move {
            if !self.writer.is_alive() {
                return Err(LedgerError::Closed);
            }
            self.read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(()))
                    .map_err(backend("ping"))
            })
            .await
        })
    }
}

/// Verifies the whole chain on one connection, in pages (one read snapshot per page; the
/// chain only grows, so pages stay consistent).
pub fn verify_chain(conn: &Connection) -> LedgerResult<Result<ChainHead, ChainBreak>> {
    const PAGE: u32 = 1000;
    let mut head = ChainHead::EMPTY;
    loop {
        let rows = read::audit_rows(conn, head.seq, PAGE)?;
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

/// Verifies the audit chain of a database file without starting a writer
/// (`vend-api audit verify`).
pub fn verify_file(path: &Path) -> LedgerResult<Result<ChainHead, ChainBreak>> {
    if !path.exists() {
        return Err(LedgerError::Backend {
            op: "open database",
            source: format!("{} does not exist", path.display()).into(),
        });
    }
    let conn = schema::open_reader(path).map_err(backend("open database"))?;
    verify_chain(&conn)
}
