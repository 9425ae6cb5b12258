//! The embedded default policy compiled into the binary and called directly, outside the
//! sandbox (`aim-engine run --policy-engine native`). It exists to measure what the sandbox
//! costs: the same planner code, the same checks on its plans, no wasm. Errors map as the
//! component's do, and a panic, which would trap in wasm, is caught and reported as a trap.
//!
//! Compiled in only with the `native-policy` feature; a binary without it refuses
//! `--policy-engine native` when it starts.

use super::error::PolicyError;
use super::subject_kind::SubjectKind;

/// How the embedded default policy runs (`aim-engine run --policy-engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PolicyEngine {
    /// The WebAssembly component in the sandbox, as in production.
    #[default]
    Wasm,
    /// The same code compiled natively, without the sandbox; AIMPolicies are ignored.
    Native,
}

impl PolicyEngine {
    /// Whether this binary can plan with the engine.
    pub fn is_built_in(self) -> bool {
        self == PolicyEngine::Wasm || cfg!(feature = "native-policy")
    }
}

/// Plans `flow` with the natively compiled default policy; the plan is unchecked.
#[cfg(feature = "native-policy")]
pub(super) fn plan(flow: SubjectKind, observation: &str) -> Result<String, PolicyError> {
    use aim_policy_default::PolicyFailure;
    use aim_policy_default::advisor::NoAdvice;
    use aim_policy_default::planner::{self, plan_json};

    let kind = match flow {
        SubjectKind::Service => planner::SubjectKind::Service,
        SubjectKind::Template => planner::SubjectKind::Template,
        SubjectKind::Model => planner::SubjectKind::Model,
        SubjectKind::TemplateCache => planner::SubjectKind::TemplateCache,
        SubjectKind::ModelCache => planner::SubjectKind::ModelCache,
    };
    // Natively there is no custom policy to ask.
    match std::panic::catch_unwind(|| plan_json(kind, observation, &NoAdvice)) {
        Ok(Ok(plan)) => Ok(plan),
        Ok(Err(PolicyFailure::InvalidInput(detail))) => Err(PolicyError::InvalidInput { detail }),
        Ok(Err(PolicyFailure::Rejected { reason, message })) => {
            Err(PolicyError::Rejected { reason, message })
        }
        Err(_) => Err(PolicyError::Trapped {
            detail: "the natively compiled default policy panicked".to_owned(),
        }),
    }
}

/// Without the `native-policy` feature there is nothing to call; `aim-engine run` refuses the
/// engine before any plan is asked for.
#[cfg(not(feature = "native-policy"))]
pub(super) fn plan(_: SubjectKind, _: &str) -> Result<String, PolicyError> {
    Err(PolicyError::Trapped {
        detail: "this aim-engine was built without the native-policy feature".to_owned(),
    })
}

#[cfg(all(test, feature = "native-policy"))]
mod tests {
    use super::*;

    #[test]
    fn an_observation_of_another_version_is_invalid_input_as_in_wasm() {
        let error = plan(SubjectKind::Service, r#"{"apiVersion":"v0"}"#);
        assert!(
            matches!(error, Err(PolicyError::InvalidInput { .. })),
            "{error:?}"
        );
    }
}
