//! Property tests of the name helpers (`names`, `resource_names`, `hash`) on arbitrary text and
//! on valid Kubernetes names: they never panic and give what their documentation promises — RFC
//! 1123 names and valid label values that Kubernetes accepts, within 63 characters, ending in a
//! hash where they say so. The exact names are pinned by literal vectors in `name_vectors.rs`.
//! `corpus/names/*.json` (arrays of strings) holds inputs that once broke a promise; each run
//! replays them through every helper.

#![allow(clippy::unwrap_used)]

mod support;

use aim_api::v1alpha1::{AIMGpuSelector, AIMMetric, AIMPrecision, AIMRuntimeParameters};
use aim_policy_default::hash::{sha256_hex, short_hash};
use aim_policy_default::names::{MAX_LABEL_LENGTH, make_rfc1123_compliant, sanitize_label_value};
use aim_policy_default::resource_names::{
    DeploymentKey, DiscoveryJobKey, cache_volume_name, derived_template_name, discovery_job_name,
    http_route_name, inference_service_name, model_cache_job_name, model_cache_name,
    model_cache_pvc_name, model_name_from_image, temp_cache_pvc_name, template_name,
};
use proptest::prelude::*;

use support::{
    config, corpus_dir, corpus_files, dns_label, dns_subdomain, is_dns1123_label,
    is_dns1123_subdomain, is_label_value, text,
};

/// What `make_rfc1123_compliant` promises for any input: empty, or a DNS-1123 subdomain of at
/// most 63 characters; the same again when applied to its own output; empty exactly when the
/// lowercased input has no ASCII letter or digit.
fn check_rfc1123(input: &str) -> Result<(), TestCaseError> {
    let name = make_rfc1123_compliant(input);
    prop_assert!(
        name.is_empty() || (is_dns1123_subdomain(&name) && name.len() <= MAX_LABEL_LENGTH),
        "{input:?} gave {name:?}"
    );
    prop_assert_eq!(
        make_rfc1123_compliant(&name),
        name.clone(),
        "not idempotent"
    );
    let has_alphanumeric = input
        .to_lowercase()
        .chars()
        .any(|c| c.is_ascii_alphanumeric());
    prop_assert_eq!(
        name.is_empty(),
        !has_alphanumeric,
        "{:?} gave {:?}",
        input,
        name
    );
    Ok(())
}

/// What `sanitize_label_value` promises for any input: a non-empty valid label value.
fn check_label_value(input: &str) -> Result<(), TestCaseError> {
    let value = sanitize_label_value(input);
    prop_assert!(
        !value.is_empty() && is_label_value(&value),
        "{input:?} gave {value:?}"
    );
    Ok(())
}

/// A name for an object of the operator's own: a DNS-1123 subdomain of at most 63 characters,
/// so it also fits the `job-name` and similar labels Kubernetes derives from it.
fn check_object_name(what: &str, input: &str, name: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        is_dns1123_subdomain(name) && name.len() <= MAX_LABEL_LENGTH,
        "{what}({input:?}) gave {name:?}"
    );
    Ok(())
}

/// Every helper on one arbitrary input: no panic, the same answer twice, and the promises that
/// hold whatever the input is.
fn check_any_input(input: &str) -> Result<(), TestCaseError> {
    check_rfc1123(input)?;
    check_label_value(input)?;

    let image = model_name_from_image(input);
    prop_assert!(
        is_dns1123_label(&image),
        "model_name_from_image({input:?}) gave {image:?}"
    );
    prop_assert!(ends_with_hash(&image, 8), "{image:?} lost its hash");

    let cache = model_cache_name(input);
    prop_assert!(
        is_dns1123_label(&cache),
        "model_cache_name({input:?}) gave {cache:?}"
    );

    for (what, name) in [
        ("temp_cache_pvc_name", temp_cache_pvc_name(input)),
        ("model_cache_pvc_name", model_cache_pvc_name(input)),
        ("model_cache_job_name", model_cache_job_name(input)),
    ] {
        check_object_name(what, input, &name)?;
    }
    let job = discovery_job_name(input, &DiscoveryJobKey::default());
    check_object_name("discovery_job_name", input, &job)?;
    prop_assert!(job.starts_with("discover-"), "{job:?}");

    // Names derived from names are only promised valid for valid names (below); any text must
    // not panic.
    let _ = cache_volume_name(input);
    let _ = http_route_name(input);
    let _ = inference_service_name(input, input);
    let _ = derived_template_name(input, &AIMRuntimeParameters::default());
    let deployment = DeploymentKey {
        gpu_model: input,
        gpu_count: 1,
        metric: input,
        precision: input,
    };
    let template = template_name(input, &deployment);
    check_object_name("template_name", input, &template)?;
    Ok(())
}

/// Whether `name` ends with `-` and `len` lowercase hex digits.
fn ends_with_hash(name: &str, len: usize) -> bool {
    name.len() > len
        && name[..name.len() - len].ends_with('-')
        && name[name.len() - len..]
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn metric() -> impl Strategy<Value = Option<AIMMetric>> {
    prop::option::of(prop_oneof![
        Just(AIMMetric::Latency),
        Just(AIMMetric::Throughput)
    ])
}

fn precision() -> impl Strategy<Value = Option<AIMPrecision>> {
    prop::option::of(prop::sample::select(vec![
        AIMPrecision::Auto,
        AIMPrecision::Fp4,
        AIMPrecision::Fp8,
        AIMPrecision::Fp16,
        AIMPrecision::Fp32,
        AIMPrecision::Bf16,
        AIMPrecision::Int4,
        AIMPrecision::Int8,
    ]))
}

fn overrides() -> impl Strategy<Value = AIMRuntimeParameters> {
    (
        metric(),
        precision(),
        prop::option::of((any::<i32>(), text(), text())),
    )
        .prop_map(|(metric, precision, selector)| AIMRuntimeParameters {
            metric,
            precision,
            gpu_selector: selector.map(|(count, model, resource_name)| AIMGpuSelector {
                count,
                model,
                resource_name,
            }),
        })
}

#[test]
fn every_corpus_input_keeps_every_promise() {
    for (file, text) in corpus_files(&corpus_dir(&["names"])) {
        let inputs: Vec<String> =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{file}: {error}"));
        for input in inputs {
            if let Err(failure) = check_any_input(&input) {
                panic!("{file}: {input:?}: {failure}");
            }
        }
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/fuzz_names.txt", 1000))]

    #[test]
    fn any_text_gives_names_that_keep_their_promises(input in text()) {
        check_any_input(&input)?;
    }

    #[test]
    fn valid_names_are_kept_as_they_are(label in dns_label(), subdomain in dns_subdomain()) {
        prop_assert_eq!(sanitize_label_value(&label), label.clone());
        // Runs of separators are collapsed by design (`a--b` becomes `a-b`); nothing else changes.
        let collapses = |name: &str| name.contains("--");
        if !collapses(&label) {
            prop_assert_eq!(make_rfc1123_compliant(&label), label.clone());
        }
        if subdomain.len() <= MAX_LABEL_LENGTH && !collapses(&subdomain) {
            prop_assert_eq!(make_rfc1123_compliant(&subdomain), subdomain);
        }
    }

    #[test]
    fn names_derived_from_valid_names_are_valid_names(
        name in dns_subdomain(),
        namespace in dns_label(),
        overrides in overrides(),
    ) {
        let route = http_route_name(&name);
        check_object_name("http_route_name", &name, &route)?;
        prop_assert!(route.ends_with("-route"), "{route:?}");

        let derived = derived_template_name(&name, &overrides);
        check_object_name("derived_template_name", &name, &derived)?;
        prop_assert!(ends_with_hash(&derived, 8), "{derived:?}");
        prop_assert!(derived[..derived.len() - 8].ends_with("-ovr-"), "{derived:?}");

        for (what, derived) in [
            ("temp_cache_pvc_name", temp_cache_pvc_name(&name)),
            ("model_cache_pvc_name", model_cache_pvc_name(&name)),
            ("model_cache_job_name", model_cache_job_name(&name)),
        ] {
            check_object_name(what, &name, &derived)?;
        }
        let volume = cache_volume_name(&name);
        prop_assert!(is_dns1123_label(&volume), "cache_volume_name({name:?}) gave {volume:?}");
        prop_assert!(is_dns1123_label(&model_cache_name(&name)));

        let isvc = inference_service_name(&name, &namespace);
        check_object_name("inference_service_name", &name, &isvc)?;
        let room = MAX_LABEL_LENGTH.saturating_sub("-predictor-".len() + namespace.len());
        if name.len() <= room {
            prop_assert_eq!(&isvc, &name, "a name that fits is kept");
        } else if room > 9 {
            prop_assert!(isvc.len() <= room, "{isvc:?} does not fit beside {namespace:?}");
            prop_assert!(ends_with_hash(&isvc, 8), "{isvc:?}");
        }
    }

    #[test]
    fn template_names_are_valid_and_end_with_a_short_hash(
        model in prop_oneof![dns_subdomain(), text()],
        gpu_model in prop_oneof![3 => "[A-Z0-9]{0,8}", 1 => text()],
        gpu_count in prop_oneof![3 => 0..16i32, 1 => any::<i32>()],
        metric in prop_oneof![Just(String::new()), Just("latency".to_owned()), Just("throughput".to_owned()), text()],
        precision in prop_oneof![Just(String::new()), Just("fp8".to_owned()), text()],
    ) {
        let key = DeploymentKey { gpu_model: &gpu_model, gpu_count, metric: &metric, precision: &precision };
        let name = template_name(&model, &key);
        check_object_name("template_name", &model, &name)?;
        let ascii_parts = [&gpu_model, &metric, &precision].iter().all(|p| p.len() <= 12 && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if ascii_parts && is_dns1123_subdomain(&model) {
            prop_assert!(ends_with_hash(&name, 4), "{name:?}");
        }
    }

    #[test]
    fn discovery_job_names_are_valid_and_end_with_the_key_hash_for_valid_templates(
        template in dns_subdomain(),
        model_name in text(),
        image in text(),
        env in prop::collection::vec((text(), text()), 0..3),
        gpu_count in any::<i32>(),
    ) {
        let key = DiscoveryJobKey {
            model_name: &model_name,
            image: &image,
            env: env.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            gpu_count,
            ..DiscoveryJobKey::default()
        };
        let name = discovery_job_name(&template, &key);
        check_object_name("discovery_job_name", &template, &name)?;
        prop_assert!(name.starts_with("discover-"), "{name:?}");
        prop_assert!(ends_with_hash(&name, 8), "{name:?}");
    }

    #[test]
    fn image_names_are_labels_ending_with_a_hash_that_tells_images_apart(
        registry in "[a-z0-9.-]{0,20}(:[0-9]{1,5})?",
        path in prop::collection::vec("[a-zA-Z0-9._-]{1,40}", 1..4),
        reference in prop_oneof![
            Just(String::new()),
            "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}".prop_map(|tag| format!(":{tag}")),
            "[0-9a-f]{64}".prop_map(|digest| format!("@sha256:{digest}")),
            text().prop_map(|tail| format!(":{tail}")),
        ],
        other_registry in "[a-z0-9.-]{0,20}",
    ) {
        let image = format!("{registry}/{}{reference}", path.join("/"));
        let name = model_name_from_image(&image);
        prop_assert!(is_dns1123_label(&name), "{image:?} gave {name:?}");
        prop_assert!(ends_with_hash(&name, 8), "{name:?}");
        // The same repository and tag from another registry is another model.
        let elsewhere = format!("{other_registry}/{}{reference}", path.join("/"));
        if elsewhere != image {
            prop_assert_ne!(model_name_from_image(&elsewhere), name);
        }
    }

    #[test]
    fn hashes_are_lowercase_hex_and_short_hashes_are_their_prefixes(
        data in prop::collection::vec(any::<u8>(), 0..300),
        len in 0..80usize,
    ) {
        let hex = sha256_hex(&data);
        prop_assert_eq!(hex.len(), 64);
        prop_assert!(hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        let short = short_hash(&data, len);
        prop_assert_eq!(short.as_str(), &hex[..len.min(64)]);
    }
}
