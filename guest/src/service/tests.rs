//! The service flow end to end on observations, one behaviour per test, starting from the
//! AIMService guide's Quick Start (`llama-chat` in `ml-team`, image only).

use std::collections::BTreeMap;

use aim_api::kserve::InferenceService;
use aim_api::policy::observation::{NodeLabels, RuntimeConfigs, ServiceObservation};
use aim_api::policy::plan::{Owner, Plan};
use aim_api::v1alpha1::*;
use serde_json::{Value, json};

use super::plan_service;
use crate::PolicyFailure;
use crate::advisor::{Advisor, NoAdvice};
use crate::selection::{Candidate, Reason, Selection};

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
    run_advised(observation, &NoAdvice)
}

fn run_advised(observation: &ServiceObservation, advisor: &dyn Advisor) -> (Plan, Value) {
    let plan = plan_service(observation, advisor).unwrap();
    let status = plan.status.clone().unwrap();
    (plan, status)
}

/// A custom policy as a test writes it: it renders paths with `path` and selects templates with
/// `select` where those are set, and has no say otherwise.
#[derive(Default)]
struct CustomPolicy {
    path: Option<CustomPath>,
    select: Option<CustomSelection>,
}

type CustomPath = fn(&Value, Option<&str>) -> Result<String, PolicyFailure>;
type CustomSelection = fn(&[Candidate]) -> Result<Selection, PolicyFailure>;

impl Advisor for CustomPolicy {
    fn render_path(
        &self,
        service: &Value,
        template: Option<&str>,
    ) -> Option<Result<String, PolicyFailure>> {
        self.path.map(|path| path(service, template))
    }

    fn select_template(
        &self,
        candidates: &[Candidate],
        _available_gpu_models: &[String],
        _overrides: Option<&crate::selection::Overrides>,
    ) -> Option<Result<Selection, PolicyFailure>> {
        self.select.map(|select| select(candidates))
    }
}

/// A custom selection choosing the candidate named `name`.
fn choose(candidates: &[Candidate], name: &str) -> Result<Selection, PolicyFailure> {
    Ok(Selection {
        index: candidates.iter().position(|c| c.name == name),
        count: 1,
        reason: Reason::Selected,
    })
}

fn routed_to(gateway: &str) -> AIMService {
    service(
        json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": gateway}, "pathTemplate": "/team/{.metadata.name}"}}),
    )
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
    assert_condition(&status, "Resolved", "False", "ModelNotReady");
    assert_eq!(
        condition(&status, "Resolved")["message"],
        format!("Creating model {MODEL:?} from the image")
    );
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
fn a_ready_inference_service_makes_the_service_running_with_the_guides_conditions() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Running");
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
    assert_condition(&status, "Ready", "True", "Ready");
    assert_condition(&status, "Progressing", "False", "Ready");
    assert_condition(&status, "Failure", "False", "Resolved");
    assert_eq!(condition(&status, "Ready")["message"], "Service is ready");
    assert!(plan.requeue_after_seconds.is_none());
    assert!(
        plan.events.is_empty(),
        "a first rollout is on the status alone: {:?}",
        plan.events
    );
}

#[test]
fn a_service_records_an_event_when_it_degrades_and_when_it_runs_again() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    let healthy = observation.inference_services[0].status.clone();
    observation.inference_services[0].status = Some(
        serde_json::from_value(json!({"conditions": [{"type": "Ready", "status": "False"}], "modelStatus": {"lastFailureInfo": {"reason": "ModelLoadFailed", "message": "out of memory"}}})).unwrap(),
    );
    let (degrading, mut degraded) = run(&observation);
    assert_eq!(degraded["status"], "Degraded");
    let warning = degrading.events.first().expect("a Warning Event");
    assert_eq!(format!("{:?}", warning.type_), "Warning");
    assert_eq!(warning.reason, condition(&degraded, "Ready")["reason"]);
    assert!(
        warning.message.starts_with("Service is Degraded: "),
        "{}",
        warning.message
    );

    // The host stamps new conditions with the time it writes them.
    for condition in degraded["conditions"].as_array_mut().unwrap() {
        condition["lastTransitionTime"] = json!("2025-01-01T00:00:00Z");
    }
    observation.service.status = Some(serde_json::from_value(degraded).unwrap());
    observation.inference_services[0].status = healthy;
    let (recovering, running) = run(&observation);
    assert_eq!(running["status"], "Running");
    assert_eq!(recovering.events.len(), 1, "{:?}", recovering.events);
    assert_eq!(format!("{:?}", recovering.events[0].type_), "Normal");
    assert_eq!(
        recovering.events[0].message,
        "Service is Running: Service is ready"
    );
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
fn a_custom_paths_policys_path_is_the_routes_path() {
    let policy = CustomPolicy {
        path: Some(|service, template| {
            // It sees the service with the model it resolved to, and the path template in force.
            assert_eq!(service["status"]["resolvedImage"]["name"], MODEL);
            assert_eq!(template, Some("/team/{.metadata.name}"));
            Ok(format!(
                "/custom/{}",
                service["metadata"]["name"].as_str().unwrap()
            ))
        }),
        ..CustomPolicy::default()
    };
    let mut observation = discovered();
    observation.service = routed_to("gw");
    let (plan, status) = run_advised(&observation, &policy);
    let route = objects(&plan, "HTTPRoute")[0];
    assert_eq!(
        route["spec"]["rules"][0]["matches"][0]["path"]["value"],
        "/custom/llama-chat"
    );
    assert_eq!(status["routing"]["path"], "/custom/llama-chat");
    let (_, default) = run(&observation);
    assert_eq!(default["routing"]["path"], "/team/llama-chat");
}

#[test]
fn a_custom_paths_policys_rejection_shows_its_own_reason() {
    let policy = CustomPolicy {
        path: Some(|_, _| {
            Err(PolicyFailure::Rejected {
                reason: "NoTeam".into(),
                message: "the service has no team label".into(),
            })
        }),
        ..CustomPolicy::default()
    };
    let mut observation = discovered();
    observation.service = routed_to("gw");
    let (plan, status) = run_advised(&observation, &policy);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RoutingReady", "False", "NoTeam");
    assert_condition(&status, "Failure", "True", "NoTeam");
    assert_eq!(
        condition(&status, "RoutingReady")["message"],
        "the service has no team label"
    );
    assert!(objects(&plan, "HTTPRoute").is_empty());
}

#[test]
fn a_custom_paths_policy_that_cannot_read_its_input_shows_path_template_invalid() {
    let policy = CustomPolicy {
        path: Some(|_, _| Err(PolicyFailure::InvalidInput("no service".into()))),
        ..CustomPolicy::default()
    };
    let mut observation = discovered();
    observation.service = routed_to("gw");
    let (_, status) = run_advised(&observation, &policy);
    assert_condition(&status, "RoutingReady", "False", "PathTemplateInvalid");
}

#[test]
fn a_custom_selection_decides_the_template_the_service_runs() {
    let policy = CustomPolicy {
        select: Some(|candidates| choose(candidates, THROUGHPUT)),
        ..CustomPolicy::default()
    };
    let (plan, status) = run_advised(&discovered(), &policy);
    assert_eq!(status["resolvedTemplate"]["name"], THROUGHPUT);
    assert_condition(&status, "Resolved", "True", "Resolved");
    let isvc = objects(&plan, "InferenceService")[0];
    assert_eq!(isvc["spec"]["predictor"]["model"]["runtime"], THROUGHPUT);
    let (_, default) = run(&discovered());
    assert_eq!(default["resolvedTemplate"]["name"], LATENCY);
}

#[test]
fn a_custom_selection_of_a_candidate_that_does_not_exist_is_policy_output_invalid() {
    let policy = CustomPolicy {
        select: Some(|candidates| {
            Ok(Selection {
                index: Some(candidates.len()),
                count: 1,
                reason: Reason::Selected,
            })
        }),
        ..CustomPolicy::default()
    };
    let (plan, status) = run_advised(&discovered(), &policy);
    assert_condition(&status, "Resolved", "False", "PolicyOutputInvalid");
    assert!(objects(&plan, "InferenceService").is_empty());
}

#[test]
fn a_custom_selections_rejection_stops_the_service_with_its_reason() {
    let policy = CustomPolicy {
        select: Some(|_| {
            Err(PolicyFailure::Rejected {
                reason: "NoBudget".into(),
                message: "the team has no GPU budget".into(),
            })
        }),
        ..CustomPolicy::default()
    };
    let (plan, status) = run_advised(&discovered(), &policy);
    assert_condition(&status, "Resolved", "False", "NoBudget");
    assert_eq!(
        condition(&status, "Resolved")["message"],
        "the team has no GPU budget"
    );
    assert!(objects(&plan, "InferenceService").is_empty());
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

// Without `cacheModel`, a service whose template another service is caching waits for that cache
// instead of downloading the model a second time, and its status says what it waits for.
#[test]
fn a_service_without_caching_waits_for_a_cache_of_its_template_being_warmed_and_says_so() {
    let mut observation = discovered();
    observation.template_caches = vec![
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMTemplateCache",
            "metadata": {"name": LATENCY, "namespace": "ml-team", "uid": "tc"},
            "spec": {"templateRef": LATENCY},
            "status": {"status": "Progressing"}
        }))
        .unwrap(),
    ];
    let (plan, status) = run(&observation);
    assert!(objects(&plan, "InferenceService").is_empty());
    assert_eq!(status["status"], "Starting");
    assert_condition(&status, "CacheReady", "False", "CacheWarming");
    assert_condition(&status, "Ready", "False", "CacheWarming");
    assert_eq!(
        message(&status, "Ready"),
        "Waiting for the model cache before creating the InferenceService"
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
fn pull_secrets_of_service_template_and_runtime_config_are_merged_without_blank_names() {
    let mut observation = discovered();
    observation.service = service(json!({
        "model": {"image": IMAGE},
        "imagePullSecrets": [{"name": "service-registry"}, {"name": " "}]
    }));
    observation.templates[0].spec.common.image_pull_secrets = serde_json::from_value(
        json!([{"name": ""}, {"name": "template-registry"}, {"name": "service-registry"}]),
    )
    .unwrap();
    observation.runtime_configs.namespaced = Some(
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": "default", "namespace": "ml-team"},
            "spec": {"imagePullSecrets": [{"name": "template-registry"}, {"name": "config-registry"}]}
        }))
        .unwrap(),
    );
    let (plan, _) = run(&observation);
    let predictor = &objects(&plan, "InferenceService")[0]["spec"]["predictor"];
    assert_eq!(
        predictor["imagePullSecrets"],
        json!([{"name": "service-registry"}, {"name": "template-registry"}, {"name": "config-registry"}])
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
    assert_condition(&status, "Resolved", "False", "ModelNotReady");
    assert_condition(&status, "Ready", "False", "ModelFailed");
    assert_condition(&status, "Failure", "True", "ModelFailed");
    assert_eq!(
        condition(&status, "Failure")["message"],
        format!("Model {MODEL:?} is Failed")
    );
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
    let (plan, _) = (plan_service(&observation, &NoAdvice).unwrap(), ());
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
fn a_pod_the_scheduler_cannot_place_keeps_the_service_pending_with_its_reason() {
    let mut observation = discovered();
    isvc_ready(&mut observation);
    observation.inference_services[0].status = None;
    observation.pods = vec![serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient amd.com/gpu."}]}
    }))
    .unwrap()];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert_eq!(
        condition(&status, "RuntimeReady")["message"],
        "InferenceService pod cannot be scheduled: 0/3 nodes are available: 3 Insufficient amd.com/gpu."
    );
    assert_condition(&status, "Progressing", "True", "CreatingRuntime");
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

/// The observed InferenceService as the plan made it, at `generation`, with KServe's Ready
/// reported at `observed`.
fn observed_isvc(plan: &Plan, generation: i64, observed: i64) -> InferenceService {
    let mut isvc: InferenceService =
        serde_json::from_value(objects(plan, "InferenceService")[0].clone()).unwrap();
    isvc.metadata.generation = Some(generation);
    isvc.status = Some(
        serde_json::from_value(json!({"observedGeneration": observed, "conditions": [{"type": "Ready", "status": "True"}]}))
            .unwrap(),
    );
    isvc
}

/// The observed HTTPRoute as the plan made it, at `generation`, with the parent's conditions.
fn observed_route(
    plan: &Plan,
    generation: i64,
    conditions: Value,
) -> gateway_api::apis::standard::httproutes::HttpRoute {
    let mut route: gateway_api::apis::standard::httproutes::HttpRoute =
        serde_json::from_value(objects(plan, "HTTPRoute")[0].clone()).unwrap();
    route.metadata.generation = Some(generation);
    route.status = Some(
        serde_json::from_value(json!({"parents": [{
            "parentRef": {"name": "inference-gateway", "namespace": "gateways"},
            "controllerName": "example.com/gateway", "conditions": conditions}]}))
        .unwrap(),
    );
    route
}

fn gateway_condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    observed: i64,
) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
        "observedGeneration": observed, "lastTransitionTime": "2025-01-01T00:00:00Z"})
}

fn accepted_at(observed: i64) -> Value {
    json!([
        gateway_condition("Accepted", "True", "Accepted", "", observed),
        gateway_condition("ResolvedRefs", "True", "ResolvedRefs", "", observed)
    ])
}

fn routed(extra: Value) -> AIMService {
    let mut spec = json!({"model": {"image": IMAGE}, "routing": {"enabled": true, "gatewayRef": {"name": "inference-gateway", "namespace": "gateways"}}});
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    service(spec)
}

/// A routed service on the Quick Start's template, Running: KServe and the Gateway reported on
/// what the plan applied.
fn running_with_route() -> ServiceObservation {
    let mut observation = discovered();
    observation.service = routed(json!({}));
    let (plan, _) = run(&observation);
    observation.inference_services = vec![observed_isvc(&plan, 1, 1)];
    observation.http_routes = vec![observed_route(&plan, 1, accepted_at(1))];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Running", "{status}");
    observation
}

fn message<'a>(status: &'a Value, type_: &str) -> &'a str {
    condition(status, type_)["message"].as_str().unwrap()
}

// The AIMService guide, "Status Values": "Running: Service is ready and serving traffic". Ready
// reported for an earlier spec is not ready.
#[test]
fn changing_replicas_after_running_is_starting_until_kserve_reports_the_new_generation() {
    let mut observation = running_with_route();
    observation.service = routed(json!({"replicas": 3}));
    observation.service.metadata.generation = Some(2);
    // The first plan after the change still observes the InferenceService with one replica.
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Starting");
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert_eq!(
        message(&status, "RuntimeReady"),
        "Waiting for KServe to report on the updated InferenceService"
    );
    assert_condition(&status, "Ready", "False", "CreatingRuntime");
    // The update is applied (generation 2); KServe still reports generation 1.
    observation.inference_services = vec![observed_isvc(&plan, 2, 1)];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Starting");
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    observation.inference_services = vec![observed_isvc(&plan, 2, 2)];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Running");
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
}

#[test]
fn changing_the_route_path_after_running_is_starting_until_the_gateway_accepts_it_again() {
    let mut observation = running_with_route();
    let mut changed = routed(json!({}));
    changed.spec.routing.as_mut().unwrap().path_template = Some("/chat/{.metadata.name}".into());
    changed.metadata.generation = Some(2);
    observation.service = changed;
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Starting");
    assert_eq!(status["routing"]["path"], "/chat/llama-chat");
    assert_condition(&status, "RoutingReady", "False", "ConfiguringRoute");
    assert_eq!(
        message(&status, "RoutingReady"),
        "Waiting for HTTPRoute to be updated"
    );
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
    assert_condition(&status, "Ready", "False", "ConfiguringRoute");
    // Applied (generation 2); the Gateway's Accepted is still about generation 1.
    observation.http_routes = vec![observed_route(&plan, 2, accepted_at(1))];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Starting");
    assert_eq!(
        message(&status, "RoutingReady"),
        "Waiting for the Gateway to accept the HTTPRoute"
    );
    observation.http_routes = vec![observed_route(&plan, 2, accepted_at(2))];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Running");
}

// The AIMService guide, "Status Values": "Degraded: Service is running but has warnings (e.g.,
// routing issues ...)"; RoutingReady reasons include `RouteFailed`.
#[test]
fn a_gateway_refusing_the_route_degrades_the_service_with_the_gateways_reason_and_message() {
    let mut observation = running_with_route();
    let (plan, _) = run(&observation);
    observation.http_routes = vec![observed_route(
        &plan,
        1,
        json!([gateway_condition(
            "Accepted",
            "False",
            "NotAllowedByListeners",
            "No listener allows routes from namespace ml-team",
            1
        )]),
    )];
    let (_, status) = run(&observation);
    let expected = "HTTPRoute not accepted by Gateway gateways/inference-gateway: NotAllowedByListeners: No listener allows routes from namespace ml-team";
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RoutingReady", "False", "RouteFailed");
    assert_eq!(message(&status, "RoutingReady"), expected);
    assert_condition(&status, "Failure", "True", "RouteFailed");
    assert_eq!(message(&status, "Failure"), expected);
    assert_condition(&status, "Ready", "False", "RouteFailed");
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
}

fn backend_not_found() -> Value {
    json!([
        gateway_condition("Accepted", "True", "Accepted", "", 1),
        gateway_condition(
            "ResolvedRefs",
            "False",
            "BackendNotFound",
            "Service ml-team/llama-chat-predictor not found",
            1
        )
    ])
}

#[test]
fn unresolved_backend_references_are_a_routing_failure_too() {
    let mut observation = running_with_route();
    let (plan, _) = run(&observation);
    observation.http_routes = vec![observed_route(&plan, 1, backend_not_found())];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RoutingReady", "False", "RouteFailed");
    assert_eq!(
        message(&status, "RoutingReady"),
        "HTTPRoute references not resolved by Gateway gateways/inference-gateway: BackendNotFound: Service ml-team/llama-chat-predictor not found"
    );
}

// KServe creates the predictor Service the route points at while it brings the InferenceService
// up, so a Gateway reports the backend missing during every startup: that is not a failure yet.
#[test]
fn a_backend_missing_while_the_runtime_starts_is_still_configuring_the_route() {
    let mut observation = discovered();
    observation.service = routed(json!({}));
    let (plan, _) = run(&observation);
    observation.inference_services = vec![observed_isvc(&plan, 1, 1)];
    observation.inference_services[0].status = None;
    observation.http_routes = vec![observed_route(&plan, 1, backend_not_found())];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Starting", "{status}");
    assert_condition(&status, "RoutingReady", "False", "ConfiguringRoute");
    assert_condition(&status, "Failure", "False", "Resolved");
}

#[test]
fn a_refusal_about_an_earlier_generation_of_the_route_is_not_a_failure() {
    let mut observation = running_with_route();
    let (plan, _) = run(&observation);
    observation.http_routes = vec![observed_route(
        &plan,
        2,
        json!([gateway_condition(
            "Accepted",
            "False",
            "NotAllowedByListeners",
            "old",
            1
        )]),
    )];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Starting");
    assert_condition(&status, "RoutingReady", "False", "ConfiguringRoute");
}

// "Routing enabled without a gatewayRef is a routing failure": Degraded, Resolved untouched.
#[test]
fn routing_without_a_gateway_degrades_the_service_and_leaves_resolved_alone() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "routing": {"enabled": true}}));
    let (plan, status) = run(&observation);
    let expected = "routing.gatewayRef must be specified via AIMService or runtime config when routing is enabled";
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "RoutingReady", "False", "RouteFailed");
    assert_eq!(message(&status, "RoutingReady"), expected);
    assert_condition(&status, "Failure", "True", "RouteFailed");
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_eq!(objects(&plan, "InferenceService").len(), 1);
    assert!(objects(&plan, "HTTPRoute").is_empty());
}

#[test]
fn turning_routing_off_deletes_the_services_route() {
    let mut observation = running_with_route();
    observation.service = routed(json!({}));
    observation.service.spec.routing.as_mut().unwrap().enabled = Some(false);
    let (plan, status) = run(&observation);
    assert!(objects(&plan, "HTTPRoute").is_empty());
    let deleted: Vec<(&str, &str, Option<&str>)> = plan
        .delete
        .iter()
        .map(|r| (r.kind.as_str(), r.name.as_str(), r.namespace.as_deref()))
        .collect();
    assert_eq!(
        deleted,
        [("HTTPRoute", "llama-chat-route", Some("ml-team"))]
    );
    assert_eq!(plan.delete[0].api_version, "gateway.networking.k8s.io/v1");
    assert_eq!(status["status"], "Running");
    assert_condition(&status, "RoutingReady", "True", "RouteReady");
}

// The runtime configuration guide: "Services can override these defaults individually."
#[test]
fn a_service_turning_routing_off_overrides_a_runtime_config_that_turns_it_on() {
    let mut observation = discovered();
    let config: AIMRuntimeConfig = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": "ml-team"},
        "spec": {"routing": {"enabled": true, "gatewayRef": {"name": "kserve-gateway", "namespace": "kgateway-system"}}}
    }))
    .unwrap();
    observation.runtime_configs.namespaced = Some(config);
    observation.service =
        service(json!({"model": {"image": IMAGE}, "routing": {"enabled": false}}));
    let (plan, status) = run(&observation);
    assert!(objects(&plan, "HTTPRoute").is_empty());
    assert_eq!(message(&status, "RoutingReady"), "Routing disabled");
    assert!(status.get("routing").is_none());
}

// The AIMService guide, "Conditions": Resolved True "Model and template have been validated and
// a runtime profile has been selected".
#[test]
fn resolved_waits_for_the_template_to_be_ready() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    observation.templates[0].status.as_mut().unwrap().status =
        aim_api::conditions::AIMTemplateStatusEnum::Progressing;
    let (plan, status) = run(&observation);
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "TemplateNotAvailable");
    assert_eq!(
        message(&status, "Resolved"),
        format!("Template {LATENCY:?} is not ready yet (Progressing)")
    );
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert_eq!(
        message(&status, "RuntimeReady"),
        "InferenceService not created yet"
    );
    assert_condition(&status, "Ready", "False", "TemplateNotAvailable");
    assert_condition(&status, "Progressing", "True", "TemplateNotAvailable");
    assert_condition(&status, "Failure", "False", "Resolved");
    assert!(objects(&plan, "InferenceService").is_empty());
}

#[test]
fn a_ready_template_without_a_runtime_profile_is_not_resolved() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    observation.templates[0].status.as_mut().unwrap().profile = None;
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "TemplateNotAvailable");
    assert_eq!(
        message(&status, "Resolved"),
        format!("Template {LATENCY:?} is Ready but reports no runtime profile yet")
    );
}

// The AIMService guide lists `ModelNotReady` among Resolved's reasons.
#[test]
fn a_progressing_model_is_model_not_ready_on_resolved_with_its_own_message() {
    let mut observation = discovered();
    let model = &mut observation.cluster_models[0];
    model.status = Some(
        serde_json::from_value(json!({"status": "Progressing", "conditions": [
            {"type": "Ready", "status": "False", "reason": "TemplatesProgressing", "message": "1 of 2 templates discovered",
             "lastTransitionTime": "2025-01-01T00:00:00Z"}]}))
        .unwrap(),
    );
    let (_, status) = run(&observation);
    let expected = format!("Model {MODEL:?} is Progressing: 1 of 2 templates discovered");
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "ModelNotReady");
    assert_eq!(message(&status, "Resolved"), expected);
    assert_condition(&status, "Ready", "False", "ModelProgressing");
    assert_eq!(message(&status, "Ready"), expected);
    assert_condition(&status, "Failure", "False", "Resolved");
}

#[test]
fn a_degraded_model_degrades_the_service() {
    let mut observation = discovered();
    observation.cluster_models[0]
        .status
        .as_mut()
        .unwrap()
        .status = aim_api::conditions::AIMModelStatusEnum::Degraded;
    let (_, status) = run(&observation);
    let expected = format!("Model {MODEL:?} is Degraded");
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Resolved", "False", "ModelNotReady");
    assert_eq!(message(&status, "Resolved"), expected);
    assert_condition(&status, "Ready", "False", "ModelDegraded");
    assert_condition(&status, "Failure", "True", "ModelDegraded");
    assert_eq!(message(&status, "Failure"), expected);
    assert_condition(&status, "Progressing", "False", "ModelDegraded");
}

#[test]
fn a_model_no_template_can_run_is_model_not_ready() {
    let mut observation = discovered();
    observation.cluster_models[0]
        .status
        .as_mut()
        .unwrap()
        .status = aim_api::conditions::AIMModelStatusEnum::NotAvailable;
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Pending");
    assert_condition(&status, "Resolved", "False", "ModelNotReady");
    assert_eq!(
        message(&status, "Resolved"),
        format!("Model {MODEL:?} is NotAvailable")
    );
    assert_condition(&status, "Ready", "False", "ModelNotReady");
}

// An explicit templateRef to a template that cannot be used.
#[test]
fn an_explicit_degraded_template_without_a_failure_reason_is_template_degraded() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    observation.templates[0].status.as_mut().unwrap().status =
        aim_api::conditions::AIMTemplateStatusEnum::Degraded;
    let (plan, status) = run(&observation);
    let expected = format!("Template {LATENCY:?} is not available");
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Resolved", "False", "TemplateDegraded");
    assert_eq!(message(&status, "Resolved"), expected);
    assert_condition(&status, "Failure", "True", "TemplateDegraded");
    assert_eq!(message(&status, "Failure"), expected);
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert!(objects(&plan, "InferenceService").is_empty());
}

#[test]
fn an_explicit_template_whose_gpu_is_missing_reports_the_templates_reason() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": "lat-mi325x"}));
    observation.templates[2].status.as_mut().unwrap().conditions = vec![
        serde_json::from_value(json!(
        {"type": "Ready", "status": "False", "reason": "GPUUnavailable",
         "message": "Required GPU model \"MI325X\" is not available in the cluster",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}))
        .unwrap(),
    ];
    let (_, status) = run(&observation);
    let expected = "Required GPU model \"MI325X\" is not available in the cluster";
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Resolved", "False", "GPUUnavailable");
    assert_eq!(message(&status, "Resolved"), expected);
    assert_condition(&status, "Ready", "False", "GPUUnavailable");
    assert_eq!(message(&status, "Failure"), expected);
}

#[test]
fn an_explicit_failed_template_fails_the_service_with_its_failure() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    let status_of = observation.templates[0].status.as_mut().unwrap();
    status_of.status = aim_api::conditions::AIMTemplateStatusEnum::Failed;
    status_of.conditions = vec![serde_json::from_value(json!(
        {"type": "Failure", "status": "True", "reason": "JobFailed", "message": "Discovery job failed",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}))
    .unwrap()];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Failed");
    assert_condition(&status, "Resolved", "False", "JobFailed");
    assert_condition(&status, "Failure", "True", "JobFailed");
    assert_eq!(message(&status, "Failure"), "Discovery job failed");
}

#[test]
fn a_ready_template_without_model_sources_is_no_model_sources() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    observation.templates[0]
        .status
        .as_mut()
        .unwrap()
        .model_sources
        .clear();
    let (plan, status) = run(&observation);
    let expected = format!("Template {LATENCY:?} is Ready but lists no model sources");
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Resolved", "False", "NoModelSources");
    assert_eq!(message(&status, "Resolved"), expected);
    assert_condition(&status, "Failure", "True", "NoModelSources");
    assert_eq!(message(&status, "Failure"), expected);
    assert!(objects(&plan, "InferenceService").is_empty());
}

#[test]
fn a_model_source_without_a_size_is_a_storage_problem() {
    let mut observation = discovered();
    observation.templates[0]
        .status
        .as_mut()
        .unwrap()
        .model_sources[0]
        .size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("0".into());
    let (plan, status) = run(&observation);
    let expected = "A model source of the template has no size; cannot size the model volume";
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_condition(&status, "Ready", "False", "NoModelSources");
    assert_condition(&status, "Failure", "True", "NoModelSources");
    assert_eq!(message(&status, "Failure"), expected);
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert!(objects(&plan, "InferenceService").is_empty());
}

// The AIMService guide, "Status Values": "Degraded: Service is running but has warnings (e.g.,
// ... template not optimal)".
#[test]
fn serving_on_a_template_whose_gpu_left_the_cluster_is_degraded_but_ready() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    isvc_ready(&mut observation);
    observation.nodes.clear();
    let (_, status) = run(&observation);
    let expected = format!(
        "Service is ready, but the GPU model \"MI300X\" of its template {LATENCY:?} is on no node"
    );
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Ready", "True", "TemplateNotOptimal");
    assert_eq!(message(&status, "Ready"), expected);
    assert_condition(&status, "Progressing", "False", "TemplateNotOptimal");
    assert_condition(&status, "Failure", "False", "Resolved");
    assert_condition(&status, "Resolved", "True", "Resolved");
    assert_condition(&status, "RuntimeReady", "True", "RuntimeReady");
}

#[test]
fn serving_on_a_template_that_became_not_available_is_degraded_but_ready() {
    let mut observation = discovered();
    observation.service = service(json!({"model": {"image": IMAGE}, "templateRef": LATENCY}));
    isvc_ready(&mut observation);
    let template = observation.templates[0].status.as_mut().unwrap();
    template.status = aim_api::conditions::AIMTemplateStatusEnum::NotAvailable;
    template.conditions = vec![
        serde_json::from_value(json!(
        {"type": "Ready", "status": "False", "reason": "GPUUnavailable",
         "message": "Required GPU model \"MI300X\" is not available in the cluster",
         "lastTransitionTime": "2025-01-01T00:00:00Z"}))
        .unwrap(),
    ];
    let (_, status) = run(&observation);
    assert_eq!(status["status"], "Degraded");
    assert_condition(&status, "Ready", "True", "TemplateNotOptimal");
    assert_eq!(
        message(&status, "Ready"),
        format!(
            "Service is ready, but its template {LATENCY:?} is NotAvailable: Required GPU model \"MI300X\" is not available in the cluster"
        )
    );
    assert_condition(&status, "Resolved", "True", "Resolved");
}

// RuntimeReady "reflects the InferenceService only".
#[test]
fn runtime_ready_stays_about_the_inference_service_when_the_runtime_config_goes() {
    let mut observation = discovered();
    observation.service =
        service(json!({"model": {"image": IMAGE}, "runtimeConfigName": "team-config"}));
    observation.runtime_configs.name = "team-config".into();
    let (_, status) = run(&observation);
    assert_condition(&status, "Resolved", "False", "RuntimeConfigMissing");
    assert_condition(&status, "RuntimeReady", "False", "CreatingRuntime");
    assert_condition(&status, "Failure", "True", "RuntimeConfigMissing");
}
