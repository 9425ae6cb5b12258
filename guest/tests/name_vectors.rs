//! Literal vectors for every naming function: inputs and the names they must give, computed by an
//! independent implementation of the documented algorithms (not by the code under test), so a
//! change to any name — which would orphan every object an earlier version created — fails here.

use aim_api::v1alpha1::{AIMGpuSelector, AIMMetric, AIMPrecision, AIMRuntimeParameters};
use aim_policy_default::names::{make_rfc1123_compliant, sanitize_label_value};
use aim_policy_default::resource_names::{
    DeploymentKey, DiscoveryJobKey, cache_volume_name, derived_template_name, discovery_job_name,
    http_route_name, inference_service_name, model_cache_job_name, model_cache_name,
    model_cache_pvc_name, model_name_from_image, temp_cache_pvc_name, template_name,
};

#[test]
fn model_names_from_images() {
    let long_tag = format!("ghcr.io/silogen/aim-x:{}", "t".repeat(128));
    let long_name = format!("r/{}:1.0", "a".repeat(100));
    let cases: [(&str, String); 9] = [
        (
            "ghcr.io/silogen/aim-qwen-qwen3-32b:0.7.0-preview",
            "aim-qwen-qwen3-32b-0-7-0-preview-0c176004".into(),
        ),
        (
            "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0",
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd".into(),
        ),
        ("registry/aim-x", "aim-x-latest-0be35659".into()),
        (
            "registry/aim-x@sha256:abcdef0123456789",
            "aim-x-abcdef-a77497f5".into(),
        ),
        (&long_tag, format!("a-{}-d0ae1108", "t".repeat(52))),
        (&long_name, format!("{}-1-0-cd478ad9", "a".repeat(50))),
        (
            "localhost:5000/Team/My.Model:V1.2",
            "my-model-v1-2-eeca6d6a".into(),
        ),
        ("img", "img-latest-b29814cf".into()),
        ("r/___:___", "model-notag-b91b8aeb".into()),
    ];
    for (image, expected) in cases {
        assert_eq!(model_name_from_image(image), expected, "{image}");
    }
}

#[test]
fn template_names() {
    let cases = [
        (
            "aim-qwen-qwen3-32b-0-7-0-preview-0c176004",
            ("MI300X", 1, "latency", "fp8"),
            "aim-qwen-qwen3-32b-0-7-0-preview-0c17600-1x-mi300x-lat-fp8-72a2",
        ),
        (
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd",
            ("MI300X", 1, "latency", "fp8"),
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e",
        ),
        (
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-0-e2103ebd",
            ("MI325X", 1, "throughput", "fp8"),
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi325x-thr-fp8-d7de",
        ),
        ("llama", ("MI300X", 0, "", ""), "llama-mi300x-9297"),
        (
            "llama",
            ("", 2, "latency", "FP16"),
            "llama-x2-lat-fp16-867e",
        ),
        ("llama", ("", 0, "custom", ""), "llama-custom-0b55"),
    ];
    for (model, (gpu_model, gpu_count, metric, precision), expected) in cases {
        let key = DeploymentKey {
            gpu_model,
            gpu_count,
            metric,
            precision,
        };
        assert_eq!(template_name(model, &key), expected, "{model} {key:?}");
    }
}

#[test]
fn derived_template_names() {
    let throughput_fp8 = AIMRuntimeParameters {
        metric: Some(AIMMetric::Throughput),
        precision: Some(AIMPrecision::Fp8),
        gpu_selector: None,
    };
    let complete_example = AIMRuntimeParameters {
        metric: Some(AIMMetric::Throughput),
        precision: Some(AIMPrecision::Fp16),
        gpu_selector: Some(AIMGpuSelector {
            count: 2,
            model: "MI300X".into(),
            resource_name: "amd.com/gpu".into(),
        }),
    };
    let fp16 = AIMRuntimeParameters {
        precision: Some(AIMPrecision::Fp16),
        ..AIMRuntimeParameters::default()
    };
    let dotted = format!("{}.b", "a".repeat(49));
    let long = "x".repeat(70);
    let cases: [(&str, &AIMRuntimeParameters, String); 4] = [
        (
            "default-testing-llama-3-8b",
            &throughput_fp8,
            "default-testing-llama-3-8b-ovr-5ab7d1be".into(),
        ),
        (
            "llama-3-8b-latency",
            &complete_example,
            "llama-3-8b-latency-ovr-fc673f2e".into(),
        ),
        (
            &dotted,
            &AIMRuntimeParameters::default(),
            format!("{}-ovr-44136fa3", "a".repeat(49)),
        ),
        (&long, &fp16, format!("{}-ovr-b1b47623", "x".repeat(50))),
    ];
    for (base, overrides, expected) in cases {
        assert_eq!(derived_template_name(base, overrides), expected, "{base}");
    }
}

#[test]
fn inference_service_names() {
    let long = "x".repeat(80);
    let long_namespace = "n".repeat(60);
    let cases: [(&str, &str, String); 4] = [
        (
            "integration-cluster-model-public-image",
            "chainsaw-keen-kit",
            "integration-cluster-model-50b8144c".into(),
        ),
        ("llama-chat", "ml-team", "llama-chat".into()),
        (&long, "ns", format!("{}-d929cdee", "x".repeat(41))),
        ("chat", &long_namespace, "c-31e06f7d".into()),
    ];
    for (service, namespace, expected) in cases {
        assert_eq!(
            inference_service_name(service, namespace),
            expected,
            "{service} in {namespace}"
        );
    }
}

#[test]
fn route_volume_cache_and_job_names() {
    let dotted_56 = format!("{}.b", "a".repeat(56));
    let dotted_62 = format!("{}.b", "a".repeat(62));
    let x60 = "x".repeat(60);
    let y60 = "y".repeat(60);
    let x70 = "x".repeat(70);
    let routes: [(&str, String); 3] = [
        ("llama-chat", "llama-chat-route".into()),
        (&dotted_56, format!("{}-route", "a".repeat(56))),
        (&x70, format!("{}-route", "x".repeat(57))),
    ];
    for (service, expected) in routes {
        assert_eq!(http_route_name(service), expected, "{service}");
    }
    assert_eq!(temp_cache_pvc_name("llama-chat"), "llama-chat-temp-cache");
    assert_eq!(temp_cache_pvc_name(&x60), format!("{x60}-te"));
    assert_eq!(model_cache_pvc_name("smol"), "smol-cache");
    assert_eq!(model_cache_pvc_name(&dotted_62), "a".repeat(62));
    assert_eq!(model_cache_job_name("smol"), "smol-cache-download");
    assert_eq!(model_cache_job_name(&y60), format!("{y60}-ca"));
    for (source, expected) in [
        ("HuggingFaceTB/SmolLM2-135M", "huggingfacetb-smollm2-135m"),
        (
            "amd/Llama-3.1-8B-Instruct-FP8-KV",
            "amd-llama-3-1-8b-instruct-fp8-kv",
        ),
        ("日本語", "model-77710aed"),
        ("___", "model-bda25155"),
    ] {
        assert_eq!(model_cache_name(source), expected, "{source}");
    }
    assert_eq!(
        cache_volume_name("amd-llama-3-1-8b-instruct-fp8-kv"),
        "amd-llama-3-1-8b-instruct-fp8-kv"
    );
    assert_eq!(cache_volume_name("Smol.LM"), "smol-lm");
}

#[test]
fn discovery_job_names() {
    let bare = DiscoveryJobKey {
        model_name: "m",
        image: "img:1",
        metric: "latency",
        ..DiscoveryJobKey::default()
    };
    assert_eq!(
        discovery_job_name(
            "aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-mi300x-lat-fp8-8d3e",
            &bare
        ),
        "discover-aim-meta-llama-llama-3-1-8b-instruct-0-7-1x-m-a73ecdd8"
    );
    let full = DiscoveryJobKey {
        model_name: "llama",
        image: "ghcr.io/x:1",
        service_account: "aim-runtime",
        env: vec![("A", "1"), ("B", "2")],
        pull_secrets: vec!["regcred"],
        metric: "latency",
        precision: "fp8",
        gpu_model: "MI300X",
        gpu_count: 1,
    };
    assert_eq!(
        discovery_job_name("llama-latency", &full),
        "discover-llama-latency-9b3fab61"
    );
}

#[test]
fn rfc1123_names_and_label_values() {
    let dotted_62 = format!("{}.b", "a".repeat(62));
    let rfc: [(&str, String); 6] = [
        ("Meta/Llama-3-8B", "meta-llama-3-8b".into()),
        ("--a..b.-c--", "a-b-c".into()),
        (".a.b.", "a.b".into()),
        ("___", String::new()),
        (&dotted_62, "a".repeat(62)),
        ("Team A//B", "team-a-b".into()),
    ];
    for (input, expected) in rfc {
        assert_eq!(make_rfc1123_compliant(input), expected, "{input}");
    }
    let a70 = "a".repeat(70);
    let labels: [(&str, String); 5] = [
        ("Meta/Llama 3", "Meta_Llama_3".into()),
        ("__x__", "x".into()),
        ("", "unknown".into()),
        ("日本語", "unknown".into()),
        (&a70, "a".repeat(63)),
    ];
    for (input, expected) in labels {
        assert_eq!(sanitize_label_value(input), expected, "{input:?}");
    }
}
