//! `docs/status.md`, the user's reference for an AIMService's status, against the constants in
//! `src/conditions.rs`: every status value, every condition type a service reports and every
//! AIMService reason is documented, and every reason the page's tables name exists.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use aim_api::conditions::{AIMServiceStatusEnum, types};

const PAGE: &str = include_str!("../../docs/status.md");
const CONDITIONS: &str = include_str!("../src/conditions.rs");

/// Where the page lists the operator's own failures, whose reasons live in the host crate (its
/// test `every_failure_reason_is_in_the_status_reference` checks them).
const HOST_SECTION: &str = "## Failures the operator itself reports";

/// `(name, value)` of every `pub const NAME: &str = "value";` in `text`.
fn constants(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    // A constant may wrap onto the next line after `=`.
    let joined = text.replace("=\n", "= ");
    for line in joined.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let Some((name, value)) = rest.split_once(": &str =") else {
            continue;
        };
        let value = value.trim().trim_end_matches(';').trim_matches('"');
        found.push((name.trim().to_owned(), value.to_owned()));
    }
    found
}

/// The text of `pub mod <name> { ... }` in conditions.rs.
fn module(name: &str) -> &'static str {
    let start = CONDITIONS
        .find(&format!("pub mod {name} {{"))
        .unwrap_or_else(|| panic!("no module {name}"));
    let end = CONDITIONS[start..].find("\n}").unwrap() + start;
    &CONDITIONS[start..end]
}

/// The AIMService reasons: the `reasons` module up to its `// AIMServiceTemplate` section.
fn service_reasons() -> Vec<String> {
    let reasons = module("reasons");
    let end = reasons.find("// AIMServiceTemplate").unwrap();
    constants(&reasons[..end])
        .into_iter()
        .map(|(_, value)| value)
        .collect()
}

/// Every reason constant conditions.rs declares, in any section or module.
fn all_reasons() -> BTreeSet<String> {
    ["reasons", "flow_reasons"]
        .iter()
        .flat_map(|m| constants(module(m)))
        .map(|(_, value)| value)
        .collect()
}

/// The page before the host's section.
fn service_part() -> &'static str {
    &PAGE[..PAGE.find(HOST_SECTION).unwrap()]
}

/// The first-column `code` entries of every table row, split at commas.
fn table_reasons(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let Some(cell) = line.strip_prefix('|').and_then(|l| l.split('|').next()) else {
            continue;
        };
        for part in cell.split(',') {
            let part = part.trim();
            if let Some(name) = part.strip_prefix('`').and_then(|p| p.strip_suffix('`')) {
                found.insert(name.to_owned());
            }
        }
    }
    found
}

fn documented(name: &str) -> bool {
    service_part().contains(&format!("`{name}`"))
}

/// Every state, by an exhaustive match: a new state fails to compile here until it is listed.
fn all_states() -> Vec<&'static str> {
    use AIMServiceStatusEnum::*;
    let name = |state: AIMServiceStatusEnum| match state {
        Pending => "Pending",
        Starting => "Starting",
        Running => "Running",
        Degraded => "Degraded",
        Failed => "Failed",
    };
    [Pending, Starting, Running, Degraded, Failed]
        .into_iter()
        .map(name)
        .collect()
}

#[test]
fn the_constants_parser_reads_this_crates_constants() {
    let reasons = service_reasons();
    assert!(reasons.contains(&"Resolved".to_owned()));
    assert!(reasons.contains(&"PathTemplateInvalid".to_owned()));
    assert!(
        !reasons.contains(&"GPUUnavailable".to_owned()),
        "a template reason"
    );
    assert!(all_reasons().contains("GPUUnavailable"));
    assert!(all_reasons().contains("DiscoveryDeferred"));
}

#[test]
fn every_status_value_is_documented() {
    for state in all_states() {
        assert!(documented(state), "status {state} is not in docs/status.md");
    }
}

#[test]
fn every_condition_a_service_reports_is_documented() {
    for type_ in types::SERVICE {
        assert!(
            documented(type_),
            "condition {type_} is not in docs/status.md"
        );
    }
}

#[test]
fn every_service_reason_is_documented_in_a_table() {
    let tables = table_reasons(service_part());
    let missing: Vec<String> = service_reasons()
        .into_iter()
        .filter(|reason| !tables.contains(reason))
        .collect();
    assert!(
        missing.is_empty(),
        "reasons not in a table of docs/status.md: {missing:?}"
    );
}

#[test]
fn every_reason_the_page_names_exists() {
    let known = all_reasons();
    let states: Vec<&str> = all_states();
    let unknown: Vec<String> = table_reasons(service_part())
        .into_iter()
        .filter(|name| {
            !known.contains(name)
                && !states.contains(&name.as_str())
                && !types::SERVICE.contains(&name.as_str())
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/status.md names reasons conditions.rs does not declare: {unknown:?}"
    );
}
