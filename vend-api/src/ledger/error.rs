//! The ledger's one error type.

use core::fmt;
use std::error::Error;

use hsm_core::MeterPan;

use super::mint::MintError;

/// A uniqueness or state conflict (HTTP 409).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A meter with this PAN is already registered.
    MeterExists {
        /// The PAN.
        pan: MeterPan,
    },
    /// The idempotency key was used before with another request.
    IdempotencyKeyReused,
    /// An API key with this name exists.
    ApiKeyNameTaken {
        /// The name.
        name: String,
    },
    /// Another unique constraint (a backend's constraint name, no values).
    Unique {
        /// Constraint or column list as the backend names it.
        constraint: String,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MeterExists { pan } => write!(f, "meter {pan} is already registered"),
            Self::IdempotencyKeyReused => f.write_str(
                "this Idempotency-Key was already used with a different request; use a new key",
            ),
            Self::ApiKeyNameTaken { name } => write!(f, "an api key named {name:?} exists"),
            Self::Unique { constraint } => write!(f, "unique constraint {constraint} violated"),
        }
    }
}

/// Everything that can go wrong in the ledger.
#[non_exhaustive]
#[derive(Debug)]
pub enum LedgerError {
    /// No meter with this PAN.
    MeterNotFound {
        /// The PAN.
        pan: MeterPan,
    },
    /// The meter is retired (replaced); it gets no more tokens.
    MeterRetired {
        /// The PAN.
        pan: MeterPan,
        /// Its replacement, if any.
        replaced_by: Option<MeterPan>,
    },
    /// A uniqueness or state conflict.
    Conflict(Conflict),
    /// The mint refused; nothing was written.
    Mint(MintError),
    /// The backend failed (I/O, disk full, lock timeout): a server fault, retryable.
    Backend {
        /// Our operation.
        op: &'static str,
        /// The backend's error.
        source: Box<dyn Error + Send + Sync>,
    },
    /// A stored value that does not parse (a bug or outside tampering).
    Corrupt {
        /// Which table and column.
        what: &'static str,
    },
    /// The ledger is shutting down or its writer stopped.
    Closed,
}

impl fmt::Display for LedgerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MeterNotFound { pan } => write!(f, "no meter {pan} is registered"),
            Self::MeterRetired { pan, replaced_by } => match replaced_by {
                Some(new) => write!(f, "meter {pan} is retired; it was replaced by {new}"),
                None => write!(f, "meter {pan} is retired"),
            },
            Self::Conflict(c) => c.fmt(f),
            Self::Mint(e) => e.fmt(f),
            Self::Backend { op, source } => write!(f, "ledger {op} failed: {source}"),
            Self::Corrupt { what } => write!(f, "ledger holds an unreadable {what}"),
            Self::Closed => f.write_str("ledger is closed"),
        }
    }
}

impl Error for LedgerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Backend { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<Conflict> for LedgerError {
    fn from(c: Conflict) -> Self {
        Self::Conflict(c)
    }
}

impl From<MintError> for LedgerError {
    fn from(e: MintError) -> Self {
        Self::Mint(e)
    }
}
