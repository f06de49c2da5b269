//! Vending keys: the supply group's secret a decoder key is derived from (SPEC-crypto §5.1).
//!
//! A 64-bit key is a single-DES key for DKGA02; DKGA04 takes a 160-bit (20-byte) key. Both are
//! secrets: zeroized on drop, `Debug` redacted, no `Display`, no `Serialize`, no `Clone`,
//! compared in constant time. Errors about them give lengths and positions, never contents.

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::derive::Dkga;
use crate::error::{HsmError, SecretField};
use crate::hex;

macro_rules! vending_key {
    ($(#[$doc:meta])* $name:ident, $len:expr, $dkga:expr) => {
        $(#[$doc])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Key length in bytes.
            pub const LEN: usize = $len;

            /// The key derivation algorithm this key is for.
            pub const DKGA: Dkga = $dkga;

            /// Wraps key bytes. The caller zeroizes its own copy.
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Copies the key from a slice, failing unless it has exactly [`Self::LEN`] bytes.
            pub fn try_from_slice(bytes: &[u8]) -> Result<Self, HsmError> {
                if bytes.len() != Self::LEN {
                    return Err(Self::length_error(bytes.len()));
                }
                let mut key = Self([0; $len]);
                for (dst, src) in key.0.iter_mut().zip(bytes) {
                    *dst = *src;
                }
                Ok(key)
            }

            /// Parses the key from hex text (either case, no `0x`, no separators) straight into
            /// the zeroizing key buffer. Errors name the field and never echo the text; the
            /// caller zeroizes the text it owns.
            pub fn from_hex(text: &str) -> Result<Self, HsmError> {
                let digits = text.as_bytes();
                if digits.len() % 2 == 0 && digits.len() != 2 * Self::LEN {
                    return Err(Self::length_error(digits.len() / 2));
                }
                let mut key = Self([0; $len]);
                // On error `key` is dropped, and so zeroized, with any bytes already decoded.
                hex::decode_into(digits, &mut key.0)
                    .map_err(|fault| HsmError::SecretHex { field: SecretField::VendingKey, fault })?;
                Ok(key)
            }

            /// The key bytes. Secret: keep any copy in a zeroizing buffer.
            pub const fn expose_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            fn length_error(got: usize) -> HsmError {
                HsmError::VendingKeyLength { dkga: $dkga, expected: Self::LEN, got }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }

        impl ConstantTimeEq for $name {
            fn ct_eq(&self, other: &Self) -> subtle::Choice {
                self.0.ct_eq(&other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other).into()
            }
        }

        impl Eq for $name {}
    };
}

vending_key!(
    /// A 64-bit vending key (single-DES key) for DKGA02 (SPEC-crypto §5.4).
    ///
    /// Used exactly as given: no DES parity adjustment (brief decision 6; see
    /// [`crate::derive::dkga02_finish`]).
    VendingKey64,
    8,
    Dkga::Dkga02
);

vending_key!(
    /// A 160-bit vending key, the HMAC-SHA-256 key of DKGA04 (SPEC-crypto §5.7).
    VendingKey160,
    20,
    Dkga::Dkga04
);

/// A vending key of either kind; the kind decides the key derivation algorithm.
#[derive(Debug, PartialEq, Eq)]
pub enum VendingKey {
    /// A 64-bit key, derived with DKGA02.
    Dkga02(VendingKey64),
    /// A 160-bit key, derived with DKGA04.
    Dkga04(VendingKey160),
}

impl VendingKey {
    /// The key derivation algorithm this key is for.
    pub const fn dkga(&self) -> Dkga {
        match self {
            VendingKey::Dkga02(_) => Dkga::Dkga02,
            VendingKey::Dkga04(_) => Dkga::Dkga04,
        }
    }

    /// Parses a key for `dkga` from hex text (see [`VendingKey64::from_hex`]).
    pub fn from_hex(dkga: Dkga, text: &str) -> Result<Self, HsmError> {
        match dkga {
            Dkga::Dkga02 => VendingKey64::from_hex(text).map(Self::Dkga02),
            Dkga::Dkga04 => VendingKey160::from_hex(text).map(Self::Dkga04),
        }
    }

    /// Copies a key for `dkga` from a slice of the length `dkga` needs.
    pub fn try_from_slice(dkga: Dkga, bytes: &[u8]) -> Result<Self, HsmError> {
        match dkga {
            Dkga::Dkga02 => VendingKey64::try_from_slice(bytes).map(Self::Dkga02),
            Dkga::Dkga04 => VendingKey160::try_from_slice(bytes).map(Self::Dkga04),
        }
    }
}

impl From<VendingKey64> for VendingKey {
    fn from(k: VendingKey64) -> Self {
        Self::Dkga02(k)
    }
}

impl From<VendingKey160> for VendingKey {
    fn from(k: VendingKey160) -> Self {
        Self::Dkga04(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::HexFault;

    const VK64: &str = "ABABABABABABABAB";
    const VK160: &str = "abababababababab949494949494949401234567";

    #[test]
    fn parses_hex_in_either_case() {
        let k = VendingKey64::from_hex(VK64).unwrap();
        assert_eq!(k.expose_bytes(), &[0xAB; 8]);
        assert_eq!(k, VendingKey64::from_hex(&VK64.to_lowercase()).unwrap());
        let k = VendingKey160::from_hex(VK160).unwrap();
        assert_eq!(
            &k.expose_bytes()[8..],
            &[
                0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x01, 0x23, 0x45, 0x67
            ]
        );
        assert_eq!(k, VendingKey160::try_from_slice(k.expose_bytes()).unwrap());
        assert_ne!(
            VendingKey64::from_bytes([0xAB; 8]),
            VendingKey64::from_bytes([0xAA; 8])
        );
    }

    #[test]
    fn wrong_lengths_are_precise() {
        let err = VendingKey64::try_from_slice(&[0; 7]).unwrap_err();
        assert_eq!(
            err,
            HsmError::VendingKeyLength {
                dkga: Dkga::Dkga02,
                expected: 8,
                got: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "vending key must be 8 bytes for DKGA02, got 7"
        );
        let err = VendingKey160::try_from_slice(&[0; 8]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key must be 20 bytes for DKGA04, got 8"
        );
        let err = VendingKey64::from_hex("ABABABABABABAB").unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key must be 8 bytes for DKGA02, got 7"
        );
        let err = VendingKey::from_hex(Dkga::Dkga04, VK64).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key must be 20 bytes for DKGA04, got 8"
        );
        let err = VendingKey::try_from_slice(Dkga::Dkga02, &[0; 20]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key must be 8 bytes for DKGA02, got 20"
        );
    }

    #[test]
    fn bad_hex_names_the_field_and_hides_the_text() {
        let secret = "ABABABABABABABAZ";
        let err = VendingKey64::from_hex(secret).unwrap_err();
        assert_eq!(
            err,
            HsmError::SecretHex {
                field: SecretField::VendingKey,
                fault: HexFault::NotHex { position: 15 }
            }
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("AB") && !shown.contains('Z'), "{shown}");
        assert_eq!(
            err.to_string(),
            "vending key: character at position 15 is not a hex digit"
        );
        let err = VendingKey64::from_hex("ABABABABABABABA").unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key: odd number of hex digits (15)"
        );
        let err = VendingKey64::from_hex("0xABABABABABABAB").unwrap_err();
        assert_eq!(
            err.to_string(),
            "vending key: character at position 1 is not a hex digit"
        );
    }

    #[test]
    fn debug_is_redacted() {
        let k = VendingKey64::from_hex(VK64).unwrap();
        assert_eq!(format!("{k:?}"), "VendingKey64(<redacted>)");
        let k = VendingKey::from_hex(Dkga::Dkga04, VK160).unwrap();
        assert_eq!(k.dkga(), Dkga::Dkga04);
        assert_eq!(format!("{k:?}"), "Dkga04(VendingKey160(<redacted>))");
    }
}
