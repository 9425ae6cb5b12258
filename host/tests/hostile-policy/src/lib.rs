//! A policy that misbehaves on purpose, to prove the host contains it. Its planner picks a
//! behaviour from the subject's name in the observation (`service.metadata.name`); see
//! [`behaviour::plan`]. It implements only the `planner-policy` world, so it also exercises the
//! fallback to the default policy for paths and selection.

//!
//! Built with the `sleep-in-info` feature, its `metadata.info` sleeps for an hour instead of
//! answering, which is what the operator meets when it loads such a policy.

pub mod behaviour;

#[cfg(target_arch = "wasm32")]
mod component;

/// Polls a `subscribe-duration` of the longest duration WASI can express, through `wasi:io/poll`.
#[cfg(target_arch = "wasm32")]
pub fn wait_forever() {
    let pollable = wasip2::clocks::monotonic_clock::subscribe_duration(u64::MAX);
    wasip2::io::poll::poll(&[&pollable]);
}

/// Outside WebAssembly there is nothing to wait on; the behaviour only exists in the component.
#[cfg(not(target_arch = "wasm32"))]
pub fn wait_forever() {}
