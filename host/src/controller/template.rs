//! The AIMServiceTemplate and AIMClusterServiceTemplate controllers: discovery Jobs, their results
//! (read from the Job pod's log), serving runtimes and template caches, through the template flow.

use std::sync::Arc;

use aim_api::policy::plan::Plan;
use aim_api::v1alpha1::{AIMClusterServiceTemplate, AIMServiceTemplate};
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::context::Context;
use super::dependency_index::Dependency;
use super::error::{Error, Request};
use super::identity::{CLUSTER_TEMPLATE, TEMPLATE};
use super::inputs::plan_with_input;
use super::pipeline;
use super::runner;
use super::stores::Stores;
use crate::cluster::pod_logs::discovery_log;
use crate::observe::{Observe, Scoped, owned_by, work_namespace};

async fn reconcile_namespaced(
    template: Arc<AIMServiceTemplate>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = template
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a template without a namespace".into()))?;
    let observe = |log| {
        ctx.stores.template_observation(
            Scoped::Namespaced(&template),
            &ctx.settings.operator_namespace,
            log,
        )
    };
    let subject = pipeline::plan_subject(template.as_ref(), None);
    let fetch = async |plan: &Plan| requested_log(&ctx, &namespace, template.as_ref(), plan).await;
    let (observation, plan) =
        plan_with_input(&ctx, TEMPLATE.subject, &subject, observe, fetch).await;
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::carry_out(&ctx, &TEMPLATE, &api, template.as_ref(), &observation, plan).await
}

async fn reconcile_cluster(
    template: Arc<AIMClusterServiceTemplate>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // Its Jobs run where its model's work runs: the namespace the model was created for, or
    // the operator's.
    let operator_namespace = &ctx.settings.operator_namespace;
    let model = ctx
        .stores
        .cluster_models
        .get(&ObjectRef::new(&template.spec.common.model_name));
    let namespace = work_namespace(model.as_deref(), operator_namespace);
    let observe = |log| {
        ctx.stores
            .template_observation(Scoped::Cluster(&template), operator_namespace, log)
    };
    let acting_for = (namespace != *operator_namespace).then_some(namespace.as_str());
    let subject = pipeline::plan_subject(template.as_ref(), acting_for);
    let fetch = async |plan: &Plan| requested_log(&ctx, &namespace, template.as_ref(), plan).await;
    let (observation, plan) =
        plan_with_input(&ctx, CLUSTER_TEMPLATE.subject, &subject, observe, fetch).await;
    let api = Api::all(ctx.client.clone());
    pipeline::carry_out(
        &ctx,
        &CLUSTER_TEMPLATE,
        &api,
        template.as_ref(),
        &observation,
        plan,
    )
    .await
}

/// The output of the discovery Job `plan` asks for, read from its pod's log in `namespace`. The
/// name comes from the policy, so only a Job the template controls is read.
async fn requested_log<T: Resource<DynamicType = ()>>(
    ctx: &Context,
    namespace: &str,
    template: &T,
    plan: &Plan,
) -> Result<Option<String>, Error> {
    let Some(request) = &plan.read_discovery_log else {
        return Ok(None);
    };
    let jobs: Vec<Job> = owned_by(&ctx.stores, template);
    let Some(job) = jobs.iter().find(|job| job.name_any() == request.job) else {
        tracing::warn!(job = %request.job, "the plan asks for the log of a Job the template does not control; not read");
        return Ok(None);
    };
    discovery_log(&ctx.client, namespace, job)
        .await
        .map_err(|e| Error::kube(Request::DiscoveryLog(job.name_any()), e))
}

/// Runs both template controllers.
pub async fn run(ctx: Arc<Context>, concurrency: u16) {
    let namespaced = namespaced_controller(&ctx.stores);
    let cluster = cluster_controller(&ctx.stores);
    futures::join!(
        runner::run(
            "template",
            namespaced,
            ctx.clone(),
            concurrency,
            reconcile_namespaced
        ),
        runner::run(
            "cluster-template",
            cluster,
            ctx,
            concurrency,
            reconcile_cluster
        ),
    );
}

fn namespaced_controller(stores: &Stores) -> Controller<AIMServiceTemplate> {
    let index = &stores.indexes.templates;
    let (by_config, by_model, by_node) = (index.clone(), index.clone(), index.clone());
    stores
        .templates
        .controller()
        .owns_shared_stream(stores.jobs.changes())
        .owns_shared_stream(stores.serving_runtimes.changes())
        .watches_shared_stream(stores.runtime_configs.changes(), move |config| {
            by_config.dependents(
                &[Dependency::RuntimeConfig(config.name_any())],
                config.namespace().as_deref(),
            )
        })
        .watches_shared_stream(stores.models.changes(), move |model| {
            by_model.dependents(
                &[Dependency::Model(model.name_any())],
                model.namespace().as_deref(),
            )
        })
        .watches_shared_stream(stores.nodes.changes(), move |_| {
            by_node.dependents(&[Dependency::Gpu], None)
        })
}

fn cluster_controller(stores: &Stores) -> Controller<AIMClusterServiceTemplate> {
    let index = &stores.indexes.cluster_templates;
    let (by_config, by_model, by_node) = (index.clone(), index.clone(), index.clone());
    stores
        .cluster_templates
        .controller()
        .owns_shared_stream(stores.jobs.changes())
        .owns_shared_stream(stores.cluster_serving_runtimes.changes())
        .watches_shared_stream(stores.cluster_runtime_configs.changes(), move |config| {
            by_config.dependents(&[Dependency::RuntimeConfig(config.name_any())], None)
        })
        .watches_shared_stream(stores.cluster_models.changes(), move |model| {
            by_model.dependents(&[Dependency::Model(model.name_any())], None)
        })
        .watches_shared_stream(stores.nodes.changes(), move |_| {
            by_node.dependents(&[Dependency::Gpu], None)
        })
}
