//! Minting inside the ledger's transaction: the TID allocator and the closure the service
//! hands over.
//!
//! Brief decision 4 and SPEC-codec §5.2: a TID is the issue time in whole UTC minutes since
//! the base date, the reserved minute 00:01 skipped, and unique and increasing per meter —
//! a token issued in a minute that already has one takes the next free minute after the last
//! issued TID. TIDs are per meter *and base date*: a rollover key change moves the meter to
//! the next base date, whose TIDs start afresh. The allocator sees the last TIDs read inside
//! the same transaction that records the tokens, so two vends can never share a TID.

use std::collections::BTreeMap;

use hsm_core::{BaseDate, HsmError};
use serde_json::Value;
use token_codec::{CodecError, Tid, UtcMinute};

use super::model::{MeterKey, MeterRecord};
use super::token::MintedToken;

/// Hands out TIDs for one meter inside one transaction.
#[derive(Debug, Clone)]
pub struct TidAllocator {
    at: UtcMinute,
    last: BTreeMap<BaseDate, Tid>,
    touched: BTreeMap<BaseDate, Tid>,
}

impl TidAllocator {
    /// An allocator for tokens issued at `at`, given the meter's last TID per base date.
    pub fn new(at: UtcMinute, last: impl IntoIterator<Item = (BaseDate, Tid)>) -> Self {
        Self {
            at,
            last: last.into_iter().collect(),
            touched: BTreeMap::new(),
        }
    }

    /// The issue time.
    pub fn at(&self) -> UtcMinute {
        self.at
    }

    /// The next TID under `base`: the issue minute's TID, or the next free one after the
    /// last issued. Fails before the base date or past 2^24 − 1 (a key change to a later base
    /// date is needed; never a wrap).
    pub fn next(&mut self, base: BaseDate) -> Result<Tid, CodecError> {
        let now = Tid::for_issue(self.at, base)?;
        let tid = match self.last.get(&base) {
            Some(&last) if now <= last => last.next_free()?,
            _ => now,
        };
        self.last.insert(base, tid);
        self.touched.insert(base, tid);
        Ok(tid)
    }

    /// The last TID per base date that changed, for the ledger to store.
    pub fn updates(&self) -> impl Iterator<Item = (BaseDate, Tid)> + '_ {
        self.touched.iter().map(|(b, t)| (*b, *t))
    }
}

/// What a mint produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Minted {
    /// Tokens in entry order.
    pub tokens: Vec<MintedToken>,
    /// Summary facts for the issue row, the audit entry and the response (no digits).
    pub summary: Value,
    /// The meter's key after these tokens (key changes only).
    pub new_key: Option<MeterKey>,
}

/// Why a mint refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MintError {
    /// The issuer refused (key unknown or outside its window, a codec range error…).
    Hsm(HsmError),
    /// No TID can be allocated (before the base date, or the base date's TIDs are used up).
    Tid(CodecError),
    /// The request does not fit this meter (e.g. credit for a meter holding a default key).
    Refused {
        /// Machine-readable code.
        code: &'static str,
        /// Request field at fault.
        field: Option<&'static str>,
        /// What was wrong.
        message: String,
    },
}

impl From<HsmError> for MintError {
    fn from(e: HsmError) -> Self {
        Self::Hsm(e)
    }
}

impl core::fmt::Display for MintError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Hsm(e) => e.fmt(f),
            Self::Tid(e) => write!(f, "no token identifier available: {e}"),
            Self::Refused { message, .. } => f.write_str(message),
        }
    }
}

/// The work done inside the ledger's transaction once the meter row and its TIDs are read:
/// build the tokens and have the issuer encode them. Synchronous and quick (the issuer takes
/// microseconds), so it can run on the ledger's writer.
///
/// `FnMut`, not `FnOnce`: a backend that retries a transaction (a PostgreSQL serialization
/// failure) calls it again with a fresh allocator; only the committed call's tokens exist.
pub type Mint = Box<dyn FnMut(&MeterRecord, &mut TidAllocator) -> Result<Minted, MintError> + Send>;

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: u16, mo: u8, d: u8, h: u8, mi: u8) -> UtcMinute {
        UtcMinute::from_civil(y, mo, d, h, mi).unwrap()
    }

    #[test]
    fn same_minute_takes_the_next_free_minute() {
        let mut a = TidAllocator::new(at(2004, 3, 1, 13, 55), []);
        let t1 = a.next(BaseDate::Y1993).unwrap();
        let t2 = a.next(BaseDate::Y1993).unwrap();
        assert_eq!(t1.get(), 5_871_715);
        assert_eq!(t2.get(), 5_871_716);
        assert_eq!(a.updates().collect::<Vec<_>>(), [(BaseDate::Y1993, t2)]);
    }

    #[test]
    fn bumps_past_the_last_issued_and_the_reserved_minute() {
        // Last issued 00:00 of a day; issuing "at" 23:59 the day before must still go forward,
        // skipping 00:01 (the reserved minute) to 00:02.
        let midnight = Tid::for_issue(at(2026, 7, 29, 0, 0), BaseDate::Y2014).unwrap();
        let mut a = TidAllocator::new(at(2026, 7, 28, 23, 59), [(BaseDate::Y2014, midnight)]);
        assert_eq!(a.next(BaseDate::Y2014).unwrap().get(), 6_612_482);
        // At 00:01 itself the reserved minute is skipped too.
        let mut b = TidAllocator::new(at(2026, 7, 29, 0, 1), []);
        assert_eq!(b.next(BaseDate::Y2014).unwrap().get(), 6_612_482);
        assert_eq!(b.next(BaseDate::Y2014).unwrap().get(), 6_612_483);
    }

    #[test]
    fn base_dates_are_independent_and_limits_are_errors() {
        let last93 = Tid::new(Tid::MAX).unwrap();
        let mut a = TidAllocator::new(at(2024, 11, 24, 20, 15), [(BaseDate::Y1993, last93)]);
        assert!(matches!(
            a.next(BaseDate::Y1993),
            Err(CodecError::TidOverflow { .. })
        ));
        // The 2014 base date has its own sequence.
        let t = a.next(BaseDate::Y2014).unwrap();
        assert_eq!(
            Some(t),
            Tid::for_issue(at(2024, 11, 24, 20, 15), BaseDate::Y2014).ok()
        );
        assert_eq!(a.next(BaseDate::Y2035), Err(CodecError::BeforeBaseDate));
    }
}
