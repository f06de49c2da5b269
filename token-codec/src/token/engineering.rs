//! Class 1: non-meter-specific engineering tokens, not encrypted (SPEC-codec §2.2).

use super::bits::{get, get_u8, get_u16, put, subclass};
use crate::error::{CodecError, Field};
use crate::ident::Subclass;

/// The manufacturer code field of an initiate-meter-test token.
///
/// The standard calls these 2-digit and 4-digit codes; the fields are 8 and 16 bits of
/// binary. Decoding accepts every value the field can carry, so a meter never refuses what
/// its field holds; vending limits them to 0..=99 and 0..=9999 (`ManufacturerCode::new`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ManufacturerCode {
    /// Subclass 0: 8-bit code, 36-bit control field.
    TwoDigit(u8),
    /// Subclass 1: 16-bit code, 28-bit control field.
    FourDigit(u16),
}

impl ManufacturerCode {
    /// A code as vending writes it: up to 2 digits selects subclass 0, up to 4 digits
    /// subclass 1.
    pub fn new(code: u16, digits: u8) -> Result<Self, CodecError> {
        let out_of_range = CodecError::OutOfRange {
            field: Field::ManufacturerCode,
            value: u64::from(code),
        };
        match digits {
            2 => u8::try_from(code)
                .ok()
                .filter(|c| *c <= 99)
                .map(Self::TwoDigit)
                .ok_or(out_of_range),
            4 if code <= 9999 => Ok(Self::FourDigit(code)),
            _ => Err(out_of_range),
        }
    }

    /// The field value.
    pub const fn value(self) -> u16 {
        match self {
            Self::TwoDigit(c) => c as u16,
            Self::FourDigit(c) => c,
        }
    }

    /// Width of the control field that goes with this code.
    pub const fn control_bits(self) -> u32 {
        match self {
            Self::TwoDigit(_) => 36,
            Self::FourDigit(_) => 28,
        }
    }
}

/// Class 1 subclasses 0 and 1: initiate meter test/display.
///
/// Subclass 0 layout: subclass(4) control(36) MfrCode(8) CRC(16); subclass 1: subclass(4)
/// control(28) MfrCode(16) CRC(16). Control bit 0 is block bit 24 (subclass 0) or 32
/// (subclass 1), as the CTSA11 vectors show (SPEC-codec §2A).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeterTest {
    control: u64,
    manufacturer: ManufacturerCode,
}

impl MeterTest {
    /// Builds the token; fails if `control` does not fit the code's control field.
    pub const fn new(control: u64, manufacturer: ManufacturerCode) -> Result<Self, CodecError> {
        if control >> manufacturer.control_bits() != 0 {
            return Err(CodecError::OutOfRange {
                field: Field::Control,
                value: control,
            });
        }
        Ok(Self {
            control,
            manufacturer,
        })
    }

    /// The test/display control bits.
    pub const fn control(&self) -> u64 {
        self.control
    }

    /// The manufacturer code (and with it the subclass).
    pub const fn manufacturer(&self) -> ManufacturerCode {
        self.manufacturer
    }

    /// 0 for a two-digit code, 1 for a four-digit code.
    pub const fn subclass(&self) -> u8 {
        match self.manufacturer {
            ManufacturerCode::TwoDigit(_) => 0,
            ManufacturerCode::FourDigit(_) => 1,
        }
    }

    pub(crate) const fn to_block(self) -> u64 {
        match self.manufacturer {
            ManufacturerCode::TwoDigit(code) => {
                subclass(0) | put(self.control, 59, 36) | put(code as u64, 23, 8)
            }
            ManufacturerCode::FourDigit(code) => {
                subclass(1) | put(self.control, 59, 28) | put(code as u64, 31, 16)
            }
        }
    }

    pub(crate) const fn from_block(block: u64, sub: u8) -> Self {
        if sub == 0 {
            Self {
                control: get(block, 59, 36),
                manufacturer: ManufacturerCode::TwoDigit(get_u8(block, 23, 8)),
            }
        } else {
            Self {
                control: get(block, 59, 28),
                manufacturer: ManufacturerCode::FourDigit(get_u16(block, 31, 16)),
            }
        }
    }
}

/// Class 1 subclasses 2–15: decoded but not interpreted; the 44 bits 59..16 are kept as they
/// are (e.g. the STS 202-5 subclass 2 token of CTSA24). Whether a meter applies them is the
/// firmware's choice (brief decision 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EngineeringPayload {
    subclass: Subclass,
    payload: u64,
}

impl EngineeringPayload {
    /// Largest payload: 44 bits.
    pub const MAX_PAYLOAD: u64 = (1 << 44) - 1;

    /// Builds the token; the subclass must be 2..=15 and the payload fit in 44 bits.
    pub const fn new(subclass: Subclass, payload: u64) -> Result<Self, CodecError> {
        if subclass.get() < 2 {
            return Err(CodecError::OutOfRange {
                field: Field::Subclass,
                value: subclass.get() as u64,
            });
        }
        if payload > Self::MAX_PAYLOAD {
            return Err(CodecError::OutOfRange {
                field: Field::Payload,
                value: payload,
            });
        }
        Ok(Self { subclass, payload })
    }

    /// The subclass, 2..=15.
    pub const fn subclass(&self) -> Subclass {
        self.subclass
    }

    /// Block bits 59..16.
    pub const fn payload(&self) -> u64 {
        self.payload
    }

    pub(crate) const fn to_block(self) -> u64 {
        subclass(self.subclass.get()) | put(self.payload, 59, 44)
    }

    pub(crate) const fn from_block(block: u64, sub: u8) -> Self {
        Self {
            subclass: Subclass::from_low_bits(sub as u64),
            payload: get(block, 59, 44),
        }
    }
}
