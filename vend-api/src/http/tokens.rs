//! Token responses and re-issue: `GET /v1/tokens/{id}`, `GET /v1/issues/{id}`,
//! `GET /v1/meters/{pan}/tokens`. A past token always comes back with its stored digits and
//! TID, never a new one.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, ApiQuery};
use super::meters::parse_pan;
use crate::clock::rfc3339;
use crate::ledger::{IssueOutcome, IssueRecord, TokenRecord};
use crate::service::summary::IssueSummary;

/// A token as issued.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Token id.
    pub token_id: i64,
    /// The issue it belongs to.
    pub issue_id: i64,
    /// The meter.
    pub meter: String,
    /// Entry order within the issue (enter in this order).
    pub position: u32,
    /// What it does.
    pub kind: String,
    /// Class 0–2.
    pub class: u8,
    /// Subclass 0–15.
    pub subclass: u8,
    /// TID (minutes since `base_date`), for TID-bearing tokens.
    pub tid: Option<u32>,
    /// The TID's base date.
    pub base_date: Option<u16>,
    /// The 20 digits.
    #[schema(example = "23716100501183194197")]
    pub digits: String,
    /// The digits grouped 4-4-4-4-4.
    #[schema(example = "2371 6100 5011 8319 4197")]
    pub digits_grouped: String,
    /// When it was issued.
    pub issued_at: String,
}

impl From<&TokenRecord> for TokenResponse {
    fn from(t: &TokenRecord) -> Self {
        Self {
            token_id: t.id,
            issue_id: t.issue_id,
            meter: t.meter.to_string(),
            position: t.position,
            kind: t.token.kind.name().into(),
            class: t.token.class,
            subclass: t.token.subclass,
            tid: t.token.tid.map(|(tid, _)| tid.get()),
            base_date: t.token.tid.map(|(_, b)| b.year()),
            digits: t.token.digits.as_str().into(),
            digits_grouped: t.token.digits.grouped().to_string(),
            issued_at: rfc3339(t.created_at),
        }
    }
}

/// The tokens of one issuing request.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssueResponse {
    /// Issue id.
    pub issue_id: i64,
    /// The meter.
    pub meter: String,
    /// `credit`, `management`, `engineering` or `key_change`.
    pub kind: String,
    /// When.
    pub issued_at: String,
    /// Tokens in entry order.
    pub tokens: Vec<TokenResponse>,
    /// What was issued (amounts as credited, key change target…).
    pub summary: IssueSummary,
}

impl IssueResponse {
    fn from_record(r: &IssueRecord) -> Result<Self, ApiError> {
        // Read in place: cloning the stored JSON first costs as much as the answer itself.
        let summary = IssueSummary::deserialize(&r.summary).map_err(|e| ApiError::Internal {
            detail: format!("issue {} summary unreadable: {e}", r.id),
        })?;
        Ok(Self {
            issue_id: r.id,
            meter: r.meter.to_string(),
            kind: r.kind.name().into(),
            issued_at: rfc3339(r.created_at),
            tokens: r.tokens.iter().map(TokenResponse::from).collect(),
            summary,
        })
    }
}

pub(super) type Issued = (StatusCode, HeaderMap, Json<IssueResponse>);

pub(super) fn issued(out: &IssueOutcome) -> Result<Issued, ApiError> {
    let mut h = HeaderMap::new();
    if out.replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok((
        StatusCode::CREATED,
        h,
        Json(IssueResponse::from_record(&out.issue)?),
    ))
}

/// Re-issue one token: the stored digits, never a new TID.
#[utoipa::path(get, path = "/v1/tokens/{token_id}", tag = "tokens", params(("token_id" = i64, Path, description = "Token id")),
    security(("api_key" = ["vend"])), responses((status = 200, description = "OK", body = TokenResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn get_token(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<TokenResponse>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| {
        ApiError::invalid("invalid_path", "token_id", "token_id must be an integer")
    })?;
    Ok(Json(TokenResponse::from(&s.service.token(id).await?)))
}

/// Re-issue a whole issue (e.g. a key change set with its credit token).
#[utoipa::path(get, path = "/v1/issues/{issue_id}", tag = "tokens", params(("issue_id" = i64, Path, description = "Issue id")),
    security(("api_key" = ["vend"])), responses((status = 200, description = "OK", body = IssueResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn get_issue(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<IssueResponse>, ApiError> {
    let id = id.parse::<i64>().map_err(|_| {
        ApiError::invalid("invalid_path", "issue_id", "issue_id must be an integer")
    })?;
    Ok(Json(IssueResponse::from_record(
        &s.service.issue_record(id).await?,
    )?))
}

/// `GET /v1/meters/{pan}/tokens`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenPage {
    /// Only tokens with ids below this one (paging).
    pub before: Option<i64>,
    /// At most this many (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Newest first.
    pub tokens: Vec<TokenResponse>,
}

/// A meter's tokens, newest first.
#[utoipa::path(get, path = "/v1/meters/{pan}/tokens", tag = "tokens", params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$"), TokenPage),
    security(("api_key" = ["vend"])), responses((status = 200, description = "OK", body = TokenList), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    ApiPath(pan): ApiPath<String>,
    ApiQuery(q): ApiQuery<TokenPage>,
) -> Result<Json<TokenList>, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    let limit = q.limit.unwrap_or(50);
    let limit = u32::try_from(limit)
        .ok()
        .filter(|l| (1..=500).contains(l))
        .ok_or_else(|| {
            ApiError::invalid(
                "out_of_range",
                "limit",
                format!("limit must be 1 to 500, got {limit}"),
            )
        })?;
    let tokens = s.service.meter_tokens(pan, q.before, limit).await?;
    Ok(Json(TokenList {
        tokens: tokens.iter().map(TokenResponse::from).collect(),
    }))
}
