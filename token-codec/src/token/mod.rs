//! Every STS token layout as typed values (SPEC-codec §2), and the block <-> token mapping.

mod bits;
pub mod credit;
pub mod engineering;
pub mod key_change;
pub mod management;

use crate::crc;
use crate::error::CodecError;
use crate::ident::{KeyWidth, TokenClass};
use crate::tid::Tid;

pub use credit::{CreditTransfer, CurrencyTransfer, Utility};
pub use engineering::{EngineeringPayload, ManufacturerCode, MeterTest};
pub use key_change::{
    KeyChange1, KeyChange2, KeyChange3, KeyChange4, KeyChangeSet, NewKeyAttributes, SgcHalf,
    SupplyGroupChange,
};
pub use management::{
    ExtendedPayload, Management, ManagementFunction, RegisterSelector, Stamp, TamperPad,
    TariffRate, WaterMeterFactor,
};

/// One STS token, typed. Variants are listed in class and subclass order.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// 0/0–3: credit in the utility's unit.
    TransferCredit(CreditTransfer),
    /// 0/4–7: signed currency credit.
    TransferCurrency(CurrencyTransfer),
    /// 1/0–1: initiate meter test/display.
    InitiateMeterTest(MeterTest),
    /// 1/2–15: carried as raw payload.
    Engineering(EngineeringPayload),
    /// 2/0, 2/1, 2/2, 2/5, 2/6, 2/7, 2/10: register-style management tokens.
    Management(Management),
    /// 2/3: first section of a key change set.
    Set1stSectionDecoderKey(KeyChange1),
    /// 2/4: second section of a key change set.
    Set2ndSectionDecoderKey(KeyChange2),
    /// 2/8 in a 64-bit key's 3-token set: the supply group code.
    SetSupplyGroupCode(SupplyGroupChange),
    /// 2/8 in a 128-bit key's set: third section.
    Set3rdSectionDecoderKey(KeyChange3),
    /// 2/9: fourth section (128-bit keys).
    Set4thSectionDecoderKey(KeyChange4),
}

impl Token {
    /// The token's class.
    pub const fn class(&self) -> TokenClass {
        match self {
            Token::TransferCredit(_) | Token::TransferCurrency(_) => TokenClass::Credit,
            Token::InitiateMeterTest(_) | Token::Engineering(_) => TokenClass::Engineering,
            _ => TokenClass::Management,
        }
    }

    /// The token's subclass.
    pub const fn subclass(&self) -> u8 {
        match self {
            Token::TransferCredit(t) => t.utility.credit_subclass(),
            Token::TransferCurrency(t) => t.utility.currency_subclass(),
            Token::InitiateMeterTest(t) => t.subclass(),
            Token::Engineering(t) => t.subclass().get(),
            Token::Management(t) => t.function.subclass(),
            Token::Set1stSectionDecoderKey(_) => 3,
            Token::Set2ndSectionDecoderKey(_) => 4,
            Token::SetSupplyGroupCode(_) | Token::Set3rdSectionDecoderKey(_) => 8,
            Token::Set4thSectionDecoderKey(_) => 9,
        }
    }

    /// The TID, for tokens that carry one (class 0 and register-style class 2).
    pub const fn tid(&self) -> Option<Tid> {
        match self {
            Token::TransferCredit(t) => Some(t.tid),
            Token::TransferCurrency(t) => Some(t.tid),
            Token::Management(t) => Some(t.stamp.tid),
            _ => None,
        }
    }

    /// True for the sections of a key change set.
    pub const fn is_key_change(&self) -> bool {
        matches!(
            self,
            Token::Set1stSectionDecoderKey(_)
                | Token::Set2ndSectionDecoderKey(_)
                | Token::SetSupplyGroupCode(_)
                | Token::Set3rdSectionDecoderKey(_)
                | Token::Set4thSectionDecoderKey(_)
        )
    }

    /// The plain 64-bit data block, CRC included.
    pub fn to_block(&self) -> u64 {
        let fields = match self {
            Token::TransferCredit(t) => t.to_block(),
            Token::TransferCurrency(t) => t.to_block(),
            Token::InitiateMeterTest(t) => t.to_block(),
            Token::Engineering(t) => t.to_block(),
            Token::Management(t) => t.to_block(),
            Token::Set1stSectionDecoderKey(t) => t.to_block(),
            Token::Set2ndSectionDecoderKey(t) => t.to_block(),
            Token::SetSupplyGroupCode(t) => t.to_block(),
            Token::Set3rdSectionDecoderKey(t) => t.to_block(),
            Token::Set4thSectionDecoderKey(t) => t.to_block(),
        };
        crc::seal(self.class(), fields)
    }

    /// Reads a plain (decrypted) block: CRC first, then the subclass, then field domains
    /// (brief decision 12's order). `width` is the decoder key's width: it tells a 64-bit
    /// set's SGC token from a 128-bit set's third section, both subclass 8.
    pub fn from_block(class: TokenClass, block: u64, width: KeyWidth) -> Result<Self, CodecError> {
        if class == TokenClass::Reserved {
            return Err(CodecError::ReservedClass);
        }
        crc::check(class, block)
            .map_err(|(stored, computed)| CodecError::CrcMismatch { stored, computed })?;
        let sub = crc::subclass_of(block);
        let unknown = CodecError::UnknownSubclass {
            class: class.bits(),
            subclass: sub,
        };
        match (class, sub) {
            (TokenClass::Credit, 0..=3) => Ok(Token::TransferCredit(CreditTransfer::from_block(
                block, sub,
            ))),
            (TokenClass::Credit, 4..=7) => {
                CurrencyTransfer::from_block(block, sub).map(Token::TransferCurrency)
            }
            (TokenClass::Engineering, 0 | 1) => {
                Ok(Token::InitiateMeterTest(MeterTest::from_block(block, sub)))
            }
            (TokenClass::Engineering, _) => Ok(Token::Engineering(EngineeringPayload::from_block(
                block, sub,
            ))),
            (TokenClass::Management, 3) => {
                KeyChange1::from_block(block).map(Token::Set1stSectionDecoderKey)
            }
            (TokenClass::Management, 4) => {
                KeyChange2::from_block(block).map(Token::Set2ndSectionDecoderKey)
            }
            (TokenClass::Management, 8) => match width {
                KeyWidth::Bits64 => {
                    SupplyGroupChange::from_block(block).map(Token::SetSupplyGroupCode)
                }
                KeyWidth::Bits128 => Ok(Token::Set3rdSectionDecoderKey(KeyChange3::from_block(
                    block,
                ))),
            },
            (TokenClass::Management, 9) => Ok(Token::Set4thSectionDecoderKey(
                KeyChange4::from_block(block),
            )),
            (TokenClass::Management, _) => Management::from_block(block, sub)
                .map(Token::Management)
                .ok_or(unknown),
            _ => Err(unknown),
        }
    }
}
