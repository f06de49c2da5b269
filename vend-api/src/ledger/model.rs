//! What the ledger stores, as domain types (parsed once when read back).

use core::fmt;
use core::str::FromStr;

use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyRevision, KeyType, MeterIdentity, MeterPan,
    SupplyGroupCode, TariffIndex,
};
use serde_json::Value;

use crate::clock::UnixSeconds;

/// Who asked: the API key (its id scopes idempotency keys) and its name (the audit actor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// API key row id; 0 for the command line.
    pub api_key_id: i64,
    /// API key name, or `cli`.
    pub name: String,
}

impl Actor {
    /// The command line (`vend-api apikey create`, dev bootstrap).
    pub fn cli() -> Self {
        Self {
            api_key_id: 0,
            name: "cli".into(),
        }
    }
}

/// The key-related part of a meter: what its decoder key is derived from, plus the key's
/// algorithms and base date (which must agree with the vending key's record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeterKey {
    /// Supply group code.
    pub sgc: SupplyGroupCode,
    /// Tariff index.
    pub ti: TariffIndex,
    /// Key revision number.
    pub krn: KeyRevision,
    /// Key type.
    pub kt: KeyType,
    /// Encryption algorithm.
    pub ea: EncryptionAlgorithm,
    /// Decoder key generation algorithm.
    pub dkga: Dkga,
    /// TID base date.
    pub base_date: BaseDate,
}

/// A meter to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMeter {
    /// Meter PAN.
    pub pan: MeterPan,
    /// The customer (account) the meter serves.
    pub customer_ref: CustomerRef,
    /// Its key.
    pub key: MeterKey,
}

/// Whether a meter can still be vended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeterStatus {
    /// In service.
    Active,
    /// Replaced or removed; history kept.
    Retired,
}

impl MeterStatus {
    /// The stored and API name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }
}

/// A meter as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterRecord {
    /// Row id.
    pub id: i64,
    /// Meter PAN.
    pub pan: MeterPan,
    /// Customer reference.
    pub customer_ref: CustomerRef,
    /// Current key.
    pub key: MeterKey,
    /// Active or retired.
    pub status: MeterStatus,
    /// The meter this one replaced.
    pub replaces: Option<MeterPan>,
    /// The meter that replaced this one.
    pub replaced_by: Option<MeterPan>,
    /// When it was retired.
    pub retired_at: Option<UnixSeconds>,
    /// Why it was retired.
    pub retire_reason: Option<String>,
    /// When it was registered.
    pub created_at: UnixSeconds,
    /// When its key last changed.
    pub key_changed_at: Option<UnixSeconds>,
}

impl MeterRecord {
    /// The identity its tokens are made for.
    pub fn identity(&self) -> MeterIdentity {
        MeterIdentity::new(
            self.pan,
            self.key.sgc,
            self.key.ti,
            self.key.krn,
            self.key.kt,
        )
    }

    /// Refuses a retired meter: it gets no more tokens and cannot be replaced again.
    pub fn ensure_active(&self) -> Result<(), super::LedgerError> {
        if self.status == MeterStatus::Retired {
            return Err(super::LedgerError::MeterRetired {
                pan: self.pan,
                replaced_by: self.replaced_by,
            });
        }
        Ok(())
    }
}

/// A customer reference: 1 to 64 printable characters, no leading or trailing space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomerRef(String);

impl CustomerRef {
    /// Longest accepted reference.
    pub const MAX_LEN: usize = 64;

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a customer reference was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerRefError {
    /// Empty or longer than 64 characters.
    Length {
        /// Characters given.
        got: usize,
    },
    /// A control character, or leading/trailing whitespace.
    Character,
}

impl fmt::Display for CustomerRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { got } => write!(
                f,
                "customer reference must be 1 to 64 characters, got {got}"
            ),
            Self::Character => f.write_str(
                "customer reference must be printable, without leading or trailing spaces",
            ),
        }
    }
}

impl std::error::Error for CustomerRefError {}

impl FromStr for CustomerRef {
    type Err = CustomerRefError;
    fn from_str(s: &str) -> Result<Self, CustomerRefError> {
        let n = s.chars().count();
        if n == 0 || n > Self::MAX_LEN {
            return Err(CustomerRefError::Length { got: n });
        }
        if s.chars().any(char::is_control) || s.trim() != s {
            return Err(CustomerRefError::Character);
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for CustomerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A meter event reported by a head-end.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterEvent {
    /// The meter.
    pub meter: MeterPan,
    /// Event kind (`low_credit`).
    pub kind: &'static str,
    /// Event facts.
    pub details: Value,
    /// When the meter reported it.
    pub reported_at: UnixSeconds,
}

/// A stored meter event.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterEventRecord {
    /// Row id.
    pub id: i64,
    /// The event.
    pub event: MeterEvent,
    /// When the service received it.
    pub received_at: UnixSeconds,
}

/// An API key as stored (the secret only as its SHA-256).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Row id.
    pub id: i64,
    /// The public part of the key, used to find it.
    pub public_id: String,
    /// Unique human name (the audit actor).
    pub name: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// SHA-256 of the secret part.
    pub secret_sha256: [u8; 32],
    /// Rate limit override, requests per second.
    pub rate_per_sec: Option<f64>,
    /// When it was created.
    pub created_at: UnixSeconds,
    /// When it was revoked.
    pub revoked_at: Option<UnixSeconds>,
}

/// An API key to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewApiKey {
    /// Public id.
    pub public_id: String,
    /// Unique name.
    pub name: String,
    /// Scope names.
    pub scopes: Vec<String>,
    /// SHA-256 of the secret.
    pub secret_sha256: [u8; 32],
    /// Rate limit override.
    pub rate_per_sec: Option<f64>,
}

/// A webhook message claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Row id (also the event id receivers deduplicate on).
    pub id: i64,
    /// Event name.
    pub event: String,
    /// JSON body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Delivered,
    /// Try again at the given time.
    Retry {
        /// Next attempt.
        at: UnixSeconds,
        /// Why this attempt failed.
        error: String,
    },
    /// Attempts exhausted.
    GaveUp {
        /// Why the last attempt failed.
        error: String,
    },
}
