//! What a policy author sees from the `aim-engine` binary: why a policy failed and what it
//! printed, which policy decided, what it changes against the default, fixtures that cannot pass
//! by accident, and the precompile cache in `render`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{hostile_policy_wasm, team_routes_policy_wasm};

/// Runs the binary with `args`, its precompile cache in `cache` (never the user's).
fn aim_engine(cache: &Path, args: &[&str]) -> Output {
    aim_engine_with(cache, args, &[])
}

fn aim_engine_with(cache: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_aim-engine"));
    command.args(args).env("XDG_CACHE_HOME", cache);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A service the hostile policy traps on (it panics for a subject named `trap`).
const TRAPPING_SERVICE: &str = "apiVersion: aim.silogen.ai/v1alpha1
kind: AIMService
metadata: {name: trap, namespace: ml, uid: 6f1c2a9e-0000-4000-8000-0000000000f1}
spec:
  model: {image: ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0}
";

#[test]
fn a_golden_of_a_trapping_policy_holds_its_message_and_no_backtrace_even_with_rust_backtrace_set() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "hostile.wasm", hostile_policy_wasm());
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    write(&fixtures, "trap.yaml", TRAPPING_SERVICE.as_bytes());
    let fixtures = fixtures.to_str().unwrap();
    let update = aim_engine_with(
        dir.path(),
        &["policy", "test", &policy, fixtures, "--update"],
        &[("RUST_BACKTRACE", "1")],
    );
    assert!(update.status.success(), "{}", text(&update.stderr));
    let golden = std::fs::read_to_string(dir.path().join("fixtures/trap.expected.yaml")).unwrap();
    let failure = golden
        .lines()
        .find(|line| line.starts_with("# AIMService ml/trap failed"))
        .unwrap_or_else(|| panic!("no failure line in\n{golden}"));
    assert!(
        failure.contains("this policy panics on purpose"),
        "{failure}"
    );
    assert!(failure.contains("(PolicyTrapped)"), "{failure}");
    // No wasm frames or code offsets, and no host frames.
    for leak in [
        "wasm function",
        "0x",
        "backtrace",
        "aim_engine::",
        "wasmtime::",
    ] {
        assert!(!golden.contains(leak), "`{leak}` in the golden:\n{golden}");
    }
    // The golden compares equal on the next run, backtraces on or off.
    let check = aim_engine(dir.path(), &["policy", "test", &policy, fixtures]);
    assert!(check.status.success(), "{}", text(&check.stdout));
}

#[test]
fn render_shows_a_failed_services_policy_output_and_v_adds_the_wasm_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "hostile.wasm", hostile_policy_wasm());
    let input = write(dir.path(), "trap.yaml", TRAPPING_SERVICE.as_bytes());
    let render = aim_engine(dir.path(), &["render", "-f", &input, "--policy", &policy]);
    assert_eq!(render.status.code(), Some(1));
    let stderr = text(&render.stderr);
    assert!(
        stderr.contains("policy output while planning AIMService ml/trap:"),
        "{stderr}"
    );
    assert!(stderr.contains("hostile stderr:"), "{stderr}");
    assert!(stderr.contains("this policy panics on purpose"), "{stderr}");
    assert!(!stderr.contains("wasm function"), "{stderr}");
    let stdout = text(&render.stdout);
    assert!(
        stdout.contains("# AIMService ml/trap: not planned (PolicyTrapped)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("#   hostile plan-service: failed (PolicyTrapped)"),
        "{stdout}"
    );

    let verbose = aim_engine(
        dir.path(),
        &["-v", "render", "-f", &input, "--policy", &policy],
    );
    let stderr = text(&verbose.stderr);
    assert!(stderr.contains("hostile backtrace:"), "{stderr}");
}

#[test]
fn render_names_the_policy_behind_each_plan_and_uses_the_precompile_cache() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "team-routes.wasm", team_routes_policy_wasm());
    let input = repo("policies/rust-team-routes/fixtures/team-routes.yaml");
    let render = aim_engine(
        dir.path(),
        &["render", "-f", input.to_str().unwrap(), "--policy", &policy],
    );
    assert!(render.status.success(), "{}", text(&render.stderr));
    let stdout = text(&render.stdout);
    assert!(
        stdout.contains(
            "# policy: team-routes 0.1.0 (paths, planner), in front of the embedded aim-default"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("#       team-routes render-path\n"),
        "{stdout}"
    );
    let compiled = std::fs::read_dir(dir.path().join("aim-engine/policies"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".cwasm"))
        .count();
    assert_eq!(
        compiled, 1,
        "the custom policy is cached; the default one comes precompiled in the binary"
    );
}

#[test]
fn render_diff_default_shows_what_the_policy_changes() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "team-routes.wasm", team_routes_policy_wasm());
    let input = repo("policies/rust-team-routes/fixtures/team-routes.yaml");
    let diff = aim_engine(
        dir.path(),
        &[
            "render",
            "-f",
            input.to_str().unwrap(),
            "--policy",
            &policy,
            "--diff-default",
        ],
    );
    assert!(diff.status.success(), "{}", text(&diff.stderr));
    let stdout = text(&diff.stdout);
    assert!(
        stdout.contains(r#"spec.rules[0].matches[0].path.value: "/search/ranker" -> "/teams/search-quality/search/ranker""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("AIMService search/sandbox (aim-default): no change"),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 services, 2 changed by team-routes 0.1.0 (paths, planner)"),
        "{stdout}"
    );
}

#[test]
fn a_misspelt_field_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "service.yaml",
        b"apiVersion: aim.silogen.ai/v1alpha1\nkind: AIMService\nmetadata: {name: chat, namespace: ml}\nspec:\n  model: {image: x}\n  overides: {metric: latency}\n",
    );
    let render = aim_engine(dir.path(), &["render", "-f", &input]);
    assert_eq!(render.status.code(), Some(2));
    let stderr = text(&render.stderr);
    assert!(stderr.contains("(AIMService ml/chat)"), "{stderr}");
    assert!(
        stderr.contains(
            "field `spec.overides` is not part of AIMService (did you mean `overrides`?)"
        ),
        "{stderr}"
    );
}

#[test]
fn fixtures_that_would_test_nothing_fail() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "hostile.wasm", hostile_policy_wasm());
    let fixtures = dir.path().join("fixtures");
    std::fs::create_dir(&fixtures).unwrap();
    let fixtures_dir = fixtures.to_str().unwrap().to_owned();

    // A golden whose input is gone.
    write(
        &fixtures,
        "gone.expected.yaml",
        b"# AIMService ml/gone: Running\n",
    );
    let orphan = aim_engine(dir.path(), &["policy", "test", &policy, &fixtures_dir]);
    assert_eq!(orphan.status.code(), Some(1));
    assert!(
        text(&orphan.stdout).contains("FAILED  gone.expected.yaml: no input beside it"),
        "{}",
        text(&orphan.stdout)
    );
    std::fs::remove_file(fixtures.join("gone.expected.yaml")).unwrap();

    // A case with cluster state but no AIMService.
    write(
        &fixtures,
        "nodes.yaml",
        b"apiVersion: v1\nkind: Node\nmetadata: {name: gpu-node-1}\n",
    );
    let empty = aim_engine(
        dir.path(),
        &["policy", "test", &policy, &fixtures_dir, "--update"],
    );
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        text(&empty.stdout).contains("no AIMService"),
        "{}",
        text(&empty.stdout)
    );
    assert!(!fixtures.join("nodes.expected.yaml").exists());
}

#[test]
fn bench_says_which_calls_a_policy_has_and_prints_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write(dir.path(), "hostile.wasm", hostile_policy_wasm());
    let wrong = aim_engine(
        dir.path(),
        &[
            "policy",
            "bench",
            &policy,
            "--call",
            "render-path",
            "--iterations",
            "1",
        ],
    );
    assert_eq!(wrong.status.code(), Some(2));
    let stderr = text(&wrong.stderr);
    assert!(
        stderr
            .contains("hostile does not implement aim:policy/paths@0.1.0 (it implements: planner)"),
        "{stderr}"
    );

    let bench = aim_engine(
        dir.path(),
        &["policy", "bench", &policy, "--iterations", "3"],
    );
    assert!(bench.status.success(), "{}", text(&bench.stderr));
    let stdout = text(&bench.stdout);
    assert!(
        stdout.contains("call:                   plan-service"),
        "{stdout}"
    );
    assert!(
        stdout.contains("input:                  built-in sample observation: {"),
        "{stdout}"
    );
}

#[test]
fn a_new_rust_project_builds_and_passes_its_fixture_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("team-policy");
    let project_dir = project.to_str().unwrap();
    let new = aim_engine(
        dir.path(),
        &[
            "policy",
            "new",
            "--lang",
            "rust",
            "--world",
            "policy",
            project_dir,
        ],
    );
    assert!(new.status.success(), "{}", text(&new.stderr));
    // One target directory for every run, so the SDK's dependencies build once.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("scaffold");
    let build = Command::new(env!("CARGO"))
        .current_dir(&project)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build.stderr));
    assert!(
        !text(&build.stderr).contains("warning"),
        "{}",
        text(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/team_policy.wasm");
    let test = aim_engine(
        dir.path(),
        &[
            "policy",
            "test",
            wasm.to_str().unwrap(),
            project.join("fixtures").to_str().unwrap(),
        ],
    );
    assert!(test.status.success(), "{}", text(&test.stdout));
    assert!(
        text(&test.stdout).contains("ok      example"),
        "{}",
        text(&test.stdout)
    );
}
