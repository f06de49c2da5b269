//! Embedded migrations and the checks made before a ledger starts.
//!
//! The schema version is the highest row of `schema_version`. Each migration runs in its
//! own transaction that first takes `pg_advisory_xact_lock(MIGRATION_LOCK)`: instances
//! starting together queue on the lock, and the second finds the work done. A failed
//! migration leaves the previous version intact (PostgreSQL DDL is transactional).

use tokio_postgres::{Client, NoTls};

use super::backend;
use crate::ledger::{LedgerError, LedgerResult};

/// The migrations, in order: (version, SQL).
pub const MIGRATIONS: &[(u32, &str)] = &[(
    1,
    include_str!("../../../migrations/postgres/0001_init.sql"),
)];

/// The advisory lock key every migrating instance takes ("vend-api" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x7665_6e64_2d61_7069;

/// The version this build needs.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Connects one client (no pool), driving its connection on the current runtime.
pub(super) async fn connect(config: &tokio_postgres::Config) -> LedgerResult<Client> {
    let (client, connection) = config.connect(NoTls).await.map_err(backend("connect"))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "ledger setup connection ended");
        }
    });
    Ok(client)
}

/// The database's schema version (0 before the first migration).
pub async fn current_version(client: &Client) -> LedgerResult<u32> {
    let op = "read schema version";
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(backend(op))?;
    if !exists {
        return Ok(0);
    }
    let v: i32 = client
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(backend(op))?;
    u32::try_from(v).map_err(|_| LedgerError::Corrupt {
        what: "schema version",
    })
}

/// Applies every pending migration; returns the versions applied.
pub async fn migrate(client: &mut Client) -> LedgerResult<Vec<u32>> {
    let op = "migrate";
    let mut applied = Vec::new();
    loop {
        let tx = client.transaction().await.map_err(backend(op))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(backend(op))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_version ( \
               version    INTEGER PRIMARY KEY, \
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        )
        .await
        .map_err(backend(op))?;
        let current: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(backend(op))?;
        let next = MIGRATIONS
            .iter()
            .find(|(v, _)| i64::from(*v) > i64::from(current));
        let Some((version, sql)) = next else {
            tx.commit().await.map_err(backend(op))?;
            return Ok(applied);
        };
        let v = i32::try_from(*version).map_err(|_| LedgerError::Corrupt {
            what: "migration version",
        })?;
        tx.batch_execute(sql).await.map_err(backend(op))?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&v])
            .await
            .map_err(backend(op))?;
        tx.commit().await.map_err(backend(op))?;
        tracing::info!(version, "applied ledger migration");
        applied.push(*version);
    }
}

/// What a ledger does before it starts: migrate (if asked), refuse a schema of another
/// version, and warn if the server would not make commits durable.
pub(super) async fn prepare(
    config: &tokio_postgres::Config,
    migrate_first: bool,
) -> LedgerResult<()> {
    let mut client = connect(config).await?;
    if migrate_first {
        migrate(&mut client).await?;
    }
    let version = current_version(&client).await?;
    if version != latest_version() {
        return Err(LedgerError::Backend {
            op: "open database",
            source: format!(
                "schema version {version}, this build needs {}: run `vend-api migrate`",
                latest_version()
            )
            .into(),
        });
    }
    let show = |name: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(&format!("SHOW {name}"), &[])
                .await
                .and_then(|r| r.try_get::<_, String>(0))
                .map_err(backend("read server settings"))
        }
    };
    // synchronous_commit is forced on for our sessions (PgOptions::session); fsync is the
    // server's alone, and without it "on" promises nothing.
    let (fsync, sync) = (show("fsync").await?, show("synchronous_commit").await?);
    if fsync != "on" || sync != "on" {
        tracing::warn!(
            fsync = %fsync,
            synchronous_commit = %sync,
            "PostgreSQL will not make commits durable: an acknowledged token can be lost in a crash"
        );
    }
    Ok(())
}
