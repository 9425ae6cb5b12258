//! The AIMServiceTemplate and AIMClusterServiceTemplate controllers: discovery Jobs, their results
//! (read from the Job pod's log), serving runtimes and template caches, through the template flow.

use std::sync::Arc;

use aim_api::conditions::AIMTemplateStatusEnum;
use aim_api::v1alpha1::{AIMClusterServiceTemplate, AIMServiceTemplate, AIMServiceTemplateStatus};
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};

use super::context::Context;
use super::dependency_index::Dependency;
use super::error::Error;
use super::indexed;
use super::pipeline::{self, Flow};
use super::runner;
use super::stores::Stores;
use super::tolerant::Decoding;
use crate::cluster::pod_logs::discovery_log;
use crate::policy::PlanFlow;
use crate::snapshot::{Scoped, owned_by, work_namespace};

const NAMESPACED: Flow = Flow {
    plan: PlanFlow::Template,
    manager: "aim-namespace-template-controller",
};
const CLUSTER: Flow = Flow {
    plan: PlanFlow::Template,
    manager: "aim-cluster-template-controller",
};

async fn reconcile_namespaced(
    template: Arc<AIMServiceTemplate>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let namespace = template
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a template without a namespace".into()))?;
    let mut snapshot = ctx.stores.snapshot_of(&namespace, template.as_ref());
    snapshot.discovery_load = ctx.stores.discovery_load();
    let jobs = owned_by(&snapshot.jobs, template.as_ref());
    let log = discovery_result(&ctx, &namespace, template.status.as_ref(), &jobs).await?;
    let observation = snapshot.template_observation(
        Scoped::Namespaced(&template),
        &ctx.settings.operator_namespace,
        log,
    );
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::reconcile(
        &ctx,
        &NAMESPACED,
        &api,
        template.as_ref(),
        &observation,
        None,
    )
    .await
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
    let mut snapshot = ctx.stores.snapshot_of(&namespace, template.as_ref());
    snapshot.discovery_load = ctx.stores.discovery_load();
    let jobs = owned_by(&snapshot.jobs, template.as_ref());
    let log = discovery_result(&ctx, &namespace, template.status.as_ref(), &jobs).await?;
    let observation =
        snapshot.template_observation(Scoped::Cluster(&template), operator_namespace, log);
    let api = Api::all(ctx.client.clone());
    let acting_for = (namespace != *operator_namespace).then_some(namespace.as_str());
    pipeline::reconcile(
        &ctx,
        &CLUSTER,
        &api,
        template.as_ref(),
        &observation,
        acting_for,
    )
    .await
}

/// The log of the newest discovery Job, when it succeeded and the template still needs it (a
/// Ready template never looks at its Job again).
async fn discovery_result(
    ctx: &Context,
    namespace: &str,
    status: Option<&AIMServiceTemplateStatus>,
    jobs: &[Job],
) -> Result<Option<String>, Error> {
    if status.is_some_and(|s| s.status == AIMTemplateStatusEnum::Ready) {
        return Ok(None);
    }
    finished_discovery_log(ctx, namespace, jobs).await
}

/// The log of the newest discovery Job, when it succeeded.
async fn finished_discovery_log(
    ctx: &Context,
    namespace: &str,
    jobs: &[Job],
) -> Result<Option<String>, Error> {
    let newest = jobs
        .iter()
        .max_by_key(|job| job.metadata.creation_timestamp.clone().map(|t| t.0));
    let Some(job) =
        newest.filter(|job| job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) > 0)
    else {
        return Ok(None);
    };
    discovery_log(&ctx.client, namespace, job)
        .await
        .map_err(|e| {
            Error::kube(
                format!("reading the log of discovery job {}", job.name_any()),
                e,
            )
        })
}

/// Runs both template controllers.
pub async fn run(client: Client, ctx: Arc<Context>, concurrency: u16) {
    let namespaced = namespaced_controller(&client, &ctx.stores);
    let cluster = cluster_controller(&client, &ctx.stores);
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

fn namespaced_controller(client: &Client, stores: &Stores) -> Controller<AIMServiceTemplate> {
    let (controller, index) = indexed::controller_in::<AIMServiceTemplate>(
        client,
        stores.scope.clone(),
        Decoding::writing_status(&stores.malformed, NAMESPACED.manager),
    );
    let (by_config, by_model, by_node) = (index.clone(), index.clone(), index);
    controller
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

fn cluster_controller(client: &Client, stores: &Stores) -> Controller<AIMClusterServiceTemplate> {
    let (controller, index) = indexed::controller::<AIMClusterServiceTemplate>(
        client,
        Decoding::writing_status(&stores.malformed, CLUSTER.manager),
    );
    let (by_config, by_model, by_node) = (index.clone(), index.clone(), index);
    controller
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
