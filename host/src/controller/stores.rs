//! Watch caches of every kind the policies observe, filled by reflectors, and the per-namespace
//! snapshots observations are built from. Reads come from here, never from per-reconcile lists.

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashSet;

use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use super::malformed::Malformed;
use super::ownership::Existing;
use super::scope::NamespaceScope;
use super::watch_cache::WatchCache;
use crate::snapshot::{ClusterSnapshot, DiscoveryLoad};
use aim_api::policy::plan::ObjectReference;

/// One cache per kind.
#[derive(Clone)]
pub struct Stores {
    pub services: Store<AIMService>,
    pub models: WatchCache<AIMModel>,
    pub cluster_models: WatchCache<AIMClusterModel>,
    pub templates: WatchCache<AIMServiceTemplate>,
    pub cluster_templates: WatchCache<AIMClusterServiceTemplate>,
    pub runtime_configs: WatchCache<AIMRuntimeConfig>,
    pub cluster_runtime_configs: WatchCache<AIMClusterRuntimeConfig>,
    pub template_caches: WatchCache<AIMTemplateCache>,
    pub model_caches: WatchCache<AIMModelCache>,
    pub nodes: WatchCache<Node>,
    /// Namespaces, for their labels (which AIMPolicies a namespace may select).
    pub namespaces: WatchCache<Namespace>,
    pub inference_services: WatchCache<InferenceService>,
    pub http_routes: WatchCache<HttpRoute>,
    pub persistent_volume_claims: WatchCache<PersistentVolumeClaim>,
    pub pods: WatchCache<Pod>,
    pub jobs: WatchCache<Job>,
    pub job_pods: WatchCache<Pod>,
    pub serving_runtimes: WatchCache<ServingRuntime>,
    pub cluster_serving_runtimes: WatchCache<ClusterServingRuntime>,
    /// Objects of any of these kinds that do not decode.
    pub malformed: Malformed,
    /// The namespaces whose objects the controllers act on (the caches hold every namespace).
    pub scope: NamespaceScope,
}

/// Objects the operator creates for services and templates.
const MANAGED: &str = "app.kubernetes.io/managed-by=aim-controller";

/// Jobs the operator creates: discovery (aim-controller) and downloads (modelcache-controller).
const OPERATOR_JOBS: &str =
    "app.kubernetes.io/managed-by in (aim-controller,modelcache-controller)";

/// Claims the operator creates: services' temporary volumes, model caches' volumes, and any a
/// custom policy plans (the host stamps `aim-controller` on those).
const CLAIMS: &str =
    "app.kubernetes.io/managed-by in (aim-controller,aim-service-controller,modelcache-controller)";

/// An InferenceService's spec is what the plan said, re-applied on every reconcile; only its
/// metadata and status are observed. Its volumes and affinity made it ~7 KB in the cache.
fn without_spec(isvc: &mut InferenceService) {
    isvc.spec = Default::default();
}

/// Pods are observed for their containers' states (image pull failures); their spec, with every
/// container, volume and toleration, is most of their size.
fn without_pod_spec(pod: &mut Pod) {
    pod.spec = None;
}

impl Stores {
    /// Starts every reflector. The service cache is the service controller's own.
    pub fn start(
        client: &Client,
        services: Store<AIMService>,
        malformed: Malformed,
        scope: NamespaceScope,
    ) -> Self {
        let all = watcher::Config::default;
        Self {
            services,
            models: WatchCache::start(client, all(), &malformed),
            cluster_models: WatchCache::start(client, all(), &malformed),
            templates: WatchCache::start(client, all(), &malformed),
            cluster_templates: WatchCache::start(client, all(), &malformed),
            runtime_configs: WatchCache::start(client, all(), &malformed),
            cluster_runtime_configs: WatchCache::start(client, all(), &malformed),
            template_caches: WatchCache::start(client, all(), &malformed),
            model_caches: WatchCache::start(client, all(), &malformed),
            nodes: WatchCache::start(client, all(), &malformed),
            namespaces: WatchCache::start(client, all(), &malformed),
            inference_services: WatchCache::start_trimmed(
                client,
                all().labels(MANAGED),
                &malformed,
                without_spec,
            ),
            http_routes: WatchCache::start(client, all().labels(MANAGED), &malformed),
            persistent_volume_claims: WatchCache::start(client, all().labels(CLAIMS), &malformed),
            pods: WatchCache::start_trimmed(
                client,
                all().labels("serving.kserve.io/inferenceservice"),
                &malformed,
                without_pod_spec,
            ),
            jobs: WatchCache::start(client, all().labels(OPERATOR_JOBS), &malformed),
            job_pods: WatchCache::start_trimmed(
                client,
                all().labels("batch.kubernetes.io/job-name"),
                &malformed,
                without_pod_spec,
            ),
            serving_runtimes: WatchCache::start(client, all().labels(MANAGED), &malformed),
            cluster_serving_runtimes: WatchCache::start(client, all().labels(MANAGED), &malformed),
            malformed,
            scope,
        }
    }

    /// Waits until every cache has its first full list.
    pub async fn wait_until_ready(&self) -> bool {
        let results = [
            self.models.wait_until_ready().await,
            self.cluster_models.wait_until_ready().await,
            self.templates.wait_until_ready().await,
            self.cluster_templates.wait_until_ready().await,
            self.runtime_configs.wait_until_ready().await,
            self.cluster_runtime_configs.wait_until_ready().await,
            self.template_caches.wait_until_ready().await,
            self.model_caches.wait_until_ready().await,
            self.nodes.wait_until_ready().await,
            self.namespaces.wait_until_ready().await,
            self.inference_services.wait_until_ready().await,
            self.http_routes.wait_until_ready().await,
            self.persistent_volume_claims.wait_until_ready().await,
            self.pods.wait_until_ready().await,
            self.jobs.wait_until_ready().await,
            self.job_pods.wait_until_ready().await,
            self.serving_runtimes.wait_until_ready().await,
            self.cluster_serving_runtimes.wait_until_ready().await,
        ];
        results.iter().all(Result::is_ok)
    }

    /// What an observation of `subject` reads: [`Self::snapshot_for`] `namespace`, except that of
    /// the kinds there are one or more of per service (InferenceServices, HTTPRoutes, claims,
    /// Jobs, their pods) only `subject`'s own are copied. Every observation selects those by
    /// owner anyway; copying the whole namespace's made each reconcile cost grow with the number
    /// of services beside it, and a namespace of services cost the square of its size.
    pub fn snapshot_of<O: Resource<DynamicType = ()>>(
        &self,
        namespace: &str,
        subject: &O,
    ) -> ClusterSnapshot {
        let owned = |object: &dyn Owned| {
            object.namespace_is(namespace) && object.is_owned_by(subject.meta(), &O::kind(&()))
        };
        let inference_services = filtered(&self.inference_services, |o| owned(o));
        let jobs = filtered(&self.jobs, |o| owned(o));
        let isvc_names: Vec<String> = inference_services
            .iter()
            .map(ResourceExt::name_any)
            .collect();
        let labelled = |pod: &Pod, label: &str, names: &[String]| {
            pod.namespace().as_deref() == Some(namespace)
                && pod
                    .labels()
                    .get(label)
                    .is_some_and(|value| names.contains(value))
        };
        // A Job's pods are those it controls: anyone may put a `job-name` label on a pod.
        let job_uids: Vec<&str> = jobs
            .iter()
            .filter_map(|job| job.meta().uid.as_deref())
            .collect();
        let of_a_job = |pod: &Pod| {
            pod.namespace().as_deref() == Some(namespace)
                && controller_uid(pod.meta()).is_some_and(|uid| job_uids.contains(&uid))
        };
        ClusterSnapshot {
            inference_services,
            http_routes: filtered(&self.http_routes, |o| owned(o)),
            persistent_volume_claims: filtered(&self.persistent_volume_claims, |o| owned(o)),
            pods: filtered(&self.pods, |pod| {
                labelled(pod, "serving.kserve.io/inferenceservice", &isvc_names)
            })
            .into_iter()
            .chain(filtered(&self.job_pods, of_a_job))
            .collect(),
            jobs,
            ..self.namespace_wide(namespace)
        }
    }

    /// The objects of `namespace`, plus every cluster-scoped object.
    pub fn snapshot_for(&self, namespace: &str) -> ClusterSnapshot {
        ClusterSnapshot {
            inference_services: in_namespace(&self.inference_services, namespace),
            http_routes: in_namespace(&self.http_routes, namespace),
            persistent_volume_claims: in_namespace(&self.persistent_volume_claims, namespace),
            pods: in_namespace(&self.pods, namespace)
                .into_iter()
                .chain(in_namespace(&self.job_pods, namespace))
                .collect(),
            jobs: in_namespace(&self.jobs, namespace),
            ..self.namespace_wide(namespace)
        }
    }

    /// The kinds there are few of per namespace, whole, and none of the per-service kinds.
    fn namespace_wide(&self, namespace: &str) -> ClusterSnapshot {
        ClusterSnapshot {
            services: Vec::new(),
            models: in_namespace(&self.models, namespace),
            cluster_models: all(&self.cluster_models),
            templates: in_namespace(&self.templates, namespace),
            cluster_templates: all(&self.cluster_templates),
            runtime_configs: in_namespace(&self.runtime_configs, namespace),
            cluster_runtime_configs: all(&self.cluster_runtime_configs),
            template_caches: in_namespace(&self.template_caches, namespace),
            model_caches: in_namespace(&self.model_caches, namespace),
            nodes: all(&self.nodes),
            inference_services: Vec::new(),
            http_routes: Vec::new(),
            persistent_volume_claims: Vec::new(),
            pods: Vec::new(),
            jobs: Vec::new(),
            serving_runtimes: in_namespace(&self.serving_runtimes, namespace),
            cluster_serving_runtimes: all(&self.cluster_serving_runtimes),
            // Only the template flow reads it; its controller fills it in.
            discovery_load: DiscoveryLoad::default(),
        }
    }

    /// Discovery Jobs not yet finished, per namespace. Only Jobs a template controls count:
    /// labels are anyone's to set, and Jobs with discovery's labels must not use up the
    /// cluster's discovery slots.
    pub fn discovery_load(&self) -> DiscoveryLoad {
        let templates: HashSet<String> = self
            .templates
            .state()
            .iter()
            .filter_map(|t| t.meta().uid.clone())
            .chain(
                self.cluster_templates
                    .state()
                    .iter()
                    .filter_map(|t| t.meta().uid.clone()),
            )
            .collect();
        let mut load = DiscoveryLoad::default();
        for job in self.jobs.state() {
            let by_template = job.meta().owner_references.iter().flatten().any(|owner| {
                owner.controller == Some(true)
                    && matches!(
                        owner.kind.as_str(),
                        "AIMServiceTemplate" | "AIMClusterServiceTemplate"
                    )
                    && templates.contains(&owner.uid)
            });
            let finished = job
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                    })
                });
            if by_template && !finished {
                load.add(job.namespace().unwrap_or_default());
            }
        }
        load
    }

    /// What exists under `reference`'s name, if this cache holds it. Caches of the kinds the
    /// operator labels hold only its own objects; the AIM kinds' hold every object.
    pub fn existing(&self, reference: &ObjectReference) -> Option<Existing> {
        let found = |metadata: &ObjectMeta| Existing {
            metadata: metadata.clone(),
            requesting_namespace: None,
        };
        match reference.kind.as_str() {
            "InferenceService" => {
                cached(&self.inference_services, reference).map(|o| found(o.meta()))
            }
            "ServingRuntime" => cached(&self.serving_runtimes, reference).map(|o| found(o.meta())),
            "ClusterServingRuntime" => {
                cached(&self.cluster_serving_runtimes, reference).map(|o| found(o.meta()))
            }
            "HTTPRoute" => cached(&self.http_routes, reference).map(|o| found(o.meta())),
            "PersistentVolumeClaim" => {
                cached(&self.persistent_volume_claims, reference).map(|o| found(o.meta()))
            }
            "Job" => cached(&self.jobs, reference).map(|o| found(o.meta())),
            "AIMModel" => cached(&self.models, reference).map(|o| found(o.meta())),
            "AIMServiceTemplate" => cached(&self.templates, reference).map(|o| found(o.meta())),
            "AIMClusterServiceTemplate" => {
                cached(&self.cluster_templates, reference).map(|o| found(o.meta()))
            }
            "AIMTemplateCache" => cached(&self.template_caches, reference).map(|o| found(o.meta())),
            "AIMModelCache" => cached(&self.model_caches, reference).map(|o| found(o.meta())),
            "AIMClusterModel" => cached(&self.cluster_models, reference).map(|model| Existing {
                metadata: model.meta().clone(),
                requesting_namespace: model.spec.requesting_namespace.clone(),
            }),
            _ => None,
        }
    }
}

/// The object of `cache` under `reference`'s namespace and name.
fn cached<K: Resource<DynamicType = ()> + Clone + 'static>(
    cache: &WatchCache<K>,
    reference: &ObjectReference,
) -> Option<std::sync::Arc<K>> {
    let key = reflector::ObjectRef::new(&reference.name);
    let key = match &reference.namespace {
        Some(namespace) => key.within(namespace),
        None => key,
    };
    cache.get(&key)
}

/// The controller of an object, by UID.
fn controller_uid(metadata: &ObjectMeta) -> Option<&str> {
    metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true))
        .map(|owner| owner.uid.as_str())
}

fn all<K: Resource + Clone>(store: &Store<K>) -> Vec<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .state()
        .iter()
        .map(|object| (**object).clone())
        .collect()
}

fn in_namespace<K: Resource + Clone>(store: &Store<K>, namespace: &str) -> Vec<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    filtered(store, |object| {
        object.namespace().as_deref() == Some(namespace)
    })
}

/// Copies of the cached objects `keep` accepts; only those are cloned.
fn filtered<K: Resource + Clone>(store: &Store<K>, keep: impl Fn(&K) -> bool) -> Vec<K>
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    store
        .state_filter(|object| keep(object))
        .iter()
        .map(|object| (**object).clone())
        .collect()
}

/// What [`Stores::snapshot_of`] asks of a cached object, without knowing its kind.
trait Owned {
    fn namespace_is(&self, namespace: &str) -> bool;
    /// Owned by `owner` (of `kind`): by UID when it has one, else by kind and name, as
    /// [`crate::snapshot::owned_by`] selects.
    fn is_owned_by(&self, owner: &ObjectMeta, kind: &str) -> bool;
}

impl<K: Resource> Owned for K {
    fn namespace_is(&self, namespace: &str) -> bool {
        self.meta().namespace.as_deref() == Some(namespace)
    }

    fn is_owned_by(&self, owner: &ObjectMeta, kind: &str) -> bool {
        self.meta()
            .owner_references
            .iter()
            .flatten()
            .any(|reference| match &owner.uid {
                Some(uid) => &reference.uid == uid,
                None => reference.kind == kind && Some(&reference.name) == owner.name.as_ref(),
            })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use kube::runtime::reflector;
    use serde::de::DeserializeOwned;

    /// A cache holding `objects`, as a reflector would after listing them.
    fn store<K>(objects: Vec<Value>) -> WatchCache<K>
    where
        K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Send + Sync + 'static,
    {
        let (reader, mut writer) = reflector::store();
        for object in objects {
            let object: K = serde_json::from_value(object).unwrap_or_else(|e| panic!("{e}"));
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
        WatchCache::of(reader)
    }

    fn metadata(name: &str, namespace: &str, owner_uid: &str, labels: Value) -> Value {
        json!({
            "name": name, "namespace": namespace, "labels": labels,
            "ownerReferences": [{"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
                                 "name": "owner", "uid": owner_uid, "controller": true}]
        })
    }

    fn isvc(name: &str, namespace: &str, owner_uid: &str) -> Value {
        json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": metadata(name, namespace, owner_uid, json!({})), "spec": {"predictor": {}}})
    }

    fn pod(name: &str, namespace: &str, isvc: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": name, "namespace": namespace,
            "labels": {"serving.kserve.io/inferenceservice": isvc}}})
    }

    fn stores() -> Stores {
        Stores {
            services: reflector::store().0,
            models: store(vec![]),
            cluster_models: store(vec![]),
            templates: store(vec![]),
            cluster_templates: store(vec![]),
            runtime_configs: store(vec![]),
            cluster_runtime_configs: store(vec![]),
            template_caches: store(vec![]),
            model_caches: store(vec![]),
            nodes: store(vec![]),
            namespaces: store(vec![]),
            inference_services: store(vec![
                isvc("chat", "ml", "uid-chat"),
                isvc("other", "ml", "uid-other"),
                isvc("elsewhere", "team", "uid-chat"),
            ]),
            http_routes: store(vec![]),
            persistent_volume_claims: store(vec![json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": metadata("other-temp-cache", "ml", "uid-other", json!({}))
            })]),
            pods: store(vec![
                pod("chat-predictor", "ml", "chat"),
                pod("other-predictor", "ml", "other"),
            ]),
            jobs: store(vec![]),
            job_pods: store(vec![]),
            serving_runtimes: store(vec![]),
            cluster_serving_runtimes: store(vec![]),
            malformed: Malformed::default(),
            scope: NamespaceScope::default(),
        }
    }

    fn names<K: Resource>(objects: &[K]) -> Vec<String> {
        let mut names: Vec<String> = objects.iter().map(ResourceExt::name_any).collect();
        names.sort();
        names
    }

    #[test]
    fn a_subject_snapshot_copies_only_the_subjects_own_per_service_objects() {
        let stores = stores();
        let service: AIMService = serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat", "namespace": "ml", "uid": "uid-chat"},
            "spec": {"model": {"ref": "llama"}}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let own = stores.snapshot_of("ml", &service);
        assert_eq!(names(&own.inference_services), ["chat"]);
        assert_eq!(names(&own.pods), ["chat-predictor"]);
        assert!(own.persistent_volume_claims.is_empty());

        let whole = stores.snapshot_for("ml");
        assert_eq!(names(&whole.inference_services), ["chat", "other"]);
        assert_eq!(names(&whole.pods), ["chat-predictor", "other-predictor"]);
        // What the service flow observes is the same either way.
        assert_eq!(
            serde_json::to_value(own.service_observation(&service)).ok(),
            serde_json::to_value(whole.service_observation(&service)).ok()
        );
    }
}
