//! The `aim-engine run` binary as a process of its own, so the CPU time and memory measured are
//! the operator's alone: started against the control plane's kubeconfig, probed over its metrics
//! listener, read from `/proc`, stopped by SIGTERM.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustix::process::{Pid, Signal, kill_process};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::Engine;

const STARTUP: Duration = Duration::from_secs(180);
const EXIT: Duration = Duration::from_secs(30);

/// How to start the operator.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub binary: &'a Path,
    pub kubeconfig: &'a Path,
    pub operator_namespace: &'a str,
    pub namespaces: &'a [String],
    pub engine: Engine,
    pub concurrency: Option<u16>,
    /// `XDG_CACHE_HOME`: where the policy precompile cache lives.
    pub cache_home: &'a Path,
    /// Where its log goes.
    pub log: PathBuf,
}

/// A running operator.
pub struct Operator {
    child: Child,
    pid: u32,
    port: u16,
    log: PathBuf,
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

impl Operator {
    /// Starts the operator and waits until its watch caches are filled (`/readyz`).
    pub async fn start(launch: &Launch<'_>) -> Result<Self> {
        let port = free_port().await?;
        let mut command = Command::new(launch.binary);
        command
            .args(["run", "--operator-namespace", launch.operator_namespace])
            .arg("--leader-elect=false")
            .args(["--metrics-bind", &format!("127.0.0.1:{port}")])
            .args(["--policy-engine", launch.engine.as_str()]);
        if !launch.namespaces.is_empty() {
            command.args(["--namespace", &launch.namespaces.join(",")]);
        }
        if let Some(concurrency) = launch.concurrency {
            command.args(["--concurrency", &concurrency.to_string()]);
        }
        let log = std::fs::File::create(&launch.log)
            .with_context(|| format!("creating {}", launch.log.display()))?;
        let child = command
            .env("KUBECONFIG", launch.kubeconfig)
            .env("XDG_CACHE_HOME", launch.cache_home)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let pid = child.id().context("the operator exited at once")?;
        let mut operator = Operator {
            child,
            pid,
            port,
            log: launch.log.clone(),
        };
        let deadline = tokio::time::Instant::now() + STARTUP;
        loop {
            if let Some((200, _)) = get(port, "/readyz").await {
                return Ok(operator);
            }
            if let Ok(Some(status)) = operator.child.try_wait() {
                bail!(
                    "the operator exited with {status}; log:\n{}",
                    operator.log()
                );
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "the operator was not ready within {STARTUP:?}; log:\n{}",
                    operator.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Its `/metrics` text.
    pub async fn metrics(&self) -> Result<String> {
        match get(self.port, "/metrics").await {
            Some((200, body)) => Ok(body),
            other => bail!(
                "GET /metrics answered {:?}",
                other.map(|(status, _)| status)
            ),
        }
    }

    /// CPU time and memory so far.
    pub fn usage(&self) -> Result<Usage> {
        usage(self.pid)
    }

    /// The last lines of its log.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Stops it with SIGTERM, as Kubernetes would, and waits for it to exit.
    pub async fn stop(mut self) -> Result<()> {
        let pid = Pid::from_raw(i32::try_from(self.pid)?).context("the operator's pid")?;
        // Already gone is fine: the exit status below says how it ended.
        let _ = kill_process(pid, Signal::TERM);
        match tokio::time::timeout(EXIT, self.child.wait()).await {
            Ok(status) => {
                status.context("waiting for the operator")?;
                Ok(())
            }
            Err(_) => {
                self.child.kill().await.ok();
                bail!("the operator did not stop within {EXIT:?}")
            }
        }
    }
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
