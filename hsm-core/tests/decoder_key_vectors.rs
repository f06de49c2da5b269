//! Replays every `decoder_key` vector of `keys-sample/vectors/*.jsonl` (format: the brief's
//! VECTORS.md; sources named on each line: NectarAPI's STS 531-1-0 compliance tests and the
//! STSCompliancePOS list, SPEC-crypto §7) through `derive_decoder_key`.
//!
//! Fails if no vector was found; each failure names `file:line id`.

// The whole file is a test: its helpers fail the test by panicking, as assertions do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, HsmError, KeyRevision, KeyType, MeterIdentity, MeterPan,
    SupplyGroupCode, TariffIndex, VendingKey, derive_decoder_key,
};
use serde_json::Value;

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../keys-sample/vectors");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

fn str_field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v[name]
        .as_str()
        .ok_or_else(|| format!("field {name:?} missing or not a string"))
}

fn u8_field(v: &Value, name: &str) -> Result<u8, String> {
    v[name]
        .as_u64()
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| format!("field {name:?} missing or not a small integer"))
}

fn hex_to_bytes(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return Err(format!("bad hex {s:?}"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| format!("bad hex {s:?}: {e}")))
        .collect()
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// Derives the key a vector describes. DKGA02 vectors carry no `ea` or `base_date`: they are
/// 64-bit keys (STA) and DKGA02 does not read the base date.
fn derive(v: &Value) -> Result<Result<Vec<u8>, HsmError>, String> {
    let dkga: Dkga = match str_field(v, "dkga")?.parse() {
        Ok(d) => d,
        Err(e) => return Ok(Err(e)),
    };
    let ea = match v.get("ea") {
        Some(_) => str_field(v, "ea")?
            .parse::<EncryptionAlgorithm>()
            .map_err(|e| e.to_string())?,
        None => EncryptionAlgorithm::Sta,
    };
    if let Some(bits) = v.get("key_bits") {
        let want = u64::from(ea.key_width().bits());
        if bits.as_u64() != Some(want) {
            return Err(format!("key_bits {bits} does not match {ea} ({want} bits)"));
        }
    }
    let base_date = match v.get("base_date") {
        Some(y) => {
            let year = y
                .as_u64()
                .and_then(|y| u16::try_from(y).ok())
                .ok_or("bad base_date")?;
            BaseDate::from_year(year).map_err(|e| e.to_string())?
        }
        None => BaseDate::Y1993,
    };
    let inputs = (|| -> Result<(VendingKey, MeterIdentity), HsmError> {
        let vk = VendingKey::from_hex(dkga, v["vending_key"].as_str().unwrap_or_default())?;
        let pan: MeterPan = v["meter_pan"].as_str().unwrap_or_default().parse()?;
        let sgc: SupplyGroupCode = v["sgc"].as_str().unwrap_or_default().parse()?;
        let ti: TariffIndex = v["ti"].as_str().unwrap_or_default().parse()?;
        let krn = KeyRevision::new(u8_field(v, "krn").unwrap_or(0))?;
        let kt = KeyType::try_from(u8_field(v, "kt").unwrap_or(u8::MAX))?;
        Ok((vk, MeterIdentity::new(pan, sgc, ti, krn, kt)))
    })();
    Ok(inputs.and_then(|(vk, id)| {
        derive_decoder_key(&vk, &id, base_date, ea).map(|dk| dk.expose_bytes().to_vec())
    }))
}

fn check(v: &Value) -> Result<(), String> {
    let got = derive(v)?;
    let expect = &v["expect"];
    match (expect.get("decoder_key"), expect.get("error"), got) {
        (Some(want), None, Ok(key)) => {
            let want = hex_to_bytes(want.as_str().ok_or("expect.decoder_key not a string")?)?;
            if key == want {
                Ok(())
            } else {
                // Vector keys are published test keys, so both may be shown (as `replay` does).
                Err(format!(
                    "decoder key: expected {}, got {}",
                    to_hex(&want),
                    to_hex(&key)
                ))
            }
        }
        (Some(_), None, Err(e)) => Err(format!("expected a decoder key, got error: {e}")),
        (None, Some(category), Err(e)) => match category.as_str() {
            Some("format") if is_format_error(&e) => Ok(()),
            Some("format") => Err(format!("expected a format error, got: {e}")),
            other => Err(format!(
                "unknown expected error category {other:?} (error was: {e})"
            )),
        },
        (None, Some(category), Ok(_)) => Err(format!("expected error {category}, got a key")),
        _ => Err("expect must hold exactly one of decoder_key, error".to_string()),
    }
}

/// An input that could not be parsed: the vector's `format` category.
fn is_format_error(e: &HsmError) -> bool {
    matches!(
        e,
        HsmError::MeterPan(_)
            | HsmError::Codec(_)
            | HsmError::SecretHex { .. }
            | HsmError::VendingKeyLength { .. }
            | HsmError::DkgaFormat
    )
}

#[test]
fn every_decoder_key_vector() {
    let mut passed = 0usize;
    let mut failures = Vec::new();
    for file in vector_files() {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{name}:{}", index + 1);
            let v: Value = match serde_json::from_str(line) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!("{at}: not JSON: {e}"));
                    continue;
                }
            };
            if v["kind"] != "decoder_key" {
                continue;
            }
            let id = v["id"].as_str().unwrap_or("<no id>");
            match check(&v) {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!("{at} {id}: {why}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        passed > 0,
        "no decoder_key vectors found under keys-sample/vectors"
    );
    eprintln!("{passed} decoder_key vectors passed");
}

/// The checker itself: a wrong expected key, a wrong Luhn digit and a vector expecting an error
/// that does not come must each be reported, and a wrong Luhn digit expecting `format` passes.
#[test]
fn checker_reports_failures() {
    let good: Value = serde_json::from_str(
        r#"{"id": "t", "kind": "decoder_key", "dkga": "02", "vending_key": "ABABABABABABABAB",
            "meter_pan": "600727000000000009", "sgc": "123456", "ti": "01", "krn": 1, "kt": 2,
            "expect": {"decoder_key": "E653341F9D5BF36F"}}"#,
    )
    .unwrap();
    assert_eq!(check(&good), Ok(()));

    let mut wrong_key = good.clone();
    wrong_key["expect"]["decoder_key"] = "E653341F9D5BF36E".into();
    let why = check(&wrong_key).unwrap_err();
    assert_eq!(
        why,
        "decoder key: expected E653341F9D5BF36E, got E653341F9D5BF36F"
    );

    let mut bad_luhn = good.clone();
    bad_luhn["meter_pan"] = "600727000000000008".into();
    let why = check(&bad_luhn).unwrap_err();
    assert!(
        why.contains("meter pan check digit: expected 9, got 8"),
        "{why}"
    );
    bad_luhn["expect"] = serde_json::json!({"error": "format"});
    assert_eq!(check(&bad_luhn), Ok(()));

    let mut no_error = good.clone();
    no_error["expect"] = serde_json::json!({"error": "format"});
    assert!(check(&no_error).is_err());

    let mut misty = good;
    misty["ea"] = "11".into();
    assert!(
        check(&misty)
            .unwrap_err()
            .contains("DKGA02 yields 64-bit keys only")
    );
}
