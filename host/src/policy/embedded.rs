//! The default policy, compiled from `guest/` by the build script and embedded in the binary.

use std::sync::Arc;

use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::loaded::LoadedPolicy;
use super::runtime::PolicyRuntime;

/// The default policy component's bytes.
pub const DEFAULT_POLICY_WASM: &[u8] = include_bytes!(env!("AIM_DEFAULT_POLICY_WASM"));

/// Loads the embedded default policy with default limits.
pub fn load_default_policy(runtime: &PolicyRuntime) -> Result<Arc<LoadedPolicy>, PolicyError> {
    runtime
        .load(DEFAULT_POLICY_WASM, None, PolicyLimits::default())
        .map(Arc::new)
}
