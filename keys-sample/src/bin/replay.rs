//! `replay FILE...`: replays STS known-answer vector files (the contract in the brief's
//! VECTORS.md). Prints `FAIL <file>:<line> <id>: …` per failure, `ok …` per pass with
//! `--verbose`, and ends with `N passed, M failed`; exits 0 only if M = 0 and N > 0.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use keys_sample::{Options, Replayer};

/// Replays STS known-answer vector files (JSON Lines, format: VECTORS.md).
#[derive(Parser)]
#[command(name = "replay", version)]
struct Args {
    /// Also print a line per passing vector.
    #[arg(long, short)]
    verbose: bool,
    /// Vector files (`*.jsonl`).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let terminal = io::stdout().is_terminal();
    let options = Options {
        verbose: args.verbose,
        progress: terminal,
    };
    // On a terminal, stdout stays line-buffered so failures and progress interleave cleanly.
    let out: Box<dyn Write> = if terminal {
        Box::new(io::stdout().lock())
    } else {
        Box::new(BufWriter::new(io::stdout().lock()))
    };
    let mut replayer = Replayer::new(out, io::stderr().lock(), options);
    let result = args
        .files
        .iter()
        .try_for_each(|path| replayer.replay_path(path))
        .and_then(|()| replayer.finish());
    match result {
        Ok(summary) if summary.succeeded() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("replay: cannot write the report: {e}");
            ExitCode::FAILURE
        }
    }
}
