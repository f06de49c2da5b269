//! Whole tokens: typed token <-> 20 digits through a cipher (SPEC-codec §1, §6.2).

use crate::carrier::{transpose_in, transpose_out};
use crate::cipher::TokenCipher;
use crate::digits::TokenDigits;
use crate::error::CodecError;
use crate::ident::TokenClass;
use crate::token::{KeyChangeSet, Token};

/// Encodes a token for the meter whose key `cipher` holds. Class 1 tokens are not
/// encrypted (SPEC-codec §1.1: clause 6.3.2 and the class 1 vectors).
pub fn encode(token: &Token, cipher: &impl TokenCipher) -> TokenDigits {
    let class = token.class();
    let block = token.to_block();
    let carried = if class == TokenClass::Engineering {
        block
    } else {
        cipher.encrypt(block)
    };
    TokenDigits::from_number(transpose_in(class, carried))
}

/// Encodes a class 1 token, which is not encrypted and needs no key; `None` for any other
/// class.
pub fn encode_unencrypted(token: &Token) -> Option<TokenDigits> {
    (token.class() == TokenClass::Engineering)
        .then(|| TokenDigits::from_number(transpose_in(TokenClass::Engineering, token.to_block())))
}

/// Encodes every token of a key change set, in entry order.
pub fn encode_set(set: &KeyChangeSet, cipher: &impl TokenCipher) -> [Option<TokenDigits>; 4] {
    let mut out = [None; 4];
    for (slot, token) in out.iter_mut().zip(set.tokens()) {
        *slot = Some(encode(token, cipher));
    }
    out
}

/// The class and plain data block a token number carries: class 3 is refused before any
/// decryption; class 1 is taken as it is; classes 0 and 2 are decrypted.
pub fn open(
    digits: &TokenDigits,
    cipher: &impl TokenCipher,
) -> Result<(TokenClass, u64), CodecError> {
    let (class, carried) = transpose_out(digits.number());
    match class {
        TokenClass::Reserved => Err(CodecError::ReservedClass),
        TokenClass::Engineering => Ok((class, carried)),
        TokenClass::Credit | TokenClass::Management => Ok((class, cipher.decrypt(carried))),
    }
}

/// Decodes 20 digits with a meter's key: class, decryption, CRC, subclass, field domains, in
/// the brief's order (decision 12).
pub fn decode(digits: &TokenDigits, cipher: &impl TokenCipher) -> Result<Token, CodecError> {
    let (class, block) = open(digits, cipher)?;
    Token::from_block(class, block, cipher.algorithm().key_width())
}

/// Parses typed input (separators allowed) and decodes it.
pub fn decode_str(input: &str, cipher: &impl TokenCipher) -> Result<Token, CodecError> {
    decode(&TokenDigits::parse(input)?, cipher)
}
