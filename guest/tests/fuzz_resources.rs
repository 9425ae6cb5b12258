//! Property test of the InferenceService's container resources (the runtime configuration guide's
//! Complete Example sets limits below the GPU defaults): for any mix of service, template and
//! model resources and any GPU count, the result is what the apiserver accepts for a pod. Every
//! request is at most its limit, extended resources and huge pages have equal request and limit,
//! and what the service sets consistently is kept as it is.
//!
//! Quantities are compared here by their own small oracle (integers and halves with a suffix, in
//! millis), not by the code under test.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use aim_policy_default::service::resources::resources;
use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use proptest::prelude::*;

const KEYS: &[&str] = &[
    "cpu",
    "memory",
    "ephemeral-storage",
    "amd.com/gpu",
    "hugepages-2Mi",
    "example.com/fpga",
];

/// `(suffix, millis per unit)`.
const SUFFIXES: &[(&str, u128)] = &[
    ("m", 1),
    ("", 1_000),
    ("k", 1_000_000),
    ("M", 1_000_000_000),
    ("G", 1_000_000_000_000),
    ("Ki", 1_024_000),
    ("Mi", 1_048_576_000),
    ("Gi", 1_073_741_824_000),
];

/// The value of a quantity this test generates (or the defaults write), in millis.
fn millis(quantity: &Quantity) -> u128 {
    let text = quantity.0.as_str();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let unit = SUFFIXES
        .iter()
        .find(|(s, _)| *s == suffix)
        .unwrap_or_else(|| panic!("unexpected suffix in {text}"))
        .1;
    match number.split_once('.') {
        Some((whole, "5")) => whole.parse::<u128>().unwrap() * unit + unit / 2,
        Some(_) => panic!("unexpected fraction in {text}"),
        None => number.parse::<u128>().unwrap() * unit,
    }
}

fn quantity() -> impl Strategy<Value = Quantity> {
    (0u32..5000, any::<bool>(), prop::sample::select(SUFFIXES)).prop_map(
        |(number, half, (suffix, _))| {
            // Halves only where the suffix keeps them whole in millis.
            let half = half && suffix != "m";
            Quantity(if half {
                format!("{number}.5{suffix}")
            } else {
                format!("{number}{suffix}")
            })
        },
    )
}

fn side() -> impl Strategy<Value = Option<BTreeMap<String, Quantity>>> {
    prop::option::of(prop::collection::btree_map(
        prop::sample::select(KEYS).prop_map(str::to_owned),
        quantity(),
        0..4,
    ))
}

fn requirements() -> impl Strategy<Value = Option<ResourceRequirements>> {
    prop::option::of(
        (side(), side()).prop_map(|(requests, limits)| ResourceRequirements {
            requests,
            limits,
            ..ResourceRequirements::default()
        }),
    )
}

/// Kubernetes lets only native resources other than huge pages have a request below the limit.
fn must_equal(key: &str) -> bool {
    key.starts_with("hugepages-") || (key.contains('/') && !key.contains("kubernetes.io/"))
}

proptest! {
    #![proptest_config(support::config("proptest-regressions/fuzz_resources.txt", 2048))]

    #[test]
    fn every_request_is_within_its_limit_for_any_mix_of_resources(
        gpus in 0i32..9,
        service in requirements(),
        template in requirements(),
        model in requirements(),
    ) {
        let got = resources(gpus, "amd.com/gpu", &[service.as_ref(), template.as_ref(), model.as_ref()]);
        let requests = got.requests.clone().unwrap_or_default();
        let limits = got.limits.clone().unwrap_or_default();
        for (key, request) in &requests {
            if let Some(limit) = limits.get(key) {
                prop_assert!(
                    millis(request) <= millis(limit),
                    "{key}: request {} above limit {} in {got:?}", request.0, limit.0
                );
            }
            if must_equal(key) {
                let limit = limits.get(key);
                prop_assert!(
                    limit.is_some_and(|l| millis(l) == millis(request)),
                    "{key}: request {} needs an equal limit, got {limit:?}", request.0
                );
            }
        }
        for (key, limit) in &limits {
            prop_assert!(requests.contains_key(key), "{key}: limit {} without request", limit.0);
        }
        if gpus > 0 {
            prop_assert!(requests.contains_key("amd.com/gpu") && limits.contains_key("amd.com/gpu"));
        }
    }

    #[test]
    fn what_the_service_sets_consistently_is_kept(
        gpus in 0i32..9,
        service in requirements(),
        template in requirements(),
    ) {
        let got = resources(gpus, "amd.com/gpu", &[service.as_ref(), template.as_ref(), None]);
        let Some(service) = service else { return Ok(()) };
        let set_requests = service.requests.clone().unwrap_or_default();
        let set_limits = service.limits.clone().unwrap_or_default();
        for (key, request) in &set_requests {
            let consistent = match set_limits.get(key) {
                Some(limit) if must_equal(key) => millis(request) == millis(limit),
                Some(limit) => millis(request) <= millis(limit),
                None => true,
            };
            if consistent {
                prop_assert_eq!(got.requests.as_ref().and_then(|r| r.get(key)), Some(request));
                if let Some(limit) = set_limits.get(key) {
                    prop_assert_eq!(got.limits.as_ref().and_then(|l| l.get(key)), Some(limit));
                }
            }
        }
    }
}
