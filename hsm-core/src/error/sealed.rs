//! Faults of the sealed development store: a file that cannot be created, read, opened with
//! the passphrase given, or trusted.

use core::fmt;
use std::error::Error;
use std::path::PathBuf;

/// What went wrong with a sealed key store file. Paths are shown; passphrases and contents
/// never are.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealedError {
    /// `create` where a file already exists.
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// A file that is not a sealed key store this crate can read.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        fault: FormatFault,
    },
    /// The passphrase does not open the file: its key check does not match. (An altered salt
    /// or cost field looks the same, since both change the derived key.)
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase is right but the contents fail authentication: the file was altered.
    Tampered {
        /// The file.
        path: PathBuf,
    },
    /// The file changed on disk since this process opened it (another process wrote it):
    /// refused rather than overwrite that change. Reopen the store and retry.
    Changed {
        /// The file.
        path: PathBuf,
    },
}

impl fmt::Display for SealedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealedError::Exists { path } => {
                write!(f, "key store {} already exists", path.display())
            }
            SealedError::Format { path, fault } => {
                write!(f, "key store {}: {fault}", path.display())
            }
            SealedError::WrongPassphrase { path } => write!(
                f,
                "wrong passphrase for key store {} (or its key-derivation header was altered)",
                path.display()
            ),
            SealedError::Tampered { path } => write!(
                f,
                "key store {} was tampered with: its contents fail authentication",
                path.display()
            ),
            SealedError::Changed { path } => write!(
                f,
                "key store {} was changed by another process since it was opened; reopen it",
                path.display()
            ),
        }
    }
}

impl Error for SealedError {}

/// Why a file is not a readable sealed key store.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormatFault {
    /// The file does not start with the store's magic bytes.
    Magic,
    /// A format version this crate does not know.
    Version {
        /// The version byte found.
        got: u8,
    },
    /// Shorter than a header and an authentication tag.
    Truncated {
        /// Bytes found.
        len: usize,
    },
    /// Key-derivation costs outside the accepted range (a guard against a file that would make
    /// opening it take unbounded memory or time).
    KdfCost,
    /// The authenticated contents do not parse (written by a newer or broken writer).
    Body,
}

impl fmt::Display for FormatFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatFault::Magic => f.write_str("not a sealed key store (bad magic)"),
            FormatFault::Version { got } => write!(f, "unknown format version {got}"),
            FormatFault::Truncated { len } => write!(f, "truncated ({len} bytes)"),
            FormatFault::KdfCost => f.write_str("key-derivation cost out of range"),
            FormatFault::Body => f.write_str("authenticated contents do not parse"),
        }
    }
}
