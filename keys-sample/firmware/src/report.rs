//! Semihosting output without `core::fmt`: lines are assembled from `&str` pieces and numbers
//! formatted by hand (formatting machinery would cost ~20 KB of flash, `shared/QEMU.md`).

use cortex_m_semihosting::hprint;

/// Writes `parts` to the host's stdout.
pub fn pieces(parts: &[&str]) {
    for part in parts {
        hprint!(part);
    }
}

/// Writes `parts` to the host's stdout, then a newline.
pub fn line(parts: &[&str]) {
    pieces(parts);
    hprint!("\n");
}

/// Room for `u32::MAX` in decimal.
pub type DecimalBuf = [u8; 10];

/// `n` in decimal, written into the end of `buf`.
pub fn decimal(n: u32, buf: &mut DecimalBuf) -> &str {
    let mut rest = n;
    let mut len = 0;
    for slot in buf.iter_mut().rev() {
        // `rest % 10` is below 10, so the conversion never falls back.
        *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    let start = buf.len().saturating_sub(len);
    buf.get(start..)
        .and_then(|digits| core::str::from_utf8(digits).ok())
        .unwrap_or("?")
}

/// `n` (a byte count or a step number) in decimal; saturates at `u32::MAX`.
pub fn usize_decimal(n: usize, buf: &mut DecimalBuf) -> &str {
    decimal(u32::try_from(n).unwrap_or(u32::MAX), buf)
}
