//! Sandboxed WebAssembly policies: every decision the operator delegates runs here.
//!
//! * [`PolicyRuntime`]: one wasmtime engine per process (pooling allocator with an on-demand
//!   fallback, epoch deadlines), the deny-all WASI linker and the precompile cache.
//! * [`LoadedPolicy`]: a checked policy; each call gets a fresh store with its own deadline and
//!   memory limit, within one memory budget for all calls of the process; every wait it makes
//!   through WASI ends at its deadline; failures come back as typed [`PolicyError`]s.
//! * [`PolicySet`] / [`PolicyRegistry`]: the custom policy in front of the embedded default,
//!   swapped atomically on reload; every plan passes [`checks`] before the host applies it.
//! * [`PolicyEngine`]: the default policy as wasm (always, in production) or compiled natively,
//!   to measure what the sandbox costs.
//!
//! Calls block the calling thread (for at most the policy's deadline); async callers run them
//! with `tokio::task::spawn_blocking`.

pub mod bench;
mod bindings;
mod bounds;
mod cache;
mod call;
pub mod checks;
mod compilation;
mod delegation;
mod diagnose;
mod digest;
mod embedded;
mod engine;
mod error;
mod imports;
mod limits;
mod loaded;
mod memory;
mod native;
mod output;
mod registry;
mod reply;
mod runtime;
mod sandbox;
mod set;
mod subject_kind;
mod trail;
mod waits;

pub use bindings::{
    Candidate, Overrides, PathRequest, PolicyInfo, PolicyInterface, Selection, SelectionReason,
    SelectionRequest, TemplateScope,
};
pub use cache::{CacheOutcome, DEFAULT_CACHE_MAX_BYTES, default_cache_dir};
pub use checks::{AccountPattern, OutputRules, PlanSubject, PodRules};
pub use delegation::Delegation;
pub use digest::{Digest, DigestParseError};
pub use embedded::{DEFAULT_POLICY_WASM, load_default_policy};
pub use engine::{Allocator, DEFAULT_TICK};
pub use error::PolicyError;
pub use limits::{
    DEFAULT_DEADLINE, DEFAULT_MEMORY_BYTES, MAX_DEADLINE, MAX_MEMORY_BYTES, PolicyLimits,
};
pub use loaded::{LoadReport, LoadedPolicy, interface_name};
pub use native::PolicyEngine;
pub use registry::{PolicyRegistry, PolicySource, ReloadFailure};
pub use reply::Reply;
pub use runtime::{
    CacheLocation, DEFAULT_MEMORY_BUDGET, PolicyRuntime, RuntimeConfig, RuntimeError,
};
pub use set::PolicySet;
pub use subject_kind::SubjectKind;
pub use trail::{CallOutcome, PolicyCall, Trail};
