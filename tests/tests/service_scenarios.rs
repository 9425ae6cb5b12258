//! The AIMService flow on a real apiserver with the operator's controllers running: a model
//! without discovery, a template with in-line model sources, and services that reach Running once
//! the test plays KServe's and the Gateway's part.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, create, model_and_template, namespace, state};

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::{wait_for, wait_for_deletion};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_service_by_model_ref_selects_the_template_and_runs_once_kserve_is_ready() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "replicas": 2, "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]}
    }))
    .await;
    let services: Api<AIMService> = ns.api();
    let starting = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Starting")
        .await
        .unwrap();
    assert_eq!(
        starting
            .status
            .as_ref()
            .unwrap()
            .resolved_template
            .as_ref()
            .unwrap()
            .name,
        "llama-latency"
    );
    assert_eq!(
        starting.metadata.finalizers.as_deref(),
        Some(&["aim.silogen.ai/service-cache-cleanup".to_owned()][..])
    );

    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let predictor = &isvc.data["spec"]["predictor"];
    assert_eq!(predictor["minReplicas"], 2);
    assert_eq!(predictor["model"]["runtime"], "llama-latency");
    assert!(
        predictor["model"]["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "HF_TOKEN")
    );
    assert_eq!(
        isvc.metadata.owner_references.as_ref().unwrap()[0].kind,
        "AIMService"
    );
    let runtimes = Api::<DynamicObject>::namespaced_with(
        ns.client(),
        ns.name(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "serving.kserve.io",
            "v1alpha1",
            "ServingRuntime",
        )),
    );
    wait_for(&runtimes, "llama-latency", TIMEOUT, |_| true)
        .await
        .unwrap();

    fixtures::mark_inference_service_ready(&isvcs, "chat")
        .await
        .unwrap();
    let running = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    assert_eq!(
        condition(&running, "Ready"),
        Some(("True".into(), "Ready".into()))
    );
    assert_eq!(
        condition(&running, "RoutingReady"),
        Some(("True".into(), "RouteReady".into()))
    );
}

#[tokio::test]
async fn replicas_changed_on_the_service_reach_the_inference_service() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let services: Api<AIMService> = ns.api();
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.data["spec"]["predictor"]["maxReplicas"] == 3
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn routing_creates_an_http_route_and_waits_for_the_gateway() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}}
    }))
    .await;
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    let route = wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        route.data["spec"]["rules"][0]["matches"][0]["path"]["value"],
        format!("/{}/chat", ns.name())
    );
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    fixtures::mark_inference_service_ready(&isvcs, "chat")
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    let waiting = wait_for(&services, "chat", TIMEOUT, |s| {
        condition(s, "RoutingReady").is_some_and(|c| c.1 == "ConfiguringRoute")
            && state(s) == "Starting"
    })
    .await
    .unwrap();
    assert_eq!(
        waiting.status.unwrap().routing.unwrap().path.as_deref(),
        Some(format!("/{}/chat", ns.name()).as_str())
    );
    fixtures::mark_http_route_accepted(&routes, "chat-route")
        .await
        .unwrap();
    wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_runtime_config_degrades_the_service() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "runtimeConfigName": "team-config"}
    }))
    .await;
    let services: Api<AIMService> = ns.api();
    let degraded = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Degraded")
        .await
        .unwrap();
    assert_eq!(
        condition(&degraded, "Ready").unwrap().1,
        "RuntimeConfigMissing"
    );
    create(&ns, json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "team-config"}, "spec": {}})).await;
    let recovered = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Starting")
        .await
        .unwrap();
    assert_eq!(
        recovered
            .status
            .unwrap()
            .resolved_runtime_config
            .unwrap()
            .name,
        "team-config"
    );
}

#[tokio::test]
async fn deleting_a_service_releases_its_finalizer_and_collects_its_children() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let services: Api<AIMService> = ns.api();
    services
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&services, "chat", TIMEOUT).await.unwrap();
    wait_for_deletion(&isvcs, "chat", TIMEOUT).await.unwrap();
}
