//! The figures of a run, from the operator's metrics and `/proc` before and after, and the table
//! they are printed as.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::scrape::Scrape;
use super::{Engine, Settings};
use crate::operator::Usage;

/// What one run measured, between the first service created and the last one Running.
#[derive(Debug, Clone)]
pub struct Figures {
    pub services: usize,
    pub engine: Engine,
    pub namespaces: usize,
    /// Creating every service (the benchmark's requests).
    pub created: Duration,
    pub until_running: Duration,
    /// Reconciles finished, every controller.
    pub reconciles: f64,
    pub service_reconciles: f64,
    pub reconcile_errors: f64,
    pub api_requests: f64,
    pub api_requests_by_verb: BTreeMap<String, f64>,
    pub api_requests_by_resource: BTreeMap<String, f64>,
    /// Operator CPU time during the run.
    pub cpu: Duration,
    /// Operator CPU time since it started (start-up, cache fill and setup included).
    pub cpu_total: Duration,
    pub peak_rss_bytes: u64,
    pub rss_bytes: u64,
    pub policy_seconds: f64,
    pub policy_evaluations: f64,
    pub reconcile_seconds: f64,
}

fn delta(before: &BTreeMap<String, f64>, after: BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    after
        .into_iter()
        .map(|(key, value)| {
            let earlier = before.get(&key).copied().unwrap_or(0.0);
            (key, value - earlier)
        })
        .filter(|(_, value)| *value > 0.0)
        .collect()
}

impl Figures {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn between(
        settings: &Settings,
        namespaces: usize,
        created: Duration,
        until_running: Duration,
        before: &Scrape,
        after: &Scrape,
        usage_before: Usage,
        usage: Usage,
    ) -> Self {
        let change = |name: &str| after.sum(name) - before.sum(name);
        const REQUESTS: &str = "aim_api_requests_total";
        Figures {
            services: settings.services,
            engine: settings.engine,
            namespaces,
            created,
            until_running,
            reconciles: change("aim_reconcile_total"),
            service_reconciles: after.sum_where("aim_reconcile_total", "controller", "service")
                - before.sum_where("aim_reconcile_total", "controller", "service"),
            reconcile_errors: change("aim_reconcile_errors_total"),
            api_requests: change(REQUESTS),
            api_requests_by_verb: delta(&before.by(REQUESTS, "verb"), after.by(REQUESTS, "verb")),
            api_requests_by_resource: delta(
                &before.by(REQUESTS, "resource"),
                after.by(REQUESTS, "resource"),
            ),
            cpu: usage.cpu.saturating_sub(usage_before.cpu),
            cpu_total: usage.cpu,
            peak_rss_bytes: usage.peak_rss_bytes,
            rss_bytes: usage.rss_bytes,
            policy_seconds: change("aim_policy_evaluation_duration_seconds_sum"),
            policy_evaluations: change("aim_policy_evaluation_duration_seconds_count"),
            reconcile_seconds: change("aim_reconcile_duration_seconds_sum"),
        }
    }

    fn per_service(&self, value: f64) -> f64 {
        value / self.services.max(1) as f64
    }

    pub fn reconciles_per_second(&self) -> f64 {
        self.reconciles / self.until_running.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    pub fn requests_per_service(&self) -> f64 {
        self.per_service(self.api_requests)
    }

    /// Policy evaluation time over reconcile time (policy calls happen inside reconciles).
    pub fn policy_share(&self) -> f64 {
        self.policy_seconds / self.reconcile_seconds.max(f64::MIN_POSITIVE)
    }

    /// Mean time of one policy evaluation (the call plus the plan checks).
    pub fn policy_mean(&self) -> Duration {
        Duration::from_secs_f64(self.policy_seconds / self.policy_evaluations.max(1.0))
    }

    /// Mean time of one reconcile.
    pub fn reconcile_mean(&self) -> Duration {
        Duration::from_secs_f64(self.reconcile_seconds / self.reconciles.max(1.0))
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn per(map: &BTreeMap<String, f64>, services: usize) -> String {
    let mut entries: Vec<(&String, &f64)> = map.iter().collect();
    entries.sort_by(|a, b| b.1.total_cmp(a.1));
    entries
        .iter()
        .map(|(key, value)| format!("{key} {:.2}", **value / services.max(1) as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The figures as a Markdown table, the wasm/native ratios for each size run with both engines,
/// and the API requests per service by verb and resource.
pub fn report(runs: &[Figures]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| services | engine | until all Running | reconciles/s | reconciles per service | \
         API requests per service | operator CPU | CPU per service | peak RSS | RSS at end | \
         policy share of reconcile time | policy eval mean | reconcile mean |"
    );
    let _ = writeln!(
        out,
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for f in runs {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} s | {:.0} | {:.1} | {:.1} | {:.2} s | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.1}% | {:.0} µs | {:.1} ms |",
            f.services,
            f.engine.as_str(),
            f.until_running.as_secs_f64(),
            f.reconciles_per_second(),
            f.per_service(f.reconciles),
            f.requests_per_service(),
            f.cpu.as_secs_f64(),
            f.per_service(f.cpu.as_secs_f64() * 1e3),
            mib(f.peak_rss_bytes),
            mib(f.rss_bytes),
            f.policy_share() * 100.0,
            f.policy_mean().as_secs_f64() * 1e6,
            f.reconcile_mean().as_secs_f64() * 1e3,
        );
    }
    let mut sizes: Vec<usize> = runs.iter().map(|f| f.services).collect();
    sizes.dedup();
    for size in sizes {
        let of = |engine| {
            runs.iter()
                .find(|f| f.services == size && f.engine == engine)
        };
        if let (Some(wasm), Some(native)) = (of(Engine::Wasm), of(Engine::Native)) {
            let ratio = |a: f64, b: f64| a / b.max(f64::MIN_POSITIVE);
            let _ = writeln!(
                out,
                "\n{size} services, wasm / native: until all Running {:.2}x, operator CPU {:.2}x, \
                 peak RSS {:.2}x, policy eval mean {:.2}x, policy share {:.1}% vs {:.1}%",
                ratio(
                    wasm.until_running.as_secs_f64(),
                    native.until_running.as_secs_f64()
                ),
                ratio(wasm.cpu.as_secs_f64(), native.cpu.as_secs_f64()),
                ratio(wasm.peak_rss_bytes as f64, native.peak_rss_bytes as f64),
                ratio(
                    wasm.policy_mean().as_secs_f64(),
                    native.policy_mean().as_secs_f64()
                ),
                wasm.policy_share() * 100.0,
                native.policy_share() * 100.0,
            );
        }
    }
    let _ = writeln!(out);
    for f in runs {
        let _ = writeln!(
            out,
            "{} services ({}, {} namespaces): created in {:.1} s; {:.0} reconciles ({:.1} per \
             service by the service controller), {:.0} failed; operator CPU since start {:.1} s\n  \
             API requests per service by verb: {}\n  by resource: {}",
            f.services,
            f.engine.as_str(),
            f.namespaces,
            f.created.as_secs_f64(),
            f.reconciles,
            f.per_service(f.service_reconciles),
            f.reconcile_errors,
            f.cpu_total.as_secs_f64(),
            per(&f.api_requests_by_verb, f.services),
            per(&f.api_requests_by_resource, f.services),
        );
    }
    out
}
