//! The policy runtime: one engine, one linker and one precompile cache per process, and
//! [`PolicyRuntime::load`], which turns WebAssembly bytes into a checked [`LoadedPolicy`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use super::bindings::Operator;
use super::cache::{CacheOutcome, DEFAULT_CACHE_MAX_BYTES, PrecompileCache, default_cache_dir};
use super::diagnose;
use super::digest::Digest;
use super::engine::{Allocator, DEFAULT_TICK, build_engine, start_epoch_ticker};
use super::error::PolicyError;
use super::limits::{MAX_MEMORY_BYTES, PolicyLimits};
use super::loaded::{LoadReport, LoadedPolicy};
use super::memory::MemoryPool;
use super::sandbox::CallState;
use super::waits;

/// The memory all policy calls together may use when nothing else says: as much as one call may
/// be given, the most any policy can ask for.
pub const DEFAULT_MEMORY_BUDGET: usize = MAX_MEMORY_BYTES;

/// Where compiled policies are cached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheLocation {
    /// [`default_cache_dir`].
    #[default]
    Default,
    Dir(PathBuf),
    /// Compile in memory every time.
    Disabled,
}

/// How the runtime is set up; the defaults suit the operator.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub cache: CacheLocation,
    /// Use the pooling allocator when the address space allows it.
    pub prefer_pooling: bool,
    /// Epoch tick, the resolution of call deadlines.
    pub tick: Duration,
    /// Bytes of linear memory all policy calls running at the same time may use together (the
    /// operator sizes it to its container); no one call is given more.
    pub memory_budget: usize,
    /// Bytes the precompile cache keeps at most.
    pub cache_max_bytes: u64,
    /// Write `/tmp/perf-<pid>.map`, naming every compiled policy function, so `perf report`
    /// shows where a policy's time goes (`aim-engine policy bench --perf-map`).
    pub perf_map: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            cache: CacheLocation::Default,
            prefer_pooling: true,
            tick: DEFAULT_TICK,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            perf_map: false,
        }
    }
}

impl RuntimeConfig {
    /// For a command that makes a handful of calls and exits (`render`, `policy test`, `policy
    /// diff`): without the instance pool, whose reservation (about a thousand `mprotect`s of guard
    /// pages) costs more than it saves on so few instantiations.
    pub fn one_shot(cache: CacheLocation) -> Self {
        RuntimeConfig {
            cache,
            prefer_pooling: false,
            ..RuntimeConfig::default()
        }
    }
}

/// The runtime could not start at all (as opposed to one policy failing to load).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("could not create the WebAssembly engine: {0}")]
    Engine(String),
    #[error("could not link WASI and the policy contract: {0}")]
    Link(String),
    #[error("could not start the epoch ticker thread: {0}")]
    Ticker(#[from] std::io::Error),
}

/// The process-wide WebAssembly runtime for policies.
pub struct PolicyRuntime {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<PrecompileCache>,
    allocator: Allocator,
    tick: Duration,
    memory_budget: Arc<MemoryPool>,
}

impl std::fmt::Debug for PolicyRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRuntime")
            .field("allocator", &self.allocator)
            .field("cache", &self.cache)
            .field("memory_budget", &self.memory_budget.capacity())
            .finish_non_exhaustive()
    }
}

impl PolicyRuntime {
    pub fn new(config: RuntimeConfig) -> Result<Arc<Self>, RuntimeError> {
        let (engine, allocator) = build_engine(config.prefer_pooling, config.perf_map)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        start_epoch_ticker(&engine, config.tick)?;
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .and_then(|()| waits::shadow_poll(&mut linker, CallState::waits))
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        Operator::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| RuntimeError::Link(format!("{e:#}")))?;
        let cache = match config.cache {
            CacheLocation::Disabled => None,
            CacheLocation::Default => {
                open_cache(default_cache_dir(), &engine, config.cache_max_bytes)
            }
            CacheLocation::Dir(dir) => open_cache(dir, &engine, config.cache_max_bytes),
        };
        Ok(Arc::new(PolicyRuntime {
            engine,
            linker,
            cache,
            allocator,
            tick: config.tick,
            memory_budget: MemoryPool::new(config.memory_budget),
        }))
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn allocator(&self) -> Allocator {
        self.allocator
    }

    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// Bytes all policy calls running at the same time may use together.
    pub fn memory_budget(&self) -> usize {
        self.memory_budget.capacity()
    }

    /// Bytes policy calls are using now.
    pub fn memory_in_use(&self) -> usize {
        self.memory_budget.in_use()
    }

    /// `limits` as a policy loaded by this runtime gets them: within the host's caps and the
    /// memory budget.
    pub fn clamp(&self, limits: PolicyLimits) -> PolicyLimits {
        limits.clamped_to(self.memory_budget.capacity())
    }

    pub fn cache_dir(&self) -> Option<&std::path::Path> {
        self.cache.as_ref().map(PrecompileCache::dir)
    }

    /// Compiles (or loads from the cache), links and checks a policy: it must be a component,
    /// match `expected` when pinned, export a compatible `metadata` interface whose `info` call
    /// succeeds, and export every interface it claims to implement with the expected types.
    pub fn load(
        &self,
        wasm: &[u8],
        expected: Option<&Digest>,
        limits: PolicyLimits,
    ) -> Result<LoadedPolicy, PolicyError> {
        let digest = Digest::of(wasm);
        if let Some(expected) = expected.filter(|expected| **expected != digest) {
            return Err(PolicyError::DigestMismatch {
                expected: *expected,
                actual: digest,
            });
        }
        let started = Instant::now();
        let (component, cache) = self.compile(wasm, &digest)?;
        let report = LoadReport {
            compile_time: started.elapsed(),
            cache,
        };
        self.link_and_check(component, digest, limits, report)
    }

    /// Compiles `wasm` (whose digest is `digest`), through the precompile cache when there is one.
    pub(super) fn compile(
        &self,
        wasm: &[u8],
        digest: &Digest,
    ) -> Result<(Component, Option<CacheOutcome>), PolicyError> {
        match &self.cache {
            Some(cache) => cache
                .load_or_compile(&self.engine, digest, wasm)
                .map(|(c, outcome)| (c, Some(outcome))),
            None => Component::new(&self.engine, wasm).map(|c| (c, None)),
        }
        .map_err(|e| diagnose::uncompilable(wasm, &e))
    }

    /// Links a compiled policy against WASI and the operator's imports, then checks it (see
    /// [`PolicyRuntime::load`]).
    pub(super) fn link_and_check(
        &self,
        component: Component,
        digest: Digest,
        limits: PolicyLimits,
        report: LoadReport,
    ) -> Result<LoadedPolicy, PolicyError> {
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| diagnose::unsatisfied_imports(&component, &self.engine, &e))?;
        LoadedPolicy::check(
            self.engine.clone(),
            pre,
            digest,
            self.clamp(limits),
            self.tick,
            self.memory_budget.clone(),
            report,
        )
    }
}

fn open_cache(dir: PathBuf, engine: &Engine, max_bytes: u64) -> Option<PrecompileCache> {
    match PrecompileCache::open(&dir, engine, max_bytes) {
        Ok(cache) => Some(cache),
        Err(error) => {
            tracing::warn!(dir = %dir.display(), error = %error, "policy precompile cache unavailable; compiling in memory");
            None
        }
    }
}
