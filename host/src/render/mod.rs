//! Offline rendering: what the operator would create for each AIMService, and the status it would
//! report, given objects read from files instead of a cluster. Uses the same policies, the same
//! observation documents and the same output checks as the running operator.

pub mod diff;
pub mod fixtures;
pub mod input;
pub mod output;
mod strict;

use aim_api::policy::plan::Plan;
use aim_api::v1alpha1::AIMService;
use kube::ResourceExt;

use crate::observe::{ClusterView, Observe};
use crate::policy::{
    PlanSubject, PolicyCall, PolicyError, PolicyInterface, PolicySet, SubjectKind, interface_name,
};
use crate::snapshot::ClusterSnapshot;

/// The outcome of planning one service.
#[derive(Debug)]
pub struct Rendered {
    /// `namespace/name` of the service.
    pub service: String,
    /// The checked plan, or why the policy gave none.
    pub plan: Result<Plan, PolicyError>,
    /// The custom policy in front of the embedded default, if any.
    pub policy: Option<PolicyLabel>,
    /// Which policy answered which call, in the order the calls started.
    pub calls: Vec<PolicyCall>,
}

/// A custom policy as its metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyLabel {
    pub name: String,
    pub version: String,
    /// `paths`, `selection`, `planner`: what it implements.
    pub interfaces: Vec<&'static str>,
}

impl PolicyLabel {
    pub fn of(policies: &PolicySet) -> Option<Self> {
        let custom = policies.custom()?;
        let info = custom.info();
        let interfaces = [
            PolicyInterface::Paths,
            PolicyInterface::Selection,
            PolicyInterface::Planner,
        ]
        .into_iter()
        .filter(|interface| custom.exports(*interface))
        .map(|interface| short_interface_name(interface_name(interface)))
        .collect();
        Some(PolicyLabel {
            name: info.name.clone(),
            version: info.version.clone(),
            interfaces,
        })
    }
}

/// `paths` for `aim:policy/paths@0.1.0`.
fn short_interface_name(name: &'static str) -> &'static str {
    let name = name.split_once('/').map_or(name, |(_, rest)| rest);
    name.split_once('@')
        .map_or(name, |(interface, _)| interface)
}

/// Plans every AIMService of the snapshot, in input order.
pub fn render(snapshot: &ClusterSnapshot, policies: &PolicySet) -> Vec<Rendered> {
    snapshot
        .services
        .iter()
        .map(|service| render_service(snapshot, service, policies))
        .collect()
}

/// Plans one AIMService of the snapshot, noting which policy answered which call.
pub fn render_service(
    snapshot: &ClusterSnapshot,
    service: &AIMService,
    policies: &PolicySet,
) -> Rendered {
    let (traced, trail) = policies.traced();
    let plan = plan_service(snapshot, service, &traced);
    Rendered {
        service: display_name(service),
        plan,
        policy: PolicyLabel::of(policies),
        calls: trail.calls(),
    }
}

/// Plans one service of `view` with `policies`.
pub fn plan_service(
    view: &impl ClusterView,
    service: &AIMService,
    policies: &PolicySet,
) -> Result<Plan, PolicyError> {
    let observation = view.service_observation(service);
    let document =
        serde_json::to_string(&observation).map_err(|error| PolicyError::OutputInvalid {
            detail: format!("observation could not be encoded: {error}"),
        })?;
    let subject = PlanSubject {
        namespace: service.namespace(),
        work_namespace: None,
    };
    let checked = policies.plan(SubjectKind::Service, &document, &subject)?;
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
