//! The `aim-engine run` binary as a separate process against the test control plane: started
//! with a kubeconfig (the admin's, or a service account's), probed over its health and metrics
//! listener, stopped by signal.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use aim_tests::{TestEnv, TestNamespace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

pub const STARTUP: Duration = Duration::from_secs(60);
pub const EXIT: Duration = Duration::from_secs(10);

/// A running `aim-engine run` whose operator namespace (Lease, policy ConfigMaps) is `ns`.
pub struct Operator {
    child: Child,
    port: u16,
    log: PathBuf,
    kubeconfig: PathBuf,
    extra: Vec<String>,
    pub ns: TestNamespace,
    dir: tempfile::TempDir,
}

impl Operator {
    /// In a namespace of its own, as the control plane's admin.
    pub async fn start(extra: &[&str]) -> Self {
        let env = TestEnv::shared().await.expect("test environment");
        let ns = TestNamespace::create(env).await.expect("test namespace");
        Self::start_in(ns, env.kubeconfig(), extra).await
    }

    /// With `ns` as its operator namespace, authenticated by `kubeconfig`.
    pub async fn start_in(ns: TestNamespace, kubeconfig: &Path, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("operator.log");
        let port = free_port().await;
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let child = spawn(&ns, kubeconfig, &extra, port, &log, dir.path());
        Self {
            child,
            port,
            log,
            kubeconfig: kubeconfig.to_owned(),
            extra,
            ns,
            dir,
        }
    }

    /// Starts the process again, as its Deployment would after a crash (same listener, cache
    /// volume and log).
    pub fn restart(&mut self) {
        self.child = spawn(
            &self.ns,
            &self.kubeconfig,
            &self.extra,
            self.port,
            &self.log,
            self.dir.path(),
        );
    }

    pub fn identity(&self) -> String {
        format!("{}-operator", self.ns.name())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `GET path` until `accept` holds or `STARTUP` passes.
    pub async fn wait_for(&self, path: &str, accept: impl Fn(u16, &str) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + STARTUP;
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

    /// `GET path` once.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        get(self.port, path).await
    }

    /// Waits (at most `within`) for the exit code; `None` if it is still running.
    pub async fn exit_code(&mut self, within: Duration) -> Option<Option<i32>> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => Some(status.expect("operator exit status").code()),
            Err(_) => None,
        }
    }

    /// Kills the process with SIGKILL, as an OOM kill or a node failure would, and waits for it.
    pub async fn kill(&mut self) {
        self.child.kill().await.expect("killing the operator");
    }

    /// Sends SIGTERM and waits (at most `EXIT`) for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().expect("operator pid").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        match self.exit_code(EXIT).await {
            Some(code) => code,
            None => panic!("still running after {EXIT:?}; log:\n{}", self.log()),
        }
    }
}

fn spawn(
    ns: &TestNamespace,
    kubeconfig: &Path,
    extra: &[String],
    port: u16,
    log: &Path,
    cache: &Path,
) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("operator log file");
    Command::new(env!("CARGO_BIN_EXE_aim-engine"))
        .args([
            "run",
            "--operator-namespace",
            ns.name(),
            "--concurrency",
            "2",
        ])
        .args(["--metrics-bind", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("KUBECONFIG", kubeconfig)
        .env("POD_NAME", format!("{}-operator", ns.name()))
        .env("RUST_LOG", "info")
        // As in the chart: the precompile cache on a volume of its own.
        .env("XDG_CACHE_HOME", cache)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("starting aim-engine run")
}

/// A free local port: bound and released, so the operator can take it.
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    listener.local_addr().expect("bound address").port()
}

/// `GET path` over HTTP/1.0 (the server closes the connection, so reading to the end is the body).
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
