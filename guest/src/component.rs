//! The WebAssembly component glue: adapts the library's functions to the `aim:policy@0.1.0`
//! world. It holds no decisions of its own, so everything it calls is tested natively.

// The generated bindings implement the canonical ABI with `unsafe` code; none is written by hand.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../wit", world: "default-policy" });

use std::sync::OnceLock;

use exports::aim::policy::metadata::{self, PolicyInfo};
use exports::aim::policy::{paths, planner, selection};

use aim::policy::custom;
use aim::policy::types::{
    Candidate, Overrides, PathRequest, PolicyError, PolicyInterface, Rejection, SelectionReason,
    SelectionRequest, TemplateScope,
};

use crate::PolicyFailure;
use crate::advisor::Advisor;
use crate::planner::{SubjectKind, plan_json};
use crate::selection as logic;

struct DefaultPolicy;

export!(DefaultPolicy);

impl From<PolicyFailure> for PolicyError {
    fn from(failure: PolicyFailure) -> Self {
        match failure {
            PolicyFailure::InvalidInput(message) => PolicyError::InvalidInput(message),
            PolicyFailure::Rejected { reason, message } => {
                PolicyError::Rejected(Rejection { reason, message })
            }
        }
    }
}

impl metadata::Guest for DefaultPolicy {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: crate::POLICY_NAME.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            implements: vec![
                PolicyInterface::Paths,
                PolicyInterface::Selection,
                PolicyInterface::Planner,
            ],
        }
    }
}

impl paths::Guest for DefaultPolicy {
    fn render_path(request: PathRequest) -> Result<String, PolicyError> {
        Ok(crate::paths::render_path_from_json(
            &request.service_json,
            request.path_template.as_deref(),
        )?)
    }
}

impl selection::Guest for DefaultPolicy {
    fn select_template(
        request: SelectionRequest,
    ) -> Result<aim::policy::types::Selection, PolicyError> {
        let candidates: Vec<logic::Candidate> = request
            .candidates
            .into_iter()
            .map(candidate_from_wit)
            .collect();
        let overrides = request.overrides.map(|o| logic::Overrides {
            metric: o.metric,
            precision: o.precision,
            gpu_model: o.gpu_model,
            gpu_count: o.gpu_count,
        });
        let chosen = logic::select_template(
            &candidates,
            &request.available_gpu_models,
            overrides.as_ref(),
        );
        let index = chosen
            .index
            .map(|i| {
                u32::try_from(i)
                    .map_err(|_| PolicyError::InvalidInput("too many candidates".to_string()))
            })
            .transpose()?;
        Ok(aim::policy::types::Selection {
            index,
            name: chosen
                .index
                .and_then(|i| candidates.get(i))
                .map(|c| c.name.clone()),
            count: u32::try_from(chosen.count).unwrap_or(u32::MAX),
            reason: match chosen.reason {
                logic::Reason::Selected => SelectionReason::Selected,
                logic::Reason::NoCandidates => SelectionReason::NoCandidates,
                logic::Reason::NoneReady => SelectionReason::NoneReady,
                logic::Reason::NoneAvailable => SelectionReason::NoneAvailable,
                logic::Reason::Ambiguous => SelectionReason::Ambiguous,
            },
        })
    }
}

fn candidate_from_wit(candidate: Candidate) -> logic::Candidate {
    logic::Candidate {
        name: candidate.name,
        namespace: candidate.namespace,
        scope: match candidate.scope {
            TemplateScope::Namespace => logic::Scope::Namespace,
            TemplateScope::Cluster => logic::Scope::Cluster,
        },
        status: candidate.status,
        metric: candidate.metric,
        precision: candidate.precision,
        gpu_model: candidate.gpu_model,
        gpu_count: candidate.gpu_count,
        derived: candidate.derived,
    }
}

impl planner::Guest for DefaultPolicy {
    fn plan_service(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(
            SubjectKind::Service,
            &observation,
            &CustomPolicy,
        )?)
    }
    fn plan_template(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(
            SubjectKind::Template,
            &observation,
            &CustomPolicy,
        )?)
    }
    fn plan_model(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(SubjectKind::Model, &observation, &CustomPolicy)?)
    }
    fn plan_template_cache(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(
            SubjectKind::TemplateCache,
            &observation,
            &CustomPolicy,
        )?)
    }
    fn plan_model_cache(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(
            SubjectKind::ModelCache,
            &observation,
            &CustomPolicy,
        )?)
    }
}

/// The interfaces the custom policy answers in this call; asked once per instance (each call
/// gets a fresh instance, so the answer is per call).
fn overridden(interface: PolicyInterface) -> bool {
    static OVERRIDDEN: OnceLock<Vec<PolicyInterface>> = OnceLock::new();
    OVERRIDDEN
        .get_or_init(custom::overridden)
        .contains(&interface)
}

impl From<PolicyError> for PolicyFailure {
    fn from(error: PolicyError) -> Self {
        match error {
            PolicyError::Rejected(rejection) => PolicyFailure::Rejected {
                reason: rejection.reason,
                message: rejection.message,
            },
            PolicyError::InvalidInput(message) => PolicyFailure::InvalidInput(message),
            // Filtered out by the callers below.
            PolicyError::Unsupported => PolicyFailure::InvalidInput("unsupported".to_string()),
        }
    }
}

/// The custom policy of the call, asked through the host's `custom` import: the component's
/// [`Advisor`].
struct CustomPolicy;

impl Advisor for CustomPolicy {
    /// The custom policy's route path, when it renders paths.
    fn render_path(
        &self,
        service: &serde_json::Value,
        template: Option<&str>,
    ) -> Option<Result<String, PolicyFailure>> {
        if !overridden(PolicyInterface::Paths) {
            return None;
        }
        let request = PathRequest {
            service_json: service.to_string(),
            path_template: template.map(str::to_owned),
        };
        match custom::render_path(&request) {
            Err(PolicyError::Unsupported) => None,
            answer => Some(answer.map_err(PolicyFailure::from)),
        }
    }

    /// The custom policy's template selection, when it selects templates.
    fn select_template(
        &self,
        candidates: &[logic::Candidate],
        available_gpu_models: &[String],
        overrides: Option<&logic::Overrides>,
    ) -> Option<Result<logic::Selection, PolicyFailure>> {
        if !overridden(PolicyInterface::Selection) {
            return None;
        }
        let request = SelectionRequest {
            candidates: candidates.iter().map(candidate_to_wit).collect(),
            available_gpu_models: available_gpu_models.to_vec(),
            overrides: overrides.map(|o| Overrides {
                metric: o.metric.clone(),
                precision: o.precision.clone(),
                gpu_model: o.gpu_model.clone(),
                gpu_count: o.gpu_count,
            }),
        };
        match custom::select_template(&request) {
            Err(PolicyError::Unsupported) => None,
            Err(error) => Some(Err(error.into())),
            Ok(chosen) => Some(Ok(logic::Selection {
                index: chosen.index.and_then(|i| usize::try_from(i).ok()),
                count: usize::try_from(chosen.count).unwrap_or(usize::MAX),
                reason: match chosen.reason {
                    SelectionReason::Selected => logic::Reason::Selected,
                    SelectionReason::NoCandidates => logic::Reason::NoCandidates,
                    SelectionReason::NoneReady => logic::Reason::NoneReady,
                    SelectionReason::NoneAvailable => logic::Reason::NoneAvailable,
                    SelectionReason::Ambiguous => logic::Reason::Ambiguous,
                },
            })),
        }
    }
}

fn candidate_to_wit(candidate: &logic::Candidate) -> Candidate {
    Candidate {
        name: candidate.name.clone(),
        namespace: candidate.namespace.clone(),
        scope: match candidate.scope {
            logic::Scope::Namespace => TemplateScope::Namespace,
            logic::Scope::Cluster => TemplateScope::Cluster,
        },
        status: candidate.status.clone(),
        metric: candidate.metric.clone(),
        precision: candidate.precision.clone(),
        gpu_model: candidate.gpu_model.clone(),
        gpu_count: candidate.gpu_count,
        derived: candidate.derived,
    }
}
