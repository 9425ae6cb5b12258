//! Property tests of the route path renderer (`paths::render_path`, `render_path_from_json`):
//! arbitrary templates (stray and nested braces, JSONPath-like placeholders, Unicode, thousands of
//! characters) against arbitrary services. Rendering never panics; it gives a path of RFC 1123
//! segments within 200 characters or a `PathTemplateInvalid` rejection, the same every time.
//! `corpus/paths/*.json` holds cases that once broke rendering; each run replays them.

#![allow(clippy::unwrap_used)]

mod support;

use aim_policy_default::PolicyFailure;
use aim_policy_default::names::MAX_LABEL_LENGTH;
use aim_policy_default::paths::{
    DEFAULT_PATH_TEMPLATE, MAX_PATH_LENGTH, PATH_TEMPLATE_INVALID, render_path,
    render_path_from_json,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use support::{config, corpus_dir, corpus_files, is_dns1123_subdomain, json, key, text};

/// Label and annotation keys the generated templates and services share, so lookups hit.
const KEYS: &[&str] = &[
    "team",
    "x",
    "a/b",
    "aim.silogen.ai/workload-id",
    "",
    "'",
    "\"",
    "日本",
    "]",
];

/// Checks what every rendering must satisfy and returns it.
fn check_render(service: &Value, template: Option<&str>) -> Result<String, TestCaseError> {
    let result = render_path(service, template);
    match &result {
        Ok(path) => {
            prop_assert!(path.starts_with('/'), "{path:?}");
            prop_assert!(path.len() <= MAX_PATH_LENGTH, "{path:?}");
            for segment in path[1..].split('/') {
                prop_assert!(
                    is_dns1123_subdomain(segment) && segment.len() <= MAX_LABEL_LENGTH,
                    "segment {segment:?} of {path:?} from {template:?}"
                );
            }
        }
        Err(PolicyFailure::Rejected { reason, message }) => {
            prop_assert_eq!(reason.as_str(), PATH_TEMPLATE_INVALID);
            prop_assert!(!message.is_empty());
        }
        Err(other) => prop_assert!(false, "render_path answered {other:?}"),
    }
    prop_assert_eq!(
        render_path(service, template),
        result.clone(),
        "not deterministic"
    );
    Ok(result.unwrap_or_default())
}

/// A JSONPath-like expression: known fields, generated steps, or any text without braces.
fn expression() -> impl Strategy<Value = String> {
    let step = prop_oneof![
        "\\.[a-zA-Z0-9_*-]{0,8}",
        "\\['[^']{0,8}'\\]",
        "\\[\"[^\"]{0,8}\"\\]",
        "\\[[0-9]{1,3}\\]",
        Just("[*]".to_owned()),
        "\\[[^\\]]{0,6}\\]",
        "\\[[^\\]]{0,6}",
    ];
    let map_key = |map: &'static str| {
        (
            prop::sample::select(KEYS),
            prop::sample::select(vec!['\'', '"']),
        )
            .prop_map(move |(key, quote)| format!(".metadata.{map}[{quote}{key}{quote}]"))
    };
    prop_oneof![
        2 => prop::sample::select(vec![
            ".metadata.name",
            ".metadata.namespace",
            " .metadata.uid ",
            "$.metadata.name",
            ".spec",
            ".spec.items[0]",
            ".spec.items[*]",
            ".spec.*",
            ".status.resolvedImage.name",
            ".",
            "$",
            "..",
            "[0]",
            ".metadata.labels",
            ".metadata.labels[",
            ".metadata.labels['",
            ".metadata.labels['team'",
            ".metadata.labels['team']x",
            ".metadata.annotations[team]",
        ])
        .prop_map(str::to_owned),
        2 => map_key("labels"),
        2 => map_key("annotations"),
        3 => prop::collection::vec(step, 1..6).prop_map(|steps| steps.concat()),
        1 => "[^{}]{1,24}",
    ]
}

/// A path template: literal text, placeholders and stray braces, sometimes repeated at length.
fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9/_. -]{0,12}",
        1 => Just("/".to_owned()),
        4 => expression().prop_map(|e| format!("{{{e}}}")),
        1 => prop::sample::select(vec!["{", "}", "{{", "}}", "{}", "{ }", "{{.metadata.name}}", "}{", "{.metadata.name"])
            .prop_map(str::to_owned),
        1 => text(),
    ];
    let template = prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat());
    prop_oneof![
        8 => template.clone(),
        1 => (template, 2..300usize).prop_map(|(t, times)| t.repeat(times)),
    ]
}

/// A service-shaped object: name, namespace, labels and annotations (keys shared with the
/// templates, values arbitrary), and arbitrary spec and status; or any JSON object.
fn service() -> impl Strategy<Value = Value> {
    let entries = || {
        prop::collection::btree_map(
            prop_oneof![3 => prop::sample::select(KEYS).prop_map(str::to_owned), 1 => key()],
            prop_oneof![4 => text().prop_map(Value::from), 1 => json()],
            0..5,
        )
    };
    let shaped = (text(), text(), entries(), entries(), json(), json()).prop_map(
        |(name, namespace, labels, annotations, spec, status)| {
            json!({
                "metadata": {"name": name, "namespace": namespace, "uid": "u-1",
                    "labels": labels, "annotations": annotations},
                "spec": spec,
                "status": status,
            })
        },
    );
    prop_oneof![
        4 => shaped,
        1 => prop::collection::btree_map(key(), json(), 0..5)
            .prop_map(|map| Value::Object(map.into_iter().collect())),
    ]
}

#[test]
fn every_corpus_case_renders_as_recorded() {
    for (file, text) in corpus_files(&corpus_dir(&["paths"])) {
        let case: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let template = case["template"].as_str();
        let result = match &case["serviceJson"] {
            Value::String(raw) => render_path_from_json(raw, template),
            _ => {
                let result = check_render(&case["service"], template);
                if let Err(failure) = result {
                    panic!("{file}: {failure}");
                }
                render_path(&case["service"], template)
            }
        };
        let got = match &result {
            Ok(path) => json!({"path": path}),
            Err(PolicyFailure::Rejected { .. }) => json!({"error": "Rejected"}),
            Err(PolicyFailure::InvalidInput(_)) => json!({"error": "InvalidInput"}),
        };
        assert_eq!(got, case["expected"], "{file}: {result:?}");
    }
}

proptest! {
    #![proptest_config(config("proptest-regressions/fuzz_paths.txt", 1000))]

    #[test]
    fn any_template_renders_a_valid_path_or_is_rejected(
        service in service(),
        template in prop::option::of(template()),
    ) {
        check_render(&service, template.as_deref())?;
    }

    #[test]
    fn rendering_from_json_text_matches_rendering_the_parsed_object(
        service in service(),
        template in prop::option::of(template()),
    ) {
        let text = service.to_string();
        // Parsed again rather than `service` itself: without serde_json's `float_roundtrip`, a
        // printed float may read back 1 ULP off, and a placeholder may print it.
        let parsed: Value = serde_json::from_str(&text).unwrap();
        let from_text = render_path_from_json(&text, template.as_deref());
        prop_assert_eq!(from_text, render_path(&parsed, template.as_deref()));
    }

    #[test]
    fn arbitrary_service_text_is_rendered_or_refused_as_invalid_input(
        raw in prop_oneof![text(), json().prop_map(|v| v.to_string())],
        template in prop::option::of(template()),
    ) {
        let result = render_path_from_json(&raw, template.as_deref());
        match serde_json::from_str::<Value>(&raw) {
            Ok(parsed) if parsed.is_object() => {
                prop_assert_eq!(result, render_path(&parsed, template.as_deref()));
            }
            _ => prop_assert!(matches!(result, Err(PolicyFailure::InvalidInput(_))), "{result:?}"),
        }
    }

    #[test]
    fn text_without_braces_renders_the_same_for_every_service(
        first in service(),
        second in service(),
        template in "[^{}]{0,80}".prop_filter("a blank template means the default", |t| !t.trim().is_empty()),
    ) {
        check_render(&first, Some(&template))?;
        prop_assert_eq!(
            render_path(&first, Some(&template)),
            render_path(&second, Some(&template))
        );
    }

    #[test]
    fn a_blank_template_renders_like_the_default(service in service(), blank in "[ \t\n]{0,4}") {
        prop_assert_eq!(
            render_path(&service, Some(&blank)),
            render_path(&service, Some(DEFAULT_PATH_TEMPLATE))
        );
        prop_assert_eq!(render_path(&service, None), render_path(&service, Some(DEFAULT_PATH_TEMPLATE)));
    }

    #[test]
    fn a_label_that_is_already_a_segment_renders_unchanged(
        team in support::dns_label().prop_filter("no runs of dashes", |l| !l.contains("--")),
        quote in prop::sample::select(vec!['\'', '"']),
    ) {
        let service = json!({"metadata": {"name": "n", "namespace": "ns", "labels": {"team": team}}});
        let template = format!("/{{.metadata.labels[{quote}team{quote}]}}/chat");
        prop_assert_eq!(render_path(&service, Some(&template)), Ok(format!("/{team}/chat")));
    }
}
