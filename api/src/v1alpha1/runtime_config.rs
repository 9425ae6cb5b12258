//! AIMRuntimeConfig and AIMClusterRuntimeConfig: defaults for services, models and caches.
//! A namespace config replaces the cluster config of the same name entirely; fields never merge.

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Spec shared by AIMRuntimeConfig and AIMClusterRuntimeConfig.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeConfigCommon {
    /// Storage class for caches when caching is requested without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_storage_class_name: Option<String>,
    /// How models are created from `spec.model.image` of services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AIMRuntimeConfigModel>,
    /// Routing defaults for services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<AIMRuntimeConfigRouting>,
    /// Extra space, in percent of the model size, given to cache volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub pvc_headroom_percent: Option<i32>,
    /// The AIMPolicy that decides for objects using this config; the embedded default policy
    /// when unset. An object name, so at most 253 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub policy_name: Option<String>,
}

/// Default extra space of cache volumes, in percent.
pub const DEFAULT_PVC_HEADROOM_PERCENT: i32 = 10;

/// Scope of models created automatically from a service's image.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum AIMModelCreationScope {
    /// Create an AIMClusterModel, shared by every namespace.
    #[default]
    Cluster,
    /// Create an AIMModel in the service's namespace.
    Namespace,
}

fn default_true() -> Option<bool> {
    Some(true)
}

/// Model creation settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeConfigModel {
    /// Whether models created from an image are cluster-scoped or namespace-scoped.
    #[serde(default)]
    pub creation_scope: AIMModelCreationScope,
    /// Inspect images and generate templates for models that don't say otherwise.
    #[serde(default = "default_true", skip_serializing_if = "Option::is_none")]
    pub auto_discovery: Option<bool>,
}

impl Default for AIMRuntimeConfigModel {
    fn default() -> Self {
        Self {
            creation_scope: AIMModelCreationScope::default(),
            auto_discovery: default_true(),
        }
    }
}

/// Routing defaults.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeConfigRouting {
    /// Create HTTPRoutes for services that don't say otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The Gateway HTTPRoutes attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ref: Option<gateway_api::apis::standard::httproutes::HttpRouteParentRefs>,
    /// Path template for services without one, e.g. `/{.metadata.namespace}/{.metadata.name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_template: Option<String>,
    /// Request timeout of routes, as a duration such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<String>,
}

/// Namespaced runtime configuration; it may carry credentials.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMRuntimeConfig",
    namespaced,
    status = "AIMRuntimeConfigStatus",
    shortname = "aimrcfg",
    category = "aim",
    category = "all",
    printcolumn(
        name = "ServiceAccount",
        type_ = "string",
        json_path = ".spec.serviceAccountName"
    ),
    printcolumn(
        name = "DefaultStorageClass",
        type_ = "string",
        json_path = ".spec.defaultStorageClassName"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeConfigSpec {
    /// Fields shared with AIMClusterRuntimeConfig.
    #[serde(flatten)]
    pub common: AIMRuntimeConfigCommon,
    /// Service account for discovery jobs and supporting pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Secrets for pulling private images, added to every pod the operator creates here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
}

/// Cluster-wide runtime configuration, without credentials.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMClusterRuntimeConfig",
    status = "AIMRuntimeConfigStatus",
    shortname = "aimcrcfg",
    category = "aim",
    category = "all",
    printcolumn(
        name = "DefaultStorageClass",
        type_ = "string",
        json_path = ".spec.defaultStorageClassName"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct AIMClusterRuntimeConfigSpec {
    /// Fields shared with AIMRuntimeConfig.
    #[serde(flatten)]
    pub common: AIMRuntimeConfigCommon,
}

/// Observed state of a runtime config.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMRuntimeConfigStatus {
    /// Most recent generation observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}
