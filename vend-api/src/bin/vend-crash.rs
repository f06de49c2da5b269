//! `vend-crash`: crash safety, proven from the client's side.
//!
//! Starts the server instances it is given (`--server CMD --url URL`, repeated; each command
//! runs as `sh -c 'exec CMD'`, so the PID held is the server's), registers `--meters` meters,
//! and runs `--concurrency` workers issuing the realistic mix (credit, management, key changes,
//! idempotent retries) round-robin over the live instances. Every 201 is appended to the
//! client log and fsynced before the worker goes on (`vend_api::harness::acklog`). Meanwhile
//! it SIGKILLs one of the `--kill-instance` instances `--kills` times, each after a random
//! up-time in [`--min-up`, `--max-up`] drawn from a seeded RNG (`--seed`, printed), and
//! restarts it. A request whose answer was lost (connection reset, refused, 503) is in doubt:
//! its worker sends it again, with the same Idempotency-Key and body, until it gets an answer.
//!
//! After each restart, a sample of acknowledged requests (the newest before the kill and some
//! at random) is sent again: each must answer its original tokens, marked replayed. At the
//! end, with every in-doubt request resolved, the client log is read back from disk and the
//! ledger is read through the API:
//!
//! - every acknowledged token is in the ledger with the same digits, TID and position;
//! - no (meter, base date, TID) appears twice;
//! - the ledger holds no issue for these meters that the client was not told about;
//! - every acknowledged request sent again answers its original tokens;
//! - the audit chain verifies.
//!
//! The checks use only the HTTP API, so the harness is the same for every backend: the
//! SQLite variant runs one instance; the PostgreSQL variant runs two on one database and
//! kills one of them. Exit status 0 only if every check passed. Wrapper:
//! `vend-api/scripts/crash.sh`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use vend_api::harness::acklog::{AckLog, AckRecord};
use vend_api::harness::check;
use vend_api::harness::client::{Ack, Api, Outcome};
use vend_api::harness::mix::{Choice, Generator, IssueRequest, Meters, MixConfig, OpKind};
use vend_api::harness::server::Instance;
use vend_api::harness::{Findings, parse_duration, up_time};

/// Kills the service under load and checks that nothing acknowledged was lost.
#[derive(Debug, Parser)]
#[command(name = "vend-crash")]
struct Args {
    /// Shell command starting server instance i (repeat per instance, in `--url` order). It
    /// runs as `sh -c 'exec CMD'`: it must be (or `exec`) the server itself.
    #[arg(long = "server", required = true)]
    servers: Vec<String>,
    /// Base URL of instance i.
    #[arg(long = "url", required = true)]
    urls: Vec<String>,
    /// Instances that may be killed (repeatable; default 0).
    #[arg(long = "kill-instance", default_values_t = [0usize])]
    kill_instances: Vec<usize>,
    /// API key with the vend, meters, manage, key_change and audit scopes.
    #[arg(long, env = "VEND_CRASH_KEY", hide_env_values = true)]
    key: String,
    /// SIGKILLs to deliver.
    #[arg(long, default_value_t = 20)]
    kills: u32,
    /// Seed of the kill moments and the request mix (default: random, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Concurrent workers.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Meters.
    #[arg(long, default_value_t = 500)]
    meters: u64,
    /// First DRN body (10 digits) of the generated PANs.
    #[arg(long, default_value_t = 6_000_000_000)]
    first_drn: u64,
    /// Shortest up-time before a kill.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    min_up: Duration,
    /// Longest up-time before a kill.
    #[arg(long, default_value = "1500ms", value_parser = parse_duration)]
    max_up: Duration,
    /// Directory for the client log (`acks.jsonl`) and the server logs.
    #[arg(long)]
    dir: PathBuf,
    /// Acknowledged requests sent again after each restart.
    #[arg(long, default_value_t = 20)]
    replays_per_restart: usize,
    /// Acknowledged requests sent again at the end (0: every one).
    #[arg(long, default_value_t = 0)]
    final_replays: usize,
}

/// State the workers share.
struct Shared {
    stop: AtomicBool,
    alive: Vec<AtomicBool>,
    next_instance: AtomicU64,
    acked: AtomicU64,
    in_doubt: AtomicU64,
    resolved_replayed: AtomicU64,
    findings: Findings,
}

impl Shared {
    /// A live instance, round-robin (instance 0 if none is marked live).
    fn pick(&self) -> usize {
        let n = self.alive.len().max(1);
        let start =
            usize::try_from(self.next_instance.fetch_add(1, Ordering::Relaxed) % 64).unwrap_or(0);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| self.alive.get(i).is_some_and(|a| a.load(Ordering::Acquire)))
            .unwrap_or(0)
    }
}

struct Worker {
    api: Api,
    urls: Arc<Vec<String>>,
    meters: Arc<Meters>,
    shared: Arc<Shared>,
    log: AckLog,
    requests: Generator,
}

impl Worker {
    async fn run(mut self) {
        let mut pending: Option<IssueRequest> = None;
        let mut recent: Vec<(IssueRequest, Ack)> = Vec::new();
        let mut backoff = Duration::from_millis(10);
        loop {
            let (req, expect) = match pending.take() {
                Some(req) => (req, None),
                None => {
                    if self.shared.stop.load(Ordering::Acquire) {
                        return;
                    }
                    match self.requests.next(&self.meters, recent.len()) {
                        Some(Choice::New(req)) => (req, None),
                        Some(Choice::Retry(k)) => match recent.get(k) {
                            Some((req, ack)) => (req.clone(), Some(ack.clone())),
                            None => continue,
                        },
                        None => return,
                    }
                }
            };
            let inst = self.shared.pick();
            let url = self.urls.get(inst).map_or("", String::as_str);
            let outcome = self.api.issue(url, &req).await;
            self.shared.findings.count(match &expect {
                Some(_) => format!("retry {}", outcome.label()),
                None => format!("{} {}", req.op.name(), outcome.label()),
            });
            match outcome {
                Outcome::Issued { ack, replayed } => {
                    backoff = Duration::from_millis(10);
                    if let Some(want) = &expect {
                        if !replayed || ack != *want {
                            self.shared.findings.fail(format!(
                                "retry of {} answered replayed={replayed} issue {} (original issue {})",
                                req.idem, ack.issue_id, want.issue_id
                            ));
                        }
                    }
                    let rec = AckRecord::new(&req, ack.clone(), replayed, inst);
                    if let Err(e) = self.log.append(&rec).await {
                        self.shared.findings.fail(format!("client log: {e}"));
                        self.shared.stop.store(true, Ordering::Release);
                        return;
                    }
                    self.shared.acked.fetch_add(1, Ordering::Relaxed);
                    if expect.is_none() {
                        if replayed {
                            // An in-doubt request that had committed before its answer was lost.
                            self.shared
                                .resolved_replayed
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        if req.op == OpKind::KeyChange {
                            self.meters.end_key_change(req.meter, req.new_ti);
                        }
                        if recent.len() < 32 {
                            recent.push((req, ack));
                        } else {
                            let k = self.requests.rng().random_range(0..32);
                            if let Some(slot) = recent.get_mut(k) {
                                *slot = (req, ack);
                            }
                        }
                    }
                }
                Outcome::Unavailable { .. }
                | Outcome::Transport { .. }
                | Outcome::ServerError { .. } => {
                    if let Some(a) = self.shared.alive.get(inst) {
                        if matches!(outcome, Outcome::Transport { kind: "connect" }) {
                            a.store(false, Ordering::Release);
                        }
                    }
                    if expect.is_none() {
                        // In doubt: the same request again until it is answered.
                        self.shared.in_doubt.fetch_add(1, Ordering::Relaxed);
                        pending = Some(req);
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(200));
                }
                Outcome::Refused {
                    status,
                    code,
                    message,
                } => {
                    if req.op == OpKind::KeyChange && expect.is_none() {
                        self.meters.end_key_change(req.meter, None);
                    }
                    self.shared.findings.fail(format!(
                        "{} {} answered {status} {code}: {message}",
                        req.op.name(),
                        req.idem
                    ));
                }
            }
        }
    }
}

/// Sends acknowledged requests again until each is answered (a few attempts each).
async fn replay_all(
    api: &Api,
    base: &str,
    recs: &[&AckRecord],
    failures: &mut Vec<String>,
) -> usize {
    let mut checked = 0;
    for rec in recs {
        let mut attempts = 0;
        loop {
            match check::replay(api, base, rec).await {
                Ok(true) => {
                    checked += 1;
                    break;
                }
                Ok(false) if attempts < 50 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(false) => {
                    failures.push(format!("retry of {} never got an answer", rec.idem));
                    break;
                }
                Err(e) => {
                    failures.push(e);
                    break;
                }
            }
        }
    }
    checked
}

struct Totals {
    replays_after_restarts: usize,
    restart_ms: Vec<u128>,
}

async fn kill_loop(
    args: &Args,
    api: &Api,
    instances: &mut [Instance],
    shared: &Shared,
    rng: &mut StdRng,
    log_path: &std::path::Path,
) -> Result<Totals, String> {
    let mut totals = Totals {
        replays_after_restarts: 0,
        restart_ms: Vec::new(),
    };
    for k in 1..=args.kills {
        let up = up_time(rng, args.min_up, args.max_up);
        tokio::time::sleep(up).await;
        let up = up.as_millis();
        let pick = rng.random_range(0..args.kill_instances.len().max(1));
        let i = args.kill_instances.get(pick).copied().unwrap_or(0);
        let inst = instances
            .get_mut(i)
            .ok_or_else(|| format!("--kill-instance {i}: no such instance"))?;
        let pid = inst.running_pid();
        let acked = shared.acked.load(Ordering::Relaxed);
        inst.kill().map_err(|e| format!("kill instance {i}: {e}"))?;
        if let Some(a) = shared.alive.get(i) {
            a.store(false, Ordering::Release);
        }
        let started = Instant::now();
        let new_pid = inst
            .start()
            .map_err(|e| format!("restart instance {i}: {e}"))?;
        if !api.wait_ready(&inst.url, Duration::from_secs(60)).await {
            return Err(format!(
                "instance {i} did not come back within 60 s (see {})",
                inst.log().display()
            ));
        }
        let took = started.elapsed().as_millis();
        totals.restart_ms.push(took);
        if let Some(a) = shared.alive.get(i) {
            a.store(true, Ordering::Release);
        }
        println!(
            "kill {k}/{}: instance {i} pid {} after {up} ms up ({acked} acknowledged so far); restarted as pid {new_pid} in {took} ms",
            args.kills,
            pid.map_or_else(|| "?".to_owned(), |p| p.to_string()),
        );
        // The newest acknowledged requests (answered just before the kill) and a few at
        // random, from the log on disk, through the restarted instance.
        let recs = AckLog::read(log_path)?;
        let n = args.replays_per_restart;
        let mut sample: Vec<&AckRecord> = recs.iter().rev().take(n / 2).collect();
        for _ in 0..(n - n / 2) {
            if recs.is_empty() {
                break;
            }
            if let Some(r) = recs.get(rng.random_range(0..recs.len())) {
                sample.push(r);
            }
        }
        let mut failures = Vec::new();
        totals.replays_after_restarts += replay_all(api, &inst.url, &sample, &mut failures).await;
        for f in failures {
            shared.findings.fail(format!("after kill {k}: {f}"));
        }
    }
    Ok(totals)
}

async fn run(args: Args) -> Result<bool, String> {
    if args.servers.len() != args.urls.len() || args.servers.is_empty() {
        return Err("give one --url per --server".into());
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    println!(
        "vend-crash: seed {seed}, {} kills, {} instance(s), {} workers, {} meters",
        args.kills,
        args.servers.len(),
        args.concurrency,
        args.meters
    );
    std::fs::create_dir_all(&args.dir).map_err(|e| format!("{}: {e}", args.dir.display()))?;
    let mut rng = StdRng::seed_from_u64(seed);
    let api = Api::new(args.key.clone(), args.concurrency, Duration::from_secs(15))?;
    let mut instances: Vec<Instance> = args
        .servers
        .iter()
        .zip(&args.urls)
        .enumerate()
        .map(|(i, (cmd, url))| {
            Instance::new(
                url.clone(),
                cmd.clone(),
                &args.dir.join(format!("server-{i}.log")),
            )
        })
        .collect();
    for (i, inst) in instances.iter_mut().enumerate() {
        inst.start()
            .map_err(|e| format!("start instance {i}: {e}"))?;
        if !api.wait_ready(&inst.url, Duration::from_secs(60)).await {
            return Err(format!(
                "instance {i} did not start (see {})",
                inst.log().display()
            ));
        }
    }
    let meters = Arc::new(Meters::new(args.first_drn, args.meters));
    let base0 = args.urls.first().cloned().unwrap_or_default();
    let created = api.register(&base0, &meters).await?;
    println!("meters: {} ({created} new)", meters.len());

    let log_path = args.dir.join("acks.jsonl");
    let log = AckLog::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        alive: args.urls.iter().map(|_| AtomicBool::new(true)).collect(),
        next_instance: AtomicU64::new(0),
        acked: AtomicU64::new(0),
        in_doubt: AtomicU64::new(0),
        resolved_replayed: AtomicU64::new(0),
        findings: Findings::default(),
    });
    let urls = Arc::new(args.urls.clone());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for id in 0..args.concurrency {
        let w = Worker {
            api: api.clone(),
            urls: Arc::clone(&urls),
            meters: Arc::clone(&meters),
            shared: Arc::clone(&shared),
            log: log.clone(),
            requests: Generator::new(
                MixConfig::REALISTIC,
                meters.len(),
                seed.wrapping_add(1 + u64::try_from(id).unwrap_or(0)),
                format!("crash-{seed:x}-{id}"),
            ),
        };
        workers.spawn(w.run());
    }
    let totals = kill_loop(&args, &api, &mut instances, &shared, &mut rng, &log_path).await;
    // Stop issuing; each worker resolves its in-doubt request first.
    shared.stop.store(true, Ordering::Release);
    let drained = tokio::time::timeout(Duration::from_secs(120), async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    let totals = totals?;
    if drained.is_err() {
        return Err("workers did not resolve their in-doubt requests within 120 s".into());
    }
    let load_secs = started.elapsed().as_secs_f64();

    // The final checks, from the log on disk.
    let recs = AckLog::read(&log_path)?;
    let check_started = Instant::now();
    let report = check::ledger(&api, &base0, &meters, &recs, true).await?;
    let mut failures = Vec::new();
    let chosen: Vec<&AckRecord> = if args.final_replays == 0 || args.final_replays >= recs.len() {
        recs.iter().collect()
    } else {
        (0..args.final_replays)
            .filter_map(|_| recs.get(rng.random_range(0..recs.len())))
            .collect()
    };
    let replayed = replay_all(&api, &base0, &chosen, &mut failures).await;
    let check_secs = check_started.elapsed().as_secs_f64();
    let mut all_failures: Vec<String> = shared.findings.failures();
    all_failures.extend(report.failures.iter().cloned());
    all_failures.extend(failures);
    let outcomes = shared.findings.outcomes();
    let restarts = totals.restart_ms.len();
    let mean_restart = if restarts == 0 {
        0
    } else {
        totals.restart_ms.iter().sum::<u128>() / u128::try_from(restarts).unwrap_or(1)
    };
    println!(
        "\nload {load_secs:.1} s, checks {check_secs:.1} s; outcomes: {outcomes:?}\n\
         kills {restarts} (mean restart-to-ready {mean_restart} ms); in-doubt answers retried {} (of which had committed: {})\n\
         {}\n\
         idempotent retries: {} after restarts, {replayed} at the end, all answered the original tokens",
        shared.in_doubt.load(Ordering::Relaxed),
        shared.resolved_replayed.load(Ordering::Relaxed),
        report.summary(),
        totals.replays_after_restarts,
    );
    for inst in &mut instances {
        let _ = inst.kill();
    }
    Ok(vend_api::harness::verdict(
        "vend-crash",
        seed,
        &all_failures,
    ))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vend-crash: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("vend-crash: {e}");
            ExitCode::from(2)
        }
    }
}
