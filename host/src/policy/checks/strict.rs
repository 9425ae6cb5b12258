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
    match first_dropped(value, &encoded) {
        None => Ok(decoded),
        Some(path) => Err(format!(
            "field {} is not one the operator can check; plans may not set it",
            path.text()
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

/// Where a dropped value was, innermost step first: built only once one is found, so a plan
/// that loses nothing (every plan of a sound policy) costs no path text.
#[derive(Default)]
struct DroppedAt<'a>(Vec<Step<'a>>);

enum Step<'a> {
    Field(&'a str),
    Item(usize),
}

impl<'a> DroppedAt<'a> {
    fn within(mut self, step: Step<'a>) -> Self {
        self.0.push(step);
        self
    }

    /// `spec.template.spec.containers[0].name`.
    fn text(&self) -> String {
        let mut text = String::new();
        for step in self.0.iter().rev() {
            match step {
                Step::Field(key) if text.is_empty() => text.push_str(key),
                Step::Field(key) => {
                    text.push('.');
                    text.push_str(key);
                }
                Step::Item(index) => text.push_str(&format!("[{index}]")),
            }
        }
        text
    }
}

/// Where the first value set in `original` that `decoded` lacks was. Nulls and empty objects or
/// arrays carry nothing, so losing them loses nothing.
fn first_dropped<'a>(original: &'a Value, decoded: &Value) -> Option<DroppedAt<'a>> {
    match (original, decoded) {
        (Value::Object(fields), Value::Object(kept)) => fields.iter().find_map(|(key, value)| {
            let inside = match kept.get(key) {
                Some(kept) => first_dropped(value, kept)?,
                None if carries_nothing(value) => return None,
                None => DroppedAt::default(),
            };
            Some(inside.within(Step::Field(key)))
        }),
        (Value::Array(items), Value::Array(kept)) if items.len() == kept.len() => items
            .iter()
            .zip(kept)
            .enumerate()
            .find_map(|(index, (item, kept))| {
                Some(first_dropped(item, kept)?.within(Step::Item(index)))
            }),
        (value, _) if carries_nothing(value) => None,
        (Value::Object(_) | Value::Array(_), _) => Some(DroppedAt::default()),
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
