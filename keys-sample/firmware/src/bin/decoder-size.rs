//! Size harness: links the decoder and nothing else. It builds meter P1, enters one published
//! token, writes the record and reads it back, and exits with status 0 if the restored meter
//! holds the credit, else 1; no printing. `decoder-size` minus `baseline` (same runtime, same
//! panic handler) is the decoder's own flash and RAM (`scripts/firmware-test`).
//!
//! Inputs pass through `black_box` so the compiler cannot specialise the decoder for them: the
//! algorithm is not known at compile time, so every compiled-in cipher stays linked, as in a
//! meter whose EA comes from its commissioning record.
#![no_std]
#![forbid(unsafe_code)]
#![no_main]

use core::hint::black_box;
use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use meter_firmware::published::{CTSA01_1, DemoMeter, p1_config};
use token_codec::meter::Register;
use token_codec::token::Utility;

#[entry]
fn main() -> ! {
    debug::exit(if decode() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// New meter, one token, record out and back in: true if the restored meter has the credit.
fn decode() -> bool {
    let Ok(mut config) = p1_config() else {
        return false;
    };
    config.ea = black_box(config.ea);
    let Ok(mut meter) = DemoMeter::new(black_box(config)) else {
        return false;
    };
    let accepted = meter.enter(black_box(CTSA01_1)).is_ok();
    let mut record = [0u8; DemoMeter::RECORD_LEN];
    if meter.write_record(&mut record).is_err() {
        return false;
    }
    let Ok(back) = DemoMeter::read_record(black_box(&record)) else {
        return false;
    };
    black_box(accepted && back.remaining(Register::Units(Utility::Electricity)) == 1)
}

/// Exits with status 1 and prints nothing, so that no formatting is linked.
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
