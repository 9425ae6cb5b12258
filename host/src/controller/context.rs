//! What every reconcile shares: the client, the policies in force, the watch caches, the Event
//! recorder, the backoff book-keeping, the metrics and the shutdown signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::Resource;
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use tokio_util::sync::CancellationToken;

use super::applied::AppliedRecords;
use super::backoff::Backoff;
use super::binding_modes::BindingModes;
use super::error::Error;
use super::events::{EventRecorder, Occurrence};
use super::released_models::ReleasedModels;
use super::stores::Stores;
use crate::cluster::registry::RegistryAccess;
use crate::operator::Metrics;
use crate::policy::{MAX_DEADLINE, PlanSubject, PolicyError, PolicyRegistry, SubjectKind};
use aim_api::policy::observation::{Observation, RuntimeConfigs};
use aim_api::policy::plan::{EventType as PlannedEventType, Plan, PlannedEvent};

/// The longest a reconcile waits for a policy plan: the longest deadline any policy may have, plus
/// time for a blocking thread and the host's checks. The call itself ends at its deadline (see
/// `crate::policy`); this only guards the reconcile against anything else that might hold it.
pub const PLAN_TIMEOUT: Duration = MAX_DEADLINE.saturating_add(Duration::from_secs(5));

/// Events recorded per reconcile at most; a policy asking for more gets the first ones.
pub const MAX_EVENTS_PER_PLAN: usize = 10;
/// The most an Event's note may hold (the Events API refuses longer ones).
const MAX_EVENT_NOTE_BYTES: usize = 1024;

/// The `policy` metric label of calls naming an AIMPolicy that is not installed; not a valid
/// object name, so no AIMPolicy can have it.
pub const UNAVAILABLE_POLICY_LABEL: &str = "(unavailable)";

/// Settings of a running operator.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Namespace of the operator: cluster-scoped objects keep namespaced children here.
    pub operator_namespace: String,
    /// How long a converged object waits before it is looked at again anyway.
    pub resync_seconds: u64,
    /// What registry reads (image inspection, policy images) may reach, and for how long.
    pub registry: RegistryAccess,
    /// Directories an AIMPolicy's `source.path` must lie under.
    pub policy_roots: Vec<PathBuf>,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub policies: Arc<PolicyRegistry>,
    pub stores: Stores,
    pub settings: Settings,
    pub backoff: Backoff,
    pub metrics: Metrics,
    /// Cancelled when the controllers should stop taking work and let running reconciles finish.
    pub shutdown: CancellationToken,
    /// Cluster models deleted services let go of, for the model controller.
    pub released_models: ReleasedModels,
    /// Storage classes' volume binding modes, read once per class.
    pub binding_modes: BindingModes,
    /// The operator's last write of each child, so an unchanged plan sends nothing.
    pub applied: AppliedRecords,
    events: EventRecorder,
}

impl Context {
    pub fn new(
        client: Client,
        policies: Arc<PolicyRegistry>,
        stores: Stores,
        settings: Settings,
    ) -> Self {
        Self {
            events: EventRecorder::new(
                client.clone(),
                "aim-engine",
                std::env::var("POD_NAME").ok(),
            ),
            client,
            policies,
            stores,
            settings,
            backoff: Backoff::default(),
            metrics: Metrics::default(),
            shutdown: CancellationToken::new(),
            released_models: ReleasedModels::default(),
            binding_modes: BindingModes::default(),
            applied: AppliedRecords::default(),
        }
    }

    /// Records into `metrics` (the process's, served on `/metrics`) instead of a private registry.
    pub fn with_metrics(self, metrics: Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// Stops the controllers when `shutdown` is cancelled.
    pub fn with_shutdown(self, shutdown: CancellationToken) -> Self {
        Self { shutdown, ..self }
    }

    /// Runs the active policy for `flow` off the async threads (a call blocks for up to its deadline)
    /// and returns the checked plan.
    pub async fn plan(
        &self,
        flow: SubjectKind,
        observation: &impl Observation,
        subject: PlanSubject,
    ) -> Result<Plan, Error> {
        let chosen = observation
            .runtime_configs()
            .and_then(RuntimeConfigs::policy_name);
        if let Some(policy) = chosen {
            self.check_policy_allowed(policy, &subject)?;
        }
        let (result, took) = self.evaluate(flow, observation, chosen, subject).await;
        let outcome = result.as_ref().map_or_else(Error::reason, |_| "ok");
        self.metrics
            .policy_evaluation(self.policy_label(chosen), flow, outcome, took);
        result
    }

    /// The metric label for a call with the AIMPolicy `chosen`: its name only when it is installed,
    /// so names written in runtime configs (free text, by namespace users) never become label
    /// values; `None` for the embedded default.
    fn policy_label<'a>(&self, chosen: Option<&'a str>) -> Option<&'a str> {
        match chosen {
            Some(_) if self.policies.engine() == crate::policy::PolicyEngine::Native => None,
            Some(name) if self.policies.is_installed(name) => Some(name),
            Some(_) => Some(UNAVAILABLE_POLICY_LABEL),
            None => None,
        }
    }

    /// Plans with the AIMPolicy `chosen` (the embedded default when `None`), and how long that
    /// took: encoding the observation, the call, the checks and decoding the plan. Waiting for a
    /// blocking thread is left out, so the time is the policy's, not the machine's load.
    async fn evaluate(
        &self,
        flow: SubjectKind,
        observation: &impl Observation,
        chosen: Option<&str>,
        subject: PlanSubject,
    ) -> (Result<Plan, Error>, Duration) {
        let started = Instant::now();
        let document = match serde_json::to_string(observation) {
            Ok(document) => document,
            Err(e) => return (Err(Error::Encoding(e.to_string())), started.elapsed()),
        };
        let encoding = started.elapsed();
        let Some(policies) = self.policies.for_policy(chosen) else {
            let unavailable = Error::PolicyUnavailable(chosen.unwrap_or_default().to_owned());
            return (Err(unavailable), encoding);
        };
        let called = tokio::time::timeout(
            PLAN_TIMEOUT,
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let plan = policies
                    .plan(flow, &document, &subject)
                    .map_err(Error::from)
                    .and_then(|checked| {
                        serde_json::from_value(checked).map_err(|e| {
                            Error::Policy(crate::policy::PolicyError::OutputInvalid {
                                detail: format!("plan does not match the plan schema: {e}"),
                            })
                        })
                    });
                (plan, started.elapsed())
            }),
        )
        .await;
        match called {
            Ok(Ok((plan, took))) => (plan, encoding + took),
            Ok(Err(_)) => (Err(Error::Cancelled), encoding),
            Err(_) => {
                let timeout = PolicyError::Timeout {
                    deadline: PLAN_TIMEOUT,
                };
                (Err(Error::Policy(timeout)), encoding + PLAN_TIMEOUT)
            }
        }
    }

    /// Refuses an AIMPolicy the subject's namespace (a cluster subject's work namespace) may not
    /// select. The operator's namespace, whose runtime configs are the admin's, may select any.
    fn check_policy_allowed(&self, policy: &str, subject: &PlanSubject) -> Result<(), Error> {
        let operator_namespace = &self.settings.operator_namespace;
        let namespace = subject
            .namespace
            .as_ref()
            .or(subject.work_namespace.as_ref())
            .unwrap_or(operator_namespace);
        // A policy that is not active is reported as such when it is asked for.
        if namespace == operator_namespace || self.policies.for_policy(Some(policy)).is_none() {
            return Ok(());
        }
        let labels = self
            .stores
            .namespaces
            .get(&ObjectRef::new(namespace))
            .and_then(|ns| ns.metadata.labels.clone())
            .unwrap_or_default();
        if self.policies.admits(policy, &labels) {
            Ok(())
        } else {
            Err(Error::PolicyNotAllowed {
                policy: policy.to_owned(),
                namespace: namespace.clone(),
            })
        }
    }

    /// Records the plan's Events on the subject, at most [`MAX_EVENTS_PER_PLAN`] of them.
    /// Failing to record an Event never fails a reconcile.
    pub async fn publish<K: Resource<DynamicType = ()>>(
        &self,
        subject: &K,
        events: &[PlannedEvent],
    ) {
        if events.len() > MAX_EVENTS_PER_PLAN {
            let object = subject.meta().name.as_deref().unwrap_or_default();
            tracing::warn!(%object, planned = events.len(), recorded = MAX_EVENTS_PER_PLAN, "the plan asks for more Events than are recorded per reconcile");
        }
        for event in events.iter().take(MAX_EVENTS_PER_PLAN) {
            let type_ = match event.type_ {
                PlannedEventType::Normal => EventType::Normal,
                PlannedEventType::Warning => EventType::Warning,
            };
            self.record(subject, type_, &event.reason, &event.message)
                .await;
        }
    }

    /// Records one Event on `subject`.
    pub async fn record<K: Resource<DynamicType = ()>>(
        &self,
        subject: &K,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        self.record_on(&subject.object_ref(&()), type_, reason, message)
            .await;
    }

    /// Records one Event on the object `reference` names.
    pub async fn record_on(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        message: &str,
    ) {
        let note = crate::text::truncate_bytes(message, MAX_EVENT_NOTE_BYTES);
        let occurrence = Occurrence {
            type_,
            reason,
            note: &note,
            action: "Reconcile",
        };
        if let Err(error) = self.events.publish(occurrence, reference).await {
            let object = reference.name.as_deref().unwrap_or_default();
            tracing::warn!(%object, %error, "could not record an Event");
        }
    }
}
