//! What the two backends' batching writers share: how a job's caller hears the end of the
//! batch it ran in.

use std::sync::Arc;

use super::{LedgerError, LedgerResult};

/// A batch could not be committed (the message is the database's).
#[derive(Debug)]
pub(crate) struct CommitFailed(pub(crate) Arc<str>);

impl core::fmt::Display for CommitFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "batch commit failed: {}", self.0)
    }
}

impl std::error::Error for CommitFailed {}

/// The answer to a job's caller once its batch ended: the job's own refusal stands whatever
/// happened to the batch; a success counts only if the batch committed; a job that never ran
/// (the writer stopped) is [`LedgerError::Closed`].
pub(crate) fn job_reply<T>(
    commit: Result<(), Arc<str>>,
    result: Option<LedgerResult<T>>,
) -> LedgerResult<T> {
    match (commit, result) {
        (Ok(()), Some(r)) => r,
        (Err(_), Some(Err(e))) => Err(e),
        (Err(msg), Some(Ok(_))) => Err(LedgerError::Backend {
            op: "commit",
            source: Box::new(CommitFailed(msg)),
        }),
        (_, None) => Err(LedgerError::Closed),
    }
}
