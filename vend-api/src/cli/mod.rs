//! The command line: `serve`, `migrate`, `apikey create|list|revoke`, `audit verify`.

mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::apikey::{self, Scopes};
use crate::app;
use crate::audit::to_hex;
use crate::config::{Backend, Config};
use crate::ledger::sqlite::{migrate_file, verify_file};
use crate::ledger::{Actor, Ledger, NewApiKey, postgres};

/// STS vending service.
#[derive(Debug, Parser)]
#[command(name = "vend-api", version, about)]
pub struct Cli {
    /// TOML config file (then VEND_<SECTION>__<KEY> variables override it).
    #[arg(long, global = true, env = "VEND_CONFIG")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve {
        /// Development mode: loopback, SQLite `vend-dev.sqlite3`, the PUBLIC sample keys; creates
        /// an all-scope API key and a sample meter and prints a curl that vends a token.
        #[arg(long)]
        dev: bool,
    },
    /// Apply pending ledger migrations.
    Migrate {
        /// SQLite file or postgres:// URL (default: the config's database).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// API keys.
    Apikey {
        /// What to do.
        #[command(subcommand)]
        action: ApikeyAction,
    },
    /// The audit log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditAction,
    },
}

/// `apikey` subcommands.
#[derive(Debug, Subcommand)]
pub enum ApikeyAction {
    /// Create a key and print it once.
    Create {
        /// Unique name (the audit actor).
        #[arg(long)]
        name: String,
        /// Comma-separated scopes: vend, manage, key_change, meters, audit.
        #[arg(long)]
        scopes: String,
        /// Requests per second for this key (default: the config's).
        #[arg(long)]
        rate: Option<f64>,
        /// SQLite file or postgres:// URL (default: the config's database).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// List keys (never their secrets).
    List {
        /// SQLite file or postgres:// URL (default: the config's database).
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Revoke a key by name.
    Revoke {
        /// The key's name.
        #[arg(long)]
        name: String,
        /// SQLite file or postgres:// URL (default: the config's database).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

/// `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Verify the hash chain; exits non-zero naming the first bad entry.
    Verify {
        /// SQLite file or postgres:// URL (default: the config's database).
        #[arg(long)]
        db: Option<PathBuf>,
    },
}

pub(crate) fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("vend-api: {msg}");
    ExitCode::FAILURE
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

pub(crate) fn now() -> i64 {
    crate::clock::Clock::now(&crate::clock::SystemClock)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Audit {
            action: AuditAction::Verify { db },
        } => audit_verify(cli.config.as_deref(), db),
        Command::Serve { dev } => serve::serve(cli.config, dev),
        Command::Migrate { db } => match load(cli.config.as_deref(), db) {
            Ok(cfg) => match migrate(&cfg) {
                Ok(v) if v.is_empty() => {
                    println!("{}: schema up to date", cfg.database.target());
                    ExitCode::SUCCESS
                }
                Ok(v) => {
                    println!("{}: applied migrations {v:?}", cfg.database.target());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            },
            Err(e) => fail(e),
        },
        Command::Apikey { action } => apikey_cmd(cli.config, action),
    }
}

fn load(
    file: Option<&std::path::Path>,
    db: Option<PathBuf>,
) -> Result<Config, crate::config::ConfigError> {
    let mut cfg = Config::load(file)?;
    if let Some(db) = db {
        cfg.database.set_target(&db);
    }
    Ok(cfg)
}

/// Reads a secret named by the config from the environment.
fn env_secret(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn postgres_options(cfg: &Config) -> Result<postgres::PgOptions, String> {
    app::postgres_options(cfg, &env_secret).map_err(|e| e.to_string())
}

/// `vend-api migrate` on either backend.
fn migrate(cfg: &Config) -> Result<Vec<u32>, String> {
    match cfg.database.kind().map_err(|e| e.to_string())? {
        Backend::Sqlite => migrate_file(&cfg.database.path).map_err(|e| e.to_string()),
        Backend::Postgres => {
            let opts = postgres_options(cfg)?;
            let rt = runtime().map_err(|e| e.to_string())?;
            rt.block_on(postgres::migrate_database(&opts))
                .map_err(|e| e.to_string())
        }
    }
}

fn audit_verify(config: Option<&std::path::Path>, db: Option<PathBuf>) -> ExitCode {
    let result = match db {
        // A SQLite file needs no config (the command works beside a broken one).
        Some(path) if path.to_str().is_none_or(|s| !s.starts_with("postgres")) => {
            verify_file(&path).map_err(|e| e.to_string())
        }
        db => load(config, db).map_err(|e| e.to_string()).and_then(|cfg| {
            match cfg.database.kind().map_err(|e| e.to_string())? {
                Backend::Sqlite => verify_file(&cfg.database.path).map_err(|e| e.to_string()),
                Backend::Postgres => {
                    let opts = postgres_options(&cfg)?;
                    let rt = runtime().map_err(|e| e.to_string())?;
                    rt.block_on(postgres::verify_database(&opts))
                        .map_err(|e| e.to_string())
                }
            }
        }),
    };
    match result {
        Ok(Ok(head)) => {
            println!(
                "audit chain ok: {} entries, head {}",
                head.seq,
                to_hex(&head.hash)
            );
            ExitCode::SUCCESS
        }
        Ok(Err(brk)) => {
            eprintln!("audit chain BROKEN: {brk}");
            ExitCode::from(2)
        }
        Err(e) => fail(e),
    }
}

/// Opens the config's ledger; inside the command's runtime (PostgreSQL needs one).
fn open_ledger(cfg: &Config) -> Result<std::sync::Arc<dyn Ledger>, app::StartError> {
    app::open_ledger(cfg, &env_secret, None)
}

fn apikey_cmd(config: Option<PathBuf>, action: ApikeyAction) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(async move {
        match action {
            ApikeyAction::Create {
                name,
                scopes,
                rate,
                db,
            } => {
                let scopes = match Scopes::parse_list(&scopes) {
                    Ok(s) if s != Scopes::default() => s,
                    Ok(_) => return fail("--scopes needs at least one scope"),
                    Err(e) => return fail(e),
                };
                if rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
                    return fail("--rate must be above 0");
                }
                let ledger = match load(config.as_deref(), db)
                    .map_err(|e| e.to_string())
                    .and_then(|c| open_ledger(&c).map_err(|e| e.to_string()))
                {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                match create_key(ledger.as_ref(), &name, scopes, rate).await {
                    Ok(text) => {
                        println!("{}", text.as_str());
                        eprintln!(
                            "api key {name:?} created with scopes {}; it is shown only once",
                            scopes.names().join(",")
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                }
            }
            ApikeyAction::List { db } => {
                let ledger = match load(config.as_deref(), db)
                    .map_err(|e| e.to_string())
                    .and_then(|c| open_ledger(&c).map_err(|e| e.to_string()))
                {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                match ledger.api_keys().await {
                    Ok(keys) => {
                        for k in keys {
                            let state = if k.revoked_at.is_some() {
                                "revoked"
                            } else {
                                "active"
                            };
                            println!(
                                "{}\t{}\tvk_{}_…\t{}\t{state}",
                                k.id,
                                k.name,
                                k.public_id,
                                k.scopes.join(",")
                            );
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e),
                }
            }
            ApikeyAction::Revoke { name, db } => {
                let ledger = match load(config.as_deref(), db)
                    .map_err(|e| e.to_string())
                    .and_then(|c| open_ledger(&c).map_err(|e| e.to_string()))
                {
                    Ok(l) => l,
                    Err(e) => return fail(e),
                };
                match ledger
                    .revoke_api_key(name.clone(), Actor::cli(), now())
                    .await
                {
                    Ok(true) => {
                        println!(
                            "revoked {name:?} (running services notice within the key cache TTL)"
                        );
                        ExitCode::SUCCESS
                    }
                    Ok(false) => fail(format!("no active api key named {name:?}")),
                    Err(e) => fail(e),
                }
            }
        }
    })
}

/// Creates a key in the ledger and returns its text (shown once).
pub async fn create_key(
    ledger: &dyn Ledger,
    name: &str,
    scopes: Scopes,
    rate: Option<f64>,
) -> Result<zeroize::Zeroizing<String>, crate::ledger::LedgerError> {
    let k = apikey::generate();
    ledger
        .create_api_key(
            NewApiKey {
                public_id: k.public_id.clone(),
                name: name.to_owned(),
                scopes: scopes.names(),
                secret_sha256: k.secret_sha256,
                rate_per_sec: rate,
            },
            Actor::cli(),
            now(),
        )
        .await?;
    Ok(k.text)
}
