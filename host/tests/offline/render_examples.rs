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

fn policies() -> PolicySet {
    let runtime = PolicyRuntime::new(RuntimeConfig {
        cache: CacheLocation::Disabled,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let default = load_default_policy(&runtime).unwrap();
    PolicySet::new(None, default, Arc::new(OutputRules::new("aim-system")))
}

fn repo(path: &str) -> PathBuf {
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
