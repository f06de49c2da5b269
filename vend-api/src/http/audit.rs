//! `/v1/audit`: read and verify the hash-chained audit log.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiQuery;
use crate::audit::to_hex;

/// `GET /v1/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditPage {
    /// Entries after this sequence number (default 0).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// An audit entry as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    /// Sequence number.
    pub seq: i64,
    /// When.
    pub at: String,
    /// API key name (or `cli`).
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Facts (never digits or keys).
    pub details: serde_json::Value,
    /// Previous entry's hash (hex).
    pub prev_hash: String,
    /// This entry's hash (hex).
    pub hash: String,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// In sequence order.
    pub entries: Vec<AuditEntryResponse>,
}

/// Read the audit log.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditPage), security(("api_key" = ["audit"])),
    responses((status = 200, description = "OK", body = AuditList), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<AuditPage>,
) -> Result<Json<AuditList>, ApiError> {
    let after = q.after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid(
            "out_of_range",
            "after",
            "after must not be negative",
        ));
    }
    let limit = q.limit.unwrap_or(100);
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=1000).contains(l))
        .ok_or_else(|| {
            ApiError::invalid(
                "out_of_range",
                "limit",
                format!("limit must be 1 to 1000, got {limit}"),
            )
        })?;
    let rows = s.service.ledger().audit_rows(after, limit).await?;
    let entries = rows
        .into_iter()
        .map(|r| AuditEntryResponse {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
        .collect();
    Ok(Json(AuditList { entries }))
}

/// The chain's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerification {
    /// True if every entry links and hashes correctly.
    pub ok: bool,
    /// Entries checked (the last good sequence number).
    pub entries: i64,
    /// The head hash (record it elsewhere to detect truncation later).
    pub head_hash: String,
    /// The first bad entry, if any.
    pub first_bad_seq: Option<i64>,
    /// What is wrong with it.
    pub error: Option<String>,
}

/// Verify the whole audit chain now.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("api_key" = ["audit"])),
    responses((status = 200, description = "OK", body = AuditVerification), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn verify(State(s): State<AppState>) -> Result<Json<AuditVerification>, ApiError> {
    Ok(Json(match s.service.ledger().verify_audit().await? {
        Ok(head) => AuditVerification {
            ok: true,
            entries: head.seq,
            head_hash: to_hex(&head.hash),
            first_bad_seq: None,
            error: None,
        },
        Err(brk) => AuditVerification {
            ok: false,
            entries: brk.seq.saturating_sub(1),
            head_hash: String::new(),
            first_bad_seq: Some(brk.seq),
            error: Some(brk.to_string()),
        },
    }))
}
