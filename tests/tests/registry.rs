//! Image label inspection against a real OCI registry on loopback: labels of a pushed image come
//! back, a missing tag is NotFound, and with basic auth on, a pull Secret's credentials are needed.
//! Against registries that misbehave on purpose, every read stays bounded: in time, in bytes, and
//! in the text it passes on; and without the admin's opt-in no registry on a private address is
//! read at all.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use aim_api::policy::observation::{ImageInspection, RegistryErrorKind};
use aim_engine::cluster::registry::{
    MAX_MESSAGE_BYTES, RegistryAccess, credentials_from_secret, inspect_image, pull_component,
};
use aim_tests::registry::TestRegistry;
use aim_tests::registry::hostile::{ERROR_BODY_START, HostileRegistry, Misbehaviour};
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

/// Test registries run on loopback, which the admin must allow.
fn loopback() -> RegistryAccess {
    RegistryAccess {
        allow_private_networks: true,
        ..RegistryAccess::default()
    }
}

/// A registry anyone may read, holding `aim/llama:0.1` with AIM labels.
async fn registry_with_llama() -> TestRegistry {
    let registry = TestRegistry::start().await.expect("registry");
    registry
        .push_image("aim/llama", "0.1", &aim_labels())
        .await
        .expect("push");
    registry
}

fn error_kind(inspection: &ImageInspection) -> Option<RegistryErrorKind> {
    inspection.error.as_ref().map(|e| e.kind)
}

#[tokio::test]
async fn labels_of_a_pushed_image_are_read() {
    let registry = registry_with_llama().await;
    let image = registry.image("aim/llama", "0.1");
    let inspection = inspect_image(&image, &[], &loopback()).await;
    assert_eq!(inspection.error, None);
    assert_eq!(inspection.image, image);
    assert_eq!(inspection.labels, Some(expected_labels()));
}

#[tokio::test]
async fn a_missing_tag_or_repository_is_not_found() {
    let registry = registry_with_llama().await;
    for image in [
        registry.image("aim/llama", "no-such-tag"),
        registry.image("aim/no-such-repo", "0.1"),
    ] {
        let inspection = inspect_image(&image, &[], &loopback()).await;
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
    let inspection = inspect_image(&image, &[], &loopback()).await;
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

    let anonymous = inspect_image(&image, &[], &loopback()).await;
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
    let inspection = inspect_image(&image, &credentials, &loopback()).await;
    assert_eq!(inspection.error, None);
    assert_eq!(inspection.labels, Some(expected_labels()));

    let mut wrong = credentials.clone();
    for c in &mut wrong {
        c.password = "wrong".into();
    }
    let refused = inspect_image(&image, &wrong, &loopback()).await;
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

/// The error message of a failed inspection.
fn error_message(inspection: &ImageInspection) -> String {
    inspection
        .error
        .as_ref()
        .map(|e| e.message.clone())
        .unwrap_or_else(|| panic!("no error: {inspection:?}"))
}

#[tokio::test]
async fn a_registry_on_a_private_address_is_refused_without_the_admins_opt_in() {
    let registry = registry_with_llama().await;
    for image in [
        registry.image("aim/llama", "0.1"),
        format!(
            "localhost:{}/aim/llama:0.1",
            registry.host().rsplit(':').next().unwrap()
        ),
    ] {
        let refused = inspect_image(&image, &[], &RegistryAccess::default()).await;
        assert_eq!(refused.labels, None);
        let message = error_message(&refused);
        assert!(message.contains("loopback"), "{message}");
        assert!(
            message.contains("--registry-allow-private-networks"),
            "{message}"
        );
    }
    // The same image with the opt-in: the refusal was the address, nothing else.
    let allowed = inspect_image(&registry.image("aim/llama", "0.1"), &[], &loopback()).await;
    assert_eq!(allowed.labels, Some(expected_labels()));
}

#[tokio::test]
async fn a_slow_drip_registry_is_given_up_on_at_the_timeout() {
    let registry = HostileRegistry::start(Misbehaviour::SlowDrip)
        .await
        .unwrap();
    let access = RegistryAccess {
        timeout: Duration::from_secs(2),
        ..loopback()
    };
    let started = Instant::now();
    let inspection = inspect_image(&registry.image("aim/llama", "0.1"), &[], &access).await;
    let elapsed = started.elapsed();
    assert_eq!(error_kind(&inspection), Some(RegistryErrorKind::Other));
    assert!(
        error_message(&inspection).contains("within 2 s"),
        "{inspection:?}"
    );
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
}

/// The most a bounded read may let through before the cap stops it: the cap plus what socket
/// buffers hold.
const READ_SLACK: u64 = 16 << 20;

/// Inspects an image on a registry that sends far too much: the read fails naming `what` and its
/// cap, and takes little of what the registry would send.
async fn assert_refused_while_read(misbehaviour: Misbehaviour, what: &str) {
    let registry = HostileRegistry::start(misbehaviour).await.unwrap();
    let inspection = inspect_image(&registry.image("aim/llama", "0.1"), &[], &loopback()).await;
    let message = error_message(&inspection);
    assert!(
        message.contains(what) && message.contains("at most"),
        "{message}"
    );
    assert!(
        registry.body_bytes_sent() < READ_SLACK,
        "{} bytes were sent",
        registry.body_bytes_sent()
    );
}

#[tokio::test]
async fn a_huge_manifest_is_refused_while_it_is_read() {
    assert_refused_while_read(Misbehaviour::HugeManifest, "manifest").await;
}

#[tokio::test]
async fn a_config_blob_larger_than_its_manifest_says_is_refused_while_it_is_read() {
    assert_refused_while_read(Misbehaviour::OversizeConfig, "image config").await;
}

#[tokio::test]
async fn an_error_page_reaches_the_status_short_and_without_control_characters() {
    let registry = HostileRegistry::start(Misbehaviour::ServerErrorWithHugeBody)
        .await
        .unwrap();
    for read in [
        inspect_image(&registry.image("aim/llama", "0.1"), &[], &loopback())
            .await
            .error
            .expect("an error"),
        pull_component(
            &registry.image("aim/policy", "0.1"),
            &[],
            1 << 20,
            &loopback(),
        )
        .await
        .expect_err("an error"),
    ] {
        assert_eq!(read.kind, RegistryErrorKind::Other);
        assert!(
            read.message.len() <= MAX_MESSAGE_BYTES,
            "{} bytes",
            read.message.len()
        );
        assert!(
            !read.message.chars().any(char::is_control),
            "{:?}",
            read.message
        );
        assert!(read.message.contains("500"), "{}", read.message);
        assert!(read.message.contains("FATAL"), "{}", read.message);
        assert!(!read.message.contains(ERROR_BODY_START), "{}", read.message);
    }
    assert!(
        registry.body_bytes_sent() < 2 * READ_SLACK,
        "{} bytes were sent",
        registry.body_bytes_sent()
    );
}
