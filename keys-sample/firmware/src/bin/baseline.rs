//! Size baseline: the same runtime as `decoder-size` (cortex-m-rt start-up and vector table,
//! the semihosting exit call, the same panic handler) around a main that does nothing, so
//! `decoder-size` minus `baseline` is the decoder's own flash and RAM.
#![no_std]
#![forbid(unsafe_code)]
#![no_main]

use core::panic::PanicInfo;

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;

#[entry]
fn main() -> ! {
    debug::exit(core::hint::black_box(debug::EXIT_SUCCESS));
    loop {
        cortex_m::asm::wfi();
    }
}

/// Exits with status 1 and prints nothing, so that no formatting is linked.
#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
