//! EA11: MISTY1 (RFC 2994), 64-bit block, 128-bit key, 8 rounds (SPEC-crypto §4, §4.1).
//!
//! Plain MISTY1 with no STS-specific tweak: the 64-bit token data block is serialised
//! big-endian and encrypted as one block with the 16-byte decoder key in natural byte order.
//! Written from SPEC-crypto §4.1 (RFC 2994's structure with 0-based indices; brief decision 10).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::cipher::TokenCipher;
use crate::consts::{MISTY1_S7, MISTY1_S9};
use crate::ident::EncryptionAlgorithm;
use crate::key::DecoderKey128;

/// S7 lookup of the low 7 bits of `x`.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // index masked to 0..=127, S7 has 128 entries
fn s7(x: u16) -> u16 {
    u16::from(MISTY1_S7[usize::from(x & 0x7F)])
}

/// S9 lookup of the low 9 bits of `x`.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // index masked to 0..=511, S9 has 512 entries
fn s9(x: u16) -> u16 {
    MISTY1_S9[usize::from(x & 0x1FF)]
}

/// FI (SPEC-crypto §4.1; RFC 2994 §2.2.3).
fn fi(x: u16, k: u16) -> u16 {
    let mut d9 = x >> 7;
    let mut d7 = x & 0x7F;
    d9 = s9(d9) ^ d7;
    d7 = s7(d7) ^ (d9 & 0x7F);
    d7 ^= k >> 9;
    d9 ^= k & 0x1FF;
    d9 = s9(d9) ^ d7;
    (d7 << 9) | d9
}

/// The two 16-bit halves of a 32-bit word, high first.
#[inline(always)]
fn halves(x: u32) -> (u16, u16) {
    let [a, b, c, d] = x.to_be_bytes();
    (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
}

/// `high ‖ low`.
#[inline(always)]
fn join(high: u16, low: u16) -> u32 {
    (u32::from(high) << 16) | u32::from(low)
}

/// MISTY1 keyed with one 128-bit decoder key.
///
/// Holds the expanded key (K and K', 2 x 8 16-bit words), zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Misty1 {
    /// `K[0..8]`: the key's eight 16-bit words, big-endian.
    k: [u16; 8],
    /// `K'[i] = FI(K[i], K[(i+1) mod 8])`.
    k_prime: [u16; 8],
}

impl Misty1 {
    /// Expands a 128-bit decoder key (SPEC-crypto §4.1 key schedule; RFC 2994 §2.4).
    pub fn new(key: &DecoderKey128) -> Self {
        // Built in place: no intermediate copy of the key words that would need wiping.
        let mut m = Self {
            k: [0; 8],
            k_prime: [0; 8],
        };
        for (word, pair) in m.k.iter_mut().zip(key.expose_bytes().chunks_exact(2)) {
            if let [a, b] = *pair {
                *word = u16::from_be_bytes([a, b]);
            }
        }
        for (i, kp) in m.k_prime.iter_mut().enumerate() {
            *kp = fi(Self::word(&m.k, i), Self::word(&m.k, i + 1));
        }
        m
    }

    /// `words[i mod 8]`.
    #[inline(always)]
    #[allow(clippy::indexing_slicing)] // index masked to 0..=7, the array has 8 entries
    fn word(words: &[u16; 8], i: usize) -> u16 {
        words[i & 7]
    }

    /// `K[i mod 8]`.
    #[inline(always)]
    fn key(&self, i: usize) -> u16 {
        Self::word(&self.k, i)
    }

    /// `K'[i mod 8]`.
    #[inline(always)]
    fn key_prime(&self, i: usize) -> u16 {
        Self::word(&self.k_prime, i)
    }

    /// FO(x, i), i = 0..=7 (SPEC-crypto §4.1; RFC 2994 §2.2.2).
    fn fo(&self, x: u32, i: usize) -> u32 {
        let (mut l, mut r) = halves(x);
        l = fi(l ^ self.key(i), self.key_prime(i + 5)) ^ r;
        r = fi(r ^ self.key(i + 2), self.key_prime(i + 1)) ^ l;
        l = fi(l ^ self.key(i + 7), self.key_prime(i + 3)) ^ r;
        r ^= self.key(i + 4);
        join(r, l)
    }

    /// The FL/FL⁻¹ subkeys (a, b) for i = 0..=9 (SPEC-crypto §4.1).
    fn fl_keys(&self, i: usize) -> (u16, u16) {
        let h = i / 2;
        if i % 2 == 0 {
            (self.key(h), self.key_prime(h + 6))
        } else {
            (self.key_prime(h + 2), self.key(h + 4))
        }
    }

    /// FL(x, i) (SPEC-crypto §4.1; RFC 2994 §2.2.4).
    fn fl(&self, x: u32, i: usize) -> u32 {
        let (a, b) = self.fl_keys(i);
        let (mut l, mut r) = halves(x);
        r ^= l & a;
        l ^= r | b;
        join(l, r)
    }

    /// FL⁻¹(x, i): FL's two steps undone in reverse order (RFC 2994 §2.3).
    fn fl_inv(&self, x: u32, i: usize) -> u32 {
        let (a, b) = self.fl_keys(i);
        let (mut l, mut r) = halves(x);
        l ^= r | b;
        r ^= l & a;
        join(l, r)
    }
}

/// The two 32-bit halves of a block, high first.
#[inline(always)]
fn split_block(block: u64) -> (u32, u32) {
    let [a, b, c, d, e, f, g, h] = block.to_be_bytes();
    (
        u32::from_be_bytes([a, b, c, d]),
        u32::from_be_bytes([e, f, g, h]),
    )
}

/// `high ‖ low`.
#[inline(always)]
fn join_block(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

impl TokenCipher for Misty1 {
    fn algorithm(&self) -> EncryptionAlgorithm {
        EncryptionAlgorithm::Misty1
    }

    /// SPEC-crypto §4.1 "Encrypt" (RFC 2994 §2.1).
    fn encrypt(&self, block: u64) -> u64 {
        let (mut d0, mut d1) = split_block(block);
        for i in [0, 2, 4, 6] {
            d0 = self.fl(d0, i);
            d1 = self.fl(d1, i + 1);
            d1 ^= self.fo(d0, i);
            d0 ^= self.fo(d1, i + 1);
        }
        d0 = self.fl(d0, 8);
        d1 = self.fl(d1, 9);
        join_block(d1, d0)
    }

    /// Encryption run backwards (RFC 2994 §2.3).
    fn decrypt(&self, block: u64) -> u64 {
        let (mut d1, mut d0) = split_block(block);
        d0 = self.fl_inv(d0, 8);
        d1 = self.fl_inv(d1, 9);
        for i in [6, 4, 2, 0] {
            d0 ^= self.fo(d1, i + 1);
            d1 ^= self.fo(d0, i);
            d1 = self.fl_inv(d1, i + 1);
            d0 = self.fl_inv(d0, i);
        }
        join_block(d0, d1)
    }
}

impl fmt::Debug for Misty1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Misty1(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn misty1(key: u128) -> Misty1 {
        Misty1::new(&DecoderKey128::from_bytes(key.to_be_bytes()))
    }

    /// RFC 2994 §4 (test data), the key 00112233445566778899aabbccddeeff.
    #[test]
    fn known_answers_rfc2994() {
        let c = misty1(0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF);
        let cases = [
            (0x0123_4567_89AB_CDEF, 0x8B1D_A5F5_6AB3_D07C),
            (0xFEDC_BA98_7654_3210, 0x04B6_8240_B13B_E95D),
        ];
        for (plain, cipher) in cases {
            assert_eq!(c.encrypt(plain), cipher, "encrypt {plain:016X}");
            assert_eq!(c.decrypt(cipher), plain, "decrypt {cipher:016X}");
        }
    }

    #[test]
    fn fl_inv_inverts_fl() {
        let c = misty1(0x0011_2233_4455_6677_8899_AABB_CCDD_EEFF);
        for i in 0..10 {
            for x in [0, 1, 0xDEAD_BEEF, u32::MAX, 0x8000_0001] {
                assert_eq!(c.fl_inv(c.fl(x, i), i), x);
            }
        }
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(format!("{:?}", misty1(1)), "Misty1(<redacted>)");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn decrypt_inverts_encrypt(key in any::<u128>(), block in any::<u64>()) {
            let c = misty1(key);
            prop_assert_eq!(c.decrypt(c.encrypt(block)), block);
            prop_assert_eq!(c.encrypt(c.decrypt(block)), block);
        }
    }
}
