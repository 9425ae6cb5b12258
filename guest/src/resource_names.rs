//! Names of every object the operator creates, pinned to fixed values by the tests below. They are
//! deterministic, so a reconcile finds what an earlier one created without remembering anything.

use aim_api::v1alpha1::AIMRuntimeParameters;

use crate::hash::short_hash;
use crate::names::{MAX_LABEL_LENGTH, make_rfc1123_compliant};

/// The AIMModel/AIMClusterModel name auto-created for an image: the last path segment and the tag
/// (or the first 6 hex digits of a digest), sanitised, plus 8 hex digits of the whole reference.
/// A tag too long to leave room for the name is cut, so the result is always an RFC 1123 label.
pub fn model_name_from_image(image: &str) -> String {
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    let (repository, tag) = if let Some((repository, digest)) = last_segment.split_once('@') {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        (repository, hex.chars().take(6).collect::<String>())
    } else if let Some((repository, tag)) = last_segment.split_once(':') {
        (repository, tag.to_owned())
    } else {
        (last_segment, "latest".to_owned())
    };
    let name = or_default(sanitize_dashes(repository), "model");
    let tag = or_default(sanitize_dashes(&tag), "notag");
    // Tags may be 128 characters long: keep room for at least the name's first character.
    let tag = truncate(&tag, MAX_LABEL_LENGTH - "n--".len() - 8).trim_end_matches('-');
    let suffix = format!("-{tag}-{}", short_hash(image, 8));
    let keep = MAX_LABEL_LENGTH.saturating_sub(suffix.len());
    let prefix = truncate(&name, keep).trim_end_matches('-');
    format!("{prefix}{suffix}")
}

/// Lowercase; every character outside `[a-z0-9-]` (dots included) becomes `-`; runs of `-`
/// collapse; `-` trimmed at both ends.
fn sanitize_dashes(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    out.trim_matches('-').to_owned()
}

fn or_default(value: String, default: &str) -> String {
    if value.is_empty() {
        default.to_owned()
    } else {
        value
    }
}

fn truncate(input: &str, max: usize) -> &str {
    match input.char_indices().nth(max) {
        Some((end, _)) => &input[..end],
        None => input,
    }
}

/// What an auto-generated template is for: one recommended deployment of a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeploymentKey<'a> {
    /// GPU model as the image spells it (its case enters the hash).
    pub gpu_model: &'a str,
    /// GPUs per replica; 0 when unknown.
    pub gpu_count: i32,
    /// `latency` or `throughput`.
    pub metric: &'a str,
    /// e.g. `fp8`.
    pub precision: &'a str,
}

/// Name of the template auto-generated for a model's recommended deployment, e.g.
/// `aim-qwen-qwen3-32b-0-7-0-preview-0c17600-1x-mi300x-lat-fp8-72a2`.
pub fn template_name(model: &str, deployment: &DeploymentKey<'_>) -> String {
    let DeploymentKey {
        gpu_model,
        gpu_count,
        metric,
        precision,
    } = deployment;
    let gpu = gpu_model.to_lowercase();
    let mut parts: Vec<String> = Vec::new();
    match (gpu.is_empty(), *gpu_count > 0) {
        (false, true) => parts.push(format!("{gpu_count}x-{gpu}")),
        (false, false) => parts.push(gpu.clone()),
        (true, true) => parts.push(format!("x{gpu_count}")),
        (true, false) => {}
    }
    let metric_short = match *metric {
        "latency" => "lat",
        "throughput" => "thr",
        other => other,
    };
    if !metric_short.is_empty() {
        parts.push(metric_short.to_owned());
    }
    if !precision.is_empty() {
        parts.push(precision.to_lowercase());
    }
    let mut hash_input = model.to_owned();
    for (present, piece) in [
        (!gpu_model.is_empty(), format!("-{gpu_model}")),
        (*gpu_count > 0, format!("-x{gpu_count}")),
        (!metric.is_empty(), format!("-{metric}")),
        (!precision.is_empty(), format!("-{precision}")),
    ] {
        if present {
            hash_input.push_str(&piece);
        }
    }
    parts.push(short_hash(&hash_input, 4));
    let suffix = parts.join("-");
    let keep = MAX_LABEL_LENGTH.saturating_sub(suffix.len() + 1);
    make_rfc1123_compliant(&format!("{}-{suffix}", truncate(model, keep)))
}

/// Name of the template derived from `base` for a service's overrides: `<base>-ovr-<hash8>`, the
/// hash over the compact JSON of the overrides (field order metric, precision, gpuSelector).
pub fn derived_template_name(base: &str, overrides: &AIMRuntimeParameters) -> String {
    // Serializing a plain struct of strings and integers cannot fail.
    let json = serde_json::to_string(overrides).unwrap_or_default();
    let keep = MAX_LABEL_LENGTH - "-ovr-".len() - 8;
    let prefix = truncate(base, keep).trim_end_matches(['-', '.']);
    format!("{prefix}-ovr-{}", short_hash(json, 8))
}

/// Name of a service's InferenceService: the service name when `<name>-predictor-<namespace>`
/// fits in 63 characters, else a prefix plus 8 hex digits of the name.
pub fn inference_service_name(service: &str, namespace: &str) -> String {
    let max =
        MAX_LABEL_LENGTH as isize - "-predictor".len() as isize - namespace.len() as isize - 1;
    if service.len() as isize <= max {
        return service.to_owned();
    }
    let keep = usize::try_from((max - 9).max(1)).unwrap_or(1);
    make_rfc1123_compliant(&format!(
        "{}-{}",
        truncate(service, keep),
        short_hash(service, 8)
    ))
}

/// Name of the HTTPRoute of a service: `<service>-route`.
pub fn http_route_name(service: &str) -> String {
    let keep = MAX_LABEL_LENGTH - "-route".len();
    format!(
        "{}-route",
        truncate(service, keep).trim_end_matches(['-', '.'])
    )
}

/// Name of the temporary model volume of a service without caching.
pub fn temp_cache_pvc_name(inference_service: &str) -> String {
    with_postfix(inference_service, "temp-cache")
}

/// What goes into a discovery Job's name hash: any change gives a new Job.
#[derive(Debug, Clone, Default)]
pub struct DiscoveryJobKey<'a> {
    pub model_name: &'a str,
    pub image: &'a str,
    pub service_account: &'a str,
    pub env: Vec<(&'a str, &'a str)>,
    pub pull_secrets: Vec<&'a str>,
    pub metric: &'a str,
    pub precision: &'a str,
    pub gpu_model: &'a str,
    pub gpu_count: i32,
}

/// Name of a template's discovery Job: `discover-<template[:45]>-<8 hex>`.
pub fn discovery_job_name(template: &str, key: &DiscoveryJobKey<'_>) -> String {
    let mut input = String::new();
    for piece in [key.model_name, key.image, key.service_account] {
        input.push_str(piece);
    }
    for (name, value) in &key.env {
        input.push_str(name);
        input.push_str(value);
    }
    for secret in &key.pull_secrets {
        input.push_str(secret);
    }
    for piece in [key.metric, key.precision, key.gpu_model] {
        input.push_str(piece);
    }
    input.push_str(&key.gpu_count.to_string());
    make_rfc1123_compliant(&format!(
        "discover-{}-{}",
        truncate(template, 45),
        short_hash(input, 8)
    ))
}

/// Name of the AIMModelCache holding a model source, e.g. `huggingfacetb-smollm2-135m`; a source
/// name with no letter or digit to keep (`日本語`, `___`) gives `model-<8 hex of the name>`.
pub fn model_cache_name(source_name: &str) -> String {
    let name = make_rfc1123_compliant(&source_name.replace('.', "-"));
    if name.is_empty() {
        format!("model-{}", short_hash(source_name, 8))
    } else {
        name
    }
}

/// Name of a model cache's volume claim.
pub fn model_cache_pvc_name(model_cache: &str) -> String {
    with_postfix(model_cache, "cache")
}

/// Name of a model cache's download Job.
pub fn model_cache_job_name(model_cache: &str) -> String {
    with_postfix(model_cache, "cache-download")
}

/// Name of a pod volume for a cached model.
pub fn cache_volume_name(model_cache: &str) -> String {
    make_rfc1123_compliant(&model_cache.replace('.', "-"))
}

fn with_postfix(name: &str, postfix: &str) -> String {
    make_rfc1123_compliant(&format!("{name}-{postfix}"))
}

#[cfg(test)]
mod tests {
    use aim_api::v1alpha1::{AIMMetric, AIMPrecision};

    use super::*;

    #[test]
    fn model_names_from_images_match_the_golden_vectors() {
        for (image, expected) in [
            (
                "ghcr.io/silogen/aim-qwen-qwen3-32b:0.7.0-preview",
                "aim-qwen-qwen3-32b-0-7-0-preview-0c176004",
            ),
            (
                "ghcr.io/silogen/aim-google-gemma-3-1b-it:0.7.0-preview",
                "aim-google-gemma-3-1b-it-0-7-0-preview-0a8c9e05",
            ),
            (
                "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0",
                "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd",
            ),
        ] {
            assert_eq!(model_name_from_image(image), expected);
        }
    }

    #[test]
    fn images_without_a_tag_are_latest_and_digests_keep_six_hex_digits() {
        assert!(model_name_from_image("registry/aim-x").starts_with("aim-x-latest-"));
        let pinned = model_name_from_image("registry/aim-x@sha256:abcdef0123456789");
        assert!(pinned.starts_with("aim-x-abcdef-"), "{pinned}");
    }

    #[test]
    fn long_model_names_fit_in_63_characters() {
        let name = model_name_from_image(&format!("r/{}:1.0", "a".repeat(100)));
        assert!(name.len() <= 63, "{name}");
    }

    #[test]
    fn a_tag_too_long_for_the_name_is_cut_and_the_name_stays_a_label() {
        let image = format!("ghcr.io/silogen/aim-x:{}", "t".repeat(128));
        let name = model_name_from_image(&image);
        assert_eq!(name, format!("a-{}-d0ae1108", "t".repeat(52)));
    }

    #[test]
    fn template_names_match_the_golden_vectors() {
        let deployment = DeploymentKey {
            gpu_model: "MI300X",
            gpu_count: 1,
            metric: "latency",
            precision: "fp8",
        };
        assert_eq!(
            template_name("aim-qwen-qwen3-32b-0-7-0-preview-0c176004", &deployment),
            "aim-qwen-qwen3-32b-0-7-0-preview-0c17600-1x-mi300x-lat-fp8-72a2"
        );
        assert_eq!(
            template_name(
                "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd",
                &deployment
            ),
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e"
        );
    }

    #[test]
    fn derived_template_names_match_the_golden_vector() {
        let overrides = AIMRuntimeParameters {
            metric: Some(AIMMetric::Throughput),
            precision: Some(AIMPrecision::Fp8),
            gpu_selector: None,
        };
        assert_eq!(
            derived_template_name("default-testing-llama-3-8b", &overrides),
            "default-testing-llama-3-8b-ovr-5ab7d1be"
        );
    }

    #[test]
    fn inference_service_names_match_the_golden_vector() {
        assert_eq!(
            inference_service_name(
                "integration-cluster-model-public-image",
                "chainsaw-keen-kit"
            ),
            "integration-cluster-model-50b8144c"
        );
        assert_eq!(
            inference_service_name("llama-chat", "ml-team"),
            "llama-chat"
        );
        let long = inference_service_name(&"x".repeat(80), "ns");
        assert!(long.len() + "-predictor-ns".len() <= 63, "{long}");
    }

    #[test]
    fn routes_caches_and_jobs_are_named_from_their_owner() {
        assert_eq!(http_route_name("llama-chat"), "llama-chat-route");
        assert_eq!(
            model_cache_name("HuggingFaceTB/SmolLM2-135M"),
            "huggingfacetb-smollm2-135m"
        );
        assert_eq!(
            model_cache_name("amd/Llama-3.1-8B-Instruct-FP8-KV"),
            "amd-llama-3-1-8b-instruct-fp8-kv"
        );
        assert_eq!(model_cache_pvc_name("smol"), "smol-cache");
        assert_eq!(model_cache_job_name("smol"), "smol-cache-download");
        assert_eq!(temp_cache_pvc_name("llama-chat"), "llama-chat-temp-cache");
    }

    #[test]
    fn a_dot_where_a_name_is_cut_is_dropped_before_the_suffix() {
        let base = format!("{}.b", "a".repeat(49));
        assert!(
            derived_template_name(&base, &AIMRuntimeParameters::default())
                .starts_with(&format!("{}-ovr-", "a".repeat(49)))
        );
        let service = format!("{}.b", "a".repeat(56));
        assert_eq!(
            http_route_name(&service),
            format!("{}-route", "a".repeat(56))
        );
        let cache = format!("{}.b", "a".repeat(62));
        assert_eq!(model_cache_pvc_name(&cache), "a".repeat(62));
    }

    #[test]
    fn a_source_name_without_letters_or_digits_still_names_a_cache() {
        assert_eq!(model_cache_name("日本語"), "model-77710aed");
        assert_eq!(model_cache_name("___"), "model-bda25155");
    }

    #[test]
    fn discovery_job_names_change_with_the_spec() {
        let key = DiscoveryJobKey {
            model_name: "m",
            image: "img:1",
            metric: "latency",
            ..Default::default()
        };
        let name = discovery_job_name(
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e",
            &key,
        );
        assert!(
            name.starts_with("discover-aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-m-"),
            "{name}"
        );
        assert_eq!(name.len(), "discover-".len() + 45 + 1 + 8);
        let other = DiscoveryJobKey {
            metric: "throughput",
            ..key.clone()
        };
        assert_ne!(
            name,
            discovery_job_name(
                "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e",
                &other
            )
        );
    }
}
