//! STS (IEC 62055-41) token codec: the 66-bit carrier and 20 digits, every token layout, CRC,
//! amounts, TIDs, the encryption algorithms and the meter-side decoder.
//!
//! `no_std` and allocation-free: shared by vending servers and meter firmware. Every layout
//! follows the project's brief of the standard (`shared/sts/`, cited as SPEC-codec and
//! SPEC-crypto); where sources disagree the choice is written beside the code.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(not(any(feature = "sta", feature = "dea", feature = "misty1")))]
compile_error!("token-codec needs at least one cipher feature: sta, dea or misty1");

pub mod amount;
pub mod carrier;
pub mod cipher;
pub mod codec;
mod consts;
pub mod crc;
#[cfg(feature = "dea")]
pub mod dea;
pub mod digits;
pub mod error;
pub mod ident;
pub mod key;
pub mod meter;
#[cfg(feature = "misty1")]
pub mod misty1;
#[cfg(feature = "sta")]
pub mod sta;
pub mod tid;
pub mod token;

pub use amount::{CurrencyAmount, TransferAmount};
pub use cipher::{AnyCipher, TokenCipher};
pub use codec::{decode, decode_str, encode, encode_set, encode_unencrypted};
pub use digits::{TokenDigits, TokenNumber};
pub use error::{CodecError, Field};
pub use ident::{
    BaseDate, EncryptionAlgorithm, KenNibble, KeyExpiryNumber, KeyRevision, KeyType, KeyWidth, Rnd,
    Subclass, SupplyGroupCode, TariffIndex, TokenClass,
};
pub use key::{DecoderKey, DecoderKey64, DecoderKey128, KeyPart};
pub use meter::{Accepted, Meter, MeterConfig, Rejection};
pub use tid::{Tid, UtcMinute};
pub use token::Token;
