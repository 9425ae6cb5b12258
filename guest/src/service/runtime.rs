//! The InferenceService as the service's `RuntimeReady` condition sees it: absent, being updated,
//! not ready, failed or ready. Only KServe's report on the spec planned now counts.

use aim_api::kserve::InferenceService;

use super::freshness::{is_planned, reported_at_current};

/// What the observed InferenceService says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuntimeState {
    /// There is none.
    Absent,
    /// It exists, but KServe has not reported on the spec planned now (the object still has an
    /// earlier spec, or its status is from an earlier generation).
    Updating,
    /// KServe reported on the current spec: not ready yet, with the message of its Ready
    /// condition if it gave one.
    NotReady(Option<String>),
    /// KServe could not load the model, with its message.
    Failed(String),
    /// Ready at its current generation.
    Ready,
}

/// The state of `isvc`, given the spec hash the plan applies (`None` when it applies none now).
pub fn observe(isvc: Option<&InferenceService>, planned_hash: Option<&str>) -> RuntimeState {
    let Some(isvc) = isvc else {
        return RuntimeState::Absent;
    };
    let status = isvc.status.as_ref();
    let observed_generation = status.and_then(|s| s.observed_generation);
    if !is_planned(&isvc.metadata, planned_hash)
        || !reported_at_current(isvc.metadata.generation, observed_generation)
    {
        return RuntimeState::Updating;
    }
    let ready = status.and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
    if ready.is_some_and(|c| c.status == "True") {
        return RuntimeState::Ready;
    }
    let failure = status
        .and_then(|s| s.model_status.as_ref())
        .and_then(|m| m.last_failure_info.as_ref());
    if let Some(failure) = failure {
        let message = failure
            .message
            .clone()
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "InferenceService failed".to_owned());
        return RuntimeState::Failed(message);
    }
    RuntimeState::NotReady(
        ready
            .and_then(|c| c.message.clone())
            .filter(|m| !m.is_empty()),
    )
}

#[cfg(test)]
mod tests {
    use aim_api::conditions::annotations::SPEC_HASH;
    use serde_json::json;

    use super::*;

    fn isvc(generation: i64, hash: &str, status: serde_json::Value) -> InferenceService {
        serde_json::from_value(json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "chat", "generation": generation, "annotations": {SPEC_HASH: hash}},
            "spec": {"predictor": {}},
            "status": status,
        }))
        .unwrap()
    }

    fn ready_at(generation: i64) -> serde_json::Value {
        json!({"observedGeneration": generation, "conditions": [{"type": "Ready", "status": "True"}]})
    }

    #[test]
    fn ready_counts_only_at_the_current_generation_and_planned_spec() {
        assert_eq!(
            observe(Some(&isvc(2, "h2", ready_at(2))), Some("h2")),
            RuntimeState::Ready
        );
        assert_eq!(
            observe(Some(&isvc(2, "h2", ready_at(1))), Some("h2")),
            RuntimeState::Updating,
            "Ready at an older generation"
        );
        assert_eq!(
            observe(Some(&isvc(1, "h1", ready_at(1))), Some("h2")),
            RuntimeState::Updating,
            "the observed object still has the previous spec"
        );
        assert_eq!(
            observe(Some(&isvc(1, "h1", ready_at(1))), None),
            RuntimeState::Ready,
            "nothing planned now: what exists is current"
        );
        assert_eq!(observe(None, Some("h1")), RuntimeState::Absent);
    }

    #[test]
    fn kserves_failure_and_not_ready_messages_are_kept() {
        let failed = json!({"observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "False", "message": "predictor failed"}],
            "modelStatus": {"lastFailureInfo": {"reason": "ModelLoadFailed", "message": "out of memory"}}});
        assert_eq!(
            observe(Some(&isvc(1, "h", failed)), Some("h")),
            RuntimeState::Failed("out of memory".to_owned())
        );
        let waiting = json!({"observedGeneration": 1,
            "conditions": [{"type": "Ready", "status": "False", "message": "0/1 replicas available"}]});
        assert_eq!(
            observe(Some(&isvc(1, "h", waiting)), Some("h")),
            RuntimeState::NotReady(Some("0/1 replicas available".to_owned()))
        );
        assert_eq!(
            observe(Some(&isvc(1, "h", json!({}))), Some("h")),
            RuntimeState::NotReady(None)
        );
    }
}
