//! The request mix: which meter, which operation, and the client's view of each meter's key.
//!
//! Meters are chosen with a Zipf skew (rank k drawn with weight 1/k^s; s = 1 over 10,000
//! meters gives the hottest meter about 10% of the requests and the top ten about 30%), so a
//! few meters see many vends in the same minute and their TIDs must keep increasing. The
//! realistic mix is mostly credit (kWh, some currency), about 2% management tokens, 1% key
//! changes and 2% idempotent retries of a request already acknowledged. Key changes toggle the
//! tariff index between 01 and 02 under the sample vending key (SGC 201457, KRN 1: the vending
//! key is per SGC, KRN and KT, so a TI change needs no new key); half of them carry a credit
//! token under the new key. A meter has at most one key change in flight, so the target is
//! always the other TI.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use hsm_core::{Drn, MeterPan};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

use super::hex;

/// The PAN of DRN body `n` (10 digits): the DRN's Luhn digit, then the PAN's.
pub fn pan_of(n: u64) -> Option<MeterPan> {
    let body = format!("{n:010}");
    let drn = (0..10).find_map(|d| format!("{body}{d}").parse::<Drn>().ok())?;
    Some(MeterPan::from_drn(drn))
}

/// The harness's meters and the client's view of each one's tariff index.
#[derive(Debug)]
pub struct Meters {
    pans: Vec<MeterPan>,
    ti: Vec<AtomicU8>,
    changing: Vec<AtomicBool>,
}

impl Meters {
    /// `count` meters from DRN body `first_drn` on, all registered with TI 01.
    pub fn new(first_drn: u64, count: u64) -> Self {
        let pans: Vec<MeterPan> = (0..count)
            .filter_map(|i| pan_of(first_drn.saturating_add(i)))
            .collect();
        let n = pans.len();
        Self {
            pans,
            ti: (0..n).map(|_| AtomicU8::new(1)).collect(),
            changing: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.pans.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.pans.is_empty()
    }

    /// Every PAN.
    pub fn pans(&self) -> &[MeterPan] {
        &self.pans
    }

    /// The PAN of meter `i`.
    pub fn pan(&self, i: usize) -> Option<MeterPan> {
        self.pans.get(i).copied()
    }

    /// The registration body of meter `i` (sample key SGC 201457, KRN 1, DKGA04, STA, 2014).
    pub fn register_body(&self, i: usize) -> Option<String> {
        let pan = self.pan(i)?;
        Some(format!(
            r#"{{"pan":"{pan}","customer_ref":"LOAD-{pan}","sgc":"201457","ti":"01","krn":1,"kt":2,"ea":"07","dkga":"04","base_date":2014}}"#
        ))
    }

    /// Records meter `i`'s tariff index as the ledger has it (a meter registered earlier).
    pub fn set_ti(&self, i: usize, ti: u8) {
        if let Some(t) = self.ti.get(i) {
            t.store(ti, Ordering::Release);
        }
    }

    /// Claims meter `i` for a key change: its current TI, or `None` if a key change for it is
    /// already in flight.
    pub fn begin_key_change(&self, i: usize) -> Option<u8> {
        let flag = self.changing.get(i)?;
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        self.ti.get(i).map(|t| t.load(Ordering::Acquire))
    }

    /// Ends meter `i`'s key change: `Some(ti)` if it committed (the meter now has `ti`).
    pub fn end_key_change(&self, i: usize, committed: Option<u8>) {
        if let Some(ti) = committed {
            self.set_ti(i, ti);
        }
        if let Some(flag) = self.changing.get(i) {
            flag.store(false, Ordering::Release);
        }
    }
}

/// Zipf-distributed ranks over `n` meters (s = 0: uniform).
#[derive(Debug, Clone)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Ranks 0..n with weight 1/(k+1)^s.
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for k in 1..=n {
            // Meter counts stay far below 2^52: the conversion is exact.
            #[allow(clippy::cast_precision_loss)]
            let w = (k as f64).powf(-s);
            acc += w;
            cdf.push(acc);
        }
        if acc > 0.0 {
            for c in &mut cdf {
                *c /= acc;
            }
        }
        Self { cdf }
    }

    /// One rank.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let u: f64 = rng.random();
        self.cdf
            .partition_point(|&c| c < u)
            .min(self.cdf.len().saturating_sub(1))
    }
}

/// Shares of the mix (fractions of all requests; the rest is credit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MixConfig {
    /// Zipf exponent of the meter choice (0: uniform).
    pub zipf: f64,
    /// Management tokens.
    pub management: f64,
    /// Key changes.
    pub key_change: f64,
    /// Idempotent retries of an acknowledged request.
    pub retry: f64,
}

impl MixConfig {
    /// Credit only, meters chosen uniformly (the earlier `vend-load`).
    pub const CREDIT: Self = Self {
        zipf: 0.0,
        management: 0.0,
        key_change: 0.0,
        retry: 0.0,
    };

    /// The realistic mix (see the module documentation).
    pub const REALISTIC: Self = Self {
        zipf: 1.0,
        management: 0.02,
        key_change: 0.01,
        retry: 0.02,
    };
}

/// What an issuing request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// A credit token.
    Credit,
    /// A management token.
    Management,
    /// A key change set (TI 01 ↔ 02), sometimes with a credit token.
    KeyChange,
}

impl OpKind {
    /// The name used in logs and reports.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Credit => "credit",
            Self::Management => "management",
            Self::KeyChange => "key_change",
        }
    }
}

/// One issuing request, ready to send and to send again with the same key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRequest {
    /// What it does.
    pub op: OpKind,
    /// Index of the meter in [`Meters`].
    pub meter: usize,
    /// The path, e.g. `/v1/meters/{pan}/tokens/credit`.
    pub path: String,
    /// The JSON body.
    pub body: String,
    /// The Idempotency-Key.
    pub idem: String,
    /// For a key change: the TI the meter moves to.
    pub new_ti: Option<u8>,
}

impl IssueRequest {
    /// SHA-256 (hex) of `POST path\nbody`, the client's fingerprint of the request.
    pub fn request_sha256(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"POST ");
        h.update(self.path.as_bytes());
        h.update(b"\n");
        h.update(self.body.as_bytes());
        hex(&h.finalize())
    }
}

/// The next thing a worker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A new request.
    New(IssueRequest),
    /// Send again the acknowledged request at this index of the worker's recent ones.
    Retry(usize),
}

/// Generates one worker's requests (seeded, so a run's sequence of choices is reproducible).
#[derive(Debug)]
pub struct Generator {
    cfg: MixConfig,
    zipf: Zipf,
    rng: StdRng,
    prefix: String,
    n: u64,
}

impl Generator {
    /// A generator over `meters` meters; idempotency keys are `{prefix}-{n}`.
    pub fn new(cfg: MixConfig, meters: usize, seed: u64, prefix: String) -> Self {
        Self {
            cfg,
            zipf: Zipf::new(meters, cfg.zipf),
            rng: StdRng::seed_from_u64(seed),
            prefix,
            n: 0,
        }
    }

    /// A random number from the generator's stream (for callers' own choices).
    pub fn rng(&mut self) -> &mut StdRng {
        &mut self.rng
    }

    fn idem(&mut self) -> String {
        self.n += 1;
        format!("{}-{}", self.prefix, self.n)
    }

    fn credit_body(&mut self) -> String {
        if self.rng.random_bool(0.1) {
            let cents = self.rng.random_range(100..=50_000u32);
            format!(
                r#"{{"utility":"electricity","unit":"currency","amount":"{}.{:02}"}}"#,
                cents / 100,
                cents % 100
            )
        } else {
            let tenths = self.rng.random_range(10..=2_000u32);
            format!(
                r#"{{"utility":"electricity","unit":"kWh","amount":"{}.{}"}}"#,
                tenths / 10,
                tenths % 10
            )
        }
    }

    /// A credit request for meter `i`.
    pub fn credit(&mut self, meters: &Meters, i: usize) -> Option<IssueRequest> {
        let pan = meters.pan(i)?;
        Some(IssueRequest {
            op: OpKind::Credit,
            meter: i,
            path: format!("/v1/meters/{pan}/tokens/credit"),
            body: self.credit_body(),
            idem: self.idem(),
            new_ti: None,
        })
    }

    fn management(&mut self, meters: &Meters, i: usize) -> Option<IssueRequest> {
        let pan = meters.pan(i)?;
        let body = if self.rng.random_bool(0.5) {
            r#"{"function":"clear_tamper"}"#.to_owned()
        } else {
            let watts = self.rng.random_range(1_000..=20_000u32);
            format!(r#"{{"function":"max_power_limit","watts":{watts}}}"#)
        };
        Some(IssueRequest {
            op: OpKind::Management,
            meter: i,
            path: format!("/v1/meters/{pan}/tokens/management"),
            body,
            idem: self.idem(),
            new_ti: None,
        })
    }

    /// A key change for meter `i`, if none is in flight for it (the caller must end it with
    /// [`Meters::end_key_change`]).
    fn key_change(&mut self, meters: &Meters, i: usize) -> Option<IssueRequest> {
        let pan = meters.pan(i)?;
        let ti = meters.begin_key_change(i)?;
        let to = if ti == 1 { 2 } else { 1 };
        let credit = if self.rng.random_bool(0.5) {
            format!(r#","credit":{}"#, self.credit_body())
        } else {
            String::new()
        };
        Some(IssueRequest {
            op: OpKind::KeyChange,
            meter: i,
            path: format!("/v1/meters/{pan}/tokens/key-change"),
            body: format!(r#"{{"to":{{"sgc":"201457","ti":"{to:02}","krn":1}}{credit}}}"#),
            idem: self.idem(),
            new_ti: Some(to),
        })
    }

    /// The next choice; `recent` is how many acknowledged requests the worker could retry.
    pub fn next(&mut self, meters: &Meters, recent: usize) -> Option<Choice> {
        let i = self.zipf.sample(&mut self.rng);
        let u: f64 = self.rng.random();
        let c = self.cfg;
        if u < c.retry && recent > 0 {
            return Some(Choice::Retry(self.rng.random_range(0..recent)));
        }
        let u = u - c.retry;
        let req = if u >= 0.0 && u < c.key_change {
            // A meter with a key change in flight gets a credit instead.
            self.key_change(meters, i)
                .or_else(|| self.credit(meters, i))
        } else if u >= c.key_change && u < c.key_change + c.management {
            self.management(meters, i)
        } else {
            self.credit(meters, i)
        };
        req.map(Choice::New)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_uniform_is_not() {
        let mut rng = StdRng::seed_from_u64(7);
        let z = Zipf::new(10_000, 1.0);
        let mut top = 0;
        for _ in 0..100_000 {
            if z.sample(&mut rng) == 0 {
                top += 1;
            }
        }
        // 1/H(10000) ≈ 10.2%.
        assert!((9_000..11_500).contains(&top), "{top}");
        let u = Zipf::new(10, 0.0);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[u.sample(&mut rng)] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn key_changes_toggle_and_exclude_each_other() {
        let meters = Meters::new(5_000_000_000, 3);
        assert_eq!(meters.len(), 3);
        let cfg = MixConfig {
            zipf: 0.0,
            management: 0.0,
            key_change: 1.0,
            retry: 0.0,
        };
        let mut g = Generator::new(cfg, 1, 1, "t".into());
        let Some(Choice::New(a)) = g.next(&meters, 0) else {
            panic!("no request")
        };
        assert_eq!((a.op, a.new_ti), (OpKind::KeyChange, Some(2)));
        assert!(a.body.contains(r#""ti":"02""#), "{}", a.body);
        // A second key change for the same meter while the first is in flight: a credit.
        let Some(Choice::New(b)) = g.next(&meters, 0) else {
            panic!("no request")
        };
        assert_eq!(b.op, OpKind::Credit);
        meters.end_key_change(0, Some(2));
        let Some(Choice::New(c)) = g.next(&meters, 0) else {
            panic!("no request")
        };
        assert_eq!(c.new_ti, Some(1));
        assert_ne!(a.idem, c.idem);
        assert_eq!(a.request_sha256().len(), 64);
    }
}
