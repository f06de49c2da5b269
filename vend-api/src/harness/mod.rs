//! Client-side tooling for the load, crash and HSM-fault harnesses (`vend-load`,
//! `vend-crash`, `vend-hsm-fault`). The service never uses this module; it lives in the
//! library so the three drivers (and the integration tests) share one client, one request
//! mix and one set of ledger checks.
//!
//! - [`mix`]: which meter and which operation: a Zipf-skewed choice of meters, mostly
//!   credit, some management tokens, key changes that toggle the tariff index (the sample key
//!   is per SGC and KRN, so TI 01 ↔ 02 needs no new vending key), and idempotent retries.
//! - [`client`]: issuing requests over HTTP and what came back.
//! - [`acklog`]: the client log: every acknowledged answer, written and fsynced (group
//!   commit) before the request counts as acknowledged.
//! - [`server`]: starting and SIGKILLing the server processes the harness owns (by PID only).
//! - [`check`]: the ledger, read back through the API, against the client log.

pub mod acklog;
pub mod check;
pub mod client;
pub mod mix;
pub mod server;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// What a harness's workers report while it runs: the problems found (the first 50 are
/// kept) and a count per outcome label.
#[derive(Debug, Default)]
pub struct Findings {
    failures: Mutex<Vec<String>>,
    outcomes: Mutex<BTreeMap<String, u64>>,
}

impl Findings {
    /// Records a problem.
    pub fn fail(&self, what: String) {
        if let Ok(mut f) = self.failures.lock() {
            if f.len() < 50 {
                f.push(what);
            }
        }
    }

    /// Counts one outcome.
    pub fn count(&self, label: String) {
        if let Ok(mut o) = self.outcomes.lock() {
            *o.entry(label).or_insert(0) += 1;
        }
    }

    /// The problems recorded so far.
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// The outcome counts so far.
    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes.lock().map(|o| o.clone()).unwrap_or_default()
    }
}

/// Parses `10s`, `500ms`, `2m` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: use e.g. 10s, 500ms, 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    }
}

/// A random up-time between two faults, whole milliseconds in `[min, max]` (`max` below
/// `min` counts as `min`), from the run's seeded RNG so a seed repeats the fault moments.
pub fn up_time(rng: &mut impl rand::Rng, min: Duration, max: Duration) -> Duration {
    let (lo, hi) = (min.as_millis(), max.as_millis().max(min.as_millis()));
    Duration::from_millis(u64::try_from(rng.random_range(lo..=hi)).unwrap_or(1000))
}

/// Prints a harness's verdict: PASS, or FAIL with the first 50 problems. True on PASS.
pub fn verdict(name: &str, seed: u64, failures: &[String]) -> bool {
    if failures.is_empty() {
        println!("{name}: PASS (seed {seed})");
        return true;
    }
    println!("{name}: FAIL (seed {seed}), {} problems:", failures.len());
    for f in failures.iter().take(50) {
        println!("  - {f}");
    }
    false
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("1h").is_err());
        assert_eq!(hex(&[0, 0xab]), "00ab");
    }
}
