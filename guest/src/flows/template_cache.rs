//! Planning for AIMTemplateCache: one model cache per model source of the template, reusing the
//! best existing cache of the same source and storage class; the status is the worst of them. On
//! deletion, caches it created that never became Available are removed.

use std::collections::BTreeMap;

use aim_api::conditions::{
    ConditionStatus, finalizers, flow_reasons, label_values, labels, reasons, types,
};
use aim_api::policy::observation::TemplateCacheObservation;
use aim_api::policy::plan::{ObjectReference, Owner, Plan, PlannedObject};
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMModelCache, AIMModelCacheSpec, AIMModelSource, AIMResolvedModelCache,
    AIMTemplateCache, AIMTemplateCacheStatus, DEFAULT_MODEL_DOWNLOAD_IMAGE,
};

use crate::PolicyFailure;
use crate::conditions::Conditions;
use crate::flows::model_cache::WAITING_RECHECK_SECONDS;
use crate::flows::support::{label_map, new_plan, status_document, to_json};
use crate::names::sanitize_label_value;
use crate::resource_names::model_cache_name;

use ConditionStatus::{False, True};

/// Plans one template cache.
pub fn plan_template_cache(observation: &TemplateCacheObservation) -> Result<Plan, PolicyFailure> {
    let cache = &observation.template_cache;
    let name = cache.metadata.name.as_deref().unwrap_or_default();
    let namespace = cache.metadata.namespace.as_deref().unwrap_or_default();
    let own_caches: Vec<&AIMModelCache> = observation
        .model_caches
        .iter()
        .filter(|mc| {
            mc.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::TEMPLATE_CACHE))
                .map(String::as_str)
                == Some(name)
        })
        .collect();
    let mut plan = new_plan();
    if cache.metadata.deletion_timestamp.is_some() {
        // Downloads that finished are kept for whoever comes next; the rest are abandoned.
        plan.delete = own_caches
            .into_iter()
            .filter(|mc| status_of(mc) != AIMCacheStatus::Available)
            .map(|mc| model_cache_reference(mc, namespace))
            .collect();
        return Ok(plan);
    }
    plan.finalizers = vec![finalizers::TEMPLATE_CACHE_CLEANUP.to_owned()];

    let previous = cache.status.as_ref();
    let mut conditions = Conditions::new(
        previous.map_or(&[][..], |s| &s.conditions[..]),
        cache.metadata.generation,
    );
    let (template_kind, sources) = match (&observation.template, &observation.cluster_template) {
        (Some(template), _) => (
            Some("AIMServiceTemplate"),
            template_sources(template.status.as_ref()),
        ),
        (None, Some(template)) => (
            Some("AIMClusterServiceTemplate"),
            template_sources(template.status.as_ref()),
        ),
        (None, None) => (None, Vec::new()),
    };
    let mut status = AIMTemplateCacheStatus {
        observed_generation: cache.metadata.generation,
        resolved_template_kind: template_kind.map(str::to_owned),
        ..AIMTemplateCacheStatus::default()
    };
    if template_kind.is_none() {
        let message = format!(
            "Waiting for template {:?} to be created",
            cache.spec.template_ref
        );
        conditions.set(
            types::TEMPLATE_NOT_FOUND,
            True,
            reasons::AWAITING_TEMPLATE,
            &message,
        );
        conditions.set(types::READY, False, reasons::AWAITING_TEMPLATE, &message);
        plan.status = Some(status_document(&status, conditions)?);
        return Ok(plan);
    }

    let mut worst = AIMCacheStatus::Available;
    for source in &sources {
        let found = best_model_cache(cache, &observation.model_caches, source);
        // A cache still to be created counts as Pending, so the total is never ahead of it.
        let source_status = found.map_or(AIMCacheStatus::Pending, status_of);
        worst = std::cmp::min_by_key(worst, source_status, |status| rank(*status));
        match found {
            Some(model_cache) => {
                let entry = resolved(model_cache, source);
                status.model_caches.insert(entry.name.clone(), entry);
            }
            None => {
                let object = to_json(&new_model_cache(cache, name, namespace, source))?;
                plan.apply.push(PlannedObject {
                    object,
                    owner: Owner::None,
                });
            }
        }
    }
    // Nothing to cache yet (the template has not discovered its sources) is not Available.
    status.status = if sources.is_empty() {
        AIMCacheStatus::Pending
    } else {
        worst
    };
    set_conditions(
        &mut conditions,
        status.status,
        &status.model_caches,
        sources.len(),
    );
    // Model caches progress on their own; a change observed late must not leave this one behind
    // until the next full resync.
    if matches!(
        status.status,
        AIMCacheStatus::Pending | AIMCacheStatus::Progressing
    ) {
        plan.requeue_after_seconds = Some(WAITING_RECHECK_SECONDS);
    }
    plan.status = Some(status_document(&status, conditions)?);
    Ok(plan)
}

fn template_sources(
    status: Option<&aim_api::v1alpha1::AIMServiceTemplateStatus>,
) -> Vec<AIMModelSource> {
    status.map(|s| s.model_sources.clone()).unwrap_or_default()
}

fn status_of(model_cache: &AIMModelCache) -> AIMCacheStatus {
    model_cache
        .status
        .as_ref()
        .map(|s| s.status)
        .unwrap_or_default()
}

/// Cache statuses from worst (0) to best.
fn rank(status: AIMCacheStatus) -> u8 {
    match status {
        AIMCacheStatus::Failed => 0,
        AIMCacheStatus::Pending => 1,
        AIMCacheStatus::Progressing => 2,
        AIMCacheStatus::Available => 3,
    }
}

/// The best cache holding a source: same URI, a storage class the template cache accepts, highest
/// status; ties go to the cache with the name this template cache would give it, then by name.
fn best_model_cache<'a>(
    cache: &AIMTemplateCache,
    model_caches: &'a [AIMModelCache],
    source: &AIMModelSource,
) -> Option<&'a AIMModelCache> {
    let wanted_class = cache
        .spec
        .storage_class_name
        .as_deref()
        .filter(|class| !class.is_empty());
    let own_name = source_cache_name(source);
    model_caches
        .iter()
        .filter(|mc| mc.spec.source_uri == source.source_uri)
        .filter(|mc| {
            wanted_class.is_none_or(|class| mc.spec.storage_class_name.as_deref() == Some(class))
        })
        .max_by_key(|mc| {
            let name = mc.metadata.name.as_deref().unwrap_or_default();
            (
                rank(status_of(mc)),
                name == own_name,
                std::cmp::Reverse(name.to_owned()),
            )
        })
}

/// The cache name of a source: from its name, else from its URI without the scheme.
fn source_cache_name(source: &AIMModelSource) -> String {
    let name = source.name.as_deref().filter(|n| !n.trim().is_empty());
    model_cache_name(name.unwrap_or_else(|| source_without_scheme(&source.source_uri)))
}

fn source_without_scheme(uri: &str) -> &str {
    uri.split_once("://").map_or(uri, |(_, rest)| rest)
}

fn new_model_cache(
    cache: &AIMTemplateCache,
    name: &str,
    namespace: &str,
    source: &AIMModelSource,
) -> AIMModelCache {
    let source_label = source
        .name
        .as_deref()
        .unwrap_or_else(|| source_without_scheme(&source.source_uri));
    let mut model_cache = AIMModelCache::new(
        &source_cache_name(source),
        AIMModelCacheSpec {
            source_uri: source.source_uri.clone(),
            storage_class_name: cache
                .spec
                .storage_class_name
                .clone()
                .filter(|c| !c.is_empty()),
            size: source.size.clone(),
            env: cache.spec.env.clone(),
            model_download_image: cache
                .spec
                .download_image
                .clone()
                .filter(|image| !image.is_empty())
                .unwrap_or_else(|| DEFAULT_MODEL_DOWNLOAD_IMAGE.to_owned()),
            image_pull_secrets: cache.spec.image_pull_secrets.clone(),
            runtime_config_name: cache.spec.runtime_config_name.clone(),
        },
    );
    model_cache.metadata.namespace = Some(namespace.to_owned());
    model_cache.metadata.labels = Some(label_map(&[
        (labels::TEMPLATE_CREATED, label_values::TRUE),
        (labels::TEMPLATE_CACHE, name),
        (labels::SOURCE_MODEL, &sanitize_label_value(source_label)),
    ]));
    model_cache
}

fn resolved(model_cache: &AIMModelCache, source: &AIMModelSource) -> AIMResolvedModelCache {
    let status = model_cache.status.as_ref();
    AIMResolvedModelCache {
        uid: model_cache.metadata.uid.clone().unwrap_or_default(),
        name: model_cache.metadata.name.clone().unwrap_or_default(),
        model: source.name.clone().unwrap_or_default(),
        status: status_of(model_cache),
        persistent_volume_claim: status.and_then(|s| s.persistent_volume_claim.clone()),
        mount_point: None,
    }
}

fn model_cache_reference(model_cache: &AIMModelCache, namespace: &str) -> ObjectReference {
    ObjectReference {
        api_version: aim_api::API_VERSION.to_owned(),
        kind: "AIMModelCache".to_owned(),
        name: model_cache.metadata.name.clone().unwrap_or_default(),
        namespace: Some(
            model_cache
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| namespace.to_owned()),
        ),
    }
}

fn set_conditions(
    conditions: &mut Conditions<'_>,
    status: AIMCacheStatus,
    found: &BTreeMap<String, AIMResolvedModelCache>,
    sources: usize,
) {
    let available = found
        .values()
        .filter(|mc| mc.status == AIMCacheStatus::Available)
        .count();
    let progress = format!("{available} of {sources} model cache(s) available");
    match status {
        AIMCacheStatus::Available => {
            conditions.set(
                types::READY,
                True,
                reasons::WARM,
                "All model caches are available",
            );
            conditions.set(types::FAILURE, False, reasons::NO_FAILURE, "No failure");
        }
        AIMCacheStatus::Failed => {
            let failed: Vec<&str> = found
                .values()
                .filter(|mc| mc.status == AIMCacheStatus::Failed)
                .map(|mc| mc.name.as_str())
                .collect();
            let message = format!("Model cache(s) failed: {}", failed.join(", "));
            conditions.set(types::READY, False, reasons::FAILED, &message);
            conditions.set(types::FAILURE, True, reasons::FAILED, &message);
        }
        AIMCacheStatus::Pending | AIMCacheStatus::Progressing => {
            conditions.set(types::READY, False, flow_reasons::WARMING, &progress);
            conditions.set(types::FAILURE, False, reasons::NO_FAILURE, "No failure");
        }
    }
}
