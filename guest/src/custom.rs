//! The custom policy's say in the default plans. A custom policy that exports only `paths` or
//! `selection` shapes the default plans through here: the default planner asks it first (through
//! the host's `custom` import) and decides itself when it gets no answer. Natively (unit tests,
//! `bench-plan`) there is never a custom policy.

use serde_json::Value;

use crate::PolicyFailure;
use crate::selection::{Candidate, Overrides, Selection};

/// The route path for `service`: the custom policy's, else [`crate::paths::render_path`].
pub fn render_path(service: &Value, template: Option<&str>) -> Result<String, PolicyFailure> {
    #[cfg(target_arch = "wasm32")]
    if let Some(answer) = crate::component::custom_render_path(service, template) {
        return answer;
    }
    crate::paths::render_path(service, template)
}

/// The template selection: the custom policy's, else [`crate::selection::select_template`].
pub fn select_template(
    candidates: &[Candidate],
    available_gpu_models: &[String],
    overrides: Option<&Overrides>,
) -> Result<Selection, PolicyFailure> {
    #[cfg(target_arch = "wasm32")]
    if let Some(answer) =
        crate::component::custom_select_template(candidates, available_gpu_models, overrides)
    {
        return answer;
    }
    Ok(crate::selection::select_template(
        candidates,
        available_gpu_models,
        overrides,
    ))
}
