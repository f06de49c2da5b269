//! Credit orders as domain values, checked before they reach the ledger: amounts
//! converted and rounded, functions and codes range-checked. Everything here can fail only
//! with a client fault (422), and nothing here touches keys.

use token_codec::token::Utility;
use token_codec::{CurrencyAmount, TransferAmount};

use super::amount::{Decimal, Round, format_units};
use super::summary::CreditSummary;
use crate::http::error::ApiError;

/// The unit an amount is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditUnit {
    /// Kilowatt-hours (electricity).
    Kwh,
    /// Cubic metres (water, gas).
    M3,
    /// Hours (time).
    Hours,
    /// Currency (any utility's currency register).
    Currency,
}

impl CreditUnit {
    /// The API name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Kwh => "kWh",
            Self::M3 => "m3",
            Self::Hours => "h",
            Self::Currency => "currency",
        }
    }

    /// Base units per unit, the base unit's name, and decimals to print.
    const fn scale(self) -> (u32, &'static str, u32) {
        match self {
            Self::Kwh => (10, "0.1 kWh", 1),
            Self::M3 => (10, "0.1 m3", 1),
            // 0.1 minute per unit (SPEC-codec §4.4): 600 per hour.
            Self::Hours => (600, "0.1 min", 3),
            Self::Currency => (100_000, "0.00001 currency", 5),
        }
    }
}

/// The API name of a utility.
pub const fn utility_name(u: Utility) -> &'static str {
    match u {
        Utility::Electricity => "electricity",
        Utility::Water => "water",
        Utility::Gas => "gas",
        Utility::Time => "time",
    }
}

/// A credit order as the caller wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditOrder {
    /// Which register.
    pub utility: Utility,
    /// Unit of `amount`.
    pub unit: CreditUnit,
    /// Amount.
    pub amount: Decimal,
}

/// The amount a credit token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditAmount {
    /// Class 0 subclasses 0–3.
    Units(TransferAmount),
    /// Class 0 subclasses 4–7.
    Currency(CurrencyAmount),
}

/// A credit ready to mint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedCredit {
    /// Which register.
    pub utility: Utility,
    /// Encoded amount.
    pub amount: CreditAmount,
    /// What the response and the ledger say about it.
    pub summary: CreditSummary,
}

fn amount_error(message: impl ToString) -> ApiError {
    ApiError::invalid("invalid_amount", "amount", message)
}

impl CreditOrder {
    /// Checks and converts. Whether the caller may debit (the manage scope) is checked by
    /// the service, which answers 403.
    pub fn prepare(&self) -> Result<PreparedCredit, ApiError> {
        let unit_ok = matches!(
            (self.utility, self.unit),
            (_, CreditUnit::Currency)
                | (Utility::Electricity, CreditUnit::Kwh)
                | (Utility::Water | Utility::Gas, CreditUnit::M3)
                | (Utility::Time, CreditUnit::Hours)
        );
        if !unit_ok {
            let own = match self.utility {
                Utility::Electricity => "kWh",
                Utility::Water | Utility::Gas => "m3",
                Utility::Time => "h",
            };
            return Err(ApiError::invalid(
                "invalid_unit",
                "unit",
                format!(
                    "{} is not a unit of {} credit: use {own} or currency",
                    self.unit.name(),
                    utility_name(self.utility)
                ),
            ));
        }
        if self.amount.is_zero() {
            return Err(amount_error("amount must not be zero"));
        }
        let (per, base_unit, decimals) = self.unit.scale();
        let negative = self.amount.is_negative();
        if negative && self.unit != CreditUnit::Currency {
            return Err(amount_error(
                "amount must be greater than zero (only currency tokens can debit)",
            ));
        }
        let round = if negative { Round::Down } else { Round::Up };
        let too_large = || {
            amount_error(format!(
                "amount {} {} is too large to encode",
                self.amount,
                self.unit.name()
            ))
        };
        let units = self.amount.to_units(per, round).ok_or_else(too_large)?;
        let (amount, credited_units, subclass) = if self.unit == CreditUnit::Currency {
            let signed = i128::try_from(units).map_err(|_| too_large())?;
            let signed = if negative { -signed } else { signed };
            if signed == 0 {
                return Err(amount_error(format!(
                    "debit {} rounds to zero currency units (magnitudes round down)",
                    self.amount
                )));
            }
            let c = CurrencyAmount::from_units(signed).map_err(|_| too_large())?;
            (
                CreditAmount::Currency(c),
                c.units(),
                self.utility.currency_subclass(),
            )
        } else {
            let max = i128::from(TransferAmount::MAX_UNITS);
            let over = || {
                let (max_text, _) = format_units(max, per, decimals);
                amount_error(format!(
                    "amount {} {} exceeds the largest encodable {max_text} {}",
                    self.amount,
                    self.unit.name(),
                    self.unit.name()
                ))
            };
            let u = u32::try_from(units).map_err(|_| over())?;
            let t = TransferAmount::round_up(u).map_err(|_| over())?;
            (
                CreditAmount::Units(t),
                i128::from(t.units()),
                self.utility.credit_subclass(),
            )
        };
        let decimals = if self.unit == CreditUnit::Hours && credited_units % 3 != 0 {
            6
        } else {
            decimals
        };
        let (credited, exact) = format_units(credited_units, per, decimals);
        Ok(PreparedCredit {
            utility: self.utility,
            amount,
            summary: CreditSummary {
                utility: utility_name(self.utility).into(),
                unit: self.unit.name().into(),
                requested: self.amount.to_string(),
                credited,
                credited_exact: exact,
                credited_units: credited_units.to_string(),
                base_unit: base_unit.into(),
                subclass,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(u: Utility, unit: CreditUnit, amount: &str) -> Result<PreparedCredit, ApiError> {
        CreditOrder {
            utility: u,
            unit,
            amount: amount.parse().unwrap(),
        }
        .prepare()
    }

    #[test]
    fn units_and_rounding() {
        let p = credit(Utility::Electricity, CreditUnit::Kwh, "2000").unwrap();
        assert_eq!(
            p.amount,
            CreditAmount::Units(TransferAmount::from_field(0x416A))
        );
        assert_eq!(
            (p.summary.credited.as_str(), p.summary.credited_exact),
            ("2000.4", true)
        );
        let p = credit(Utility::Electricity, CreditUnit::Kwh, "0.01").unwrap();
        assert_eq!(p.summary.credited, "0.1");
        let p = credit(Utility::Time, CreditUnit::Hours, "1.5").unwrap();
        assert_eq!(
            (
                p.summary.credited.as_str(),
                p.summary.credited_units.as_str()
            ),
            ("1.500", "900")
        );
        assert_eq!(p.summary.subclass, 3);
        let p = credit(Utility::Water, CreditUnit::Currency, "1").unwrap();
        assert_eq!(
            (p.summary.credited.as_str(), p.summary.subclass),
            ("1.00004", 5)
        );
        let p = credit(Utility::Electricity, CreditUnit::Currency, "-1").unwrap();
        assert_eq!(p.summary.credited, "-0.99994");
    }

    #[test]
    fn refusals_name_the_field() {
        let field = |r: Result<PreparedCredit, ApiError>| match r.unwrap_err() {
            ApiError::Invalid { field, .. } => field.unwrap(),
            e => panic!("{e:?}"),
        };
        assert_eq!(field(credit(Utility::Water, CreditUnit::Kwh, "1")), "unit");
        assert_eq!(
            field(credit(Utility::Electricity, CreditUnit::Kwh, "0")),
            "amount"
        );
        assert_eq!(
            field(credit(Utility::Electricity, CreditUnit::Kwh, "-1")),
            "amount"
        );
        let err = credit(Utility::Electricity, CreditUnit::Kwh, "1820162.5").unwrap_err();
        assert_eq!(
            err.body().message,
            "amount 1820162.5 kWh exceeds the largest encodable 1820162.4 kWh"
        );
    }
}
