//! Printing rendered plans: YAML documents a user can read or pipe to `kubectl apply --dry-run`,
//! or one JSON document for scripts.

use std::fmt::Write as _;

use aim_api::policy::plan::{Owner, Plan};
use serde_json::{Value, json};

use super::{PolicyLabel, Rendered};
use crate::policy::{CallOutcome, PolicyCall};

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

/// The rendered plans in `format`. Failed services are reported on standard error by the caller.
pub fn format(rendered: &[Rendered], format: Format) -> String {
    match format {
        Format::Yaml => yaml(rendered),
        Format::Json => json_document(rendered),
    }
}

fn yaml(rendered: &[Rendered]) -> String {
    rendered.iter().map(yaml_entry).collect()
}

/// One service: a summary, the policies that decided, the objects, deletions and the status.
pub fn yaml_entry(entry: &Rendered) -> String {
    let mut out = String::new();
    let plan = match &entry.plan {
        Ok(plan) => plan,
        Err(error) => {
            let _ = writeln!(
                out,
                "# AIMService {}: not planned ({})",
                entry.service,
                error.reason()
            );
            out.push_str(&decided_by(entry));
            return out;
        }
    };
    let (state, ready) = summary(plan);
    let _ = writeln!(out, "# AIMService {}: {state}{ready}", entry.service);
    out.push_str(&decided_by(entry));
    for event in &plan.events {
        let _ = writeln!(
            out,
            "# event {:?} {}: {}",
            event.type_, event.reason, event.message
        );
    }
    if let Some(seconds) = plan.requeue_after_seconds {
        let _ = writeln!(out, "# looked at again after {seconds}s");
    }
    for planned in &plan.apply {
        out.push_str("---\n");
        match &planned.owner {
            Owner::Subject => {
                let _ = writeln!(out, "# owned by AIMService {}", entry.service);
            }
            Owner::None => out.push_str("# not owned: outlives the service\n"),
            Owner::Object(owner) => {
                let _ = writeln!(out, "# owned by {} {}", owner.kind, owner.name);
            }
        }
        out.push_str(&to_yaml(&planned.object));
    }
    for deleted in &plan.delete {
        let _ = writeln!(out, "# delete {} {}", deleted.kind, deleted.name);
    }
    if let Some(status) = &plan.status {
        out.push_str("---\n# the status the operator would write\n");
        out.push_str(&to_yaml(&status_object(&entry.service, status)));
    }
    out
}

/// Which policy made the plan: the custom policy (name, version, what it implements) and, when
/// there is one, every call in the order it was made, indented by who asked whom. The embedded
/// default is named without its version, so fixtures stay valid across aim-engine upgrades that
/// do not change its decisions.
fn decided_by(entry: &Rendered) -> String {
    let Some(policy) = &entry.policy else {
        return "# policy: the embedded aim-default\n".to_owned();
    };
    let mut out = format!(
        "# policy: {}, in front of the embedded aim-default\n",
        label(policy)
    );
    for call in &entry.calls {
        let _ = writeln!(out, "#   {}{}", "  ".repeat(call.depth), call_line(call));
    }
    out
}

/// `team-routes 0.1.0 (paths, planner)`.
pub fn label(policy: &PolicyLabel) -> String {
    let interfaces = if policy.interfaces.is_empty() {
        "implements nothing".to_owned()
    } else {
        policy.interfaces.join(", ")
    };
    format!("{} {} ({interfaces})", policy.name, policy.version)
}

fn call_line(call: &PolicyCall) -> String {
    match &call.outcome {
        CallOutcome::Answered => format!("{} {}", call.policy, call.function),
        outcome => format!(
            "{} {}: {}",
            call.policy,
            call.function,
            outcome_text(outcome)
        ),
    }
}

fn outcome_text(outcome: &CallOutcome) -> String {
    match outcome {
        CallOutcome::Answered => "answered".to_owned(),
        CallOutcome::Deferred => "unsupported, left to aim-default".to_owned(),
        CallOutcome::Rejected(reason) => format!("rejected ({reason})"),
        CallOutcome::Failed(reason) => format!("failed ({reason})"),
        CallOutcome::Pending => "did not finish".to_owned(),
    }
}

fn json_document(rendered: &[Rendered]) -> String {
    let services: Vec<Value> = rendered
        .iter()
        .map(|entry| {
            let mut service = match &entry.plan {
                Ok(plan) => json!({"service": entry.service, "plan": plan}),
                Err(error) => json!({"service": entry.service, "error": {"reason": error.reason(), "message": error.to_string()}}),
            };
            service["policy"] = match &entry.policy {
                Some(policy) => json!({"name": policy.name, "version": policy.version, "implements": policy.interfaces}),
                None => json!({"name": "aim-default", "embedded": true}),
            };
            if entry.policy.is_some() {
                service["calls"] = entry.calls.iter().map(|call| json!({
                    "depth": call.depth, "policy": call.policy, "function": call.function,
                    "outcome": outcome_text(&call.outcome),
                })).collect();
            }
            service
        })
        .collect();
    serde_json::to_string_pretty(&json!({ "services": services })).unwrap_or_default() + "\n"
}

/// `Running` or `Pending (ModelPending: ...)`, from the planned status.
fn summary(plan: &Plan) -> (String, String) {
    let Some(status) = &plan.status else {
        return ("being deleted".to_owned(), String::new());
    };
    let state = status["status"].as_str().unwrap_or("Unknown").to_owned();
    let ready = status["conditions"]
        .as_array()
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .filter(|c| c["status"] != "True")
        .map(|c| {
            format!(
                " ({}: {})",
                c["reason"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    (state, ready)
}

fn status_object(service: &str, status: &Value) -> Value {
    let (namespace, name) = service.split_once('/').unwrap_or(("", service));
    json!({
        "apiVersion": aim_api::API_VERSION,
        "kind": "AIMService",
        "metadata": {"name": name, "namespace": namespace},
        "status": status,
    })
}

fn to_yaml(value: &Value) -> String {
    serde_yaml::to_string(value).unwrap_or_default()
}
