//! The 66-bit carrier: class bits transposed into an encrypted 64-bit block (SPEC-codec §1.2).
//!
//! Encode saves ciphertext bits 28 and 27 as token bits 65 and 64 and writes the class into
//! bits 28 (class MSB) and 27 (class LSB); decode reverses it. Three independent
//! implementations agree on these positions and the published CTSA01 tokens reproduce.

use crate::digits::TokenNumber;
use crate::ident::TokenClass;

const CLASS_SHIFT: u32 = 27;
const CLASS_MASK: u64 = 0b11 << CLASS_SHIFT;

/// Joins a class and an encrypted (or, for class 1, plain) block into the 66-bit number.
pub fn transpose_in(class: TokenClass, block: u64) -> TokenNumber {
    // The two displaced ciphertext bits, 28 and 27, become bits 65 and 64.
    let displaced = ((block & CLASS_MASK) >> CLASS_SHIFT) as u8;
    let low = (block & !CLASS_MASK) | (u64::from(class.bits()) << CLASS_SHIFT);
    TokenNumber::from_parts(displaced, low)
}

/// Splits the 66-bit number into its class and the encrypted (or plain) block.
pub fn transpose_out(number: TokenNumber) -> (TokenClass, u64) {
    let low = number.low();
    let class = TokenClass::from_bits(((low & CLASS_MASK) >> CLASS_SHIFT) as u8);
    let block = (low & !CLASS_MASK) | (u64::from(number.top()) << CLASS_SHIFT);
    (class, block)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digits::{MAX_TOKEN_NUMBER, TokenDigits};
    use proptest::prelude::*;

    /// SPEC-codec §1.4: CTSA01 step 1 ciphertext 492083C0AE7CE455, class 0.
    #[test]
    fn ctsa01_carrier() {
        let n = transpose_in(TokenClass::Credit, 0x4920_83C0_AE7C_E455);
        assert_eq!(n.get(), 0x1_4920_83C0_A67C_E455);
        assert_eq!(TokenDigits::from_number(n).as_str(), "23716100501183194197");
        assert_eq!(
            transpose_out(n),
            (TokenClass::Credit, 0x4920_83C0_AE7C_E455)
        );
    }

    /// SPEC-crypto §2.3(b) sample example: class 0 inserted gives 0x2C45ED1618406DF95.
    #[test]
    fn sample_table_carrier() {
        let n = transpose_in(TokenClass::Credit, 0xC45E_D161_9406_DF95);
        assert_eq!(n.get(), 0x2_C45E_D161_8406_DF95);
    }

    proptest! {
        #[test]
        fn transposition_is_lossless(v in 0u128..=MAX_TOKEN_NUMBER) {
            let n = TokenNumber::new(v).unwrap();
            let (class, block) = transpose_out(n);
            prop_assert_eq!(transpose_in(class, block), n);
        }
    }
}
