//! `vend-hsm-fault`: the PKCS#11 token disappears and comes back under load.
//!
//! `vend-hsm-fault setup` initializes a key store on a SoftHSM2 token and imports the public
//! sample vending key the harness's meters use (SGC 201457, KRN 1, DKGA04; TEST ONLY). It runs
//! with `SOFTHSM2_CONF` set by the wrapper, and the PIN comes from `STS_PKCS11_PIN`.
//!
//! `vend-hsm-fault run` starts the server (`--server CMD`, run as `sh -c 'exec CMD'`, with the
//! `pkcs11` key store on that token), registers meters and runs workers issuing the realistic
//! mix. `--faults` times, after a random up-time (seeded), it pulls the token: the token's
//! directory (`--token-dir`) is renamed away, which is what SoftHSM2 sees when a token's
//! storage vanishes, and renamed back after `--fault-ms`. Then it waits for a vend to succeed
//! again. The checks:
//!
//! - while the token is away (and until the service has recovered), every issuing request is
//!   answered 201 (a mint that finished before the pull) or 503 with `Retry-After` and code
//!   `unavailable`; never a 4xx, another 5xx or a dropped connection; outside the fault no 503;
//! - once the token is back, vends succeed again within `--recovery-timeout`;
//! - no ledger row without its acknowledged answer and vice versa: every request refused with
//!   503 is sent again at the end with the same Idempotency-Key and must be issued afresh
//!   (not replayed: nothing was written), and the ledger, read back through the API, holds
//!   exactly the acknowledged issues (every 201 is in the client log, fsynced);
//! - the audit chain verifies.
//!
//! Wrapper: `vend-api/scripts/hsm-fault.sh`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use hsm_core::{BaseDate, Dkga, EncryptionAlgorithm, KeyStore, Pin, Pkcs11Config, Pkcs11Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vend_api::harness::acklog::{AckLog, AckRecord};
use vend_api::harness::check;
use vend_api::harness::client::{Api, Outcome};
use vend_api::harness::mix::{Choice, Generator, IssueRequest, Meters, MixConfig, OpKind};
use vend_api::harness::server::Instance;
use vend_api::harness::{Findings, parse_duration, up_time};

/// PKCS#11 token faults under load.
#[derive(Debug, Parser)]
#[command(name = "vend-hsm-fault")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Initialize the key store on a token and import the sample key (PIN: STS_PKCS11_PIN).
    Setup {
        /// PKCS#11 module.
        #[arg(long, default_value = hsm_core::store::pkcs11::DEFAULT_MODULE)]
        module: PathBuf,
        /// Token label.
        #[arg(long)]
        label: String,
    },
    /// Run the fault harness.
    Run(Box<RunArgs>),
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Shell command starting the server (run as `sh -c 'exec CMD'`).
    #[arg(long)]
    server: String,
    /// Its base URL.
    #[arg(long)]
    url: String,
    /// The token's directory (renamed away and back to pull and return the token).
    #[arg(long)]
    token_dir: PathBuf,
    /// API key with the vend, meters, manage, key_change and audit scopes.
    #[arg(long, env = "VEND_HSM_FAULT_KEY", hide_env_values = true)]
    key: String,
    /// Times the token is pulled.
    #[arg(long, default_value_t = 3)]
    faults: u32,
    /// How long the token stays away.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
    fault_for: Duration,
    /// Shortest up-time before a pull.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    min_up: Duration,
    /// Longest up-time before a pull.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
    max_up: Duration,
    /// How long the service may take to vend again once the token is back.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    recovery_timeout: Duration,
    /// Seed of the fault moments and the request mix (default: random, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Meters.
    #[arg(long, default_value_t = 200)]
    meters: u64,
    /// First DRN body (10 digits) of the generated PANs.
    #[arg(long, default_value_t = 7_000_000_000)]
    first_drn: u64,
    /// Directory for the client log and the server log.
    #[arg(long)]
    dir: PathBuf,
}

/// Where the fault stands.
const HEALTHY: u8 = 0;
const PULLED: u8 = 1;
const RETURNED: u8 = 2;

struct Shared {
    stop: AtomicBool,
    phase: AtomicU8,
    /// Milliseconds since the start at which the token last came back.
    returned_at_ms: AtomicU64,
    /// Set by the first 201 for a request sent after the token came back.
    recovered: AtomicBool,
    started: Instant,
    acked: AtomicU64,
    refused: Mutex<Vec<IssueRequest>>,
    findings: Findings,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

fn phase_name(p: u8) -> &'static str {
    match p {
        HEALTHY => "healthy",
        PULLED => "token away",
        _ => "token back, recovering",
    }
}

async fn worker(
    api: Api,
    url: String,
    meters: Arc<Meters>,
    shared: Arc<Shared>,
    log: AckLog,
    mut requests: Generator,
) {
    let mut recent: Vec<(IssueRequest, vend_api::harness::client::Ack)> = Vec::new();
    let mut pending: Option<IssueRequest> = None;
    while !shared.stop.load(Ordering::Acquire) || pending.is_some() {
        let (req, expect) = match pending.take() {
            Some(r) => (r, None),
            None => match requests.next(&meters, recent.len()) {
                Some(Choice::New(r)) => (r, None),
                Some(Choice::Retry(k)) => match recent.get(k) {
                    Some((r, a)) => (r.clone(), Some(a.clone())),
                    None => continue,
                },
                None => return,
            },
        };
        let before = shared.phase.load(Ordering::Acquire);
        let sent_ms = shared.now_ms();
        let outcome = api.issue(&url, &req).await;
        let after = shared.phase.load(Ordering::Acquire);
        let during_fault = before != HEALTHY || after != HEALTHY;
        shared
            .findings
            .count(format!("{:<24} {}", phase_name(before), outcome.label()));
        match outcome {
            Outcome::Issued { ack, replayed } => {
                if let Some(want) = &expect {
                    if !replayed || ack != *want {
                        shared.findings.fail(format!(
                            "retry of {} answered replayed={replayed} issue {}, not the original {}",
                            req.idem, ack.issue_id, want.issue_id
                        ));
                    }
                } else if replayed {
                    shared.findings.fail(format!(
                        "{} answered as a replay on its first sending",
                        req.idem
                    ));
                }
                if let Err(e) = log
                    .append(&AckRecord::new(&req, ack.clone(), replayed, 0))
                    .await
                {
                    shared.findings.fail(format!("client log: {e}"));
                    return;
                }
                shared.acked.fetch_add(1, Ordering::Relaxed);
                if expect.is_none() {
                    if req.op == OpKind::KeyChange {
                        meters.end_key_change(req.meter, req.new_ti);
                    }
                    if sent_ms >= shared.returned_at_ms.load(Ordering::Acquire)
                        && before == RETURNED
                    {
                        shared.recovered.store(true, Ordering::Release);
                    }
                    if recent.len() < 32 {
                        recent.push((req, ack));
                    } else if let Some(slot) = recent.get_mut(requests.rng().random_range(0..32)) {
                        *slot = (req, ack);
                    }
                }
            }
            Outcome::Unavailable {
                code,
                message,
                retry_after,
            } => {
                if code == "timeout" {
                    // The request timed out and may have committed: in doubt, send it again.
                    if expect.is_none() {
                        pending = Some(req);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                if retry_after.is_none() {
                    shared.findings.fail(format!(
                        "503 without Retry-After for {}: {message}",
                        req.idem
                    ));
                }
                if code != "unavailable" {
                    shared.findings.fail(format!(
                        "503 with code {code:?} for {}: {message}",
                        req.idem
                    ));
                }
                if !during_fault {
                    shared
                        .findings
                        .fail(format!("503 outside a fault for {} ({message})", req.idem));
                }
                if expect.is_none() {
                    // Sent again at the end; a key change keeps its meter claimed until then.
                    if let Ok(mut r) = shared.refused.lock() {
                        r.push(req);
                    }
                }
                // A client honouring Retry-After would wait; the harness keeps the load on to
                // see every request during the fault answered cleanly, but not in a busy loop.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Outcome::Refused {
                status,
                code,
                message,
            } => {
                if req.op == OpKind::KeyChange && expect.is_none() {
                    meters.end_key_change(req.meter, None);
                }
                shared.findings.fail(format!(
                    "{} {} answered {status} {code} ({}): {message}",
                    req.op.name(),
                    req.idem,
                    phase_name(before)
                ));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Outcome::ServerError { status, body } => {
                shared.findings.fail(format!(
                    "{} answered {status} ({}): {body}",
                    req.idem,
                    phase_name(before)
                ));
                pending = expect.is_none().then_some(req);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Outcome::Transport { kind } => {
                shared.findings.fail(format!(
                    "{} got no answer ({kind}, {})",
                    req.idem,
                    phase_name(before)
                ));
                pending = expect.is_none().then_some(req);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn rename(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::rename(from, to)
        .map_err(|e| format!("rename {} -> {}: {e}", from.display(), to.display()))
}

/// Where the token's directory goes while it is away: beside the token store, never inside it
/// (SoftHSM2 takes every directory in its token store for a token).
fn away_path(token_dir: &Path) -> PathBuf {
    let name = token_dir
        .file_name()
        .map_or_else(|| "token".into(), |n| n.to_string_lossy().into_owned());
    token_dir
        .parent()
        .and_then(Path::parent)
        .unwrap_or(token_dir)
        .join(format!("{name}.away"))
}

struct FaultStats {
    recovery_ms: Vec<u64>,
    /// The service did not recover from a fault.
    stuck: bool,
}

async fn fault_loop(
    args: &RunArgs,
    shared: &Shared,
    rng: &mut StdRng,
) -> Result<FaultStats, String> {
    let mut stats = FaultStats {
        recovery_ms: Vec::new(),
        stuck: false,
    };
    let away = away_path(&args.token_dir);
    for k in 1..=args.faults {
        let up = up_time(rng, args.min_up, args.max_up);
        tokio::time::sleep(up).await;
        let up = up.as_millis();
        let acked = shared.acked.load(Ordering::Relaxed);
        shared.phase.store(PULLED, Ordering::Release);
        rename(&args.token_dir, &away)?;
        let pulled = Instant::now();
        tokio::time::sleep(args.fault_for).await;
        rename(&away, &args.token_dir)?;
        shared.recovered.store(false, Ordering::Release);
        shared
            .returned_at_ms
            .store(shared.now_ms(), Ordering::Release);
        shared.phase.store(RETURNED, Ordering::Release);
        let back = Instant::now();
        while !shared.recovered.load(Ordering::Acquire) {
            if back.elapsed() > args.recovery_timeout {
                shared.findings.fail(format!(
                    "fault {k}: no vend succeeded within {} s after the token came back",
                    args.recovery_timeout.as_secs()
                ));
                stats.stuck = true;
                return Ok(stats);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let recovery = u64::try_from(back.elapsed().as_millis()).unwrap_or(u64::MAX);
        stats.recovery_ms.push(recovery);
        shared.phase.store(HEALTHY, Ordering::Release);
        println!(
            "fault {k}/{}: token pulled after {up} ms up ({acked} acknowledged so far), away {} ms; first vend {recovery} ms after it came back",
            args.faults,
            pulled
                .elapsed()
                .as_millis()
                .saturating_sub(back.elapsed().as_millis()),
        );
    }
    Ok(stats)
}

async fn run(args: RunArgs) -> Result<bool, String> {
    let seed = args.seed.unwrap_or_else(rand::random);
    println!(
        "vend-hsm-fault: seed {seed}, {} faults of {} ms, {} workers, {} meters, token dir {}",
        args.faults,
        args.fault_for.as_millis(),
        args.concurrency,
        args.meters,
        args.token_dir.display()
    );
    if !args.token_dir.is_dir() {
        return Err(format!("{} is not a directory", args.token_dir.display()));
    }
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let api = Api::new(args.key.clone(), args.concurrency, Duration::from_secs(15))?;
    let mut server = Instance::new(
        args.url.clone(),
        args.server.clone(),
        &args.dir.join("server.log"),
    );
    server.start().map_err(|e| format!("start server: {e}"))?;
    if !api.wait_ready(&args.url, Duration::from_secs(60)).await {
        return Err(format!(
            "the server did not start (see {})",
            server.log().display()
        ));
    }
    let meters = Arc::new(Meters::new(args.first_drn, args.meters));
    let created = api.register(&args.url, &meters).await?;
    println!("meters: {} ({created} new)", meters.len());
    let log_path = args.dir.join("acks.jsonl");
    let log = AckLog::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        phase: AtomicU8::new(HEALTHY),
        returned_at_ms: AtomicU64::new(0),
        recovered: AtomicBool::new(true),
        started: Instant::now(),
        acked: AtomicU64::new(0),
        refused: Mutex::new(Vec::new()),
        findings: Findings::default(),
    });
    let mut workers = tokio::task::JoinSet::new();
    for id in 0..args.concurrency {
        workers.spawn(worker(
            api.clone(),
            args.url.clone(),
            Arc::clone(&meters),
            Arc::clone(&shared),
            log.clone(),
            Generator::new(
                MixConfig::REALISTIC,
                meters.len(),
                seed.wrapping_add(1 + u64::try_from(id).unwrap_or(0)),
                format!("hsm-{seed:x}-{id}"),
            ),
        ));
    }
    let faults = fault_loop(&args, &shared, &mut rng).await;
    // Some load after the last recovery, then stop.
    tokio::time::sleep(Duration::from_millis(500)).await;
    shared.stop.store(true, Ordering::Release);
    let drained = tokio::time::timeout(Duration::from_secs(60), async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    let away = away_path(&args.token_dir);
    if away.exists() {
        rename(&away, &args.token_dir)?;
    }
    let faults = faults?;
    if drained.is_err() {
        return Err("workers did not finish within 60 s".into());
    }

    // Every request refused with 503 is sent again: nothing was written for it, so it is
    // issued afresh.
    let refused: Vec<IssueRequest> = if faults.stuck {
        // The service cannot vend: resending would only be refused again.
        Vec::new()
    } else {
        shared.refused.lock().map(|r| r.clone()).unwrap_or_default()
    };
    let mut fresh = 0usize;
    for req in &refused {
        let mut attempts = 0;
        loop {
            match api.issue(&args.url, req).await {
                Outcome::Issued { ack, replayed } => {
                    if replayed {
                        shared.findings.fail(format!(
                            "{} was refused with 503 but had been written (issue {})",
                            req.idem, ack.issue_id
                        ));
                    } else {
                        fresh += 1;
                    }
                    if req.op == OpKind::KeyChange {
                        meters.end_key_change(req.meter, req.new_ti);
                    }
                    log.append(&AckRecord::new(req, ack, replayed, 0)).await?;
                    break;
                }
                Outcome::Unavailable { .. } | Outcome::Transport { .. } if attempts < 100 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => {
                    shared.findings.fail(format!(
                        "resending refused {} answered {}",
                        req.idem,
                        other.label()
                    ));
                    break;
                }
            }
        }
    }

    let recs = AckLog::read(&log_path)?;
    let report = check::ledger(&api, &args.url, &meters, &recs, true).await?;
    let mut failures: Vec<String> = shared.findings.failures();
    failures.extend(report.failures.iter().cloned());
    let outcomes = shared.findings.outcomes();
    println!("\noutcomes by phase at sending:");
    for (k, v) in &outcomes {
        println!("  {k:<40} {v}");
    }
    println!(
        "recovery after the token came back (ms): {:?}\nrefused with 503 and sent again afterwards: {} (all issued afresh: {})\n{}",
        faults.recovery_ms,
        refused.len(),
        fresh == refused.len(),
        report.summary()
    );
    let _ = server.kill();
    Ok(vend_api::harness::verdict(
        "vend-hsm-fault",
        seed,
        &failures,
    ))
}

fn setup(module: PathBuf, label: &str) -> Result<(), String> {
    let pin = Pin::from_env(hsm_core::store::PIN_ENV).map_err(|e| e.to_string())?;
    let mut config = Pkcs11Config::new(module, label);
    config.sessions = 1;
    let store = Pkcs11Store::init(&config, &pin).map_err(|e| e.to_string())?;
    let record = vend_api::keystore::sample::record(
        201_457,
        1,
        Dkga::Dkga04,
        EncryptionAlgorithm::Sta,
        BaseDate::Y2014,
        false,
    )
    .map_err(|e| e.to_string())?;
    let key = vend_api::keystore::sample::key(Dkga::Dkga04).map_err(|e| e.to_string())?;
    store.import(&record, key).map_err(|e| e.to_string())?;
    println!(
        "token {label:?}: key store initialized, sample key {} imported (TEST ONLY)",
        record.id
    );
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Setup { module, label } => match setup(module, &label) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vend-hsm-fault setup: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Run(args) => {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("vend-hsm-fault: {e}");
                    return ExitCode::FAILURE;
                }
            };
            match rt.block_on(run(*args)) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!("vend-hsm-fault: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
