//! The subset of KServe's `serving.kserve.io` objects the operator writes and reads.
//!
//! KServe publishes no Rust types, and its objects embed whole pod specs, so these carry only the
//! fields aim-engine sets or reads. Because unknown fields are dropped when deserializing, they are
//! only ever written with server-side apply, never read-modify-written.

use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements,
    SecurityContext, Volume, VolumeMount,
};
use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// Desired state of an InferenceService.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "serving.kserve.io",
    derive = "PartialEq",
    version = "v1beta1",
    kind = "InferenceService",
    namespaced,
    status = "InferenceServiceStatus",
    schema = "disabled"
)]
pub struct InferenceServiceSpec {
    /// The model server.
    pub predictor: PredictorSpec,
}

/// The predictor component of an InferenceService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PredictorSpec {
    /// Lowest number of replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Highest number of replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
    /// Service account of the predictor pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secrets to pull the images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Node affinity of the predictor pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Pod-level security settings of the predictor pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    /// The model, served by a ServingRuntime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// Volumes of the predictor pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
}

/// The model container of a predictor.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// Format of the model, matched against the runtimes' supported formats.
    pub model_format: ModelFormat,
    /// Name of the ServingRuntime or ClusterServingRuntime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// Environment of the model container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Resources of the model container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Volume mounts of the model container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_mounts: Vec<VolumeMount>,
    /// Security settings of the model container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
}

/// A model format and version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ModelFormat {
    /// Format name, `aim` for AIM images.
    pub name: String,
    /// Format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Observed state of an InferenceService, as far as aim-engine reads it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InferenceServiceStatus {
    /// The generation KServe last reconciled; its conditions are about that generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Knative-style conditions; `Ready` tells whether it serves.
    #[serde(default)]
    pub conditions: Vec<KnativeCondition>,
    /// URL it serves on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// State of the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_status: Option<ModelStatus>,
}

/// A Knative condition. Unlike `metav1.Condition`, every field but `type` and `status` may be
/// absent, so all are optional: one odd object must not break deserialization.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KnativeCondition {
    /// Condition type, e.g. `Ready`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    #[serde(default)]
    pub status: String,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Severity: empty for errors, `Warning` or `Info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
}

/// State of an InferenceService's model.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    /// Why the last attempt to load the model failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure_info: Option<FailureInfo>,
}

/// A model load failure reported by KServe.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FailureInfo {
    /// Failure reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Failure message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Desired state of a ServingRuntime or ClusterServingRuntime.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "serving.kserve.io",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "ServingRuntime",
    namespaced,
    schema = "disabled"
)]
#[serde(rename_all = "camelCase")]
pub struct ServingRuntimeSpec {
    /// Model formats this runtime serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub supported_model_formats: Vec<SupportedModelFormat>,
    /// The model server containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<Container>,
    /// Volumes of the model server pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Secrets to pull the images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// KServe's storage initializer; AIM images download their own models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_helper: Option<StorageHelper>,
}

/// The cluster-scoped twin of [`ServingRuntime`], with the same spec.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "serving.kserve.io",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "ClusterServingRuntime",
    schema = "disabled"
)]
pub struct ClusterServingRuntimeSpec {
    /// Same fields as a ServingRuntime.
    #[serde(flatten)]
    pub runtime: ServingRuntimeSpec,
}

/// A model format a runtime supports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SupportedModelFormat {
    /// Format name.
    pub name: String,
    /// Format version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether KServe may pick this runtime automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_select: Option<bool>,
}

/// Storage initializer settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageHelper {
    /// Disable the storage initializer.
    pub disabled: bool,
}
