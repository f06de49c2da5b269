//! The `sts` CLI: its library functions, and the binary's output and exit status. Expected
//! values are the published CTSA01 step 1 token and DKGA02/DKGA04 keys (`vectors/`).

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use keys_sample::cli::{self, CliError, DeriveRequest};
use serde_json::{Value, json};

const P1_DK: &str = "E653341F9D5BF36F";

fn p1(pan: &str) -> DeriveRequest<'_> {
    DeriveRequest {
        dkga: "02",
        vending_key: "ABABABABABABABAB",
        pan,
        sgc: "123456",
        ti: "01",
        krn: "1",
        kt: "2",
        base_date: None,
        ea: "07",
    }
}

#[test]
fn decode_prints_every_field() {
    let d = cli::decode("07", P1_DK, "2371 6100 5011 8319 4197").unwrap();
    assert_eq!(
        serde_json::to_value(&d).unwrap(),
        json!({
            "digits": "23716100501183194197",
            "class": 0,
            "subclass": 0,
            "kind": "transfer_credit",
            "fields": {"rnd": 5, "tid": 5_871_715, "amount": 1},
            "derived": {"utility": "electricity", "units": 1},
            "block": "05599863000119E6"
        })
    );
    // Key order follows the layout, not the alphabet.
    let text = serde_json::to_string(&d.fields).unwrap();
    assert_eq!(text, r#"{"rnd":5,"tid":5871715,"amount":1}"#);
}

#[test]
fn decode_errors_have_categories() {
    let e = cli::decode("07", "0000000000000000", "23716100501183194197").unwrap_err();
    assert_eq!(e.category(), "crc");
    assert_eq!(e.exit_code(), 1);
    assert!(
        e.to_json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("crc mismatch: stored 0x")
    );
    let e = cli::decode("07", P1_DK, "2371610050118319419").unwrap_err();
    assert_eq!(
        e.to_json(),
        json!({"error": {"category": "format", "message": "not 20 digits: got 19"}})
    );
    let e = cli::decode("11", P1_DK, "23716100501183194197").unwrap_err();
    assert_eq!(
        e,
        CliError::Argument {
            option: "--key",
            reason: "expected 32 hex digits, got 16 (EA11 (MISTY1) takes a 128-bit key)".into()
        }
    );
    assert_eq!(e.category(), "argument");
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        cli::decode("08", P1_DK, "23716100501183194197")
            .unwrap_err()
            .category(),
        "argument"
    );
}

#[test]
fn derive_gives_the_published_keys() {
    let d = cli::derive(&p1("600727000000000009")).unwrap();
    assert_eq!(d.decoder_key, P1_DK);
    assert_eq!((d.ea.as_str(), d.key_bits), ("07", 64));
    let req = DeriveRequest {
        dkga: "04",
        vending_key: "ABABABABABABABAB949494949494949401234567",
        sgc: "123457",
        base_date: Some("1993"),
        ea: "11",
        ..p1("600727000000000009")
    };
    let d = cli::derive(&req).unwrap();
    assert_eq!(d.decoder_key, "F94B6ED353C3BFDB113E2D3A7EA3C41D");
    let e = cli::derive(&DeriveRequest {
        base_date: None,
        ..req
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "--base-date: required for DKGA04 (1993, 2014 or 2035)"
    );
}

#[test]
fn derive_refuses_a_bad_pan() {
    let e = cli::derive(&p1("600727000000000008")).unwrap_err();
    assert_eq!(
        e.to_json(),
        json!({"error": {"category": "format", "message": "--pan: check digit: expected 9, got 8"}})
    );
}

fn sts(args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sts"))
        .args(args)
        .output()
        .unwrap();
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        out.status.code(),
        stdout,
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn binary_prints_json_and_warns_on_secrets() {
    let (code, out, err) = sts(&[
        "derive",
        "--dkga",
        "02",
        "--vending-key",
        "ABABABABABABABAB",
        "--pan",
        "600727000000000009",
        "--sgc",
        "123456",
        "--ti",
        "01",
        "--krn",
        "1",
        "--kt",
        "2",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(out["decoder_key"], P1_DK);
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("SECRET"), "{err}");

    let (code, out, err) = sts(&[
        "decode", "--ea", "07", "--key", P1_DK, "2371", "6100", "5011", "8319", "4197",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(out["block"], "05599863000119E6");
    assert!(err.is_empty());

    let (code, out, _) = sts(&[
        "decode",
        "--ea",
        "07",
        "--key",
        "0000000000000000",
        "23716100501183194197",
    ]);
    assert_eq!(code, Some(1));
    assert_eq!(out["error"]["category"], "crc");
}
