//! Class 2 register-style management tokens (SPEC-codec §2.3): subclasses 0, 1, 2, 5, 6, 7
//! and 10, all laid out as subclass(4) RND(4) TID(24) value(16) CRC(16).

use super::bits::{get, get_u16, put, subclass};
use crate::amount::TransferAmount;
use crate::ident::Rnd;
use crate::tid::Tid;

/// RND and TID, common to every TID-bearing token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// Random nibble.
    pub rnd: Rnd,
    /// Token identifier.
    pub tid: Tid,
}

macro_rules! value16 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(u16);

        impl $name {
            /// Wraps the 16-bit field (every value is representable).
            pub const fn new(value: u16) -> Self {
                Self(value)
            }

            /// The 16-bit field.
            pub const fn get(self) -> u16 {
                self.0
            }
        }
    };
}

value16!(
    /// Clear credit's register selector (2/1): 0–7 name one class 0 register (the subclass
    /// whose credit it holds), 0xFFFF all of them (SPEC-codec §2A, CTSA04). Other values are
    /// carried, and a meter answers `range` for them (brief decision 12).
    RegisterSelector
);
value16!(
    /// Set tariff rate's rate field (2/2); reserved for definition by the STS Association.
    TariffRate
);
value16!(
    /// Clear tamper condition's pad field (2/5); 0 in the published vector.
    TamperPad
);
value16!(
    /// Set water meter factor's field (2/7); reserved by the STS Association for water.
    WaterMeterFactor
);
value16!(
    /// The value of class 2 subclass 10 (STS 202-5 extended token set; semantics not public).
    ExtendedPayload
);

impl RegisterSelector {
    /// Every register.
    pub const ALL: Self = Self(0xFFFF);

    /// The single register this selects (0..=7), or `None` for all or an undefined value.
    // Checked to be at most 7 before the narrowing.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn register(self) -> Option<u8> {
        if self.0 <= 7 {
            Some(self.0 as u8)
        } else {
            None
        }
    }

    /// True if the selector names a register or all of them.
    pub const fn is_defined(self) -> bool {
        self.0 <= 7 || self.0 == 0xFFFF
    }
}

/// What a register-style management token does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManagementFunction {
    /// 2/0: maximum power limit in watts, encoded like a transfer amount (SPEC-codec §4.1).
    SetMaximumPowerLimit(TransferAmount),
    /// 2/1: clear credit.
    ClearCredit(RegisterSelector),
    /// 2/2: set tariff rate.
    SetTariffRate(TariffRate),
    /// 2/5: clear tamper condition.
    ClearTamperCondition(TamperPad),
    /// 2/6: maximum phase power unbalance limit in watts, encoded like a transfer amount.
    SetMaximumPhasePowerUnbalanceLimit(TransferAmount),
    /// 2/7: set water meter factor.
    SetWaterMeterFactor(WaterMeterFactor),
    /// 2/10: STS 202-5 extended token set.
    ExtendedTokenSet(ExtendedPayload),
}

impl ManagementFunction {
    /// The class 2 subclass.
    pub const fn subclass(&self) -> u8 {
        match self {
            Self::SetMaximumPowerLimit(_) => 0,
            Self::ClearCredit(_) => 1,
            Self::SetTariffRate(_) => 2,
            Self::ClearTamperCondition(_) => 5,
            Self::SetMaximumPhasePowerUnbalanceLimit(_) => 6,
            Self::SetWaterMeterFactor(_) => 7,
            Self::ExtendedTokenSet(_) => 10,
        }
    }

    /// The 16-bit value field.
    pub const fn value(&self) -> u16 {
        match *self {
            Self::SetMaximumPowerLimit(a) | Self::SetMaximumPhasePowerUnbalanceLimit(a) => {
                a.field()
            }
            Self::ClearCredit(v) => v.get(),
            Self::SetTariffRate(v) => v.get(),
            Self::ClearTamperCondition(v) => v.get(),
            Self::SetWaterMeterFactor(v) => v.get(),
            Self::ExtendedTokenSet(v) => v.get(),
        }
    }

    /// The function for a register-style subclass and its 16-bit value; `None` for a
    /// subclass that is not register-style.
    pub const fn from_parts(sub: u8, value: u16) -> Option<Self> {
        Some(match sub {
            0 => Self::SetMaximumPowerLimit(TransferAmount::from_field(value)),
            1 => Self::ClearCredit(RegisterSelector(value)),
            2 => Self::SetTariffRate(TariffRate(value)),
            5 => Self::ClearTamperCondition(TamperPad(value)),
            6 => Self::SetMaximumPhasePowerUnbalanceLimit(TransferAmount::from_field(value)),
            7 => Self::SetWaterMeterFactor(WaterMeterFactor(value)),
            10 => Self::ExtendedTokenSet(ExtendedPayload(value)),
            _ => return None,
        })
    }
}

/// A register-style class 2 token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Management {
    /// RND and TID.
    pub stamp: Stamp,
    /// What the token does, with its value.
    pub function: ManagementFunction,
}

impl Management {
    pub(crate) const fn to_block(self) -> u64 {
        subclass(self.function.subclass())
            | put(self.stamp.rnd.get() as u64, 59, 4)
            | put(self.stamp.tid.get() as u64, 55, 24)
            | put(self.function.value() as u64, 31, 16)
    }

    pub(crate) const fn from_block(block: u64, sub: u8) -> Option<Self> {
        let stamp = Stamp {
            rnd: Rnd::from_low_bits(get(block, 59, 4)),
            tid: Tid::from_low_bits(get(block, 55, 24)),
        };
        match ManagementFunction::from_parts(sub, get_u16(block, 31, 16)) {
            Some(function) => Some(Self { stamp, function }),
            None => None,
        }
    }
}
