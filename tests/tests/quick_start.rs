//! The seed's Quick Start end to end on a real apiserver: an AIMService naming only an image that
//! sits in a real registry. The operator creates the model, reads the image's labels, generates a
//! template per recommended deployment, runs discovery (its result read through the apiserver's pod
//! log proxy), selects the template for the cluster's GPU and creates the InferenceService.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aim_api::v1alpha1::{AIMModel, AIMService, AIMServiceTemplate};
use aim_tests::fake_kubelet::FakeKubelet;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::registry::TestRegistry;
use aim_tests::{TestEnv, TestNamespace, wait_for};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

const RECOMMENDED: &str = r#"[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp8"},{"gpuModel":"MI325X","gpuCount":1,"metric":"latency","precision":"fp8"}]"#;

const DISCOVERY_OUTPUT: &str = r#"INFO dry run
[{"filename":"vllm-mi300x-fp8-tp1-latency.yaml","profile":{"model":"meta-llama/Llama-3.1-8B-Instruct","metadata":{"engine":"vllm","gpu":"MI300X","precision":"fp8","gpu_count":1,"metric":"latency"},"engine_args":{"tensor-parallel-size":1},"env_vars":{"VLLM_USE_V1":"1"}},"models":[{"name":"amd/Llama-3.1-8B-Instruct-FP8-KV","source":"hf://amd/Llama-3.1-8B-Instruct-FP8-KV","size_gb":0.5}]}]
"#;

fn state<T: serde::Serialize>(object: &T) -> String {
    serde_json::to_value(object).unwrap()["status"]["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_quick_start_goes_from_an_image_to_a_running_service() {
    let env = TestEnv::shared().await.unwrap();
    common::start_operator(env);
    let ns = TestNamespace::create(env).await.unwrap();
    let registry = TestRegistry::start().await.unwrap();
    registry
        .push_image(
            "silogen/aim-meta-llama-llama-3-1-8b-instruct",
            "0.7.0",
            &[
                (
                    "com.amd.aim.model.canonicalName",
                    "meta-llama/Llama-3.1-8B-Instruct",
                ),
                ("com.amd.aim.model.recommendedDeployments", RECOMMENDED),
                ("org.opencontainers.image.title", "Llama 3.1 8B Instruct"),
            ],
        )
        .await
        .unwrap();
    let image = registry.image("silogen/aim-meta-llama-llama-3-1-8b-instruct", "0.7.0");
    let kubelet = FakeKubelet::start(env).await.unwrap();
    let node = kubelet
        .create_gpu_node(
            &ns,
            "mi300x",
            &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
            8,
        )
        .await
        .unwrap();

    // Models are created in the service's namespace here, so the test owns everything it makes.
    let config = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"model": {"creationScope": "Namespace"}}});
    let configs: Api<aim_api::v1alpha1::AIMRuntimeConfig> = ns.api();
    configs
        .create(
            &PostParams::default(),
            &serde_json::from_value(config).unwrap(),
        )
        .await
        .unwrap();
    let service: AIMService = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "llama-chat"}, "spec": {"model": {"image": image}}
    }))
    .unwrap();
    let services: Api<AIMService> = ns.api();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();

    let pending = wait_for(&services, "llama-chat", TIMEOUT, |s| state(s) == "Pending")
        .await
        .unwrap();
    let reason = pending
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Resolved")
        .unwrap()
        .reason;
    assert!(
        reason.starts_with("Model"),
        "waiting on the model: {reason}"
    );

    let templates: Api<AIMServiceTemplate> = ns.api();
    let generated = ListParams::default().labels("aim.silogen.ai/auto-generated=true");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let all = loop {
        let list = templates.list(&generated).await.unwrap().items;
        if list.len() == 2 || tokio::time::Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(all.len(), 2, "one template per recommended deployment");
    let mi300x = all
        .iter()
        .find(|t| t.name_any().contains("mi300x"))
        .unwrap()
        .name_any();
    let mi325x = all
        .iter()
        .find(|t| t.name_any().contains("mi325x"))
        .unwrap()
        .name_any();
    wait_for(&templates, &mi325x, TIMEOUT, |t| state(t) == "NotAvailable")
        .await
        .unwrap();

    let jobs: Api<Job> = ns.api();
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/template={mi300x}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let job = loop {
        if let Some(job) = jobs.list(&selector).await.unwrap().items.into_iter().next() {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no discovery job for {mi300x}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let container = &job
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0];
    assert_eq!(
        container.args.as_deref(),
        Some(&["dry-run".to_owned(), "--format=json".to_owned()][..])
    );
    assert_eq!(container.image.as_deref(), Some(image.as_str()));
    kubelet
        .run_job_pod(&ns, &node, &job.name_any(), DISCOVERY_OUTPUT)
        .await
        .unwrap();

    let ready = wait_for(&templates, &mi300x, TIMEOUT, |t| state(t) == "Ready")
        .await
        .unwrap();
    let sources = ready.status.unwrap().model_sources;
    assert_eq!(
        sources[0].source_uri,
        "hf://amd/Llama-3.1-8B-Instruct-FP8-KV"
    );
    assert_eq!(sources[0].size.0, "512Mi");

    let models: Api<AIMModel> = ns.api();
    let model_name = all[0].spec.common.model_name.clone();
    wait_for(&models, &model_name, TIMEOUT, |m| state(m) == "Ready")
        .await
        .unwrap();

    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, "llama-chat", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        isvc.data["spec"]["predictor"]["model"]["runtime"],
        mi300x.as_str()
    );
    fixtures::mark_inference_service_ready(&isvcs, "llama-chat")
        .await
        .unwrap();
    let running = wait_for(&services, "llama-chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    let status = running.status.unwrap();
    assert_eq!(status.resolved_image.unwrap().name, model_name);
    assert_eq!(status.resolved_template.unwrap().name, mi300x);
}
