//! A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager on
//! loopback, built from source by `tests/k8s/build.sh`, with our CRDs and the KServe and Gateway API
//! CRDs installed. Nothing else runs in the fast scenarios (no kubelet, scheduler or KServe), so
//! [`fixtures`] stands in for them by writing the status those would, and [`fake_kubelet`] serves
//! pod logs through the real apiserver. [`registry`] runs a real OCI registry on loopback for image
//! inspection tests. [`scale`] is the scale benchmark: many services, the operator binary in its own
//! process. [`real_cluster`] is the other way round: a control plane of its own where the real
//! KServe, kube-scheduler and a Gateway API implementation (Traefik) run, and only the kubelet is
//! played.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! // One control plane per test run; a fresh namespace and client per test.
//! let env = aim_tests::TestEnv::shared().await?;
//! let ns = aim_tests::TestNamespace::create(env).await?;
//! let config_maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> = ns.api();
//! # let _ = config_maps; Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod control_plane;
pub mod crds;
pub mod env;
pub mod fake_kubelet;
pub mod fixtures;
pub mod helm;
pub mod history;
pub mod kubeconfig;
pub mod logging;
pub mod namespace;
pub mod operator;
pub mod paths;
pub mod pki;
pub mod process;
pub mod quick_start;
pub mod real_cluster;
pub mod registry;
pub mod scale;
pub mod status;
pub mod wait;

pub use env::TestEnv;
pub use namespace::TestNamespace;
pub use wait::{wait_for, wait_for_deletion};
