//! The status of an AIMPolicy from the steps its last reconcile got through: one condition per
//! step (Fetched, DigestVerified, Compiled, FixturesPassed) and `Active`, which says which
//! version decides now, and whether a newer one was refused.

use aim_api::conditions::types;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::{Value, json};

use super::status::MAX_FAILURE_MESSAGE_BYTES;
use crate::policy::{LoadedPolicy, interface_name};

/// The steps, in order; a failed step leaves the later ones unknown.
pub const STEPS: [&str; 4] = [
    types::FETCHED,
    types::DIGEST_VERIFIED,
    types::COMPILED,
    types::FIXTURES_PASSED,
];

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepResult {
    pub step: &'static str,
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

/// How far the reconcile got with the version in the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub steps: Vec<StepResult>,
}

impl Progress {
    pub fn pass(&mut self, step: &'static str, reason: &str, message: impl Into<String>) {
        self.record(step, "True", reason, message.into());
    }

    /// A step that neither passed nor failed (fixtures not configured).
    pub fn skip(&mut self, step: &'static str, reason: &str, message: impl Into<String>) {
        self.record(step, "Unknown", reason, message.into());
    }

    pub fn fail(&mut self, step: &'static str, reason: &str, message: impl Into<String>) {
        self.record(step, "False", reason, message.into());
    }

    fn record(&mut self, step: &'static str, status: &'static str, reason: &str, message: String) {
        self.steps.push(StepResult {
            step,
            status,
            reason: reason.to_owned(),
            message,
        });
    }

    /// The failed step, if any.
    pub fn failure(&self) -> Option<&StepResult> {
        self.steps.iter().find(|s| s.status == "False")
    }
}

/// The status for `progress`, with `active` the version in force afterwards. Conditions whose
/// status did not change keep their `lastTransitionTime` from `previous`; the others are left
/// without one, for the writer to stamp.
pub fn policy_status(
    generation: Option<i64>,
    progress: &Progress,
    active: Option<&LoadedPolicy>,
    previous: &[Condition],
) -> Value {
    let mut conditions: Vec<Value> = STEPS
        .iter()
        .map(
            |step| match progress.steps.iter().find(|s| s.step == *step) {
                Some(result) => condition(
                    step,
                    result.status,
                    &result.reason,
                    &result.message,
                    generation,
                    previous,
                ),
                None => condition(
                    step,
                    "Unknown",
                    "NotReached",
                    "An earlier step did not pass",
                    generation,
                    previous,
                ),
            },
        )
        .collect();
    let failure = progress.failure();
    let (state, status, reason, message) = match (active, failure) {
        (Some(policy), None) => (
            "Active",
            "True",
            "Active".to_owned(),
            format!(
                "{} decides for the runtime configs naming this policy",
                describe(policy)
            ),
        ),
        (Some(policy), Some(failure)) => (
            "Degraded",
            "True",
            "LastGoodVersionActive".to_owned(),
            format!(
                "The new version was refused ({}: {}); {} stays active",
                failure.reason,
                failure.message,
                describe(policy)
            ),
        ),
        (None, Some(failure)) => (
            "Failed",
            "False",
            failure.reason.clone(),
            format!("No version is active: {}", failure.message),
        ),
        (None, None) => (
            "Failed",
            "False",
            "NotActive".to_owned(),
            "No version is active".to_owned(),
        ),
    };
    conditions.push(condition(
        types::ACTIVE,
        status,
        &reason,
        &message,
        generation,
        previous,
    ));
    let mut status = json!({
        "observedGeneration": generation,
        "status": state,
        "conditions": conditions,
    });
    if let Some(policy) = active {
        let implements: Vec<&str> = policy
            .info()
            .implements
            .iter()
            .map(|i| interface_name(*i))
            .collect();
        status["activeDigest"] = json!(policy.digest().to_string());
        status["activeVersion"] =
            json!(format!("{} {}", policy.info().name, policy.info().version));
        status["implements"] = json!(implements);
    }
    status
}

/// `sha256:... (name version)`.
pub fn describe(policy: &LoadedPolicy) -> String {
    format!(
        "{} ({} {})",
        policy.digest(),
        policy.info().name,
        policy.info().version
    )
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    previous: &[Condition],
) -> Value {
    let mut condition = json!({
        "type": type_,
        "status": status,
        "reason": reason,
        "message": crate::text::truncate_bytes(message, MAX_FAILURE_MESSAGE_BYTES),
        "observedGeneration": generation,
    });
    if let Some(kept) = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
    {
        condition["lastTransitionTime"] = json!(kept.last_transition_time);
    }
    condition
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types_and_statuses(status: &Value) -> Vec<(String, String)> {
        status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["type"].as_str().unwrap().into(),
                    c["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    }

    #[test]
    fn a_failed_fetch_leaves_later_steps_unknown_and_nothing_active() {
        let mut progress = Progress::default();
        progress.fail(types::FETCHED, "ConfigMapNotFound", "missing");
        let status = policy_status(Some(2), &progress, None, &[]);
        assert_eq!(status["status"], "Failed");
        assert_eq!(
            types_and_statuses(&status),
            [
                ("Fetched".into(), "False".into()),
                ("DigestVerified".into(), "Unknown".into()),
                ("Compiled".into(), "Unknown".into()),
                ("FixturesPassed".into(), "Unknown".into()),
                ("Active".into(), "False".into()),
            ]
        );
        assert_eq!(status["conditions"][4]["reason"], "ConfigMapNotFound");
        assert_eq!(status["observedGeneration"], 2);
        assert!(status.get("activeDigest").is_none());
    }

    #[test]
    fn only_new_or_flipped_conditions_are_left_for_stamping() {
        let mut progress = Progress::default();
        progress.fail(types::FETCHED, "ConfigMapNotFound", "missing");
        let mut first = policy_status(Some(1), &progress, None, &[]);
        crate::controller::status::stamp_transitions(&mut first, "2026-01-01T00:00:00Z");
        let previous: Vec<Condition> = serde_json::from_value(first["conditions"].clone()).unwrap();
        let mut progress = Progress::default();
        progress.pass(types::FETCHED, "Fetched", "1 byte");
        progress.fail(types::DIGEST_VERIFIED, "PolicyDigestMismatch", "differs");
        let second = policy_status(Some(1), &progress, None, &previous);
        assert!(second["conditions"][0].get("lastTransitionTime").is_none());
        assert!(second["conditions"][1].get("lastTransitionTime").is_none());
        assert_eq!(
            second["conditions"][2]["lastTransitionTime"],
            "2026-01-01T00:00:00Z"
        );
    }
}
