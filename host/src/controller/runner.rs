//! Running a kube controller with the shared reconcile, backoff and logging, so each controller
//! module only says what it watches and how it observes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{FutureExt, StreamExt};
use kube::Resource;
use kube::runtime::controller::{Action, Config, Controller};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::context::Context;
use super::error::Error;
use super::pipeline::{error_policy, key, log_outcome};

/// How long a trigger waits for quiet before the reconcile runs. Triggers come from the controller's
/// own watches while observations read the shared watch caches; waiting lets the caches catch up
/// with the event that fired (and folds bursts of events into one reconcile).
const TRIGGER_DEBOUNCE: Duration = Duration::from_millis(300);

/// Runs `controller` with `reconcile` until `ctx.shutdown` is cancelled, then lets the running
/// reconciles finish.
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
        let running = reconcile(object, ctx);
        async move {
            let outcome = running.await;
            let error = outcome.as_ref().err().map(Error::reason);
            metrics.reconcile(name, error, started.elapsed());
            outcome
        }
        .instrument(span)
    };
    let shutdown = ctx.shutdown.clone().cancelled_owned();
    // kube holds reconciles until the controller's own cache is filled, and that cache fills from
    // the very watch a graceful shutdown stops: stopped before the first full list, the controller
    // would wait forever. Nothing can have been reconciled then, so dropping it loses no work.
    let store = controller.store();
    let stop = ctx.shutdown.clone();
    let stopped_before_filled = async move {
        stop.cancelled().await;
        if store.wait_until_ready().now_or_never().is_none() {
            return;
        }
        std::future::pending::<()>().await;
    };
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
        .take_until(stopped_before_filled)
        .for_each(|outcome| async move { log_outcome(name, outcome) })
        .await;
}
