//! EA09: the Data Encryption Algorithm, single DES (SPEC-crypto §3).
//!
//! **Legacy only.** The 2018 edition of IEC 62055-41 withdrew DES for EA09 (it must not be used
//! in new products); it is kept here for meters already in the field (brief decision 7).
//!
//! The decoder key is the 8-byte DES key as it stands (DES ignores the parity bits, so no parity
//! adjustment could change a result); the 64-bit data block is serialised big-endian and
//! encrypted as exactly one block: ECB on one block, no IV, no padding, and no pre- or
//! post-processing (SPEC-crypto §3; no public EA09 token vector exists, SPEC-crypto §7.4).
//! The cipher itself is RustCrypto `des` 0.8.

use core::fmt;

use des::Des;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};

use crate::cipher::TokenCipher;
use crate::ident::EncryptionAlgorithm;
use crate::key::DecoderKey64;

/// EA09 keyed with one decoder key.
///
/// Key material: the DES key schedule inside [`des::Des`], which wipes it on drop (the
/// workspace enables `des`'s `zeroize` feature for exactly this).
#[derive(Clone)]
pub struct Dea(Des);

impl Dea {
    /// Keys DES with a 64-bit decoder key, used directly as the DES key (SPEC-crypto §3).
    pub fn new(key: &DecoderKey64) -> Self {
        Self(Des::new(key.expose_bytes().into()))
    }
}

impl TokenCipher for Dea {
    fn algorithm(&self) -> EncryptionAlgorithm {
        EncryptionAlgorithm::Dea
    }

    fn encrypt(&self, block: u64) -> u64 {
        let mut b = block.to_be_bytes().into();
        self.0.encrypt_block(&mut b);
        u64::from_be_bytes(b.into())
    }

    fn decrypt(&self, block: u64) -> u64 {
        let mut b = block.to_be_bytes().into();
        self.0.decrypt_block(&mut b);
        u64::from_be_bytes(b.into())
    }
}

impl zeroize::ZeroizeOnDrop for Dea {}

impl fmt::Debug for Dea {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dea(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dea(key: u64) -> Dea {
        Dea::new(&DecoderKey64::from_bytes(key.to_be_bytes()))
    }

    /// The DES step of the DKGA02 derivation for meter P1 under vending key ABAB..AB
    /// (NectarAPI CTSA vectors; SPEC-crypto §5.4, `vectors/primitives.jsonl` des-dkga02-p1).
    #[test]
    fn known_answer_dkga02_step() {
        let c = dea(0xABAB_ABAB_ABAB_ABAB);
        assert_eq!(c.encrypt(0x2151_3560_11FF_FFFF), 0x6CA9_AAD4_270F_A73B);
        assert_eq!(c.decrypt(0x6CA9_AAD4_270F_A73B), 0x2151_3560_11FF_FFFF);
    }

    /// FIPS 81 (DES modes of operation), Appendix B, ECB example: key 0123456789ABCDEF,
    /// first plaintext block "Now is t" = 4E6F772069732074 → 3FA40E8A984D4815.
    #[test]
    fn known_answer_fips81_ecb() {
        let c = dea(0x0123_4567_89AB_CDEF);
        assert_eq!(c.encrypt(0x4E6F_7720_6973_2074), 0x3FA4_0E8A_984D_4815);
        assert_eq!(c.decrypt(0x3FA4_0E8A_984D_4815), 0x4E6F_7720_6973_2074);
    }

    /// NBS SP 500-20 (Validating the Correctness of Hardware Implementations of the NBS DES),
    /// variable-plaintext known-answer test, first entry: key 0101010101010101, plaintext
    /// 8000000000000000 → 95F8A5E5DD31D900.
    #[test]
    fn known_answer_sp500_20_variable_plaintext() {
        let c = dea(0x0101_0101_0101_0101);
        assert_eq!(c.encrypt(0x8000_0000_0000_0000), 0x95F8_A5E5_DD31_D900);
        assert_eq!(c.decrypt(0x95F8_A5E5_DD31_D900), 0x8000_0000_0000_0000);
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", dea(0xABAB_ABAB_ABAB_ABAB)),
            "Dea(<redacted>)"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decrypt_inverts_encrypt(key in any::<u64>(), block in any::<u64>()) {
            let c = dea(key);
            prop_assert_eq!(c.decrypt(c.encrypt(block)), block);
            prop_assert_eq!(c.encrypt(c.decrypt(block)), block);
        }
    }
}
