//! Replays the public vector files (`keys-sample/vectors/*.jsonl`, verbatim copies of the brief's
//! public set; sources on each line) through the replay library.
//!
//! Every vector passes, the `meter` scenarios included.

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io;
use std::path::{Path, PathBuf};

use keys_sample::{Options, Replayer, Summary};
use serde_json::Value;

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 7,
        "vector files missing in {}",
        dir.display()
    );
    files
}

/// (vector lines, of which `meter` lines), counted independently of the replay code.
fn count_vectors(files: &[PathBuf]) -> (u64, u64) {
    let (mut all, mut meter) = (0u64, 0u64);
    for f in files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let v: Value = serde_json::from_str(t).unwrap();
            all += 1;
            if v["kind"] == "meter" {
                meter += 1;
            }
        }
    }
    (all, meter)
}

#[test]
fn every_public_vector_passes() {
    let files = vector_files();
    let (all, meter) = count_vectors(&files);
    assert!(all >= 70, "only {all} public vectors");
    assert!(meter >= 2, "only {meter} meter scenarios");
    let mut out = Vec::new();
    let options = Options {
        verbose: true,
        progress: false,
    };
    let mut replayer = Replayer::new(&mut out, io::sink(), options);
    for f in &files {
        replayer.replay_path(f).unwrap();
    }
    let summary = replayer.finish().unwrap();
    let report = String::from_utf8(out).unwrap();

    let expected = Summary {
        passed: all,
        failed: 0,
    };
    assert_eq!(summary, expected, "{report}");
    assert!(summary.succeeded());
    let oks = report.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(u64::try_from(oks).unwrap(), summary.passed);
    assert_eq!(
        report.lines().last().unwrap(),
        format!("{} passed, {} failed", expected.passed, expected.failed)
    );
}

#[test]
fn every_kind_is_exercised_by_the_public_set() {
    let files = vector_files();
    let mut kinds = std::collections::BTreeSet::new();
    for f in &files {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            if line.starts_with('{') {
                let v: Value = serde_json::from_str(line).unwrap();
                kinds.insert(v["kind"].as_str().unwrap().to_owned());
            }
        }
    }
    let known: std::collections::BTreeSet<String> = keys_sample::replay::KINDS
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    assert_eq!(kinds, known);
}
