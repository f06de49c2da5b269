//! Why a vector line failed: the text after `FAIL <file>:<line> <id>: `.

use core::fmt;

/// One difference between what a vector expects and what the implementation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issue {
    /// A value differs: `what: expected X, got Y`.
    Mismatch {
        /// What was compared (`digits`, `decoded token.amount`, `digits[1]`…).
        what: String,
        /// The vector's value.
        expected: String,
        /// The implementation's value.
        got: String,
    },
    /// A step that should have worked was refused: `what: error`.
    Refused {
        /// The step (`decode expect.digits`…).
        what: String,
        /// The error it gave.
        error: String,
    },
}

impl Issue {
    /// A mismatch of two displayable values.
    pub fn mismatch(
        what: impl Into<String>,
        expected: impl fmt::Display,
        got: impl fmt::Display,
    ) -> Self {
        Issue::Mismatch {
            what: what.into(),
            expected: expected.to_string(),
            got: got.to_string(),
        }
    }

    /// A refusal of a step that should have worked.
    pub fn refused(what: impl Into<String>, error: impl fmt::Display) -> Self {
        Issue::Refused {
            what: what.into(),
            error: error.to_string(),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Issue::Mismatch {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected {expected}, got {got}"),
            Issue::Refused { what, error } => write!(f, "{what}: {error}"),
        }
    }
}

/// Why a line failed. Malformed lines and unsupported kinds are failures too (VECTORS.md: never
/// skipped silently).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The line is not valid UTF-8.
    NotUtf8 {
        /// Byte offset of the first invalid byte.
        at: usize,
    },
    /// The line is not JSON.
    Json {
        /// The parser's message (with its column).
        message: String,
    },
    /// The line is JSON but not an object.
    NotAnObject {
        /// What it is instead (`an array`…).
        got: &'static str,
    },
    /// A required field is absent.
    Missing {
        /// Its path (`key.meter_pan`).
        field: String,
    },
    /// A required field is absent, with what else would do or why it is needed.
    MissingBecause {
        /// Its path.
        field: String,
        /// The alternative or the reason.
        why: &'static str,
    },
    /// A field has the wrong JSON type.
    WrongType {
        /// Its path.
        field: String,
        /// The type required.
        expected: &'static str,
        /// The type found.
        got: &'static str,
    },
    /// A field's value is refused (bad hex, bad PAN check digit, out of range…).
    Invalid {
        /// Its path.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The id was already used earlier in the same file.
    DuplicateId {
        /// The line that used it first.
        first_line: u64,
    },
    /// A `kind` VECTORS.md does not define.
    UnknownKind {
        /// The kind found.
        kind: String,
    },
    /// The vector contradicts itself (e.g. `key_bits` against `ea`).
    Vector {
        /// The contradiction, naming both fields.
        reason: String,
    },
    /// The implementation disagrees with the vector.
    Differs(Vec<Issue>),
    /// The file could not be opened or read.
    Io {
        /// The I/O error.
        message: String,
    },
}

impl Fault {
    /// A refused field value.
    pub fn invalid(field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Fault::Invalid {
            field: field.into(),
            reason: reason.to_string(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NotUtf8 { at } => write!(f, "line is not valid UTF-8 (byte {at})"),
            Fault::Json { message } => write!(f, "invalid JSON: {message}"),
            Fault::NotAnObject { got } => write!(f, "line is not a JSON object (got {got})"),
            Fault::Missing { field } => write!(f, "field {field:?} is missing"),
            Fault::MissingBecause { field, why } => write!(f, "field {field:?} is missing: {why}"),
            Fault::WrongType {
                field,
                expected,
                got,
            } => write!(f, "field {field:?}: expected {expected}, got {got}"),
            Fault::Invalid { field, reason } => write!(f, "field {field:?}: {reason}"),
            Fault::DuplicateId { first_line } => {
                write!(f, "id already used at line {first_line}")
            }
            Fault::UnknownKind { kind } => write!(f, "unknown kind {kind:?}"),
            Fault::Vector { reason } => write!(f, "vector error: {reason}"),
            Fault::Differs(issues) => {
                for (i, issue) in issues.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{issue}")?;
                }
                Ok(())
            }
            Fault::Io { message } => write!(f, "cannot read: {message}"),
        }
    }
}

impl std::error::Error for Fault {}

/// Turns the issues a check collected into its result.
pub(crate) fn verdict(issues: Vec<Issue>) -> Result<(), Fault> {
    if issues.is_empty() {
        Ok(())
    } else {
        Err(Fault::Differs(issues))
    }
}
