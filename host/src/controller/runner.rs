//! Running a kube controller with the shared reconcile, backoff and logging, so each controller
//! module only says what it watches and how it observes.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
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

/// Runs `controller` until shutdown with `reconcile`.
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
    // Every log line of a reconcile carries the controller and the object's namespace/name.
    let mut reconcile = reconcile;
    let traced = move |object: Arc<K>, ctx: Arc<Context>| {
        let span =
            tracing::info_span!("reconcile", controller = name, object = %key(object.as_ref()));
        reconcile(object, ctx).instrument(span)
    };
    controller
        .with_config(
            Config::default()
                .concurrency(concurrency)
                .debounce(TRIGGER_DEBOUNCE),
        )
        .shutdown_on_signal()
        .run(
            traced,
            |object, _error, ctx| error_policy(object.as_ref(), &ctx),
            ctx,
        )
        .for_each(|outcome| async move { log_outcome(name, outcome) })
        .await;
}
