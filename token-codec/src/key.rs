//! Decoder keys and the key halves carried in key change tokens.
//!
//! All of them are secrets: zeroized on drop, `Debug` redacted, no `Display`, compared in
//! constant time. Bytes are in natural order, the order DES or HMAC outputs them
//! (brief README conventions; SPEC-crypto §5.4).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CodecError;
use crate::ident::{EncryptionAlgorithm, KeyWidth};

macro_rules! secret_bytes {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; $len]);

        impl $name {
            /// Key length in bytes.
            pub const LEN: usize = $len;

            /// Wraps key bytes (natural byte order).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// Builds the key from a slice, failing unless it has exactly [`Self::LEN`] bytes.
            pub fn try_from_slice(bytes: &[u8], algorithm: EncryptionAlgorithm) -> Result<Self, CodecError> {
                let arr: [u8; $len] = bytes.try_into().map_err(|_| CodecError::KeyLength {
                    algorithm,
                    expected_bits: $len * 8,
                    got_bits: u16::try_from(bytes.len().saturating_mul(8)).unwrap_or(u16::MAX),
                })?;
                Ok(Self(arr))
            }

            /// The key bytes. Secret: callers keep any copy in a zeroizing buffer.
            pub const fn expose_bytes(&self) -> &[u8; $len] {
                &self.0
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

secret_bytes!(
    /// A 64-bit decoder key (STA, DEA).
    DecoderKey64,
    8
);
secret_bytes!(
    /// A 128-bit decoder key (MISTY1).
    DecoderKey128,
    16
);

impl DecoderKey64 {
    /// The key as a big-endian integer, the form STA works on. Secret.
    pub const fn expose_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }
}

/// A decoder key of either width.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DecoderKey {
    /// 64-bit key.
    Bits64(DecoderKey64),
    /// 128-bit key.
    Bits128(DecoderKey128),
}

impl DecoderKey {
    /// Builds a key from 8 or 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes.len() {
            8 => DecoderKey64::try_from_slice(bytes, EncryptionAlgorithm::Sta).map(Self::Bits64),
            _ => {
                DecoderKey128::try_from_slice(bytes, EncryptionAlgorithm::Misty1).map(Self::Bits128)
            }
        }
    }

    /// The key's width.
    pub const fn width(&self) -> KeyWidth {
        match self {
            DecoderKey::Bits64(_) => KeyWidth::Bits64,
            DecoderKey::Bits128(_) => KeyWidth::Bits128,
        }
    }

    /// The key bytes (8 or 16). Secret.
    pub fn expose_bytes(&self) -> &[u8] {
        match self {
            DecoderKey::Bits64(k) => k.expose_bytes(),
            DecoderKey::Bits128(k) => k.expose_bytes(),
        }
    }
}

impl From<DecoderKey64> for DecoderKey {
    fn from(k: DecoderKey64) -> Self {
        Self::Bits64(k)
    }
}

impl From<DecoderKey128> for DecoderKey {
    fn from(k: DecoderKey128) -> Self {
        Self::Bits128(k)
    }
}

/// A 32-bit section of a new decoder key as carried by a key change token (NKHO, NKMO1, NKMO2,
/// NKLO; SPEC-crypto §6). Secret like the key it is part of.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyPart(u32);

impl KeyPart {
    /// Wraps a 32-bit key section.
    pub const fn new(bits: u32) -> Self {
        Self(bits)
    }

    /// The section's bits. Secret.
    pub const fn expose(&self) -> u32 {
        self.0
    }
}

impl fmt::Debug for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyPart(<redacted>)")
    }
}

impl ConstantTimeEq for KeyPart {
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for KeyPart {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for KeyPart {}

/// The key sections of a 64-bit key: (NKHO, NKLO) = bits 63..32, 31..0.
pub fn split_key64(key: &DecoderKey64) -> [KeyPart; 2] {
    let k = key.expose_bytes();
    [
        KeyPart(u32::from_be_bytes([k[0], k[1], k[2], k[3]])),
        KeyPart(u32::from_be_bytes([k[4], k[5], k[6], k[7]])),
    ]
}

/// Joins (NKHO, NKLO) into a 64-bit key.
pub fn join_key64(high: &KeyPart, low: &KeyPart) -> DecoderKey64 {
    let mut bytes = ((u64::from(high.0) << 32) | u64::from(low.0)).to_be_bytes();
    let key = DecoderKey64(bytes);
    bytes.zeroize();
    key
}

/// The key sections of a 128-bit key in key order: [NKHO, NKMO2, NKMO1, NKLO], bytes 0..4,
/// 4..8, 8..12, 12..16 (SPEC-crypto §6; transcription of clause 6.2.8.1).
pub fn split_key128(key: &DecoderKey128) -> [KeyPart; 4] {
    let k = key.expose_bytes();
    [
        KeyPart(u32::from_be_bytes([k[0], k[1], k[2], k[3]])),
        KeyPart(u32::from_be_bytes([k[4], k[5], k[6], k[7]])),
        KeyPart(u32::from_be_bytes([k[8], k[9], k[10], k[11]])),
        KeyPart(u32::from_be_bytes([k[12], k[13], k[14], k[15]])),
    ]
}

/// Joins [NKHO, NKMO2, NKMO1, NKLO] (key order) into a 128-bit key.
pub fn join_key128(parts: [&KeyPart; 4]) -> DecoderKey128 {
    let mut bytes = [0u8; 16];
    // Element-wise copies: no length check that could panic (and pull panic formatting
    // into meter firmware).
    for (chunk, part) in bytes.chunks_exact_mut(4).zip(parts) {
        for (dst, src) in chunk.iter_mut().zip(part.0.to_be_bytes()) {
            *dst = src;
        }
    }
    let key = DecoderKey128(bytes);
    bytes.zeroize();
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;

    #[test]
    fn debug_is_redacted() {
        let k = DecoderKey64::from_bytes([0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]);
        let s = format!("{k:?} {:?}", DecoderKey::from(k.clone()));
        assert!(
            !s.contains("E6") && !s.contains("e6") && !s.contains("230"),
            "{s}"
        );
        assert!(s.contains("redacted"));
        assert_eq!(
            format!("{:?}", KeyPart::new(0xDEADBEEF)),
            "KeyPart(<redacted>)"
        );
    }

    #[test]
    fn split_join_round_trip() {
        let k = DecoderKey64::from_bytes([1, 2, 3, 4, 5, 6, 7, 8]);
        let [h, l] = split_key64(&k);
        assert_eq!(h.expose(), 0x0102_0304);
        assert_eq!(join_key64(&h, &l), k);
        let k = DecoderKey128::from_bytes(core::array::from_fn(|i| u8::try_from(i).unwrap()));
        let [a, b, c, d] = split_key128(&k);
        assert_eq!(b.expose(), 0x0405_0607);
        assert_eq!(join_key128([&a, &b, &c, &d]), k);
    }

    #[test]
    fn wrong_length_is_an_error() {
        let err = DecoderKey64::try_from_slice(&[0; 7], EncryptionAlgorithm::Sta).unwrap_err();
        assert_eq!(
            err,
            CodecError::KeyLength {
                algorithm: EncryptionAlgorithm::Sta,
                expected_bits: 64,
                got_bits: 56
            }
        );
        assert!(DecoderKey::from_slice(&[0; 12]).is_err());
    }
}
