//! `sts`: an operator/auditor CLI printing JSON.
//!
//! - `sts decode --ea 07 --key HEX DIGITS…` decodes a token;
//! - `sts derive --dkga 02 --vending-key HEX --pan … --sgc … --ti … --krn … --kt …
//!   [--base-date …] [--ea …]` derives a decoder key.
//!
//! For TEST keys: `derive` prints secret key material (and says so on stderr). Errors are printed
//! as `{"error": {"category": …, "message": …}}` with a non-zero exit status.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use keys_sample::cli::{self, CliError, DeriveRequest};
use serde::Serialize;
use zeroize::Zeroizing;

/// STS token and key tool for auditors (test keys only).
#[derive(Parser)]
#[command(name = "sts", version)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a token with a decoder key and print its class, fields and plain block.
    Decode {
        /// Encryption algorithm: 07 (STA), 09 (DEA) or 11 (MISTY1).
        #[arg(long)]
        ea: String,
        /// Decoder key, hex (16 digits, or 32 for EA 11).
        #[arg(long)]
        key: String,
        /// The 20 digits; spaces or dashes between groups are allowed.
        #[arg(required = true, num_args = 1..)]
        digits: Vec<String>,
    },
    /// Derive a decoder key (prints SECRET key material: test keys only).
    Derive {
        /// Key derivation algorithm: 02 or 04.
        #[arg(long)]
        dkga: String,
        /// Vending key, hex (16 digits for DKGA02, 40 for DKGA04).
        #[arg(long)]
        vending_key: String,
        /// 18-digit meter PAN.
        #[arg(long)]
        pan: String,
        /// Supply group code, 6 digits.
        #[arg(long)]
        sgc: String,
        /// Tariff index, 2 digits.
        #[arg(long)]
        ti: String,
        /// Key revision number, 1-9.
        #[arg(long)]
        krn: String,
        /// Key type, 0-3.
        #[arg(long)]
        kt: String,
        /// Base date: 1993, 2014 or 2035 (required for DKGA04).
        #[arg(long)]
        base_date: Option<String>,
        /// Encryption algorithm the key is for.
        #[arg(long, default_value = "07")]
        ea: String,
    },
}

fn print(value: &impl Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Argument {
        option: "output",
        reason: e.to_string(),
    })?;
    println!("{text}");
    Ok(())
}

fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Decode { ea, key, digits } => {
            let key = Zeroizing::new(key);
            print(&cli::decode(&ea, key.as_str(), &digits.concat())?)
        }
        Command::Derive {
            dkga,
            vending_key,
            pan,
            sgc,
            ti,
            krn,
            kt,
            base_date,
            ea,
        } => {
            let vending_key = Zeroizing::new(vending_key);
            let derived = cli::derive(&DeriveRequest {
                dkga: &dkga,
                vending_key: vending_key.as_str(),
                pan: &pan,
                sgc: &sgc,
                ti: &ti,
                krn: &krn,
                kt: &kt,
                base_date: base_date.as_deref(),
                ea: &ea,
            })?;
            eprintln!("warning: the output is a SECRET decoder key; use test vending keys only");
            print(&derived)
        }
    }
}

fn main() -> ExitCode {
    match run(Args::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            println!("{}", e.to_json());
            ExitCode::from(e.exit_code())
        }
    }
}
