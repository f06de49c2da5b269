//! `vend-api serve`: logging, the key store, the service, signals; and `--dev`, which
//! bootstraps an API key and the sample meter and prints a curl that vends a token.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::{create_key, fail, now, runtime};
use crate::apikey::Scopes;
use crate::app::{self, Deps};
use crate::config::{Config, KeyStoreConfig};
use crate::keystore;
use crate::ledger::{Actor, CustomerRef, Ledger, MeterKey, NewMeter};

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

fn init_logging(cfg: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cfg.log.filter));
    use std::io::IsTerminal;
    // Logs go to stderr: stdout carries only what a command prints for its user (a new API
    // key, the dev curl).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if cfg.log.format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

pub(super) fn serve(config: Option<PathBuf>, dev: bool) -> ExitCode {
    let mut cfg = match Config::load(config.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if dev {
        if config.is_none() && std::env::var_os("VEND_DATABASE__PATH").is_none() {
            cfg.database.path = "vend-dev.sqlite3".into();
        }
        // Dev mode bootstraps a demo API key and the sample meter, whose key (SGC 201457,
        // KRN 1, DKGA04, 2014) the store must hold: the built-in sample keys, or a sealed
        // store built from them (`scripts/serve` makes one through the import ceremony).
        if matches!(cfg.keystore, KeyStoreConfig::Pkcs11 { .. }) {
            return fail(
                "--dev runs on the sample keys (memory-sample or a sealed store of them), not PKCS#11",
            );
        }
        if let Err(e) = cfg.check() {
            return fail(e);
        }
    }
    init_logging(&cfg);
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return fail(e),
    };
    rt.block_on(async move {
        let store = match keystore::open(&cfg.keystore) {
            Ok(s) => s,
            Err(e) => return fail(e),
        };
        let app = match app::build(&cfg, Deps::new(store)) {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        let addr = match cfg.listen() {
            Ok(a) => a,
            Err(e) => return fail(e),
        };
        if dev {
            if let Err(e) = dev_bootstrap(&app, &cfg, addr).await {
                return fail(e);
            }
        }
        let scheme = if cfg.server.tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, db = %cfg.database.target(), "vend-api listening on {scheme}://{addr}");
        let result = match &cfg.server.tls {
            Some(tls) => app.serve_tls(addr, tls.cert_path.clone(), tls.key_path.clone(), shutdown_signal()).await,
            None => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => app.serve(l, shutdown_signal()).await,
                Err(e) => return fail(format!("cannot listen on {addr}: {e}")),
            },
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        }
    })
}

/// The sample meter of the dev loop: the published vectors' PAN under the 2014 POS key.
fn dev_meter() -> Result<NewMeter, String> {
    let e = |x: &dyn std::fmt::Display| x.to_string();
    Ok(NewMeter {
        pan: keystore::sample::SAMPLE_PAN.parse().map_err(|x| e(&x))?,
        customer_ref: "DEV-0001".parse::<CustomerRef>().map_err(|x| e(&x))?,
        key: MeterKey {
            sgc: "201457".parse().map_err(|x| e(&x))?,
            ti: "01".parse().map_err(|x| e(&x))?,
            krn: hsm_core::KeyRevision::new(1).map_err(|x| e(&x))?,
            kt: hsm_core::KeyType::Dutk,
            ea: hsm_core::EncryptionAlgorithm::Sta,
            dkga: hsm_core::Dkga::Dkga04,
            base_date: hsm_core::BaseDate::Y2014,
        },
    })
}

async fn dev_bootstrap(
    app: &app::App,
    cfg: &Config,
    addr: std::net::SocketAddr,
) -> Result<(), String> {
    let ledger: &Arc<dyn Ledger> = &app.ledger;
    let name = format!("dev-{}", now());
    let key = create_key(ledger.as_ref(), &name, Scopes::all(), Some(1000.0))
        .await
        .map_err(|e| e.to_string())?;
    let meter = dev_meter()?;
    let pan = meter.pan;
    if ledger
        .meter(pan)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        let caller = crate::service::Caller {
            actor: Actor::cli(),
            scopes: Scopes::all(),
        };
        app.state
            .service
            .register_meter(&caller, meter)
            .await
            .map_err(|e| e.body().message)?;
    }
    let scheme = if cfg.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    println!(
        "vend-api dev mode: PUBLIC SAMPLE KEYS, database {}",
        cfg.database.target()
    );
    println!("API key (all scopes, shown once): {}", key.as_str());
    println!("Vend 10 kWh to sample meter {pan}:\n");
    println!(
        "curl -sS -X POST {scheme}://{addr}/v1/meters/{pan}/tokens/credit \\\n  -H 'Authorization: Bearer {}' \\\n  -H 'Content-Type: application/json' \\\n  -H \"Idempotency-Key: $(date +%s%N)\" \\\n  -d '{{\"utility\":\"electricity\",\"unit\":\"kWh\",\"amount\":\"10\"}}'\n",
        key.as_str()
    );
    println!(
        "OpenAPI: curl -sS -H 'Authorization: Bearer {}' {scheme}://{addr}/openapi.json\n",
        key.as_str()
    );
    Ok(())
}
