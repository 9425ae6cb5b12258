//! The reconcile every controller runs, whatever its kind: decide (policy) -> finalizers -> apply
//! -> status -> Events. A failure anywhere shows on the object's status and as a Warning Event,
//! and the object backs off.

use std::time::Duration;

use kube::api::Api;
use kube::core::object::HasStatus;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::apply::{apply_plan, sync_finalizers};
use super::context::Context;
use super::error::Error;
use super::identity::ControllerIdentity;
use super::status::{current_status, with_failure, write_status};
use crate::policy::PlanSubject;
use aim_api::policy::observation::Observation;
use aim_api::policy::plan::Plan;

/// The shortest wait before a converged object is reconciled again, whatever its plan asks: a
/// plan saying `requeueAfterSeconds: 0` would otherwise reconcile in a tight loop.
pub const MIN_REQUEUE: Duration = Duration::from_secs(5);

/// Plans `subject` from `observation` and carries the plan out; `api` addresses the subject.
/// `acting_for` is the namespace a cluster-scoped subject works in, when not the operator's (a
/// cluster model created for a namespace, and its templates).
pub async fn reconcile<K>(
    ctx: &Context,
    identity: &ControllerIdentity,
    api: &Api<K>,
    subject: &K,
    observation: &impl Observation,
    acting_for: Option<&str>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>
        + HasStatus<Status: Serialize>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let plan = ctx
        .plan(
            identity.subject,
            observation,
            plan_subject(subject, acting_for),
        )
        .await;
    carry_out(ctx, identity, api, subject, observation, plan).await
}

/// What the checks need to know of `subject`: its namespace, and the one it works in when it is
/// cluster-scoped and acts for a namespace.
pub fn plan_subject<K: Resource>(subject: &K, acting_for: Option<&str>) -> PlanSubject {
    PlanSubject {
        namespace: subject.namespace(),
        work_namespace: acting_for.map(str::to_owned),
    }
}

/// Carries out `plan`, made for `subject` from `observation`, or reports why there is none.
pub async fn carry_out<K>(
    ctx: &Context,
    identity: &ControllerIdentity,
    api: &Api<K>,
    subject: &K,
    observation: &impl Observation,
    plan: Result<Plan, Error>,
) -> Result<Action, Error>
where
    K: Resource<DynamicType = ()>
        + HasStatus<Status: Serialize>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let plan = match plan {
        Ok(plan) => plan,
        Err(error) => return Err(report(ctx, identity, api, subject, error).await),
    };
    let deleting = subject.meta().deletion_timestamp.is_some();
    if !deleting {
        sync_finalizers(api, subject, &plan.finalizers).await?;
    }
    if let Err(error) = apply_plan(ctx, identity.manager, subject, &plan, observation).await {
        return Err(report(ctx, identity, api, subject, error).await);
    }
    if deleting {
        sync_finalizers(api, subject, &plan.finalizers).await?;
        return Ok(Action::await_change());
    }
    if let Some(status) = plan.status.clone() {
        write_status(api, identity.manager, subject, status).await?;
    }
    ctx.publish(subject, &plan.events).await;
    ctx.backoff.reset(&backoff_key(subject));
    ctx.metrics.set_in_backoff(ctx.backoff.len());
    let resync = Duration::from_secs(ctx.settings.resync_seconds);
    Ok(Action::requeue(requeue_after(
        plan.requeue_after_seconds,
        resync,
    )))
}

/// When to reconcile a converged object again: when its plan asks, but never sooner than
/// [`MIN_REQUEUE`]; after `resync` when it does not ask.
fn requeue_after(asked_seconds: Option<u32>, resync: Duration) -> Duration {
    asked_seconds.map_or(resync, |s| {
        Duration::from_secs(u64::from(s)).max(MIN_REQUEUE)
    })
}

/// Shows a failure on the object (Ready False, Failure True, reason = the error's kind) and as a
/// Warning Event, then hands the error back for backoff.
async fn report<K>(
    ctx: &Context,
    identity: &ControllerIdentity,
    api: &Api<K>,
    subject: &K,
    error: Error,
) -> Error
where
    K: Resource<DynamicType = ()>
        + HasStatus<Status: Serialize>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let message = error.to_string();
    tracing::warn!(object = %key(subject), reason = error.reason(), %message, "reconcile failed");
    let status = with_failure(
        current_status(subject),
        subject.meta().generation,
        error.reason(),
        &message,
    );
    if let Err(write_error) = write_status(api, identity.manager, subject, status).await {
        tracing::warn!(object = %key(subject), error = %write_error, "could not report the failure on the status");
    }
    ctx.record(subject, EventType::Warning, error.reason(), &message)
        .await;
    error
}

/// The backoff to use after `error` for `subject`.
pub fn error_policy<K: Resource<DynamicType = ()>>(subject: &K, ctx: &Context) -> Action {
    Action::requeue(ctx.backoff.next_delay(&backoff_key(subject)))
}

/// `Kind/namespace/name`: objects of different kinds with the same name back off apart.
pub fn backoff_key<K: Resource<DynamicType = ()>>(subject: &K) -> String {
    format!("{}/{}", K::kind(&()), key(subject))
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

#[cfg(test)]
mod tests {
    use super::*;
    use aim_api::v1alpha1::{AIMModel, AIMService};

    #[test]
    fn a_plan_cannot_requeue_sooner_than_the_minimum() {
        let resync = Duration::from_secs(600);
        assert_eq!(requeue_after(Some(0), resync), MIN_REQUEUE);
        assert_eq!(requeue_after(Some(1), resync), MIN_REQUEUE);
        assert_eq!(requeue_after(Some(30), resync), Duration::from_secs(30));
        assert_eq!(requeue_after(None, resync), resync);
    }

    #[test]
    fn objects_of_different_kinds_with_one_name_back_off_apart() {
        let mut model = AIMModel::new("llama", Default::default());
        model.metadata.namespace = Some("ml".into());
        let mut service: AIMService = serde_json::from_value(serde_json::json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
            "metadata": {"name": "llama", "namespace": "ml"},
            "spec": {"model": {"ref": "llama"}}
        }))
        .expect("a service");
        service.metadata.namespace = Some("ml".into());
        assert_eq!(backoff_key(&model), "AIMModel/ml/llama");
        assert_ne!(backoff_key(&model), backoff_key(&service));
    }
}
