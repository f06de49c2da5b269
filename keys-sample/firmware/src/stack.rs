//! Stack high-water mark by painting: fill the free stack below the caller with a pattern, run
//! the code, then find the deepest word that no longer holds the pattern.
//!
//! This is the firmware's only `unsafe`: reading and writing the free RAM below the stack
//! pointer, which no Rust object owns, can only be done through raw pointers. It is confined to
//! [`paint`] and [`deepest_touched`], each with its `// SAFETY:` argument, plus the
//! declaration of the linker symbol that bounds them.
//!
//! The figure is what the measured calls actually used on the inputs given (a high-water
//! mark), not a static worst case over every path. It counts every frame and spill below
//! [`StackPeak::measure`]'s own frame; not the return value (its slot is in that frame or the
//! caller's) nor state the caller holds (the `Meter` itself, printed separately by `script`).

/// Painted into free stack; an unlikely value for a return address, pointer or counter.
const PATTERN: u32 = 0x5EA5_7A4C;

/// How far below the caller's stack pointer is painted; a measured call that reaches the
/// bottom is reported as overflowing the window rather than as a figure.
pub const WINDOW: usize = 16 * 1024;

// An extern block is `unsafe` by nature (the linker, not Rust, vouches for the symbol); only
// the symbol's address is ever used, never its value.
#[allow(unsafe_code)]
unsafe extern "C" {
    /// End of the statics (`.bss` and `.uninit`), cortex-m-rt's `link.x`: the stack must not
    /// grow below it, so painting never goes below it either.
    static _stack_end: u32;
}

/// The deepest stack use seen over a series of measured calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackPeak {
    /// Bytes below the caller's stack pointer.
    pub bytes: usize,
    /// True if some call reached the bottom of the painted window (`bytes` is then a floor).
    pub overflowed: bool,
}

impl StackPeak {
    /// Runs `f`, raising the peak to the stack it used.
    #[inline(never)]
    pub fn measure<R>(&mut self, f: impl FnOnce() -> R) -> R {
        // This frame is already set up: everything `f` pushes lies below `top`.
        let top = stack_pointer();
        let floor = core::ptr::addr_of!(_stack_end) as usize;
        let bottom = top.saturating_sub(WINDOW).max(floor).next_multiple_of(4);
        paint(bottom);
        let result = f();
        let deepest = deepest_touched(bottom, top);
        self.bytes = self.bytes.max(top.saturating_sub(deepest));
        self.overflowed |= deepest <= bottom;
        result
    }
}

fn stack_pointer() -> usize {
    // The Cortex-M address space is 32 bits: a u32 always fits a usize here.
    cortex_m::register::msp::read() as usize
}

/// Fills the words from `bottom` up to this function's own stack pointer with [`PATTERN`].
#[inline(never)]
#[allow(unsafe_code)] // raw writes to free stack: see the SAFETY comment
fn paint(bottom: usize) {
    let below = stack_pointer();
    let mut addr = bottom;
    while addr.saturating_add(4) <= below {
        // SAFETY: `addr` is 4-aligned and lies in [bottom, SP): RAM (memory.x) above the end of
        // the statics (`_stack_end`) and below this function's stack pointer, which is fixed
        // for the whole body (no calls, no dynamic allocation after reading it). Nothing owns
        // memory below the SP in thread mode: an exception would push its frame there and pop
        // it before we resume, so a write can at worst overwrite a finished frame's remains.
        unsafe { core::ptr::write_volatile(addr as *mut u32, PATTERN) };
        addr += 4;
    }
}

/// The lowest address in `[bottom, top)` that no longer holds [`PATTERN`] (`top` if none).
/// Inlined so that its own frame is the caller's and cannot overwrite the pattern it reads.
#[inline(always)]
#[allow(unsafe_code)] // raw reads of free stack: see the SAFETY comment
fn deepest_touched(bottom: usize, top: usize) -> usize {
    let mut addr = bottom;
    while addr < top {
        // SAFETY: `addr` is 4-aligned and lies in [bottom, top), RAM between the end of the
        // statics and the caller's stack pointer; every word there was painted or since written
        // by a callee, so it is initialised. A plain word read creates no reference and
        // disturbs nothing.
        if unsafe { core::ptr::read_volatile(addr as *const u32) } != PATTERN {
            return addr;
        }
        addr += 4;
    }
    top
}
