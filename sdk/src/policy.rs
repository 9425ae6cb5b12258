//! The traits a policy implements, one per interface of the contract, and the refusals it returns.

use crate::documents::{Object, Plan, ServiceObservation};
use crate::{PathRequest, PolicyError, Rejection, Selection, SelectionRequest};

/// What every policy is: a name and a version, reported to the host when it loads the policy
/// and printed by `aim-engine render` under every plan it took part in.
pub trait Policy {
    /// A short name, e.g. `team-paths`.
    const NAME: &'static str;
    /// The policy's own version, e.g. `env!("CARGO_PKG_VERSION")`.
    const VERSION: &'static str;
}

/// Route paths (`aim:policy/paths`).
pub trait PathsPolicy: Policy {
    /// The route path of the service in `request`, e.g. `/ml-team/llama-chat`. `request.path_template`
    /// is the template the service (or its runtime config) sets, if any. Answer
    /// `defaults::render_path(&request)` to keep the default path, or [`reject`] to refuse: the
    /// service's `RoutingReady` condition then shows your reason.
    fn render_path(request: PathRequest) -> Result<String, PolicyError>;
}

/// Template selection (`aim:policy/selection`).
pub trait SelectionPolicy: Policy {
    /// Which of `request.candidates` the service runs with when it names no template. Answer
    /// `defaults::select_template(&request)` to leave a case to the default policy.
    fn select_template(request: SelectionRequest) -> Result<Selection, PolicyError>;
}

/// Planning (`aim:policy/planner`). Every method has a default: [`PlannerPolicy::plan_service`]
/// returns the default policy's plan, the others answer `unsupported`, which leaves them to the
/// default policy. Override what you change.
pub trait PlannerPolicy: Policy {
    /// The plan for an AIMService: objects to apply, the status, Events. Usually
    /// `observation.default_plan()?` adjusted.
    fn plan_service(observation: ServiceObservation) -> Result<Plan, PolicyError> {
        observation.default_plan()
    }

    /// The plan for an AIMServiceTemplate or AIMClusterServiceTemplate (observation JSON in, plan
    /// JSON out).
    fn plan_template(_observation: &str) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }

    /// The plan for an AIMModel or AIMClusterModel.
    fn plan_model(_observation: &str) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }

    /// The plan for an AIMTemplateCache.
    fn plan_template_cache(_observation: &str) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }

    /// The plan for an AIMModelCache.
    fn plan_model_cache(_observation: &str) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
}

/// A refusal with a CamelCase condition `reason` (e.g. `NoTeam`) and a sentence for humans; the
/// object's conditions and Events show both as given.
pub fn reject(reason: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError::Rejected(Rejection {
        reason: reason.into(),
        message: message.into(),
    })
}

/// The input could not be understood (shown as `PolicyInvalidInput`).
pub fn invalid_input(message: impl Into<String>) -> PolicyError {
    PolicyError::InvalidInput(message.into())
}

/// Typed access to a [`PathRequest`].
pub trait PathRequestExt {
    /// The AIMService the path is for.
    fn service(&self) -> Result<Object, PolicyError>;
}

impl PathRequestExt for PathRequest {
    fn service(&self) -> Result<Object, PolicyError> {
        serde_json::from_str(&self.service_json)
            .map_err(|error| invalid_input(format!("the service is not an object: {error}")))
    }
}

impl ServiceObservation {
    /// What the embedded default policy plans for the same observation (it uses this policy's
    /// paths and selection, if it implements them).
    pub fn default_plan(&self) -> Result<Plan, PolicyError> {
        crate::defaults::plan_service(self)
    }
}
