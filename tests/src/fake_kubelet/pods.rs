//! Playing the kubelet's part around a [`FakeKubelet`]: a Node that points the apiserver at it, and
//! "running" a Job's pod to completion with a given log.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt as _;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use super::FakeKubelet;
use crate::TestNamespace;
use crate::fixtures;

/// Label the Job controller puts on its pods (the older `job-name` is set too).
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";

/// How long to wait for kube-controller-manager's Job controller to create the Job's pod before
/// creating one ourselves. It usually takes well under a second.
const JOB_POD_WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(100);
/// `spec.managedBy` value naming kube-controller-manager's Job controller (also the default).
const JOB_CONTROLLER: &str = "kubernetes.io/job-controller";

impl FakeKubelet {
    /// Creates a Ready node `<namespace>-<name>` (see [`fixtures::create_node`]) whose kubelet is this
    /// one: `InternalIP` 127.0.0.1 and `status.daemonEndpoints.kubeletEndpoint.Port` = [`Self::port`].
    pub async fn create_node(&self, ns: &TestNamespace, name: &str) -> Result<Node> {
        self.create_gpu_node(ns, name, &[], 0).await
    }

    /// [`Self::create_node`] with node labels and AMD GPU capacity.
    pub async fn create_gpu_node(
        &self,
        ns: &TestNamespace,
        name: &str,
        labels: &[(&str, &str)],
        gpus: u32,
    ) -> Result<Node> {
        let node = fixtures::create_node(ns, name, labels, gpus).await?;
        self.point_at_this_kubelet(ns.client(), node).await
    }

    /// Makes `node` this kubelet's: its `InternalIP` 127.0.0.1 and its kubelet port this one's, and
    /// the pods bound to it this kubelet's to run (see [`Self::run_bound_pods`]).
    pub async fn point_at_this_kubelet(&self, client: kube::Client, node: Node) -> Result<Node> {
        let name = node.name_any();
        super::lock(&self.nodes).insert(name.clone());
        let status = json!({ "status": {
            "addresses": [
                { "type": "InternalIP", "address": "127.0.0.1" },
                { "type": "Hostname", "address": name },
            ],
            "daemonEndpoints": { "kubeletEndpoint": { "Port": self.port } },
        }});
        Api::<Node>::all(client)
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .with_context(|| format!("pointing node {name} at the fake kubelet"))
    }

    /// Does what the scheduler, the kubelet and the Job controller would for Job `job` in `ns`: takes
    /// the pod the Job controller created (or creates one from the Job's template, labelled and owned
    /// like the controller's), binds it to `node`, makes `log` the log of each of its containers,
    /// marks it Succeeded with every container terminated with exit code 0, and marks the Job
    /// complete. Returns the pod.
    pub async fn run_job_pod(
        &self,
        ns: &TestNamespace,
        node: &Node,
        job: &str,
        log: &str,
    ) -> Result<Pod> {
        let pods: Api<Pod> = ns.api();
        let jobs: Api<Job> = ns.api();
        let node_name = node.name_any();
        let job_obj = jobs
            .get(job)
            .await
            .with_context(|| format!("reading Job {job}"))?;
        let wait = if controller_makes_pods(&job_obj) {
            JOB_POD_WAIT
        } else {
            Duration::ZERO
        };
        let pod = match controller_pod(&pods, job, wait).await? {
            Some(pod) => bind(&pods, pod, &node_name).await?,
            None => create_pod(&pods, &job_obj, &node_name).await?,
        };
        let pod_name = pod.name_any();
        let spec = pod.spec.clone().unwrap_or_default();
        for container in &spec.containers {
            self.set_log(ns.name(), &pod_name, &container.name, log);
        }
        let pod = mark_pod_succeeded(&pods, &pod_name, &spec).await?;
        complete_job(&jobs, job).await?;
        Ok(pod)
    }
}

/// Whether kube-controller-manager's Job controller will create pods for the Job: not while it is
/// suspended, nor when `spec.managedBy` hands it to another controller.
fn controller_makes_pods(job: &Job) -> bool {
    let spec = job.spec.as_ref();
    let suspended = spec.and_then(|s| s.suspend).unwrap_or(false);
    let managed_by = spec.and_then(|s| s.managed_by.as_deref());
    !suspended && managed_by.is_none_or(|m| m == JOB_CONTROLLER)
}

/// The newest pod of `job` that has not finished yet, waiting up to `wait` for the Job controller
/// to make one.
async fn controller_pod(pods: &Api<Pod>, job: &str, wait: Duration) -> Result<Option<Pod>> {
    let selector = ListParams::default().labels(&format!("{JOB_NAME_LABEL}={job}"));
    let deadline = Instant::now() + wait;
    loop {
        let newest = pods
            .list(&selector)
            .await
            .with_context(|| format!("listing pods of Job {job}"))?
            .items
            .into_iter()
            .filter(|p| !is_finished(p) && p.metadata.deletion_timestamp.is_none())
            .max_by_key(|p| p.creation_timestamp());
        if newest.is_some() || Instant::now() >= deadline {
            return Ok(newest);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn is_finished(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// Binds through the `binding` subresource, as the scheduler does (`spec.nodeName` cannot be
/// updated directly).
async fn bind(pods: &Api<Pod>, pod: Pod, node: &str) -> Result<Pod> {
    let name = pod.name_any();
    if let Some(bound) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
        if bound == node {
            return Ok(pod);
        }
        bail!("pod {name} is already bound to node {bound}, not {node}");
    }
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding", "metadata": { "name": name },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node },
    });
    pods.create_subresource::<_, serde_json::Value>(
        "binding",
        &name,
        &PostParams::default(),
        &binding,
    )
    .await
    .with_context(|| format!("binding pod {name} to node {node}"))?;
    Ok(pods.get(&name).await?)
}

/// A pod like the Job controller's: the template's labels (which carry the Job's selector), a
/// controller reference to the Job, already bound to `node`.
async fn create_pod(pods: &Api<Pod>, job_obj: &Job, node: &str) -> Result<Pod> {
    let job = job_obj.name_any();
    let job = job.as_str();
    let template = job_obj
        .spec
        .as_ref()
        .map(|s| s.template.clone())
        .unwrap_or_default();
    let mut labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    labels.insert(JOB_NAME_LABEL.to_owned(), job.to_owned());
    labels.insert("job-name".to_owned(), job.to_owned());
    let mut spec = template.spec.unwrap_or_default();
    spec.node_name = Some(node.to_owned());
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {
            "generateName": format!("{job}-"),
            "labels": labels,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": job_obj.uid(),
                "controller": true, "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))?;
    pods.create(&PostParams::default(), &pod)
        .await
        .with_context(|| format!("creating a pod for Job {job}"))
}

/// Reports pod `name` finished: phase Succeeded, every container terminated with exit code 0.
pub(super) async fn mark_pod_succeeded(
    pods: &Api<Pod>,
    name: &str,
    spec: &k8s_openapi::api::core::v1::PodSpec,
) -> Result<Pod> {
    let now = fixtures::now();
    let condition = |type_: &str, status: &str, reason: Option<&str>| json!({ "type": type_, "status": status, "reason": reason, "lastTransitionTime": now });
    let container_statuses: Vec<_> = spec
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "image": c.image, "imageID": "", "ready": false, "restartCount": 0,
                "started": false,
                "state": { "terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now,
                }},
            })
        })
        .collect();
    let status = json!({ "status": {
        "phase": "Succeeded",
        "hostIP": "127.0.0.1",
        "hostIPs": [{ "ip": "127.0.0.1" }],
        "startTime": now,
        "conditions": [
            condition("PodScheduled", "True", None),
            condition("Initialized", "True", Some("PodCompleted")),
            condition("ContainersReady", "False", Some("PodCompleted")),
            condition("Ready", "False", Some("PodCompleted")),
        ],
        "containerStatuses": container_statuses,
    }});
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .with_context(|| format!("marking pod {name} Succeeded"))
}

/// The Job controller may see the succeeded pod and complete the Job itself first, and a finished
/// Job's status may not be rewritten; either way the Job ends up complete.
async fn complete_job(jobs: &Api<Job>, job: &str) -> Result<()> {
    let Err(error) = fixtures::mark_job_complete(jobs, job).await else {
        return Ok(());
    };
    let current = jobs
        .get(job)
        .await
        .with_context(|| format!("reading Job {job}"))?;
    let conditions = current
        .status
        .and_then(|s| s.conditions)
        .unwrap_or_default();
    if conditions
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True")
    {
        return Ok(());
    }
    Err(error)
}
