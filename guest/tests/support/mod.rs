//! Shared pieces of the property tests (`fuzz_*.rs`): the proptest configuration, the committed
//! corpus, input strategies and the Kubernetes name rules the outputs are checked against.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

/// Cases per property unless `PROPTEST_CASES` says otherwise; `default_cases` keeps the slow
/// properties within the CI budget. Failures are persisted to `proptest-regressions/<file>`.
pub fn config(regressions: &'static str, default_cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..ProptestConfig::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = default_cases;
    }
    config
}

/// `guest/tests/corpus/<parts…>`.
pub fn corpus_dir(parts: &[&str]) -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for part in parts {
        dir.push(part);
    }
    dir
}

/// Every file directly in a corpus directory, sorted by name, with its text.
pub fn corpus_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("corpus directory {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                text,
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus files", dir.display());
    files
}

/// Strings that have broken parsers and name helpers before: empty and blank text, separators at
/// the 63rd character, case that changes length when lowered, control characters, numbers past
/// every integer type, and quantity-looking text.
pub const TRICKY_STRINGS: &[&str] = &[
    "",
    " ",
    "\t\n",
    "-",
    ".",
    "_",
    "/",
    ":",
    "@",
    "-.-",
    "a",
    "A",
    "0",
    "-1",
    "1e38",
    "1e39",
    "9e99",
    "340282366920938463463374607431768211456",
    "18446744073709551616",
    "9223372036854775808",
    "2147483648",
    "99999999999Ei",
    "0.5Gi",
    "1.5Ei",
    "512Mi",
    "NaN",
    "Infinity",
    "true",
    "null",
    "İİİİ",
    "\u{212a}elvin",
    "ß",
    "日本語",
    "\u{0}",
    "\u{7f}",
    "\u{feff}",
    "e\u{301}",
    "{",
    "}",
    "[",
    "]",
    "{}",
    "[]",
    "[{}]",
    "'",
    "\"",
    "\\",
    "hf://",
    "://",
    "a/b:c@sha256:",
    "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-b",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
];

/// Any text: arbitrary Unicode, name-like ASCII, or one of [`TRICKY_STRINGS`], sometimes repeated
/// to a few hundred characters.
pub fn text() -> impl Strategy<Value = String> {
    let short = prop_oneof![
        3 => any::<String>(),
        3 => "[a-zA-Z0-9._/:@ -]{0,80}",
        2 => prop::sample::select(TRICKY_STRINGS).prop_map(str::to_owned),
        1 => "[\\x00-\\x7f]{0,40}",
        1 => quantity(),
    ];
    prop_oneof![
        8 => short.clone(),
        1 => (short, 2..40usize).prop_map(|(piece, times)| piece.repeat(times)),
    ]
}

/// Quantity-shaped text (`512Mi`, `0.5Gi`, `1e38`), up to sizes past every integer type.
pub fn quantity() -> impl Strategy<Value = String> {
    "-?[0-9]{0,42}(\\.[0-9]{0,4})?(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|e[0-9]{1,2}|E[0-9]{1,2})?"
}

/// A valid DNS-1123 label: what Kubernetes accepts as a namespace or Service name.
pub fn dns_label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9]",
        "[a-z0-9][a-z0-9-]{0,61}[a-z0-9]",
        "[a-z]{1,8}(-[a-z0-9]{1,8}){0,6}",
    ]
}

/// A valid DNS-1123 subdomain of at most 253 characters: what Kubernetes accepts as the name of
/// most objects, custom resources included.
pub fn dns_subdomain() -> impl Strategy<Value = String> {
    prop::collection::vec(dns_label(), 1..6)
        .prop_map(|labels| labels.join("."))
        .prop_filter("at most 253 characters", |name| name.len() <= 253)
}

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn is_alphanumeric_edge(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    edge(text.chars().next()) && edge(text.chars().last())
}

/// RFC 1123 label as Kubernetes checks it (`IsDNS1123Label`).
pub fn is_dns1123_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(is_label_char)
        && is_alphanumeric_edge(name)
}

/// RFC 1123 subdomain as Kubernetes checks it (`IsDNS1123Subdomain`).
pub fn is_dns1123_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty() && part.chars().all(is_label_char) && is_alphanumeric_edge(part)
        })
}

/// A label value as Kubernetes checks it (`IsValidLabelValue`); the empty value is allowed.
pub fn is_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && edge(value.chars().next())
        && edge(value.chars().last())
}

/// Object keys: the field names of the observed kinds and arbitrary text.
pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => prop::sample::select(FIELD_NAMES).prop_map(str::to_owned),
        1 => text(),
    ]
}

/// Field names of observations and the objects in them, so generated objects reach real fields.
pub const FIELD_NAMES: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "namespace",
    "uid",
    "generation",
    "labels",
    "annotations",
    "deletionTimestamp",
    "creationTimestamp",
    "finalizers",
    "ownerReferences",
    "spec",
    "status",
    "conditions",
    "type",
    "reason",
    "message",
    "lastTransitionTime",
    "observedGeneration",
    "model",
    "image",
    "ref",
    "templateRef",
    "overrides",
    "metric",
    "precision",
    "gpuSelector",
    "count",
    "resourceName",
    "replicas",
    "resources",
    "limits",
    "requests",
    "env",
    "value",
    "valueFrom",
    "imagePullSecrets",
    "serviceAccountName",
    "runtimeConfigName",
    "routing",
    "enabled",
    "gatewayRef",
    "pathTemplate",
    "cacheModel",
    "modelSources",
    "sourceUri",
    "size",
    "storageClassName",
    "pvcHeadroomPercent",
    "defaultStorageClassName",
    "profile",
    "gpu",
    "gpu_count",
    "engine",
    "modelCaches",
    "persistentVolumeClaim",
    "phase",
    "active",
    "succeeded",
    "failed",
    "containerStatuses",
    "state",
    "waiting",
    "terminated",
    "exitCode",
    "parents",
    "parentRef",
    "service",
    "runtimeConfigs",
    "namespaced",
    "cluster",
    "models",
    "clusterModels",
    "templates",
    "clusterTemplates",
    "templateCaches",
    "nodes",
    "inferenceServices",
    "httpRoutes",
    "persistentVolumeClaims",
    "pods",
    "template",
    "clusterTemplate",
    "operatorNamespace",
    "clusterModel",
    "jobs",
    "discoveryLog",
    "activeDiscoveryJobs",
    "servingRuntimes",
    "clusterServingRuntimes",
    "imageInspection",
    "error",
    "templateCache",
    "modelCache",
    "volumeBindingMode",
    "discovery",
    "extractMetadata",
    "createServiceTemplates",
    "creationScope",
];

/// Numbers at the edges of the integer types the API uses, and ordinary small ones.
pub fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            Value::from(0),
            Value::from(1),
            Value::from(-1),
            Value::from(2),
            Value::from(8),
            Value::from(10),
            Value::from(200),
            Value::from(44_739_243),
            Value::from(i32::MAX),
            Value::from(i32::MIN),
            Value::from(i64::from(i32::MAX) + 1),
            Value::from(i64::MAX),
            Value::from(i64::MIN),
            Value::from(u64::MAX),
            Value::from(0.5),
            Value::from(-0.5),
            Value::from(1e9),
            Value::from(1e300),
            Value::from(-1e300),
        ]),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
    ]
}

/// Arbitrary JSON, a few levels deep.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        3 => text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}
