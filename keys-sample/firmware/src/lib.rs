//! Example meter firmware for a Cortex-M4 that QEMU emulates (`-machine mps2-an386`): the
//! published STS tokens entered into `token_codec::Meter`, one semihosting line per step.
//!
//! The binaries: `meter-firmware` (src/main.rs) runs [`script::run`]; `decoder-size` and
//! `baseline` (src/bin/) exist only to be measured by `scripts/firmware-test`.
#![no_std]

pub mod published;
pub mod report;
pub mod script;
pub mod stack;
