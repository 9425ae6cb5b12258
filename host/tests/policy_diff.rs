//! `aim-engine policy diff` against the test control plane: it plans the AIMServices it finds
//! with the policy in force and with a candidate, prints what would change, and says when a
//! service cannot be compared. Nothing runs but the command itself.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use aim_tests::{TestEnv, TestNamespace};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use support::team_routes_policy_wasm;

/// Creates an AIM object; its `status`, if any, is written too (no operator runs here).
async fn create(ns: &TestNamespace, object: Value) {
    let kind = object["kind"].as_str().unwrap().to_owned();
    let status = object.get("status").cloned();
    let cluster_scoped = kind == "AIMPolicy";
    let resource =
        ApiResource::from_gvk(&GroupVersionKind::gvk("aim.silogen.ai", "v1alpha1", &kind));
    let api: Api<DynamicObject> = if cluster_scoped {
        Api::all_with(ns.client(), &resource)
    } else {
        Api::namespaced_with(ns.client(), ns.name(), &resource)
    };
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    let name = object.metadata.name.clone().unwrap();
    api.create(&PostParams::default(), &object).await.unwrap();
    if let Some(status) = status {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await
        .unwrap();
    }
}

/// A namespace with a routed, team-labelled service that the default policy can plan; its
/// runtime config selects the AIMPolicy `<namespace>-<policy>` when `policy` is given.
async fn cluster_with_a_service(policy: Option<&str>) -> (&'static TestEnv, TestNamespace) {
    let env = TestEnv::shared().await.unwrap();
    let ns = TestNamespace::create(env).await.unwrap();
    let mut runtime_config = json!({"routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}});
    if let Some(policy) = policy {
        runtime_config["policyName"] = json!(format!("{}-{policy}", ns.name()));
    }
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel", "metadata": {"name": "llama"},
        "spec": {"image": "ghcr.io/silogen/llama:0.7.0", "discovery": {"enabled": false}},
        "status": {"status": "Ready"}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "metadata": {"name": "llama-latency"},
        "spec": {"modelName": "llama", "metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"}},
        "status": {"status": "Ready", "modelSources": [{"name": "amd/Llama-3.1-8B-Instruct-FP8-KV", "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV", "size": "16Gi"}]}
    }))
    .await;
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig", "metadata": {"name": "default"},
        "spec": runtime_config
    }))
    .await;
    create(
        &ns,
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat", "labels": {"aim.example.com/team": "search"}},
            "spec": {"model": {"ref": "llama"}, "templateRef": "llama-latency"}
        }),
    )
    .await;
    (env, ns)
}

/// Runs `policy diff` with the example policy as the candidate; (exit code, stdout).
fn policy_diff(env: &TestEnv, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let candidate = dir.path().join("team-routes.wasm");
    std::fs::write(&candidate, team_routes_policy_wasm()).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_aim-engine"))
        .args(["policy", "diff", "--policy"])
        .arg(&candidate)
        .args(extra)
        .env("KUBECONFIG", env.kubeconfig())
        .env("XDG_CACHE_HOME", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stdout.is_empty(), "no output; stderr:\n{stderr}");
    (output.status.code(), stdout)
}

#[tokio::test]
async fn the_diff_shows_the_route_a_candidate_policy_would_change() {
    let (env, ns) = cluster_with_a_service(None).await;
    let (code, out) = policy_diff(env, &["--namespace", ns.name()]);
    assert_eq!(code, Some(1), "{out}");
    let service = format!("AIMService {}/chat (default -> candidate):", ns.name());
    assert!(out.contains(&service), "{out}");
    let path = format!(
        r#"spec.rules[0].matches[0].path.value: "/{0}/chat" -> "/teams/search/{0}/chat""#,
        ns.name()
    );
    assert!(out.contains(&path), "{out}");
    assert!(out.contains("metadata.annotations"), "{out}");
    assert!(out.contains("1 services compared, 1 would change"), "{out}");
}

#[tokio::test]
async fn a_diff_limited_to_another_policys_services_compares_nothing() {
    let (env, ns) = cluster_with_a_service(None).await;
    let (code, out) = policy_diff(env, &["--namespace", ns.name(), "--replaces", "nobody"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("0 services compared"), "{out}");
}

#[tokio::test]
async fn a_service_whose_policy_has_no_active_version_cannot_be_compared() {
    let (env, ns) = cluster_with_a_service(Some("inactive")).await;
    let policy = format!("{}-inactive", ns.name());
    create(&ns, json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMPolicy", "metadata": {"name": policy},
        "spec": {"source": {"configMap": {"name": "missing"}}, "digest": format!("sha256:{}", "0".repeat(64))}
    }))
    .await;
    let (code, out) = policy_diff(env, &["--namespace", ns.name()]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("has no active version"), "{out}");
}
