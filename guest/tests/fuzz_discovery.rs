//! Property tests of the discovery-log parser (`flows::discovery::parse_discovery_output`):
//! arbitrary text, text full of brackets, JSON of any shape wrapped in log lines, generated
//! profiles, and real outputs truncated anywhere. Parsing never panics; what it accepts has a
//! non-negative GPU count and model sources with a URI and a valid size, and generated profiles
//! come back as written. `corpus/discovery/*.log` holds real and broken outputs; each run replays
//! them, and those named `ok-*` must parse.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use aim_policy_default::flows::discovery::{DiscoveryResult, parse_discovery_output};
use aim_policy_default::quantity::bytes_of;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

use support::{config, corpus_dir, corpus_files, json, text};

/// Checks what any accepted log must give.
fn check_result(result: &DiscoveryResult) -> Result<(), TestCaseError> {
    prop_assert!(result.profile.metadata.gpu_count >= 0);
    for source in &result.model_sources {
        prop_assert!(!source.source_uri.trim().is_empty(), "{source:?}");
        prop_assert!(bytes_of(&source.size).is_some(), "{source:?}");
    }
    Ok(())
}

/// Parses `log` twice (same answer) and checks an accepted result.
fn check_log(log: &str) -> Result<(), TestCaseError> {
    let result = parse_discovery_output(log);
    prop_assert_eq!(&parse_discovery_output(log), &result, "not deterministic");
    if let Ok(found) = &result {
        check_result(found)?;
    } else if let Err(error) = &result {
        prop_assert!(!error.to_string().is_empty());
    }
    Ok(())
}

/// The outputs in the corpus that discovery really printed (`ok-*`).
fn real_outputs() -> Vec<String> {
    corpus_files(&corpus_dir(&["discovery"]))
        .into_iter()
        .filter(|(name, _)| name.starts_with("ok-"))
        .map(|(_, text)| text)
        .collect()
}

/// Log lines without brackets, as a container prints around its output.
fn noise() -> impl Strategy<Value = String> {
    prop::collection::vec("[^\\[\\]]{0,40}", 0..4).prop_map(|lines| {
        lines
            .into_iter()
            .map(|line| line + "\n")
            .collect::<String>()
    })
}

/// A profile entry as discovery writes it, with its fields in the generated values.
#[derive(Debug, Clone)]
struct Profile {
    engine: String,
    gpu: String,
    gpu_count: i32,
    metric: String,
    precision: String,
    env: BTreeMap<String, String>,
    models: Vec<(Option<String>, String, f64)>,
}

fn profile() -> impl Strategy<Value = Profile> {
    (
        (text(), text(), 0..=i32::MAX, text(), text()),
        prop::collection::btree_map(text(), text(), 0..4),
        prop::collection::vec(
            (
                prop::option::of(text()),
                text().prop_filter("a source is not blank", |s| !s.trim().is_empty()),
                prop_oneof![0.0..=1e9f64, Just(0.5), Just(0.0), Just(1e9), 0.0..4.0f64],
            ),
            0..4,
        ),
    )
        .prop_map(
            |((engine, gpu, gpu_count, metric, precision), env, models)| Profile {
                engine,
                gpu,
                gpu_count,
                metric,
                precision,
                env,
                models,
            },
        )
}

fn profile_json(profile: &Profile) -> Value {
    json!([{
        "filename": "generated.yaml",
        "profile": {
            "metadata": {"engine": profile.engine, "gpu": profile.gpu, "gpu_count": profile.gpu_count,
                "metric": profile.metric, "precision": profile.precision},
            "engine_args": {"tensor-parallel-size": 1},
            "env_vars": profile.env,
        },
        "models": profile.models.iter().map(|(name, source, size)| {
            let mut model = json!({"source": source, "size_gb": size});
            if let Some(name) = name {
                model["name"] = json!(name);
            }
            model
        }).collect::<Vec<_>>(),
    }])
}

#[test]
fn every_corpus_log_parses_or_fails_without_panicking_and_real_ones_parse() {
    for (name, log) in corpus_files(&corpus_dir(&["discovery"])) {
        let result = parse_discovery_output(&log);
        if name.starts_with("ok-") {
            let found = result.unwrap_or_else(|error| panic!("{name}: {error}"));
            if let Err(failure) = check_result(&found) {
                panic!("{name}: {failure}");
            }
        } else if let Err(failure) = check_log(&log) {
            panic!("{name}: {failure}");
        }
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/fuzz_discovery.txt", 1000))]

    #[test]
    fn arbitrary_text_parses_or_fails_without_panicking(log in text()) {
        check_log(&log)?;
    }

    #[test]
    fn text_full_of_brackets_and_json_tokens_parses_or_fails_without_panicking(
        log in "[\\[\\]{}\",:0-9a-z_ \n.-]{0,300}",
    ) {
        check_log(&log)?;
    }

    #[test]
    fn any_json_in_log_lines_parses_or_fails_without_panicking(
        before in noise(),
        value in json(),
        wrap in any::<bool>(),
        pretty in any::<bool>(),
        after in noise(),
    ) {
        let value = if wrap { json!([value]) } else { value };
        let body = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        check_log(&format!("{before}{body}\n{after}"))?;
    }

    #[test]
    fn a_generated_profile_comes_back_as_written(
        profile in profile(),
        before in noise(),
        after in noise(),
        pretty in any::<bool>(),
    ) {
        let value = profile_json(&profile);
        let body = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            value.to_string()
        };
        let found = parse_discovery_output(&format!("{before}{body}\n{after}"))
            .map_err(|error| TestCaseError::fail(format!("{error}")))?;
        check_result(&found)?;
        let metadata = &found.profile.metadata;
        prop_assert_eq!(&metadata.engine, &profile.engine);
        prop_assert_eq!(&metadata.gpu, &profile.gpu);
        prop_assert_eq!(metadata.gpu_count, profile.gpu_count);
        prop_assert_eq!(&metadata.metric, &profile.metric);
        prop_assert_eq!(&metadata.precision, &profile.precision);
        prop_assert_eq!(&found.profile.env_vars, &profile.env);
        prop_assert_eq!(found.model_sources.len(), profile.models.len());
        // Sizes as JSON reads them back: without `float_roundtrip`, serde_json may be 1 ULP off.
        let printed: Value = serde_json::from_str(&body).unwrap();
        let sizes = printed[0]["models"].as_array().unwrap().iter().map(|m| m["size_gb"].as_f64().unwrap());
        for ((source, (name, uri, _)), size_gb) in found.model_sources.iter().zip(&profile.models).zip(sizes) {
            prop_assert_eq!(&source.name, name);
            prop_assert_eq!(&source.source_uri, uri);
            let bytes = (size_gb * f64::from(1u32 << 30)).round() as u128;
            prop_assert_eq!(bytes_of(&source.size), Some(bytes), "{} GiB", size_gb);
        }
    }

    #[test]
    fn a_real_output_truncated_anywhere_parses_or_fails_without_panicking(
        which in any::<Index>(),
        cut in any::<Index>(),
        tail in prop_oneof![Just(String::new()), text()],
    ) {
        let outputs = real_outputs();
        let output = which.get(&outputs);
        let boundaries: Vec<usize> = output.char_indices().map(|(i, _)| i).collect();
        let truncated = &output[..*cut.get(&boundaries)];
        check_log(truncated)?;
        check_log(&format!("{truncated}{tail}"))?;
    }

    #[test]
    fn log_lines_without_brackets_around_a_real_output_change_nothing(
        which in any::<Index>(),
        before in noise(),
        after in noise(),
    ) {
        let outputs = real_outputs();
        let output = which.get(&outputs);
        // The real outputs' own log lines hold brackets; the JSON array is their last line(s).
        let expected = parse_discovery_output(output);
        prop_assert!(expected.is_ok());
        prop_assert_eq!(parse_discovery_output(&format!("{before}{output}\n{after}")), expected);
    }
}
