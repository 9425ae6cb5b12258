//! The test control plane behaves like a real cluster in the ways the operator relies on: CRDs are
//! served, server-side apply and status subresources work, and kube-controller-manager runs garbage
//! collection, namespace deletion and Job bookkeeping. Also checks the status fixtures are accepted.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use aim_tests::fixtures::{self, AMD_GPU_DEVICE_ID, AMD_GPU_RESOURCE, MI300X_DEVICE_ID};
use aim_tests::history::History;
use aim_tests::{TestEnv, TestNamespace, paths, wait_for, wait_for_deletion};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::{Resource as _, ResourceExt as _};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

async fn namespace() -> TestNamespace {
    let env = TestEnv::shared().await.expect("test environment");
    TestNamespace::create(env).await.expect("test namespace")
}

fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

fn condition<'a>(obj: &'a Value, pointer: &str, type_: &str) -> Option<&'a Value> {
    obj.pointer(pointer)?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn dynamic_api(ns: &TestNamespace, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    Api::namespaced_with(ns.client(), ns.name(), &resource)
}

async fn assert_crds_established(ns: &TestNamespace, names: &[String]) {
    let crds: Api<CustomResourceDefinition> = Api::all(ns.client());
    for name in names {
        let crd = crds
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("CRD {name} missing: {e}"));
        assert!(
            is_established(&crd),
            "CRD {name} is not Established: {:?}",
            crd.status
        );
    }
}

#[tokio::test]
async fn third_party_crds_become_established() {
    let ns = namespace().await;
    let names = [
        "inferenceservices.serving.kserve.io",
        "servingruntimes.serving.kserve.io",
        "clusterservingruntimes.serving.kserve.io",
        "httproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "gatewayclasses.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
    ];
    assert_crds_established(&ns, &names.map(String::from)).await;
}

#[tokio::test]
async fn project_crds_become_established() {
    let files = paths::yaml_files(&paths::aim_crd_dir()).unwrap();
    if files.is_empty() {
        eprintln!("skipped: no CRDs in {} yet", paths::aim_crd_dir().display());
        return;
    }
    let names: Vec<String> = aim_tests::crds::load(&files)
        .unwrap()
        .iter()
        .map(|c| c.name_any())
        .collect();
    assert_crds_established(&namespace().await, &names).await;
}

#[tokio::test]
async fn inference_service_applies_server_side_and_takes_kserve_status() {
    let ns = namespace().await;
    let api = fixtures::inference_service_api(ns.client(), ns.name());
    let isvc = json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "llama" },
        "spec": { "predictor": { "model": {
            "modelFormat": { "name": "vllm" },
            "runtime": "aim-runtime",
            "resources": { "limits": { AMD_GPU_RESOURCE: "1" } },
        } } },
    });
    let applied = api
        .patch(
            "llama",
            &PatchParams::apply("aim-tests"),
            &Patch::Apply(&isvc),
        )
        .await
        .unwrap();
    assert_eq!(
        applied.data["spec"]["predictor"]["model"]["runtime"],
        "aim-runtime"
    );

    fixtures::mark_inference_service_failed(&api, "llama", "ModelLoadFailed", "out of memory")
        .await
        .unwrap();
    let failed = wait_for(&api, "llama", TIMEOUT, |o| {
        condition(&o.data, "/status/conditions", "Ready").is_some_and(|c| c["status"] == "False")
    })
    .await
    .unwrap();
    assert_eq!(
        failed.data["status"]["modelStatus"]["lastFailureInfo"]["reason"],
        "ModelLoadFailed"
    );

    fixtures::mark_inference_service_ready(&api, "llama")
        .await
        .unwrap();
    let ready = wait_for(&api, "llama", TIMEOUT, |o| {
        condition(&o.data, "/status/conditions", "Ready").is_some_and(|c| c["status"] == "True")
    })
    .await
    .unwrap();
    let status = &ready.data["status"];
    assert!(
        status["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://llama-")),
        "{status}"
    );
    assert_eq!(
        status["modelStatus"]["states"]["activeModelState"],
        "Loaded"
    );
    assert!(
        status["modelStatus"].get("lastFailureInfo").is_none(),
        "stale failure: {status}"
    );
}

#[tokio::test]
async fn http_route_applies_server_side_and_is_accepted_by_its_gateway() {
    let ns = namespace().await;
    let api = dynamic_api(&ns, "gateway.networking.k8s.io", "v1", "HTTPRoute");
    let route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": { "name": "llama" },
        "spec": {
            "parentRefs": [{ "name": "aim-gateway", "namespace": "gateways" }],
            "rules": [{
                "matches": [{ "path": { "type": "PathPrefix", "value": "/llama" } }],
                "backendRefs": [{ "name": "llama-predictor", "port": 80 }],
            }],
        },
    });
    api.patch(
        "llama",
        &PatchParams::apply("aim-tests"),
        &Patch::Apply(&route),
    )
    .await
    .unwrap();

    fixtures::mark_http_route_accepted(&api, "llama")
        .await
        .unwrap();
    let accepted = wait_for(&api, "llama", TIMEOUT, |o| {
        condition(&o.data, "/status/parents/0/conditions", "Accepted")
            .is_some_and(|c| c["status"] == "True")
    })
    .await
    .unwrap();
    assert_eq!(
        accepted.data["status"]["parents"][0]["parentRef"]["name"],
        "aim-gateway"
    );
    assert_eq!(
        accepted.data["status"]["parents"][0]["controllerName"],
        fixtures::GATEWAY_CONTROLLER_NAME
    );
}

#[tokio::test]
async fn status_written_through_the_main_resource_is_ignored() {
    let ns = namespace().await;
    let api = fixtures::inference_service_api(ns.client(), ns.name());
    let isvc = json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "sneaky" },
        "spec": { "predictor": { "model": { "modelFormat": { "name": "vllm" } } } },
        "status": { "url": "http://not-allowed" },
    });
    let applied = api
        .patch(
            "sneaky",
            &PatchParams::apply("aim-tests"),
            &Patch::Apply(&isvc),
        )
        .await
        .unwrap();
    assert!(
        applied
            .data
            .get("status")
            .is_none_or(|s| s.get("url").is_none()),
        "{:?}",
        applied.data
    );
}

#[tokio::test]
async fn deleting_an_owner_cascades_to_its_child_through_garbage_collection() {
    let ns = namespace().await;
    let api: Api<ConfigMap> = ns.api();
    let owner: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "owner" } })).unwrap();
    let owner = api.create(&PostParams::default(), &owner).await.unwrap();
    let owner_ref = owner.controller_owner_ref(&()).unwrap();
    let child: ConfigMap = serde_json::from_value(json!({
        "metadata": { "name": "child", "ownerReferences": [owner_ref] },
    }))
    .unwrap();
    api.create(&PostParams::default(), &child).await.unwrap();

    api.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    wait_for_deletion(&api, "child", TIMEOUT).await.unwrap();
}

#[tokio::test]
async fn namespace_deletion_completes() {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let config_maps: Api<ConfigMap> = ns.api();
    let cm: ConfigMap = serde_json::from_value(json!({ "metadata": { "name": "data" } })).unwrap();
    config_maps
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    let jobs: Api<Job> = ns.api();
    jobs.create(&PostParams::default(), &job("work"))
        .await
        .unwrap();

    let namespaces: Api<Namespace> = Api::all(ns.client());
    namespaces
        .delete(ns.name(), &DeleteParams::background())
        .await
        .unwrap();
    wait_for_deletion(&namespaces, ns.name(), Duration::from_secs(60))
        .await
        .unwrap();
}

fn job(name: &str) -> Job {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{ "name": "main", "image": "busybox", "command": ["true"] }],
            } },
        },
    }))
    .expect("valid Job")
}

fn job_condition(job: &Job, type_: &str) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == type_ && c.status == "True"))
}

/// Waits until the Job controller has worked through everything queued before now: it sets the
/// start time of a Job created now, which it handles after the changes made before (its queue is
/// first in, first out). An observed point after which its reaction to earlier changes is visible.
async fn job_controller_caught_up(api: &Api<Job>, probe: &str) {
    api.create(&PostParams::default(), &job(probe))
        .await
        .unwrap();
    wait_for(api, probe, TIMEOUT, |j| {
        j.status.as_ref().is_some_and(|s| s.start_time.is_some())
    })
    .await
    .unwrap();
}

/// The versions of the Job from `marked` on, once the Job controller has caught up with it.
async fn versions_from(api: &Api<Job>, history: &History<Job>, marked: &Job) -> Vec<Job> {
    job_controller_caught_up(api, "probe").await;
    let versions = history.since(0);
    let start = versions
        .iter()
        .position(|v| v.metadata.resource_version == marked.metadata.resource_version)
        .expect("the watch saw the marked version");
    versions[start..].to_vec()
}

#[tokio::test]
async fn job_marked_complete_passes_status_validation_and_stays_complete() {
    let ns = namespace().await;
    let api: Api<Job> = ns.api();
    api.create(&PostParams::default(), &job("download"))
        .await
        .unwrap();
    // Let the Job controller act first (start time, pods), as it would in a cluster.
    wait_for(&api, "download", TIMEOUT, |j| {
        j.status.as_ref().is_some_and(|s| s.start_time.is_some())
    })
    .await
    .unwrap();

    let history = History::start(api.clone(), "download").await.unwrap();
    let marked = fixtures::mark_job_complete(&api, "download").await.unwrap();
    for version in versions_from(&api, &history, &marked).await {
        assert!(job_condition(&version, "Complete"), "{:?}", version.status);
        assert!(
            job_condition(&version, "SuccessCriteriaMet"),
            "{:?}",
            version.status
        );
        assert_eq!(version.status.as_ref().and_then(|s| s.succeeded), Some(1));
    }
    let done = api.get("download").await.unwrap();
    assert!(job_condition(&done, "Complete"), "{:?}", done.status);
}

#[tokio::test]
async fn job_marked_failed_passes_status_validation_and_stays_failed() {
    let ns = namespace().await;
    let api: Api<Job> = ns.api();
    api.create(&PostParams::default(), &job("download"))
        .await
        .unwrap();

    let history = History::start(api.clone(), "download").await.unwrap();
    let marked = fixtures::mark_job_failed(
        &api,
        "download",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    .await
    .unwrap();
    for version in versions_from(&api, &history, &marked).await {
        assert!(job_condition(&version, "Failed"), "{:?}", version.status);
        assert!(!job_condition(&version, "Complete"), "{:?}", version.status);
    }
    let failed = api.get("download").await.unwrap();
    assert!(job_condition(&failed, "Failed"), "{:?}", failed.status);
}

#[tokio::test]
async fn nodes_carry_gpu_labels_and_capacity_and_go_with_the_test_namespace() {
    let ns = namespace().await;
    let client = ns.client();
    let node = fixtures::create_node(&ns, "gpu-0", &[(AMD_GPU_DEVICE_ID, MI300X_DEVICE_ID)], 8)
        .await
        .unwrap();
    let name = node.name_any();
    assert_eq!(
        node.labels().get(AMD_GPU_DEVICE_ID).map(String::as_str),
        Some(MI300X_DEVICE_ID)
    );
    let allocatable = node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.as_ref())
        .unwrap();
    assert_eq!(allocatable[AMD_GPU_RESOURCE].0, "8");

    drop(ns);
    wait_for_deletion(&Api::<Node>::all(client), &name, TIMEOUT)
        .await
        .unwrap();
}

#[tokio::test]
async fn wait_for_reports_the_last_seen_status_when_it_times_out() {
    let ns = namespace().await;
    let api = fixtures::inference_service_api(ns.client(), ns.name());
    let isvc = json!({
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": { "name": "broken" },
        "spec": { "predictor": { "model": { "modelFormat": { "name": "vllm" } } } },
    });
    api.patch(
        "broken",
        &PatchParams::apply("aim-tests"),
        &Patch::Apply(&isvc),
    )
    .await
    .unwrap();
    fixtures::mark_inference_service_failed(
        &api,
        "broken",
        "NoSupportingRuntime",
        "no runtime for vllm",
    )
    .await
    .unwrap();

    let err = wait_for(&api, "broken", Duration::from_millis(300), |_| false)
        .await
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("NoSupportingRuntime") && message.contains("no runtime for vllm"),
        "{message}"
    );
}

#[tokio::test]
async fn new_namespaces_get_a_default_service_account() {
    let ns = namespace().await;
    let api: Api<k8s_openapi::api::core::v1::ServiceAccount> = ns.api();
    wait_for(&api, "default", TIMEOUT, |_| true).await.unwrap();
}
