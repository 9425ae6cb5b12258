//! Observations: everything a policy may base a decision on, gathered by the host from the
//! cluster. A policy never calls the cluster; what it needs is here.

use std::collections::BTreeMap;

use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::kserve::{ClusterServingRuntime, InferenceService, ServingRuntime};
use crate::policy::plan::ObjectReference;
use crate::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};

/// The runtime configs of the requested name: the namespace one (if the subject is namespaced and
/// it exists) and the cluster one. Which is in force is the policy's decision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfigs {
    /// The name that was looked up (`default` when none was given).
    pub name: String,
    /// AIMRuntimeConfig of that name in the subject's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaced: Option<AIMRuntimeConfig>,
    /// AIMClusterRuntimeConfig of that name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<AIMClusterRuntimeConfig>,
}

/// The labels of one Node: GPUs are known only from them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeLabels {
    /// Node name.
    pub name: String,
    /// All labels of the node.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// What the host knows about one AIMService and everything it may depend on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceObservation {
    /// Always [`super::OBSERVATION_API_VERSION`].
    pub api_version: String,
    /// The service being reconciled.
    pub service: AIMService,
    /// Runtime configs named by the service (or `default`).
    pub runtime_configs: RuntimeConfigs,
    /// AIMModels in the service's namespace.
    #[serde(default)]
    pub models: Vec<AIMModel>,
    /// All AIMClusterModels.
    #[serde(default)]
    pub cluster_models: Vec<AIMClusterModel>,
    /// AIMServiceTemplates in the service's namespace.
    #[serde(default)]
    pub templates: Vec<AIMServiceTemplate>,
    /// All AIMClusterServiceTemplates.
    #[serde(default)]
    pub cluster_templates: Vec<AIMClusterServiceTemplate>,
    /// AIMTemplateCaches in the service's namespace.
    #[serde(default)]
    pub template_caches: Vec<AIMTemplateCache>,
    /// AIMModelCaches in the service's namespace.
    #[serde(default)]
    pub model_caches: Vec<AIMModelCache>,
    /// Labels of every node.
    #[serde(default)]
    pub nodes: Vec<NodeLabels>,
    /// InferenceServices owned by the service: metadata and status (their spec is what the plan
    /// says, and is not observed).
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub inference_services: Vec<InferenceService>,
    /// HTTPRoutes owned by the service.
    #[serde(default)]
    pub http_routes: Vec<HttpRoute>,
    /// PersistentVolumeClaims owned by the service.
    #[serde(default)]
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    /// Pods of the service's InferenceServices: metadata and status (no spec).
    #[serde(default)]
    pub pods: Vec<Pod>,
}

/// What the host knows about one template, namespaced or cluster-scoped.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateObservation {
    /// Always [`super::OBSERVATION_API_VERSION`].
    pub api_version: String,
    /// The namespace template being reconciled (exactly one of this and `clusterTemplate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<AIMServiceTemplate>,
    /// The cluster template being reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_template: Option<AIMClusterServiceTemplate>,
    /// The operator's namespace.
    pub operator_namespace: String,
    /// Where the template's discovery Jobs run, and whose runtime config, ServiceAccounts and pull
    /// Secrets they use: a namespace template's own namespace; for a cluster template, the
    /// `requestingNamespace` of its AIMClusterModel, else the operator's namespace. Empty in
    /// documents from hosts that predate it: read it as `operatorNamespace`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub work_namespace: String,
    /// Runtime configs named by the template, looked up in `workNamespace`.
    pub runtime_configs: RuntimeConfigs,
    /// The AIMModel of the template's `modelName` in its namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AIMModel>,
    /// The AIMClusterModel of the template's `modelName`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_model: Option<AIMClusterModel>,
    /// Labels of every node.
    #[serde(default)]
    pub nodes: Vec<NodeLabels>,
    /// Discovery Jobs owned by the template.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Pods of those Jobs: metadata and status (no spec).
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// Output of the discovery Job the plan asked for (`readDiscoveryLog`), read from its pod's
    /// log; absent until a plan asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_log: Option<String>,
    /// Discovery Jobs of any template still running in the cluster.
    #[serde(default)]
    pub active_discovery_jobs: u32,
    /// Of those, the ones running in `workNamespace`.
    #[serde(default)]
    pub active_discovery_jobs_in_namespace: u32,
    /// Namespaces with at least one running discovery Job, `workNamespace` counted even when it
    /// has none: the fair share of each is the cap divided by this.
    #[serde(default)]
    pub discovery_namespaces: u32,
    /// ServingRuntimes owned by the template.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub serving_runtimes: Vec<ServingRuntime>,
    /// ClusterServingRuntimes owned by the template.
    #[serde(default)]
    #[schemars(with = "Vec<serde_json::Value>")]
    pub cluster_serving_runtimes: Vec<ClusterServingRuntime>,
    /// AIMTemplateCaches in the template's namespace.
    #[serde(default)]
    pub template_caches: Vec<AIMTemplateCache>,
}

/// Labels of an image, read from its registry by the host when a plan asks for them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageInspection {
    /// The image inspected.
    pub image: String,
    /// Its labels, when the registry answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Why the registry did not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RegistryError>,
}

/// A registry failure, classified by the host from the registry's status code.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryError {
    /// What kind of failure it was.
    pub kind: RegistryErrorKind,
    /// The registry's message.
    pub message: String,
}

/// Kinds of registry failure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RegistryErrorKind {
    /// Credentials missing or refused.
    Auth,
    /// The image or tag does not exist.
    NotFound,
    /// Anything else (network, server error).
    Other,
}

/// What the host knows about one model, namespaced or cluster-scoped.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelObservation {
    /// Always [`super::OBSERVATION_API_VERSION`].
    pub api_version: String,
    /// The namespace model being reconciled (exactly one of this and `clusterModel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<AIMModel>,
    /// The cluster model being reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_model: Option<AIMClusterModel>,
    /// Runtime configs named by the model.
    pub runtime_configs: RuntimeConfigs,
    /// Result of inspecting the model's image, once the host has done it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_inspection: Option<ImageInspection>,
    /// Namespace templates owned by the model.
    #[serde(default)]
    pub templates: Vec<AIMServiceTemplate>,
    /// Cluster templates owned by the model.
    #[serde(default)]
    pub cluster_templates: Vec<AIMClusterServiceTemplate>,
    /// What uses the model: services that resolved to it or name it, services of a cluster
    /// model's requesting namespace that ask for its image, and templates it does not own that
    /// name it. An auto-created cluster model nothing uses is collected.
    #[serde(default)]
    pub users: Vec<ObjectReference>,
}

/// What the host knows about one template cache.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateCacheObservation {
    /// Always [`super::OBSERVATION_API_VERSION`].
    pub api_version: String,
    /// The template cache being reconciled.
    pub template_cache: AIMTemplateCache,
    /// AIMServiceTemplate named by `spec.templateRef` in the cache's namespace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<AIMServiceTemplate>,
    /// AIMClusterServiceTemplate named by `spec.templateRef`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_template: Option<AIMClusterServiceTemplate>,
    /// AIMModelCaches in the cache's namespace.
    #[serde(default)]
    pub model_caches: Vec<AIMModelCache>,
}

/// What the host knows about one model cache.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelCacheObservation {
    /// Always [`super::OBSERVATION_API_VERSION`].
    pub api_version: String,
    /// The model cache being reconciled.
    pub model_cache: AIMModelCache,
    /// Runtime configs named by the cache.
    pub runtime_configs: RuntimeConfigs,
    /// PersistentVolumeClaims owned by the cache.
    #[serde(default)]
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    /// Volume binding mode of the storage class the claim uses (`WaitForFirstConsumer` lets the
    /// download start before the claim is bound), when the host knows it already or the plan
    /// asked for it (`readBindingMode`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_binding_mode: Option<String>,
    /// Download Jobs owned by the cache.
    #[serde(default)]
    pub jobs: Vec<Job>,
}

impl TemplateObservation {
    /// Where the template's discovery Jobs run (the `workNamespace` field), falling back to the
    /// operator's namespace for documents without it.
    pub fn work_namespace(&self) -> &str {
        if self.work_namespace.is_empty() {
            &self.operator_namespace
        } else {
            &self.work_namespace
        }
    }
}

impl RuntimeConfigs {
    /// The AIMPolicy named by the config in force (the namespace one replaces the cluster one
    /// entirely). This is the one choice the host makes before any policy runs: which policy
    /// decides.
    pub fn policy_name(&self) -> Option<&str> {
        match &self.namespaced {
            Some(config) => config.spec.common.policy_name.as_deref(),
            None => self
                .cluster
                .as_ref()
                .and_then(|config| config.spec.common.policy_name.as_deref()),
        }
    }
}

/// An observation document, with the runtime configs it looked up (none for template caches).
pub trait Observation: Serialize {
    fn runtime_configs(&self) -> Option<&RuntimeConfigs>;
}

macro_rules! observation_with_runtime_configs {
    ($($kind:ty),*) => {$(
        impl Observation for $kind {
            fn runtime_configs(&self) -> Option<&RuntimeConfigs> {
                Some(&self.runtime_configs)
            }
        }
    )*};
}

observation_with_runtime_configs!(
    ServiceObservation,
    TemplateObservation,
    ModelObservation,
    ModelCacheObservation
);

impl Observation for TemplateCacheObservation {
    fn runtime_configs(&self) -> Option<&RuntimeConfigs> {
        None
    }
}
