//! The custom policy's say in the default plans. A custom policy that exports only `paths` or
//! `selection` shapes the default plans through an [`Advisor`]: planning asks it first and decides
//! itself when it gets no answer. Planning receives the advisor as a parameter, so it never reaches
//! for the WebAssembly glue: the component passes one that asks the host's `custom` import, native
//! callers (the `native` policy engine, `bench-plan`) pass [`NoAdvice`], and tests pass their own.

use serde_json::Value;

use crate::PolicyFailure;
use crate::selection::{Candidate, Overrides, Selection};

/// What a custom policy answers for the decisions it may take over. `None` means it has no say
/// (it does not export that interface), and the default policy decides.
pub trait Advisor {
    /// The route path for `service` rendered from `template`.
    fn render_path(
        &self,
        service: &Value,
        template: Option<&str>,
    ) -> Option<Result<String, PolicyFailure>> {
        let _ = (service, template);
        None
    }

    /// The template among `candidates` for a service with `overrides`.
    fn select_template(
        &self,
        candidates: &[Candidate],
        available_gpu_models: &[String],
        overrides: Option<&Overrides>,
    ) -> Option<Result<Selection, PolicyFailure>> {
        let _ = (candidates, available_gpu_models, overrides);
        None
    }
}

/// No custom policy: the default policy decides everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAdvice;

impl Advisor for NoAdvice {}

/// The route path for `service`: the advisor's, else [`crate::paths::render_path`].
pub fn render_path(
    advisor: &dyn Advisor,
    service: &Value,
    template: Option<&str>,
) -> Result<String, PolicyFailure> {
    advisor
        .render_path(service, template)
        .unwrap_or_else(|| crate::paths::render_path(service, template))
}

/// The template selection: the advisor's, else [`crate::selection::select_template`].
pub fn select_template(
    advisor: &dyn Advisor,
    candidates: &[Candidate],
    available_gpu_models: &[String],
    overrides: Option<&Overrides>,
) -> Result<Selection, PolicyFailure> {
    advisor
        .select_template(candidates, available_gpu_models, overrides)
        .unwrap_or_else(|| {
            Ok(crate::selection::select_template(
                candidates,
                available_gpu_models,
                overrides,
            ))
        })
}
