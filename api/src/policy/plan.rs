//! Plans: what a policy wants done for one subject. The host checks a plan (kinds, namespaces,
//! names, size) before it applies anything, and sets owner references itself.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The answer of a planner call.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always [`super::PLAN_API_VERSION`].
    pub api_version: String,
    /// Objects to create or update by server-side apply, in this order.
    #[serde(default)]
    pub apply: Vec<PlannedObject>,
    /// Objects to delete (cleanup on the subject's deletion).
    #[serde(default)]
    pub delete: Vec<ObjectReference>,
    /// The subject's whole `status`, as it should be written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
    /// Finalizers the subject must carry; the host adds or removes the operator's own to match.
    #[serde(default)]
    pub finalizers: Vec<String>,
    /// Events to record on the subject.
    #[serde(default)]
    pub events: Vec<PlannedEvent>,
    /// Reconcile again after this many seconds even if nothing changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<u32>,
    /// Ask the host to read an image's labels from its registry and plan again with the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspect_image: Option<ImageInspectionRequest>,
    /// Ask the host to read the output of a finished discovery Job from its pod's log and plan
    /// again with it (`discoveryLog` in the template observation). When the host finds no output,
    /// this plan stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_discovery_log: Option<DiscoveryLogRequest>,
    /// Ask the host to read the volume binding mode of a storage class and plan again with it
    /// (`volumeBindingMode` in the model cache observation). When the host cannot read it, this
    /// plan stands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_binding_mode: Option<BindingModeRequest>,
}

/// One object to apply, and who owns it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedObject {
    /// The full object: `apiVersion`, `kind`, `metadata` (name, namespace, labels, annotations) and
    /// its spec. Owner references in it are ignored.
    pub object: serde_json::Value,
    /// Who owns it; the host writes the owner reference.
    #[serde(default)]
    pub owner: Owner,
}

/// Who owns a planned object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Owner {
    /// The subject owns it: it is garbage-collected with the subject.
    #[default]
    Subject,
    /// Nobody owns it: it outlives the subject (auto-created models, derived templates, caches).
    None,
    /// Another observed object owns it (e.g. a template cache owned by its template). The host
    /// checks the object was part of the observation.
    Object(ObjectReference),
}

/// Names an object.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// `group/version`, or `v1` for the core group.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// An Event to record on the subject.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlannedEvent {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: EventType,
    /// CamelCase reason.
    pub reason: String,
    /// A sentence for humans.
    pub message: String,
}

/// Event severity.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something needs attention.
    Warning,
}

/// A discovery Job whose output the policy needs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryLogRequest {
    /// Name of the Job: one the subject controls, in the namespace its discovery runs in.
    pub job: String,
}

/// A storage class whose volume binding mode the policy needs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BindingModeRequest {
    /// Name of the StorageClass: the class of a claim the subject controls.
    pub storage_class: String,
}

/// An image whose labels the policy needs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageInspectionRequest {
    /// Image reference.
    pub image: String,
    /// Names of pull secrets (in the subject's namespace, or the operator's for cluster subjects).
    #[serde(default)]
    pub pull_secrets: Vec<String>,
}
