//! What scenario tests share: the operator, started once per test binary, and small helpers.
// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use aim_api::v1alpha1::AIMService;
use aim_engine::controller::{self, Settings};
use aim_engine::policy::{OutputRules, PolicyRegistry, PolicyRuntime, RuntimeConfig};
use aim_tests::{TestEnv, TestNamespace, fixtures};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use serde_json::{Value, json};

/// The namespace cluster-scoped models and templates keep their Jobs in during tests.
pub const OPERATOR_NAMESPACE: &str = "aim-system";

/// One operator for the whole test binary, on a runtime of its own so it outlives each test's.
pub fn start_operator(env: &'static TestEnv) {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("operator start-up");
            runtime.block_on(async {
                let client = env.client().await.expect("operator start-up");
                let policies =
                    PolicyRuntime::new(RuntimeConfig::default()).expect("operator start-up");
                let registry = PolicyRegistry::new(policies, OutputRules::new(OPERATOR_NAMESPACE))
                    .expect("operator start-up");
                let settings = Settings {
                    operator_namespace: OPERATOR_NAMESPACE.into(),
                    resync_seconds: 60,
                };
                controller::run(client, Arc::new(registry), settings, 4).await;
            });
        });
    });
}

/// A fresh namespace, with the operator running.
pub async fn namespace() -> TestNamespace {
    let env = TestEnv::shared().await.expect("test environment");
    start_operator(env);
    TestNamespace::create(env).await.expect("test namespace")
}

/// The API of an AIM kind in the test namespace.
pub fn aim_api(ns: &TestNamespace, kind: &str) -> Api<DynamicObject> {
    let resource =
        ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", kind));
    Api::namespaced_with(ns.client(), ns.name(), &resource)
}

/// Creates an AIM object in the test namespace.
pub async fn create(ns: &TestNamespace, object: Value) {
    let kind = object["kind"].as_str().expect("test setup").to_owned();
    let object: DynamicObject = serde_json::from_value(object).expect("test setup");
    aim_api(ns, &kind)
        .create(&PostParams::default(), &object)
        .await
        .expect("test setup");
}

/// A condition's status and reason.
pub fn condition(service: &AIMService, type_: &str) -> Option<(String, String)> {
    let status = service.status.as_ref()?;
    let c = status.conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone()))
}

/// The service's `status.status`, or empty.
pub fn state(service: &AIMService) -> String {
    service
        .status
        .as_ref()
        .map(|s| format!("{:?}", s.status))
        .unwrap_or_default()
}

/// The image of the model scenario tests serve.
pub const MODEL_IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";

/// A Ready model (discovery off) and a template for it with in-line sources, on an MI300X node.
pub async fn model_and_template(ns: &TestNamespace) {
    fixtures::create_node(
        ns,
        "gpu",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await
    .unwrap();
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "llama"},
        "spec": {"image": MODEL_IMAGE, "discovery": {"enabled": false}}
    }))
    .await;
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "llama-latency"},
        "spec": {
            "modelName": "llama", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"},
            "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]
        }
    }))
    .await;
}
