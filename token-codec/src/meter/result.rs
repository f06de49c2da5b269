//! What a meter answers for an entered token (SPEC-codec §6.1), and why.

use core::fmt;

use crate::token::{
    CreditTransfer, CurrencyTransfer, EngineeringPayload, ManagementFunction, MeterTest, Utility,
};

/// The standard's rejection categories, in the brief's decode order (decision 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Not 20 digits, not a number, or above 2^66 − 1.
    Format,
    /// Class or subclass this meter does not implement.
    Function,
    /// The CRC fails after decryption: the token is for another meter, or mistyped.
    Crc,
    /// A credit token while the meter holds a default key (KT 1, DDTK).
    Ddtk,
    /// The token's TID lies beyond the key's expiry number.
    KeyExpired,
    /// The TID is already in the memory.
    Used,
    /// The memory is full and the TID is older than every TID held.
    Old,
    /// A field value outside what the meter defines.
    Range,
    /// Accepting would overflow (or, for a debit, underflow) a credit register.
    Overflow,
    /// A key change to a key type the rules do not permit (DITK).
    KeyType,
}

impl Rejection {
    /// The result's name as the vector files write it (`VECTORS.md`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Rejection::Format => "format",
            Rejection::Function => "function",
            Rejection::Crc => "crc",
            Rejection::Ddtk => "ddtk",
            Rejection::KeyExpired => "key_expired",
            Rejection::Used => "used",
            Rejection::Old => "old",
            Rejection::Range => "range",
            Rejection::Overflow => "overflow",
            Rejection::KeyType => "key_type",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an accepted token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Credit added to a register (base units).
    Credit {
        /// The token.
        token: CreditTransfer,
        /// The register's value afterwards.
        balance: u32,
    },
    /// Currency credit (or debit) applied.
    Currency {
        /// The token.
        token: CurrencyTransfer,
        /// The currency register's value afterwards.
        balance: u32,
    },
    /// A management function applied.
    Management(ManagementFunction),
    /// Initiate a meter test or display (the firmware runs it).
    MeterTest(MeterTest),
    /// A class 1 subclass 2–15 token, passed to the firmware (only when the meter is
    /// configured to accept extensions).
    Engineering(EngineeringPayload),
    /// A key change section was stored; the set is not complete yet.
    KeyChangeSection,
    /// A key change set completed and the new key is installed.
    KeyChanged {
        /// True if the set was a rollover (TID memory emptied, base date moved on).
        rollover: bool,
    },
    /// A key change section that continues no set: ignored (brief decision 14).
    Ignored,
}

/// An event the firmware should act on, raised alongside a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterEvent {
    /// A register fell to or below its low-credit threshold (raised once per crossing).
    LowCredit {
        /// Which register.
        register: Register,
        /// Credit left, base units.
        remaining: u32,
    },
    /// A register reached zero: supply should be interrupted.
    CreditExhausted {
        /// Which register.
        register: Register,
    },
}

/// A credit register: one per class 0 subclass (brief decision 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Register {
    /// Subclasses 0–3: credit in the utility's unit (0.1 kWh, 0.1 m³, …).
    Units(Utility),
    /// Subclasses 4–7: currency credit in 0.00001 units.
    Currency(Utility),
}

impl Register {
    /// Every register, in subclass order.
    pub const ALL: [Self; 8] = [
        Self::Units(Utility::Electricity),
        Self::Units(Utility::Water),
        Self::Units(Utility::Gas),
        Self::Units(Utility::Time),
        Self::Currency(Utility::Electricity),
        Self::Currency(Utility::Water),
        Self::Currency(Utility::Gas),
        Self::Currency(Utility::Time),
    ];

    /// The class 0 subclass whose credit the register holds (0..=7), which is also the
    /// clear-credit register number.
    pub const fn index(self) -> usize {
        match self {
            Self::Units(u) => u as usize,
            Self::Currency(u) => u as usize + 4,
        }
    }
}
