//! `key_change`: a whole key change set, both directions.
//!
//! `key` is the meter's current key, which encrypts the set; `new` holds the new key (a literal
//! `decoder_key` or derivation inputs; DKGA04 derives it with `new.base_date` and the line's
//! `ea`) and its attributes `krn`, `kt`, `ti`, `ken`, `ro`, and optionally `sgc`.
//!
//! The set's shape: a 128-bit key (EA11) always has 4 tokens and needs `new.sgc`; a 64-bit key
//! has a pair, or the 3-token set that also carries `new.sgc` when the vector expects 3 digit
//! strings. The expected count is the only signal the format gives for that set, so an explicit
//! `"tokens": 3` or `"sgc_token": true` (in `new` or at the top level) is honoured too.

use token_codec::token::{KeyChangeSet, NewKeyAttributes};
use token_codec::{
    EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, KeyWidth, SupplyGroupCode,
    TariffIndex, TokenDigits, decode, encode,
};

use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::key;
use super::token::compare_tokens;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let ea: EncryptionAlgorithm = line.parse("ea")?;
    let key_obj = line.obj("key")?;
    let current = key::decoder_key(&key_obj, ea)?;
    let cipher = key::cipher(&key_obj, ea, &current)?;
    let new = line.obj("new")?;
    let new_key = key::decoder_key(&new, ea)?;
    let attrs = NewKeyAttributes {
        ken: KeyExpiryNumber::new(new.u8("ken")?),
        krn: KeyRevision::new(new.u8("krn")?).map_err(|e| new.invalid("krn", e))?,
        kt: KeyType::try_from(new.u8("kt")?).map_err(|e| new.invalid("kt", e))?,
        ti: new.parse::<TariffIndex>("ti")?,
        rollover: new.bool("ro")?,
    };
    let sgc: Option<SupplyGroupCode> = new.opt_parse("sgc")?;

    let expect = line.obj("expect")?;
    let want: Vec<TokenDigits> = expect
        .strings("digits")?
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse::<TokenDigits>()
                .map_err(|e| Fault::invalid(format!("{}[{i}]", expect.path("digits")), e))
        })
        .collect::<Result<_, _>>()?;

    let sgc_token = match new_key.width() {
        KeyWidth::Bits128 => true,
        KeyWidth::Bits64 => explicit_sgc_token(line, &new)?.unwrap_or(want.len() == 3),
    };
    let sgc = if sgc_token {
        Some(sgc.ok_or_else(|| Fault::MissingBecause {
            field: new.path("sgc"),
            why: match new_key.width() {
                KeyWidth::Bits128 => "a 128-bit key change set carries the SGC",
                KeyWidth::Bits64 => "the 3-token set carries the SGC",
            },
        })?)
    } else {
        None
    };
    let set = KeyChangeSet::new(&new_key, &attrs, sgc)
        .map_err(|e| Fault::Differs(vec![Issue::refused("build the set", e)]))?;

    let mut issues = Vec::new();
    // Build direction.
    let got: Vec<TokenDigits> = set.tokens().map(|t| encode(t, &cipher)).collect();
    if got.len() != want.len() {
        issues.push(Issue::mismatch("number of tokens", want.len(), got.len()));
    }
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if w != g {
            issues.push(Issue::mismatch(format!("digits[{i}]"), w, g));
        }
    }
    // Decode direction: each expected token under the current key, against the built section.
    for (i, (w, built)) in want.iter().zip(set.tokens()).enumerate() {
        match decode(w, &cipher) {
            Ok(decoded) => {
                compare_tokens(
                    &format!("decoded digits[{i}]"),
                    built,
                    &decoded,
                    &mut issues,
                );
            }
            Err(e) => issues.push(Issue::refused(format!("decode expect.digits[{i}]"), e)),
        }
    }
    verdict(issues)
}

/// `"sgc_token": true|false` or `"tokens": 2|3` in `new` or at the top level.
fn explicit_sgc_token(line: &Obj<'_>, new: &Obj<'_>) -> Result<Option<bool>, Fault> {
    for obj in [new, line] {
        if let Some(flag) = obj.opt_bool("sgc_token")? {
            return Ok(Some(flag));
        }
        if let Some(count) = obj.opt_uint("tokens", 4)? {
            return match count {
                2 => Ok(Some(false)),
                3 => Ok(Some(true)),
                _ => Err(obj.invalid(
                    "tokens",
                    format_args!("a 64-bit key's set has 2 or 3 tokens, not {count}"),
                )),
            };
        }
    }
    Ok(None)
}
