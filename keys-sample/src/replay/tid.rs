//! `tid`: `{"base_date": 1993, "issued_at": "2004-03-01T13:55Z", "expect": {"tid": 5871715}}`.
//! The TID vending gives: whole minutes since the base date, with the reserved minute 00:01
//! moved to 00:02 (brief decision 15 applies to this kind too).
//!
//! Extension: `"expect": {"error": "range"}` states the minute lies before the base date or past
//! its last TID, and must be refused (brief decision 4: never a wrap).

use token_codec::Tid;

use super::expected_error;
use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::time::tid_for_issue;
use crate::category::Category;

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let tid = tid_for_issue(line)?;
    let expect = line.obj("expect")?;
    if let Some(want) = expected_error(&expect)? {
        return super::refusal_as_expected(
            "tid",
            want,
            tid.map(|t| format!("tid {}", t.get())),
            Category::of_codec,
        );
    }
    let want = expect.uint("tid", u64::from(Tid::MAX))?;
    let tid = tid.map_err(|e| Fault::Differs(vec![Issue::refused("tid", e)]))?;
    let mut issues = Vec::new();
    if u64::from(tid.get()) != want {
        issues.push(Issue::mismatch("tid", want, tid.get()));
    }
    verdict(issues)
}
