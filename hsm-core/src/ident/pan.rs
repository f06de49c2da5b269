//! The 18-digit meter PAN and its PANBlock (SPEC-crypto §5.2, SPEC-codec Appendix A.1).

use core::fmt;
use core::str::FromStr;

use token_codec::KeyType;

use super::{Drn, Iin, digit_of, first_non_digit, value_of};
use crate::error::{HsmError, PanError};
use crate::luhn;

/// An 18-digit meter PAN, `IIN ‖ DRN ‖ Luhn digit`, with both Luhn digits checked
/// (SPEC-crypto §5.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MeterPan {
    /// The 18 digits as ASCII.
    digits: [u8; 18],
    /// The IIN `digits` start with.
    iin: Iin,
}

impl MeterPan {
    /// The meter PAN of a DRN: the IIN its length goes with, the DRN, and the Luhn digit over
    /// both.
    pub fn from_drn(drn: Drn) -> Self {
        let iin = drn.iin();
        // IIN ‖ DRN as one 17-digit number: 600727·10^11 + DRN, or 0000·10^13 + DRN.
        let iin_value = match iin {
            Iin::SixDigit => 600_727 * 100_000_000_000,
            Iin::FourDigit => 0,
        };
        let mut digits = [b'0'; 18];
        let [body @ .., check] = &mut digits;
        write_ascii(iin_value + drn.value(), body);
        *check = b'0' + luhn::check_digit(body);
        MeterPan { digits, iin }
    }

    /// The IIN the PAN starts with.
    pub const fn iin(&self) -> Iin {
        self.iin
    }

    /// The DRN (IAIN) inside the PAN.
    pub fn drn(&self) -> Drn {
        let drn_digits = self
            .digits
            .iter()
            .skip(self.iin.digit_count())
            .take(self.iin.drn_digit_count());
        let value = drn_digits.fold(0u64, |acc, &d| acc * 10 + u64::from(digit_of(d)));
        Drn::from_checked(self.iin, value)
    }

    /// The PAN's final Luhn digit.
    pub fn check_digit(&self) -> u8 {
        let [.., check] = self.digits;
        digit_of(check)
    }

    /// The 18 digits as ASCII, as the DKGA04 message carries them (SPEC-crypto §5.7).
    pub const fn as_ascii(&self) -> &[u8; 18] {
        &self.digits
    }

    /// The 64-bit PANBlock of SPEC-crypto §5.2 for a key of type `kt`: the 16 rightmost digits
    /// of `IIN ‖ IAIN` (PAN digits 2..17, dropping the first IIN digit and the check digit) as
    /// 16 BCD nibbles.
    ///
    /// For a common key (KT 3, DCTK) the DRN digits are replaced by zeros, so every meter of
    /// the supply group (with the same IIN) gets the same key. The brief's two sources agree for IIN `600727`
    /// (`0072700000000000`) but differ for IIN `0000`: NectarAPI zeros the DRN after the IIN
    /// (`0000000000000000`), a Prism port uses the fixed PAN `600727000000000000` whatever the
    /// IIN. We follow SPEC-codec A.1 and NectarAPI ("the IAIN part is all zeros"): only the DRN
    /// digits are zeroed, the IIN digits stay. This is the only line to change if that turns
    /// out wrong.
    pub fn pan_block(&self, kt: KeyType) -> PanBlock {
        let [_, tail @ .., _] = self.digits;
        // Digits of the IIN left in the tail: 5 (00727) or 3 (000).
        let iin_in_tail = self.iin.digit_count().saturating_sub(1);
        let zero_drn = kt == KeyType::Dctk;
        let bits = tail.iter().enumerate().fold(0u64, |acc, (i, &d)| {
            let nibble = if zero_drn && i >= iin_in_tail {
                0
            } else {
                digit_of(d)
            };
            (acc << 4) | u64::from(nibble)
        });
        PanBlock(bits)
    }
}

/// Writes `value` as zero-padded ASCII digits filling `out` (higher digits are dropped).
fn write_ascii(mut value: u64, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        let [digit, ..] = (value % 10).to_le_bytes();
        *slot = b'0' + digit;
        value /= 10;
    }
}

impl FromStr for MeterPan {
    type Err = HsmError;

    /// Exactly 18 decimal digits, e.g. `"600727000000000009"`, with no separators. Checks, in
    /// order: digits only, length, IIN, the DRN's Luhn digit, the PAN's Luhn digit.
    fn from_str(s: &str) -> Result<Self, HsmError> {
        if let Some((position, found)) = first_non_digit(s) {
            return Err(PanError::NonDigit { position, found }.into());
        }
        // All characters are ASCII digits, so the byte count is the digit count.
        let digits: [u8; 18] = s
            .as_bytes()
            .try_into()
            .map_err(|_| PanError::Length { got: s.len() })?;
        let [body @ .., check] = digits;
        let iin = Iin::of_pan(&digits).ok_or_else(|| {
            let [a, b, c, d, e, f, ..] = digits;
            let leading = u32::try_from(value_of(&[a, b, c, d, e, f])).unwrap_or(u32::MAX);
            PanError::UnknownIin { leading }
        })?;
        let drn = match iin {
            Iin::SixDigit => {
                let [_, _, _, _, _, _, drn @ ..] = body;
                Drn::from_digits(&drn, iin)
            }
            Iin::FourDigit => {
                let [_, _, _, _, drn @ ..] = body;
                Drn::from_digits(&drn, iin)
            }
        };
        drn?;
        let expected = luhn::check_digit(&body);
        let got = digit_of(check);
        if expected != got {
            return Err(PanError::PanCheckDigit { expected, got }.into());
        }
        Ok(MeterPan { digits, iin })
    }
}

impl fmt::Display for MeterPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.digits
            .iter()
            .try_for_each(|&d| fmt::Write::write_char(f, char::from(d)))
    }
}

impl fmt::Debug for MeterPan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MeterPan({self})")
    }
}

/// The 64-bit PANBlock (16 BCD digits) that DKGA02 XORs with the control block
/// (SPEC-crypto §5.2, §5.4). Not secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PanBlock(u64);

impl PanBlock {
    /// The block as a big-endian integer (`0072700000000000` for PAN `600727000000000009`).
    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The block's 8 bytes, most significant first.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0.to_be_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pan(s: &str) -> MeterPan {
        s.parse().unwrap()
    }

    fn pan_err(s: &str) -> PanError {
        match s.parse::<MeterPan>() {
            Err(HsmError::MeterPan(e)) => e,
            other => panic!("{s}: expected a pan error, got {other:?}"),
        }
    }

    /// SPEC-crypto §5.2: P1, P2 and the DRN of P2.
    #[test]
    fn spec_pans_parse() {
        let p1 = pan("600727000000000009");
        assert_eq!(p1.iin(), Iin::SixDigit);
        assert_eq!(p1.check_digit(), 9);
        assert_eq!(p1.drn().to_string(), "00000000000");

        let p2 = pan("000001000000000082");
        assert_eq!(p2.iin(), Iin::FourDigit);
        assert_eq!(p2.check_digit(), 2);
        let drn = p2.drn();
        assert_eq!(drn.to_string(), "0100000000008");
        assert_eq!(
            (drn.manufacturer_code(), drn.serial(), drn.check_digit()),
            (100, 0, 8)
        );
        assert_eq!(MeterPan::from_drn(drn), p2);

        let drn: Drn = "0100000000008".parse().unwrap();
        assert_eq!(drn.digit_count(), 13);
        assert_eq!(MeterPan::from_drn(drn).to_string(), "000001000000000082");
    }

    /// SPEC-crypto §5.2 / SPEC-codec A.1: PANBlock = PAN digits 2..17 as BCD.
    #[test]
    fn pan_blocks() {
        let p1 = pan("600727000000000009");
        assert_eq!(p1.pan_block(KeyType::Dutk).bits(), 0x0072_7000_0000_0000);
        let p2 = pan("000001000000000082");
        assert_eq!(p2.pan_block(KeyType::Dutk).bits(), 0x0000_1000_0000_0008);
        assert_eq!(
            p2.pan_block(KeyType::Dutk).to_bytes(),
            [0, 0, 0x10, 0, 0, 0, 0, 0x08]
        );
        // 600727 + DRN 12345678903 (Luhn("1234567890") = 3) + PAN Luhn digit.
        let p = MeterPan::from_drn("12345678903".parse().unwrap());
        assert_eq!(p.pan_block(KeyType::Dutk).bits(), 0x0072_7123_4567_8903);
        assert_eq!(p.pan_block(KeyType::Ddtk).bits(), 0x0072_7123_4567_8903);
        // KT 3 (DCTK): the DRN digits become zeros, the IIN digits stay.
        assert_eq!(p.pan_block(KeyType::Dctk).bits(), 0x0072_7000_0000_0000);
        assert_eq!(p2.pan_block(KeyType::Dctk).bits(), 0);
    }

    #[test]
    fn bad_pans_are_refused_precisely() {
        assert_eq!(
            pan_err("600727000000000008"),
            PanError::PanCheckDigit {
                expected: 9,
                got: 8
            }
        );
        assert_eq!(
            pan_err("000001000000000083"),
            PanError::PanCheckDigit {
                expected: 2,
                got: 3
            }
        );
        // Serial digit changed: the DRN's own Luhn digit catches it first.
        assert_eq!(
            pan_err("600727000000010009"),
            PanError::DrnCheckDigit {
                expected: 8,
                got: 0
            }
        );
        assert_eq!(
            pan_err("000001000000000072"),
            PanError::DrnCheckDigit {
                expected: 8,
                got: 7
            }
        );
        assert_eq!(pan_err("60072700000000000"), PanError::Length { got: 17 });
        assert_eq!(pan_err("6007270000000000090"), PanError::Length { got: 19 });
        assert_eq!(pan_err(""), PanError::Length { got: 0 });
        assert_eq!(
            pan_err("6007270000000000O9"),
            PanError::NonDigit {
                position: 16,
                found: 'O'
            }
        );
        assert_eq!(
            pan_err("6007 27000000000009"),
            PanError::NonDigit {
                position: 4,
                found: ' '
            }
        );
        assert_eq!(
            pan_err("60072é000000000009"),
            PanError::NonDigit {
                position: 5,
                found: 'é'
            }
        );
        assert_eq!(
            pan_err("123456000000000009"),
            PanError::UnknownIin { leading: 123_456 }
        );
        assert_eq!(
            pan_err("000100000000000000"),
            PanError::UnknownIin { leading: 100 }
        );
        assert_eq!(
            "600727000000000008"
                .parse::<MeterPan>()
                .unwrap_err()
                .to_string(),
            "meter pan check digit: expected 9, got 8"
        );
        assert_eq!(
            "60072700000000000"
                .parse::<MeterPan>()
                .unwrap_err()
                .to_string(),
            "meter pan must be 18 digits, got 17"
        );
    }

    /// Luhn written as the validity test (the whole number, check digit included, sums to 0
    /// mod 10), independent of `luhn::check_digit`.
    fn test_luhn_digit(payload: &str) -> char {
        let valid = |s: &str| {
            let sum: u32 = s
                .chars()
                .rev()
                .enumerate()
                .map(|(i, c)| {
                    let d = c.to_digit(10).unwrap();
                    if i % 2 == 1 {
                        [0, 2, 4, 6, 8, 1, 3, 5, 7, 9][d as usize]
                    } else {
                        d
                    }
                })
                .sum();
            sum % 10 == 0
        };
        ('0'..='9')
            .find(|&c| valid(&format!("{payload}{c}")))
            .unwrap()
    }

    prop_compose! {
        /// A valid meter PAN: either IIN, random manufacturer code and serial, both Luhn
        /// digits correct.
        fn valid_pan()(six in any::<bool>(), mfr in 0u32..10_000, serial in 0u32..100_000_000)
            -> String
        {
            let (iin, mfr) = if six {
                ("600727", format!("{:02}", mfr % 100))
            } else {
                ("0000", format!("{mfr:04}"))
            };
            let drn_payload = format!("{mfr}{serial:08}");
            let drn = format!("{drn_payload}{}", test_luhn_digit(&drn_payload));
            let body = format!("{iin}{drn}");
            format!("{body}{}", test_luhn_digit(&body))
        }
    }

    proptest! {
        #[test]
        fn any_string_never_panics(s in any::<String>()) {
            let _ = s.parse::<MeterPan>();
            let _ = s.parse::<Drn>();
        }

        #[test]
        fn digit_strings_never_panic(s in "[0-9]{0,20}") {
            if let Ok(p) = s.parse::<MeterPan>() {
                prop_assert_eq!(p.to_string(), s);
            }
        }

        #[test]
        fn valid_pans_round_trip(s in valid_pan()) {
            let p: MeterPan = s.parse().unwrap();
            prop_assert_eq!(p.to_string(), s.clone());
            prop_assert_eq!(MeterPan::from_drn(p.drn()), p);
            let drn: Drn = p.drn().to_string().parse().unwrap();
            prop_assert_eq!(drn, p.drn());
        }

        #[test]
        fn one_wrong_check_digit_is_caught(s in valid_pan(), bump in 1u8..10) {
            let mut bytes = s.into_bytes();
            let last = bytes.last_mut().unwrap();
            *last = b'0' + (*last - b'0' + bump) % 10;
            let s = String::from_utf8(bytes).unwrap();
            prop_assert!(
                matches!(s.parse::<MeterPan>(), Err(HsmError::MeterPan(PanError::PanCheckDigit { .. }))),
                "{}", s
            );
        }
    }
}
