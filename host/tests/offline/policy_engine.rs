//! `--policy-engine native`: the default policy compiled into the binary plans exactly as its wasm
//! component does, its plans pass the same checks, and AIMPolicy names are ignored.
// Test helpers outside #[test] functions unwrap too: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use crate::support::{SERVICE_OBSERVATION, default_policy, rules, runtime, subject};
use aim_engine::policy::{PolicyEngine, PolicyError, PolicyRegistry, SubjectKind};

#[test]
fn the_native_default_policy_plans_what_the_wasm_one_plans() {
    let wasm = PolicyRegistry::with_default_policy(runtime(), default_policy(), rules());
    let native = PolicyRegistry::with_default_policy(runtime(), default_policy(), rules())
        .with_engine(PolicyEngine::Native);
    let plan = |registry: &PolicyRegistry| {
        registry
            .active()
            .plan(SubjectKind::Service, SERVICE_OBSERVATION, &subject())
            .unwrap()
    };
    assert_eq!(plan(&native), plan(&wasm));
}

#[test]
fn the_native_engine_answers_for_any_policy_name_with_the_default_policy() {
    let native = PolicyRegistry::with_default_policy(runtime(), default_policy(), rules())
        .with_engine(PolicyEngine::Native);
    let set = native.for_policy(Some("team-routes")).unwrap();
    let error = set
        .plan(SubjectKind::Service, r#"{"apiVersion":"v0"}"#, &subject())
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::InvalidInput { .. }),
        "{error:?}"
    );
    assert!(
        PolicyRegistry::with_default_policy(runtime(), default_policy(), rules())
            .for_policy(Some("team-routes"))
            .is_none(),
        "with wasm, an AIMPolicy that is not installed has no set"
    );
}
