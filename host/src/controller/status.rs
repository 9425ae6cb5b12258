//! Writing a planned status: conditions the policy left without `lastTransitionTime` (new or
//! flipped ones; policies have no clock) are stamped now, and nothing is written when the status
//! is already what the plan says, so a status write never triggers a pointless reconcile.

use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::core::object::HasStatus;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::{Error, Request};

/// The subject's status as JSON; only the status is encoded, not the whole object.
pub fn current_status<K: HasStatus<Status: Serialize>>(subject: &K) -> Option<Value> {
    subject
        .status()
        .and_then(|status| serde_json::to_value(status).ok())
}

/// Writes `status` to `subject` by server-side apply on the status subresource.
pub async fn write_status<K>(
    api: &Api<K>,
    manager: &str,
    subject: &K,
    mut status: Value,
) -> Result<bool, Error>
where
    K: Resource<DynamicType = ()>
        + HasStatus<Status: Serialize>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    stamp_transitions(&mut status, &Timestamp::now().to_string());
    if current_status(subject).as_ref() == Some(&status) {
        return Ok(false);
    }
    let body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &subject.name_any(),
        &PatchParams::apply(manager).force(),
        &Patch::Apply(&body),
    )
    .await
    .map_err(|e| Error::kube(Request::WriteStatus, e))?;
    Ok(true)
}

/// Fills a missing `lastTransitionTime` of every condition with `now` (RFC 3339).
pub fn stamp_transitions(status: &mut Value, now: &str) {
    let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) else {
        return;
    };
    for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
        if !condition
            .get("lastTransitionTime")
            .is_some_and(Value::is_string)
        {
            condition.insert("lastTransitionTime".into(), Value::String(now.to_owned()));
        }
    }
}

/// Longest failure message written to a status; the whole of a long one (a policy's trap
/// backtrace, an apiserver's answer) is in the operator's log.
pub const MAX_FAILURE_MESSAGE_BYTES: usize = 4096;

/// The subject's status with `Ready` False and `Failure` True for `reason`, everything else kept:
/// how a failed reconcile shows on the object. The message is cut to
/// [`MAX_FAILURE_MESSAGE_BYTES`].
pub fn with_failure(
    current: Option<Value>,
    generation: Option<i64>,
    reason: &str,
    message: &str,
) -> Value {
    let mut status = current
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let previous = status
        .get("conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut conditions: Vec<Value> = previous
        .iter()
        .filter(|c| c["type"] != "Ready" && c["type"] != "Failure")
        .cloned()
        .collect();
    let message = crate::text::truncate_bytes(message, MAX_FAILURE_MESSAGE_BYTES);
    for (type_, value) in [("Ready", "False"), ("Failure", "True")] {
        let mut condition =
            json!({"type": type_, "status": value, "reason": reason, "message": message});
        if let Some(generation) = generation {
            condition["observedGeneration"] = json!(generation);
        }
        // A condition keeps the time it last flipped: a failure that repeats must write nothing
        // new, or each write would wake the object and fail it again in a loop.
        let since = previous
            .iter()
            .find(|c| c["type"] == type_ && c["status"] == value)
            .and_then(|c| c.get("lastTransitionTime"));
        if let Some(since) = since {
            condition["lastTransitionTime"] = since.clone();
        }
        conditions.push(condition);
    }
    status["conditions"] = Value::Array(conditions);
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conditions_without_a_time_are_stamped() {
        let mut status = json!({"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
            {"type": "Failure", "status": "False"}
        ]});
        stamp_transitions(&mut status, "2026-11-26T06:00:00Z");
        assert_eq!(
            status["conditions"][0]["lastTransitionTime"],
            "2025-01-01T00:00:00Z"
        );
        assert_eq!(
            status["conditions"][1]["lastTransitionTime"],
            "2026-11-26T06:00:00Z"
        );
    }

    #[test]
    fn a_failure_replaces_ready_and_failure_and_keeps_the_rest() {
        let current = json!({"status": "Running", "conditions": [
            {"type": "Resolved", "status": "True"}, {"type": "Ready", "status": "True"}
        ]});
        let status = with_failure(
            Some(current),
            Some(3),
            "PolicyTimeout",
            "the policy ran out of time",
        );
        assert_eq!(status["status"], "Running");
        let types: Vec<&str> = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types, ["Resolved", "Ready", "Failure"]);
        assert_eq!(status["conditions"][1]["reason"], "PolicyTimeout");
        assert_eq!(status["conditions"][2]["observedGeneration"], 3);
    }

    #[test]
    fn a_failure_that_repeats_keeps_its_transition_times_so_nothing_new_is_written() {
        let mut first = with_failure(None, Some(1), "NameConflict", "held by someone else");
        stamp_transitions(&mut first, "2026-12-07T04:00:00Z");
        let mut again = with_failure(
            Some(first.clone()),
            Some(1),
            "NameConflict",
            "held by someone else",
        );
        stamp_transitions(&mut again, "2026-12-07T04:00:05Z");
        assert_eq!(again, first);

        // Ready was True before: it flips, so it gets the new time.
        let running = json!({"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
        ]});
        let mut failed = with_failure(Some(running), None, "PolicyTimeout", "late");
        stamp_transitions(&mut failed, "2026-12-07T04:00:00Z");
        assert_eq!(
            failed["conditions"][0]["lastTransitionTime"],
            "2026-12-07T04:00:00Z"
        );
    }

    #[test]
    fn a_long_failure_message_is_cut_by_bytes_on_a_character_boundary() {
        let message = "ü".repeat(MAX_FAILURE_MESSAGE_BYTES);
        let status = with_failure(None, None, "PolicyTrapped", &message);
        let written = status["conditions"][0]["message"].as_str().unwrap();
        assert!(
            written.len() <= MAX_FAILURE_MESSAGE_BYTES,
            "{}",
            written.len()
        );
        assert!(written.ends_with(" ..."));
    }
}
