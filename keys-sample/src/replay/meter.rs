//! `meter`: a meter-side scenario for the decoder state machine (VECTORS.md; the brief's
//! README decisions 11–15, which `token_codec::meter` implements).
//!
//! The meter starts from `meter` (its key, `ea`, `kt`, `krn`, `ti`, `ken`, `base_date`,
//! `credit` = the electricity register, `tid_memory`, optional `tid_capacity` (default 50) and
//! optional `sgc`); each step enters `enter` and compares the result with `expect` and, when
//! given, the electricity register with `credit`. Every step is run and every difference
//! reported, so one failing step does not hide the next.

use token_codec::meter::{DEFAULT_TID_CAPACITY, Register};
use token_codec::token::Utility;
use token_codec::{
    EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, Meter, MeterConfig,
    SupplyGroupCode, TariffIndex, Tid,
};

use super::fault::{Fault, Issue, verdict};
use super::json::Obj;
use super::key;
use super::time;

/// TID storage of the replayed meter: `tid_capacity` may be set up to this.
const TID_STORAGE: usize = 1024;

/// Every result name a step may expect (VECTORS.md).
const RESULTS: [&str; 11] = [
    "accept",
    "format",
    "crc",
    "old",
    "used",
    "key_expired",
    "ddtk",
    "range",
    "function",
    "overflow",
    "key_type",
];

pub(crate) fn check(line: &Obj<'_>) -> Result<(), Fault> {
    let spec = line.obj("meter")?;
    let ea: EncryptionAlgorithm = spec.parse("ea")?;
    let key_obj = spec.obj("key")?;
    let key = key::decoder_key(&key_obj, ea)?;
    let capacity = spec
        .opt_uint("tid_capacity", TID_STORAGE as u64)?
        .map_or(Ok(DEFAULT_TID_CAPACITY), usize::try_from)
        .map_err(|e| spec.invalid("tid_capacity", e))?;
    if capacity == 0 {
        return Err(spec.invalid("tid_capacity", "a TID memory needs at least one slot"));
    }
    let config = MeterConfig {
        ea,
        key,
        kt: KeyType::try_from(spec.u8("kt")?).map_err(|e| spec.invalid("kt", e))?,
        krn: KeyRevision::new(spec.u8("krn")?).map_err(|e| spec.invalid("krn", e))?,
        ti: spec.parse::<TariffIndex>("ti")?,
        ken: KeyExpiryNumber::new(spec.u8("ken")?),
        base_date: time::base_date(&spec, "base_date")?,
        sgc: spec.opt_parse::<SupplyGroupCode>("sgc")?,
        tid_capacity: capacity,
        accept_extensions: false,
    };
    let mut meter: Meter<TID_STORAGE> = Meter::new(config).map_err(|e| spec.invalid("key", e))?;
    let credit = u32::try_from(spec.uint("credit", u64::from(u32::MAX))?)
        .map_err(|e| spec.invalid("credit", e))?;
    meter.set_remaining(Register::Units(Utility::Electricity), credit);
    for (i, tid) in spec
        .uints("tid_memory", u64::from(Tid::MAX))?
        .into_iter()
        .enumerate()
    {
        let tid = u32::try_from(tid).ok().and_then(|t| Tid::new(t).ok());
        let tid = tid.ok_or_else(|| {
            Fault::invalid(
                format!("{}[{i}]", spec.path("tid_memory")),
                "not a 24-bit TID",
            )
        })?;
        meter.remember_tid(tid);
    }

    let steps = line.objs("steps")?;
    if steps.is_empty() {
        return Err(line.invalid("steps", "a scenario needs at least one step"));
    }
    let mut issues = Vec::new();
    for step in &steps {
        let entered = step.str("enter")?;
        let want = step.str("expect")?;
        if !RESULTS.contains(&want) {
            return Err(step.invalid("expect", format_args!("unknown result {want:?}")));
        }
        let want_credit = step.opt_uint("credit", u64::from(u32::MAX))?;
        let got = match meter.enter(entered) {
            Ok(_) => "accept",
            Err(rejection) => rejection.as_str(),
        };
        if got != want {
            issues.push(Issue::mismatch(step.own_path(), want, got));
        }
        let balance = meter.remaining(Register::Units(Utility::Electricity));
        if let Some(c) = want_credit.filter(|&c| c != u64::from(balance)) {
            issues.push(Issue::mismatch(step.path("credit"), c, balance));
        }
    }
    verdict(issues)
}
