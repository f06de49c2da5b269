//! `decoder_key`: derivation inputs at the top level of the line, `expect.decoder_key` (hex) or
//! `expect.error` (a category: a PAN with a wrong Luhn digit must be refused as `format`, never
//! derived).
//!
//! The EA used in derivation is the line's own `ea` (DKGA04 puts it in its message). A DKGA02
//! line may omit it: DKGA02 yields a 64-bit key whatever the EA, so EA07 stands in.

use token_codec::EncryptionAlgorithm;

use super::expected_error;
use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::key;
use crate::hex;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let ea = match line.opt_parse::<EncryptionAlgorithm>("ea")? {
        Some(ea) => ea,
        None if line.str("dkga")? == "04" => {
            return Err(Fault::Missing {
                field: line.path("ea"),
            });
        }
        None => EncryptionAlgorithm::Sta,
    };
    let derived = key::derive(line, ea)?;
    let expect = line.obj("expect")?;
    if let Some(want) = expected_error(&expect)? {
        if expect.has("decoder_key") {
            return Err(Fault::Vector {
                reason: "expect has both decoder_key and error".to_owned(),
            });
        }
        return match derived {
            Ok(dk) => Err(Fault::Differs(vec![Issue::mismatch(
                "derivation",
                format_args!("refusal ({want})"),
                format_args!("decoder key {}", hex::upper(dk.expose_bytes())),
            )])),
            Err(r) if r.category == want => Ok(()),
            Err(r) => Err(Fault::Differs(vec![Issue::mismatch(
                "derivation",
                format_args!("refusal ({want})"),
                format_args!("refusal ({}): {r}", r.category),
            )])),
        };
    }
    let want_text = expect.str("decoder_key")?;
    let want = match want_text.chars().count() {
        16 | 32 => want_text.to_ascii_uppercase(),
        got => {
            return Err(expect.invalid(
                "decoder_key",
                format_args!("expected 16 or 32 hex digits, got {got}"),
            ));
        }
    };
    if let Some(position) = want.chars().position(|c| !c.is_ascii_hexdigit()) {
        return Err(expect.invalid(
            "decoder_key",
            format_args!("character at position {position} is not a hex digit"),
        ));
    }
    let dk = derived.map_err(|r| Fault::Differs(vec![Issue::refused("derivation", r)]))?;
    // Published test keys only: showing both keys on a mismatch is the point of an audit.
    let got = hex::upper(dk.expose_bytes());
    let mut issues = Vec::new();
    if got != want {
        issues.push(Issue::mismatch("decoder_key", want, got));
    }
    verdict(issues)
}
