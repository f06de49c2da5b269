//! `POST /v1/meters/{pan}/verify`: what a token carries, or why the meter would refuse it,
//! and whether we issued it.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath};
use super::meters::parse_pan;
use crate::service::verify::VerifyReport;

/// Digits to check.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The 20 digits as typed (spaces and dashes allowed).
    #[schema(example = "2371 6100 5011 8319 4197", max_length = 64)]
    pub digits: String,
}

/// Decode 20 digits for a meter: the token's content, or why the meter would reject it
/// (`format`, `crc` = not for this meter or mistyped, `function`, `key_expired`), plus
/// whether and when our ledger issued these digits to this meter. A refusal is a 200 with
/// `accepted: false`; only an unknown meter or malformed request is an error.
#[utoipa::path(post, path = "/v1/meters/{pan}/verify", tag = "tokens", params(("pan" = String, Path, description = "Meter PAN")),
    request_body = VerifyRequest, security(("api_key" = ["vend", "meters"])),
    responses((status = 200, description = "OK", body = VerifyReport), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn verify(
    State(s): State<AppState>,
    ApiPath(pan): ApiPath<String>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyReport>, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    if req.digits.chars().count() > 64 {
        return Err(ApiError::invalid(
            "out_of_range",
            "digits",
            "digits must be at most 64 characters",
        ));
    }
    Ok(Json(s.service.verify(pan, &req.digits).await?))
}
