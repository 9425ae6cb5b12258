//! The operator: controllers that observe the cluster, ask the policy for a plan, check it and carry
//! it out. Each controller module wires its watches; [`pipeline`] is the reconcile they share.

pub mod apply;
mod backoff;
pub mod caches;
pub mod context;
mod dependency_index;
pub mod error;
mod indexed;
pub mod model;
pub mod pipeline;
mod runner;
pub mod service;
pub mod status;
pub mod stores;
pub mod template;

use std::sync::Arc;

use kube::Client;

pub use context::{Context, Settings};
pub use error::Error;

use crate::policy::PolicyRegistry;

/// Runs every controller until a termination signal.
pub async fn run(
    client: Client,
    policies: Arc<PolicyRegistry>,
    settings: Settings,
    concurrency: u16,
) {
    let (services, index) = indexed::controller(&client);
    let stores = stores::Stores::start(&client, services.store());
    if !stores.wait_until_ready().await {
        tracing::error!("the watch caches stopped before they were filled");
        return;
    }
    let ctx = Arc::new(Context::new(client.clone(), policies, stores, settings));
    futures::join!(
        service::run(services, index, client.clone(), ctx.clone(), concurrency),
        template::run(client.clone(), ctx.clone(), concurrency),
        model::run(client.clone(), ctx.clone(), concurrency),
        caches::run(client, ctx, concurrency),
    );
}
