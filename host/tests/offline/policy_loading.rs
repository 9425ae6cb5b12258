//! Loading policies: contract versions, digest pinning, the precompile cache and hot reload.
// Test helpers outside #[test] functions unwrap too: a panic is how a test reports failure.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support::{
    SERVICE_OBSERVATION, default_policy, empty_component, future_version_component,
    hostile_policy_wasm, path_request, rules, runtime, subject, wrong_signature_component,
};
use aim_engine::policy::{
    CacheLocation, CacheOutcome, Digest, PolicyError, PolicyInterface, PolicyLimits,
    PolicyRegistry, PolicyRuntime, PolicySource, RuntimeConfig, SubjectKind,
};

#[test]
fn a_component_for_another_contract_version_is_incompatible() {
    let error = runtime()
        .load(&future_version_component(), None, PolicyLimits::default())
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::Incompatible { .. }),
        "{error:?}"
    );
    assert_eq!(error.reason(), "PolicyIncompatible");
}

#[test]
fn a_component_without_metadata_is_incompatible() {
    let error = runtime()
        .load(&empty_component(), None, PolicyLimits::default())
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::Incompatible { .. }),
        "{error:?}"
    );
}

#[test]
fn a_component_whose_functions_have_the_wrong_types_is_incompatible() {
    let error = runtime()
        .load(&wrong_signature_component(), None, PolicyLimits::default())
        .unwrap_err();
    assert!(
        matches!(error, PolicyError::Incompatible { .. }),
        "{error:?}"
    );
}

#[test]
fn bytes_that_are_not_a_component_are_invalid() {
    let error = runtime()
        .load(b"not wasm at all", None, PolicyLimits::default())
        .unwrap_err();
    assert_eq!(error.reason(), "PolicyInvalid");
}

#[test]
fn a_digest_mismatch_is_refused() {
    let wasm = hostile_policy_wasm();
    let wrong = Digest::of(b"some other policy");
    let error = runtime()
        .load(wasm, Some(&wrong), PolicyLimits::default())
        .unwrap_err();
    assert_eq!(
        error,
        PolicyError::DigestMismatch {
            expected: wrong,
            actual: Digest::of(wasm)
        }
    );
    let right = Digest::of(wasm);
    assert!(
        runtime()
            .load(wasm, Some(&right), PolicyLimits::default())
            .is_ok()
    );
}

#[test]
fn the_default_policy_reports_its_metadata_and_every_interface() {
    let policy = default_policy();
    assert_eq!(policy.info().name, "aim-default");
    for interface in [
        PolicyInterface::Paths,
        PolicyInterface::Selection,
        PolicyInterface::Planner,
    ] {
        assert!(policy.exports(interface));
    }
}

#[test]
fn the_default_policy_plans_a_service_and_the_plan_passes_the_output_checks() {
    let registry = PolicyRegistry::with_default_policy(runtime(), default_policy(), rules());
    let plan = registry
        .active()
        .plan(SubjectKind::Service, SERVICE_OBSERVATION, &subject())
        .unwrap();
    assert_eq!(plan["apiVersion"], "aim.silogen.ai/plan/v1");
}

fn cached_runtime(dir: &Path) -> Arc<PolicyRuntime> {
    let cache = CacheLocation::Dir(dir.to_path_buf());
    PolicyRuntime::new(RuntimeConfig {
        cache,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn cache_entries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

fn load_outcome(runtime: &PolicyRuntime) -> Option<CacheOutcome> {
    let policy = runtime
        .load(hostile_policy_wasm(), None, PolicyLimits::default())
        .unwrap();
    assert_eq!(policy.info().name, "hostile");
    policy.load_report().cache
}

#[test]
fn a_compiled_policy_is_cached_privately_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let cache_dir = dir.path().join("policies");
    let runtime = cached_runtime(&cache_dir);
    assert_eq!(load_outcome(&runtime), Some(CacheOutcome::Compiled));
    assert_eq!(load_outcome(&runtime), Some(CacheOutcome::Hit));
    assert_eq!(
        fs::metadata(&cache_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let entries = cache_entries(&cache_dir);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        fs::metadata(&entries[0]).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn a_corrupt_cache_entry_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = cached_runtime(dir.path());
    load_outcome(&runtime);
    let entry = cache_entries(dir.path()).remove(0);
    let mut bytes = fs::read(&entry).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&entry, &bytes).unwrap();
    assert_eq!(load_outcome(&runtime), Some(CacheOutcome::Replaced));
    assert_eq!(load_outcome(&runtime), Some(CacheOutcome::Hit));
}

#[test]
fn a_foreign_cache_entry_is_never_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = cached_runtime(dir.path());
    load_outcome(&runtime);
    let entry = cache_entries(dir.path()).remove(0);
    // A genuine artifact made by someone else: valid for wasmtime, but without our MAC.
    let foreign = runtime
        .engine()
        .precompile_component(&empty_component())
        .unwrap();
    fs::write(&entry, &foreign).unwrap();
    assert_eq!(load_outcome(&runtime), Some(CacheOutcome::Replaced));
}

#[test]
fn an_entry_signed_with_another_cache_key_is_recompiled() {
    let dir = tempfile::tempdir().unwrap();
    load_outcome(&cached_runtime(dir.path()));
    fs::remove_file(dir.path().join("cache.key")).unwrap();
    assert_eq!(
        load_outcome(&cached_runtime(dir.path())),
        Some(CacheOutcome::Replaced)
    );
}

#[test]
fn hot_reload_swaps_the_policy_and_keeps_the_last_good_one_on_a_bad_update() {
    let registry = Arc::new(PolicyRegistry::with_default_policy(
        runtime(),
        default_policy(),
        rules(),
    ));
    assert!(registry.active().custom().is_none());
    let good = PolicySource {
        wasm: hostile_policy_wasm().to_vec(),
        expected_digest: None,
        limits: PolicyLimits::default(),
    };
    let before = registry.active();
    let digest = registry
        .update_in_background(good)
        .unwrap()
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(registry.active().custom().unwrap().digest(), &digest);
    // A set taken before the swap keeps working with the policies it started with.
    assert!(before.custom().is_none());
    assert_eq!(before.render_path(&path_request()).unwrap(), "/ml/chat");

    let bad = PolicySource {
        wasm: future_version_component(),
        expected_digest: None,
        limits: PolicyLimits::default(),
    };
    let error = registry
        .update_in_background(bad)
        .unwrap()
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(error.reason(), "PolicyIncompatible");
    assert_eq!(
        registry.active().custom().unwrap().digest(),
        &digest,
        "the last good policy stays active"
    );
    let failure = registry.last_failure().unwrap();
    assert_eq!(failure.digest, Digest::of(&future_version_component()));

    let pinned_wrong = PolicySource {
        wasm: hostile_policy_wasm().to_vec(),
        expected_digest: Some(Digest::of(b"something else")),
        limits: PolicyLimits::default(),
    };
    assert_eq!(
        registry.update(&pinned_wrong).unwrap_err().reason(),
        "PolicyDigestMismatch"
    );
    assert_eq!(registry.active().custom().unwrap().digest(), &digest);
}

/// The message of a load failure, as `policy check` and the AIMPolicy conditions show it.
fn load_failure(wasm: &[u8]) -> String {
    runtime()
        .load(wasm, None, PolicyLimits::default())
        .unwrap_err()
        .to_string()
}

#[test]
fn a_file_that_is_not_webassembly_is_named_so_without_byte_dumps() {
    let message = load_failure(b"# my policy\nnot wasm at all");
    assert!(message.contains("not a WebAssembly file"), "{message}");
    assert!(message.contains("it is text"), "{message}");
    assert!(!message.contains("0x"), "{message}");
}

#[test]
fn a_core_module_is_told_to_be_built_as_a_component() {
    let message = load_failure(&wat::parse_str("(module)").unwrap());
    assert!(
        message.contains("core WebAssembly module, not a component"),
        "{message}"
    );
    assert!(message.contains("wasm32-wasip2"), "{message}");
}

#[test]
fn a_component_for_another_contract_version_names_both_versions_and_the_fix() {
    let message = load_failure(&future_version_component());
    assert!(message.contains("aim:policy@9.0.0"), "{message}");
    assert!(message.contains("aim:policy@0.1.0"), "{message}");
    assert!(message.contains("aim-engine policy wit"), "{message}");
}

#[test]
fn importing_defaults_of_another_contract_version_names_both_versions() {
    let wasm = wat::parse_str(
        r#"(component
            (import "aim:policy/defaults@2.0.0" (instance (export "version" (func (result u32))))))"#,
    )
    .unwrap();
    let error = runtime()
        .load(&wasm, None, PolicyLimits::default())
        .unwrap_err();
    assert_eq!(error.reason(), "PolicyIncompatible");
    let message = error.to_string();
    assert!(
        message.contains("built against aim:policy@2.0.0"),
        "{message}"
    );
    assert!(message.contains("aim-engine policy wit"), "{message}");
}

#[test]
fn a_defaults_import_that_does_not_match_the_host_says_so_in_its_own_words() {
    let wasm = wat::parse_str(
        r#"(component
            (import "aim:policy/defaults@0.1.0" (instance (export "plan-everything" (func (result u32))))))"#,
    )
    .unwrap();
    let message = load_failure(&wasm);
    assert!(
        message.contains("its imports do not match what aim-engine provides for aim:policy@0.1.0"),
        "{message}"
    );
    assert!(message.contains("plan-everything"), "{message}");
}

#[test]
fn an_import_the_host_does_not_offer_is_named() {
    let wasm = wat::parse_str(
        r#"(component (import "acme:net/http@1.0.0" (instance (export "get" (func)))))"#,
    )
    .unwrap();
    let message = load_failure(&wasm);
    assert!(
        message.contains("it imports acme:net/http@1.0.0"),
        "{message}"
    );
}
