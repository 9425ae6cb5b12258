//! The AIMService flow on a real apiserver with the operator's controllers running: a model
//! without discovery, a template with in-line model sources, and services that reach Running once
//! the test plays KServe's and the Gateway's part.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, create, message, model_and_template, namespace, state};

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::history::History;
use aim_tests::{TestNamespace, wait_for, wait_for_deletion};
use kube::ResourceExt;
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
    let before = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    assert_eq!(
        (
            &before.data["spec"]["predictor"]["minReplicas"],
            &before.data["spec"]["predictor"]["maxReplicas"]
        ),
        (&json!(1), &json!(1))
    );
    let services: Api<AIMService> = ns.api();
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    let after = wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.data["spec"]["predictor"]["maxReplicas"] == 3
    })
    .await
    .unwrap();
    assert_eq!(after.data["spec"]["predictor"]["minReplicas"], 3);
    assert_eq!(
        after.metadata.uid, before.metadata.uid,
        "updated, not replaced"
    );
}

/// A service `chat` with routing to `gateways/gw`, Running: KServe and the Gateway reported.
async fn running_routed_service(ns: &TestNamespace) -> (Api<DynamicObject>, Api<DynamicObject>) {
    model_and_template(ns).await;
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}}
    }))
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    let routes = fixtures::http_route_api(ns.client(), ns.name());
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
    let services: Api<AIMService> = ns.api();
    wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    (isvcs, routes)
}

// The operator sends no apply that would change nothing, yet what another writer changes in
// what the operator planned, in the spec or in the labels, is put back.
#[tokio::test]
async fn another_writers_edits_of_a_running_services_inference_service_are_taken_back() {
    let ns = namespace().await;
    let (isvcs, _) = running_routed_service(&ns).await;
    let someone = PatchParams {
        field_manager: Some("someone-else".into()),
        ..PatchParams::default()
    };
    isvcs
        .patch(
            "chat",
            &someone,
            &Patch::Merge(json!({"spec": {"predictor": {"minReplicas": 5}}})),
        )
        .await
        .unwrap();
    wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.data["spec"]["predictor"]["minReplicas"] == 1
    })
    .await
    .unwrap();
    isvcs
        .patch(
            "chat",
            &someone,
            &Patch::Merge(
                json!({"metadata": {"labels": {"aim.silogen.ai/service-name": "other"}}}),
            ),
        )
        .await
        .unwrap();
    let restored = wait_for(&isvcs, "chat", TIMEOUT, |i| {
        i.labels()
            .get("aim.silogen.ai/service-name")
            .map(String::as_str)
            == Some("chat")
    })
    .await
    .unwrap();
    assert_eq!(restored.data["spec"]["predictor"]["minReplicas"], 1);
}

fn observed_generation(service: &AIMService) -> Option<i64> {
    service.status.as_ref().and_then(|s| s.observed_generation)
}

/// After a change to the Running service `chat` (its generation 2): the service is Starting at
/// generation 2, with `waiting` = (condition, reason) False, until `report` (the component's
/// report on the new spec) is made; then Running. No status of generation 2 before the report
/// says Running. Returns the Running service.
async fn starting_until_reported<T>(
    services: &Api<AIMService>,
    history: &History<AIMService>,
    waiting: (&str, &str),
    report: impl std::future::Future<Output = anyhow::Result<T>>,
) -> AIMService {
    let starting = wait_for(services, "chat", TIMEOUT, |s| {
        observed_generation(s) == Some(2) && state(s) == "Starting"
    })
    .await
    .unwrap();
    assert_eq!(
        condition(&starting, waiting.0),
        Some(("False".into(), waiting.1.into()))
    );
    let before_report = history.since(0);
    report.await.unwrap();
    let running = wait_for(services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    for version in &before_report {
        if observed_generation(version) == Some(2) {
            assert_ne!(
                state(version),
                "Running",
                "Running before the component reported on generation 2: {:?}",
                version.status
            );
        }
    }
    running
}

// The AIMService guide: "Running: Service is ready and serving traffic". Readiness KServe reported
// for the previous replicas is not readiness of the new spec.
#[tokio::test]
async fn changing_replicas_after_running_is_starting_until_kserve_reports_again() {
    let ns = namespace().await;
    let (isvcs, _) = running_routed_service(&ns).await;
    let services: Api<AIMService> = ns.api();
    let history = History::start(services.clone(), "chat").await.unwrap();
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
    let report = fixtures::mark_inference_service_ready(&isvcs, "chat");
    starting_until_reported(
        &services,
        &history,
        ("RuntimeReady", "CreatingRuntime"),
        report,
    )
    .await;
}

#[tokio::test]
async fn changing_the_route_path_after_running_is_starting_until_the_gateway_accepts_it_again() {
    let ns = namespace().await;
    let (_, routes) = running_routed_service(&ns).await;
    let services: Api<AIMService> = ns.api();
    let history = History::start(services.clone(), "chat").await.unwrap();
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"routing": {"pathTemplate": "/chat/{.metadata.name}"}}})),
        )
        .await
        .unwrap();
    wait_for(&routes, "chat-route", TIMEOUT, |r| {
        fixtures::http_route_path(r) == "/chat/chat"
    })
    .await
    .unwrap();
    let report = fixtures::mark_http_route_accepted(&routes, "chat-route");
    let running = starting_until_reported(
        &services,
        &history,
        ("RoutingReady", "ConfiguringRoute"),
        report,
    )
    .await;
    assert_eq!(
        running.status.unwrap().routing.unwrap().path.as_deref(),
        Some("/chat/chat")
    );
}

// The AIMService guide: "Degraded: Service is running but has warnings (e.g., routing issues ...)";
// RoutingReady's reasons include `RouteFailed`.
#[tokio::test]
async fn a_gateway_that_does_not_accept_the_route_degrades_the_service_with_its_reason() {
    let ns = namespace().await;
    let (_, routes) = running_routed_service(&ns).await;
    let refusal = format!(
        "No listener of gw allows routes from namespace {}",
        ns.name()
    );
    fixtures::mark_http_route_refused(
        &routes,
        "chat-route",
        "Accepted",
        "NotAllowedByListeners",
        &refusal,
    )
    .await
    .unwrap();
    let services: Api<AIMService> = ns.api();
    let degraded = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Degraded")
        .await
        .unwrap();
    let expected =
        format!("HTTPRoute not accepted by Gateway gateways/gw: NotAllowedByListeners: {refusal}");
    assert_eq!(
        condition(&degraded, "RoutingReady"),
        Some(("False".into(), "RouteFailed".into()))
    );
    assert_eq!(message(&degraded, "RoutingReady"), expected);
    assert_eq!(
        condition(&degraded, "Failure"),
        Some(("True".into(), "RouteFailed".into()))
    );
    assert_eq!(message(&degraded, "Ready"), expected);
    assert_eq!(
        condition(&degraded, "RuntimeReady"),
        Some(("True".into(), "RuntimeReady".into()))
    );
}

#[tokio::test]
async fn turning_routing_off_deletes_the_services_http_route() {
    let ns = namespace().await;
    let (_, routes) = running_routed_service(&ns).await;
    let services: Api<AIMService> = ns.api();
    services
        .patch(
            "chat",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"routing": {"enabled": false}}})),
        )
        .await
        .unwrap();
    wait_for_deletion(&routes, "chat-route", TIMEOUT)
        .await
        .unwrap();
    let running = wait_for(&services, "chat", TIMEOUT, |s| {
        observed_generation(s) == Some(2) && state(s) == "Running"
    })
    .await
    .unwrap();
    assert_eq!(message(&running, "RoutingReady"), "Routing disabled");
    assert!(routes.get_opt("chat-route").await.unwrap().is_none());
}

// The runtime configuration guide, "HTTP Routing Defaults": "Services can override these defaults
// individually."
#[tokio::test]
async fn a_service_turning_routing_off_overrides_a_runtime_config_that_turns_it_on() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "kserve-gateway", "namespace": "kgateway-system"}}}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "routing": {"enabled": false}}
    }))
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let services: Api<AIMService> = ns.api();
    // The status is written after the plan's objects are applied: a route would exist by now.
    let starting = wait_for(&services, "chat", TIMEOUT, |s| {
        state(s) == "Starting"
            && s.status
                .as_ref()
                .and_then(|st| st.resolved_runtime_config.as_ref())
                .is_some()
    })
    .await
    .unwrap();
    assert_eq!(message(&starting, "RoutingReady"), "Routing disabled");
    assert!(starting.status.unwrap().routing.is_none());
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    assert!(routes.get_opt("chat-route").await.unwrap().is_none());
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

/// The AIMService guide's "Complete Example", as written: a model by reference, an explicit
/// template with overrides (2 MI300X, throughput, fp16), `limits {cpu: "6", memory: 48Gi}`,
/// routing by the `team` label. It reaches Running, and its InferenceService's resources make a
/// pod the apiserver accepts.
#[tokio::test]
async fn the_guides_complete_example_runs_with_requests_within_limits() {
    let ns = namespace().await;
    fixtures::create_node(
        &ns,
        "gpu",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await
    .unwrap();
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "meta-llama-3-8b"},
        "spec": {"image": fixtures::MODEL_IMAGE, "discovery": {"enabled": false}}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "llama-3-8b-latency"},
        "spec": {
            "modelName": "meta-llama-3-8b", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"},
            "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]
        }
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "team-config"}, "spec": {}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "llama-chat", "labels": {"team": "research"}},
        "spec": {
            "model": {"ref": "meta-llama-3-8b"},
            "templateRef": "llama-3-8b-latency",
            "runtimeConfigName": "team-config",
            "replicas": 2,
            "resources": {"limits": {"cpu": "6", "memory": "48Gi"}},
            "overrides": {"metric": "throughput", "precision": "fp16", "gpuSelector": {"count": 2, "model": "MI300X"}},
            "routing": {
                "enabled": true,
                "gatewayRef": {"name": "inference-gateway", "namespace": "gateways"},
                "pathTemplate": "/team/{.metadata.labels['team']}/chat"
            },
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface-creds", "key": "token"}}}]
        }
    }))
    .await;

    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, "llama-chat", TIMEOUT, |_| true)
        .await
        .unwrap();
    let model = &isvc.data["spec"]["predictor"]["model"];
    let resources = &model["resources"];
    assert_eq!(
        resources,
        &json!({
            "requests": {"amd.com/gpu": "2", "cpu": "6", "memory": "48Gi"},
            "limits": {"amd.com/gpu": "2", "cpu": "6", "memory": "48Gi"}
        })
    );
    assert!(
        model["runtime"]
            .as_str()
            .unwrap()
            .starts_with("llama-3-8b-latency-ovr-"),
        "{}",
        model["runtime"]
    );
    // What KServe puts in the predictor pod: the apiserver judges the resources.
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(json!({
        "metadata": {"name": "llama-chat-predictor"},
        "spec": {"containers": [{"name": "kserve-container", "image": fixtures::MODEL_IMAGE, "resources": resources}]}
    }))
    .unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = ns.api();
    pods.create(
        &kube::api::PostParams {
            dry_run: true,
            ..kube::api::PostParams::default()
        },
        &pod,
    )
    .await
    .unwrap_or_else(|e| panic!("the apiserver refuses a pod with these resources: {e}"));

    let routes = fixtures::http_route_api(ns.client(), ns.name());
    let route = wait_for(&routes, "llama-chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(fixtures::http_route_path(&route), "/team/research/chat");
    fixtures::mark_inference_service_ready(&isvcs, "llama-chat")
        .await
        .unwrap();
    fixtures::mark_http_route_accepted(&routes, "llama-chat-route")
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    let running = wait_for(&services, "llama-chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    let status = running.status.unwrap();
    assert_eq!(status.resolved_runtime_config.unwrap().name, "team-config");
    assert_eq!(
        status.routing.unwrap().path.as_deref(),
        Some("/team/research/chat")
    );
}

/// The Table the apiserver serves for `kubectl get -o wide`: column names and the cells of `row`.
async fn table(
    client: &kube::Client,
    path: &str,
    row: &str,
) -> (Vec<String>, Vec<serde_json::Value>) {
    let request = http::Request::get(path)
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .body(Vec::new())
        .unwrap();
    let table: serde_json::Value = client.request(request).await.unwrap();
    let columns = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    let cells = table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["cells"][0] == row)
        .unwrap_or_else(|| panic!("no row {row} in {table}"))["cells"]
        .as_array()
        .unwrap()
        .clone();
    (columns, cells)
}

// `kubectl get aimservicetemplates` and `kubectl get aimservices -o wide` on the real apiserver:
// a template with in-line model sources shows the metric, precision and GPU of its spec.
#[tokio::test]
async fn printer_columns_show_every_templates_metric_precision_and_gpu_and_the_services_state() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "replicas": 2}
    }))
    .await;
    let services: Api<AIMService> = ns.api();
    wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Starting")
        .await
        .unwrap();

    let (columns, cells) = table(
        &ns.client(),
        &format!(
            "/apis/aim.silogen.ai/v1alpha1/namespaces/{}/aimservicetemplates",
            ns.name()
        ),
        fixtures::TEMPLATE,
    )
    .await;
    assert_eq!(
        columns,
        [
            "Name",
            "Status",
            "Model",
            "Engine",
            "Metric",
            "Precision",
            "GPUs/replica",
            "GPU",
            "Age"
        ]
    );
    assert_eq!(
        &cells[1..8],
        &[
            json!("Ready"),
            json!(fixtures::MODEL),
            serde_json::Value::Null,
            json!("latency"),
            json!("fp8"),
            json!(1),
            json!("MI300X")
        ]
    );

    let (columns, cells) = table(
        &ns.client(),
        &format!(
            "/apis/aim.silogen.ai/v1alpha1/namespaces/{}/aimservices",
            ns.name()
        ),
        "chat",
    )
    .await;
    assert_eq!(
        columns,
        ["Name", "Status", "Model", "Template", "Replicas", "Age"]
    );
    assert_eq!(
        &cells[1..5],
        &[
            json!("Starting"),
            json!(fixtures::MODEL),
            json!(fixtures::TEMPLATE),
            json!(2)
        ]
    );

    // A cluster template with in-line sources (labelled to go with the namespace).
    let name = ns.unique("throughput");
    let cluster_templates = Api::<DynamicObject>::all_with(
        ns.client(),
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "aim.silogen.ai",
            "v1alpha1",
            "AIMClusterServiceTemplate",
        )),
    );
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate",
        "metadata": {"name": name, "labels": {aim_tests::namespace::OWNER_LABEL: ns.name()}},
        "spec": {
            "modelName": ns.unique("model"), "metric": "throughput", "precision": "fp16",
            "gpuSelector": {"count": 2, "model": "MI300X"},
            "modelSources": [{"name": "m", "sourceUri": "hf://a/m", "size": "1Gi"}]
        }
    }))
    .unwrap();
    cluster_templates
        .create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap();
    wait_for(&cluster_templates, &name, TIMEOUT, |t| {
        t.data["status"]["status"] == "Ready"
    })
    .await
    .unwrap();
    let (columns, cells) = table(
        &ns.client(),
        "/apis/aim.silogen.ai/v1alpha1/aimclusterservicetemplates",
        &name,
    )
    .await;
    assert_eq!(
        columns,
        [
            "Name",
            "Status",
            "Engine",
            "Metric",
            "Precision",
            "GPUs/replica",
            "GPU",
            "Age"
        ]
    );
    assert_eq!(
        &cells[1..7],
        &[
            json!("Ready"),
            serde_json::Value::Null,
            json!("throughput"),
            json!("fp16"),
            json!(2),
            json!("MI300X")
        ]
    );
}
