//! Which template a service runs, and what reaches its InferenceService, on a real apiserver with
//! the operator's controllers running: overrides and derived templates, namespace over cluster
//! templates, GPU availability, ambiguity, cluster runtime configs, routing errors, and KServe
//! reporting a failure.
//!
//! Cluster-scoped objects are seen by every test of the run, so they get names unique to the test
//! (and so do the models they name, so no other test's service can select them), and they are
//! deleted when the test ends.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, create, message, namespace, state};

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fake_kubelet::FakeKubelet;
use aim_tests::fixtures::{self, aim_api, inference_service_api};
use aim_tests::{TestEnv, TestNamespace, wait_for};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::ResourceExt;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, PostParams,
};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);
const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
const DERIVED: &str = "aim.silogen.ai/derived-template=true";

const DISCOVERY_OUTPUT: &str = r#"[{"filename":"vllm-mi300x-fp8-tp1-latency.yaml","profile":{"model":"meta-llama/Llama-3.1-8B-Instruct","metadata":{"engine":"vllm","gpu":"MI300X","precision":"fp8","gpu_count":1,"metric":"latency"},"engine_args":{"tensor-parallel-size":1},"env_vars":{"VLLM_USE_V1":"1"}},"models":[{"name":"amd/Llama-3.1-8B-Instruct-FP8-KV","source":"hf://amd/Llama-3.1-8B-Instruct-FP8-KV","size_gb":0.5}]}]"#;

fn resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", kind))
}

/// Cluster-scoped objects a test made. They outlive its namespace, so they are deleted when the
/// test ends, also when it fails.
struct ClusterObjects {
    env: &'static TestEnv,
    made: Vec<(ApiResource, String)>,
}

impl ClusterObjects {
    async fn new() -> Self {
        Self {
            env: TestEnv::shared().await.unwrap(),
            made: Vec::new(),
        }
    }

    fn api(ns: &TestNamespace, kind: &str) -> Api<DynamicObject> {
        Api::all_with(ns.client(), &resource(kind))
    }

    async fn create(&mut self, ns: &TestNamespace, object: Value) {
        let kind = object["kind"].as_str().unwrap().to_owned();
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        Self::api(ns, &kind)
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
        self.made.push((resource(&kind), object.name_any()));
    }
}

impl Drop for ClusterObjects {
    fn drop(&mut self) {
        // The test's runtime is finishing, so the requests run on a thread of their own, with a
        // client made there (a client only works on the runtime it was created on).
        let kubeconfig = self.env.kubeconfig().to_path_buf();
        let made = std::mem::take(&mut self.made);
        let cleanup = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let client = aim_tests::kubeconfig::client(&kubeconfig).await?;
                for (resource, name) in &made {
                    Api::<DynamicObject>::all_with(client.clone(), resource)
                        .delete(name, &DeleteParams::default())
                        .await?;
                }
                Ok(())
            })
        });
        if let Ok(Err(e)) = cleanup.join() {
            eprintln!("deleting cluster-scoped test objects: {e:#}");
        }
    }
}

async fn mi300x_node(ns: &TestNamespace) {
    fixtures::create_node(
        ns,
        "gpu",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await
    .unwrap();
}

/// A Ready model (discovery off) in the namespace.
async fn model(ns: &TestNamespace, name: &str) {
    create(
        ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": name},
            "spec": {"image": IMAGE, "discovery": {"enabled": false}}
        }),
    )
    .await;
}

/// A template spec whose in-line model sources make it Ready without discovery.
fn template_spec(model: &str, metric: &str, precision: &str, gpu: &str) -> Value {
    json!({
        "modelName": model, "metric": metric, "precision": precision, "gpuSelector": {"count": 1, "model": gpu},
        "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]
    })
}

async fn template(ns: &TestNamespace, name: &str, spec: Value) {
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": name},
        "spec": spec
    }))
    .await;
}

/// An MI300X node, model `llama` and its Ready latency template `llama-latency`.
async fn model_and_template(ns: &TestNamespace) {
    mi300x_node(ns).await;
    model(ns, "llama").await;
    template(
        ns,
        "llama-latency",
        template_spec("llama", "latency", "fp8", "MI300X"),
    )
    .await;
}

async fn service(ns: &TestNamespace, name: &str, spec: Value) {
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": name},
        "spec": spec
    }))
    .await;
}

fn resolved_template(service: &AIMService) -> Option<String> {
    Some(
        service
            .status
            .as_ref()?
            .resolved_template
            .as_ref()?
            .name
            .clone(),
    )
}

async fn wait_for_state(ns: &TestNamespace, name: &str, wanted: &str) -> AIMService {
    let services: Api<AIMService> = ns.api();
    wait_for(&services, name, TIMEOUT, |s| state(s) == wanted)
        .await
        .unwrap()
}

async fn derived_templates(ns: &TestNamespace) -> Vec<DynamicObject> {
    aim_api(ns, "AIMServiceTemplate")
        .list(&ListParams::default().labels(DERIVED))
        .await
        .unwrap()
        .items
}

fn template_state(template: &DynamicObject) -> &str {
    template.data["status"]["status"]
        .as_str()
        .unwrap_or_default()
}

/// The newest Job labelled for `template`, once there is one.
async fn discovery_job(ns: &TestNamespace, template: &str) -> Job {
    let jobs: Api<Job> = ns.api();
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/template={template}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(job) = jobs.list(&selector).await.unwrap().items.into_iter().next() {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no discovery job for {template}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An MI300X node on a fake kubelet, the model `llama`, and the template `base` for it (latency,
/// fp8, 1 MI300X) Ready by discovery: the kubelet ran its discovery Job. The kubelet must live as
/// long as the test.
async fn discovered_template(ns: &TestNamespace, base: &str) -> FakeKubelet {
    let env = TestEnv::shared().await.unwrap();
    let kubelet = FakeKubelet::start(env).await.unwrap();
    let node = kubelet
        .create_gpu_node(
            ns,
            "mi300x",
            &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
            8,
        )
        .await
        .unwrap();
    model(ns, "llama").await;
    template(
        ns,
        base,
        json!({"modelName": "llama", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"}}),
    )
    .await;
    let job = discovery_job(ns, base).await;
    kubelet
        .run_job_pod(ns, &node, &job.name_any(), DISCOVERY_OUTPUT)
        .await
        .unwrap();
    wait_for(&aim_api(ns, "AIMServiceTemplate"), base, TIMEOUT, |t| {
        template_state(t) == "Ready"
    })
    .await
    .unwrap();
    kubelet
}

#[tokio::test]
async fn overrides_no_template_matches_create_a_derived_template_and_the_service_waits_for_it() {
    let ns = namespace().await;
    // The base template runs discovery, so the derived one does too and stays Progressing: no
    // pod runs its discovery Job here.
    let base = "default-testing-llama-3-8b";
    let _kubelet = discovered_template(&ns, base).await;
    let templates = aim_api(&ns, "AIMServiceTemplate");

    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "overrides": {"metric": "throughput", "precision": "fp8"}}),
    )
    .await;
    // The derived template's name, written out: the base plus a hash of the overrides.
    let name = "default-testing-llama-3-8b-ovr-5ab7d1be";
    let derived = wait_for(&templates, name, TIMEOUT, |_| true).await.unwrap();
    assert_eq!(
        derived.metadata.labels.as_ref().unwrap()["aim.silogen.ai/derived-template"],
        "true"
    );
    // Not owned by the service, so other services with the same overrides can share it.
    assert!(
        derived
            .metadata
            .owner_references
            .as_ref()
            .is_none_or(Vec::is_empty),
        "{:?}",
        derived.metadata.owner_references
    );
    let spec = &derived.data["spec"];
    assert_eq!(
        (&spec["modelName"], &spec["metric"], &spec["precision"]),
        (&json!("llama"), &json!("throughput"), &json!("fp8"))
    );
    // It discovers its own profile, for the overridden metric.
    let derived_job = discovery_job(&ns, name).await;
    let env = serde_json::to_value(&derived_job).unwrap()["spec"]["template"]["spec"]["containers"]
        [0]["env"]
        .clone();
    assert!(
        env.as_array()
            .unwrap()
            .contains(&json!({"name": "AIM_METRIC", "value": "throughput"})),
        "{env}"
    );

    let services: Api<AIMService> = ns.api();
    let pending = wait_for(&services, "chat", TIMEOUT, |s| {
        state(s) == "Pending" && resolved_template(s).as_deref() == Some(name)
    })
    .await
    .unwrap();
    assert_eq!(
        condition(&pending, "Ready"),
        Some(("False".into(), "TemplateNotAvailable".into()))
    );
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());
}

#[tokio::test]
async fn services_with_the_same_overrides_share_one_derived_template() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    for name in ["first", "second"] {
        service(
            &ns,
            name,
            json!({"model": {"ref": "llama"}, "overrides": {"metric": "throughput"}}),
        )
        .await;
    }
    let first = wait_for_state(&ns, "first", "Starting").await;
    let second = wait_for_state(&ns, "second", "Starting").await;
    let name = resolved_template(&first).unwrap();
    assert!(name.starts_with("llama-latency-ovr-"), "{name}");
    assert_eq!(resolved_template(&second).as_deref(), Some(name.as_str()));
    let derived: Vec<String> = derived_templates(&ns)
        .await
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(derived, std::slice::from_ref(&name));

    let isvcs = inference_service_api(ns.client(), ns.name());
    for service in ["first", "second"] {
        let isvc = wait_for(&isvcs, service, TIMEOUT, |_| true).await.unwrap();
        assert_eq!(
            isvc.data["spec"]["predictor"]["model"]["runtime"],
            name.as_str()
        );
    }
}

#[tokio::test]
async fn overrides_matching_an_existing_ready_template_select_it_without_deriving_one() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    template(
        &ns,
        "llama-throughput",
        template_spec("llama", "throughput", "fp8", "MI300X"),
    )
    .await;
    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "overrides": {"metric": "throughput"}}),
    )
    .await;
    let starting = wait_for_state(&ns, "chat", "Starting").await;
    assert_eq!(
        resolved_template(&starting).as_deref(),
        Some("llama-throughput")
    );
    assert!(derived_templates(&ns).await.is_empty());
}

#[tokio::test]
async fn a_namespace_template_wins_over_a_better_cluster_template() {
    let ns = namespace().await;
    let mut cluster = ClusterObjects::new().await;
    mi300x_node(&ns).await;
    let model_name = ns.unique("llama");
    model(&ns, &model_name).await;
    // By preference fp8 beats fp16, so only scope can make the namespace template win.
    let cluster_template = ns.unique("llama-fp8");
    cluster
        .create(
            &ns,
            json!({
                "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate",
                "metadata": {"name": cluster_template},
                "spec": template_spec(&model_name, "latency", "fp8", "MI300X")
            }),
        )
        .await;
    template(
        &ns,
        "llama-fp16",
        template_spec(&model_name, "latency", "fp16", "MI300X"),
    )
    .await;
    // Both are candidates: Ready before the service looks.
    wait_for(
        &ClusterObjects::api(&ns, "AIMClusterServiceTemplate"),
        &cluster_template,
        TIMEOUT,
        |t| template_state(t) == "Ready",
    )
    .await
    .unwrap();
    wait_for(
        &aim_api(&ns, "AIMServiceTemplate"),
        "llama-fp16",
        TIMEOUT,
        |t| template_state(t) == "Ready",
    )
    .await
    .unwrap();

    service(&ns, "chat", json!({"model": {"ref": model_name}})).await;
    let starting = wait_for_state(&ns, "chat", "Starting").await;
    let resolved = starting.status.unwrap().resolved_template.unwrap();
    assert_eq!(resolved.name, "llama-fp16");
    assert_eq!(resolved.namespace.as_deref(), Some(ns.name()));
    assert_eq!(
        serde_json::to_value(resolved.scope).unwrap(),
        json!("Namespace")
    );
}

#[tokio::test]
async fn templates_for_a_gpu_no_node_has_are_not_selected() {
    let ns = namespace().await;
    mi300x_node(&ns).await;
    model(&ns, "llama").await;
    // A GPU model unique to this test, so no other test's node can provide it; in-line sources
    // make the template Ready regardless.
    let absent = fixtures::gpu_model_no_node_has(&ns);
    template(
        &ns,
        "llama-absent",
        template_spec("llama", "latency", "fp8", &absent),
    )
    .await;
    wait_for(
        &aim_api(&ns, "AIMServiceTemplate"),
        "llama-absent",
        TIMEOUT,
        |t| template_state(t) == "Ready",
    )
    .await
    .unwrap();
    service(&ns, "chat", json!({"model": {"ref": "llama"}})).await;
    let failed = wait_for_state(&ns, "chat", "Failed").await;
    assert_eq!(
        condition(&failed, "Resolved"),
        Some(("False".into(), "TemplateNotFound".into()))
    );
    assert_eq!(condition(&failed, "Ready").unwrap().1, "TemplateNotFound");
    assert!(
        message(&failed, "Resolved").contains("No available templates match"),
        "{}",
        message(&failed, "Resolved")
    );
    assert!(failed.status.unwrap().resolved_template.is_none());
}

#[tokio::test]
async fn two_equally_good_templates_make_selection_ambiguous() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    template(
        &ns,
        "llama-latency-copy",
        template_spec("llama", "latency", "fp8", "MI300X"),
    )
    .await;
    let templates = aim_api(&ns, "AIMServiceTemplate");
    for name in ["llama-latency", "llama-latency-copy"] {
        wait_for(&templates, name, TIMEOUT, |t| template_state(t) == "Ready")
            .await
            .unwrap();
    }
    service(&ns, "chat", json!({"model": {"ref": "llama"}})).await;
    let failed = wait_for_state(&ns, "chat", "Failed").await;
    assert_eq!(
        condition(&failed, "Resolved"),
        Some(("False".into(), "TemplateSelectionAmbiguous".into()))
    );
    assert_eq!(
        condition(&failed, "Failure"),
        Some(("True".into(), "TemplateSelectionAmbiguous".into()))
    );
    assert!(
        message(&failed, "Resolved").contains("Multiple templates (2)"),
        "{}",
        message(&failed, "Resolved")
    );
}

#[tokio::test]
async fn an_explicit_template_ref_that_does_not_exist_degrades_the_service() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "templateRef": "llama-missing"}),
    )
    .await;
    let degraded = wait_for_state(&ns, "chat", "Degraded").await;
    assert_eq!(
        condition(&degraded, "Resolved"),
        Some(("False".into(), "TemplateNotFound".into()))
    );
    assert_eq!(
        condition(&degraded, "Ready"),
        Some(("False".into(), "TemplateNotFound".into()))
    );
    // A named template is never made up, and the existing one is not used instead.
    assert!(
        aim_api(&ns, "AIMServiceTemplate")
            .get_opt("llama-missing")
            .await
            .unwrap()
            .is_none()
    );
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());
}

#[tokio::test]
async fn a_cluster_runtime_config_applies_when_the_namespace_has_none() {
    let ns = namespace().await;
    let mut cluster = ClusterObjects::new().await;
    model_and_template(&ns).await;
    let config = ns.unique("cfg");
    cluster
        .create(
            &ns,
            json!({
                "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterRuntimeConfig",
                "metadata": {"name": config}, "spec": {"defaultStorageClassName": "cluster-ssd"}
            }),
        )
        .await;
    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "runtimeConfigName": config}),
    )
    .await;
    let starting = wait_for_state(&ns, "chat", "Starting").await;
    let resolved = starting.status.unwrap().resolved_runtime_config.unwrap();
    assert_eq!(resolved.name, config);
    assert_eq!(
        serde_json::to_value(resolved.scope).unwrap(),
        json!("Cluster")
    );
    // Its settings are the ones in force: the model volume gets its storage class.
    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let claim = wait_for(&pvcs, "chat-temp-cache", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        claim.spec.unwrap().storage_class_name.as_deref(),
        Some("cluster-ssd")
    );
}

// "Routing enabled without a gatewayRef is a routing failure": the AIMService guide's Degraded is
// "running but has warnings (e.g., routing issues)"; Resolved is about model and template only.
#[tokio::test]
async fn routing_enabled_without_a_gateway_degrades_the_service_and_keeps_the_runtime() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "routing": {"enabled": true}}),
    )
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let degraded = wait_for_state(&ns, "chat", "Degraded").await;
    let expected = "routing.gatewayRef must be specified via AIMService or runtime config when routing is enabled";
    assert_eq!(
        condition(&degraded, "RoutingReady"),
        Some(("False".into(), "RouteFailed".into()))
    );
    assert_eq!(message(&degraded, "RoutingReady"), expected);
    assert_eq!(
        condition(&degraded, "Failure"),
        Some(("True".into(), "RouteFailed".into()))
    );
    assert_eq!(message(&degraded, "Failure"), expected);
    assert_eq!(
        condition(&degraded, "Resolved"),
        Some(("True".into(), "Resolved".into()))
    );
}

#[tokio::test]
async fn a_path_template_with_a_missing_label_degrades_the_service_but_keeps_the_runtime() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "routing": {
            "enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"},
            "pathTemplate": "/team/{.metadata.labels['team']}/chat"
        }}),
    )
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let degraded = wait_for_state(&ns, "chat", "Degraded").await;
    assert_eq!(
        condition(&degraded, "RoutingReady"),
        Some(("False".into(), "PathTemplateInvalid".into()))
    );
    assert_eq!(
        condition(&degraded, "Ready"),
        Some(("False".into(), "PathTemplateInvalid".into()))
    );
    assert!(
        message(&degraded, "Ready").contains("team"),
        "{}",
        message(&degraded, "Ready")
    );
    // No route with a path nobody asked for.
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    assert!(routes.get_opt("chat-route").await.unwrap().is_none());
}

#[tokio::test]
async fn env_pull_secrets_replicas_and_resources_reach_the_inference_service() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    service(
        &ns,
        "chat",
        json!({
            "model": {"ref": "llama"}, "replicas": 2,
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface-creds", "key": "token"}}}],
            "imagePullSecrets": [{"name": "registry-credentials"}],
            "resources": {"requests": {"cpu": "7", "memory": "56Gi"}, "limits": {"cpu": "9", "memory": "72Gi"}}
        }),
    )
    .await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let predictor = &isvc.data["spec"]["predictor"];
    assert_eq!(
        (&predictor["minReplicas"], &predictor["maxReplicas"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(
        predictor["imagePullSecrets"],
        json!([{"name": "registry-credentials"}])
    );
    let model = &predictor["model"];
    assert!(
        model["env"].as_array().unwrap().contains(&json!({
            "name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "huggingface-creds", "key": "token"}}
        })),
        "{}",
        model["env"]
    );
    // The service's resources, plus the template's one GPU.
    assert_eq!(
        model["resources"],
        json!({
            "requests": {"amd.com/gpu": "1", "cpu": "7", "memory": "56Gi"},
            "limits": {"amd.com/gpu": "1", "cpu": "9", "memory": "72Gi"}
        })
    );
}

#[tokio::test]
async fn an_inference_service_that_failed_to_load_degrades_the_service() {
    let ns = namespace().await;
    model_and_template(&ns).await;
    service(&ns, "chat", json!({"model": {"ref": "llama"}})).await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let failure = "failed to load model: out of GPU memory";
    fixtures::mark_inference_service_failed(&isvcs, "chat", "ModelLoadFailed", failure)
        .await
        .unwrap();
    let degraded = wait_for_state(&ns, "chat", "Degraded").await;
    assert_eq!(
        condition(&degraded, "RuntimeReady"),
        Some(("False".into(), "RuntimeFailed".into()))
    );
    assert_eq!(
        condition(&degraded, "Failure"),
        Some(("True".into(), "RuntimeFailed".into()))
    );
    assert_eq!(message(&degraded, "Ready"), failure);
}

// A derived template runs discovery of its own; when that fails, the service says so.
#[tokio::test]
async fn a_derived_template_whose_discovery_fails_fails_the_service() {
    let ns = namespace().await;
    let _kubelet = discovered_template(&ns, "llama-discovered").await;
    let templates = aim_api(&ns, "AIMServiceTemplate");

    service(
        &ns,
        "chat",
        json!({"model": {"ref": "llama"}, "overrides": {"precision": "fp16"}}),
    )
    .await;
    let services: Api<AIMService> = ns.api();
    let pending = wait_for(&services, "chat", TIMEOUT, |s| {
        resolved_template(s).is_some_and(|t| t.contains("-ovr-"))
    })
    .await
    .unwrap();
    let derived = resolved_template(&pending).unwrap();
    let derived_job = discovery_job(&ns, &derived).await;
    let jobs: Api<Job> = ns.api();
    fixtures::mark_job_failed(
        &jobs,
        &derived_job.name_any(),
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    .await
    .unwrap();
    wait_for(&templates, &derived, TIMEOUT, |t| {
        template_state(t) == "Failed"
    })
    .await
    .unwrap();
    let failed = wait_for_state(&ns, "chat", "Failed").await;
    assert_eq!(
        resolved_template(&failed).as_deref(),
        Some(derived.as_str())
    );
    assert_eq!(
        condition(&failed, "Resolved"),
        Some(("False".into(), "JobFailed".into()))
    );
    assert_eq!(
        condition(&failed, "Failure"),
        Some(("True".into(), "JobFailed".into()))
    );
    assert_eq!(message(&failed, "Failure"), "Discovery job failed");
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());
}
