//! AIMModelCache: one model's files downloaded into a PersistentVolumeClaim.

use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{AIMCacheStatus, default_runtime_config_name};

/// The default image that downloads models.
pub const DEFAULT_MODEL_DOWNLOAD_IMAGE: &str = "kserve/storage-initializer:v0.16.0-rc0";

fn default_model_download_image() -> String {
    DEFAULT_MODEL_DOWNLOAD_IMAGE.to_owned()
}

/// Desired state of a model cache.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMModelCache",
    namespaced,
    status = "AIMModelCacheStatus",
    shortname = "aimmc",
    category = "aim",
    category = "all",
    printcolumn(name = "Cache Size", type_ = "string", json_path = ".spec.size"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(
        name = "PVC",
        type_ = "string",
        json_path = ".status.persistentVolumeClaim"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelCacheSpec {
    /// Where to download from: `hf://org/model` or `s3://bucket/path`.
    #[schemars(length(min = 1), regex(pattern = r"^(hf|s3)://[^ \t\r\n]+$"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("sourceUri is immutable"))]
    pub source_uri: String,
    /// Storage class of the volume; empty uses the runtime config's default, then the cluster's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Size of the model files; the volume gets the runtime config's headroom on top.
    pub size: Quantity,
    /// Environment variables for the download job (e.g. HF_TOKEN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
    /// Image that downloads the model.
    #[serde(default = "default_model_download_image")]
    pub model_download_image: String,
    /// Secrets to pull the download image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Runtime config consulted for defaults.
    #[serde(default = "default_runtime_config_name")]
    pub runtime_config_name: String,
}

/// Observed state of a model cache.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMModelCacheStatus {
    /// Most recent generation observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions: StorageReady, Ready, Progressing, Failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Overall state: Pending, Progressing, Available or Failed.
    #[serde(default)]
    pub status: AIMCacheStatus,
    /// When a service last used the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<Time>,
    /// PersistentVolumeClaim holding the files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<String>,
}
