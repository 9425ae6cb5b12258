//! The embedded default policy's answers, for a policy to adjust or fall back to. Each call runs
//! the default policy in its own sandbox; a refusal of the default comes back as its
//! [`PolicyError`], which a policy usually returns as it is (`?`).

use crate::bindings::aim::policy::defaults as wit;
use crate::documents::{Plan, ServiceObservation};
use crate::{PathRequest, PlanFlow, PolicyError, Selection, SelectionRequest, invalid_input};

/// The default route path: the path template if there is one, else `/<namespace>/<name>`.
pub fn render_path(request: &PathRequest) -> Result<String, PolicyError> {
    wit::render_path(request)
}

/// The default template selection: the best Ready candidate for the cluster's GPUs.
pub fn select_template(request: &SelectionRequest) -> Result<Selection, PolicyError> {
    wit::select_template(request)
}

/// The default plan document for any flow, as JSON.
pub fn plan(flow: PlanFlow, observation: &str) -> Result<String, PolicyError> {
    wit::plan(flow, observation)
}

/// The default plan for an AIMService, typed.
pub fn plan_service(observation: &ServiceObservation) -> Result<Plan, PolicyError> {
    let plan = wit::plan(PlanFlow::Service, observation.text())?;
    serde_json::from_str(&plan)
        .map_err(|error| invalid_input(format!("the default plan could not be read: {error}")))
}
