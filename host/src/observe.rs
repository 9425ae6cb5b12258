//! The observation documents policies decide from, built from any [`ClusterView`]: the operator's
//! watch caches (`controller/stores.rs`) or the objects `render` reads from files
//! (`snapshot.rs`). Gathering is the host's job; everything here is selection by namespace, name
//! and owner, never a decision. Each object is read where it is held and copied once, into the
//! document.

use std::collections::BTreeMap;

use aim_api::kserve::{ClusterServingRuntime, InferenceService, ServingRuntime};
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

/// The label KServe puts on the pods of an InferenceService, with the InferenceService's name.
pub const KSERVE_POD_LABEL: &str = "serving.kserve.io/inferenceservice";

/// The objects of one kind a view holds, visited in place.
pub trait Holds<K> {
    /// Calls `visit` with every object of the kind.
    fn each(&self, visit: &mut dyn FnMut(&K));
}

/// Every kind an observation reads, and the discovery Jobs running.
pub trait ClusterView:
    Holds<AIMService>
    + Holds<AIMModel>
    + Holds<AIMClusterModel>
    + Holds<AIMServiceTemplate>
    + Holds<AIMClusterServiceTemplate>
    + Holds<AIMRuntimeConfig>
    + Holds<AIMClusterRuntimeConfig>
    + Holds<AIMTemplateCache>
    + Holds<AIMModelCache>
    + Holds<Node>
    + Holds<InferenceService>
    + Holds<HttpRoute>
    + Holds<PersistentVolumeClaim>
    + Holds<Pod>
    + Holds<Job>
    + Holds<ServingRuntime>
    + Holds<ClusterServingRuntime>
{
    /// Discovery Jobs not yet finished, per namespace (the cap on concurrent discovery).
    fn discovery_load(&self) -> DiscoveryLoad;
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

/// Copies of the objects `keep` accepts; only those are cloned.
pub fn select<K: Clone>(view: &(impl Holds<K> + ?Sized), keep: impl Fn(&K) -> bool) -> Vec<K> {
    let mut kept = Vec::new();
    view.each(&mut |object| {
        if keep(object) {
            kept.push(object.clone());
        }
    });
    kept
}

/// A copy of the first object `wanted` accepts.
pub fn find<K: Clone>(view: &(impl Holds<K> + ?Sized), wanted: impl Fn(&K) -> bool) -> Option<K> {
    let mut found = None;
    view.each(&mut |object| {
        if found.is_none() && wanted(object) {
            found = Some(object.clone());
        }
    });
    found
}

/// Objects of `namespace`.
fn in_namespace<K: Resource + Clone>(view: &(impl Holds<K> + ?Sized), namespace: &str) -> Vec<K> {
    select(view, |object: &K| {
        object.meta().namespace.as_deref() == Some(namespace)
    })
}

/// Objects with an owner reference to `owner` (by UID when known, else by kind and name), in the
/// owner's namespace (any, for a cluster-scoped owner).
pub fn owned_by<K, O>(view: &(impl Holds<K> + ?Sized), owner: &O) -> Vec<K>
where
    K: Resource + Clone,
    O: Resource<DynamicType = ()>,
{
    let owner_meta = owner.meta();
    let owner_kind = O::kind(&());
    let owner_name = owner_meta.name.clone().unwrap_or_default();
    select(view, |object: &K| {
        let meta = object.meta();
        (owner_meta.namespace.is_none() || meta.namespace == owner_meta.namespace)
            && meta
                .owner_references
                .iter()
                .flatten()
                .any(|reference| match &owner_meta.uid {
                    Some(uid) => &reference.uid == uid,
                    None => reference.kind == owner_kind && reference.name == owner_name,
                })
    })
}

/// The observation of each flow, for every view.
pub trait Observe: ClusterView {
    /// Everything the service flow may look at for `service`.
    fn service_observation(&self, service: &AIMService) -> ServiceObservation {
        let namespace = service.namespace().unwrap_or_default();
        ServiceObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            service: service.clone(),
            runtime_configs: self
                .runtime_configs(&service.spec.runtime_config_name, Some(&namespace)),
            models: in_namespace(self, &namespace),
            cluster_models: select(self, |_| true),
            templates: in_namespace(self, &namespace),
            cluster_templates: select(self, |t| self.cluster_template_serves(t, &namespace)),
            template_caches: in_namespace(self, &namespace),
            model_caches: in_namespace(self, &namespace),
            nodes: self.node_labels(),
            inference_services: owned_by(self, service),
            http_routes: owned_by(self, service),
            persistent_volume_claims: owned_by(self, service),
            pods: self.service_pods(service),
        }
    }

    /// Whether services of `namespace` may use `template`: not when its model is a cluster model
    /// created for another namespace (its discovery ran there, by pods that namespace's users
    /// may shape).
    fn cluster_template_serves(
        &self,
        template: &AIMClusterServiceTemplate,
        namespace: &str,
    ) -> bool {
        find(self, |m: &AIMClusterModel| {
            m.name_any() == template.spec.common.model_name
        })
        .is_none_or(|model| model.spec.serves(namespace))
    }

    /// Where a template's discovery Jobs run (see [`work_namespace`]).
    fn template_work_namespace(
        &self,
        subject: Scoped<'_, AIMServiceTemplate, AIMClusterServiceTemplate>,
        operator_namespace: &str,
    ) -> String {
        match subject {
            Scoped::Namespaced(t) => t.namespace().unwrap_or_default(),
            Scoped::Cluster(t) => {
                let model = find(self, |m: &AIMClusterModel| {
                    m.name_any() == t.spec.common.model_name
                });
                work_namespace(model.as_ref(), operator_namespace)
            }
        }
    }

    /// Everything the template flow may look at; `template` or `cluster_template` is the subject.
    fn template_observation(
        &self,
        subject: Scoped<'_, AIMServiceTemplate, AIMClusterServiceTemplate>,
        operator_namespace: &str,
        discovery_log: Option<String>,
    ) -> TemplateObservation {
        let (template, cluster_template) = subject.split();
        let (common, namespace, jobs) = match subject {
            Scoped::Namespaced(t) => (&t.spec.common, t.namespace(), owned_by(self, t)),
            Scoped::Cluster(t) => (&t.spec.common, None, owned_by(self, t)),
        };
        let work_namespace = self.template_work_namespace(subject, operator_namespace);
        let load = self.discovery_load();
        TemplateObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            template: template.cloned(),
            cluster_template: cluster_template.cloned(),
            operator_namespace: operator_namespace.to_owned(),
            runtime_configs: self
                .runtime_configs(&common.runtime_config_name, Some(&work_namespace)),
            model: namespace.as_ref().and_then(|ns| {
                find(self, |m: &AIMModel| {
                    m.name_any() == common.model_name && m.namespace().as_ref() == Some(ns)
                })
            }),
            cluster_model: find(self, |m: &AIMClusterModel| {
                m.name_any() == common.model_name
            }),
            nodes: self.node_labels(),
            pods: self.pods_of_jobs(&jobs),
            jobs,
            discovery_log,
            active_discovery_jobs: load.total(),
            active_discovery_jobs_in_namespace: load.in_namespace(&work_namespace),
            discovery_namespaces: load.namespaces_with(&work_namespace),
            serving_runtimes: template.map(|t| owned_by(self, t)).unwrap_or_default(),
            cluster_serving_runtimes: cluster_template
                .map(|t| owned_by(self, t))
                .unwrap_or_default(),
            template_caches: match &namespace {
                Some(ns) => in_namespace(self, ns),
                None => Vec::new(),
            },
            work_namespace,
        }
    }

    /// Everything the model flow may look at; `model` or `cluster_model` is the subject. Its
    /// runtime config is looked up in the model's namespace, for a cluster model in its
    /// requesting namespace or else the operator's.
    fn model_observation(
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
            templates: model.map(|m| owned_by(self, m)).unwrap_or_default(),
            cluster_templates: cluster_model.map(|m| owned_by(self, m)).unwrap_or_default(),
            users: self.model_users(subject),
        }
    }

    /// What uses the model (see `ModelObservation::users`): services and templates it does not
    /// own.
    fn model_users(&self, subject: Scoped<'_, AIMModel, AIMClusterModel>) -> Vec<ObjectReference> {
        let (meta, image, namespace, home, kind) = match subject {
            Scoped::Namespaced(m) => (
                m.meta(),
                &m.spec.common.image,
                m.namespace(),
                m.namespace(),
                "AIMModel",
            ),
            Scoped::Cluster(m) => (
                m.meta(),
                &m.spec.common.image,
                None,
                m.spec.requesting_namespace().map(str::to_owned),
                "AIMClusterModel",
            ),
        };
        let name = meta.name.clone().unwrap_or_default();
        let reachable = |ns: Option<String>| namespace.is_none() || ns == namespace;
        let mut users = Vec::new();
        Holds::<AIMService>::each(self, &mut |s| {
            // A service being deleted has let go of its model.
            if s.metadata.deletion_timestamp.is_some() || !reachable(s.namespace()) {
                return;
            }
            let resolved = s.status.as_ref().and_then(|st| st.resolved_image.as_ref());
            let resolved_here = resolved.is_some_and(|r| {
                r.name == name && r.kind.as_deref().and_then(|k| k.rsplit('/').next()) == Some(kind)
            });
            let named = s.spec.model.reference.as_deref().map(str::trim) == Some(name.as_str());
            let asks_for_image =
                s.namespace() == home && s.spec.model.image.as_deref() == Some(image.as_str());
            if resolved_here || named || asks_for_image {
                users.push(reference_to(s, "AIMService"));
            }
        });
        let not_its_own = |object: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
            !object
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == meta.uid.as_ref())
        };
        Holds::<AIMServiceTemplate>::each(self, &mut |t| {
            if reachable(t.namespace())
                && t.spec.common.model_name == name
                && not_its_own(&t.metadata)
            {
                users.push(reference_to(t, "AIMServiceTemplate"));
            }
        });
        Holds::<AIMClusterServiceTemplate>::each(self, &mut |t| {
            if namespace.is_none() && t.spec.common.model_name == name && not_its_own(&t.metadata) {
                users.push(reference_to(t, "AIMClusterServiceTemplate"));
            }
        });
        users
    }

    /// Everything the template-cache flow may look at.
    fn template_cache_observation(&self, cache: &AIMTemplateCache) -> TemplateCacheObservation {
        let namespace = cache.namespace();
        let wanted = cache.spec.template_ref.as_str();
        TemplateCacheObservation {
            api_version: OBSERVATION_API_VERSION.to_owned(),
            template_cache: cache.clone(),
            template: find(self, |t: &AIMServiceTemplate| {
                t.name_any() == wanted && t.namespace() == namespace
            }),
            cluster_template: find(self, |t: &AIMClusterServiceTemplate| t.name_any() == wanted)
                .filter(|t| {
                    self.cluster_template_serves(t, namespace.as_deref().unwrap_or_default())
                }),
            model_caches: select(self, |c: &AIMModelCache| c.namespace() == namespace),
        }
    }

    /// Everything the model-cache flow may look at.
    fn model_cache_observation(
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
            persistent_volume_claims: owned_by(self, cache),
            volume_binding_mode,
            jobs: owned_by(self, cache),
        }
    }

    /// The runtime configs named `name` (or `default`), in `namespace` and cluster-wide.
    fn runtime_configs(&self, name: &str, namespace: Option<&str>) -> RuntimeConfigs {
        let name = if name.is_empty() {
            aim_api::v1alpha1::DEFAULT_RUNTIME_CONFIG_NAME
        } else {
            name
        };
        RuntimeConfigs {
            name: name.to_owned(),
            namespaced: namespace.and_then(|ns| {
                find(self, |c: &AIMRuntimeConfig| {
                    c.name_any() == name && c.namespace().as_deref() == Some(ns)
                })
            }),
            cluster: find(self, |c: &AIMClusterRuntimeConfig| c.name_any() == name),
        }
    }

    /// Every node as policies see it: its name and labels.
    fn node_labels(&self) -> Vec<NodeLabels> {
        let mut nodes = Vec::new();
        Holds::<Node>::each(self, &mut |node| nodes.push(node_labels(node)));
        nodes
    }

    /// Pods of the service's InferenceServices, which KServe labels with the InferenceService
    /// name.
    fn service_pods(&self, service: &AIMService) -> Vec<Pod> {
        let isvcs: Vec<String> = owned_by::<InferenceService, _>(self, service)
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        select(self, |pod: &Pod| {
            pod.namespace() == service.namespace()
                && pod
                    .labels()
                    .get(KSERVE_POD_LABEL)
                    .is_some_and(|isvc| isvcs.contains(isvc))
        })
    }

    /// The pods `jobs` control: anyone may put a `job-name` label on a pod.
    fn pods_of_jobs(&self, jobs: &[Job]) -> Vec<Pod> {
        let job_uids: Vec<&str> = jobs
            .iter()
            .filter_map(|j| j.meta().uid.as_deref())
            .collect();
        select(self, |pod: &Pod| {
            controller_uid(pod).is_some_and(|uid| job_uids.contains(&uid))
        })
    }
}

impl<V: ClusterView + ?Sized> Observe for V {}

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
