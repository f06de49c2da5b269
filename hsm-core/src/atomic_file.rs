//! Crash-safe file writes: a file is either its old contents or its new ones, never a torn
//! mix, and never readable by other users.
//!
//! The new contents go to a temporary file in the same directory (same file system, so the
//! final step is a rename, not a copy), created `0600`, written and `fsync`ed; then it is
//! renamed over the target (or, for a file that must not exist yet, hard-linked to it, which
//! fails instead of replacing), and the directory is `fsync`ed so the new name itself survives
//! a power cut.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{FileOp, HsmError, io_error};

/// What to do if the target exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace it atomically.
    Replace,
    /// Fail with `AlreadyExists`, leaving it untouched.
    Refuse,
}

/// Writes `bytes` to `path` atomically with mode `0600`.
pub(crate) fn write(path: &Path, bytes: &[u8], existing: Existing) -> Result<(), HsmError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = temp_name(&dir, path)?;
    let result = write_then_place(&tmp, path, bytes, existing);
    if result.is_err() {
        // Best effort: the temporary file holds nothing the target did not, but is clutter.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(FileOp::Sync, &dir, &e))
}

fn write_then_place(
    tmp: &Path,
    path: &Path,
    bytes: &[u8],
    existing: Existing,
) -> Result<(), HsmError> {
    let mut file = secret_options()
        .open(tmp)
        .map_err(|e| io_error(FileOp::Create, tmp, &e))?;
    file.write_all(bytes)
        .map_err(|e| io_error(FileOp::Write, tmp, &e))?;
    file.sync_all()
        .map_err(|e| io_error(FileOp::Sync, tmp, &e))?;
    drop(file);
    match existing {
        Existing::Replace => fs::rename(tmp, path).map_err(|e| io_error(FileOp::Rename, path, &e)),
        Existing::Refuse => {
            // A hard link is created atomically and fails if the name is taken.
            fs::hard_link(tmp, path).map_err(|e| io_error(FileOp::Create, path, &e))?;
            fs::remove_file(tmp).map_err(|e| io_error(FileOp::Rename, tmp, &e))
        }
    }
}

/// Options for a new file only its owner can read.
pub(crate) fn secret_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// `.<name>.<random>.tmp` beside the target.
fn temp_name(dir: &Path, path: &Path) -> Result<PathBuf, HsmError> {
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|_| HsmError::Random)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    Ok(dir.join(format!(".{name}.{suffix}.tmp")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_or_refuses_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        write(&path, b"one", Existing::Refuse).unwrap();
        let err = write(&path, b"two", Existing::Refuse).unwrap_err();
        assert!(matches!(
            err,
            HsmError::Io {
                op: FileOp::Create,
                kind: std::io::ErrorKind::AlreadyExists,
                ..
            }
        ));
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write(&path, b"three", Existing::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"three");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["store"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
