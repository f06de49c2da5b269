//! One typed configuration: defaults, then a TOML file, then `VEND_<SECTION>__<KEY>`
//! environment variables (e.g. `VEND_SERVER__LISTEN=0.0.0.0:8443`), checked at start.
//!
//! Secrets never sit in the file: the config names the environment variable that holds each
//! (`passphrase_env`, `pin_env`, `secret_env`).

use core::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP server.
    pub server: ServerConfig,
    /// Ledger database.
    pub database: DatabaseConfig,
    /// Where the vending keys are.
    pub keystore: KeyStoreConfig,
    /// Rate limits and key cache.
    pub auth: AuthConfig,
    /// Webhooks (absent: none).
    pub webhook: Option<WebhookConfig>,
    /// Logging.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            keystore: KeyStoreConfig::MemorySample,
            auth: AuthConfig::default(),
            webhook: None,
            log: LogConfig::default(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Listen address.
    pub listen: String,
    /// Whole-request timeout, milliseconds.
    pub request_timeout_ms: u64,
    /// Largest request body, bytes.
    pub body_limit_bytes: usize,
    /// TLS (absent: plain HTTP).
    pub tls: Option<TlsConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            request_timeout_ms: 10_000,
            body_limit_bytes: 64 * 1024,
            tls: None,
        }
    }
}

/// `[server.tls]`: PEM files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain.
    pub cert_path: PathBuf,
    /// Private key.
    pub key_path: PathBuf,
}

/// `[database]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite` (embedded, one instance) or `postgres` (any number of instances sharing one
    /// database).
    pub backend: String,
    /// SQLite file.
    pub path: PathBuf,
    /// SQLite read connections.
    pub read_connections: usize,
    /// Most jobs per group commit (both backends).
    pub batch_max: usize,
    /// Jobs that may queue for the writer (both backends).
    pub queue: usize,
    /// Apply pending migrations at start.
    pub auto_migrate: bool,
    /// PostgreSQL: a `postgresql://user@host:port/dbname` URL or a `host=… dbname=…` string,
    /// without a password.
    pub url: Option<String>,
    /// PostgreSQL: the environment variable holding the password (none: no password).
    pub password_env: Option<String>,
    /// PostgreSQL: pooled connections for reads and webhook claims.
    pub pool_size: usize,
    /// PostgreSQL: writer tasks per instance, each with its own connection and batches.
    pub writers: usize,
    /// PostgreSQL: longest wait for a row lock before a write fails (503), milliseconds.
    pub lock_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            backend: "sqlite".into(),
            path: "vend.sqlite3".into(),
            read_connections: 4,
            batch_max: 256,
            queue: 8192,
            auto_migrate: true,
            url: None,
            password_env: None,
            pool_size: 8,
            writers: 2,
            lock_timeout_ms: 5_000,
        }
    }
}

/// The ledger backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl DatabaseConfig {
    /// The backend `backend` names (`postgresql` is accepted for `postgres`).
    pub fn kind(&self) -> Result<Backend, ConfigError> {
        match self.backend.as_str() {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            other => Err(invalid(
                "database.backend",
                format!("unknown backend {other:?}; use sqlite or postgres"),
            )),
        }
    }

    /// Points the config at `db`: a `postgres://`/`postgresql://` URL selects PostgreSQL,
    /// anything else is a SQLite file (the command line's `--db`).
    pub fn set_target(&mut self, db: &Path) {
        match db.to_str().filter(|s| is_postgres_url(s)) {
            Some(url) => {
                self.backend = "postgres".into();
                self.url = Some(url.to_owned());
            }
            None => {
                self.backend = "sqlite".into();
                self.path = db.to_path_buf();
            }
        }
    }

    /// What the ledger is, for logs: the SQLite file or the PostgreSQL URL (which never
    /// holds a password, see [`Config::check`]).
    pub fn target(&self) -> String {
        match self.kind() {
            Ok(Backend::Postgres) => self.url.clone().unwrap_or_default(),
            _ => self.path.display().to_string(),
        }
    }

    /// The PostgreSQL connection config: `url` parsed, and the password read through
    /// `secret` from the variable `password_env` names.
    pub fn postgres(
        &self,
        secret: &dyn Fn(&str) -> Option<String>,
    ) -> Result<tokio_postgres::Config, ConfigError> {
        let url = self
            .url
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| invalid("database.url", "is required for the postgres backend"))?;
        let mut pg: tokio_postgres::Config = url.parse().map_err(|e| {
            invalid(
                "database.url",
                format!("not a PostgreSQL URL (postgresql://user@host:port/dbname): {e}"),
            )
        })?;
        if pg.get_password().is_some() {
            return Err(invalid(
                "database.url",
                "holds a password; put it in an environment variable and name that variable in database.password_env",
            ));
        }
        if pg.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(invalid(
                "database.url",
                "sslmode=require: this build connects without TLS (use a Unix socket or a trusted network)",
            ));
        }
        if pg.get_dbname().is_none() {
            return Err(invalid("database.url", "names no database (…/dbname)"));
        }
        if let Some(var) = &self.password_env {
            let password = secret(var).ok_or_else(|| {
                invalid(
                    "database.password_env",
                    format!("environment variable {var} is not set"),
                )
            })?;
            pg.password(password);
        }
        Ok(pg)
    }
}

fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `[keystore]`, chosen by `backend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeyStoreConfig {
    /// The PUBLIC TEST KEYS compiled into this binary: tests and development only, refused
    /// unless the service listens on loopback.
    MemorySample,
    /// A sealed key file (hsm-core `SealedSoftStore`).
    Sealed {
        /// The sealed file.
        path: PathBuf,
        /// Name of the environment variable holding the passphrase.
        passphrase_env: String,
    },
    /// A PKCS#11 token (hsm-core `Pkcs11Store`).
    Pkcs11 {
        /// The PKCS#11 module (shared library).
        module: PathBuf,
        /// Token label.
        token_label: String,
        /// Name of the environment variable holding the user PIN.
        pin_env: String,
        /// Sessions to keep open (default 4).
        #[serde(default)]
        sessions: Option<usize>,
    },
}

/// `[auth]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Sustained requests per second per API key (a key may carry its own).
    pub rate_per_sec: f64,
    /// Burst per key.
    pub burst: f64,
    /// Seconds a looked-up key is cached (the delay before a revocation bites).
    pub cache_ttl_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            rate_per_sec: 100.0,
            burst: 200.0,
            cache_ttl_secs: 30,
        }
    }
}

/// `[webhook]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Receiver URL.
    pub url: String,
    /// Name of the environment variable holding the HMAC secret.
    pub secret_env: String,
    /// Attempts before giving up.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// First retry delay, ms.
    #[serde(default = "default_initial_backoff")]
    pub initial_backoff_ms: u64,
    /// Longest retry delay, ms.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    /// Per-attempt timeout, ms.
    #[serde(default = "default_hook_timeout")]
    pub timeout_ms: u64,
    /// Outbox poll interval when idle, ms.
    #[serde(default = "default_poll")]
    pub poll_interval_ms: u64,
    /// Send full token digits in `token.issued` (default: last 4 only).
    #[serde(default)]
    pub include_digits: bool,
}

const fn default_attempts() -> u32 {
    12
}
const fn default_initial_backoff() -> u64 {
    2_000
}
const fn default_max_backoff() -> u64 {
    3_600_000
}
const fn default_hook_timeout() -> u64 {
    5_000
}
const fn default_poll() -> u64 {
    1_000
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// `tracing` filter, e.g. `info` or `vend_api=debug,info`.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: "text".into(),
            filter: "info".into(),
        }
    }
}

/// Why the configuration was refused.
#[derive(Debug)]
pub enum ConfigError {
    /// The file or an environment variable could not be read or typed.
    Load(Box<figment::Error>),
    /// A value that is well-typed but unusable.
    Invalid {
        /// The key, e.g. `server.listen`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Load(e) => write!(f, "config: {e}"),
            Self::Invalid { key, message } => write!(f, "config {key}: {message}"),
        }
    }
}

impl std::error::Error for ConfigError {}

fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        message: message.into(),
    }
}

impl Config {
    /// Defaults, then `file` (if given), then `VEND_*__*` variables; then [`Config::check`].
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(invalid(
                    "--config",
                    format!("{} does not exist", path.display()),
                ));
            }
            fig = fig.merge(Toml::file(path));
        }
        // Only `SECTION__KEY` names: other VEND_* variables (secrets named by *_env keys,
        // the load generator's) are not config keys.
        fig = fig.merge(
            Env::prefixed("VEND_")
                .filter(|k| k.as_str().contains("__"))
                .split("__"),
        );
        let cfg: Config = fig.extract().map_err(|e| ConfigError::Load(Box::new(e)))?;
        cfg.check()?;
        Ok(cfg)
    }

    /// The listen address.
    pub fn listen(&self) -> Result<SocketAddr, ConfigError> {
        self.server.listen.parse().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "{:?} is not an address such as 127.0.0.1:8080",
                    self.server.listen
                ),
            )
        })
    }

    /// Checks every value that types alone cannot.
    pub fn check(&self) -> Result<(), ConfigError> {
        let addr = self.listen()?;
        if let Some(tls) = &self.server.tls {
            for (key, p) in [
                ("server.tls.cert_path", &tls.cert_path),
                ("server.tls.key_path", &tls.key_path),
            ] {
                if !p.is_file() {
                    return Err(invalid(
                        key,
                        format!("{} is not a readable file", p.display()),
                    ));
                }
            }
        }
        if self.server.request_timeout_ms == 0 {
            return Err(invalid("server.request_timeout_ms", "must be above 0"));
        }
        if self.server.body_limit_bytes < 1024 {
            return Err(invalid("server.body_limit_bytes", "must be at least 1024"));
        }
        match self.database.kind()? {
            Backend::Sqlite => {
                if let Some(parent) = self
                    .database
                    .path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                {
                    if !parent.is_dir() {
                        return Err(invalid(
                            "database.path",
                            format!("directory {} does not exist", parent.display()),
                        ));
                    }
                }
                if self.database.read_connections == 0 {
                    return Err(invalid("database.read_connections", "must be above 0"));
                }
            }
            Backend::Postgres => {
                self.database.postgres(&env_secret)?;
                if self.database.pool_size == 0
                    || self.database.writers == 0
                    || self.database.lock_timeout_ms == 0
                {
                    return Err(invalid(
                        "database",
                        "pool_size, writers and lock_timeout_ms must be above 0",
                    ));
                }
            }
        }
        if self.database.batch_max == 0 || self.database.queue == 0 {
            return Err(invalid("database", "batch_max and queue must be above 0"));
        }
        if let KeyStoreConfig::MemorySample = self.keystore {
            if !addr.ip().is_loopback() {
                return Err(invalid(
                    "keystore.backend",
                    format!(
                        "memory-sample holds PUBLIC TEST KEYS and is refused on a non-loopback address ({addr})"
                    ),
                ));
            }
        }
        let (rate, burst) = (self.auth.rate_per_sec, self.auth.burst);
        if rate.is_nan() || rate <= 0.0 || burst.is_nan() || burst < 1.0 {
            return Err(invalid(
                "auth",
                "rate_per_sec must be above 0 and burst at least 1",
            ));
        }
        if let Some(w) = &self.webhook {
            let url = reqwest::Url::parse(&w.url)
                .map_err(|e| invalid("webhook.url", format!("{:?}: {e}", w.url)))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(invalid("webhook.url", "must be http or https"));
            }
            if std::env::var(&w.secret_env).map_or(true, |s| s.is_empty()) {
                return Err(invalid(
                    "webhook.secret_env",
                    format!("environment variable {} is not set", w.secret_env),
                ));
            }
            if w.max_attempts == 0
                || w.initial_backoff_ms == 0
                || w.timeout_ms == 0
                || w.poll_interval_ms == 0
            {
                return Err(invalid(
                    "webhook",
                    "max_attempts, initial_backoff_ms, timeout_ms and poll_interval_ms must be above 0",
                ));
            }
        }
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(invalid("log.format", "must be text or json"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_loopback() {
        let c = Config::default();
        c.check().unwrap();
        assert!(c.listen().unwrap().ip().is_loopback());
    }

    #[test]
    fn clear_errors() {
        let mut c = Config::default();
        c.server.listen = "0.0.0.0:8080".into();
        assert_eq!(
            c.check().unwrap_err().to_string(),
            "config keystore.backend: memory-sample holds PUBLIC TEST KEYS and is refused on a non-loopback address (0.0.0.0:8080)"
        );
        let mut c = Config::default();
        c.database.backend = "postgres".into();
        assert_eq!(
            c.check().unwrap_err().to_string(),
            "config database.url: is required for the postgres backend"
        );
        c.database.url = Some("postgresql://vend:hunter2@db.example/vend".into());
        let e = c.check().unwrap_err().to_string();
        assert!(
            e.starts_with("config database.url: holds a password") && !e.contains("hunter2"),
            "{e}"
        );
        c.database.url = Some("postgresql://vend@db.example/vend".into());
        c.check().unwrap();
        c.database.password_env = Some("VEND_TEST_UNSET_PG_PASSWORD".into());
        assert_eq!(
            c.check().unwrap_err().to_string(),
            "config database.password_env: environment variable VEND_TEST_UNSET_PG_PASSWORD is not set"
        );
        let pg = c
            .database
            .postgres(&|name| (name == "VEND_TEST_UNSET_PG_PASSWORD").then(|| "pw".into()))
            .unwrap();
        assert_eq!(pg.get_password(), Some(&b"pw"[..]));
        c.database.password_env = None;
        c.database.writers = 0;
        assert!(c.check().unwrap_err().to_string().contains("writers"));
        c.database.backend = "mysql".into();
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .contains("use sqlite or postgres")
        );
        let mut d = DatabaseConfig::default();
        d.set_target(Path::new("postgres://u@127.0.0.1:5/x"));
        assert_eq!(
            (d.kind().unwrap(), d.target()),
            (Backend::Postgres, "postgres://u@127.0.0.1:5/x".to_owned())
        );
        d.set_target(Path::new("l.sqlite3"));
        assert_eq!(
            (d.kind().unwrap(), d.target()),
            (Backend::Sqlite, "l.sqlite3".to_owned())
        );
        let mut c = Config::default();
        c.server.listen = "localhost".into();
        assert!(
            c.check()
                .unwrap_err()
                .to_string()
                .starts_with("config server.listen:")
        );
    }

    #[test]
    fn file_and_typing_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[server]\nlisten = \"127.0.0.1:9999\"\n[keystore]\nbackend = \"sealed\"\npath = \"k\"\npassphrase_env = \"P\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999");
        assert!(matches!(c.keystore, KeyStoreConfig::Sealed { .. }));
        std::fs::write(&p, "[server]\nlisten = 5\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("server.listen"), "{e}");
        std::fs::write(&p, "[server]\nlisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
    }
}
