//! What scenario tests share: the operator, started once per test binary.

use std::sync::{Arc, OnceLock};

use aim_engine::controller::{self, Settings};
use aim_engine::policy::{OutputRules, PolicyRegistry, PolicyRuntime, RuntimeConfig};
use aim_tests::TestEnv;

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
