//! `aim-engine render` over `examples/` through the embedded wasm policy: the output is the
//! committed golden file, and bad input is reported with its file, object and field. Run with
//! `AIM_UPDATE_GOLDEN=1` to rewrite the golden file after an intended change.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aim_engine::policy::{
    CacheLocation, OutputRules, PolicyRuntime, PolicySet, RuntimeConfig, load_default_policy,
};
use aim_engine::render::output::{Format, format};
use aim_engine::render::{input, render};

/// The embedded default policy, as `render` uses it.
pub(super) fn policies() -> PolicySet {
    let runtime = PolicyRuntime::new(RuntimeConfig {
        cache: CacheLocation::Disabled,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let default = load_default_policy(&runtime).unwrap();
    PolicySet::new(None, default, Arc::new(OutputRules::new("aim-system")))
}

/// `path` in the repository.
pub(super) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

#[test]
fn rendering_the_examples_gives_the_golden_output() {
    let snapshot = input::load(&[repo("examples")]).unwrap();
    let rendered = render(&snapshot, &policies());
    for entry in &rendered {
        assert!(entry.plan.is_ok(), "{}: {:?}", entry.service, entry.plan);
    }
    let yaml = format(&rendered, Format::Yaml);
    let golden = repo("host/tests/golden/examples.yaml");
    if std::env::var_os("AIM_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, &yaml).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap_or_default();
    assert!(
        yaml == expected,
        "render output differs from {}; rerun with AIM_UPDATE_GOLDEN=1 if intended",
        golden.display()
    );
}

#[test]
fn every_example_service_reaches_the_expected_state() {
    let snapshot = input::load(&[repo("examples")]).unwrap();
    let states: Vec<(String, String)> = render(&snapshot, &policies())
        .into_iter()
        .map(|entry| {
            let plan = entry.plan.unwrap();
            (
                entry.service,
                plan.status.unwrap()["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("ml-team/llama-chat", "Pending"),
        ("discovered/llama-chat", "Starting"),
        ("routing/llama-chat", "Starting"),
        ("routing/llama-batch", "Starting"),
        ("complete/llama-chat", "Pending"),
        ("caching/llama-chat", "Starting"),
        ("teams/chat", "Starting"),
        ("teams/batch", "Starting"),
    ];
    let got: Vec<(&str, &str)> = states
        .iter()
        .map(|(s, t)| (s.as_str(), t.as_str()))
        .collect();
    assert_eq!(got, expected);
}

/// The plans of every example service, by `namespace/name`.
fn plans() -> std::collections::BTreeMap<String, aim_api::policy::plan::Plan> {
    let snapshot = input::load(&[repo("examples")]).unwrap();
    render(&snapshot, &policies())
        .into_iter()
        .map(|entry| (entry.service, entry.plan.unwrap()))
        .collect()
}

/// The planned object of `kind` named `name`.
fn object<'a>(
    plan: &'a aim_api::policy::plan::Plan,
    kind: &str,
    name: &str,
) -> &'a serde_json::Value {
    plan.apply
        .iter()
        .map(|o| &o.object)
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} planned"))
}

/// What each example is there to show (examples/README.md), as literal values worked out from its
/// input, independently of the golden file the code writes.
#[test]
fn each_example_plans_what_it_is_there_to_show() {
    let plans = plans();
    let status = |service: &str| plans[service].status.clone().unwrap();

    // 01: an empty cluster: the model is created from the image, and the service waits for it.
    let quick_start = &plans["ml-team/llama-chat"];
    let model = object(
        quick_start,
        "AIMClusterModel",
        "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd",
    );
    assert_eq!(
        model["spec"]["image"],
        "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"
    );
    assert_eq!(status("ml-team/llama-chat")["status"], "Pending");

    // 02: the latency template on MI300X; 16Gi of model plus 10% in a temporary volume; the
    // guide's "Resource Limits" with the template's one GPU.
    let discovered = &plans["discovered/llama-chat"];
    let isvc = object(discovered, "InferenceService", "llama-chat");
    let model = &isvc["spec"]["predictor"]["model"];
    assert_eq!(
        model["runtime"],
        "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e"
    );
    assert_eq!(
        model["resources"],
        serde_json::json!({
            "requests": {"amd.com/gpu": "1", "cpu": "4", "memory": "32Gi"},
            "limits": {"amd.com/gpu": "1", "cpu": "8", "memory": "64Gi"}
        })
    );
    assert_eq!(isvc["spec"]["predictor"]["maxReplicas"], 2);
    let volume = object(discovered, "PersistentVolumeClaim", "llama-chat-temp-cache");
    assert_eq!(volume["spec"]["resources"]["requests"]["storage"], "18Gi");

    // 03: the runtime config's gateway and path template; the service's own path, label lowered.
    let routing = &plans["routing/llama-chat"];
    let route = object(routing, "HTTPRoute", "llama-chat-route");
    assert_eq!(
        route["spec"]["rules"][0]["matches"][0]["path"]["value"],
        "/ml/routing/llama-chat"
    );
    assert_eq!(route["spec"]["parentRefs"][0]["name"], "kserve-gateway");
    assert_eq!(
        status("routing/llama-batch")["routing"]["path"],
        "/routing/research/batch"
    );
    let batch = object(
        &plans["routing/llama-batch"],
        "HTTPRoute",
        "llama-batch-route",
    );
    assert_eq!(batch["spec"]["rules"][0]["timeouts"]["request"], "5m");

    // 04: the overrides make a derived template from the named one, unowned and shared.
    let complete = &plans["complete/llama-chat"];
    let derived = object(
        complete,
        "AIMServiceTemplate",
        "llama-3-8b-latency-ovr-fc673f2e",
    );
    assert_eq!(
        (
            &derived["spec"]["metric"],
            &derived["spec"]["precision"],
            &derived["spec"]["gpuSelector"]["count"]
        ),
        (
            &serde_json::json!("throughput"),
            &serde_json::json!("fp16"),
            &serde_json::json!(2)
        )
    );
    assert_eq!(
        derived["metadata"]["labels"]["aim.silogen.ai/derived-template"],
        "true"
    );

    // 05: the Available cache's model cache mounted at the model source's name.
    let caching = object(
        &plans["caching/llama-chat"],
        "InferenceService",
        "llama-chat",
    );
    let predictor = &caching["spec"]["predictor"];
    assert_eq!(
        predictor["model"]["volumeMounts"][0]["mountPath"],
        "/workspace/model-cache/amd/Llama-3.1-8B-Instruct-FP8-KV"
    );
    assert_eq!(
        predictor["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "amd-llama-3-1-8b-instruct-fp8-kv-cache"
    );
}

#[test]
fn json_output_is_one_document_listing_every_service() {
    let snapshot = input::load(&[repo("examples/02-discovered.yaml")]).unwrap();
    let text = format(&render(&snapshot, &policies()), Format::Json);
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let kinds: Vec<&str> = document["services"][0]["plan"]["apply"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["object"]["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["PersistentVolumeClaim", "InferenceService"]);
}

#[test]
fn a_malformed_object_is_reported_with_its_file_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: aim.silogen.ai/v1alpha1\nkind: AIMService\nmetadata: {name: chat, namespace: ml}\nspec:\n  model: {image: x}\n  replicas: three\n",
    )
    .unwrap();
    let error = input::load(&[file]).unwrap_err().to_string();
    assert!(
        error.contains("bad.yaml: document 1 (AIMService ml/chat)"),
        "{error}"
    );
    assert!(error.contains("spec.replicas"), "{error}");
}

#[test]
fn an_unknown_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("other.yaml");
    std::fs::write(
        &file,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n",
    )
    .unwrap();
    let error = input::load(&[file]).unwrap_err().to_string();
    assert!(
        error.contains("apps/v1 Deployment is not a kind aim-engine reads"),
        "{error}"
    );
}

#[test]
fn every_example_renders_on_its_own_as_it_does_with_the_others() {
    let all = format(
        &render(&input::load(&[repo("examples")]).unwrap(), &policies()),
        Format::Yaml,
    );
    let mut one_by_one = String::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let snapshot = input::load(&[file]).unwrap();
        one_by_one.push_str(&format(&render(&snapshot, &policies()), Format::Yaml));
    }
    assert!(all == one_by_one, "an example depends on another's objects");
}

#[test]
fn an_object_given_twice_with_different_content_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let node = |gpu: &str| {
        format!(
            "apiVersion: v1\nkind: Node\nmetadata:\n  name: n1\n  labels: {{amd.com/gpu.device-id: \"{gpu}\"}}\n"
        )
    };
    std::fs::write(dir.path().join("a.yaml"), node("74a1")).unwrap();
    std::fs::write(dir.path().join("b.yaml"), node("74a1")).unwrap();
    assert_eq!(
        input::load(&[dir.path().to_path_buf()])
            .unwrap()
            .nodes
            .len(),
        1
    );
    std::fs::write(dir.path().join("c.yaml"), node("74a5")).unwrap();
    let error = input::load(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(error.contains("c.yaml: document 1 (Node n1)"), "{error}");
    assert!(
        error.contains("given twice, with different content"),
        "{error}"
    );
}
