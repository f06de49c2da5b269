//! `crc`: `{"input": "00004A2D900FF2", "expect": {"field": "0FFA"}}`. The input is the 7 bytes of
//! SPEC-codec §3, or 8 for CRC_C; `field` is the value stored in block bits 15..0.

use token_codec::crc;

use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use crate::hex;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let text = line.str("input")?;
    let mut bytes = [0u8; 8];
    let input = match text.chars().count() {
        14 => bytes.get_mut(..7),
        16 => bytes.get_mut(..),
        got => {
            return Err(line.invalid(
                "input",
                format_args!("expected 14 or 16 hex digits (7 or 8 bytes), got {got}"),
            ));
        }
    }
    .ok_or_else(|| line.invalid("input", "too long"))?;
    hex::decode_into(text, input).map_err(|e| line.invalid("input", e))?;
    let want = line.obj("expect")?.hex_u64("field", 4)?;
    let got = crc::field_of(input);
    let mut issues = Vec::new();
    if u64::from(got) != want {
        issues.push(Issue::mismatch(
            "field",
            format_args!("{want:04X}"),
            format_args!("{got:04X}"),
        ));
    }
    verdict(issues)
}
