//! Printing rendered plans: YAML documents a user can read or pipe to `kubectl apply --dry-run`,
//! or one JSON document for scripts.

use std::fmt::Write as _;

use aim_api::policy::plan::{Owner, Plan};
use serde_json::{Value, json};

use super::Rendered;

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
    let mut out = String::new();
    for entry in rendered {
        let Ok(plan) = &entry.plan else { continue };
        let (state, ready) = summary(plan);
        let _ = writeln!(out, "# AIMService {}: {state}{ready}", entry.service);
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
    }
    out
}

fn json_document(rendered: &[Rendered]) -> String {
    let services: Vec<Value> = rendered
        .iter()
        .map(|entry| match &entry.plan {
            Ok(plan) => json!({"service": entry.service, "plan": plan}),
            Err(error) => json!({"service": entry.service, "error": {"reason": error.reason(), "message": error.to_string()}}),
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
