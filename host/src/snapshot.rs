//! A snapshot of cluster objects, held in memory: the [`ClusterView`] `render`, `policy test` and
//! `bench-plan` build observations from, filled from YAML files. The operator reads its watch
//! caches instead (`controller/stores.rs`).

use aim_api::kserve::InferenceService;
use aim_api::kserve::{ClusterServingRuntime, ServingRuntime};
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel, AIMModelCache,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};

use crate::observe::{ClusterView, DiscoveryLoad, Holds};

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

/// `Holds<kind>` for the snapshot's list of that kind.
macro_rules! holds {
    ($($kind:ty => $field:ident),* $(,)?) => {$(
        impl Holds<$kind> for ClusterSnapshot {
            fn each(&self, visit: &mut dyn FnMut(&$kind)) {
                self.$field.iter().for_each(visit);
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
    Pod => pods,
    Job => jobs,
    ServingRuntime => serving_runtimes,
    ClusterServingRuntime => cluster_serving_runtimes,
}

impl ClusterView for ClusterSnapshot {
    fn discovery_load(&self) -> DiscoveryLoad {
        self.discovery_load.clone()
    }
}
