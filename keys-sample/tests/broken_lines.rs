//! Deliberately broken vector lines: each must be one precise failure, never a panic and never
//! a silent skip. Expected values come from the public vectors (`vectors/dkga02_sta.jsonl`,
//! NectarAPI STS 531-1-0 CTSA01/CTSA05), altered one field at a time.

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use keys_sample::replay::{Outcome, check_line, replay_text};
use keys_sample::{Options, Summary};
use serde_json::{Value, json};

const PUBLIC: [&str; 7] = [
    include_str!("../vectors/currency.jsonl"),
    include_str!("../vectors/dkga02_sta.jsonl"),
    include_str!("../vectors/dkga04.jsonl"),
    include_str!("../vectors/meter.jsonl"),
    include_str!("../vectors/misty1.jsonl"),
    include_str!("../vectors/primitives.jsonl"),
    include_str!("../vectors/reject.jsonl"),
];

fn public_lines() -> impl Iterator<Item = &'static str> {
    PUBLIC
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| l.starts_with('{'))
}

fn public(id: &str) -> Value {
    public_lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no public vector {id}"))
}

/// Replays one line as `broken.jsonl` and returns its failure, without the `FAIL file:1 `
/// prefix (so `id: message`).
fn fail(line: &str) -> String {
    let (report, summary) = replay_text("broken.jsonl", line, Options::default());
    assert_eq!(
        summary,
        Summary {
            passed: 0,
            failed: 1
        },
        "{report}"
    );
    let first = report.lines().next().unwrap();
    first
        .strip_prefix("FAIL broken.jsonl:1 ")
        .unwrap_or_else(|| panic!("not a FAIL line: {first}"))
        .to_owned()
}

fn fail_v(v: &Value) -> String {
    fail(&v.to_string())
}

/// CTSA01 step 1 with `edit` applied.
fn token(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = public("ctsa01-1");
    edit(&mut v);
    v
}

#[test]
fn malformed_lines() {
    assert_eq!(
        fail(r#"{"id": "x", "kind": "crc","#),
        "?: invalid JSON: EOF while parsing a value at line 1 column 26"
    );
    assert_eq!(
        fail("[1, 2]"),
        "?: line is not a JSON object (got an array)"
    );
    assert_eq!(fail(r#"{"kind": "crc"}"#), r#"?: field "id" is missing"#);
    assert_eq!(
        fail(r#"{"id": 7, "kind": "crc"}"#),
        r#"?: field "id": expected a string, got an integer"#
    );
    assert_eq!(
        fail(r#"{"id": "u1", "kind": "frobnicate", "source": "t"}"#),
        r#"u1: unknown kind "frobnicate""#
    );
    assert_eq!(
        fail(r#"{"id": "m", "kind": "meter", "source": "t"}"#),
        r#"m: field "meter" is missing"#
    );
    assert_eq!(
        fail(
            r#"{"id": "s", "kind": "crc", "source": 5, "input": "00004A2D900FF2", "expect": {"field": "0FFA"}}"#
        ),
        r#"s: field "source": expected a string, got an integer"#
    );
    // Invalid UTF-8 is a failure of its line too.
    let (report, summary) = {
        let mut out = Vec::new();
        let mut r = keys_sample::Replayer::new(&mut out, std::io::sink(), Options::default());
        r.replay_reader("bytes.jsonl", &b"# ok\n\xff{}\n"[..], None)
            .unwrap();
        let s = r.finish().unwrap();
        (String::from_utf8(out).unwrap(), s)
    };
    assert_eq!(summary.failed, 1);
    assert!(
        report.starts_with("FAIL bytes.jsonl:2 ?: line is not valid UTF-8 (byte 0)"),
        "{report}"
    );
}

#[test]
fn missing_field_and_wrong_type() {
    let v = json!({"id": "c1", "kind": "crc", "source": "t", "expect": {"field": "0FFA"}});
    assert_eq!(fail_v(&v), r#"c1: field "input" is missing"#);
    let v = token(|v| {
        v["token"].as_object_mut().unwrap().remove("amount");
    });
    assert_eq!(fail_v(&v), r#"ctsa01-1: field "token.amount" is missing"#);
    let v = token(|v| v["key"]["krn"] = json!("1"));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "key.krn": expected an integer, got a string"#
    );
    let v = token(|v| v["token"]["rnd"] = json!(16));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "token.rnd": rnd out of range: 16"#
    );
    let v = token(|v| v["token"]["amount"] = json!(65536));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "token.amount": expected an integer 0..=65535, got 65536"#
    );
    let v = token(|v| v["token"]["issued_at"] = json!("2004-03-01 13:55"));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "token.issued_at": expected an RFC 3339 UTC minute such as 2004-03-01T13:55Z, got "2004-03-01 13:55""#
    );
}

#[test]
fn wrong_hex_lengths() {
    let v = json!({"id": "c2", "kind": "cipher", "source": "t", "ea": "07",
        "key": "E653341F9D5BF36F", "plain": "05599863000119E",
        "expect": {"cipher": "492083C0AE7CE455"}});
    assert_eq!(
        fail_v(&v),
        r#"c2: field "plain": expected 16 hex digits, got 15"#
    );
    let v = token(|v| v["key"] = json!({"decoder_key": "E653341F9D5BF36FE653341F9D5BF36F"}));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "key.decoder_key": expected 16 hex digits, got 32 (EA07 (STA) takes a 64-bit key)"#
    );
    let v = token(|v| v["expect"]["block"] = json!("05599863000119E"));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "expect.block": expected 16 hex digits, got 15"#
    );
    let v = json!({"id": "c3", "kind": "crc", "source": "t", "input": "00004A2D900F",
        "expect": {"field": "0FFA"}});
    assert_eq!(
        fail_v(&v),
        r#"c3: field "input": expected 14 or 16 hex digits (7 or 8 bytes), got 12"#
    );
}

#[test]
fn bad_pan_check_digit() {
    let v = token(|v| v["key"]["meter_pan"] = json!("600727000000000008"));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "key.meter_pan": check digit: expected 9, got 8"#
    );
    // A decoder_key vector expecting a key gets the refusal as its failure...
    let mut v = public("dk02-p1");
    v["meter_pan"] = json!("600727000000000008");
    assert_eq!(
        fail_v(&v),
        r#"dk02-p1: derivation: field "meter_pan": check digit: expected 9, got 8"#
    );
    // ...one expecting the refusal passes...
    v["expect"] = json!({"error": "format"});
    assert_eq!(
        check_line(&v.to_string()),
        Outcome::Passed {
            id: "dk02-p1".into()
        }
    );
    // ...and one expecting a refusal of a good PAN fails, saying what it derived.
    let mut v = public("dk02-p1");
    v["expect"] = json!({"error": "format"});
    assert_eq!(
        fail_v(&v),
        "dk02-p1: derivation: expected refusal (format), got decoder key E653341F9D5BF36F"
    );
}

#[test]
fn vending_key_of_the_wrong_length() {
    let v = token(|v| v["key"]["vending_key"] = json!("ABABABABABABAB"));
    assert_eq!(
        fail_v(&v),
        r#"ctsa01-1: field "key.vending_key": expected 16 hex digits for a 64-bit DKGA02 vending key, got 14"#
    );
    let mut v = public("dk04-p1-bd93");
    v["vending_key"] = json!("ABABABABABABABAB");
    assert_eq!(
        fail_v(&v),
        r#"dk04-p1-bd93: derivation: field "vending_key": expected 40 hex digits for a 160-bit DKGA04 vending key, got 16"#
    );
}

#[test]
fn key_bits_must_agree_with_ea() {
    let v = token(|v| v["key"]["key_bits"] = json!(128));
    assert_eq!(
        fail_v(&v),
        "ctsa01-1: vector error: key.key_bits is 128 but ea EA07 (STA) needs a 64-bit key"
    );
}

#[test]
fn wrong_expected_digits() {
    let v = token(|v| v["expect"]["digits"] = json!("23716100501183194198"));
    assert_eq!(
        fail_v(&v),
        "ctsa01-1: digits: expected 23716100501183194198, got 23716100501183194197; \
         decoded block: expected 05599863000119E6, got 4877822DBB3173C9; \
         decode expect.digits: crc mismatch: stored 0x73C9, computed 0x578F"
    );
}

#[test]
fn right_digits_wrong_block() {
    let v = token(|v| v["expect"]["block"] = json!("05599863000119E7"));
    assert_eq!(
        fail_v(&v),
        "ctsa01-1: block: expected 05599863000119E7, got 05599863000119E6; \
         decoded block: expected 05599863000119E7, got 05599863000119E6"
    );
}

#[test]
fn wrong_field_is_named_in_both_directions() {
    let v = token(|v| v["token"]["amount"] = json!(2));
    assert_eq!(
        fail_v(&v),
        "ctsa01-1: digits: expected 23716100501183194197, got 67877002387400543065; \
         block: expected 05599863000119E6, got 05599863000259E7; \
         decoded token.amount: expected 2, got 1"
    );
    let v = token(|v| v["token"]["tid"] = json!(5_871_716));
    assert_eq!(
        fail_v(&v),
        "ctsa01-1: vector error: token.tid 5871716 disagrees with token.issued_at (TID 5871715)"
    );
}

#[test]
fn key_change_positions_are_named() {
    let mut v = public("ctsa05-1");
    v["expect"]["digits"][1] = json!("15361891762113502243");
    assert_eq!(
        fail_v(&v),
        "ctsa05-1: digits[1]: expected 15361891762113502243, got 15361891762113502242; \
         decode expect.digits[1]: crc mismatch: stored 0x1762, computed 0x172B"
    );
    let mut v = public("ctsa05-1");
    v["expect"]["digits"] = json!(["51638423060042734509"]);
    assert_eq!(fail_v(&v), "ctsa05-1: number of tokens: expected 1, got 2");
    // A 128-bit set needs the SGC.
    let mut v = public("m-ctsa05-p1");
    v["new"] = json!({"decoder_key": "00112233445566778899AABBCCDDEEFF",
        "krn": 1, "kt": 2, "ti": "02", "ken": 255, "ro": false});
    assert_eq!(
        fail_v(&v),
        r#"m-ctsa05-p1: field "new.sgc" is missing: a 128-bit key change set carries the SGC"#
    );
}

#[test]
fn reject_categories() {
    let mut v = public("other-meter");
    v["key"]["meter_pan"] = json!("600727000000000009");
    assert_eq!(
        fail_v(&v),
        "other-meter: decode: expected refusal (crc), got a token: \
         class 0 subclass 0 transfer_credit {rnd: 5, tid: 5871715, amount: 1}"
    );
    let mut v = public("digits-19");
    v["expect"]["error"] = json!("crc");
    assert_eq!(
        fail_v(&v),
        "digits-19: decode: expected refusal (crc), got refusal (format): not 20 digits: got 19"
    );
    v["expect"]["error"] = json!("used");
    assert_eq!(
        fail_v(&v),
        r#"digits-19: field "expect.error": unknown category "used" (expected format, crc, function or range)"#
    );
    // Class 3 is `function`.
    v["digits"] = json!("73786976294838206463");
    v["expect"]["error"] = json!("function");
    assert!(matches!(check_line(&v.to_string()), Outcome::Passed { .. }));
}

#[test]
fn primitives_report_expected_and_got() {
    let v = json!({"id": "t1", "kind": "tid", "source": "t", "base_date": 1993,
        "issued_at": "2004-03-02T00:01Z", "expect": {"tid": 5871715}});
    // 00:01 is the reserved minute: the TID is that of 00:02.
    assert_eq!(fail_v(&v), "t1: tid: expected 5871715, got 5872322");
    let v = json!({"id": "a1", "kind": "amount", "source": "t", "units": 20000,
        "expect": {"field": "416B", "value": 20000}});
    assert_eq!(
        fail_v(&v),
        "a1: field: expected 416B, got 416A; value: expected 20000, got 20004"
    );
    let v = json!({"id": "a2", "kind": "amount", "source": "t", "units": 18_201_625,
        "expect": {"error": "range"}});
    assert!(matches!(check_line(&v.to_string()), Outcome::Passed { .. }));
}

#[test]
fn duplicate_ids_and_extra_fields() {
    let mut v = public("crc-1");
    v["note"] = json!("informative extras are tolerated");
    let line = v.to_string();
    let (report, summary) = replay_text(
        "d.jsonl",
        &format!("{line}\n\n# c\n{line}\n"),
        Options::default(),
    );
    assert_eq!(
        summary,
        Summary {
            passed: 1,
            failed: 1
        }
    );
    assert_eq!(
        report,
        "FAIL d.jsonl:4 crc-1: id already used at line 1\n1 passed, 1 failed\n"
    );
}

#[test]
fn exit_rule_needs_a_pass_and_no_failure() {
    let (report, summary) = replay_text("empty.jsonl", "# only a comment\n\n", Options::default());
    assert_eq!(report, "0 passed, 0 failed\n");
    assert!(!summary.succeeded());
    let (_, summary) = replay_text(
        "one.jsonl",
        &public("crc-1").to_string(),
        Options::default(),
    );
    assert!(summary.succeeded());
    assert!(
        !Summary {
            passed: 5,
            failed: 1
        }
        .succeeded()
    );
}

/// Walks every field of `v` (objects and array items), calling `f` with its path and a way to
/// edit a copy of the whole line.
fn paths(v: &Value, prefix: &str, out: &mut Vec<(String, Vec<String>)>, trail: &[String]) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let path = format!("{prefix}{k}");
                let mut t = trail.to_vec();
                t.push(k.clone());
                out.push((path.clone(), t.clone()));
                paths(child, &format!("{path}."), out, &t);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{}[{i}]", prefix.trim_end_matches('.'));
                let mut t = trail.to_vec();
                t.push(i.to_string());
                out.push((path.clone(), t.clone()));
                paths(child, &format!("{path}."), out, &t);
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, trail: &[String]) -> &'a mut Value {
    trail.iter().fold(v, |v, k| match v {
        Value::Array(items) => &mut items[k.parse::<usize>().unwrap()],
        _ => &mut v[k.as_str()],
    })
}

/// Every field of every public vector (meter scenarios aside: not checked yet), set to null:
/// a failure naming that field. Removed: a pass (the field was optional) or a failure naming it.
#[test]
fn every_field_is_checked_by_name() {
    for line in public_lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "meter" {
            continue;
        }
        let mut all = Vec::new();
        paths(&v, "", &mut all, &[]);
        for (path, trail) in all {
            let mut nulled = v.clone();
            *at(&mut nulled, &trail) = Value::Null;
            match check_line(&nulled.to_string()) {
                Outcome::Failed { fault, .. } => {
                    let msg = fault.to_string();
                    assert!(msg.contains(&format!("{path:?}")), "{path} null: {msg}");
                }
                other => panic!("{path} null: {other:?}"),
            }
            let (last, parent) = trail.split_last().unwrap();
            let mut removed = v.clone();
            match at(&mut removed, parent) {
                Value::Object(m) => {
                    m.remove(last);
                }
                Value::Array(items) => {
                    items.remove(last.parse::<usize>().unwrap());
                }
                _ => unreachable!(),
            }
            if let Outcome::Failed { fault, .. } = check_line(&removed.to_string()) {
                let msg = fault.to_string();
                // A removed array item shows up as a count or position mismatch instead.
                let named = msg.contains(&format!("{path:?}")) || path.ends_with(']');
                assert!(named, "{path} removed: {msg}");
            }
        }
    }
}

/// Every prefix of every public line is a failure, never a panic.
#[test]
fn truncated_lines_fail_cleanly() {
    for line in public_lines() {
        for (cut, _) in line.char_indices().skip(1) {
            match check_line(&line[..cut]) {
                Outcome::Failed { fault, .. } => {
                    assert!(fault.to_string().starts_with("invalid JSON"), "{fault}")
                }
                other => panic!("{}: {other:?}", &line[..cut]),
            }
        }
    }
}
