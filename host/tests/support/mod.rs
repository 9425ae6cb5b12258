//! Shared helpers for the policy runtime tests: one runtime per test binary, the misbehaving
//! test policy (built once from `hostile-policy/` into `<target>/wasm`), and small components
//! written in WAT for contract mismatches.
// Each test binary uses a different subset; a panic is how a helper reports failure.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod operator;

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, OnceLock};

use aim_engine::policy::{
    CacheLocation, LoadedPolicy, OutputRules, PathRequest, PlanSubject, PolicyRuntime,
    RuntimeConfig,
};

/// The runtime shared by the tests of one binary (the operator also has exactly one).
pub fn runtime() -> Arc<PolicyRuntime> {
    static RUNTIME: OnceLock<Arc<PolicyRuntime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            PolicyRuntime::new(RuntimeConfig {
                cache: CacheLocation::Disabled,
                ..RuntimeConfig::default()
            })
            .unwrap()
        })
        .clone()
}

/// The embedded default policy, compiled once per test binary (it is the largest component).
pub fn default_policy() -> Arc<LoadedPolicy> {
    static POLICY: OnceLock<Arc<LoadedPolicy>> = OnceLock::new();
    POLICY
        .get_or_init(|| aim_engine::policy::load_default_policy(&runtime()).unwrap())
        .clone()
}

/// The misbehaving policy component.
pub fn hostile_policy_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| build_test_component("aim-policy-hostile", "aim_policy_hostile.wasm"))
}

/// The misbehaving policy built so that its `metadata.info` sleeps for an hour: loading it stalls.
pub fn sleepy_info_policy_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        build_component(
            "aim-policy-hostile",
            "aim_policy_hostile.wasm",
            Some("sleep-in-info"),
        )
    })
}

/// The example policy of `policies/rust-team-routes` (paths and a planner wrapping the default).
pub fn team_routes_policy_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        build_test_component("aim-policy-team-routes", "aim_policy_team_routes.wasm")
    })
}

/// Builds a workspace guest crate for `wasm32-wasip2` with the same settings as the default
/// policy (host/build.rs), so both share one set of artifacts in `<target>/wasm`.
fn build_test_component(package: &str, artifact: &str) -> Vec<u8> {
    build_component(package, artifact, None)
}

/// [`build_test_component`] with a cargo feature on, into a target dir of its own
/// (`<target>/wasm-<feature>`) so the two builds never overwrite each other's artifact.
fn build_component(package: &str, artifact: &str, feature: Option<&str>) -> Vec<u8> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join(feature.map_or_else(|| "wasm".to_owned(), |f| format!("wasm-{f}")));
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--package",
            package,
            "--target",
            "wasm32-wasip2",
        ])
        .env("CARGO_TARGET_DIR", &target_dir);
    if let Some(feature) = feature {
        command.args(["--features", feature]);
    }
    for setting in [
        "profile.release.opt-level=\"s\"",
        "profile.release.lto=true",
        "profile.release.codegen-units=1",
        "profile.release.strip=true",
        "profile.release.panic=\"abort\"",
    ] {
        command.args(["--config", setting]);
    }
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        command.env_remove(variable);
    }
    let output = command.output().expect("running cargo");
    assert!(
        output.status.success(),
        "building {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::read(
        target_dir
            .join("wasm32-wasip2")
            .join("release")
            .join(artifact),
    )
    .unwrap()
}

/// A component whose `metadata` is from an incompatible major version of the contract.
pub fn future_version_component() -> Vec<u8> {
    wat::parse_str(
        r#"(component
            (core module $m (func (export "version") (result i32) i32.const 9))
            (core instance $i (instantiate $m))
            (func $version (result u32) (canon lift (core func $i "version")))
            (instance $metadata (export "version" (func $version)))
            (export "aim:policy/metadata@9.0.0" (instance $metadata)))"#,
    )
    .unwrap()
}

/// A component exporting the right `metadata` name whose `info` returns a number, not a record.
pub fn wrong_signature_component() -> Vec<u8> {
    wat::parse_str(
        r#"(component
            (core module $m (func (export "info") (result i32) i32.const 1))
            (core instance $i (instantiate $m))
            (func $info (result u32) (canon lift (core func $i "info")))
            (instance $metadata (export "info" (func $info)))
            (export "aim:policy/metadata@0.1.0" (instance $metadata)))"#,
    )
    .unwrap()
}

/// A valid component that exports nothing at all.
pub fn empty_component() -> Vec<u8> {
    wat::parse_str("(component)").unwrap()
}

/// An observation whose subject name selects the hostile policy's behaviour.
pub fn observation(subject_name: &str) -> String {
    serde_json::json!({
        "apiVersion": "aim.silogen.ai/observation/v1",
        "service": {"metadata": {"name": subject_name, "namespace": "ml"}}
    })
    .to_string()
}

/// A minimal but complete observation of an AIMService, as the default policy reads it.
pub const SERVICE_OBSERVATION: &str = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"apiVersion":"aim.silogen.ai/v1alpha1","kind":"AIMService","metadata":{"name":"llama-chat","namespace":"ml","uid":"0b9d6a0e-6f0c-4a43-9c4e-2f1d3b8a7c55"},"spec":{"model":{"image":"ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0"}}},"runtimeConfigs":{"name":"default"}}"#;

/// A service for path rendering.
pub fn path_request() -> PathRequest {
    PathRequest {
        service_json: r#"{"metadata":{"name":"chat","namespace":"ml"}}"#.to_string(),
        path_template: None,
    }
}

pub fn subject() -> PlanSubject {
    PlanSubject::namespaced("ml")
}

pub fn rules() -> OutputRules {
    OutputRules::new("aim-system")
}
