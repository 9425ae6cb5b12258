//! Checks on every plan a policy returns, default or custom, so a policy gets no privilege the
//! operator lacks. The envelope ([`envelope`]): known kinds only, in the subject's namespace,
//! owners set by the host, bounded size, valid names and labels ([`names`]). The pods: every
//! pod template a planned object carries, decoded into typed Kubernetes objects ([`workloads`]),
//! meets the Pod Security "restricted" profile ([`pod_security`]) and the admin's rules on
//! ServiceAccounts and image registries ([`pod_rules`]). A violation is `OutputInvalid` naming
//! the object and the rule.

mod envelope;
mod name_rules;
mod pod_rules;
mod pod_security;
mod strict;
mod workloads;

use serde_json::Value;

pub use name_rules::{is_dns_label, is_dns_subdomain, is_label_value};
pub use pod_rules::{AccountPattern, PodRules};

use super::error::PolicyError;

/// The plan document version the host reads.
pub const PLAN_API_VERSION: &str = "aim.silogen.ai/plan/v1";
/// Default cap on the plan document's size.
pub const DEFAULT_MAX_PLAN_BYTES: usize = 1 << 20;
/// Default cap on the number of objects in one plan.
pub const DEFAULT_MAX_OBJECTS: usize = 64;

/// The object a plan is for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanSubject {
    /// `None` for cluster-scoped subjects (AIMClusterModel, AIMClusterServiceTemplate).
    pub namespace: Option<String>,
    /// For a cluster-scoped subject: the one namespace its namespaced children may go to, when
    /// it acts for a namespace (a cluster model created for a service, its templates); `None`
    /// means the operator's namespace. The host reads it from the cluster, never from a plan.
    pub work_namespace: Option<String>,
}

impl PlanSubject {
    /// A namespaced subject.
    pub fn namespaced(namespace: impl Into<String>) -> Self {
        PlanSubject {
            namespace: Some(namespace.into()),
            work_namespace: None,
        }
    }
}

/// Host-wide limits on plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputRules {
    /// Where cluster-scoped subjects acting for no namespace create namespaced objects.
    pub operator_namespace: String,
    pub max_plan_bytes: usize,
    pub max_objects: usize,
    /// What the pods a plan creates may run as and run.
    pub pods: PodRules,
}

impl OutputRules {
    pub fn new(operator_namespace: impl Into<String>) -> Self {
        OutputRules {
            operator_namespace: operator_namespace.into(),
            max_plan_bytes: DEFAULT_MAX_PLAN_BYTES,
            max_objects: DEFAULT_MAX_OBJECTS,
            pods: PodRules::default(),
        }
    }

    /// The same rules with `pods` for the pods plans create.
    pub fn with_pods(self, pods: PodRules) -> Self {
        OutputRules { pods, ..self }
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
    envelope::check_status_and_events(document)?;
    if let Some(deletes) = document.get("delete").filter(|v| !v.is_null()) {
        envelope::check_deletes(deletes, subject, rules)?;
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
        let placed = envelope::check_entry(index, entry, subject, rules)?;
        let object = entry.get("object").unwrap_or(&Value::Null);
        workloads::check_pods(object, &placed, rules).map_err(|rule| {
            invalid(format!(
                "object #{index}: {} {:?}: {rule}",
                placed.kind, placed.name
            ))
        })?;
    }
    Ok(plan)
}

fn invalid(detail: String) -> PolicyError {
    PolicyError::OutputInvalid { detail }
}

#[cfg(test)]
mod tests;
