//! The guides' examples through the parts users run: the real KServe controller manager (and its
//! webhooks), kube-scheduler, kube-controller-manager's workload controllers and Traefik as the
//! Gateway, with only the kubelet played (`aim_tests::real_cluster`). Nothing here writes the
//! status of an InferenceService, a pod's placement or an HTTPRoute's acceptance: each scenario
//! waits for the component that owns it, and checks the pod KServe derives from the example.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, create, state};

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{http_route_api, inference_service_api};
use aim_tests::quick_start::{self, SERVICE, Stage};
use aim_tests::real_cluster::{
    self, GATEWAY_NAMESPACE, LARGE_GPU_NODE, OPEN_GATEWAY, RealCluster, SAME_NAMESPACE_GATEWAY,
};
use aim_tests::{TestNamespace, wait_for};
use k8s_openapi::api::core::v1::{Container, PersistentVolumeClaim, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::ResourceExt as _;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

/// KServe, the scheduler and the Gateway each take a moment; the whole chain a few seconds.
const TIMEOUT: Duration = Duration::from_secs(120);
const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
const MI300X_DEVICE_ID: &str = "74a1";

/// The cluster, the operator, and a fresh namespace.
async fn setup() -> (&'static RealCluster, TestNamespace) {
    let cluster = RealCluster::shared().await.unwrap();
    common::start_operator(cluster.env());
    let ns = TestNamespace::create(cluster.env()).await.unwrap();
    (cluster, ns)
}

/// Waits for the service to reach `wanted`, failing with the components' logs.
async fn wait_for_state(
    cluster: &RealCluster,
    ns: &TestNamespace,
    name: &str,
    wanted: &str,
) -> AIMService {
    let services: Api<AIMService> = ns.api();
    match wait_for(&services, name, TIMEOUT, |s| state(s) == wanted).await {
        Ok(service) => service,
        Err(e) => panic!(
            "{e:#}\n--- pods: {}\n--- kserve:\n{}\n--- traefik:\n{}",
            pod_summary(ns).await,
            cluster.log_tail("kserve"),
            cluster.log_tail("traefik")
        ),
    }
}

/// The namespace's pods (where they run, their status) and its warning events, for failures.
async fn pod_summary(ns: &TestNamespace) -> String {
    let pods = ns.api::<Pod>().list(&ListParams::default()).await.unwrap();
    let pods: Vec<Value> = pods
        .items
        .iter()
        .map(|p| json!({"name": p.name_any(), "node": p.spec.as_ref().and_then(|s| s.node_name.clone()), "status": p.status}))
        .collect();
    let events = ns
        .api::<k8s_openapi::api::core::v1::Event>()
        .list(&ListParams::default())
        .await
        .unwrap();
    let warnings: Vec<String> = events
        .items
        .iter()
        .filter(|e| e.type_.as_deref() == Some("Warning"))
        .map(|e| {
            format!(
                "{}/{}: {}: {}",
                e.involved_object.kind.as_deref().unwrap_or_default(),
                e.involved_object.name.as_deref().unwrap_or_default(),
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default()
            )
        })
        .collect();
    format!(
        "{}\n--- warning events:\n{}",
        serde_json::to_string_pretty(&pods).unwrap(),
        warnings.join("\n")
    )
}

/// The running pods KServe's Deployment made for InferenceService `isvc`, once there are `count`.
async fn predictor_pods(ns: &TestNamespace, isvc: &str, count: usize) -> Vec<Pod> {
    let selector =
        ListParams::default().labels(&format!("serving.kserve.io/inferenceservice={isvc}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let running: Vec<Pod> = ns
            .api::<Pod>()
            .list(&selector)
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        if running.len() == count {
            return running;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} running pods of {isvc}; pods: {}",
            pod_summary(ns).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The inference container of a predictor pod.
fn inference_container(pod: &Pod) -> &Container {
    pod.spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == "kserve-container")
        .unwrap()
}

fn env_value<'a>(container: &'a Container, name: &str) -> Option<&'a str> {
    container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == name)
        .and_then(|e| e.value.as_deref())
}

/// The pod may only run on nodes with MI300X GPUs (the AMD device id label).
fn assert_mi300x_affinity(pod: &Pod) {
    let affinity =
        serde_json::to_value(pod.spec.as_ref().unwrap().affinity.as_ref().unwrap()).unwrap();
    let requirement = &affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        [0]["matchExpressions"][0];
    assert_eq!(requirement["key"], "amd.com/gpu.device-id", "{affinity}");
    assert_eq!(requirement["operator"], "In", "{affinity}");
    assert!(
        requirement["values"]
            .as_array()
            .unwrap()
            .contains(&json!(MI300X_DEVICE_ID)),
        "{affinity}"
    );
}

/// What the pod KServe derives from an example must carry.
struct Expected<'a> {
    image: &'a str,
    /// `AIM_*` variables the container runs its profile with.
    env: &'a [(&'a str, &'a str)],
    requests: &'a [(&'a str, &'a str)],
    limits: &'a [(&'a str, &'a str)],
    /// Where the models are mounted: the root, or one directory per cached model.
    model_mount: &'a str,
}

/// Checks the spec of a predictor pod: the image with its own entrypoint (no command or args), the
/// variables, exactly the resources expected, the MI300X node affinity, the runtime's shared memory,
/// and a bound claim at the model mount, which it returns.
async fn assert_inference_pod(
    ns: &TestNamespace,
    pod: &Pod,
    expected: &Expected<'_>,
) -> PersistentVolumeClaim {
    let spec = pod.spec.as_ref().unwrap();
    assert_ne!(
        spec.node_name.as_deref(),
        Some(real_cluster::CPU_NODE),
        "a GPU pod on the node without GPUs"
    );
    assert_mi300x_affinity(pod);
    let container = inference_container(pod);
    assert_eq!(container.image.as_deref(), Some(expected.image));
    assert_eq!(
        (&container.command, &container.args),
        (&None, &None),
        "the image's own entrypoint serves"
    );
    for (name, value) in expected.env {
        assert_eq!(env_value(container, name), Some(*value), "{name}");
    }
    let resources = container.resources.as_ref().unwrap();
    let listed = |list: Option<&std::collections::BTreeMap<String, Quantity>>| {
        let mut pairs: Vec<(String, String)> = list
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect();
        pairs.sort();
        pairs
    };
    let owned = |pairs: &[(&str, &str)]| {
        let mut pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        pairs.sort();
        pairs
    };
    assert_eq!(
        listed(resources.requests.as_ref()),
        owned(expected.requests),
        "requests"
    );
    assert_eq!(
        listed(resources.limits.as_ref()),
        owned(expected.limits),
        "limits"
    );
    let volume_of = |path: &str| {
        let mount = container
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.mount_path == path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}: {:?}", container.volume_mounts));
        spec.volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        volume_of("/dev/shm")
            .empty_dir
            .and_then(|e| e.medium)
            .as_deref(),
        Some("Memory")
    );
    let claim = volume_of(expected.model_mount)
        .persistent_volume_claim
        .unwrap()
        .claim_name;
    let bound = ns.api::<PersistentVolumeClaim>().get(&claim).await.unwrap();
    assert_eq!(
        bound.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Bound"),
        "the claim {claim} at {}",
        expected.model_mount
    );
    bound
}

/// `GET path` through the Gateway's listener, retried while the Gateway catches up.
async fn get_through_gateway(cluster: &RealCluster, path: &str) -> Value {
    let url = format!("{}{path}", cluster.gateway_url());
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        match reqwest::get(&url).await {
            Ok(response) if response.status().is_success() => {
                return response.json().await.unwrap();
            }
            Ok(response) => {
                last = format!(
                    "{}: {}",
                    response.status(),
                    response.text().await.unwrap_or_default()
                )
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "GET {url} never succeeded; last answer {last}\n--- traefik:\n{}",
        cluster.log_tail("traefik")
    );
}

/// A Ready model (discovery off) and a namespace template for it with in-line sources, needing
/// `gpus` MI300X.
async fn model_and_template(ns: &TestNamespace, model: &str, template: &str, gpus: u32) {
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": model},
        "spec": {"image": IMAGE, "discovery": {"enabled": false}}
    }))
    .await;
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": template},
        "spec": {
            "modelName": model, "metric": "latency", "precision": "fp8", "gpuSelector": {"count": gpus, "model": "MI300X"},
            "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]
        }
    }))
    .await;
}

#[tokio::test]
async fn the_quick_start_runs_on_kserve_and_answers_through_the_gateway() {
    let (cluster, ns) = setup().await;
    // The runtime configuration guide's routing defaults for the namespace; the service is the
    // AIMService guide's Quick Start as it stands.
    let routing = json!({"routing": {"enabled": true, "gatewayRef": {"name": OPEN_GATEWAY, "namespace": GATEWAY_NAMESPACE}}});
    let started = match quick_start::run(Stage::Real(cluster), &ns, routing, json!({})).await {
        Ok(started) => started,
        Err(e) => panic!(
            "{e:#}\n--- pods: {}\n--- scheduler:\n{}",
            pod_summary(&ns).await,
            cluster.log_tail("kube-scheduler")
        ),
    };
    let running = wait_for_state(cluster, &ns, SERVICE, "Running").await;
    assert_eq!(
        condition(&running, "RuntimeReady"),
        Some(("True".into(), "RuntimeReady".into()))
    );
    assert_eq!(
        condition(&running, "RoutingReady"),
        Some(("True".into(), "RouteReady".into()))
    );

    // KServe, not a test, made the InferenceService Ready, from its Deployment (RawDeployment
    // mode, which KServe 0.16 reports as "Standard").
    let isvc = inference_service_api(ns.client(), ns.name())
        .get(SERVICE)
        .await
        .unwrap();
    assert_eq!(
        isvc.data["status"]["deploymentMode"], "Standard",
        "{}",
        isvc.data["status"]
    );
    // Traefik, not a test, accepted the route.
    let route = http_route_api(ns.client(), ns.name())
        .get(&format!("{SERVICE}-route"))
        .await
        .unwrap();
    assert_eq!(
        route.data["status"]["parents"][0]["controllerName"],
        real_cluster::gateway::CONTROLLER_NAME
    );

    let pods = predictor_pods(&ns, SERVICE, 1).await;
    let pod = &pods[0];
    let claim = assert_inference_pod(
        &ns,
        pod,
        &Expected {
            image: &started.image,
            env: &[
                ("AIM_GPU_COUNT", "1"),
                ("AIM_GPU_MODEL", "MI300X"),
                ("AIM_METRIC", "latency"),
                ("AIM_PRECISION", "fp8"),
                ("AIM_CACHE_PATH", "/workspace/model-cache"),
            ],
            // The defaults for one GPU.
            requests: &[("amd.com/gpu", "1"), ("cpu", "4"), ("memory", "32Gi")],
            limits: &[("amd.com/gpu", "1"), ("memory", "48Gi")],
            model_mount: "/workspace/model-cache",
        },
    )
    .await;
    assert_eq!(claim.name_any(), format!("{SERVICE}-temp-cache"));

    // A request through the Gateway reaches the pod.
    let models = get_through_gateway(cluster, &format!("/{}/{SERVICE}/v1/models", ns.name())).await;
    assert_eq!(models["data"][0]["id"], SERVICE, "{models}");
    assert_eq!(
        models["data"][0]["owned_by"],
        pod.name_any().as_str(),
        "{models}"
    );
}

#[tokio::test]
async fn the_complete_example_runs_two_replicas_of_two_gpus_on_the_node_that_has_them() {
    let (cluster, ns) = setup().await;
    // What the AIMService guide's Complete Example refers to: the model, the template, the team's
    // runtime config with its service account, and the token's Secret.
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "meta-llama-3-8b"},
        "spec": {"image": IMAGE, "discovery": {"enabled": false}}
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
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "team-config"},
        "spec": {"serviceAccountName": "aim-runtime"}
    }))
    .await;
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "aim-runtime"}})).unwrap();
    ns.api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "huggingface-creds"}, "stringData": {"token": "hf_test"}}),
    )
    .unwrap();
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

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
                "gatewayRef": {"name": OPEN_GATEWAY, "namespace": GATEWAY_NAMESPACE},
                "pathTemplate": "/team/{.metadata.labels['team']}/chat"
            },
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface-creds", "key": "token"}}}]
        }
    }))
    .await;
    let running = wait_for_state(cluster, &ns, "llama-chat", "Running").await;
    assert_eq!(
        running
            .status
            .as_ref()
            .unwrap()
            .routing
            .as_ref()
            .unwrap()
            .path
            .as_deref(),
        Some("/team/research/chat")
    );

    // Two GPUs per pod: only the large node has them, the small one has one.
    let pods = predictor_pods(&ns, "llama-chat", 2).await;
    for pod in &pods {
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some(LARGE_GPU_NODE));
        assert_eq!(spec.service_account_name.as_deref(), Some("aim-runtime"));
        assert_inference_pod(
            &ns,
            pod,
            &Expected {
                image: IMAGE,
                env: &[
                    ("AIM_GPU_COUNT", "2"),
                    ("AIM_GPU_MODEL", "MI300X"),
                    ("AIM_METRIC", "throughput"),
                    ("AIM_PRECISION", "fp16"),
                ],
                // The guide's limits; requests never above them, or no pod would exist.
                requests: &[("amd.com/gpu", "2"), ("cpu", "6"), ("memory", "48Gi")],
                limits: &[("amd.com/gpu", "2"), ("cpu", "6"), ("memory", "48Gi")],
                model_mount: "/workspace/model-cache",
            },
        )
        .await;
        let container = inference_container(pod);
        let token = container
            .env
            .iter()
            .flatten()
            .find(|e| e.name == "HF_TOKEN")
            .unwrap();
        let from = token
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (from.name.as_str(), from.key.as_str()),
            ("huggingface-creds", "token")
        );
    }

    let models = get_through_gateway(cluster, "/team/research/chat/v1/models").await;
    assert_eq!(models["data"][0]["id"], "llama-chat", "{models}");
}

#[tokio::test]
async fn a_cached_model_is_mounted_in_the_pod_kserve_creates() {
    let (cluster, ns) = setup().await;
    model_and_template(&ns, "llama", "llama-latency", 1).await;
    // The download Jobs' pods finish (their output is not read).
    cluster
        .kubelet()
        .set_namespace_job_output(ns.name(), "downloaded\n");
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "cacheModel": true}
    }))
    .await;
    let running = wait_for_state(cluster, &ns, "chat", "Running").await;
    assert_eq!(
        condition(&running, "CacheReady"),
        Some(("True".into(), "CacheWarm".into()))
    );
    let caches = running.status.as_ref().unwrap().model_caches.clone();
    assert_eq!(caches.len(), 1, "{caches:?}");

    let pods = predictor_pods(&ns, "chat", 1).await;
    let source = "amd/Llama-3.1-8B-Instruct-FP8-KV";
    let mount = format!("/workspace/model-cache/{source}");
    let claim = assert_inference_pod(
        &ns,
        &pods[0],
        &Expected {
            image: IMAGE,
            env: &[
                ("AIM_GPU_COUNT", "1"),
                ("AIM_METRIC", "latency"),
                ("AIM_PRECISION", "fp8"),
            ],
            requests: &[("amd.com/gpu", "1"), ("cpu", "4"), ("memory", "32Gi")],
            limits: &[("amd.com/gpu", "1"), ("memory", "48Gi")],
            model_mount: &mount,
        },
    )
    .await;
    assert!(
        claim.labels().get("aim.silogen.ai/cache-type").is_some(),
        "{} is a model cache's claim: {:?}",
        claim.name_any(),
        claim.labels()
    );
}

#[tokio::test]
async fn a_service_whose_gpus_no_node_has_stays_pending_with_the_schedulers_reason() {
    let (cluster, ns) = setup().await;
    model_and_template(&ns, "llama", "llama-16", 16).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await;
    let services: Api<AIMService> = ns.api();
    let unschedulable = |s: &AIMService| {
        s.status.as_ref().is_some_and(|st| {
            st.conditions.iter().any(|c| {
                c.type_ == "RuntimeReady"
                    && c.reason == "CreatingRuntime"
                    && c.message.contains("Insufficient amd.com/gpu")
            })
        })
    };
    let waiting = match wait_for(&services, "chat", TIMEOUT, unschedulable).await {
        Ok(service) => service,
        Err(e) => panic!(
            "{e:#}\n--- pods: {}\n--- scheduler:\n{}",
            pod_summary(&ns).await,
            cluster.log_tail("kube-scheduler")
        ),
    };
    assert_eq!(state(&waiting), "Pending");
    let message = waiting
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "RuntimeReady")
        .unwrap()
        .message;
    assert!(
        message.starts_with("InferenceService pod cannot be scheduled: 0/3 nodes are available"),
        "{message}"
    );
}

#[tokio::test]
async fn a_route_the_gateway_refuses_shows_on_the_service() {
    let (cluster, ns) = setup().await;
    model_and_template(&ns, "llama", "llama-latency", 1).await;
    // The Gateway's listener takes routes of its own namespace only.
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}, "routing": {"enabled": true, "gatewayRef": {"name": SAME_NAMESPACE_GATEWAY, "namespace": GATEWAY_NAMESPACE}}}
    }))
    .await;
    let routes = http_route_api(ns.client(), ns.name());
    let refused = wait_for(&routes, "chat-route", TIMEOUT, |r| {
        r.data["status"]["parents"][0]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Accepted" && c["status"] == "False")
    })
    .await
    .unwrap();
    let accepted = refused.data["status"]["parents"][0]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Accepted")
        .unwrap()
        .clone();
    assert_eq!(accepted["reason"], "NotAllowedByListeners", "{accepted}");

    // The guide: routing issues degrade the service, RoutingReady says RouteFailed.
    let degraded = wait_for_state(cluster, &ns, "chat", "Degraded").await;
    let routing = condition(&degraded, "RoutingReady").unwrap();
    assert_eq!(routing, ("False".into(), "RouteFailed".into()));
}

#[tokio::test]
async fn kserve_refuses_an_inference_service_its_webhook_rejects() {
    let (_, ns) = setup().await;
    // No predictor: KServe's validating webhook, called on loopback, refuses it.
    let isvc: kube::api::DynamicObject = serde_json::from_value(json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "broken"},
        "spec": {"predictor": {}}
    }))
    .unwrap();
    let error = inference_service_api(ns.client(), ns.name())
        .create(&PostParams::default(), &isvc)
        .await
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("inferenceservice.kserve-webhook-server"),
        "{message}"
    );
}
