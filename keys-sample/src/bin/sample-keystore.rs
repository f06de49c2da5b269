//! Builds the sealed development key store with the public sample keys (TEST ONLY), each
//! imported by an audited XOR 2-of-2 ceremony. Used by `scripts/serve`.
//!
//! Usage: `sample-keystore --store PATH --audit PATH`; the passphrase comes from the
//! environment variable `STS_KEYSTORE_PASSPHRASE` (never from the command line).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use hsm_core::Passphrase;
use keys_sample::sample_store::build_sample_store;

/// Builds or tops up the sealed sample key store.
#[derive(Parser)]
#[command(
    name = "sample-keystore",
    about = "Sealed development key store with the public sample keys (TEST ONLY)"
)]
struct Args {
    /// The sealed store file (created if absent).
    #[arg(long)]
    store: PathBuf,
    /// The ceremony audit log (JSON Lines, appended).
    #[arg(long)]
    audit: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let passphrase = match Passphrase::from_env("STS_KEYSTORE_PASSPHRASE") {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sample-keystore: {e}");
            return ExitCode::FAILURE;
        }
    };
    match build_sample_store(&args.store, &passphrase, &args.audit) {
        Ok((_, outcomes)) => {
            for o in outcomes {
                let what = if o.imported { "imported" } else { "present" };
                println!("{} kcv {} {what}", o.id, o.kcv);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sample-keystore: {e}");
            ExitCode::FAILURE
        }
    }
}
