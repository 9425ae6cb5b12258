//! The operator's Prometheus metrics: one registry per process, recorded from the shared reconcile
//! and policy paths and rendered in the text exposition format for `/metrics`. Labels name
//! controllers, flows and error kinds only, never objects, so the series count stays bounded.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::policy::{CacheOutcome, LoadReport, SubjectKind};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    controller: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    /// The AIMPolicy that decided, or `default` for the embedded one alone.
    policy: String,
    flow: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompileLabels {
    policy: String,
    /// `compiled`, `hit` (precompile cache) or `disabled` (no cache).
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FlowLabels {
    flow: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiRequestLabels {
    /// The Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    verb: &'static str,
    /// The resource (plural, with `/subresource`); the kinds the operator touches, so bounded.
    resource: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Reconciles take milliseconds to minutes (apply round trips, slow apiservers): 5 ms .. ~80 s.
fn reconcile_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// Loading takes milliseconds from the cache to a minute for large components: 1 ms .. ~130 s.
fn compile_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

/// Policy calls are bounded by their deadline (seconds at most): 0.5 ms .. ~8 s.
fn policy_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

struct Inner {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Histograms<ControllerLabels>,
    policy_evaluations: Family<PolicyLabels, Counter>,
    policy_duration: Histograms<FlowLabels>,
    policy_compile: Histograms<CompileLabels>,
    in_backoff: Gauge,
    api_requests: Family<ApiRequestLabels, Counter>,
}

/// A cheap-to-clone handle on the process's metrics.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("aim");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let reconcile_duration: Histograms<ControllerLabels> =
            Family::new_with_constructor(reconcile_buckets);
        let policy_evaluations = Family::<PolicyLabels, Counter>::default();
        let policy_duration: Histograms<FlowLabels> = Family::new_with_constructor(policy_buckets);
        let policy_compile: Histograms<CompileLabels> =
            Family::new_with_constructor(compile_buckets);
        let in_backoff = Gauge::default();
        let api_requests = Family::<ApiRequestLabels, Counter>::default();
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "reconcile",
            "Reconciles finished, by controller and result (ok or error)",
            reconciles.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles, by controller and error reason",
            reconcile_errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Time a reconcile took, by controller",
            reconcile_duration.clone(),
        );
        registry.register(
            "policy_evaluations",
            "Policy plan calls, by policy, flow and result (ok or the policy error reason)",
            policy_evaluations.clone(),
        );
        registry.register(
            "policy_evaluation_duration_seconds",
            "Time a policy plan call took, by flow: encoding the observation, the call, the checks and decoding the plan, not waiting for a thread",
            policy_duration.clone(),
        );
        registry.register(
            "policy_compile_duration_seconds",
            "Time loading a policy component took, by policy and precompile-cache outcome",
            policy_compile.clone(),
        );
        registry.register(
            "objects_in_backoff",
            "Objects waiting to retry after a failed reconcile",
            in_backoff.clone(),
        );
        registry.register(
            "api_requests",
            "Requests the operator sent to the Kubernetes API, by verb and resource",
            api_requests.clone(),
        );
        Self(Arc::new(Inner {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            policy_evaluations,
            policy_duration,
            policy_compile,
            in_backoff,
            api_requests,
        }))
    }
}

impl Metrics {
    /// Records a finished reconcile; `error` is the failure's reason, `None` on success.
    pub fn reconcile(&self, controller: &'static str, error: Option<&'static str>, took: Duration) {
        let inner = &self.0;
        let result = if error.is_some() { "error" } else { "ok" };
        inner
            .reconciles
            .get_or_create(&ReconcileLabels { controller, result })
            .inc();
        if let Some(reason) = error {
            inner
                .reconcile_errors
                .get_or_create(&ErrorLabels { controller, reason })
                .inc();
        }
        inner
            .reconcile_duration
            .get_or_create(&ControllerLabels { controller })
            .observe(took.as_secs_f64());
    }

    /// Records one policy plan call by the AIMPolicy `policy` (`None`: the embedded default
    /// alone); `result` is `ok` or the failure's reason.
    pub fn policy_evaluation(
        &self,
        policy: Option<&str>,
        flow: SubjectKind,
        result: &'static str,
        took: Duration,
    ) {
        let flow = flow_label(flow);
        let policy = policy.unwrap_or("default").to_owned();
        self.0
            .policy_evaluations
            .get_or_create(&PolicyLabels {
                policy,
                flow,
                result,
            })
            .inc();
        self.0
            .policy_duration
            .get_or_create(&FlowLabels { flow })
            .observe(took.as_secs_f64());
    }

    /// Records the loading of a policy component.
    pub fn policy_compiled(&self, policy: &str, report: LoadReport) {
        let cache = match report.cache {
            Some(CacheOutcome::Hit) => "hit",
            Some(CacheOutcome::Embedded) => "embedded",
            Some(_) => "compiled",
            None => "disabled",
        };
        self.0
            .policy_compile
            .get_or_create(&CompileLabels {
                policy: policy.to_owned(),
                cache,
            })
            .observe(report.compile_time.as_secs_f64());
    }

    /// Sets how many objects are backing off.
    pub fn set_in_backoff(&self, objects: usize) {
        self.0
            .in_backoff
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
    }

    /// Counts one request to the Kubernetes API.
    pub fn api_request(&self, verb: &'static str, resource: String) {
        self.0
            .api_requests
            .get_or_create(&ApiRequestLabels { verb, resource })
            .inc();
    }

    /// The metrics in the text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an encoder error would only cut the output short.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.0.registry) {
            tracing::warn!(%error, "could not encode the metrics");
        }
        text
    }
}

/// `plan-template-cache` -> `template-cache`: the flow without the WIT function prefix.
fn flow_label(flow: SubjectKind) -> &'static str {
    let function = flow.function();
    function.strip_prefix("plan-").unwrap_or(function)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_reconcile_shows_up_in_the_text() {
        let metrics = Metrics::default();
        metrics.reconcile("service", None, Duration::from_millis(20));
        metrics.reconcile("model", Some("ApplyFailed"), Duration::from_millis(3));
        metrics.policy_evaluation(
            None,
            SubjectKind::TemplateCache,
            "ok",
            Duration::from_millis(1),
        );
        metrics.set_in_backoff(2);
        metrics.api_request("patch", "aimservices/status".to_owned());
        let text = metrics.render();
        for line in [
            r#"aim_reconcile_total{controller="service",result="ok"} 1"#,
            r#"aim_reconcile_total{controller="model",result="error"} 1"#,
            r#"aim_reconcile_errors_total{controller="model",reason="ApplyFailed"} 1"#,
            r#"aim_reconcile_duration_seconds_count{controller="service"} 1"#,
            r#"aim_policy_evaluations_total{policy="default",flow="template-cache",result="ok"} 1"#,
            r#"aim_policy_evaluation_duration_seconds_count{flow="template-cache"} 1"#,
            "aim_objects_in_backoff 2",
            r#"aim_api_requests_total{verb="patch",resource="aimservices/status"} 1"#,
        ] {
            assert!(text.contains(line), "missing {line:?} in:\n{text}");
        }
    }

    #[test]
    fn every_flow_has_a_short_label() {
        let labels: Vec<_> = SubjectKind::ALL.into_iter().map(flow_label).collect();
        assert_eq!(
            labels,
            [
                "service",
                "template",
                "model",
                "template-cache",
                "model-cache"
            ]
        );
    }
}
