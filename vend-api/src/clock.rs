//! Time and randomness the service depends on, behind traits so tests can pin them.
//!
//! Production uses the system clock and the thread-local CSPRNG; tests that check published
//! token digits need a fixed issue time and RND (SPEC-codec Appendix B: vending picks RND at
//! random per token, so a published vector's RND 5 must be injected).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use token_codec::{Rnd, UtcMinute};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// A source of the current time.
pub trait Clock: Send + Sync + 'static {
    /// Now, in whole seconds since the Unix epoch.
    fn now(&self) -> UnixSeconds;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixSeconds {
        // A clock before 1970 or after 2^63 s is not a state this service can run in; the
        // fallback keeps the call total.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, replays).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: UnixSeconds) -> Self {
        Self(AtomicI64::new(at))
    }

    /// A clock at a civil UTC minute; `None` for an impossible date.
    pub fn at_civil(year: u16, month: u8, day: u8, hour: u8, minute: u8) -> Option<Self> {
        let m = UtcMinute::from_civil(year, month, day, hour, minute).ok()?;
        Some(Self::new(m.unix_minutes().checked_mul(60)?))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: UnixSeconds) {
        self.0.store(at, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}

/// The UTC minute of a time, as token identifiers count it.
pub fn utc_minute(at: UnixSeconds) -> UtcMinute {
    UtcMinute::from_unix_seconds(at)
}

/// RFC 3339 text for a time (`2026-11-23T04:07:38Z`); out-of-range times print as the epoch
/// number so a formatting failure can never fail a request.
pub fn rfc3339(at: UnixSeconds) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.to_string())
}

/// Parses RFC 3339 text into Unix seconds.
pub fn parse_rfc3339(text: &str) -> Option<UnixSeconds> {
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// Where a token's random nibble comes from.
pub trait RndSource: Send + Sync + 'static {
    /// The RND for the next token.
    fn rnd(&self) -> Rnd;
}

/// A fresh random nibble per token from the thread-local CSPRNG (SPEC-codec Appendix B).
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomRnd;

impl RndSource for RandomRnd {
    fn rnd(&self) -> Rnd {
        Rnd::from_low_bits(rand::rng().random::<u64>())
    }
}

/// The same nibble every time: only for reproducing published vectors in tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedRnd(pub Rnd);

impl RndSource for FixedRnd {
    fn rnd(&self) -> Rnd {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_clock_and_formatting() {
        let c = ManualClock::at_civil(2004, 3, 1, 13, 55).unwrap();
        assert_eq!(rfc3339(c.now()), "2004-03-01T13:55:00Z");
        assert_eq!(utc_minute(c.now() + 59).to_string(), "2004-03-01T13:55Z");
        c.advance(60);
        assert_eq!(utc_minute(c.now()).to_string(), "2004-03-01T13:56Z");
        assert_eq!(parse_rfc3339("2004-03-01T13:56:00Z"), Some(c.now()));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
