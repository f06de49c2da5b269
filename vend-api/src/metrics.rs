//! Prometheus metrics, one registry per service instance (no global state, so tests can run
//! many routers in one process).

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

/// The ledger writer's metrics (cloned into the writer thread).
#[derive(Clone, Debug)]
pub struct LedgerMetrics {
    batch_size: Histogram,
    commit_seconds: Histogram,
    commit_failures: IntCounter,
}

impl LedgerMetrics {
    /// Records one batch.
    pub fn observe_batch(&self, jobs: usize, took: Duration, committed: bool) {
        // Batch sizes are bounded by the configured maximum, far below 2^52.
        #[allow(clippy::cast_precision_loss)]
        self.batch_size.observe(jobs as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        if !committed {
            self.commit_failures.inc();
        }
    }
}

/// Every metric the service exports.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
    /// HTTP requests by method, route template and status.
    pub http_requests: IntCounterVec,
    /// HTTP latency by method and route template.
    pub http_seconds: HistogramVec,
    /// Tokens issued by kind.
    pub tokens_issued: IntCounterVec,
    /// Idempotent replays served.
    pub idempotent_replays: IntCounter,
    /// Webhook deliveries by outcome (`delivered`, `retry`, `gave_up`).
    pub webhook_deliveries: IntCounterVec,
    /// Requests refused by the rate limiter.
    pub rate_limited: IntCounter,
    /// The ledger writer's metrics.
    pub ledger: LedgerMetrics,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("vend".into()), None)?;
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
                ],
            ),
            &["method", "route"],
        )?;
        let tokens_issued = IntCounterVec::new(
            Opts::new("tokens_issued_total", "Tokens issued by kind"),
            &["kind"],
        )?;
        let idempotent_replays = IntCounter::new(
            "idempotent_replays_total",
            "Issuing requests answered from the ledger by idempotency key",
        )?;
        let webhook_deliveries = IntCounterVec::new(
            Opts::new(
                "webhook_deliveries_total",
                "Webhook delivery attempts by outcome",
            ),
            &["outcome"],
        )?;
        let rate_limited = IntCounter::new("rate_limited_total", "Requests refused with 429")?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("ledger_batch_jobs", "Jobs per ledger commit").buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )?;
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("ledger_batch_seconds", "Time to run and commit one batch").buckets(
                vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
            ),
        )?;
        let commit_failures =
            IntCounter::new("ledger_commit_failures_total", "Failed batch commits")?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_seconds.clone()))?;
        registry.register(Box::new(tokens_issued.clone()))?;
        registry.register(Box::new(idempotent_replays.clone()))?;
        registry.register(Box::new(webhook_deliveries.clone()))?;
        registry.register(Box::new(rate_limited.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        registry.register(Box::new(commit_failures.clone()))?;
        Ok(Self {
            registry,
            http_requests,
            http_seconds,
            tokens_issued,
            idempotent_replays,
            webhook_deliveries,
            rate_limited,
            ledger: LedgerMetrics {
                batch_size,
                commit_seconds,
                commit_failures,
            },
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format; an error leaves what was
        // written so far.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}
