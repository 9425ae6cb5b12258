//! The `aim-engine run` binary under faults on the real control plane: children deleted by hand
//! come back, another field manager's edit of an operator-owned field is undone while its own
//! additions stay, and a SIGKILL right after a new service is created loses nothing: the
//! restarted process finishes the work, with exactly one object of each kind per service. A
//! namespace deleted with services and caches in it goes away completely while the operator
//! carries on with the others.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::{TestEnv, TestNamespace, wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::Namespace;
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

#[tokio::test]
async fn a_namespace_deleted_with_services_and_caches_goes_away_and_the_others_carry_on() {
    let env = TestEnv::shared().await.unwrap();
    let own = TestNamespace::create(env).await.unwrap();
    let doomed = TestNamespace::create(env).await.unwrap();
    let other = TestNamespace::create(env).await.unwrap();
    let watched = format!("{},{}", doomed.name(), other.name());
    let operator = Operator::start_in(own, env.kubeconfig(), &["--namespace", &watched]).await;
    operator.assert_ready().await;

    // A serving service and a caching one, with their template and model caches.
    serving_setup(&doomed).await;
    service(&doomed, "chat").await;
    fixtures::create_aim(&doomed, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "cached"},
        "spec": {"model": {"ref": "llama"}, "cacheModel": true}
    }))
    .await
    .unwrap();
    let isvcs = inference_service_api(doomed.client(), doomed.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let model_caches = fixtures::aim_api(&doomed, "AIMModelCache");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while model_caches
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no model cache; log:\n{}",
            operator.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Deleted: nothing the operator holds (a finalizer, a re-created child) keeps it.
    let namespaces: Api<Namespace> = Api::all(doomed.client());
    namespaces
        .delete(doomed.name(), &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&namespaces, doomed.name(), TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));

    // The operator carries on with the namespace next to it.
    serving_setup(&other).await;
    service(&other, "chat").await;
    let isvcs = inference_service_api(other.client(), other.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let log = operator.log();
    assert!(!log.contains("panicked"), "log:\n{log}");
}
