//! The envelope of a plan: its version, status and Events, and for each object to apply or
//! delete its kind, its namespace, its name, its labels and who owns it. Only known kinds, only
//! in the subject's namespace (cluster-scoped kinds only for cluster-scoped subjects, which place
//! namespaced objects only in their work namespace), owner references removed (the host sets
//! them).

use serde_json::{Map, Value};

use super::name_rules::{NameRule, check_annotation_keys, check_labels, check_name};
use super::{OutputRules, PlanSubject, invalid};
use crate::policy::error::PolicyError;

/// Whether a kind's objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Namespaced,
    Cluster,
}

/// The kinds a plan may contain, by API group (any version) and kind.
const ALLOWED_KINDS: [(&str, &str, Scope, NameRule); 12] = [
    (
        "serving.kserve.io",
        "InferenceService",
        Scope::Namespaced,
        NameRule::Label,
    ),
    (
        "serving.kserve.io",
        "ServingRuntime",
        Scope::Namespaced,
        NameRule::Subdomain,
    ),
    (
        "serving.kserve.io",
        "ClusterServingRuntime",
        Scope::Cluster,
        NameRule::Subdomain,
    ),
    (
        "gateway.networking.k8s.io",
        "HTTPRoute",
        Scope::Namespaced,
        NameRule::Subdomain,
    ),
    (
        "",
        "PersistentVolumeClaim",
        Scope::Namespaced,
        NameRule::Subdomain,
    ),
    ("batch", "Job", Scope::Namespaced, NameRule::Label),
    (
        "aim.silogen.ai",
        "AIMModel",
        Scope::Namespaced,
        NameRule::Label,
    ),
    (
        "aim.silogen.ai",
        "AIMClusterModel",
        Scope::Cluster,
        NameRule::Label,
    ),
    (
        "aim.silogen.ai",
        "AIMServiceTemplate",
        Scope::Namespaced,
        NameRule::Label,
    ),
    (
        "aim.silogen.ai",
        "AIMClusterServiceTemplate",
        Scope::Cluster,
        NameRule::Label,
    ),
    (
        "aim.silogen.ai",
        "AIMTemplateCache",
        Scope::Namespaced,
        NameRule::Label,
    ),
    (
        "aim.silogen.ai",
        "AIMModelCache",
        Scope::Namespaced,
        NameRule::Label,
    ),
];

/// Deletions obey the same kinds and namespaces as creations.
pub fn check_deletes(
    deletes: &Value,
    subject: &PlanSubject,
    rules: &OutputRules,
) -> Result<(), PolicyError> {
    let deletes = deletes
        .as_array()
        .ok_or_else(|| invalid("plan delete must be an array".to_string()))?;
    for (index, reference) in deletes.iter().enumerate() {
        let at = |rule: String| invalid(format!("delete #{index}: {rule}"));
        let api_version = reference
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = reference
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (scope, name_rule) = allowed_kind(api_version, kind).ok_or_else(|| {
            at(format!(
                "kind {kind:?} of {api_version:?} is not one a policy may delete"
            ))
        })?;
        let name = reference
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        check_name(name, name_rule).map_err(|rule| at(format!("{kind} {name:?}: {rule}")))?;
        placement(
            scope,
            reference.get("namespace").and_then(Value::as_str),
            subject,
            rules,
            false,
        )
        .map_err(|rule| at(format!("{kind} {name:?}: {rule}")))?;
    }
    Ok(())
}

/// Where an allowed kind lives and how it must be named; `None` for kinds a policy may not touch.
fn allowed_kind(api_version: &str, kind: &str) -> Option<(Scope, NameRule)> {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    ALLOWED_KINDS
        .iter()
        .find(|(g, k, _, _)| *g == group && *k == kind)
        .map(|&(_, _, scope, name_rule)| (scope, name_rule))
}

pub fn check_status_and_events(document: &Map<String, Value>) -> Result<(), PolicyError> {
    if !matches!(document.get("status"), None | Some(Value::Object(_))) {
        return Err(invalid("plan status must be an object".to_string()));
    }
    if let Some(requeue) = document.get("requeueAfterSeconds").filter(|v| !v.is_null())
        && requeue.as_u64().is_none()
    {
        return Err(invalid(
            "plan requeueAfterSeconds must be a non-negative integer".to_string(),
        ));
    }
    let events = match document.get("events") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(events)) => events,
        Some(_) => return Err(invalid("plan events must be an array".to_string())),
    };
    for (index, event) in events.iter().enumerate() {
        let kind = event.get("type").and_then(Value::as_str);
        if !matches!(kind, Some("Normal" | "Warning")) {
            return Err(invalid(format!(
                "event #{index}: type must be Normal or Warning"
            )));
        }
        let reason = event
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if reason.is_empty()
            || reason.len() > 128
            || !reason.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(invalid(format!(
                "event #{index}: reason must be 1-128 letters and digits"
            )));
        }
        if event.get("message").is_some_and(|m| !m.is_string()) {
            return Err(invalid(format!("event #{index}: message must be a string")));
        }
    }
    Ok(())
}

/// An object to apply, once its envelope passed: where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// `group/version` or `v1`.
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
}

/// Checks entry `index` of the plan's `apply` list and completes it: the namespace filled in,
/// owner references removed, and an AIMClusterModel a namespaced subject adds to the catalogue
/// marked as that namespace's.
pub fn check_entry(
    index: usize,
    entry: &mut Value,
    subject: &PlanSubject,
    rules: &OutputRules,
) -> Result<Placed, PolicyError> {
    let at = |rule: String| invalid(format!("object #{index}: {rule}"));
    let entry = entry
        .as_object_mut()
        .ok_or_else(|| at("entry must be an object".to_string()))?;
    let entry_is_unowned = entry.get("owner").and_then(Value::as_str) == Some("none");
    let owner_namespace = match entry.get("owner") {
        None | Some(Value::Null) => None,
        Some(Value::String(owner)) if owner == "subject" || owner == "none" => None,
        Some(Value::Object(owner)) if owner.len() == 1 && owner.contains_key("object") => {
            let reference = &owner["object"];
            if reference
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                return Err(at("owner object needs a name".to_string()));
            }
            Some(
                reference
                    .get("namespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            )
        }
        Some(_) => {
            return Err(at(
                "owner must be \"subject\", \"none\" or {\"object\": reference}".to_string(),
            ));
        }
    };
    let object = entry
        .get_mut("object")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| at("object must be a JSON object".to_string()))?;
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let kind = object
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let (scope, name_rule) = allowed_kind(&api_version, &kind).ok_or_else(|| {
        at(format!(
            "kind {kind:?} of {api_version:?} is not one a policy may create"
        ))
    })?;
    let metadata = object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| at(format!("{kind} has no metadata")))?;
    let name = metadata
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let described = |rule: String| at(format!("{kind} {name:?}: {rule}"));
    check_name(&name, name_rule).map_err(described)?;
    if metadata.contains_key("generateName") {
        return Err(described(
            "generateName is not allowed; plans name objects".to_string(),
        ));
    }
    let catalogue_entry = kind == "AIMClusterModel" && entry_is_unowned;
    let namespace = placement(
        scope,
        metadata.get("namespace").and_then(Value::as_str),
        subject,
        rules,
        catalogue_entry,
    )
    .map_err(described)?;
    // Kubernetes garbage collection ignores owners in another namespace.
    if let Some(owner_namespace) = &owner_namespace
        && owner_namespace.is_some()
        && *owner_namespace != namespace
    {
        return Err(described("its owner is in another namespace".to_string()));
    }
    match &namespace {
        Some(namespace) => {
            metadata.insert("namespace".to_string(), Value::String(namespace.clone()));
        }
        None => {
            metadata.remove("namespace");
        }
    }
    // The host owns owner references: it sets the subject as owner when the entry says so.
    metadata.remove("ownerReferences");
    check_labels(metadata.get("labels")).map_err(described)?;
    check_annotation_keys(metadata.get("annotations")).map_err(described)?;
    if catalogue_entry && let Some(requesting) = &subject.namespace {
        // Whatever the plan wrote, the model is the subject's namespace's: its inspection and
        // discovery run there, with that namespace's credentials (docs/security.md).
        mark_requested_by(object, requesting).map_err(described)?;
    }
    Ok(Placed {
        api_version,
        kind,
        name,
        namespace,
    })
}

/// Sets `spec.requestingNamespace` of a planned AIMClusterModel.
fn mark_requested_by(object: &mut Map<String, Value>, namespace: &str) -> Result<(), String> {
    let spec = object
        .entry("spec")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| "spec must be an object".to_string())?;
    spec.insert(
        "requestingNamespace".to_string(),
        Value::String(namespace.to_string()),
    );
    Ok(())
}

/// The namespace the object goes in (`None` for cluster-scoped objects), or why it may not.
fn placement(
    scope: Scope,
    requested: Option<&str>,
    subject: &PlanSubject,
    rules: &OutputRules,
    catalogue_entry: bool,
) -> Result<Option<String>, String> {
    match (scope, &subject.namespace) {
        // A service may add its image to the cluster's model catalogue (the runtime config's
        // `model.creationScope: Cluster`); the entry is shared, so nothing may own it.
        (Scope::Cluster, Some(_)) if catalogue_entry => match requested.filter(|ns| !ns.is_empty())
        {
            Some(ns) => Err(format!(
                "a cluster-scoped object cannot have namespace {ns:?}"
            )),
            None => Ok(None),
        },
        (Scope::Cluster, Some(_)) => Err(
            "cluster-scoped objects may only be planned for cluster-scoped subjects".to_string(),
        ),
        (Scope::Cluster, None) => match requested.filter(|ns| !ns.is_empty()) {
            Some(ns) => Err(format!(
                "a cluster-scoped object cannot have namespace {ns:?}"
            )),
            None => Ok(None),
        },
        (Scope::Namespaced, Some(own)) => match requested.filter(|ns| !ns.is_empty()) {
            Some(ns) if ns != own => Err(format!(
                "namespace {ns:?} is not the subject's namespace {own:?}"
            )),
            _ => Ok(Some(own.clone())),
        },
        // A cluster subject's namespaced children (discovery Jobs) go to its work namespace:
        // the namespace its model was created for, else the operator's. Never anywhere else:
        // a template made for one namespace must not run pods in the operator's.
        (Scope::Namespaced, None) => {
            let work = subject
                .work_namespace
                .as_deref()
                .unwrap_or(&rules.operator_namespace);
            match requested.filter(|ns| !ns.is_empty()) {
                Some(ns) if ns != work => Err(format!(
                    "a cluster-scoped subject may only create namespaced objects in {work:?}, not {ns:?}"
                )),
                _ => Ok(Some(work.to_owned())),
            }
        }
    }
}
