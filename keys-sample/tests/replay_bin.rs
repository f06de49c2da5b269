//! End to end: the real `replay` binary on temporary files (VECTORS.md's contract: report
//! lines, the final `N passed, M failed`, exit 0 only if M = 0 and N > 0).

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::process::{Command, Output};

const PRIMITIVES: &str = include_str!("../vectors/primitives.jsonl");

fn temp_file(name: &str, text: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("replay_bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn replay(args: &[&std::ffi::OsStr]) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_replay"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    (out, stdout)
}

#[test]
fn passing_file_exits_zero() {
    let lines: Vec<&str> = PRIMITIVES
        .lines()
        .filter(|l| l.starts_with('{'))
        .take(2)
        .collect();
    let text = format!("# two vectors\n\n{}\n{}\n", lines[0], lines[1]);
    let path = temp_file("good.jsonl", &text);
    let (out, stdout) = replay(&[path.as_os_str()]);
    assert_eq!(stdout, "2 passed, 0 failed\n");
    assert_eq!(out.status.code(), Some(0));
    // Not a terminal: no progress on stderr.
    assert!(out.stderr.is_empty());

    let (out, stdout) = replay(&["--verbose".as_ref(), path.as_os_str()]);
    let shown = path.display();
    assert_eq!(
        stdout,
        format!("ok {shown}:3 crc-1\nok {shown}:4 crc-2\n2 passed, 0 failed\n")
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_failure_exits_non_zero() {
    let good = PRIMITIVES.lines().find(|l| l.starts_with('{')).unwrap();
    let path = temp_file(
        "mixed.jsonl",
        &format!("{good}\n{{\"id\": \"k\", \"kind\": \"nope\", \"source\": \"t\"}}\nnot json\n"),
    );
    let (out, stdout) = replay(&[path.as_os_str()]);
    let shown = path.display();
    assert_eq!(
        stdout,
        format!(
            "FAIL {shown}:2 k: unknown kind \"nope\"\n\
             FAIL {shown}:3 ?: invalid JSON: expected ident at line 1 column 2\n\
             1 passed, 2 failed\n"
        )
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn nothing_passed_is_not_success() {
    let path = temp_file("comments.jsonl", "# nothing here\n\n");
    let (out, stdout) = replay(&[path.as_os_str()]);
    assert_eq!(stdout, "0 passed, 0 failed\n");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn missing_file_is_a_failure() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("replay_bin_does_not_exist.jsonl");
    let (out, stdout) = replay(&[path.as_os_str()]);
    assert!(
        stdout.starts_with(&format!("FAIL {}:0 ?: cannot read: ", path.display())),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn no_file_is_a_usage_error() {
    let (out, stdout) = replay(&[]);
    assert!(stdout.is_empty());
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn large_files_stream() {
    // 3000 copies of one vector (unique ids): more than the progress threshold, no terminal.
    let good = PRIMITIVES
        .lines()
        .find(|l| l.contains("\"tid-1993-ctsa01\""))
        .unwrap();
    let text: String = (0..3000)
        .map(|i| good.replace("\"tid-1993-ctsa01\"", &format!("\"t{i}\"")) + "\n")
        .collect();
    let path = temp_file("large.jsonl", &text);
    let (out, stdout) = replay(&[path.as_os_str()]);
    assert_eq!(stdout, "3000 passed, 0 failed\n");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty());
}
