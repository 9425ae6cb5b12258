//! The fake kubelet makes the real apiserver's pod-log proxy work: a Job's pod "run" by the harness
//! has its log served through `GET .../pods/{pod}/log`, and the operator's `discovery_log` finds the
//! newest succeeded pod of a Job and reads it.

use aim_engine::cluster::pod_logs::{self, MAX_LOG_BYTES};
use aim_tests::fake_kubelet::FakeKubelet;
use aim_tests::{TestEnv, TestNamespace};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt as _;
use kube::api::{Api, LogParams, Patch, PatchParams, PostParams};
use serde_json::json;

const DISCOVERY_OUTPUT: &str = r#"starting dry run
[{"filename":"vllm-mi300x-fp8-tp1-latency.yaml","profile":{"metadata":{"engine":"vllm","gpu":"MI300X","precision":"fp8","gpu_count":1,"metric":"latency"}},"models":[{"name":"smol2-135m","source":"hf://HuggingFaceTB/SmolLM2-135M","size_gb":0.5}]}]
"#;

async fn setup() -> (TestNamespace, FakeKubelet, Node) {
    let env = TestEnv::shared().await.expect("test environment");
    let ns = TestNamespace::create(env).await.expect("test namespace");
    let kubelet = FakeKubelet::start(env).await.expect("fake kubelet");
    let node = kubelet.create_node(&ns, "worker").await.expect("node");
    (ns, kubelet, node)
}

/// A Job shaped like the operator's discovery Job; `managed_by` hands it to another controller.
async fn create_job(ns: &TestNamespace, name: &str, managed_by: Option<&str>) -> Job {
    let job: Job = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "aim.silogen.ai/template": "t" } },
        "spec": {
            "backoffLimit": 3,
            "managedBy": managed_by,
            "template": { "spec": {
                "restartPolicy": "Never",
                "containers": [{
                    "name": "discovery", "image": "registry.example/aim/llama:0.1",
                    "args": ["dry-run", "--format=json"],
                }],
            }},
        },
    }))
    .expect("job");
    ns.api::<Job>()
        .create(&PostParams::default(), &job)
        .await
        .expect("create job")
}

fn discovery(params: LogParams) -> LogParams {
    LogParams {
        container: Some("discovery".into()),
        ..params
    }
}

fn is_complete(job: &Job) -> bool {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|cs| {
        cs.iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    })
}

#[tokio::test]
async fn a_run_pods_log_is_served_through_the_apiserver() {
    let (ns, kubelet, node) = setup().await;
    create_job(&ns, "discovery", None).await;
    let pod = kubelet
        .run_job_pod(&ns, &node, "discovery", DISCOVERY_OUTPUT)
        .await
        .expect("run job pod");

    let pods: Api<Pod> = ns.api();
    let name = pod.name_any();
    let log = pods
        .logs(&name, &discovery(LogParams::default()))
        .await
        .expect("log through the apiserver");
    assert_eq!(log, DISCOVERY_OUTPUT);
    // Query parameters travel through the proxy to the kubelet.
    let tail = LogParams {
        tail_lines: Some(1),
        ..LogParams::default()
    };
    let last = pods.logs(&name, &discovery(tail)).await.expect("tail");
    assert!(last.starts_with("[{") && last.ends_with("}]\n"), "{last}");

    let pod = pods.get(&name).await.expect("pod");
    let status = pod.status.expect("pod status");
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    assert_eq!(
        pod.spec.and_then(|s| s.node_name),
        Some(node.name_any()),
        "bound to the fake kubelet's node"
    );
    let job = ns.api::<Job>().get("discovery").await.expect("job");
    assert!(is_complete(&job), "{:?}", job.status);
}

#[tokio::test]
async fn a_job_no_controller_runs_gets_a_pod_of_its_own() {
    let (ns, kubelet, node) = setup().await;
    create_job(&ns, "external", Some("example.com/other-controller")).await;
    let pod = kubelet
        .run_job_pod(&ns, &node, "external", "done\n")
        .await
        .expect("run job pod");
    assert_eq!(
        pod.labels()
            .get("batch.kubernetes.io/job-name")
            .map(String::as_str),
        Some("external")
    );
    let log = ns
        .api::<Pod>()
        .logs(&pod.name_any(), &discovery(LogParams::default()))
        .await
        .expect("log");
    assert_eq!(log, "done\n");
    let job = ns.api::<Job>().get("external").await.expect("job");
    assert!(is_complete(&job), "{:?}", job.status);
}

#[tokio::test]
async fn logs_of_unknown_pods_are_errors() {
    let (ns, _kubelet, node) = setup().await;
    let pods: Api<Pod> = ns.api();

    let missing = pods
        .logs("no-such-pod", &discovery(LogParams::default()))
        .await;
    assert!(
        matches!(&missing, Err(kube::Error::Api(s)) if s.code == 404),
        "{missing:?}"
    );

    // The pod exists and is bound, but the kubelet knows nothing of it: its 404 comes back.
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "name": "stranger" },
        "spec": { "nodeName": node.name_any(), "containers": [{ "name": "discovery", "image": "x" }] },
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let unknown = pods
        .logs("stranger", &discovery(LogParams::default()))
        .await;
    assert!(
        matches!(&unknown, Err(kube::Error::Api(s)) if s.code == 404),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn discovery_log_reads_the_newest_succeeded_pod() {
    let (ns, kubelet, node) = setup().await;
    let client = ns.client();
    let job = create_job(&ns, "discovery", None).await;
    assert_eq!(
        pod_logs::discovery_log(&client, ns.name(), &job)
            .await
            .expect("pending"),
        None,
        "no pod has succeeded yet"
    );

    let pod = kubelet
        .run_job_pod(&ns, &node, "discovery", DISCOVERY_OUTPUT)
        .await
        .expect("run job pod");
    let log = pod_logs::discovery_log(&client, ns.name(), &job)
        .await
        .expect("discovery log");
    assert_eq!(log.as_deref(), Some(DISCOVERY_OUTPUT));

    // A runaway log is cut at the cap.
    let huge = "x".repeat(MAX_LOG_BYTES + 4096);
    kubelet.set_log(ns.name(), &pod.name_any(), "discovery", &huge);
    let log = pod_logs::discovery_log(&client, ns.name(), &job)
        .await
        .expect("discovery log")
        .expect("a succeeded pod");
    assert_eq!(log.len(), MAX_LOG_BYTES);
}

/// Anyone who may create pods in the namespace may label one with a Job's name and make it
/// "succeed" with any output; only the Job's own pods (it is their controller) are read.
#[tokio::test]
async fn discovery_log_reads_only_pods_the_job_controls() {
    let (ns, kubelet, node) = setup().await;
    let client = ns.client();
    // Handed to another controller, so kube-controller-manager makes no pod of its own.
    let job = create_job(&ns, "discovery", Some("example.com/elsewhere")).await;
    let pods: Api<Pod> = ns.api();
    let forged: Pod = serde_json::from_value(json!({
        "metadata": { "name": "forged", "labels": {
            "job-name": "discovery", "batch.kubernetes.io/job-name": "discovery" } },
        "spec": { "nodeName": node.name_any(), "restartPolicy": "Never",
                  "containers": [{ "name": "discovery", "image": "x" }] },
    }))
    .expect("pod");
    pods.create(&PostParams::default(), &forged)
        .await
        .expect("create pod");
    pods.patch_status(
        "forged",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Succeeded"}})),
    )
    .await
    .expect("forged pod succeeds");
    kubelet.set_log(ns.name(), "forged", "discovery", "[{\"forged\": true}]");
    assert_eq!(
        pod_logs::discovery_log(&client, ns.name(), &job)
            .await
            .expect("no pod of the Job"),
        None,
        "a pod the Job does not control is not its result"
    );

    kubelet
        .run_job_pod(&ns, &node, "discovery", DISCOVERY_OUTPUT)
        .await
        .expect("run job pod");
    let log = pod_logs::discovery_log(&client, ns.name(), &job)
        .await
        .expect("discovery log");
    assert_eq!(log.as_deref(), Some(DISCOVERY_OUTPUT));
}
