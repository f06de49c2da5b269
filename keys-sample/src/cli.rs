//! The `sts` CLI's work as functions returning serializable values, so tests call them without
//! a process. The binary only parses options and prints.
//!
//! An auditor's tool for TEST keys: `derive` returns a decoder key in clear and `decode` shows
//! key change sections.

use core::fmt;

use serde::Serialize;
use serde_json::json;
use token_codec::codec::open;
use token_codec::{
    AnyCipher, DecoderKey, DecoderKey64, DecoderKey128, EncryptionAlgorithm, KeyWidth, Token,
    TokenDigits,
};
use zeroize::{Zeroize, Zeroizing};

use crate::category::Category;
use crate::derivation::{self, Inputs};
use crate::describe::{Fields, describe};
use crate::hex;

/// Why a command gave no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// An option the command cannot use (a key of the wrong length, an unknown EA).
    Argument {
        /// The option (`--key`).
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The codec or the derivation refused the input: the answer to the question asked.
    Refused {
        /// The category a vector would name.
        category: Category,
        /// What was refused and why.
        message: String,
    },
}

impl CliError {
    /// The category printed: a vector category, or `argument`.
    pub fn category(&self) -> &'static str {
        match self {
            CliError::Argument { .. } => "argument",
            CliError::Refused { category, .. } => category.name(),
        }
    }

    /// `{"error": {"category": …, "message": …}}`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({"error": {"category": self.category(), "message": self.to_string()}})
    }

    /// Exit status: 2 for a bad option (as for a usage error), 1 for a refusal.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Argument { .. } => 2,
            CliError::Refused { .. } => 1,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Argument { option, reason } => write!(f, "{option}: {reason}"),
            CliError::Refused { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for CliError {}

fn argument(option: &'static str, reason: impl fmt::Display) -> CliError {
    CliError::Argument {
        option,
        reason: reason.to_string(),
    }
}

/// A decoded token, as `sts decode` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Decoded {
    /// The 20 digits.
    pub digits: String,
    /// Token class.
    pub class: u8,
    /// Subclass.
    pub subclass: u8,
    /// The token function (`transfer_credit`…).
    pub kind: &'static str,
    /// Every field, by its vector name.
    pub fields: Fields,
    /// Values derived from the fields (utility, credited units).
    #[serde(skip_serializing_if = "is_empty")]
    pub derived: Fields,
    /// The plain 64-bit block, hex.
    pub block: String,
}

fn is_empty(f: &Fields) -> bool {
    f.0.is_empty()
}

/// Parses an EA code (`07`, `09`, `11`).
fn algorithm(ea: &str) -> Result<EncryptionAlgorithm, CliError> {
    ea.parse().map_err(|e| argument("--ea", e))
}

/// `sts decode`: decodes `digits` (separators allowed) with the decoder key `key_hex` under
/// algorithm `ea`.
pub fn decode(ea: &str, key_hex: &str, digits: &str) -> Result<Decoded, CliError> {
    let ea = algorithm(ea)?;
    let key = decoder_key(ea, key_hex)?;
    let cipher = AnyCipher::new(ea, &key).map_err(|e| argument("--key", e))?;
    let refused = |e: token_codec::CodecError| CliError::Refused {
        category: Category::of_codec(&e).unwrap_or(Category::Function),
        message: e.to_string(),
    };
    let digits = TokenDigits::parse(digits).map_err(refused)?;
    let (class, block) = open(&digits, &cipher).map_err(refused)?;
    let token = Token::from_block(class, block, ea.key_width()).map_err(refused)?;
    let view = describe(&token);
    Ok(Decoded {
        digits: digits.to_string(),
        class: view.class,
        subclass: view.subclass,
        kind: view.kind,
        fields: view.fields,
        derived: view.derived,
        block: format!("{block:016X}"),
    })
}

fn decoder_key(ea: EncryptionAlgorithm, text: &str) -> Result<DecoderKey, CliError> {
    let refused = |e: hex::HexError| match e {
        hex::HexError::Length { .. } => argument(
            "--key",
            format_args!("{e} ({ea} takes a {}-bit key)", ea.key_width().bits()),
        ),
        _ => argument("--key", e),
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

/// The options of `sts derive`, as text.
#[derive(Debug, Clone, Copy)]
pub struct DeriveRequest<'a> {
    /// `--dkga`: `02` or `04`.
    pub dkga: &'a str,
    /// `--vending-key`: hex (a TEST key).
    pub vending_key: &'a str,
    /// `--pan`: the 18-digit meter PAN.
    pub pan: &'a str,
    /// `--sgc`: six digits.
    pub sgc: &'a str,
    /// `--ti`: two digits.
    pub ti: &'a str,
    /// `--krn`: 1..=9.
    pub krn: &'a str,
    /// `--kt`: 0..=3.
    pub kt: &'a str,
    /// `--base-date`: 1993, 2014 or 2035 (required for DKGA04).
    pub base_date: Option<&'a str>,
    /// `--ea`: `07`, `09` or `11`.
    pub ea: &'a str,
}

/// A derived decoder key, as `sts derive` prints it. Secret key material.
#[derive(Debug, Clone, Serialize)]
pub struct Derived {
    /// The key derivation algorithm, `02` or `04`.
    pub dkga: String,
    /// The encryption algorithm, `07`, `09` or `11`.
    pub ea: String,
    /// 64 or 128.
    pub key_bits: u16,
    /// The decoder key, hex, natural byte order (SPEC-crypto §5.4).
    pub decoder_key: String,
}

impl Drop for Derived {
    fn drop(&mut self) {
        self.decoder_key.zeroize();
    }
}

/// The option name of a derivation input.
fn option_of(field: &str) -> &'static str {
    match field {
        "dkga" => "--dkga",
        "vending_key" => "--vending-key",
        "meter_pan" => "--pan",
        "sgc" => "--sgc",
        "ti" => "--ti",
        "krn" => "--krn",
        "kt" => "--kt",
        "base_date" => "--base-date",
        _ => "--ea",
    }
}

fn small_number<T: TryFrom<u64>>(option: &'static str, text: &str) -> Result<T, CliError> {
    text.parse::<u64>()
        .ok()
        .and_then(|v| T::try_from(v).ok())
        .ok_or_else(|| CliError::Refused {
            category: Category::Format,
            message: format!("{option}: expected a small decimal number, got {text:?}"),
        })
}

/// `sts derive`: the decoder key of a meter.
pub fn derive(req: &DeriveRequest<'_>) -> Result<Derived, CliError> {
    let ea = algorithm(req.ea)?;
    let inputs = Inputs {
        dkga: req.dkga,
        vending_key: req.vending_key,
        meter_pan: req.pan,
        sgc: req.sgc,
        ti: req.ti,
        krn: small_number("--krn", req.krn)?,
        kt: small_number("--kt", req.kt)?,
        base_date: req
            .base_date
            .map(|y| small_number("--base-date", y))
            .transpose()?,
    };
    let key = derivation::derive(&inputs, ea).map_err(|r| CliError::Refused {
        category: r.category,
        message: format!("{}: {}", option_of(r.field), r.reason),
    })?;
    Ok(Derived {
        dkga: req.dkga.to_owned(),
        ea: format!("{:02}", ea.code()),
        key_bits: ea.key_width().bits(),
        decoder_key: hex::upper(key.expose_bytes()),
    })
}
