//! The public TEST vending keys of the STS compliance vectors (`keys/sample-vending-keys.json`).
//!
//! **TEST ONLY, NEVER FOR PRODUCTION.** These keys are public: they are printed in published
//! compliance test vectors, so every decoder key derived from them is known to anyone. They are
//! here so that the vending service's demo mode and the tests can reproduce the public vectors.

use core::fmt;

use hsm_core::{Dkga, HsmError, VendingKey};
use serde::Deserialize;
use token_codec::{BaseDate, CodecError, KeyRevision, SupplyGroupCode};

/// The key file, compiled in.
const FILE: &str = include_str!("../keys/sample-vending-keys.json");

#[derive(Deserialize)]
struct KeyFile {
    warning: String,
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
struct RawKey {
    id: String,
    dkga: String,
    sgc: String,
    krn: u8,
    base_date: u16,
    vending_key: String,
    source: String,
}

/// One public test vending key and the supply group, key revision and base date the public
/// vectors use it with.
///
/// The key is public (see the module docs); `Debug` still leaves it out, so that a demo log
/// never trains anyone to print vending keys.
#[derive(Clone, PartialEq, Eq)]
pub struct SampleVendingKey {
    id: String,
    dkga: Dkga,
    sgc: SupplyGroupCode,
    krn: KeyRevision,
    base_date: BaseDate,
    vending_key_hex: String,
    source: String,
}

impl SampleVendingKey {
    /// A name for the record, e.g. `dkga02-sgc123456-krn1`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The key derivation algorithm the key is for.
    pub const fn dkga(&self) -> Dkga {
        self.dkga
    }

    /// The supply group code the vectors use it with.
    pub const fn sgc(&self) -> SupplyGroupCode {
        self.sgc
    }

    /// The key revision number the vectors use it with.
    pub const fn krn(&self) -> KeyRevision {
        self.krn
    }

    /// The base date the vectors use it with (an input of DKGA04; DKGA02 binds it through the
    /// choice of vending key).
    pub const fn base_date(&self) -> BaseDate {
        self.base_date
    }

    /// Where the key was published.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The vending key, parsed. Public test key: TEST ONLY.
    pub fn vending_key(&self) -> Result<VendingKey, HsmError> {
        VendingKey::from_hex(self.dkga, &self.vending_key_hex)
    }
}

impl fmt::Debug for SampleVendingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SampleVendingKey")
            .field("id", &self.id)
            .field("dkga", &self.dkga)
            .field("sgc", &self.sgc)
            .field("krn", &self.krn)
            .field("base_date", &self.base_date)
            .field("vending_key", &"<public test key>")
            .finish()
    }
}

/// Why the compiled-in key file could not be read (a fault in this crate's data, not in the
/// caller's input).
#[non_exhaustive]
#[derive(Debug)]
pub enum SampleKeyError {
    /// The file is not the expected JSON.
    Json(serde_json::Error),
    /// The file lost its TEST ONLY warning.
    MissingWarning,
    /// A record's field is invalid.
    Codec {
        /// The record's id.
        id: String,
        /// The field.
        field: &'static str,
        /// Why.
        error: CodecError,
    },
    /// A record's DKGA or vending key is invalid.
    Hsm {
        /// The record's id.
        id: String,
        /// The field.
        field: &'static str,
        /// Why.
        error: HsmError,
    },
}

impl fmt::Display for SampleKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SampleKeyError::Json(e) => write!(f, "sample key file: {e}"),
            SampleKeyError::MissingWarning => {
                f.write_str("sample key file: the TEST ONLY warning is missing")
            }
            SampleKeyError::Codec { id, field, error } => {
                write!(f, "sample key {id}: {field}: {error}")
            }
            SampleKeyError::Hsm { id, field, error } => {
                write!(f, "sample key {id}: {field}: {error}")
            }
        }
    }
}

impl std::error::Error for SampleKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SampleKeyError::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// The public TEST vending keys, parsed and checked. These keys are public (published with
/// the STS compliance vectors): TEST ONLY, NEVER FOR PRODUCTION.
pub fn sample_vending_keys() -> Result<Vec<SampleVendingKey>, SampleKeyError> {
    let file: KeyFile = serde_json::from_str(FILE).map_err(SampleKeyError::Json)?;
    if !file.warning.starts_with("TEST ONLY, NEVER FOR PRODUCTION") {
        return Err(SampleKeyError::MissingWarning);
    }
    file.keys.into_iter().map(parse).collect()
}

fn parse(raw: RawKey) -> Result<SampleVendingKey, SampleKeyError> {
    let codec = |field, error| SampleKeyError::Codec {
        id: raw.id.clone(),
        field,
        error,
    };
    let hsm = |field, error| SampleKeyError::Hsm {
        id: raw.id.clone(),
        field,
        error,
    };
    let dkga: Dkga = raw.dkga.parse().map_err(|e| hsm("dkga", e))?;
    // Checked once here, so `vending_key()` only fails if this file is edited badly.
    VendingKey::from_hex(dkga, &raw.vending_key).map_err(|e| hsm("vending_key", e))?;
    Ok(SampleVendingKey {
        dkga,
        sgc: raw.sgc.parse().map_err(|e| codec("sgc", e))?,
        krn: KeyRevision::new(raw.krn).map_err(|e| codec("krn", e))?,
        base_date: BaseDate::from_year(raw.base_date).map_err(|e| codec("base_date", e))?,
        vending_key_hex: raw.vending_key.clone(),
        source: raw.source.clone(),
        id: raw.id.clone(),
    })
}
