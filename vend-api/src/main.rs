//! `vend-api`: serve the STS vending API, migrate its ledger, manage API keys, verify the
//! audit chain. See `vend-api --help` and the crate README.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    vend_api::cli::run(vend_api::cli::Cli::parse())
}
