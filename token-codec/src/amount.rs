//! Transfer amounts: the 16-bit exponent/mantissa field (SPEC-codec §4) and the signed
//! currency amount (SPEC-codec §4A).
//!
//! Value in base units: `t = m·10^e + 16384·(10^e − 1)/9`. Brief decision 3: vending rounds up
//! so the customer never gets less than paid for (the CTSA10 sweep proves it is not floor);
//! currency debits round the magnitude down; an amount that cannot be encoded is an error,
//! never clamped.

use crate::error::{CodecError, Field};

/// Mantissa values per exponent band: 14 bits.
const MANTISSA_SPAN: u128 = 1 << 14;

/// `10^e`.
const fn pow10(e: u8) -> u128 {
    let mut v = 1u128;
    let mut i = 0;
    while i < e {
        v *= 10;
        i += 1;
    }
    v
}

/// First value of band `e`: `16384·(10^e − 1)/9`.
const fn band_start(e: u8) -> u128 {
    MANTISSA_SPAN * (pow10(e) - 1) / 9
}

/// Value of exponent `e` and mantissa `m` (both in range).
const fn value_of(e: u8, m: u16) -> u128 {
    (m as u128) * pow10(e) + band_start(e)
}

/// Rounding direction when an amount falls between two encodable values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Up,
    Down,
}

/// Encodes `units` with exponents `0..=max_e`; returns `(e, m)`.
fn encode(units: u128, max_e: u8, rounding: Rounding) -> Result<(u8, u16), CodecError> {
    let max = value_of(max_e, 0x3FFF);
    if units > max {
        return Err(CodecError::AmountTooLarge {
            requested: units,
            max,
        });
    }
    let mut e = 0u8;
    // Find the band: the largest e whose start is <= units.
    while e < max_e && band_start(e + 1) <= units {
        e += 1;
    }
    let step = pow10(e);
    let offset = units - band_start(e);
    let mut m = offset / step;
    if rounding == Rounding::Up && offset % step != 0 {
        m += 1;
    }
    if m == MANTISSA_SPAN {
        // Rounding up filled the band: its next value is the start of band e+1, mantissa 0
        // (e.g. 180223 → 0x8000 = 180224). `units <= max` guarantees e < max_e here.
        return Ok((e + 1, 0));
    }
    // m < 2^14 here, so the narrowing is exact.
    let m = u16::try_from(m).map_err(|_| CodecError::OutOfRange {
        field: Field::Mantissa,
        value: u64::MAX,
    })?;
    Ok((e, m))
}

/// The 16-bit transfer amount of class 0 subclasses 0–3, also used by the maximum power and
/// phase unbalance limits (SPEC-codec §4.1): bits 15..14 exponent, 13..0 mantissa.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferAmount(u16);

impl TransferAmount {
    /// Largest value in base units (field 0xFFFF): 18 201 624.
    pub const MAX_UNITS: u32 = 18_201_624;

    /// The field as found in a token (every 16-bit value is valid).
    pub const fn from_field(field: u16) -> Self {
        Self(field)
    }

    /// The smallest encodable amount at or above `units` base units (rounds up).
    pub fn round_up(units: u32) -> Result<Self, CodecError> {
        let (e, m) = encode(u128::from(units), 3, Rounding::Up)?;
        Ok(Self((u16::from(e) << 14) | m))
    }

    /// The 16-bit field.
    pub const fn field(self) -> u16 {
        self.0
    }

    /// Exponent, 0..=3.
    pub const fn exponent(self) -> u8 {
        (self.0 >> 14) as u8
    }

    /// Mantissa, 0..=16383.
    pub const fn mantissa(self) -> u16 {
        self.0 & 0x3FFF
    }

    /// The amount in base units the meter credits (0.1 kWh, 0.1 m³, …; 1 W for power limits).
    // At most 18 201 624 (field 0xFFFF), far below u32::MAX: the narrowing is exact.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn units(self) -> u32 {
        value_of(self.exponent(), self.mantissa()) as u32
    }
}

/// The signed currency amount of class 0 subclasses 4–7 (SPEC-codec §4A): sign, 5-bit
/// exponent, 14-bit mantissa, in units of 0.00001 currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CurrencyAmount {
    negative: bool,
    exponent: u8,
    mantissa: u16,
}

impl CurrencyAmount {
    /// Largest exponent.
    pub const MAX_EXPONENT: u8 = 31;

    /// Builds from raw fields; fails if the exponent exceeds 31 or the mantissa 16383.
    pub const fn from_parts(
        negative: bool,
        exponent: u8,
        mantissa: u16,
    ) -> Result<Self, CodecError> {
        if exponent > Self::MAX_EXPONENT {
            return Err(CodecError::OutOfRange {
                field: Field::Exponent,
                value: exponent as u64,
            });
        }
        if mantissa > 0x3FFF {
            return Err(CodecError::OutOfRange {
                field: Field::Mantissa,
                value: mantissa as u64,
            });
        }
        Ok(Self {
            negative,
            exponent,
            mantissa,
        })
    }

    /// Encodes a signed amount of 0.00001 currency units: a credit rounds up, a debit rounds
    /// its magnitude down, both in the customer's favour.
    pub fn from_units(units: i128) -> Result<Self, CodecError> {
        let negative = units < 0;
        let rounding = if negative {
            Rounding::Down
        } else {
            Rounding::Up
        };
        let (exponent, mantissa) = encode(units.unsigned_abs(), Self::MAX_EXPONENT, rounding)?;
        Ok(Self {
            negative,
            exponent,
            mantissa,
        })
    }

    /// True for a debit.
    pub const fn is_negative(self) -> bool {
        self.negative
    }

    /// Exponent, 0..=31.
    pub const fn exponent(self) -> u8 {
        self.exponent
    }

    /// Mantissa, 0..=16383.
    pub const fn mantissa(self) -> u16 {
        self.mantissa
    }

    /// Magnitude in 0.00001 currency units (at most about 1.8·10^35).
    pub const fn magnitude(self) -> u128 {
        value_of(self.exponent, self.mantissa)
    }

    /// Signed value in 0.00001 currency units.
    pub const fn units(self) -> i128 {
        // The magnitude is below 2^118, so it fits in i128.
        let m = self.magnitude() as i128;
        if self.negative { -m } else { m }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The `amount` vectors of primitives.jsonl: CTSA10 sweep (SPEC-codec §4, §7.1) and the
    /// STS Association TID page (§7.3).
    #[test]
    fn published_amounts() {
        let cases = [
            (256, 0x0100, 256),
            (16383, 0x3FFF, 16383),
            (16384, 0x4000, 16384),
            (20000, 0x416A, 20004),
            (180223, 0x8000, 180224),
            (180224, 0x8000, 180224),
            (1818623, 0xC000, 1818624),
            (1818624, 0xC000, 1818624),
            (18201624, 0xFFFF, 18201624),
            (10000, 0x2710, 10000),
        ];
        for (units, field, value) in cases {
            let a = TransferAmount::round_up(units).unwrap();
            assert_eq!(a.field(), field, "{units}");
            assert_eq!(a.units(), value, "{units}");
        }
    }

    #[test]
    fn too_large_is_refused_not_clamped() {
        assert_eq!(
            TransferAmount::round_up(18_201_625),
            Err(CodecError::AmountTooLarge {
                requested: 18_201_625,
                max: 18_201_624
            })
        );
    }

    /// SPEC-codec §4A: +1.00000 → e 1, m 8362 (1.00004); −1.00000 → −0.99994.
    #[test]
    fn currency_rounding() {
        let a = CurrencyAmount::from_units(100_000).unwrap();
        assert_eq!((a.exponent(), a.mantissa(), a.units()), (1, 8362, 100_004));
        let d = CurrencyAmount::from_units(-100_000).unwrap();
        assert_eq!(
            (d.is_negative(), d.exponent(), d.mantissa(), d.units()),
            (true, 1, 8361, -99_994)
        );
        // The "1.82044E+29" vector is e 31, m 0.
        let top = CurrencyAmount::from_parts(false, 31, 0).unwrap();
        assert_eq!(top.magnitude() / 100_000 / 10u128.pow(24), 182_044);
    }

    proptest! {
        /// Rounding up never gives less, and never more than one step (SPEC-codec §4.2).
        #[test]
        fn round_up_is_tight(units in 0u32..=TransferAmount::MAX_UNITS) {
            let a = TransferAmount::round_up(units).unwrap();
            let step = 10u32.pow(u32::from(a.exponent()));
            prop_assert!(a.units() >= units);
            prop_assert!(a.units() - units < step);
            prop_assert_eq!(TransferAmount::from_field(a.field()), a);
        }

        #[test]
        fn every_field_decodes_and_re_encodes(field in any::<u16>()) {
            let a = TransferAmount::from_field(field);
            prop_assert_eq!(TransferAmount::round_up(a.units()).unwrap(), a);
        }

        #[test]
        fn currency_favours_the_customer(units in -(10i128.pow(30))..10i128.pow(30)) {
            let a = CurrencyAmount::from_units(units).unwrap();
            prop_assert!(a.units() >= units);
            prop_assert!(a.units() - units < 10i128.pow(u32::from(a.exponent())));
        }
    }
}
