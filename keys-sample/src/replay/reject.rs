//! `reject`: `{"ea", "key", "digits", "expect": {"error": category}}`: decoding must fail with
//! that category: `format` (not 20 digits, not a number, > 2^66 − 1), `crc`, `function` (class
//! or subclass not supported), or `range` (a field outside its domain).

use token_codec::{EncryptionAlgorithm, decode_str};

use super::fault::Fault;
use super::json::Obj;
use super::{key, refusal_as_expected};
use crate::category::Category;
use crate::describe::describe;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let ea: EncryptionAlgorithm = line.parse("ea")?;
    let key_obj = line.obj("key")?;
    let dk = key::decoder_key(&key_obj, ea)?;
    let cipher = key::cipher(&key_obj, ea, &dk)?;
    // Raw text: parsing it is part of what may be refused.
    let digits = line.str("digits")?;
    let want: Category = line.obj("expect")?.parse("error")?;
    let decoded = decode_str(digits, &cipher).map(|t| format!("a token: {}", describe(&t)));
    refusal_as_expected("decode", want, decoded, Category::of_codec)
}
