//! Watch caches of every kind the operator reads, one watch per kind, filled by reflectors: the
//! [`ClusterView`] observations are built from, and what each controller runs on. Reads come from
//! here, never from per-reconcile lists.

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMPolicy, AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashSet;
use std::sync::Arc;

use kube::runtime::reflector;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};

use super::dependency_index::DependencyIndex;
use super::identity;
use super::malformed::Malformed;
use super::ownership::Existing;
use super::scope::NamespaceScope;
use super::tolerant::Decoding;
use super::watch_cache::{Watch, WatchCache};
use crate::observe::{ClusterView, DiscoveryLoad, Holds, KSERVE_POD_LABEL};
use aim_api::policy::plan::ObjectReference;

/// One cache per kind.
#[derive(Clone)]
pub struct Stores {
    pub services: WatchCache<AIMService>,
    pub policies: WatchCache<AIMPolicy>,
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
    /// Services, templates and template caches by what they depend on, so a change to a
    /// dependency wakes exactly the objects that use it.
    pub indexes: Indexes,
    /// Objects of any of these kinds that do not decode.
    pub malformed: Malformed,
    /// The namespaces whose objects the controllers act on (the caches hold every namespace).
    pub scope: NamespaceScope,
}

/// The dependency indexes the caches of dependents keep.
#[derive(Clone, Default)]
pub struct Indexes {
    pub services: Arc<DependencyIndex<AIMService>>,
    pub templates: Arc<DependencyIndex<AIMServiceTemplate>>,
    pub cluster_templates: Arc<DependencyIndex<AIMClusterServiceTemplate>>,
    pub template_caches: Arc<DependencyIndex<AIMTemplateCache>>,
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

/// Pods a Job runs.
const JOB_POD: &str = "batch.kubernetes.io/job-name";

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
    /// Starts every reflector on the current runtime; only objects in `scope` are reconciled.
    pub fn start(client: &Client, scope: NamespaceScope) -> Self {
        let malformed = Malformed::default();
        let indexes = Indexes::default();
        let all = watcher::Config::default;
        let managed = || all().labels(MANAGED);
        // The kinds whose status the operator writes report what does not decode on that status,
        // as the controller that writes it; the others only log and count it.
        let owned = |manager: &'static str| Decoding::writing_status(&malformed, manager);
        let report = || Decoding::report_only(&malformed);
        Self {
            services: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::SERVICE.manager))
                    .indexed(indexes.services.clone()),
            ),
            policies: WatchCache::start(client, Watch::of(all(), owned(identity::POLICY_MANAGER))),
            models: WatchCache::start(client, Watch::of(all(), owned(identity::MODEL.manager))),
            cluster_models: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::CLUSTER_MODEL.manager)),
            ),
            templates: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::TEMPLATE.manager))
                    .indexed(indexes.templates.clone()),
            ),
            cluster_templates: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::CLUSTER_TEMPLATE.manager))
                    .indexed(indexes.cluster_templates.clone()),
            ),
            runtime_configs: WatchCache::start(client, Watch::of(all(), report())),
            cluster_runtime_configs: WatchCache::start(client, Watch::of(all(), report())),
            template_caches: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::TEMPLATE_CACHE.manager))
                    .indexed(indexes.template_caches.clone()),
            ),
            model_caches: WatchCache::start(
                client,
                Watch::of(all(), owned(identity::MODEL_CACHE.manager)),
            ),
            nodes: WatchCache::start(client, Watch::of(all(), report())),
            namespaces: WatchCache::start(client, Watch::of(all(), report())),
            inference_services: WatchCache::start(
                client,
                Watch::of(managed(), report()).trimmed(without_spec),
            ),
            http_routes: WatchCache::start(client, Watch::of(managed(), report())),
            persistent_volume_claims: WatchCache::start(
                client,
                Watch::of(all().labels(CLAIMS), report()),
            ),
            pods: WatchCache::start(
                client,
                Watch::of(all().labels(KSERVE_POD_LABEL), report()).trimmed(without_pod_spec),
            ),
            jobs: WatchCache::start(client, Watch::of(all().labels(OPERATOR_JOBS), report())),
            job_pods: WatchCache::start(
                client,
                Watch::of(all().labels(JOB_POD), report()).trimmed(without_pod_spec),
            ),
            serving_runtimes: WatchCache::start(client, Watch::of(managed(), report())),
            cluster_serving_runtimes: WatchCache::start(client, Watch::of(managed(), report())),
            indexes,
            malformed,
            scope,
        }
    }

    /// Waits until every cache has its first full list.
    pub async fn wait_until_ready(&self) -> bool {
        let results = [
            self.services.wait_until_ready().await,
            self.policies.wait_until_ready().await,
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

/// `Holds<kind>` for the cache of that kind: its objects are visited in place, under the
/// store's read lock, never copied. A visit must not visit the same kind again (a read lock taken
/// twice can wait on a writer queued between the two).
macro_rules! holds {
    ($($kind:ty => $($cache:ident)+),* $(,)?) => {$(
        impl Holds<$kind> for Stores {
            fn each(&self, visit: &mut dyn FnMut(&$kind)) {
                let visit = std::cell::RefCell::new(visit);
                // `find` with a predicate that never matches is the store's only way to walk its
                // objects without collecting them.
                $(let _ = self.$cache.find(|object| {
                    (visit.borrow_mut())(object);
                    false
                });)+
            }
        }
    )*};
}

holds! {
    AIMService => services,
    AIMModel => models,
    AIMClusterModel => cluster_models,
    AIMServiceTemplate => templates,
    AIMClusterServiceTemplate => cluster_templates,
    AIMRuntimeConfig => runtime_configs,
    AIMClusterRuntimeConfig => cluster_runtime_configs,
    AIMTemplateCache => template_caches,
    AIMModelCache => model_caches,
    Node => nodes,
    InferenceService => inference_services,
    HttpRoute => http_routes,
    PersistentVolumeClaim => persistent_volume_claims,
    Pod => pods job_pods,
    Job => jobs,
    ServingRuntime => serving_runtimes,
    ClusterServingRuntime => cluster_serving_runtimes,
}

impl ClusterView for Stores {
    /// Discovery Jobs not yet finished, per namespace. Only Jobs a template controls count:
    /// labels are anyone's to set, and Jobs with discovery's labels must not use up the
    /// cluster's discovery slots.
    fn discovery_load(&self) -> DiscoveryLoad {
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
}
