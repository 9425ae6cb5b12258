//! The AIMService guide's Quick Start as a scenario any test can drive, whichever operator runs
//! (in-process or the `aim-engine run` binary): an AIMService naming only an image that sits in a
//! real registry. The operator creates the model, reads the image's labels, generates a template
//! per recommended deployment, runs discovery (its result read through the apiserver's pod log
//! proxy), selects the template for the cluster's GPU and creates the InferenceService.
//!
//! Who plays the rest is the [`Stage`]: test helpers (an MI300X node, the discovery pod run by hand,
//! the InferenceService marked Ready), or the real-components cluster, where the scheduler places the
//! discovery pod, the fake kubelet only reports what it printed, and KServe makes the
//! InferenceService Ready itself.

use std::time::Duration;

use aim_api::v1alpha1::{AIMModel, AIMRuntimeConfig, AIMService, AIMServiceTemplate};
use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::batch::v1::Job;
use kube::ResourceExt;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use crate::fake_kubelet::FakeKubelet;
use crate::fixtures::{self, inference_service_api};
use crate::real_cluster::RealCluster;
use crate::registry::TestRegistry;
use crate::{TestEnv, TestNamespace, wait_for};

pub use crate::status::state;

/// How long each step may take.
pub const TIMEOUT: Duration = Duration::from_secs(90);

/// The name of the Quick Start's service.
pub const SERVICE: &str = "llama-chat";

const REPOSITORY: &str = "silogen/aim-meta-llama-llama-3-1-8b-instruct";

/// The image's recommended deployments: MI300X, which the scenario's node has, and a GPU model
/// no node has (unique to the test, so other tests' nodes never provide it).
fn recommended(absent_gpu: &str) -> String {
    format!(
        r#"[{{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp8"}},{{"gpuModel":"{absent_gpu}","gpuCount":1,"metric":"latency","precision":"fp8"}}]"#
    )
}

/// Who plays the parts the operator does not.
#[derive(Debug, Clone, Copy)]
pub enum Stage<'a> {
    /// Test helpers play the scheduler, the kubelet and KServe on the shared control plane.
    Helpers(&'a TestEnv),
    /// The real-components cluster: only the kubelet is played.
    Real(&'a RealCluster),
}

const DISCOVERY_OUTPUT: &str = r#"INFO dry run
[{"filename":"vllm-mi300x-fp8-tp1-latency.yaml","profile":{"model":"meta-llama/Llama-3.1-8B-Instruct","metadata":{"engine":"vllm","gpu":"MI300X","precision":"fp8","gpu_count":1,"metric":"latency"},"engine_args":{"tensor-parallel-size":1},"env_vars":{"VLLM_USE_V1":"1"}},"models":[{"name":"amd/Llama-3.1-8B-Instruct-FP8-KV","source":"hf://amd/Llama-3.1-8B-Instruct-FP8-KV","size_gb":0.5}]}]
"#;

/// What the scenario made; the registry and the fake kubelet live as long as this does.
pub struct QuickStart {
    /// The image reference the service names.
    pub image: String,
    /// The auto-created AIMModel.
    pub model: String,
    /// The generated template the service runs (MI300X).
    pub template: String,
    _registry: TestRegistry,
    _kubelet: Option<FakeKubelet>,
}

/// Runs the Quick Start with test helpers until the InferenceService is Ready. The namespace's
/// `default` runtime config gets `config_spec` (plus namespace-scoped model creation, so the test
/// owns everything it makes) and the service the labels `service_labels`.
pub async fn run_until_inference_service_ready(
    env: &TestEnv,
    ns: &TestNamespace,
    config_spec: Value,
    service_labels: Value,
) -> Result<QuickStart> {
    run(Stage::Helpers(env), ns, config_spec, service_labels).await
}

/// Runs the Quick Start until the InferenceService exists; on [`Stage::Helpers`] it is marked
/// Ready too, on [`Stage::Real`] KServe makes it Ready (or not) itself.
pub async fn run(
    stage: Stage<'_>,
    ns: &TestNamespace,
    config_spec: Value,
    service_labels: Value,
) -> Result<QuickStart> {
    let absent_gpu = fixtures::gpu_model_no_node_has(ns);
    let recommended = recommended(&absent_gpu);
    let registry = TestRegistry::start().await?;
    registry
        .push_image(
            REPOSITORY,
            "0.7.0",
            &[
                (
                    "com.amd.aim.model.canonicalName",
                    "meta-llama/Llama-3.1-8B-Instruct",
                ),
                (
                    "com.amd.aim.model.recommendedDeployments",
                    recommended.as_str(),
                ),
                ("org.opencontainers.image.title", "Llama 3.1 8B Instruct"),
            ],
        )
        .await?;
    let image = registry.image(REPOSITORY, "0.7.0");
    // The helpers' node; the real cluster has its own.
    let played = match stage {
        Stage::Helpers(env) => {
            let kubelet = FakeKubelet::start(env).await?;
            let node = kubelet
                .create_gpu_node(
                    ns,
                    "mi300x",
                    &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
                    8,
                )
                .await?;
            Some((kubelet, node))
        }
        Stage::Real(_) => None,
    };

    let mut spec = config_spec;
    spec["model"] = json!({"creationScope": "Namespace"});
    let config: AIMRuntimeConfig = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default"}, "spec": spec
    }))?;
    ns.api::<AIMRuntimeConfig>()
        .create(&PostParams::default(), &config)
        .await?;
    let service: AIMService = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": SERVICE, "labels": service_labels},
        "spec": {"model": {"image": image}}
    }))?;
    let services: Api<AIMService> = ns.api();
    services.create(&PostParams::default(), &service).await?;

    let pending = wait_for(&services, SERVICE, TIMEOUT, |s| state(s) == "Pending").await?;
    let resolved = pending
        .status
        .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Resolved"))
        .context("a Pending service has a Resolved condition")?;
    ensure!(
        resolved.reason.starts_with("Model"),
        "the service should wait on the model, not {}",
        resolved.reason
    );

    let templates: Api<AIMServiceTemplate> = ns.api();
    let generated = generated_templates(&templates).await?;
    let named = |gpu: &str| {
        generated
            .iter()
            .find(|t| t.name_any().contains(gpu))
            .map(ResourceExt::name_any)
            .with_context(|| format!("a generated {gpu} template"))
    };
    let (mi300x, absent) = (named("mi300x")?, named(&absent_gpu.to_lowercase())?);
    wait_for(&templates, &absent, TIMEOUT, |t| state(t) == "NotAvailable").await?;

    let job = discovery_job(ns, &mi300x).await?;
    let container = job
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers.first())
        .context("a discovery container")?;
    ensure!(
        container.args.as_deref() == Some(&["dry-run".to_owned(), "--format=json".to_owned()][..]),
        "discovery runs `dry-run --format=json`, not {:?}",
        container.args
    );
    ensure!(container.image.as_deref() == Some(image.as_str()));
    match (&played, stage) {
        (_, Stage::Real(cluster)) => {
            cluster
                .kubelet()
                .set_job_output(ns.name(), &job.name_any(), DISCOVERY_OUTPUT);
        }
        (Some((kubelet, node)), Stage::Helpers(_)) => {
            kubelet
                .run_job_pod(ns, node, &job.name_any(), DISCOVERY_OUTPUT)
                .await?;
        }
        (None, Stage::Helpers(_)) => bail!("the helpers' stage has a kubelet"),
    }

    let ready = wait_for(&templates, &mi300x, TIMEOUT, |t| state(t) == "Ready").await?;
    let sources = ready.status.map(|s| s.model_sources).unwrap_or_default();
    let source = sources.first().context("discovered model sources")?;
    ensure!(source.source_uri == "hf://amd/Llama-3.1-8B-Instruct-FP8-KV");
    ensure!(source.size.0 == "512Mi", "size {:?}", source.size);

    let model = generated[0].spec.common.model_name.clone();
    wait_for(&ns.api::<AIMModel>(), &model, TIMEOUT, |m| {
        state(m) == "Ready"
    })
    .await?;

    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, SERVICE, TIMEOUT, |_| true).await?;
    ensure!(
        isvc.data["spec"]["predictor"]["model"]["runtime"] == mi300x.as_str(),
        "the InferenceService runs the MI300X template"
    );
    if played.is_some() {
        fixtures::mark_inference_service_ready(&isvcs, SERVICE).await?;
    }
    Ok(QuickStart {
        image,
        model,
        template: mi300x,
        _registry: registry,
        _kubelet: played.map(|(kubelet, _)| kubelet),
    })
}

/// Waits for one template per recommended deployment.
async fn generated_templates(
    templates: &Api<AIMServiceTemplate>,
) -> Result<Vec<AIMServiceTemplate>> {
    let generated = ListParams::default().labels("aim.silogen.ai/auto-generated=true");
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let list = templates.list(&generated).await?.items;
        if list.len() == 2 {
            return Ok(list);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "expected 2 generated templates, found {}",
            list.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for the discovery Job of `template`.
async fn discovery_job(ns: &TestNamespace, template: &str) -> Result<Job> {
    let jobs: Api<Job> = ns.api();
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/template={template}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(job) = jobs.list(&selector).await?.items.into_iter().next() {
            return Ok(job);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no discovery job for {template}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
