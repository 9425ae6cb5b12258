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
    #[cfg(test)]
    if let Some(answer) = test_paths::answer(service, template) {
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

/// A stand-in for a custom paths policy in native tests, which have no host to ask.
#[cfg(test)]
pub mod test_paths {
    use std::cell::Cell;

    use serde_json::Value;

    use crate::PolicyFailure;

    type PathsPolicy = fn(&Value, Option<&str>) -> Option<Result<String, PolicyFailure>>;

    thread_local! {
        static POLICY: Cell<Option<PathsPolicy>> = const { Cell::new(None) };
    }

    /// Answers `render-path` with `policy` on this thread until the guard is dropped.
    pub fn install(policy: PathsPolicy) -> impl Drop {
        struct Uninstall;
        impl Drop for Uninstall {
            fn drop(&mut self) {
                POLICY.with(|p| p.set(None));
            }
        }
        POLICY.with(|p| p.set(Some(policy)));
        Uninstall
    }

    pub(super) fn answer(
        service: &Value,
        template: Option<&str>,
    ) -> Option<Result<String, PolicyFailure>> {
        POLICY
            .with(Cell::get)
            .and_then(|policy| policy(service, template))
    }
}
