//! An AIM image's labels as model metadata: `com.amd.aim.*` first, the legacy `org.amd.silogen.*`
//! second, standard OCI labels, and the recommended deployments templates are generated from.

use std::collections::BTreeMap;

use aim_api::conditions::reasons;
use aim_api::v1alpha1::{
    AIMImageMetadata, AIMMetric, AIMModelMetadata, AIMOciMetadata, AIMPrecision,
    AIMRecommendedDeployment,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

const AIM_PREFIXES: [&str; 2] = ["com.amd.aim.", "org.amd.silogen."];
const OCI_PREFIX: &str = "org.opencontainers.image.";
const RECOMMENDED_DEPLOYMENTS: &str = "model.recommendedDeployments";

/// Labels that cannot be turned into templates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataFormatError {
    /// `MetadataMissingRecommendedDeployments` or `MetadataMalformed`.
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl MetadataFormatError {
    /// True when the image simply recommends nothing: the model stays usable with manual templates.
    pub fn is_missing_deployments(&self) -> bool {
        self.reason == reasons::METADATA_MISSING_RECOMMENDED_DEPLOYMENTS
    }

    fn missing_deployments() -> Self {
        Self {
            reason: reasons::METADATA_MISSING_RECOMMENDED_DEPLOYMENTS,
            message: format!(
                "auto template creation requires image label \"org.amd.silogen.{RECOMMENDED_DEPLOYMENTS}\" with at least one entry"
            ),
        }
    }

    fn malformed(message: String) -> Self {
        Self {
            reason: reasons::METADATA_MALFORMED,
            message,
        }
    }
}

/// Reads an image's labels. At least one recommended deployment is required.
pub fn image_metadata(
    labels: &BTreeMap<String, String>,
) -> Result<AIMImageMetadata, MetadataFormatError> {
    let aim = |key: &str| {
        AIM_PREFIXES
            .iter()
            .find_map(|prefix| labels.get(&format!("{prefix}{key}")))
            .map(|value| value.trim().to_owned())
            .unwrap_or_default()
    };
    let deployments = recommended_deployments(&aim(RECOMMENDED_DEPLOYMENTS))?;
    if deployments.is_empty() {
        return Err(MetadataFormatError::missing_deployments());
    }
    let model = AIMModelMetadata {
        canonical_name: aim("model.canonicalName"),
        source: aim("model.source"),
        tags: comma_list(&aim("model.tags")),
        versions: comma_list(&aim("model.versions")),
        variants: comma_list(&aim("model.variants")),
        hf_token_required: parse_bool(&aim("hfToken.required")),
        title: aim("title"),
        description_full: aim("description.full"),
        release_notes: aim("release.notes"),
        recommended_deployments: deployments,
    };
    let original_labels = labels
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    Ok(AIMImageMetadata {
        model: Some(model),
        oci: oci_metadata(labels),
        original_labels: Some(original_labels),
    })
}

fn oci_metadata(labels: &BTreeMap<String, String>) -> Option<AIMOciMetadata> {
    let oci = |key: &str| {
        labels
            .get(&format!("{OCI_PREFIX}{key}"))
            .cloned()
            .unwrap_or_default()
    };
    let metadata = AIMOciMetadata {
        title: oci("title"),
        description: oci("description"),
        licenses: oci("licenses"),
        vendor: oci("vendor"),
        authors: oci("authors"),
        source: oci("source"),
        documentation: oci("documentation"),
        created: oci("created"),
        revision: oci("revision"),
        version: oci("version"),
    };
    (metadata != AIMOciMetadata::default()).then_some(metadata)
}

/// The deployments label: a JSON array or comma-separated objects, often written with single
/// quotes because image labels are hard to quote otherwise.
fn recommended_deployments(
    label: &str,
) -> Result<Vec<AIMRecommendedDeployment>, MetadataFormatError> {
    if label.is_empty() {
        return Ok(Vec::new());
    }
    let json = label.replace('\'', "\"");
    let json = if json.starts_with('[') {
        json
    } else {
        format!("[{json}]")
    };
    let entries: Vec<Value> = serde_json::from_str(&json).map_err(|error| {
        MetadataFormatError::malformed(format!(
            "recommendedDeployments label is not valid JSON: {error}"
        ))
    })?;
    entries
        .iter()
        .enumerate()
        .map(|(index, entry)| deployment(index, entry))
        .collect()
}

fn deployment(
    index: usize,
    entry: &Value,
) -> Result<AIMRecommendedDeployment, MetadataFormatError> {
    let malformed = |problem: &str| {
        MetadataFormatError::malformed(format!("recommended deployment {index}: {problem}"))
    };
    let fields = entry
        .as_object()
        .ok_or_else(|| malformed("not an object"))?;
    let text = |key: &str| match fields.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.trim().to_owned()),
        Some(_) => Err(malformed(&format!("{key:?} is not a string"))),
    };
    let gpu_count = match fields.get("gpuCount") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(number)) => number
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(-1),
        Some(Value::String(text)) => text.trim().parse().unwrap_or(-1),
        Some(_) => -1,
    };
    if gpu_count < 0 {
        return Err(malformed("\"gpuCount\" is not a whole number"));
    }
    let metric = text("metric")?.to_lowercase();
    if !metric.is_empty() && parse_metric(&metric).is_none() {
        return Err(malformed(&format!("unknown metric {metric:?}")));
    }
    let precision = text("precision")?.to_lowercase();
    if !precision.is_empty() && parse_precision(&precision).is_none() {
        return Err(malformed(&format!("unknown precision {precision:?}")));
    }
    Ok(AIMRecommendedDeployment {
        gpu_model: text("gpuModel")?,
        gpu_count,
        precision,
        metric,
        description: text("description")?,
    })
}

/// The metric a deployment names, if it is one the API knows.
pub fn parse_metric(text: &str) -> Option<AIMMetric> {
    parse_enum(text)
}

/// The precision a deployment names, if it is one the API knows.
pub fn parse_precision(text: &str) -> Option<AIMPrecision> {
    parse_enum(text)
}

fn parse_enum<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_json::from_value(Value::String(text.to_lowercase())).ok()
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Go's `strconv.ParseBool` truths; anything else is false.
fn parse_bool(value: &str) -> bool {
    matches!(value, "1" | "t" | "T" | "true" | "TRUE" | "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const DEPLOYMENTS: &str = "[{'gpuModel': 'MI300X', 'gpuCount': 1, 'precision': 'fp8', 'metric': 'latency'}, {'gpuModel': 'MI325X', 'gpuCount': 1, 'precision': 'fp8', 'metric': 'throughput'}]";

    #[test]
    fn single_quoted_deployments_are_read() {
        let metadata = image_metadata(&labels(&[(
            "com.amd.aim.model.recommendedDeployments",
            DEPLOYMENTS,
        )]))
        .unwrap();
        let model = metadata.model.unwrap();
        assert_eq!(model.recommended_deployments.len(), 2);
        assert_eq!(model.recommended_deployments[1].gpu_model, "MI325X");
        assert_eq!(model.recommended_deployments[1].metric, "throughput");
    }

    #[test]
    fn comma_separated_objects_are_read_as_an_array() {
        let label = "{'gpuModel': 'MI300X', 'gpuCount': '2'}, {'gpuModel': 'MI210'}";
        let metadata = image_metadata(&labels(&[(
            "org.amd.silogen.model.recommendedDeployments",
            label,
        )]))
        .unwrap();
        let deployments = metadata.model.unwrap().recommended_deployments;
        assert_eq!(deployments[0].gpu_count, 2);
        assert_eq!(deployments[1].gpu_model, "MI210");
    }

    #[test]
    fn the_current_prefix_wins_over_the_legacy_one() {
        let metadata = image_metadata(&labels(&[
            ("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS),
            ("com.amd.aim.model.canonicalName", "meta-llama/Llama-3.1-8B"),
            ("org.amd.silogen.model.canonicalName", "legacy"),
            ("org.amd.silogen.model.tags", "chat, instruct,,"),
            ("org.amd.silogen.hfToken.required", "true"),
        ]))
        .unwrap();
        let model = metadata.model.unwrap();
        assert_eq!(model.canonical_name, "meta-llama/Llama-3.1-8B");
        assert_eq!(model.tags, ["chat", "instruct"]);
        assert!(model.hf_token_required);
    }

    #[test]
    fn oci_labels_and_all_original_labels_are_kept() {
        let metadata = image_metadata(&labels(&[
            ("com.amd.aim.model.recommendedDeployments", DEPLOYMENTS),
            ("org.opencontainers.image.version", "0.7.0"),
        ]))
        .unwrap();
        assert_eq!(metadata.oci.unwrap().version, "0.7.0");
        assert_eq!(metadata.original_labels.unwrap().len(), 2);
    }

    #[test]
    fn an_image_without_deployments_is_reported_as_missing_them() {
        let error =
            image_metadata(&labels(&[("org.opencontainers.image.title", "x")])).unwrap_err();
        assert!(error.is_missing_deployments());
        assert!(
            error
                .message
                .contains("org.amd.silogen.model.recommendedDeployments")
        );
    }

    #[test]
    fn unreadable_deployments_are_malformed() {
        for label in [
            "{not json",
            "[1]",
            "[{'gpuCount': 'two'}]",
            "[{'gpuModel': 3}]",
            "[{'metric': 'fastest'}]",
            "[{'precision': 'fp7'}]",
        ] {
            let error = image_metadata(&labels(&[(
                "com.amd.aim.model.recommendedDeployments",
                label,
            )]))
            .unwrap_err();
            assert_eq!(error.reason, reasons::METADATA_MALFORMED, "{label}");
        }
    }
}
