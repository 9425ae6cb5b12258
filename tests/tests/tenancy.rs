//! Tenants on one cluster, on the real control plane with the operator in-process: nothing an
//! AIMService author writes selects an identity or a Secret outside their namespace, nothing they
//! cause runs in the operator's namespace, both guides' private-registry examples reach Running
//! with only the namespace's credentials, two namespaces asking for one image each keep their
//! own, a name someone else holds is never taken over, and Jobs that merely look like discovery
//! take no discovery slot. See docs/security.md.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterServiceTemplate, AIMModel, AIMService, AIMServiceTemplate,
};
use aim_tests::fake_kubelet::FakeKubelet;
use aim_tests::fixtures::{self, inference_service_api};
use aim_tests::registry::TestRegistry;
use aim_tests::status::{failure_reason, state};
use aim_tests::{TestEnv, TestNamespace, wait_for, wait_for_deletion};
use common::{OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, create};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Node, PersistentVolumeClaim, Secret, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(90);

const REPOSITORY: &str = "silogen/aim-llama";

/// One recommended deployment, so each model gets one template and one discovery Job.
const RECOMMENDED: &str =
    r#"[{"gpuModel":"MI300X","gpuCount":1,"metric":"latency","precision":"fp8"}]"#;

const DISCOVERY_OUTPUT: &str = r#"[{"filename":"vllm-mi300x-fp8-tp1-latency.yaml","profile":{"model":"meta-llama/Llama-3.1-8B-Instruct","metadata":{"engine":"vllm","gpu":"MI300X","precision":"fp8","gpu_count":1,"metric":"latency"},"engine_args":{},"env_vars":{}},"models":[{"name":"amd/Llama-3.1-8B-Instruct-FP8-KV","source":"hf://amd/Llama-3.1-8B-Instruct-FP8-KV","size_gb":0.5}]}]"#;

/// A registry (with or without auth) holding an AIM image with one recommended deployment.
async fn registry_with_image(auth: bool) -> (TestRegistry, String) {
    let registry = if auth {
        TestRegistry::start_with_auth("puller", "s3cret").await
    } else {
        TestRegistry::start().await
    }
    .unwrap();
    registry
        .push_image(
            REPOSITORY,
            "0.7.0",
            &[
                (
                    "com.amd.aim.model.canonicalName",
                    "meta-llama/Llama-3.1-8B-Instruct",
                ),
                ("com.amd.aim.model.recommendedDeployments", RECOMMENDED),
            ],
        )
        .await
        .unwrap();
    let image = registry.image(REPOSITORY, "0.7.0");
    (registry, image)
}

/// A fake kubelet and an MI300X node it runs.
async fn kubelet_and_node(ns: &TestNamespace) -> (FakeKubelet, Node) {
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
    (kubelet, node)
}

/// The operator's namespace, created unless it exists (tests share it): without it, a Job
/// wrongly planned there could not be created and the test could not see it.
async fn operator_namespace(ns: &TestNamespace) {
    let namespaces: Api<Namespace> = Api::all(ns.client());
    let wanted: Namespace =
        serde_json::from_value(json!({"metadata": {"name": OPERATOR_NAMESPACE}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &wanted).await;
}

async fn image_service(ns: &TestNamespace, name: &str, image: &str, extra: Value) {
    let mut spec = json!({"model": {"image": image}});
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    create(
        ns,
        json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
               "metadata": {"name": name}, "spec": spec}),
    )
    .await;
}

async fn create_secret(ns: &TestNamespace, secret: Secret) {
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

/// The model the service resolved to, once it has.
async fn resolved_model(ns: &TestNamespace, service: &str) -> (String, String) {
    let services: Api<AIMService> = ns.api();
    let resolved = wait_for(&services, service, TIMEOUT, |s| {
        s.status
            .as_ref()
            .and_then(|s| s.resolved_image.as_ref())
            .is_some()
    })
    .await
    .unwrap();
    let image = resolved.status.unwrap().resolved_image.unwrap();
    (image.name, image.kind.unwrap_or_default())
}

/// Every Job labelled for `template`, in every namespace, waiting until there is one.
async fn discovery_jobs(ns: &TestNamespace, template: &str) -> Vec<Job> {
    let jobs: Api<Job> = Api::all(ns.client());
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/template={template}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let found = jobs.list(&selector).await.unwrap().items;
        if !found.is_empty() {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no discovery Job for {template}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The one cluster template generated for cluster model `model`.
async fn generated_cluster_template(ns: &TestNamespace, model: &str) -> String {
    let templates: Api<AIMClusterServiceTemplate> = Api::all(ns.client());
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/aim-image={model}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(template) = templates.list(&selector).await.unwrap().items.first() {
            return template.name_any();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no template generated for {model}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn pod_spec(job: &Job) -> &k8s_openapi::api::core::v1::PodSpec {
    job.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .unwrap()
}

/// Plays the kubelet for the discovery Job in `ns`, then KServe for the InferenceService, and
/// waits for the service to run.
async fn run_to_running(
    ns: &TestNamespace,
    kubelet: &FakeKubelet,
    node: &Node,
    job: &Job,
    service: &str,
) -> DynamicObject {
    kubelet
        .run_job_pod(ns, node, &job.name_any(), DISCOVERY_OUTPUT)
        .await
        .unwrap();
    let isvcs = inference_service_api(ns.client(), ns.name());
    let isvc = wait_for(&isvcs, service, TIMEOUT, |_| true).await.unwrap();
    fixtures::mark_inference_service_ready(&isvcs, service)
        .await
        .unwrap();
    let services: Api<AIMService> = ns.api();
    wait_for(&services, service, TIMEOUT, |s| state(s) == "Running")
        .await
        .unwrap();
    isvc
}

/// The attack the tenancy model stops: a service in namespace `ten` names the operator's own
/// ServiceAccount and an image. The cluster model and template made for it must run their Job in
/// `ten` (where the account of that name is the author's own), never in the operator's namespace.
#[tokio::test]
async fn an_image_service_naming_the_operators_account_runs_no_job_outside_its_namespace() {
    let ten = common::namespace().await;
    operator_namespace(&ten).await;
    let (_registry, image) = registry_with_image(false).await;
    let (kubelet, node) = kubelet_and_node(&ten).await;
    image_service(
        &ten,
        "chat",
        &image,
        json!({"serviceAccountName": OPERATOR_SERVICE_ACCOUNT}),
    )
    .await;

    let (model, kind) = resolved_model(&ten, "chat").await;
    assert_eq!(
        kind, "aim.silogen.ai/v1alpha1/AIMClusterModel",
        "the default scope"
    );
    let models: Api<AIMClusterModel> = Api::all(ten.client());
    let created = models.get(&model).await.unwrap();
    assert_eq!(created.spec.requesting_namespace(), Some(ten.name()));
    let template = generated_cluster_template(&ten, &model).await;
    let jobs = discovery_jobs(&ten, &template).await;
    for job in &jobs {
        assert_eq!(
            job.namespace().as_deref(),
            Some(ten.name()),
            "a Job the author caused runs in the author's namespace, not {:?}",
            job.namespace()
        );
        let pod = pod_spec(job);
        assert_eq!(pod.automount_service_account_token, Some(false));
        assert!(job.spec.as_ref().unwrap().active_deadline_seconds.is_some());
    }
    let in_operator_namespace: Api<Job> = Api::namespaced(ten.client(), OPERATOR_NAMESPACE);
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/template={template}"));
    assert!(
        in_operator_namespace
            .list(&selector)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let isvc = run_to_running(&ten, &kubelet, &node, &jobs[0], "chat").await;
    assert_eq!(
        isvc.data["spec"]["predictor"]["serviceAccountName"], OPERATOR_SERVICE_ACCOUNT,
        "the author's own account of that name, in the author's namespace"
    );

    // Nothing uses the model once its only service is gone: it is collected, and its template
    // and Jobs with it.
    ten.api::<AIMService>()
        .delete("chat", &DeleteParams::default())
        .await
        .unwrap();
    wait_for_deletion(&models, &model, TIMEOUT).await.unwrap();
}

/// The AIMService guide's private registry example: `model.image` of a private image plus
/// `imagePullSecrets`, default `creationScope`. The image is inspected and discovered with the
/// namespace's Secret and the service reaches Running.
#[tokio::test]
async fn the_service_guides_private_image_example_reaches_running_with_the_namespaces_secret() {
    let ns = common::namespace().await;
    let (registry, image) = registry_with_image(true).await;
    let (kubelet, node) = kubelet_and_node(&ns).await;
    create_secret(&ns, registry.pull_secret("registry-credentials").unwrap()).await;
    image_service(
        &ns,
        "llama-chat",
        &image,
        json!({"imagePullSecrets": [{"name": "registry-credentials"}]}),
    )
    .await;

    let (model, _) = resolved_model(&ns, "llama-chat").await;
    let template = generated_cluster_template(&ns, &model).await;
    let jobs = discovery_jobs(&ns, &template).await;
    let [job] = jobs.as_slice() else {
        panic!("one discovery Job, not {}", jobs.len());
    };
    assert_eq!(job.namespace().as_deref(), Some(ns.name()));
    let secrets: Vec<&str> = pod_spec(job)
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(secrets, ["registry-credentials"]);

    let isvc = run_to_running(&ns, &kubelet, &node, job, "llama-chat").await;
    assert_eq!(
        isvc.data["spec"]["predictor"]["imagePullSecrets"],
        json!([{"name": "registry-credentials"}])
    );
}

/// The runtime configuration guide's Complete Example, in a namespace standing for `ml-research`:
/// a namespace runtime config with `serviceAccountName` and `imagePullSecrets`, `creationScope:
/// Cluster`, routing through a Gateway. Inspection and discovery use that namespace's
/// credentials; the service reaches Running.
#[tokio::test]
async fn the_runtime_config_guides_complete_example_reaches_running_with_its_credentials() {
    let ml_research = common::namespace().await;
    let (registry, image) = registry_with_image(true).await;
    let (kubelet, node) = kubelet_and_node(&ml_research).await;
    create_secret(
        &ml_research,
        registry.pull_secret("registry-creds").unwrap(),
    )
    .await;
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "aim-runtime"}})).unwrap();
    ml_research
        .api::<ServiceAccount>()
        .create(&PostParams::default(), &account)
        .await
        .unwrap();
    create(
        &ml_research,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
            "metadata": {"name": "default"},
            "spec": {
                "defaultStorageClassName": "fast-nvme",
                "serviceAccountName": "aim-runtime",
                "imagePullSecrets": [{"name": "registry-creds"}],
                "model": {"creationScope": "Cluster", "autoDiscovery": true},
                "routing": {
                    "enabled": true,
                    "gatewayRef": {"name": "kserve-gateway", "namespace": "kgateway-system"},
                    "pathTemplate": "/ml/{.metadata.namespace}/{.metadata.name}"
                }
            }
        }),
    )
    .await;
    image_service(&ml_research, "chat", &image, json!({})).await;

    let (model, kind) = resolved_model(&ml_research, "chat").await;
    assert_eq!(kind, "aim.silogen.ai/v1alpha1/AIMClusterModel");
    let template = generated_cluster_template(&ml_research, &model).await;
    let jobs = discovery_jobs(&ml_research, &template).await;
    let [job] = jobs.as_slice() else {
        panic!("one discovery Job, not {}", jobs.len());
    };
    assert_eq!(job.namespace().as_deref(), Some(ml_research.name()));
    let pod = pod_spec(job);
    assert_eq!(pod.service_account_name.as_deref(), Some("aim-runtime"));
    assert_eq!(
        pod.image_pull_secrets
            .as_deref()
            .map(|s| s[0].name.as_str()),
        Some("registry-creds")
    );

    kubelet
        .run_job_pod(&ml_research, &node, &job.name_any(), DISCOVERY_OUTPUT)
        .await
        .unwrap();
    let isvcs = inference_service_api(ml_research.client(), ml_research.name());
    let isvc = wait_for(&isvcs, "chat", TIMEOUT, |_| true).await.unwrap();
    let predictor = &isvc.data["spec"]["predictor"];
    assert_eq!(predictor["serviceAccountName"], "aim-runtime");
    assert_eq!(
        predictor["imagePullSecrets"],
        json!([{"name": "registry-creds"}])
    );
    let claims: Api<PersistentVolumeClaim> = ml_research.api();
    let claim = claims.get("chat-temp-cache").await.unwrap();
    assert_eq!(
        claim.spec.unwrap().storage_class_name.as_deref(),
        Some("fast-nvme")
    );
    let routes = fixtures::http_route_api(ml_research.client(), ml_research.name());
    let route = wait_for(&routes, "chat-route", TIMEOUT, |_| true)
        .await
        .unwrap();
    assert_eq!(
        fixtures::http_route_path(&route),
        format!("/ml/{}/chat", ml_research.name())
    );
    fixtures::mark_http_route_accepted(&routes, "chat-route")
        .await
        .unwrap();
    fixtures::mark_inference_service_ready(&isvcs, "chat")
        .await
        .unwrap();
    wait_for(&ml_research.api::<AIMService>(), "chat", TIMEOUT, |s| {
        state(s) == "Running"
    })
    .await
    .unwrap();
}

/// Two namespaces ask for one image, the default scope being Cluster. The cluster model serves
/// the namespace that asked first; the second gets a model of its own, discovered in its own
/// namespace, since the first one's discovery ran where the first namespace's users could shape
/// it. Each runs with its own credentials.
#[tokio::test]
async fn two_namespaces_asking_for_one_image_each_discover_it_with_their_own_credentials() {
    let first = common::namespace().await;
    let second = common::namespace().await;
    let (_registry, image) = registry_with_image(false).await;
    let (kubelet, node) = kubelet_and_node(&first).await;
    image_service(
        &first,
        "chat",
        &image,
        json!({"serviceAccountName": "first-sa"}),
    )
    .await;
    let (model, kind) = resolved_model(&first, "chat").await;
    assert_eq!(kind, "aim.silogen.ai/v1alpha1/AIMClusterModel");
    let cluster_template = generated_cluster_template(&first, &model).await;
    let first_jobs = discovery_jobs(&first, &cluster_template).await;
    run_to_running(&first, &kubelet, &node, &first_jobs[0], "chat").await;

    image_service(
        &second,
        "chat",
        &image,
        json!({"serviceAccountName": "second-sa"}),
    )
    .await;
    let (own, own_kind) = resolved_model(&second, "chat").await;
    assert_eq!(own_kind, "aim.silogen.ai/v1alpha1/AIMModel");
    assert_eq!(own, model, "the same name, in its own namespace");
    let models: Api<AIMModel> = second.api();
    assert_eq!(
        models
            .get(&own)
            .await
            .unwrap()
            .spec
            .common
            .service_account_name
            .as_deref(),
        Some("second-sa")
    );
    let templates: Api<AIMServiceTemplate> = second.api();
    let selector = ListParams::default().labels(&format!("aim.silogen.ai/aim-image={own}"));
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let own_template = loop {
        if let Some(t) = templates
            .list(&selector)
            .await
            .unwrap()
            .items
            .into_iter()
            .next()
        {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no template in the second namespace"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Its template has the cluster template's name; its Jobs are those it controls.
    let own_uid = own_template.uid().unwrap();
    let all_jobs: Api<Job> = Api::all(second.client());
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let second_jobs = loop {
        let owned: Vec<Job> = all_jobs
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|job| job.owner_references().iter().any(|o| o.uid == own_uid))
            .collect();
        if !owned.is_empty() {
            break owned;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the second namespace never discovers"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        second_jobs
            .iter()
            .all(|j| j.namespace().as_deref() == Some(second.name()))
    );
    let own_template = own_template.name_any();
    assert_eq!(
        pod_spec(&second_jobs[0]).service_account_name.as_deref(),
        Some("second-sa")
    );
    let isvc = run_to_running(&second, &kubelet, &node, &second_jobs[0], "chat").await;
    assert_eq!(
        isvc.data["spec"]["predictor"]["model"]["runtime"],
        own_template.as_str()
    );
    let cluster_models: Api<AIMClusterModel> = Api::all(first.client());
    assert_eq!(
        cluster_models
            .get(&model)
            .await
            .unwrap()
            .spec
            .requesting_namespace(),
        Some(first.name()),
        "the second namespace never rewrote the first one's model"
    );
}

/// A name the plan wants is already held by an object the operator did not write: the operator
/// leaves it alone and says so on the service and in an Event.
#[tokio::test]
async fn a_name_held_by_someone_else_is_left_alone_with_a_condition_and_an_event() {
    let ns = common::namespace().await;
    common::model_and_template(&ns).await;
    let theirs: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "chat-temp-cache", "labels": {"owner": "someone-else"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .unwrap();
    ns.api::<PersistentVolumeClaim>()
        .create(&PostParams::default(), &theirs)
        .await
        .unwrap();
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "chat"},
        "spec": {"model": {"ref": "llama"}}
    }))
    .await;

    let services: Api<AIMService> = ns.api();
    let held = wait_for(&services, "chat", TIMEOUT, |s| {
        failure_reason(s).as_deref() == Some("NameConflict")
    })
    .await
    .unwrap();
    let failure = held
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Failure")
        .unwrap();
    assert!(
        failure.message.contains("chat-temp-cache"),
        "{}",
        failure.message
    );
    let claim = ns
        .api::<PersistentVolumeClaim>()
        .get("chat-temp-cache")
        .await
        .unwrap();
    assert_eq!(
        claim.labels().get("owner").map(String::as_str),
        Some("someone-else")
    );
    assert!(!claim.labels().contains_key("app.kubernetes.io/managed-by"));
    assert!(
        claim.meta().owner_references.is_none(),
        "no owner was hung on someone else's claim"
    );
    // The Event follows the status write; it may land a moment later.
    let events: Api<Event> = ns.api();
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let warnings = events.list(&ListParams::default()).await.unwrap().items;
        if warnings.iter().any(|e| {
            e.reason.as_deref() == Some("NameConflict")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("chat")
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no NameConflict Event on the service in {TIMEOUT:?}: {warnings:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The same failure, reported again on each retry, writes nothing new: a status rewritten at
    // every report would wake the service into another failing reconcile, in a loop.
    let settled = services.get("chat").await.unwrap().resource_version();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = services.get("chat").await.unwrap();
        assert_eq!(
            now.resource_version(),
            settled,
            "the service was rewritten while its failure stayed the same: {:?}",
            now.status
        );
    }
}

/// Anyone may create Jobs carrying discovery's labels; they must not take the cluster's discovery
/// slots from the templates that need them.
#[tokio::test]
async fn jobs_that_only_look_like_discovery_take_no_discovery_slot() {
    let squatter = common::namespace().await;
    for index in 0..10 {
        let job: Job = serde_json::from_value(json!({
            "metadata": {"name": format!("squat-{index}"), "labels": {
                "app.kubernetes.io/component": "discovery-job",
                "app.kubernetes.io/managed-by": "aim-controller"}},
            "spec": {"suspend": true, "template": {"spec": {"restartPolicy": "Never",
                "containers": [{"name": "c", "image": "busybox"}]}}}
        }))
        .unwrap();
        squatter
            .api::<Job>()
            .create(&PostParams::default(), &job)
            .await
            .unwrap();
    }
    let ns = common::namespace().await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "llama"},
        "spec": {"image": "ghcr.io/silogen/aim-llama:0.7.0", "discovery": {"enabled": false}}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "llama-latency"},
        "spec": {"modelName": "llama", "metric": "latency", "precision": "fp8"}
    }))
    .await;
    let jobs = discovery_jobs(&ns, "llama-latency").await;
    assert_eq!(jobs[0].namespace().as_deref(), Some(ns.name()));
}
