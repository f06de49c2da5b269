//! `KEY` objects (VECTORS.md): a literal `{"decoder_key": hex}` or the inputs of a derivation
//! (`dkga`, `vending_key`, `meter_pan`, `sgc`, `ti`, `krn`, `kt`, and for DKGA04 `base_date`,
//! `key_bits`).
//!
//! Two kinds of failure are kept apart: a field of the wrong JSON type or missing is a fault of
//! the vector ([`Fault`]); a well-typed value that derivation refuses (a PAN with a wrong Luhn
//! digit, a vending key of the wrong length, KRN 0) is a [`Refusal`], which a `decoder_key`
//! vector may expect (`"expect": {"error": "format"}`).

use core::fmt;

use token_codec::{
    AnyCipher, DecoderKey, DecoderKey64, DecoderKey128, EncryptionAlgorithm, KeyWidth,
};
use zeroize::Zeroizing;

use super::fault::Fault;
use super::json::Obj;
use crate::category::Category;
use crate::derivation::{self, Inputs};
use crate::hex::{self, HexError};

/// A derivation input that is well typed but refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// Path of the field refused.
    pub(crate) field: String,
    /// What kind of refusal it is.
    pub(crate) category: Category,
    /// Why.
    pub(crate) reason: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field {:?}: {}", self.field, self.reason)
    }
}

impl From<Refusal> for Fault {
    fn from(r: Refusal) -> Self {
        Fault::Invalid {
            field: r.field,
            reason: r.reason,
        }
    }
}

/// The decoder key `obj` describes for algorithm `ea`: `decoder_key` if present (other fields
/// are then ignored), else the derivation inputs.
pub(crate) fn decoder_key(obj: &Obj<'_>, ea: EncryptionAlgorithm) -> Result<DecoderKey, Fault> {
    if obj.has("decoder_key") {
        literal(obj, "decoder_key", ea)
    } else if !["dkga", "vending_key", "meter_pan"]
        .iter()
        .any(|name| obj.has(name))
    {
        Err(Fault::MissingBecause {
            field: obj.path("decoder_key"),
            why: "give it, or the derivation inputs dkga, vending_key, meter_pan, sgc, ti, krn, kt",
        })
    } else {
        derive(obj, ea)?.map_err(Fault::from)
    }
}

/// A decoder key given as hex, which must be as wide as `ea` needs.
pub(crate) fn literal(
    obj: &Obj<'_>,
    name: &str,
    ea: EncryptionAlgorithm,
) -> Result<DecoderKey, Fault> {
    let text = obj.str(name)?;
    let refused = |e: HexError| match e {
        HexError::Length { .. } => obj.invalid(
            name,
            format_args!("{e} ({ea} takes a {}-bit key)", ea.key_width().bits()),
        ),
        _ => obj.invalid(name, e),
    };
    match ea.key_width() {
        KeyWidth::Bits64 => {
            let mut bytes = Zeroizing::new([0u8; DecoderKey64::LEN]);
            hex::decode_into(text, bytes.as_mut_slice()).map_err(refused)?;
            Ok(DecoderKey64::from_bytes(*bytes).into())
        }
        KeyWidth::Bits128 => {
            let mut bytes = Zeroizing::new([0u8; DecoderKey128::LEN]);
            hex::decode_into(text, bytes.as_mut_slice()).map_err(refused)?;
            Ok(DecoderKey128::from_bytes(*bytes).into())
        }
    }
}

/// The key `ea` is keyed with; `at` names the key's object in errors.
pub(crate) fn cipher(
    at: &Obj<'_>,
    ea: EncryptionAlgorithm,
    key: &DecoderKey,
) -> Result<AnyCipher, Fault> {
    AnyCipher::new(ea, key).map_err(|e| Fault::invalid(at.own_path(), e))
}

/// Derives the decoder key from the inputs in `obj`. DKGA04 reads `base_date` from `obj` and
/// uses `ea` in its message; `key_bits`, where given, must agree with `ea`.
pub(crate) fn derive(
    obj: &Obj<'_>,
    ea: EncryptionAlgorithm,
) -> Result<Result<DecoderKey, Refusal>, Fault> {
    // Shape first: every field present with its JSON type.
    let dkga = obj.str("dkga")?;
    let vending_key = obj.str("vending_key")?;
    let meter_pan = obj.str("meter_pan")?;
    let sgc = obj.str("sgc")?;
    let ti = obj.str("ti")?;
    let krn = obj.u8("krn")?;
    let kt = obj.u8("kt")?;
    let base_date = if obj.has("base_date") {
        Some(obj.u16("base_date")?)
    } else {
        None
    };
    if let Some(bits) = obj.opt_uint("key_bits", u64::from(u16::MAX))? {
        let need = ea.key_width().bits();
        if bits != u64::from(need) {
            return Err(Fault::Vector {
                reason: format!(
                    "{} is {bits} but ea {ea} needs a {need}-bit key",
                    obj.path("key_bits")
                ),
            });
        }
    }

    if base_date.is_none() && dkga == "04" {
        return Err(Fault::Missing {
            field: obj.path("base_date"),
        });
    }
    let inputs = Inputs {
        dkga,
        vending_key,
        meter_pan,
        sgc,
        ti,
        krn,
        kt,
        base_date,
    };
    Ok(derivation::derive(&inputs, ea).map_err(|r| Refusal {
        field: obj.path(r.field),
        category: r.category,
        reason: r.reason,
    }))
}
