//! Every YAML example of the AIMService guide and the runtime configuration guide parses into the
//! API types and serializes back without losing any field it sets.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use aim_api::v1alpha1::{AIMClusterRuntimeConfig, AIMRuntimeConfig, AIMService, AIMServiceStatus};
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn documents(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|doc| {
            let yaml = serde_yaml::Value::deserialize(doc).expect("valid YAML");
            serde_json::to_value(yaml).expect("YAML maps to JSON")
        })
        .collect()
}

use serde::Deserialize;

/// Asserts that every field set in `input` comes back with the same value from `output`
/// (defaults added by the types are allowed).
fn assert_contains(output: &Value, input: &Value, path: &str) {
    match (input, output) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (key, value) in expected {
                let got = actual
                    .get(key)
                    .unwrap_or_else(|| panic!("field {path}.{key} was lost"));
                assert_contains(got, value, &format!("{path}.{key}"));
            }
        }
        (Value::Array(expected), Value::Array(actual)) => {
            assert_eq!(expected.len(), actual.len(), "list {path} changed length");
            for (index, (e, a)) in expected.iter().zip(actual).enumerate() {
                assert_contains(a, e, &format!("{path}[{index}]"));
            }
        }
        _ => assert_eq!(output, input, "field {path} changed"),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(document: &Value) {
    let typed: T = serde_json::from_value(document.clone())
        .unwrap_or_else(|error| panic!("{error}: {document}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    assert_contains(&back, document, "");
}

#[test]
fn every_service_example_round_trips_without_loss() {
    let docs = documents(include_str!("guide-examples/services.yaml"));
    assert_eq!(docs.len(), 14);
    for doc in &docs {
        round_trip::<AIMService>(doc);
    }
}

#[test]
fn the_example_status_round_trips_without_loss() {
    let docs = documents(include_str!("guide-examples/service-status.yaml"));
    round_trip::<AIMServiceStatus>(&docs[0]["status"]);
}

#[test]
fn every_runtime_config_example_round_trips_without_loss() {
    let docs = documents(include_str!("guide-examples/runtime-configs.yaml"));
    assert_eq!(docs.len(), 14);
    for doc in &docs {
        match doc["kind"].as_str() {
            Some("AIMRuntimeConfig") => round_trip::<AIMRuntimeConfig>(doc),
            Some("AIMClusterRuntimeConfig") => round_trip::<AIMClusterRuntimeConfig>(doc),
            Some("Secret") => round_trip::<Secret>(doc),
            Some("ServiceAccount") => round_trip::<ServiceAccount>(doc),
            other => panic!("unexpected kind {other:?}"),
        }
    }
}

#[test]
fn omitted_fields_take_the_documented_defaults() {
    let docs = documents(include_str!("guide-examples/services.yaml"));
    let quick_start: AIMService = serde_json::from_value(docs[0].clone()).unwrap();
    assert_eq!(quick_start.spec.replicas, 1);
    assert_eq!(quick_start.spec.runtime_config_name, "default");
    assert!(!quick_start.spec.cache_model);
}
