//! Issuing endpoints: `POST /v1/meters/{pan}/tokens/{credit,management,engineering}`.
//! Each needs an `Idempotency-Key`; a retry with the same key and body answers the original
//! tokens.

use axum::extract::State;
use serde::Deserialize;
use token_codec::token::Utility;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiPath, Authenticated, IdempotencyKey, IssueJson};
use super::meters::parse_pan;
use super::tokens::{IssueResponse, Issued, issued};
use crate::service::amount::Decimal;
use crate::service::management::{ManagementOrder, MeterTestOrder, parse_register};
use crate::service::order::{CreditOrder, CreditUnit};

/// A register a credit is for.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UtilityName {
    /// Electricity.
    Electricity,
    /// Water.
    Water,
    /// Gas.
    Gas,
    /// Time.
    Time,
}

/// The unit of a credit amount.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum UnitName {
    /// Kilowatt-hours (electricity).
    #[serde(rename = "kWh")]
    Kwh,
    /// Cubic metres (water, gas).
    #[serde(rename = "m3")]
    M3,
    /// Hours (time).
    #[serde(rename = "h")]
    Hours,
    /// Currency (subclasses 4–7).
    #[serde(rename = "currency")]
    Currency,
}

/// A credit.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    /// Which register.
    pub utility: UtilityName,
    /// `kWh` (electricity), `m3` (water, gas), `h` (time) or `currency`.
    pub unit: UnitName,
    /// A decimal string (never a number). Extra decimals round up; a currency amount may be
    /// negative (a debit) with the manage scope.
    #[schema(example = "25.5", max_length = 100)]
    pub amount: String,
}

impl CreditRequest {
    pub(super) fn order(&self, prefix: &str) -> Result<CreditOrder, ApiError> {
        let amount = self
            .amount
            .parse::<Decimal>()
            .map_err(|e| ApiError::invalid("invalid_amount", format!("{prefix}amount"), e))?;
        Ok(CreditOrder {
            utility: match self.utility {
                UtilityName::Electricity => Utility::Electricity,
                UtilityName::Water => Utility::Water,
                UtilityName::Gas => Utility::Gas,
                UtilityName::Time => Utility::Time,
            },
            unit: match self.unit {
                UnitName::Kwh => CreditUnit::Kwh,
                UnitName::M3 => CreditUnit::M3,
                UnitName::Hours => CreditUnit::Hours,
                UnitName::Currency => CreditUnit::Currency,
            },
            amount,
        })
    }
}

/// Issue a credit token (electricity, water, gas, time or currency). A retry with the same
/// Idempotency-Key and body answers the original tokens (`Idempotent-Replayed: true`).
#[utoipa::path(post, path = "/v1/meters/{pan}/tokens/credit", tag = "tokens",
    params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$"), ("Idempotency-Key" = String, Header, description = "Client-chosen key (1-255 visible ASCII characters); a retry reuses it", pattern = "^[!-~]{1,255}$")),
    request_body = CreditRequest, security(("api_key" = ["vend"])),
    responses((status = 201, description = "Created", body = IssueResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn credit(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    idem: IdempotencyKey,
    ApiPath(pan): ApiPath<String>,
    req: IssueJson<CreditRequest>,
) -> Result<Issued, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    let order = req.body.order("")?;
    issued(
        &s.service
            .credit(&caller, idem.with(req.request_sha256), pan, order)
            .await?,
    )
}

/// A management function.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ManagementFunctionName {
    /// 2/1: needs `register`.
    ClearCredit,
    /// 2/5.
    ClearTamper,
    /// 2/0: needs `watts`.
    MaxPowerLimit,
    /// 2/6: needs `watts`.
    PhaseUnbalanceLimit,
    /// 2/2: needs `value`.
    TariffRate,
    /// 2/7: needs `value`.
    WaterMeterFactor,
}

/// A management token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagementRequest {
    /// What the token does.
    pub function: ManagementFunctionName,
    /// clear_credit: `all`, `electricity`, `water`, `gas`, `time`, or one of those with
    /// `_currency`.
    #[schema(example = "all")]
    pub register: Option<String>,
    /// max_power_limit / phase_unbalance_limit: watts (rounded up to an encodable value).
    #[schema(minimum = 0, maximum = 18201624)]
    pub watts: Option<i64>,
    /// tariff_rate / water_meter_factor: the 16-bit field.
    #[schema(minimum = 0, maximum = 65535)]
    pub value: Option<i64>,
}

fn need<T>(v: Option<T>, field: &str, f: &str) -> Result<T, ApiError> {
    v.ok_or_else(|| ApiError::invalid("missing_field", field, format!("{f} needs {field}")))
}

fn forbid<T>(v: &Option<T>, field: &str, f: &str) -> Result<(), ApiError> {
    match v {
        Some(_) => Err(ApiError::invalid(
            "unexpected_field",
            field,
            format!("{f} takes no {field}"),
        )),
        None => Ok(()),
    }
}

impl ManagementRequest {
    fn order(&self) -> Result<ManagementOrder, ApiError> {
        use ManagementFunctionName as F;
        let name = match self.function {
            F::ClearCredit => "clear_credit",
            F::ClearTamper => "clear_tamper",
            F::MaxPowerLimit => "max_power_limit",
            F::PhaseUnbalanceLimit => "phase_unbalance_limit",
            F::TariffRate => "tariff_rate",
            F::WaterMeterFactor => "water_meter_factor",
        };
        let uses = (
            matches!(self.function, F::ClearCredit),
            matches!(self.function, F::MaxPowerLimit | F::PhaseUnbalanceLimit),
            matches!(self.function, F::TariffRate | F::WaterMeterFactor),
        );
        if !uses.0 {
            forbid(&self.register, "register", name)?;
        }
        if !uses.1 {
            forbid(&self.watts, "watts", name)?;
        }
        if !uses.2 {
            forbid(&self.value, "value", name)?;
        }
        let watts = || -> Result<u32, ApiError> {
            let w = need(self.watts, "watts", name)?;
            u32::try_from(w).map_err(|_| {
                ApiError::invalid(
                    "out_of_range",
                    "watts",
                    format!("watts must be 0 to 18201624, got {w}"),
                )
            })
        };
        let value = || -> Result<u16, ApiError> {
            let v = need(self.value, "value", name)?;
            u16::try_from(v).map_err(|_| {
                ApiError::invalid(
                    "out_of_range",
                    "value",
                    format!("value must be 0 to 65535, got {v}"),
                )
            })
        };
        Ok(match self.function {
            F::ClearCredit => {
                let r = need(self.register.as_deref(), "register", name)?;
                ManagementOrder::ClearCredit(parse_register(r).ok_or_else(|| {
                    ApiError::invalid("out_of_range", "register", format!("unknown register {r:?}: use all, electricity, water, gas, time or one of those with _currency"))
                })?)
            }
            F::ClearTamper => ManagementOrder::ClearTamper,
            F::MaxPowerLimit => ManagementOrder::MaxPowerLimit(watts()?),
            F::PhaseUnbalanceLimit => ManagementOrder::PhaseUnbalanceLimit(watts()?),
            F::TariffRate => ManagementOrder::TariffRate(value()?),
            F::WaterMeterFactor => ManagementOrder::WaterMeterFactor(value()?),
        })
    }
}

/// Issue a management token (class 2).
#[utoipa::path(post, path = "/v1/meters/{pan}/tokens/management", tag = "tokens",
    params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$"), ("Idempotency-Key" = String, Header, description = "Client-chosen key (1-255 visible ASCII characters); a retry reuses it", pattern = "^[!-~]{1,255}$")),
    request_body = ManagementRequest, security(("api_key" = ["manage"])),
    responses((status = 201, description = "Created", body = IssueResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn management(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    idem: IdempotencyKey,
    ApiPath(pan): ApiPath<String>,
    req: IssueJson<ManagementRequest>,
) -> Result<Issued, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    let order = req.body.order()?;
    issued(
        &s.service
            .management(&caller, idem.with(req.request_sha256), pan, order)
            .await?,
    )
}

/// An engineering function.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EngineeringFunctionName {
    /// Class 1 subclass 0/1: initiate meter test/display.
    MeterTest,
}

/// An engineering token (class 1: not encrypted, not meter-specific, issued against a
/// registered meter so that the ledger has it).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngineeringRequest {
    /// What the token does.
    pub function: EngineeringFunctionName,
    /// Test/display control bits: up to 36 bits with a 2-digit code, 28 with a 4-digit one.
    #[schema(example = 68719476735_i64, minimum = 0, maximum = 68719476735_i64)]
    pub control: i64,
    /// Manufacturer code: 2 digits (subclass 0) or 4 digits (subclass 1).
    #[schema(example = "00", pattern = "^([0-9]{2}|[0-9]{4})$")]
    pub manufacturer_code: String,
}

/// Issue an engineering token (initiate meter test/display).
#[utoipa::path(post, path = "/v1/meters/{pan}/tokens/engineering", tag = "tokens",
    params(("pan" = String, Path, description = "Meter PAN (18 digits)", pattern = "^[0-9]{18}$"), ("Idempotency-Key" = String, Header, description = "Client-chosen key (1-255 visible ASCII characters); a retry reuses it", pattern = "^[!-~]{1,255}$")),
    request_body = EngineeringRequest, security(("api_key" = ["manage"])),
    responses((status = 201, description = "Created", body = IssueResponse), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn engineering(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    idem: IdempotencyKey,
    ApiPath(pan): ApiPath<String>,
    req: IssueJson<EngineeringRequest>,
) -> Result<Issued, ApiError> {
    let pan = parse_pan(&pan, "pan")?;
    let control = u64::try_from(req.body.control).map_err(|_| {
        ApiError::invalid("out_of_range", "control", "control must not be negative")
    })?;
    let order = MeterTestOrder {
        control,
        manufacturer_code: req.body.manufacturer_code.clone(),
    };
    issued(
        &s.service
            .meter_test(&caller, idem.with(req.request_sha256), pan, order)
            .await?,
    )
}
