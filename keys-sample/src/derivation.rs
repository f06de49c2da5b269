//! Decoder key derivation from text inputs, shared by `replay` (vector fields) and `sts derive`
//! (command-line options). Each refusal names the input by its vector field name and carries
//! its [`Category`].

use core::fmt;

use hsm_core::{Dkga, HsmError, MeterIdentity, MeterPan, PanError, VendingKey, derive_decoder_key};
use token_codec::{
    BaseDate, CodecError, DecoderKey, EncryptionAlgorithm, KeyRevision, KeyType, SupplyGroupCode,
    TariffIndex,
};

use crate::category::Category;

/// The inputs of a derivation, as vector files and the CLI give them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inputs<'a> {
    pub(crate) dkga: &'a str,
    /// Hex; secret in production, a public test key here.
    pub(crate) vending_key: &'a str,
    pub(crate) meter_pan: &'a str,
    pub(crate) sgc: &'a str,
    pub(crate) ti: &'a str,
    pub(crate) krn: u8,
    pub(crate) kt: u8,
    /// Required by DKGA04; DKGA02 does not read it (its vending key binds the base date).
    pub(crate) base_date: Option<u16>,
}

/// A refused input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// Vector field name of the input (`meter_pan`, `vending_key`…).
    pub(crate) field: &'static str,
    pub(crate) category: Category,
    pub(crate) reason: String,
}

impl Refused {
    fn codec(field: &'static str, e: &CodecError) -> Self {
        Self {
            field,
            category: Category::of_codec(e).unwrap_or(Category::Range),
            reason: e.to_string(),
        }
    }

    fn hsm(field: &'static str, e: &HsmError) -> Self {
        let reason = match e {
            // The field name already says "meter pan"; keep the evidence only.
            HsmError::MeterPan(PanError::PanCheckDigit { expected, got }) => {
                format!("check digit: expected {expected}, got {got}")
            }
            other => other.to_string(),
        };
        Self {
            field,
            category: Category::of_hsm(e),
            reason,
        }
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// Derives the decoder key, checking the inputs in derivation order: DKGA, base date, vending
/// key, PAN, SGC, TI, KRN, KT.
pub(crate) fn derive(inputs: &Inputs<'_>, ea: EncryptionAlgorithm) -> Result<DecoderKey, Refused> {
    let dkga: Dkga = inputs.dkga.parse().map_err(|e| Refused::hsm("dkga", &e))?;
    let base_date = match (inputs.base_date, dkga) {
        (Some(year), _) => {
            BaseDate::from_year(year).map_err(|e| Refused::codec("base_date", &e))?
        }
        (None, Dkga::Dkga04) => {
            return Err(Refused {
                field: "base_date",
                category: Category::Format,
                reason: "required for DKGA04 (1993, 2014 or 2035)".to_owned(),
            });
        }
        // Not read by DKGA02.
        (None, Dkga::Dkga02) => BaseDate::Y1993,
    };
    let digits = match dkga {
        Dkga::Dkga02 => 16,
        Dkga::Dkga04 => 40,
    };
    let got = inputs.vending_key.chars().count();
    if got != digits {
        return Err(Refused {
            field: "vending_key",
            category: Category::Format,
            reason: format!(
                "expected {digits} hex digits for a {}-bit {dkga} vending key, got {got}",
                digits * 4
            ),
        });
    }
    let vk = VendingKey::from_hex(dkga, inputs.vending_key)
        .map_err(|e| Refused::hsm("vending_key", &e))?;
    let pan: MeterPan = inputs
        .meter_pan
        .parse()
        .map_err(|e| Refused::hsm("meter_pan", &e))?;
    let sgc: SupplyGroupCode = inputs.sgc.parse().map_err(|e| Refused::codec("sgc", &e))?;
    let ti: TariffIndex = inputs.ti.parse().map_err(|e| Refused::codec("ti", &e))?;
    let krn = KeyRevision::new(inputs.krn).map_err(|e| Refused::codec("krn", &e))?;
    let kt = KeyType::try_from(inputs.kt).map_err(|e| Refused::codec("kt", &e))?;
    let id = MeterIdentity::new(pan, sgc, ti, krn, kt);
    derive_decoder_key(&vk, &id, base_date, ea).map_err(|e| {
        let field = match e {
            HsmError::Dkga04CommonKey => "kt",
            _ => "dkga",
        };
        Refused::hsm(field, &e)
    })
}
