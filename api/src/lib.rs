//! The shared vocabulary of aim-engine: the `aim.silogen.ai/v1alpha1` custom resources, the
//! condition types and reasons they report, and the third-party objects the operator creates.
//!
//! This crate only derives; it holds no client, so the default policy can compile it to
//! `wasm32-wasip2` and make its decisions with exactly the types the host applies.
#![forbid(unsafe_code)]
// kube-derive takes repeated `printcolumn` and `category` attributes by design.
#![allow(clippy::duplicated_attributes)]

pub mod conditions;
pub mod crds;
pub mod kserve;
pub mod policy;
pub mod v1alpha1;

/// The API group of every AIM kind.
pub const GROUP: &str = "aim.silogen.ai";
/// The only served version.
pub const VERSION: &str = "v1alpha1";
/// `group/version`, as written in `apiVersion`.
pub const API_VERSION: &str = "aim.silogen.ai/v1alpha1";
