//! The operator: controllers that observe the cluster, ask the policy for a plan, check it and carry
//! it out. Each controller module wires its watches; [`pipeline`] is the reconcile they share.

pub mod apply;
mod backoff;
mod binding_modes;
pub mod caches;
pub mod context;
mod dependency_index;
pub mod error;
mod events;
mod indexed;
pub mod malformed;
pub mod model;
pub mod ownership;
pub mod pipeline;
pub mod policy;
mod policy_status;
mod released_models;
mod runner;
pub mod scope;
pub mod service;
pub mod status;
pub mod stores;
pub mod template;
mod tolerant;
mod watch_cache;

use std::sync::Arc;

use aim_api::v1alpha1::AIMService;
use kube::Client;
use kube::runtime::controller::Controller;
use tokio_util::sync::CancellationToken;

pub use context::{Context, Settings};
pub use error::Error;
pub use scope::NamespaceScope;

use crate::operator::Metrics;
use crate::policy::PolicyRegistry;

/// The watches that exist before any controller runs: the caches observations read, and the
/// service controller with its dependency index (its watch starts with the controller). Started
/// ahead of leadership so a standby replica's caches are warm and its readiness does not wait on
/// the lease.
pub struct Watches {
    services: Controller<AIMService>,
    index: Arc<dependency_index::DependencyIndex<AIMService>>,
    stores: stores::Stores,
}

impl Watches {
    /// Starts the cache reflectors on the current runtime; only services in `scope` are
    /// reconciled.
    pub fn start(client: &Client, scope: NamespaceScope) -> Self {
        let malformed = malformed::Malformed::default();
        let decoding = tolerant::Decoding {
            malformed: malformed.clone(),
            status_manager: Some(service::FLOW.manager),
        };
        let (services, index) = indexed::controller_in(client, scope.clone(), decoding);
        let stores = stores::Stores::start(client, services.store(), malformed, scope);
        Self {
            services,
            index,
            stores,
        }
    }

    /// The watch caches.
    pub fn stores(&self) -> &stores::Stores {
        &self.stores
    }

    /// Waits until every cache has its first full list; false if a cache stopped first.
    pub async fn wait_until_ready(&self) -> bool {
        self.stores.wait_until_ready().await
    }
}

/// Runs every controller until a termination signal.
pub async fn run(
    client: Client,
    policies: Arc<PolicyRegistry>,
    settings: Settings,
    concurrency: u16,
) {
    let shutdown = CancellationToken::new();
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        crate::operator::signal::terminated().await;
        on_signal.cancel();
    });
    let watches = Watches::start(&client, NamespaceScope::default());
    if !watches.wait_until_ready().await {
        tracing::error!("the watch caches stopped before they were filled");
        return;
    }
    let ctx = Context::new(client.clone(), policies, watches.stores.clone(), settings)
        .with_shutdown(shutdown);
    run_controllers(client, watches, Arc::new(ctx), concurrency).await;
}

/// Runs every controller on caches that are already filled, recording into `metrics`, until
/// `shutdown` is cancelled; returns once the running reconciles have finished.
pub async fn run_with(
    client: Client,
    watches: Watches,
    policies: Arc<PolicyRegistry>,
    settings: Settings,
    concurrency: u16,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let ctx = Context::new(client.clone(), policies, watches.stores.clone(), settings)
        .with_metrics(metrics)
        .with_shutdown(shutdown);
    run_controllers(client, watches, Arc::new(ctx), concurrency).await;
}

async fn run_controllers(client: Client, watches: Watches, ctx: Arc<Context>, concurrency: u16) {
    let Watches {
        services, index, ..
    } = watches;
    policy::activate_all(&ctx).await;
    futures::join!(
        policy::run(client.clone(), ctx.clone(), concurrency),
        service::run(services, index, client.clone(), ctx.clone(), concurrency),
        template::run(client.clone(), ctx.clone(), concurrency),
        model::run(client.clone(), ctx.clone(), concurrency),
        caches::run(client, ctx.clone(), concurrency),
        ctx.stores.malformed.report(&ctx),
    );
}
