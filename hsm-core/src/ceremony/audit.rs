//! The ceremony audit log: one JSON object per line, appended and `fsync`ed before the
//! ceremony reports its outcome.
//!
//! A line says who (operator and custodians), what (event, store, key id, the record's
//! attributes, the KCV of the key and of each component), when (UTC, to the second) and the
//! outcome (`"ok"`, or `"refused"` with the error's message). It never holds key or component
//! bytes: errors carry none, and KCVs are made to be shown.
//!
//! ```json
//! {"time":"2025-11-23T10:04:05Z","event":"ceremony-import","operator":"ops1",
//!  "store":"sealed:/var/lib/sts/keys.sealed","key_id":"sgc123456-krn1-kt2",
//!  "record":{...},"scheme":"shamir","threshold":2,"custodians":3,
//!  "components":[{"index":1,"custodian":"alice","kcv":"1A2B3C"}, ...],
//!  "key_kcv":"C33F45","outcome":"ok"}
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use token_codec::UtcMinute;

use super::{CustodianName, Kcv, SchemeKind};
use crate::error::{FileOp, HsmError, io_error};
use crate::store::{VendingKeyId, VendingKeyRecord};

/// Where ceremony audit lines go, and who is running the ceremonies on which store.
#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    operator: String,
    store: String,
}

/// What a ceremony reports to the log.
pub(crate) struct AuditEvent<'a> {
    pub(crate) event: &'static str,
    pub(crate) key_id: VendingKeyId,
    pub(crate) record: Option<&'a VendingKeyRecord>,
    pub(crate) split: Option<(SchemeKind, u8, u8)>,
    pub(crate) components: Vec<(u8, &'a CustodianName, Kcv)>,
    pub(crate) key_kcv: Option<Kcv>,
}

impl AuditLog {
    /// A log at `path` (created if absent, always appended to). `operator` names who runs the
    /// tool (e.g. the login name); `store` names the store (e.g. `sealed:/path` or
    /// `pkcs11:/module:TOKEN`). Neither may be secret.
    pub fn new(path: impl Into<PathBuf>, operator: &str, store: &str) -> Self {
        Self {
            path: path.into(),
            operator: operator.to_owned(),
            store: store.to_owned(),
        }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line for `event` with `outcome`, and `fsync`s it.
    pub(crate) fn append(
        &self,
        event: &AuditEvent<'_>,
        outcome: Result<(), &HsmError>,
    ) -> Result<(), HsmError> {
        let mut line = json!({
            "time": now_rfc3339(),
            "event": event.event,
            "operator": self.operator,
            "store": self.store,
            "key_id": event.key_id.to_string(),
            "record": event.record.map(VendingKeyRecord::json_value),
            "components": event.components.iter().map(|(index, custodian, kcv)| json!({
                "index": index,
                "custodian": custodian.as_str(),
                "kcv": kcv.to_string(),
            })).collect::<Vec<Value>>(),
            "key_kcv": event.key_kcv.map(|k| k.to_string()),
        });
        if let (Some((scheme, threshold, custodians)), Some(map)) =
            (event.split, line.as_object_mut())
        {
            map.insert("scheme".into(), json!(scheme.to_string()));
            map.insert("threshold".into(), json!(threshold));
            map.insert("custodians".into(), json!(custodians));
        }
        if let Some(map) = line.as_object_mut() {
            match outcome {
                Ok(()) => {
                    map.insert("outcome".into(), json!("ok"));
                }
                Err(e) => {
                    map.insert("outcome".into(), json!("refused"));
                    map.insert("error".into(), json!(e.to_string()));
                }
            }
        }
        let mut text = line.to_string();
        text.push('\n');
        let mut options = OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o640);
        }
        let mut file = options
            .open(&self.path)
            .map_err(|e| io_error(FileOp::Append, &self.path, &e))?;
        // One write call per line, so concurrent appenders do not interleave within a line.
        file.write_all(text.as_bytes())
            .map_err(|e| io_error(FileOp::Append, &self.path, &e))?;
        file.sync_data()
            .map_err(|e| io_error(FileOp::Sync, &self.path, &e))
    }
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let (y, mo, d, h, mi) = UtcMinute::from_unix_seconds(secs).to_civil();
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{:02}Z",
        secs.rem_euclid(60)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_is_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
