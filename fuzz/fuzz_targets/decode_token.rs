//! Any bytes as typed token input, under any algorithm and key: the decoder returns a token
//! or a precise error, never panics, and a token it accepts re-encodes to the same digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use token_codec::{AnyCipher, DecoderKey, EncryptionAlgorithm, TokenDigits, decode, encode};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (key, input) = rest.split_at(rest.len().min(16));
    let ea = EncryptionAlgorithm::ALL[usize::from(selector) % 3];
    let mut key_bytes = [0u8; 16];
    key_bytes[..key.len()].copy_from_slice(key);
    let width = usize::from(ea.key_width().bits() / 8);
    let Ok(cipher) = AnyCipher::new(ea, &DecoderKey::from_slice(&key_bytes[..width]).unwrap())
    else {
        return;
    };
    let text = String::from_utf8_lossy(input);
    let Ok(digits) = TokenDigits::parse(&text) else {
        return;
    };
    if let Ok(token) = decode(&digits, &cipher) {
        assert_eq!(encode(&token, &cipher), digits);
    }
});
