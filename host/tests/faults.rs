//! The `aim-engine run` binary under faults on the real control plane: children deleted by hand
//! come back, another field manager's edit of an operator-owned field is undone while its own
//! additions stay, and a SIGKILL right after a new service is created loses nothing: the
//! restarted process finishes the work, with exactly one object of each kind per service. Also
//! what the host's apply and status steps promise: foreign finalizers stay and hold deletion,
//! deleting what is gone succeeds, and a status already written is not written again.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_engine::controller::apply::sync_finalizers;
use aim_engine::controller::status::write_status;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::scale::Scrape;
use aim_tests::status::state;
use aim_tests::{TestEnv, TestNamespace, wait_for};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
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

    // Killed in the middle of a new service's first reconciles (it has put its finalizer on the
    // service, and may or may not have created anything else); the next process finishes the work.
    service(&operator.ns, "batch").await;
    let services: Api<AIMService> = operator.ns.api();
    wait_for(&services, "batch", TIMEOUT, |s| {
        s.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    operator.kill().await;
    operator.restart();
    wait_for(&isvcs, "batch", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    wait_for(&routes, "batch-route", TIMEOUT, |_| true)
        .await
        .unwrap();
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

/// The operator's count of `name` series with `label` = `value`, from `/metrics`.
async fn metric(operator: &Operator, name: &str, label: (&str, &str)) -> f64 {
    let (_, text) = operator.get("/metrics").await.unwrap();
    Scrape::parse(&text).sum_where(name, label.0, label.1)
}

// An unchanged status is not written again: a settled service costs the apiserver no status
// writes however often it is reconciled.
#[tokio::test]
async fn a_settled_service_is_reconciled_without_writing_its_status_again() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let operator = Operator::ready_in(ns, env.kubeconfig()).await;
    serving_setup(&operator.ns).await;
    service(&operator.ns, "chat").await;
    let isvcs = inference_service_api(operator.ns.client(), operator.ns.name());
    let routes = fixtures::http_route_api(operator.ns.client(), operator.ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    fixtures::mark_inference_service_ready(&isvcs, "chat")
        .await
        .unwrap();
    fixtures::mark_http_route_accepted(&routes, "chat-route")
        .await
        .unwrap();
    let services: Api<AIMService> = operator.ns.api();
    let running = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));

    let status_writes = ("resource", "aimservices/status");
    let writes_before = metric(&operator, "aim_api_requests_total", status_writes).await;
    // A change to the service's annotations makes it reconcile (they reach the InferenceService)
    // without changing what its status says.
    touch(&services, &isvcs, "first").await;
    // Reconciles of one object run one at a time, and a reconcile writes the status after it
    // applies: once a second touch reaches the InferenceService, the reconcile that applied the
    // first has finished, status step included.
    touch(&services, &isvcs, "second").await;
    assert_eq!(
        metric(&operator, "aim_api_requests_total", status_writes).await,
        writes_before,
        "the settled service's status was written again"
    );
    let settled = services.get("chat").await.unwrap();
    assert_eq!(state(&settled), "Running");
    assert_eq!(
        serde_json::to_value(&settled.status).unwrap(),
        serde_json::to_value(&running.status).unwrap()
    );
}

/// Annotates the service with `example.com/touched: <value>` and waits until the operator has
/// carried the annotation to its InferenceService.
async fn touch(services: &Api<AIMService>, isvcs: &Api<DynamicObject>, value: &str) {
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"example.com/touched": value}}})),
        )
        .await
        .unwrap();
    wait_for(isvcs, "chat", TIMEOUT, |i| {
        i.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("example.com/touched"))
            .is_some_and(|touched| touched == value)
    })
    .await
    .unwrap();
}

/// A service created in `ns` with no operator watching it, for the host functions below.
async fn unwatched_service(ns: &TestNamespace, finalizers: &[&str]) -> AIMService {
    let services: Api<AIMService> = ns.api();
    let service: AIMService = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "chat", "finalizers": finalizers},
        "spec": {"model": {"ref": "llama"}}
    }))
    .unwrap();
    services
        .create(&kube::api::PostParams::default(), &service)
        .await
        .unwrap()
}

// `controller/apply.rs`: the operator's finalizers come and go with the plan; anyone else's
// finalizer stays, and holds the deletion until its owner lets go.
#[tokio::test]
async fn a_foreign_finalizer_survives_the_operators_and_holds_deletion() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let services: Api<AIMService> = ns.api();
    let foreign = "example.com/keep";
    let service = unwatched_service(&ns, &[foreign]).await;
    let ours = "aim.silogen.ai/service-cache-cleanup".to_owned();
    sync_finalizers(&services, &service, std::slice::from_ref(&ours))
        .await
        .unwrap();
    let both = services.get("chat").await.unwrap();
    assert_eq!(
        both.metadata.finalizers.as_deref(),
        Some(&[foreign.to_owned(), ours.clone()][..])
    );

    services
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    let deleting = services.get("chat").await.unwrap();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    // The plan on deletion lists no finalizer: the operator lets go of its own only.
    sync_finalizers(&services, &deleting, &[]).await.unwrap();
    let held = services.get("chat").await.unwrap();
    assert_eq!(
        held.metadata.finalizers.as_deref(),
        Some(&[foreign.to_owned()][..])
    );
    assert!(
        held.metadata.deletion_timestamp.is_some(),
        "still being deleted, held"
    );
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await
        .unwrap();
    aim_tests::wait_for_deletion(&services, "chat", TIMEOUT)
        .await
        .unwrap();
}

// `controller/status.rs`: a status that is already the object's is not sent again.
#[tokio::test]
async fn writing_the_status_an_object_already_has_sends_nothing() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let services: Api<AIMService> = ns.api();
    let service = unwatched_service(&ns, &[]).await;
    let status = json!({"status": "Pending", "observedGeneration": 1, "conditions": [
        {"type": "Ready", "status": "False", "reason": "ModelNotFound", "message": "no model", "observedGeneration": 1}
    ]});
    let manager = "aim-service-controller";
    assert!(
        write_status(&services, manager, &service, status)
            .await
            .unwrap()
    );
    let written = services.get("chat").await.unwrap();
    // What the next plan says: the same, with the transition time it was stamped with.
    let again = serde_json::to_value(written.status.as_ref().unwrap()).unwrap();
    assert!(
        !write_status(&services, manager, &written, again)
            .await
            .unwrap()
    );
    let after = services.get("chat").await.unwrap();
    assert_eq!(
        after.metadata.resource_version,
        written.metadata.resource_version
    );
}
