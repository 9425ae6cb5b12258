//! Helper types shared by several kinds: runtime parameters, GPU selectors, model sources and the
//! references a status uses to say what it resolved.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether a resolved object lives in a namespace or in the cluster scope.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AIMResolutionScope {
    /// A namespaced object (AIMModel, AIMServiceTemplate, AIMRuntimeConfig, ...).
    Namespace,
    /// A cluster-scoped object (AIMClusterModel, AIMClusterServiceTemplate, ...).
    Cluster,
    /// Values merged from both scopes.
    Merged,
    /// The scope could not be determined.
    Unknown,
}

/// Points at the object a controller resolved a reference to, so users can see what is in force.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMResolvedReference {
    /// Name of the resolved object.
    pub name: String,
    /// Namespace of the resolved object; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Scope the object was resolved from.
    pub scope: AIMResolutionScope,
    /// `group/version/Kind` of the resolved object, e.g. `aim.silogen.ai/v1alpha1/AIMModel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// UID of the resolved object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Hex SHA-256 of the canonical JSON of the resolved spec, so a change of the config in force
    /// is visible even when its name stays the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// Optimisation goal of a runtime profile.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AIMMetric {
    /// Lowest time per request, for interactive workloads.
    Latency,
    /// Most tokens per second, for batch workloads.
    Throughput,
}

/// Numeric precision of the model weights a profile runs with.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AIMPrecision {
    /// Let the image choose.
    Auto,
    /// 4-bit floating point.
    Fp4,
    /// 8-bit floating point.
    Fp8,
    /// 16-bit floating point.
    Fp16,
    /// 32-bit floating point.
    Fp32,
    /// 16-bit brain floating point.
    Bf16,
    /// 4-bit integer.
    Int4,
    /// 8-bit integer.
    Int8,
}

/// The default GPU resource name requested from the kubelet.
pub const DEFAULT_GPU_RESOURCE_NAME: &str = "amd.com/gpu";

fn default_gpu_resource_name() -> String {
    DEFAULT_GPU_RESOURCE_NAME.to_owned()
}

/// Which GPUs, and how many, a runtime profile needs per replica.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMGpuSelector {
    /// Number of GPUs per replica.
    #[schemars(range(min = 1))]
    pub count: i32,
    /// GPU model, e.g. `MI300X`; matched against GPU models found in node labels.
    #[schemars(length(min = 1))]
    pub model: String,
    /// Extended resource name the GPUs are requested under.
    #[serde(default = "default_gpu_resource_name")]
    pub resource_name: String,
}

/// Runtime parameters that select a profile: optimisation goal, precision and GPUs. Each is
/// immutable once set, because changing it means a different template.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeParameters {
    /// Optimisation goal: `latency` for interactive workloads, `throughput` for batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("metric is immutable"))]
    pub metric: Option<AIMMetric>,
    /// Numeric precision of the weights: auto, fp4, fp8, fp16, fp32, bf16, int4 or int8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("precision is immutable"))]
    pub precision: Option<AIMPrecision>,
    /// GPU model and count per replica.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("gpuSelector is immutable"))]
    pub gpu_selector: Option<AIMGpuSelector>,
}

impl AIMRuntimeParameters {
    /// True when no parameter is set.
    pub fn is_empty(&self) -> bool {
        self.metric.is_none() && self.precision.is_none() && self.gpu_selector.is_none()
    }
}

/// A model artifact to download and mount: where it comes from and how big it is.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelSource {
    /// Name of the model, e.g. `amd/Llama-3.1-8B-Instruct-FP8-KV`; also the mount sub-path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where to download the model from: `hf://org/model` or `s3://bucket/path`.
    #[schemars(regex(pattern = r"^(hf|s3)://[^ \t\r\n]+$"))]
    pub source_uri: String,
    /// Size of the model files.
    pub size: Quantity,
}

/// Lifecycle of a model cache or template cache.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum AIMCacheStatus {
    /// Nothing has been done yet.
    #[default]
    Pending,
    /// Storage is being provisioned or the download is running.
    Progressing,
    /// The artifacts are downloaded and ready to mount.
    Available,
    /// The download or the storage failed.
    Failed,
}

/// A model cache a template cache or service relies on, as seen in its status.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMResolvedModelCache {
    /// UID of the AIMModelCache.
    pub uid: String,
    /// Name of the AIMModelCache.
    pub name: String,
    /// Name of the model source it holds.
    pub model: String,
    /// Status of the AIMModelCache.
    pub status: AIMCacheStatus,
    /// PersistentVolumeClaim holding the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<String>,
    /// Where the files are mounted in the inference container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_point: Option<String>,
}

pub(crate) fn default_runtime_config_name() -> String {
    crate::v1alpha1::DEFAULT_RUNTIME_CONFIG_NAME.to_owned()
}

/// Name of the runtime config used when none is named.
pub const DEFAULT_RUNTIME_CONFIG_NAME: &str = "default";
