//! The AIMModel and AIMClusterModel controllers: image label inspection (when the policy asks for
//! it) and the templates generated from the image's recommended deployments.

use std::sync::Arc;

use aim_api::policy::observation::ImageInspection;
use aim_api::policy::plan::{ImageInspectionRequest, Plan};
use aim_api::v1alpha1::{AIMClusterModel, AIMModel};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::Error;
use super::identity::{CLUSTER_MODEL, MODEL};
use super::inputs::plan_with_input;
use super::pipeline;
use super::runner;
use crate::cluster::registry::{credentials_from_secret, inspect_image};
use crate::observe::{Observe, Scoped, work_namespace};
use crate::policy::{PlanSubject, SubjectKind};

async fn reconcile_namespaced(model: Arc<AIMModel>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = model
        .namespace()
        .ok_or_else(|| Error::InvalidObject("a model without a namespace".into()))?;
    let operator_namespace = &ctx.settings.operator_namespace;
    let observe = |inspection| {
        ctx.stores
            .model_observation(Scoped::Namespaced(&model), operator_namespace, inspection)
    };
    let subject = PlanSubject::namespaced(namespace.clone());
    let fetch = async |plan: &Plan| requested_inspection(&ctx, &namespace, plan).await;
    let (observation, plan) =
        plan_with_input(&ctx, SubjectKind::Model, &subject, observe, fetch).await;
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::carry_out(&ctx, &MODEL, &api, model.as_ref(), &observation, plan).await
}

async fn reconcile_cluster(
    model: Arc<AIMClusterModel>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // A cluster model works (reads pull secrets, runtime config) in the namespace it was created
    // for, else in the operator's: never with one namespace's Secrets for another.
    let operator_namespace = &ctx.settings.operator_namespace;
    let namespace = work_namespace(Some(&model), operator_namespace);
    let observe = |inspection| {
        ctx.stores
            .model_observation(Scoped::Cluster(&model), operator_namespace, inspection)
    };
    let acting_for = (namespace != *operator_namespace).then(|| namespace.clone());
    let subject = PlanSubject {
        namespace: None,
        work_namespace: acting_for.clone(),
    };
    let fetch = async |plan: &Plan| requested_inspection(&ctx, &namespace, plan).await;
    let (observation, plan) =
        plan_with_input(&ctx, SubjectKind::Model, &subject, observe, fetch).await;
    let api = Api::all(ctx.client.clone());
    pipeline::carry_out(
        &ctx,
        &CLUSTER_MODEL,
        &api,
        model.as_ref(),
        &observation,
        plan,
    )
    .await
}

/// The image labels `plan` asks for, read from the registry with pull secrets of
/// `secrets_namespace`.
async fn requested_inspection(
    ctx: &Context,
    secrets_namespace: &str,
    plan: &Plan,
) -> Result<Option<ImageInspection>, Error> {
    Ok(match &plan.inspect_image {
        Some(request) => Some(inspect(ctx, secrets_namespace, request).await),
        None => None,
    })
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
pub async fn run(ctx: Arc<Context>, concurrency: u16) {
    let stores = &ctx.stores;
    let namespaced = stores
        .models
        .controller()
        .owns_shared_stream(stores.templates.changes());
    let mut cluster = stores
        .cluster_models
        .controller()
        .owns_shared_stream(stores.cluster_templates.changes());
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
