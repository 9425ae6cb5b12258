//! A snapshot of the cluster objects policies decide from, and the observation documents built
//! from it. `render` fills it from YAML files; the controllers fill it from their watch caches.
//! Gathering is the host's job; everything here is selection by namespace, name and owner, never
//! a decision.

use std::collections::BTreeMap;

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::policy::OBSERVATION_API_VERSION;
use aim_api::policy::observation::{
    ImageInspection, ModelCacheObservation, ModelObservation, NodeLabels, RuntimeConfigs,
    ServiceObservation, TemplateCacheObservation, TemplateObservation,
};
use aim_api::policy::plan::ObjectReference;
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
    /// Discovery Jobs still running, per namespace (the cap on concurrent discovery).
    pub discovery_load: DiscoveryLoad,
}

/// Running discovery Jobs, per namespace.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DiscoveryLoad {
    by_namespace: BTreeMap<String, u32>,
}

impl DiscoveryLoad {
    /// Counts one running Job in `namespace`.
    pub fn add(&mut self, namespace: String) {
        *self.by_namespace.entry(namespace).or_default() += 1;
    }

    /// All running discovery Jobs.
    pub fn total(&self) -> u32 {
        self.by_namespace.values().sum()
    }

    /// Those running in `namespace`.
    pub fn in_namespace(&self, namespace: &str) -> u32 {
        self.by_namespace.get(namespace).copied().unwrap_or(0)
    }

    /// Namespaces running discovery, `namespace` included whether it does or not.
    pub fn namespaces_with(&self, namespace: &str) -> u32 {
        let others = self
            .by_namespace
            .keys()
            .filter(|ns| *ns != namespace)
            .count();
        u32::try_from(others + 1).unwrap_or(u32::MAX)
    }
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
            cluster_templates: self
                .cluster_templates
                .iter()
                .filter(|t| self.cluster_template_serves(t, &namespace))
                .cloned()
                .collect(),
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

    /// Whether services of `namespace` may use `template`: not when its model is a cluster model
    /// created for another namespace (its discovery ran there, by pods that namespace's users
    /// may shape).
    pub fn cluster_template_serves(
        &self,
        template: &AIMClusterServiceTemplate,
        namespace: &str,
    ) -> bool {
        self.cluster_models
            .iter()
            .find(|m| m.name_any() == template.spec.common.model_name)
            .is_none_or(|model| model.spec.serves(namespace))
    }

    /// Where a template's discovery Jobs run (see [`work_namespace`]).
    pub fn template_work_namespace(
        &self,
        subject: Scoped<'_, AIMServiceTemplate, AIMClusterServiceTemplate>,
        operator_namespace: &str,
    ) -> String {
        match subject {
            Scoped::Namespaced(t) => t.namespace().unwrap_or_default(),
            Scoped::Cluster(t) => work_namespace(
                self.cluster_models
                    .iter()
                    .find(|m| m.name_any() == t.spec.common.model_name),
                operator_namespace,
            ),
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
        let work_namespace = self.template_work_namespace(subject, operator_namespace);
        // A Job's pods are those it controls, whatever labels other pods carry.
        let job_uids: Vec<&str> = jobs
            .iter()
            .filter_map(|j| j.meta().uid.as_deref())
            .collect();
        TemplateObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            template: template.cloned(),
            cluster_template: cluster_template.cloned(),
            operator_namespace: operator_namespace.to_owned(),
            runtime_configs: self
                .runtime_configs(&common.runtime_config_name, Some(&work_namespace)),
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
                .filter(|p| controller_uid(*p).is_some_and(|uid| job_uids.contains(&uid)))
                .cloned()
                .collect(),
            jobs,
            discovery_log,
            active_discovery_jobs: self.discovery_load.total(),
            active_discovery_jobs_in_namespace: self.discovery_load.in_namespace(&work_namespace),
            discovery_namespaces: self.discovery_load.namespaces_with(&work_namespace),
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
            work_namespace,
        }
    }

    /// Everything the model flow may look at; `model` or `cluster_model` is the subject. Its
    /// runtime config is looked up in the model's namespace, for a cluster model in its
    /// requesting namespace or else the operator's.
    pub fn model_observation(
        &self,
        subject: Scoped<'_, AIMModel, AIMClusterModel>,
        operator_namespace: &str,
        image_inspection: Option<ImageInspection>,
    ) -> ModelObservation {
        let (model, cluster_model) = subject.split();
        let (common, config_namespace) = match subject {
            Scoped::Namespaced(m) => (&m.spec.common, m.namespace().unwrap_or_default()),
            Scoped::Cluster(m) => (&m.spec.common, work_namespace(Some(m), operator_namespace)),
        };
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
            users: self.model_users(subject),
        }
    }

    /// What uses the model (see `ModelObservation::users`): services (from
    /// [`ClusterSnapshot::services`]) and templates it does not own.
    fn model_users(&self, subject: Scoped<'_, AIMModel, AIMClusterModel>) -> Vec<ObjectReference> {
        let (name, namespace, image, home, kind) = match subject {
            Scoped::Namespaced(m) => (
                m.name_any(),
                m.namespace(),
                &m.spec.common.image,
                m.namespace(),
                "AIMModel",
            ),
            Scoped::Cluster(m) => (
                m.name_any(),
                None,
                &m.spec.common.image,
                m.spec.requesting_namespace().map(str::to_owned),
                "AIMClusterModel",
            ),
        };
        let uid = match subject {
            Scoped::Namespaced(m) => m.meta().uid.clone(),
            Scoped::Cluster(m) => m.meta().uid.clone(),
        };
        let reachable = |ns: Option<String>| namespace.is_none() || ns == namespace;
        let services = self
            .services
            .iter()
            // A service being deleted has let go of its model.
            .filter(|s| s.metadata.deletion_timestamp.is_none())
            .filter(|s| reachable(s.namespace()))
            .filter(|s| {
                let resolved = s.status.as_ref().and_then(|st| st.resolved_image.as_ref());
                let resolved_here = resolved.is_some_and(|r| {
                    r.name == name
                        && r.kind.as_deref().and_then(|k| k.rsplit('/').next()) == Some(kind)
                });
                let named = s.spec.model.reference.as_deref().map(str::trim) == Some(name.as_str());
                let asks_for_image =
                    s.namespace() == home && s.spec.model.image.as_deref() == Some(image.as_str());
                resolved_here || named || asks_for_image
            });
        let service_refs = services.map(|s| reference_to(s, "AIMService"));
        let not_its_own = |owners: Option<
            &Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>,
        >| {
            !owners
                .into_iter()
                .flatten()
                .any(|o| Some(&o.uid) == uid.as_ref())
        };
        let templates = self
            .templates
            .iter()
            .filter(|t| reachable(t.namespace()) && t.spec.common.model_name == name)
            .filter(|t| not_its_own(t.metadata.owner_references.as_ref()))
            .map(|t| reference_to(t, "AIMServiceTemplate"));
        let cluster_templates = self
            .cluster_templates
            .iter()
            .filter(|t| namespace.is_none() && t.spec.common.model_name == name)
            .filter(|t| not_its_own(t.metadata.owner_references.as_ref()))
            .map(|t| reference_to(t, "AIMClusterServiceTemplate"));
        service_refs
            .chain(templates)
            .chain(cluster_templates)
            .collect()
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
                .filter(|t| {
                    self.cluster_template_serves(t, namespace.as_deref().unwrap_or_default())
                })
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

/// The UID of the object's controller (for a pod: its Job's).
fn controller_uid<K: Resource>(object: &K) -> Option<&str> {
    object
        .meta()
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.as_str())
}

/// Where a cluster model's work runs (inspection, discovery) and whose runtime config and Secrets
/// it uses: the namespace it was created for, else the operator's.
pub fn work_namespace(model: Option<&AIMClusterModel>, operator_namespace: &str) -> String {
    model
        .and_then(|m| m.spec.requesting_namespace())
        .unwrap_or(operator_namespace)
        .to_owned()
}

fn reference_to<K: Resource>(object: &K, kind: &str) -> ObjectReference {
    ObjectReference {
        api_version: aim_api::API_VERSION.to_owned(),
        kind: kind.to_owned(),
        name: object.meta().name.clone().unwrap_or_default(),
        namespace: object.meta().namespace.clone(),
    }
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
