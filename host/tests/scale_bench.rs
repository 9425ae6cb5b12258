//! The scale benchmark (`scale-bench`, see `aim_tests::scale`) at a size CI can afford: ten
//! services of the benchmark's mix, reconciled by the `aim-engine run` binary with the wasm
//! policy, reach Running, and the figures come out. Nothing about speed is asserted; this keeps
//! the benchmark working.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use aim_tests::TestEnv;
use aim_tests::scale::{self, Engine, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_services_of_the_benchmark_mix_reach_running_and_their_figures_are_printed() {
    let env = TestEnv::shared().await.unwrap();
    let cache_home = tempfile::tempdir().unwrap();
    let settings = Settings {
        services: 10,
        engine: Engine::Wasm,
        per_namespace: 10,
        operator: PathBuf::from(env!("CARGO_BIN_EXE_aim-engine")),
        concurrency: None,
        cache_home: cache_home.path().to_path_buf(),
        timeout: Duration::from_secs(300),
        clean_up: true,
    };
    // Fails unless every service reached Running.
    let figures = scale::run(env, &settings).await.unwrap();
    let report = scale::report(std::slice::from_ref(&figures));
    println!("{report}");

    assert!(report.contains("| 10 | wasm |"), "{report}");
    assert!(
        report.contains("API requests per service by verb:"),
        "{report}"
    );
    assert!(figures.reconciles > 0.0, "{report}");
    assert!(figures.policy_evaluations > 0.0, "{report}");
    assert!(
        figures
            .api_requests_by_resource
            .contains_key("inferenceservices"),
        "{report}"
    );
    assert!(figures.peak_rss_bytes > 0, "{report}");
}
