//! Playing only the kubelet, for a cluster whose scheduler binds the pods (the real-components
//! suite): every pod bound to one of this kubelet's nodes is started and reported Running and Ready,
//! with an address in the [`PodNetwork`] where stub servers answer on its container ports; a Job's
//! pod runs until the test says what it printed ([`FakeKubelet::set_job_output`]), then exits 0
//! with that output as its log; a pod being deleted is confirmed gone, as a kubelet does once its
//! containers stopped. Whether a pod may run on the node at all (resources, affinity, volumes) is
//! the scheduler's call, not this one's.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt as _};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use super::network::PodNetwork;
use super::pods::{JOB_NAME_LABEL, mark_pod_succeeded};
use super::stub::serve_stub;
use super::{FakeKubelet, Logs, lock, set_log};
use crate::fixtures;

const POLL: Duration = Duration::from_millis(100);

/// What Job pods print, by (namespace, Job); a `None` Job is the namespace's default.
pub(super) type JobOutputs = Arc<Mutex<HashMap<(String, Option<String>), String>>>;

/// The stub servers of running pods, by pod uid.
type Stubs = HashMap<String, Vec<JoinHandle<()>>>;

impl FakeKubelet {
    /// Starts playing the kubelet for every pod bound to this kubelet's nodes (see the module
    /// docs), on a task of the caller's runtime that ends with this kubelet. Pods get addresses in
    /// `network`.
    pub fn run_bound_pods(&self, client: Client, network: Arc<PodNetwork>) {
        let state = Lifecycle {
            pods: Api::all(client),
            nodes: self.nodes.clone(),
            outputs: self.outputs.clone(),
            logs: self.logs.clone(),
            network,
        };
        let task = tokio::spawn(state.run());
        if let Some(old) = lock(&self.lifecycle).replace(task) {
            old.abort();
        }
    }

    /// Makes Job `job` of `namespace` finish: its pod (running, or started later) exits 0 with
    /// `output` as the log of each of its containers.
    pub fn set_job_output(&self, namespace: &str, job: &str, output: &str) {
        let key = (namespace.to_owned(), Some(job.to_owned()));
        lock(&self.outputs).insert(key, output.to_owned());
    }

    /// [`Self::set_job_output`] for every Job of `namespace` without an output of its own.
    pub fn set_namespace_job_output(&self, namespace: &str, output: &str) {
        lock(&self.outputs).insert((namespace.to_owned(), None), output.to_owned());
    }
}

struct Lifecycle {
    pods: Api<Pod>,
    nodes: Arc<Mutex<HashSet<String>>>,
    outputs: JobOutputs,
    logs: Logs,
    network: Arc<PodNetwork>,
}

impl Lifecycle {
    async fn run(self) {
        let mut stubs = Stubs::new();
        loop {
            if let Err(e) = self.sync(&mut stubs).await {
                tracing::warn!("fake kubelet: {e:#}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// One pass over the bound pods of this kubelet's nodes.
    async fn sync(&self, stubs: &mut Stubs) -> Result<()> {
        let bound = ListParams::default().fields("spec.nodeName!=");
        let pods = self.pods.list(&bound).await.context("listing pods")?.items;
        let nodes = lock(&self.nodes).clone();
        let mut alive = HashSet::new();
        for pod in pods {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
            if !node.is_some_and(|n| nodes.contains(&n)) {
                continue;
            }
            let uid = pod.uid().unwrap_or_default();
            alive.insert(uid.clone());
            if let Err(e) = self.sync_pod(&pod, &uid, stubs).await {
                tracing::warn!(
                    "fake kubelet: pod {}/{}: {e:#}",
                    pod.namespace().unwrap_or_default(),
                    pod.name_any()
                );
            }
        }
        stubs.retain(|uid, servers| {
            let keep = alive.contains(uid);
            if !keep {
                servers.iter().for_each(JoinHandle::abort);
            }
            keep
        });
        Ok(())
    }

    async fn sync_pod(&self, pod: &Pod, uid: &str, stubs: &mut Stubs) -> Result<()> {
        let namespace = pod.namespace().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.pods.clone().into_client(), &namespace);
        let name = pod.name_any();
        if pod.metadata.deletion_timestamp.is_some() {
            // The containers are stopped at once: confirm, as the kubelet does, with no grace.
            if let Some(servers) = stubs.remove(uid) {
                servers.iter().for_each(JoinHandle::abort);
            }
            let now = DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            };
            return match pods.delete(&name, &now).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                Err(e) => Err(e).context("confirming the deletion"),
            };
        }
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            return Ok(());
        }
        let spec = pod.spec.clone().unwrap_or_default();
        if let Some(job) = pod.labels().get(JOB_NAME_LABEL) {
            let output = {
                let outputs = lock(&self.outputs);
                outputs
                    .get(&(namespace.clone(), Some(job.clone())))
                    .or_else(|| outputs.get(&(namespace.clone(), None)))
                    .cloned()
            };
            if let Some(output) = output {
                for container in &spec.containers {
                    set_log(&self.logs, &namespace, &name, &container.name, &output);
                }
                mark_pod_succeeded(&pods, &name, &spec).await?;
                return Ok(());
            }
        }
        if phase == Some("Running") {
            return Ok(());
        }
        let address = self.network.allocate()?;
        let mut servers = Vec::new();
        for port in container_ports(&spec.containers) {
            let listener = self
                .network
                .bind(SocketAddr::new(IpAddr::V4(address), port))?;
            servers.push(serve_stub(listener, pod)?);
        }
        stubs.insert(uid.to_owned(), servers);
        let status = running_status(&spec, &address.to_string());
        pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(&status))
            .await
            .context("reporting the pod Running")?;
        Ok(())
    }
}

/// Every TCP container port of the pod's containers.
fn container_ports(containers: &[Container]) -> Vec<u16> {
    containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .filter(|p| p.protocol.as_deref().unwrap_or("TCP") == "TCP")
        .filter_map(|p| u16::try_from(p.container_port).ok())
        .collect()
}

/// The status a kubelet reports once every container started and passed its probes.
fn running_status(spec: &k8s_openapi::api::core::v1::PodSpec, address: &str) -> Value {
    let now = fixtures::now();
    let condition =
        |type_: &str| json!({ "type": type_, "status": "True", "lastTransitionTime": now });
    let running = |c: &Container| {
        json!({
            "name": c.name, "image": c.image, "imageID": "", "ready": true, "started": true,
            "restartCount": 0, "containerID": format!("fake://{}", c.name),
            "state": { "running": { "startedAt": now } },
        })
    };
    let initialized = |c: &Container| {
        json!({
            "name": c.name, "image": c.image, "imageID": "", "ready": true, "started": false,
            "restartCount": 0, "containerID": format!("fake://{}", c.name),
            "state": { "terminated": { "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now } },
        })
    };
    json!({ "status": {
        "phase": "Running",
        "hostIP": "127.0.0.1",
        "hostIPs": [{ "ip": "127.0.0.1" }],
        "podIP": address,
        "podIPs": [{ "ip": address }],
        "startTime": now,
        "conditions": [
            condition("PodReadyToStartContainers"),
            condition("Initialized"),
            condition("ContainersReady"),
            condition("Ready"),
        ],
        "containerStatuses": spec.containers.iter().map(running).collect::<Vec<_>>(),
        "initContainerStatuses": spec.init_containers.iter().flatten().map(initialized).collect::<Vec<_>>(),
    }})
}
