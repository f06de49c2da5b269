//! `vend-load`: a closed-loop load generator for vend-api.
//!
//! Registers `--meters` meters (PANs from DRN bodies `--first-drn`…, sample key SGC 201457
//! KRN 1, base date 2014; a 409 for an existing meter is fine), then runs `--concurrency`
//! workers for `--duration`, each POSTing credit tokens (a fresh Idempotency-Key per request)
//! to meters in turn, and prints vends/s and latency percentiles.
//!
//! ```text
//! cargo run --release -p vend-api --bin vend-load -- --url http://127.0.0.1:8080 \
//!     --key vk_… --concurrency 64 --duration 10s --meters 1000
//! ```
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use hsm_core::{Drn, MeterPan};

/// Load generator for vend-api.
#[derive(Debug, Parser)]
#[command(name = "vend-load")]
struct Args {
    /// Base URL of the service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key with the vend and meters scopes.
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
}

fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// The PAN of DRN body `n`: the DRN's Luhn digit, then the PAN's, found by trying each.
fn pan_of(n: u64) -> Option<MeterPan> {
    let body = format!("{n:010}");
    let drn = (0..10).find_map(|d| format!("{body}{d}").parse::<Drn>().ok())?;
    Some(MeterPan::from_drn(drn))
}

async fn register(client: &reqwest::Client, args: &Args, pans: &[MeterPan]) -> Result<(), String> {
    let mut created = 0u64;
    for chunk in pans.chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for pan in chunk {
            let req = client
                .post(format!("{}/v1/meters", args.url))
                .bearer_auth(&args.key)
                .header("content-type", "application/json")
                .body(format!(
                    r#"{{"pan":"{pan}","customer_ref":"LOAD-{pan}","sgc":"201457","ti":"01","krn":1,"kt":2,"ea":"07","dkga":"04","base_date":2014}}"#
                ));
            set.spawn(async move { req.send().await.map(|r| r.status().as_u16()) });
        }
        while let Some(r) = set.join_next().await {
            match r
                .map_err(|e| e.to_string())?
                .map_err(|e| format!("register: {e}"))?
            {
                201 => created += 1,
                409 => {}
                s => {
                    return Err(format!(
                        "registering a meter answered {s}: does the key have the meters scope?"
                    ));
                }
            }
        }
    }
    eprintln!("meters: {} ({} new)", pans.len(), created);
    Ok(())
}

struct Shared {
    stop: AtomicBool,
    measuring: AtomicBool,
    next: AtomicU64,
}

async fn worker(
    client: reqwest::Client,
    args: Arc<Args>,
    pans: Arc<Vec<MeterPan>>,
    shared: Arc<Shared>,
    id: usize,
    mut hist: Histogram<u64>,
) -> (Histogram<u64>, BTreeMap<String, u64>) {
    let mut outcomes = BTreeMap::new();
    let run = std::process::id();
    let body = r#"{"utility":"electricity","unit":"kWh","amount":"10"}"#;
    while !shared.stop.load(Ordering::Relaxed) {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        let Some(pan) = usize::try_from(n)
            .ok()
            .and_then(|i| pans.get(i % pans.len().max(1)))
        else {
            break;
        };
        let started = Instant::now();
        let r = client
            .post(format!("{}/v1/meters/{pan}/tokens/credit", args.url))
            .bearer_auth(&args.key)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("load-{run}-{id}-{n}"))
            .body(body)
            .send()
            .await;
        let outcome = match r {
            Ok(resp) => {
                let s = resp.status().as_u16().to_string();
                let _ = resp.bytes().await;
                s
            }
            Err(e) => format!(
                "error: {}",
                if e.is_timeout() {
                    "timeout"
                } else if e.is_connect() {
                    "connect"
                } else {
                    "request"
                }
            ),
        };
        if shared.measuring.load(Ordering::Relaxed) {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let _ = hist.record(micros.max(1));
            *outcomes.entry(outcome).or_insert(0) += 1;
        }
    }
    (hist, outcomes)
}

async fn run(args: Args) -> Result<(), String> {
    let pans: Vec<MeterPan> = (0..args.meters)
        .filter_map(|i| pan_of(args.first_drn.saturating_add(i)))
        .collect();
    if pans.is_empty() {
        return Err("--meters must be at least 1".into());
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    register(&client, &args, &pans).await?;
    let args = Arc::new(args);
    let pans = Arc::new(pans);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        measuring: AtomicBool::new(false),
        next: AtomicU64::new(0),
    });
    // 1 µs to 60 s at 3 significant figures.
    let template =
        Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).map_err(|e| e.to_string())?;
    let mut set = tokio::task::JoinSet::new();
    for id in 0..args.concurrency {
        set.spawn(worker(
            client.clone(),
            Arc::clone(&args),
            Arc::clone(&pans),
            Arc::clone(&shared),
            id,
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
    let mut hist = Histogram::<u64>::new(3).map_err(|e| e.to_string())?;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(r) = set.join_next().await {
        let (h, o) = r.map_err(|e| e.to_string())?;
        hist.add(&h).map_err(|e| e.to_string())?;
        for (k, v) in o {
            *outcomes.entry(k).or_insert(0) += v;
        }
    }
    let ok = outcomes.get("201").copied().unwrap_or(0);
    let total: u64 = outcomes.values().sum();
    let secs = elapsed.as_secs_f64();
    // Counts are far below 2^52: the conversions are exact.
    #[allow(clippy::cast_precision_loss)]
    let rate = ok as f64 / secs;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    #[allow(clippy::cast_precision_loss)]
    let max = hist.max() as f64 / 1000.0;
    println!(
        "vend-load: {} concurrency, {} meters, {:.1} s measured\n  requests {total}, vends (201) {ok}, {rate:.0} vends/s\n  latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {max:.2}\n  outcomes: {outcomes:?}",
        args.concurrency,
        pans.len(),
        secs,
        ms(0.50),
        ms(0.90),
        ms(0.99),
        ms(0.999),
    );
    if ok == 0 {
        return Err("no vend succeeded".into());
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
