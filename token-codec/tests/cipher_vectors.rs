//! Replays the `cipher` vectors of `keys-sample/vectors/primitives.jsonl` (a copy of the
//! brief's `shared/sts/vectors/primitives.jsonl`: RFC 2994 MISTY1 test data, NectarAPI CTSA
//! STA blocks, the DES step of DKGA02; each line names its source) through [`AnyCipher`], in
//! both directions. Format: `shared/sts/VECTORS.md`.
//!
//! The JSON is scanned minimally (no serde): only the string fields `kind`, `id`, `ea`, `key`,
//! `plain` and `cipher` of one-line objects are read.

// Test code: a panic is a failing test, and vector data is checked by the assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::cast_possible_truncation)]

use std::str::FromStr;

use token_codec::{AnyCipher, DecoderKey, EncryptionAlgorithm, TokenCipher};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../keys-sample/vectors/primitives.jsonl"
);

/// The string value of the first `"name": "value"` pair in `line`, if any.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let quoted = format!("\"{name}\"");
    let mut rest = line;
    while let Some(at) = rest.find(&quoted) {
        rest = &rest[at + quoted.len()..];
        let after = rest.trim_start();
        // A key is followed by ':'; the same text used as a value (e.g. "kind": "cipher") is not.
        if let Some(value) = after
            .strip_prefix(':')
            .map(str::trim_start)
            .and_then(|v| v.strip_prefix('"'))
        {
            return value.find('"').map(|end| &value[..end]);
        }
    }
    None
}

fn hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return Err(format!("bad hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex {s:?}: {e}")))
        .collect()
}

fn hex_u64(s: &str) -> Result<u64, String> {
    if s.len() != 16 {
        return Err(format!("block {s:?} is not 16 hex digits"));
    }
    u64::from_str_radix(s, 16).map_err(|e| format!("bad block {s:?}: {e}"))
}

/// Whether this build of the crate has the algorithm's cargo feature on.
fn compiled_in(ea: EncryptionAlgorithm) -> bool {
    match ea {
        EncryptionAlgorithm::Sta => cfg!(feature = "sta"),
        EncryptionAlgorithm::Dea => cfg!(feature = "dea"),
        EncryptionAlgorithm::Misty1 => cfg!(feature = "misty1"),
    }
}

/// Checks one `cipher` line: `Ok(true)` passed, `Ok(false)` skipped because the algorithm's
/// feature is off in this build, `Err` says what differed.
fn check(line: &str) -> Result<bool, String> {
    let get = |name: &str| field(line, name).ok_or_else(|| format!("no \"{name}\" field"));
    let ea = EncryptionAlgorithm::from_str(get("ea")?).map_err(|e| format!("ea: {e}"))?;
    if !compiled_in(ea) {
        return Ok(false);
    }
    let key = DecoderKey::from_slice(&hex_bytes(get("key")?)?).map_err(|e| format!("key: {e}"))?;
    let plain = hex_u64(get("plain")?)?;
    let cipher = hex_u64(get("cipher")?)?;
    let c = AnyCipher::new(ea, &key).map_err(|e| format!("{ea}: {e}"))?;
    let got = c.encrypt(plain);
    if got != cipher {
        return Err(format!(
            "{ea} encrypt: expected {cipher:016X}, got {got:016X}"
        ));
    }
    let got = c.decrypt(cipher);
    if got != plain {
        return Err(format!(
            "{ea} decrypt: expected {plain:016X}, got {got:016X}"
        ));
    }
    Ok(true)
}

#[test]
fn cipher_vectors_from_primitives_jsonl() {
    let text = std::fs::read_to_string(FILE).unwrap_or_else(|e| panic!("cannot read {FILE}: {e}"));
    let (mut passed, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || field(line, "kind") != Some("cipher") {
            continue;
        }
        match check(line) {
            Ok(true) => passed += 1,
            Ok(false) => skipped += 1,
            Err(what) => {
                let id = field(line, "id").unwrap_or("?");
                failures.push(format!("FAIL {FILE}:{} {id}: {what}", n + 1));
            }
        }
    }
    eprintln!(
        "{FILE}: {passed} passed, {} failed, {skipped} skipped (feature off)",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} passed, {} failed\n{}",
        passed,
        failures.len(),
        failures.join("\n")
    );
    assert!(
        passed > 0,
        "no `cipher` vectors for a compiled-in algorithm found in {FILE}"
    );
}

#[test]
fn field_scanner_skips_values_that_look_like_keys() {
    let line = r#"{"kind": "cipher", "key": "AB", "expect": {"cipher": "CD"}}"#;
    assert_eq!(field(line, "kind"), Some("cipher"));
    assert_eq!(field(line, "cipher"), Some("CD"));
    assert_eq!(field(line, "key"), Some("AB"));
    assert_eq!(field(line, "plain"), None);
}
