//! Wiring: config → ledger, issuer, service, auth, router, webhook task; and serving (plain
//! or TLS) with graceful shutdown.

use core::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hsm_core::{Issuer, KeyStore};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use zeroize::Zeroizing;

use crate::clock::{Clock, RandomRnd, RndSource, SystemClock};
use crate::config::{Backend, Config, ConfigError};
use crate::http::auth::{Auth, AuthSettings};
use crate::http::{AppState, HttpSettings};
use crate::ledger::postgres::{PgLedger, PgOptions};
use crate::ledger::sqlite::{SqliteLedger, SqliteOptions};
use crate::ledger::{Ledger, LedgerError, OutboxPolicy};
use crate::metrics::Metrics;
use crate::service::VendService;
use crate::webhook::{Dispatcher, WebhookSettings};

/// Looks a secret up by the environment variable name the config gives.
pub type SecretLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What the service runs on besides its config: injectable for tests.
#[derive(Clone)]
pub struct Deps {
    /// The key store the issuer uses.
    pub keystore: Arc<dyn KeyStore>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// RND per token.
    pub rnd: Arc<dyn RndSource>,
    /// Reads a secret by the environment variable name the config gives.
    pub secret: SecretLookup,
}

impl Deps {
    /// The system clock, a random RND per token, secrets from the environment.
    pub fn new(keystore: Arc<dyn KeyStore>) -> Self {
        Self {
            keystore,
            clock: Arc::new(SystemClock),
            rnd: Arc::new(RandomRnd),
            secret: Arc::new(|name| std::env::var(name).ok().filter(|v| !v.is_empty())),
        }
    }
}

/// Why the service could not start.
#[derive(Debug)]
pub enum StartError {
    /// The configuration.
    Config(ConfigError),
    /// The ledger.
    Ledger(LedgerError),
    /// Metrics registration (a bug).
    Metrics(prometheus::Error),
    /// The webhook HTTP client.
    Webhook(String),
    /// Binding or serving.
    Io(std::io::Error),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => e.fmt(f),
            Self::Ledger(e) => write!(f, "ledger: {e}"),
            Self::Metrics(e) => write!(f, "metrics: {e}"),
            Self::Webhook(e) => write!(f, "webhook client: {e}"),
            Self::Io(e) => write!(f, "server: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

impl From<ConfigError> for StartError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

impl From<LedgerError> for StartError {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// A built service, not yet serving.
pub struct App {
    /// Handler state (the router is built from it).
    pub state: AppState,
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    dispatcher: Option<Dispatcher>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

fn outbox_policy(config: &Config) -> OutboxPolicy {
    OutboxPolicy {
        enabled: config.webhook.is_some(),
        include_digits: config.webhook.as_ref().is_some_and(|w| w.include_digits),
    }
}

/// The ledger options a config asks for.
pub fn sqlite_options(config: &Config) -> SqliteOptions {
    let d = &config.database;
    SqliteOptions {
        path: d.path.clone(),
        read_connections: d.read_connections,
        batch_max: d.batch_max,
        queue: d.queue,
        migrate: d.auto_migrate,
        outbox: outbox_policy(config),
    }
}

/// The PostgreSQL ledger options a config asks for; the password (if any) is read through
/// `secret`.
pub fn postgres_options(
    config: &Config,
    secret: &dyn Fn(&str) -> Option<String>,
) -> Result<PgOptions, ConfigError> {
    let d = &config.database;
    Ok(PgOptions {
        connect: d.postgres(secret)?,
        pool_size: d.pool_size,
        writers: d.writers,
        batch_max: d.batch_max,
        queue: d.queue,
        migrate: d.auto_migrate,
        lock_timeout: Duration::from_millis(d.lock_timeout_ms),
        outbox: outbox_policy(config),
    })
}

/// Opens the ledger the config chooses (and migrates it if `auto_migrate`); callable inside
/// a Tokio runtime (the PostgreSQL setup runs on a thread of its own).
pub fn open_ledger(
    config: &Config,
    secret: &dyn Fn(&str) -> Option<String>,
    metrics: Option<crate::metrics::LedgerMetrics>,
) -> Result<Arc<dyn Ledger>, StartError> {
    Ok(match config.database.kind()? {
        Backend::Sqlite => Arc::new(SqliteLedger::open(&sqlite_options(config), metrics)?),
        Backend::Postgres => Arc::new(PgLedger::open(&postgres_options(config, secret)?, metrics)?),
    })
}

fn webhook_settings(config: &Config, deps: &Deps) -> Result<Option<WebhookSettings>, StartError> {
    let Some(w) = &config.webhook else {
        return Ok(None);
    };
    let secret = (deps.secret)(&w.secret_env).ok_or_else(|| {
        StartError::Config(ConfigError::Invalid {
            key: "webhook.secret_env",
            message: format!("environment variable {} is not set", w.secret_env),
        })
    })?;
    Ok(Some(WebhookSettings {
        url: w.url.clone(),
        secret: Arc::new(Zeroizing::new(secret.into_bytes())),
        max_attempts: w.max_attempts,
        initial_backoff: Duration::from_millis(w.initial_backoff_ms),
        max_backoff: Duration::from_millis(w.max_backoff_ms),
        timeout: Duration::from_millis(w.timeout_ms),
        poll_interval: Duration::from_millis(w.poll_interval_ms),
    }))
}

/// Builds the service from a config and its dependencies (opens and migrates the ledger).
pub fn build(config: &Config, deps: Deps) -> Result<App, StartError> {
    let metrics = Metrics::new().map_err(StartError::Metrics)?;
    let ledger = open_ledger(config, deps.secret.as_ref(), Some(metrics.ledger.clone()))?;
    let hooks = webhook_settings(config, &deps)?;
    let wake = hooks.as_ref().map(|_| Arc::new(Notify::new()));
    let service = VendService::new(
        Arc::clone(&ledger),
        Issuer::new(deps.keystore),
        Arc::clone(&deps.clock),
        deps.rnd,
        metrics.clone(),
        wake.clone(),
    );
    let auth = Arc::new(Auth::new(
        Arc::clone(&ledger),
        AuthSettings {
            rate_per_sec: config.auth.rate_per_sec,
            burst: config.auth.burst,
            cache_ttl: Duration::from_secs(config.auth.cache_ttl_secs),
        },
        metrics.clone(),
    ));
    let dispatcher = match (hooks, wake) {
        (Some(h), Some(w)) => Some(
            Dispatcher::new(Arc::clone(&ledger), h, deps.clock, metrics.clone(), w)
                .map_err(|e| StartError::Webhook(e.to_string()))?,
        ),
        _ => None,
    };
    let state = AppState {
        service,
        auth,
        metrics,
        settings: HttpSettings {
            timeout: Duration::from_millis(config.server.request_timeout_ms),
            body_limit: config.server.body_limit_bytes,
        },
        openapi: Arc::new(String::new()),
    };
    Ok(App {
        state,
        ledger,
        dispatcher,
    })
}

impl App {
    /// The router.
    pub fn router(&self) -> Router {
        crate::router(self.state.clone())
    }

    /// Starts the webhook delivery task (if webhooks are configured); it stops when `stop`
    /// turns true.
    pub fn spawn_webhooks(
        &mut self,
        stop: watch::Receiver<bool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        self.dispatcher.take().map(|d| tokio::spawn(d.run(stop)))
    }

    /// Serves on `listener` (plain HTTP) until `shutdown` resolves, then drains.
    pub async fn serve(
        mut self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let hooks = self.spawn_webhooks(stop_rx);
        let router = self.router();
        let r = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(StartError::Io);
        let _ = stop_tx.send(true);
        if let Some(h) = hooks {
            let _ = h.await;
        }
        r
    }

    /// Serves TLS (rustls, ring provider) on `addr` until `shutdown` resolves.
    pub async fn serve_tls(
        mut self,
        addr: std::net::SocketAddr,
        cert: std::path::PathBuf,
        key: std::path::PathBuf,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        // Several crates could install a process-wide provider; ours is ring. A second
        // install fails harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
            .await
            .map_err(StartError::Io)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let hooks = self.spawn_webhooks(stop_rx);
        let handle = axum_server::Handle::new();
        let h2 = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            h2.graceful_shutdown(Some(Duration::from_secs(10)));
        });
        let r = axum_server::bind_rustls(addr, tls)
            .handle(handle)
            .serve(self.router().into_make_service())
            .await
            .map_err(StartError::Io);
        let _ = stop_tx.send(true);
        if let Some(h) = hooks {
            let _ = h.await;
        }
        r
    }
}
