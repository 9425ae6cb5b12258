//! The real-components cluster: the test control plane with kube-controller-manager's workload
//! controllers ([`Controllers::Workloads`]), kube-scheduler, the KServe controller manager with its
//! webhooks ([`kserve`]) and Traefik as the Gateway API implementation ([`gateway`]). Only the
//! kubelet is played ([`FakeKubelet::run_bound_pods`], its pods in a [`PodNetwork`]), and a storage
//! provisioner ([`storage`]), which none of the guides' examples is about.
//!
//! It is a control plane of its own, not the shared one of the fast scenarios: those play KServe's
//! and the Gateway's part by writing the status they would, and the real ones would overwrite it.
//! One per test binary, started on first use; every test gets a namespace in it.
//!
//! The cluster has three nodes, so the scheduler has choices to get right: `gpu-large` with 8
//! MI300X, `gpu-small` with one MI300X, and `cpu` with no GPU. Two Gateways in namespace
//! [`GATEWAY_NAMESPACE`]: [`OPEN_GATEWAY`], whose listener takes routes from every namespace, and
//! [`SAME_NAMESPACE_GATEWAY`], whose listener takes only routes of its own namespace.

pub mod gateway;
pub mod kserve;
pub mod storage;

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow};
use kube::Client;

use crate::control_plane::Controllers;
use crate::fake_kubelet::{FakeKubelet, PodNetwork};
use crate::fixtures::{AMD_GPU_DEVICE_ID, MI300X_DEVICE_ID, create_cluster_node};
use crate::process::ON_EXIT_SCRIPT;
use crate::{TestEnv, paths};

pub use gateway::{GATEWAY_NAMESPACE, OPEN_GATEWAY, SAME_NAMESPACE_GATEWAY};

/// The node with enough GPUs for every example.
pub const LARGE_GPU_NODE: &str = "gpu-large";
/// GPUs of [`LARGE_GPU_NODE`].
pub const LARGE_GPU_NODE_GPUS: u32 = 8;
/// A node with one MI300X: too small for a 2-GPU pod.
pub const SMALL_GPU_NODE: &str = "gpu-small";
/// A node without GPUs.
pub const CPU_NODE: &str = "cpu";

/// A running real-components cluster (see the module docs).
pub struct RealCluster {
    env: TestEnv,
    kubelet: FakeKubelet,
    gateway_port: u16,
}

impl std::fmt::Debug for RealCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealCluster")
            .field("env", &self.env)
            .field("gateway_port", &self.gateway_port)
            .finish_non_exhaustive()
    }
}

static SHARED: OnceLock<Result<RealCluster, String>> = OnceLock::new();

impl RealCluster {
    /// The cluster of this test binary, started on first use.
    ///
    /// Its fake kubelet, storage provisioner and pod stubs run on a runtime of their own, on a
    /// thread that lives as long as the process: each `#[tokio::test]` runtime ends with its test.
    pub async fn shared() -> Result<&'static RealCluster> {
        let shared = tokio::task::spawn_blocking(|| SHARED.get_or_init(start_on_own_runtime))
            .await
            .context("starting the real-components cluster")?;
        shared
            .as_ref()
            .map_err(|e| anyhow!("the real-components cluster failed to start: {e}"))
    }

    /// The control plane, for namespaces and clients.
    pub fn env(&self) -> &TestEnv {
        &self.env
    }

    /// The kubelet of every node, for Job outputs and pod logs.
    pub fn kubelet(&self) -> &FakeKubelet {
        &self.kubelet
    }

    /// Where the Gateways' HTTP listener (of [`OPEN_GATEWAY`]) takes requests, on loopback.
    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

    /// The log of one of the cluster's components (`kserve`, `kube-scheduler`, `traefik`, ...), for
    /// failure messages.
    pub fn log_tail(&self, component: &str) -> String {
        self.env
            .control_plane()
            .map(|cp| crate::process::tail(&cp.dir().join(format!("{component}.log"))))
            .unwrap_or_default()
    }
}

fn start_on_own_runtime() -> Result<RealCluster, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = sender.send(Err(format!("building a runtime: {e}")));
                return;
            }
        };
        runtime.block_on(async move {
            let started = start().await.map_err(|e| format!("{e:#}"));
            let failed = started.is_err();
            let _ = sender.send(started);
            if !failed {
                // The kubelet's, the provisioner's and the stubs' tasks run here until the process ends.
                std::future::pending::<()>().await;
            }
        });
    });
    receiver
        .recv()
        .map_err(|_| "the thread starting the real-components cluster died".to_owned())?
}

async fn start() -> Result<RealCluster> {
    let mut env = TestEnv::start_with(Controllers::Workloads).await?;
    let client = env.client().await?;
    let cp = env
        .control_plane_mut()
        .context("a started environment has a control plane")?;
    let dir = cp.dir().to_path_buf();
    let kubeconfig = cp.kubeconfig().to_path_buf();

    cp.spawn(
        "kube-scheduler",
        &paths::binary("kube-scheduler")?,
        &scheduler_args(&kubeconfig),
        &[],
    )?;
    storage::start_provisioner(client.clone()).await?;
    kserve::start(cp, &client).await?;
    let gateway_port = gateway::start(cp, &client).await?;

    let network = Arc::new(PodNetwork::create(&dir.join(ON_EXIT_SCRIPT))?);
    let kubelet = FakeKubelet::start(&env).await?;
    create_nodes(&kubelet, &client).await?;
    kubelet.run_bound_pods(client, network);
    Ok(RealCluster {
        env,
        kubelet,
        gateway_port,
    })
}

fn scheduler_args(kubeconfig: &std::path::Path) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", kubeconfig.display()),
        format!("--authentication-kubeconfig={}", kubeconfig.display()),
        format!("--authorization-kubeconfig={}", kubeconfig.display()),
        "--leader-elect=false".into(),
        // No health or metrics listener: nothing here scrapes it.
        "--secure-port=0".into(),
    ]
}

async fn create_nodes(kubelet: &FakeKubelet, client: &Client) -> Result<()> {
    let mi300x = [(AMD_GPU_DEVICE_ID, MI300X_DEVICE_ID)];
    for (name, labels, gpus) in [
        (LARGE_GPU_NODE, &mi300x[..], LARGE_GPU_NODE_GPUS),
        (SMALL_GPU_NODE, &mi300x[..], 1),
        (CPU_NODE, &[][..], 0),
    ] {
        let node = create_cluster_node(client, name, labels, gpus).await?;
        kubelet.point_at_this_kubelet(client.clone(), node).await?;
    }
    Ok(())
}
