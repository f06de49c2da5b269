//! Any text as one line of an auditor's vector file: `replay::check_line` answers pass, a
//! mismatch or a precise fault naming the field, and never panics. `scripts/fuzz-smoke`
//! seeds the corpus with every line of `keys-sample/vectors/*.jsonl`, so mutations start from
//! well-formed vectors of every kind.
#![no_main]

use keys_sample::replay::check_line;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = check_line(text);
    }
});
