//! TEST-ONLY sample keys, the public STS known-answer vector files, and the auditor tools that
//! use them: the `replay` command (the contract of the brief's VECTORS.md) and the `sts` CLI.
//!
//! Nothing here is for production: the sample vending keys are public test keys, and the tools
//! print key material on purpose, for auditors working with those keys.
#![forbid(unsafe_code)]

pub mod category;
pub mod cli;
mod derivation;
pub mod describe;
pub mod hex;
pub mod replay;
pub mod sample_keys;
pub mod sample_store;

pub use category::Category;
pub use replay::{Options, Replayer, Summary};
pub use sample_keys::{SampleKeyError, SampleVendingKey, sample_vending_keys};
