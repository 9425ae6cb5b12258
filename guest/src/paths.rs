//! Route path rendering: a path template such as
//! `/{.metadata.namespace}/{.metadata.labels['team']}` is filled from the AIMService object, and
//! every segment is made RFC 1123 compliant. Without a template the path is `/<namespace>/<name>`.

mod jsonpath;

use serde_json::Value;

use crate::PolicyFailure;
use crate::names::make_rfc1123_compliant;

/// Longest route path the operator accepts.
pub const MAX_PATH_LENGTH: usize = 200;

/// The template used when neither the service nor its runtime config sets one.
pub const DEFAULT_PATH_TEMPLATE: &str = "/{.metadata.namespace}/{.metadata.name}";

/// The condition reason for every path template error.
pub const PATH_TEMPLATE_INVALID: &str = "PathTemplateInvalid";

/// Renders the route path for `service` from `template` (blank or absent means the default).
pub fn render_path(service: &Value, template: Option<&str>) -> Result<String, PolicyFailure> {
    let template = template
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or(DEFAULT_PATH_TEMPLATE);
    let raw = substitute_placeholders(service, template).map_err(rejected)?;
    normalize(&raw).map_err(rejected)
}

/// Parses the service JSON, then renders; a service that is not a JSON object is invalid input.
pub fn render_path_from_json(
    service_json: &str,
    template: Option<&str>,
) -> Result<String, PolicyFailure> {
    let service: Value = serde_json::from_str(service_json).map_err(|error| {
        PolicyFailure::InvalidInput(format!("service is not valid JSON: {error}"))
    })?;
    if !service.is_object() {
        return Err(PolicyFailure::InvalidInput(
            "service must be a JSON object".to_string(),
        ));
    }
    render_path(&service, template)
}

fn rejected(message: String) -> PolicyFailure {
    PolicyFailure::Rejected {
        reason: PATH_TEMPLATE_INVALID.to_string(),
        message,
    }
}

/// Replaces each `{expression}` (the regex `\{([^{}]+)\}`); text outside braces is kept literally.
fn substitute_placeholders(service: &Value, template: &str) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find(['{', '}']) {
            Some(close) if after[close..].starts_with('}') && close > 0 => {
                out.push_str(&rest[..open]);
                out.push_str(&evaluate_expression(service, &after[..close])?);
                rest = &after[close + 1..];
            }
            _ => {
                // Not a placeholder: keep the brace and look again after it.
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Evaluates one placeholder: labels and annotations by key, anything else as JSONPath.
/// Label and field values are sanitised; annotation values go in raw and may add segments.
fn evaluate_expression(service: &Value, expression: &str) -> Result<String, String> {
    let expression = expression.trim();
    if expression.is_empty() {
        return Err("invalid jsonpath expression: empty expression".to_string());
    }
    if let Some(key) = map_key(expression, ".metadata.labels") {
        let value = metadata_entry(service, "labels", key)
            .ok_or_else(|| format!("jsonpath evaluation error: label {key:?} not found"))?;
        return Ok(make_rfc1123_compliant(value.trim()));
    }
    if let Some(key) = map_key(expression, ".metadata.annotations") {
        let value = metadata_entry(service, "annotations", key)
            .ok_or_else(|| format!("jsonpath evaluation error: annotation {key:?} not found"))?;
        return Ok(value.trim().to_string());
    }
    let value = jsonpath::evaluate_single(service, expression).map_err(|error| match error {
        jsonpath::JsonPathError::Invalid(why) => format!("invalid jsonpath expression: {why}"),
        jsonpath::JsonPathError::Evaluation(why) => format!("jsonpath evaluation error: {why}"),
    })?;
    Ok(make_rfc1123_compliant(scalar_text(value).trim()))
}

/// `prefix['key']` or `prefix["key"]` gives `key`.
fn map_key<'a>(expression: &'a str, prefix: &str) -> Option<&'a str> {
    let bracket = expression
        .strip_prefix(prefix)?
        .strip_prefix('[')?
        .strip_suffix(']')?;
    ['\'', '"']
        .into_iter()
        .find_map(|quote| bracket.strip_prefix(quote)?.strip_suffix(quote))
}

fn metadata_entry<'a>(service: &'a Value, map: &str, key: &str) -> Option<&'a str> {
    service.get("metadata")?.get(map)?.get(key)?.as_str()
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Leading `/`, no trailing `/`, at most 200 characters, each non-empty segment RFC 1123.
fn normalize(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("route template produced an empty path".to_string());
    }
    let mut path = if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    };
    while path.len() > 1 && path.ends_with('/') {
        path.pop();
    }
    if path.len() > MAX_PATH_LENGTH {
        return Err(format!(
            "route path {path:?} exceeds {MAX_PATH_LENGTH} characters"
        ));
    }
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(make_rfc1123_compliant)
        .filter(|s| !s.is_empty())
        .collect();
    if segments.is_empty() {
        return Err("route template produced an empty path".to_string());
    }
    let normalized = format!("/{}", segments.join("/"));
    if normalized.len() > MAX_PATH_LENGTH {
        return Err(format!(
            "route path {normalized:?} exceeds {MAX_PATH_LENGTH} characters"
        ));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service() -> Value {
        json!({
            "metadata": {
                "name": "llama-chat",
                "namespace": "Testing",
                "uid": "12345678-90ab",
                "labels": {"aim.silogen.ai/workload-id": "Workload-42", "long": "x".repeat(104)},
                "annotations": {"team": "Team-A/B"}
            },
            "spec": {"model": {"ref": "Meta/Llama-3-8B"}},
            "status": {"resolvedImage": {"name": "Meta/Llama-3-8B"}}
        })
    }

    fn rejection_message(result: Result<String, PolicyFailure>) -> String {
        match result {
            Err(PolicyFailure::Rejected { reason, message }) if reason == PATH_TEMPLATE_INVALID => {
                message
            }
            other => panic!("expected a PathTemplateInvalid rejection, got {other:?}"),
        }
    }

    #[test]
    fn a_label_placeholder_is_lowercased_and_the_trailing_slash_dropped() {
        let path = render_path(
            &service(),
            Some("/{.metadata.namespace}/{.metadata.labels['aim.silogen.ai/workload-id']}/"),
        );
        assert_eq!(path.unwrap(), "/testing/workload-42");
    }

    #[test]
    fn a_status_field_is_sanitised_into_one_segment() {
        let path = render_path(
            &service(),
            Some("/{.metadata.namespace}/{.status.resolvedImage.name}"),
        );
        assert_eq!(path.unwrap(), "/testing/meta-llama-3-8b");
    }

    #[test]
    fn an_annotation_value_is_inserted_raw_and_may_add_segments() {
        let path = render_path(&service(), Some("/{.metadata.annotations['team']}"));
        assert_eq!(path.unwrap(), "/team-a/b");
    }

    #[test]
    fn without_a_template_the_path_is_namespace_and_name() {
        assert_eq!(
            render_path(&service(), None).unwrap(),
            "/testing/llama-chat"
        );
        assert_eq!(
            render_path(&service(), Some("  ")).unwrap(),
            "/testing/llama-chat"
        );
    }

    #[test]
    fn four_long_label_segments_exceed_200_characters() {
        let template = "/{.metadata.labels['long']}/{.metadata.labels['long']}/{.metadata.labels['long']}/{.metadata.labels['long']}";
        assert!(
            rejection_message(render_path(&service(), Some(template)))
                .contains("exceeds 200 characters")
        );
    }

    #[test]
    fn a_broken_expression_is_an_invalid_jsonpath_expression() {
        assert!(
            rejection_message(render_path(&service(), Some("/{.metadata[}")))
                .contains("invalid jsonpath expression")
        );
    }

    #[test]
    fn missing_labels_and_fields_are_evaluation_errors() {
        let label = rejection_message(render_path(&service(), Some("/{.metadata.labels['nope']}")));
        assert_eq!(label, "jsonpath evaluation error: label \"nope\" not found");
        assert!(
            rejection_message(render_path(&service(), Some("/{.spec.missing}")))
                .starts_with("jsonpath evaluation error")
        );
    }

    #[test]
    fn text_outside_braces_is_kept_and_an_all_empty_path_is_refused() {
        assert_eq!(
            render_path(&service(), Some("api/{.metadata.name}/v1")).unwrap(),
            "/api/llama-chat/v1"
        );
        assert!(rejection_message(render_path(&service(), Some("/___/"))).contains("empty path"));
    }

    #[test]
    fn a_service_that_is_not_an_object_is_invalid_input() {
        assert!(matches!(
            render_path_from_json("[1]", None),
            Err(PolicyFailure::InvalidInput(_))
        ));
        assert!(matches!(
            render_path_from_json("{", None),
            Err(PolicyFailure::InvalidInput(_))
        ));
    }
}
