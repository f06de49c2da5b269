//! `vend-load`: a closed-loop load generator for vend-api.
//!
//! Registers `--meters` meters (PANs from DRN bodies `--first-drn`…, sample key SGC 201457
//! KRN 1, base date 2014; a 409 for an existing meter is fine), then runs `--concurrency`
//! workers for `--duration`, each with one request in flight, and prints vends/s and latency
//! percentiles.
//!
//! `--mix realistic` (the default; see `vend_api::harness::mix`): meters chosen with a Zipf
//! skew, mostly credit, about 2% management tokens, 1% key changes (TI 01 ↔ 02) and 2%
//! idempotent retries of an acknowledged request, which must answer the original tokens.
//! `--mix credit`: credit tokens only, meters chosen uniformly. Every request but a retry has a
//! fresh Idempotency-Key. The run is seeded (`--seed`, printed) so its sequence of choices can
//! be repeated.
//!
//! ```text
//! cargo run --release -p vend-api --bin vend-load -- --url http://127.0.0.1:8080 \
//!     --key vk_… --concurrency 16 --duration 10s --meters 10000 --mix realistic
//! ```
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use vend_api::harness::client::{Ack, Api, Outcome};
use vend_api::harness::mix::{Choice, Generator, IssueRequest, Meters, MixConfig, OpKind};
use vend_api::harness::parse_duration;

/// Which requests to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MixName {
    /// Credit tokens only, meters chosen uniformly.
    Credit,
    /// Zipf-skewed meters; credit, management, key changes and idempotent retries.
    Realistic,
}

/// Load generator for vend-api.
#[derive(Debug, Parser)]
#[command(name = "vend-load")]
struct Args {
    /// Base URL of the service; repeat it to spread the workers round-robin over several
    /// instances (worker i uses URL i mod n).
    #[arg(long = "url", default_value = "http://127.0.0.1:8080")]
    urls: Vec<String>,
    /// API key with the vend and meters scopes (and manage, key_change for the realistic mix).
    #[arg(long, env = "VEND_LOAD_KEY", hide_env_values = true)]
    key: String,
    /// Concurrent workers (each with one request in flight).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long to run, e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Meters to spread the load over.
    #[arg(long, default_value_t = 1000)]
    meters: u64,
    /// First DRN body (10 digits) of the generated PANs.
    #[arg(long, default_value_t = 5_000_000_000)]
    first_drn: u64,
    /// Warm-up before measuring.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    warmup: Duration,
    /// The request mix.
    #[arg(long, value_enum, default_value = "realistic")]
    mix: MixName,
    /// Seed of the request choices (default: random, printed).
    #[arg(long)]
    seed: Option<u64>,
}

impl Args {
    /// The base URL worker `i` uses.
    fn url(&self, i: usize) -> &str {
        let n = self.urls.len().max(1);
        self.urls
            .get(i % n)
            .map_or("http://127.0.0.1:8080", String::as_str)
    }
}

struct Shared {
    stop: AtomicBool,
    measuring: AtomicBool,
}

/// What one worker measured.
struct Tally {
    all: Histogram<u64>,
    credit: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    /// Retries whose answer was not the original (must stay 0).
    mismatches: Vec<String>,
}

async fn worker(
    api: Api,
    args: Arc<Args>,
    meters: Arc<Meters>,
    shared: Arc<Shared>,
    id: usize,
    mut requests: Generator,
    template: Histogram<u64>,
) -> Tally {
    let mut t = Tally {
        all: template.clone(),
        credit: template,
        outcomes: BTreeMap::new(),
        mismatches: Vec::new(),
    };
    // The worker's last acknowledged requests, for idempotent retries.
    let mut recent: Vec<(IssueRequest, Ack)> = Vec::new();
    let mut slot = 0usize;
    let base = args.url(id).to_owned();
    while !shared.stop.load(Ordering::Relaxed) {
        let Some(choice) = requests.next(&meters, recent.len()) else {
            break;
        };
        let (req, expect) = match choice {
            Choice::New(req) => (req, None),
            Choice::Retry(k) => match recent.get(k) {
                Some((req, ack)) => (req.clone(), Some(ack.clone())),
                None => continue,
            },
        };
        let started = Instant::now();
        let outcome = api.issue(&base, &req).await;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if req.op == OpKind::KeyChange && expect.is_none() {
            let committed = match &outcome {
                Outcome::Issued { .. } => req.new_ti,
                _ => None,
            };
            meters.end_key_change(req.meter, committed);
        }
        let label = match (&outcome, &expect) {
            (Outcome::Issued { ack, replayed }, Some(want)) => {
                if !*replayed || ack != want {
                    t.mismatches.push(format!(
                        "retry of {} answered replayed={replayed} issue {} (original issue {})",
                        req.idem, ack.issue_id, want.issue_id
                    ));
                }
                "retry 201".to_owned()
            }
            (Outcome::Issued { ack, .. }, None) => {
                if recent.len() < 64 {
                    recent.push((req.clone(), ack.clone()));
                } else if let Some(s) = recent.get_mut(slot % 64) {
                    *s = (req.clone(), ack.clone());
                }
                slot = slot.wrapping_add(1);
                format!("{} 201", req.op.name())
            }
            (other, Some(_)) => format!("retry {}", other.label()),
            (other, None) => format!("{} {}", req.op.name(), other.label()),
        };
        if shared.measuring.load(Ordering::Relaxed) {
            let _ = t.all.record(micros.max(1));
            if req.op == OpKind::Credit && expect.is_none() {
                let _ = t.credit.record(micros.max(1));
            }
            *t.outcomes.entry(label).or_insert(0) += 1;
        }
    }
    t
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    // Microsecond latencies are far below 2^52: the conversion is exact.
    #[allow(clippy::cast_precision_loss)]
    let v = h.value_at_quantile(q) as f64;
    v / 1000.0
}

async fn run(args: Args) -> Result<(), String> {
    let meters = Meters::new(args.first_drn, args.meters);
    if meters.is_empty() {
        return Err("--meters must be at least 1".into());
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let cfg = match args.mix {
        MixName::Credit => MixConfig::CREDIT,
        MixName::Realistic => MixConfig::REALISTIC,
    };
    let api = Api::new(args.key.clone(), args.concurrency, Duration::from_secs(30))?;
    let created = api.register(args.url(0), &meters).await?;
    eprintln!("meters: {} ({created} new); seed {seed}", meters.len());
    let args = Arc::new(args);
    let meters = Arc::new(meters);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
    });
    // 1 µs to 60 s at 3 significant figures.
    let template =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let run_id = std::process::id();
    let mut set = tokio::task::JoinSet::new();
    for id in 0..args.concurrency {
        let worker_seed =
            seed ^ (u64::try_from(id).unwrap_or(0)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let requests = Generator::new(
            cfg,
            meters.len(),
            worker_seed,
            format!("load-{run_id}-{seed:x}-{id}"),
        );
        set.spawn(worker(
            api.clone(),
            Arc::clone(&args),
            Arc::clone(&meters),
            Arc::clone(&shared),
            id,
            requests,
            template.clone(),
        ));
    }
    tokio::time::sleep(args.warmup).await;
    shared.measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(args.duration).await;
    shared.measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed();
    shared.stop.store(true, Ordering::Relaxed);
    let mut all = template.clone();
    let mut credit = template;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut mismatches = Vec::new();
    while let Some(r) = set.join_next().await {
        let t = r.map_err(|e| e.to_string())?;
        all.add(&t.all).map_err(|e| e.to_string())?;
        credit.add(&t.credit).map_err(|e| e.to_string())?;
        for (k, v) in t.outcomes {
            *outcomes.entry(k).or_insert(0) += v;
        }
        mismatches.extend(t.mismatches);
    }
    let issued: u64 = outcomes
        .iter()
        .filter(|(k, _)| k.ends_with(" 201") && !k.starts_with("retry"))
        .map(|(_, v)| v)
        .sum();
    let retried = outcomes.get("retry 201").copied().unwrap_or(0);
    let total: u64 = outcomes.values().sum();
    let secs = elapsed.as_secs_f64();
    // Counts are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let (rate, ok_rate) = (issued as f64 / secs, (issued + retried) as f64 / secs);
    #[allow(clippy::cast_precision_loss)]
    let max = all.max() as f64 / 1000.0;
    println!(
        "vend-load: mix {:?}, {} concurrency, {} meters, seed {seed}, {secs:.1} s measured\n  requests {total}, new issues {issued} ({rate:.0} vends/s), retries answered {retried}; all 201: {ok_rate:.0}/s\n  latency ms (all issuing requests): p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {max:.2}\n  latency ms (credit):               p50 {:.2}  p90 {:.2}  p99 {:.2}\n  outcomes: {outcomes:?}",
        args.mix,
        args.concurrency,
        meters.len(),
        ms(&all, 0.50),
        ms(&all, 0.90),
        ms(&all, 0.99),
        ms(&all, 0.999),
        ms(&credit, 0.50),
        ms(&credit, 0.90),
        ms(&credit, 0.99),
    );
    if !mismatches.is_empty() {
        return Err(format!(
            "{} idempotent retries did not answer the original tokens, e.g. {}",
            mismatches.len(),
            mismatches.first().map_or("", String::as_str)
        ));
    }
    if issued == 0 {
        return Err("no vend succeeded".into());
    }
    // Nothing is faulted here: every request the mix sends must succeed, so a refusal (a key
    // without a scope, a 409, a 5xx, a dropped connection) fails the run instead of hiding in
    // the figures.
    let refused: Vec<String> = outcomes
        .iter()
        .filter(|(k, _)| !(k.ends_with(" 201") || k.ends_with(" 201 replayed")))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if !refused.is_empty() {
        return Err(format!(
            "requests that did not succeed: {}",
            refused.join(", ")
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vend-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vend-load: {e}");
            ExitCode::FAILURE
        }
    }
}
