//! Summaries of what an issue did, stored with the issue (never digits) and returned in its
//! response, so a replay answers exactly what the first request answered.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ledger::MeterKey;

/// A meter key as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySummary {
    /// Supply group code, 6 digits.
    #[schema(example = "201457")]
    pub sgc: String,
    /// Tariff index, 2 digits.
    #[schema(example = "01")]
    pub ti: String,
    /// Key revision number, 1–9.
    pub krn: u8,
    /// Key type: 0 DITK, 1 DDTK, 2 DUTK, 3 DCTK.
    pub kt: u8,
    /// Encryption algorithm: `07` STA, `09` DEA, `11` MISTY1.
    #[schema(example = "07")]
    pub ea: String,
    /// Decoder key generation algorithm: `02` or `04`.
    #[schema(example = "04")]
    pub dkga: String,
    /// TID base date: 1993, 2014 or 2035.
    pub base_date: u16,
}

impl From<&MeterKey> for KeySummary {
    fn from(k: &MeterKey) -> Self {
        Self {
            sgc: k.sgc.to_string(),
            ti: k.ti.to_string(),
            krn: k.krn.get(),
            kt: k.kt.bits(),
            ea: format!("{:02}", k.ea.code()),
            dkga: format!("{:02}", k.dkga.code()),
            base_date: k.base_date.year(),
        }
    }
}

/// A credit as requested and as the meter will credit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreditSummary {
    /// `electricity`, `water`, `gas` or `time`.
    pub utility: String,
    /// `kWh`, `m3`, `h` or `currency`.
    pub unit: String,
    /// The amount asked for, normalised (e.g. `25.55`).
    pub requested: String,
    /// What the meter will credit, in `unit`, after rounding up (currency debits: the
    /// magnitude rounded down). Hours are exact to 3 places when a whole number of 0.1 min
    /// units allows it, else truncated to 6 places (`credited_exact` false).
    pub credited: String,
    /// True if `credited` is exact.
    pub credited_exact: bool,
    /// What the meter will credit, in base units (decimal integer text).
    pub credited_units: String,
    /// The base unit: `0.1 kWh`, `0.1 m3`, `0.1 min` or `0.00001 currency`.
    pub base_unit: String,
    /// The token's class 0 subclass (0–3 units, 4–7 currency).
    pub subclass: u8,
}

/// A management function and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ManagementSummary {
    /// `clear_credit`, `clear_tamper`, `max_power_limit`, `phase_unbalance_limit`,
    /// `tariff_rate` or `water_meter_factor`.
    pub function: String,
    /// The 16-bit value field carried.
    pub value: u16,
    /// For clear credit: the register named (`all`, `electricity`…).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub register: Option<String>,
    /// For power limits: watts asked for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub requested_watts: Option<u32>,
    /// For power limits: watts the meter will apply (rounded up to an encodable value).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub effective_watts: Option<u32>,
}

/// An engineering (class 1) token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EngineeringSummary {
    /// `meter_test`.
    pub function: String,
    /// The test/display control bits.
    pub control: u64,
    /// The manufacturer code as given (2 or 4 digits).
    pub manufacturer_code: String,
}

/// A key change set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyChangeSummary {
    /// The meter's key before.
    pub from: KeySummary,
    /// The meter's key after.
    pub to: KeySummary,
    /// True if the set moves the meter to the next base date (RO = 1; its TID memory is
    /// cleared and TIDs restart from the new base date).
    pub rollover: bool,
    /// Number of key change tokens (2, 3 or 4), entered before any credit token.
    pub key_change_tokens: u8,
}

/// What an issue did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct IssueSummary {
    /// Credit (alone, or with a key change under the new key).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub credit: Option<CreditSummary>,
    /// Management token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub management: Option<ManagementSummary>,
    /// Engineering token.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub engineering: Option<EngineeringSummary>,
    /// Key change set.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key_change: Option<KeyChangeSummary>,
}
