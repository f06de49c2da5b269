//! Published keys and tokens, and the meters they belong to.
//!
//! Sources (each also in `keys-sample/vectors/`): the NectarAPI/tokens-service STS 531-1-0
//! compliance tests (`STSComplianceTests_STS_531_1_0_02_CTSA01/04/05/25`, DKGA02 + STA, and
//! `..._04_*`, DKGA04 + MISTY1) for meter P1 (PAN 600727000000000009) under the public test
//! vending key; SPEC-crypto §5.4 (DKGA02) and §5.7 (DKGA04) for the decoder keys.

use token_codec::{
    BaseDate, CodecError, DecoderKey, DecoderKey64, EncryptionAlgorithm, KeyExpiryNumber,
    KeyRevision, KeyType, Meter, MeterConfig, TariffIndex, meter::DEFAULT_TID_CAPACITY,
};

/// TID memory size of the demo meters (the codec's default).
pub const TIDS: usize = DEFAULT_TID_CAPACITY;

/// The meter type the firmware runs.
pub type DemoMeter = Meter<TIDS>;

/// DK(P1), DKGA02, TI 01, KRN 1, KT 2 (`dkga02_sta.jsonl`).
pub const P1_KEY: [u8; 8] = [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F];
/// P1's key after the CTSA05 key change (TI 01 → 02).
pub const P1_TI02_KEY: [u8; 8] = [0x06, 0x0B, 0x86, 0x43, 0xC5, 0x9A, 0x27, 0xF1];
/// DK(P1, base date 1993), DKGA04, for MISTY1 (`misty1.jsonl` dk04-misty1-p1-bd93).
pub const MISTY1_P1_KEY: [u8; 16] = [
    0xF9, 0x4B, 0x6E, 0xD3, 0x53, 0xC3, 0xBF, 0xDB, 0x11, 0x3E, 0x2D, 0x3A, 0x7E, 0xA3, 0xC4, 0x1D,
];

/// CTSA01 step 1: 0.1 kWh of electricity (`ctsa01-1`).
pub const CTSA01_1: &str = "23716100501183194197";
/// CTSA01 step 3: 0.1 m³ of water (`ctsa01-3`).
pub const CTSA01_3: &str = "42502136492215507402";
/// CTSA04 step 1: clear credit, all registers (`ctsa04-1`).
pub const CTSA04_1: &str = "29511990995826640868";
/// CTSA05: the two-token key change set, TI 01 → 02 (`ctsa05-1`, `ctsa05-2`).
pub const CTSA05: [&str; 2] = ["51638423060042734509", "15361891762113502242"];
/// CTSA25 (DKGA04 key): another meter's token, fails the CRC on P1 (`ctsa25-bd93-1`).
pub const OTHER_METER: &str = "15697331168573253829";
/// CTSA01 step 1 with its last digit dropped: 19 digits.
pub const NINETEEN_DIGITS: &str = "2371610050118319419";
/// DKGA04 + MISTY1 CTSA01 step 1: 0.1 kWh (`m-p1-bd93-1`).
pub const MISTY1_CTSA01_1: &str = "59386323472137426967";

/// The DES step of P1's DKGA02 derivation: key, plaintext, ciphertext (`des-dkga02-p1`).
/// No EA09 token is published (SPEC-crypto §7.4), so DEA is checked on this block.
pub const DEA_KAT: (u64, u64, u64) = (
    0xABAB_ABAB_ABAB_ABAB,
    0x2151_3560_11FF_FFFF,
    0x6CA9_AAD4_270F_A73B,
);

/// Meter P1 as commissioned: EA07 (STA), DK(P1), KT 2 (DUTK), KRN 1, TI 01, KEN 255, base
/// date 1993.
pub fn p1_config() -> Result<MeterConfig, CodecError> {
    config(
        EncryptionAlgorithm::Sta,
        DecoderKey::Bits64(DecoderKey64::from_bytes(P1_KEY)),
    )
}

/// Meter P1 with a MISTY1 (EA11) decoder key, otherwise as [`p1_config`].
#[cfg(feature = "all")]
pub fn misty1_p1_config() -> Result<MeterConfig, CodecError> {
    config(
        EncryptionAlgorithm::Misty1,
        DecoderKey::Bits128(token_codec::DecoderKey128::from_bytes(MISTY1_P1_KEY)),
    )
}

fn config(ea: EncryptionAlgorithm, key: DecoderKey) -> Result<MeterConfig, CodecError> {
    Ok(MeterConfig {
        ea,
        key,
        kt: KeyType::Dutk,
        krn: KeyRevision::new(1)?,
        ti: TariffIndex::new(1)?,
        ken: KeyExpiryNumber::NEVER,
        base_date: BaseDate::Y1993,
        sgc: None,
        tid_capacity: TIDS,
        accept_extensions: false,
    })
}
