//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temporary directory, the
//! server on a free port of 127.0.0.1 (trust authentication for 127.0.0.1 only, the socket
//! inside the directory, `fsync=on`), one cluster per test binary ([`shared`]) and one
//! database per test ([`fresh_database`]).
//!
//! Nothing here assumes a server already runs. `initdb` and `pg_ctl` must be on `PATH`
//! (PostgreSQL 15 server binaries); if they are not, every PostgreSQL test fails naming what
//! is missing. `initdb` refuses to run as root, so as root the cluster belongs to the
//! `postgres` user (commands run through `runuser`, or `su` without it).
//!
//! Cleanup: an owned [`Cluster`] stops (`pg_ctl stop -m immediate`) and removes its
//! directory on drop. The shared cluster lives in a static, which Rust never drops, so a
//! small watchdog process does the same as soon as the test binary has exited (however it
//! exited: a panic or a kill included).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A running throwaway cluster.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    port: u16,
    pg_ctl: PathBuf,
    /// The OS user owning the cluster when the tests run as root.
    run_as: Option<String>,
}

/// A program on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_ok_and(|uid| uid == "0")
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Single-quotes a string for `sh`.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Cluster {
    /// Runs `program args…` as the cluster's owner.
    fn command(&self, program: &Path) -> Command {
        as_user(self.run_as.as_deref(), program)
    }

    /// Creates and starts a cluster.
    pub fn start() -> Result<Self, String> {
        let missing = |name: &str| {
            format!(
                "the PostgreSQL tests need `{name}` on PATH (PostgreSQL 15 server binaries: initdb, \
                 pg_ctl, postgres); it was not found in PATH={}",
                std::env::var("PATH").unwrap_or_default()
            )
        };
        let initdb = which("initdb").ok_or_else(|| missing("initdb"))?;
        let pg_ctl = which("pg_ctl").ok_or_else(|| missing("pg_ctl"))?;
        let run_as = is_root().then(|| "postgres".to_owned());

        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let root = std::env::temp_dir().join(format!(
            "vend-pg-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
        if let Some(user) = &run_as {
            let id = |flag: &str| -> Result<u32, String> {
                output(Command::new("id").args([flag, user]))?
                    .parse()
                    .map_err(|e| format!("id {flag} {user}: {e}"))
            };
            let (uid, gid) = (id("-u").map_err(|e| format!("{e} (initdb cannot run as root; the tests run it as the `postgres` user, which must exist)"))?, id("-g")?);
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", root.display()))?;
        }
        let cluster = Self {
            root,
            port: 0,
            pg_ctl,
            run_as,
        };
        cluster.init(&initdb)?;
        cluster.boot()
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn init(&self, initdb: &Path) -> Result<(), String> {
        let data = self.data();
        output(self.command(initdb).args([
            "-D",
            data.to_str().ok_or("temp dir is not UTF-8")?,
            "-U",
            "postgres",
            "--auth=trust",
            // The throwaway cluster's own files need not survive a power cut; the server's
            // commits still fsync (fsync=on below).
            "--no-sync",
            "--no-instructions",
            "-E",
            "UTF8",
            "--locale=C",
        ]))?;
        let conf = format!(
            "\n# vend-api tests\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             fsync = on\nsynchronous_commit = on\nmax_connections = 300\n",
            self.root.display()
        );
        append(&data.join("postgresql.conf"), &conf)?;
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )
        .map_err(|e| format!("cannot write pg_hba.conf: {e}"))
    }

    /// Starts the server on a free port (another if that one was taken meanwhile).
    fn boot(mut self) -> Result<Self, String> {
        let data = self.data();
        let log = self.root.join("server.log");
        let mut last = String::new();
        for _ in 0..5 {
            self.port = free_port()?;
            let started = output(self.command(&self.pg_ctl.clone()).args([
                "-D",
                data.to_str().ok_or("temp dir is not UTF-8")?,
                "-l",
                log.to_str().ok_or("temp dir is not UTF-8")?,
                "-w",
                "-t",
                "60",
                "-o",
                &format!("-p {}", self.port),
                "start",
            ]));
            match started {
                Ok(_) if TcpStream::connect(("127.0.0.1", self.port)).is_ok() => return Ok(self),
                Ok(_) => last = "the server started but does not accept connections".into(),
                Err(e) => last = e,
            }
        }
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&self.root);
        Err(format!("PostgreSQL did not start: {last}\n{log}"))
    }

    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    pub fn create_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("t_{}", N.fetch_add(1, Ordering::Relaxed));
        let admin = self.url("postgres");
        let sql = format!("CREATE DATABASE {name}");
        blocking(async move {
            let c = client(&admin).await;
            c.batch_execute(&sql).await.expect("CREATE DATABASE");
        });
        self.url(&name)
    }

    /// The shell command that stops the server and removes the directory.
    fn stop_script(&self) -> String {
        let data = self.data();
        let stop = format!(
            "{} -D {} -m immediate -w stop",
            quote(&self.pg_ctl.to_string_lossy()),
            quote(&data.to_string_lossy())
        );
        let stop = match &self.run_as {
            Some(user) => match which("runuser") {
                Some(r) => format!(
                    "{} -u {} -- {stop}",
                    quote(&r.to_string_lossy()),
                    quote(user)
                ),
                None => format!("su {} -s /bin/sh -c {}", quote(user), quote(&stop)),
            },
            None => stop,
        };
        format!(
            "{stop} >/dev/null 2>&1; rm -rf {}",
            quote(&self.root.to_string_lossy())
        )
    }

    /// Stops the server and removes its directory.
    pub fn stop(&self) {
        let _ = Command::new("sh")
            .args(["-c", &self.stop_script()])
            .stdin(Stdio::null())
            .status();
    }

    /// Stops the cluster once this process has exited.
    fn stop_after_exit(&self) {
        let script = format!(
            "while kill -0 {} 2>/dev/null; do sleep 0.5; done; {}",
            std::process::id(),
            self.stop_script()
        );
        // setsid: the watchdog outlives a kill of the test's process group.
        let mut cmd = match which("setsid") {
            Some(s) => {
                let mut c = Command::new(s);
                c.args(["sh", "-c", &script]);
                c
            }
            None => {
                let mut c = Command::new("sh");
                c.args(["-c", &script]);
                c
            }
        };
        let _ = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn as_user(user: Option<&str>, program: &Path) -> Command {
    match user {
        None => Command::new(program),
        Some(user) => match which("runuser") {
            Some(runuser) => {
                let mut c = Command::new(runuser);
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => {
                let mut c = Command::new("su");
                c.args([user, "-s", "/bin/sh", "-c", r#"exec "$0" "$@""#, "--"])
                    .arg(program);
                c
            }
        },
    }
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot append to {}: {e}", path.display()))
}

/// The test binary's cluster, started on first use and stopped after the binary exits.
pub fn shared() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let c = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
        c.stop_after_exit();
        c
    })
}

/// A new empty database on the shared cluster; its URL.
pub fn fresh_database() -> String {
    shared().create_database()
}

/// Runs a future to completion on a private runtime in its own thread (usable from sync
/// and async code alike).
pub fn blocking<T: Send + 'static>(
    fut: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    })
    .join()
    .unwrap()
}

/// A client for `url`, its connection driven on the current runtime.
pub async fn client(url: &str) -> tokio_postgres::Client {
    let (c, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    c
}
