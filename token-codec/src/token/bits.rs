//! Bit-field access on the 64-bit data block. Fields are named by their top bit and width,
//! as the layout tables in SPEC-codec §2 list them (LSB-0 numbering).

/// Reads the `width`-bit field whose most significant bit is block bit `top`.
pub(crate) const fn get(block: u64, top: u32, width: u32) -> u64 {
    (block >> (top + 1 - width)) & mask(width)
}

/// Places `value` (masked to `width` bits) so its most significant bit is block bit `top`.
pub(crate) const fn put(value: u64, top: u32, width: u32) -> u64 {
    (value & mask(width)) << (top + 1 - width)
}

const fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1 << width) - 1
    }
}

/// The subclass nibble, bits 63..60, placed.
pub(crate) const fn subclass(subclass: u8) -> u64 {
    put(subclass as u64, 63, 4)
}

// The narrowing getters below read at most 8, 16 or 32 bits (callers pass widths that fit;
// `get` masks to `width`), so the casts cannot drop set bits.

/// [`get`] for fields of at most 8 bits.
#[allow(clippy::cast_possible_truncation)]
pub(crate) const fn get_u8(block: u64, top: u32, width: u32) -> u8 {
    get(block, top, if width > 8 { 8 } else { width }) as u8
}

/// [`get`] for fields of at most 16 bits.
#[allow(clippy::cast_possible_truncation)]
pub(crate) const fn get_u16(block: u64, top: u32, width: u32) -> u16 {
    get(block, top, if width > 16 { 16 } else { width }) as u16
}

/// [`get`] for fields of at most 32 bits.
#[allow(clippy::cast_possible_truncation)]
pub(crate) const fn get_u32(block: u64, top: u32, width: u32) -> u32 {
    get(block, top, if width > 32 { 32 } else { width }) as u32
}
