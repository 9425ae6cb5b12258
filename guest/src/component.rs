//! The WebAssembly component glue: adapts the library's functions to the `aim:policy@0.1.0`
//! world. It holds no decisions of its own, so everything it calls is tested natively.

// The generated bindings implement the canonical ABI with `unsafe` code; none is written by hand.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../wit", world: "policy" });

use exports::aim::policy::metadata::{self, PolicyInfo, PolicyInterface};
use exports::aim::policy::paths::{self, PathRequest};
use exports::aim::policy::planner;
use exports::aim::policy::selection::{self, SelectionReason, SelectionRequest, TemplateScope};

use aim::policy::types::{PolicyError, Rejection};

use crate::PolicyFailure;
use crate::planner::{Flow, plan_json};
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
    fn select_template(request: SelectionRequest) -> Result<selection::Selection, PolicyError> {
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
        Ok(selection::Selection {
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

fn candidate_from_wit(candidate: selection::Candidate) -> logic::Candidate {
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
        Ok(plan_json(Flow::Service, &observation)?)
    }
    fn plan_template(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(Flow::Template, &observation)?)
    }
    fn plan_model(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(Flow::Model, &observation)?)
    }
    fn plan_template_cache(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(Flow::TemplateCache, &observation)?)
    }
    fn plan_model_cache(observation: String) -> Result<String, PolicyError> {
        Ok(plan_json(Flow::ModelCache, &observation)?)
    }
}
