//! Benchmark inputs, all from the public vectors in `keys-sample/vectors/`.
//!
//! Sources: `dkga02_sta.jsonl` (`dk02-p1`, `ctsa01-1`: NectarAPI STS 531-1-0-02 CTSA01),
//! `dkga04.jsonl` and `misty1.jsonl` (`dk04-misty1-p1-bd93`; SPEC-crypto §5.7, §7.3).

use hsm_core::{
    HsmError, KeyRevision, KeyType, MeterIdentity, MeterPan, VendingKey64, VendingKey160,
};
use token_codec::token::{CreditTransfer, Utility};
use token_codec::{
    AnyCipher, BaseDate, CodecError, DecoderKey, DecoderKey64, DecoderKey128, EncryptionAlgorithm,
    KeyWidth, Rnd, Tid, Token, TransferAmount,
};

/// The STA and DEA decoder key: DK(P1) from DKGA02, `E653341F9D5BF36F` (`dk02-p1`).
pub const KEY_64: [u8; 8] = [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F];

/// The MISTY1 decoder key: DK(P1, BD 1993) from DKGA04, `F94B6ED353C3BFDB113E2D3A7EA3C41D`
/// (`dk04-misty1-p1-bd93`).
pub const KEY_128: [u8; 16] = [
    0xF9, 0x4B, 0x6E, 0xD3, 0x53, 0xC3, 0xBF, 0xDB, 0x11, 0x3E, 0x2D, 0x3A, 0x7E, 0xA3, 0xC4, 0x1D,
];

/// The DKGA02 vending key, `ABABABABABABABAB` (`dk02-p1`).
pub const VENDING_KEY_64: [u8; 8] = [0xAB; 8];

/// The DKGA04 vending key, `ABABABABABABABAB949494949494949401234567` (`dk04-misty1-p1-bd93`).
pub const VENDING_KEY_160: [u8; 20] = [
    0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94,
    0x01, 0x23, 0x45, 0x67,
];

/// Meter P1's PAN.
pub const PAN: &str = "600727000000000009";

/// The DKGA04 base date of `dk04-misty1-p1-bd93`.
pub const BASE_DATE: BaseDate = BaseDate::Y1993;

/// CTSA01 step 1's plain data block (class 0/0, RND 5, TID 5871715, amount field 1, CRC 19E6).
pub const CTSA01_BLOCK: u64 = 0x0559_9863_0001_19E6;

/// CTSA01 step 1's block encrypted with STA under [`KEY_64`].
pub const CTSA01_STA_BLOCK: u64 = 0x4920_83C0_AE7C_E455;

/// CTSA01 step 1's token as a customer might type it, with separators.
pub const CTSA01_TYPED: &str = "2371-6100-5011-8319-4197";

/// The encryption algorithms in spec order, each with the decoder key the benchmarks use.
pub const ALGORITHMS: [EncryptionAlgorithm; 3] = [
    EncryptionAlgorithm::Sta,
    EncryptionAlgorithm::Dea,
    EncryptionAlgorithm::Misty1,
];

/// The 64-bit decoder key [`KEY_64`].
pub const fn key_64() -> DecoderKey64 {
    DecoderKey64::from_bytes(KEY_64)
}

/// The 128-bit decoder key [`KEY_128`].
pub const fn key_128() -> DecoderKey128 {
    DecoderKey128::from_bytes(KEY_128)
}

/// The decoder key the benchmarks use for `ea`: [`KEY_64`] for STA and DEA, [`KEY_128`] for
/// MISTY1. There is no public EA09 vector, so DEA borrows the STA key.
pub fn decoder_key(ea: EncryptionAlgorithm) -> DecoderKey {
    match ea.key_width() {
        KeyWidth::Bits64 => key_64().into(),
        KeyWidth::Bits128 => key_128().into(),
    }
}

/// `ea` keyed with [`decoder_key`].
pub fn cipher(ea: EncryptionAlgorithm) -> Result<AnyCipher, CodecError> {
    AnyCipher::new(ea, &decoder_key(ea))
}

/// The CTSA01 step 1 token: class 0 electricity credit, RND 5, TID 5871715, amount field 1.
pub fn ctsa01_token() -> Result<Token, CodecError> {
    Ok(Token::TransferCredit(CreditTransfer {
        utility: Utility::Electricity,
        rnd: Rnd::new(5)?,
        tid: Tid::new(5_871_715)?,
        amount: TransferAmount::from_field(1),
    }))
}

/// The DKGA02 vending key [`VENDING_KEY_64`].
pub const fn vending_key_64() -> VendingKey64 {
    VendingKey64::from_bytes(VENDING_KEY_64)
}

/// The DKGA04 vending key [`VENDING_KEY_160`].
pub const fn vending_key_160() -> VendingKey160 {
    VendingKey160::from_bytes(VENDING_KEY_160)
}

/// Meter P1 (TI 01, KRN 1, KT 2 = DUTK) in supply group `sgc`: 123456 for the DKGA02 vector,
/// 123457 for the DKGA04 ones.
pub fn meter_p1(sgc: &str) -> Result<MeterIdentity, HsmError> {
    Ok(MeterIdentity::new(
        PAN.parse::<MeterPan>()?,
        sgc.parse()?,
        "01".parse()?,
        KeyRevision::new(1)?,
        KeyType::Dutk,
    ))
}

#[cfg(test)]
mod tests {
    use hsm_core::{dkga02, dkga04};
    use token_codec::sta::Sta;
    use token_codec::{TokenCipher, TokenDigits, decode, encode};

    use super::*;

    #[test]
    fn derivation_inputs_give_the_published_keys() {
        let dk = dkga02(&vending_key_64(), &meter_p1("123456").unwrap());
        assert_eq!(dk.expose_bytes(), &KEY_64, "dk02-p1");
        let id = meter_p1("123457").unwrap();
        let vk = vending_key_160();
        let dk = dkga04(&vk, &id, BASE_DATE, EncryptionAlgorithm::Sta).unwrap();
        assert_eq!(
            dk.expose_bytes(),
            &[0xAA, 0x4B, 0xAA, 0x87, 0x49, 0xC1, 0x0D, 0x27],
            "dkga04 P1 BD 1993 64-bit"
        );
        let dk = dkga04(&vk, &id, BASE_DATE, EncryptionAlgorithm::Misty1).unwrap();
        assert_eq!(dk.expose_bytes(), &KEY_128, "dk04-misty1-p1-bd93");
    }

    #[test]
    fn ctsa01_reproduces() {
        let token = ctsa01_token().unwrap();
        assert_eq!(token.to_block(), CTSA01_BLOCK);
        assert_eq!(Sta::new(&key_64()).encrypt(CTSA01_BLOCK), CTSA01_STA_BLOCK);
        let digits = TokenDigits::parse(CTSA01_TYPED).unwrap();
        let sta = cipher(EncryptionAlgorithm::Sta).unwrap();
        assert_eq!(encode(&token, &sta), digits, "ctsa01-1");
    }

    #[test]
    fn every_algorithm_round_trips() {
        let token = ctsa01_token().unwrap();
        for ea in ALGORITHMS {
            let c = cipher(ea).unwrap();
            assert_eq!(decode(&encode(&token, &c), &c).unwrap(), token, "{ea}");
        }
    }
}
