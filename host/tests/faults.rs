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
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(90);

/// A Ready model and template on an MI300X node, and routing for the namespace.
async fn serving_setup(ns: &TestNamespace) {
    fixtures::create_model_and_template(ns).await.unwrap();
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}}
    }))
    .await
    .unwrap();
}

async fn service(ns: &TestNamespace, name: &str) {
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": name},
        "spec": {"model": {"ref": "llama"}, "replicas": 2}
    }))
    .await
    .unwrap();
}

#[tokio::test]
async fn the_operator_converges_after_children_are_deleted_edited_and_it_is_killed() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let mut operator = Operator::ready_in(ns, env.kubeconfig()).await;
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
