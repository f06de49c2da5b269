//! Key change tokens: class 2 subclasses 3, 4, 8 and 9 (SPEC-codec §2.3, §2A; SPEC-crypto §6).
//!
//! A set is encrypted under the meter's current key and carries the new key's sections and
//! attributes; it has no RND or TID. Shapes:
//! - 64-bit key, pair: 2/3 (KENHO, KRN, RO, KT, NKHO) then 2/4 (KENLO, TI, NKLO);
//! - 64-bit key, 3-token set: 2/3 with bit 50 set, 2/4, then a 2/8 carrying the 24-bit SGC in
//!   bits 59..36 (bits 35..16 zero), as the STS 531-1-07 CTSA05 step 4 triplet decrypts;
//! - 128-bit key (MISTY1): 2/3, 2/4, 2/8 (SGC low 12 bits, NKMO2), 2/9 (SGC high 12 bits,
//!   NKMO1); the key is NKHO ‖ NKMO2 ‖ NKMO1 ‖ NKLO (brief decision 8: the section order that
//!   reproduces the MISTY1 key change vectors).

use super::Token;
use super::bits::{get, get_u8, get_u16, get_u32, put, subclass};
use crate::error::{CodecError, Field};
use crate::ident::{
    KenNibble, KeyExpiryNumber, KeyRevision, KeyType, SupplyGroupCode, TariffIndex,
};
use crate::key::{DecoderKey, DecoderKey64, DecoderKey128, KeyPart, split_key64, split_key128};

/// 2/3, Set 1st Section Decoder Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange1 {
    /// KENHO: high nibble of the new key's expiry number.
    pub ken_high: KenNibble,
    /// The new key's revision number.
    pub krn: KeyRevision,
    /// RO: rollover key change; the meter empties its TID memory and moves to the next base
    /// date when the set completes.
    pub rollover: bool,
    /// Bit 50: set in the first token of a 3-token set (an SGC token follows the 2/4).
    pub sgc_follows: bool,
    /// The new key's type.
    pub kt: KeyType,
    /// NKHO: new key bits 63..32 (128-bit: bytes 0..4).
    pub key_high: KeyPart,
}

/// 2/4, Set 2nd Section Decoder Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange2 {
    /// KENLO: low nibble of the new key's expiry number.
    pub ken_low: KenNibble,
    /// The new tariff index, in binary here (BCD in the DKGA02 control block).
    pub ti: TariffIndex,
    /// NKLO: new key bits 31..0 (128-bit: bytes 12..16).
    pub key_low: KeyPart,
}

/// 2/8 in a 64-bit key's 3-token set: the meter's new supply group code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SupplyGroupChange {
    /// The new supply group code.
    pub sgc: SupplyGroupCode,
}

/// Twelve bits of a supply group code, as the 128-bit set splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SgcHalf(u16);

impl SgcHalf {
    /// Wraps 12 bits; fails above 0xFFF.
    pub const fn new(value: u16) -> Result<Self, CodecError> {
        if value > 0xFFF {
            Err(CodecError::OutOfRange {
                field: Field::SupplyGroupCodeHalf,
                value: value as u64,
            })
        } else {
            Ok(Self(value))
        }
    }

    /// The 12 bits.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// The (high, low) halves of a supply group code taken as a 24-bit binary number.
    pub const fn split(sgc: SupplyGroupCode) -> (Self, Self) {
        let v = sgc.get();
        (Self(((v >> 12) & 0xFFF) as u16), Self((v & 0xFFF) as u16))
    }

    /// Joins (high, low) halves; fails if the result exceeds six decimal digits.
    pub const fn join(high: Self, low: Self) -> Result<SupplyGroupCode, CodecError> {
        SupplyGroupCode::new(((high.0 as u32) << 12) | low.0 as u32)
    }
}

/// 2/8 in a 128-bit key's set: Set 3rd Section Decoder Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange3 {
    /// SGCLO: low 12 bits of the supply group code.
    pub sgc_low: SgcHalf,
    /// NKMO2: new key bytes 4..8.
    pub key_mid2: KeyPart,
}

/// 2/9: Set 4th Section Decoder Key (128-bit keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange4 {
    /// SGCHO: high 12 bits of the supply group code.
    pub sgc_high: SgcHalf,
    /// NKMO1: new key bytes 8..12.
    pub key_mid1: KeyPart,
}

impl KeyChange1 {
    pub(crate) const fn to_block(&self) -> u64 {
        subclass(3)
            | put(self.ken_high.get() as u64, 59, 4)
            | put(self.krn.get() as u64, 55, 4)
            | put(self.rollover as u64, 51, 1)
            | put(self.sgc_follows as u64, 50, 1)
            | put(self.kt.bits() as u64, 49, 2)
            | put(self.key_high.expose() as u64, 47, 32)
    }

    pub(crate) const fn from_block(block: u64) -> Result<Self, CodecError> {
        let krn = match KeyRevision::new(get_u8(block, 55, 4)) {
            Ok(k) => k,
            Err(e) => return Err(e),
        };
        Ok(Self {
            ken_high: KenNibble::from_low_bits(get(block, 59, 4)),
            krn,
            rollover: get(block, 51, 1) == 1,
            sgc_follows: get(block, 50, 1) == 1,
            kt: KeyType::from_bits(get_u8(block, 49, 2)),
            key_high: KeyPart::new(get_u32(block, 47, 32)),
        })
    }
}

impl KeyChange2 {
    pub(crate) const fn to_block(&self) -> u64 {
        subclass(4)
            | put(self.ken_low.get() as u64, 59, 4)
            | put(self.ti.get() as u64, 55, 8)
            | put(self.key_low.expose() as u64, 47, 32)
    }

    pub(crate) const fn from_block(block: u64) -> Result<Self, CodecError> {
        let ti = match TariffIndex::new(get_u8(block, 55, 8)) {
            Ok(t) => t,
            Err(e) => return Err(e),
        };
        Ok(Self {
            ken_low: KenNibble::from_low_bits(get(block, 59, 4)),
            ti,
            key_low: KeyPart::new(get_u32(block, 47, 32)),
        })
    }
}

impl SupplyGroupChange {
    pub(crate) const fn to_block(self) -> u64 {
        subclass(8) | put(self.sgc.get() as u64, 59, 24)
    }

    pub(crate) const fn from_block(block: u64) -> Result<Self, CodecError> {
        let reserved = get(block, 35, 20);
        if reserved != 0 {
            return Err(CodecError::OutOfRange {
                field: Field::Payload,
                value: reserved,
            });
        }
        match SupplyGroupCode::new(get_u32(block, 59, 24)) {
            Ok(sgc) => Ok(Self { sgc }),
            Err(e) => Err(e),
        }
    }
}

impl KeyChange3 {
    pub(crate) const fn to_block(&self) -> u64 {
        subclass(8)
            | put(self.sgc_low.get() as u64, 59, 12)
            | put(self.key_mid2.expose() as u64, 47, 32)
    }

    pub(crate) const fn from_block(block: u64) -> Self {
        Self {
            sgc_low: SgcHalf(get_u16(block, 59, 12)),
            key_mid2: KeyPart::new(get_u32(block, 47, 32)),
        }
    }
}

impl KeyChange4 {
    pub(crate) const fn to_block(&self) -> u64 {
        subclass(9)
            | put(self.sgc_high.get() as u64, 59, 12)
            | put(self.key_mid1.expose() as u64, 47, 32)
    }

    pub(crate) const fn from_block(block: u64) -> Self {
        Self {
            sgc_high: SgcHalf(get_u16(block, 59, 12)),
            key_mid1: KeyPart::new(get_u32(block, 47, 32)),
        }
    }
}

/// What a key change set tells the meter about its new key, besides the key itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewKeyAttributes {
    /// Expiry number of the new key.
    pub ken: KeyExpiryNumber,
    /// Revision number of the new key.
    pub krn: KeyRevision,
    /// Type of the new key.
    pub kt: KeyType,
    /// Tariff index of the new key.
    pub ti: TariffIndex,
    /// Rollover: empty the TID memory and move to the next base date.
    pub rollover: bool,
}

/// A complete key change set of 2, 3 or 4 tokens, in the order they are entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChangeSet {
    tokens: [Option<Token>; 4],
}

impl KeyChangeSet {
    fn first_two(
        parts: (KeyPart, KeyPart),
        attrs: &NewKeyAttributes,
        sgc_follows: bool,
    ) -> [Option<Token>; 2] {
        let (key_high, key_low) = parts;
        [
            Some(Token::Set1stSectionDecoderKey(KeyChange1 {
                ken_high: attrs.ken.high(),
                krn: attrs.krn,
                rollover: attrs.rollover,
                sgc_follows,
                kt: attrs.kt,
                key_high,
            })),
            Some(Token::Set2ndSectionDecoderKey(KeyChange2 {
                ken_low: attrs.ken.low(),
                ti: attrs.ti,
                key_low,
            })),
        ]
    }

    /// The 2-token set for a 64-bit key.
    pub fn pair(new_key: &DecoderKey64, attrs: &NewKeyAttributes) -> Self {
        let [high, low] = split_key64(new_key);
        let [a, b] = Self::first_two((high, low), attrs, false);
        Self {
            tokens: [a, b, None, None],
        }
    }

    /// The 3-token set for a 64-bit key that also carries the supply group code.
    pub fn triplet(new_key: &DecoderKey64, attrs: &NewKeyAttributes, sgc: SupplyGroupCode) -> Self {
        let [high, low] = split_key64(new_key);
        let [a, b] = Self::first_two((high, low), attrs, true);
        Self {
            tokens: [
                a,
                b,
                Some(Token::SetSupplyGroupCode(SupplyGroupChange { sgc })),
                None,
            ],
        }
    }

    /// The 4-token set for a 128-bit key.
    pub fn quad(new_key: &DecoderKey128, attrs: &NewKeyAttributes, sgc: SupplyGroupCode) -> Self {
        let [nkho, nkmo2, nkmo1, nklo] = split_key128(new_key);
        let (sgc_high, sgc_low) = SgcHalf::split(sgc);
        let [a, b] = Self::first_two((nkho, nklo), attrs, false);
        Self {
            tokens: [
                a,
                b,
                Some(Token::Set3rdSectionDecoderKey(KeyChange3 {
                    sgc_low,
                    key_mid2: nkmo2,
                })),
                Some(Token::Set4thSectionDecoderKey(KeyChange4 {
                    sgc_high,
                    key_mid1: nkmo1,
                })),
            ],
        }
    }

    /// The set for a key of either width: a 128-bit key needs `sgc`; a 64-bit key gives a
    /// 3-token set when `sgc` is given, else a pair.
    pub fn new(
        new_key: &DecoderKey,
        attrs: &NewKeyAttributes,
        sgc: Option<SupplyGroupCode>,
    ) -> Result<Self, CodecError> {
        match (new_key, sgc) {
            (DecoderKey::Bits64(k), None) => Ok(Self::pair(k, attrs)),
            (DecoderKey::Bits64(k), Some(sgc)) => Ok(Self::triplet(k, attrs, sgc)),
            (DecoderKey::Bits128(k), Some(sgc)) => Ok(Self::quad(k, attrs, sgc)),
            (DecoderKey::Bits128(_), None) => Err(CodecError::KeyChangeSet {
                reason: crate::error::KeyChangeSetFault::SgcRequiredFor128BitKey,
            }),
        }
    }

    /// The tokens in entry order.
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.tokens.iter().flatten()
    }

    /// Number of tokens: 2, 3 or 4.
    pub fn len(&self) -> usize {
        self.tokens().count()
    }

    /// Never true: a set has at least two tokens.
    pub fn is_empty(&self) -> bool {
        false
    }
}
