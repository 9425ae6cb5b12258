//! Image label inspection against a real OCI registry on loopback: labels of a pushed image come
//! back, a missing tag is NotFound, and with basic auth on, a pull Secret's credentials are needed.

use std::collections::BTreeMap;
use std::path::Path;

use aim_api::policy::observation::{ImageInspection, RegistryErrorKind};
use aim_engine::cluster::registry::{credentials_from_secret, inspect_image};
use aim_tests::registry::TestRegistry;
use aim_tests::{TestEnv, TestNamespace};
use k8s_openapi::api::core::v1::Secret;
use kube::api::PostParams;

const RECOMMENDED: &str = r#"[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp8"},{"gpuModel":"MI325X","gpuCount":1,"metric":"throughput","precision":"fp8"}]"#;

fn aim_labels() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "com.amd.aim.model.canonicalName",
            "meta-llama/Llama-3.1-8B-Instruct",
        ),
        ("com.amd.aim.model.recommendedDeployments", RECOMMENDED),
        (
            "org.opencontainers.image.title",
            "AIM Llama 3.1 8B Instruct",
        ),
    ]
}

fn expected_labels() -> BTreeMap<String, String> {
    aim_labels()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn error_kind(inspection: &ImageInspection) -> Option<RegistryErrorKind> {
    inspection.error.as_ref().map(|e| e.kind)
}

#[tokio::test]
async fn labels_of_a_pushed_image_are_read() {
    let registry = TestRegistry::start().await.expect("registry");
    registry
        .push_image("aim/llama", "0.1", &aim_labels())
        .await
        .expect("push");
    let image = registry.image("aim/llama", "0.1");
    let inspection = inspect_image(&image, &[]).await;
    assert_eq!(inspection.error, None);
    assert_eq!(inspection.image, image);
    assert_eq!(inspection.labels, Some(expected_labels()));
}

#[tokio::test]
async fn a_missing_tag_or_repository_is_not_found() {
    let registry = TestRegistry::start().await.expect("registry");
    registry
        .push_image("aim/llama", "0.1", &aim_labels())
        .await
        .expect("push");
    for image in [
        registry.image("aim/llama", "no-such-tag"),
        registry.image("aim/no-such-repo", "0.1"),
    ] {
        let inspection = inspect_image(&image, &[]).await;
        assert_eq!(
            error_kind(&inspection),
            Some(RegistryErrorKind::NotFound),
            "{inspection:?}"
        );
        assert_eq!(inspection.labels, None);
    }
}

#[tokio::test]
async fn an_unreachable_registry_is_another_error() {
    // Stopped at once: nothing listens on its port any more.
    let image = {
        let registry = TestRegistry::start().await.expect("registry");
        registry.image("aim/llama", "0.1")
    };
    let inspection = inspect_image(&image, &[]).await;
    assert_eq!(
        error_kind(&inspection),
        Some(RegistryErrorKind::Other),
        "{inspection:?}"
    );
}

#[tokio::test]
async fn a_registry_with_auth_needs_the_pull_secret() {
    let registry = TestRegistry::start_with_auth("puller", "s3cret:with-colon")
        .await
        .expect("registry");
    registry
        .push_image("aim/llama", "0.1", &aim_labels())
        .await
        .expect("push");
    let image = registry.image("aim/llama", "0.1");

    let anonymous = inspect_image(&image, &[]).await;
    assert_eq!(
        error_kind(&anonymous),
        Some(RegistryErrorKind::Auth),
        "{anonymous:?}"
    );

    // The Secret goes through the apiserver, as the operator would read it.
    let env = TestEnv::shared().await.expect("test environment");
    let ns = TestNamespace::create(env).await.expect("test namespace");
    let secret = registry.pull_secret("registry-creds").expect("pull secret");
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    let stored = ns
        .api::<Secret>()
        .get("registry-creds")
        .await
        .expect("secret");
    let credentials = credentials_from_secret(&stored);
    let inspection = inspect_image(&image, &credentials).await;
    assert_eq!(inspection.error, None);
    assert_eq!(inspection.labels, Some(expected_labels()));

    let mut wrong = credentials.clone();
    for c in &mut wrong {
        c.password = "wrong".into();
    }
    let refused = inspect_image(&image, &wrong).await;
    assert_eq!(
        error_kind(&refused),
        Some(RegistryErrorKind::Auth),
        "{refused:?}"
    );
}

#[tokio::test]
async fn dropping_the_registry_stops_it_and_removes_its_dir() {
    let registry = TestRegistry::start().await.expect("registry");
    let pid = registry.pid().expect("pid");
    let dir = registry.dir().to_path_buf();
    let proc_entry = format!("/proc/{pid}");
    assert!(Path::new(&proc_entry).exists());
    // Dropping kills and reaps the process before removing its dir.
    drop(registry);
    assert!(
        !Path::new(&proc_entry).exists(),
        "registry {pid} still runs"
    );
    assert!(!dir.exists(), "{} still exists", dir.display());
}
