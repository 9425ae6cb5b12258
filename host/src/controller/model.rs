//! The AIMModel and AIMClusterModel controllers: image label inspection (when the policy asks for
//! it) and the templates generated from the image's recommended deployments.

use std::sync::Arc;

use aim_api::policy::observation::{ImageInspection, ModelObservation};
use aim_api::policy::plan::{ImageInspectionRequest, Plan};
use aim_api::v1alpha1::{AIMClusterModel, AIMModel, AIMService};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::context::Context;
use super::error::Error;
use super::pipeline::{self, Flow};
use super::runner;
use super::scope::NamespaceScope;
use super::tolerant::{self, Decoding};
use crate::cluster::registry::{credentials_from_secret, inspect_image};
use crate::policy::{PlanFlow, PlanSubject};
use crate::snapshot::{Scoped, work_namespace};

const NAMESPACED: Flow = Flow {
    plan: PlanFlow::Model,
    manager: "aim-image-controller",
};
const CLUSTER: Flow = Flow {
    plan: PlanFlow::Model,
    manager: "aim-cluster-image-controller",
};

async fn reconcile_namespaced(model: Arc<AIMModel>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = model
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a model without a namespace".into()))?;
    let mut snapshot = ctx.stores.snapshot_of(&namespace, model.as_ref());
    snapshot.services = users_candidates(&ctx, &model.name_any(), &model.spec.common.image);
    let operator_namespace = ctx.settings.operator_namespace.clone();
    let observe = |inspection| {
        snapshot.model_observation(Scoped::Namespaced(&model), &operator_namespace, inspection)
    };
    let subject = PlanSubject::namespaced(namespace.clone());
    let (observation, plan) = plan_with_inspection(&ctx, &namespace, &subject, observe).await;
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::carry_out(&ctx, &NAMESPACED, &api, model.as_ref(), &observation, plan).await
}

async fn reconcile_cluster(
    model: Arc<AIMClusterModel>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // A cluster model works (reads pull secrets, runtime config) in the namespace it was created
    // for, else in the operator's: never with one namespace's Secrets for another.
    let operator_namespace = &ctx.settings.operator_namespace;
    let namespace = work_namespace(Some(&model), operator_namespace);
    let mut snapshot = ctx.stores.snapshot_of(&namespace, model.as_ref());
    let name = model.name_any();
    snapshot.services = users_candidates(&ctx, &name, &model.spec.common.image);
    snapshot.templates = ctx
        .stores
        .templates
        .state_filter(|t| t.spec.common.model_name == name)
        .iter()
        .map(|t| (**t).clone())
        .collect();
    let observe = |inspection| {
        snapshot.model_observation(Scoped::Cluster(&model), operator_namespace, inspection)
    };
    let acting_for = (namespace != *operator_namespace).then(|| namespace.clone());
    let subject = PlanSubject {
        namespace: None,
        work_namespace: acting_for.clone(),
    };
    let (observation, plan) = plan_with_inspection(&ctx, &namespace, &subject, observe).await;
    let api = Api::all(ctx.client.clone());
    pipeline::carry_out(&ctx, &CLUSTER, &api, model.as_ref(), &observation, plan).await
}

/// Services that may use the model `name` of `image` (they name it, resolved to it or ask for its
/// image): the only ones worth copying for the observation's `users`.
fn users_candidates(ctx: &Context, name: &str, image: &str) -> Vec<AIMService> {
    ctx.stores
        .services
        .state_filter(|service| {
            let resolved = service
                .status
                .as_ref()
                .and_then(|s| s.resolved_image.as_ref())
                .is_some_and(|r| r.name == name);
            resolved
                || service.spec.model.reference.as_deref().map(str::trim) == Some(name)
                || service.spec.model.image.as_deref() == Some(image)
        })
        .iter()
        .map(|service| (**service).clone())
        .collect()
}

/// Plans once without an inspection; only when the policy asks for the image's labels, reads
/// them from the registry (with pull secrets of `secrets_namespace`) and plans again with them.
/// Returns the observation the plan was made from, and the plan.
async fn plan_with_inspection(
    ctx: &Context,
    secrets_namespace: &str,
    subject: &PlanSubject,
    observe: impl Fn(Option<ImageInspection>) -> ModelObservation,
) -> (ModelObservation, Result<Plan, Error>) {
    let first = observe(None);
    match ctx.plan(PlanFlow::Model, &first, subject.clone()).await {
        Ok(Plan {
            inspect_image: Some(request),
            ..
        }) => {
            let inspected = observe(Some(inspect(ctx, secrets_namespace, &request).await));
            let plan = ctx.plan(PlanFlow::Model, &inspected, subject.clone()).await;
            (inspected, plan)
        }
        plan => (first, plan),
    }
}

async fn inspect(
    ctx: &Context,
    namespace: &str,
    request: &ImageInspectionRequest,
) -> ImageInspection {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let mut credentials = Vec::new();
    for name in &request.pull_secrets {
        match secrets.get_opt(name).await {
            Ok(Some(secret)) => credentials.extend(credentials_from_secret(&secret)),
            Ok(None) => tracing::warn!(secret = %name, %namespace, "pull secret not found"),
            Err(error) => {
                tracing::warn!(secret = %name, %namespace, %error, "could not read pull secret")
            }
        }
    }
    inspect_image(&request.image, &credentials, &ctx.settings.registry).await
}

/// Runs both model controllers.
pub async fn run(client: Client, ctx: Arc<Context>, concurrency: u16) {
    let all = watcher::Config::default;
    let malformed = &ctx.stores.malformed;
    let namespaced = tolerant::controller::<AIMModel>(
        &client,
        all(),
        ctx.stores.scope.clone(),
        Decoding::writing_status(malformed, NAMESPACED.manager),
    )
    .owns_shared_stream(ctx.stores.templates.changes());
    let mut cluster = tolerant::controller::<AIMClusterModel>(
        &client,
        all(),
        NamespaceScope::default(),
        Decoding::writing_status(malformed, CLUSTER.manager),
    )
    .owns_shared_stream(ctx.stores.cluster_templates.changes());
    if let Some(released) = ctx.released_models.stream() {
        cluster = cluster.reconcile_on(released);
    }
    futures::join!(
        runner::run(
            "model",
            namespaced,
            ctx.clone(),
            concurrency,
            reconcile_namespaced
        ),
        runner::run(
            "cluster-model",
            cluster,
            ctx,
            concurrency,
            reconcile_cluster
        ),
    );
}
