//! Unknown fields in the AIM objects `render` reads. The typed parse ignores a field it does not
//! know, so a misspelt optional field (`overides:`) would silently render as if it were absent;
//! the apiserver would prune it the same way. Each AIM object is therefore walked against its
//! CRD's schema, as `kubectl apply --validate=strict` does, and the first field the schema does
//! not know is reported, with the closest known name.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

/// The first field of `object` (an AIM kind) its CRD schema does not know, as a message.
pub fn unknown_field(kind: &str, object: &Value) -> Option<String> {
    let schema = schemas().get(kind)?;
    // Every object has these, whatever its CRD's schema lists.
    let mut object = object.clone();
    if let Some(fields) = object.as_object_mut() {
        for common in ["apiVersion", "kind", "metadata"] {
            fields.remove(common);
        }
    }
    let path = walk(schema, &object, String::new())?;
    Some(format!(
        "field `{}` is not part of {kind}{}",
        path.0, path.1
    ))
}

/// The `openAPIV3Schema` of every AIM kind, by kind.
fn schemas() -> &'static HashMap<String, Value> {
    static SCHEMAS: OnceLock<HashMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        aim_api::crds::all()
            .into_iter()
            .filter_map(|crd| {
                let schema = crd.spec.versions.first()?.schema.as_ref()?;
                let schema = serde_json::to_value(schema.open_api_v3_schema.as_ref()?).ok()?;
                Some((crd.spec.names.kind, schema))
            })
            .collect()
    })
}

/// The path of the first unknown field under `value`, and a hint (`" (did you mean ...?)"`).
fn walk(schema: &Value, value: &Value, path: String) -> Option<(String, String)> {
    if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        return None;
    }
    match value {
        Value::Object(fields) => {
            if let Some(properties) = schema["properties"].as_object() {
                for (name, field) in fields {
                    let child = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    match properties.get(name) {
                        Some(field_schema) => {
                            if let Some(found) = walk(field_schema, field, child) {
                                return Some(found);
                            }
                        }
                        None if schema["additionalProperties"].is_object() => {}
                        None => {
                            let hint = closest(name, properties.keys())
                                .map(|known| format!(" (did you mean `{known}`?)"))
                                .unwrap_or_default();
                            return Some((child, hint));
                        }
                    }
                }
                None
            } else if schema["additionalProperties"].is_object() {
                fields.iter().find_map(|(name, field)| {
                    walk(
                        &schema["additionalProperties"],
                        field,
                        format!("{path}.{name}"),
                    )
                })
            } else {
                None
            }
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| walk(&schema["items"], item, format!("{path}[{index}]"))),
        _ => None,
    }
}

/// The known name most like `name`, if one is close (a typo, a case slip).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let folded = name.to_ascii_lowercase();
    known
        .map(|candidate| {
            (
                edit_distance(&folded, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 4))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misspelt_field_is_named_with_the_field_it_resembles() {
        let service = json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat", "anything": "goes"},
            "spec": {"model": {"image": "x"}, "overides": {"metric": "latency"}},
        });
        assert_eq!(
            unknown_field("AIMService", &service).as_deref(),
            Some("field `spec.overides` is not part of AIMService (did you mean `overrides`?)")
        );
    }

    #[test]
    fn known_fields_pass_at_every_depth() {
        let service = json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "chat"},
            "spec": {"model": {"image": "x"}, "overrides": {"metric": "latency"}},
        });
        assert_eq!(unknown_field("AIMService", &service), None);
    }

    #[test]
    fn nested_unknown_fields_carry_their_full_path() {
        let service = json!({"spec": {"model": {"image": "x", "tag": "1"}}});
        let message = unknown_field("AIMService", &service).unwrap_or_default();
        assert!(message.starts_with("field `spec.model.tag`"), "{message}");
    }

    #[test]
    fn distances_count_single_edits() {
        assert_eq!(edit_distance("overides", "overrides"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
