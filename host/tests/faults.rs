//! The `aim-engine run` binary under faults on the real control plane: children deleted by hand
//! come back, another field manager's edit of an operator-owned field is undone while its own
//! additions stay, and a SIGKILL right after a new service is created loses nothing: the
//! restarted process finishes the work, with exactly one object of each kind per service.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use serde_json::{Value, json};
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(90);

fn aim(ns: &TestNamespace, kind: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        ns.client(),
        ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", kind)),
    )
}

async fn create(api: &Api<DynamicObject>, object: Value) {
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
}

/// A Ready model and template on an MI300X node, and routing for the namespace.
async fn serving_setup(ns: &TestNamespace) {
    fixtures::create_node(
        ns,
        "gpu",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await
    .unwrap();
    create(&aim(ns, "AIMModel"), json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "llama"},
        "spec": {"image": "ghcr.io/silogen/llama:0.7.0", "discovery": {"enabled": false}}
    }))
    .await;
    create(&aim(ns, "AIMServiceTemplate"), json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "llama-latency"},
        "spec": {
            "modelName": "llama", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"},
            "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]
        }
    }))
    .await;
    create(&aim(ns, "AIMRuntimeConfig"), json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}}
    }))
    .await;
}

async fn service(ns: &TestNamespace, name: &str) {
    create(&aim(ns, "AIMService"), json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": name},
        "spec": {"model": {"ref": "llama"}, "replicas": 2}
    }))
    .await;
}

async fn start(ns: TestNamespace, env: &TestEnv) -> Operator {
    let name = ns.name().to_owned();
    let operator = Operator::start_in(ns, env.kubeconfig(), &["--namespace", &name]).await;
    assert!(
        operator
            .wait_for("/readyz", |status, _| status == 200)
            .await,
        "never ready; log:\n{}",
        operator.log()
    );
    operator
}

#[tokio::test]
async fn the_operator_converges_after_children_are_deleted_edited_and_it_is_killed() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let mut operator = start(ns, env).await;
    serving_setup(&operator.ns).await;
    service(&operator.ns, "chat").await;
    let isvcs = inference_service_api(operator.ns.client(), operator.ns.name());
    let routes = fixtures::http_route_api(operator.ns.client(), operator.ns.name());
    let first = wait_for(&isvcs, "chat", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();

    // Children deleted by hand come back.
    isvcs
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    routes
        .delete("chat-route", &DeleteParams::default())
        .await
        .unwrap();
    let recreated = wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.metadata.uid != first.metadata.uid && i.metadata.deletion_timestamp.is_none()
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    wait_for(&routes, "chat-route", TIMEOUT, |r| {
        r.metadata.deletion_timestamp.is_none()
    })
    .await
    .unwrap();

    // Another field manager takes an operator-owned field and adds one of its own: the operator
    // takes its field back and leaves the addition alone.
    let intrusion = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "chat", "annotations": {"example.com/owner-note": "kept"}},
        "spec": {"predictor": {"minReplicas": 7}}
    });
    isvcs
        .patch(
            "chat",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(&intrusion),
        )
        .await
        .unwrap();
    let restored = wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.data["spec"]["predictor"]["minReplicas"] == 2
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    assert_eq!(restored.metadata.uid, recreated.metadata.uid);
    assert_eq!(
        restored.metadata.annotations.unwrap()["example.com/owner-note"],
        "kept"
    );

    // Killed right after a new service appears; the next process finishes the work.
    service(&operator.ns, "batch").await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    operator.kill().await;
    operator.restart();
    wait_for(&isvcs, "batch", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    wait_for(&routes, "batch-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    let services: Api<AIMService> = operator.ns.api();
    for name in ["chat", "batch"] {
        wait_for(&services, name, TIMEOUT, |s| {
            s.status
                .as_ref()
                .is_some_and(|st| st.observed_generation == s.metadata.generation)
        })
        .await
        .unwrap();
    }
    let all = ListParams::default();
    assert_eq!(isvcs.list(&all).await.unwrap().items.len(), 2);
    assert_eq!(routes.list(&all).await.unwrap().items.len(), 2);
}
