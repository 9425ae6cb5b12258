//! The status of an AIMService (seed "Monitoring Service Status", BEHAVIOUR.md §5.9, §14.8-§14.10):
//! an ordered chain of checks where the first that applies decides the overall state, with every
//! condition the seed lists, in its order, and the seed's reasons and messages.

use std::collections::BTreeMap;

use aim_api::conditions::{
    AIMServiceStatusEnum as State, AIMTemplateStatusEnum, ConditionStatus, reasons, types,
};
use aim_api::kserve::InferenceService;
use aim_api::v1alpha1::{
    AIMResolvedModelCache, AIMResolvedReference, AIMServiceRoutingStatus, AIMServiceStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use serde_json::Value;

use super::model::ModelResolution;
use super::routing::RouteProgress;
use super::template::TemplateResolution;
use crate::conditions::Conditions;

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

/// Routing as the service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoutingState {
    Disabled,
    MissingGateway,
    InvalidPath(String),
    Route(RouteProgress),
}

/// Everything the status is projected from.
pub struct StatusInputs<'a> {
    pub generation: Option<i64>,
    pub previous: &'a [Condition],
    pub model: &'a ModelResolution,
    pub template: &'a TemplateResolution,
    /// The template's model is not in the cluster.
    pub template_model_missing: Option<String>,
    pub runtime_config: Result<Option<AIMResolvedReference>, String>,
    pub routing: RoutingState,
    pub path: Option<String>,
    pub cache: CacheState,
    pub resolved_template_cache: Option<AIMResolvedReference>,
    pub model_caches: BTreeMap<String, AIMResolvedModelCache>,
    pub inference_service: Option<&'a InferenceService>,
    /// Why the InferenceService could not be planned even though everything was resolved.
    pub storage_problem: Option<String>,
    pub image_pull_error: Option<(&'static str, String)>,
    /// The scheduler's message for an InferenceService pod it cannot place.
    pub unschedulable: Option<String>,
}

/// The projected status, as JSON for the plan.
pub fn project(inputs: &StatusInputs<'_>) -> (AIMServiceStatus, Value) {
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
    let mut chain = Chain::new(inputs.previous, inputs.generation);
    chain.run(inputs);
    status.status = chain.state;
    let conditions = chain.conditions.into_json();
    let mut json = serde_json::to_value(&status).unwrap_or_default();
    if let Some(object) = json.as_object_mut() {
        object.insert("conditions".into(), conditions);
    }
    (status, json)
}

struct Chain<'a> {
    state: State,
    conditions: Conditions<'a>,
}

impl<'a> Chain<'a> {
    fn new(previous: &'a [Condition], generation: Option<i64>) -> Self {
        let mut conditions = Conditions::new(previous, generation);
        // The seed's order; every type is present from the first reconcile on.
        for type_ in [
            types::RESOLVED,
            types::CACHE_READY,
            types::RUNTIME_READY,
            types::ROUTING_READY,
            types::READY,
            types::PROGRESSING,
            types::FAILURE,
        ] {
            conditions.set(
                type_,
                ConditionStatus::Unknown,
                "Reconciling",
                "Reconciling",
            );
        }
        // No failure until a check below finds one.
        conditions.set(
            types::FAILURE,
            ConditionStatus::False,
            reasons::RESOLVED,
            "No active failures",
        );
        Self {
            state: State::Pending,
            conditions,
        }
    }

    fn set(&mut self, type_: &str, status: bool, reason: &str, message: impl Into<String>) {
        self.conditions
            .set(type_, ConditionStatus::from(status), reason, message);
    }

    /// Not running: RuntimeReady and Ready false, and whether the controller is still working.
    fn stop(
        &mut self,
        state: State,
        reason: &str,
        message: &str,
        progressing: bool,
        failure: bool,
    ) {
        self.state = state;
        self.set(types::RUNTIME_READY, false, reason, message);
        self.set(types::PROGRESSING, progressing, reason, message);
        self.set(types::READY, false, reason, message);
        if failure {
            self.set(types::FAILURE, true, reason, message);
        }
    }

    fn run(&mut self, inputs: &StatusInputs<'_>) {
        self.cache(inputs);
        let routing_ok = self.routing(inputs);
        if inputs.routing == RoutingState::MissingGateway {
            let message = "routing.gatewayRef must be specified via AIMService or runtime config when routing is enabled";
            self.set(types::RESOLVED, false, reasons::ROUTE_FAILED, message);
            return self.stop(State::Failed, reasons::ROUTE_FAILED, message, false, true);
        }
        if let ModelResolution::Ambiguous { message } = inputs.model {
            self.set(
                types::RESOLVED,
                false,
                reasons::MULTIPLE_MODELS_FOUND,
                message.as_str(),
            );
            return self.stop(
                State::Failed,
                reasons::MULTIPLE_MODELS_FOUND,
                message,
                false,
                true,
            );
        }
        if let Some(message) = &inputs.template_model_missing {
            self.set(
                types::RESOLVED,
                false,
                reasons::IMAGE_NOT_FOUND,
                message.as_str(),
            );
            return self.stop(
                State::Degraded,
                reasons::IMAGE_NOT_FOUND,
                message,
                false,
                true,
            );
        }
        if self.model_not_ready(inputs) {
            return;
        }
        if self.template_unresolved(inputs.template) {
            return;
        }
        self.set(
            types::RESOLVED,
            true,
            reasons::RESOLVED,
            "Model and template resolved successfully",
        );
        if let Err(message) = &inputs.runtime_config {
            return self.stop(
                State::Degraded,
                reasons::RUNTIME_CONFIG_MISSING,
                message,
                false,
                true,
            );
        }
        if let RoutingState::InvalidPath(message) = &inputs.routing {
            self.set(
                types::RUNTIME_READY,
                false,
                reasons::PATH_TEMPLATE_INVALID,
                "Cannot configure HTTP routing",
            );
            self.state = State::Degraded;
            self.set(
                types::PROGRESSING,
                false,
                reasons::PATH_TEMPLATE_INVALID,
                message.as_str(),
            );
            self.set(
                types::READY,
                false,
                reasons::PATH_TEMPLATE_INVALID,
                message.as_str(),
            );
            self.set(
                types::FAILURE,
                true,
                reasons::PATH_TEMPLATE_INVALID,
                message.as_str(),
            );
            return;
        }
        if let TemplateResolution::Found(template) = inputs.template
            && self.template_not_usable(template)
        {
            return;
        }
        if let Some((reason, message)) = &inputs.image_pull_error {
            return self.stop(State::Degraded, reason, message, false, true);
        }
        if inputs.cache == CacheState::Failed {
            return self.stop(
                State::Failed,
                reasons::CACHE_FAILED,
                "Template cache failed",
                false,
                true,
            );
        }
        if let Some(message) = &inputs.storage_problem {
            return self.stop(
                State::Degraded,
                reasons::NO_MODEL_SOURCES,
                message,
                false,
                true,
            );
        }
        self.runtime(inputs, routing_ok);
    }

    fn cache(&mut self, inputs: &StatusInputs<'_>) {
        let (ok, reason, message) = match inputs.cache {
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
        };
        self.set(types::CACHE_READY, ok, reason, message);
    }

    /// Sets RoutingReady; true when routing needs nothing more.
    fn routing(&mut self, inputs: &StatusInputs<'_>) -> bool {
        match &inputs.routing {
            RoutingState::Disabled => {
                self.set(
                    types::ROUTING_READY,
                    true,
                    reasons::ROUTE_READY,
                    "Routing disabled",
                );
                true
            }
            RoutingState::MissingGateway => {
                let message = "routing.gatewayRef must be specified via AIMService or runtime config when routing is enabled";
                self.set(types::ROUTING_READY, false, reasons::ROUTE_FAILED, message);
                false
            }
            RoutingState::InvalidPath(message) => {
                self.set(
                    types::ROUTING_READY,
                    false,
                    reasons::PATH_TEMPLATE_INVALID,
                    message.as_str(),
                );
                false
            }
            RoutingState::Route(RouteProgress::Accepted) => {
                self.set(
                    types::ROUTING_READY,
                    true,
                    reasons::ROUTE_READY,
                    "HTTPRoute configured",
                );
                true
            }
            RoutingState::Route(RouteProgress::Waiting(message)) => {
                self.set(
                    types::ROUTING_READY,
                    false,
                    reasons::CONFIGURING_ROUTE,
                    message.as_str(),
                );
                false
            }
            RoutingState::Route(RouteProgress::Refused { reason, message }) => {
                self.set(types::ROUTING_READY, false, reason, message.as_str());
                if reason == reasons::ROUTE_FAILED {
                    self.state = State::Degraded;
                    self.set(types::FAILURE, true, reason, message.as_str());
                }
                false
            }
        }
    }

    /// Waiting on (or failed by) the model when the template depends on it.
    fn model_not_ready(&mut self, inputs: &StatusInputs<'_>) -> bool {
        let waiting = matches!(inputs.template, TemplateResolution::WaitingForModel);
        let missing = matches!(inputs.model, ModelResolution::NotFound { .. });
        let Some(reason) = inputs
            .model
            .not_ready_reason()
            .filter(|_| waiting || missing)
        else {
            return false;
        };
        let message = match inputs.model {
            ModelResolution::NotFound { message } => message.clone(),
            ModelResolution::Creating { name, .. } => {
                format!("Creating model {name:?} from the image")
            }
            other => format!(
                "Model {:?} is not ready yet",
                other.name().unwrap_or_default()
            ),
        };
        self.set(types::RESOLVED, false, reason, message.as_str());
        match reason {
            reasons::MODEL_FAILED => self.stop(State::Failed, reason, &message, false, true),
            reasons::MODEL_DEGRADED => self.stop(State::Degraded, reason, &message, false, true),
            reasons::MODEL_NOT_FOUND => self.stop(State::Pending, reason, &message, true, true),
            _ => self.stop(State::Pending, reason, &message, true, false),
        }
        true
    }

    fn template_unresolved(&mut self, template: &TemplateResolution) -> bool {
        match template {
            TemplateResolution::Found(_) | TemplateResolution::WaitingForModel => return false,
            TemplateResolution::NotSelected { reason, message } => {
                self.set(types::RESOLVED, false, reason, message.as_str());
                self.stop(State::Failed, reason, message, false, true);
                self.set(
                    types::RUNTIME_READY,
                    false,
                    reason,
                    "Cannot proceed without a unique template",
                );
            }
            TemplateResolution::CreatingDerived { name } => {
                let message = format!("Template not found; creating derived template {name:?}");
                self.set(
                    types::RESOLVED,
                    false,
                    reasons::TEMPLATE_NOT_FOUND,
                    message.as_str(),
                );
                self.stop(
                    State::Pending,
                    reasons::CREATING_RUNTIME,
                    &message,
                    true,
                    false,
                );
            }
            TemplateResolution::NoneReady => {
                let message = "Templates exist for the model but none is Ready yet";
                self.set(
                    types::RESOLVED,
                    false,
                    reasons::TEMPLATE_NOT_AVAILABLE,
                    message,
                );
                self.stop(
                    State::Pending,
                    reasons::TEMPLATE_NOT_AVAILABLE,
                    message,
                    true,
                    false,
                );
            }
            TemplateResolution::NotFound { message } => {
                self.set(
                    types::RESOLVED,
                    false,
                    reasons::TEMPLATE_NOT_FOUND,
                    message.as_str(),
                );
                self.stop(
                    State::Degraded,
                    reasons::TEMPLATE_NOT_FOUND,
                    message,
                    false,
                    true,
                );
                self.set(
                    types::READY,
                    false,
                    reasons::TEMPLATE_NOT_FOUND,
                    "Template missing",
                );
            }
        }
        true
    }

    fn template_not_usable(&mut self, template: &super::template::ResolvedTemplate) -> bool {
        let failure = template.status.as_ref().and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == types::FAILURE && c.status == "True")
        });
        let (reason, message) = failure.map_or(
            (
                reasons::TEMPLATE_DEGRADED,
                "Template is not available".to_owned(),
            ),
            |c| (c.reason.as_str(), c.message.clone()),
        );
        match template.state() {
            AIMTemplateStatusEnum::Degraded | AIMTemplateStatusEnum::NotAvailable => {
                let reason = if template.state() == AIMTemplateStatusEnum::NotAvailable
                    && failure.is_none()
                {
                    reasons::GPU_UNAVAILABLE
                } else {
                    reason
                };
                self.stop(State::Degraded, reason, &message, false, true);
            }
            AIMTemplateStatusEnum::Failed => {
                self.stop(State::Failed, reason, &message, false, true)
            }
            AIMTemplateStatusEnum::Pending | AIMTemplateStatusEnum::Progressing => {
                let message = format!("Template {:?} is not ready yet", template.name());
                self.stop(
                    State::Pending,
                    reasons::TEMPLATE_NOT_AVAILABLE,
                    &message,
                    true,
                    false,
                );
            }
            AIMTemplateStatusEnum::Ready => {
                let has_sources = template
                    .status
                    .as_ref()
                    .is_some_and(|s| s.model_sources.iter().any(|m| !m.source_uri.is_empty()));
                if has_sources {
                    return false;
                }
                let message = format!(
                    "Template {:?} is Ready but lists no model sources",
                    template.name()
                );
                self.stop(
                    State::Degraded,
                    reasons::NO_MODEL_SOURCES,
                    &message,
                    false,
                    true,
                );
            }
        }
        true
    }

    fn runtime(&mut self, inputs: &StatusInputs<'_>, routing_ok: bool) {
        let Some(isvc) = inputs.inference_service else {
            let message = if matches!(inputs.cache, CacheState::Waiting | CacheState::Warming) {
                "Waiting for the model cache before creating the InferenceService"
            } else {
                "Creating InferenceService"
            };
            return self.stop(
                self.state_unless_failed(State::Starting),
                reasons::CREATING_RUNTIME,
                message,
                true,
                false,
            );
        };
        let status = isvc.status.as_ref();
        let ready = status.is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        });
        let failure = status
            .and_then(|s| s.model_status.as_ref())
            .and_then(|m| m.last_failure_info.as_ref());
        if ready && routing_ok {
            self.state = State::Running;
            self.set(
                types::RUNTIME_READY,
                true,
                reasons::RUNTIME_READY,
                "InferenceService is ready",
            );
            self.set(
                types::PROGRESSING,
                false,
                reasons::RUNTIME_READY,
                "Service is running",
            );
            self.set(types::READY, true, reasons::READY, "Service is ready");
            return;
        }
        if let (false, Some(failure)) = (ready, failure) {
            let message = failure
                .message
                .clone()
                .unwrap_or_else(|| "InferenceService failed".to_owned());
            return self.stop(
                State::Degraded,
                reasons::RUNTIME_FAILED,
                &message,
                false,
                true,
            );
        }
        if let (false, Some(scheduler)) = (ready, &inputs.unschedulable) {
            // Recoverable once the cluster has room: the service waits, saying for what.
            let message = format!("InferenceService pod cannot be scheduled: {scheduler}");
            return self.stop(
                self.state_unless_failed(State::Pending),
                reasons::CREATING_RUNTIME,
                &message,
                true,
                false,
            );
        }
        let (reason, message) = if ready {
            (
                reasons::CONFIGURING_ROUTE,
                "Waiting for HTTPRoute to become ready",
            )
        } else {
            (
                reasons::CREATING_RUNTIME,
                "Waiting for InferenceService to become ready",
            )
        };
        let state = self.state_unless_failed(State::Starting);
        self.stop(state, reason, message, true, false);
        if ready {
            self.set(
                types::RUNTIME_READY,
                true,
                reasons::RUNTIME_READY,
                "InferenceService is ready",
            );
        }
    }

    /// A state already made worse by routing stays.
    fn state_unless_failed(&self, next: State) -> State {
        match self.state {
            State::Failed | State::Degraded => self.state,
            _ => next,
        }
    }
}
