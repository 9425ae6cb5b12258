//! Host bindings generated from `wit/` (the `policy` world, which includes every interface).
//! Partial policies are supported by loading each exported interface on its own, so only the
//! per-interface `GuestIndices` are used, not the world-level `Policy` struct.

wasmtime::component::bindgen!({ world: "policy", path: "../wit" });

pub use aim::policy::types::PolicyError as WitPolicyError;
pub use exports::aim::policy::metadata::{PolicyInfo, PolicyInterface};
pub use exports::aim::policy::paths::PathRequest;
pub use exports::aim::policy::selection::{
    Candidate, Overrides, Selection, SelectionReason, SelectionRequest, TemplateScope,
};
pub use exports::aim::policy::{metadata, paths, planner, selection};

/// Export names of the interfaces, as a component built against `aim:policy@0.1.x` names them.
pub const METADATA_EXPORT: &str = "aim:policy/metadata@0.1.0";
pub const PATHS_EXPORT: &str = "aim:policy/paths@0.1.0";
pub const SELECTION_EXPORT: &str = "aim:policy/selection@0.1.0";
pub const PLANNER_EXPORT: &str = "aim:policy/planner@0.1.0";

/// Policies import the type-only `types` interface; it has no functions for the host to provide.
impl aim::policy::types::Host for super::sandbox::CallState {}
