//! Measuring a policy: fresh instance + call (the production path), warm calls on one instance
//! (the cost of the call itself), and evaluations per second on one core.

use std::time::{Duration, Instant};

use wasmtime::Store;

use super::bindings::{PathRequest, SelectionRequest};
use super::bounds::CallBounds;
use super::delegation::Delegation;
use super::engine::deadline_ticks;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::loaded::{LoadedPolicy, PlanFlow, Reply};
use super::sandbox::CallState;

/// The call to measure.
#[derive(Debug, Clone)]
pub enum BenchCall {
    Info,
    RenderPath(PathRequest),
    SelectTemplate(SelectionRequest),
    Plan(PlanFlow, String),
}

/// Median and 99th percentile of a set of timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
}

impl Percentiles {
    fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        let at = |q: f64| {
            // Nearest-rank percentile; samples is never empty because iterations >= 1.
            let rank = ((samples.len() as f64) * q).ceil() as usize;
            samples
                .get(rank.saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Percentiles {
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    pub iterations: usize,
    /// New store, instantiate, one call, drop: what every reconcile pays.
    pub fresh: Percentiles,
    /// Repeated calls on one live instance.
    pub warm: Percentiles,
    /// Fresh evaluations completed per second by this one thread.
    pub evaluations_per_second: f64,
}

/// Runs `call` `iterations` times each way (after a short warm-up) and reports the timings.
/// `delegation` is what the policy may call (the default policy, for a custom one).
pub fn bench(
    policy: &LoadedPolicy,
    call: &BenchCall,
    iterations: usize,
    delegation: &Delegation,
) -> Result<BenchReport, PolicyError> {
    let iterations = iterations.max(1);
    for _ in 0..iterations.min(100) {
        fresh_call(policy, call, delegation)?;
    }
    let mut fresh = Vec::with_capacity(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        let one = Instant::now();
        fresh_call(policy, call, delegation)?;
        fresh.push(one.elapsed());
    }
    let evaluations_per_second =
        iterations as f64 / started.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let warm = warm_calls(policy, call, iterations, delegation)?;
    Ok(BenchReport {
        iterations,
        fresh: Percentiles::of(fresh),
        warm: Percentiles::of(warm),
        evaluations_per_second,
    })
}

fn fresh_call(
    policy: &LoadedPolicy,
    call: &BenchCall,
    delegation: &Delegation,
) -> Result<(), PolicyError> {
    match call {
        BenchCall::Info => policy.call_info().map(drop),
        BenchCall::RenderPath(request) => {
            policy.render_path(request, delegation).and_then(answered)
        }
        BenchCall::SelectTemplate(request) => policy
            .select_template(request, delegation)
            .and_then(answered),
        BenchCall::Plan(flow, observation) => policy
            .plan_raw(*flow, observation, delegation)
            .and_then(answered),
    }
}

fn answered<T>(reply: Reply<T>) -> Result<(), PolicyError> {
    match reply {
        Reply::Answer(_) => Ok(()),
        Reply::Unsupported => Err(PolicyError::Incompatible {
            detail: "the policy does not implement the benchmarked call".to_string(),
        }),
    }
}

/// Times `iterations` calls on one instance. Only for measuring: production never reuses a store.
fn warm_calls(
    policy: &LoadedPolicy,
    call: &BenchCall,
    iterations: usize,
    delegation: &Delegation,
) -> Result<Vec<Duration>, PolicyError> {
    let parts = policy.parts();
    // Generous: the loop as a whole must not hit the per-call deadline.
    let limits = PolicyLimits {
        deadline: policy.limits().deadline.saturating_mul(1000),
        ..policy.limits()
    };
    let bounds = CallBounds::for_call(&limits, parts.budget);
    let mut store = Store::new(
        parts.engine,
        CallState::new(limits, bounds, delegation.clone()),
    );
    store.limiter(|state| &mut state.budget);
    store.set_epoch_deadline(deadline_ticks(limits.deadline, parts.tick));
    let name = &policy.info().name;
    let trapped = |error: wasmtime::Error| PolicyError::Trapped {
        detail: super::call::describe_trap(&error, name),
    };
    let instance = parts.pre.instantiate(&mut store).map_err(trapped)?;
    let mut timings = Vec::with_capacity(iterations);
    macro_rules! time_calls {
        ($guest:expr, |$g:ident| $invoke:expr) => {{
            let $g = $guest.load(&mut store, &instance).map_err(trapped)?;
            for _ in 0..iterations {
                let one = Instant::now();
                let _ = $invoke.map_err(trapped)?;
                timings.push(one.elapsed());
            }
        }};
    }
    let unsupported = || PolicyError::Incompatible {
        detail: "the policy does not implement the benchmarked call".to_string(),
    };
    match call {
        BenchCall::Info => time_calls!(parts.metadata, |g| g.call_info(&mut store)),
        BenchCall::RenderPath(request) => time_calls!(parts.paths.ok_or_else(unsupported)?, |g| g
            .call_render_path(&mut store, request)),
        BenchCall::SelectTemplate(request) => {
            time_calls!(parts.selection.ok_or_else(unsupported)?, |g| g
                .call_select_template(&mut store, request))
        }
        BenchCall::Plan(flow, observation) => {
            time_calls!(parts.planner.ok_or_else(unsupported)?, |g| match flow {
                PlanFlow::Service => g.call_plan_service(&mut store, observation),
                PlanFlow::Template => g.call_plan_template(&mut store, observation),
                PlanFlow::Model => g.call_plan_model(&mut store, observation),
                PlanFlow::TemplateCache => g.call_plan_template_cache(&mut store, observation),
                PlanFlow::ModelCache => g.call_plan_model_cache(&mut store, observation),
            })
        }
    }
    Ok(timings)
}
