//! The AIMTemplateCache and AIMModelCache controllers: model caches per model source, and a volume
//! plus a download Job per model cache.

use std::sync::Arc;

use aim_api::policy::plan::Plan;
use aim_api::v1alpha1::{AIMModelCache, AIMTemplateCache};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::dependency_index::Dependency;
use super::error::Error;
use super::identity::{MODEL_CACHE, TEMPLATE_CACHE};
use super::inputs::plan_with_input;
use super::pipeline;
use super::runner;
use crate::observe::{Observe, owned_by};

async fn reconcile_template_cache(
    cache: Arc<AIMTemplateCache>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = cache
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a template cache without a namespace".into()))?;
    let observation = ctx.stores.template_cache_observation(&cache);
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::reconcile(
        &ctx,
        &TEMPLATE_CACHE,
        &api,
        cache.as_ref(),
        &observation,
        None,
    )
    .await
}

async fn reconcile_model_cache(
    cache: Arc<AIMModelCache>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = cache
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a model cache without a namespace".into()))?;
    let claims: Vec<PersistentVolumeClaim> = owned_by(&ctx.stores, cache.as_ref());
    // A mode read for an earlier reconcile is in the first observation: the plan asks only once.
    let known = claims
        .iter()
        .find_map(storage_class)
        .and_then(|class| ctx.binding_modes.known(class));
    let observe = |read: Option<String>| {
        ctx.stores
            .model_cache_observation(&cache, read.or_else(|| known.clone()))
    };
    let subject = pipeline::plan_subject(cache.as_ref(), None);
    let fetch = async |plan: &Plan| Ok(requested_binding_mode(&ctx, &claims, plan).await);
    let (observation, plan) =
        plan_with_input(&ctx, MODEL_CACHE.subject, &subject, observe, fetch).await;
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::carry_out(&ctx, &MODEL_CACHE, &api, cache.as_ref(), &observation, plan).await
}

/// The binding mode of the storage class `plan` asks for (`WaitForFirstConsumer` lets the download
/// start before the claim is bound). The class comes from the policy, so only the class of a claim
/// the cache controls is read. `None` when there is nothing to read or the class can't be read.
async fn requested_binding_mode(
    ctx: &Context,
    claims: &[PersistentVolumeClaim],
    plan: &Plan,
) -> Option<String> {
    let class = &plan.read_binding_mode.as_ref()?.storage_class;
    if !claims
        .iter()
        .any(|claim| storage_class(claim) == Some(class))
    {
        tracing::warn!(%class, "the plan asks for the binding mode of a class no claim of the cache uses; not read");
        return None;
    }
    ctx.binding_modes.of(&ctx.client, class).await
}

fn storage_class(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim.spec.as_ref()?.storage_class_name.as_deref()
}

/// Runs both cache controllers.
pub async fn run(ctx: Arc<Context>, concurrency: u16) {
    let index = &ctx.stores.indexes.template_caches;
    let (by_model_cache, by_template, by_cluster_template) =
        (index.clone(), index.clone(), index.clone());
    let template_caches = ctx
        .stores
        .template_caches
        .controller()
        .watches_shared_stream(ctx.stores.model_caches.changes(), move |mc| {
            // A model cache made for a template cache names it; shared ones may serve any.
            match mc.labels().get(aim_api::conditions::labels::TEMPLATE_CACHE) {
                Some(owner) => {
                    vec![ObjectRef::new(owner).within(&mc.namespace().unwrap_or_default())]
                }
                None => by_model_cache
                    .dependents(&[Dependency::AnyInNamespace], mc.namespace().as_deref()),
            }
        })
        .watches_shared_stream(ctx.stores.templates.changes(), move |t| {
            by_template.dependents(
                &[Dependency::Template(t.name_any())],
                t.namespace().as_deref(),
            )
        })
        .watches_shared_stream(ctx.stores.cluster_templates.changes(), move |t| {
            by_cluster_template.dependents(&[Dependency::Template(t.name_any())], None)
        });
    let model_caches = ctx
        .stores
        .model_caches
        .controller()
        .owns_shared_stream(ctx.stores.persistent_volume_claims.changes())
        .owns_shared_stream(ctx.stores.jobs.changes());
    futures::join!(
        runner::run(
            "template-cache",
            template_caches,
            ctx.clone(),
            concurrency,
            reconcile_template_cache
        ),
        runner::run(
            "model-cache",
            model_caches,
            ctx,
            concurrency,
            reconcile_model_cache
        ),
    );
}
