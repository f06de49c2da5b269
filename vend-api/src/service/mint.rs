//! The mints: closures the ledger runs inside its transaction, once the meter row and its
//! last TIDs are read. They build typed tokens and have [`Issuer`] encode them; no key or
//! cipher is touched here.

use std::sync::Arc;

use hsm_core::{BaseDate, Issuer, KeyChangeOptions, KeyType, MeterIdentity};
use token_codec::token::{
    CreditTransfer, CurrencyTransfer, Management, ManagementFunction, MeterTest, Stamp,
};
use token_codec::{Tid, Token, TokenDigits};

use super::order::{CreditAmount, PreparedCredit};
use super::summary::{
    EngineeringSummary, IssueSummary, KeyChangeSummary, KeySummary, ManagementSummary,
};
use crate::clock::RndSource;
use crate::ledger::{
    KeyIdentity, MeterKey, MeterRecord, Mint, MintError, Minted, MintedToken, TidAllocator,
    TokenKind,
};

/// What every mint needs.
#[derive(Clone)]
pub struct MintKit {
    /// The one door to the keys.
    pub issuer: Issuer,
    /// RND per token.
    pub rnd: Arc<dyn RndSource>,
}

fn summary(s: IssueSummary) -> serde_json::Value {
    serde_json::to_value(s).unwrap_or_default()
}

/// Encodes one token.
fn encode_one(
    issuer: &Issuer,
    id: &MeterIdentity,
    tids: &TidAllocator,
    token: &Token,
) -> Result<TokenDigits, MintError> {
    issuer
        .encode(id, tids.at(), std::slice::from_ref(token))?
        .into_iter()
        .next()
        .ok_or(MintError::Refused {
            code: "internal",
            field: None,
            message: "issuer returned no token".into(),
        })
}

/// The base date the meter's vending key counts TIDs from; refuses a meter whose stored base
/// date disagrees with its key (TIDs would be counted from the wrong origin).
fn key_base_date(
    issuer: &Issuer,
    meter: &MeterRecord,
    id: &MeterIdentity,
) -> Result<BaseDate, MintError> {
    let record = issuer.key_for(id)?;
    if record.base_date != meter.key.base_date {
        return Err(MintError::Refused {
            code: "base_date_mismatch",
            field: None,
            message: format!(
                "meter {} is registered with base date {} but vending key {} uses {}",
                meter.pan, meter.key.base_date, record.id, record.base_date
            ),
        });
    }
    Ok(record.base_date)
}

/// A meter holding a default key (DDTK) answers `ddtk` to every credit token (brief
/// decision 12): refuse to sell it one.
fn refuse_default_key(id: &MeterIdentity) -> Result<(), MintError> {
    if id.kt() == KeyType::Ddtk {
        let pan = id.pan();
        return Err(MintError::Refused {
            code: "default_key",
            field: None,
            message: format!(
                "meter {pan} holds a default key (DDTK), which refuses credit tokens: issue a key change first"
            ),
        });
    }
    Ok(())
}

fn credit_token(kit: &MintKit, c: &PreparedCredit, tid: Tid) -> Token {
    match c.amount {
        CreditAmount::Units(amount) => Token::TransferCredit(CreditTransfer {
            utility: c.utility,
            rnd: kit.rnd.rnd(),
            tid,
            amount,
        }),
        CreditAmount::Currency(amount) => Token::TransferCurrency(CurrencyTransfer {
            utility: c.utility,
            tid,
            amount,
        }),
    }
}

fn minted(
    kind: TokenKind,
    token: &Token,
    tid: Option<(Tid, BaseDate)>,
    digits: TokenDigits,
    key: KeyIdentity,
) -> MintedToken {
    MintedToken {
        kind,
        class: token.class().bits(),
        subclass: token.subclass(),
        tid,
        digits,
        key,
    }
}

/// Mints one credit token under `id` (the meter's current key, or its new key after a key
/// change in the same issue).
fn mint_credit_under(
    kit: &MintKit,
    c: &PreparedCredit,
    id: &MeterIdentity,
    base: BaseDate,
    tids: &mut TidAllocator,
) -> Result<MintedToken, MintError> {
    refuse_default_key(id)?;
    let tid = tids.next(base).map_err(MintError::Tid)?;
    let token = credit_token(kit, c, tid);
    let digits = encode_one(&kit.issuer, id, tids, &token)?;
    let kind = match c.amount {
        CreditAmount::Units(_) => TokenKind::Credit,
        CreditAmount::Currency(_) => TokenKind::CurrencyCredit,
    };
    let key = KeyIdentity {
        sgc: id.sgc(),
        ti: id.ti(),
        krn: id.krn(),
        kt: id.kt(),
    };
    Ok(minted(kind, &token, Some((tid, base)), digits, key))
}

/// A credit token.
pub fn credit(kit: MintKit, c: PreparedCredit) -> Mint {
    Box::new(move |meter: &MeterRecord, tids: &mut TidAllocator| {
        let id = meter.identity();
        let base = key_base_date(&kit.issuer, meter, &id)?;
        let token = mint_credit_under(&kit, &c, &id, base, tids)?;
        Ok(Minted {
            tokens: vec![token],
            summary: summary(IssueSummary {
                credit: Some(c.summary.clone()),
                ..IssueSummary::default()
            }),
            new_key: None,
        })
    })
}

/// A register-style management token.
pub fn management(kit: MintKit, f: ManagementFunction, s: ManagementSummary) -> Mint {
    Box::new(move |meter: &MeterRecord, tids: &mut TidAllocator| {
        let id = meter.identity();
        let base = key_base_date(&kit.issuer, meter, &id)?;
        let tid = tids.next(base).map_err(MintError::Tid)?;
        let token = Token::Management(Management {
            stamp: Stamp {
                rnd: kit.rnd.rnd(),
                tid,
            },
            function: f,
        });
        let digits = encode_one(&kit.issuer, &id, tids, &token)?;
        let kind = match f {
            ManagementFunction::SetMaximumPowerLimit(_) => TokenKind::MaxPowerLimit,
            ManagementFunction::ClearCredit(_) => TokenKind::ClearCredit,
            ManagementFunction::SetTariffRate(_) => TokenKind::TariffRate,
            ManagementFunction::ClearTamperCondition(_) => TokenKind::ClearTamper,
            ManagementFunction::SetMaximumPhasePowerUnbalanceLimit(_) => {
                TokenKind::PhaseUnbalanceLimit
            }
            ManagementFunction::SetWaterMeterFactor(_) => TokenKind::WaterMeterFactor,
            ManagementFunction::ExtendedTokenSet(_) => {
                return Err(MintError::Refused {
                    code: "unsupported_function",
                    field: Some("function"),
                    message: "extended token set tokens are not issued".into(),
                });
            }
        };
        Ok(Minted {
            tokens: vec![minted(
                kind,
                &token,
                Some((tid, base)),
                digits,
                KeyIdentity::from(&meter.key),
            )],
            summary: summary(IssueSummary {
                management: Some(s.clone()),
                ..IssueSummary::default()
            }),
            new_key: None,
        })
    })
}

/// A class 1 initiate-meter-test token. Not encrypted and not meter-specific, but issued
/// against a registered meter so the ledger has it; the issuer still checks that the meter's
/// key is known and in its window.
pub fn meter_test(kit: MintKit, t: MeterTest, s: EngineeringSummary) -> Mint {
    Box::new(move |meter: &MeterRecord, tids: &mut TidAllocator| {
        let token = Token::InitiateMeterTest(t);
        let digits = encode_one(&kit.issuer, &meter.identity(), tids, &token)?;
        Ok(Minted {
            tokens: vec![minted(
                TokenKind::MeterTest,
                &token,
                None,
                digits,
                KeyIdentity::from(&meter.key),
            )],
            summary: summary(IssueSummary {
                engineering: Some(s.clone()),
                ..IssueSummary::default()
            }),
            new_key: None,
        })
    })
}

/// The target of a key change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChangeTarget {
    /// New supply group code.
    pub sgc: hsm_core::SupplyGroupCode,
    /// New tariff index.
    pub ti: hsm_core::TariffIndex,
    /// New key revision number.
    pub krn: hsm_core::KeyRevision,
    /// New key type (default: the current one).
    pub kt: Option<KeyType>,
    /// The base date the caller expects the new key to have (checked if given).
    pub base_date: Option<BaseDate>,
    /// 64-bit keys: issue the 3-token set carrying the SGC.
    pub sgc_token: bool,
}

const KEY_CHANGE_KINDS: [TokenKind; 4] = [
    TokenKind::KeyChange1,
    TokenKind::KeyChange2,
    TokenKind::KeyChange3,
    TokenKind::KeyChange4,
];
const KEY_CHANGE_SUBCLASSES: [u8; 4] = [3, 4, 8, 9];

/// A key change set (2, 3 or 4 tokens under the current key), optionally followed by a
/// credit token under the new key; all or nothing.
pub fn key_change(kit: MintKit, to: KeyChangeTarget, credit: Option<PreparedCredit>) -> Mint {
    Box::new(move |meter: &MeterRecord, tids: &mut TidAllocator| {
        let from = meter.identity();
        let new_id = MeterIdentity::new(
            meter.pan,
            to.sgc,
            to.ti,
            to.krn,
            to.kt.unwrap_or(meter.key.kt),
        );
        if new_id == from {
            return Err(MintError::Refused {
                code: "same_key",
                field: Some("to"),
                message: "the requested key is the meter's current key".into(),
            });
        }
        let kc = kit.issuer.key_change(
            &from,
            &new_id,
            KeyChangeOptions {
                sgc_token: to.sgc_token,
            },
            tids.at(),
        )?;
        let new_key = MeterKey {
            sgc: new_id.sgc(),
            ti: new_id.ti(),
            krn: new_id.krn(),
            kt: new_id.kt(),
            ea: kc.new_key.ea,
            dkga: kc.new_key.dkga,
            base_date: kc.new_key.base_date,
        };
        if let Some(expected) = to.base_date.filter(|b| *b != new_key.base_date) {
            return Err(MintError::Refused {
                code: "base_date_mismatch",
                field: Some("to.base_date"),
                message: format!(
                    "vending key {} has base date {}, not {expected}",
                    kc.new_key.id, new_key.base_date
                ),
            });
        }
        let old_ident = KeyIdentity::from(&meter.key);
        let mut tokens = Vec::with_capacity(kc.digits.len() + 1);
        for (i, digits) in kc.digits.iter().enumerate() {
            let (Some(kind), Some(sub)) = (KEY_CHANGE_KINDS.get(i), KEY_CHANGE_SUBCLASSES.get(i))
            else {
                return Err(MintError::Refused {
                    code: "internal",
                    field: None,
                    message: "key change set longer than 4 tokens".into(),
                });
            };
            tokens.push(MintedToken {
                kind: *kind,
                class: 2,
                subclass: *sub,
                tid: None,
                digits: *digits,
                key: old_ident,
            });
        }
        let count = u8::try_from(tokens.len()).unwrap_or(u8::MAX);
        if let Some(c) = &credit {
            tokens.push(mint_credit_under(
                &kit,
                c,
                &new_id,
                new_key.base_date,
                tids,
            )?);
        }
        let s = IssueSummary {
            credit: credit.as_ref().map(|c| c.summary.clone()),
            key_change: Some(KeyChangeSummary {
                from: KeySummary::from(&meter.key),
                to: KeySummary::from(&new_key),
                rollover: kc.rollover,
                key_change_tokens: count,
            }),
            ..IssueSummary::default()
        };
        Ok(Minted {
            tokens,
            summary: summary(s),
            new_key: Some(new_key),
        })
    })
}
