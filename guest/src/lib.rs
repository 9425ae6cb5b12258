//! The default AIM policy. Every decision the operator delegates (route paths, template selection,
//! plans) is a plain function here, tested natively; [`component`] only adapts them to the
//! `aim:policy@0.1.0` WIT contract when compiled to WebAssembly.

pub mod advisor;
pub mod cluster_gpus;
pub mod conditions;
pub mod flows;
pub mod gpu;
pub mod hash;
/// Kubernetes-safe names and label values, shared with custom policies through the SDK.
pub use aim_policy::names;
pub mod paths;
pub mod planner;
pub mod pod_security;
pub mod quantity;
pub mod resource_names;
pub mod runtime_config;
pub mod selection;
pub mod service;
pub mod template_profile;

#[cfg(target_arch = "wasm32")]
mod component;

/// The name the default policy reports in its metadata.
pub const POLICY_NAME: &str = "aim-default";

/// Why a policy function gave no answer; mirrors the WIT `policy-error` variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyFailure {
    /// The input could not be understood.
    InvalidInput(String),
    /// The input was understood and refused, with a condition reason and a message.
    Rejected { reason: String, message: String },
}
