//! Host bindings generated from `wit/` (the `operator` world: both import interfaces and every
//! export). Partial policies are supported by loading each exported interface on its own, so only
//! the per-interface `GuestIndices` are used, not the world-level struct.

wasmtime::component::bindgen!({
    world: "operator",
    path: "../wit",
    // Nested policy calls can fail outright; the host function then traps the caller.
    imports: { default: trappable },
});

pub use aim::policy::types::PlanFlow;
pub use aim::policy::types::PolicyError as WitPolicyError;
pub use aim::policy::types::{
    Candidate, Overrides, PathRequest, PolicyInterface, Rejection, Selection, SelectionReason,
    SelectionRequest, TemplateScope,
};
pub use aim::policy::{custom, defaults};
pub use exports::aim::policy::metadata::PolicyInfo;
pub use exports::aim::policy::{metadata, paths, planner, selection};

/// Export names of the interfaces, as a component built against `aim:policy@0.1.x` names them.
pub const METADATA_EXPORT: &str = "aim:policy/metadata@0.1.0";
pub const PATHS_EXPORT: &str = "aim:policy/paths@0.1.0";
pub const SELECTION_EXPORT: &str = "aim:policy/selection@0.1.0";
pub const PLANNER_EXPORT: &str = "aim:policy/planner@0.1.0";
