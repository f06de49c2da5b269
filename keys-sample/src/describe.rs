//! A typed token as named fields, in the names vector files use (VECTORS.md, `token` kind).
//!
//! `replay` compares a decoded token with the one built from a vector field by field through
//! this view, and `sts decode` prints it. Key change sections show their key bits: this is an
//! auditor's view for test keys, never for a production log.

use core::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use token_codec::Token;
use token_codec::token::{ManagementFunction, ManufacturerCode, Utility};

/// One field's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    /// An unsigned integer (raw field value).
    Uint(u64),
    /// A flag.
    Bool(bool),
    /// Text: hex for payloads and key sections, digits for tariff index and supply group code.
    Text(String),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Uint(v) => write!(f, "{v}"),
            FieldValue::Bool(v) => write!(f, "{v}"),
            FieldValue::Text(v) => f.write_str(v),
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Uint(v) => s.serialize_u64(*v),
            FieldValue::Bool(v) => s.serialize_bool(*v),
            FieldValue::Text(v) => s.serialize_str(v),
        }
    }
}

/// Named fields in layout order; serializes as a JSON object keeping that order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(pub Vec<(&'static str, FieldValue)>);

impl Fields {
    /// The value of the field called `name`.
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

impl fmt::Display for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (name, value)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name}: {value}")?;
        }
        f.write_str("}")
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// A token as class, subclass, function name and named fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenView {
    /// Token class, 0..=2.
    pub class: u8,
    /// Subclass, 0..=15.
    pub subclass: u8,
    /// The token function in snake case (`transfer_credit`, `clear_credit`, …).
    pub kind: &'static str,
    /// The raw fields a vector gives for this class and subclass (VECTORS.md names).
    pub fields: Fields,
    /// Values derived from the fields for a reader (utility, credited units); not compared.
    pub derived: Fields,
}

impl fmt::Display for TokenView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "class {} subclass {} {} {}",
            self.class, self.subclass, self.kind, self.fields
        )
    }
}

fn utility_name(u: Utility) -> &'static str {
    match u {
        Utility::Electricity => "electricity",
        Utility::Water => "water",
        Utility::Gas => "gas",
        Utility::Time => "time",
    }
}

fn uint(v: impl Into<u64>) -> FieldValue {
    FieldValue::Uint(v.into())
}

fn hex32(v: u32) -> FieldValue {
    FieldValue::Text(format!("{v:08X}"))
}

/// The view of `token`.
pub fn describe(token: &Token) -> TokenView {
    let mut derived = Vec::new();
    let (kind, fields): (&'static str, Vec<(&'static str, FieldValue)>) = match token {
        Token::TransferCredit(t) => {
            derived.push(("utility", FieldValue::Text(utility_name(t.utility).into())));
            derived.push(("units", uint(t.amount.units())));
            (
                "transfer_credit",
                vec![
                    ("rnd", uint(t.rnd.get())),
                    ("tid", uint(t.tid.get())),
                    ("amount", uint(t.amount.field())),
                ],
            )
        }
        Token::TransferCurrency(t) => {
            derived.push(("utility", FieldValue::Text(utility_name(t.utility).into())));
            // Signed 0.00001 currency units; text because it may exceed a JSON-safe integer.
            derived.push(("units", FieldValue::Text(t.amount.units().to_string())));
            (
                "transfer_currency",
                vec![
                    ("tid", uint(t.tid.get())),
                    ("negative", FieldValue::Bool(t.amount.is_negative())),
                    ("exponent", uint(t.amount.exponent())),
                    ("mantissa", uint(t.amount.mantissa())),
                ],
            )
        }
        Token::InitiateMeterTest(t) => {
            let code = match t.manufacturer() {
                ManufacturerCode::TwoDigit(c) => u64::from(c),
                ManufacturerCode::FourDigit(c) => u64::from(c),
            };
            (
                "initiate_meter_test",
                vec![("control", uint(t.control())), ("mfr_code", uint(code))],
            )
        }
        Token::Engineering(t) => (
            "engineering",
            vec![("payload", FieldValue::Text(format!("{:011X}", t.payload())))],
        ),
        Token::Management(t) => {
            let kind = match t.function {
                ManagementFunction::SetMaximumPowerLimit(a) => {
                    derived.push(("units", uint(a.units())));
                    "set_maximum_power_limit"
                }
                ManagementFunction::ClearCredit(_) => "clear_credit",
                ManagementFunction::SetTariffRate(_) => "set_tariff_rate",
                ManagementFunction::ClearTamperCondition(_) => "clear_tamper_condition",
                ManagementFunction::SetMaximumPhasePowerUnbalanceLimit(a) => {
                    derived.push(("units", uint(a.units())));
                    "set_maximum_phase_power_unbalance_limit"
                }
                ManagementFunction::SetWaterMeterFactor(_) => "set_water_meter_factor",
                ManagementFunction::ExtendedTokenSet(_) => "extended_token_set",
            };
            (
                kind,
                vec![
                    ("rnd", uint(t.stamp.rnd.get())),
                    ("tid", uint(t.stamp.tid.get())),
                    ("value", uint(t.function.value())),
                ],
            )
        }
        Token::Set1stSectionDecoderKey(t) => (
            "set_1st_section_decoder_key",
            vec![
                ("ken_high", uint(t.ken_high.get())),
                ("krn", uint(t.krn.get())),
                ("ro", FieldValue::Bool(t.rollover)),
                ("sgc_follows", FieldValue::Bool(t.sgc_follows)),
                ("kt", uint(t.kt.bits())),
                ("key_high", hex32(t.key_high.expose())),
            ],
        ),
        Token::Set2ndSectionDecoderKey(t) => (
            "set_2nd_section_decoder_key",
            vec![
                ("ken_low", uint(t.ken_low.get())),
                ("ti", FieldValue::Text(t.ti.to_string())),
                ("key_low", hex32(t.key_low.expose())),
            ],
        ),
        Token::SetSupplyGroupCode(t) => (
            "set_supply_group_code",
            vec![("sgc", FieldValue::Text(t.sgc.to_string()))],
        ),
        Token::Set3rdSectionDecoderKey(t) => (
            "set_3rd_section_decoder_key",
            vec![
                ("sgc_low", uint(t.sgc_low.get())),
                ("key_mid2", hex32(t.key_mid2.expose())),
            ],
        ),
        Token::Set4thSectionDecoderKey(t) => (
            "set_4th_section_decoder_key",
            vec![
                ("sgc_high", uint(t.sgc_high.get())),
                ("key_mid1", hex32(t.key_mid1.expose())),
            ],
        ),
        // `Token` is non-exhaustive: a variant added to the codec later shows up by name
        // only until it is described here.
        _ => ("unknown", Vec::new()),
    };
    TokenView {
        class: token.class().bits(),
        subclass: token.subclass(),
        kind,
        fields: Fields(fields),
        derived: Fields(derived),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use token_codec::token::CreditTransfer;
    use token_codec::{Rnd, Tid, TransferAmount};

    #[test]
    fn credit_view_uses_vector_names() {
        let t = Token::TransferCredit(CreditTransfer {
            utility: Utility::Electricity,
            rnd: Rnd::new(5).unwrap(),
            tid: Tid::new(5_871_715).unwrap(),
            amount: TransferAmount::from_field(0x416A),
        });
        let v = describe(&t);
        assert_eq!(
            v.to_string(),
            "class 0 subclass 0 transfer_credit {rnd: 5, tid: 5871715, amount: 16746}"
        );
        assert_eq!(v.derived.get("units"), Some(&FieldValue::Uint(20004)));
    }
}
