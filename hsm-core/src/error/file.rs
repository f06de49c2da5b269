//! Evidence of file and JSON faults: which operation on which file, and where JSON broke.

use core::fmt;
use std::io;
use std::path::Path;

use super::HsmError;

/// A file operation that failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileOp {
    /// Reading a file.
    Read,
    /// Creating a file (or a temporary file beside it).
    Create,
    /// Writing a file.
    Write,
    /// Flushing a file or directory to disk (`fsync`).
    Sync,
    /// Renaming the temporary file over the file.
    Rename,
    /// Appending to a log.
    Append,
    /// Creating a directory.
    CreateDir,
}

impl fmt::Display for FileOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileOp::Read => "read",
            FileOp::Create => "create",
            FileOp::Write => "write",
            FileOp::Sync => "sync",
            FileOp::Rename => "rename into place",
            FileOp::Append => "append to",
            FileOp::CreateDir => "create directory",
        })
    }
}

/// A JSON document this crate reads.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonDoc {
    /// A vending key record (`sts-keys ceremony ... --record`).
    Record,
    /// A key component file.
    Component,
}

impl fmt::Display for JsonDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonDoc::Record => "vending key record",
            JsonDoc::Component => "key component",
        })
    }
}

/// serde_json's fault categories. Only the category is kept, never serde's message: it can
/// quote the offending value, which in a component file is secret.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JsonCategory {
    /// Not JSON.
    Syntax,
    /// JSON, but not the fields and types expected (missing, unknown, or wrong type).
    Data,
    /// Ends too early.
    Eof,
    /// Reading failed.
    Io,
}

impl fmt::Display for JsonCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonCategory::Syntax => "not valid json",
            JsonCategory::Data => "missing, unknown or mistyped field",
            JsonCategory::Eof => "unexpected end",
            JsonCategory::Io => "read failed",
        })
    }
}

/// The error for a failed file operation.
pub(crate) fn io_error(op: FileOp, path: &Path, e: &io::Error) -> HsmError {
    HsmError::Io {
        op,
        path: path.to_path_buf(),
        kind: e.kind(),
    }
}

/// The error for JSON that did not parse as `doc`.
pub(crate) fn json_error(doc: JsonDoc, e: &serde_json::Error) -> HsmError {
    use serde_json::error::Category;
    HsmError::Json {
        doc,
        line: e.line(),
        column: e.column(),
        category: match e.classify() {
            Category::Syntax => JsonCategory::Syntax,
            Category::Data => JsonCategory::Data,
            Category::Eof => JsonCategory::Eof,
            Category::Io => JsonCategory::Io,
        },
    }
}
