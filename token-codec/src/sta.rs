//! EA07: the Standard Transfer Algorithm (SPEC-crypto §2).
//!
//! A 64-bit block cipher with a 64-bit key: the key is complemented and rotated right by 12,
//! then 16 rounds each substitute every nibble (S1 or S2, chosen by bit 4i+3 of the round key),
//! permute the 64 bits and rotate the round key left by 1 (SPEC-crypto §2.1). Decryption is the
//! exact inverse (SPEC-crypto §2.2). Tables: the production set of SPEC-crypto §2.3(a) only
//! (brief decision 1; see `consts.rs` for their provenance and licensing note).
//!
//! # Implementation
//!
//! Encryption: a round's substitution is nibble-local, so substitution and permutation fold
//! into one lookup per nibble: `SP[i][s << 4 | v] = P(S_s[v] << 4i)`, and a round is the OR of
//! 16 such words (16 positions x 32 entries x 8 bytes = 4 KiB, built by `const fn`).
//!
//! Decryption comes in two forms. Without the `sta-fast-decrypt` feature (meter firmware) it
//! is built for flash: per round, the inverse permutation by nibble (`P⁻¹[i][v] =
//! P⁻¹(v << 4i)`, 2 KiB) then the inverse substitution from a 32-byte table. Meters decrypt
//! one token per keypad entry, so the ~2x slower round costs nothing there, and the STA + DEA
//! decoder fits its 16 KiB flash budget (a folded 4 KiB decrypt table did not: measured with
//! the QEMU firmware, `benches/README.md`). With the feature (the vending side: verify and
//! support-desk decoding) the rounds fold like encryption's: one P⁻¹ first, then 15 lookups
//! of `P⁻¹(S⁻¹_sel[v] << 4i)` (round r's inverse substitution with round r−1's inverse
//! permutation), then a final S⁻¹, 4 KiB more, and STA decryption stays faster than DES.
//!
//! Measured (rough throwaway timings, x86-64 release, ns per block): bit-by-bit loop ~785;
//! nibble substitution + nibble permutation tables ~225; folded form ~135; RustCrypto `des`
//! 0.8 ~270. Both forms stay faster than DES, the project's target.
//!
//! Not constant time: table indexes depend on data and key bits, as in table-driven DES. A
//! meter's keypad offers no cache-timing channel; on a shared vending host, this (like
//! `des`) is a consideration for where tokens are generated.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::cipher::TokenCipher;
use crate::consts::{STA_P, STA_P_INV, STA_S1, STA_S1_INV, STA_S2, STA_S2_INV};
use crate::ident::EncryptionAlgorithm;
use crate::key::DecoderKey64;

/// Number of rounds (SPEC-crypto §2.1).
const ROUNDS: usize = 16;

/// Round lookup table: `[nibble position i][sel << 4 | nibble value]` → 64-bit output word.
type SpTable = [[u64; 32]; 16];

/// Encryption: `P(S_sel[v] << 4i)`, `S_0` = S1, `S_1` = S2 (SPEC-crypto §2.1).
static ENC_SP: SpTable = sp_table(&STA_S1, &STA_S2, &STA_P);

/// Permutation lookup by nibble: `[nibble position i][value v]` → `P⁻¹(v << 4i)`.
type PTable = [[u64; 16]; 16];

/// Decryption's inverse permutation, one lookup per nibble (SPEC-crypto §2.2).
static P_INV_BY_NIBBLE: PTable = p_table(&STA_P_INV);

/// inv(S1) then inv(S2) in one table, indexed `sel << 4 | v`.
static S_INV: [u8; 32] = concat_nibble_tables(&STA_S1_INV, &STA_S2_INV);

/// Folded decryption round: `P⁻¹(S⁻¹_sel[v] << 4i)`, `S⁻¹_0` = inv(S1), `S⁻¹_1` = inv(S2).
#[cfg(feature = "sta-fast-decrypt")]
static DEC_SP: SpTable = sp_table(&STA_S1_INV, &STA_S2_INV, &STA_P_INV);

/// Moves input bit `i` to output bit `p[i]` (bit 0 = LSB, SPEC-crypto §0). Compile time only.
// Runs only in static initialisers, so a bad index would fail the build, never panic at run
// time; every loop bound equals the length of the arrays it indexes.
#[allow(clippy::indexing_slicing)]
const fn permute(x: u64, p: &[u8; 64]) -> u64 {
    let mut out = 0;
    let mut i = 0;
    while i < 64 {
        out |= ((x >> i) & 1) << p[i];
        i += 1;
    }
    out
}

/// Builds a folded substitution + permutation table. Compile time only.
// Runs only in static initialisers, so a bad index would fail the build, never panic at run
// time; every loop bound equals the length of the arrays it indexes.
#[allow(clippy::indexing_slicing)]
const fn sp_table(s0: &[u8; 16], s1: &[u8; 16], p: &[u8; 64]) -> SpTable {
    let mut table = [[0u64; 32]; 16];
    let mut i = 0;
    while i < 16 {
        let mut v = 0;
        while v < 16 {
            table[i][v] = permute((s0[v] as u64) << (4 * i), p);
            table[i][16 + v] = permute((s1[v] as u64) << (4 * i), p);
            v += 1;
        }
        i += 1;
    }
    table
}

/// Builds a permutation table by nibble. Compile time only.
// Runs only in static initialisers, so a bad index would fail the build, never panic at run
// time; every loop bound equals the length of the arrays it indexes.
#[allow(clippy::indexing_slicing)]
const fn p_table(p: &[u8; 64]) -> PTable {
    let mut table = [[0u64; 16]; 16];
    let mut i = 0;
    while i < 16 {
        let mut v = 0;
        while v < 16 {
            table[i][v] = permute((v as u64) << (4 * i), p);
            v += 1;
        }
        i += 1;
    }
    table
}

/// `a` followed by `b`. Compile time only.
// Runs only in static initialisers, so a bad index would fail the build, never panic at run
// time; every loop bound equals the length of the arrays it indexes.
#[allow(clippy::indexing_slicing)]
const fn concat_nibble_tables(a: &[u8; 16], b: &[u8; 16]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut v = 0;
    while v < 16 {
        out[v] = a[v];
        out[16 + v] = b[v];
        v += 1;
    }
    out
}

/// Table index for nibble `i` of `d`: selector bit `i` of `sel` above the nibble's 4 bits.
#[inline(always)]
fn index(d: u64, sel: u16, i: usize) -> usize {
    // Invariant: the result is below 32 (one selector bit above a 4-bit nibble).
    let nibble = ((d >> (4 * i)) & 0xF) as usize;
    (usize::from((sel >> i) & 1) << 4) | nibble
}

/// One folded round: every nibble substituted (by the table half its selector bit picks) and
/// the result permuted, as the OR of 16 table words.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // `index` is below 32, each row has 32 entries
fn sp_round(table: &SpTable, d: u64, sel: u16) -> u64 {
    let mut out = 0;
    for (i, row) in table.iter().enumerate() {
        out |= row[index(d, sel, i)];
    }
    out
}

/// The permutation of `d` as the OR of one table word per nibble.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // the nibble is masked to 0..=15, each row has 16 entries
fn permute_by_nibbles(table: &PTable, d: u64) -> u64 {
    let mut out = 0;
    for (i, row) in table.iter().enumerate() {
        out |= row[((d >> (4 * i)) & 0xF) as usize];
    }
    out
}

/// Nibble substitution alone (no permutation), from a 32-entry `sel << 4 | v` table.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // `index` is below 32, the table has 32 entries
fn substitute(d: u64, sel: u16, table: &[u8; 32]) -> u64 {
    let mut out = 0;
    for i in 0..16 {
        out |= u64::from(table[index(d, sel, i)]) << (4 * i);
    }
    out
}

/// Bit `i` of the result = bit `4i+3` of `k` (the top bit of nibble `i`), i = 0..16.
#[inline]
fn nibble_msbs(k: u64) -> u16 {
    // Pack 16 bits spaced 4 apart into 16 adjacent bits, halving the gaps at each step.
    let mut x = (k >> 3) & 0x1111_1111_1111_1111;
    x = (x | (x >> 3)) & 0x0303_0303_0303_0303;
    x = (x | (x >> 6)) & 0x000F_000F_000F_000F;
    x = (x | (x >> 12)) & 0x0000_00FF_0000_00FF;
    x = (x | (x >> 24)) & 0xFFFF;
    #[allow(clippy::cast_possible_truncation)] // masked to 16 bits on the line above
    let packed = x as u16;
    packed
}

/// EA07 keyed with one decoder key.
///
/// Holds only derived key material: for each round, the 16 selector bits (bit 4i+3 of that
/// round's working key), zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Sta {
    /// `selectors[r]` bit `i` = bit `4i+3` of `k_r = rotl64(rotr64(!DK, 12), r)`.
    selectors: [u16; ROUNDS],
}

impl Sta {
    /// Keys STA with a 64-bit decoder key (SPEC-crypto §2.1 key pre-processing).
    pub fn new(key: &DecoderKey64) -> Self {
        let mut k = (!key.expose_u64()).rotate_right(12);
        // Built in place: no intermediate copy of the derived key that would need wiping.
        let mut sta = Self {
            selectors: [0; ROUNDS],
        };
        for sel in &mut sta.selectors {
            *sel = nibble_msbs(k);
            k = k.rotate_left(1);
        }
        k.zeroize();
        sta
    }
}

impl TokenCipher for Sta {
    fn algorithm(&self) -> EncryptionAlgorithm {
        EncryptionAlgorithm::Sta
    }

    /// SPEC-crypto §2.1: 16 x (substitute, permute, rotate key left 1).
    fn encrypt(&self, block: u64) -> u64 {
        self.selectors
            .iter()
            .fold(block, |d, &sel| sp_round(&ENC_SP, d, sel))
    }

    /// SPEC-crypto §2.2: for r = 15 down to 0, P⁻¹ then S⁻¹ with round r's selectors.
    fn decrypt(&self, block: u64) -> u64 {
        #[cfg(feature = "sta-fast-decrypt")]
        return self.decrypt_folded(block);
        #[cfg(not(feature = "sta-fast-decrypt"))]
        return self.decrypt_compact(block);
    }
}

impl Sta {
    /// Decryption round by round, from the 2 KiB permutation table (meter firmware).
    #[cfg_attr(feature = "sta-fast-decrypt", allow(dead_code))] // kept for the tests
    fn decrypt_compact(&self, block: u64) -> u64 {
        self.selectors.iter().rev().fold(block, |d, &sel| {
            substitute(permute_by_nibbles(&P_INV_BY_NIBBLE, d), sel, &S_INV)
        })
    }

    /// The same, with each round's S⁻¹ folded into the next round's P⁻¹.
    #[cfg(feature = "sta-fast-decrypt")]
    fn decrypt_folded(&self, block: u64) -> u64 {
        let (first, rest) = match self.selectors.split_first() {
            Some(split) => split,
            None => return block, // unreachable: ROUNDS is 16
        };
        let d = permute_by_nibbles(&P_INV_BY_NIBBLE, block);
        let d = rest
            .iter()
            .rev()
            .fold(d, |d, &sel| sp_round(&DEC_SP, d, sel));
        substitute(d, *first, &S_INV)
    }
}

impl fmt::Debug for Sta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sta(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sta(key: u64) -> Sta {
        Sta::new(&DecoderKey64::from_bytes(key.to_be_bytes()))
    }

    /// Known answers with the production tables (SPEC-crypto §7.1, `vectors/primitives.jsonl`).
    #[test]
    fn known_answers() {
        let cases = [
            // CTSA01 step 1: DK(P1) from DKGA02, block of token 23716100501183194197 (NectarAPI
            // STS 531-1-0-02 CTSA01; SPEC-codec §1.4 / Appendix A.3).
            (
                0xE653_341F_9D5B_F36F,
                0x0559_9863_0001_19E6,
                0x4920_83C0_AE7C_E455,
            ),
            // The standard's example block with the production tables; ciphertext inside
            // NectarAPI token 29054347139309851356 (SPEC-crypto §2.3, §7.1).
            (
                0x0ABC_12DE_F345_6789,
                0x0B19_EB23_0100_C207,
                0x9335_C6C9_6B73_52DC,
            ),
        ];
        for (key, plain, cipher) in cases {
            let c = sta(key);
            assert_eq!(c.encrypt(plain), cipher, "encrypt {key:016X}");
            assert_eq!(c.decrypt(cipher), plain, "decrypt {key:016X}");
        }
    }

    #[test]
    fn nibble_msbs_picks_bit_4i_plus_3() {
        for i in 0..16 {
            assert_eq!(nibble_msbs(1 << (4 * i + 3)), 1 << i);
            assert_eq!(nibble_msbs(!(1 << (4 * i + 3))), !(1 << i));
        }
        assert_eq!(nibble_msbs(0x8000_0000_0000_0008), 0x8001);
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", sta(0xE653_341F_9D5B_F36F)),
            "Sta(<redacted>)"
        );
    }

    /// Straight from SPEC-crypto §2.1's pseudo-code, one bit at a time.
    fn reference_encrypt(dk: u64, plain: u64) -> u64 {
        let mut k = (!dk).rotate_right(12);
        let mut d = plain;
        for _ in 0..16 {
            let mut s = 0u64;
            for i in 0..16 {
                let sel = (k >> (4 * i + 3)) & 1;
                let nib = ((d >> (4 * i)) & 0xF) as usize;
                let table = if sel == 0 { STA_S1 } else { STA_S2 };
                s |= u64::from(table[nib]) << (4 * i);
            }
            let mut p = 0u64;
            for (j, &to) in STA_P.iter().enumerate() {
                // output bit P[j] = input bit j
                p |= ((s >> j) & 1) << to;
            }
            d = p;
            k = k.rotate_left(1);
        }
        d
    }

    /// Straight from SPEC-crypto §2.2, first form: round keys k_r, then for r = 15..=0
    /// inverse permutation and inverse substitution.
    fn reference_decrypt(dk: u64, cipher: u64) -> u64 {
        let k0 = (!dk).rotate_right(12);
        let mut d = cipher;
        for r in (0..16).rev() {
            let k = k0.rotate_left(r);
            let mut p = 0u64;
            for (j, &to) in STA_P_INV.iter().enumerate() {
                p |= ((d >> j) & 1) << to;
            }
            let mut s = 0u64;
            for i in 0..16 {
                let sel = (k >> (4 * i + 3)) & 1;
                let nib = ((p >> (4 * i)) & 0xF) as usize;
                let table = if sel == 0 { STA_S1_INV } else { STA_S2_INV };
                s |= u64::from(table[nib]) << (4 * i);
            }
            d = s;
        }
        d
    }

    /// SPEC-crypto §2.2, second ("meter-side", NectarAPI) form: k = rotl64(DK, 3), no
    /// complement; 16 x (inverse permutation, D1 = inv(S2) on key bit 0 / D2 = inv(S1) on key
    /// bit 1, k = rotr64(k, 1)).
    fn reference_decrypt_meter_form(dk: u64, cipher: u64) -> u64 {
        let mut k = dk.rotate_left(3);
        let mut d = cipher;
        for _ in 0..16 {
            let mut p = 0u64;
            for (j, &to) in STA_P_INV.iter().enumerate() {
                p |= ((d >> j) & 1) << to;
            }
            let mut s = 0u64;
            for i in 0..16 {
                let bit = (k >> (4 * i + 3)) & 1;
                let nib = ((p >> (4 * i)) & 0xF) as usize;
                let table = if bit == 0 { STA_S2_INV } else { STA_S1_INV };
                s |= u64::from(table[nib]) << (4 * i);
            }
            d = s;
            k = k.rotate_right(1);
        }
        d
    }

    #[test]
    fn references_agree_with_known_answers() {
        assert_eq!(
            reference_encrypt(0xE653_341F_9D5B_F36F, 0x0559_9863_0001_19E6),
            0x4920_83C0_AE7C_E455
        );
        assert_eq!(
            reference_decrypt(0x0ABC_12DE_F345_6789, 0x9335_C6C9_6B73_52DC),
            0x0B19_EB23_0100_C207
        );
        assert_eq!(
            reference_decrypt_meter_form(0x0ABC_12DE_F345_6789, 0x9335_C6C9_6B73_52DC),
            0x0B19_EB23_0100_C207
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn fast_matches_reference(key in any::<u64>(), block in any::<u64>()) {
            let c = sta(key);
            let expected = reference_encrypt(key, block);
            prop_assert_eq!(c.encrypt(block), expected);
            prop_assert_eq!(c.decrypt(block), reference_decrypt(key, block));
            prop_assert_eq!(c.decrypt(block), reference_decrypt_meter_form(key, block));
            // Both decryption forms, whichever one `decrypt` uses in this build.
            prop_assert_eq!(c.decrypt_compact(block), reference_decrypt(key, block));
            #[cfg(feature = "sta-fast-decrypt")]
            prop_assert_eq!(c.decrypt_folded(block), reference_decrypt(key, block));
        }

        #[test]
        fn decrypt_inverts_encrypt(key in any::<u64>(), block in any::<u64>()) {
            let c = sta(key);
            prop_assert_eq!(c.decrypt(c.encrypt(block)), block);
            prop_assert_eq!(c.encrypt(c.decrypt(block)), block);
        }
    }
}
