//! Issued tokens as the ledger stores them.

use hsm_core::{BaseDate, KeyRevision, KeyType, MeterPan, SupplyGroupCode, TariffIndex};
use serde_json::Value;
use token_codec::{Tid, TokenDigits};

use super::model::MeterKey;
use crate::clock::UnixSeconds;

/// What kind of issuing request produced tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueKind {
    /// Class 0 credit (units or currency).
    Credit,
    /// Class 2 register-style management token.
    Management,
    /// Class 1 engineering token.
    Engineering,
    /// A key change set, optionally with a credit token under the new key.
    KeyChange,
}

impl IssueKind {
    /// Every kind.
    pub const ALL: [Self; 4] = [
        Self::Credit,
        Self::Management,
        Self::Engineering,
        Self::KeyChange,
    ];

    /// The stored and API name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Management => "management",
            Self::Engineering => "engineering",
            Self::KeyChange => "key_change",
        }
    }

    /// From the stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// The key identity a token was encrypted under (class 1 tokens record the meter's key at
/// the time, although they are not encrypted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIdentity {
    /// Supply group code.
    pub sgc: SupplyGroupCode,
    /// Tariff index.
    pub ti: TariffIndex,
    /// Key revision number.
    pub krn: KeyRevision,
    /// Key type.
    pub kt: KeyType,
}

impl From<&MeterKey> for KeyIdentity {
    fn from(k: &MeterKey) -> Self {
        Self {
            sgc: k.sgc,
            ti: k.ti,
            krn: k.krn,
            kt: k.kt,
        }
    }
}

/// What a token does, in class and subclass order (SPEC-codec §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// 0/0–3: credit in the utility's unit.
    Credit,
    /// 0/4–7: currency credit or debit.
    CurrencyCredit,
    /// 1/0–1: initiate meter test/display.
    MeterTest,
    /// 2/0: set maximum power limit.
    MaxPowerLimit,
    /// 2/1: clear credit.
    ClearCredit,
    /// 2/2: set tariff rate.
    TariffRate,
    /// 2/3: key change, 1st section.
    KeyChange1,
    /// 2/4: key change, 2nd section.
    KeyChange2,
    /// 2/5: clear tamper condition.
    ClearTamper,
    /// 2/6: set maximum phase power unbalance limit.
    PhaseUnbalanceLimit,
    /// 2/7: set water meter factor.
    WaterMeterFactor,
    /// 2/8: key change, 3rd section (128-bit keys) or the SGC token of a 3-token set.
    KeyChange3,
    /// 2/9: key change, 4th section (128-bit keys).
    KeyChange4,
}

impl TokenKind {
    /// Every kind.
    pub const ALL: [Self; 13] = [
        Self::Credit,
        Self::CurrencyCredit,
        Self::MeterTest,
        Self::MaxPowerLimit,
        Self::ClearCredit,
        Self::TariffRate,
        Self::KeyChange1,
        Self::KeyChange2,
        Self::ClearTamper,
        Self::PhaseUnbalanceLimit,
        Self::WaterMeterFactor,
        Self::KeyChange3,
        Self::KeyChange4,
    ];

    /// The stored and API name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::CurrencyCredit => "currency_credit",
            Self::MeterTest => "meter_test",
            Self::MaxPowerLimit => "max_power_limit",
            Self::ClearCredit => "clear_credit",
            Self::TariffRate => "tariff_rate",
            Self::KeyChange1 => "key_change_1",
            Self::KeyChange2 => "key_change_2",
            Self::ClearTamper => "clear_tamper",
            Self::PhaseUnbalanceLimit => "phase_unbalance_limit",
            Self::WaterMeterFactor => "water_meter_factor",
            Self::KeyChange3 => "key_change_3",
            Self::KeyChange4 => "key_change_4",
        }
    }

    /// From the stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A token as minted, before it has a row id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// What it does.
    pub kind: TokenKind,
    /// Token class (0–2).
    pub class: u8,
    /// Subclass (0–15).
    pub subclass: u8,
    /// TID and its base date, for TID-bearing tokens.
    pub tid: Option<(Tid, BaseDate)>,
    /// The 20 digits.
    pub digits: TokenDigits,
    /// The key it is encrypted under.
    pub key: KeyIdentity,
}

/// A token as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Row id.
    pub id: i64,
    /// The issuing request it belongs to.
    pub issue_id: i64,
    /// The meter it is for.
    pub meter: MeterPan,
    /// Entry order inside its issue (0-based).
    pub position: u32,
    /// The token itself.
    pub token: MintedToken,
    /// When it was issued.
    pub created_at: UnixSeconds,
}

/// An issuing request as stored, with its tokens in entry order.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRecord {
    /// Row id.
    pub id: i64,
    /// The meter.
    pub meter: MeterPan,
    /// What was issued.
    pub kind: IssueKind,
    /// Who issued it.
    pub actor: String,
    /// Summary facts (credited amount, key change target…), never digits.
    pub summary: Value,
    /// When.
    pub created_at: UnixSeconds,
    /// The tokens, in entry order.
    pub tokens: Vec<TokenRecord>,
}

/// The answer to an issuing request.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueOutcome {
    /// The issue.
    pub issue: IssueRecord,
    /// True if this is the stored answer to an earlier request with the same idempotency
    /// key and body.
    pub replayed: bool,
}
