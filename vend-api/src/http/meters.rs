//! `/v1/meters`: register, read, list by customer, replace; low-credit events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyRevision, KeyType, MeterPan, SupplyGroupCode,
    TariffIndex,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, ApiPath, ApiQuery, Authenticated};
use crate::clock::{parse_rfc3339, rfc3339};
use crate::ledger::{CustomerRef, MeterKey, MeterRecord, NewMeter};
use crate::service::LowCredit;
use crate::service::summary::KeySummary;

/// Parses a meter PAN from a path or body field.
pub(super) fn parse_pan(text: &str, field: &str) -> Result<MeterPan, ApiError> {
    text.parse::<MeterPan>()
        .map_err(|e| ApiError::invalid("invalid_pan", field, e))
}

/// A meter's key as a request gives it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeterKeyInput {
    /// Supply group code, 6 digits.
    #[schema(example = "201457", pattern = "^[0-9]{6}$")]
    pub sgc: String,
    /// Tariff index, 2 digits.
    #[schema(example = "01", pattern = "^[0-9]{2}$")]
    pub ti: String,
    /// Key revision number, 1–9.
    #[schema(example = 1, minimum = 1, maximum = 9)]
    pub krn: i64,
    /// Key type: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK.
    #[schema(example = 2, minimum = 0, maximum = 3)]
    pub kt: i64,
    /// Encryption algorithm: `07` STA, `09` DEA, `11` MISTY1.
    #[schema(example = "07", pattern = "^(07|09|11)$")]
    pub ea: String,
    /// Decoder key generation algorithm: `02` or `04`.
    #[schema(example = "04", pattern = "^(02|04)$")]
    pub dkga: String,
    /// TID base date: 1993, 2014 or 2035.
    #[schema(example = 2014)]
    pub base_date: i64,
}

fn small<T: TryFrom<u8>>(v: i64, field: &str, what: &str) -> Result<T, ApiError>
where
    T::Error: std::fmt::Display,
{
    let b = u8::try_from(v).map_err(|_| {
        ApiError::invalid("out_of_range", field, format!("{what} out of range: {v}"))
    })?;
    T::try_from(b).map_err(|e| ApiError::invalid("out_of_range", field, e))
}

impl MeterKeyInput {
    /// Parses into domain types, naming the field (prefixed with `prefix`) at fault.
    pub(super) fn parse(&self, prefix: &str) -> Result<MeterKey, ApiError> {
        let f = |name: &str| format!("{prefix}{name}");
        Ok(MeterKey {
            sgc: self
                .sgc
                .parse::<SupplyGroupCode>()
                .map_err(|e| ApiError::invalid("out_of_range", f("sgc"), e))?,
            ti: self
                .ti
                .parse::<TariffIndex>()
                .map_err(|e| ApiError::invalid("out_of_range", f("ti"), e))?,
            krn: small::<KeyRevision>(self.krn, &f("krn"), "key revision number")?,
            kt: small::<KeyType>(self.kt, &f("kt"), "key type")?,
            ea: self
                .ea
                .parse::<EncryptionAlgorithm>()
                .map_err(|e| ApiError::invalid("out_of_range", f("ea"), e))?,
            dkga: self
                .dkga
                .parse::<Dkga>()
                .map_err(|e| ApiError::invalid("out_of_range", f("dkga"), e))?,
            base_date: u16::try_from(self.base_date)
                .ok()
                .and_then(|y| BaseDate::from_year(y).ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "out_of_range",
                        f("base_date"),
                        format!(
                            "base date must be 1993, 2014 or 2035, got {}",
                            self.base_date
                        ),
                    )
                })?,
        })
    }
}

/// `POST /v1/meters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMeterRequest {
    /// Meter PAN: 18 digits, IIN 600727 (or 0000), Luhn check digit last.
    #[schema(example = "600727000000000009", pattern = "^[0-9]{18}$")]
    pub pan: String,
    /// The customer (account) reference, 1–64 printable characters.
    #[schema(example = "ACC-1001", min_length = 1, max_length = 64)]
    pub customer_ref: String,
    /// Supply group code, 6 digits.
    #[schema(example = "201457", pattern = "^[0-9]{6}$")]
    pub sgc: String,
    /// Tariff index, 2 digits.
    #[schema(example = "01", pattern = "^[0-9]{2}$")]
    pub ti: String,
    /// Key revision number, 1–9.
    #[schema(example = 1, minimum = 1, maximum = 9)]
    pub krn: i64,
    /// Key type: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK.
    #[schema(example = 2, minimum = 0, maximum = 3)]
    pub kt: i64,
    /// Encryption algorithm: `07` STA, `09` DEA, `11` MISTY1.
    #[schema(example = "07", pattern = "^(07|09|11)$")]
    pub ea: String,
    /// Decoder key generation algorithm: `02` or `04`.
    #[schema(example = "04", pattern = "^(02|04)$")]
    pub dkga: String,
    /// TID base date: 1993, 2014 or 2035.
    #[schema(example = 2014)]
    pub base_date: i64,
}

impl RegisterMeterRequest {
    fn key(&self) -> MeterKeyInput {
        MeterKeyInput {
            sgc: self.sgc.clone(),
            ti: self.ti.clone(),
            krn: self.krn,
            kt: self.kt,
            ea: self.ea.clone(),
            dkga: self.dkga.clone(),
            base_date: self.base_date,
        }
    }
}

/// A meter.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterResponse {
    /// Meter PAN.
    pub pan: String,
    /// Customer reference.
    pub customer_ref: String,
    /// `active` or `retired`.
    pub status: String,
    /// Current key.
    pub key: KeySummary,
    /// The meter this one replaced.
    pub replaces: Option<String>,
    /// The meter that replaced this one.
    pub replaced_by: Option<String>,
    /// When it was retired.
    pub retired_at: Option<String>,
    /// Why it was retired.
    pub retire_reason: Option<String>,
    /// When it was registered.
    pub registered_at: String,
    /// When its key last changed.
    pub key_changed_at: Option<String>,
}

impl From<&MeterRecord> for MeterResponse {
    fn from(m: &MeterRecord) -> Self {
        Self {
            pan: m.pan.to_string(),
            customer_ref: m.customer_ref.to_string(),
            status: m.status.name().into(),
            key: KeySummary::from(&m.key),
            replaces: m.replaces.map(|p| p.to_string()),
            replaced_by: m.replaced_by.map(|p| p.to_string()),
            retired_at: m.retired_at.map(rfc3339),
            retire_reason: m.retire_reason.clone(),
            registered_at: rfc3339(m.created_at),
            key_changed_at: m.key_changed_at.map(rfc3339),
        }
    }
}

fn customer(text: &str) -> Result<CustomerRef, ApiError> {
    text.parse::<CustomerRef>()
        .map_err(|e| ApiError::invalid("invalid_customer_ref", "customer_ref", e))
}

/// Register a meter.
#[utoipa::path(post, path = "/v1/meters", tag = "meters", request_body = RegisterMeterRequest,
    security(("api_key" = ["meters"])),
    responses((status = 201, description = "Created", body = MeterResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn register(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<RegisterMeterRequest>,
) -> Result<(StatusCode, Json<MeterResponse>), ApiError> {
    let m = NewMeter {
        pan: parse_pan(&req.pan, "pan")?,
        customer_ref: customer(&req.customer_ref)?,
        key: req.key().parse("")?,
    };
    let rec = s.service.register_meter(&caller, m).await?;
    Ok((StatusCode::CREATED, Json(MeterResponse::from(&rec))))
}

/// Read a meter.
#[utoipa::path(get, path = "/v1/meters/{pan}", tag = "meters", params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$")),
    security(("api_key" = ["meters", "vend"])),
    responses((status = 200, description = "OK", body = MeterResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn get_meter(
    State(s): State<AppState>,
    ApiPath(pan): ApiPath<String>,
) -> Result<Json<MeterResponse>, ApiError> {
    let rec = s.service.meter(parse_pan(&pan, "pan")?).await?;
    Ok(Json(MeterResponse::from(&rec)))
}

/// `GET /v1/meters?customer_ref=…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomerQuery {
    /// Customer reference.
    #[param(min_length = 1, max_length = 64)]
    pub customer_ref: String,
}

/// A customer's meters.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeterList {
    /// Oldest first: a replacement chain reads in order.
    pub meters: Vec<MeterResponse>,
}

/// Every meter (active or retired) of a customer: the replacement history.
#[utoipa::path(get, path = "/v1/meters", tag = "meters", params(CustomerQuery),
    security(("api_key" = ["meters"])),
    responses((status = 200, description = "OK", body = MeterList), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn list_meters(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<CustomerQuery>,
) -> Result<Json<MeterList>, ApiError> {
    let meters = s
        .service
        .meters_by_customer(customer(&q.customer_ref)?)
        .await?;
    Ok(Json(MeterList {
        meters: meters.iter().map(MeterResponse::from).collect(),
    }))
}

/// `POST /v1/meters/{pan}/replace`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceMeterRequest {
    /// The new meter's PAN.
    #[schema(example = "600727000000000017", pattern = "^[0-9]{18}$")]
    pub new_pan: String,
    /// The new meter's key.
    pub key: MeterKeyInput,
    /// Why the old meter is retired.
    #[schema(example = "display broken", max_length = 500)]
    pub reason: String,
}

/// Replace a meter: retire it and register the new one under the same customer reference,
/// in one transaction. Answers the new meter.
#[utoipa::path(post, path = "/v1/meters/{pan}/replace", tag = "meters", params(("pan" = String, Path, description = "PAN of the meter taken out", pattern = "^[0-9]{18}$")),
    request_body = ReplaceMeterRequest, security(("api_key" = ["meters"])),
    responses((status = 201, description = "Created", body = MeterResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn replace(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiPath(pan): ApiPath<String>,
    ApiJson(req): ApiJson<ReplaceMeterRequest>,
) -> Result<(StatusCode, Json<MeterResponse>), ApiError> {
    let old = parse_pan(&pan, "pan")?;
    let new_pan = parse_pan(&req.new_pan, "new_pan")?;
    if req.reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "out_of_range",
            "reason",
            "reason must be at most 500 characters",
        ));
    }
    let key = req.key.parse("key.")?;
    let rec = s
        .service
        .replace_meter(&caller, old, new_pan, key, req.reason)
        .await?;
    Ok((StatusCode::CREATED, Json(MeterResponse::from(&rec))))
}

/// `POST /v1/meters/{pan}/events/low-credit`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowCreditRequest {
    /// Remaining credit as the meter reports it (decimal text).
    #[schema(example = "4.5", max_length = 40)]
    pub remaining: Option<String>,
    /// Unit of `remaining` (e.g. `kWh`).
    #[schema(example = "kWh", max_length = 16)]
    pub unit: Option<String>,
    /// When the meter reported it (RFC 3339); default: now.
    #[schema(example = "2026-11-23T04:00:00Z")]
    pub reported_at: Option<String>,
}

/// An accepted event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventAccepted {
    /// Event id.
    pub event_id: i64,
    /// When it was received.
    pub received_at: String,
}

/// A meter head-end reports that a meter's credit is low; a `meter.low_credit` webhook
/// follows if webhooks are configured.
#[utoipa::path(post, path = "/v1/meters/{pan}/events/low-credit", tag = "meters", params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$")),
    request_body = LowCreditRequest, security(("api_key" = ["meters"])),
    responses((status = 202, description = "Accepted", body = EventAccepted), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn low_credit(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiPath(pan): ApiPath<String>,
    ApiJson(req): ApiJson<LowCreditRequest>,
) -> Result<(StatusCode, Json<EventAccepted>), ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    if let Some(r) = &req.remaining {
        r.parse::<crate::service::amount::Decimal>()
            .map_err(|e| ApiError::invalid("invalid_amount", "remaining", e))?;
    }
    if req
        .unit
        .as_ref()
        .is_some_and(|u| u.is_empty() || u.len() > 16 || u.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "out_of_range",
            "unit",
            "unit must be 1 to 16 printable characters",
        ));
    }
    let reported_at = match &req.reported_at {
        Some(t) => parse_rfc3339(t).ok_or_else(|| {
            ApiError::invalid(
                "invalid_time",
                "reported_at",
                "reported_at must be an RFC 3339 time such as 2026-11-23T04:00:00Z",
            )
        })?,
        None => s.service.clock().now(),
    };
    let rec = s
        .service
        .low_credit(
            &caller,
            pan,
            LowCredit {
                remaining: req.remaining,
                unit: req.unit,
                reported_at,
            },
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(EventAccepted {
            event_id: rec.id,
            received_at: rfc3339(rec.received_at),
        }),
    ))
}
