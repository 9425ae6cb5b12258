//! An example aim-engine policy for platforms where each team owns a URL prefix.
//!
//! * `paths`: a service labelled `aim.example.com/team: <team>` is served under
//!   `/teams/<team>/<namespace>/<name>`; a service without the label, or with an explicit path
//!   template, gets the default policy's path.
//! * `planner` (`plan-service` only): the default plan, with the team recorded on the HTTPRoute
//!   as annotations, so gateway dashboards and access logs can be grouped by team.
//!
//! Everything else is left to the embedded default policy. The decisions are plain functions
//! over JSON, tested natively; [`component`] adapts them to the `aim:policy@0.1.0` contract.

use serde_json::Value;

#[cfg(target_arch = "wasm32")]
mod component;

/// The label naming the team that owns a service.
pub const TEAM_LABEL: &str = "aim.example.com/team";
/// Annotation set on a team's HTTPRoutes.
pub const TEAM_ANNOTATION: &str = "aim.example.com/team";
/// Annotation naming the URL prefix a team owns, for the gateway's access rules.
pub const PREFIX_ANNOTATION: &str = "aim.example.com/team-prefix";

/// The team of a service (the label value, lower-cased), if it has a usable one.
pub fn team(service: &Value) -> Option<String> {
    let team = service
        .pointer("/metadata/labels")?
        .get(TEAM_LABEL)?
        .as_str()?
        .trim()
        .to_ascii_lowercase();
    let usable = !team.is_empty()
        && team
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    usable.then_some(team)
}

/// The team's path for `service`, or `None` to use the default path: when the service (or its
/// runtime config) sets a path template explicitly, that choice wins over the team convention.
pub fn team_path(service: &Value, path_template: Option<&str>) -> Option<String> {
    if path_template.is_some_and(|t| !t.trim().is_empty()) {
        return None;
    }
    let team = team(service)?;
    let namespace = service.pointer("/metadata/namespace")?.as_str()?;
    let name = service.pointer("/metadata/name")?.as_str()?;
    Some(format!("/teams/{team}/{namespace}/{name}"))
}

/// Adds the team annotations to every HTTPRoute in a plan document for `service`. Returns the
/// plan unchanged when the service has no team.
pub fn annotate_routes(plan: &mut Value, service: &Value) {
    let Some(team) = team(service) else {
        return;
    };
    let Some(objects) = plan.get_mut("apply").and_then(Value::as_array_mut) else {
        return;
    };
    for planned in objects {
        let Some(object) = planned.get_mut("object") else {
            continue;
        };
        if object.get("kind").and_then(Value::as_str) != Some("HTTPRoute") {
            continue;
        }
        let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
            continue;
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(TEAM_ANNOTATION.into(), Value::String(team.clone()));
            annotations.insert(
                PREFIX_ANNOTATION.into(),
                Value::String(format!("/teams/{team}/")),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(labels: Value) -> Value {
        json!({"metadata": {"name": "chat", "namespace": "ml", "labels": labels}})
    }

    #[test]
    fn a_labelled_service_gets_its_teams_prefix() {
        let service = service(json!({TEAM_LABEL: "Search"}));
        assert_eq!(
            team_path(&service, None).as_deref(),
            Some("/teams/search/ml/chat")
        );
    }

    #[test]
    fn an_explicit_path_template_wins_over_the_team_convention() {
        let service = service(json!({TEAM_LABEL: "search"}));
        assert_eq!(team_path(&service, Some("/{.metadata.name}")), None);
    }

    #[test]
    fn a_service_without_a_usable_team_gets_the_default_path() {
        assert_eq!(team_path(&service(json!({})), None), None);
        assert_eq!(team_path(&service(json!({TEAM_LABEL: "a/b"})), None), None);
        assert_eq!(team_path(&service(json!({TEAM_LABEL: " "})), None), None);
    }

    #[test]
    fn only_http_routes_are_annotated() {
        let mut plan = json!({"apply": [
            {"object": {"kind": "InferenceService", "metadata": {"name": "x"}}, "owner": "subject"},
            {"object": {"kind": "HTTPRoute", "metadata": {"name": "x-route"}}, "owner": "subject"}
        ]});
        annotate_routes(&mut plan, &service(json!({TEAM_LABEL: "search"})));
        assert_eq!(plan.pointer("/apply/0/object/metadata/annotations"), None);
        assert_eq!(
            plan.pointer("/apply/1/object/metadata/annotations"),
            Some(&json!({TEAM_ANNOTATION: "search", PREFIX_ANNOTATION: "/teams/search/"}))
        );
    }

    #[test]
    fn a_plan_for_a_service_without_a_team_is_unchanged() {
        let mut plan = json!({"apply": [{"object": {"kind": "HTTPRoute", "metadata": {}}}]});
        let before = plan.clone();
        annotate_routes(&mut plan, &service(json!({})));
        assert_eq!(plan, before);
    }
}
