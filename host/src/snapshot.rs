//! A snapshot of the cluster objects policies decide from, and the observation documents built
//! from it. `render` fills it from YAML files; the controllers fill it from their watch caches.
//! Gathering is the host's job; everything here is selection by namespace, name and owner, never
//! a decision.

use aim_api::kserve::InferenceService;
use aim_api::policy::OBSERVATION_API_VERSION;
use aim_api::policy::observation::{NodeLabels, RuntimeConfigs, ServiceObservation};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::{Resource, ResourceExt};

/// Objects of every kind the operator reads.
#[derive(Debug, Default, Clone)]
pub struct ClusterSnapshot {
    pub services: Vec<AIMService>,
    pub models: Vec<AIMModel>,
    pub cluster_models: Vec<AIMClusterModel>,
    pub templates: Vec<AIMServiceTemplate>,
    pub cluster_templates: Vec<AIMClusterServiceTemplate>,
    pub runtime_configs: Vec<AIMRuntimeConfig>,
    pub cluster_runtime_configs: Vec<AIMClusterRuntimeConfig>,
    pub template_caches: Vec<AIMTemplateCache>,
    pub model_caches: Vec<AIMModelCache>,
    pub nodes: Vec<Node>,
    pub inference_services: Vec<InferenceService>,
    pub http_routes: Vec<HttpRoute>,
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    pub pods: Vec<Pod>,
}

impl ClusterSnapshot {
    /// Everything the service flow may look at for `service`.
    pub fn service_observation(&self, service: &AIMService) -> ServiceObservation {
        let namespace = service.namespace().unwrap_or_default();
        let in_namespace = |ns: Option<String>| ns.as_deref() == Some(namespace.as_str());
        ServiceObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            service: service.clone(),
            runtime_configs: self
                .runtime_configs(&service.spec.runtime_config_name, Some(&namespace)),
            models: self
                .models
                .iter()
                .filter(|m| in_namespace(m.namespace()))
                .cloned()
                .collect(),
            cluster_models: self.cluster_models.clone(),
            templates: self
                .templates
                .iter()
                .filter(|t| in_namespace(t.namespace()))
                .cloned()
                .collect(),
            cluster_templates: self.cluster_templates.clone(),
            template_caches: self
                .template_caches
                .iter()
                .filter(|c| in_namespace(c.namespace()))
                .cloned()
                .collect(),
            model_caches: self
                .model_caches
                .iter()
                .filter(|c| in_namespace(c.namespace()))
                .cloned()
                .collect(),
            nodes: self.nodes.iter().map(node_labels).collect(),
            inference_services: owned_by(&self.inference_services, service),
            http_routes: owned_by(&self.http_routes, service),
            persistent_volume_claims: owned_by(&self.persistent_volume_claims, service),
            pods: self.service_pods(service),
        }
    }

    /// The runtime configs named `name` (or `default`), in `namespace` and cluster-wide.
    pub fn runtime_configs(&self, name: &str, namespace: Option<&str>) -> RuntimeConfigs {
        let name = if name.is_empty() {
            aim_api::v1alpha1::DEFAULT_RUNTIME_CONFIG_NAME
        } else {
            name
        };
        RuntimeConfigs {
            name: name.to_owned(),
            namespaced: namespace.and_then(|ns| {
                self.runtime_configs
                    .iter()
                    .find(|c| c.name_any() == name && c.namespace().as_deref() == Some(ns))
                    .cloned()
            }),
            cluster: self
                .cluster_runtime_configs
                .iter()
                .find(|c| c.name_any() == name)
                .cloned(),
        }
    }

    /// Pods of the service's InferenceServices, which KServe labels with the InferenceService name.
    fn service_pods(&self, service: &AIMService) -> Vec<Pod> {
        let isvcs: Vec<String> = owned_by(&self.inference_services, service)
            .iter()
            .map(|i| i.name_any())
            .collect();
        self.pods
            .iter()
            .filter(|pod| pod.namespace() == service.namespace())
            .filter(|pod| {
                pod.labels()
                    .get("serving.kserve.io/inferenceservice")
                    .is_some_and(|isvc| isvcs.contains(isvc))
            })
            .cloned()
            .collect()
    }
}

/// Objects with an owner reference to `owner` (by UID when known, else by kind and name).
pub fn owned_by<K: Resource + Clone, O: Resource<DynamicType = ()>>(
    objects: &[K],
    owner: &O,
) -> Vec<K> {
    let owner_uid = owner.meta().uid.clone();
    let owner_kind = O::kind(&());
    let owner_name = owner.meta().name.clone().unwrap_or_default();
    objects
        .iter()
        .filter(|object| {
            object.meta().namespace == owner.meta().namespace || owner.meta().namespace.is_none()
        })
        .filter(|object| {
            object
                .meta()
                .owner_references
                .iter()
                .flatten()
                .any(|reference| match &owner_uid {
                    Some(uid) => &reference.uid == uid,
                    None => reference.kind == owner_kind && reference.name == owner_name,
                })
        })
        .cloned()
        .collect()
}

/// A node as policies see it: its name and labels.
pub fn node_labels(node: &Node) -> NodeLabels {
    NodeLabels {
        name: node.name_any(),
        labels: node.labels().clone(),
    }
}
