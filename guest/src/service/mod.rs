//! The AIMService flow: from what the host observed to the objects to apply and the status to
//! report. [`plan_service`] reads as the steps of a reconcile; each step lives in its own module.

mod freshness;
mod model;
mod objects;
pub mod resources;
mod routing;
mod runtime;
mod status;
mod template;
#[cfg(test)]
mod tests;

use aim_api::conditions::{AIMServiceStatusEnum, annotations, finalizers, labels, types};
use aim_api::policy::PLAN_API_VERSION;
use aim_api::policy::observation::ServiceObservation;
use aim_api::policy::plan::{EventType, ObjectReference, Owner, Plan, PlannedEvent, PlannedObject};
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMResolutionScope, AIMResolvedReference, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use serde_json::Value;

use self::model::ModelResolution;
use self::objects::{InferenceServiceInputs, ModelStorage};
use self::runtime::RuntimeState;
use self::status::{CacheState, RoutingState, StatusInputs};
use self::template::{ResolvedTemplate, TemplateResolution};
use crate::PolicyFailure;
use crate::cluster_gpus::cluster_gpu_models;
use crate::names::sanitize_label_value;
use crate::resource_names::inference_service_name;
use crate::runtime_config;
use crate::selection::gpu_present;

/// How often a service that is not Running is looked at again, since not every change it waits
/// for (pods, gateways) is watched.
const REQUEUE_WHILE_NOT_RUNNING_SECONDS: u32 = 30;

/// Plans one AIMService.
pub fn plan_service(observation: &ServiceObservation) -> Result<Plan, PolicyFailure> {
    let service = &observation.service;
    let name = service
        .metadata
        .name
        .as_deref()
        .ok_or_else(|| invalid("service has no name"))?;
    let namespace = service
        .metadata
        .namespace
        .as_deref()
        .ok_or_else(|| invalid("service has no namespace"))?;
    if service.metadata.deletion_timestamp.is_some() {
        return Ok(finalize(observation, name));
    }
    let mut plan = Plan {
        api_version: PLAN_API_VERSION.to_owned(),
        ..Plan::default()
    };
    plan.finalizers = vec![finalizers::SERVICE_CACHE_CLEANUP.to_owned()];

    let config = runtime_config::resolve(&observation.runtime_configs, Some(namespace));
    let effective_config = config.clone().unwrap_or_default();
    let gpus: Vec<String> = cluster_gpu_models(&observation.nodes).into_iter().collect();

    let model = model::resolve(observation, &effective_config);
    if let ModelResolution::Creating { object, .. } = &model {
        plan.apply.push(PlannedObject {
            object: object.clone(),
            owner: Owner::None,
        });
    }
    let (template, derived) = template::resolve(
        observation,
        model.name(),
        model.not_ready_reason().is_none(),
        &gpus,
    );
    if let Some(object) = derived {
        plan.apply.push(PlannedObject {
            object,
            owner: Owner::None,
        });
    }
    let routing = routing::effective(service, &effective_config);
    let service_json = service_json_with(service, &model);
    let isvc_name = inference_service_name(name, namespace);

    let mut inputs = StatusInputs {
        generation: service.metadata.generation,
        previous: service
            .status
            .as_ref()
            .map(|s| s.conditions.as_slice())
            .unwrap_or_default(),
        model: &model,
        model_detail: model_detail(observation, &model),
        template: &template,
        template_model_missing: None,
        template_gpu_missing: None,
        runtime_config: config
            .as_ref()
            .map(|c| c.reference.clone())
            .map_err(|missing| missing.message()),
        routing: RoutingState::Disabled,
        path: None,
        cache: if service.spec.cache_model {
            CacheState::Waiting
        } else {
            CacheState::NotRequested
        },
        resolved_template_cache: None,
        model_caches: Default::default(),
        runtime: RuntimeState::Absent,
        storage_problem: None,
        image_pull_error: crate::flows::image_pull::image_pull_failure(&observation.pods).map(
            |failure| {
                (
                    failure.condition_reason(),
                    failure.describe("InferenceService"),
                )
            },
        ),
        unschedulable: crate::flows::scheduling::unschedulable_pod(&observation.pods),
    };
    let mut planned_route = None;
    if routing.enabled {
        inputs.routing = match (&routing.gateway_ref, routing::path(&service_json, &routing)) {
            (_, Err(refusal)) => RoutingState::InvalidPath(refusal),
            (None, Ok(path)) => {
                inputs.path = Some(path);
                RoutingState::MissingGateway
            }
            (Some(gateway), Ok(path)) => {
                let mut route = routing::http_route(service, &routing, gateway, &path, &isvc_name);
                let hash = freshness::stamp(&mut route.metadata, &route.spec);
                let observed = observation
                    .http_routes
                    .iter()
                    .find(|r| r.metadata.name == route.metadata.name);
                inputs.path = Some(path);
                planned_route = Some(route);
                RoutingState::Route(routing::progress(observed, &hash))
            }
        };
    } else {
        // Routing turned off: the service's own HTTPRoute goes (the observation lists only
        // routes the service owns).
        plan.delete = observation
            .http_routes
            .iter()
            .filter_map(|route| {
                Some(ObjectReference {
                    api_version: "gateway.networking.k8s.io/v1".to_owned(),
                    kind: "HTTPRoute".to_owned(),
                    name: route.metadata.name.clone()?,
                    namespace: route.metadata.namespace.clone(),
                })
            })
            .collect();
    }

    let mut planned_isvc_hash = None;
    if let TemplateResolution::Found(found) = &template {
        inputs.template_model_missing = template_model_missing(observation, found, &model);
        inputs.template_gpu_missing = found
            .runtime_gpu()
            .filter(|gpu| !gpu_present(Some(gpu), &gpus));
        planned_isvc_hash = plan_runtime(
            observation,
            found,
            &effective_config,
            config.is_ok(),
            planned_route,
            &isvc_name,
            &mut inputs,
            &mut plan,
        );
    }
    let observed_isvc = observation
        .inference_services
        .iter()
        .find(|i| i.metadata.name.as_deref() == Some(isvc_name.as_str()));
    inputs.runtime = runtime::observe(observed_isvc, planned_isvc_hash.as_deref());
    if let RoutingState::Route(progress) = inputs.routing {
        inputs.routing =
            RoutingState::Route(progress.settle(inputs.runtime == RuntimeState::Ready));
    }

    let (projected, status_json) = status::project(&inputs);
    plan.events = transition_events(
        service.status.as_ref().map(|s| s.status),
        projected.status,
        &status_json,
    );
    if projected.status != AIMServiceStatusEnum::Running {
        plan.requeue_after_seconds = Some(REQUEUE_WHILE_NOT_RUNNING_SECONDS);
    }
    plan.status = Some(status_json);
    Ok(plan)
}

/// Caches, volumes, the InferenceService and the HTTPRoute, once a template is known. Returns the
/// spec hash of the InferenceService it plans, if it plans one.
#[allow(clippy::too_many_arguments)]
fn plan_runtime<'a>(
    observation: &'a ServiceObservation,
    template: &ResolvedTemplate,
    config: &runtime_config::EffectiveRuntimeConfig,
    config_ok: bool,
    route: Option<HttpRoute>,
    isvc_name: &str,
    inputs: &mut StatusInputs<'a>,
    plan: &mut Plan,
) -> Option<String> {
    let service = &observation.service;
    let cache_model = service.spec.cache_model;
    let template_cache = observation
        .template_caches
        .iter()
        .find(|c| c.spec.template_ref == template.name());
    let ready = template.state() == aim_api::conditions::AIMTemplateStatusEnum::Ready;
    let sources: Vec<_> = template
        .status
        .as_ref()
        .map(|s| s.model_sources.clone())
        .unwrap_or_default();
    let labels = objects::child_labels(service, template);

    if let Some(cache) = template_cache {
        inputs.resolved_template_cache = Some(template_cache_reference(cache));
        inputs.model_caches = cache
            .status
            .as_ref()
            .map(|s| s.model_caches.clone())
            .unwrap_or_default();
        if cache_model {
            inputs.cache = match cache.status.as_ref().map(|s| s.status).unwrap_or_default() {
                AIMCacheStatus::Available => CacheState::Warm,
                AIMCacheStatus::Failed => CacheState::Failed,
                AIMCacheStatus::Pending | AIMCacheStatus::Progressing => CacheState::Warming,
            };
        }
    } else if cache_model && ready && !sources.is_empty() {
        let cache = objects::template_cache(service, template, config);
        let owner = match template.reference.scope {
            AIMResolutionScope::Namespace => Owner::Object(ObjectReference {
                api_version: aim_api::API_VERSION.to_owned(),
                kind: "AIMServiceTemplate".to_owned(),
                name: template.name().to_owned(),
                namespace: template.reference.namespace.clone(),
            }),
            _ => Owner::None,
        };
        push(plan, &cache, owner);
    }
    if !ready || !config_ok || sources.iter().all(|s| s.source_uri.is_empty()) {
        return None;
    }

    let storage = match storage(observation, template_cache, &sources, cache_model) {
        Storage::Mount(storage) => Some(storage),
        Storage::Wait => {
            // Also without caching requested: another service's cache of this template is
            // warming, and the service waits to mount it rather than download the model twice.
            if inputs.cache == CacheState::NotRequested {
                inputs.cache = CacheState::Warming;
            }
            None
        }
        Storage::Temporary => {
            match objects::temp_pvc(service, isvc_name, &sources, config, labels.clone()) {
                Some(pvc) => {
                    let name = pvc.metadata.name.clone().unwrap_or_default();
                    push(plan, &pvc, Owner::Subject);
                    Some(ModelStorage::Temporary(name))
                }
                None => {
                    inputs.storage_problem = Some(
                        "A model source of the template has no size; cannot size the model volume"
                            .to_owned(),
                    );
                    None
                }
            }
        }
    };
    let mut planned_hash = None;
    if let Some(storage) = &storage {
        if let ModelStorage::Caches(mounted) = storage {
            for (cache, source) in mounted {
                let name = cache.metadata.name.clone().unwrap_or_default();
                if let Some(entry) = inputs.model_caches.get_mut(&name) {
                    entry.mount_point = Some(format!("{}/{source}", objects::MODEL_CACHE_ROOT));
                }
            }
        }
        let model_resources = resolved_model_resources(inputs.model);
        let isvc = objects::inference_service(&InferenceServiceInputs {
            service,
            name: isvc_name,
            template,
            model_resources: model_resources.as_ref(),
            config,
            storage,
            labels: labels.clone(),
        });
        planned_hash = isvc
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotations::SPEC_HASH))
            .cloned();
        push(plan, &isvc, Owner::Subject);
    }
    if let Some(mut route) = route {
        route.metadata.labels = Some(labels);
        push(plan, &route, Owner::Subject);
    }
    planned_hash
}

enum Storage {
    Mount(ModelStorage),
    Temporary,
    Wait,
}

/// Mount an Available template cache's model caches; without caching and without a usable cache,
/// use a temporary volume; with caching requested, wait for the cache.
fn storage(
    observation: &ServiceObservation,
    template_cache: Option<&AIMTemplateCache>,
    sources: &[aim_api::v1alpha1::AIMModelSource],
    cache_model: bool,
) -> Storage {
    let cache_status =
        template_cache.map(|c| c.status.as_ref().map(|s| s.status).unwrap_or_default());
    if cache_status == Some(AIMCacheStatus::Available) {
        let mounted: Option<Vec<_>> = sources
            .iter()
            .filter(|s| !s.source_uri.is_empty())
            .map(|source| {
                observation
                    .model_caches
                    .iter()
                    .find(|mc| {
                        mc.spec.source_uri == source.source_uri
                            && mc
                                .status
                                .as_ref()
                                .is_some_and(|s| s.status == AIMCacheStatus::Available)
                    })
                    .map(|mc| (mc.clone(), source.name.clone().unwrap_or_default()))
            })
            .collect();
        return match (mounted, cache_model) {
            (Some(mounted), _) => Storage::Mount(ModelStorage::Caches(mounted)),
            (None, true) => Storage::Wait,
            (None, false) => Storage::Temporary,
        };
    }
    match (cache_model, cache_status) {
        (true, _) => Storage::Wait,
        (false, None | Some(AIMCacheStatus::Failed)) => Storage::Temporary,
        (false, Some(_)) => Storage::Wait,
    }
}

fn push(plan: &mut Plan, object: &impl serde::Serialize, owner: Owner) {
    if let Ok(object) = serde_json::to_value(object) {
        plan.apply.push(PlannedObject { object, owner });
    }
}

fn resolved_model_resources(
    model: &ModelResolution,
) -> Option<k8s_openapi::api::core::v1::ResourceRequirements> {
    match model {
        ModelResolution::Found(found) => found.resources.clone(),
        _ => None,
    }
}

fn template_cache_reference(cache: &AIMTemplateCache) -> AIMResolvedReference {
    AIMResolvedReference {
        name: cache.metadata.name.clone().unwrap_or_default(),
        namespace: cache.metadata.namespace.clone(),
        scope: AIMResolutionScope::Namespace,
        kind: Some(format!("{}/AIMTemplateCache", aim_api::API_VERSION)),
        uid: cache.metadata.uid.clone(),
        hash: None,
    }
}

/// What a model that is not Ready says about itself: the message of its Ready condition.
fn model_detail(observation: &ServiceObservation, model: &ModelResolution) -> Option<String> {
    let ModelResolution::Found(found) = model else {
        return None;
    };
    let name = Some(found.reference.name.as_str());
    let status = match found.reference.scope {
        AIMResolutionScope::Namespace => observation
            .models
            .iter()
            .find(|m| m.metadata.name.as_deref() == name)
            .and_then(|m| m.status.as_ref()),
        _ => observation
            .cluster_models
            .iter()
            .find(|m| m.metadata.name.as_deref() == name)
            .and_then(|m| m.status.as_ref()),
    }?;
    status
        .conditions
        .iter()
        .find(|c| c.type_ == types::READY && c.status != "True" && !c.message.is_empty())
        .map(|c| c.message.clone())
}

/// The model a template names must exist: an AIMModel beside a namespace template, or an
/// AIMClusterModel.
fn template_model_missing(
    observation: &ServiceObservation,
    template: &ResolvedTemplate,
    model: &ModelResolution,
) -> Option<String> {
    let wanted = template.common.model_name.as_str();
    if model.name() == Some(wanted) {
        return None;
    }
    let cluster = observation
        .cluster_models
        .iter()
        .any(|m| m.metadata.name.as_deref() == Some(wanted));
    match template.reference.scope {
        AIMResolutionScope::Namespace => {
            let namespaced = observation
                .models
                .iter()
                .any(|m| m.metadata.name.as_deref() == Some(wanted));
            let namespace = template.reference.namespace.clone().unwrap_or_default();
            (!namespaced && !cluster)
                .then(|| format!("AIMModel {wanted:?} not found in namespace {namespace:?}"))
        }
        _ => (!cluster).then(|| format!("AIMClusterModel {wanted:?} not found")),
    }
}

/// The service as path templates see it, with the model it resolved to.
fn service_json_with(service: &aim_api::v1alpha1::AIMService, model: &ModelResolution) -> Value {
    let mut json = serde_json::to_value(service).unwrap_or_default();
    if let (ModelResolution::Found(found), Some(object)) = (model, json.as_object_mut()) {
        let status = object
            .entry("status")
            .or_insert_with(|| Value::Object(Default::default()));
        if let (Some(status), Ok(reference)) = (
            status.as_object_mut(),
            serde_json::to_value(&found.reference),
        ) {
            status.insert("resolvedImage".into(), reference);
        }
    }
    json
}

/// An Event when the overall state changes: Warning for Failed and Degraded, with the reason and
/// message of the Ready condition.
fn transition_events(
    previous: Option<AIMServiceStatusEnum>,
    now: AIMServiceStatusEnum,
    status: &Value,
) -> Vec<PlannedEvent> {
    if previous == Some(now) {
        return Vec::new();
    }
    let ready = status["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == types::READY));
    let field = |key: &str| {
        ready
            .and_then(|c| c[key].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let type_ = match now {
        AIMServiceStatusEnum::Failed | AIMServiceStatusEnum::Degraded => EventType::Warning,
        _ => EventType::Normal,
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
fn finalize(observation: &ServiceObservation, name: &str) -> Plan {
    let label = sanitize_label_value(name);
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
        api_version: PLAN_API_VERSION.to_owned(),
        delete,
        ..Plan::default()
    }
}

fn invalid(message: &str) -> PolicyFailure {
    PolicyFailure::InvalidInput(message.to_owned())
}
