//! Example meter firmware: enters the published STS tokens into a `token_codec::Meter` and
//! reports each result over semihosting, then exits with status 0 if every step matched, else
//! 1 (QEMU passes the status on). Run it with `scripts/firmware-test`.
//!
//! `unsafe_code` is forbidden in the binaries. cortex-m-rt's `#[entry]` expands to an
//! `unsafe extern "C"` trampoline with `#[export_name = "main"]`, but rustc does not lint code
//! that an external proc macro generates, so no allow is needed here. The package lints say
//! `deny` rather than `forbid` only for the library's stack probe (`stack.rs`).
#![no_std]
#![forbid(unsafe_code)]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use meter_firmware::script;
use panic_semihosting as _;

#[entry]
fn main() -> ! {
    let tally = script::run();
    script::summary(&tally);
    debug::exit(if tally.passed() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    // Only reached without a semihosting host to end the run.
    loop {
        cortex_m::asm::wfi();
    }
}
