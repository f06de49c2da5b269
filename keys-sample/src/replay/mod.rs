//! The replay command's library: the contract of the brief's VECTORS.md.
//!
//! - Every line of every file is read (streamed, so files of any size work); `#` lines and blank
//!   lines are ignored; a line that cannot be parsed, or whose `kind` is unknown, is a failure
//!   with a message, never skipped.
//! - Each vector is checked in both directions where both exist (build and encode, then decode
//!   the expected digits and compare every field given).
//! - One line per failure, `FAIL <file>:<line> <id>: <what differed>`; with `verbose`, one line
//!   per pass, `ok <file>:<line> <id>`; at the end exactly `N passed, M failed`.
//! - Success means M = 0 and N > 0 ([`Summary::succeeded`]).
//!
//! One module per kind; `check_vector` is the dispatch.

mod amount;
mod cipher;
mod crc;
mod decoder_key;
pub mod fault;
mod json;
mod key;
mod key_change;
mod meter;
mod reject;
mod tid;
mod time;
mod token;

use core::fmt;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde_json::Value;

pub use fault::{Fault, Issue};
use json::Obj;

use crate::category::Category;

/// Every kind VECTORS.md defines.
pub const KINDS: [&str; 9] = [
    "crc",
    "amount",
    "tid",
    "cipher",
    "decoder_key",
    "token",
    "key_change",
    "reject",
    "meter",
];

/// Checks one parsed line. The dispatch: one module per kind.
fn check_vector(line: &Obj<'_>) -> Result<(), Fault> {
    let kind = line.str("kind")?;
    if !KINDS.contains(&kind) {
        return Err(Fault::UnknownKind {
            kind: kind.to_owned(),
        });
    }
    // `source` documents where the expected values were published; a line without one is
    // still checkable, so only its type is enforced.
    if line.has("source") {
        line.str("source")?;
    }
    match kind {
        "crc" => crc::check(line),
        "amount" => amount::check(line),
        "tid" => tid::check(line),
        "cipher" => cipher::check(line),
        "decoder_key" => decoder_key::check(line),
        "token" => token::check(line),
        "key_change" => key_change::check(line),
        "reject" => reject::check(line),
        "meter" => meter::check(line),
        other => Err(Fault::UnknownKind {
            kind: other.to_owned(),
        }),
    }
}

/// `expect.error`, if the vector gives one.
fn expected_error(expect: &Obj<'_>) -> Result<Option<Category>, Fault> {
    expect.opt_parse("error")
}

/// Passes if `result` is a refusal of category `want`; otherwise says what happened instead.
fn refusal_as_expected<T: fmt::Display, E: fmt::Display>(
    what: &str,
    want: Category,
    result: Result<T, E>,
    category: impl Fn(&E) -> Option<Category>,
) -> Result<(), Fault> {
    let got = match result {
        Ok(value) => value.to_string(),
        Err(e) => match category(&e) {
            Some(c) if c == want => return Ok(()),
            Some(c) => format!("refusal ({c}): {e}"),
            None => format!("refusal (no category): {e}"),
        },
    };
    Err(Fault::Differs(vec![Issue::mismatch(
        what,
        format_args!("refusal ({want})"),
        got,
    )]))
}

/// What one line came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A blank or `#` line.
    Skipped,
    /// The vector passed.
    Passed {
        /// Its id.
        id: String,
    },
    /// The line failed.
    Failed {
        /// Its id, if the line got far enough to have one.
        id: Option<String>,
        /// Why.
        fault: Fault,
    },
}

/// Checks one line of a vector file (without the per-file duplicate-id check).
pub fn check_line(text: &str) -> Outcome {
    let text = text.trim();
    if text.is_empty() || text.starts_with('#') {
        return Outcome::Skipped;
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Failed {
                id: None,
                fault: Fault::Json {
                    message: e.to_string(),
                },
            };
        }
    };
    let line = match Obj::root(&value) {
        Ok(line) => line,
        Err(fault) => return Outcome::Failed { id: None, fault },
    };
    let id = match line.str("id") {
        Ok(id) => id.to_owned(),
        Err(fault) => return Outcome::Failed { id: None, fault },
    };
    match check_vector(&line) {
        Ok(()) => Outcome::Passed { id },
        Err(fault) => Outcome::Failed {
            id: Some(id),
            fault,
        },
    }
}

/// Counts of passed and failed vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Vectors that passed.
    pub passed: u64,
    /// Lines that failed (vectors, malformed lines, unreadable files).
    pub failed: u64,
}

impl Summary {
    /// The contract's success rule: nothing failed and something passed.
    pub const fn succeeded(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

impl fmt::Display for Summary {
    /// Exactly `N passed, M failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} passed, {} failed", self.passed, self.failed)
    }
}

/// How to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Print `ok <file>:<line> <id>` for each pass.
    pub verbose: bool,
    /// Show progress on the error stream for files past 1000 lines (for a terminal).
    pub progress: bool,
}

/// Lines between progress updates.
const PROGRESS_EVERY: u64 = 500;
/// Files up to this many lines show no progress.
const PROGRESS_AFTER: u64 = 1000;

/// Replays vector files, writing the report to `out` and progress to `err`.
#[derive(Debug)]
pub struct Replayer<O: Write, E: Write> {
    out: O,
    err: E,
    options: Options,
    summary: Summary,
    progress_drawn: bool,
}

impl<O: Write, E: Write> Replayer<O, E> {
    /// A replayer with nothing counted yet.
    pub fn new(out: O, err: E, options: Options) -> Self {
        Self {
            out,
            err,
            options,
            summary: Summary::default(),
            progress_drawn: false,
        }
    }

    /// Replays the file at `path`; a file that cannot be opened counts as one failure
    /// (reported at line 0). Errors are from writing the report only.
    pub fn replay_path(&mut self, path: &Path) -> io::Result<()> {
        let name = path.display().to_string();
        match File::open(path) {
            Ok(file) => {
                let size = file.metadata().ok().map(|m| m.len());
                self.replay_reader(&name, BufReader::new(file), size)
            }
            Err(e) => self.record(
                &name,
                0,
                Outcome::Failed {
                    id: None,
                    fault: Fault::Io {
                        message: e.to_string(),
                    },
                },
            ),
        }
    }

    /// Replays lines from `reader`, reporting them as `name:<line>`. `size` (bytes), if known,
    /// lets progress show a percentage.
    pub fn replay_reader(
        &mut self,
        name: &str,
        mut reader: impl BufRead,
        size: Option<u64>,
    ) -> io::Result<()> {
        let mut buf = Vec::new();
        let mut line_no: u64 = 0;
        let mut read: u64 = 0;
        let mut ids: HashMap<String, u64> = HashMap::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(n) => read = read.saturating_add(u64::try_from(n).unwrap_or(u64::MAX)),
                Err(e) => {
                    line_no = line_no.saturating_add(1);
                    let fault = Fault::Io {
                        message: e.to_string(),
                    };
                    self.record(name, line_no, Outcome::Failed { id: None, fault })?;
                    break;
                }
            }
            line_no = line_no.saturating_add(1);
            let outcome = match std::str::from_utf8(&buf) {
                // A byte order mark some editors write is not part of the first line.
                Ok(text) if line_no == 1 => check_line(text.trim_start_matches('\u{feff}')),
                Ok(text) => check_line(text),
                Err(e) => Outcome::Failed {
                    id: None,
                    fault: Fault::NotUtf8 {
                        at: e.valid_up_to(),
                    },
                },
            };
            let outcome = unique_id(outcome, &mut ids, line_no);
            self.record(name, line_no, outcome)?;
            if self.options.progress && line_no > PROGRESS_AFTER && line_no % PROGRESS_EVERY == 0 {
                self.draw_progress(name, line_no, read, size);
            }
        }
        self.clear_progress();
        Ok(())
    }

    fn record(&mut self, name: &str, line_no: u64, outcome: Outcome) -> io::Result<()> {
        match outcome {
            Outcome::Skipped => Ok(()),
            Outcome::Passed { id } => {
                self.summary.passed = self.summary.passed.saturating_add(1);
                if self.options.verbose {
                    self.clear_progress();
                    writeln!(self.out, "ok {name}:{line_no} {id}")?;
                }
                Ok(())
            }
            Outcome::Failed { id, fault } => {
                self.summary.failed = self.summary.failed.saturating_add(1);
                self.clear_progress();
                let id = id.as_deref().unwrap_or("?");
                writeln!(self.out, "FAIL {name}:{line_no} {id}: {fault}")
            }
        }
    }

    // Progress is best effort: a failed write to the error stream must not stop the replay.
    fn draw_progress(&mut self, name: &str, line_no: u64, read: u64, size: Option<u64>) {
        let _ = self.out.flush();
        let _ = match size.filter(|s| *s > 0) {
            Some(size) => write!(
                self.err,
                "\r{name}: {}% ({line_no} lines)",
                read.saturating_mul(100) / size
            ),
            None => write!(self.err, "\r{name}: {line_no} lines"),
        };
        let _ = self.err.flush();
        self.progress_drawn = true;
    }

    fn clear_progress(&mut self) {
        if self.progress_drawn {
            // Carriage return, then erase to the end of the line.
            let _ = write!(self.err, "\r\x1b[K");
            let _ = self.err.flush();
            self.progress_drawn = false;
        }
    }

    /// The counts so far.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// Writes the final `N passed, M failed` line and returns the counts.
    pub fn finish(mut self) -> io::Result<Summary> {
        self.clear_progress();
        writeln!(self.out, "{}", self.summary)?;
        self.out.flush()?;
        Ok(self.summary)
    }
}

/// Ids are unique within a file (VECTORS.md): a repeated id fails the later line.
fn unique_id(outcome: Outcome, ids: &mut HashMap<String, u64>, line_no: u64) -> Outcome {
    let id = match &outcome {
        Outcome::Passed { id } | Outcome::Failed { id: Some(id), .. } => id.clone(),
        _ => return outcome,
    };
    match ids.entry(id) {
        Entry::Vacant(slot) => {
            slot.insert(line_no);
            outcome
        }
        Entry::Occupied(first) => match outcome {
            Outcome::Passed { id } => Outcome::Failed {
                id: Some(id),
                fault: Fault::DuplicateId {
                    first_line: *first.get(),
                },
            },
            other => other,
        },
    }
}

/// Replays `text` as the file `name` and returns the report and the counts (the summary line
/// included), for tests and tools that hold vectors in memory.
pub fn replay_text(name: &str, text: &str, options: Options) -> (String, Summary) {
    let mut out = Vec::new();
    let mut replayer = Replayer::new(&mut out, io::sink(), options);
    // Writing to a Vec cannot fail.
    let _ = replayer.replay_reader(name, text.as_bytes(), None);
    let summary = replayer.finish().unwrap_or_default();
    (String::from_utf8_lossy(&out).into_owned(), summary)
}
