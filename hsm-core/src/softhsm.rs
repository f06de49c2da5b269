//! Throwaway SoftHSM2 tokens for tests, benchmarks and demonstrations: never for keys that
//! matter (the PINs pass through `softhsm2-util`'s command line).
//!
//! SoftHSM reads its configuration file from `SOFTHSM2_CONF` once, at `C_Initialize`, and a
//! process does not see tokens created after that. Setting an environment variable in a
//! running process is `unsafe` (and this workspace forbids `unsafe`), so a test or benchmark
//! creates the token, then runs itself again as a child with `SOFTHSM2_CONF` set
//! ([`rerun_with_conf`]); the child does the PKCS#11 work and the parent deletes the token
//! directory when the child is done.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable SoftHSM2 reads its configuration file name from.
pub const CONF_ENV: &str = "SOFTHSM2_CONF";

/// A token directory and configuration in a fresh temporary directory, removed on drop.
#[derive(Debug)]
pub struct SoftHsmToken {
    dir: PathBuf,
    conf: PathBuf,
    label: String,
}

impl SoftHsmToken {
    /// Creates a temporary token directory and configuration, then initializes a token
    /// labelled `label` in the first free slot with `softhsm2-util --init-token --free`.
    pub fn create(label: &str, so_pin: &str, user_pin: &str) -> io::Result<Self> {
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|_| io::Error::other("OS random generator failed"))?;
        let name: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir().join(format!("sts-softhsm-{name}"));
        fs::create_dir(&dir)?;
        let token = Self {
            conf: dir.join("softhsm2.conf"),
            dir,
            label: label.to_owned(),
        };
        let tokens = token.dir.join("tokens");
        fs::create_dir(&tokens)?;
        fs::write(
            &token.conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )?;
        token.init_token(label, so_pin, user_pin)?;
        Ok(token)
    }

    /// Initializes one more token in the same directory (for tests that need two).
    pub fn init_token(&self, label: &str, so_pin: &str, user_pin: &str) -> io::Result<()> {
        let out = Command::new("softhsm2-util")
            .env(CONF_ENV, &self.conf)
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", so_pin, "--pin", user_pin])
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run softhsm2-util: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "softhsm2-util --init-token failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The configuration file to put in `SOFTHSM2_CONF`.
    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The first token's label.
    pub fn label(&self) -> &str {
        &self.label
    }
}

impl Drop for SoftHsmToken {
    fn drop(&mut self) {
        // Best effort: a leftover temporary directory holds only test keys.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A command that runs the current executable again with `args`, `SOFTHSM2_CONF` set to
/// `token`'s configuration, and `env` added. The caller runs it (`status()` to share the
/// terminal, `output()` to capture).
pub fn rerun_with_conf(
    token: &SoftHsmToken,
    args: &[OsString],
    env: &[(&str, &str)],
) -> io::Result<Command> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.args(args).env(CONF_ENV, token.conf_path());
    for (k, v) in env {
        command.env(k, v);
    }
    Ok(command)
}
