//! Server processes the harness starts and kills. Each instance runs as `sh -c 'exec CMD'`,
//! so the shell is replaced by the server and the PID the harness holds is the server's; it
//! is killed with SIGKILL through [`std::process::Child::kill`], by that PID only (never a
//! name pattern, which could hit other people's processes).

use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// One server instance.
#[derive(Debug)]
pub struct Instance {
    /// Its base URL, e.g. `http://127.0.0.1:18090`.
    pub url: String,
    cmd: String,
    log: PathBuf,
    child: Option<Child>,
    starts: u32,
}

impl Instance {
    /// An instance started by the shell command `cmd` (which must `exec` the server or be the
    /// server itself), logging to `log`.
    pub fn new(url: String, cmd: String, log: &Path) -> Self {
        Self {
            url,
            cmd,
            log: log.to_path_buf(),
            child: None,
            starts: 0,
        }
    }

    /// Starts it; the PID.
    pub fn start(&mut self) -> io::Result<u32> {
        if let Some(pid) = self.running_pid() {
            return Ok(pid);
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.cmd))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let pid = child.id();
        self.child = Some(child);
        self.starts += 1;
        Ok(pid)
    }

    /// SIGKILLs it (if running) and reaps it.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            // Child::kill is SIGKILL on Unix; an already exited child is fine.
            let _ = child.kill();
            child.wait()?;
        }
        Ok(())
    }

    /// Its PID while it runs.
    pub fn running_pid(&mut self) -> Option<u32> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => None,
        }
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
