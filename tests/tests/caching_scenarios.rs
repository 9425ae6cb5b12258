//! Model caching on a real apiserver with the operator's controllers running: a service with
//! `cacheModel: true` asks for a template cache, which makes a model cache per model source, each
//! with a volume and a download Job. No storage provisioner or Job pods run here, so the test binds
//! the volumes and finishes the Jobs itself. Also what deleting services and template caches keeps.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use common::{condition, create, namespace, state};

use std::time::Duration;

use aim_api::v1alpha1::AIMService;
use aim_tests::fixtures::{self, aim_api, inference_service_api};
use aim_tests::namespace::OWNER_LABEL;
use aim_tests::{TestNamespace, wait_for, wait_for_deletion};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);
const IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
const TEMPLATE: &str = "llama-latency";
const SOURCE_NAME: &str = "amd/Llama-3.1-8B-Instruct-FP8-KV";
const SOURCE_URI: &str = "hf://amd/Llama-3.1-8B-Instruct-FP8-KV";
/// The model cache of [`SOURCE_NAME`]: the source name made a DNS label.
const MODEL_CACHE: &str = "amd-llama-3-1-8b-instruct-fp8-kv";
const DOWNLOAD_IMAGE: &str = "kserve/storage-initializer:v0.16.0-rc0";

/// A Ready model (discovery off) and a template for it whose in-line `sources` make it Ready
/// without discovery, on an MI300X node.
async fn model_and_template(ns: &TestNamespace, sources: Value) {
    fixtures::create_node(
        ns,
        "gpu",
        &[(fixtures::AMD_GPU_DEVICE_ID, fixtures::MI300X_DEVICE_ID)],
        8,
    )
    .await
    .unwrap();
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "llama"},
        "spec": {"image": IMAGE, "discovery": {"enabled": false}}
    }))
    .await;
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": TEMPLATE},
        "spec": {
            "modelName": "llama", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"},
            "modelSources": sources
        }
    }))
    .await;
}

fn one_source() -> Value {
    json!([{"name": SOURCE_NAME, "sourceUri": SOURCE_URI, "size": "16Gi"}])
}

/// A service `chat` that caches its model; its env reaches the download Job.
async fn caching_service(ns: &TestNamespace) {
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {
            "model": {"ref": "llama"}, "cacheModel": true,
            "env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]
        }
    }))
    .await;
}

fn cache_state(cache: &DynamicObject) -> &str {
    cache.data["status"]["status"].as_str().unwrap_or_default()
}

/// Plays the storage provisioner: the claim is Bound with the capacity it asked for.
async fn bind(pvcs: &Api<PersistentVolumeClaim>, name: &str) {
    let pvc = pvcs.get(name).await.unwrap();
    let requested = pvc.spec.unwrap().resources.unwrap().requests.unwrap()["storage"].clone();
    let status = json!({"status": {
        "phase": "Bound", "accessModes": ["ReadWriteMany"], "capacity": {"storage": requested}
    }});
    pvcs.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Binds the model cache's volume and waits for the download Job the operator then creates.
async fn bind_and_await_download(ns: &TestNamespace, model_cache: &str) -> Job {
    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let claim = format!("{model_cache}-cache");
    wait_for(&pvcs, &claim, TIMEOUT, |_| true).await.unwrap();
    bind(&pvcs, &claim).await;
    let jobs: Api<Job> = ns.api();
    wait_for(
        &jobs,
        &format!("{model_cache}-cache-download"),
        TIMEOUT,
        |_| true,
    )
    .await
    .unwrap()
}

/// Drives the service's cache to Available: volume bound, download finished.
async fn warm_cache(ns: &TestNamespace) {
    warm_template_cache(ns, TEMPLATE).await;
}

/// Drives the template cache `template_cache` (of the one model source) to Available.
async fn warm_template_cache(ns: &TestNamespace, template_cache: &str) {
    bind_and_await_download(ns, MODEL_CACHE).await;
    let jobs: Api<Job> = ns.api();
    fixtures::mark_job_complete(&jobs, &format!("{MODEL_CACHE}-cache-download"))
        .await
        .unwrap();
    wait_for(
        &aim_api(ns, "AIMTemplateCache"),
        template_cache,
        TIMEOUT,
        |c| cache_state(c) == "Available",
    )
    .await
    .unwrap();
}

/// Drives the service's cache to Failed: volume bound, download failed.
async fn fail_cache(ns: &TestNamespace) {
    bind_and_await_download(ns, MODEL_CACHE).await;
    let jobs: Api<Job> = ns.api();
    fixtures::mark_job_failed(
        &jobs,
        &format!("{MODEL_CACHE}-cache-download"),
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    .await
    .unwrap();
    wait_for(&aim_api(ns, "AIMTemplateCache"), TEMPLATE, TIMEOUT, |c| {
        cache_state(c) == "Failed"
    })
    .await
    .unwrap();
}

fn env_value<'a>(env: &'a Value, name: &str) -> &'a Value {
    env.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {env}"))
}

#[tokio::test]
async fn a_caching_service_downloads_its_model_into_a_cache_and_mounts_it() {
    let ns = namespace().await;
    model_and_template(&ns, one_source()).await;
    caching_service(&ns).await;

    // The template cache is named after the template, owned by it, and remembers the service.
    let template_caches = aim_api(&ns, "AIMTemplateCache");
    let template_cache = wait_for(&template_caches, TEMPLATE, TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(template_cache.data["spec"]["templateRef"], TEMPLATE);
    assert_eq!(
        template_cache.metadata.labels.as_ref().unwrap()["aim.silogen.ai/service-name"],
        "chat"
    );
    let owner = &template_cache.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("AIMServiceTemplate", TEMPLATE, Some(true))
    );

    let model_caches = aim_api(&ns, "AIMModelCache");
    let model_cache = wait_for(&model_caches, MODEL_CACHE, TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(model_cache.data["spec"]["sourceUri"], SOURCE_URI);
    assert_eq!(model_cache.data["spec"]["size"], "16Gi");
    assert_eq!(
        model_cache.metadata.labels.as_ref().unwrap()["aim.silogen.ai/template-cache"],
        TEMPLATE
    );

    // 16Gi plus the default 10% headroom, rounded up to whole GiB; shared by every replica.
    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let claim_name = format!("{MODEL_CACHE}-cache");
    let claim = wait_for(&pvcs, &claim_name, TIMEOUT, |_| true)
        .await
        .unwrap();
    let spec = claim.spec.as_ref().unwrap();
    assert_eq!(
        spec.access_modes.as_deref(),
        Some(&["ReadWriteMany".to_owned()][..])
    );
    assert_eq!(
        spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "18Gi"
    );
    assert_eq!(
        claim.metadata.owner_references.as_ref().unwrap()[0].kind,
        "AIMModelCache"
    );

    // Nothing downloads before the volume is bound, and the service waits for the cache.
    let jobs: Api<Job> = ns.api();
    let job_name = format!("{MODEL_CACHE}-cache-download");
    let services: Api<AIMService> = ns.api();
    let warming = wait_for(&services, "chat", TIMEOUT, |s| {
        condition(s, "CacheReady").is_some_and(|c| c.1 == "CacheWarming")
    })
    .await
    .unwrap();
    assert_eq!(
        condition(&warming, "CacheReady").unwrap().0,
        "False",
        "{warming:?}"
    );
    assert!(jobs.get_opt(&job_name).await.unwrap().is_none());
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());

    let job = bind_and_await_download(&ns, MODEL_CACHE).await;
    assert_eq!(
        job.metadata.labels.as_ref().unwrap()["aim.silogen.ai/modelcache"],
        MODEL_CACHE
    );
    assert_eq!(
        job.metadata.owner_references.as_ref().unwrap()[0].kind,
        "AIMModelCache"
    );
    let job_json = serde_json::to_value(&job).unwrap();
    let pod = &job_json["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(container["name"], "model-download");
    assert_eq!(container["image"], DOWNLOAD_IMAGE);
    let script = container["command"][2].as_str().unwrap();
    assert!(
        script.starts_with(&format!(
            "python /storage-initializer/scripts/initializer-entrypoint {SOURCE_URI} /cache"
        )),
        "{script}"
    );
    let env = &container["env"];
    assert_eq!(env_value(env, "HF_HUB_DISABLE_XET")["value"], "1");
    assert_eq!(env_value(env, "HF_HOME")["value"], "/cache/.hf");
    assert_eq!(env_value(env, "UMASK")["value"], "0022");
    assert_eq!(
        env_value(env, "HF_TOKEN")["valueFrom"]["secretKeyRef"],
        json!({"name": "hf", "key": "token"})
    );
    assert_eq!(
        container["volumeMounts"],
        json!([{"name": "cache", "mountPath": "/cache"}, {"name": "tmp", "mountPath": "/tmp"}])
    );
    assert_eq!(
        pod["volumes"][0],
        json!({"name": "cache", "persistentVolumeClaim": {"claimName": claim_name}})
    );
    assert_eq!(
        pod["volumes"][1],
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "500Mi"}})
    );

    fixtures::mark_job_complete(&jobs, &job_name).await.unwrap();
    let available = wait_for(&model_caches, MODEL_CACHE, TIMEOUT, |c| {
        cache_state(c) == "Available"
    })
    .await
    .unwrap();
    assert_eq!(
        available.data["status"]["persistentVolumeClaim"],
        claim_name
    );
    wait_for(&template_caches, TEMPLATE, TIMEOUT, |c| {
        cache_state(c) == "Available"
    })
    .await
    .unwrap();

    let warm = wait_for(&services, "chat", TIMEOUT, |s| {
        condition(s, "CacheReady") == Some(("True".into(), "CacheWarm".into()))
    })
    .await
    .unwrap();
    let mount_path = format!("/workspace/model-cache/{SOURCE_NAME}");
    let status = warm.status.unwrap();
    assert_eq!(status.resolved_template_cache.unwrap().name, TEMPLATE);
    assert_eq!(
        status.model_caches[MODEL_CACHE].mount_point.as_deref(),
        Some(mount_path.as_str())
    );

    let isvc = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let predictor = &isvc.data["spec"]["predictor"];
    let volume = predictor["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["persistentVolumeClaim"]["claimName"] == claim_name.as_str())
        .unwrap_or_else(|| panic!("no volume for {claim_name}: {predictor}"));
    let mount = predictor["model"]["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume["name"])
        .unwrap();
    assert_eq!(mount["mountPath"], mount_path.as_str());
    // The cache replaces the per-service volume.
    assert!(pvcs.get_opt("chat-temp-cache").await.unwrap().is_none());

    fixtures::mark_inference_service_ready(&isvcs, "chat")
        .await
        .unwrap();
    wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
}

/// Creates the StorageClass `<namespace>-<name>` with `binding_mode`, for a provisioner that does
/// not run here, so its claims stay Pending; it goes with the test namespace.
async fn storage_class(ns: &TestNamespace, name: &str, binding_mode: &str) -> String {
    let name = ns.unique(name);
    let class: StorageClass = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {OWNER_LABEL: ns.name()}},
        "provisioner": "example.com/nobody", "volumeBindingMode": binding_mode
    }))
    .unwrap();
    Api::<StorageClass>::all(ns.client())
        .create(&PostParams::default(), &class)
        .await
        .unwrap();
    name
}

/// A model cache `name` of one small source, on a volume of `storage_class`.
async fn model_cache(ns: &TestNamespace, name: &str, storage_class: &str) {
    create(ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModelCache", "metadata": {"name": name},
        "spec": {"sourceUri": SOURCE_URI, "size": "1Gi", "storageClassName": storage_class}
    }))
    .await;
}

// The model cache flow asks for its claim's binding mode while the claim waits for a volume: a
// class that binds on first use gets the download started at once (the Job's pod is that first
// use), a class that binds at once waits for the volume.
#[tokio::test]
async fn a_download_starts_before_its_volume_is_bound_only_when_the_class_binds_on_first_use() {
    let ns = namespace().await;
    let first_use = storage_class(&ns, "first-use", "WaitForFirstConsumer").await;
    let immediate = storage_class(&ns, "immediate", "Immediate").await;
    model_cache(&ns, "early", &first_use).await;
    model_cache(&ns, "late", &immediate).await;

    let jobs: Api<Job> = ns.api();
    wait_for(&jobs, "early-cache-download", TIMEOUT, |_| true)
        .await
        .unwrap();
    let pvcs: Api<PersistentVolumeClaim> = ns.api();
    let early = pvcs.get("early-cache").await.unwrap();
    assert_ne!(
        early.status.and_then(|s| s.phase).as_deref(),
        Some("Bound"),
        "the download started before the volume was bound"
    );
    // Once the cache reports its claim as provisioning, it has planned with the class's mode.
    wait_for(&aim_api(&ns, "AIMModelCache"), "late", TIMEOUT, |cache| {
        cache.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "StorageReady" && c["reason"] == "PVCProvisioning")
    })
    .await
    .unwrap();
    assert!(
        jobs.get_opt("late-cache-download").await.unwrap().is_none(),
        "a volume that binds at once is waited for"
    );
    bind(&pvcs, "late-cache").await;
    wait_for(&jobs, "late-cache-download", TIMEOUT, |_| true)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_failed_download_fails_the_cache_and_the_service() {
    let ns = namespace().await;
    model_and_template(&ns, one_source()).await;
    caching_service(&ns).await;
    fail_cache(&ns).await;

    let model_cache = aim_api(&ns, "AIMModelCache")
        .get(MODEL_CACHE)
        .await
        .unwrap();
    assert_eq!(cache_state(&model_cache), "Failed");
    let services: Api<AIMService> = ns.api();
    let failed = wait_for(&services, "chat", TIMEOUT, |s| state(s) == "Failed")
        .await
        .unwrap();
    assert_eq!(
        condition(&failed, "CacheReady"),
        Some(("False".into(), "CacheFailed".into()))
    );
    let isvcs = inference_service_api(ns.client(), ns.name());
    assert!(isvcs.get_opt("chat").await.unwrap().is_none());
}

#[tokio::test]
async fn deleting_a_service_keeps_its_available_template_cache_for_the_next_service() {
    let ns = namespace().await;
    model_and_template(&ns, one_source()).await;
    caching_service(&ns).await;
    warm_cache(&ns).await;

    let services: Api<AIMService> = ns.api();
    services
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&services, "chat", TIMEOUT).await.unwrap();

    // Kept for the next service of the template, with the download it holds.
    let template_cache = aim_api(&ns, "AIMTemplateCache")
        .get_opt(TEMPLATE)
        .await
        .unwrap()
        .expect("the Available template cache is kept");
    assert!(template_cache.metadata.deletion_timestamp.is_none());
    assert_eq!(cache_state(&template_cache), "Available");
    assert!(
        aim_api(&ns, "AIMModelCache")
            .get_opt(MODEL_CACHE)
            .await
            .unwrap()
            .is_some()
    );

    // The next service of the template mounts it straight away, without downloading again.
    let jobs: Api<Job> = ns.api();
    let download = jobs
        .get(&format!("{MODEL_CACHE}-cache-download"))
        .await
        .unwrap();
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat-again"},
        "spec": {"model": {"ref": "llama"}, "cacheModel": true}
    }))
    .await;
    let again = wait_for(&services, "chat-again", TIMEOUT, |s| state(s) == "Starting")
        .await
        .unwrap();
    assert_eq!(
        condition(&again, "CacheReady"),
        Some(("True".into(), "CacheWarm".into()))
    );
    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, "chat-again", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert!(
        isvc.data["spec"]["predictor"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["persistentVolumeClaim"]["claimName"] == format!("{MODEL_CACHE}-cache")),
        "{}",
        isvc.data["spec"]["predictor"]
    );
    let jobs_now = jobs.list(&Default::default()).await.unwrap().items;
    assert_eq!(jobs_now.len(), 1, "no second download");
    assert_eq!(jobs_now[0].metadata.uid, download.metadata.uid);
}

#[tokio::test]
async fn deleting_a_service_deletes_its_template_cache_that_is_not_available() {
    let ns = namespace().await;
    model_and_template(&ns, one_source()).await;
    caching_service(&ns).await;
    fail_cache(&ns).await;

    let services: Api<AIMService> = ns.api();
    services
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&services, "chat", TIMEOUT).await.unwrap();
    wait_for_deletion(&aim_api(&ns, "AIMTemplateCache"), TEMPLATE, TIMEOUT)
        .await
        .unwrap();
}

#[tokio::test]
async fn deleting_a_template_cache_deletes_its_unfinished_model_caches_and_keeps_available_ones() {
    let ns = namespace().await;
    model_and_template(
        &ns,
        json!([
            {"name": SOURCE_NAME, "sourceUri": SOURCE_URI, "size": "16Gi"},
            {"name": "HuggingFaceTB/SmolLM2-135M", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}
        ]),
    )
    .await;
    // A template cache made directly (pre-warming), not by a service.
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMTemplateCache", "metadata": {"name": "prewarm"},
        "spec": {"templateRef": TEMPLATE}
    }))
    .await;

    let model_caches = aim_api(&ns, "AIMModelCache");
    let small = "huggingfacetb-smollm2-135m";
    for name in [MODEL_CACHE, small] {
        let cache = wait_for(&model_caches, name, TIMEOUT, |_| true)
            .await
            .unwrap();
        assert_eq!(
            cache.metadata.labels.as_ref().unwrap()["aim.silogen.ai/template-cache"],
            "prewarm"
        );
    }
    // Only the small model finishes downloading; the large one's volume never binds.
    bind_and_await_download(&ns, small).await;
    let jobs: Api<Job> = ns.api();
    fixtures::mark_job_complete(&jobs, &format!("{small}-cache-download"))
        .await
        .unwrap();
    wait_for(&model_caches, small, TIMEOUT, |c| {
        cache_state(c) == "Available"
    })
    .await
    .unwrap();
    let template_caches = aim_api(&ns, "AIMTemplateCache");
    let waiting = wait_for(&template_caches, "prewarm", TIMEOUT, |c| {
        c.data["status"]["modelCaches"][small]["status"] == "Available"
    })
    .await
    .unwrap();
    assert_ne!(cache_state(&waiting), "Available");
    assert_eq!(
        waiting.metadata.finalizers.as_deref(),
        Some(&["aim.silogen.ai/template-cache-cleanup".to_owned()][..])
    );

    template_caches
        .delete("prewarm", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&template_caches, "prewarm", TIMEOUT)
        .await
        .unwrap();
    wait_for_deletion(&model_caches, MODEL_CACHE, TIMEOUT)
        .await
        .unwrap();
    let kept = model_caches.get_opt(small).await.unwrap();
    assert!(
        kept.as_ref().is_some_and(
            |c| c.metadata.deletion_timestamp.is_none() && cache_state(c) == "Available"
        ),
        "the Available model cache is kept: {kept:?}"
    );
}

/// The AIMService guide's "Example Status" for `llama-chat`: the model `meta-llama-3-8b` in the
/// namespace, the cluster template `llama-3-8b-latency`, the namespace's `default` runtime config,
/// cached models and routing on the default path. Every condition the example shows, with its
/// exact reason and message, and every resolved reference in the example's form.
#[tokio::test]
async fn the_guides_example_status_is_reported_with_every_reason_and_message() {
    let ns = namespace().await;
    let template = "llama-3-8b-latency";
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
        "spec": {"image": IMAGE, "discovery": {"enabled": false}}
    }))
    .await;
    // Cluster-scoped, with the guide's name: labelled so it goes with the namespace, and any
    // copy a crashed earlier run left behind is removed first.
    let cluster_templates = Api::<DynamicObject>::all_with(
        ns.client(),
        &kube::api::ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "aim.silogen.ai",
            "v1alpha1",
            "AIMClusterServiceTemplate",
        )),
    );
    if cluster_templates.get_opt(template).await.unwrap().is_some() {
        cluster_templates
            .delete(template, &DeleteParams::default())
            .await
            .unwrap();
        wait_for_deletion(&cluster_templates, template, TIMEOUT)
            .await
            .unwrap();
    }
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate",
        "metadata": {"name": template, "labels": {aim_tests::namespace::OWNER_LABEL: ns.name()}},
        "spec": {
            "modelName": "meta-llama-3-8b", "metric": "latency", "precision": "fp8",
            "gpuSelector": {"count": 1, "model": "MI300X"}, "modelSources": one_source()
        }
    }))
    .unwrap();
    cluster_templates
        .create(&kube::api::PostParams::default(), &object)
        .await
        .unwrap();
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "llama-chat"},
        "spec": {
            "model": {"ref": "meta-llama-3-8b"}, "templateRef": template, "cacheModel": true,
            "routing": {"enabled": true, "gatewayRef": {"name": "inference-gateway", "namespace": "gateways"}}
        }
    }))
    .await;

    warm_template_cache(&ns, template).await;
    let isvcs = inference_service_api(ns.client(), ns.name());
    wait_for(&isvcs, "llama-chat", TIMEOUT, |_| true)
        .await
        .unwrap();
    fixtures::mark_inference_service_ready(&isvcs, "llama-chat")
        .await
        .unwrap();
    let routes = fixtures::http_route_api(ns.client(), ns.name());
    wait_for(&routes, "llama-chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    fixtures::mark_http_route_accepted(&routes, "llama-chat-route")
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    let running = wait_for(&services, "llama-chat", TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();

    let status = serde_json::to_value(running.status.as_ref().unwrap()).unwrap();
    assert_eq!(status["status"], "Running");
    assert_eq!(status["observedGeneration"], 1);
    let conditions: Vec<(&str, &str, &str, &str)> = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
                c["reason"].as_str().unwrap(),
                c["message"].as_str().unwrap(),
            )
        })
        .filter(|(type_, ..)| !matches!(*type_, "Progressing" | "Failure"))
        .collect();
    assert_eq!(
        conditions,
        [
            (
                "Resolved",
                "True",
                "Resolved",
                "Model and template resolved successfully"
            ),
            ("CacheReady", "True", "CacheWarm", "Model sources cached"),
            (
                "RuntimeReady",
                "True",
                "RuntimeReady",
                "InferenceService is ready"
            ),
            ("RoutingReady", "True", "RouteReady", "HTTPRoute configured"),
            ("Ready", "True", "Ready", "Service is ready"),
        ]
    );
    for c in status["conditions"].as_array().unwrap() {
        assert_eq!(c["observedGeneration"], 1, "{c}");
    }
    let reference = |field: &str| {
        let r = &status[field];
        (
            r["name"].as_str().unwrap().to_owned(),
            r["namespace"].as_str().map(str::to_owned),
            r["scope"].as_str().unwrap().to_owned(),
            r["kind"].as_str().unwrap().to_owned(),
        )
    };
    assert_eq!(
        reference("resolvedRuntimeConfig"),
        (
            "default".to_owned(),
            Some(ns.name().to_owned()),
            "Namespace".to_owned(),
            "aim.silogen.ai/v1alpha1/AIMRuntimeConfig".to_owned()
        )
    );
    assert_eq!(
        reference("resolvedImage"),
        (
            "meta-llama-3-8b".to_owned(),
            Some(ns.name().to_owned()),
            "Namespace".to_owned(),
            "aim.silogen.ai/v1alpha1/AIMModel".to_owned()
        )
    );
    assert_eq!(
        reference("resolvedTemplate"),
        (
            template.to_owned(),
            None,
            "Cluster".to_owned(),
            "aim.silogen.ai/v1alpha1/AIMClusterServiceTemplate".to_owned()
        )
    );
    assert_eq!(
        status["routing"]["path"],
        format!("/{}/llama-chat", ns.name())
    );
}

// The runtime configuration guide, "Service Account": "Specify the service account for discovery
// jobs and supporting pods", and its private-registry credentials: a model's download Job is such
// a pod.
#[tokio::test]
async fn the_runtime_configs_service_account_and_pull_secrets_reach_the_download_job() {
    let ns = namespace().await;
    model_and_template(&ns, one_source()).await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": {"serviceAccountName": "aim-runtime", "imagePullSecrets": [{"name": "registry-creds"}]}
    }))
    .await;
    caching_service(&ns).await;
    let job = bind_and_await_download(&ns, MODEL_CACHE).await;
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("aim-runtime"));
    let secrets: Vec<String> = pod
        .image_pull_secrets
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(secrets, ["registry-creds"]);
}
