//! `aim.silogen.ai/v1alpha1`: one module per kind (or pair of namespaced/cluster kinds), plus the
//! helper types they share.

mod common;
mod model;
mod model_cache;
mod policy;
mod runtime_config;
mod service;
mod template;
mod template_cache;

pub use common::*;
pub use model::*;
pub use model_cache::*;
pub use policy::*;
pub use runtime_config::*;
pub use service::*;
pub use template::*;
pub use template_cache::*;
