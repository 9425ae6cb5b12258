//! The container resources of a service's InferenceService: defaults from the GPU count, overlaid
//! per resource by the service, the template and the model, and then made into requirements the
//! apiserver accepts for a pod.
//!
//! The rules, in the order they apply to each resource:
//! 1. The first of service, template and model that sets a request (or limit) gives it; the GPU
//!    defaults (requests `cpu 4×gpus`, `memory 32Gi×gpus`, limit `memory 48Gi×gpus`, and the GPU
//!    itself) fill what none of them sets.
//! 2. Where a limit is set and no request, the request is the limit, as Kubernetes defaults it;
//!    a GPU-derived default request never applies to a resource whose limit someone chose.
//! 3. Where the request still exceeds the limit, the one set with the higher precedence wins and
//!    the other follows it: a request set by the service above a default (or template) limit
//!    raises the limit; a limit set by the service below a template request lowers the request.
//!    At equal precedence the limit wins.
//! 4. Resources Kubernetes never overcommits (extended resources such as `amd.com/gpu`, and
//!    `hugepages-*`) get equal request and limit, chosen the same way.
//!
//! So every request is at most its limit, whatever mix of resources the three sources set.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::compare;

/// One value and how much it counts: 0 for the first source, higher for later ones, highest for
/// the GPU defaults.
type Ranked = (Quantity, usize);

/// The resources for `gpus` GPUs of `gpu_resource`, with `overlays` in order of precedence
/// (service, template, model).
pub fn resources(
    gpus: i32,
    gpu_resource: &str,
    overlays: &[Option<&ResourceRequirements>],
) -> ResourceRequirements {
    let mut requests: BTreeMap<String, Ranked> = BTreeMap::new();
    let mut limits: BTreeMap<String, Ranked> = BTreeMap::new();
    for (rank, overlay) in overlays.iter().enumerate() {
        let Some(overlay) = overlay else { continue };
        for (target, side) in [
            (&mut requests, &overlay.requests),
            (&mut limits, &overlay.limits),
        ] {
            for (key, value) in side.iter().flatten() {
                target
                    .entry(key.clone())
                    .or_insert_with(|| (value.clone(), rank));
            }
        }
    }
    for (key, limit) in &limits {
        requests.entry(key.clone()).or_insert_with(|| limit.clone());
    }
    let (default_requests, default_limits) = gpu_defaults(gpus, gpu_resource);
    let default_rank = overlays.len();
    for (target, defaults) in [
        (&mut requests, default_requests),
        (&mut limits, default_limits),
    ] {
        for (key, value) in defaults {
            target.entry(key).or_insert((value, default_rank));
        }
    }
    for (key, request) in &mut requests {
        let never_overcommitted = !overcommit_allowed(key);
        match limits.get_mut(key) {
            Some(limit) => {
                let conflict = match compare(&request.0, &limit.0) {
                    Some(Ordering::Greater) => true,
                    Some(Ordering::Less) => never_overcommitted,
                    // Equal, or not comparable: the apiserver judges what cannot be read here.
                    _ => false,
                };
                if conflict {
                    if request.1 < limit.1 {
                        *limit = request.clone();
                    } else {
                        *request = limit.clone();
                    }
                }
            }
            None if never_overcommitted => {
                limits.insert(key.clone(), request.clone());
            }
            None => {}
        }
    }
    let values = |map: BTreeMap<String, Ranked>| {
        let map: BTreeMap<String, Quantity> = map.into_iter().map(|(k, (v, _))| (k, v)).collect();
        Some(map).filter(|m| !m.is_empty())
    };
    ResourceRequirements {
        requests: values(requests),
        limits: values(limits),
        ..ResourceRequirements::default()
    }
}

type Defaults = (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>);

/// Requests and limits from the GPU count alone; nothing without GPUs.
fn gpu_defaults(gpus: i32, gpu_resource: &str) -> Defaults {
    if gpus <= 0 {
        return Defaults::default();
    }
    // Widened: a GPU count past 44 million (a typo, or a hostile profile) overflows i32.
    let gpus = i64::from(gpus);
    let count = Quantity(gpus.to_string());
    let requests = BTreeMap::from([
        (gpu_resource.to_owned(), count.clone()),
        ("cpu".to_owned(), Quantity((4 * gpus).to_string())),
        ("memory".to_owned(), Quantity(format!("{}Gi", 32 * gpus))),
    ]);
    let limits = BTreeMap::from([
        (gpu_resource.to_owned(), count),
        ("memory".to_owned(), Quantity(format!("{}Gi", 48 * gpus))),
    ]);
    (requests, limits)
}

/// Whether Kubernetes lets a request be below its limit: native resources (no domain, or a
/// `kubernetes.io` one) except huge pages. Others must have request equal to limit.
pub fn overcommit_allowed(resource: &str) -> bool {
    let native = !resource.contains('/') || resource.contains("kubernetes.io/");
    native && !resource.starts_with("hugepages-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirements(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> ResourceRequirements {
        let map = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
                    .collect(),
            )
            .filter(|m: &BTreeMap<String, Quantity>| !m.is_empty())
        };
        ResourceRequirements {
            requests: map(requests),
            limits: map(limits),
            ..ResourceRequirements::default()
        }
    }

    #[test]
    fn one_gpu_and_nothing_else_gets_the_gpu_defaults() {
        let got = resources(1, "amd.com/gpu", &[None, None, None]);
        assert_eq!(
            got,
            requirements(
                &[("amd.com/gpu", "1"), ("cpu", "4"), ("memory", "32Gi")],
                &[("amd.com/gpu", "1"), ("memory", "48Gi")]
            )
        );
    }

    /// The runtime configuration guide's Complete Example service: limits cpu 6 and memory 48Gi
    /// on 2 GPUs, whose defaults would request cpu 8 and memory 64Gi.
    #[test]
    fn limits_alone_become_the_requests_as_in_the_guides_complete_example() {
        let service = requirements(&[], &[("cpu", "6"), ("memory", "48Gi")]);
        let got = resources(2, "amd.com/gpu", &[Some(&service), None, None]);
        assert_eq!(
            got,
            requirements(
                &[("amd.com/gpu", "2"), ("cpu", "6"), ("memory", "48Gi")],
                &[("amd.com/gpu", "2"), ("cpu", "6"), ("memory", "48Gi")]
            )
        );
    }

    #[test]
    fn a_request_above_the_default_limit_raises_the_limit() {
        let service = requirements(&[("memory", "64Gi")], &[]);
        let got = resources(1, "amd.com/gpu", &[Some(&service), None, None]);
        assert_eq!(
            got,
            requirements(
                &[("amd.com/gpu", "1"), ("cpu", "4"), ("memory", "64Gi")],
                &[("amd.com/gpu", "1"), ("memory", "64Gi")]
            )
        );
    }

    #[test]
    fn a_service_limit_below_a_template_request_lowers_the_request() {
        let service = requirements(&[], &[("cpu", "2")]);
        let template = requirements(&[("cpu", "3")], &[]);
        let got = resources(0, "amd.com/gpu", &[Some(&service), Some(&template), None]);
        assert_eq!(got, requirements(&[("cpu", "2")], &[("cpu", "2")]));
    }

    #[test]
    fn a_service_request_above_a_template_limit_raises_the_limit() {
        let service = requirements(&[("cpu", "3")], &[]);
        let template = requirements(&[], &[("cpu", "2500m")]);
        let got = resources(0, "amd.com/gpu", &[Some(&service), Some(&template), None]);
        assert_eq!(got, requirements(&[("cpu", "3")], &[("cpu", "3")]));
    }

    #[test]
    fn a_source_contradicting_itself_keeps_its_limit() {
        let service = requirements(&[("cpu", "8")], &[("cpu", "6")]);
        let got = resources(0, "amd.com/gpu", &[Some(&service), None, None]);
        assert_eq!(got, requirements(&[("cpu", "6")], &[("cpu", "6")]));
    }

    #[test]
    fn requests_within_their_limits_are_kept_as_set() {
        let service = requirements(
            &[("cpu", "7"), ("memory", "56Gi")],
            &[("cpu", "9"), ("memory", "72Gi")],
        );
        let template = requirements(&[("cpu", "1")], &[("ephemeral-storage", "10Gi")]);
        let got = resources(2, "amd.com/gpu", &[Some(&service), Some(&template), None]);
        assert_eq!(
            got,
            requirements(
                &[
                    ("amd.com/gpu", "2"),
                    ("cpu", "7"),
                    ("ephemeral-storage", "10Gi"),
                    ("memory", "56Gi")
                ],
                &[
                    ("amd.com/gpu", "2"),
                    ("cpu", "9"),
                    ("ephemeral-storage", "10Gi"),
                    ("memory", "72Gi")
                ]
            )
        );
    }

    #[test]
    fn gpus_and_hugepages_get_equal_request_and_limit() {
        let service = requirements(&[("amd.com/gpu", "4"), ("hugepages-2Mi", "1Gi")], &[]);
        let got = resources(2, "amd.com/gpu", &[Some(&service), None, None]);
        let limits = got.limits.unwrap();
        assert_eq!(limits["amd.com/gpu"], Quantity("4".into()));
        assert_eq!(limits["hugepages-2Mi"], Quantity("1Gi".into()));
        assert_eq!(got.requests.unwrap()["amd.com/gpu"], Quantity("4".into()));
    }

    #[test]
    fn the_largest_gpu_count_scales_the_defaults_without_overflowing() {
        let got = resources(i32::MAX, "amd.com/gpu", &[None, None, None]);
        let requests = got.requests.unwrap();
        assert_eq!(requests["cpu"], Quantity("8589934588".to_owned()));
        assert_eq!(requests["memory"], Quantity("68719476704Gi".to_owned()));
        assert_eq!(
            got.limits.unwrap()["memory"],
            Quantity("103079215056Gi".to_owned())
        );
    }

    #[test]
    fn only_native_resources_but_huge_pages_may_be_overcommitted() {
        for (name, allowed) in [
            ("cpu", true),
            ("memory", true),
            ("ephemeral-storage", true),
            ("requests.kubernetes.io/x", true),
            ("hugepages-1Gi", false),
            ("amd.com/gpu", false),
            ("nvidia.com/gpu", false),
        ] {
            assert_eq!(overcommit_allowed(name), allowed, "{name}");
        }
    }
}
