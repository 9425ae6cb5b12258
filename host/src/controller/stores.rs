//! Watch caches of every kind the policies observe, filled by reflectors, and the per-namespace
//! snapshots observations are built from. Reads come from here, never from per-reconcile lists.

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use futures::StreamExt;
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::snapshot::ClusterSnapshot;

/// One cache per kind.
#[derive(Clone)]
pub struct Stores {
    pub services: Store<AIMService>,
    pub models: Store<AIMModel>,
    pub cluster_models: Store<AIMClusterModel>,
    pub templates: Store<AIMServiceTemplate>,
    pub cluster_templates: Store<AIMClusterServiceTemplate>,
    pub runtime_configs: Store<AIMRuntimeConfig>,
    pub cluster_runtime_configs: Store<AIMClusterRuntimeConfig>,
    pub template_caches: Store<AIMTemplateCache>,
    pub model_caches: Store<AIMModelCache>,
    pub nodes: Store<Node>,
    pub inference_services: Store<InferenceService>,
    pub http_routes: Store<HttpRoute>,
    pub persistent_volume_claims: Store<PersistentVolumeClaim>,
    pub pods: Store<Pod>,
    pub jobs: Store<Job>,
    pub job_pods: Store<Pod>,
    pub serving_runtimes: Store<ServingRuntime>,
    pub cluster_serving_runtimes: Store<ClusterServingRuntime>,
}

/// Objects the operator creates for services and templates.
const MANAGED: &str = "app.kubernetes.io/managed-by=aim-controller";

/// Jobs the operator creates: discovery (aim-controller) and downloads (modelcache-controller).
const OPERATOR_JOBS: &str =
    "app.kubernetes.io/managed-by in (aim-controller,modelcache-controller)";

/// Starts a reflector for `K` on the current runtime and returns its cache.
fn reflect<K>(api: Api<K>, config: watcher::Config) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(writer, watcher(api, config).default_backoff())
        .modify(|object| object.managed_fields_mut().clear());
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Err(error) = event {
                tracing::warn!(kind = %K::kind(&()), %error, "watch error; retrying");
            }
        }
    });
    reader
}

impl Stores {
    /// Starts every reflector. The service cache is the service controller's own.
    pub fn start(client: &Client, services: Store<AIMService>) -> Self {
        let all = watcher::Config::default;
        Self {
            services,
            models: reflect(Api::all(client.clone()), all()),
            cluster_models: reflect(Api::all(client.clone()), all()),
            templates: reflect(Api::all(client.clone()), all()),
            cluster_templates: reflect(Api::all(client.clone()), all()),
            runtime_configs: reflect(Api::all(client.clone()), all()),
            cluster_runtime_configs: reflect(Api::all(client.clone()), all()),
            template_caches: reflect(Api::all(client.clone()), all()),
            model_caches: reflect(Api::all(client.clone()), all()),
            nodes: reflect(Api::all(client.clone()), all()),
            inference_services: reflect(
                Api::all(client.clone()),
                all().labels(MANAGED),
            ),
            http_routes: reflect(
                Api::all(client.clone()),
                all().labels(MANAGED),
            ),
            persistent_volume_claims: reflect(
                Api::all(client.clone()),
                all().labels("app.kubernetes.io/managed-by in (aim-service-controller,modelcache-controller)"),
            ),
            pods: reflect(Api::all(client.clone()), all().labels("serving.kserve.io/inferenceservice")),
            jobs: reflect(Api::all(client.clone()), all().labels(OPERATOR_JOBS)),
            job_pods: reflect(Api::all(client.clone()), all().labels("batch.kubernetes.io/job-name")),
            serving_runtimes: reflect(Api::all(client.clone()), all().labels(MANAGED)),
            cluster_serving_runtimes: reflect(Api::all(client.clone()), all().labels(MANAGED)),
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

    /// The objects of `namespace`, plus every cluster-scoped object.
    pub fn snapshot_for(&self, namespace: &str) -> ClusterSnapshot {
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
            inference_services: in_namespace(&self.inference_services, namespace),
            http_routes: in_namespace(&self.http_routes, namespace),
            persistent_volume_claims: in_namespace(&self.persistent_volume_claims, namespace),
            pods: in_namespace(&self.pods, namespace)
                .into_iter()
                .chain(in_namespace(&self.job_pods, namespace))
                .collect(),
            jobs: in_namespace(&self.jobs, namespace),
            serving_runtimes: in_namespace(&self.serving_runtimes, namespace),
            cluster_serving_runtimes: all(&self.cluster_serving_runtimes),
            active_discovery_jobs: self.active_discovery_jobs(),
        }
    }

    /// Discovery Jobs not yet finished, cluster-wide.
    fn active_discovery_jobs(&self) -> u32 {
        let running = self.jobs.state_filter(|job| {
            let discovery = job
                .labels()
                .get("app.kubernetes.io/component")
                .map(String::as_str)
                == Some("discovery-job");
            let finished = job
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True"
                    })
                });
            discovery && !finished
        });
        u32::try_from(running.len()).unwrap_or(u32::MAX)
    }
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
    store
        .state_filter(|object| object.namespace().as_deref() == Some(namespace))
        .iter()
        .map(|object| (**object).clone())
        .collect()
}
