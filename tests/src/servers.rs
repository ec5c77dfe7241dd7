//! PostgreSQL and Redis servers a test owns: each on a free port of its own, in a scratch
//! folder, stopped and started by the test (to inject faults) and removed when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// Returns a port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts connections on `port`, or fails naming `what`.
fn wait_for_port(port: u16, what: &str) -> anyhow::Result<()> {
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("{what} did not listen on 127.0.0.1:{port}")
}

/// A Redis server of the test's own (no persistence: a restart starts empty, as after a crash).
pub struct OwnRedis {
    port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts `redis-server` on a free port.
    pub fn start() -> anyhow::Result<Self> {
        let mut redis = Self { port: free_port()?, child: None };
        redis.restart()?;
        Ok(redis)
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server again on the same port (after [`OwnRedis::kill`]).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let port = self.port.to_string();
        let child = Command::new("redis-server")
            .args(["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .context("starting redis-server (make services installs it)")?;
        self.child = Some(child);
        wait_for_port(self.port, "redis-server")
    }

    /// Kills the server (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster of the test's own, made with `initdb` in a scratch folder (as the
/// `postgres` user when the test runs as root, which PostgreSQL refuses to run as).
pub struct OwnPostgres {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    running: bool,
}

impl OwnPostgres {
    /// Creates a cluster (trust authentication for `postgres`) and starts it on a free port.
    pub fn start() -> anyhow::Result<Self> {
        let bin = postgres_bin_dir()?;
        let dir = std::env::temp_dir().join(format!("sharedmetrics-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)?;
        if is_root() {
            let status = Command::new("chown").arg("postgres:postgres").arg(&dir).status()?;
            anyhow::ensure!(status.success(), "chown of {} to postgres failed", dir.display());
        }
        let data = dir.join("data");
        let data_arg = data.to_string_lossy().into_owned();
        run_as_postgres(&bin.join("initdb"), &["-D", &data_arg, "-U", "postgres", "-A", "trust", "-N", "-E", "UTF8"])
            .context("initdb")?;
        let mut server = Self { port: free_port()?, dir, bin, running: false };
        server.restart()?;
        Ok(server)
    }

    /// The server URL (no database), as `TEST_POSTGRES_URL` is.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.to_string_lossy());
        let data = self.dir.join("data").to_string_lossy().into_owned();
        let log = self.dir.join("log").to_string_lossy().into_owned();
        run_as_postgres(&self.bin.join("pg_ctl"), &["-D", &data, "-o", &options, "-l", &log, "-w", "start"])
            .context("pg_ctl start")?;
        self.running = true;
        wait_for_port(self.port, "postgres")
    }

    /// Stops the server (fast shutdown: open connections are closed).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let data = self.dir.join("data").to_string_lossy().into_owned();
        run_as_postgres(&self.bin.join("pg_ctl"), &["-D", &data, "-m", "fast", "-w", "stop"]).context("pg_ctl stop")?;
        self.running = false;
        Ok(())
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn run_as_postgres(program: &Path, args: &[&str]) -> anyhow::Result<()> {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    let output = command.args(args).stdin(Stdio::null()).output()?;
    if !output.status.success() {
        bail!("{} {args:?} failed: {}", program.display(), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

/// Finds PostgreSQL's programs: `initdb` on the PATH, or Debian's newest
/// `/usr/lib/postgresql/<version>/bin`.
fn postgres_bin_dir() -> anyhow::Result<PathBuf> {
    if let Ok(output) = Command::new("sh").args(["-c", "command -v initdb"]).output()
        && output.status.success()
    {
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        let real = std::fs::canonicalize(&path).unwrap_or(path);
        if let Some(dir) = real.parent() {
            return Ok(dir.to_owned());
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed (make services installs it)")?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_string_lossy().parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context("no initdb under /usr/lib/postgresql")
}
