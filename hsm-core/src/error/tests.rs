//! Every message says exactly what was wrong.
use super::*;
use token_codec::Field;

#[test]
fn messages_say_what_was_wrong() {
    let cases: [(HsmError, &str); 10] = [
        (
            PanError::PanCheckDigit {
                expected: 9,
                got: 8,
            }
            .into(),
            "meter pan check digit: expected 9, got 8",
        ),
        (
            PanError::DrnCheckDigit {
                expected: 8,
                got: 7,
            }
            .into(),
            "drn check digit: expected 8, got 7",
        ),
        (
            PanError::Length { got: 17 }.into(),
            "meter pan must be 18 digits, got 17",
        ),
        (
            PanError::NonDigit {
                position: 3,
                found: 'x',
            }
            .into(),
            "meter pan has non-digit 'x' at position 3",
        ),
        (
            PanError::UnknownIin { leading: 123 }.into(),
            "meter pan iin must be 600727 or 0000, but the pan starts 000123",
        ),
        (
            HsmError::VendingKeyLength {
                dkga: Dkga::Dkga02,
                expected: 8,
                got: 7,
            },
            "vending key must be 8 bytes for DKGA02, got 7",
        ),
        (
            HsmError::SecretHex {
                field: SecretField::VendingKey,
                fault: HexFault::NotHex { position: 4 },
            },
            "vending key: character at position 4 is not a hex digit",
        ),
        (
            HsmError::UnsupportedDkga { code: 3 },
            "key derivation DKGA03 is not supported: withdrawn in the 2018 edition",
        ),
        (
            HsmError::KeyWidth {
                dkga: Dkga::Dkga02,
                algorithm: EncryptionAlgorithm::Misty1,
            },
            "key derivation DKGA02 yields 64-bit keys only; EA11 (MISTY1) needs a 128-bit key",
        ),
        (
            CodecError::OutOfRange {
                field: Field::TariffIndex,
                value: 150,
            }
            .into(),
            "tariff index out of range: 150",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
}

#[test]
fn store_and_ceremony_messages() {
    let cases: [(HsmError, &str); 7] = [
        (
            HsmError::Io {
                op: FileOp::Rename,
                path: PathBuf::from("/var/keys.sealed"),
                kind: io::ErrorKind::PermissionDenied,
            },
            "cannot rename into place /var/keys.sealed: permission denied",
        ),
        (
            HsmError::Json {
                doc: JsonDoc::Component,
                line: 3,
                column: 14,
                category: JsonCategory::Data,
            },
            "key component json, line 3 column 14: missing, unknown or mistyped field",
        ),
        (
            HsmError::WindowOrder {
                use_: KeyUse::KeyChange,
            },
            "key change issuance window must start before it ends",
        ),
        (
            HsmError::EmptySecret {
                field: SecretField::Passphrase,
            },
            "passphrase is empty",
        ),
        (
            CeremonyError::Count { got: 1, need: 3 }.into(),
            "1 components given, 3 needed",
        ),
        (
            SealedError::Changed {
                path: PathBuf::from("k"),
            }
            .into(),
            "key store k was changed by another process since it was opened; reopen it",
        ),
        (
            Pkcs11Error::TokenNotFound { label: "L".into() }.into(),
            "no pkcs#11 token labelled \"L\" is present",
        ),
    ];
    for (err, want) in cases {
        assert_eq!(err.to_string(), want);
    }
    assert!(HsmError::from(Pkcs11Error::TokenNotFound { label: "L".into() }).is_transient());
    assert!(!HsmError::StorePoisoned.is_transient());
}

#[test]
fn wrappers_are_transparent() {
    let err = HsmError::from(PanError::Length { got: 3 });
    assert!(err.source().is_none());
    assert_eq!(err.to_string(), PanError::Length { got: 3 }.to_string());
}
