//! Builds the default policy (`guest/`) as a `wasm32-wasip2` component and hands its path to the
//! crate as `AIM_DEFAULT_POLICY_WASM`, so the binary embeds it with `include_bytes!`; then
//! compiles it to machine code for the binary's target with the engine's own compilation settings
//! (`src/policy/compilation.rs`, included below) and hands that artifact over as
//! `AIM_DEFAULT_POLICY_CWASM`, so the operator starts without compiling anything. The component's
//! sha256, its identity, is computed here too (`AIM_DEFAULT_POLICY_SHA256`): hashing it at every
//! start would read all its pages into memory only to learn what the build already knew.
//!
//! The nested cargo uses `<target dir>/wasm` as its target directory: a directory of its own,
//! so it never waits on the lock the outer build holds, and one place for all guest artifacts.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use sha2::{Digest, Sha256};

#[path = "src/policy/compilation.rs"]
mod compilation;

const GUEST_PACKAGE: &str = "aim-policy-default";
const GUEST_ARTIFACT: &str = "aim_policy_default.wasm";
const WASM_TARGET: &str = "wasm32-wasip2";

/// Size-tuned release settings for policy components. Passed on the command line because
/// `lto` and `panic` cannot be set per package, and the host's own release profile differs.
const GUEST_PROFILE: [&str; 5] = [
    "profile.release.opt-level=\"s\"",
    "profile.release.lto=true",
    "profile.release.codegen-units=1",
    "profile.release.strip=true",
    // wasm32-wasip2 has no unwinding; saying so keeps unwind tables out of the component.
    "profile.release.panic=\"abort\"",
];

/// Variables cargo sets for this build script that would leak into, and confuse, the nested
/// build: host rustflags (e.g. `-C target-cpu=native`), clippy's wrapper, and our own target.
const LEAKING_VARIABLES: [&str; 5] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_RUSTFLAGS",
];

/// The precompiled default policy, in `OUT_DIR`.
const PRECOMPILED_ARTIFACT: &str = "aim_policy_default.cwasm";

fn main() -> ExitCode {
    match embed_default_policy() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Builds the default policy and hands the crate its component, its sha256 and its precompiled
/// artifact.
fn embed_default_policy() -> Result<(), String> {
    let wasm = build_default_policy()?;
    let component = fs::read(&wasm).map_err(|e| format!("reading {}: {e}", wasm.display()))?;
    let artifact = precompile(&component)?;
    println!("cargo:rustc-env=AIM_DEFAULT_POLICY_WASM={}", wasm.display());
    println!(
        "cargo:rustc-env=AIM_DEFAULT_POLICY_SHA256={:x}",
        Sha256::digest(&component)
    );
    println!(
        "cargo:rustc-env=AIM_DEFAULT_POLICY_CWASM={}",
        artifact.display()
    );
    Ok(())
}

/// Compiles `component` for the binary's target into `OUT_DIR`. A target this build cannot
/// compile for (the build script's wasmtime has only its own machine's code generator) gets an
/// empty artifact and a warning: that binary compiles the policy when it starts.
fn precompile(component: &[u8]) -> Result<PathBuf, String> {
    println!("cargo:rerun-if-changed=src/policy/compilation.rs");
    let target = env::var("TARGET").map_err(|e| format!("TARGET: {e}"))?;
    println!("cargo:rustc-env=AIM_ENGINE_TARGET={target}");
    let out = PathBuf::from(env::var("OUT_DIR").map_err(|e| format!("OUT_DIR: {e}"))?)
        .join(PRECOMPILED_ARTIFACT);
    let artifact = compilation::compilation_config(&target)
        .and_then(|config| wasmtime::Engine::new(&config))
        .and_then(|engine| engine.precompile_component(component))
        .unwrap_or_else(|error| {
            println!(
                "cargo:warning=the default policy could not be precompiled for {target} ({error:#}); aim-engine will compile it when it starts"
            );
            Vec::new()
        });
    fs::write(&out, artifact).map_err(|e| format!("writing {}: {e}", out.display()))?;
    Ok(out)
}

fn build_default_policy() -> Result<PathBuf, String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let workspace = manifest_dir
        .parent()
        .ok_or("host/ has no parent directory")?
        .to_path_buf();
    for watched in ["guest", "sdk", "wit", "api", "Cargo.toml", "Cargo.lock"] {
        println!(
            "cargo:rerun-if-changed={}",
            workspace.join(watched).display()
        );
    }
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    ensure_wasm_target(&rustc)?;
    let wasm_target_dir = target_dir(&workspace).join("wasm");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--package",
            GUEST_PACKAGE,
            "--target",
            WASM_TARGET,
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &wasm_target_dir);
    for setting in GUEST_PROFILE {
        command.args(["--config", setting]);
    }
    for variable in LEAKING_VARIABLES {
        command.env_remove(variable);
    }
    let output = command
        .output()
        .map_err(|e| format!("could not run cargo to build the default policy: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the default policy ({GUEST_PACKAGE} for {WASM_TARGET}) failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let wasm = wasm_target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(GUEST_ARTIFACT);
    if !wasm.is_file() {
        return Err(format!(
            "the default policy build succeeded but {} is missing",
            wasm.display()
        ));
    }
    Ok(wasm)
}

/// Makes sure the standard library for `wasm32-wasip2` is installed: when it is missing and the
/// toolchain is managed by rustup, installs it (`rustup target add`), as `rust-toolchain.toml`
/// asks; rustup does not always do that by itself (not with `RUSTUP_AUTO_INSTALL=0`, nor for a
/// toolchain that was installed before the file named the target). Fails with instructions
/// otherwise.
fn ensure_wasm_target(rustc: &str) -> Result<(), String> {
    let sysroot = sysroot(rustc)?;
    if has_wasm_target(&sysroot) {
        return Ok(());
    }
    let attempt = install_wasm_target();
    if has_wasm_target(&sysroot) {
        println!(
            "cargo:warning=installed the {WASM_TARGET} Rust target (rustup target add {WASM_TARGET}); aim-engine embeds its default policy built for it"
        );
        return Ok(());
    }
    let why = match attempt {
        Ok(()) => format!(
            "`rustup target add {WASM_TARGET}` succeeded, but {} still has no {WASM_TARGET} standard library",
            sysroot.display()
        ),
        Err(why) => why,
    };
    Err(format!(
        "the {WASM_TARGET} Rust target is not installed, and aim-engine embeds its default policy built for it.\n\
         Installing it failed: {why}\n\
         Install it with:\n\n    rustup target add {WASM_TARGET}\n\n\
         (or, without rustup, the {WASM_TARGET} standard library of your Rust distribution), then build again.\n"
    ))
}

fn sysroot(rustc: &str) -> Result<PathBuf, String> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("could not run {rustc}: {e}"))?;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

fn has_wasm_target(sysroot: &Path) -> bool {
    sysroot
        .join("lib")
        .join("rustlib")
        .join(WASM_TARGET)
        .join("lib")
        .is_dir()
}

/// `rustup target add wasm32-wasip2` for the toolchain this build runs with (rustup names it in
/// `RUSTUP_TOOLCHAIN` for everything it starts).
fn install_wasm_target() -> Result<(), String> {
    let mut command = Command::new("rustup");
    command.args(["target", "add", WASM_TARGET]);
    if let Some(toolchain) = env::var_os("RUSTUP_TOOLCHAIN").filter(|t| !t.is_empty()) {
        command.arg("--toolchain").arg(toolchain);
    }
    let output = command
        .output()
        .map_err(|e| format!("could not run rustup: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rustup target add {WASM_TARGET} failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// The outer build's target directory: `CARGO_TARGET_DIR`, else the ancestor of `OUT_DIR` that
/// cargo marked with `CACHEDIR.TAG`, else `<workspace>/target`.
fn target_dir(workspace: &Path) -> PathBuf {
    if let Some(dir) = env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace.join(dir)
        };
    }
    env::var_os("OUT_DIR")
        .map(PathBuf::from)
        .and_then(|out| {
            out.ancestors()
                .find(|a| a.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| workspace.join("target"))
}
