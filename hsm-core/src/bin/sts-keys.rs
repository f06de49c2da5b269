//! `sts-keys`: key ceremonies and key store administration.
//!
//! ```text
//! sts-keys --store sealed:PATH                 init | list | kcv [ID] | remove ID
//! sts-keys --store pkcs11:MODULE:TOKEN_LABEL   ceremony import --record R --component FILE...
//!                                              ceremony generate --record R --custodians N
//!                                                  [--threshold M] [--scheme xor|shamir]
//!                                                  [--name NAME...] --out DIR
//! sts-keys kcv --component FILE...             check component files without a store
//! ```
//!
//! The sealed store's passphrase comes from the environment variable named by
//! `--passphrase-env` (default `STS_KEYSTORE_PASSPHRASE`), the PKCS#11 user PIN from
//! `--pin-env` (default `STS_PKCS11_PIN`): never from the command line, which other users can
//! read. `pkcs11::LABEL` (empty module) uses `STS_PKCS11_MODULE` or SoftHSM2's default path.
//! A record (`--record`) is a JSON file or inline JSON (see `VendingKeyRecord::from_json`).
//! Every ceremony and removal appends a line to the audit log (`--audit`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use hsm_core::ceremony::{self, AuditLog};
use hsm_core::store::{PASSPHRASE_ENV, PIN_ENV};
use hsm_core::{
    Component, CustodianName, HsmError, KeyStore, Scheme, StoreLocation, VendingKeyId,
    VendingKeyRecord,
};

#[derive(Parser)]
#[command(
    name = "sts-keys",
    version,
    about = "STS vending key ceremonies and key store admin"
)]
struct Cli {
    /// The key store: `sealed:PATH` or `pkcs11:MODULE:TOKEN_LABEL`.
    #[arg(long, global = true)]
    store: Option<String>,
    /// Environment variable holding the sealed store's passphrase.
    #[arg(long, global = true, default_value = PASSPHRASE_ENV)]
    passphrase_env: String,
    /// Environment variable holding the PKCS#11 user PIN.
    #[arg(long, global = true, default_value = PIN_ENV)]
    pin_env: String,
    /// Audit log (JSON Lines). Default: `PATH.audit.jsonl` beside a sealed store, else
    /// `sts-keys-audit.jsonl`.
    #[arg(long, global = true)]
    audit: Option<PathBuf>,
    /// Who runs the ceremony, for the audit log. Default: `$USER`.
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the store (sealed file) or its key-encryption key (PKCS#11 token).
    Init,
    /// List vending key records.
    List,
    /// Key ceremonies.
    #[command(subcommand)]
    Ceremony(CeremonyCommand),
    /// Remove a vending key (audited).
    Remove {
        /// The key id, e.g. `sgc123456-krn1-kt2`.
        id: String,
    },
    /// Print stored keys' check values, or check component files.
    Kcv {
        /// One key id; all keys if absent.
        id: Option<String>,
        /// Component files to check instead (no store needed).
        #[arg(long = "component")]
        components: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CeremonyCommand {
    /// Import a key from custodians' component files.
    Import {
        /// The record: a JSON file, or inline JSON.
        #[arg(long)]
        record: String,
        /// Component files, one per custodian present.
        #[arg(long = "component", required = true)]
        components: Vec<PathBuf>,
    },
    /// Generate a key, write one component file per custodian, then store the key.
    Generate {
        /// The record: a JSON file, or inline JSON.
        #[arg(long)]
        record: String,
        /// Number of custodians N.
        #[arg(long)]
        custodians: usize,
        /// Components needed to rebuild the key, M (default N).
        #[arg(long)]
        threshold: Option<u8>,
        /// Split scheme (default: xor when M = N, else shamir).
        #[arg(long)]
        scheme: Option<SchemeArg>,
        /// Custodian names, in index order (default custodian-1 … custodian-N).
        #[arg(long = "name")]
        names: Vec<String>,
        /// Directory for the component files (created 0700 if absent).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemeArg {
    Xor,
    Shamir,
}

/// A failure of the tool: a library error, or a usage fault found after parsing.
enum Failure {
    Hsm(HsmError),
    Usage(String),
}

impl From<HsmError> for Failure {
    fn from(e: HsmError) -> Self {
        Failure::Hsm(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Hsm(e)) => {
            eprintln!("sts-keys: {e}");
            if e.is_transient() {
                eprintln!("sts-keys: the fault looks transient: retry when the token is back");
            }
            ExitCode::FAILURE
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("sts-keys: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    if let Command::Kcv {
        id: None,
        components,
    } = &cli.command
    {
        if !components.is_empty() {
            return check_components(components);
        }
    }
    let location: StoreLocation = cli
        .store
        .as_deref()
        .ok_or_else(|| Failure::Usage("--store is required for this command".to_owned()))?
        .parse()?;
    if let Command::Init = cli.command {
        location.create(&cli.passphrase_env, &cli.pin_env)?;
        println!("initialized {location}");
        return Ok(());
    }
    let store = location.open(&cli.passphrase_env, &cli.pin_env)?;
    let audit = audit_log(cli, &location);
    match &cli.command {
        Command::Init => Ok(()),
        Command::List => {
            for r in store.records()? {
                println!("{r}");
            }
            Ok(())
        }
        Command::Kcv { id, .. } => {
            let ids: Vec<VendingKeyId> = match id {
                Some(text) => vec![text.parse()?],
                None => store.records()?.into_iter().map(|r| r.id).collect(),
            };
            for id in ids {
                println!("{id} {}", store.kcv(&id)?);
            }
            Ok(())
        }
        Command::Remove { id } => {
            let id: VendingKeyId = id.parse()?;
            ceremony::remove(store.as_ref(), &id, &audit)?;
            println!("removed {id}");
            Ok(())
        }
        Command::Ceremony(CeremonyCommand::Import { record, components }) => {
            let record = read_record(record)?;
            let mut parts = Vec::with_capacity(components.len());
            for path in components {
                warn_if_readable_by_others(path);
                parts.push(Component::read(path)?);
            }
            let kcv = ceremony::import(store.as_ref(), &record, &parts, &audit)?;
            println!(
                "imported {} (kcv {kcv}); audit: {}",
                record.id,
                audit.path().display()
            );
            Ok(())
        }
        Command::Ceremony(CeremonyCommand::Generate {
            record,
            custodians,
            threshold,
            scheme,
            names,
            out,
        }) => generate(
            store.as_ref(),
            &audit,
            record,
            *custodians,
            *threshold,
            *scheme,
            names,
            out,
        ),
    }
}

fn audit_log(cli: &Cli, location: &StoreLocation) -> AuditLog {
    let path = cli.audit.clone().unwrap_or_else(|| match location {
        StoreLocation::Sealed(p) => {
            let mut name = p.as_os_str().to_owned();
            name.push(".audit.jsonl");
            PathBuf::from(name)
        }
        StoreLocation::Pkcs11 { .. } => PathBuf::from("sts-keys-audit.jsonl"),
    });
    let operator = cli
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    AuditLog::new(path, &operator, &location.to_string())
}

fn read_record(arg: &str) -> Result<VendingKeyRecord, Failure> {
    if arg.trim_start().starts_with('{') {
        return Ok(VendingKeyRecord::from_json(arg)?);
    }
    let text = std::fs::read_to_string(arg)
        .map_err(|e| Failure::Usage(format!("cannot read record file {arg}: {e}")))?;
    Ok(VendingKeyRecord::from_json(&text)?)
}

#[allow(clippy::too_many_arguments)] // One per command-line option of `ceremony generate`.
fn generate(
    store: &dyn KeyStore,
    audit: &AuditLog,
    record: &str,
    custodians: usize,
    threshold: Option<u8>,
    scheme: Option<SchemeArg>,
    names: &[String],
    out: &Path,
) -> Result<(), Failure> {
    let record = read_record(record)?;
    let names: Vec<CustodianName> = if names.is_empty() {
        (1..=custodians)
            .map(|i| format!("custodian-{i}").parse())
            .collect::<Result<_, _>>()?
    } else if names.len() == custodians {
        names.iter().map(|n| n.parse()).collect::<Result<_, _>>()?
    } else {
        return Err(Failure::Usage(format!(
            "{} --name given for {custodians} custodians",
            names.len()
        )));
    };
    let m = threshold.map_or(custodians, usize::from);
    let scheme = match scheme {
        Some(SchemeArg::Xor) => Scheme::Xor,
        None if m == custodians => Scheme::Xor,
        _ => Scheme::Shamir {
            threshold: threshold.unwrap_or(u8::MAX),
        },
    };
    if matches!(scheme, Scheme::Xor) && m != custodians {
        return Err(Failure::Usage(
            "xor needs every custodian: drop --threshold".to_owned(),
        ));
    }
    make_private_dir(out)?;
    let mut written: Vec<PathBuf> = Vec::new();
    let result = ceremony::generate(store, &record, &names, scheme, audit, &mut |c| {
        let path = out.join(format!(
            "{}.{}-of-{}.{}.json",
            c.key_id(),
            c.index(),
            c.custodians(),
            c.custodian()
        ));
        c.write_new(&path)?;
        written.push(path);
        Ok(())
    });
    match result {
        Ok(kcv) => {
            println!(
                "generated {} (kcv {kcv}); audit: {}",
                record.id,
                audit.path().display()
            );
            for path in &written {
                println!("  component: {}", path.display());
            }
            Ok(())
        }
        Err(e) => {
            // The key was not stored: its components must not survive it.
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            Err(e.into())
        }
    }
}

fn make_private_dir(dir: &Path) -> Result<(), Failure> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", dir.display())))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                eprintln!(
                    "sts-keys: warning: component file {} is readable by other users",
                    path.display()
                );
            }
        }
    }
}

fn check_components(paths: &[PathBuf]) -> Result<(), Failure> {
    let mut bad = 0usize;
    for path in paths {
        warn_if_readable_by_others(path);
        let c = Component::read(path)?;
        let verdict = match c.verify_kcv() {
            Ok(()) => "ok".to_owned(),
            Err(e) => {
                bad += 1;
                e.to_string()
            }
        };
        println!(
            "{}: {} component {} of {} ({}), kcv {}, key kcv {}: {verdict}",
            path.display(),
            c.key_id(),
            c.index(),
            c.custodians(),
            c.custodian(),
            c.kcv(),
            c.key_kcv()
        );
    }
    if bad == 0 {
        Ok(())
    } else {
        Err(Failure::Usage(format!(
            "{bad} component(s) fail their key check"
        )))
    }
}
