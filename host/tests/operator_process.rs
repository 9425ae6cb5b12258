//! The `aim-engine run` process against a real control plane: it becomes ready, serves metrics of
//! real reconciles, holds the leader Lease, on SIGTERM exits 0 and gives the Lease up, and exits
//! non-zero when another replica takes the Lease.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use aim_tests::{TestEnv, TestNamespace};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

const STARTUP: Duration = Duration::from_secs(60);
const EXIT: Duration = Duration::from_secs(10);

/// A running `aim-engine run` with its own namespace (which also holds its Lease).
struct Operator {
    child: Child,
    port: u16,
    log: PathBuf,
    ns: TestNamespace,
    _dir: tempfile::TempDir,
}

impl Operator {
    async fn start(extra: &[&str]) -> Self {
        let env = TestEnv::shared().await.expect("test environment");
        let ns = TestNamespace::create(env).await.expect("test namespace");
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("operator.log");
        let port = free_port().await;
        let child = Command::new(env!("CARGO_BIN_EXE_aim-engine"))
            .args([
                "run",
                "--operator-namespace",
                ns.name(),
                "--concurrency",
                "2",
            ])
            .args(["--metrics-bind", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("KUBECONFIG", env.kubeconfig())
            .env("POD_NAME", format!("{}-operator", ns.name()))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("operator log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("starting aim-engine run");
        Self {
            child,
            port,
            log,
            ns,
            _dir: dir,
        }
    }

    fn identity(&self) -> String {
        format!("{}-operator", self.ns.name())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn leases(&self) -> Api<Lease> {
        self.ns.api()
    }

    /// Polls `GET path` until `accept` holds or `STARTUP` passes.
    async fn wait_for(&self, path: &str, accept: impl Fn(u16, &str) -> bool) -> bool {
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

    /// Waits (at most `within`) for the exit code.
    async fn exit_code(&mut self, within: Duration) -> Option<i32> {
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("operator exit status").code(),
            Err(_) => panic!("still running after {within:?}; log:\n{}", self.log()),
        }
    }

    /// Sends SIGTERM and waits (at most `EXIT`) for the exit code.
    async fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().expect("operator pid").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(killed.success());
        self.exit_code(EXIT).await
    }
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

async fn lease_holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("aim-engine")
        .await
        .ok()
        .flatten()
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity)
}

#[tokio::test]
async fn runs_leads_reports_and_stops_cleanly_on_sigterm() {
    let mut operator = Operator::start(&[]).await;
    assert!(
        operator
            .wait_for("/readyz", |status, _| status == 200)
            .await,
        "never ready; log:\n{}",
        operator.log()
    );

    // A service of its own, so at least one reconcile happens whatever else is in the cluster.
    let services = Api::<DynamicObject>::namespaced_with(
        operator.ns.client(),
        operator.ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "aim.silogen.ai",
            "v1alpha1",
            "AIMService",
        )),
    );
    let service: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "chat"}, "spec": {"model": {"ref": "llama"}}
    }))
    .expect("service");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("creating the service");
    assert!(
        operator
            .wait_for("/metrics", |status, body| status == 200
                && body.contains("aim_reconcile_total{"))
            .await,
        "no reconcile in /metrics; log:\n{}",
        operator.log()
    );

    let leases = operator.leases();
    assert_eq!(lease_holder(&leases).await, Some(operator.identity()));

    let code = operator.terminate().await;
    assert_eq!(code, Some(0), "log:\n{}", operator.log());
    assert_eq!(
        lease_holder(&leases).await,
        None,
        "the lease is given up on exit"
    );
}

#[tokio::test]
async fn stops_at_once_when_terminated_right_after_start_without_leader_election() {
    let mut operator = Operator::start(&["--leader-elect=false", "--namespace", "elsewhere"]).await;
    assert!(
        operator
            .wait_for("/readyz", |status, _| status == 200)
            .await,
        "never ready; log:\n{}",
        operator.log()
    );
    // Likely before the controllers' own caches are filled: the shutdown must not wait for them.
    let code = operator.terminate().await;
    assert_eq!(code, Some(0), "log:\n{}", operator.log());
    assert_eq!(
        lease_holder(&operator.leases()).await,
        None,
        "no lease without election"
    );
}
