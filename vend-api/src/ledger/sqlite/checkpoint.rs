//! WAL checkpoints off the writer's path.
//!
//! SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1000 pages:
//! that commit copies the pages into the database file and fsyncs it before it returns, so
//! every few hundred vends one batch (and every request queued behind it) waits several
//! milliseconds. Measured on the realistic mix at 16 workers (`vend-load`, 10,000 meters):
//! p90 5.3–5.9 ms and p99 8.4–9.2 ms with it, 3.9–4.5 ms and 5.3–6.1 ms with no checkpoint at
//! all, and 3.0–3.6 ms and 5.5–7.5 ms with this thread.
//!
//! Here the writer's automatic checkpoint is off, and a thread with its own connection runs
//! `PRAGMA wal_checkpoint(PASSIVE)` every [`INTERVAL`]: it copies committed frames into the
//! database file and fsyncs it while the writer goes on. A passive checkpoint never blocks
//! the writer, but it cannot finish a WAL that a busy writer keeps appending to, and SQLite
//! rewinds the WAL only when a write transaction starts with every frame copied. So once the
//! WAL holds [`REWIND_FRAMES`] frames the thread runs its passes back to back and then asks
//! the writer to run one passive checkpoint itself, between two batches: it copies only the
//! frames written since the thread's last pass, and the writer's next transaction starts the
//! WAL from the beginning. Durability is SQLite's own: both connections use
//! `synchronous=FULL`, and a checkpoint never touches uncommitted frames.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

use super::schema;
use crate::ledger::{LedgerError, LedgerResult};

/// Time between background passes (200 ms beat 50 ms in 3 of 4 paired runs: p99 5.5–6.7 ms
/// against 7.4–8.1 ms; fewer, larger passes rewrite hot pages less often).
pub(super) const INTERVAL: Duration = Duration::from_millis(200);
/// WAL frames (pages) after which the WAL is rewound: 64 MiB at 4 KiB pages.
pub(super) const REWIND_FRAMES: i64 = 16_384;

/// `PRAGMA wal_checkpoint(PASSIVE)`: (busy, frames in the WAL, frames checkpointed).
fn passive(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
}

/// The writer's side: the handle that stops the thread when dropped, and the rewind request.
pub(super) struct Checkpointer {
    rewind: Arc<AtomicBool>,
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on its own connection to `path`.
    pub(super) fn start(path: PathBuf) -> LedgerResult<Self> {
        let conn = schema::open_writer(&path).map_err(super::backend("open checkpointer"))?;
        let rewind = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let flag = Arc::clone(&rewind);
        std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn(move || run(&conn, &flag, &stopped))
            .map_err(|e| LedgerError::Backend {
                op: "start checkpointer",
                source: Box::new(e),
            })?;
        Ok(Self {
            rewind,
            _stop: stop,
        })
    }

    /// Called by the writer after each commit: runs the rewinding checkpoint if it is due.
    pub(super) fn after_commit(&self, conn: &Connection) {
        if !self.rewind.load(Ordering::Acquire) {
            return;
        }
        match passive(conn) {
            // Busy: the thread is in a pass; the next commit tries again.
            Ok((0, _, _)) => self.rewind.store(false, Ordering::Release),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "wal checkpoint failed"),
        }
    }
}

fn run(conn: &Connection, rewind: &AtomicBool, stopped: &mpsc::Receiver<()>) {
    let mut wait = INTERVAL;
    loop {
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        match passive(conn) {
            Ok((_, frames, _)) if frames >= REWIND_FRAMES => {
                // Back to back until the writer has rewound: each pass leaves less for it.
                rewind.store(true, Ordering::Release);
                wait = Duration::from_millis(1);
            }
            Ok(_) => wait = INTERVAL,
            Err(e) => {
                tracing::warn!(error = %e, "wal checkpoint failed");
                wait = INTERVAL;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The background passes copy the WAL into the database, and the writer's rewind starts
    /// the WAL from the beginning.
    #[test]
    fn passes_copy_and_the_writer_rewinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite3");
        let mut conn = schema::open_writer(&path).unwrap();
        schema::migrate(&mut conn).unwrap();
        conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let ck = Checkpointer::start(path.clone()).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        for _ in 0..200 {
            conn.execute("INSERT INTO t VALUES (randomblob(3000))", [])
                .unwrap();
        }
        std::thread::sleep(INTERVAL * 4);
        // Everything committed so far is in the database file: a pass finds nothing to do.
        let (_, frames, done) = passive(&conn).unwrap();
        assert_eq!(frames, done);
        assert!(frames > 200, "{frames}");
        ck.rewind.store(true, Ordering::Release);
        ck.after_commit(&conn);
        assert!(!ck.rewind.load(Ordering::Acquire));
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let (_, frames, _) = passive(&conn).unwrap();
        assert!(frames < 10, "the WAL was not rewound: {frames} frames");
    }
}
