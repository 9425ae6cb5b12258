//! The AIMService controller: watches services and everything they depend on, and reconciles each
//! service through the policy's service flow.

use std::sync::Arc;

use aim_api::kserve::InferenceService;
use aim_api::v1alpha1::{
    AIMClusterModel, AIMClusterRuntimeConfig, AIMClusterServiceTemplate, AIMModel,
    AIMRuntimeConfig, AIMService, AIMServiceTemplate, AIMTemplateCache,
};
use futures::StreamExt;
use gateway_api::apis::standard::httproutes::HttpRoute;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::error::Error;
use super::pipeline::{self, Flow, SharedContext, error_policy, log_outcome};
use crate::policy::PlanFlow;

const FLOW: Flow = Flow {
    plan: PlanFlow::Service,
    manager: "aim-service-controller",
};

/// Observe and reconcile one service.
#[tracing::instrument(skip_all, fields(service = %pipeline::key(service.as_ref())))]
pub async fn reconcile(service: Arc<AIMService>, ctx: SharedContext) -> Result<Action, Error> {
    let namespace = service
        .namespace()
        .ok_or_else(|| Error::InvalidObject("an AIMService without a namespace".into()))?;
    let observation = ctx
        .stores
        .snapshot_for(&namespace)
        .service_observation(&service);
    let api = Api::namespaced(ctx.client.clone(), &namespace);
    pipeline::reconcile(&ctx, &FLOW, &api, service.as_ref(), &observation).await
}

/// The service controller, ready to run.
pub fn controller(client: &Client) -> Controller<AIMService> {
    Controller::new(
        Api::<AIMService>::all(client.clone()),
        watcher::Config::default(),
    )
}

/// Adds the watches that map changes of related objects to the services they affect, and runs.
pub async fn run(
    controller: Controller<AIMService>,
    client: Client,
    ctx: SharedContext,
    concurrency: u16,
) {
    let services = controller.store();
    let all = watcher::Config::default;
    let by_template = services.clone();
    let by_cluster_template = services.clone();
    let by_model = services.clone();
    let by_cluster_model = services.clone();
    let by_cache = services.clone();
    let by_config = services.clone();
    let by_cluster_config = services.clone();
    let by_node = services.clone();
    controller
        .owns(Api::<InferenceService>::all(client.clone()), all())
        .owns(Api::<HttpRoute>::all(client.clone()), all())
        .owns(
            Api::<PersistentVolumeClaim>::all(client.clone()),
            all().labels("aim.silogen.ai/service-name"),
        )
        .watches(
            Api::<AIMServiceTemplate>::all(client.clone()),
            all(),
            move |t| {
                let model = t.spec.common.model_name.clone();
                services_matching(&by_template, t.namespace().as_deref(), |s| {
                    uses_template(s, &t.name_any()) || may_select(s, &model)
                })
            },
        )
        .watches(
            Api::<AIMClusterServiceTemplate>::all(client.clone()),
            all(),
            move |t| {
                let model = t.spec.common.model_name.clone();
                services_matching(&by_cluster_template, None, |s| {
                    uses_template(s, &t.name_any()) || may_select(s, &model)
                })
            },
        )
        .watches(Api::<AIMModel>::all(client.clone()), all(), move |m| {
            let image = m.spec.common.image.clone();
            services_matching(&by_model, m.namespace().as_deref(), |s| {
                uses_model(s, &m.name_any()) || uses_image(s, &image)
            })
        })
        .watches(
            Api::<AIMClusterModel>::all(client.clone()),
            all(),
            move |m| {
                let image = m.spec.common.image.clone();
                services_matching(&by_cluster_model, None, |s| {
                    uses_model(s, &m.name_any()) || uses_image(s, &image)
                })
            },
        )
        .watches(
            Api::<AIMTemplateCache>::all(client.clone()),
            all(),
            move |c| {
                let template = c.spec.template_ref.clone();
                services_matching(&by_cache, c.namespace().as_deref(), |s| {
                    uses_template(s, &template)
                })
            },
        )
        .watches(
            Api::<AIMRuntimeConfig>::all(client.clone()),
            all(),
            move |c| {
                services_matching(&by_config, c.namespace().as_deref(), |s| {
                    s.spec.runtime_config_name == c.name_any()
                })
            },
        )
        .watches(
            Api::<AIMClusterRuntimeConfig>::all(client.clone()),
            all(),
            move |c| {
                services_matching(&by_cluster_config, None, |s| {
                    s.spec.runtime_config_name == c.name_any()
                })
            },
        )
        // GPU labels decide which templates can be selected; a node change may unblock a service.
        .watches(Api::<Node>::all(client.clone()), all(), move |_| {
            services_matching(&by_node, None, is_not_running)
        })
        .with_config(kube::runtime::controller::Config::default().concurrency(concurrency))
        .shutdown_on_signal()
        .run(
            reconcile,
            |service, _error, ctx| error_policy(service.as_ref(), &ctx),
            ctx,
        )
        .for_each(|outcome| async move { log_outcome("service", outcome) })
        .await;
}

fn services_matching(
    services: &Store<AIMService>,
    namespace: Option<&str>,
    wanted: impl Fn(&AIMService) -> bool,
) -> Vec<ObjectRef<AIMService>> {
    services
        .state_filter(|s| {
            namespace.is_none_or(|ns| s.namespace().as_deref() == Some(ns)) && wanted(s)
        })
        .iter()
        .map(|s| ObjectRef::from_obj(s.as_ref()))
        .collect()
}

fn uses_template(service: &AIMService, template: &str) -> bool {
    service.spec.template_ref.as_deref() == Some(template)
        || service
            .status
            .as_ref()
            .and_then(|s| s.resolved_template.as_ref())
            .is_some_and(|r| r.name == template)
}

/// Services that pick their template automatically care about every template of their model.
fn may_select(service: &AIMService, model: &str) -> bool {
    service.spec.template_ref.is_none() && uses_model(service, model)
}

fn uses_model(service: &AIMService, model: &str) -> bool {
    service.spec.model.reference.as_deref() == Some(model)
        || service
            .status
            .as_ref()
            .and_then(|s| s.resolved_image.as_ref())
            .is_some_and(|r| r.name == model)
}

fn uses_image(service: &AIMService, image: &str) -> bool {
    service.spec.model.image.as_deref() == Some(image)
}

fn is_not_running(service: &AIMService) -> bool {
    service
        .status
        .as_ref()
        .is_none_or(|s| s.status != aim_api::conditions::AIMServiceStatusEnum::Running)
}
