//! A policy that misbehaves on purpose, to prove the host contains it. Its planner picks a
//! behaviour from the subject's name in the observation (`service.metadata.name`); see
//! [`behaviour::plan`]. It implements only the `planner-policy` world, so it also exercises the
//! fallback to the default policy for paths and selection.

pub mod behaviour;

#[cfg(target_arch = "wasm32")]
mod component;
