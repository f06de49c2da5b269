//! The public known-answer vectors (`keys-sample/vectors/*.jsonl`, verbatim copies of the
//! brief's `shared/sts/vectors/`) that need no key derivation: CRC, amount, TID, class 1
//! tokens, and token vectors whose decoder key is itself published (a `decoder_key` line or a
//! literal key). The whole chain, derivation included, is replayed by `keys-sample`'s replay.

// Test code: a panic is a failing test, and vector data is checked by the assertions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::cast_possible_truncation)]

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use token_codec::amount::TransferAmount;
use token_codec::crc;
use token_codec::token::{
    CreditTransfer, CurrencyTransfer, EngineeringPayload, Management, ManagementFunction,
    ManufacturerCode, MeterTest, Stamp, Utility,
};
use token_codec::{
    AnyCipher, BaseDate, CurrencyAmount, DecoderKey, EncryptionAlgorithm, Rnd, Subclass, Tid,
    Token, TokenDigits, UtcMinute, decode, encode,
};

struct Line {
    at: String,
    v: Value,
}

fn vector_lines() -> Vec<Line> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../keys-sample/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
    {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", f.file_name().unwrap().to_string_lossy(), i + 1);
            let v = serde_json::from_str(t).unwrap_or_else(|e| panic!("{at}: {e}"));
            out.push(Line { at, v });
        }
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("field {k} missing in {v}"))
}

/// "2004-03-01T13:55Z" → UtcMinute.
fn minute(s: &str) -> UtcMinute {
    let n = |r: std::ops::Range<usize>| s[r].parse::<u16>().unwrap();
    assert!(s.len() == 17 && s.ends_with('Z'), "{s}");
    UtcMinute::from_civil(
        n(0..4),
        n(5..7) as u8,
        n(8..10) as u8,
        n(11..13) as u8,
        n(14..16) as u8,
    )
    .unwrap()
}

fn tid_of(t: &Value) -> Tid {
    match t.get("tid") {
        Some(tid) => Tid::new(tid.as_u64().unwrap() as u32).unwrap(),
        None => {
            let base = BaseDate::from_year(u(t, "base_date") as u16).unwrap();
            Tid::for_issue(minute(t["issued_at"].as_str().unwrap()), base).unwrap()
        }
    }
}

/// The typed token a vector's `token` object describes (VECTORS.md field names).
fn token_of(t: &Value) -> Token {
    let sub = u(t, "subclass") as u8;
    match u(t, "class") {
        0 if sub < 4 => Token::TransferCredit(CreditTransfer {
            utility: Utility::from_index(sub),
            rnd: Rnd::new(u(t, "rnd") as u8).unwrap(),
            tid: tid_of(t),
            amount: TransferAmount::from_field(u(t, "amount") as u16),
        }),
        0 => Token::TransferCurrency(CurrencyTransfer {
            utility: Utility::from_index(sub - 4),
            tid: tid_of(t),
            amount: CurrencyAmount::from_parts(
                t["negative"].as_bool().unwrap(),
                u(t, "exponent") as u8,
                u(t, "mantissa") as u16,
            )
            .unwrap(),
        }),
        1 if sub < 2 => {
            let code = u(t, "mfr_code");
            let mfr = if sub == 0 {
                ManufacturerCode::TwoDigit(code as u8)
            } else {
                ManufacturerCode::FourDigit(code as u16)
            };
            Token::InitiateMeterTest(MeterTest::new(u(t, "control"), mfr).unwrap())
        }
        1 => Token::Engineering(
            EngineeringPayload::new(
                Subclass::new(sub).unwrap(),
                u64::from_str_radix(t["payload"].as_str().unwrap(), 16).unwrap(),
            )
            .unwrap(),
        ),
        2 => Token::Management(Management {
            stamp: Stamp {
                rnd: Rnd::new(u(t, "rnd") as u8).unwrap(),
                tid: tid_of(t),
            },
            function: ManagementFunction::from_parts(sub, u(t, "value") as u16).unwrap(),
        }),
        c => panic!("class {c}"),
    }
}

/// Decoder keys published as `decoder_key` vectors, by the JSON of their inputs.
fn published_keys(lines: &[Line]) -> HashMap<String, String> {
    let mut keys = HashMap::new();
    for l in lines.iter().filter(|l| l.v["kind"] == "decoder_key") {
        let mut inputs = l.v.clone();
        let obj = inputs.as_object_mut().unwrap();
        let dk = obj["expect"]["decoder_key"].as_str().unwrap().to_owned();
        for k in ["id", "kind", "source", "expect", "ea"] {
            obj.remove(k);
        }
        keys.insert(inputs.to_string(), dk);
    }
    keys
}

fn published_key(key: &Value, keys: &HashMap<String, String>) -> Option<Vec<u8>> {
    if let Some(dk) = key.get("decoder_key") {
        return Some(hex(dk.as_str().unwrap()));
    }
    keys.get(&key.to_string()).map(|k| hex(k))
}

#[test]
fn crc_amount_and_tid_vectors() {
    let lines = vector_lines();
    let mut checked = 0;
    for l in &lines {
        let (v, at) = (&l.v, &l.at);
        match v["kind"].as_str().unwrap() {
            "crc" => {
                let field =
                    u16::from_str_radix(v["expect"]["field"].as_str().unwrap(), 16).unwrap();
                assert_eq!(
                    crc::field_of(&hex(v["input"].as_str().unwrap())),
                    field,
                    "{at}"
                );
            }
            "amount" => {
                let a = TransferAmount::round_up(u(v, "units") as u32).unwrap();
                let e = &v["expect"];
                assert_eq!(
                    format!("{:04X}", a.field()),
                    e["field"].as_str().unwrap(),
                    "{at}"
                );
                assert_eq!(u64::from(a.units()), u(e, "value"), "{at}");
            }
            "tid" => {
                let base = BaseDate::from_year(u(v, "base_date") as u16).unwrap();
                let tid = Tid::for_issue(minute(v["issued_at"].as_str().unwrap()), base).unwrap();
                assert_eq!(u64::from(tid.get()), u(&v["expect"], "tid"), "{at}");
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 26, "only {checked} crc/amount/tid vectors found");
}

/// Every `token` vector: class 1 always (no key), classes 0 and 2 where the key is published.
#[test]
fn token_vectors_with_published_keys() {
    let lines = vector_lines();
    let keys = published_keys(&lines);
    let (mut class1, mut keyed) = (0, 0);
    for l in lines.iter().filter(|l| l.v["kind"] == "token") {
        let (v, at) = (&l.v, &l.at);
        let token = token_of(&v["token"]);
        let expect = &v["expect"];
        if let Some(block) = expect.get("block") {
            assert_eq!(
                format!("{:016X}", token.to_block()),
                block.as_str().unwrap(),
                "{at}: block"
            );
        }
        if let Some(tid) = expect.get("tid") {
            assert_eq!(
                token.tid().map(|t| u64::from(t.get())),
                tid.as_u64(),
                "{at}: tid"
            );
        }
        let ea: EncryptionAlgorithm = v["ea"].as_str().unwrap().parse().unwrap();
        let key = match (token.class().bits(), published_key(&v["key"], &keys)) {
            (_, Some(k)) => k,
            // Class 1 is not encrypted: any key of the right width decodes it.
            (1, None) => vec![
                0;
                if ea == EncryptionAlgorithm::Misty1 {
                    16
                } else {
                    8
                }
            ],
            _ => continue,
        };
        let cipher = AnyCipher::new(ea, &DecoderKey::from_slice(&key).unwrap()).unwrap();
        let digits: TokenDigits = expect["digits"].as_str().unwrap().parse().unwrap();
        assert_eq!(encode(&token, &cipher), digits, "{at}: encode");
        assert_eq!(decode(&digits, &cipher).unwrap(), token, "{at}: decode");
        if token.class().bits() == 1 {
            class1 += 1
        } else {
            keyed += 1
        }
    }
    assert!(class1 >= 4, "only {class1} class 1 vectors");
    assert!(keyed >= 12, "only {keyed} keyed token vectors");
}

/// `key_change` vectors whose current and new decoder keys are both published.
#[test]
fn key_change_vectors_with_published_keys() {
    use token_codec::token::{KeyChangeSet, NewKeyAttributes};
    use token_codec::{
        KeyExpiryNumber, KeyRevision, KeyType, SupplyGroupCode, TariffIndex, encode_set,
    };
    let lines = vector_lines();
    let keys = published_keys(&lines);
    let mut checked = 0;
    for l in lines.iter().filter(|l| l.v["kind"] == "key_change") {
        let (v, at) = (&l.v, &l.at);
        let new = &v["new"];
        let mut new_inputs = new.clone();
        for k in ["ken", "ro"] {
            new_inputs.as_object_mut().unwrap().remove(k);
        }
        let (Some(old_key), Some(new_key)) = (
            published_key(&v["key"], &keys),
            published_key(&new_inputs, &keys),
        ) else {
            continue;
        };
        let ea: EncryptionAlgorithm = v["ea"].as_str().unwrap().parse().unwrap();
        let cipher = AnyCipher::new(ea, &DecoderKey::from_slice(&old_key).unwrap()).unwrap();
        let attrs = NewKeyAttributes {
            ken: KeyExpiryNumber::new(u(new, "ken") as u8),
            krn: KeyRevision::new(u(new, "krn") as u8).unwrap(),
            kt: KeyType::try_from(u(new, "kt") as u8).unwrap(),
            ti: new["ti"].as_str().unwrap().parse::<TariffIndex>().unwrap(),
            rollover: new["ro"].as_bool().unwrap(),
        };
        let expected: Vec<&str> = v["expect"]["digits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        let sgc = new["sgc"]
            .as_str()
            .map(|s| s.parse::<SupplyGroupCode>().unwrap());
        // A 64-bit key's set has 3 tokens only when it carries the SGC token.
        let sgc = if expected.len() == 2 { None } else { sgc };
        let set =
            KeyChangeSet::new(&DecoderKey::from_slice(&new_key).unwrap(), &attrs, sgc).unwrap();
        let got: Vec<String> = encode_set(&set, &cipher)
            .iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(got, expected, "{at}");
        for (token, digits) in set.tokens().zip(&expected) {
            assert_eq!(
                &decode(&digits.parse().unwrap(), &cipher).unwrap(),
                token,
                "{at}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 1, "no key change vector with published keys");
}
