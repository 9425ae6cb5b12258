//! Running a kube controller with the shared reconcile, backoff and logging, so each controller
//! module only says what it watches and how it observes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::Resource;
use kube::runtime::controller::{Action, Config, Controller};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::context::Context;
use super::error::Error;
use super::pipeline::{error_policy, key, log_outcome};

/// How long a trigger waits for quiet before the reconcile runs. Not for the caches' sake (a
/// trigger only comes once its cache holds the change), nor to stop a controller waking itself
/// (its own status writes are no trigger, see `WatchCache::controller`): it folds a burst of
/// triggers (a rollout touching a service's InferenceService, route and claims within
/// milliseconds, a node change waking every service not yet running) into one reconcile per
/// object, so passing states are not written one by one. Without it, `scale-bench` at 1000
/// services measured 3.4-3.7 reconciles, 3.1-3.3 status writes and 6.3-6.5 API requests per
/// service, against 2.8-3.0, 2.3 and 5.4 with it.
const TRIGGER_DEBOUNCE: Duration = Duration::from_millis(300);

/// Runs `controller` with `reconcile` until `ctx.shutdown` is cancelled, then lets the running
/// reconciles finish. Objects out of the operator's scope pass untouched.
pub async fn run<K, F, Fut>(
    name: &'static str,
    controller: Controller<K>,
    ctx: Arc<Context>,
    concurrency: u16,
    reconcile: F,
) where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    F: FnMut(Arc<K>, Arc<Context>) -> Fut,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    // Every log line of a reconcile carries the controller and the object's namespace/name, and
    // every reconcile is counted and timed.
    let mut reconcile = reconcile;
    let traced = move |object: Arc<K>, ctx: Arc<Context>| {
        let span =
            tracing::info_span!("reconcile", controller = name, object = %key(object.as_ref()));
        let metrics = ctx.metrics.clone();
        let started = Instant::now();
        // Caches and dependency indexes hold every namespace; a trigger may name any object.
        let running = ctx
            .stores
            .scope
            .admits(object.as_ref())
            .then(|| reconcile(object, ctx));
        async move {
            let Some(running) = running else {
                return Ok(Action::await_change());
            };
            let outcome = running.await;
            let error = outcome.as_ref().err().map(Error::reason);
            metrics.reconcile(name, error, started.elapsed());
            outcome
        }
        .instrument(span)
    };
    let shutdown = ctx.shutdown.clone().cancelled_owned();
    controller
        .with_config(
            Config::default()
                .concurrency(concurrency)
                .debounce(TRIGGER_DEBOUNCE),
        )
        .graceful_shutdown_on(shutdown)
        .run(
            traced,
            |object, _error, ctx| {
                let action = error_policy(object.as_ref(), &ctx);
                ctx.metrics.set_in_backoff(ctx.backoff.len());
                action
            },
            ctx,
        )
        .for_each(|outcome| async move { log_outcome(name, outcome) })
        .await;
}
