//! The AIMService flow: from what the host observed to the objects to apply and the status to
//! report. [`plan_service`] reads as the steps of a reconcile; each step lives in its own module.

mod facts;
mod freshness;
mod model;
mod objects;
pub mod resources;
mod route_plan;
mod routing;
mod runtime;
mod runtime_plan;
mod status;
mod template;
#[cfg(test)]
mod tests;

use aim_api::conditions::{AIMServiceStatusEnum, finalizers, labels, types};
use aim_api::policy::observation::ServiceObservation;
use aim_api::policy::plan::{EventType, ObjectReference, Owner, Plan, PlannedEvent, PlannedObject};
use aim_api::v1alpha1::AIMCacheStatus;
use serde_json::Value;

use self::facts::{ServiceFacts, ServiceSubject, observe, subject};
use self::model::ModelResolution;
use self::route_plan::{RoutePlan, RouteReport};
use self::runtime::RuntimeState;
use self::runtime_plan::{RuntimeObjects, RuntimePlan, RuntimeReport};
use self::status::StatusInputs;
use crate::PolicyFailure;
use crate::advisor::Advisor;
use crate::flows::support::{new_plan, to_json};
use crate::names::sanitize_label_value;

/// How often a service that is not Running is looked at again, since not every change it waits
/// for (pods, gateways) is watched.
const REQUEUE_WHILE_NOT_RUNNING_SECONDS: u32 = 30;

/// Plans one AIMService; `advisor` is the custom policy's say in its path and template.
pub fn plan_service(
    observation: &ServiceObservation,
    advisor: &dyn Advisor,
) -> Result<Plan, PolicyFailure> {
    let subject = subject(observation)?;
    if subject.is_deleting() {
        return Ok(finalize(observation, &subject));
    }
    let facts = observe(observation, &subject, advisor)?;
    let RoutePlan {
        route,
        stale,
        report: routing,
    } = route_plan::decide(observation, &subject, &facts, advisor);
    let runtime = match facts.found_template() {
        Some(template) => runtime_plan::decide(observation, &subject, &facts, template, route),
        None => RuntimePlan::nothing(&subject),
    };
    let observed_isvc = observation
        .inference_services
        .iter()
        .find(|i| i.metadata.name.as_deref() == Some(facts.isvc_name.as_str()));
    let runtime_state = runtime::observe(observed_isvc, runtime.objects.inference_service_hash());
    let inputs = status_inputs(&subject, &facts, routing, runtime.report, runtime_state);
    let (projected, status) = status::project(&inputs)?;

    let mut plan = new_plan();
    plan.finalizers = vec![finalizers::SERVICE_CACHE_CLEANUP.to_owned()];
    plan.apply = planned_objects(&facts, runtime.objects)?;
    plan.delete = stale;
    plan.events = transition_events(
        subject.service.status.as_ref().map(|s| s.status),
        projected.status,
        &status,
    );
    if projected.status != AIMServiceStatusEnum::Running {
        plan.requeue_after_seconds = Some(REQUEUE_WHILE_NOT_RUNNING_SECONDS);
    }
    plan.status = Some(status);
    Ok(plan)
}

/// What the status is projected from: the facts, routing, and the runtime as planned and observed.
fn status_inputs<'a>(
    subject: &ServiceSubject<'a>,
    facts: &'a ServiceFacts,
    routing: RouteReport,
    runtime_report: RuntimeReport,
    runtime: RuntimeState,
) -> StatusInputs<'a> {
    StatusInputs {
        generation: subject.service.metadata.generation,
        previous: subject
            .service
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default(),
        model: &facts.model,
        model_detail: facts.model_detail.clone(),
        template: &facts.template,
        template_model_missing: facts.template_model_missing.clone(),
        template_gpu_missing: facts.template_gpu_missing.clone(),
        runtime_config: facts
            .runtime_config
            .as_ref()
            .map(|c| c.reference.clone())
            .map_err(|missing| missing.message()),
        routing: routing.state.settle(runtime == RuntimeState::Ready),
        path: routing.path,
        cache: runtime_report.cache,
        resolved_template_cache: runtime_report.resolved_template_cache,
        model_caches: runtime_report.model_caches,
        runtime,
        storage_problem: runtime_report.storage_problem,
        image_pull_error: facts.image_pull_error.clone(),
        unschedulable: facts.unschedulable.clone(),
    }
}

/// The objects to apply, in order: the model the service creates, its derived template (both
/// unowned: they outlive the service), then what its runtime needs.
fn planned_objects(
    facts: &ServiceFacts,
    runtime: RuntimeObjects,
) -> Result<Vec<PlannedObject>, PolicyFailure> {
    let unowned = |object: &Value| PlannedObject {
        object: object.clone(),
        owner: Owner::None,
    };
    let mut planned = Vec::new();
    if let ModelResolution::Creating { object, .. } = &facts.model {
        planned.push(unowned(object));
    }
    if let Some(object) = &facts.derived_template {
        planned.push(unowned(object));
    }
    let RuntimeObjects {
        template_cache,
        temporary_volume,
        inference_service,
        route,
    } = runtime;
    if let Some((cache, owner)) = template_cache {
        planned.push(PlannedObject {
            object: to_json(&cache)?,
            owner,
        });
    }
    let owned = [
        temporary_volume.as_ref().map(to_json),
        inference_service.as_ref().map(to_json),
        route.as_ref().map(to_json),
    ];
    for object in owned.into_iter().flatten() {
        planned.push(PlannedObject {
            object: object?,
            owner: Owner::Subject,
        });
    }
    Ok(planned)
}

/// An Event only where a person would want one: a Warning when the service becomes Failed or
/// Degraded, and a Normal one when it is Running again after that. Routine progress (Pending,
/// Starting, the first Running) is on the status alone, so a healthy rollout records nothing.
/// Either carries the reason and message of the Ready condition.
fn transition_events(
    previous: Option<AIMServiceStatusEnum>,
    now: AIMServiceStatusEnum,
    status: &Value,
) -> Vec<PlannedEvent> {
    let troubled = |state| {
        matches!(
            state,
            Some(AIMServiceStatusEnum::Failed | AIMServiceStatusEnum::Degraded)
        )
    };
    let type_ = match now {
        _ if previous == Some(now) => return Vec::new(),
        AIMServiceStatusEnum::Failed | AIMServiceStatusEnum::Degraded => EventType::Warning,
        AIMServiceStatusEnum::Running if troubled(previous) => EventType::Normal,
        _ => return Vec::new(),
    };
    let ready = status["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == types::READY));
    let field = |key: &str| {
        ready
            .and_then(|c| c[key].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let state = template::enum_text(&now);
    vec![PlannedEvent {
        type_,
        reason: field("reason"),
        message: format!("Service is {state}: {}", field("message")),
    }]
}

/// On deletion: delete the service's template caches that are not Available (Available ones are
/// kept for reuse), then let the finalizer go.
fn finalize(observation: &ServiceObservation, subject: &ServiceSubject<'_>) -> Plan {
    let label = sanitize_label_value(subject.name);
    let delete = observation
        .template_caches
        .iter()
        .filter(|c| {
            c.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::SERVICE_NAME))
                == Some(&label)
        })
        .filter(|c| c.status.as_ref().map(|s| s.status) != Some(AIMCacheStatus::Available))
        .map(|c| ObjectReference {
            api_version: aim_api::API_VERSION.to_owned(),
            kind: "AIMTemplateCache".to_owned(),
            name: c.metadata.name.clone().unwrap_or_default(),
            namespace: c.metadata.namespace.clone(),
        })
        .collect();
    Plan {
        delete,
        ..new_plan()
    }
}
