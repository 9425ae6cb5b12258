//! What changes between two plans of the same service: objects added and removed, fields changed
//! inside objects that stay, deletions, and the status. Pure data in, data out, so `policy diff`
//! prints it and tests check it without a cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use aim_api::policy::plan::Plan;
use serde_json::Value;

use crate::policy::PolicyError;

/// One changed leaf: its path (`spec.rules[0].matches[0].path.value`) and both values (`None`
/// when absent on that side).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// How a plan changes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanDiff {
    /// `Kind name` of objects only the new plan applies.
    pub added: Vec<String>,
    /// `Kind name` of objects only the old plan applies.
    pub removed: Vec<String>,
    /// Objects both apply, with their changed fields.
    pub changed: Vec<(String, Vec<FieldChange>)>,
    /// Deletions that differ (`+` only in the new plan, `-` only in the old).
    pub deletes: Vec<String>,
    /// Changed status fields (conditions' transition times are ignored).
    pub status: Vec<FieldChange>,
    /// Events that differ (`+` only in the new plan, `-` only in the old).
    pub events: Vec<String>,
}

impl PlanDiff {
    pub fn is_empty(&self) -> bool {
        *self == PlanDiff::default()
    }
}

/// Compares the plan of the policy in force with the plan of a candidate.
pub fn diff_plans(before: &Plan, after: &Plan) -> PlanDiff {
    let objects = |plan: &Plan| -> BTreeMap<String, Value> {
        plan.apply
            .iter()
            .map(|planned| (object_key(&planned.object), planned.object.clone()))
            .collect()
    };
    let (old, new) = (objects(before), objects(after));
    let mut diff = PlanDiff::default();
    for (key, object) in &new {
        match old.get(key) {
            None => diff.added.push(key.clone()),
            Some(previous) => {
                let mut changes = Vec::new();
                leaves(previous, object, String::new(), &mut changes);
                if !changes.is_empty() {
                    diff.changed.push((key.clone(), changes));
                }
            }
        }
    }
    diff.removed = old
        .keys()
        .filter(|key| !new.contains_key(*key))
        .cloned()
        .collect();
    let deleted = |plan: &Plan| -> Vec<String> {
        plan.delete
            .iter()
            .map(|d| format!("{} {}", d.kind, d.name))
            .collect()
    };
    diff.deletes = one_sided(&deleted(before), &deleted(after));
    let events = |plan: &Plan| -> Vec<String> {
        plan.events
            .iter()
            .map(|e| format!("event {:?} {}: {}", e.type_, e.reason, e.message))
            .collect()
    };
    diff.events = one_sided(&events(before), &events(after));
    let status = |plan: &Plan| plan.status.clone().map(without_transition_times);
    leaves(
        &status(before).unwrap_or(Value::Null),
        &status(after).unwrap_or(Value::Null),
        "status".to_owned(),
        &mut diff.status,
    );
    diff
}

/// The lines only `after` has (`+ line`), then those only `before` has (`- line`).
fn one_sided(before: &[String], after: &[String]) -> Vec<String> {
    let only = |side: &[String], other: &[String], sign: char| -> Vec<String> {
        side.iter()
            .filter(|line| !other.contains(line))
            .map(|line| format!("{sign} {line}"))
            .collect()
    };
    let mut lines = only(after, before, '+');
    lines.extend(only(before, after, '-'));
    lines
}

/// What changes for one service between the plan `before` (made by `from`) and `after` (made by
/// `to`), as the lines `policy diff` and `render --diff-default` print, and whether anything does.
pub fn compare(
    service: &str,
    (from, to): (&str, &str),
    before: &Result<Plan, PolicyError>,
    after: &Result<Plan, PolicyError>,
) -> (String, bool) {
    match (before, after) {
        (Ok(before), Ok(after)) => {
            let diff = diff_plans(before, after);
            if diff.is_empty() {
                (format!("AIMService {service} ({from}): no change\n"), false)
            } else {
                (
                    format!(
                        "AIMService {service} ({from} -> {to}):\n{}",
                        describe(&diff)
                    ),
                    true,
                )
            }
        }
        (before, after) => {
            let outcome = |result: &Result<Plan, PolicyError>| match result {
                Ok(_) => "planned".to_owned(),
                Err(error) => format!("fails: {error} ({})", error.reason()),
            };
            (
                format!(
                    "AIMService {service} ({from} -> {to}): {} -> {}\n",
                    outcome(before),
                    outcome(after)
                ),
                true,
            )
        }
    }
}

/// The diff as indented text lines.
pub fn describe(diff: &PlanDiff) -> String {
    let mut out = String::new();
    for key in &diff.added {
        let _ = writeln!(out, "  + {key}");
    }
    for key in &diff.removed {
        let _ = writeln!(out, "  - {key}");
    }
    for (key, changes) in &diff.changed {
        let _ = writeln!(out, "  ~ {key}");
        for change in changes {
            let _ = writeln!(out, "      {}", change_line(change));
        }
    }
    for delete in &diff.deletes {
        let _ = writeln!(out, "  {delete} (deleted by the plan)");
    }
    for change in &diff.status {
        let _ = writeln!(out, "  ~ {}", change_line(change));
    }
    for event in &diff.events {
        let _ = writeln!(out, "  {event}");
    }
    out
}

fn change_line(change: &FieldChange) -> String {
    let shown = |value: &Option<Value>| {
        value
            .as_ref()
            .map_or_else(|| "(absent)".to_owned(), Value::to_string)
    };
    format!(
        "{}: {} -> {}",
        change.path,
        shown(&change.before),
        shown(&change.after)
    )
}

fn object_key(object: &Value) -> String {
    format!(
        "{} {}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Transition times differ between any two plans made at different moments; they say nothing
/// about the policy.
fn without_transition_times(mut status: Value) -> Value {
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
            condition.remove("lastTransitionTime");
        }
    }
    status
}

/// Collects the differing leaves of two JSON values.
fn leaves(before: &Value, after: &Value, path: String, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match (old.get(key), new.get(key)) {
                    (Some(o), Some(n)) => leaves(o, n, child, out),
                    (o, n) => out.push(FieldChange {
                        path: child,
                        before: o.cloned(),
                        after: n.cloned(),
                    }),
                }
            }
        }
        (Value::Array(old), Value::Array(new))
            if by_type(old).is_some() && by_type(new).is_some() =>
        {
            // Conditions: matched by their type, which says more than a position.
            let (old, new) = (
                by_type(old).unwrap_or_default(),
                by_type(new).unwrap_or_default(),
            );
            let types: std::collections::BTreeSet<&str> =
                old.keys().chain(new.keys()).copied().collect();
            for type_ in types {
                let child = format!("{path}[{type_}]");
                match (old.get(type_), new.get(type_)) {
                    (Some(o), Some(n)) => leaves(o, n, child, out),
                    (o, n) => out.push(FieldChange {
                        path: child,
                        before: o.map(|v| (*v).clone()),
                        after: n.map(|v| (*v).clone()),
                    }),
                }
            }
        }
        (Value::Array(old), Value::Array(new)) if old.len() == new.len() => {
            for (index, (o, n)) in old.iter().zip(new).enumerate() {
                leaves(o, n, format!("{path}[{index}]"), out);
            }
        }
        (old, new) if old != new => out.push(FieldChange {
            path,
            before: (!old.is_null()).then(|| old.clone()),
            after: (!new.is_null()).then(|| new.clone()),
        }),
        _ => {}
    }
}

/// The elements of a list of conditions by their `type`, or `None` for any other list.
fn by_type(items: &[Value]) -> Option<BTreeMap<&str, &Value>> {
    let keyed: Option<BTreeMap<&str, &Value>> = items
        .iter()
        .map(|item| item.get("type").and_then(Value::as_str).map(|t| (t, item)))
        .collect();
    keyed.filter(|keyed| !keyed.is_empty() && keyed.len() == items.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_are_compared_by_their_type() {
        let status = |reason: &str| {
            json!({"conditions": [
            {"type": "Ready", "status": "False", "reason": reason},
            {"type": "RoutingReady", "status": "True", "reason": "RouteReady"}]})
        };
        let diff = diff_plans(&plan(json!([]), status("A")), &plan(json!([]), status("B")));
        assert_eq!(diff.status.len(), 1);
        assert_eq!(diff.status[0].path, "status.conditions[Ready].reason");
    }

    fn plan(objects: Value, status: Value) -> Plan {
        let apply: Vec<Value> = objects
            .as_array()
            .unwrap()
            .iter()
            .map(|o| json!({"object": o, "owner": "subject"}))
            .collect();
        serde_json::from_value(json!({
            "apiVersion": "aim.silogen.ai/plan/v1", "apply": apply, "status": status
        }))
        .unwrap()
    }

    fn route(path: &str) -> Value {
        json!({"kind": "HTTPRoute", "metadata": {"name": "chat-route"},
               "spec": {"rules": [{"matches": [{"path": {"value": path}}]}]}})
    }

    #[test]
    fn equal_plans_have_an_empty_diff() {
        let p = plan(json!([route("/a")]), json!({"status": "Running"}));
        assert!(diff_plans(&p, &p).is_empty());
    }

    #[test]
    fn a_changed_field_is_named_by_its_path() {
        let before = plan(json!([route("/a")]), json!(null));
        let after = plan(json!([route("/b")]), json!(null));
        let diff = diff_plans(&before, &after);
        assert_eq!(diff.changed.len(), 1);
        let (key, changes) = &diff.changed[0];
        assert_eq!(key, "HTTPRoute chat-route");
        assert_eq!(changes[0].path, "spec.rules[0].matches[0].path.value");
        assert_eq!(changes[0].after, Some(json!("/b")));
        assert!(describe(&diff).contains(r#""/a" -> "/b""#));
    }

    #[test]
    fn an_event_only_one_plan_records_is_shown_with_its_side() {
        let before = plan(json!([]), json!(null));
        let mut after = before.clone();
        after.events = vec![aim_api::policy::plan::PlannedEvent {
            type_: aim_api::policy::plan::EventType::Warning,
            reason: "NoTeam".to_owned(),
            message: "label the service with its team".to_owned(),
        }];
        let diff = diff_plans(&before, &after);
        assert_eq!(
            diff.events,
            ["+ event Warning NoTeam: label the service with its team"]
        );
        assert!(describe(&diff_plans(&after, &before)).contains("- event Warning NoTeam"));
    }

    #[test]
    fn objects_added_and_removed_are_listed() {
        let isvc = json!({"kind": "InferenceService", "metadata": {"name": "chat"}});
        let before = plan(json!([isvc]), json!(null));
        let after = plan(json!([isvc, route("/a")]), json!(null));
        assert_eq!(diff_plans(&before, &after).added, ["HTTPRoute chat-route"]);
        assert_eq!(
            diff_plans(&after, &before).removed,
            ["HTTPRoute chat-route"]
        );
    }

    #[test]
    fn condition_transition_times_are_not_a_change() {
        let status = |time: &str| json!({"conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": time}]});
        let before = plan(json!([]), status("2026-01-01T00:00:00Z"));
        let after = plan(json!([]), status("2026-02-01T00:00:00Z"));
        assert!(diff_plans(&before, &after).is_empty());
    }
}
