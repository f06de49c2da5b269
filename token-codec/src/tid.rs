//! Token identifiers: whole UTC minutes since a base date, 24 bits (SPEC-codec §5).
//!
//! Brief decision 4: the reserved minute 00:01 of each day is skipped by vending, tokens for
//! one meter never share a TID, and running past 2^24 − 1 is an error calling for a key change
//! to a later base date, never a wrap. Decision 9: `(TID >> 16) > KEN` means expired.

use core::fmt;

use crate::error::{CodecError, Field};
use crate::ident::{BaseDate, KeyExpiryNumber};

const MINUTES_PER_DAY: i64 = 1440;

/// Days from 1970-01-01 to `year-month-day` in the proleptic Gregorian calendar.
/// (The standard era-based civil calendar computation: 400-year eras of 146 097 days.)
const fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
// The algorithm yields day 1..=31 and month 1..=12, so the narrowing casts are exact.
#[allow(clippy::cast_possible_truncation)]
const fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

const fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

const fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(year) {
                29
            } else {
                28
            }
        }
    }
}

/// A UTC instant truncated to the whole minute, as minutes since 1970-01-01T00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcMinute(i64);

impl UtcMinute {
    /// From a calendar date and time (UTC); fails on an impossible date or time, or a year
    /// outside 1900..=9999.
    pub const fn from_civil(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
    ) -> Result<Self, CodecError> {
        let y = year as i64;
        if year < 1900 || year > 9999 {
            return Err(CodecError::OutOfRange {
                field: Field::Year,
                value: year as u64,
            });
        }
        if month < 1 || month > 12 {
            return Err(CodecError::OutOfRange {
                field: Field::Month,
                value: month as u64,
            });
        }
        if day < 1 || day > days_in_month(y, month) {
            return Err(CodecError::OutOfRange {
                field: Field::Day,
                value: day as u64,
            });
        }
        if hour > 23 {
            return Err(CodecError::OutOfRange {
                field: Field::Hour,
                value: hour as u64,
            });
        }
        if minute > 59 {
            return Err(CodecError::OutOfRange {
                field: Field::Minute,
                value: minute as u64,
            });
        }
        let days = days_from_civil(y, month, day);
        Ok(Self(
            days * MINUTES_PER_DAY + hour as i64 * 60 + minute as i64,
        ))
    }

    /// From minutes since the Unix epoch.
    pub const fn from_unix_minutes(minutes: i64) -> Self {
        Self(minutes)
    }

    /// From seconds since the Unix epoch, truncated to the minute (floor).
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds.div_euclid(60))
    }

    /// Minutes since the Unix epoch.
    pub const fn unix_minutes(self) -> i64 {
        self.0
    }

    /// `(year, month, day, hour, minute)`.
    // `in_day` is 0..1440, so hour < 24 and minute < 60 fit in u8.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn to_civil(self) -> (i64, u8, u8, u8, u8) {
        let days = self.0.div_euclid(MINUTES_PER_DAY);
        let in_day = self.0.rem_euclid(MINUTES_PER_DAY);
        let (y, mo, d) = civil_from_days(days);
        (y, mo, d, (in_day / 60) as u8, (in_day % 60) as u8)
    }

    /// Minute within the UTC day, 0..=1439.
    pub const fn minute_of_day(self) -> i64 {
        self.0.rem_euclid(MINUTES_PER_DAY)
    }
}

impl fmt::Display for UtcMinute {
    /// RFC 3339 to the minute, e.g. `2004-03-01T13:55Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi) = self.to_civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}Z")
    }
}

impl BaseDate {
    /// The base date as a UTC minute (00:00 on 1 January).
    pub const fn start(self) -> UtcMinute {
        UtcMinute(days_from_civil(self.year() as i64, 1, 1) * MINUTES_PER_DAY)
    }
}

/// A 24-bit token identifier: minutes since the meter key's base date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Tid(u32);

impl Tid {
    /// Largest TID, 2^24 − 1 (for base 1993: 2024-11-24 20:15 UTC).
    pub const MAX: u32 = 0xFF_FFFF;

    /// Wraps a raw value; fails above 2^24 − 1.
    pub const fn new(value: u32) -> Result<Self, CodecError> {
        if value > Self::MAX {
            Err(CodecError::OutOfRange {
                field: Field::Tid,
                value: value as u64,
            })
        } else {
            Ok(Self(value))
        }
    }

    /// Builds from the low 24 bits of `bits`.
    // Masked to 24 bits, so the narrowing is exact.
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) const fn from_low_bits(bits: u64) -> Self {
        Self((bits & Self::MAX as u64) as u32)
    }

    /// The TID of the minute `at`, exactly (no reserved-minute rule).
    // `minutes` is checked to lie in 0..=2^24-1 before the narrowing.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    pub const fn at_minute(at: UtcMinute, base: BaseDate) -> Result<Self, CodecError> {
        let minutes = at.0 - base.start().0;
        if minutes < 0 {
            return Err(CodecError::BeforeBaseDate);
        }
        if minutes > Self::MAX as i64 {
            return Err(CodecError::TidOverflow {
                minutes: minutes as u64,
            });
        }
        Ok(Self(minutes as u32))
    }

    /// The TID vending gives a token issued at `at`: the minute's TID, except that the
    /// reserved minute 00:01 moves to 00:02 (SPEC-codec §5.2; brief decision 15).
    pub const fn for_issue(at: UtcMinute, base: BaseDate) -> Result<Self, CodecError> {
        let at = if at.minute_of_day() == 1 {
            UtcMinute(at.0 + 1)
        } else {
            at
        };
        Self::at_minute(at, base)
    }

    /// The raw value.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// True if this is a day's reserved minute 00:01 (base dates start at midnight, so the
    /// minute of day is the TID modulo 1440).
    pub const fn is_reserved_minute(self) -> bool {
        self.0 % 1440 == 1
    }

    /// The next TID vending may use after this one, skipping the reserved minute; fails when
    /// the base date's TIDs are used up.
    // `next` is checked against 2^24-1 before the narrowing.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn next_free(self) -> Result<Self, CodecError> {
        let mut next = self.0 as u64 + 1;
        if next % 1440 == 1 {
            next += 1;
        }
        if next > Self::MAX as u64 {
            return Err(CodecError::TidOverflow { minutes: next });
        }
        Ok(Self(next as u32))
    }

    /// The UTC minute this TID stands for.
    pub const fn minute(self, base: BaseDate) -> UtcMinute {
        UtcMinute(base.start().0 + self.0 as i64)
    }

    /// Top 8 bits, the part compared with a key expiry number.
    // The value has 24 bits, so bits 23..16 fit in u8.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn high_byte(self) -> u8 {
        (self.0 >> 16) as u8
    }

    /// Checks the TID against a key's expiry number (brief decision 9).
    pub const fn check_expiry(self, ken: KeyExpiryNumber) -> Result<(), CodecError> {
        if self.high_byte() > ken.get() {
            Err(CodecError::KeyExpired {
                tid_high: self.high_byte(),
                ken: ken.get(),
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(y: u16, mo: u8, d: u8, h: u8, mi: u8) -> UtcMinute {
        UtcMinute::from_civil(y, mo, d, h, mi).unwrap()
    }

    /// The `tid` vectors of primitives.jsonl (SPEC-codec §5.1, §7).
    #[test]
    fn published_tids() {
        let cases = [
            (BaseDate::Y1993, at(2004, 3, 1, 13, 55), 5_871_715),
            (BaseDate::Y1993, at(2016, 12, 11, 15, 49), 12_593_749),
            (BaseDate::Y1993, at(1996, 3, 25, 13, 55), 1_698_595),
            (BaseDate::Y1993, at(2024, 11, 24, 20, 15), 16_777_215),
            (BaseDate::Y2014, at(2014, 3, 1, 13, 0), 85_740),
            (BaseDate::Y2014, at(2014, 1, 1, 8, 0), 480),
            (BaseDate::Y2014, at(2026, 7, 29, 0, 0), 6_612_480),
            (BaseDate::Y2014, at(2024, 4, 21, 10, 1), 5_419_321),
            (BaseDate::Y2014, at(2045, 11, 24, 20, 15), 16_777_215),
            (BaseDate::Y2035, at(2035, 1, 1, 8, 0), 480),
            (BaseDate::Y2035, at(2066, 11, 24, 20, 15), 16_777_215),
        ];
        for (base, t, tid) in cases {
            assert_eq!(
                Tid::for_issue(t, base).unwrap().get(),
                tid,
                "{t} base {base}"
            );
        }
    }

    #[test]
    fn reserved_minute_is_skipped() {
        // CTSA09: "00:01" tokens carry the 00:02 TID 6 612 482 (SPEC-codec §5.2).
        let t = at(2026, 7, 29, 0, 1);
        assert_eq!(Tid::for_issue(t, BaseDate::Y2014).unwrap().get(), 6_612_482);
        assert_eq!(Tid::at_minute(t, BaseDate::Y2014).unwrap().get(), 6_612_481);
        assert!(Tid::new(6_612_481).unwrap().is_reserved_minute());
        assert_eq!(
            Tid::new(6_612_480).unwrap().next_free().unwrap().get(),
            6_612_482
        );
    }

    #[test]
    fn limits_are_errors() {
        assert_eq!(
            Tid::for_issue(at(2024, 11, 24, 20, 16), BaseDate::Y1993),
            Err(CodecError::TidOverflow {
                minutes: 16_777_216
            })
        );
        assert_eq!(
            Tid::for_issue(at(2013, 12, 31, 23, 59), BaseDate::Y2014),
            Err(CodecError::BeforeBaseDate)
        );
        assert!(Tid::new(Tid::MAX).unwrap().next_free().is_err());
        assert!(UtcMinute::from_civil(2023, 2, 29, 0, 0).is_err());
        assert!(UtcMinute::from_civil(2024, 2, 29, 0, 0).is_ok());
        assert!(UtcMinute::from_civil(2024, 13, 1, 0, 0).is_err());
        assert!(UtcMinute::from_civil(2024, 1, 1, 24, 0).is_err());
    }

    #[test]
    fn key_expiry_boundary() {
        let ken = KeyExpiryNumber::new(0x59);
        assert!(Tid::new(0x59_FFFF).unwrap().check_expiry(ken).is_ok());
        assert_eq!(
            Tid::new(0x5A_0000).unwrap().check_expiry(ken),
            Err(CodecError::KeyExpired {
                tid_high: 0x5A,
                ken: 0x59
            })
        );
        assert!(
            Tid::new(Tid::MAX)
                .unwrap()
                .check_expiry(KeyExpiryNumber::NEVER)
                .is_ok()
        );
    }

    proptest! {
        #[test]
        fn civil_round_trip(minutes in -36_816_480i64..4_200_000_000) {
            let t = UtcMinute::from_unix_minutes(minutes);
            let (y, mo, d, h, mi) = t.to_civil();
            let back = UtcMinute::from_civil(u16::try_from(y).unwrap(), mo, d, h, mi).unwrap();
            prop_assert_eq!(back, t);
        }

        #[test]
        fn tid_round_trips_to_its_minute(v in 0u32..=Tid::MAX, base in 0usize..3) {
            let base = BaseDate::ALL[base];
            let tid = Tid::new(v).unwrap();
            prop_assert_eq!(Tid::at_minute(tid.minute(base), base).unwrap(), tid);
        }
    }
}
