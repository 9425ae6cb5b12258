//! The envelope rules, through [`check_plan`] as policies meet them.

use super::*;
use serde_json::json;

fn namespaced() -> PlanSubject {
    PlanSubject::namespaced("ml")
}

fn cluster() -> PlanSubject {
    PlanSubject::default()
}

fn rules() -> OutputRules {
    OutputRules::new("aim-system")
}

fn plan_with(object: Value) -> String {
    json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": object, "owner": "subject"}], "status": {}, "events": []}).to_string()
}

fn detail(result: Result<Value, PolicyError>) -> String {
    match result {
        Err(PolicyError::OutputInvalid { detail }) => detail,
        other => panic!("expected OutputInvalid, got {other:?}"),
    }
}

#[test]
fn a_valid_plan_gets_its_namespace_filled_and_owner_references_removed() {
    let object = json!({
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "chat", "labels": {"aim.silogen.ai/template": "t-1"}, "ownerReferences": [{"name": "x"}]}
    });
    let plan = check_plan(&plan_with(object), &namespaced(), &rules()).unwrap();
    let metadata = &plan["apply"][0]["object"]["metadata"];
    assert_eq!(metadata["namespace"], "ml");
    assert!(metadata.get("ownerReferences").is_none());
}

#[test]
fn kinds_outside_the_allowlist_are_refused_by_name() {
    let object = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin"}});
    assert!(
        detail(check_plan(&plan_with(object), &namespaced(), &rules())).contains("ClusterRole")
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
    assert!(detail(check_plan(&plan_with(secret), &namespaced(), &rules())).contains("Secret"));
}

#[test]
fn objects_in_other_namespaces_are_refused() {
    let object = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p", "namespace": "kube-system"}});
    let message = detail(check_plan(&plan_with(object), &namespaced(), &rules()));
    assert!(
        message.contains("kube-system") && message.contains("PersistentVolumeClaim"),
        "{message}"
    );
}

#[test]
fn cluster_kinds_need_a_cluster_subject_which_may_only_use_the_operator_namespace() {
    let runtime = json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime", "metadata": {"name": "rt"}});
    assert!(check_plan(&plan_with(runtime.clone()), &namespaced(), &rules()).is_err());
    assert!(check_plan(&plan_with(runtime), &cluster(), &rules()).is_ok());
    let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "discover"}});
    let plan = check_plan(&plan_with(job), &cluster(), &rules()).unwrap();
    assert_eq!(
        plan["apply"][0]["object"]["metadata"]["namespace"],
        "aim-system"
    );
    let elsewhere = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "d", "namespace": "ml"}});
    assert!(check_plan(&plan_with(elsewhere), &cluster(), &rules()).is_err());
}

#[test]
fn names_and_labels_must_be_valid() {
    let long =
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j".repeat(64)}});
    assert!(
        detail(check_plan(&plan_with(long), &namespaced(), &rules())).contains("RFC 1123 label")
    );
    let upper =
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "Data"}});
    assert!(check_plan(&plan_with(upper), &namespaced(), &rules()).is_err());
    let label = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"a": "not valid!"}}});
    assert!(
        detail(check_plan(&plan_with(label), &namespaced(), &rules())).contains("invalid value")
    );
    let key = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"Bad_Prefix/a": "x"}}});
    assert!(check_plan(&plan_with(key), &namespaced(), &rules()).is_err());
}

#[test]
fn oversized_plans_and_too_many_objects_are_refused() {
    let big = format!(
        "{{\"apiVersion\":\"{PLAN_API_VERSION}\",\"status\":{{\"x\":\"{}\"}}}}",
        "a".repeat(DEFAULT_MAX_PLAN_BYTES)
    );
    assert!(detail(check_plan(&big, &namespaced(), &rules())).contains("bytes"));
    let object = json!({"object": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}, "owner": "none"});
    let many =
        json!({"apiVersion": PLAN_API_VERSION, "apply": vec![object; DEFAULT_MAX_OBJECTS + 1]})
            .to_string();
    assert!(detail(check_plan(&many, &namespaced(), &rules())).contains("objects"));
}

#[test]
fn the_envelope_must_be_a_versioned_plan() {
    assert!(check_plan("[]", &namespaced(), &rules()).is_err());
    assert!(check_plan(r#"{"apiVersion":"v2"}"#, &namespaced(), &rules()).is_err());
    let event = json!({"apiVersion": PLAN_API_VERSION, "events": [{"type": "Loud", "reason": "X", "message": ""}]}).to_string();
    assert!(check_plan(&event, &namespaced(), &rules()).is_err());
}

#[test]
fn a_service_may_add_an_unowned_model_to_the_cluster_catalogue_and_nothing_else_cluster_wide() {
    let model = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterModel", "metadata": {"name": "llama"}, "spec": {"image": "x"}});
    let unowned =
        json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": model, "owner": "none"}]})
            .to_string();
    assert!(check_plan(&unowned, &namespaced(), &rules()).is_ok());
    let owned =
        json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": model, "owner": "subject"}]})
            .to_string();
    assert!(detail(check_plan(&owned, &namespaced(), &rules())).contains("cluster-scoped"));
    let template = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate", "metadata": {"name": "t"}});
    let other =
        json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": template, "owner": "none"}]})
            .to_string();
    assert!(detail(check_plan(&other, &namespaced(), &rules())).contains("cluster-scoped"));
}

#[test]
fn deletes_obey_the_same_kinds_and_namespaces_as_creations() {
    let delete = |kind: &str, namespace: &str| {
        json!({"apiVersion": PLAN_API_VERSION, "delete": [{"apiVersion": "aim.silogen.ai/v1alpha1", "kind": kind, "name": "c", "namespace": namespace}]}).to_string()
    };
    assert!(check_plan(&delete("AIMTemplateCache", "ml"), &namespaced(), &rules()).is_ok());
    assert!(
        detail(check_plan(
            &delete("AIMTemplateCache", "kube-system"),
            &namespaced(),
            &rules()
        ))
        .contains("kube-system")
    );
    assert!(
        detail(check_plan(
            &delete("ClusterRole", "ml"),
            &namespaced(),
            &rules()
        ))
        .contains("ClusterRole")
    );
}

fn plan_of(objects: Vec<Value>) -> String {
    let apply: Vec<Value> = objects
        .into_iter()
        .map(|object| json!({"object": object, "owner": "subject"}))
        .collect();
    json!({"apiVersion": PLAN_API_VERSION, "apply": apply}).to_string()
}

fn restricted_container() -> Value {
    json!({"name": "c", "image": "ghcr.io/silogen/aim:1", "securityContext": {
        "allowPrivilegeEscalation": false, "runAsNonRoot": true,
        "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
}

fn job(pod: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "discover"},
           "spec": {"template": {"spec": pod}}})
}

fn pod_rules() -> OutputRules {
    OutputRules::new("aim-system").with_pods(PodRules {
        operator_service_account: Some("aim-engine".to_string()),
        ..PodRules::default()
    })
}

#[test]
fn what_the_default_policy_plans_passes_the_pod_checks() {
    use aim_api::v1alpha1::{AIMGpuSelector, AIMRuntimeParameters};
    use aim_policy_default::flows::discovery_job::{DiscoveryJobInput, discovery_job};
    use aim_policy_default::flows::download_job::{DownloadJobInput, download_job};
    use aim_policy_default::flows::serving_runtime::{RuntimeInput, serving_runtime};

    let runtime = AIMRuntimeParameters {
        gpu_selector: Some(AIMGpuSelector {
            count: 1,
            model: "MI300X".into(),
            resource_name: "amd.com/gpu".into(),
        }),
        ..AIMRuntimeParameters::default()
    };
    let discovery = discovery_job(&DiscoveryJobInput {
        template_name: "t",
        namespace: "ml",
        model_name: "m",
        image: "ghcr.io/silogen/aim:1",
        service_account: Some("aim-runtime"),
        pull_secrets: &[],
        env: &[],
        runtime: &runtime,
    });
    let download = download_job(&DownloadJobInput {
        cache_name: "smol",
        namespace: "ml",
        source_uri: "hf://HuggingFaceTB/SmolLM2-135M",
        image: "kserve/storage-initializer:v0.16.0-rc0",
        env: &[],
        pull_secrets: &[],
        service_account: None,
    });
    let input = |namespace| RuntimeInput {
        name: "t",
        namespace,
        model_name: "m",
        image: "ghcr.io/silogen/aim:1",
        gpu_resource_name: "amd.com/gpu",
        gpu_count: 1,
        pull_secrets: &[],
    };
    let objects = vec![
        serde_json::to_value(discovery).unwrap(),
        serde_json::to_value(download).unwrap(),
        serving_runtime(&input(Some("ml"))).unwrap(),
    ];
    check_plan(&plan_of(objects), &namespaced(), &pod_rules()).unwrap();
    let cluster_runtime = serving_runtime(&input(None)).unwrap();
    check_plan(&plan_of(vec![cluster_runtime]), &cluster(), &pod_rules()).unwrap();
}

#[test]
fn a_privileged_or_host_reaching_pod_is_refused_whatever_its_kind() {
    let mut privileged = restricted_container();
    privileged["securityContext"]["privileged"] = json!(true);
    let cases = [
        job(json!({"containers": [privileged]})),
        job(json!({"hostPID": true, "containers": [restricted_container()]})),
        json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
               "metadata": {"name": "chat"}, "spec": {"predictor": {
                   "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                   "model": restricted_container()}}}),
        json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
               "metadata": {"name": "rt"}, "spec": {"hostNetwork": true,
                   "containers": [restricted_container()]}}),
    ];
    for object in cases {
        let message = detail(check_plan(
            &plan_of(vec![object.clone()]),
            &namespaced(),
            &pod_rules(),
        ));
        assert!(message.contains("restricted"), "{object}: {message}");
    }
}

#[test]
fn no_planned_pod_runs_as_the_operators_own_account() {
    let operator_pod = job(json!({"serviceAccountName": "aim-engine",
                                  "containers": [restricted_container()]}));
    let in_operator_namespace = PlanSubject::namespaced("aim-system");
    let message = detail(check_plan(
        &plan_of(vec![operator_pod.clone()]),
        &in_operator_namespace,
        &pod_rules(),
    ));
    assert!(
        message.contains("operator's own ServiceAccount"),
        "{message}"
    );
    // An admin's cluster template discovers in the operator's namespace, with the same refusal.
    assert!(
        check_plan(
            &plan_of(vec![operator_pod.clone()]),
            &cluster(),
            &pod_rules()
        )
        .is_err()
    );
    // A user's account of that name, in the user's namespace, is the user's.
    assert!(check_plan(&plan_of(vec![operator_pod]), &namespaced(), &pod_rules()).is_ok());
}

#[test]
fn the_admins_allowlists_bound_accounts_and_registries() {
    let rules = OutputRules::new("aim-system").with_pods(PodRules {
        operator_service_account: Some("aim-engine".to_string()),
        allowed_service_accounts: vec![
            "default".parse().unwrap(),
            "ml/aim-runtime".parse().unwrap(),
        ],
        allowed_registries: vec!["ghcr.io".to_string()],
    });
    let with = |account: &str, image: &str| {
        let mut container = restricted_container();
        container["image"] = json!(image);
        plan_of(vec![job(
            json!({"serviceAccountName": account, "containers": [container]}),
        )])
    };
    assert!(check_plan(&with("aim-runtime", "ghcr.io/x:1"), &namespaced(), &rules).is_ok());
    assert!(check_plan(&with("default", "ghcr.io/x:1"), &namespaced(), &rules).is_ok());
    let message = detail(check_plan(
        &with("builder", "ghcr.io/x:1"),
        &namespaced(),
        &rules,
    ));
    assert!(message.contains("ml/builder"), "{message}");
    let message = detail(check_plan(
        &with("default", "evil.example/x:1"),
        &namespaced(),
        &rules,
    ));
    assert!(message.contains("evil.example"), "{message}");
}

#[test]
fn a_field_the_checks_cannot_read_is_refused() {
    let transformer = json!({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
        "metadata": {"name": "chat"}, "spec": {"predictor": {"model": restricted_container()},
        "transformer": {"containers": [{"name": "t", "securityContext": {"privileged": true}}]}}});
    let message = detail(check_plan(
        &plan_of(vec![transformer]),
        &namespaced(),
        &pod_rules(),
    ));
    assert!(message.contains("spec.transformer"), "{message}");
    let worker = json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ServingRuntime",
        "metadata": {"name": "rt"}, "spec": {"containers": [restricted_container()],
        "workerSpec": {"containers": [{"name": "w"}]}}});
    let message = detail(check_plan(
        &plan_of(vec![worker]),
        &namespaced(),
        &pod_rules(),
    ));
    assert!(message.contains("spec.workerSpec"), "{message}");
}

#[test]
fn a_cluster_subject_acting_for_a_namespace_places_its_jobs_there_and_only_there() {
    let acting = PlanSubject {
        namespace: None,
        work_namespace: Some("ml-research".to_string()),
    };
    let discovery = job(json!({"containers": [restricted_container()]}));
    let plan = check_plan(&plan_of(vec![discovery.clone()]), &acting, &rules()).unwrap();
    assert_eq!(
        plan["apply"][0]["object"]["metadata"]["namespace"],
        "ml-research"
    );
    let mut in_operator_namespace = discovery;
    in_operator_namespace["metadata"]["namespace"] = json!("aim-system");
    let message = detail(check_plan(
        &plan_of(vec![in_operator_namespace]),
        &acting,
        &rules(),
    ));
    assert!(message.contains("ml-research"), "{message}");
}

#[test]
fn a_cluster_model_a_namespace_adds_is_marked_as_that_namespaces_whatever_the_plan_says() {
    let model = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterModel",
        "metadata": {"name": "llama"}, "spec": {"image": "x", "requestingNamespace": "aim-system"}});
    let plan =
        json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": model, "owner": "none"}]})
            .to_string();
    let checked = check_plan(&plan, &namespaced(), &rules()).unwrap();
    assert_eq!(
        checked["apply"][0]["object"]["spec"]["requestingNamespace"],
        "ml"
    );
}
