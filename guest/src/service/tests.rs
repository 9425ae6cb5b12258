//! The service flow end to end on observations, one behaviour per test, starting from the seed's
//! Quick Start (`llama-chat` in `ml-team`, image only).

use std::collections::BTreeMap;

use aim_api::kserve::InferenceService;
use aim_api::policy::observation::{NodeLabels, RuntimeConfigs, ServiceObservation};
use aim_api::policy::plan::{Owner, Plan};
use aim_api::v1alpha1::*;
use serde_json::{Value, json};

use super::plan_service;

const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
const MODEL: &str = "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd";
const LATENCY: &str = "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e";
const THROUGHPUT: &str = "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-thr-fp8-972a";

fn service(spec: Value) -> AIMService {
    serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "llama-chat", "namespace": "ml-team", "uid": "svc-uid", "generation": 1},
        "spec": spec,
    }))
    .unwrap()
}

fn quick_start() -> ServiceObservation {
    ServiceObservation {
        api_version: aim_api::policy::OBSERVATION_API_VERSION.into(),
        service: service(json!({"model": {"image": IMAGE}})),
        runtime_configs: RuntimeConfigs {
            name: "default".into(),
            ..RuntimeConfigs::default()
        },
        models: vec![],
        cluster_models: vec![],
        templates: vec![],
        cluster_templates: vec![],
        template_caches: vec![],
        model_caches: vec![],
        nodes: vec![NodeLabels {
            name: "gpu-1".into(),
            labels: BTreeMap::from([("amd.com/gpu.device-id".into(), "74a1".into())]),
        }],
        inference_services: vec![],
        http_routes: vec![],
        persistent_volume_claims: vec![],
        pods: vec![],
    }
}

fn ready_model() -> AIMClusterModel {
    serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterModel",
        "metadata": {"name": MODEL, "uid": "model-uid", "labels": {"aim.silogen.ai/auto-created": "true"}},
        "spec": {"image": IMAGE},
        "status": {"status": "Ready"}
    }))
    .unwrap()
}

fn template(name: &str, metric: &str, gpu: &str, status: &str) -> AIMServiceTemplate {
    serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate",
        "metadata": {"name": name, "namespace": "ml-team", "uid": format!("{name}-uid")},
        "spec": {"modelName": MODEL, "metric": metric, "precision": "fp8", "gpuSelector": {"count": 1, "model": gpu}},
        "status": {
            "status": status,
            "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "512Mi"}],
            "profile": {"metadata": {"engine": "vllm", "gpu": gpu, "gpu_count": 1, "metric": metric, "precision": "fp8"}}
        }
    }))
    .unwrap()
}

/// The Quick Start after discovery: the model is Ready with four templates, two on MI300X.
fn discovered() -> ServiceObservation {
    let mut observation = quick_start();
    observation.cluster_models = vec![ready_model()];
    observation.templates = vec![
        template(LATENCY, "latency", "MI300X", "Ready"),
        template(THROUGHPUT, "throughput", "MI300X", "Ready"),
        template("lat-mi325x", "latency", "MI325X", "NotAvailable"),
        template("thr-mi325x", "throughput", "MI325X", "NotAvailable"),
    ];
    observation
}

fn run(observation: &ServiceObservation) -> (Plan, Value) {
    let plan = plan_service(observation).unwrap();
    let status = plan.status.clone().unwrap();
    (plan, status)
}

fn condition<'a>(status: &'a Value, type_: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .unwrap_or_else(|| panic!("no {type_} in {status}"))
}

fn assert_condition(status: &Value, type_: &str, value: &str, reason: &str) {
    let c = condition(status, type_);
    assert_eq!(
        (c["status"].as_str(), c["reason"].as_str()),
        (Some(value), Some(reason)),
        "{type_}: {c}"
    );
}

fn objects<'a>(plan: &'a Plan, kind: &str) -> Vec<&'a Value> {
    plan.apply
        .iter()
        .map(|o| &o.object)
        .filter(|o| o["kind"] == kind)
        .collect()
}

fn isvc_ready(observation: &mut ServiceObservation) {
    let (plan, _) = run(observation);
    let mut isvc: InferenceService =
        serde_json::from_value(objects(&plan, "InferenceService")[0].clone()).unwrap();
    isvc.status = Some(
        serde_json::from_value(json!({"conditions": [{"type": "Ready", "status": "True"}]}))
            .unwrap(),
    );
    observation.inference_services = vec![isvc];
}

#[test]
fn the_quick_start_creates_a_cluster_model_from_the_image_and_waits_for_it() {
    let (plan, status) = run(&quick_start());
    let models = objects(&plan, "AIMClusterModel");
    assert_eq!(models[0]["metadata"]["name"], MODEL);
    assert_eq!(
        models[0]["metadata"]["labels"]["aim.silogen.ai/auto-created"],
        "true"
    );
    assert_eq!(plan.apply[0].owner, Owner::None, "models outlive services");
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "ModelPending");
    assert_condition(&status, "Progressing", "True", "ModelPending");
    assert_condition(&status, "Ready", "False", "ModelPending");
    assert_condition(&status, "CacheReady", "True", "CacheWarm");
    assert_condition(&status, "RoutingReady", "True", "RouteReady");
    assert_eq!(plan.finalizers, ["aim.silogen.ai/service-cache-cleanup"]);
    assert!(plan.requeue_after_seconds.is_some());
}

#[test]
fn conditions_come_in_the_documented_order() {
    let (_, status) = run(&quick_start());
    let order: Vec<&str> = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["type"].as_str())
        .collect();
    assert_eq!(
        order,
        [
            "Resolved",
            "CacheReady",
            "RuntimeReady",
            "RoutingReady",
            "Ready",
            "Progressing",
            "Failure"
        ]
    );
}

#[test]
fn a_namespace_creation_scope_creates_an_aim_model_in_the_service_namespace() {
    let mut observation = quick_start();
    let config: AIMRuntimeConfig = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": "ml-team"},
        "spec": {"model": {"creationScope": "Namespace"}}
    }))
    .unwrap();
    observation.runtime_configs.namespaced = Some(config);
    let (plan, status) = run(&observation);
    assert_eq!(
        objects(&plan, "AIMModel")[0]["metadata"]["namespace"],
        "ml-team"
    );
    assert_eq!(status["resolvedRuntimeConfig"]["scope"], "Namespace");
}

#[test]
fn the_best_ready_template_on_the_cluster_gpus_is_selected_and_an_inference_service_planned() {
    let (plan, status) = run(&discovered());
    assert_eq!(
        status["resolvedTemplate"]["name"], LATENCY,
        "latency is preferred"
    );
    assert_eq!(status["resolvedImage"]["name"], MODEL);
    assert_eq!(
        status["resolvedImage"]["kind"],
        "aim.silogen.ai/v1alpha1/AIMClusterModel"
    );
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_eq!(status["status"], "Starting");
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    let pvc = objects(&plan, "PersistentVolumeClaim")[0];
    assert_eq!(pvc["metadata"]["name"], "llama-chat-temp-cache");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteMany");
    let isvc = objects(&plan, "InferenceService")[0];
    assert_eq!(isvc["metadata"]["name"], "llama-chat");
    let predictor = &isvc["spec"]["predictor"];
    assert_eq!(predictor["model"]["runtime"], LATENCY);
    assert_eq!(
        predictor["model"]["modelFormat"],
        json!({"name": "aim", "version": "1"})
    );
    assert_eq!(
        (
            predictor["minReplicas"].as_i64(),
            predictor["maxReplicas"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        predictor["model"]["resources"]["requests"],
        json!({"amd.com/gpu": "1", "cpu": "4", "memory": "32Gi"})
    );
    assert_eq!(
        predictor["model"]["resources"]["limits"],
        json!({"amd.com/gpu": "1", "memory": "48Gi"})
    );
    assert_eq!(
        predictor["model"]["volumeMounts"][0]["mountPath"],
        "/workspace/model-cache"
    );
    let env: Vec<&str> = predictor["model"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        env.contains(&"AIM_CACHE_PATH")
            && env.contains(&"AIM_METRIC")
            && env.contains(&"AIM_PRECISION"),
        "{env:?}"
    );
    let affinity =
        &predictor["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
    assert_eq!(
        affinity["nodeSelectorTerms"][0]["matchExpressions"][0]["key"],
        "amd.com/gpu.device-id"
    );
    assert!(
        objects(&plan, "HTTPRoute").is_empty(),
        "routing is disabled"
    );
}

#[test]
fn a_ready_inference_service_makes_the_service_running_with_the_seed_conditions() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Running");
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
    assert_condition(&status, "Ready", "True", "Ready");
    assert_condition(&status, "Progressing", "False", "RuntimeReady");
    assert_condition(&status, "Failure", "False", "Resolved");
    assert_eq!(condition(&status, "Ready")["message"], "Service is ready");
    assert!(plan.requeue_after_seconds.is_none());
    assert_eq!(plan.events.len(), 1);
}

#[test]
fn a_failed_inference_service_degrades_the_service_with_kserves_message() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    observation.inference_services[0].status = Some(
        serde_json::from_value(json!({"conditions": [{"type": "Ready", "status": "False"}], "modelStatus": {"lastFailureInfo": {"reason": "ModelLoadFailed", "message": "out of memory"}}})).unwrap(),
    );
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RuntimeReady", "False", "RuntimeFailed");
    assert_eq!(condition(&status, "Failure")["message"], "out of memory");
}

#[test]
fn routing_with_a_gateway_plans_an_http_route_with_the_default_path() {
    let mut observation = discovered();
    observation.service = service(
        json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": "inference-gateway", "namespace": "gateways"}}}),
    );
    isvc_ready(&mut observation);
    let (plan, status) = run(&observation);
    let route = objects(&plan, "HTTPRoute")[0];
    assert_eq!(route["metadata"]["name"], "llama-chat-route");
    assert_eq!(
        route["spec"]["parentRefs"][0],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "inference-gateway", "namespace": "gateways"})
    );
    assert_eq!(
        route["spec"]["rules"][0]["matches"][0]["path"],
        json!({"type": "PathPrefix", "value": "/ml-team/llama-chat"})
    );
    assert_eq!(
        route["spec"]["rules"][0]["backendRefs"][0]["name"],
        "llama-chat-predictor"
    );
    assert_eq!(status["routing"]["path"], "/ml-team/llama-chat");
    assert_eq!(
        status["status"], "Starting",
        "the route is not accepted yet"
    );
    assert_condition(&status, "RoutingReady", "False", "ConfiguringRoute");
    assert_condition(&status, "Progressing", "True", "ConfiguringRoute");
}

#[test]
fn an_accepted_route_and_a_ready_runtime_make_the_service_running() {
    let mut observation = discovered();
    observation.service = service(
        json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": "gw"}}}),
    );
    isvc_ready(&mut observation);
    let (plan, _) = run(&observation);
    let mut route: gateway_api::apis::standard::httproutes::HttpRoute =
        serde_json::from_value(objects(&plan, "HTTPRoute")[0].clone()).unwrap();
    route.status = Some(serde_json::from_value(json!({"parents": [{"parentRef": {"name": "gw"}, "controllerName": "example.com/gw", "conditions": [
        {"type": "Accepted", "status": "True", "reason": "Accepted", "message": "", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}]})).unwrap());
    observation.http_routes = vec![route];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Running");
    assert_condition(&status, "RoutingReady", "True", "RouteReady");
    assert_eq!(
        condition(&status, "RoutingReady")["message"],
        "HTTPRoute configured"
    );
}

#[test]
fn routing_without_a_gateway_fails_the_service() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "routing": {"enabled": true}}));
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "RoutingReady", "False", "RouteFailed");
    assert_condition(&status, "Failure", "True", "RouteFailed");
}

#[test]
fn a_path_template_with_a_missing_label_degrades_the_service_but_still_plans_the_runtime() {
    let mut observation = discovered();
    observation.service = service(
        json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": "gw"}, "pathTemplate": "/team/{.metadata.labels['team']}/chat"}}),
    );
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RoutingReady", "False", "PathTemplateInvalid");
    assert!(
        condition(&status, "Failure")["message"]
            .as_str()
            .unwrap()
            .contains("team"),
        "the message names the label"
    );
    assert!(objects(&plan, "HTTPRoute").is_empty());
    assert_eq!(objects(&plan, "InferenceService").len(), 1);
}

#[test]
fn a_path_template_renders_labels_from_the_service() {
    let mut observation = discovered();
    let mut svc = service(
        json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": "gw"}, "pathTemplate": "/team/{.metadata.labels['team']}/chat"}}),
    );
    svc.metadata.labels = Some(BTreeMap::from([("team".into(), "Research".into())]));
    observation.service = svc;
    let (_, status) = run(&observation);
    assert_eq!(status["routing"]["path"], "/team/research/chat");
}

#[test]
fn runtime_config_routing_applies_when_the_service_sets_none() {
    let mut observation = discovered();
    let config: AIMClusterRuntimeConfig = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "kserve-gateway", "namespace": "kgateway-system"}, "pathTemplate": "/ml/{.metadata.namespace}/{.metadata.name}"}}
    }))
    .unwrap();
    observation.runtime_configs.cluster = Some(config);
    let (plan, status) = run(&observation);
    assert_eq!(status["routing"]["path"], "/ml/ml-team/llama-chat");
    assert_eq!(status["resolvedRuntimeConfig"]["scope"], "Cluster");
    assert_eq!(
        objects(&plan, "HTTPRoute")[0]["spec"]["parentRefs"][0]["namespace"],
        "kgateway-system"
    );
}

#[test]
fn a_missing_named_runtime_config_degrades_the_service() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "runtimeConfigName": "team-config"}));
    observation.runtime_configs.name = "team-config".into();
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Ready", "False", "RuntimeConfigMissing");
    assert!(objects(&plan, "InferenceService").is_empty());
}

#[test]
fn two_equally_good_templates_make_selection_ambiguous() {
    let mut observation = discovered();
    observation.templates = vec![
        template("a", "latency", "MI300X", "Ready"),
        template("b", "latency", "MI300X", "Ready"),
    ];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "Resolved", "False", "TemplateSelectionAmbiguous");
}

#[test]
fn templates_for_gpus_the_cluster_lacks_are_not_selected() {
    let mut observation = discovered();
    observation
        .templates
        .retain(|t| t.spec.common.runtime.gpu_selector.as_ref().unwrap().model == "MI325X");
    for t in &mut observation.templates {
        t.status.as_mut().unwrap().status = aim_api::conditions::AIMTemplateStatusEnum::Ready;
    }
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "Resolved", "False", "TemplateNotFound");
}

#[test]
fn namespace_templates_win_over_cluster_templates() {
    let mut observation = discovered();
    let mut cluster: AIMClusterServiceTemplate = serde_json::from_value(
        serde_json::to_value(template("cluster-mi325x", "latency", "MI325X", "Ready")).unwrap(),
    )
    .unwrap();
    cluster.metadata.namespace = None;
    observation.nodes.push(NodeLabels {
        name: "gpu-2".into(),
        labels: BTreeMap::from([("amd.com/gpu.device-id".into(), "74a5".into())]),
    });
    observation.cluster_templates = vec![cluster];
    let (_, status) = run(&observation);
    assert_eq!(
        status["resolvedTemplate"]["name"], LATENCY,
        "MI325X ranks higher but is cluster-scoped"
    );
}

#[test]
fn an_explicit_missing_template_degrades_the_service() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "templateRef": "llama-3-8b-latency"}));
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Ready", "False", "TemplateNotFound");
}

#[test]
fn overrides_matching_a_ready_template_select_it() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "overrides": {"metric": "throughput"}}));
    let (plan, status) = run(&observation);
    assert_eq!(status["resolvedTemplate"]["name"], THROUGHPUT);
    assert!(objects(&plan, "AIMServiceTemplate").is_empty());
}

#[test]
fn overrides_no_template_matches_create_a_shared_derived_template() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "overrides": {"precision": "fp16"}}));
    let (plan, status) = run(&observation);
    let derived = objects(&plan, "AIMServiceTemplate")[0];
    let name = derived["metadata"]["name"].as_str().unwrap();
    assert!(
        name.starts_with(&format!("{LATENCY}-ovr-")) || name.contains("-ovr-"),
        "{name}"
    );
    assert_eq!(
        derived["metadata"]["labels"]["aim.silogen.ai/derived-template"],
        "true"
    );
    assert_eq!(derived["spec"]["precision"], "fp16");
    assert_eq!(
        plan.apply
            .iter()
            .find(|o| o.object["kind"] == "AIMServiceTemplate")
            .unwrap()
            .owner,
        Owner::None
    );
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "TemplateNotFound");
}

#[test]
fn an_existing_derived_template_is_reused() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "overrides": {"precision": "fp16"}}));
    let (first, _) = run(&observation);
    let mut derived: AIMServiceTemplate =
        serde_json::from_value(objects(&first, "AIMServiceTemplate")[0].clone()).unwrap();
    derived.status = template("x", "latency", "MI300X", "Ready").status;
    let name = derived.metadata.name.clone().unwrap();
    observation.templates.push(derived);
    let (_, status) = run(&observation);
    assert_eq!(status["resolvedTemplate"]["name"], name.as_str());
    assert_eq!(status["status"], "Starting");
}

#[test]
fn caching_plans_a_template_cache_owned_by_the_template_and_waits() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "cacheModel": true}));
    let (plan, status) = run(&observation);
    let cache = plan
        .apply
        .iter()
        .find(|o| o.object["kind"] == "AIMTemplateCache")
        .unwrap();
    assert_eq!(cache.object["metadata"]["name"], LATENCY);
    assert_eq!(
        cache.object["metadata"]["labels"]["aim.silogen.ai/service-name"],
        "llama-chat"
    );
    assert!(
        matches!(&cache.owner, Owner::Object(r) if r.kind == "AIMServiceTemplate" && r.name == LATENCY)
    );
    assert!(
        objects(&plan, "InferenceService").is_empty()
            && objects(&plan, "PersistentVolumeClaim").is_empty()
    );
    assert_condition(&status, "CacheReady", "False", "WaitingForCache");
}

#[test]
fn an_available_cache_is_mounted_per_model_source() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "cacheModel": true}));
    observation.template_caches = vec![serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMTemplateCache",
        "metadata": {"name": LATENCY, "namespace": "ml-team", "uid": "tc"},
        "spec": {"templateRef": LATENCY},
        "status": {"status": "Available", "modelCaches": {"amd-llama-3-1-8b-instruct-fp8-kv": {"uid": "mc", "name": "amd-llama-3-1-8b-instruct-fp8-kv", "model": "amd/Llama-3.1-8B-Instruct-FP8-KV", "status": "Available", "persistentVolumeClaim": "amd-llama-3-1-8b-instruct-fp8-kv-cache"}}}
    })).unwrap()];
    observation.model_caches = vec![serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModelCache",
        "metadata": {"name": "amd-llama-3-1-8b-instruct-fp8-kv", "namespace": "ml-team"},
        "spec": {"sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "512Mi"},
        "status": {"status": "Available", "persistentVolumeClaim": "amd-llama-3-1-8b-instruct-fp8-kv-cache"}
    })).unwrap()];
    let (plan, status) = run(&observation);
    let isvc = objects(&plan, "InferenceService")[0];
    assert_eq!(
        isvc["spec"]["predictor"]["model"]["volumeMounts"][0]["mountPath"],
        "/workspace/model-cache/amd/Llama-3.1-8B-Instruct-FP8-KV"
    );
    assert_eq!(
        isvc["spec"]["predictor"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "amd-llama-3-1-8b-instruct-fp8-kv-cache"
    );
    assert!(objects(&plan, "PersistentVolumeClaim").is_empty());
    assert_condition(&status, "CacheReady", "True", "CacheWarm");
    assert_eq!(status["resolvedTemplateCache"]["name"], LATENCY);
    assert_eq!(
        status["modelCaches"]["amd-llama-3-1-8b-instruct-fp8-kv"]["mountPoint"],
        "/workspace/model-cache/amd/Llama-3.1-8B-Instruct-FP8-KV"
    );
}

#[test]
fn env_pull_secrets_replicas_and_resources_reach_the_inference_service() {
    let mut observation = discovered();
    observation.service = service(json!({
        "model": {"image": IMAGE}, "replicas": 3,
        "resources": {"limits": {"cpu": "8", "memory": "64Gi"}, "requests": {"cpu": "4", "memory": "32Gi"}},
        "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface-creds", "key": "token"}}}],
        "imagePullSecrets": [{"name": "registry-credentials"}]
    }));
    let (plan, _) = run(&observation);
    let predictor = &objects(&plan, "InferenceService")[0]["spec"]["predictor"];
    assert_eq!(
        (
            predictor["minReplicas"].as_i64(),
            predictor["maxReplicas"].as_i64()
        ),
        (Some(3), Some(3))
    );
    assert_eq!(
        predictor["imagePullSecrets"],
        json!([{"name": "registry-credentials"}])
    );
    assert_eq!(
        predictor["model"]["resources"]["limits"],
        json!({"amd.com/gpu": "1", "cpu": "8", "memory": "64Gi"})
    );
    let token = predictor["model"]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "HF_TOKEN")
        .unwrap();
    assert_eq!(
        token["valueFrom"]["secretKeyRef"],
        json!({"name": "huggingface-creds", "key": "token"})
    );
}

#[test]
fn an_image_two_models_carry_fails_the_service() {
    let mut observation = discovered();
    let mut namespaced: AIMModel =
        serde_json::from_value(serde_json::to_value(ready_model()).unwrap()).unwrap();
    namespaced.metadata.namespace = Some("ml-team".into());
    observation.models = vec![namespaced];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "Resolved", "False", "MultipleModelsFound");
}

#[test]
fn a_missing_model_ref_keeps_the_service_pending_with_a_failure() {
    let mut observation = quick_start();
    observation.service = service(json!({"model": {"ref": "meta-llama-3-8b"}}));
    let (plan, status) = run(&observation);
    assert!(plan.apply.is_empty(), "a referenced model is never created");
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "ModelNotFound");
    assert_condition(&status, "Failure", "True", "ModelNotFound");
}

#[test]
fn a_failed_model_fails_the_service() {
    let mut observation = discovered();
    observation.cluster_models[0]
        .status
        .as_mut()
        .unwrap()
        .status = aim_api::conditions::AIMModelStatusEnum::Failed;
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "Resolved", "False", "ModelFailed");
}

#[test]
fn deletion_removes_only_caches_that_are_not_available() {
    let mut observation = discovered();
    observation.service.metadata.deletion_timestamp =
        Some(serde_json::from_value(json!("2025-01-01T00:00:00Z")).unwrap());
    let cache = |name: &str, status: &str| -> AIMTemplateCache {
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMTemplateCache",
            "metadata": {"name": name, "namespace": "ml-team", "labels": {"aim.silogen.ai/service-name": "llama-chat"}},
            "spec": {"templateRef": name}, "status": {"status": status}
        }))
        .unwrap()
    };
    observation.template_caches = vec![
        cache("kept", "Available"),
        cache("failed", "Failed"),
        cache("warming", "Progressing"),
    ];
    let (plan, _) = (plan_service(&observation).unwrap(), ());
    let deleted: Vec<&str> = plan.delete.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(deleted, ["failed", "warming"]);
    assert!(plan.finalizers.is_empty(), "the finalizer is released");
    assert!(plan.status.is_none());
}

#[test]
fn a_pod_stuck_pulling_its_image_degrades_the_service() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    observation.inference_services[0].status = None;
    observation.pods = vec![serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "status": {"containerStatuses": [{"name": "kserve-container", "image": "x", "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied: unauthorized"}}}]}
    }))
    .unwrap()];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Ready", "False", "ImagePullAuthFailure");
}

#[test]
fn an_unchanged_service_plans_the_same_status_and_no_event() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    let (_, mut first) = run(&observation);
    // The host stamps new conditions with the time it writes them.
    for condition in first["conditions"].as_array_mut().unwrap() {
        condition["lastTransitionTime"] = json!("2025-01-01T00:00:00Z");
    }
    observation.service.status = Some(serde_json::from_value(first.clone()).unwrap());
    let (second_plan, second) = run(&observation);
    assert!(second_plan.events.is_empty(), "no transition, no event");
    assert_eq!(
        first, second,
        "the written status is planned again unchanged"
    );
}

/// The AIMService guide's Complete Example sets `limits {cpu: "6", memory: 48Gi}` on 2 GPUs,
/// whose defaults would request cpu 8 and memory 64Gi: a pod the apiserver refuses.
#[test]
fn the_complete_examples_limits_on_two_gpus_make_requests_within_limits() {
    let mut observation = discovered();
    for template in &mut observation.templates {
        let status = template.status.as_mut().unwrap();
        status.profile.as_mut().unwrap().metadata.gpu_count = 2;
    }
    observation.service = service(json!({
        "model": {"image": IMAGE},
        "resources": {"limits": {"cpu": "6", "memory": "48Gi"}}
    }));
    let (plan, _) = run(&observation);
    let resources =
        &objects(&plan, "InferenceService")[0]["spec"]["predictor"]["model"]["resources"];
    assert_eq!(
        resources["requests"],
        json!({"amd.com/gpu": "2", "cpu": "6", "memory": "48Gi"})
    );
    assert_eq!(
        resources["limits"],
        json!({"amd.com/gpu": "2", "cpu": "6", "memory": "48Gi"})
    );
}
