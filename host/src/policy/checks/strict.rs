//! Decoding a planned object into a typed one without losing anything. Kubernetes types ignore
//! fields they do not know, so a field the checks' types lack would pass unchecked and reach the
//! apiserver, whose schema for it might know it. Decoding is therefore strict: the object is
//! decoded, encoded again, and every value the plan set must still be there.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// `value` as a `T`, or the path of the first field `T` does not carry (or the decoding error).
pub fn decode<T: DeserializeOwned + Serialize>(value: &Value) -> Result<T, String> {
    let decoded: T = serde_path_to_error::deserialize(value)
        .map_err(|error| format!("{} does not decode: {}", at(error.path()), error.inner()))?;
    let encoded = serde_json::to_value(&decoded).map_err(|error| error.to_string())?;
    match first_dropped(value, &encoded, String::new()) {
        None => Ok(decoded),
        Some(path) => Err(format!(
            "field {path} is not one the operator can check; plans may not set it"
        )),
    }
}

fn at(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." || text.is_empty() {
        "the object".to_string()
    } else {
        format!("field {text}")
    }
}

/// The path of the first value set in `original` that `decoded` lacks. Nulls and empty
/// objects or arrays carry nothing, so losing them loses nothing.
fn first_dropped(original: &Value, decoded: &Value, path: String) -> Option<String> {
    match (original, decoded) {
        (Value::Object(fields), Value::Object(kept)) => fields.iter().find_map(|(key, value)| {
            let here = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            match kept.get(key) {
                Some(kept) => first_dropped(value, kept, here),
                None if carries_nothing(value) => None,
                None => Some(here),
            }
        }),
        (Value::Array(items), Value::Array(kept)) if items.len() == kept.len() => items
            .iter()
            .zip(kept)
            .enumerate()
            .find_map(|(index, (item, kept))| {
                first_dropped(item, kept, format!("{path}[{index}]"))
            }),
        (value, _) if carries_nothing(value) => None,
        (Value::Object(_) | Value::Array(_), _) => Some(path),
        // A scalar decoded into a scalar: kept (possibly normalised, e.g. a number's form).
        _ => None,
    }
}

fn carries_nothing(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(fields) => fields.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::batch::v1::Job;
    use serde_json::json;

    use super::*;

    #[test]
    fn a_known_object_decodes_whole() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i",
                "securityContext": {"privileged": false}}]}}}});
        assert!(decode::<Job>(&job).is_ok());
    }

    #[test]
    fn a_field_the_type_does_not_know_is_named_and_refused() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c",
                "securityContext": {"privilegd": true}}]}}}});
        let error = decode::<Job>(&job).err().unwrap_or_default();
        assert!(
            error.contains("spec.template.spec.containers[0].securityContext.privilegd"),
            "{error}"
        );
    }

    #[test]
    fn a_wrongly_typed_field_is_refused_with_its_path() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"hostNetwork": "yes", "containers": []}}}});
        let error = decode::<Job>(&job).err().unwrap_or_default();
        assert!(error.contains("hostNetwork"), "{error}");
    }

    #[test]
    fn nulls_and_empty_values_lose_nothing() {
        let job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j",
            "unknownButEmpty": {}}, "spec": {"template": {"spec": {"containers": [], "x": null}}}});
        assert!(decode::<Job>(&job).is_ok());
    }
}
