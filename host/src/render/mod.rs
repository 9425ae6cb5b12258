//! Offline rendering: what the operator would create for each AIMService, and the status it would
//! report, given objects read from files instead of a cluster. Uses the same policies, the same
//! observation documents and the same output checks as the running operator.

pub mod diff;
pub mod fixtures;
pub mod input;
pub mod output;

use aim_api::policy::plan::Plan;
use aim_api::v1alpha1::AIMService;
use kube::ResourceExt;

use crate::policy::{PlanFlow, PlanSubject, PolicyError, PolicySet};
use crate::snapshot::ClusterSnapshot;

/// The outcome of planning one service.
#[derive(Debug)]
pub struct Rendered {
    /// `namespace/name` of the service.
    pub service: String,
    /// The checked plan, or why the policy gave none.
    pub plan: Result<Plan, PolicyError>,
}

/// Plans every AIMService of the snapshot, in input order.
pub fn render(snapshot: &ClusterSnapshot, policies: &PolicySet) -> Vec<Rendered> {
    snapshot
        .services
        .iter()
        .map(|service| Rendered {
            service: display_name(service),
            plan: plan_service(snapshot, service, policies),
        })
        .collect()
}

/// Plans one service of `snapshot` with `policies`.
pub fn plan_service(
    snapshot: &ClusterSnapshot,
    service: &AIMService,
    policies: &PolicySet,
) -> Result<Plan, PolicyError> {
    let observation = snapshot.service_observation(service);
    let document =
        serde_json::to_string(&observation).map_err(|error| PolicyError::OutputInvalid {
            detail: format!("observation could not be encoded: {error}"),
        })?;
    let subject = PlanSubject {
        namespace: service.namespace(),
        work_namespace: None,
    };
    let checked = policies.plan(PlanFlow::Service, &document, &subject)?;
    serde_json::from_value(checked).map_err(|error| PolicyError::OutputInvalid {
        detail: format!("plan does not match the plan schema: {error}"),
    })
}

fn display_name(service: &AIMService) -> String {
    format!(
        "{}/{}",
        service.namespace().unwrap_or_default(),
        service.name_any()
    )
}
