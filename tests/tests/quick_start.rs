//! The AIMService guide's Quick Start end to end on a real apiserver with the operator in-process:
//! from an image in a real registry to a Running service (the steps are in
//! `aim_tests::quick_start`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use aim_api::v1alpha1::AIMService;
use aim_tests::quick_start::{SERVICE, TIMEOUT, run_until_inference_service_ready, state};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use kube::api::Api;
use serde_json::json;

#[tokio::test]
async fn the_quick_start_goes_from_an_image_to_a_running_service() {
    let env = TestEnv::shared().await.unwrap();
    common::start_operator(env);
    let ns = TestNamespace::create(env).await.unwrap();
    let quick_start = run_until_inference_service_ready(env, &ns, json!({}), json!({}))
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    let running = wait_for(&services, SERVICE, TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    let status = running.status.unwrap();
    assert_eq!(status.resolved_image.unwrap().name, quick_start.model);
    assert_eq!(status.resolved_template.unwrap().name, quick_start.template);
}
