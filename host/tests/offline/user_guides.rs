//! The YAML examples of the user guides (`docs/aimservice.md`, `docs/runtime-config.md`) through
//! `render`: each ```` ```yaml ```` block loads as `render` loads a file, every AIMService in it
//! plans with the embedded default policy, and where the guide says which status an example
//! reaches (`<!-- renders: Pending -->` on the line before the block), every AIMService of the
//! block renders that status. A block that is only a fragment says so on that line
//! (`<!-- not rendered: why -->`); few may.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use aim_engine::render::{input, render};
use aim_engine::snapshot::ClusterSnapshot;

use super::render_examples::{policies, repo};

const GUIDES: [&str; 2] = ["docs/aimservice.md", "docs/runtime-config.md"];

/// Fragments a guide may leave unrendered, at most.
const MAX_UNRENDERED_PER_GUIDE: usize = 1;

/// What a guide says of one block.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Promise {
    /// Nothing: it must load, and its services plan.
    Plans,
    /// Its services render this `status.status`.
    Renders(String),
    /// A fragment, not meant to load.
    NotRendered,
}

/// One ```` ```yaml ```` block of a guide.
#[derive(Debug)]
struct Example {
    /// `docs/aimservice.md:42`, the line of the opening fence.
    location: String,
    yaml: String,
    promise: Promise,
}

/// The YAML blocks of `guide`, in order, with what the line before each promises.
fn examples(guide: &str) -> Vec<Example> {
    let text = std::fs::read_to_string(repo(guide)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        if lines[index].trim() != "```yaml" {
            index += 1;
            continue;
        }
        let opening = index;
        let body: Vec<&str> = lines[opening + 1..]
            .iter()
            .take_while(|line| line.trim() != "```")
            .copied()
            .collect();
        index = opening + body.len() + 2;
        let marker = lines[..opening]
            .iter()
            .rev()
            .find(|line| !line.trim().is_empty())
            .map_or("", |line| line.trim());
        let location = format!("{guide}:{}", opening + 1);
        let promise = promise(marker, &location);
        found.push(Example {
            location,
            yaml: body.join("\n"),
            promise,
        });
    }
    found
}

/// The promise a marker line makes; any other line promises nothing.
fn promise(marker: &str, location: &str) -> Promise {
    let Some(comment) = marker
        .strip_prefix("<!--")
        .and_then(|rest| rest.strip_suffix("-->"))
        .map(str::trim)
    else {
        return Promise::Plans;
    };
    if let Some(status) = comment.strip_prefix("renders:") {
        let status = status.trim();
        assert!(
            ["Pending", "Starting", "Running", "Degraded", "Failed"].contains(&status),
            "{location}: `{marker}` names no service status"
        );
        return Promise::Renders(status.to_owned());
    }
    if comment.starts_with("not rendered") {
        return Promise::NotRendered;
    }
    Promise::Plans
}

fn load(example: &Example) -> ClusterSnapshot {
    let mut snapshot = ClusterSnapshot::default();
    input::load_text(Path::new(&example.location), &example.yaml, &mut snapshot)
        .unwrap_or_else(|error| panic!("{error}"));
    snapshot
}

#[test]
fn every_yaml_example_of_the_user_guides_loads_and_its_services_plan() {
    let policies = policies();
    for guide in GUIDES {
        let all = examples(guide);
        let rendered: Vec<&Example> = all
            .iter()
            .filter(|example| example.promise != Promise::NotRendered)
            .collect();
        assert!(
            rendered.len() >= 5,
            "{guide}: only {} YAML examples found",
            rendered.len()
        );
        assert!(
            all.len() - rendered.len() <= MAX_UNRENDERED_PER_GUIDE,
            "{guide}: more than {MAX_UNRENDERED_PER_GUIDE} examples are not rendered"
        );
        let mut services = 0;
        for example in rendered {
            for entry in render(&load(example), &policies) {
                services += 1;
                assert!(
                    entry.plan.is_ok(),
                    "{}: {}: {:?}",
                    example.location,
                    entry.service,
                    entry.plan
                );
            }
        }
        assert!(services > 0, "{guide}: no example has an AIMService");
    }
}

#[test]
fn every_status_a_user_guide_promises_is_the_status_rendered() {
    let policies = policies();
    let mut promised = 0;
    for guide in GUIDES {
        for example in examples(guide) {
            let Promise::Renders(expected) = &example.promise else {
                continue;
            };
            let rendered = render(&load(&example), &policies);
            assert!(
                !rendered.is_empty(),
                "{}: promises `{expected}` but has no AIMService",
                example.location
            );
            for entry in rendered {
                let plan = entry.plan.unwrap();
                let status = plan.status.unwrap();
                assert_eq!(
                    status["status"].as_str(),
                    Some(expected.as_str()),
                    "{}: {} renders {}",
                    example.location,
                    entry.service,
                    status["conditions"]
                );
                promised += 1;
            }
        }
    }
    assert!(
        promised >= 10,
        "only {promised} services with a promised status"
    );
}

#[test]
fn a_marker_line_says_what_the_block_after_it_promises() {
    let at = "guide.md:1";
    assert_eq!(
        promise("<!-- renders: Starting -->", at),
        Promise::Renders("Starting".to_owned())
    );
    assert_eq!(
        promise("<!-- not rendered: a status, not an object -->", at),
        Promise::NotRendered
    );
    assert_eq!(promise("A first service:", at), Promise::Plans);
    assert_eq!(promise("", at), Promise::Plans);
}

#[test]
#[should_panic(expected = "names no service status")]
fn a_marker_naming_no_service_status_is_refused() {
    promise("<!-- renders: Ready -->", "guide.md:1");
}
