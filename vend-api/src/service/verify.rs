//! The support desk's question: "what does this token carry, and would this meter take it?"
//!
//! Decoding follows the meter's order (brief decision 12) as far as the vending side can
//! know it: format → class → decrypt with the meter's current key → CRC → subclass → key
//! expiry. The meter's TID memory (`used`/`old`) is not known here, so "accepted" means the
//! token passes every check short of that memory.

use hsm_core::{HsmError, Issuer, MeterIdentity};
use serde::Serialize;
use token_codec::{BaseDate, CodecError, Token, TokenDigits};
use utoipa::ToSchema;

use super::amount::format_units;
use super::order::utility_name;
use super::summary::KeySummary;
use crate::clock::rfc3339;
use crate::http::error::ApiError;
use crate::ledger::{KeyIdentity, MeterRecord, TokenRecord};

/// Why the meter would refuse the token (the categories of the brief's vectors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectCategory {
    /// Not 20 digits, not a number, or over 2^66 − 1.
    Format,
    /// The CRC does not match under the meter's key: not for this meter, or mistyped.
    Crc,
    /// A class or subclass the meter has no function for.
    Function,
    /// The TID lies beyond the key's expiry number.
    KeyExpired,
}

/// What a decoded token carries (never key bits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DecodedToken {
    /// Token class 0–2.
    pub class: u8,
    /// Subclass 0–15.
    pub subclass: u8,
    /// What it does, e.g. `credit`, `clear_credit`, `key_change_1`.
    pub kind: String,
    /// A one-line description.
    pub description: String,
    /// TID, for TID-bearing tokens.
    pub tid: Option<u32>,
    /// The UTC minute the TID stands for under the meter's base date.
    pub tid_time: Option<String>,
    /// Credit amount in the register's unit (`kWh`, `m3`, `h`, `currency`).
    pub amount: Option<String>,
    /// The unit of `amount`.
    pub unit: Option<String>,
    /// The 16-bit value of a management token.
    pub value: Option<u16>,
}

/// What our ledger knows about these digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerMatch {
    /// True if we issued exactly these digits to this meter.
    pub issued_to_this_meter: bool,
    /// The token's id.
    pub token_id: Option<i64>,
    /// Its issue.
    pub issue_id: Option<i64>,
    /// When it was issued.
    pub issued_at: Option<String>,
    /// Its kind.
    pub kind: Option<String>,
    /// The key it was encrypted under.
    pub issued_under: Option<KeySummaryShort>,
    /// True if that key is the meter's current key.
    pub under_current_key: Option<bool>,
    /// Other meters we issued these digits to (normally none).
    pub other_meters: Vec<String>,
}

/// A key identity as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct KeySummaryShort {
    /// Supply group code.
    pub sgc: String,
    /// Tariff index.
    pub ti: String,
    /// Key revision number.
    pub krn: u8,
    /// Key type.
    pub kt: u8,
}

impl From<KeyIdentity> for KeySummaryShort {
    fn from(k: KeyIdentity) -> Self {
        Self {
            sgc: k.sgc.to_string(),
            ti: k.ti.to_string(),
            krn: k.krn.get(),
            kt: k.kt.bits(),
        }
    }
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct VerifyReport {
    /// The meter asked about.
    pub meter: String,
    /// The meter's current key.
    pub meter_key: KeySummary,
    /// True if the meter would accept the token (short of its TID memory, which only the
    /// meter knows: a token already entered answers `used`).
    pub accepted: bool,
    /// Why not, if not.
    pub category: Option<RejectCategory>,
    /// What is wrong, for a person.
    pub message: Option<String>,
    /// What the token carries, when it decodes.
    pub token: Option<DecodedToken>,
    /// Whether and when we issued these digits.
    pub ledger: LedgerMatch,
}

fn describe(token: &Token, base: BaseDate) -> DecodedToken {
    let mut d = DecodedToken {
        class: token.class().bits(),
        subclass: token.subclass(),
        kind: String::new(),
        description: String::new(),
        tid: token.tid().map(|t| t.get()),
        tid_time: token.tid().map(|t| t.minute(base).to_string()),
        amount: None,
        unit: None,
        value: None,
    };
    let (kind, desc): (&str, String) = match token {
        Token::TransferCredit(c) => {
            let (per, unit, dec) = match c.utility {
                token_codec::token::Utility::Time => (600, "h", 6),
                token_codec::token::Utility::Electricity => (10, "kWh", 1),
                _ => (10, "m3", 1),
            };
            let (amount, _) = format_units(i128::from(c.amount.units()), per, dec);
            d.unit = Some(unit.into());
            let desc = format!("{} credit of {amount} {unit}", utility_name(c.utility));
            d.amount = Some(amount);
            ("credit", desc)
        }
        Token::TransferCurrency(c) => {
            let (amount, _) = format_units(c.amount.units(), 100_000, 5);
            d.unit = Some("currency".into());
            let desc = format!("{} currency credit of {amount}", utility_name(c.utility));
            d.amount = Some(amount);
            ("currency_credit", desc)
        }
        Token::InitiateMeterTest(t) => (
            "meter_test",
            format!(
                "initiate meter test/display, control {:#x}, manufacturer code {}",
                t.control(),
                t.manufacturer().value()
            ),
        ),
        Token::Engineering(_) => (
            "engineering",
            "class 1 engineering token with a subclass we do not interpret".into(),
        ),
        Token::Management(m) => {
            d.value = Some(m.function.value());
            let name = match m.function.subclass() {
                0 => "max_power_limit",
                1 => "clear_credit",
                2 => "tariff_rate",
                5 => "clear_tamper",
                6 => "phase_unbalance_limit",
                7 => "water_meter_factor",
                _ => "extended_token_set",
            };
            (
                name,
                format!(
                    "{} with value {}",
                    name.replace('_', " "),
                    m.function.value()
                ),
            )
        }
        Token::Set1stSectionDecoderKey(k) => (
            "key_change_1",
            format!(
                "key change 1st section: new KRN {}, KT {}, rollover {}",
                k.krn,
                k.kt.bits(),
                k.rollover
            ),
        ),
        Token::Set2ndSectionDecoderKey(k) => (
            "key_change_2",
            format!("key change 2nd section: new TI {}", k.ti),
        ),
        Token::SetSupplyGroupCode(s) => (
            "key_change_3",
            format!("key change: new supply group code {}", s.sgc),
        ),
        Token::Set3rdSectionDecoderKey(_) => ("key_change_3", "key change 3rd section".into()),
        Token::Set4thSectionDecoderKey(_) => ("key_change_4", "key change 4th section".into()),
        _ => ("unknown", "a token this build does not describe".into()),
    };
    d.kind = kind.into();
    d.description = desc;
    d
}

/// Decodes `text` for `meter` and compares with the ledger's `matches` (tokens with the same
/// digits). `text` has already failed or passed parsing: `digits` is its parse result.
pub fn verify(
    issuer: &Issuer,
    meter: &MeterRecord,
    digits: Result<TokenDigits, CodecError>,
    matches: &[TokenRecord],
) -> Result<VerifyReport, ApiError> {
    let mine = matches.iter().find(|t| t.meter == meter.pan);
    let current = KeyIdentity::from(&meter.key);
    let ledger = LedgerMatch {
        issued_to_this_meter: mine.is_some(),
        token_id: mine.map(|t| t.id),
        issue_id: mine.map(|t| t.issue_id),
        issued_at: mine.map(|t| rfc3339(t.created_at)),
        kind: mine.map(|t| t.token.kind.name().to_owned()),
        issued_under: mine.map(|t| t.token.key.into()),
        under_current_key: mine.map(|t| t.token.key == current),
        other_meters: matches
            .iter()
            .filter(|t| t.meter != meter.pan)
            .map(|t| t.meter.to_string())
            .collect(),
    };
    let mut report = VerifyReport {
        meter: meter.pan.to_string(),
        meter_key: KeySummary::from(&meter.key),
        accepted: false,
        category: None,
        message: None,
        token: None,
        ledger,
    };
    let refuse = |mut r: VerifyReport, cat: RejectCategory, msg: String| {
        r.category = Some(cat);
        r.message = Some(msg);
        Ok(r)
    };
    let digits = match digits {
        Ok(d) => d,
        Err(e) => return refuse(report, RejectCategory::Format, format!("not a token: {e}")),
    };
    let id: MeterIdentity = meter.identity();
    let token = match issuer.decode(&id, &digits) {
        Ok(t) => t,
        Err(HsmError::Codec(e @ CodecError::CrcMismatch { .. })) => {
            let mut msg = format!("not for this meter or mistyped ({e})");
            if let Some(t) = mine.filter(|t| t.token.key != current) {
                msg.push_str(&format!(
                    "; we issued these digits to this meter on {} under its earlier key (sgc {}, krn {}): \
                     the meter's key has changed since",
                    rfc3339(t.created_at),
                    t.token.key.sgc,
                    t.token.key.krn
                ));
            }
            return refuse(report, RejectCategory::Crc, msg);
        }
        Err(HsmError::Codec(
            e @ (CodecError::ReservedClass | CodecError::UnknownSubclass { .. }),
        )) => {
            return refuse(
                report,
                RejectCategory::Function,
                format!("no meter function for this token: {e}"),
            );
        }
        Err(HsmError::Codec(e)) => {
            return refuse(report, RejectCategory::Format, format!("not a token: {e}"));
        }
        Err(e) => return Err(e.into()),
    };
    let record = issuer.key_for(&id)?;
    report.token = Some(describe(&token, record.base_date));
    if let Some(tid) = token.tid() {
        if let Err(e) = tid.check_expiry(record.ken) {
            return refuse(report, RejectCategory::KeyExpired, e.to_string());
        }
    }
    report.accepted = true;
    Ok(report)
}
