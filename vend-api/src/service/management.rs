//! Management (class 2) and engineering (class 1) orders, checked before they reach the
//! ledger.

use token_codec::TransferAmount;
use token_codec::token::{
    ManagementFunction, ManufacturerCode, MeterTest, RegisterSelector, TariffRate, WaterMeterFactor,
};

use super::summary::{EngineeringSummary, ManagementSummary};
use crate::http::error::ApiError;

/// A clear-credit register as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterName {
    /// Every register (0xFFFF).
    All,
    /// One class 0 register, by subclass 0–7.
    Subclass(u8),
}

/// A management order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagementOrder {
    /// 2/1 clear credit.
    ClearCredit(RegisterName),
    /// 2/5 clear tamper condition.
    ClearTamper,
    /// 2/0 maximum power limit, watts.
    MaxPowerLimit(u32),
    /// 2/6 maximum phase power unbalance limit, watts.
    PhaseUnbalanceLimit(u32),
    /// 2/2 tariff rate (16-bit field, semantics reserved by the STS Association).
    TariffRate(u16),
    /// 2/7 water meter factor (16-bit field, reserved by the STS Association).
    WaterMeterFactor(u16),
}

const REGISTER_NAMES: [&str; 8] = [
    "electricity",
    "water",
    "gas",
    "time",
    "electricity_currency",
    "water_currency",
    "gas_currency",
    "time_currency",
];

/// Parses a register name: `all` or one of the eight class 0 registers.
pub fn parse_register(name: &str) -> Option<RegisterName> {
    if name == "all" {
        return Some(RegisterName::All);
    }
    let i = REGISTER_NAMES.iter().position(|n| *n == name)?;
    u8::try_from(i).ok().map(RegisterName::Subclass)
}

impl ManagementOrder {
    /// The function to encode and its summary.
    pub fn prepare(&self) -> Result<(ManagementFunction, ManagementSummary), ApiError> {
        let plain = |function: &str, value: u16| ManagementSummary {
            function: function.into(),
            value,
            register: None,
            requested_watts: None,
            effective_watts: None,
        };
        let watts = |w: u32| {
            TransferAmount::round_up(w).map_err(|_| {
                ApiError::invalid(
                    "out_of_range",
                    "watts",
                    format!(
                        "{w} W exceeds the largest encodable limit {} W",
                        TransferAmount::MAX_UNITS
                    ),
                )
            })
        };
        Ok(match *self {
            Self::ClearCredit(r) => {
                let (sel, name) = match r {
                    RegisterName::All => (RegisterSelector::ALL, "all"),
                    RegisterName::Subclass(s) => (
                        RegisterSelector::new(u16::from(s)),
                        REGISTER_NAMES.get(usize::from(s)).copied().unwrap_or("all"),
                    ),
                };
                let mut s = plain("clear_credit", sel.get());
                s.register = Some(name.into());
                (ManagementFunction::ClearCredit(sel), s)
            }
            Self::ClearTamper => (
                ManagementFunction::ClearTamperCondition(token_codec::token::TamperPad::new(0)),
                plain("clear_tamper", 0),
            ),
            Self::MaxPowerLimit(w) | Self::PhaseUnbalanceLimit(w) => {
                let a = watts(w)?;
                let (f, name) = if matches!(self, Self::MaxPowerLimit(_)) {
                    (
                        ManagementFunction::SetMaximumPowerLimit(a),
                        "max_power_limit",
                    )
                } else {
                    (
                        ManagementFunction::SetMaximumPhasePowerUnbalanceLimit(a),
                        "phase_unbalance_limit",
                    )
                };
                let mut s = plain(name, a.field());
                s.requested_watts = Some(w);
                s.effective_watts = Some(a.units());
                (f, s)
            }
            Self::TariffRate(v) => (
                ManagementFunction::SetTariffRate(TariffRate::new(v)),
                plain("tariff_rate", v),
            ),
            Self::WaterMeterFactor(v) => (
                ManagementFunction::SetWaterMeterFactor(WaterMeterFactor::new(v)),
                plain("water_meter_factor", v),
            ),
        })
    }
}

/// An initiate-meter-test order (class 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterTestOrder {
    /// Control bits (36 bits with a 2-digit code, 28 with a 4-digit code).
    pub control: u64,
    /// Manufacturer code: 2 digits (subclass 0) or 4 digits (subclass 1).
    pub manufacturer_code: String,
}

impl MeterTestOrder {
    /// The token and its summary.
    pub fn prepare(&self) -> Result<(MeterTest, EngineeringSummary), ApiError> {
        let code_text = &self.manufacturer_code;
        let digits = u8::try_from(code_text.len()).unwrap_or(0);
        let bad_code = || {
            ApiError::invalid(
                "invalid_manufacturer_code",
                "manufacturer_code",
                "manufacturer_code must be 2 digits (subclass 0) or 4 digits (subclass 1)",
            )
        };
        if !(digits == 2 || digits == 4) || !code_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad_code());
        }
        let code: u16 = code_text.parse().map_err(|_| bad_code())?;
        let mfr = ManufacturerCode::new(code, digits).map_err(|_| bad_code())?;
        let test = MeterTest::new(self.control, mfr).map_err(|_| {
            ApiError::invalid(
                "out_of_range",
                "control",
                format!(
                    "control {} does not fit the {}-bit control field of a {digits}-digit manufacturer code",
                    self.control,
                    mfr.control_bits()
                ),
            )
        })?;
        Ok((
            test,
            EngineeringSummary {
                function: "meter_test".into(),
                control: self.control,
                manufacturer_code: code_text.clone(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_and_engineering() {
        let (f, s) = ManagementOrder::MaxPowerLimit(20_000).prepare().unwrap();
        assert_eq!(f.value(), 0x416A);
        assert_eq!(s.effective_watts, Some(20_004));
        let (f, _) = ManagementOrder::ClearCredit(RegisterName::All)
            .prepare()
            .unwrap();
        assert_eq!(f.value(), 0xFFFF);
        assert_eq!(
            parse_register("gas_currency"),
            Some(RegisterName::Subclass(6))
        );
        assert_eq!(parse_register("steam"), None);
        let (t, _) = MeterTestOrder {
            control: (1 << 36) - 1,
            manufacturer_code: "00".into(),
        }
        .prepare()
        .unwrap();
        assert_eq!(t.subclass(), 0);
        assert!(
            MeterTestOrder {
                control: 1 << 28,
                manufacturer_code: "0000".into()
            }
            .prepare()
            .is_err()
        );
        assert!(
            MeterTestOrder {
                control: 1,
                manufacturer_code: "123".into()
            }
            .prepare()
            .is_err()
        );
    }
}
