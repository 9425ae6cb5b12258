//! The reconcile every controller runs, whatever its kind: decide (policy) -> finalizers -> apply
//! -> status -> Events. A failure anywhere shows on the object's status and as a Warning Event,
//! and the object backs off.

use std::time::Duration;

use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::{apply_plan, sync_finalizers};
use super::context::Context;
use super::error::Error;
use super::status::{with_failure, write_status};
use crate::policy::{PlanFlow, PlanSubject};
use aim_api::policy::observation::Observation;

/// What distinguishes one controller's reconcile from another's.
pub struct Flow {
    /// The policy function to call.
    pub plan: PlanFlow,
    /// The server-side apply field manager of this controller.
    pub manager: &'static str,
}

/// Plans `subject` from `observation` and carries the plan out; `api` addresses the subject.
/// `acting_for` is the namespace a cluster-scoped subject works in, when not the operator's (a
/// cluster model created for a namespace, and its templates).
pub async fn reconcile<K>(
    ctx: &Context,
    flow: &Flow,
    api: &Api<K>,
    subject: &K,
    observation: &impl Observation,
    acting_for: Option<&str>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let plan_subject = PlanSubject {
        namespace: subject.namespace(),
        work_namespace: acting_for.map(str::to_owned),
    };
    let plan = match ctx.plan(flow.plan, observation, plan_subject).await {
        Ok(plan) => plan,
        Err(error) => return Err(report(ctx, flow, api, subject, error).await),
    };
    let deleting = subject.meta().deletion_timestamp.is_some();
    if !deleting {
        sync_finalizers(api, subject, &plan.finalizers).await?;
    }
    if let Err(error) = apply_plan(ctx, flow.manager, subject, &plan, observation).await {
        return Err(report(ctx, flow, api, subject, error).await);
    }
    if deleting {
        sync_finalizers(api, subject, &plan.finalizers).await?;
        return Ok(Action::await_change());
    }
    if let Some(status) = plan.status.clone() {
        write_status(api, flow.manager, subject, status).await?;
    }
    ctx.publish(subject, &plan.events).await;
    ctx.backoff.reset(&key(subject));
    ctx.metrics.set_in_backoff(ctx.backoff.len());
    let resync = Duration::from_secs(ctx.settings.resync_seconds);
    Ok(Action::requeue(
        plan.requeue_after_seconds
            .map_or(resync, |s| Duration::from_secs(u64::from(s))),
    ))
}

/// Shows a failure on the object (Ready False, Failure True, reason = the error's kind) and as a
/// Warning Event, then hands the error back for backoff.
async fn report<K>(ctx: &Context, flow: &Flow, api: &Api<K>, subject: &K, error: Error) -> Error
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let message = error.to_string();
    tracing::warn!(object = %key(subject), reason = error.reason(), %message, "reconcile failed");
    let current = serde_json::to_value(subject)
        .ok()
        .and_then(|v| v.get("status").cloned());
    let status = with_failure(current, subject.meta().generation, error.reason(), &message);
    if let Err(write_error) = write_status(api, flow.manager, subject, status).await {
        tracing::warn!(object = %key(subject), error = %write_error, "could not report the failure on the status");
    }
    ctx.record(subject, EventType::Warning, error.reason(), &message)
        .await;
    error
}

/// The backoff to use after `error` for `subject`.
pub fn error_policy<K: Resource>(subject: &K, ctx: &Context) -> Action {
    Action::requeue(ctx.backoff.next_delay(&key(subject)))
}

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn key<K: Resource>(subject: &K) -> String {
    match subject.namespace() {
        Some(namespace) => format!("{namespace}/{}", subject.name_any()),
        None => subject.name_any(),
    }
}

/// Logs the outcome of a reconcile stream item.
pub fn log_outcome<T: std::fmt::Debug, E: std::fmt::Display>(
    controller: &str,
    outcome: Result<T, E>,
) {
    match outcome {
        Ok(object) => tracing::debug!(controller, ?object, "reconciled"),
        Err(error) => tracing::debug!(controller, %error, "reconcile error"),
    }
}
