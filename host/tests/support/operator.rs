//! The `aim-engine run` binary built with these tests, in a namespace of its own on the test
//! control plane, with the same settings in every test (see `aim_tests::operator`).

use std::ops::Deref;
use std::path::Path;
use std::time::Duration;

use aim_api::v1alpha1::AIMPolicy;
use aim_tests::operator::{Launch, OperatorProcess};
use aim_tests::status::state;
use aim_tests::{TestEnv, TestNamespace, fixtures, wait_for, wait_for_deletion};
use kube::Api;
use kube::api::DeleteParams;
use serde_json::Value;

pub const STARTUP: Duration = Duration::from_secs(60);
pub const EXIT: Duration = Duration::from_secs(10);

/// A running `aim-engine run` whose operator namespace (Lease, policy ConfigMaps) is `ns`.
pub struct Operator {
    process: OperatorProcess,
    pub ns: TestNamespace,
    _dir: tempfile::TempDir,
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
        let mut args = vec!["--concurrency".to_owned(), "2".to_owned()];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let process = OperatorProcess::spawn(Launch {
            binary: env!("CARGO_BIN_EXE_aim-engine").into(),
            kubeconfig: kubeconfig.to_owned(),
            operator_namespace: ns.name().to_owned(),
            args,
            cache_home: dir.path().to_owned(),
            log: dir.path().join("operator.log"),
            log_level: std::env::var("AIM_DEBUG_LOG").unwrap_or_else(|_| "info".to_owned()),
        })
        .await
        .expect("starting aim-engine run");
        Self {
            process,
            ns,
            _dir: dir,
        }
    }

    /// With `ns` as its operator namespace and the only one whose services it reconciles, ready.
    pub async fn ready_in(ns: TestNamespace, kubeconfig: &Path) -> Self {
        let name = ns.name().to_owned();
        let operator = Self::start_in(ns, kubeconfig, &["--namespace", &name]).await;
        operator.assert_ready().await;
        operator
    }

    /// Ships `wasm` as the AIMPolicy `name` (from a ConfigMap in the operator's namespace, with
    /// `more_spec` added to its spec) and waits until this operator has activated it.
    pub async fn ship_active_policy(
        &self,
        name: &str,
        wasm: &[u8],
        more_spec: Value,
    ) -> Api<AIMPolicy> {
        let policies =
            fixtures::ship_policy(&self.ns.client(), self.ns.name(), name, wasm, more_spec)
                .await
                .expect("shipping the policy");
        wait_for(&policies, name, STARTUP, |p| state(p) == "Active")
            .await
            .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", self.log()));
        policies
    }

    /// Deletes the AIMPolicy `name` and waits until it is gone (this operator removes its
    /// finalizer, so it must be running).
    pub async fn delete_policy(&self, policies: &Api<AIMPolicy>, name: &str) {
        policies
            .delete(name, &DeleteParams::default())
            .await
            .expect("deleting the policy");
        wait_for_deletion(policies, name, STARTUP)
            .await
            .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", self.log()));
    }

    /// Fails the test, with the log, unless `/readyz` answers 200 within `STARTUP`.
    pub async fn assert_ready(&self) {
        let ready = self.wait_for("/readyz", |status, _| status == 200).await;
        assert!(ready, "never ready; log:\n{}", self.log());
    }

    /// Polls `GET path` until `accept` holds or `STARTUP` passes.
    pub async fn wait_for(&self, path: &str, accept: impl Fn(u16, &str) -> bool) -> bool {
        self.process.wait_for(path, STARTUP, accept).await
    }

    /// Starts the process again, as its Deployment would after a crash.
    pub fn restart(&mut self) {
        self.process.restart().expect("restarting aim-engine run");
    }

    /// Kills it with SIGKILL and waits for it.
    pub async fn kill(&mut self) {
        self.process.kill().await.expect("killing aim-engine run");
    }

    /// Sends SIGTERM and waits (at most `EXIT`) for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        self.process
            .terminate(EXIT)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Sends SIGTERM and fails the test, with the log, unless it exits 0 within `EXIT`.
    pub async fn assert_exits_cleanly(&mut self) {
        let code = self.terminate().await;
        assert_eq!(code, Some(0), "log:\n{}", self.log());
    }

    /// The exit code if it exits within `within`.
    pub async fn exit_code(&mut self, within: Duration) -> Option<Option<i32>> {
        self.process.exit_code(within).await.expect("exit status")
    }
}

impl Deref for Operator {
    type Target = OperatorProcess;
    fn deref(&self) -> &OperatorProcess {
        &self.process
    }
}
