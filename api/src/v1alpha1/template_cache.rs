//! AIMTemplateCache: downloads every model source of a template into model caches.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{
    AIMCacheStatus, AIMModelSource, AIMResolvedModelCache, AIMResolvedReference,
    default_runtime_config_name,
};

/// Desired state of a template cache.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMTemplateCache",
    namespaced,
    status = "AIMTemplateCacheStatus",
    shortname = "aimtc",
    category = "aim",
    category = "all",
    printcolumn(name = "Template", type_ = "string", json_path = ".spec.templateRef"),
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(
        name = "Kind",
        type_ = "string",
        json_path = ".status.resolvedTemplateKind"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMTemplateCacheSpec {
    /// Template whose models are cached: an AIMServiceTemplate in this namespace, else an
    /// AIMClusterServiceTemplate.
    #[schemars(length(min = 1))]
    pub template_ref: String,
    /// Environment variables for the download jobs (e.g. HF_TOKEN).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
    /// Secrets to pull the download image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Storage class of the cache volumes; empty uses the runtime config's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// Image that downloads the models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_image: Option<String>,
    /// Model sources to cache; normally read from the template's status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_sources: Vec<AIMModelSource>,
    /// Runtime config consulted for defaults.
    #[serde(default = "default_runtime_config_name")]
    pub runtime_config_name: String,
}

/// Observed state of a template cache.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMTemplateCacheStatus {
    /// Most recent generation observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The runtime config in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_runtime_config: Option<AIMResolvedReference>,
    /// Overall state, the worst of its model caches: Pending, Progressing, Available or Failed.
    #[serde(default)]
    pub status: AIMCacheStatus,
    /// Kind of the template resolved (AIMServiceTemplate or AIMClusterServiceTemplate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_template_kind: Option<String>,
    /// Model caches, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_caches: BTreeMap<String, AIMResolvedModelCache>,
}
