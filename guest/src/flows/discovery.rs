//! Reading what a discovery Job printed: a JSON array of profiles, either the whole log or the last
//! `[`…`]` slice of it that parses to a non-empty array. Only the first profile is used; its models
//! become the template's model sources.

use std::collections::BTreeMap;

use aim_api::v1alpha1::{AIMModelSource, AIMProfile, AIMProfileMetadata};
use serde_json::{Map, Value};

use crate::quantity::from_gibibytes;

/// Larger than any model (a billion GiB); anything beyond is a broken report, not a size.
const MAX_SIZE_GIB: f64 = 1e9;
/// Bound on slices tried, so a log full of brackets cannot make planning slow.
const MAX_SLICE_ATTEMPTS: usize = 2_000;

/// What discovery found.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryResult {
    /// The runtime profile, for `status.profile`.
    pub profile: AIMProfile,
    /// The model files, for `status.modelSources`.
    pub model_sources: Vec<AIMModelSource>,
}

/// Why a discovery log could not be read.
#[derive(Debug, Clone, PartialEq)]
pub enum DiscoveryParseError {
    /// The Job succeeded but its output could not be read.
    OutputUnavailable,
    /// No JSON array with content is in the log.
    NoProfiles,
    /// The first profile is not shaped as discovery writes it.
    MalformedProfile(String),
    /// A model has a negative, infinite or absurd size.
    InvalidModelSize { model: String, size_gb: f64 },
}

impl std::fmt::Display for DiscoveryParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutputUnavailable => write!(f, "the discovery output is not available"),
            Self::NoProfiles => {
                write!(f, "the discovery output contains no JSON array of profiles")
            }
            Self::MalformedProfile(problem) => {
                write!(f, "the discovered profile is malformed: {problem}")
            }
            Self::InvalidModelSize { model, size_gb } => {
                write!(f, "model {model:?} has an invalid size of {size_gb} GB")
            }
        }
    }
}

/// Parses a discovery Job's log.
pub fn parse_discovery_output(log: &str) -> Result<DiscoveryResult, DiscoveryParseError> {
    let profiles = profile_array(log).ok_or(DiscoveryParseError::NoProfiles)?;
    let first = profiles.first().ok_or(DiscoveryParseError::NoProfiles)?;
    let entry = first
        .as_object()
        .ok_or_else(|| malformed("a profile entry is not an object"))?;
    let profile = entry
        .get("profile")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("the entry has no \"profile\" object"))?;
    let model_sources = match entry.get("models") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(models)) => models.iter().map(model_source).collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed("\"models\" is not an array")),
    };
    Ok(DiscoveryResult {
        profile: AIMProfile {
            engine_args: engine_args(profile)?,
            env_vars: env_vars(profile)?,
            metadata: metadata(profile)?,
        },
        model_sources,
    })
}

/// The whole log as an array, else the last slice between brackets that is a non-empty array.
fn profile_array(log: &str) -> Option<Vec<Value>> {
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(log.trim()) {
        return Some(items);
    }
    let opens: Vec<usize> = log.match_indices('[').map(|(i, _)| i).collect();
    let closes = log.rmatch_indices(']').map(|(i, _)| i);
    let mut attempts = 0;
    for close in closes {
        // The outermost array ending here starts at the earliest bracket that parses.
        for &open in opens.iter().take_while(|&&open| open < close) {
            attempts += 1;
            if attempts > MAX_SLICE_ATTEMPTS {
                return None;
            }
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&log[open..=close])
                && !items.is_empty()
            {
                return Some(items);
            }
        }
    }
    None
}

fn malformed(problem: &str) -> DiscoveryParseError {
    DiscoveryParseError::MalformedProfile(problem.to_owned())
}

fn engine_args(
    profile: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, DiscoveryParseError> {
    match profile.get("engine_args") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(args)) => Ok(Some(args.clone())),
        Some(_) => Err(malformed("\"engine_args\" is not an object")),
    }
}

/// Environment values are strings, but a number or boolean printed bare is taken as its text.
fn env_vars(profile: &Map<String, Value>) -> Result<BTreeMap<String, String>, DiscoveryParseError> {
    let Some(value) = profile.get("env_vars").filter(|v| !v.is_null()) else {
        return Ok(BTreeMap::new());
    };
    let vars = value
        .as_object()
        .ok_or_else(|| malformed("\"env_vars\" is not an object"))?;
    vars.iter()
        .map(|(name, value)| {
            scalar_text(value)
                .map(|text| (name.clone(), text))
                .ok_or_else(|| malformed(&format!("env var {name:?} is not a scalar")))
        })
        .collect()
}

fn metadata(profile: &Map<String, Value>) -> Result<AIMProfileMetadata, DiscoveryParseError> {
    let Some(value) = profile.get("metadata").filter(|v| !v.is_null()) else {
        return Ok(AIMProfileMetadata::default());
    };
    let fields = value
        .as_object()
        .ok_or_else(|| malformed("\"metadata\" is not an object"))?;
    let text = |key: &str| fields.get(key).and_then(scalar_text).unwrap_or_default();
    let gpu_count = match fields.get("gpu_count") {
        None | Some(Value::Null) => 0,
        Some(value) => scalar_text(value)
            .and_then(|text| text.parse::<i32>().ok())
            .filter(|count| *count >= 0)
            .ok_or_else(|| malformed("\"gpu_count\" is not a whole number"))?,
    };
    Ok(AIMProfileMetadata {
        engine: text("engine"),
        gpu: text("gpu"),
        gpu_count,
        metric: text("metric"),
        precision: text("precision"),
    })
}

fn model_source(model: &Value) -> Result<AIMModelSource, DiscoveryParseError> {
    let fields = model
        .as_object()
        .ok_or_else(|| malformed("a model is not an object"))?;
    let name = fields
        .get("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let source = fields
        .get("source")
        .and_then(Value::as_str)
        .filter(|source| !source.trim().is_empty())
        .ok_or_else(|| malformed("a model has no \"source\""))?;
    let size_gb = fields.get("size_gb").and_then(Value::as_f64).unwrap_or(0.0);
    if !size_gb.is_finite() || !(0.0..=MAX_SIZE_GIB).contains(&size_gb) {
        return Err(DiscoveryParseError::InvalidModelSize {
            model: name.unwrap_or_else(|| source.to_owned()),
            size_gb,
        });
    }
    Ok(AIMModelSource {
        name,
        source_uri: source.to_owned(),
        size: from_gibibytes(size_gb),
    })
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"[{"filename": "vllm-mi300x-fp8-tp1-latency.yaml",
      "profile": {"model": "HuggingFaceTB/SmolLM2-135M", "quantized_model": "",
        "metadata": {"engine": "vllm", "gpu": "MI300X", "precision": "fp8", "gpu_count": 1, "metric": "latency"},
        "engine_args": {"distributed_executor_backend": "mp", "gpu-memory-utilization": 0.95, "tensor-parallel-size": 1},
        "env_vars": {"HIP_FORCE_DEV_KERNARG": "1", "VLLM_USE_V1": "0"}},
      "models": [{"name": "smol2-135m", "source": "hf://HuggingFaceTB/SmolLM2-135M", "size_gb": 0.5}]}]"#;

    #[test]
    fn the_sample_output_gives_profile_and_model_sources() {
        let result = parse_discovery_output(SAMPLE).unwrap();
        assert_eq!(result.profile.metadata.gpu, "MI300X");
        assert_eq!(result.profile.metadata.gpu_count, 1);
        assert_eq!(result.profile.env_vars["VLLM_USE_V1"], "0");
        let args = result.profile.engine_args.unwrap();
        assert_eq!(args["tensor-parallel-size"], 1);
        assert_eq!(result.model_sources.len(), 1);
        assert_eq!(result.model_sources[0].name.as_deref(), Some("smol2-135m"));
        assert_eq!(
            result.model_sources[0].source_uri,
            "hf://HuggingFaceTB/SmolLM2-135M"
        );
        assert_eq!(result.model_sources[0].size.0, "512Mi");
    }

    #[test]
    fn log_lines_around_the_array_are_ignored() {
        let log = format!("[INFO] starting dry run\nloading [1/3]\n{SAMPLE}\ndone\n");
        let result = parse_discovery_output(&log).unwrap();
        assert_eq!(result.profile.metadata.metric, "latency");
    }

    #[test]
    fn the_last_array_in_the_log_wins() {
        let other = SAMPLE.replace("latency", "throughput");
        let log = format!("{SAMPLE}\n{other}");
        assert_eq!(
            parse_discovery_output(&log)
                .unwrap()
                .profile
                .metadata
                .metric,
            "throughput"
        );
    }

    #[test]
    fn an_empty_array_or_no_array_is_an_error() {
        assert_eq!(
            parse_discovery_output("[]"),
            Err(DiscoveryParseError::NoProfiles)
        );
        assert_eq!(
            parse_discovery_output("no output"),
            Err(DiscoveryParseError::NoProfiles)
        );
        assert_eq!(
            parse_discovery_output(""),
            Err(DiscoveryParseError::NoProfiles)
        );
    }

    #[test]
    fn malformed_entries_are_typed_errors() {
        assert!(matches!(
            parse_discovery_output("[1]"),
            Err(DiscoveryParseError::MalformedProfile(_))
        ));
        assert!(matches!(
            parse_discovery_output(r#"[{"profile": {"metadata": {"gpu_count": "many"}}}]"#),
            Err(DiscoveryParseError::MalformedProfile(_))
        ));
        assert!(matches!(
            parse_discovery_output(r#"[{"profile": {}, "models": [{"name": "x"}]}]"#),
            Err(DiscoveryParseError::MalformedProfile(_))
        ));
    }

    #[test]
    fn negative_sizes_are_refused() {
        let log =
            r#"[{"profile": {}, "models": [{"name": "x", "source": "hf://x", "size_gb": -1}]}]"#;
        assert!(matches!(
            parse_discovery_output(log),
            Err(DiscoveryParseError::InvalidModelSize { .. })
        ));
    }

    #[test]
    fn bare_numbers_in_env_vars_are_kept_as_text() {
        let log = r#"[{"profile": {"env_vars": {"N": 112, "B": true}}}]"#;
        let result = parse_discovery_output(log).unwrap();
        assert_eq!(result.profile.env_vars["N"], "112");
        assert_eq!(result.profile.env_vars["B"], "true");
        assert!(result.model_sources.is_empty());
    }

    #[test]
    fn a_log_full_of_brackets_ends_quickly_without_a_result() {
        let log = "[".repeat(5_000) + &"]x".repeat(5_000);
        assert_eq!(
            parse_discovery_output(&log),
            Err(DiscoveryParseError::NoProfiles)
        );
    }
}
