//! Any 66-bit token number under any algorithm and key (reaches the block decoder far more
//! often than random text): decode never panics, and what decodes re-encodes identically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use token_codec::digits::MAX_TOKEN_NUMBER;
use token_codec::{
    AnyCipher, DecoderKey, EncryptionAlgorithm, TokenDigits, TokenNumber, decode, encode,
};

fuzz_target!(|data: [u8; 26]| {
    let (head, key) = data.split_at(10);
    let ea = EncryptionAlgorithm::ALL[usize::from(head[0]) % 3];
    let mut n = [0u8; 16];
    n[7..].copy_from_slice(&head[1..]);
    let number = TokenNumber::new(u128::from_be_bytes(n) & MAX_TOKEN_NUMBER).unwrap();
    let width = usize::from(ea.key_width().bits() / 8);
    let cipher = AnyCipher::new(ea, &DecoderKey::from_slice(&key[..width]).unwrap()).unwrap();
    let digits = TokenDigits::from_number(number);
    if let Ok(token) = decode(&digits, &cipher) {
        assert_eq!(encode(&token, &cipher), digits);
    }
});
