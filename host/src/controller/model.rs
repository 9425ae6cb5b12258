//! The AIMModel and AIMClusterModel controllers: image label inspection (when the policy asks for
//! it) and the templates generated from the image's recommended deployments.

use std::sync::Arc;

use aim_api::policy::observation::ImageInspection;
use aim_api::policy::plan::ImageInspectionRequest;
use aim_api::v1alpha1::{AIMClusterModel, AIMModel};
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
use crate::policy::PlanFlow;
use crate::snapshot::Scoped;

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
    let snapshot = ctx.stores.snapshot_of(&namespace, model.as_ref());
    let operator_namespace = ctx.settings.operator_namespace.clone();
    let observe = |inspection| {
        snapshot.model_observation(Scoped::Namespaced(&model), &operator_namespace, inspection)
    };
    let observation = with_inspection(&ctx, &namespace, observe).await?;
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::reconcile(&ctx, &NAMESPACED, &api, model.as_ref(), &observation).await
}

async fn reconcile_cluster(
    model: Arc<AIMClusterModel>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // Cluster models read their pull secrets from the operator's namespace.
    let namespace = ctx.settings.operator_namespace.clone();
    let snapshot = ctx.stores.snapshot_of(&namespace, model.as_ref());
    let observe =
        |inspection| snapshot.model_observation(Scoped::Cluster(&model), &namespace, inspection);
    let observation = with_inspection(&ctx, &namespace, observe).await?;
    let api = Api::all(ctx.client.clone());
    pipeline::reconcile(&ctx, &CLUSTER, &api, model.as_ref(), &observation).await
}

/// Plans once without an inspection; when the policy asks for the image's labels, reads them
/// from the registry and returns the observation to plan with.
async fn with_inspection(
    ctx: &Context,
    secrets_namespace: &str,
    observe: impl Fn(Option<ImageInspection>) -> aim_api::policy::observation::ModelObservation,
) -> Result<aim_api::policy::observation::ModelObservation, Error> {
    let first = observe(None);
    let plan = ctx
        .plan(
            PlanFlow::Model,
            &first,
            first.model.as_ref().and_then(|m| m.namespace()),
        )
        .await?;
    match plan.inspect_image {
        Some(request) => Ok(observe(Some(
            inspect(ctx, secrets_namespace, &request).await,
        ))),
        None => Ok(first),
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
    let cluster = tolerant::controller::<AIMClusterModel>(
        &client,
        all(),
        NamespaceScope::default(),
        Decoding::writing_status(malformed, CLUSTER.manager),
    )
    .owns_shared_stream(ctx.stores.cluster_templates.changes());
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
