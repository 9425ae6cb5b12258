//! The AIMService controller: watches services and everything they depend on, and reconciles each
//! service through the policy's service flow.

use std::sync::Arc;

use aim_api::v1alpha1::AIMService;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::dependency_index::Dependency;
use super::error::Error;
use super::identity::SERVICE;
use super::pipeline;
use super::runner;
use super::stores::Stores;
use crate::observe::Observe;

/// Observe and reconcile one service.
pub async fn reconcile(service: Arc<AIMService>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = service
        .namespace()
        .ok_or_else(|| Error::InvalidObject("an AIMService without a namespace".into()))?;
    if service.metadata.deletion_timestamp.is_some() {
        ctx.released_models.release(&service);
    }
    let observation = ctx.stores.service_observation(&service);
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::reconcile(&ctx, &SERVICE, &api, service.as_ref(), &observation, None).await
}

/// Runs the service controller, woken by changes of the objects services depend on (through the
/// dependency index) and of their children.
pub async fn run(ctx: Arc<Context>, concurrency: u16) {
    let index = ctx.stores.indexes.services.clone();
    let lookup = move |dependencies: Vec<Dependency>, namespace: Option<String>| {
        index.dependents(&dependencies, namespace.as_deref())
    };
    let (by_template, by_cluster_template, by_model, by_cluster_model) = (
        lookup.clone(),
        lookup.clone(),
        lookup.clone(),
        lookup.clone(),
    );
    let (by_cache, by_config, by_cluster_config, by_node, by_policy) = (
        lookup.clone(),
        lookup.clone(),
        lookup.clone(),
        lookup.clone(),
        lookup,
    );
    let stores = ctx.stores.clone();
    let controller = ctx
        .stores
        .services
        .controller()
        .owns_shared_stream(ctx.stores.inference_services.changes())
        .owns_shared_stream(ctx.stores.http_routes.changes())
        .owns_shared_stream(ctx.stores.persistent_volume_claims.changes())
        .watches_shared_stream(ctx.stores.templates.changes(), move |t| {
            let uses = vec![
                Dependency::Template(t.name_any()),
                Dependency::SelectsForModel(t.spec.common.model_name.clone()),
            ];
            by_template(uses, t.namespace())
        })
        .watches_shared_stream(ctx.stores.cluster_templates.changes(), move |t| {
            let uses = vec![
                Dependency::Template(t.name_any()),
                Dependency::SelectsForModel(t.spec.common.model_name.clone()),
            ];
            by_cluster_template(uses, None)
        })
        .watches_shared_stream(ctx.stores.models.changes(), move |m| {
            by_model(
                vec![
                    Dependency::Model(m.name_any()),
                    Dependency::Image(m.spec.common.image.clone()),
                ],
                m.namespace(),
            )
        })
        .watches_shared_stream(ctx.stores.cluster_models.changes(), move |m| {
            by_cluster_model(
                vec![
                    Dependency::Model(m.name_any()),
                    Dependency::Image(m.spec.common.image.clone()),
                ],
                None,
            )
        })
        .watches_shared_stream(ctx.stores.template_caches.changes(), move |c| {
            by_cache(
                vec![Dependency::Template(c.spec.template_ref.clone())],
                c.namespace(),
            )
        })
        .watches_shared_stream(ctx.stores.runtime_configs.changes(), move |c| {
            by_config(vec![Dependency::RuntimeConfig(c.name_any())], c.namespace())
        })
        .watches_shared_stream(ctx.stores.cluster_runtime_configs.changes(), move |c| {
            by_cluster_config(vec![Dependency::RuntimeConfig(c.name_any())], None)
        })
        // A policy activated, replaced or removed changes the plans of services whose runtime
        // config names it.
        .watches_shared_stream(ctx.stores.policies.changes(), move |p| {
            configs_naming(&stores, &p.name_any())
                .into_iter()
                .flat_map(|(config, namespace)| {
                    by_policy(vec![Dependency::RuntimeConfig(config)], namespace)
                })
                .collect::<Vec<_>>()
        })
        // GPU labels decide which templates can be selected; a node change may unblock a service.
        .watches_shared_stream(ctx.stores.nodes.changes(), move |_| {
            by_node(vec![Dependency::NotRunning], None)
        });
    runner::run("service", controller, ctx, concurrency, reconcile).await;
}

/// Runtime configs naming `policy`: (name, namespace), no namespace for cluster configs.
fn configs_naming(stores: &Stores, policy: &str) -> Vec<(String, Option<String>)> {
    let names = |common: &aim_api::v1alpha1::AIMRuntimeConfigCommon| {
        common.policy_name.as_deref() == Some(policy)
    };
    let namespaced = stores
        .runtime_configs
        .state()
        .into_iter()
        .filter(|c| names(&c.spec.common))
        .map(|c| (c.name_any(), c.namespace()));
    let cluster = stores
        .cluster_runtime_configs
        .state()
        .into_iter()
        .filter(|c| names(&c.spec.common))
        .map(|c| (c.name_any(), None));
    namespaced.chain(cluster).collect()
}
