//! Key check values (KCVs): three bytes that tell whether two parties hold the same key, and
//! reveal (next to) nothing about it.
//!
//! Definitions, for keys and for components alike (a component is checked as if it were a key
//! of its vending key's kind):
//! - 64-bit DES key (DKGA02): the first 3 bytes of DES-ECB encryption of 8 zero bytes under the
//!   key. This is the standard KCV of payment and metering HSMs (ANSI X9.24 practice); key
//!   `0123456789ABCDEF` gives `D5D44F`.
//! - 160-bit DKGA04 key: there is no standard KCV for an HMAC key. We use the first 3 bytes of
//!   HMAC-SHA-256(key, 8 zero bytes): the key's only use, applied to the same 8 zero bytes a
//!   DES KCV encrypts. A PKCS#11 token computes the same value with `CKM_SHA256_HMAC` on the
//!   stored key, so the token never has to reveal the key to be checked.

use core::fmt;
use core::str::FromStr;

use des::Des;
use des::cipher::{BlockEncrypt, KeyInit};
use hmac::Hmac;
use hmac::digest::{FixedOutput, Key, Update};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::derive::Dkga;
use crate::error::HsmError;
use crate::vending_key::VendingKey;

/// A key check value: 3 bytes, written as 6 upper-case hex digits. Not secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Kcv([u8; 3]);

impl Kcv {
    /// Wraps 3 bytes.
    pub const fn from_bytes(bytes: [u8; 3]) -> Self {
        Self(bytes)
    }

    /// The 3 bytes.
    pub const fn bytes(&self) -> [u8; 3] {
        self.0
    }

    /// The KCV of `bytes` taken as a key (or component) for `dkga`: DES-ECB of zeros for
    /// DKGA02 (8 bytes), HMAC-SHA-256 of zeros for DKGA04 (20 bytes). The caller checks the
    /// length; any other length is refused.
    pub fn of_key_bytes(dkga: Dkga, bytes: &[u8]) -> Result<Self, HsmError> {
        let expected = match dkga {
            Dkga::Dkga02 => 8,
            Dkga::Dkga04 => 20,
        };
        if bytes.len() != expected {
            return Err(HsmError::VendingKeyLength {
                dkga,
                expected,
                got: bytes.len(),
            });
        }
        Ok(match dkga {
            Dkga::Dkga02 => Self::des(bytes),
            Dkga::Dkga04 => Self::hmac(bytes),
        })
    }

    /// The KCV of a vending key.
    pub fn of(key: &VendingKey) -> Self {
        match key {
            VendingKey::Dkga02(k) => Self::des(k.expose_bytes()),
            VendingKey::Dkga04(k) => Self::hmac(k.expose_bytes()),
        }
    }

    /// The KCV of a DES encryption of 8 zero bytes (in software or by a token).
    pub fn from_des_output(block: &[u8]) -> Self {
        Self::leading(block)
    }

    /// The KCV of an HMAC-SHA-256 of 8 zero bytes (in software or by a token).
    pub fn from_hmac_output(mac: &[u8]) -> Self {
        Self::leading(mac)
    }

    fn leading(src: &[u8]) -> Self {
        let mut out = [0u8; 3];
        for (dst, s) in out.iter_mut().zip(src) {
            *dst = *s;
        }
        Self(out)
    }

    fn des(key: &[u8]) -> Self {
        // `key` is 8 bytes (checked by every caller); the schedule zeroizes itself on drop.
        let mut key_block = [0u8; 8];
        for (dst, src) in key_block.iter_mut().zip(key) {
            *dst = *src;
        }
        let cipher = Des::new((&key_block).into());
        key_block.zeroize();
        let mut block = [0u8; 8];
        cipher.encrypt_block((&mut block).into());
        Self::leading(&block)
    }

    fn hmac(key: &[u8]) -> Self {
        // Pad to the 64-byte block as RFC 2104 does, so `KeyInit::new` cannot fail.
        let mut key_block = Key::<Hmac<Sha256>>::default();
        for (dst, src) in key_block.iter_mut().zip(key) {
            *dst = *src;
        }
        let mut mac = <Hmac<Sha256> as KeyInit>::new(&key_block);
        key_block.as_mut_slice().zeroize();
        mac.update(&[0u8; 8]);
        Self::leading(&mac.finalize_fixed())
    }
}

impl fmt::Display for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{a:02X}{b:02X}{c:02X}")
    }
}

impl fmt::Debug for Kcv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kcv({self})")
    }
}

/// Why a KCV did not parse: it must be exactly 6 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KcvFormatError;

impl fmt::Display for KcvFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key check value is 6 hex digits")
    }
}

impl std::error::Error for KcvFormatError {}

impl FromStr for Kcv {
    type Err = KcvFormatError;

    fn from_str(s: &str) -> Result<Self, KcvFormatError> {
        let digits = s.as_bytes();
        if digits.len() != 6 {
            return Err(KcvFormatError);
        }
        let mut out = [0u8; 3];
        crate::hex::decode_into(digits, &mut out).map_err(|_| KcvFormatError)?;
        Ok(Self(out))
    }
}

impl serde::Serialize for Kcv {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Kcv {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <&str>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vending_key::{VendingKey64, VendingKey160};

    /// The widely published KCV of DES key 0123456789ABCDEF.
    #[test]
    fn des_kcv_matches_the_published_value() {
        let k = [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF];
        assert_eq!(
            Kcv::of_key_bytes(Dkga::Dkga02, &k).unwrap().to_string(),
            "D5D44F"
        );
    }

    /// Expected values from OpenSSL, an independent implementation:
    /// `openssl enc -des-ecb -K ABABABABABABABAB -nopad` of 8 zero bytes gives `c33f4517…`,
    /// `openssl dgst -sha256 -mac HMAC -macopt hexkey:abab…01234567` of 8 zero bytes `0f353d59…`.
    #[test]
    fn public_test_keys() {
        let k02 = VendingKey::Dkga02(VendingKey64::from_bytes([0xAB; 8]));
        assert_eq!(Kcv::of(&k02).to_string(), "C33F45");
        let k04 = VendingKey::Dkga04(
            VendingKey160::from_hex("abababababababab949494949494949401234567").unwrap(),
        );
        assert_eq!(Kcv::of(&k04).to_string(), "0F353D");
    }

    #[test]
    fn parses_and_refuses() {
        let k: Kcv = "c33f45".parse().unwrap();
        assert_eq!(k.bytes(), [0xC3, 0x3F, 0x45]);
        assert_eq!(format!("{k:?}"), "Kcv(C33F45)");
        assert!("C33F4".parse::<Kcv>().is_err());
        assert!("C33F4G".parse::<Kcv>().is_err());
        assert_eq!(
            Kcv::of_key_bytes(Dkga::Dkga04, &[0; 8]).unwrap_err(),
            HsmError::VendingKeyLength {
                dkga: Dkga::Dkga04,
                expected: 20,
                got: 8
            }
        );
    }
}
