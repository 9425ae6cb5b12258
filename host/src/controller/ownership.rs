//! Whose an object is, decided from the cluster, never from a plan. The operator applies only
//! over objects it manages (its field managers wrote them), deletes only objects the deleting
//! subject controls (its controller reference, or the host's `created-by` stamp), and takes
//! owners only from the observation the plan was made from. It stamps on every object it
//! applies the labels its own watch caches select on, so no planner can hide an object from it.

use aim_api::conditions::{label_values, labels};
use aim_api::policy::plan::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{Map, Value, json};

use super::identity::OPERATOR_MANAGERS;

/// What the operator knows of an object that already exists, from its caches or the apiserver.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Existing {
    pub metadata: ObjectMeta,
    /// `spec.requestingNamespace`, for an AIMClusterModel.
    pub requesting_namespace: Option<String>,
}

/// Whether one of the operator's controllers wrote the object.
pub fn is_managed(metadata: &ObjectMeta) -> bool {
    metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| entry.manager.as_deref())
        .any(|manager| OPERATOR_MANAGERS.contains(&manager))
}

/// Who wrote the object, for the message saying it is not the operator's.
pub fn writers(metadata: &ObjectMeta) -> String {
    let mut managers: Vec<&str> = metadata
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| entry.manager.as_deref())
        .collect();
    managers.dedup();
    if managers.is_empty() {
        "someone else".to_owned()
    } else {
        managers.join(", ")
    }
}

/// Why the operator may not apply `planned` for its subject over `existing` (`None`: it may).
pub fn held_by_other(
    existing: &Existing,
    planned: &ObjectReference,
    subject_namespace: Option<&str>,
    owner: Option<&OwnerReference>,
) -> Option<String> {
    let what = describe(planned);
    if !is_managed(&existing.metadata) {
        return Some(format!(
            "{what} already exists and was written by {}, not this operator; it is left as it is",
            writers(&existing.metadata)
        ));
    }
    // A cluster model created for one namespace is not another namespace's to rewrite.
    if planned.kind == "AIMClusterModel"
        && let Some(subject_namespace) = subject_namespace
        && existing.requesting_namespace.as_deref() != Some(subject_namespace)
    {
        let holder = existing
            .requesting_namespace
            .as_deref()
            .map_or_else(|| "an admin".to_owned(), |ns| format!("namespace {ns:?}"));
        return Some(format!("{what} already exists, created for {holder}"));
    }
    // Another subject's child keeps its controller; the same subject recreated (same kind and
    // name, new UID) adopts what its earlier self left.
    let controller = existing
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|reference| reference.controller == Some(true));
    if let (Some(current), Some(wanted)) = (controller, owner)
        && current.uid != wanted.uid
        && (current.kind != wanted.kind || current.name != wanted.name)
    {
        return Some(format!(
            "{what} already exists and belongs to {} {:?}",
            current.kind, current.name
        ));
    }
    None
}

/// Whether the subject with UID `subject_uid` controls `metadata`'s object and so may delete
/// it: it is the object's controller, or the host recorded it as the object's creator, or it is
/// the subject itself and the operator created it.
pub fn controls(metadata: &ObjectMeta, subject_uid: &str) -> bool {
    if subject_uid.is_empty() {
        return false;
    }
    let controller = metadata
        .owner_references
        .iter()
        .flatten()
        .any(|reference| reference.controller == Some(true) && reference.uid == subject_uid);
    let creator = metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::CREATED_BY))
        .is_some_and(|uid| uid == subject_uid);
    let itself = metadata.uid.as_deref() == Some(subject_uid) && is_managed(metadata);
    controller || creator || itself
}

/// The `app.kubernetes.io/managed-by` values the operator's caches select on, per kind; the
/// first is stamped when a plan sets none of them.
fn managed_by_values(kind: &str) -> &'static [&'static str] {
    match kind {
        "PersistentVolumeClaim" => &[
            label_values::MANAGED_BY_AIM_CONTROLLER,
            label_values::MANAGED_BY_SERVICE_CONTROLLER,
            label_values::MANAGED_BY_MODEL_CACHE_CONTROLLER,
        ],
        "Job" => &[
            label_values::MANAGED_BY_AIM_CONTROLLER,
            label_values::MANAGED_BY_MODEL_CACHE_CONTROLLER,
        ],
        _ => &[label_values::MANAGED_BY_AIM_CONTROLLER],
    }
}

/// Stamps the host's labels on a planned object: `managed-by` (one its caches select on), the
/// owner's kind and UID, and the creating subject's UID (`created_by`: the subject for a new
/// object, whatever the existing one records otherwise).
pub fn stamp_labels(
    object: &mut Value,
    kind: &str,
    owner: Option<&OwnerReference>,
    created_by: Option<&str>,
) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels_value = metadata
        .entry("labels")
        .or_insert_with(|| Value::Object(Map::new()));
    if !labels_value.is_object() {
        *labels_value = Value::Object(Map::new());
    }
    let Some(stamped) = labels_value.as_object_mut() else {
        return;
    };
    let accepted = managed_by_values(kind);
    let planned = stamped.get(labels::APP_MANAGED_BY).and_then(Value::as_str);
    if !planned.is_some_and(|value| accepted.contains(&value)) {
        stamped.insert(labels::APP_MANAGED_BY.into(), json!(accepted[0]));
    }
    stamped.remove(labels::OWNER_KIND);
    stamped.remove(labels::OWNER_UID);
    if let Some(owner) = owner {
        stamped.insert(labels::OWNER_KIND.into(), json!(owner.kind));
        stamped.insert(labels::OWNER_UID.into(), json!(owner.uid));
    }
    match created_by {
        Some(uid) => {
            stamped.insert(labels::CREATED_BY.into(), json!(uid));
        }
        None => {
            stamped.remove(labels::CREATED_BY);
        }
    }
}

/// The UID of the object `reference` names in the observation document, if it is there: owners
/// come only from what the plan was made from, never from a lookup with the operator's rights.
pub fn observed_uid(observation: &Value, reference: &ObjectReference) -> Option<String> {
    let matches = |object: &Map<String, Value>| {
        let text = |pointer: &str| {
            Value::Object(object.clone())
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        object.get("kind").and_then(Value::as_str) == Some(reference.kind.as_str())
            && object.get("apiVersion").and_then(Value::as_str)
                == Some(reference.api_version.as_str())
            && text("/metadata/name").as_deref() == Some(reference.name.as_str())
            && text("/metadata/namespace") == reference.namespace
    };
    find_object(observation, &matches).and_then(|object| {
        object
            .get("metadata")?
            .get("uid")?
            .as_str()
            .map(str::to_owned)
    })
}

fn find_object<'a>(
    value: &'a Value,
    matches: &dyn Fn(&Map<String, Value>) -> bool,
) -> Option<&'a Map<String, Value>> {
    match value {
        Value::Object(object) if matches(object) => Some(object),
        Value::Object(object) => object.values().find_map(|v| find_object(v, matches)),
        Value::Array(items) => items.iter().find_map(|v| find_object(v, matches)),
        _ => None,
    }
}

fn describe(reference: &ObjectReference) -> String {
    match &reference.namespace {
        Some(namespace) => format!("{} {namespace}/{}", reference.kind, reference.name),
        None => format!("{} {}", reference.kind, reference.name),
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    use super::*;

    fn written_by(manager: &str) -> ObjectMeta {
        ObjectMeta {
            uid: Some("uid-object".into()),
            managed_fields: Some(vec![ManagedFieldsEntry {
                manager: Some(manager.into()),
                ..ManagedFieldsEntry::default()
            }]),
            ..ObjectMeta::default()
        }
    }

    fn reference(kind: &str) -> ObjectReference {
        ObjectReference {
            api_version: "v1".into(),
            kind: kind.into(),
            name: "data".into(),
            namespace: Some("ml".into()),
        }
    }

    fn owner(kind: &str, name: &str, uid: &str) -> OwnerReference {
        OwnerReference {
            api_version: "aim.silogen.ai/v1alpha1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    #[test]
    fn an_object_someone_else_wrote_is_held_by_them() {
        let existing = Existing {
            metadata: written_by("kubectl-client-side-apply"),
            ..Existing::default()
        };
        let why = held_by_other(
            &existing,
            &reference("PersistentVolumeClaim"),
            Some("ml"),
            None,
        );
        assert!(why.is_some_and(|w| w.contains("kubectl-client-side-apply")));
        let ours = Existing {
            metadata: written_by("aim-service-controller"),
            ..Existing::default()
        };
        assert_eq!(
            held_by_other(&ours, &reference("PersistentVolumeClaim"), Some("ml"), None),
            None
        );
    }

    #[test]
    fn a_cluster_model_created_for_one_namespace_is_not_rewritten_for_another() {
        let existing = Existing {
            metadata: written_by("aim-service-controller"),
            requesting_namespace: Some("team-a".into()),
        };
        let model = ObjectReference {
            namespace: None,
            ..reference("AIMClusterModel")
        };
        assert!(
            held_by_other(&existing, &model, Some("team-b"), None)
                .is_some_and(|w| w.contains("team-a"))
        );
        assert_eq!(held_by_other(&existing, &model, Some("team-a"), None), None);
    }

    #[test]
    fn another_subjects_child_is_held_but_a_recreated_subject_adopts_its_own() {
        let mut metadata = written_by("aim-service-controller");
        metadata.owner_references = Some(vec![owner("AIMService", "chat", "uid-old")]);
        let existing = Existing {
            metadata,
            ..Existing::default()
        };
        let isvc = reference("InferenceService");
        let recreated = owner("AIMService", "chat", "uid-new");
        assert_eq!(
            held_by_other(&existing, &isvc, Some("ml"), Some(&recreated)),
            None
        );
        let other = owner("AIMService", "other", "uid-other");
        assert!(held_by_other(&existing, &isvc, Some("ml"), Some(&other)).is_some());
    }

    #[test]
    fn only_the_controller_the_recorded_creator_or_the_object_itself_may_delete() {
        let mut metadata = written_by("aim-service-controller");
        assert!(
            controls(&metadata, "uid-object"),
            "itself, created by the operator"
        );
        assert!(!controls(&metadata, "uid-service"));
        metadata.labels = Some([(labels::CREATED_BY.to_owned(), "uid-service".to_owned())].into());
        assert!(controls(&metadata, "uid-service"));
        metadata.owner_references = Some(vec![owner("AIMServiceTemplate", "t", "uid-template")]);
        assert!(controls(&metadata, "uid-template"));
        assert!(!controls(&metadata, ""));
        let admins = written_by("kubectl");
        assert!(
            !controls(&admins, "uid-object"),
            "an admin's object never deletes itself"
        );
    }

    #[test]
    fn the_host_stamps_the_labels_its_caches_select_on() {
        let mut isvc =
            json!({"metadata": {"name": "chat", "labels": {"app.kubernetes.io/managed-by": "me"}}});
        let parent = owner("AIMService", "chat", "uid-chat");
        stamp_labels(
            &mut isvc,
            "InferenceService",
            Some(&parent),
            Some("uid-chat"),
        );
        let stamped = &isvc["metadata"]["labels"];
        assert_eq!(stamped["app.kubernetes.io/managed-by"], "aim-controller");
        assert_eq!(stamped["aim.silogen.ai/owner-kind"], "AIMService");
        assert_eq!(stamped["aim.silogen.ai/owner-uid"], "uid-chat");
        assert_eq!(stamped["aim.silogen.ai/created-by"], "uid-chat");
        let mut pvc = json!({"metadata": {"name": "d", "labels": {"app.kubernetes.io/managed-by": "modelcache-controller", "aim.silogen.ai/created-by": "forged"}}});
        stamp_labels(&mut pvc, "PersistentVolumeClaim", None, None);
        assert_eq!(
            pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "modelcache-controller"
        );
        assert!(
            pvc["metadata"]["labels"]
                .get("aim.silogen.ai/created-by")
                .is_none()
        );
    }

    #[test]
    fn owners_are_found_only_in_the_observation() {
        let observation = json!({"template": {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate",
            "metadata": {"name": "t", "namespace": "ml", "uid": "uid-t"}}, "nodes": [{"name": "n"}]});
        let template = ObjectReference {
            api_version: "aim.silogen.ai/v1alpha1".into(),
            kind: "AIMServiceTemplate".into(),
            name: "t".into(),
            namespace: Some("ml".into()),
        };
        assert_eq!(
            observed_uid(&observation, &template).as_deref(),
            Some("uid-t")
        );
        let elsewhere = ObjectReference {
            namespace: Some("kube-system".into()),
            ..template.clone()
        };
        assert_eq!(observed_uid(&observation, &elsewhere), None);
        let secret = ObjectReference {
            api_version: "v1".into(),
            kind: "Secret".into(),
            ..template
        };
        assert_eq!(observed_uid(&observation, &secret), None);
    }
}
