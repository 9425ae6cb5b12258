//! A fake kubelet, so that the real apiserver's pod-log proxy works in tests.
//!
//! No kubelet runs in the test control plane, yet the operator reads a discovery Job's result from its
//! pod's log through `GET /api/v1/namespaces/{ns}/pods/{pod}/log`. The apiserver serves that by
//! proxying to the kubelet of the pod's node: it reads the Node's `InternalIP` address and
//! `status.daemonEndpoints.kubeletEndpoint.Port`, connects over TLS (trusting the harness CA, see the
//! `--kubelet-*` flags in [`crate::control_plane`]) and asks for
//! `/containerLogs/{ns}/{pod}/{container}`. [`FakeKubelet`] answers those requests from a map the test
//! fills, so the whole path through the apiserver is exercised, not a seam around it.
//!
//! ```no_run
//! # async fn demo(ns: &aim_tests::TestNamespace) -> anyhow::Result<()> {
//! let env = aim_tests::TestEnv::shared().await?;
//! let kubelet = aim_tests::fake_kubelet::FakeKubelet::start(env).await?;
//! let node = kubelet.create_node(ns, "worker").await?;
//! // ... the operator creates Job `discovery` ...
//! kubelet.run_job_pod(ns, &node, "discovery", "[]").await?; // its pod logs "[]"
//! # Ok(()) }
//! ```
//!
//! Where a real scheduler binds the pods (the real-components suite), the kubelet plays only its own
//! part instead: [`FakeKubelet::run_bound_pods`] runs what is bound to its nodes (see `lifecycle`).

mod lifecycle;
mod network;
mod pods;
mod stub;
pub use network::PodNetwork;
pub use pods::JOB_NAME_LABEL;
mod server;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use tokio::task::JoinHandle;

use crate::TestEnv;

/// Log texts by (namespace, pod, container).
type Logs = Arc<Mutex<HashMap<(String, String, String), String>>>;

/// One fake kubelet: an HTTPS server on a free 127.0.0.1 port, stopped on drop. Create one per test;
/// each test's nodes point at their own kubelet, so tests never see each other's logs.
pub struct FakeKubelet {
    port: u16,
    logs: Logs,
    server: JoinHandle<()>,
    /// The nodes this kubelet registered.
    nodes: Arc<Mutex<HashSet<String>>>,
    outputs: lifecycle::JobOutputs,
    lifecycle: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FakeKubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeKubelet")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl FakeKubelet {
    /// Starts serving on the caller's runtime, with the serving cert of `env`'s control plane.
    pub async fn start(env: &TestEnv) -> Result<Self> {
        let pki = env.pki()?;
        let logs = Logs::default();
        let (port, server) = server::serve(&pki, logs.clone()).await?;
        Ok(Self {
            port,
            logs,
            server,
            nodes: Arc::default(),
            outputs: Arc::default(),
            lifecycle: Mutex::default(),
        })
    }

    /// The port to put into a Node's `status.daemonEndpoints.kubeletEndpoint.Port`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes `text` the log of `container` in pod `namespace/pod` (replacing any earlier text).
    pub fn set_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        set_log(&self.logs, namespace, pod, container, text);
    }
}

impl Drop for FakeKubelet {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(task) = lock(&self.lifecycle).take() {
            task.abort();
        }
    }
}

fn set_log(logs: &Logs, namespace: &str, pod: &str, container: &str, text: &str) {
    let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
    lock(logs).insert(key, text.to_owned());
}

/// A poisoned lock only means another test thread panicked mid-insert; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
