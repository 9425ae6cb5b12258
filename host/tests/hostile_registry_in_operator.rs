//! Image inspection by the `aim-engine run` binary against registries a namespace user points it
//! at: a registry on loopback is not read unless the admin allows private networks; registries
//! that drip bytes are given up on at the timeout and do not hold back a model next to them; and
//! a registry's error page reaches the model's status as one short clean line.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMModel;
use aim_tests::fixtures;
use aim_tests::registry::TestRegistry;
use aim_tests::registry::hostile::{HostileRegistry, Misbehaviour};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use kube::api::Api;
use serde_json::{Value, json};
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(90);

/// The labels the model policy needs to call an image an AIM.
const LABELS: [(&str, &str); 2] = [
    (
        "com.amd.aim.model.canonicalName",
        "meta-llama/Llama-3.1-8B-Instruct",
    ),
    (
        "com.amd.aim.model.recommendedDeployments",
        r#"[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp8"}]"#,
    ),
];

async fn model(ns: &TestNamespace, name: &str, image: &str) {
    fixtures::create_aim(
        ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": name},
            "spec": {"image": image, "discovery": {"autoCreateTemplates": false}}
        }),
    )
    .await
    .unwrap();
}

/// The model's `Ready` condition: its reason and message.
fn ready(model: &AIMModel) -> Option<(String, String)> {
    let status = serde_json::to_value(model).ok()?["status"].take();
    let conditions = status["conditions"].as_array()?.clone();
    conditions
        .into_iter()
        .find(|c| c["type"] == "Ready")
        .map(|c: Value| {
            (
                c["reason"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// A ready operator reconciling only a namespace of its own, started with `extra` arguments.
async fn operator(extra: &[&str]) -> Operator {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let name = ns.name().to_owned();
    let mut args = vec!["--namespace", &name];
    args.extend_from_slice(extra);
    let operator = Operator::start_in(ns, env.kubeconfig(), &args).await;
    operator.assert_ready().await;
    operator
}

/// Waits until the model's inspection failed as `MetadataExtractionFailed`; its `Ready` message.
async fn failed_inspection(operator: &Operator, model: &str) -> String {
    let models: Api<AIMModel> = operator.ns.api();
    let failed = wait_for(&models, model, TIMEOUT, |m| {
        reason_is(m, "MetadataExtractionFailed")
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    ready(&failed).unwrap().1
}

fn reason_is(model: &AIMModel, reason: &str) -> bool {
    ready(model).is_some_and(|(r, _)| r == reason)
}

#[tokio::test]
async fn a_registry_on_loopback_is_not_read_without_the_admins_opt_in() {
    let registry = TestRegistry::start().await.unwrap();
    registry
        .push_image("aim/llama", "0.1", &LABELS)
        .await
        .unwrap();
    let operator = operator(&["--registry-allow-private-networks=false"]).await;
    model(&operator.ns, "llama", &registry.image("aim/llama", "0.1")).await;
    let message = failed_inspection(&operator, "llama").await;
    assert!(message.contains("loopback"), "{message}");
}

#[tokio::test]
async fn registries_that_drip_bytes_time_out_and_hold_back_no_other_model() {
    let good = TestRegistry::start().await.unwrap();
    good.push_image("aim/llama", "0.1", &LABELS).await.unwrap();
    let drip = HostileRegistry::start(Misbehaviour::SlowDrip)
        .await
        .unwrap();
    // Two model reconciles at a time (the harness's concurrency), both taken by dripping
    // registries first.
    let operator = operator(&["--registry-timeout-seconds", "3"]).await;
    for slow in ["drip-a", "drip-b", "drip-c"] {
        model(&operator.ns, slow, &drip.image("aim/slow", slow)).await;
    }
    model(&operator.ns, "llama", &good.image("aim/llama", "0.1")).await;

    let models: Api<AIMModel> = operator.ns.api();
    wait_for(&models, "llama", Duration::from_secs(45), |m| {
        serde_json::to_value(m).unwrap()["status"]["imageMetadata"].is_object()
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let message = failed_inspection(&operator, "drip-a").await;
    assert!(message.contains("within 3 s"), "{message}");
}

#[tokio::test]
async fn a_registrys_error_page_reaches_the_status_as_one_short_clean_line() {
    let registry = HostileRegistry::start(Misbehaviour::ServerErrorWithHugeBody)
        .await
        .unwrap();
    let operator = operator(&[]).await;
    model(&operator.ns, "llama", &registry.image("aim/llama", "0.1")).await;
    let message = failed_inspection(&operator, "llama").await;
    assert!(message.contains("500"), "{message}");
    assert!(!message.chars().any(char::is_control), "{message:?}");
    // The registry's part is cut at 512 bytes; the policy adds a sentence around it.
    assert!(message.len() < 1024, "{} bytes", message.len());
}
