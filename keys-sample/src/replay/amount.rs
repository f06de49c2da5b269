//! `amount`: `{"units": 20000, "expect": {"field": "416A", "value": 20004}}`: requested base
//! units to the standard 16-bit transfer amount (rounded up, brief decision 3) and the value the
//! meter will credit.
//!
//! Extension (not in VECTORS.md, harmless if unused): `"expect": {"error": "range"}` states that
//! the amount cannot be encoded and must be refused, never clamped.

use token_codec::{CodecError, TransferAmount};

use super::expected_error;
use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use crate::category::Category;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let units = line.uint("units", u64::MAX)?;
    let expect = line.obj("expect")?;
    let encoded = u32::try_from(units)
        .map_err(|_| CodecError::AmountTooLarge {
            requested: u128::from(units),
            max: u128::from(TransferAmount::MAX_UNITS),
        })
        .and_then(TransferAmount::round_up);
    if let Some(want) = expected_error(&expect)? {
        return super::refusal_as_expected(
            "encode",
            want,
            encoded.map(|a| format!("field {:04X}", a.field())),
            Category::of_codec,
        );
    }
    let want_field = expect.hex_u64("field", 4)?;
    let want_value = expect.uint("value", u64::MAX)?;
    let amount = encoded.map_err(|e| Fault::Differs(vec![Issue::refused("encode", e)]))?;
    let mut issues = Vec::new();
    if u64::from(amount.field()) != want_field {
        issues.push(Issue::mismatch(
            "field",
            format_args!("{want_field:04X}"),
            format_args!("{:04X}", amount.field()),
        ));
    }
    if u64::from(amount.units()) != want_value {
        issues.push(Issue::mismatch("value", want_value, amount.units()));
    }
    verdict(issues)
}
