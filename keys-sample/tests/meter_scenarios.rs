//! `meter` scenarios beyond the public two: published CTSA tokens on the P1 meter (key change
//! pair, replays, another meter's token), and scenarios whose expectations are wrong on
//! purpose, which must fail step by step.

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use keys_sample::replay::replay_text;
use keys_sample::{Options, Summary};
use serde_json::{Value, json};

/// The P1 meter of the public CTSA vectors (DKGA02, public test vending key).
fn p1_meter() -> Value {
    json!({"ea": "07", "key": {"dkga": "02", "vending_key": "ABABABABABABABAB",
        "meter_pan": "600727000000000009", "sgc": "123456", "ti": "01", "krn": 1, "kt": 2},
        "kt": 2, "krn": 1, "ti": "01", "ken": 255, "base_date": 1993, "credit": 0, "tid_memory": []})
}

fn scenario(id: &str, meter: Value, steps: Value) -> String {
    json!({"id": id, "kind": "meter", "source": "test", "meter": meter, "steps": steps}).to_string()
}

fn replay(line: &str) -> (String, Summary) {
    replay_text("s.jsonl", line, Options::default())
}

#[test]
fn published_key_change_then_old_tokens_fail() {
    let line = scenario(
        "kc",
        p1_meter(),
        json!([
            {"enter": "23716100501183194197", "expect": "accept", "credit": 1},
            {"enter": "51638423060042734509", "expect": "accept", "credit": 1},
            {"enter": "15361891762113502242", "expect": "accept", "credit": 1},
            {"enter": "23716100501183194197", "expect": "crc", "credit": 1},
            {"enter": "2371-6100-5011-8319-419", "expect": "format"},
        ]),
    );
    let (report, summary) = replay(&line);
    assert_eq!(
        summary,
        Summary {
            passed: 1,
            failed: 0
        },
        "{report}"
    );
}

#[test]
fn tid_memory_and_capacity_from_the_vector() {
    // CTSA01 step 1 carries TID 5 871 715; a full memory of one newer TID makes it old.
    let mut meter = p1_meter();
    meter["tid_memory"] = json!([5_871_800]);
    meter["tid_capacity"] = json!(1);
    let line = scenario(
        "old",
        meter,
        json!([{"enter": "23716100501183194197", "expect": "old", "credit": 0}]),
    );
    let (report, summary) = replay(&line);
    assert_eq!(
        summary,
        Summary {
            passed: 1,
            failed: 0
        },
        "{report}"
    );
}

#[test]
fn wrong_expectations_fail_naming_each_step() {
    let line = scenario(
        "bad",
        p1_meter(),
        json!([
            {"enter": "23716100501183194197", "expect": "used", "credit": 1},
            {"enter": "23716100501183194197", "expect": "used", "credit": 2},
        ]),
    );
    let (report, summary) = replay(&line);
    assert_eq!(
        summary,
        Summary {
            passed: 0,
            failed: 1
        },
        "{report}"
    );
    assert_eq!(
        report.lines().next().unwrap(),
        "FAIL s.jsonl:1 bad: steps[0]: expected used, got accept; steps[1].credit: expected 2, got 1"
    );
}

#[test]
fn malformed_scenarios_are_precise() {
    let (report, _) = replay(&scenario(
        "e",
        p1_meter(),
        json!([{"enter": "1", "expect": "maybe"}]),
    ));
    assert!(
        report.contains(r#"field "steps[0].expect": unknown result "maybe""#),
        "{report}"
    );
    let mut meter = p1_meter();
    meter["tid_capacity"] = json!(0);
    let (report, _) = replay(&scenario(
        "c",
        meter,
        json!([{"enter": "1", "expect": "format"}]),
    ));
    assert!(report.contains("meter.tid_capacity"), "{report}");
    let (report, _) = replay(&scenario("s", p1_meter(), json!([])));
    assert!(report.contains("at least one step"), "{report}");
}
