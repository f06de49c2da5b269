//! The client log: one JSON line per acknowledged answer (idempotency key, request and its
//! hash, issue, token ids, digits, TIDs), written and fsynced before the request counts as
//! acknowledged.
//!
//! Appends are group-committed like the ledger's writes: one thread writes whatever lines are
//! queued, calls `fdatasync` once, and only then tells each waiting worker that its line is
//! durable. The checks read the log back from disk, not from memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::client::Ack;
use super::mix::IssueRequest;

/// One acknowledged answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckRecord {
    /// `credit`, `management` or `key_change`.
    pub op: String,
    /// Index of the meter in the harness's meter list.
    pub meter: usize,
    /// Request path.
    pub path: String,
    /// Request body.
    pub body: String,
    /// Idempotency-Key.
    pub idem: String,
    /// SHA-256 of `POST path\nbody` (hex).
    pub request_sha256: String,
    /// The answer was a replay (`Idempotent-Replayed: true`).
    pub replayed: bool,
    /// Which server instance answered.
    pub instance: usize,
    /// For a key change: the TI the meter moved to.
    pub new_ti: Option<u8>,
    /// The answer.
    pub ack: Ack,
}

impl AckRecord {
    /// The record of `req` answered by `ack`.
    pub fn new(req: &IssueRequest, ack: Ack, replayed: bool, instance: usize) -> Self {
        Self {
            op: req.op.name().to_owned(),
            meter: req.meter,
            path: req.path.clone(),
            body: req.body.clone(),
            idem: req.idem.clone(),
            request_sha256: req.request_sha256(),
            replayed,
            instance,
            new_ti: req.new_ti,
            ack,
        }
    }
}

type Job = (String, oneshot::Sender<Result<(), String>>);

/// An open client log.
#[derive(Debug, Clone)]
pub struct AckLog {
    tx: mpsc::Sender<Job>,
    path: PathBuf,
}

fn fsync_dir(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

impl AckLog {
    /// Creates (or truncates) the log and starts its writer thread.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        file.sync_all()?;
        fsync_dir(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ack-log".into())
            .spawn(move || write_loop(file, &rx))?;
        Ok(Self {
            tx,
            path: path.to_path_buf(),
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record; resolves once it is on disk.
    pub async fn append(&self, rec: &AckRecord) -> Result<(), String> {
        let mut line = serde_json::to_string(rec).map_err(|e| e.to_string())?;
        line.push('\n');
        let (done, wait) = oneshot::channel();
        self.tx
            .send((line, done))
            .map_err(|_| "the ack log writer stopped".to_owned())?;
        wait.await
            .map_err(|_| "the ack log writer stopped".to_owned())?
    }

    /// Reads a log back. A torn last line (the client itself died mid-write) is ignored; any
    /// other unreadable line is an error.
    pub fn read(path: &Path) -> Result<Vec<AckRecord>, String> {
        let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let last = lines.len().saturating_sub(1);
        let mut out = Vec::with_capacity(lines.len());
        for (n, line) in lines.iter().enumerate() {
            match serde_json::from_str::<AckRecord>(line) {
                Ok(r) => out.push(r),
                Err(_) if n == last => {}
                Err(e) => return Err(format!("{} line {}: {e}", path.display(), n + 1)),
            }
        }
        Ok(out)
    }
}

fn write_loop(mut file: File, rx: &mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut buf = Vec::new();
        for (line, _) in &batch {
            buf.extend_from_slice(line.as_bytes());
        }
        let r = file
            .write_all(&buf)
            .and_then(|()| file.sync_data())
            .map_err(|e| format!("ack log: {e}"));
        for (_, done) in batch.drain(..) {
            let _ = done.send(r.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::client::AckToken;
    use crate::harness::mix::OpKind;

    #[tokio::test]
    async fn appends_are_durable_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acks.jsonl");
        let log = AckLog::create(&path).unwrap();
        let req = IssueRequest {
            op: OpKind::Credit,
            meter: 3,
            path: "/v1/meters/1/tokens/credit".into(),
            body: "{}".into(),
            idem: "k-1".into(),
            new_ti: None,
        };
        let ack = Ack {
            issue_id: 7,
            meter: "1".into(),
            kind: "credit".into(),
            tokens: vec![AckToken {
                token_id: 9,
                position: 0,
                kind: "credit".into(),
                digits: "1".repeat(20),
                tid: Some(5),
                base_date: Some(2014),
            }],
        };
        let rec = AckRecord::new(&req, ack, false, 0);
        log.append(&rec).await.unwrap();
        log.append(&rec).await.unwrap();
        // A torn last line is ignored.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"op\":")
            .unwrap();
        assert_eq!(AckLog::read(&path).unwrap(), vec![rec.clone(), rec]);
    }
}
