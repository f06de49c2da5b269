//! CRC-16 and CRC_C of the token data block (SPEC-codec §3, §4A).
//!
//! Brief decision 2: CRC-16/MODBUS (poly x^16+x^15+x^2+1 reflected as 0xA001, init 0xFFFF,
//! no final XOR) over the 7-byte big-endian value `class ‖ block bits 63..16`, stored
//! byte-swapped in bits 15..0. The CCITT variant one source claims does not reproduce the
//! published tokens. Currency subclasses 4–7 use CRC_C: the same over those 7 bytes plus 0x01.

use crate::ident::TokenClass;

/// Byte-wise table of the reflected 0xA001 polynomial, built at compile time (512 bytes).
const TABLE: [u16; 256] = build_table();

// Runs only at compile time: `i` stays below 256, the table's length, and fits in u16.
#[allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]
const fn build_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u16;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC-16/MODBUS register value of `data` (check value of `"123456789"` is 0x4B37).
pub fn crc16_modbus(data: &[u8]) -> u16 {
    data.iter().fold(0xFFFF_u16, |crc, &b| {
        let index = usize::from((crc ^ u16::from(b)) & 0xFF);
        // `index` is masked to 0..=255 and TABLE has 256 entries.
        (crc >> 8) ^ TABLE.get(index).copied().unwrap_or(0)
    })
}

/// The CRC field as stored in block bits 15..0: the register byte-swapped.
pub fn field_of(data: &[u8]) -> u16 {
    crc16_modbus(data).swap_bytes()
}

/// Which CRC a block carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrcKind {
    /// The standard CRC over 7 bytes.
    Standard,
    /// CRC_C: 7 bytes followed by 0x01 (class 0 subclasses 4–7).
    Currency,
}

impl CrcKind {
    /// The CRC a block of `class` and `subclass` carries.
    pub const fn for_block(class: TokenClass, subclass: u8) -> Self {
        match (class, subclass) {
            (TokenClass::Credit, 4..=7) => CrcKind::Currency,
            _ => CrcKind::Standard,
        }
    }
}

/// The CRC field for a block (its bits 15..0 are ignored).
pub fn block_crc(class: TokenClass, block: u64, kind: CrcKind) -> u16 {
    let covered = (u64::from(class.bits()) << 48) | (block >> 16);
    match kind {
        // The value is 50 bits, so byte 0 of its 8 big-endian bytes is zero: the covered 7
        // bytes are bytes 1..8.
        CrcKind::Standard => field_of(covered.to_be_bytes().get(1..).unwrap_or(&[])),
        // CRC_C: the same 7 bytes followed by 0x01, i.e. the value shifted up one byte.
        CrcKind::Currency => field_of(&((covered << 8) | 0x01).to_be_bytes()),
    }
}

/// Returns `block` with bits 15..0 replaced by its CRC.
pub fn seal(class: TokenClass, block: u64) -> u64 {
    let kind = CrcKind::for_block(class, subclass_of(block));
    (block & !0xFFFF) | u64::from(block_crc(class, block, kind))
}

/// Checks bits 15..0 of a decrypted block; returns `(stored, computed)` on mismatch.
pub fn check(class: TokenClass, block: u64) -> Result<(), (u16, u16)> {
    let kind = CrcKind::for_block(class, subclass_of(block));
    let stored = (block & 0xFFFF) as u16;
    let computed = block_crc(class, block, kind);
    if stored == computed {
        Ok(())
    } else {
        Err((stored, computed))
    }
}

/// Block bits 63..60.
pub(crate) const fn subclass_of(block: u64) -> u8 {
    (block >> 60) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modbus_check_value() {
        assert_eq!(crc16_modbus(b"123456789"), 0x4B37);
    }

    /// The `crc` vectors of primitives.jsonl (SPEC-crypto §7.1, SPEC-codec §3, §7.3, §4A).
    #[test]
    fn published_crc_fields() {
        let cases: [(&[u8], u16); 5] = [
            (&[0x00, 0x00, 0x4A, 0x2D, 0x90, 0x0F, 0xF2], 0x0FFA),
            (&[0x00, 0x0B, 0x19, 0xEB, 0x23, 0x01, 0x00], 0xC207),
            (&[0x00, 0x05, 0x59, 0x98, 0x63, 0x00, 0x01], 0x19E6),
            (&[0x00, 0x05, 0xC0, 0x2A, 0x55, 0x27, 0x10], 0x1970),
            (&[0x00, 0x40, 0x52, 0xB1, 0x39, 0x60, 0xAA, 0x01], 0xC385),
        ];
        for (input, field) in cases {
            assert_eq!(field_of(input), field, "{input:02X?}");
        }
    }

    #[test]
    fn blocks_seal_and_check() {
        // CTSA01 step 1 and the CTSA20 currency block (SPEC-codec §3, §4A).
        assert_eq!(
            seal(TokenClass::Credit, 0x0559_9863_0001_0000),
            0x0559_9863_0001_19E6
        );
        assert_eq!(
            seal(TokenClass::Credit, 0x4052_B139_60AA_0000),
            0x4052_B139_60AA_C385
        );
        assert_eq!(check(TokenClass::Credit, 0x0559_9863_0001_19E6), Ok(()));
        assert_eq!(
            check(TokenClass::Credit, 0x0559_9863_0001_19E7),
            Err((0x19E7, 0x19E6))
        );
        // The class is covered: the same bits as class 2 fail.
        assert!(check(TokenClass::Management, 0x0559_9863_0001_19E6).is_err());
    }
}
