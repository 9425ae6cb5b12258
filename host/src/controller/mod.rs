//! The operator: controllers that observe the cluster, ask the policy for a plan, check it and carry
//! it out. Each controller module wires its watches; [`pipeline`] is the reconcile they share.

mod applied;
pub mod apply;
mod backoff;
mod binding_modes;
pub mod caches;
pub mod context;
mod dependency_index;
pub mod error;
mod events;
pub mod identity;
mod inputs;
pub mod malformed;
mod malformed_report;
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

use kube::Client;
use tokio_util::sync::CancellationToken;

pub use context::{Context, Settings};
pub use error::Error;
pub use scope::NamespaceScope;
pub use stores::Stores;

use crate::operator::Metrics;
use crate::policy::PolicyRegistry;

/// Runs every controller on `stores`, already filled, recording into `metrics`, until `shutdown`
/// is cancelled; returns once the running reconciles have finished. The caches are started (and
/// filled) apart, ahead of leadership, so a standby replica's caches are warm and its readiness
/// does not wait on the lease.
pub async fn run(
    client: Client,
    stores: Stores,
    policies: Arc<PolicyRegistry>,
    settings: Settings,
    concurrency: u16,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let ctx = Context::new(client.clone(), policies, stores, settings)
        .with_metrics(metrics)
        .with_shutdown(shutdown);
    let ctx = Arc::new(ctx);
    policy::activate_all(&ctx).await;
    futures::join!(
        policy::run(client, ctx.clone(), concurrency),
        service::run(ctx.clone(), concurrency),
        template::run(ctx.clone(), concurrency),
        model::run(ctx.clone(), concurrency),
        caches::run(ctx.clone(), concurrency),
        malformed_report::report_malformed(&ctx),
    );
}
