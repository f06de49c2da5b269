//! Embedded migrations and connection settings.
//!
//! The schema version is SQLite's `user_version`; each migration runs in its own
//! transaction, so a failed migration leaves the previous version intact.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

/// The migrations, in order: (version, SQL).
pub const MIGRATIONS: &[(u32, &str)] =
    &[(1, include_str!("../../../migrations/sqlite/0001_init.sql"))];

/// The version this build needs.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |(v, _)| *v)
}

/// Opens the write connection: WAL, and `synchronous=FULL` so a commit returns only after
/// the WAL is on disk (a token is acknowledged only once durable).
pub fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The per-job savepoints' journal stays in memory (it never spills to a temporary file
    // in the middle of a batch); a 64 MiB page cache keeps the indexes a vend touches hot.
    // Neither changes what reaches the disk at commit.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -65_536)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Opens a read connection (query-only; sees committed data through WAL snapshots).
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// The database's schema version.
pub fn current_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
}

/// Applies every pending migration; returns the versions applied.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Vec<u32>> {
    let mut applied = Vec::new();
    let current = current_version(conn)?;
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        applied.push(*version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_enforces_append_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open_writer(&dir.path().join("l.sqlite3")).unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), vec![1]);
        assert_eq!(migrate(&mut conn).unwrap(), Vec::<u32>::new());
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        conn.execute(
            "INSERT INTO audit_log VALUES (1, 'a', 'b', 'c', 'd', '{}', 'x', 'y')",
            [],
        )
        .unwrap();
        let err = conn
            .execute("UPDATE audit_log SET actor = 'z'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert!(conn.execute("DELETE FROM audit_log", []).is_err());
    }
}
