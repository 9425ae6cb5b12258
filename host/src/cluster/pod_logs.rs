//! A discovery Job's result: the log of the `discovery` container of the Job's newest succeeded pod,
//! read through the Kubernetes logs API (the apiserver proxies it from the pod's kubelet).

use futures::AsyncReadExt as _;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, ResourceExt as _};

/// The container the discovery Job runs the model image's `dry-run` in.
pub const DISCOVERY_CONTAINER: &str = "discovery";

/// The most of a log that is read: a discovery result is a few KiB, and a runaway image must not
/// make the operator buffer an unbounded log.
pub const MAX_LOG_BYTES: usize = 1024 * 1024;

/// Labels the Job controller puts on its pods; the unprefixed one is all that older pods carry.
const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// The `discovery` container log of the newest succeeded pod of `job`, at most
/// [`MAX_LOG_BYTES`] (invalid UTF-8 replaced). `None` when the Job has no succeeded pod (yet, or
/// any more). Only pods the Job controls count: anyone who may create pods in the namespace may
/// label one with the Job's name, but not make the Job its controller.
pub async fn discovery_log(
    client: &Client,
    namespace: &str,
    job: &Job,
) -> Result<Option<String>, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let Some(pod) = newest_succeeded_pod(&pods, job).await? else {
        return Ok(None);
    };
    let params = LogParams {
        container: Some(DISCOVERY_CONTAINER.to_owned()),
        // Asked of the kubelet, and enforced again below in case it does not honour it.
        limit_bytes: i64::try_from(MAX_LOG_BYTES).ok(),
        ..LogParams::default()
    };
    let mut bytes = Vec::new();
    pods.log_stream(&pod.name_any(), &params)
        .await?
        .take(MAX_LOG_BYTES as u64)
        .read_to_end(&mut bytes)
        .await
        .map_err(kube::Error::ReadEvents)?;
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

async fn newest_succeeded_pod(pods: &Api<Pod>, job: &Job) -> Result<Option<Pod>, kube::Error> {
    let job_name = job.name_any();
    let Some(job_uid) = job.metadata.uid.as_deref() else {
        return Ok(None);
    };
    for label in JOB_NAME_LABELS {
        let selector = ListParams::default().labels(&format!("{label}={job_name}"));
        let newest = pods
            .list(&selector)
            .await?
            .items
            .into_iter()
            .filter(|pod| controlled_by(pod, job_uid))
            .filter(is_succeeded)
            // Name breaks ties between pods created within the same second.
            .max_by(|a, b| {
                (a.creation_timestamp(), a.name_any()).cmp(&(b.creation_timestamp(), b.name_any()))
            });
        if newest.is_some() {
            return Ok(newest);
        }
    }
    Ok(None)
}

fn controlled_by(pod: &Pod, uid: &str) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|owner| owner.controller == Some(true) && owner.kind == "Job" && owner.uid == uid)
}

fn is_succeeded(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|phase| phase == "Succeeded")
}
