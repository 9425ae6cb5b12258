//! A snapshot of the cluster objects policies decide from, and the observation documents built
//! from it. `render` fills it from YAML files; the controllers fill it from their watch caches.
//! Gathering is the host's job; everything here is selection by namespace, name and owner, never
//! a decision.

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::policy::OBSERVATION_API_VERSION;
use aim_api::policy::observation::{
    ImageInspection, ModelCacheObservation, ModelObservation, NodeLabels, RuntimeConfigs,
    ServiceObservation, TemplateCacheObservation, TemplateObservation,
};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
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
    pub jobs: Vec<Job>,
    pub serving_runtimes: Vec<ServingRuntime>,
    pub cluster_serving_runtimes: Vec<ClusterServingRuntime>,
    /// Discovery Jobs still running anywhere in the cluster (the cap on concurrent discovery).
    pub active_discovery_jobs: u32,
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

    /// Everything the template flow may look at; `template` or `cluster_template` is the subject.
    pub fn template_observation(
        &self,
        subject: Scoped<'_, AIMServiceTemplate, AIMClusterServiceTemplate>,
        operator_namespace: &str,
        discovery_log: Option<String>,
    ) -> TemplateObservation {
        let (template, cluster_template) = subject.split();
        let (common, namespace, jobs) = match subject {
            Scoped::Namespaced(t) => (&t.spec.common, t.namespace(), owned_by(&self.jobs, t)),
            Scoped::Cluster(t) => (&t.spec.common, None, owned_by(&self.jobs, t)),
        };
        let config_namespace = namespace
            .clone()
            .unwrap_or_else(|| operator_namespace.to_owned());
        let job_names: Vec<String> = jobs.iter().map(|j| j.name_any()).collect();
        TemplateObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            template: template.cloned(),
            cluster_template: cluster_template.cloned(),
            operator_namespace: operator_namespace.to_owned(),
            runtime_configs: self
                .runtime_configs(&common.runtime_config_name, Some(&config_namespace)),
            model: namespace.as_ref().and_then(|ns| {
                self.models
                    .iter()
                    .find(|m| {
                        m.name_any() == common.model_name && m.namespace().as_ref() == Some(ns)
                    })
                    .cloned()
            }),
            cluster_model: self
                .cluster_models
                .iter()
                .find(|m| m.name_any() == common.model_name)
                .cloned(),
            nodes: self.nodes.iter().map(node_labels).collect(),
            pods: self
                .pods
                .iter()
                .filter(|p| job_of(p).is_some_and(|job| job_names.iter().any(|name| name == job)))
                .cloned()
                .collect(),
            jobs,
            discovery_log,
            active_discovery_jobs: self.active_discovery_jobs,
            serving_runtimes: match template {
                Some(t) => owned_by(&self.serving_runtimes, t),
                None => Vec::new(),
            },
            cluster_serving_runtimes: match cluster_template {
                Some(t) => owned_by(&self.cluster_serving_runtimes, t),
                None => Vec::new(),
            },
            template_caches: self
                .template_caches
                .iter()
                .filter(|c| c.namespace() == namespace && namespace.is_some())
                .cloned()
                .collect(),
        }
    }

    /// Everything the model flow may look at; `model` or `cluster_model` is the subject.
    pub fn model_observation(
        &self,
        subject: Scoped<'_, AIMModel, AIMClusterModel>,
        operator_namespace: &str,
        image_inspection: Option<ImageInspection>,
    ) -> ModelObservation {
        let (model, cluster_model) = subject.split();
        let (common, namespace) = match subject {
            Scoped::Namespaced(m) => (&m.spec.common, m.namespace()),
            Scoped::Cluster(m) => (&m.spec.common, None),
        };
        let config_namespace = namespace.unwrap_or_else(|| operator_namespace.to_owned());
        ModelObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            model: model.cloned(),
            cluster_model: cluster_model.cloned(),
            runtime_configs: self
                .runtime_configs(&common.runtime_config_name, Some(&config_namespace)),
            image_inspection,
            templates: model
                .map(|m| owned_by(&self.templates, m))
                .unwrap_or_default(),
            cluster_templates: cluster_model
                .map(|m| owned_by(&self.cluster_templates, m))
                .unwrap_or_default(),
        }
    }

    /// Everything the template-cache flow may look at.
    pub fn template_cache_observation(&self, cache: &AIMTemplateCache) -> TemplateCacheObservation {
        let namespace = cache.namespace();
        let wanted = cache.spec.template_ref.as_str();
        TemplateCacheObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            template_cache: cache.clone(),
            template: self
                .templates
                .iter()
                .find(|t| t.name_any() == wanted && t.namespace() == namespace)
                .cloned(),
            cluster_template: self
                .cluster_templates
                .iter()
                .find(|t| t.name_any() == wanted)
                .cloned(),
            model_caches: self
                .model_caches
                .iter()
                .filter(|c| c.namespace() == namespace)
                .cloned()
                .collect(),
        }
    }

    /// Everything the model-cache flow may look at.
    pub fn model_cache_observation(
        &self,
        cache: &AIMModelCache,
        volume_binding_mode: Option<String>,
    ) -> ModelCacheObservation {
        ModelCacheObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            model_cache: cache.clone(),
            runtime_configs: self.runtime_configs(
                &cache.spec.runtime_config_name,
                cache.namespace().as_deref(),
            ),
            persistent_volume_claims: owned_by(&self.persistent_volume_claims, cache),
            volume_binding_mode,
            jobs: owned_by(&self.jobs, cache),
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

/// The Job a pod belongs to, from the label the Job controller sets.
pub fn job_of(pod: &Pod) -> Option<&String> {
    let labels = pod.metadata.labels.as_ref()?;
    labels
        .get("batch.kubernetes.io/job-name")
        .or_else(|| labels.get("job-name"))
}

/// The subject of a flow that has a namespaced and a cluster-scoped kind.
#[derive(Debug)]
pub enum Scoped<'a, N, C> {
    Namespaced(&'a N),
    Cluster(&'a C),
}

// Derived impls would require `N: Copy`; the references are always copyable.
impl<N, C> Clone for Scoped<'_, N, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<N, C> Copy for Scoped<'_, N, C> {}

impl<'a, N, C> Scoped<'a, N, C> {
    /// As the pair of optional fields observations carry.
    pub fn split(self) -> (Option<&'a N>, Option<&'a C>) {
        match self {
            Self::Namespaced(n) => (Some(n), None),
            Self::Cluster(c) => (None, Some(c)),
        }
    }
}

/// A node as policies see it: its name and labels.
pub fn node_labels(node: &Node) -> NodeLabels {
    NodeLabels {
        name: node.name_any(),
        labels: node.labels().clone(),
    }
}
