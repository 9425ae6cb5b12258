//! Pieces every flow's plan is made of: an empty plan, events, the status document, typed objects
//! as JSON, and pull-secret lists merged without duplicates.

use std::collections::BTreeMap;

use aim_api::policy::PLAN_API_VERSION;
use aim_api::policy::plan::{EventType, Plan, PlannedEvent};
use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde::Serialize;
use serde_json::Value;

use crate::PolicyFailure;
use crate::conditions::Conditions;

/// A plan that does nothing yet.
pub fn new_plan() -> Plan {
    Plan {
        api_version: PLAN_API_VERSION.to_owned(),
        ..Plan::default()
    }
}

/// An event to record on the subject.
pub fn event(type_: EventType, reason: &str, message: impl Into<String>) -> PlannedEvent {
    PlannedEvent {
        type_,
        reason: reason.to_owned(),
        message: message.into(),
    }
}

/// A typed object as the JSON the host applies.
pub fn to_json(value: &impl Serialize) -> Result<Value, PolicyFailure> {
    serde_json::to_value(value).map_err(|error| {
        PolicyFailure::InvalidInput(format!("could not encode an object: {error}"))
    })
}

/// The whole status document: the typed status with its `conditions` taken from the builder,
/// which alone knows which transition times to keep.
pub fn status_document(
    status: &impl Serialize,
    conditions: Conditions<'_>,
) -> Result<Value, PolicyFailure> {
    let mut document = to_json(status)?;
    if let Value::Object(fields) = &mut document {
        fields.insert("conditions".to_owned(), conditions.into_json());
    }
    Ok(document)
}

/// The condition of a type among a subject's current conditions.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|condition| condition.type_ == type_)
}

/// Pull secrets from several sources, first occurrence of each name kept, blank names dropped.
pub fn merge_pull_secrets(sources: &[&[LocalObjectReference]]) -> Vec<LocalObjectReference> {
    let mut merged: Vec<LocalObjectReference> = Vec::new();
    for secret in sources.iter().flat_map(|source| source.iter()) {
        if secret.name.trim().is_empty() || merged.iter().any(|kept| kept.name == secret.name) {
            continue;
        }
        merged.push(secret.clone());
    }
    merged
}

/// A label map from key/value pairs.
pub fn label_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str) -> LocalObjectReference {
        LocalObjectReference {
            name: name.to_owned(),
        }
    }

    #[test]
    fn merged_pull_secrets_keep_the_first_of_each_name_and_drop_blank_ones() {
        let template = [secret("a"), secret("")];
        let config = [secret("b"), secret("a")];
        let merged = merge_pull_secrets(&[&template, &config]);
        let names: Vec<&str> = merged.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn the_status_document_carries_the_built_conditions() {
        let mut conditions = Conditions::new(&[], Some(3));
        conditions.set(
            "Ready",
            aim_api::conditions::ConditionStatus::True,
            "Ok",
            "fine",
        );
        let document =
            status_document(&serde_json::json!({"status": "Ready"}), conditions).unwrap();
        assert_eq!(document["status"], "Ready");
        assert_eq!(document["conditions"][0]["observedGeneration"], 3);
    }
}
