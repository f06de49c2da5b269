//! Hex text into secret buffers, without echoing the text in errors.

use crate::error::HexFault;

/// The value of one hex digit, or -1 if `c` is not one.
///
/// Branch-free and table-free (range tests done with sign bits), so decoding a valid key takes
/// the same path whatever its digits are.
fn nibble(c: u8) -> i16 {
    let c = i16::from(c);
    let mut value: i16 = -1;
    // '0'..='9' (0x30..=0x39): adds c - 0x30 + 1.
    value += (((0x2F - c) & (c - 0x3A)) >> 8) & (c - 0x2F);
    // 'A'..='F' (0x41..=0x46): adds c - 0x41 + 10 + 1.
    value += (((0x40 - c) & (c - 0x47)) >> 8) & (c - 0x36);
    // 'a'..='f' (0x61..=0x66): adds c - 0x61 + 10 + 1.
    value += (((0x60 - c) & (c - 0x67)) >> 8) & (c - 0x56);
    value
}

/// Decodes hex text into `out` (upper or lower case, no prefix, no separators).
///
/// The caller checks first that `hex` has `2 * out.len()` characters (a length is not secret).
/// On error `out` may hold part of the key: the caller's buffer must zeroize itself on drop.
pub(crate) fn decode_into(hex: &[u8], out: &mut [u8]) -> Result<(), HexFault> {
    if hex.len() % 2 != 0 {
        return Err(HexFault::OddDigits { digits: hex.len() });
    }
    let mut bad: i16 = 0;
    for (slot, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (high, low) = match pair {
            [high, low] => (nibble(*high), nibble(*low)),
            _ => (-1, -1),
        };
        bad |= high | low;
        let [byte, _] = ((high << 4) | low).to_le_bytes();
        *slot = byte;
    }
    if bad < 0 {
        // Only invalid input reaches this search, so its timing reveals nothing about a key.
        let position = hex.iter().position(|&c| nibble(c) < 0).unwrap_or(0);
        return Err(HexFault::NotHex { position });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_value() {
        for c in 0..=255u8 {
            let want = (c as char)
                .to_digit(16)
                .map_or(-1, |d| i16::try_from(d).unwrap());
            assert_eq!(nibble(c), want, "byte {c:#04x}");
        }
    }

    #[test]
    fn decodes_and_refuses() {
        let mut out = [0u8; 4];
        decode_into(b"aB09fF10", &mut out).unwrap();
        assert_eq!(out, [0xAB, 0x09, 0xFF, 0x10]);
        assert_eq!(
            decode_into(b"aB0", &mut out),
            Err(HexFault::OddDigits { digits: 3 })
        );
        assert_eq!(
            decode_into(b"aB0g", &mut out),
            Err(HexFault::NotHex { position: 3 })
        );
        assert_eq!(
            decode_into(b" aB0", &mut out),
            Err(HexFault::NotHex { position: 0 })
        );
    }
}
