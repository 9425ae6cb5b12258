//! Checks on every plan a policy returns, so a policy gets no privilege the operator lacks:
//! known kinds only, only in the subject's namespace (cluster-scoped kinds only for
//! cluster-scoped subjects, which may place namespaced objects only in the operator namespace),
//! owner references removed (the host sets them), bounded size, valid names and labels.
//! A violation is `OutputInvalid` naming the object and the rule.

use serde_json::{Map, Value};

use super::error::PolicyError;

/// The plan document version the host reads.
pub const PLAN_API_VERSION: &str = "aim.silogen.ai/plan/v1";
/// Default cap on the plan document's size.
pub const DEFAULT_MAX_PLAN_BYTES: usize = 1 << 20;
/// Default cap on the number of objects in one plan.
pub const DEFAULT_MAX_OBJECTS: usize = 64;

/// Whether a kind's objects live in a namespace, and which name rule applies to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Namespaced,
    Cluster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameRule {
    /// RFC 1123 label: at most 63 characters, no dots (names that end up in labels or DNS).
    Label,
    /// RFC 1123 subdomain: at most 253 characters.
    Subdomain,
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

/// The object a plan is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanSubject {
    /// `None` for cluster-scoped subjects (AIMClusterModel, AIMClusterServiceTemplate).
    pub namespace: Option<String>,
}

/// Host-wide limits on plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRules {
    /// Where cluster-scoped subjects may create namespaced objects.
    pub operator_namespace: String,
    pub max_plan_bytes: usize,
    pub max_objects: usize,
}

impl OutputRules {
    pub fn new(operator_namespace: impl Into<String>) -> Self {
        OutputRules {
            operator_namespace: operator_namespace.into(),
            max_plan_bytes: DEFAULT_MAX_PLAN_BYTES,
            max_objects: DEFAULT_MAX_OBJECTS,
        }
    }
}

/// Parses and checks a plan document. Returns the plan with every object's namespace filled in
/// and owner references removed.
pub fn check_plan(
    plan_text: &str,
    subject: &PlanSubject,
    rules: &OutputRules,
) -> Result<Value, PolicyError> {
    if plan_text.len() > rules.max_plan_bytes {
        return Err(invalid(format!(
            "plan is {} bytes, more than the limit of {}",
            plan_text.len(),
            rules.max_plan_bytes
        )));
    }
    let mut plan: Value = serde_json::from_str(plan_text)
        .map_err(|error| invalid(format!("plan is not valid JSON: {error}")))?;
    let document = plan
        .as_object_mut()
        .ok_or_else(|| invalid("plan must be a JSON object".to_string()))?;
    match document.get("apiVersion").and_then(Value::as_str) {
        Some(PLAN_API_VERSION) => {}
        other => {
            return Err(invalid(format!(
                "plan apiVersion is {other:?}, expected {PLAN_API_VERSION:?}"
            )));
        }
    }
    check_status_and_events(document)?;
    if let Some(deletes) = document.get("delete").filter(|v| !v.is_null()) {
        check_deletes(deletes, subject, rules)?;
    }
    let objects = match document.get_mut("apply") {
        None | Some(Value::Null) => return Ok(plan),
        Some(Value::Array(objects)) => objects,
        Some(_) => return Err(invalid("plan apply must be an array".to_string())),
    };
    if objects.len() > rules.max_objects {
        return Err(invalid(format!(
            "plan has {} objects, more than the limit of {}",
            objects.len(),
            rules.max_objects
        )));
    }
    for (index, entry) in objects.iter_mut().enumerate() {
        check_entry(index, entry, subject, rules)?;
    }
    Ok(plan)
}

/// Deletions obey the same kinds and namespaces as creations.
fn check_deletes(
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

fn invalid(detail: String) -> PolicyError {
    PolicyError::OutputInvalid { detail }
}

fn check_status_and_events(document: &Map<String, Value>) -> Result<(), PolicyError> {
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

fn check_entry(
    index: usize,
    entry: &mut Value,
    subject: &PlanSubject,
    rules: &OutputRules,
) -> Result<(), PolicyError> {
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
    match namespace {
        Some(namespace) => {
            metadata.insert("namespace".to_string(), Value::String(namespace));
        }
        None => {
            metadata.remove("namespace");
        }
    }
    // The host owns owner references: it sets the subject as owner when the entry says so.
    metadata.remove("ownerReferences");
    check_labels(metadata.get("labels")).map_err(described)?;
    check_annotation_keys(metadata.get("annotations")).map_err(described)?;
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
        (Scope::Namespaced, None) => match requested.filter(|ns| !ns.is_empty()) {
            Some(ns) if ns != rules.operator_namespace => Err(format!(
                "a cluster-scoped subject may only create namespaced objects in {:?}, not {ns:?}",
                rules.operator_namespace
            )),
            _ => Ok(Some(rules.operator_namespace.clone())),
        },
    }
}

fn check_name(name: &str, rule: NameRule) -> Result<(), String> {
    let valid = match rule {
        NameRule::Label => is_dns_label(name),
        NameRule::Subdomain => is_dns_subdomain(name),
    };
    if valid {
        return Ok(());
    }
    Err(match rule {
        NameRule::Label => {
            "name must be an RFC 1123 label (lowercase letters, digits and '-', at most 63)"
                .to_string()
        }
        NameRule::Subdomain => {
            "name must be an RFC 1123 subdomain (lowercase labels joined by '.', at most 253)"
                .to_string()
        }
    })
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// Labels joined by `.`, at most 253 characters.
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

fn check_labels(labels: Option<&Value>) -> Result<(), String> {
    let Some(labels) = labels.filter(|l| !l.is_null()) else {
        return Ok(());
    };
    let labels = labels
        .as_object()
        .ok_or_else(|| "labels must be an object of strings".to_string())?;
    for (key, value) in labels {
        check_qualified_key(key).map_err(|why| format!("label key {key:?}: {why}"))?;
        let value = value
            .as_str()
            .ok_or_else(|| format!("label {key:?} must have a string value"))?;
        if !is_label_value(value) {
            return Err(format!(
                "label {key:?} has an invalid value {value:?} (at most 63 letters, digits, '-', '_', '.')"
            ));
        }
    }
    Ok(())
}

fn check_annotation_keys(annotations: Option<&Value>) -> Result<(), String> {
    let Some(annotations) = annotations.filter(|a| !a.is_null()) else {
        return Ok(());
    };
    let annotations = annotations
        .as_object()
        .ok_or_else(|| "annotations must be an object of strings".to_string())?;
    for (key, value) in annotations {
        check_qualified_key(key).map_err(|why| format!("annotation key {key:?}: {why}"))?;
        if !value.is_string() {
            return Err(format!("annotation {key:?} must have a string value"));
        }
    }
    Ok(())
}

/// `[prefix/]name`: prefix a DNS subdomain, name at most 63 alphanumerics with `-_.` inside.
fn check_qualified_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err("prefix must be a DNS subdomain".to_string());
    }
    if name.is_empty() || !is_label_value(name) {
        return Err(
            "name must be 1-63 letters, digits, '-', '_', '.', starting and ending alphanumeric"
                .to_string(),
        );
    }
    Ok(())
}

/// Empty, or at most 63 characters of `[A-Za-z0-9-_.]` starting and ending alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn namespaced() -> PlanSubject {
        PlanSubject {
            namespace: Some("ml".to_string()),
        }
    }

    fn cluster() -> PlanSubject {
        PlanSubject { namespace: None }
    }

    fn rules() -> OutputRules {
        OutputRules::new("aim-system")
    }

    fn plan_with(object: Value) -> String {
        json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": object, "owner": "subject"}], "status": {}, "events": []}).to_string()
    }

    fn detail(result: Result<Value, PolicyError>) -> String {
        match result {
            Err(PolicyError::OutputInvalid { detail }) => detail,
            other => panic!("expected OutputInvalid, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_plan_gets_its_namespace_filled_and_owner_references_removed() {
        let object = json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "chat", "labels": {"aim.silogen.ai/template": "t-1"}, "ownerReferences": [{"name": "x"}]}
        });
        let plan = check_plan(&plan_with(object), &namespaced(), &rules()).unwrap();
        let metadata = &plan["apply"][0]["object"]["metadata"];
        assert_eq!(metadata["namespace"], "ml");
        assert!(metadata.get("ownerReferences").is_none());
    }

    #[test]
    fn kinds_outside_the_allowlist_are_refused_by_name() {
        let object = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "admin"}});
        assert!(
            detail(check_plan(&plan_with(object), &namespaced(), &rules())).contains("ClusterRole")
        );
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}});
        assert!(detail(check_plan(&plan_with(secret), &namespaced(), &rules())).contains("Secret"));
    }

    #[test]
    fn objects_in_other_namespaces_are_refused() {
        let object = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p", "namespace": "kube-system"}});
        let message = detail(check_plan(&plan_with(object), &namespaced(), &rules()));
        assert!(
            message.contains("kube-system") && message.contains("PersistentVolumeClaim"),
            "{message}"
        );
    }

    #[test]
    fn cluster_kinds_need_a_cluster_subject_which_may_only_use_the_operator_namespace() {
        let runtime = json!({"apiVersion": "serving.kserve.io/v1alpha1", "kind": "ClusterServingRuntime", "metadata": {"name": "rt"}});
        assert!(check_plan(&plan_with(runtime.clone()), &namespaced(), &rules()).is_err());
        assert!(check_plan(&plan_with(runtime), &cluster(), &rules()).is_ok());
        let job =
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "discover"}});
        let plan = check_plan(&plan_with(job), &cluster(), &rules()).unwrap();
        assert_eq!(
            plan["apply"][0]["object"]["metadata"]["namespace"],
            "aim-system"
        );
        let elsewhere = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "d", "namespace": "ml"}});
        assert!(check_plan(&plan_with(elsewhere), &cluster(), &rules()).is_err());
    }

    #[test]
    fn names_and_labels_must_be_valid() {
        let long =
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j".repeat(64)}});
        assert!(
            detail(check_plan(&plan_with(long), &namespaced(), &rules()))
                .contains("RFC 1123 label")
        );
        let upper = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "Data"}});
        assert!(check_plan(&plan_with(upper), &namespaced(), &rules()).is_err());
        let label = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"a": "not valid!"}}});
        assert!(
            detail(check_plan(&plan_with(label), &namespaced(), &rules()))
                .contains("invalid value")
        );
        let key = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "labels": {"Bad_Prefix/a": "x"}}});
        assert!(check_plan(&plan_with(key), &namespaced(), &rules()).is_err());
    }

    #[test]
    fn oversized_plans_and_too_many_objects_are_refused() {
        let big = format!(
            "{{\"apiVersion\":\"{PLAN_API_VERSION}\",\"status\":{{\"x\":\"{}\"}}}}",
            "a".repeat(DEFAULT_MAX_PLAN_BYTES)
        );
        assert!(detail(check_plan(&big, &namespaced(), &rules())).contains("bytes"));
        let object = json!({"object": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}}, "owner": "none"});
        let many =
            json!({"apiVersion": PLAN_API_VERSION, "apply": vec![object; DEFAULT_MAX_OBJECTS + 1]})
                .to_string();
        assert!(detail(check_plan(&many, &namespaced(), &rules())).contains("objects"));
    }

    #[test]
    fn the_envelope_must_be_a_versioned_plan() {
        assert!(check_plan("[]", &namespaced(), &rules()).is_err());
        assert!(check_plan(r#"{"apiVersion":"v2"}"#, &namespaced(), &rules()).is_err());
        let event = json!({"apiVersion": PLAN_API_VERSION, "events": [{"type": "Loud", "reason": "X", "message": ""}]}).to_string();
        assert!(check_plan(&event, &namespaced(), &rules()).is_err());
    }

    #[test]
    fn a_service_may_add_an_unowned_model_to_the_cluster_catalogue_and_nothing_else_cluster_wide() {
        let model = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterModel", "metadata": {"name": "llama"}, "spec": {"image": "x"}});
        let unowned =
            json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": model, "owner": "none"}]})
                .to_string();
        assert!(check_plan(&unowned, &namespaced(), &rules()).is_ok());
        let owned = json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": model, "owner": "subject"}]}).to_string();
        assert!(detail(check_plan(&owned, &namespaced(), &rules())).contains("cluster-scoped"));
        let template = json!({"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate", "metadata": {"name": "t"}});
        let other = json!({"apiVersion": PLAN_API_VERSION, "apply": [{"object": template, "owner": "none"}]}).to_string();
        assert!(detail(check_plan(&other, &namespaced(), &rules())).contains("cluster-scoped"));
    }

    #[test]
    fn deletes_obey_the_same_kinds_and_namespaces_as_creations() {
        let delete = |kind: &str, namespace: &str| {
            json!({"apiVersion": PLAN_API_VERSION, "delete": [{"apiVersion": "aim.silogen.ai/v1alpha1", "kind": kind, "name": "c", "namespace": namespace}]}).to_string()
        };
        assert!(check_plan(&delete("AIMTemplateCache", "ml"), &namespaced(), &rules()).is_ok());
        assert!(
            detail(check_plan(
                &delete("AIMTemplateCache", "kube-system"),
                &namespaced(),
                &rules()
            ))
            .contains("kube-system")
        );
        assert!(
            detail(check_plan(
                &delete("ClusterRole", "ml"),
                &namespaced(),
                &rules()
            ))
            .contains("ClusterRole")
        );
    }
}
