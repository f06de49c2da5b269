//! Properties over every token kind: typed → block → typed is the identity, any 66-bit value
//! that decodes re-encodes to the same digits, and no input string panics the decoder.

// Test code: a panic is a failing test, and vector data is checked by the assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use token_codec::amount::TransferAmount;
use token_codec::digits::{MAX_TOKEN_NUMBER, TokenNumber};
use token_codec::token::{
    CreditTransfer, CurrencyTransfer, EngineeringPayload, KeyChange1, KeyChange2, KeyChange3,
    KeyChange4, Management, ManagementFunction, ManufacturerCode, MeterTest, SgcHalf, Stamp,
    SupplyGroupChange, Utility,
};
use token_codec::{
    AnyCipher, CurrencyAmount, DecoderKey, EncryptionAlgorithm, KenNibble, KeyPart, KeyRevision,
    KeyType, KeyWidth, Rnd, Subclass, SupplyGroupCode, TariffIndex, Tid, Token, TokenCipher,
    TokenDigits, decode, decode_str, encode,
};

fn stamp() -> impl Strategy<Value = Stamp> {
    (0u8..16, 0u32..=Tid::MAX).prop_map(|(r, t)| Stamp {
        rnd: Rnd::new(r).unwrap(),
        tid: Tid::new(t).unwrap(),
    })
}

/// Every token kind with every field drawn over its whole domain.
fn any_token() -> impl Strategy<Value = Token> {
    prop_oneof![
        (0u8..4, stamp(), any::<u16>()).prop_map(|(u, s, a)| Token::TransferCredit(
            CreditTransfer {
                utility: Utility::from_index(u),
                rnd: s.rnd,
                tid: s.tid,
                amount: TransferAmount::from_field(a),
            }
        )),
        (0u8..4, 0u32..=Tid::MAX, any::<bool>(), 0u8..32, 0u16..16384).prop_map(
            |(u, t, n, e, m)| {
                Token::TransferCurrency(CurrencyTransfer {
                    utility: Utility::from_index(u),
                    tid: Tid::new(t).unwrap(),
                    amount: CurrencyAmount::from_parts(n, e, m).unwrap(),
                })
            }
        ),
        (0u64..1 << 36, any::<u8>()).prop_map(|(c, m)| Token::InitiateMeterTest(
            MeterTest::new(c, ManufacturerCode::TwoDigit(m)).unwrap()
        )),
        (0u64..1 << 28, any::<u16>()).prop_map(|(c, m)| Token::InitiateMeterTest(
            MeterTest::new(c, ManufacturerCode::FourDigit(m)).unwrap()
        )),
        (2u8..16, 0u64..1 << 44).prop_map(|(s, p)| Token::Engineering(
            EngineeringPayload::new(Subclass::new(s).unwrap(), p).unwrap()
        )),
        (
            prop::sample::select(vec![0u8, 1, 2, 5, 6, 7, 10]),
            stamp(),
            any::<u16>()
        )
            .prop_map(|(s, st, v)| {
                Token::Management(Management {
                    stamp: st,
                    function: ManagementFunction::from_parts(s, v).unwrap(),
                })
            }),
        (
            0u8..16,
            1u8..=9,
            any::<bool>(),
            any::<bool>(),
            0u8..4,
            any::<u32>()
        )
            .prop_map(|(k, r, ro, f, kt, p)| {
                Token::Set1stSectionDecoderKey(KeyChange1 {
                    ken_high: KenNibble::new(k).unwrap(),
                    krn: KeyRevision::new(r).unwrap(),
                    rollover: ro,
                    sgc_follows: f,
                    kt: KeyType::from_bits(kt),
                    key_high: KeyPart::new(p),
                })
            }),
        (0u8..16, 0u8..=99, any::<u32>()).prop_map(|(k, ti, p)| Token::Set2ndSectionDecoderKey(
            KeyChange2 {
                ken_low: KenNibble::new(k).unwrap(),
                ti: TariffIndex::new(ti).unwrap(),
                key_low: KeyPart::new(p),
            }
        )),
        (0u32..=SupplyGroupCode::MAX).prop_map(|s| Token::SetSupplyGroupCode(SupplyGroupChange {
            sgc: SupplyGroupCode::new(s).unwrap()
        })),
        (0u16..4096, any::<u32>()).prop_map(|(s, p)| Token::Set3rdSectionDecoderKey(KeyChange3 {
            sgc_low: SgcHalf::new(s).unwrap(),
            key_mid2: KeyPart::new(p),
        })),
        (0u16..4096, any::<u32>()).prop_map(|(s, p)| Token::Set4thSectionDecoderKey(KeyChange4 {
            sgc_high: SgcHalf::new(s).unwrap(),
            key_mid1: KeyPart::new(p),
        })),
    ]
}

/// The key width that reads a token's subclass 8 the way it was built.
fn width_for(token: &Token) -> KeyWidth {
    match token {
        Token::Set3rdSectionDecoderKey(_) => KeyWidth::Bits128,
        _ => KeyWidth::Bits64,
    }
}

fn any_cipher() -> impl Strategy<Value = AnyCipher> {
    (
        prop::sample::select(EncryptionAlgorithm::ALL.to_vec()),
        any::<[u8; 16]>(),
    )
        .prop_map(|(ea, k)| {
            let key = match ea.key_width() {
                KeyWidth::Bits64 => DecoderKey::from_slice(&k[..8]),
                KeyWidth::Bits128 => DecoderKey::from_slice(&k),
            };
            AnyCipher::new(ea, &key.unwrap()).unwrap()
        })
}

/// Subclass 8 reads as the SGC token under a 64-bit key and as the 3rd section under a
/// 128-bit key, so those two kinds need a cipher of their own width to read back.
fn cipher_for(token: &Token, c: AnyCipher, k: [u8; 16]) -> AnyCipher {
    let width = c.algorithm().key_width();
    match token {
        Token::Set3rdSectionDecoderKey(_) if width == KeyWidth::Bits64 => AnyCipher::new(
            EncryptionAlgorithm::Misty1,
            &DecoderKey::from_slice(&k).unwrap(),
        )
        .unwrap(),
        Token::SetSupplyGroupCode(_) if width == KeyWidth::Bits128 => AnyCipher::new(
            EncryptionAlgorithm::Sta,
            &DecoderKey::from_slice(&k[..8]).unwrap(),
        )
        .unwrap(),
        _ => c,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn typed_block_typed_is_identity(token in any_token()) {
        let block = token.to_block();
        prop_assert_eq!(Token::from_block(token.class(), block, width_for(&token)).unwrap(), token);
    }

    #[test]
    fn typed_digits_typed_is_identity(token in any_token(), c in any_cipher(), k in any::<[u8; 16]>()) {
        let cipher = cipher_for(&token, c, k);
        let digits = encode(&token, &cipher);
        prop_assert_eq!(decode(&digits, &cipher).unwrap(), token);
    }

    /// Every 66-bit value: decoding gives a token that re-encodes to the same digits, or an
    /// error; never a panic.
    #[test]
    fn digits_decode_encode_same_digits(v in 0u128..=MAX_TOKEN_NUMBER, cipher in any_cipher()) {
        let digits = TokenDigits::from_number(TokenNumber::new(v).unwrap());
        if let Ok(token) = decode(&digits, &cipher) {
            prop_assert_eq!(encode(&token, &cipher), digits);
        }
    }

    #[test]
    fn any_string_never_panics(s in ".{0,64}", cipher in any_cipher()) {
        let _ = decode_str(&s, &cipher);
    }

    #[test]
    fn any_digit_string_never_panics(s in "[0-9]{0,30}", cipher in any_cipher()) {
        let _ = decode_str(&s, &cipher);
    }
}

/// Class 1 values with a valid CRC, found by building them: decode needs no key.
#[test]
fn class_1_decodes_under_any_key() {
    let token = Token::InitiateMeterTest(MeterTest::new(1, ManufacturerCode::TwoDigit(0)).unwrap());
    let a = AnyCipher::new(
        EncryptionAlgorithm::Sta,
        &DecoderKey::from_slice(&[1; 8]).unwrap(),
    )
    .unwrap();
    let b = AnyCipher::new(
        EncryptionAlgorithm::Misty1,
        &DecoderKey::from_slice(&[2; 16]).unwrap(),
    )
    .unwrap();
    let digits = encode(&token, &a);
    assert_eq!(digits.as_str(), "00000000000150997584");
    assert_eq!(decode(&digits, &b).unwrap(), token);
}
