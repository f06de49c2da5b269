//! Class 0: credit transfer tokens (SPEC-codec §2.1, §4A).

use super::bits::{get, get_u8, get_u16, put, subclass};
use crate::amount::{CurrencyAmount, TransferAmount};
use crate::error::CodecError;
use crate::ident::Rnd;
use crate::tid::Tid;

/// The utility a credit register counts: class 0 subclasses 0–3 (units) and 4–7 (currency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Utility {
    /// Electricity: 0.1 kWh per unit.
    Electricity = 0,
    /// Water: 0.1 kl (m³) per unit (STS 531-1-07 labels; SPEC-codec §4.4).
    Water = 1,
    /// Gas: 0.1 m³ per unit (same labels; edition-dependent).
    Gas = 2,
    /// Time: 0.1 minute per unit (same labels; edition-dependent).
    Time = 3,
}

impl Utility {
    /// Every utility in subclass order.
    pub const ALL: [Self; 4] = [Self::Electricity, Self::Water, Self::Gas, Self::Time];

    /// From the low 2 bits of `index`.
    pub const fn from_index(index: u8) -> Self {
        match index & 3 {
            0 => Self::Electricity,
            1 => Self::Water,
            2 => Self::Gas,
            _ => Self::Time,
        }
    }

    /// 0..=3.
    pub const fn index(self) -> u8 {
        self as u8
    }

    /// Subclass of this utility's unit credit token (0–3).
    pub const fn credit_subclass(self) -> u8 {
        self as u8
    }

    /// Subclass of this utility's currency credit token (4–7).
    pub const fn currency_subclass(self) -> u8 {
        self as u8 + 4
    }
}

/// Class 0 subclasses 0–3: credit in the utility's own unit.
///
/// Layout: subclass(4) RND(4) TID(24) amount(16) CRC(16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CreditTransfer {
    /// Which register the credit is for.
    pub utility: Utility,
    /// Random nibble.
    pub rnd: Rnd,
    /// Token identifier.
    pub tid: Tid,
    /// Amount in 0.1 units.
    pub amount: TransferAmount,
}

impl CreditTransfer {
    pub(crate) const fn to_block(self) -> u64 {
        subclass(self.utility.credit_subclass())
            | put(self.rnd.get() as u64, 59, 4)
            | put(self.tid.get() as u64, 55, 24)
            | put(self.amount.field() as u64, 31, 16)
    }

    pub(crate) const fn from_block(block: u64, sub: u8) -> Self {
        Self {
            utility: Utility::from_index(sub),
            rnd: Rnd::from_low_bits(get(block, 59, 4)),
            tid: Tid::from_low_bits(get(block, 55, 24)),
            amount: TransferAmount::from_field(get_u16(block, 31, 16)),
        }
    }
}

/// Class 0 subclasses 4–7: signed currency credit, CRC_C (SPEC-codec §4A).
///
/// Layout: subclass(4) sign(1) exponent bits 4..2 (3) TID(24) exponent bits 1..0 (2)
/// mantissa(14) CRC_C(16). There is no RND: the sign and exponent take its nibble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrencyTransfer {
    /// Which utility's currency register.
    pub utility: Utility,
    /// Token identifier.
    pub tid: Tid,
    /// Signed amount in 0.00001 currency units.
    pub amount: CurrencyAmount,
}

impl CurrencyTransfer {
    pub(crate) const fn to_block(self) -> u64 {
        let e = self.amount.exponent() as u64;
        subclass(self.utility.currency_subclass())
            | put(self.amount.is_negative() as u64, 59, 1)
            | put(e >> 2, 58, 3)
            | put(self.tid.get() as u64, 55, 24)
            | put(e, 31, 2)
            | put(self.amount.mantissa() as u64, 29, 14)
    }

    pub(crate) const fn from_block(block: u64, sub: u8) -> Result<Self, CodecError> {
        let exponent = (get_u8(block, 58, 3) << 2) | get_u8(block, 31, 2);
        let amount = match CurrencyAmount::from_parts(
            get(block, 59, 1) == 1,
            exponent,
            get_u16(block, 29, 14),
        ) {
            Ok(a) => a,
            Err(e) => return Err(e),
        };
        Ok(Self {
            utility: Utility::from_index(sub),
            tid: Tid::from_low_bits(get(block, 55, 24)),
            amount,
        })
    }
}
