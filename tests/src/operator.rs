//! The `aim-engine run` binary as a process of its own against the test control plane: started
//! with a kubeconfig and an operator namespace, probed over its health and metrics listener,
//! measured from `/proc`, stopped by SIGTERM, or killed and started again as its Deployment would
//! after a crash. The fault and end-to-end tests and the scale benchmark all drive it through here.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// How to start the operator.
#[derive(Debug, Clone)]
pub struct Launch {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    /// Where its Lease and policy ConfigMaps live; also names its pod (`<namespace>-operator`).
    pub operator_namespace: String,
    /// Further arguments of `aim-engine run`.
    pub args: Vec<String>,
    /// `XDG_CACHE_HOME`: the policy precompile cache, a volume of its own as in the chart.
    pub cache_home: PathBuf,
    /// Appended to, so a restarted process continues the same log.
    pub log: PathBuf,
    /// `RUST_LOG`.
    pub log_level: String,
}

/// A running operator.
#[derive(Debug)]
pub struct OperatorProcess {
    child: Child,
    port: u16,
    launch: Launch,
}

/// The operator's own resource use, from `/proc/<pid>`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// User plus system CPU time.
    pub cpu: Duration,
    /// Peak resident set size (`VmHWM`).
    pub peak_rss_bytes: u64,
    /// Resident set size now (`VmRSS`).
    pub rss_bytes: u64,
}

impl OperatorProcess {
    /// Starts the operator on a free local port for health and metrics; does not wait for it.
    pub async fn spawn(launch: Launch) -> Result<Self> {
        let port = free_port().await?;
        let child = spawn(&launch, port)?;
        Ok(Self {
            child,
            port,
            launch,
        })
    }

    /// Starts the process again with the same listener, cache volume and log.
    pub fn restart(&mut self) -> Result<()> {
        self.child = spawn(&self.launch, self.port)?;
        Ok(())
    }

    /// Its identity in leader election (`POD_NAME`).
    pub fn identity(&self) -> String {
        identity(&self.launch)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.launch.log).unwrap_or_default()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// `GET path` once.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        get(self.port, path).await
    }

    /// Polls `GET path` until `accept` holds (true) or `within` passes (false).
    pub async fn wait_for(
        &self,
        path: &str,
        within: Duration,
        accept: impl Fn(u16, &str) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Some((status, body)) = get(self.port, path).await
                && accept(status, &body)
            {
                return true;
            }
            // Short: the SIGTERM test races the controllers' start-up on purpose.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Waits until its watch caches are filled (`/readyz` answers 200), failing early with the
    /// log if the process exits.
    pub async fn ready(&mut self, within: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some((200, _)) = self.get("/readyz").await {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("the operator exited with {status}; log:\n{}", self.log());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "the operator was not ready within {within:?}; log:\n{}",
                    self.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        match self.get("/metrics").await {
            Some((200, body)) => Ok(body),
            other => bail!(
                "GET /metrics answered {:?}",
                other.map(|(status, _)| status)
            ),
        }
    }

    /// CPU time and memory so far.
    pub fn usage(&self) -> Result<Usage> {
        usage(self.child.id().context("the operator has exited")?)
    }

    /// Waits (at most `within`) for the exit code: `None` if it is still running, `Some(None)` if
    /// a signal ended it.
    pub async fn exit_code(&mut self, within: Duration) -> Result<Option<Option<i32>>> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => Ok(Some(status.context("waiting for the operator")?.code())),
            Err(_) => Ok(None),
        }
    }

    /// Kills it with SIGKILL, as an OOM kill or a node failure would, and waits for it.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.kill().await.context("killing the operator")
    }

    /// Sends SIGTERM, as Kubernetes would, and waits (at most `within`) for its exit code. Past
    /// that it is killed and this fails.
    pub async fn terminate(&mut self, within: Duration) -> Result<Option<i32>> {
        if let Some(pid) = self.child.id() {
            let pid = Pid::from_raw(i32::try_from(pid)?).context("the operator's pid")?;
            // Already gone is fine: the exit status below says how it ended.
            let _ = kill_process(pid, Signal::TERM);
        }
        match self.exit_code(within).await? {
            Some(code) => Ok(code),
            None => {
                self.child.kill().await.ok();
                bail!(
                    "the operator did not stop within {within:?}; log:\n{}",
                    self.log_tail(40)
                )
            }
        }
    }
}

fn identity(launch: &Launch) -> String {
    format!("{}-operator", launch.operator_namespace)
}

/// The flag that lets the operator read registries on private addresses: test registries run on
/// loopback, so every launch has it unless its arguments set it themselves.
pub const ALLOW_PRIVATE_REGISTRIES: &str = "--registry-allow-private-networks";

fn spawn(launch: &Launch, port: u16) -> Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&launch.log)
        .with_context(|| format!("opening {}", launch.log.display()))?;
    let registries_set = launch
        .args
        .iter()
        .any(|arg| arg.starts_with(ALLOW_PRIVATE_REGISTRIES));
    Command::new(&launch.binary)
        .args(["run", "--operator-namespace", &launch.operator_namespace])
        .args(["--metrics-bind", &format!("127.0.0.1:{port}")])
        .args((!registries_set).then_some(ALLOW_PRIVATE_REGISTRIES))
        .args(&launch.args)
        .env("KUBECONFIG", &launch.kubeconfig)
        .env("POD_NAME", identity(launch))
        .env("RUST_LOG", &launch.log_level)
        .env("XDG_CACHE_HOME", &launch.cache_home)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", launch.binary.display()))
}

/// CPU time (`utime + stime` of `/proc/<pid>/stat`) and `VmHWM`/`VmRSS` of `/proc/<pid>/status`.
pub fn usage(pid: u32) -> Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; the fields after its `)` are fixed.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; the list starts at field 3.
    let ticks = |index: usize| -> Result<u64> {
        fields
            .get(index - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("field {index} of /proc/{pid}/stat"))
    };
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    let total = ticks(14)? + ticks(15)?;
    let cpu = Duration::from_secs_f64(total as f64 / per_second as f64);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = |key: &str| -> u64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(Usage {
        cpu,
        peak_rss_bytes: kib("VmHWM:") * 1024,
        rss_bytes: kib("VmRSS:") * 1024,
    })
}

/// A free local port: bound and released, so the operator can take it.
async fn free_port() -> Result<u16> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// `GET path` over HTTP/1.0 (the server closes the connection, so the rest is the body).
async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_memory() {
        let usage = usage(std::process::id()).expect("reading /proc");
        assert!(usage.peak_rss_bytes >= usage.rss_bytes && usage.rss_bytes > 0);
    }
}
