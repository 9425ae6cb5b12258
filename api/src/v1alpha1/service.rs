//! AIMService: the user's request for an inference endpoint, turned by the operator into a KServe
//! InferenceService, an HTTPRoute and caches.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::common::{
    AIMResolvedModelCache, AIMResolvedReference, AIMRuntimeParameters, default_runtime_config_name,
};
use crate::conditions::AIMServiceStatusEnum;

/// Desired state of an AIMService.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "aim.silogen.ai",
    derive = "PartialEq",
    version = "v1alpha1",
    kind = "AIMService",
    namespaced,
    status = "AIMServiceStatus",
    shortname = "aimsvc",
    category = "aim",
    category = "all",
    printcolumn(name = "Status", type_ = "string", json_path = ".status.status"),
    printcolumn(
        name = "Model",
        type_ = "string",
        json_path = ".status.resolvedImage.name"
    ),
    printcolumn(
        name = "Template",
        type_ = "string",
        json_path = ".status.resolvedTemplate.name"
    ),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceSpec {
    /// The model to serve: a reference to an AIMModel/AIMClusterModel, or an AIM image.
    pub model: AIMServiceModel,
    /// Name of an AIMServiceTemplate (namespace first) or AIMClusterServiceTemplate; omitted means
    /// the best available template for the model is selected automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_ref: Option<String>,
    /// Pre-download the model into persistent caches and wait for them before starting.
    #[serde(default)]
    pub cache_model: bool,
    /// Number of inference replicas.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Name of the AIMRuntimeConfig (namespace) or AIMClusterRuntimeConfig providing defaults.
    #[serde(default = "default_runtime_config_name")]
    pub runtime_config_name: String,
    /// Compute resources of the inference container; these take precedence over the template's
    /// and the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Runtime parameters that override the template's; a template with them is derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<AIMRuntimeParameters>,
    /// Environment variables for the inference container (e.g. HF_TOKEN from a Secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["name".into()]))]
    pub env: Vec<EnvVar>,
    /// Secrets used to pull the model image from private registries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Service account of the inference pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// HTTP routing through the Gateway API; unset fields inherit from the runtime config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<AIMServiceRouting>,
}

fn default_replicas() -> i32 {
    1
}

/// Which model a service serves: exactly one of `ref` or `image`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.ref), has(self.image)].filter(x, x).size() == 1").message("exactly one of ref or image must be specified"))]
pub struct AIMServiceModel {
    /// Name of an AIMModel in the service's namespace, or of an AIMClusterModel.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// AIM container image; a model with this image is used, or created when none exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// HTTP routing of a service through a Gateway API HTTPRoute.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceRouting {
    /// Create an HTTPRoute; unset inherits the runtime config's setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The Gateway the HTTPRoute attaches to; its namespace defaults to the service's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_ref: Option<gateway_api::apis::standard::httproutes::HttpRouteParentRefs>,
    /// Annotations added to the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Route path template with JSONPath expressions in braces, e.g.
    /// `/{.metadata.namespace}/chat/{.metadata.name}`. The result is lowercased, sanitised per
    /// segment and limited to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_template: Option<String>,
    /// Request timeout of the route, as a duration such as `30s` or `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<String>,
}

/// Observed state of an AIMService.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceStatus {
    /// Most recent generation observed by the controller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Detailed conditions: Resolved, CacheReady, RuntimeReady, RoutingReady, Ready, Progressing,
    /// Failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Overall state: Pending, Starting, Running, Degraded or Failed.
    #[serde(default)]
    pub status: AIMServiceStatusEnum,
    /// The runtime config in force, with a hash of its spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_runtime_config: Option<AIMResolvedReference>,
    /// The AIMModel or AIMClusterModel served.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_image: Option<AIMResolvedReference>,
    /// The template selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_template: Option<AIMResolvedReference>,
    /// The AIMTemplateCache used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_template_cache: Option<AIMResolvedReference>,
    /// Observed routing, including the rendered path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<AIMServiceRoutingStatus>,
    /// Model caches mounted into the service, by cache name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_caches: BTreeMap<String, AIMResolvedModelCache>,
}

/// Observed routing of a service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AIMServiceRoutingStatus {
    /// The rendered HTTP path prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}
