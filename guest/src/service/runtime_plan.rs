//! What a service deploys once its template is known: the template cache it asks for, where its
//! models come from (mounted caches or a temporary volume), its InferenceService and its
//! HTTPRoute, and what of that its status reports. Decided here without emitting anything.

use std::collections::BTreeMap;

use aim_api::conditions::{AIMTemplateStatusEnum, annotations};
use aim_api::kserve::InferenceService;
use aim_api::policy::observation::ServiceObservation;
use aim_api::policy::plan::{ObjectReference, Owner};
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMModelSource, AIMResolutionScope, AIMResolvedModelCache,
    AIMResolvedReference, AIMTemplateCache,
};
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, ResourceRequirements};

use super::facts::{ServiceFacts, ServiceSubject};
use super::model::ModelResolution;
use super::objects::{self, InferenceServiceInputs, ModelStorage};
use super::status::CacheState;
use super::template::ResolvedTemplate;

/// What the service deploys, and what its status says about caches and storage.
#[derive(Debug, Clone)]
pub struct RuntimePlan {
    pub objects: RuntimeObjects,
    pub report: RuntimeReport,
}

/// The objects to apply, in the order they are applied.
#[derive(Debug, Clone, Default)]
pub struct RuntimeObjects {
    /// The template cache to create, with its owner.
    pub template_cache: Option<(AIMTemplateCache, Owner)>,
    pub temporary_volume: Option<PersistentVolumeClaim>,
    pub inference_service: Option<InferenceService>,
    /// The HTTPRoute, labelled like every child; applied only with a deployable runtime.
    pub route: Option<HttpRoute>,
}

impl RuntimeObjects {
    /// The spec hash of the InferenceService it plans, if it plans one.
    pub fn inference_service_hash(&self) -> Option<&str> {
        self.inference_service
            .as_ref()?
            .metadata
            .annotations
            .as_ref()?
            .get(annotations::SPEC_HASH)
            .map(String::as_str)
    }
}

/// What the status reports about caching and storage.
#[derive(Debug, Clone)]
pub struct RuntimeReport {
    pub cache: CacheState,
    pub resolved_template_cache: Option<AIMResolvedReference>,
    /// The template cache's model caches, with where each is mounted.
    pub model_caches: BTreeMap<String, AIMResolvedModelCache>,
    /// Why the InferenceService could not be planned even though everything was resolved.
    pub storage_problem: Option<String>,
}

impl RuntimePlan {
    /// Nothing to deploy (no template yet): caching waits if it is requested.
    pub fn nothing(subject: &ServiceSubject<'_>) -> Self {
        RuntimePlan {
            objects: RuntimeObjects::default(),
            report: RuntimeReport {
                cache: requested_cache(subject),
                resolved_template_cache: None,
                model_caches: BTreeMap::new(),
                storage_problem: None,
            },
        }
    }
}

fn requested_cache(subject: &ServiceSubject<'_>) -> CacheState {
    if subject.service.spec.cache_model {
        CacheState::Waiting
    } else {
        CacheState::NotRequested
    }
}

/// Caches, volumes, the InferenceService and the HTTPRoute (`route`, as routing planned it) for
/// `template`.
pub fn decide(
    observation: &ServiceObservation,
    subject: &ServiceSubject<'_>,
    facts: &ServiceFacts,
    template: &ResolvedTemplate,
    route: Option<HttpRoute>,
) -> RuntimePlan {
    let service = subject.service;
    let cache_model = service.spec.cache_model;
    let mut plan = RuntimePlan::nothing(subject);
    let template_cache = observation
        .template_caches
        .iter()
        .find(|c| c.spec.template_ref == template.name());
    let ready = template.state() == AIMTemplateStatusEnum::Ready;
    let sources: Vec<_> = template
        .status
        .as_ref()
        .map(|s| s.model_sources.clone())
        .unwrap_or_default();
    let labels = objects::child_labels(service, template);

    if let Some(cache) = template_cache {
        plan.report.resolved_template_cache = Some(template_cache_reference(cache));
        plan.report.model_caches = cache
            .status
            .as_ref()
            .map(|s| s.model_caches.clone())
            .unwrap_or_default();
        if cache_model {
            plan.report.cache = match cache.status.as_ref().map(|s| s.status).unwrap_or_default() {
                AIMCacheStatus::Available => CacheState::Warm,
                AIMCacheStatus::Failed => CacheState::Failed,
                AIMCacheStatus::Pending | AIMCacheStatus::Progressing => CacheState::Warming,
            };
        }
    } else if cache_model && ready && !sources.is_empty() {
        let cache = objects::template_cache(service, template, &facts.config);
        plan.objects.template_cache = Some((cache, template_cache_owner(template)));
    }
    if !ready || facts.runtime_config.is_err() || sources.iter().all(|s| s.source_uri.is_empty()) {
        return plan;
    }

    let storage = match storage(observation, template_cache, &sources, cache_model) {
        Storage::Mount(storage) => Some(storage),
        Storage::Wait => {
            // Also without caching requested: another service's cache of this template is
            // warming, and the service waits to mount it rather than download the model twice.
            if plan.report.cache == CacheState::NotRequested {
                plan.report.cache = CacheState::Warming;
            }
            None
        }
        Storage::Temporary => {
            let pvc = objects::temp_pvc(
                service,
                &facts.isvc_name,
                &sources,
                &facts.config,
                labels.clone(),
            );
            match pvc {
                Some(pvc) => {
                    let name = pvc.metadata.name.clone().unwrap_or_default();
                    plan.objects.temporary_volume = Some(pvc);
                    Some(ModelStorage::Temporary(name))
                }
                None => {
                    plan.report.storage_problem = Some(
                        "A model source of the template has no size; cannot size the model volume"
                            .to_owned(),
                    );
                    None
                }
            }
        }
    };
    if let Some(storage) = &storage {
        if let ModelStorage::Caches(mounted) = storage {
            for (cache, source) in mounted {
                let name = cache.metadata.name.clone().unwrap_or_default();
                if let Some(entry) = plan.report.model_caches.get_mut(&name) {
                    entry.mount_point = Some(format!("{}/{source}", objects::MODEL_CACHE_ROOT));
                }
            }
        }
        plan.objects.inference_service =
            Some(objects::inference_service(&InferenceServiceInputs {
                service,
                name: &facts.isvc_name,
                template,
                model_resources: model_resources(&facts.model),
                config: &facts.config,
                storage,
                labels: labels.clone(),
            }));
    }
    plan.objects.route = route.map(|mut route| {
        route.metadata.labels = Some(labels);
        route
    });
    plan
}

/// A namespace template owns its cache; a cluster template cannot own a namespaced object.
fn template_cache_owner(template: &ResolvedTemplate) -> Owner {
    match template.reference.scope {
        AIMResolutionScope::Namespace => Owner::Object(ObjectReference {
            api_version: aim_api::API_VERSION.to_owned(),
            kind: "AIMServiceTemplate".to_owned(),
            name: template.name().to_owned(),
            namespace: template.reference.namespace.clone(),
        }),
        _ => Owner::None,
    }
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
    sources: &[AIMModelSource],
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

/// The model's resources, the lowest-precedence ones of the InferenceService.
fn model_resources(model: &ModelResolution) -> Option<&ResourceRequirements> {
    match model {
        ModelResolution::Found(found) => found.resources.as_ref(),
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
