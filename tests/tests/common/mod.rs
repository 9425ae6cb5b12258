//! What scenario tests share: the operator, started once per test binary, and small helpers.
// Each test binary uses a different subset of the helpers.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use aim_api::v1alpha1::AIMService;
use aim_engine::cluster::registry::RegistryAccess;
use aim_engine::controller::{self, NamespaceScope, Settings, Stores};
use aim_engine::operator::Metrics;
use aim_engine::policy::{OutputRules, PodRules, PolicyRegistry, PolicyRuntime, RuntimeConfig};
use aim_tests::{TestEnv, TestNamespace, fixtures};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The namespace cluster-scoped models and templates keep their Jobs in during tests.
pub const OPERATOR_NAMESPACE: &str = "aim-system";
/// The ServiceAccount the in-process operator stands for (the chart's default name).
pub const OPERATOR_SERVICE_ACCOUNT: &str = "aim-engine";

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
                let rules = OutputRules::new(OPERATOR_NAMESPACE).with_pods(PodRules {
                    operator_service_account: Some(OPERATOR_SERVICE_ACCOUNT.into()),
                    ..PodRules::default()
                });
                let registry = PolicyRegistry::new(policies, rules).expect("operator start-up");
                let settings = Settings {
                    operator_namespace: OPERATOR_NAMESPACE.into(),
                    resync_seconds: 60,
                    // Test registries run on loopback.
                    registry: RegistryAccess {
                        allow_private_networks: true,
                        ..RegistryAccess::default()
                    },
                    policy_roots: Vec::new(),
                };
                let stores = Stores::start(&client, NamespaceScope::default());
                assert!(stores.wait_until_ready().await, "operator start-up");
                controller::run(
                    client,
                    stores,
                    Arc::new(registry),
                    settings,
                    4,
                    Metrics::default(),
                    CancellationToken::new(),
                )
                .await;
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

/// Creates an AIM object in the test namespace.
pub async fn create(ns: &TestNamespace, object: Value) {
    fixtures::create_aim(ns, object).await.expect("test setup");
}

/// A condition's status and reason.
pub fn condition(service: &AIMService, type_: &str) -> Option<(String, String)> {
    let status = service.status.as_ref()?;
    let c = status.conditions.iter().find(|c| c.type_ == type_)?;
    Some((c.status.clone(), c.reason.clone()))
}

/// A condition's message, or empty.
pub fn message(service: &AIMService, type_: &str) -> String {
    service
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == type_))
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// The service's `status.status`, or empty.
pub fn state(service: &AIMService) -> String {
    service
        .status
        .as_ref()
        .map(|s| format!("{:?}", s.status))
        .unwrap_or_default()
}

/// A Ready model and a template for it on an MI300X node (`aim_tests::fixtures`).
pub async fn model_and_template(ns: &TestNamespace) {
    fixtures::create_model_and_template(ns)
        .await
        .expect("test setup");
}
