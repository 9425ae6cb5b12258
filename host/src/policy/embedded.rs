//! The default policy, built from `guest/` by the build script and embedded in the binary twice:
//! as its WebAssembly component (its identity, and what is compiled when nothing else fits) and
//! as machine code precompiled at build time for the binary's target with the engine's own
//! compilation settings ([`super::compilation`]), so starting the operator compiles nothing.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Engine;
use wasmtime::component::Component;

use super::cache::CacheOutcome;
use super::digest::{Digest, DigestParseError};
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::loaded::{LoadReport, LoadedPolicy};
use super::runtime::PolicyRuntime;

/// The default policy component's bytes.
pub const DEFAULT_POLICY_WASM: &[u8] = include_bytes!(env!("AIM_DEFAULT_POLICY_WASM"));

/// The sha256 of [`DEFAULT_POLICY_WASM`], computed by the build script, so a start does not read
/// the component's pages only to hash them.
const DEFAULT_POLICY_SHA256: &str = env!("AIM_DEFAULT_POLICY_SHA256");

/// [`DEFAULT_POLICY_WASM`] compiled by the build script; empty when the build could not compile
/// for this target.
const DEFAULT_POLICY_PRECOMPILED: &[u8] = include_bytes!(env!("AIM_DEFAULT_POLICY_CWASM"));

/// Loads the embedded default policy with default limits, from its precompiled artifact when
/// the engine accepts it.
pub fn load_default_policy(runtime: &PolicyRuntime) -> Result<Arc<LoadedPolicy>, PolicyError> {
    let digest = DEFAULT_POLICY_SHA256
        .parse()
        .map_err(|error: DigestParseError| PolicyError::InvalidComponent {
            detail: format!("the embedded default policy's digest: {error}"),
        })?;
    let policy = load_precompiled(
        runtime,
        DEFAULT_POLICY_WASM,
        digest,
        DEFAULT_POLICY_PRECOMPILED,
    )?;
    if policy.load_report().cache == Some(CacheOutcome::Embedded) {
        release_pages(DEFAULT_POLICY_PRECOMPILED);
    }
    Ok(Arc::new(policy))
}

/// Drops this executable's pages of `artifact` from memory once wasmtime has copied it into the
/// memory it runs from: otherwise the 7-8 MB are resident twice for the life of the process
/// (docs/BENCHMARKS.md). They are clean pages of the executable's file, so anything that reads
/// them again gets them back from the file, unchanged.
#[allow(unsafe_code)]
fn release_pages(artifact: &'static [u8]) {
    let page = rustix::param::page_size();
    let start = (artifact.as_ptr() as usize).next_multiple_of(page);
    let end = (artifact.as_ptr() as usize + artifact.len()) / page * page;
    if end <= start {
        return;
    }
    // SAFETY: the whole pages in [start, end) lie inside `artifact`, read-only data of this
    // executable, mapped privately from its file and never written. MADV_DONTNEED on such
    // pages only takes them out of memory; the next read faults them in again from the file
    // with the same bytes, so no reference into `artifact` ever sees anything else.
    let released = unsafe {
        rustix::mm::madvise(
            start as *mut std::ffi::c_void,
            end - start,
            rustix::mm::Advice::LinuxDontNeed,
        )
    };
    if let Err(error) = released {
        tracing::debug!(%error, "the precompiled default policy's pages stay resident");
    }
}

/// Loads `wasm` (whose sha256 is `digest`) from `artifact`, its compiled form, when wasmtime finds
/// the artifact compatible with the runtime's engine (wasmtime version, compilation settings, CPU
/// features of this machine); otherwise says why, once, and compiles `wasm` as any policy is
/// compiled.
fn load_precompiled(
    runtime: &PolicyRuntime,
    wasm: &[u8],
    digest: Digest,
    artifact: &[u8],
) -> Result<LoadedPolicy, PolicyError> {
    let started = Instant::now();
    let (component, cache) = match deserialize_embedded(runtime.engine(), artifact) {
        Ok(component) => (component, Some(CacheOutcome::Embedded)),
        Err(why) => {
            tracing::warn!(
                reason = %why,
                "the default policy precompiled into this binary does not fit this engine; compiling it"
            );
            runtime.compile(wasm, &digest)?
        }
    };
    let report = LoadReport {
        compile_time: started.elapsed(),
        cache,
    };
    runtime.link_and_check(component, digest, PolicyLimits::default(), report)
}

/// The component in `artifact`, an artifact of the build script's, if wasmtime accepts it.
#[allow(unsafe_code)]
fn deserialize_embedded(engine: &Engine, artifact: &[u8]) -> Result<Component, String> {
    if artifact.is_empty() {
        return Err("this binary was built without it".to_owned());
    }
    if Engine::detect_precompiled(artifact).is_none() {
        return Err("it is not a wasmtime artifact".to_owned());
    }
    // SAFETY: wasmtime requires bytes made by `Engine::precompile_component` (or
    // `Component::serialize`). The only artifacts passed here are the one the build script made
    // with `precompile_component` and compiled into this binary's read-only data, which nothing
    // can change; and, in tests, artifacts made the same way in the test. wasmtime itself
    // refuses, with an error, an artifact of another wasmtime version, of other compilation
    // settings or needing CPU features this machine lacks.
    unsafe { Component::deserialize(engine, artifact) }.map_err(|error| format!("{error:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::compilation::compilation_config;
    use crate::policy::engine::TARGET;
    use crate::policy::runtime::{CacheLocation, RuntimeConfig};

    fn runtime() -> Arc<PolicyRuntime> {
        PolicyRuntime::new(RuntimeConfig {
            cache: CacheLocation::Disabled,
            ..RuntimeConfig::default()
        })
        .expect("the runtime starts")
    }

    #[test]
    fn the_embedded_default_policy_loads_without_compiling() {
        assert!(
            !DEFAULT_POLICY_PRECOMPILED.is_empty(),
            "the build precompiled the default policy for {TARGET}"
        );
        let policy = load_default_policy(&runtime()).expect("the default policy loads");
        assert_eq!(policy.load_report().cache, Some(CacheOutcome::Embedded));
        assert_eq!(*policy.digest(), Digest::of(DEFAULT_POLICY_WASM));
    }

    /// Collects what is logged while `body` runs.
    fn logged<T>(body: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut lines) = self.0.lock() {
                    lines.extend_from_slice(bytes);
                }
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let result = tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8_lossy(&lines.0.lock().expect("not poisoned")).into_owned();
        (result, text)
    }

    #[test]
    fn an_artifact_of_other_compilation_settings_is_refused_and_the_policy_compiled() {
        // Without epoch interruption the code has no deadline checks: the engine must not run it.
        let mut other = compilation_config(TARGET).expect("the target is known");
        other.epoch_interruption(false);
        let foreign = Engine::new(&other)
            .and_then(|engine| engine.precompile_component(DEFAULT_POLICY_WASM))
            .expect("the default policy compiles");
        let runtime = runtime();
        let (policy, log) = logged(|| {
            load_precompiled(
                &runtime,
                DEFAULT_POLICY_WASM,
                Digest::of(DEFAULT_POLICY_WASM),
                &foreign,
            )
        });
        let policy = policy.expect("the default policy loads by compiling");
        assert_eq!(policy.load_report().cache, None, "compiled in memory");
        assert!(
            log.contains("does not fit this engine; compiling it") && log.contains("epoch"),
            "{log}"
        );
    }

    #[test]
    fn a_binary_without_the_artifact_compiles_the_policy() {
        let runtime = runtime();
        let (policy, log) = logged(|| {
            load_precompiled(
                &runtime,
                DEFAULT_POLICY_WASM,
                Digest::of(DEFAULT_POLICY_WASM),
                &[],
            )
        });
        assert_eq!(
            policy
                .expect("the default policy loads")
                .load_report()
                .cache,
            None
        );
        assert!(log.contains("built without it"), "{log}");
    }
}
