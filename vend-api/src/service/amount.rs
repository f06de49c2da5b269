//! Amounts as callers write them (decimal strings in kWh, m³, hours or currency) and as
//! tokens carry them (integer base units).
//!
//! Base units (SPEC-codec §4.4, §4A): electricity 0.1 kWh, water 0.1 m³ (0.1 kl), gas
//! 0.1 m³, time 0.1 minute (so 1 h = 600 units), currency 0.00001.
//!
//! Brief decision 3: a credit converts to base units rounding **up** (the customer never
//! gets less than paid for) and is then rounded up again to an encodable transfer amount; a
//! currency debit rounds its magnitude **down**. Extra decimals are therefore not an error:
//! they round. The conversion is exact for any number of decimals (a digit-by-digit
//! multiplication, no floats).

use core::fmt;
use core::str::FromStr;

/// Longest amount text accepted.
pub const MAX_LEN: usize = 100;

/// A decimal number as written: sign, integer digits, fraction digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal {
    negative: bool,
    int: String,
    frac: String,
}

/// Why an amount string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Empty text.
    Empty,
    /// Over [`MAX_LEN`] characters.
    TooLong {
        /// Characters given.
        got: usize,
    },
    /// Not `[-]digits[.digits]`.
    Syntax {
        /// Position of the first bad character.
        position: usize,
    },
}

impl fmt::Display for DecimalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("amount must be a decimal string such as \"12.5\""),
            Self::TooLong { got } => {
                write!(f, "amount text is {got} characters, at most {MAX_LEN}")
            }
            Self::Syntax { position } => write!(
                f,
                "amount must be a decimal string such as \"12.5\" (digits, one optional '.', \
                 optional leading '-'); bad character at position {position}"
            ),
        }
    }
}

impl std::error::Error for DecimalError {}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, DecimalError> {
        if s.is_empty() {
            return Err(DecimalError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(DecimalError::TooLong {
                got: s.chars().count(),
            });
        }
        let (negative, body, offset) = match s.strip_prefix('-') {
            Some(rest) => (true, rest, 1),
            None => (false, s, 0),
        };
        let (int, frac) = match body.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (body, None),
        };
        let bad = |pos: usize| DecimalError::Syntax {
            position: offset + pos,
        };
        if int.is_empty() {
            return Err(bad(0));
        }
        if let Some(p) = int.bytes().position(|b| !b.is_ascii_digit()) {
            return Err(bad(p));
        }
        let frac = match frac {
            None => "",
            Some("") => return Err(bad(int.len() + 1)),
            Some(f) => {
                if let Some(p) = f.bytes().position(|b| !b.is_ascii_digit()) {
                    return Err(bad(int.len() + 1 + p));
                }
                f
            }
        };
        Ok(Self {
            negative,
            int: int.trim_start_matches('0').to_owned(),
            frac: frac.trim_end_matches('0').to_owned(),
        })
    }
}

/// Rounding direction for [`Decimal::to_units`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Toward +∞ on the magnitude (credits).
    Up,
    /// Toward 0 on the magnitude (debits).
    Down,
}

impl Decimal {
    /// True for a value below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// True for zero (`0`, `-0.000`).
    pub fn is_zero(&self) -> bool {
        self.int.is_empty() && self.frac.is_empty()
    }

    /// `|value| · per_unit`, rounded; `None` if it does not fit in 128 bits.
    pub fn to_units(&self, per_unit: u32, round: Round) -> Option<u128> {
        let per = u128::from(per_unit);
        let mut whole: u128 = 0;
        for b in self.int.bytes() {
            whole = whole.checked_mul(10)?.checked_add(u128::from(b - b'0'))?;
        }
        let whole = whole.checked_mul(per)?;
        // frac · per = carry + 0.rest: multiply digit by digit from the last one.
        let mut carry: u128 = 0;
        let mut rest_nonzero = false;
        for b in self.frac.bytes().rev() {
            let p = u128::from(b - b'0') * per + carry;
            rest_nonzero |= p % 10 != 0;
            carry = p / 10;
        }
        let units = whole.checked_add(carry)?;
        match round {
            Round::Up if rest_nonzero => units.checked_add(1),
            _ => Some(units),
        }
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        f.write_str(if self.int.is_empty() { "0" } else { &self.int })?;
        if !self.frac.is_empty() {
            write!(f, ".{}", self.frac)?;
        }
        Ok(())
    }
}

/// `units / per_unit` as decimal text with `decimals` places, truncated toward zero;
/// the flag says whether the text is exact.
pub fn format_units(units: i128, per_unit: u32, decimals: u32) -> (String, bool) {
    let per = i128::from(per_unit);
    let scale = 10i128.pow(decimals);
    let mag = units.unsigned_abs();
    let scaled = mag.saturating_mul(scale.unsigned_abs());
    let per_u = per.unsigned_abs();
    let q = scaled / per_u;
    let exact = scaled % per_u == 0;
    let scale_u = scale.unsigned_abs();
    let sign = if units < 0 && q != 0 { "-" } else { "" };
    let text = if decimals == 0 {
        format!("{sign}{q}")
    } else {
        let width = usize::try_from(decimals).unwrap_or(0);
        format!("{sign}{}.{:0width$}", q / scale_u, q % scale_u)
    };
    (text, exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str, per: u32, r: Round) -> Option<u128> {
        s.parse::<Decimal>().unwrap().to_units(per, r)
    }

    #[test]
    fn converts_exactly_and_rounds_in_the_customers_favour() {
        assert_eq!(units("25.5", 10, Round::Up), Some(255));
        assert_eq!(units("25.51", 10, Round::Up), Some(256));
        assert_eq!(units("25.51", 10, Round::Down), Some(255));
        assert_eq!(units("0.01", 10, Round::Up), Some(1));
        assert_eq!(units("1", 600, Round::Up), Some(600));
        assert_eq!(units("0.0001", 600, Round::Up), Some(1)); // 0.06 units
        assert_eq!(units("1.5", 600, Round::Up), Some(900));
        assert_eq!(units("1.00000", 100_000, Round::Up), Some(100_000));
        assert_eq!(units("1.000001", 100_000, Round::Up), Some(100_001));
        assert_eq!(units("1.000009", 100_000, Round::Down), Some(100_000));
        // Many decimals: still exact (a sticky digit far down rounds up).
        let long = format!("2.{}1", "0".repeat(80));
        assert_eq!(units(&long, 10, Round::Up), Some(21));
        assert_eq!(units(&long, 10, Round::Down), Some(20));
        assert_eq!(units("0007.50", 10, Round::Up), Some(75));
        assert_eq!(units(&"9".repeat(40), 10, Round::Up), None);
    }

    #[test]
    fn syntax_errors_name_the_position() {
        for (text, err) in [
            ("", DecimalError::Empty),
            ("1e3", DecimalError::Syntax { position: 1 }),
            ("+1", DecimalError::Syntax { position: 0 }),
            (".5", DecimalError::Syntax { position: 0 }),
            ("5.", DecimalError::Syntax { position: 2 }),
            ("-1.2.3", DecimalError::Syntax { position: 4 }),
            (" 1", DecimalError::Syntax { position: 0 }),
        ] {
            assert_eq!(text.parse::<Decimal>(), Err(err), "{text:?}");
        }
        assert!(matches!(
            "1".repeat(101).parse::<Decimal>(),
            Err(DecimalError::TooLong { got: 101 })
        ));
    }

    #[test]
    fn sign_and_zero() {
        let d: Decimal = "-0.000".parse().unwrap();
        assert!(d.is_zero() && !d.is_negative());
        let d: Decimal = "-1.50".parse().unwrap();
        assert!(d.is_negative());
        assert_eq!(d.to_string(), "-1.5");
    }

    #[test]
    fn formats_units_back() {
        assert_eq!(format_units(20004, 10, 1), ("2000.4".into(), true));
        assert_eq!(format_units(100_004, 100_000, 5), ("1.00004".into(), true));
        assert_eq!(format_units(-99_994, 100_000, 5), ("-0.99994".into(), true));
        assert_eq!(format_units(900, 600, 3), ("1.500".into(), true));
        assert_eq!(format_units(610, 600, 6), ("1.016666".into(), false));
    }
}
