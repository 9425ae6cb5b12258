//! The pods a plan creates, found by decoding each pod-bearing object into typed Kubernetes
//! objects (a `batch/v1` Job; KServe's InferenceService and (Cluster)ServingRuntime, whose specs
//! embed a pod spec), strictly: a field the decoding drops is refused, so nothing reaches the
//! apiserver unchecked. Each pod must then meet the restricted profile, run as an allowed
//! ServiceAccount (never the operator's) and pull from allowed registries.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::OutputRules;
use super::envelope::Placed;
use super::pod_security::{PlannedPod, restricted_violation};
use super::strict;

/// An InferenceService as the checks read it: the predictor is a whole pod spec (KServe inlines
/// one) with the model container beside it. Transformers, explainers and the framework-specific
/// predictors are not fields here, so a plan setting them is refused.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedInferenceService {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<CheckedInferenceServiceSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedInferenceServiceSpec {
    predictor: CheckedPredictor,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedPredictor {
    #[serde(flatten)]
    pod: PodSpec,
    #[serde(flatten)]
    scaling: ComponentScaling,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model: Option<CheckedModel>,
}

/// KServe's component extension fields: replicas, scaling and the pods' own metadata.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ComponentScaling {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale_target: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale_metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale_metric_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container_concurrency: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    canary_traffic_percent: Option<i64>,
    #[serde(flatten)]
    pod_metadata: PodMetadata,
}

/// Labels and annotations KServe puts on the pods of a component or runtime.
#[derive(Serialize, Deserialize)]
struct PodMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    annotations: Option<BTreeMap<String, String>>,
}

/// The model of a predictor: a container plus what KServe needs to find its runtime.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedModel {
    #[serde(flatten)]
    container: Container,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    model_format: Option<CheckedModelFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    runtime: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol_version: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct CheckedModelFormat {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

/// A ServingRuntime or ClusterServingRuntime as the checks read it: KServe inlines the pod
/// fields it supports into the spec, beside the runtime's own settings. Worker specs are not
/// fields here.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedServingRuntime {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spec: Option<CheckedRuntimeSpec>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedRuntimeSpec {
    #[serde(flatten)]
    pod: PodSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    supported_model_formats: Option<Vec<CheckedSupportedFormat>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multi_model: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    disabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    protocol_versions: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage_helper: Option<CheckedStorageHelper>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    http_data_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grpc_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    grpc_data_endpoint: Option<String>,
    #[serde(flatten)]
    pod_metadata: PodMetadata,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckedSupportedFormat {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    auto_select: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<i32>,
}

#[derive(Serialize, Deserialize)]
struct CheckedStorageHelper {
    disabled: bool,
}

/// The pod an object creates, once decoded.
struct Workload {
    spec: PodSpec,
    pod_context_applies: bool,
    extra_containers: Vec<Container>,
    /// Whether the pod's ServiceAccount is this object's to choose (a ServingRuntime's pods run
    /// as their InferenceService's).
    chooses_account: bool,
}

/// Checks every pod `object` creates; `Err` says why one may not be created.
pub fn check_pods(object: &Value, placed: &Placed, rules: &OutputRules) -> Result<(), String> {
    let group = placed
        .api_version
        .rsplit_once('/')
        .map_or("", |(group, _)| group);
    let Some(workload) = decode(group, &placed.kind, object)? else {
        return Ok(());
    };
    let pod = PlannedPod {
        spec: &workload.spec,
        pod_context_applies: workload.pod_context_applies,
        extra_containers: &workload.extra_containers,
    };
    if let Some(why) = restricted_violation(&pod) {
        return Err(format!("pod {why} (Pod Security \"restricted\")"));
    }
    let namespace = placed.namespace.as_deref().unwrap_or_default();
    if workload.chooses_account {
        #[allow(deprecated)]
        let account = workload
            .spec
            .service_account_name
            .as_deref()
            .or(workload.spec.service_account.as_deref())
            .unwrap_or_default();
        if let Some(why) = rules
            .pods
            .account_refused(&rules.operator_namespace, namespace, account)
        {
            return Err(format!("pod {why}"));
        }
    }
    for (what, container) in pod.containers() {
        if let Some(why) = container
            .image
            .as_deref()
            .and_then(|image| rules.pods.image_refused(image))
        {
            return Err(format!("{what}: {why}"));
        }
    }
    Ok(())
}

/// The pod of a pod-bearing kind, `None` for other kinds (or one without a spec yet).
fn decode(group: &str, kind: &str, object: &Value) -> Result<Option<Workload>, String> {
    Ok(match (group, kind) {
        ("batch", "Job") => strict::decode::<Job>(object)?
            .spec
            .and_then(|spec| spec.template.spec)
            .map(|spec| Workload {
                spec,
                pod_context_applies: true,
                extra_containers: Vec::new(),
                chooses_account: true,
            }),
        ("serving.kserve.io", "InferenceService") => {
            strict::decode::<CheckedInferenceService>(object)?
                .spec
                .map(|spec| Workload {
                    spec: spec.predictor.pod,
                    pod_context_applies: true,
                    extra_containers: spec
                        .predictor
                        .model
                        .map(|model| model.container)
                        .into_iter()
                        .collect(),
                    chooses_account: true,
                })
        }
        ("serving.kserve.io", "ServingRuntime" | "ClusterServingRuntime") => {
            strict::decode::<CheckedServingRuntime>(object)?
                .spec
                .map(|spec| Workload {
                    spec: spec.pod,
                    pod_context_applies: false,
                    extra_containers: Vec::new(),
                    chooses_account: false,
                })
        }
        _ => None,
    })
}
