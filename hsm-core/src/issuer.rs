//! The vending side's one door to the keys: "encode these tokens for this meter".
//!
//! An [`Issuer`] finds the meter's vending key, checks its validity window for the use and
//! each token's TID against the key's expiry number, derives the decoder key inside the store,
//! encrypts, and returns digits. Neither a vending key nor a decoder key leaves this module;
//! the decoder key lives in a zeroizing cipher for the duration of one call.

use std::sync::Arc;

use token_codec::token::{KeyChangeSet, NewKeyAttributes};
use token_codec::{AnyCipher, Token, TokenDigits, UtcMinute, encode};

use crate::derive::MeterIdentity;
use crate::error::HsmError;
use crate::store::{KeyStore, KeyUse, VendingKeyId, VendingKeyRecord};

/// Issues tokens through a key store.
#[derive(Clone)]
pub struct Issuer {
    store: Arc<dyn KeyStore>,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Issuer(<key store>)")
    }
}

/// How a key change set is to be shaped, beyond the two meter identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyChangeOptions {
    /// For a 64-bit key: issue the 3-token set whose third token carries the new SGC
    /// (STS 531-1-07; older meters know only the pair). Ignored for 128-bit keys, whose set
    /// always carries the SGC.
    pub sgc_token: bool,
}

/// A key change set as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKeyChange {
    /// The tokens in entry order (2, 3 or 4).
    pub digits: Vec<TokenDigits>,
    /// True if the set is a rollover (the meter moves to the next base date).
    pub rollover: bool,
    /// The vending key the meter holds a decoder key of afterwards.
    pub new_key: VendingKeyRecord,
}

fn id_of(meter: &MeterIdentity) -> VendingKeyId {
    VendingKeyId {
        sgc: meter.sgc(),
        krn: meter.krn(),
        kt: meter.kt(),
    }
}

impl Issuer {
    /// An issuer over a store.
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self { store }
    }

    /// The store, for key management (listing, ceremonies).
    pub fn store(&self) -> &dyn KeyStore {
        self.store.as_ref()
    }

    /// The record of the vending key a meter's tokens are made with.
    pub fn key_for(&self, meter: &MeterIdentity) -> Result<VendingKeyRecord, HsmError> {
        self.store.record(&id_of(meter))
    }

    /// The record, checked for `use_` at `at`.
    fn usable_key(
        &self,
        meter: &MeterIdentity,
        use_: KeyUse,
        at: UtcMinute,
    ) -> Result<VendingKeyRecord, HsmError> {
        let record = self.key_for(meter)?;
        if !record.window(use_).contains(at) {
            return Err(HsmError::OutsideWindow {
                id: record.id,
                use_,
                at,
            });
        }
        Ok(record)
    }

    fn cipher(
        &self,
        record: &VendingKeyRecord,
        meter: &MeterIdentity,
    ) -> Result<AnyCipher, HsmError> {
        let key = self.store.derive(&record.id, meter)?;
        Ok(AnyCipher::new(record.ea, &key)?)
    }

    /// Encodes credit or management tokens for a meter issued at `at`. Fails without
    /// encoding anything if the key is outside its credit window or any token's TID lies
    /// beyond the key's expiry number. A batch of class 1 (engineering) tokens only needs no
    /// key at all: they are not encrypted.
    pub fn encode(
        &self,
        meter: &MeterIdentity,
        at: UtcMinute,
        tokens: &[Token],
    ) -> Result<Vec<TokenDigits>, HsmError> {
        // Class 1 tokens are not encrypted and not meter-specific: no key, no window.
        let plain: Option<Vec<TokenDigits>> =
            tokens.iter().map(token_codec::encode_unencrypted).collect();
        if let Some(digits) = plain {
            return Ok(digits);
        }
        let record = self.usable_key(meter, KeyUse::Credit, at)?;
        for tid in tokens.iter().filter_map(Token::tid) {
            tid.check_expiry(record.ken)?;
        }
        let cipher = self.cipher(&record, meter)?;
        Ok(tokens.iter().map(|t| encode(t, &cipher)).collect())
    }

    /// Decodes digits with a meter's current key, for a support desk asking what a token
    /// carries (any validity window: an old token may be asked about after its key closed).
    /// Key change sections carry key bits; [`token_codec::KeyPart`] never prints them.
    pub fn decode(&self, meter: &MeterIdentity, digits: &TokenDigits) -> Result<Token, HsmError> {
        let record = self.key_for(meter)?;
        let cipher = self.cipher(&record, meter)?;
        Ok(token_codec::decode(digits, &cipher)?)
    }

    /// The key change set that moves a meter from its current key (`from`) to the key of
    /// `to`, encrypted under the current key.
    ///
    /// The current key must be inside its key change window and the new key's credit window
    /// must not have closed. The encryption algorithm cannot change (no token carries it).
    /// A change of base date is a rollover, allowed only to the next base date (RO = 1 moves
    /// the meter one base date on).
    pub fn key_change(
        &self,
        from: &MeterIdentity,
        to: &MeterIdentity,
        options: KeyChangeOptions,
        at: UtcMinute,
    ) -> Result<IssuedKeyChange, HsmError> {
        let old = self.usable_key(from, KeyUse::KeyChange, at)?;
        let new = self.key_for(to)?;
        if new.credit_window.until.is_some_and(|until| at >= until) {
            return Err(HsmError::OutsideWindow {
                id: new.id,
                use_: KeyUse::Credit,
                at,
            });
        }
        if new.ea != old.ea {
            return Err(HsmError::AlgorithmChange {
                from: old.ea,
                to: new.ea,
            });
        }
        let rollover = new.base_date != old.base_date;
        if rollover && old.base_date.next() != Some(new.base_date) {
            return Err(HsmError::BaseDateJump {
                from: old.base_date,
                to: new.base_date,
            });
        }
        let attrs = NewKeyAttributes {
            ken: new.ken,
            krn: to.krn(),
            kt: to.kt(),
            ti: to.ti(),
            rollover,
        };
        let new_key = self.store.derive(&new.id, to)?;
        let sgc = match new_key.width() {
            token_codec::KeyWidth::Bits64 if !options.sgc_token => None,
            _ => Some(to.sgc()),
        };
        let set = KeyChangeSet::new(&new_key, &attrs, sgc)?;
        drop(new_key);
        let cipher = self.cipher(&old, from)?;
        let digits = set.tokens().map(|t| encode(t, &cipher)).collect();
        Ok(IssuedKeyChange {
            digits,
            rollover,
            new_key: new,
        })
    }
}

#[cfg(test)]
mod tests {
    use token_codec::token::{CreditTransfer, Utility};
    use token_codec::{
        BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, Rnd, Tid,
        TransferAmount,
    };

    use super::*;
    use crate::derive::Dkga;
    use crate::store::{MemoryStore, Window};
    use crate::vending_key::VendingKey;

    fn meter(ti: &str) -> MeterIdentity {
        MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            "123456".parse().unwrap(),
            ti.parse().unwrap(),
            KeyRevision::new(1).unwrap(),
            KeyType::Dutk,
        )
    }

    fn record(credit: Window) -> VendingKeyRecord {
        VendingKeyRecord {
            id: id_of(&meter("01")),
            dkga: Dkga::Dkga02,
            ea: EncryptionAlgorithm::Sta,
            base_date: BaseDate::Y1993,
            ken: KeyExpiryNumber::NEVER,
            credit_window: credit,
            key_change_window: Window::ALWAYS,
        }
    }

    /// The public DKGA02 test key (NectarAPI CTSA vectors), in a memory store.
    fn issuer(credit: Window) -> Issuer {
        let store = MemoryStore::new();
        store
            .import(
                &record(credit),
                VendingKey::from_hex(Dkga::Dkga02, "ABABABABABABABAB").unwrap(),
            )
            .unwrap();
        Issuer::new(Arc::new(store))
    }

    fn at(y: u16, mo: u8, d: u8, h: u8, mi: u8) -> UtcMinute {
        UtcMinute::from_civil(y, mo, d, h, mi).unwrap()
    }

    fn ctsa01() -> Token {
        Token::TransferCredit(CreditTransfer {
            utility: Utility::Electricity,
            rnd: Rnd::new(5).unwrap(),
            tid: Tid::for_issue(at(2004, 3, 1, 13, 55), BaseDate::Y1993).unwrap(),
            amount: TransferAmount::from_field(1),
        })
    }

    #[test]
    fn encodes_the_published_credit_token() {
        let digits = issuer(Window::ALWAYS)
            .encode(&meter("01"), at(2004, 3, 1, 13, 55), &[ctsa01()])
            .unwrap();
        assert_eq!(digits[0].as_str(), "23716100501183194197");
    }

    /// CTSA05 step 1: TI 01 -> 02 under the same vending key, KEN 255, RO 0 (SPEC-codec §2.3).
    #[test]
    fn issues_the_published_key_change_pair() {
        let kc = issuer(Window::ALWAYS)
            .key_change(
                &meter("01"),
                &meter("02"),
                KeyChangeOptions::default(),
                at(2004, 3, 1, 14, 0),
            )
            .unwrap();
        let got: Vec<&str> = kc.digits.iter().map(TokenDigits::as_str).collect();
        assert_eq!(got, ["51638423060042734509", "15361891762113502242"]);
        assert!(!kc.rollover);
    }

    /// CTSA11: class 1 needs no key, so a closed credit window does not block it.
    #[test]
    fn engineering_tokens_need_no_key() {
        use token_codec::token::{ManufacturerCode, MeterTest};
        let closed = Window {
            from: None,
            until: Some(at(2004, 1, 1, 0, 0)),
        };
        let test =
            Token::InitiateMeterTest(MeterTest::new(1, ManufacturerCode::TwoDigit(0)).unwrap());
        let digits = issuer(closed)
            .encode(&meter("01"), at(2004, 3, 1, 13, 55), &[test])
            .unwrap();
        assert_eq!(digits[0].as_str(), "00000000000150997584");
    }

    #[test]
    fn decodes_for_the_support_desk() {
        let digits: TokenDigits = "23716100501183194197".parse().unwrap();
        assert_eq!(
            issuer(Window::ALWAYS)
                .decode(&meter("01"), &digits)
                .unwrap(),
            ctsa01()
        );
        let err = issuer(Window::ALWAYS)
            .decode(&meter("02"), &digits)
            .unwrap_err();
        assert!(err.to_string().starts_with("crc mismatch"), "{err}");
    }

    #[test]
    fn windows_and_expiry_are_enforced() {
        let closed = Window {
            from: None,
            until: Some(at(2004, 1, 1, 0, 0)),
        };
        let err = issuer(closed)
            .encode(&meter("01"), at(2004, 3, 1, 13, 55), &[ctsa01()])
            .unwrap_err();
        assert!(
            matches!(
                err,
                HsmError::OutsideWindow {
                    use_: KeyUse::Credit,
                    ..
                }
            ),
            "{err}"
        );
        // Key change issuance keeps its own window: still allowed.
        let kc = issuer(closed).key_change(
            &meter("01"),
            &meter("02"),
            KeyChangeOptions::default(),
            at(2004, 3, 1, 14, 0),
        );
        assert!(
            matches!(
                kc,
                Err(HsmError::OutsideWindow {
                    use_: KeyUse::Credit,
                    ..
                })
            ),
            "new key's credit window closed"
        );

        let store = MemoryStore::new();
        let mut r = record(Window::ALWAYS);
        r.ken = KeyExpiryNumber::new(0x58);
        store
            .import(
                &r,
                VendingKey::from_hex(Dkga::Dkga02, "ABABABABABABABAB").unwrap(),
            )
            .unwrap();
        let err = Issuer::new(Arc::new(store))
            .encode(&meter("01"), at(2004, 3, 1, 13, 55), &[ctsa01()])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "key expired: tid high byte 89 > key expiry number 88"
        );
    }

    #[test]
    fn unknown_meter_key_is_named() {
        let other = MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            "999999".parse().unwrap(),
            "01".parse().unwrap(),
            KeyRevision::new(1).unwrap(),
            KeyType::Dutk,
        );
        let err = issuer(Window::ALWAYS)
            .encode(&other, at(2004, 3, 1, 13, 55), &[ctsa01()])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no vending key sgc999999-krn1-kt2 in the store"
        );
    }
}
