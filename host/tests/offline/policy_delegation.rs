//! Policies calling each other: a custom policy that overrides only route paths still shapes the
//! default plans, a custom planner adjusts the default plan through `defaults`, and neither can
//! make the other loop. Uses the example policy in `policies/rust-team-routes`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use crate::support::{default_policy, rules, runtime, team_routes_policy_wasm};
use aim_engine::policy::{PolicyLimits, PolicySet};
use aim_engine::render::{input, render};
use serde_json::Value;

fn team_routes() -> PolicySet {
    let custom = runtime()
        .load(team_routes_policy_wasm(), None, PolicyLimits::default())
        .unwrap();
    PolicySet::new(Some(Arc::new(custom)), default_policy(), Arc::new(rules()))
}

/// The objects planned for `service` in the example policy's fixture.
fn planned(policies: &PolicySet, service: &str) -> Vec<Value> {
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../policies/rust-team-routes/fixtures/team-routes.yaml");
    let snapshot = input::load(&[fixture]).unwrap();
    let rendered = render(&snapshot, policies);
    let entry = rendered.iter().find(|r| r.service == service).unwrap();
    let plan = entry.plan.as_ref().unwrap();
    plan.apply.iter().map(|p| p.object.clone()).collect()
}

fn route(objects: &[Value]) -> &Value {
    objects.iter().find(|o| o["kind"] == "HTTPRoute").unwrap()
}

fn route_path(objects: &[Value]) -> &str {
    route(objects)
        .pointer("/spec/rules/0/matches/0/path/value")
        .and_then(Value::as_str)
        .unwrap()
}

#[test]
fn a_custom_paths_answer_reaches_the_default_plans_http_route() {
    let objects = planned(&team_routes(), "search/ranker");
    assert_eq!(route_path(&objects), "/teams/search-quality/search/ranker");
}

#[test]
fn a_custom_planner_adjusts_the_default_plan_it_asked_for() {
    let objects = planned(&team_routes(), "search/ranker");
    let annotations = &route(&objects)["metadata"]["annotations"];
    assert_eq!(annotations["aim.example.com/team"], "search-quality");
    let isvc = objects
        .iter()
        .find(|o| o["kind"] == "InferenceService")
        .unwrap();
    assert!(
        isvc.pointer("/metadata/annotations/aim.example.com~1team")
            .is_none()
    );
}

#[test]
fn a_custom_policy_deferring_to_the_default_gets_the_default_answer_without_a_loop() {
    // The custom render-path asks `defaults` for services without a team; the default policy
    // must then decide itself instead of asking the custom policy again.
    let objects = planned(&team_routes(), "search/sandbox");
    assert_eq!(route_path(&objects), "/search/sandbox");
    let objects = planned(&team_routes(), "search/legacy");
    assert_eq!(route_path(&objects), "/legacy/legacy");
}

#[test]
fn without_a_custom_policy_the_default_decides_alone() {
    let alone = PolicySet::new(None, default_policy(), Arc::new(rules()));
    let objects = planned(&alone, "search/ranker");
    assert_eq!(route_path(&objects), "/search/ranker");
    // Only the operator's own annotation: none of the team policy's.
    let annotations = route(&objects)["metadata"]["annotations"]
        .as_object()
        .unwrap();
    let keys: Vec<&str> = annotations.keys().map(String::as_str).collect();
    assert_eq!(keys, ["aim.silogen.ai/spec-hash"]);
}
