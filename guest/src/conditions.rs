//! Building a status's conditions. Policies have no clock, so a condition whose status did not
//! change keeps its previous `lastTransitionTime`, and a new or flipped one leaves it empty for the
//! host to stamp with the time it writes the status.

use aim_api::conditions::ConditionStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::{Map, Value, json};

/// Collects conditions in the order they are set; setting a type twice keeps the last value.
#[derive(Debug, Default)]
pub struct Conditions<'a> {
    previous: &'a [Condition],
    generation: Option<i64>,
    items: Vec<(String, Value)>,
}

impl<'a> Conditions<'a> {
    /// Starts from the subject's current conditions and generation.
    pub fn new(previous: &'a [Condition], generation: Option<i64>) -> Self {
        Self {
            previous,
            generation,
            items: Vec::new(),
        }
    }

    /// Sets one condition.
    pub fn set(
        &mut self,
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
    ) {
        let mut condition = Map::new();
        condition.insert("type".into(), json!(type_));
        condition.insert("status".into(), json!(status.as_str()));
        condition.insert("reason".into(), json!(reason));
        condition.insert("message".into(), json!(message.into()));
        if let Some(generation) = self.generation {
            condition.insert("observedGeneration".into(), json!(generation));
        }
        let unchanged = self
            .previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status.as_str());
        if let Some(Ok(time)) = unchanged.map(|old| serde_json::to_value(&old.last_transition_time))
        {
            condition.insert("lastTransitionTime".into(), time);
        }
        match self.items.iter_mut().find(|(t, _)| t == type_) {
            Some((_, value)) => *value = Value::Object(condition),
            None => self
                .items
                .push((type_.to_owned(), Value::Object(condition))),
        }
    }

    /// The status of a condition set so far.
    pub fn status_of(&self, type_: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(t, _)| t == type_)
            .and_then(|(_, v)| v["status"].as_str())
    }

    /// The conditions, in the order they were first set.
    pub fn into_json(self) -> Value {
        Value::Array(self.items.into_iter().map(|(_, value)| value).collect())
    }
}

#[cfg(test)]
mod tests {
    use aim_api::conditions::types;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    use super::*;

    fn previous(status: &str) -> Vec<Condition> {
        vec![Condition {
            type_: types::READY.into(),
            status: status.into(),
            reason: "Old".into(),
            message: String::new(),
            observed_generation: Some(1),
            last_transition_time: Time(
                serde_json::from_value(json!("2025-01-01T00:00:00Z")).unwrap(),
            ),
        }]
    }

    #[test]
    fn an_unchanged_condition_keeps_its_transition_time() {
        let old = previous("True");
        let mut conditions = Conditions::new(&old, Some(2));
        conditions.set(types::READY, ConditionStatus::True, "Ready", "ok");
        let json = conditions.into_json();
        assert_eq!(json[0]["lastTransitionTime"], "2025-01-01T00:00:00Z");
        assert_eq!(json[0]["observedGeneration"], 2);
    }

    #[test]
    fn a_flipped_condition_leaves_the_time_to_the_host() {
        let old = previous("False");
        let mut conditions = Conditions::new(&old, None);
        conditions.set(types::READY, ConditionStatus::True, "Ready", "ok");
        assert!(
            conditions.into_json()[0]
                .get("lastTransitionTime")
                .is_none()
        );
    }

    #[test]
    fn setting_a_type_twice_keeps_its_place_and_the_last_value() {
        let mut conditions = Conditions::new(&[], None);
        conditions.set("A", ConditionStatus::True, "R", "");
        conditions.set("B", ConditionStatus::True, "R", "");
        conditions.set("A", ConditionStatus::False, "S", "");
        let json = conditions.into_json();
        assert_eq!(json[0]["type"], "A");
        assert_eq!(json[0]["status"], "False");
        assert_eq!(json[1]["type"], "B");
    }
}
