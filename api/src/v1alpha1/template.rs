//! AIMServiceTemplate and AIMClusterServiceTemplate: a runtime profile for a model (GPU, metric,
//! precision), discovered by running the image in dry-run mode.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    AIMModelSource, AIMResolvedReference, AIMRuntimeParameters, default_runtime_config_name,
};
use crate::conditions::AIMTemplateStatusEnum;

/// Spec shared by AIMServiceTemplate and AIMClusterServiceTemplate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceTemplateSpecCommon {
    /// Name of the AIMModel or AIMClusterModel this template runs.
    #[schemars(length(min = 1))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("model name is immutable"))]
    pub model_name: String,
    /// Metric, precision and GPUs of the profile.
    #[serde(flatten)]
    pub runtime: AIMRuntimeParameters,
    /// Runtime config consulted for defaults.
    #[serde(default = "default_runtime_config_name")]
    pub runtime_config_name: String,
    /// Secrets to pull the model image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Service account of discovery jobs and inference pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Default resources of services using this template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Model sources given in-line; discovery is skipped when set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_sources: Vec<AIMModelSource>,
}

/// A namespaced service template.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMServiceTemplate",
    namespaced,
    status = "AIMServiceTemplateStatus",
    shortname = "aimst",
    category = "aim",
    category = "all",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(name = "Model", type_ = "string", json_path = ".spec.modelName"),
    printcolumn(
        name = "Engine",
        type_ = "string",
        json_path = ".status.profile.metadata.engine"
    ),
    printcolumn(
        name = "Metric",
        type_ = "string",
        json_path = ".status.profile.metadata.metric"
    ),
    printcolumn(
        name = "Precision",
        type_ = "string",
        json_path = ".status.profile.metadata.precision"
    ),
    printcolumn(
        name = "GPUs/replica",
        type_ = "integer",
        json_path = ".status.profile.metadata.gpu_count"
    ),
    printcolumn(
        name = "GPU",
        type_ = "string",
        json_path = ".status.profile.metadata.gpu"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceTemplateSpec {
    /// Fields shared with AIMClusterServiceTemplate.
    #[serde(flatten)]
    pub common: AIMServiceTemplateSpecCommon,
    /// Pre-download this template's models into caches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching: Option<AIMTemplateCaching>,
    /// Environment variables for the discovery job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
}

/// A cluster-wide service template.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMClusterServiceTemplate",
    status = "AIMServiceTemplateStatus",
    shortname = "aimclst",
    category = "aim",
    category = "all",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(
        name = "Engine",
        type_ = "string",
        json_path = ".status.profile.metadata.engine"
    ),
    printcolumn(
        name = "Metric",
        type_ = "string",
        json_path = ".status.profile.metadata.metric"
    ),
    printcolumn(
        name = "Precision",
        type_ = "string",
        json_path = ".status.profile.metadata.precision"
    ),
    printcolumn(
        name = "GPUs/replica",
        type_ = "integer",
        json_path = ".status.profile.metadata.gpu_count"
    ),
    printcolumn(
        name = "GPU",
        type_ = "string",
        json_path = ".status.profile.metadata.gpu"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct AIMClusterServiceTemplateSpec {
    /// Fields shared with AIMServiceTemplate.
    #[serde(flatten)]
    pub common: AIMServiceTemplateSpecCommon,
}

/// Caching of a template's models.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMTemplateCaching {
    /// Create an AIMTemplateCache once the template is Ready.
    #[serde(default)]
    pub enabled: bool,
    /// Environment variables for the download jobs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
}

/// Observed state of a service template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceTemplateStatus {
    /// Most recent generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: Discovered, Ready, Progressing, Failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The runtime config in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_runtime_config: Option<AIMResolvedReference>,
    /// The model this template runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_model: Option<AIMResolvedReference>,
    /// Overall state: Pending, Progressing, NotAvailable, Ready, Degraded or Failed.
    #[serde(default)]
    pub status: AIMTemplateStatusEnum,
    /// Model files the profile needs, from discovery or the spec.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_sources: Vec<AIMModelSource>,
    /// The runtime profile: what discovery found or, until then and for in-line model sources,
    /// what the spec declares (metric, precision, GPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<AIMProfile>,
}

/// A runtime profile reported by the image's dry run.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AIMProfile {
    /// Engine arguments, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
    pub engine_args: Option<serde_json::Map<String, serde_json::Value>>,
    /// Environment variables the profile sets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env_vars: BTreeMap<String, String>,
    /// What the profile runs on.
    #[serde(default)]
    pub metadata: AIMProfileMetadata,
}

/// What a runtime profile runs on.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct AIMProfileMetadata {
    /// Inference engine, e.g. `vllm`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub engine: String,
    /// GPU model, e.g. `MI300X`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gpu: String,
    /// GPUs per replica.
    #[serde(default)]
    pub gpu_count: i32,
    /// Optimisation goal.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    /// Precision.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub precision: String,
}
