//! `POST /v1/meters/{pan}/tokens/key-change`: a key change set, optionally with a credit
//! token under the new key, in one transaction.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, Authenticated, IdempotencyKey, IssueJson};
use super::issue::CreditRequest;
use super::meters::parse_pan;
use super::tokens::{IssueResponse, Issued, issued};
use crate::service::mint::KeyChangeTarget;

/// The key a meter moves to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyTargetInput {
    /// New supply group code.
    #[schema(example = "123457", pattern = "^[0-9]{6}$")]
    pub sgc: String,
    /// New tariff index.
    #[schema(example = "01", pattern = "^[0-9]{2}$")]
    pub ti: String,
    /// New key revision number.
    #[schema(example = 4, minimum = 1, maximum = 9)]
    pub krn: i64,
    /// New key type (default: the current one).
    #[schema(minimum = 0, maximum = 3)]
    pub kt: Option<i64>,
    /// The base date the new key must have (checked if given; a rollover moves to the next).
    pub base_date: Option<i64>,
}

/// A key change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyChangeRequest {
    /// The new key.
    pub to: KeyTargetInput,
    /// For 64-bit keys: the 3-token set whose third token carries the new SGC.
    #[serde(default)]
    pub sgc_token: bool,
    /// A credit token under the new key, issued in the same transaction (the rollover's
    /// "three tokens with the next purchase").
    pub credit: Option<CreditRequest>,
}

impl KeyChangeRequest {
    fn target(&self) -> Result<KeyChangeTarget, ApiError> {
        let t = &self.to;
        let small = |v: i64, field: &str| {
            u8::try_from(v).map_err(|_| {
                ApiError::invalid("out_of_range", field, format!("{field} out of range: {v}"))
            })
        };
        Ok(KeyChangeTarget {
            sgc: t
                .sgc
                .parse()
                .map_err(|e| ApiError::invalid("out_of_range", "to.sgc", e))?,
            ti: t
                .ti
                .parse()
                .map_err(|e| ApiError::invalid("out_of_range", "to.ti", e))?,
            krn: hsm_core::KeyRevision::new(small(t.krn, "to.krn")?)
                .map_err(|e| ApiError::invalid("out_of_range", "to.krn", e))?,
            kt: t
                .kt
                .map(|k| {
                    small(k, "to.kt").and_then(|b| {
                        hsm_core::KeyType::try_from(b)
                            .map_err(|e| ApiError::invalid("out_of_range", "to.kt", e))
                    })
                })
                .transpose()?,
            base_date: t
                .base_date
                .map(|y| {
                    u16::try_from(y)
                        .ok()
                        .and_then(|y| hsm_core::BaseDate::from_year(y).ok())
                        .ok_or_else(|| {
                            ApiError::invalid(
                                "out_of_range",
                                "to.base_date",
                                format!("base date must be 1993, 2014 or 2035, got {y}"),
                            )
                        })
                })
                .transpose()?,
            sgc_token: self.sgc_token,
        })
    }
}

/// Issue a key change set (2, 3 or 4 tokens) moving the meter to a new SGC/TI/KRN/base
/// date, optionally with a credit token under the new key, atomically.
#[utoipa::path(post, path = "/v1/meters/{pan}/tokens/key-change", tag = "tokens",
    params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$"), ("Idempotency-Key" = String, Header, description = "Client-chosen key (1-255 visible ASCII characters); a retry reuses it", pattern = "^[!-~]{1,255}$")),
    request_body = KeyChangeRequest, security(("api_key" = ["key_change"])),
    responses((status = 201, description = "Created", body = IssueResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn key_change(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    idem: IdempotencyKey,
    ApiPath(pan): ApiPath<String>,
    req: IssueJson<KeyChangeRequest>,
) -> Result<Issued, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    let target = req.body.target()?;
    let credit = req
        .body
        .credit
        .as_ref()
        .map(|c| c.order("credit."))
        .transpose()?;
    issued(
        &s.service
            .key_change(&caller, idem.with(req.request_sha256), pan, target, credit)
            .await?,
    )
}
