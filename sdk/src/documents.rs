//! Typed views of the documents a planner exchanges with the host: the observation of an
//! AIMService and the plan. Each names the fields policies commonly touch and keeps every other
//! field as it came (`rest`), so reading a document and writing it back loses nothing. The full
//! schemas are in `wit/schema/`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `apiVersion` of a plan document.
pub const PLAN_API_VERSION: &str = "aim.silogen.ai/plan/v1";

/// Any Kubernetes object: an AIMService, or an InferenceService or HTTPRoute in a plan.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Object {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default)]
    pub metadata: Metadata,
    /// `spec`, `status` and every other field.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// An object's metadata.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// `uid`, `generation`, `deletionTimestamp`, ...
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Object {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// The value of label `key`, if set and not empty.
    pub fn label(&self, key: &str) -> Option<&str> {
        non_empty(self.metadata.labels.as_ref()?.get(key))
    }

    /// The value of annotation `key`, if set and not empty.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        non_empty(self.metadata.annotations.as_ref()?.get(key))
    }

    pub fn set_label(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
    }

    pub fn set_annotation(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
    }

    /// `spec` (`null` when absent).
    pub fn spec(&self) -> &Value {
        self.rest.get("spec").unwrap_or(&Value::Null)
    }

    /// `status` (`null` when absent).
    pub fn status(&self) -> &Value {
        self.rest.get("status").unwrap_or(&Value::Null)
    }

    /// Whether the object is being deleted.
    pub fn is_being_deleted(&self) -> bool {
        self.metadata
            .rest
            .get("deletionTimestamp")
            .is_some_and(|time| !time.is_null())
    }
}

fn non_empty(value: Option<&String>) -> Option<&str> {
    value.map(String::as_str).filter(|value| !value.is_empty())
}

/// What the host observed for an AIMService: the service itself and everything it depends on
/// (runtime configs, models, templates, nodes' labels, owned objects) in `rest`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceObservation {
    pub service: Object,
    /// `apiVersion`, `runtimeConfigs`, `templates`, `nodes`, ...
    #[serde(flatten)]
    pub rest: Map<String, Value>,
    /// The document as the host sent it, to hand on to the default policy unchanged.
    #[serde(skip)]
    text: String,
}

impl ServiceObservation {
    /// Reads the observation document the host sent.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        let mut observation: ServiceObservation = serde_json::from_str(text)?;
        observation.text = text.to_owned();
        Ok(observation)
    }

    /// The document as the host sent it.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What a planner wants done for its subject.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub api_version: String,
    /// Objects to create or update, in this order.
    #[serde(default)]
    pub apply: Vec<PlannedObject>,
    /// Events to record on the subject.
    #[serde(default)]
    pub events: Vec<Event>,
    /// The subject's whole status, as it should be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// `delete`, `finalizers`, `requeueAfterSeconds`, ...
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            api_version: PLAN_API_VERSION.to_owned(),
            apply: Vec::new(),
            events: Vec::new(),
            status: None,
            rest: Map::new(),
        }
    }
}

/// One object to apply, and who owns it (`"subject"`, `"none"` or another observed object).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PlannedObject {
    pub object: Object,
    #[serde(default = "subject")]
    pub owner: Value,
}

fn subject() -> Value {
    Value::String("subject".to_owned())
}

/// An Event to record on the subject.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// CamelCase reason.
    pub reason: String,
    pub message: String,
}

impl Plan {
    /// The planned objects of `kind` (e.g. `HTTPRoute`), to adjust in place.
    pub fn objects_mut<'a>(&'a mut self, kind: &'a str) -> impl Iterator<Item = &'a mut Object> {
        self.apply
            .iter_mut()
            .map(|planned| &mut planned.object)
            .filter(move |object| object.kind == kind)
    }

    /// The planned objects of `kind`.
    pub fn objects<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Object> {
        self.apply
            .iter()
            .map(|planned| &planned.object)
            .filter(move |object| object.kind == kind)
    }

    /// Adds a Warning Event (`kubectl describe` shows it on the subject).
    pub fn warn(&mut self, reason: impl Into<String>, message: impl Into<String>) {
        self.event("Warning", reason, message);
    }

    /// Adds a Normal Event.
    pub fn note(&mut self, reason: impl Into<String>, message: impl Into<String>) {
        self.event("Normal", reason, message);
    }

    fn event(&mut self, type_: &str, reason: impl Into<String>, message: impl Into<String>) {
        self.events.push(Event {
            type_: type_.to_owned(),
            reason: reason.into(),
            message: message.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_plan_read_and_written_back_keeps_every_field() {
        let document = json!({
            "apiVersion": PLAN_API_VERSION,
            "apply": [{"object": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "metadata": {"name": "x", "namespace": "ml", "uid": "u"},
                                  "spec": {"resources": {}}}, "owner": "none"}],
            "delete": [{"apiVersion": "v1", "kind": "Pod", "name": "p"}],
            "status": {"status": "Running"},
            "finalizers": ["aim.silogen.ai/cleanup"],
            "events": [{"type": "Normal", "reason": "Created", "message": "m"}],
            "requeueAfterSeconds": 30,
        });
        let plan: Plan = serde_json::from_value(document.clone()).unwrap_or_default();
        assert_eq!(serde_json::to_value(&plan).ok(), Some(document));
    }

    #[test]
    fn labels_and_annotations_are_added_to_planned_objects_of_a_kind() {
        let mut plan: Plan = serde_json::from_value(json!({
            "apiVersion": PLAN_API_VERSION,
            "apply": [{"object": {"kind": "HTTPRoute", "metadata": {"name": "r"}}},
                      {"object": {"kind": "InferenceService", "metadata": {"name": "i"}}}],
        }))
        .unwrap_or_default();
        for route in plan.objects_mut("HTTPRoute") {
            route.set_label("team", "search");
        }
        assert_eq!(plan.apply[0].object.label("team"), Some("search"));
        assert_eq!(plan.apply[1].object.label("team"), None);
        assert_eq!(plan.apply[0].owner, json!("subject"));
    }
}
