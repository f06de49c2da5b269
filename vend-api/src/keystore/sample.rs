//! PUBLIC TEST KEYS — NEVER PRODUCTION.
//!
//! The vending keys of the published STS test vectors (NectarAPI CTSA suites and the
//! STS 531-1-07 list in STSCompliancePOS; see `shared/sts/vectors/`). Anyone can derive every
//! decoder key from them. They exist so tests and the development loop can vend tokens that
//! reproduce published digits; the config refuses them unless the service listens on
//! loopback.
//!
//! | SGC    | KRN | KT | DKGA | EA | base | credit window         | vectors            |
//! |--------|-----|----|------|----|------|-----------------------|--------------------|
//! | 123456 | 1   | 2  | 02   | 07 | 1993 | until 2024-11-24 20:16 | CTSA01–11 (DKGA02) |
//! | 123457 | 1   | 2  | 04   | 07 | 1993 | until 2024-11-24 20:16 | CTSA24, CTSA25     |
//! | 123457 | 4   | 2  | 04   | 07 | 2014 | open                  | CTSA25, CTSA26     |
//! | 123457 | 5   | 2  | 04   | 07 | 2035 | open                  | CTSA25, CTSA26     |
//! | 201457 | 1   | 2  | 04   | 07 | 2014 | open                  | STS 531-1-07 (POS) |
//!
//! The 1993 keys close for credit when their TIDs run out (2^24 − 1 minutes after
//! 1993-01-01, SPEC-codec §5.1) but stay open for key changes: the 2024 rollover.

use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, HsmError, KeyExpiryNumber, KeyRevision, KeyStore, KeyType,
    MemoryStore, SupplyGroupCode, VendingKey, VendingKeyId, VendingKeyRecord, Window,
};
use token_codec::UtcMinute;

/// The public DKGA02 test vending key.
pub const DKGA02_KEY: &str = "ABABABABABABABAB";
/// The public DKGA04 test vending key.
pub const DKGA04_KEY: &str = "ABABABABABABABAB949494949494949401234567";

/// The meter PAN of the published vectors.
pub const SAMPLE_PAN: &str = "600727000000000009";

/// The sample keys: (sgc, krn, dkga, base date, closes for credit at the 1993 TID limit).
const KEYS: [(u32, u8, Dkga, BaseDate, bool); 5] = [
    (123_456, 1, Dkga::Dkga02, BaseDate::Y1993, true),
    (123_457, 1, Dkga::Dkga04, BaseDate::Y1993, true),
    (123_457, 4, Dkga::Dkga04, BaseDate::Y2014, false),
    (123_457, 5, Dkga::Dkga04, BaseDate::Y2035, false),
    (201_457, 1, Dkga::Dkga04, BaseDate::Y2014, false),
];

/// A record for a sample key.
pub fn record(
    sgc: u32,
    krn: u8,
    dkga: Dkga,
    ea: EncryptionAlgorithm,
    base: BaseDate,
    closes_1993: bool,
) -> Result<VendingKeyRecord, HsmError> {
    let until = if closes_1993 {
        Some(UtcMinute::from_civil(2024, 11, 24, 20, 16)?)
    } else {
        None
    };
    Ok(VendingKeyRecord {
        id: VendingKeyId {
            sgc: SupplyGroupCode::new(sgc)?,
            krn: KeyRevision::new(krn)?,
            kt: KeyType::Dutk,
        },
        dkga,
        ea,
        base_date: base,
        ken: KeyExpiryNumber::NEVER,
        credit_window: Window { from: None, until },
        key_change_window: Window::ALWAYS,
    })
}

/// The vending key bytes of a DKGA.
pub fn key(dkga: Dkga) -> Result<VendingKey, HsmError> {
    VendingKey::from_hex(
        dkga,
        if dkga == Dkga::Dkga02 {
            DKGA02_KEY
        } else {
            DKGA04_KEY
        },
    )
}

/// A memory store holding every sample key (EA07, STA).
pub fn store() -> Result<MemoryStore, HsmError> {
    let s = MemoryStore::new();
    for (sgc, krn, dkga, base, closes) in KEYS {
        s.import(
            &record(sgc, krn, dkga, EncryptionAlgorithm::Sta, base, closes)?,
            key(dkga)?,
        )?;
    }
    Ok(s)
}
