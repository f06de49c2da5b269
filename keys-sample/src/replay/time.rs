//! `issued_at` (an RFC 3339 UTC minute) and the TID computed from it.

use token_codec::{BaseDate, Tid, UtcMinute};

use super::fault::Fault;
use super::json::Obj;

/// Parses `YYYY-MM-DDTHH:MMZ`, or with seconds `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 also allows a
/// lower-case `t` and `z`). Seconds are dropped: a TID counts whole minutes (SPEC-codec §5.1),
/// so 13:55:30 lies in minute 13:55. Offsets other than `Z` are refused: vectors are UTC.
pub(crate) fn parse_minute(text: &str) -> Result<UtcMinute, String> {
    let shape =
        || format!("expected an RFC 3339 UTC minute such as 2004-03-01T13:55Z, got {text:?}");
    let bytes = text.as_bytes();
    let Some((&zone, body)) = bytes.split_last() else {
        return Err(shape());
    };
    if zone != b'Z' && zone != b'z' {
        return Err(shape());
    }
    let (minute_part, seconds) = match body.len() {
        16 => (body, None),
        19 => {
            let (minute_part, tail) = body.split_at(16);
            match tail {
                [b':', s1, s2] => (minute_part, Some(two_digits(*s1, *s2).ok_or_else(shape)?)),
                _ => return Err(shape()),
            }
        }
        _ => return Err(shape()),
    };
    let Ok(
        &[
            y1,
            y2,
            y3,
            y4,
            b'-',
            mo1,
            mo2,
            b'-',
            d1,
            d2,
            sep,
            h1,
            h2,
            b':',
            mi1,
            mi2,
        ],
    ) = <&[u8; 16]>::try_from(minute_part)
    else {
        return Err(shape());
    };
    if sep != b'T' && sep != b't' {
        return Err(shape());
    }
    let year = two_digits(y1, y2)
        .zip(two_digits(y3, y4))
        .map(|(hi, lo)| u16::from(hi) * 100 + u16::from(lo))
        .ok_or_else(shape)?;
    let month = two_digits(mo1, mo2).ok_or_else(shape)?;
    let day = two_digits(d1, d2).ok_or_else(shape)?;
    let hour = two_digits(h1, h2).ok_or_else(shape)?;
    let minute = two_digits(mi1, mi2).ok_or_else(shape)?;
    // RFC 3339 allows second 60 (a leap second); it still lies in the same minute.
    if seconds.is_some_and(|s| s > 60) {
        return Err(format!("seconds out of range in {text:?}"));
    }
    UtcMinute::from_civil(year, month, day, hour, minute).map_err(|e| format!("{e} in {text:?}"))
}

fn two_digits(a: u8, b: u8) -> Option<u8> {
    (a.is_ascii_digit() && b.is_ascii_digit()).then(|| (a - b'0') * 10 + (b - b'0'))
}

/// A required `base_date` year (1993, 2014 or 2035).
pub(crate) fn base_date(obj: &Obj<'_>, name: &str) -> Result<BaseDate, Fault> {
    let year = obj.u16(name)?;
    BaseDate::from_year(year).map_err(|e| obj.invalid(name, e))
}

/// The TID vending gives a token issued at `obj.issued_at` under `obj.base_date`: whole minutes
/// since the base date, the reserved minute 00:01 moved to 00:02 (brief decision 15, also for
/// the `tid` kind).
pub(crate) fn tid_for_issue(obj: &Obj<'_>) -> Result<Result<Tid, token_codec::CodecError>, Fault> {
    let at = parse_minute(obj.str("issued_at")?).map_err(|e| obj.invalid("issued_at", e))?;
    let base = base_date(obj, "base_date")?;
    Ok(Tid::for_issue(at, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minute_forms() {
        let want = UtcMinute::from_civil(2004, 3, 1, 13, 55).unwrap();
        assert_eq!(parse_minute("2004-03-01T13:55Z"), Ok(want));
        assert_eq!(parse_minute("2004-03-01T13:55:00Z"), Ok(want));
        assert_eq!(parse_minute("2004-03-01t13:55:59z"), Ok(want));
        for bad in [
            "",
            "2004-03-01T13:55",
            "2004-03-01 13:55Z",
            "2004-03-01T13:55+00:00",
            "2004-3-01T13:55Z",
            "2004-03-01T13:55:0Z",
            "٢٠٠٤-03-01T13:55Z",
        ] {
            assert!(parse_minute(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_minute("2004-02-30T13:55Z"),
            Err("day out of range: 30 in \"2004-02-30T13:55Z\"".to_owned())
        );
    }
}
