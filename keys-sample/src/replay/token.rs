//! `token`: one token, both directions. The token is built from `token`'s fields and encoded
//! (compared with `expect.digits`, `expect.block`, `expect.tid`); then `expect.digits` is
//! decoded with the key and every field compared with the built token, block and TID included.
//!
//! Field names by class/subclass (VECTORS.md): class 0 subclasses 0–3 `rnd`, `amount`;
//! class 0 subclasses 4–7 `negative`, `exponent`, `mantissa`; class 1 subclasses 0–1 `control`,
//! `mfr_code`; other class 1 subclasses `payload` (11 hex digits, bits 59..16); class 2
//! subclasses 0, 1, 2, 5, 6, 7, 10 `rnd`, `value`. TID-bearing tokens take `tid`, or `issued_at`
//! and `base_date`; given both ways, they must agree.

use token_codec::codec::open;
use token_codec::token::{
    CreditTransfer, CurrencyTransfer, EngineeringPayload, Management, ManagementFunction,
    ManufacturerCode, MeterTest, Stamp, Utility,
};
use token_codec::{
    CurrencyAmount, EncryptionAlgorithm, Rnd, Subclass, Tid, Token, TokenDigits, TransferAmount,
    encode,
};

use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::key;
use super::time::tid_for_issue;
use crate::describe::describe;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let ea: EncryptionAlgorithm = line.parse("ea")?;
    let key_obj = line.obj("key")?;
    let dk = key::decoder_key(&key_obj, ea)?;
    let cipher = key::cipher(&key_obj, ea, &dk)?;
    let token = build(&line.obj("token")?)?;
    let expect = line.obj("expect")?;
    let want_digits: TokenDigits = expect.parse("digits")?;
    let want_block = expect.opt_hex_u64("block", 16)?;
    let want_tid = expect.opt_uint("tid", u64::from(Tid::MAX))?;

    let mut issues = Vec::new();
    // Build direction.
    let got = encode(&token, &cipher);
    if got != want_digits {
        issues.push(Issue::mismatch("digits", want_digits, got));
    }
    if let Some(want) = want_block {
        compare_block("block", want, token.to_block(), &mut issues);
    }
    if let Some(want) = want_tid {
        compare_tid("tid", want, &token, &mut issues);
    }
    // Decode direction.
    match open(&want_digits, &cipher) {
        Err(e) => issues.push(Issue::refused("decode expect.digits", e)),
        Ok((class, block)) => {
            if let Some(want) = want_block {
                compare_block("decoded block", want, block, &mut issues);
            }
            match Token::from_block(class, block, ea.key_width()) {
                Err(e) => issues.push(Issue::refused("decode expect.digits", e)),
                Ok(decoded) => {
                    if let Some(want) = want_tid {
                        compare_tid("decoded tid", want, &decoded, &mut issues);
                    }
                    compare_tokens("decoded token", &token, &decoded, &mut issues);
                }
            }
        }
    }
    verdict(issues)
}

fn compare_block(what: &str, want: u64, got: u64, issues: &mut Vec<Issue>) {
    if want != got {
        issues.push(Issue::mismatch(
            what,
            format_args!("{want:016X}"),
            format_args!("{got:016X}"),
        ));
    }
}

fn compare_tid(what: &str, want: u64, token: &Token, issues: &mut Vec<Issue>) {
    match token.tid() {
        Some(tid) if u64::from(tid.get()) == want => {}
        Some(tid) => issues.push(Issue::mismatch(what, want, tid.get())),
        None => issues.push(Issue::mismatch(what, want, "a token without a TID")),
    }
}

/// Compares a decoded token with the expected one: class, subclass and function first, then
/// every field by name (`decoded token.amount: expected 1, got 256`).
pub(crate) fn compare_tokens(what: &str, want: &Token, got: &Token, issues: &mut Vec<Issue>) {
    let (want, got) = (describe(want), describe(got));
    if (want.class, want.subclass, want.kind) != (got.class, got.subclass, got.kind) {
        issues.push(Issue::mismatch(
            what,
            format_args!(
                "class {} subclass {} {}",
                want.class, want.subclass, want.kind
            ),
            format_args!("class {} subclass {} {}", got.class, got.subclass, got.kind),
        ));
        return;
    }
    for (name, value) in &want.fields.0 {
        match got.fields.get(name) {
            Some(v) if v == value => {}
            Some(v) => issues.push(Issue::mismatch(format!("{what}.{name}"), value, v)),
            None => issues.push(Issue::mismatch(
                format!("{what}.{name}"),
                value,
                "no such field",
            )),
        }
    }
}

/// The typed token a vector's `token` object describes.
pub(crate) fn build(t: &Obj<'_>) -> Result<Token, Fault> {
    let class = t.uint("class", 3)?;
    let sub = t.u8("subclass")?;
    let subclass = Subclass::new(sub).map_err(|e| t.invalid("subclass", e))?;
    let not_defined = |why: &str| t.invalid("subclass", format_args!("class {class} {why}"));
    match (class, sub) {
        (0, 0..=3) => Ok(Token::TransferCredit(CreditTransfer {
            utility: Utility::from_index(sub),
            rnd: rnd(t)?,
            tid: tid(t)?,
            amount: TransferAmount::from_field(t.u16("amount")?),
        })),
        (0, 4..=7) => {
            let negative = t.bool("negative")?;
            let exponent = t.u8("exponent")?;
            let mantissa = t.u16("mantissa")?;
            let amount = CurrencyAmount::from_parts(negative, exponent, mantissa).map_err(|e| {
                let field = if exponent > CurrencyAmount::MAX_EXPONENT {
                    "exponent"
                } else {
                    "mantissa"
                };
                t.invalid(field, e)
            })?;
            Ok(Token::TransferCurrency(CurrencyTransfer {
                utility: Utility::from_index(sub.saturating_sub(4)),
                tid: tid(t)?,
                amount,
            }))
        }
        (0, _) => Err(not_defined(&format!("subclass {sub} is not defined (0–7)"))),
        (1, 0 | 1) => {
            // Raw field values, as a meter decodes them: 8 bits for subclass 0, 16 for 1.
            let manufacturer = if sub == 0 {
                ManufacturerCode::TwoDigit(t.u8("mfr_code")?)
            } else {
                ManufacturerCode::FourDigit(t.u16("mfr_code")?)
            };
            let control = t.uint("control", u64::MAX)?;
            MeterTest::new(control, manufacturer)
                .map(Token::InitiateMeterTest)
                .map_err(|e| {
                    t.invalid(
                        "control",
                        format_args!("{e} (wider than {} bits)", manufacturer.control_bits()),
                    )
                })
        }
        (1, _) => {
            let payload = t.hex_u64("payload", 11)?;
            EngineeringPayload::new(subclass, payload)
                .map(Token::Engineering)
                .map_err(|e| t.invalid("payload", e))
        }
        (2, 3 | 4 | 8 | 9) => Err(not_defined(&format!(
            "subclass {sub} is a key change section: use kind \"key_change\""
        ))),
        (2, _) => {
            let value = t.u16("value")?;
            let function = ManagementFunction::from_parts(sub, value).ok_or_else(|| {
                not_defined(&format!(
                    "subclass {sub} is not defined (0, 1, 2, 5, 6, 7, 10)"
                ))
            })?;
            Ok(Token::Management(Management {
                stamp: Stamp {
                    rnd: rnd(t)?,
                    tid: tid(t)?,
                },
                function,
            }))
        }
        _ => Err(t.invalid("class", "class 3 is reserved: no token function")),
    }
}

fn rnd(t: &Obj<'_>) -> Result<Rnd, Fault> {
    Rnd::new(t.u8("rnd")?).map_err(|e| t.invalid("rnd", e))
}

/// `tid`, or the TID of `issued_at` under `base_date`; both forms given must agree.
fn tid(t: &Obj<'_>) -> Result<Tid, Fault> {
    let given = match t.opt_uint("tid", u64::from(u32::MAX))? {
        Some(v) => Some(
            u32::try_from(v)
                .map_err(|e| t.invalid("tid", e))
                .and_then(|v| Tid::new(v).map_err(|e| t.invalid("tid", e)))?,
        ),
        None => None,
    };
    let issued = if t.has("issued_at") || t.has("base_date") {
        Some(tid_for_issue(t)?.map_err(|e| t.invalid("issued_at", e))?)
    } else {
        None
    };
    match (given, issued) {
        (Some(g), Some(i)) if g != i => Err(Fault::Vector {
            reason: format!(
                "{} {} disagrees with {} (TID {})",
                t.path("tid"),
                g.get(),
                t.path("issued_at"),
                i.get()
            ),
        }),
        (Some(tid), _) | (None, Some(tid)) => Ok(tid),
        (None, None) => Err(Fault::MissingBecause {
            field: t.path("tid"),
            why: "give tid, or issued_at and base_date",
        }),
    }
}
