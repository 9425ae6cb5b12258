//! Write aim-engine policies in Rust.
//!
//! A policy is a type that implements [`Policy`] (its name and version) and any of
//! [`PathsPolicy`], [`SelectionPolicy`] and [`PlannerPolicy`], exported with [`export!`]:
//!
//! ```ignore
//! use aim_policy::prelude::*;
//!
//! struct TeamPaths;
//!
//! impl Policy for TeamPaths {
//!     const NAME: &'static str = "team-paths";
//!     const VERSION: &'static str = env!("CARGO_PKG_VERSION");
//! }
//!
//! impl PathsPolicy for TeamPaths {
//!     fn render_path(request: PathRequest) -> Result<String, PolicyError> {
//!         let service = request.service()?;
//!         match service.label("example.com/team") {
//!             Some(team) => Ok(format!("/{team}/{}", service.name())),
//!             None => defaults::render_path(&request),
//!         }
//!     }
//! }
//!
//! aim_policy::export!(TeamPaths: PathsPolicy);
//! ```
//!
//! Build it with `cargo build --release --target wasm32-wasip2`. What the policy does not
//! implement, and every call it answers with [`PolicyError::Unsupported`], is decided by the
//! embedded default policy, which [`defaults`] also lets the policy ask directly.
//!
//! * [`documents`]: typed views of the JSON the host exchanges with planners (the observed
//!   service, the plan) that keep every field they do not name;
//! * [`names`]: Kubernetes-safe names and label values, as the default policy derives them;
//! * [`reject`] and [`invalid_input`]: refusals that show on the object's conditions.
//!
//! A panic shows as `PolicyTrapped` with the panic message.

pub mod documents;
pub mod names;

#[cfg(feature = "bindings")]
pub mod bindings;
#[cfg(feature = "bindings")]
pub mod defaults;
#[cfg(feature = "bindings")]
mod export;
#[cfg(feature = "bindings")]
mod policy;

#[cfg(feature = "bindings")]
pub use bindings::aim::policy::types::{
    Candidate, Overrides, PathRequest, PlanFlow, PolicyError, PolicyInterface, Rejection,
    Selection, SelectionReason, SelectionRequest, TemplateScope,
};
#[cfg(feature = "bindings")]
pub use bindings::exports::aim::policy::metadata::PolicyInfo;
pub use documents::{Event, Object, Plan, PlannedObject, ServiceObservation};
#[cfg(feature = "bindings")]
#[doc(hidden)]
pub use export::__private;
#[cfg(feature = "bindings")]
pub use policy::{
    PathRequestExt, PathsPolicy, PlannerPolicy, Policy, SelectionPolicy, invalid_input, reject,
};

/// Everything a policy usually needs, for `use aim_policy::prelude::*;`.
#[cfg(feature = "bindings")]
pub mod prelude {
    pub use crate::defaults;
    pub use crate::documents::{Event, Object, Plan, PlannedObject, ServiceObservation};
    pub use crate::names::{make_rfc1123_compliant, sanitize_label_value};
    pub use crate::{
        Candidate, Overrides, PathRequest, PathRequestExt, PathsPolicy, PlanFlow, PlannerPolicy,
        Policy, PolicyError, Selection, SelectionPolicy, SelectionReason, SelectionRequest,
        invalid_input, reject,
    };
}
