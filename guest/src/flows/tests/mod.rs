//! Scenario tests of the flows: observations as the host would send them, plans checked as the
//! host would apply them.

mod model;
mod model_cache;
mod template;
mod template_cache;

use std::collections::BTreeMap;

use aim_api::policy::observation::NodeLabels;
use aim_api::policy::plan::{EventType, Plan};
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta, Time};
use serde_json::Value;

pub const TRANSITION_TIME: &str = "2025-01-01T00:00:00Z";

/// A node whose labels say it has MI300X GPUs.
pub fn mi300x_node() -> NodeLabels {
    NodeLabels {
        name: "gpu-node".to_owned(),
        labels: BTreeMap::from([("amd.com/gpu.device-id".to_owned(), "74a1".to_owned())]),
    }
}

/// A Job with the given labels and, if given, a true condition of that type.
pub fn job(name: &str, labels: &[(&str, &str)], condition: Option<&str>) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            creation_timestamp: Some(Time(TRANSITION_TIME.parse().unwrap())),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        status: Some(JobStatus {
            conditions: condition.map(|type_| {
                vec![JobCondition {
                    type_: type_.to_owned(),
                    status: "True".to_owned(),
                    ..JobCondition::default()
                }]
            }),
            ..JobStatus::default()
        }),
        ..Job::default()
    }
}

/// A condition as a previous reconcile left it.
pub fn previous_condition(type_: &str, status: &str, reason: &str, generation: i64) -> Condition {
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: String::new(),
        observed_generation: Some(generation),
        last_transition_time: Time(TRANSITION_TIME.parse().unwrap()),
    }
}

/// The status document of a plan.
pub fn status(plan: &Plan) -> &Value {
    plan.status.as_ref().expect("the plan reports a status")
}

/// One condition of the plan's status.
pub fn condition<'a>(plan: &'a Plan, type_: &str) -> &'a Value {
    status(plan)["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {}", status(plan)))
}

/// `kind/name` of every object the plan applies.
pub fn applied(plan: &Plan) -> Vec<String> {
    plan.apply
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o.object["kind"].as_str().unwrap_or("?"),
                o.object["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

/// The applied object of a kind.
pub fn object<'a>(plan: &'a Plan, kind: &str) -> &'a Value {
    &plan
        .apply
        .iter()
        .find(|o| o.object["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", applied(plan)))
        .object
}

/// `type reason` of every event.
pub fn events(plan: &Plan) -> Vec<String> {
    plan.events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                if e.type_ == EventType::Normal {
                    "Normal"
                } else {
                    "Warning"
                },
                e.reason
            )
        })
        .collect()
}

/// The plan's status as the host writes it: conditions without a time get the write time.
pub fn written_status<T: serde::de::DeserializeOwned>(plan: &Plan) -> T {
    let mut written = status(plan).clone();
    for condition in written["conditions"].as_array_mut().into_iter().flatten() {
        if condition.get("lastTransitionTime").is_none() {
            condition["lastTransitionTime"] = Value::from(TRANSITION_TIME);
        }
    }
    serde_json::from_value(written).unwrap()
}
