//! Keys and who may touch them: meter identities, decoder-key derivation (DKGA02, DKGA04),
//! key stores and key ceremonies.
//!
//! Follows the project's brief of the standard (`shared/sts/`, cited as SPEC-crypto and
//! SPEC-codec); where sources disagree the choice is written beside the code.
//!
//! Key stores ([`KeyStore`]): [`Pkcs11Store`] (a PKCS#11 token, derivation inside it),
//! [`SealedSoftStore`] (a passphrase-sealed file, for development and tests) and
//! [`MemoryStore`]. Vending keys enter them through [`ceremony`]; the vending side reaches
//! them only through [`Issuer`]. The `sts-keys` binary drives ceremonies and store admin.
#![forbid(unsafe_code)]

mod atomic_file;
pub mod ceremony;
pub mod derive;
pub mod error;
mod hex;
pub mod ident;
pub mod issuer;
mod luhn;
mod passphrase;
pub mod softhsm;
pub mod store;
pub mod vending_key;

pub use ceremony::{AuditLog, Component, CustodianName, Kcv, Scheme, SchemeKind};
pub use derive::{
    ControlBlock, Dkga, Dkga04Message, MeterIdentity, derive_decoder_key, dkga02, dkga02_finish,
    dkga02_input, dkga04, dkga04_finish, dkga04_message,
};
pub use error::{
    CeremonyError, HexFault, HsmError, PanError, Pkcs11Error, SealedError, SecretField,
};
pub use ident::{Drn, Iin, MeterPan, PanBlock};
pub use issuer::{IssuedKeyChange, Issuer, KeyChangeOptions};
pub use passphrase::{Passphrase, Pin};
pub use store::sealed::format::KdfCost;
pub use store::{
    KeyStore, KeyUse, MemoryStore, Pkcs11Config, Pkcs11Store, SealedSoftStore, StoreLocation,
    VendingKeyId, VendingKeyRecord, Window,
};
pub use vending_key::{VendingKey, VendingKey64, VendingKey160};

/// The codec's meter identity types, re-exported so that every part of a meter's identity can
/// be found here.
pub use token_codec::{
    BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, SupplyGroupCode,
    TariffIndex,
};
/// The codec's key types, which derivation returns, and its error, which [`HsmError::Codec`]
/// carries.
pub use token_codec::{CodecError, DecoderKey, DecoderKey64, DecoderKey128, KeyWidth};
