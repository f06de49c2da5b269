//! DKGA02: decoder keys from a 64-bit vending key with single DES (SPEC-crypto §5.3, §5.4;
//! SPEC-codec Appendix A.1).
//!
//! ```text
//! I  = PANBlock ⊕ ControlBlock
//! O  = DES-encrypt(key = VK, I)        FIPS 46-3, one block
//! DK = O ⊕ I ⊕ VK
//! ```

use des::Des;
use des::cipher::{BlockEncrypt, KeyInit};
use token_codec::{DecoderKey64, KeyRevision, KeyType, SupplyGroupCode, TariffIndex};
use zeroize::Zeroize;

use super::MeterIdentity;
use crate::vending_key::VendingKey64;

/// The DKGA01/02/03 control block (SPEC-crypto §5.3): 16 hex digits
/// `KT ‖ SGC (6 BCD digits) ‖ TI (2 BCD digits) ‖ KRN ‖ FFFFFF`. Not secret.
///
/// The tariff index is BCD here (TI 99 → `0x99`), unlike the binary TI of the 2/4 key change
/// token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlBlock(u64);

impl ControlBlock {
    /// Builds the control block from its fields.
    pub fn new(kt: KeyType, sgc: SupplyGroupCode, ti: TariffIndex, krn: KeyRevision) -> Self {
        let bits = u64::from(kt.bits()) << 60
            | bcd(sgc.get(), 6) << 36
            | bcd(u32::from(ti.get()), 2) << 28
            | u64::from(krn.get()) << 24
            | 0xFF_FFFF;
        ControlBlock(bits)
    }

    /// The control block of a meter's identity.
    pub fn of(id: &MeterIdentity) -> Self {
        Self::new(id.kt(), id.sgc(), id.ti(), id.krn())
    }

    /// The block as a big-endian integer (`2123456011FFFFFF` for KT 2, SGC 123456, TI 01, KRN 1).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The block's 8 bytes, most significant first.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

/// The `digits` lowest decimal digits of `value` as BCD nibbles.
fn bcd(mut value: u32, digits: u32) -> u64 {
    (0..digits).fold(0u64, |acc, i| {
        let nibble = u64::from(value % 10) << (4 * i);
        value /= 10;
        acc | nibble
    })
}

/// The DES input block I = PANBlock ⊕ ControlBlock of a meter (SPEC-crypto §5.4). Not secret:
/// it depends on the meter's identity only.
pub fn dkga02_input(id: &MeterIdentity) -> [u8; 8] {
    let pan_block = id.pan().pan_block(id.kt());
    (pan_block.bits() ^ ControlBlock::of(id).bits()).to_be_bytes()
}

/// The last DKGA02 step, DK = O ⊕ I ⊕ VK, shared by the software path and any HSM path that
/// returns the DES output O (SPEC-crypto §5.4).
///
/// `des_output` is secret (with I and DK it would give VK away), so it is zeroized here once
/// used.
///
/// The vending key is used exactly as given: no DES parity adjustment (brief decision 6). One
/// source, a port of decompiled vending code, forces odd parity on VK before this XOR;
/// NectarAPI, whose vectors we reproduce, does not. The two agree whenever VK already has odd
/// parity, as KMC-issued DES keys do (SPEC-crypto §5.4 parity note). DES itself ignores the
/// parity bits, so only this XOR could differ.
pub fn dkga02_finish(des_output: &mut [u8; 8], input: &[u8; 8], vk: &VendingKey64) -> DecoderKey64 {
    let mut dk = [0u8; 8];
    let parts = des_output.iter().zip(input).zip(vk.expose_bytes());
    for (d, ((o, i), k)) in dk.iter_mut().zip(parts) {
        *d = o ^ i ^ k;
    }
    des_output.zeroize();
    let key = DecoderKey64::from_bytes(dk);
    dk.zeroize();
    key
}

/// Derives a meter's 64-bit decoder key from a DKGA02 vending key in software
/// (SPEC-crypto §5.4).
pub fn dkga02(vk: &VendingKey64, id: &MeterIdentity) -> DecoderKey64 {
    let input = dkga02_input(id);
    // The `des` crate's `zeroize` feature clears the key schedule when `cipher` drops.
    let cipher = Des::new(vk.expose_bytes().into());
    let mut block = input;
    cipher.encrypt_block((&mut block).into());
    dkga02_finish(&mut block, &input, vk)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC-crypto §5.4 / §7.2 inputs: VK `AB…AB`, P1, KT 2, SGC 123456, KRN 1.
    fn p1(ti: &str) -> MeterIdentity {
        MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            "123456".parse().unwrap(),
            ti.parse().unwrap(),
            KeyRevision::new(1).unwrap(),
            KeyType::Dutk,
        )
    }

    fn vk_ab() -> VendingKey64 {
        VendingKey64::from_bytes([0xAB; 8])
    }

    #[test]
    fn control_block_spec_example() {
        let id = p1("01");
        assert_eq!(ControlBlock::of(&id).bits(), 0x2123_4560_11FF_FFFF);
        let cb = ControlBlock::new(
            KeyType::Dctk,
            "987654".parse().unwrap(),
            "99".parse().unwrap(),
            KeyRevision::new(9).unwrap(),
        );
        // TI is BCD here: 99 → 0x99, not 0x63.
        assert_eq!(
            cb.to_bytes(),
            [0x39, 0x87, 0x65, 0x49, 0x99, 0xFF, 0xFF, 0xFF]
        );
    }

    /// SPEC-crypto §5.4 worked vector, step by step.
    #[test]
    fn spec_intermediates() {
        let id = p1("01");
        let input = dkga02_input(&id);
        assert_eq!(u64::from_be_bytes(input), 0x2151_3560_11FF_FFFF);
        let mut block = input;
        Des::new((&[0xAB; 8]).into()).encrypt_block((&mut block).into());
        assert_eq!(u64::from_be_bytes(block), 0x6CA9_AAD4_270F_A73B);
        let dk = dkga02_finish(&mut block, &input, &vk_ab());
        assert_eq!(block, [0; 8], "the DES output is zeroized");
        assert_eq!(dk.expose_u64(), 0xE653_341F_9D5B_F36F);
    }

    /// SPEC-crypto §7.2: DK(P1) for TI 01 and (CTSA05 new key) TI 02.
    #[test]
    fn public_vectors() {
        assert_eq!(
            dkga02(&vk_ab(), &p1("01")).expose_u64(),
            0xE653_341F_9D5B_F36F
        );
        assert_eq!(
            dkga02(&vk_ab(), &p1("02")).expose_u64(),
            0x060B_8643_C59A_27F1
        );
    }

    /// Decision 6: VK `AA…AA` (even parity in every byte) differs from `AB…AB` only in the
    /// parity bits, which DES ignores; used as given, the two keys differ by exactly that XOR.
    /// With parity adjustment they would be equal.
    #[test]
    fn vending_key_is_used_without_parity_adjustment() {
        let id = p1("01");
        let even = dkga02(&VendingKey64::from_bytes([0xAA; 8]), &id).expose_u64();
        let odd = dkga02(&vk_ab(), &id).expose_u64();
        assert_eq!(even ^ odd, 0x0101_0101_0101_0101);
    }

    /// KT 3: the PANBlock's DRN digits are zeros, so two meters share the key.
    #[test]
    fn common_key_ignores_the_drn() {
        let id = |pan: &str| {
            MeterIdentity::new(
                pan.parse().unwrap(),
                "123456".parse().unwrap(),
                "01".parse().unwrap(),
                KeyRevision::new(1).unwrap(),
                KeyType::Dctk,
            )
        };
        let a = dkga02(&vk_ab(), &id("600727000000000009"));
        let b = dkga02(&vk_ab(), &id("600727123456789030"));
        assert_eq!(a, b);
        assert_eq!(
            u64::from_be_bytes(dkga02_input(&id("600727123456789030"))),
            0x3151_3560_11FF_FFFF
        );
    }
}
