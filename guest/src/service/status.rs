//! The status of an AIMService as the AIMService guide's "Monitoring Service Status" describes it:
//! every condition the guide lists, in its order, with its reasons and messages (`docs/status.md`
//! is the user's reference). Each condition says one thing:
//! - `Resolved`: the model and the template (and the runtime config they are read with) are
//!   usable, and the template is Ready with its runtime profile;
//! - `CacheReady`: the template cache, when caching is requested;
//! - `RuntimeReady`: the InferenceService, and nothing else;
//! - `RoutingReady`: the HTTPRoute, and nothing else;
//! - `Ready`, `Progressing`, `Failure` and the overall state: the first problem found, checked in
//!   a fixed order, or Running.

use std::collections::BTreeMap;

use aim_api::conditions::{
    AIMServiceStatusEnum as State, AIMTemplateStatusEnum, ConditionStatus, reasons, types,
};
use aim_api::v1alpha1::{
    AIMResolvedModelCache, AIMResolvedReference, AIMServiceRoutingStatus, AIMServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::Value;

use super::model::ModelResolution;
use super::route_plan::RoutingState;
use super::routing::RouteProgress;
use super::runtime::RuntimeState;
use super::template::{ResolvedTemplate, TemplateResolution, enum_text};
use crate::PolicyFailure;
use crate::conditions::Conditions;
use crate::flows::support::status_document;

/// The message of a routing without a Gateway.
const MISSING_GATEWAY: &str =
    "routing.gatewayRef must be specified via AIMService or runtime config when routing is enabled";

/// Caching as the service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    /// `cacheModel: false`.
    NotRequested,
    /// Requested; no template cache exists yet.
    Waiting,
    /// The template cache is Pending or Progressing.
    Warming,
    /// The template cache is Available.
    Warm,
    /// The template cache Failed.
    Failed,
}

/// Everything the status is projected from.
pub struct StatusInputs<'a> {
    pub generation: Option<i64>,
    pub previous: &'a [Condition],
    pub model: &'a ModelResolution,
    /// What the model's own status says about why it is not Ready, if anything.
    pub model_detail: Option<String>,
    pub template: &'a TemplateResolution,
    /// The template's model is not in the cluster.
    pub template_model_missing: Option<String>,
    /// The template's GPU model, when no node has it.
    pub template_gpu_missing: Option<String>,
    pub runtime_config: Result<Option<AIMResolvedReference>, String>,
    pub routing: RoutingState,
    pub path: Option<String>,
    pub cache: CacheState,
    pub resolved_template_cache: Option<AIMResolvedReference>,
    pub model_caches: BTreeMap<String, AIMResolvedModelCache>,
    pub runtime: RuntimeState,
    /// Why the InferenceService could not be planned even though everything was resolved.
    pub storage_problem: Option<String>,
    pub image_pull_error: Option<(&'static str, String)>,
    /// The scheduler's message for an InferenceService pod it cannot place.
    pub unschedulable: Option<String>,
}

/// The projected status, and its document for the plan.
pub fn project(inputs: &StatusInputs<'_>) -> Result<(AIMServiceStatus, Value), PolicyFailure> {
    let mut status = AIMServiceStatus {
        observed_generation: inputs.generation,
        resolved_runtime_config: inputs.runtime_config.clone().ok().flatten(),
        resolved_image: match inputs.model {
            ModelResolution::Found(model) => Some(model.reference.clone()),
            _ => None,
        },
        resolved_template: match inputs.template {
            TemplateResolution::Found(template) => Some(template.reference.clone()),
            _ => None,
        },
        resolved_template_cache: inputs.resolved_template_cache.clone(),
        routing: inputs
            .path
            .clone()
            .map(|path| AIMServiceRoutingStatus { path: Some(path) }),
        model_caches: inputs.model_caches.clone(),
        ..AIMServiceStatus::default()
    };
    let mut conditions = Conditions::new(inputs.previous, inputs.generation);
    // The guide's order; every type is present from the first reconcile on.
    for type_ in types::SERVICE {
        conditions.set(
            type_,
            ConditionStatus::Unknown,
            reasons::RECONCILING,
            "Reconciling",
        );
    }
    let (ok, reason, message) = cache(&inputs.cache);
    conditions.set(types::CACHE_READY, ok.into(), reason, message);
    let (ok, reason, message) = runtime(inputs);
    conditions.set(types::RUNTIME_READY, ok.into(), reason, message);
    let (ok, reason, message) = routing(&inputs.routing);
    conditions.set(types::ROUTING_READY, ok.into(), &reason, message);

    let outcome = match resolution(inputs) {
        Err(unresolved) => {
            conditions.set(
                types::RESOLVED,
                ConditionStatus::False,
                &unresolved.reason,
                unresolved.message,
            );
            unresolved.outcome
        }
        Ok(()) => {
            conditions.set(
                types::RESOLVED,
                ConditionStatus::True,
                reasons::RESOLVED,
                "Model and template resolved successfully",
            );
            after_resolution(inputs)
        }
    };
    status.status = outcome.state;
    conditions.set(
        types::READY,
        outcome.ready.into(),
        &outcome.reason,
        &outcome.message,
    );
    conditions.set(
        types::PROGRESSING,
        outcome.progressing.into(),
        &outcome.reason,
        &outcome.message,
    );
    if outcome.failure {
        conditions.set(
            types::FAILURE,
            ConditionStatus::True,
            &outcome.reason,
            &outcome.message,
        );
    } else {
        conditions.set(
            types::FAILURE,
            ConditionStatus::False,
            reasons::RESOLVED,
            "No active failures",
        );
    }
    let document = status_document(&status, conditions)?;
    Ok((status, document))
}

/// The overall state with the reason and message of `Ready`, `Progressing` and `Failure`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    state: State,
    ready: bool,
    reason: String,
    message: String,
    /// Still working towards readiness by itself.
    progressing: bool,
    /// Something needs the user's attention.
    failure: bool,
}

impl Outcome {
    /// Not ready, and the controller keeps working on it.
    fn waiting(state: State, reason: &str, message: impl Into<String>) -> Self {
        Self {
            state,
            ready: false,
            reason: reason.to_owned(),
            message: message.into(),
            progressing: true,
            failure: false,
        }
    }

    /// Not ready until someone fixes something.
    fn failed(state: State, reason: &str, message: impl Into<String>) -> Self {
        Self {
            state,
            ready: false,
            reason: reason.to_owned(),
            message: message.into(),
            progressing: false,
            failure: true,
        }
    }
}

/// Why `Resolved` is False, and what that makes of the whole.
struct Unresolved {
    reason: String,
    message: String,
    outcome: Outcome,
}

impl Unresolved {
    /// `Resolved` and the overall condition share reason and message.
    fn same(outcome: Outcome) -> Self {
        Self {
            reason: outcome.reason.clone(),
            message: outcome.message.clone(),
            outcome,
        }
    }
}

fn cache(state: &CacheState) -> (bool, &'static str, &'static str) {
    match state {
        CacheState::NotRequested => (true, reasons::CACHE_WARM, "Caching not requested"),
        CacheState::Waiting => (
            false,
            reasons::WAITING_FOR_CACHE,
            "Waiting for cache warm-up",
        ),
        CacheState::Warming => (
            false,
            reasons::CACHE_WARMING,
            "Model sources are being cached",
        ),
        CacheState::Warm => (true, reasons::CACHE_WARM, "Model sources cached"),
        CacheState::Failed => (false, reasons::CACHE_FAILED, "Template cache failed"),
    }
}

/// `RuntimeReady`: the InferenceService and its pods, nothing else.
fn runtime(inputs: &StatusInputs<'_>) -> (bool, &'static str, String) {
    match (&inputs.runtime, &inputs.image_pull_error) {
        (RuntimeState::Ready, _) => (
            true,
            reasons::RUNTIME_READY,
            "InferenceService is ready".to_owned(),
        ),
        (RuntimeState::Failed(message), _) | (_, Some((_, message))) => {
            (false, reasons::RUNTIME_FAILED, message.clone())
        }
        (RuntimeState::Absent, None) => (
            false,
            reasons::CREATING_RUNTIME,
            "InferenceService not created yet".to_owned(),
        ),
        (RuntimeState::Updating, None) => (
            false,
            reasons::CREATING_RUNTIME,
            UPDATING_RUNTIME.to_owned(),
        ),
        (RuntimeState::NotReady(detail), None) => {
            let message = match &inputs.unschedulable {
                Some(scheduler) => unschedulable(scheduler),
                None => not_ready(detail),
            };
            (false, reasons::CREATING_RUNTIME, message)
        }
    }
}

fn unschedulable(scheduler: &str) -> String {
    format!("InferenceService pod cannot be scheduled: {scheduler}")
}

const UPDATING_RUNTIME: &str = "Waiting for KServe to report on the updated InferenceService";

fn not_ready(detail: &Option<String>) -> String {
    match detail {
        Some(detail) => format!("Waiting for InferenceService to become ready: {detail}"),
        None => "Waiting for InferenceService to become ready".to_owned(),
    }
}

/// `RoutingReady`: the HTTPRoute, nothing else. A path a policy refused keeps the policy's own
/// reason.
fn routing(state: &RoutingState) -> (bool, String, String) {
    let (ok, reason, message) = match state {
        RoutingState::Disabled => (true, reasons::ROUTE_READY, "Routing disabled".to_owned()),
        RoutingState::MissingGateway => (false, reasons::ROUTE_FAILED, MISSING_GATEWAY.to_owned()),
        RoutingState::InvalidPath(refusal) => {
            return (false, refusal.reason.clone(), refusal.message.clone());
        }
        RoutingState::Route(RouteProgress::Accepted) => (
            true,
            reasons::ROUTE_READY,
            "HTTPRoute configured".to_owned(),
        ),
        RoutingState::Route(
            RouteProgress::Waiting(message) | RouteProgress::BackendPending(message),
        ) => (false, reasons::CONFIGURING_ROUTE, message.clone()),
        RoutingState::Route(RouteProgress::Refused(message)) => {
            (false, reasons::ROUTE_FAILED, message.clone())
        }
    };
    (ok, reason.to_owned(), message)
}

/// Model, template and runtime config, in that order; the first that is not usable decides.
fn resolution(inputs: &StatusInputs<'_>) -> Result<(), Unresolved> {
    if let ModelResolution::Ambiguous { message } = inputs.model {
        return Err(Unresolved::same(Outcome::failed(
            State::Failed,
            reasons::MULTIPLE_MODELS_FOUND,
            message.as_str(),
        )));
    }
    if let Some(message) = &inputs.template_model_missing {
        return Err(Unresolved {
            reason: reasons::MODEL_NOT_FOUND.to_owned(),
            message: message.clone(),
            outcome: Outcome::failed(State::Degraded, reasons::IMAGE_NOT_FOUND, message.as_str()),
        });
    }
    model_usable(inputs)?;
    match inputs.template {
        TemplateResolution::Found(template) => template_usable(template, inputs)?,
        TemplateResolution::WaitingForModel => {
            // Only reached when the model is usable but not yet named (a race); wait.
            return Err(Unresolved::same(Outcome::waiting(
                State::Pending,
                reasons::TEMPLATE_NOT_FOUND,
                "Waiting for the model before selecting a template",
            )));
        }
        TemplateResolution::NotSelected { reason, message } => {
            return Err(Unresolved::same(Outcome::failed(
                State::Failed,
                reason,
                message.as_str(),
            )));
        }
        TemplateResolution::CreatingDerived { name } => {
            return Err(Unresolved::same(Outcome::waiting(
                State::Pending,
                reasons::TEMPLATE_NOT_FOUND,
                format!("Template not found; creating derived template {name:?}"),
            )));
        }
        TemplateResolution::NoneReady => {
            return Err(Unresolved::same(Outcome::waiting(
                State::Pending,
                reasons::TEMPLATE_NOT_AVAILABLE,
                "Templates exist for the model but none is Ready yet",
            )));
        }
        TemplateResolution::NotFound { message } => {
            return Err(Unresolved::same(Outcome::failed(
                State::Degraded,
                reasons::TEMPLATE_NOT_FOUND,
                message.as_str(),
            )));
        }
    }
    if let Err(message) = &inputs.runtime_config {
        return Err(Unresolved::same(Outcome::failed(
            State::Degraded,
            reasons::RUNTIME_CONFIG_MISSING,
            message.as_str(),
        )));
    }
    Ok(())
}

/// A model that is missing, or not Ready while the template waits for it, stops resolution:
/// `Resolved` says `ModelNotFound` or `ModelNotReady`; the overall reason is finer.
fn model_usable(inputs: &StatusInputs<'_>) -> Result<(), Unresolved> {
    let waiting = matches!(inputs.template, TemplateResolution::WaitingForModel);
    let missing = matches!(inputs.model, ModelResolution::NotFound { .. });
    let Some(reason) = inputs
        .model
        .not_ready_reason()
        .filter(|_| waiting || missing)
    else {
        return Ok(());
    };
    let message = match inputs.model {
        ModelResolution::NotFound { message } => message.clone(),
        ModelResolution::Creating { name, .. } => {
            format!("Creating model {name:?} from the image")
        }
        ModelResolution::Found(model) => {
            let state = enum_text(&model.status);
            let name = &model.reference.name;
            match &inputs.model_detail {
                Some(detail) => format!("Model {name:?} is {state}: {detail}"),
                None => format!("Model {name:?} is {state}"),
            }
        }
        ModelResolution::Ambiguous { message } => message.clone(),
    };
    let outcome = match reason {
        reasons::MODEL_FAILED => Outcome::failed(State::Failed, reason, message.as_str()),
        reasons::MODEL_DEGRADED => Outcome::failed(State::Degraded, reason, message.as_str()),
        reasons::MODEL_NOT_FOUND => Outcome {
            // The service waits for the model to appear, and says it is missing.
            progressing: true,
            ..Outcome::failed(State::Pending, reason, message.as_str())
        },
        _ => Outcome::waiting(State::Pending, reason, message.as_str()),
    };
    let resolved_reason = if reason == reasons::MODEL_NOT_FOUND {
        reasons::MODEL_NOT_FOUND
    } else {
        reasons::MODEL_NOT_READY
    };
    Err(Unresolved {
        reason: resolved_reason.to_owned(),
        message,
        outcome,
    })
}

/// The template must be Ready with its runtime profile and model sources. A template that stopped
/// being usable while its InferenceService serves does not stop the service: it runs on a template
/// that is not optimal (see [`not_optimal`]).
fn template_usable(
    template: &ResolvedTemplate,
    inputs: &StatusInputs<'_>,
) -> Result<(), Unresolved> {
    let name = template.name();
    let serving = inputs.runtime == RuntimeState::Ready;
    let state = template.state();
    match state {
        AIMTemplateStatusEnum::Degraded | AIMTemplateStatusEnum::NotAvailable if serving => Ok(()),
        AIMTemplateStatusEnum::Degraded
        | AIMTemplateStatusEnum::NotAvailable
        | AIMTemplateStatusEnum::Failed => {
            let failure = template.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == types::FAILURE && c.status == "True")
            });
            let (reason, message) = match failure {
                Some(failure) => (failure.reason.clone(), failure.message.clone()),
                None if state == AIMTemplateStatusEnum::NotAvailable => (
                    reasons::GPU_UNAVAILABLE.to_owned(),
                    template_message(template)
                        .unwrap_or_else(|| format!("Template {name:?} is not available")),
                ),
                None => (
                    reasons::TEMPLATE_DEGRADED.to_owned(),
                    template_message(template)
                        .unwrap_or_else(|| format!("Template {name:?} is not available")),
                ),
            };
            let overall = if state == AIMTemplateStatusEnum::Failed {
                State::Failed
            } else {
                State::Degraded
            };
            Err(Unresolved::same(Outcome::failed(overall, &reason, message)))
        }
        AIMTemplateStatusEnum::Pending | AIMTemplateStatusEnum::Progressing => {
            Err(Unresolved::same(Outcome::waiting(
                State::Pending,
                reasons::TEMPLATE_NOT_AVAILABLE,
                format!(
                    "Template {name:?} is not ready yet ({})",
                    enum_text(&template.state())
                ),
            )))
        }
        AIMTemplateStatusEnum::Ready => {
            let status = template.status.as_ref();
            if status.is_none_or(|s| s.profile.is_none()) {
                return Err(Unresolved::same(Outcome::waiting(
                    State::Pending,
                    reasons::TEMPLATE_NOT_AVAILABLE,
                    format!("Template {name:?} is Ready but reports no runtime profile yet"),
                )));
            }
            let has_sources =
                status.is_some_and(|s| s.model_sources.iter().any(|m| !m.source_uri.is_empty()));
            if has_sources {
                return Ok(());
            }
            Err(Unresolved::same(Outcome::failed(
                State::Degraded,
                reasons::NO_MODEL_SOURCES,
                format!("Template {name:?} is Ready but lists no model sources"),
            )))
        }
    }
}

/// The message of the template's `Ready` condition, when it is False.
fn template_message(template: &ResolvedTemplate) -> Option<String> {
    template
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY && c.status == "False" && !c.message.is_empty())
        .map(|c| c.message.clone())
}

/// Everything is resolved: caches, storage, the InferenceService and routing decide.
fn after_resolution(inputs: &StatusInputs<'_>) -> Outcome {
    if inputs.cache == CacheState::Failed {
        return Outcome::failed(
            State::Failed,
            reasons::CACHE_FAILED,
            "Template cache failed",
        );
    }
    if let Some(message) = &inputs.storage_problem {
        return Outcome::failed(State::Degraded, reasons::NO_MODEL_SOURCES, message.as_str());
    }
    let serving = inputs.runtime == RuntimeState::Ready;
    if let (Some((reason, message)), false) = (&inputs.image_pull_error, serving) {
        return Outcome::failed(State::Degraded, reason, message.as_str());
    }
    if let RuntimeState::Failed(message) = &inputs.runtime {
        return Outcome::failed(State::Degraded, reasons::RUNTIME_FAILED, message.as_str());
    }
    match &inputs.routing {
        RoutingState::InvalidPath(refusal) => {
            return Outcome::failed(State::Degraded, &refusal.reason, refusal.message.as_str());
        }
        RoutingState::MissingGateway => {
            return Outcome::failed(State::Degraded, reasons::ROUTE_FAILED, MISSING_GATEWAY);
        }
        RoutingState::Route(RouteProgress::Refused(message)) => {
            return Outcome::failed(State::Degraded, reasons::ROUTE_FAILED, message.as_str());
        }
        _ => {}
    }
    match &inputs.runtime {
        RuntimeState::Absent => {
            return match inputs.cache {
                CacheState::Waiting => Outcome::waiting(
                    State::Starting,
                    reasons::WAITING_FOR_CACHE,
                    "Waiting for the model cache before creating the InferenceService",
                ),
                CacheState::Warming => Outcome::waiting(
                    State::Starting,
                    reasons::CACHE_WARMING,
                    "Waiting for the model cache before creating the InferenceService",
                ),
                _ => Outcome::waiting(
                    State::Starting,
                    reasons::CREATING_RUNTIME,
                    "Creating InferenceService",
                ),
            };
        }
        RuntimeState::Updating => {
            return Outcome::waiting(State::Starting, reasons::CREATING_RUNTIME, UPDATING_RUNTIME);
        }
        RuntimeState::NotReady(detail) => {
            if let Some(scheduler) = &inputs.unschedulable {
                // Recoverable once the cluster has room: the service waits, saying for what.
                return Outcome::waiting(
                    State::Pending,
                    reasons::CREATING_RUNTIME,
                    unschedulable(scheduler),
                );
            }
            return Outcome::waiting(
                State::Starting,
                reasons::CREATING_RUNTIME,
                not_ready(detail),
            );
        }
        RuntimeState::Ready | RuntimeState::Failed(_) => {}
    }
    if let RoutingState::Route(RouteProgress::Waiting(message)) = &inputs.routing {
        return Outcome::waiting(
            State::Starting,
            reasons::CONFIGURING_ROUTE,
            message.as_str(),
        );
    }
    if let Some(message) = not_optimal(inputs) {
        return Outcome {
            state: State::Degraded,
            ready: true,
            reason: reasons::TEMPLATE_NOT_OPTIMAL.to_owned(),
            message,
            progressing: false,
            failure: false,
        };
    }
    Outcome {
        state: State::Running,
        ready: true,
        reason: reasons::READY.to_owned(),
        message: "Service is ready".to_owned(),
        progressing: false,
        failure: false,
    }
}

/// "Template not optimal": the service serves, on a template that is no longer what it would be
/// given now — its GPU model is on no node, or its status is Degraded or NotAvailable.
fn not_optimal(inputs: &StatusInputs<'_>) -> Option<String> {
    let TemplateResolution::Found(template) = inputs.template else {
        return None;
    };
    let name = template.name();
    match template.state() {
        AIMTemplateStatusEnum::Degraded | AIMTemplateStatusEnum::NotAvailable => {
            let state = enum_text(&template.state());
            let detail = template_message(template)
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            Some(format!(
                "Service is ready, but its template {name:?} is {state}{detail}"
            ))
        }
        _ => inputs.template_gpu_missing.as_ref().map(|gpu| {
            format!(
                "Service is ready, but the GPU model {gpu:?} of its template {name:?} is on no node"
            )
        }),
    }
}
