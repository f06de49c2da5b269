//! The block cipher seam between the carrier and the encryption algorithms.

use crate::error::CodecError;
use crate::ident::EncryptionAlgorithm;
use crate::key::DecoderKey;

/// A 64-bit block cipher keyed with one meter's decoder key.
///
/// Blocks are the 64-bit token data block as an integer (bit 63 = subclass MSB); each algorithm
/// serialises it as its specification requires (SPEC-crypto §0).
pub trait TokenCipher {
    /// Which STS encryption algorithm this is (decides the key change set shape).
    fn algorithm(&self) -> EncryptionAlgorithm;
    /// Encrypts one data block.
    fn encrypt(&self, block: u64) -> u64;
    /// Decrypts one data block.
    fn decrypt(&self, block: u64) -> u64;
}

impl<C: TokenCipher + ?Sized> TokenCipher for &C {
    fn algorithm(&self) -> EncryptionAlgorithm {
        (**self).algorithm()
    }
    fn encrypt(&self, block: u64) -> u64 {
        (**self).encrypt(block)
    }
    fn decrypt(&self, block: u64) -> u64 {
        (**self).decrypt(block)
    }
}

/// Any compiled-in algorithm, chosen at run time from a meter's EA code.
#[derive(Clone)]
#[non_exhaustive]
pub enum AnyCipher {
    /// EA07.
    #[cfg(feature = "sta")]
    Sta(crate::sta::Sta),
    /// EA09.
    #[cfg(feature = "dea")]
    Dea(crate::dea::Dea),
    /// EA11.
    #[cfg(feature = "misty1")]
    Misty1(crate::misty1::Misty1),
}

impl core::fmt::Debug for AnyCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AnyCipher({}, <redacted>)", self.algorithm())
    }
}

impl AnyCipher {
    /// Keys `algorithm` with `key`; fails if the key has the wrong width or the algorithm is
    /// not compiled in.
    pub fn new(algorithm: EncryptionAlgorithm, key: &DecoderKey) -> Result<Self, CodecError> {
        let wrong_width = CodecError::KeyLength {
            algorithm,
            expected_bits: algorithm.key_width().bits(),
            got_bits: key.width().bits(),
        };
        match (algorithm, key) {
            #[cfg(feature = "sta")]
            (EncryptionAlgorithm::Sta, DecoderKey::Bits64(k)) => {
                Ok(Self::Sta(crate::sta::Sta::new(k)))
            }
            #[cfg(feature = "dea")]
            (EncryptionAlgorithm::Dea, DecoderKey::Bits64(k)) => {
                Ok(Self::Dea(crate::dea::Dea::new(k)))
            }
            #[cfg(feature = "misty1")]
            (EncryptionAlgorithm::Misty1, DecoderKey::Bits128(k)) => {
                Ok(Self::Misty1(crate::misty1::Misty1::new(k)))
            }
            _ if key.width() != algorithm.key_width() => Err(wrong_width),
            _ => Err(CodecError::AlgorithmUnavailable { algorithm }),
        }
    }
}

impl TokenCipher for AnyCipher {
    fn algorithm(&self) -> EncryptionAlgorithm {
        match self {
            #[cfg(feature = "sta")]
            Self::Sta(c) => c.algorithm(),
            #[cfg(feature = "dea")]
            Self::Dea(c) => c.algorithm(),
            #[cfg(feature = "misty1")]
            Self::Misty1(c) => c.algorithm(),
        }
    }

    fn encrypt(&self, block: u64) -> u64 {
        match self {
            #[cfg(feature = "sta")]
            Self::Sta(c) => c.encrypt(block),
            #[cfg(feature = "dea")]
            Self::Dea(c) => c.encrypt(block),
            #[cfg(feature = "misty1")]
            Self::Misty1(c) => c.encrypt(block),
        }
    }

    fn decrypt(&self, block: u64) -> u64 {
        match self {
            #[cfg(feature = "sta")]
            Self::Sta(c) => c.decrypt(block),
            #[cfg(feature = "dea")]
            Self::Dea(c) => c.decrypt(block),
            #[cfg(feature = "misty1")]
            Self::Misty1(c) => c.decrypt(block),
        }
    }
}
