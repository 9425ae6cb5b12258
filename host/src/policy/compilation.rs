//! How policies are compiled to machine code, in one place: the build script precompiles the
//! embedded default policy with these settings (it includes this file), and the runtime's engine
//! is built from them, so the artifact in the binary is what the engine that loads it would have
//! compiled. Anything that changes compiled code belongs here; how instances are allocated does
//! not (it never changes the code), and stays in [`super::engine`].
//!
//! This file uses nothing but wasmtime, because the build script compiles it too.

use wasmtime::Config;

/// The CPU features compiled policies may use on x86_64: x86-64-v2 (SSE3 to SSE4.2, POPCNT),
/// which every x86_64 server CPU since 2009 has. Fixed rather than detected, so an artifact made
/// on the build machine runs on every node; wasmtime still checks, when it loads an artifact,
/// that the CPU it runs on has each feature, and refuses the artifact otherwise.
const X86_64_BASELINE: [&str; 5] = [
    "has_sse3",
    "has_ssse3",
    "has_sse41",
    "has_sse42",
    "has_popcnt",
];

/// The compilation settings for code that runs on `target` (a Rust target triple): epoch
/// interruption for deadlines, no tables nothing reads, and the CPU-feature baseline instead of
/// the build machine's.
pub fn compilation_config(target: &str) -> wasmtime::Result<Config> {
    let mut config = Config::new();
    // An explicit target turns off inferring CPU features from the machine that compiles.
    config.target(target)?;
    config.epoch_interruption(true);
    // Wasm code offsets in trap backtraces (which only the debug log shows) and unwind tables for
    // native debuggers and profilers: a fifth of the compiled default policy, used by nothing
    // the operator does. wasmtime walks wasm frames by frame pointers, not by these.
    config.generate_address_map(false);
    config.native_unwind_info(false);
    if target.starts_with("x86_64") {
        for flag in X86_64_BASELINE {
            enable_cpu_feature(&mut config, flag);
        }
    }
    Ok(config)
}

/// Lets compiled code use one CPU feature of [`X86_64_BASELINE`].
#[allow(unsafe_code)]
fn enable_cpu_feature(config: &mut Config, flag: &str) {
    // SAFETY: wasmtime marks Cranelift flags unsafe because a wrong one can break the invariants
    // of generated code. These are only CPU-feature (ISA) flags, which choose instructions and
    // nothing else, and wasmtime checks that the CPU has every enabled one before it runs code
    // compiled with it (at engine use for code it compiles, at deserialization for artifacts).
    unsafe {
        config.cranelift_flag_enable(flag);
    }
}
