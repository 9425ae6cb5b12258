//! The CEL rules of the generated CRDs, evaluated locally against the exact schemas the
//! apiserver receives: each accepts the good case and rejects the bad one with its message.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use aim_api::v1alpha1::{AIMClusterServiceTemplate, AIMModelCache, AIMService, AIMServiceTemplate};
use kube::CustomResourceExt;
use kube_cel::Validator;
use serde_json::{Value, json};

fn schema<K: CustomResourceExt>() -> Value {
    let crd = serde_json::to_value(K::crd()).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn messages(schema: &Value, object: &Value, old: Option<&Value>) -> Vec<String> {
    match Validator::new().validate(schema, object, old) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.into_vec().into_iter().map(|e| e.message).collect(),
    }
}

fn service(model: Value, overrides: Value) -> Value {
    json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": "llama-chat", "namespace": "ml-team"},
        "spec": {"model": model, "overrides": overrides}
    })
}

#[test]
fn a_service_needs_exactly_one_of_model_ref_or_image() {
    let schema = schema::<AIMService>();
    let expected = "exactly one of ref or image must be specified";
    let image = service(json!({"image": "ghcr.io/silogen/aim:1"}), json!({}));
    let reference = service(json!({"ref": "meta-llama-3-8b"}), json!({}));
    let both = service(json!({"ref": "a", "image": "b"}), json!({}));
    let neither = service(json!({}), json!({}));
    assert!(messages(&schema, &image, None).is_empty());
    assert!(messages(&schema, &reference, None).is_empty());
    assert!(
        messages(&schema, &both, None)
            .iter()
            .any(|m| m.contains(expected))
    );
    assert!(
        messages(&schema, &neither, None)
            .iter()
            .any(|m| m.contains(expected))
    );
}

#[test]
fn service_overrides_are_immutable() {
    let schema = schema::<AIMService>();
    let model = json!({"image": "ghcr.io/silogen/aim:1"});
    let old = service(
        model.clone(),
        json!({"metric": "latency", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"}}),
    );
    assert!(messages(&schema, &old, Some(&old)).is_empty());
    let cases = [
        (
            json!({"metric": "throughput", "precision": "fp8", "gpuSelector": {"count": 1, "model": "MI300X"}}),
            "metric is immutable",
        ),
        (
            json!({"metric": "latency", "precision": "fp16", "gpuSelector": {"count": 1, "model": "MI300X"}}),
            "precision is immutable",
        ),
        (
            json!({"metric": "latency", "precision": "fp8", "gpuSelector": {"count": 2, "model": "MI300X"}}),
            "gpuSelector is immutable",
        ),
    ];
    for (overrides, expected) in cases {
        let new = service(model.clone(), overrides);
        let found = messages(&schema, &new, Some(&old));
        assert!(
            found.iter().any(|m| m.contains(expected)),
            "{expected}: {found:?}"
        );
    }
}

#[test]
fn a_template_model_name_is_immutable() {
    let template = |model: &str| {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate",
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {"modelName": model, "metric": "latency"}
        })
    };
    for schema in [
        schema::<AIMServiceTemplate>(),
        schema::<AIMClusterServiceTemplate>(),
    ] {
        let old = template("llama");
        assert!(messages(&schema, &old, Some(&old)).is_empty());
        let found = messages(&schema, &template("qwen"), Some(&old));
        assert!(
            found.iter().any(|m| m.contains("model name is immutable")),
            "{found:?}"
        );
    }
}

#[test]
fn template_runtime_parameters_are_immutable() {
    let schema = schema::<AIMServiceTemplate>();
    let template = |precision: &str| {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate",
            "metadata": {"name": "t", "namespace": "ns"},
            "spec": {"modelName": "llama", "precision": precision}
        })
    };
    let found = messages(&schema, &template("fp16"), Some(&template("fp8")));
    assert!(
        found.iter().any(|m| m.contains("precision is immutable")),
        "{found:?}"
    );
}

#[test]
fn a_model_cache_source_uri_is_immutable() {
    let schema = schema::<AIMModelCache>();
    let cache = |uri: &str| {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModelCache",
            "metadata": {"name": "c", "namespace": "ns"},
            "spec": {"sourceUri": uri, "size": "1Gi"}
        })
    };
    let old = cache("hf://amd/Llama-3.1-8B-Instruct-FP8-KV");
    assert!(messages(&schema, &old, Some(&old)).is_empty());
    let found = messages(
        &schema,
        &cache("hf://HuggingFaceTB/SmolLM2-135M"),
        Some(&old),
    );
    assert!(
        found.iter().any(|m| m.contains("sourceUri is immutable")),
        "{found:?}"
    );
}

#[test]
fn the_precision_enum_lists_every_guide_value_and_fp32() {
    let schema = schema::<AIMService>();
    let precision =
        &schema["properties"]["spec"]["properties"]["overrides"]["properties"]["precision"];
    let values: Vec<&str> = precision["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum in {precision}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in ["auto", "fp4", "fp8", "fp16", "fp32", "bf16", "int4", "int8"] {
        assert!(
            values.contains(&expected),
            "{expected} missing from {values:?}"
        );
    }
}
