//! The `aim-engine run` binary on a control plane of its own, whose components the tests crash:
//! kube-apiserver killed and started again while a service is being planned, etcd stopped and
//! started under it, objects written into etcd past the apiserver's validation, and a namespace
//! deleted with services and caches in it (while a namespace it does not watch is left alone).
//! The operator keeps running through all of it, and every service converges with exactly one
//! InferenceService, its status intact. Each test has the control plane to itself, so no other
//! test's operator or leftovers are in the picture.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::status::{failure_reason, state};
use aim_tests::{TestEnv, TestNamespace, wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use support::operator::Operator;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn create_service(ns: &TestNamespace, name: &str) {
    fixtures::create_aim(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": name},
        "spec": {"model": {"ref": fixtures::MODEL}}
    }))
    .await
    .unwrap();
}

/// Waits for the service's InferenceService, plays KServe marking it ready, and waits for
/// `Running`.
async fn until_running(operator: &Operator, service: &str) {
    let ns = &operator.ns;
    let isvcs = inference_service_api(ns.client(), ns.name());
    let Some(isvc_name) = wait_for_isvc_of(&isvcs, service).await else {
        panic!(
            "no InferenceService for {service}; log:\n{}",
            operator.log()
        );
    };
    fixtures::mark_inference_service_ready(&isvcs, &isvc_name)
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    wait_for(&services, service, TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap_or_else(|e| panic!("{service}: {e:#}; log:\n{}", operator.log()));
}

/// The name of the InferenceService labelled with `service`, once there is one.
async fn wait_for_isvc_of(isvcs: &Api<kube::api::DynamicObject>, service: &str) -> Option<String> {
    let selector = format!("aim.silogen.ai/service-name={service}");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if let Ok(list) = isvcs.list(&ListParams::default().labels(&selector)).await
            && let Some(isvc) = list.items.first()
        {
            return isvc.metadata.name.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_converge_through_a_restart_of_the_apiserver_and_of_etcd() {
    let mut env = TestEnv::start().await.unwrap();
    let ns = TestNamespace::create(&env).await.unwrap();
    let mut operator = Operator::ready_in(ns, env.kubeconfig()).await;
    let pid = operator.pid();
    fixtures::create_model_and_template(&operator.ns)
        .await
        .unwrap();
    create_service(&operator.ns, "before").await;
    until_running(&operator, "before").await;

    // kube-apiserver crashes right after a service is created, and comes back.
    create_service(&operator.ns, "apiserver").await;
    let control_plane = env.control_plane_mut().unwrap();
    control_plane.kill("kube-apiserver").unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    control_plane.start_again("kube-apiserver").await.unwrap();
    until_running(&operator, "apiserver").await;

    // etcd stops under a running apiserver right after a service is created, and comes back.
    create_service(&operator.ns, "etcd").await;
    let control_plane = env.control_plane_mut().unwrap();
    control_plane.kill("etcd").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    control_plane.start_again("etcd").await.unwrap();
    until_running(&operator, "etcd").await;

    // The same process did all of it, and nothing is missing or doubled.
    assert_eq!(operator.pid(), pid, "log:\n{}", operator.log());
    assert!(
        operator.exit_code(Duration::ZERO).await.is_none(),
        "log:\n{}",
        operator.log()
    );
    let ns = &operator.ns;
    let isvcs = inference_service_api(ns.client(), ns.name())
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut owners: Vec<String> = isvcs
        .items
        .iter()
        .filter_map(|i| {
            i.metadata
                .labels
                .as_ref()?
                .get("aim.silogen.ai/service-name")
                .cloned()
        })
        .collect();
    owners.sort();
    assert_eq!(owners, ["apiserver", "before", "etcd"]);
    let services: Api<AIMService> = ns.api();
    for service in ["before", "apiserver", "etcd"] {
        assert_eq!(state(&services.get(service).await.unwrap()), "Running");
    }
    operator.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_written_past_validation_is_reported_and_the_others_carry_on() {
    let env = TestEnv::start().await.unwrap();
    let control_plane = env.control_plane().unwrap();
    // Before the operator starts, so its first list holds the object.
    let ns = TestNamespace::create(&env).await.unwrap();
    let broken = json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {
            "name": "broken", "namespace": ns.name(), "uid": "0b6c1a52-2c59-4e0b-9d40-4b1f5d0c0001",
            "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"
        },
        "spec": {"model": {"ref": fixtures::MODEL}, "replicas": "lots"}
    });
    let key = format!("/registry/aim.silogen.ai/aimservices/{}/broken", ns.name());
    control_plane
        .write_to_etcd(&key, &serde_json::to_vec(&broken).unwrap())
        .await
        .unwrap();
    let operator = Operator::ready_in(ns, env.kubeconfig()).await;
    let ns = &operator.ns;
    fixtures::create_model_and_template(ns).await.unwrap();

    // The others carry on.
    create_service(ns, "chat").await;
    until_running(&operator, "chat").await;

    // The malformed one says why, on its status and in an Event.
    let services: Api<AIMService> = ns.api();
    let dynamic = fixtures::aim_api(ns, "AIMService");
    let reported = |object: &kube::api::DynamicObject| {
        let status = &object.data["status"];
        status["status"] == "Failed"
            && status["conditions"].as_array().is_some_and(|conditions| {
                conditions.iter().any(|c| {
                    c["type"] == "Failure"
                        && c["reason"] == "MalformedObject"
                        && c["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("spec.replicas"))
                })
            })
    };
    wait_for(&dynamic, "broken", TIMEOUT, reported)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let events: Api<Event> = ns.api();
    let found = wait_until(|| async {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| {
                e.reason.as_deref() == Some("MalformedObject")
                    && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("broken")
                    && e.note
                        .as_deref()
                        .is_some_and(|n| n.contains("spec.replicas"))
            })
    })
    .await;
    assert!(found, "no MalformedObject Event; log:\n{}", operator.log());

    // A running service whose stored spec turns malformed is left alone: its InferenceService
    // stays, and it is reported too.
    let chat = dynamic.get("chat").await.unwrap();
    let mut stored = serde_json::to_value(&chat).unwrap();
    stored["spec"]["replicas"] = json!("two");
    let key = format!("/registry/aim.silogen.ai/aimservices/{}/chat", ns.name());
    control_plane
        .write_to_etcd(&key, &serde_json::to_vec(&stored).unwrap())
        .await
        .unwrap();
    wait_for(&dynamic, "chat", TIMEOUT, reported)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(wait_for_isvc_of(&isvcs, "chat").await.is_some());

    // Fixed by its owner (validation ratchets: only the changed field is checked), it is planned
    // like any other.
    services
        .patch(
            "broken",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 1}})),
        )
        .await
        .unwrap();
    wait_for(&services, "broken", TIMEOUT, |s| {
        failure_reason(s).as_deref() != Some("MalformedObject")
    })
    .await
    .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    assert!(wait_for_isvc_of(&isvcs, "broken").await.is_some());
    assert!(
        !operator.log().contains("panicked"),
        "log:\n{}",
        operator.log()
    );
}

/// Polls `check` until it holds (true) or `TIMEOUT` passes (false).
async fn wait_until<F, Fut>(check: F) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_deleted_with_services_and_caches_goes_away_and_the_others_carry_on() {
    let env = TestEnv::start().await.unwrap();
    let own = TestNamespace::create(&env).await.unwrap();
    let doomed = TestNamespace::create(&env).await.unwrap();
    let other = TestNamespace::create(&env).await.unwrap();
    let outside = TestNamespace::create(&env).await.unwrap();
    fixtures::create_model_and_template(&outside).await.unwrap();
    let watched = format!("{},{}", doomed.name(), other.name());
    let operator = Operator::start_in(own, env.kubeconfig(), &["--namespace", &watched]).await;
    operator.assert_ready().await;

    // A serving service and a caching one, with their template and model caches.
    fixtures::create_model_and_template(&doomed).await.unwrap();
    create_service(&doomed, "chat").await;
    // Serving before the cache exists: a service without caching waits for a cache of its
    // template that is warming, and this one never finishes here.
    let isvcs = inference_service_api(doomed.client(), doomed.name());
    if let Err(e) = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await {
        let services: Api<AIMService> = doomed.api();
        let chat = services.get("chat").await.map(|s| s.status);
        panic!(
            "{e:#}; the service's status: {chat:?}; log:\n{}",
            operator.log()
        );
    }
    fixtures::create_aim(&doomed, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "cached"},
        "spec": {"model": {"ref": fixtures::MODEL}, "cacheModel": true}
    }))
    .await
    .unwrap();
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
    fixtures::create_model_and_template(&other).await.unwrap();
    create_service(&other, "chat").await;
    let isvcs = inference_service_api(other.client(), other.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true)
        .await
        .unwrap_or_else(|e| panic!("{e:#}; log:\n{}", operator.log()));
    let log = operator.log();
    assert!(!log.contains("panicked"), "log:\n{log}");

    // Namespaces it does not watch are none of its business, templates included.
    let template = fixtures::aim_api(&outside, "AIMServiceTemplate")
        .get(fixtures::TEMPLATE)
        .await
        .unwrap();
    assert_eq!(template.data.get("status"), None, "log:\n{log}");
}
