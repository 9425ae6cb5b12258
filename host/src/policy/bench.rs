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
use super::loaded::LoadedPolicy;
use super::reply::Reply;
use super::sandbox::CallState;
use super::subject_kind::SubjectKind;

/// The call to measure.
#[derive(Debug, Clone)]
pub enum BenchCall {
    Info,
    RenderPath(PathRequest),
    SelectTemplate(SelectionRequest),
    Plan(SubjectKind, String),
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
        Reply::Unsupported => Err(unsupported()),
    }
}

const UNSUPPORTED: &str = "the policy does not implement the benchmarked call";

fn unsupported() -> PolicyError {
    PolicyError::Incompatible {
        detail: UNSUPPORTED.to_string(),
    }
}

/// Times `iterations` calls on one live instance. Only for measuring: production never reuses a
/// store. A policy whose instance keeps memory from call to call (a JavaScript or Python runtime's
/// heap) may fill its `memoryMib` after many calls; a fresh instance then carries on, untimed.
fn warm_calls(
    policy: &LoadedPolicy,
    call: &BenchCall,
    iterations: usize,
    delegation: &Delegation,
) -> Result<Vec<Duration>, PolicyError> {
    let parts = policy.parts();
    let supported = match call {
        BenchCall::Info => true,
        BenchCall::RenderPath(_) => parts.paths.is_some(),
        BenchCall::SelectTemplate(_) => parts.selection.is_some(),
        BenchCall::Plan(..) => parts.planner.is_some(),
    };
    if !supported {
        return Err(unsupported());
    }
    // Generous: the loop as a whole must not hit the per-call deadline.
    let limits = PolicyLimits {
        deadline: policy.limits().deadline.saturating_mul(1000),
        ..policy.limits()
    };
    let name = &policy.info().name;
    let mut timings = Vec::with_capacity(iterations);
    while timings.len() < iterations {
        let bounds = CallBounds::measuring(&limits, parts.budget);
        let mut store = Store::new(
            parts.engine,
            CallState::new(limits, bounds, delegation.clone()),
        );
        store.limiter(|state| &mut state.budget);
        store.set_epoch_deadline(deadline_ticks(limits.deadline, parts.tick));
        let timed_before = timings.len();
        let outcome = parts.pre.instantiate(&mut store).and_then(|instance| {
            time_calls(
                &mut store,
                &instance,
                &parts,
                call,
                iterations,
                &mut timings,
            )
        });
        match outcome {
            Ok(()) => {}
            // The instance filled its memory after some calls: a fresh one carries on.
            Err(_) if store.data().budget.refusal().is_some() && timings.len() > timed_before => {}
            Err(error) => {
                return Err(match store.data().budget.refusal() {
                    Some(_) => PolicyError::MemoryExceeded {
                        limit_bytes: limits.memory_bytes,
                    },
                    None => PolicyError::Trapped {
                        detail: super::call::describe_trap(&error, name),
                    },
                });
            }
        }
    }
    Ok(timings)
}

/// Calls `call` on `instance` until `timings` holds `iterations` timings.
fn time_calls(
    store: &mut Store<CallState>,
    instance: &wasmtime::component::Instance,
    parts: &super::loaded::PolicyParts<'_>,
    call: &BenchCall,
    iterations: usize,
    timings: &mut Vec<Duration>,
) -> wasmtime::Result<()> {
    macro_rules! time_each {
        ($guest:expr, |$g:ident| $invoke:expr) => {{
            let $g = $guest.load(&mut *store, instance)?;
            while timings.len() < iterations {
                let one = Instant::now();
                let _ = $invoke?;
                timings.push(one.elapsed());
            }
        }};
    }
    let missing = || wasmtime::Error::msg(UNSUPPORTED);
    match call {
        BenchCall::Info => time_each!(parts.metadata, |g| g.call_info(&mut *store)),
        BenchCall::RenderPath(request) => {
            time_each!(parts.paths.ok_or_else(missing)?, |g| g
                .call_render_path(&mut *store, request))
        }
        BenchCall::SelectTemplate(request) => {
            time_each!(parts.selection.ok_or_else(missing)?, |g| g
                .call_select_template(&mut *store, request))
        }
        BenchCall::Plan(flow, observation) => {
            time_each!(parts.planner.ok_or_else(missing)?, |g| match flow {
                SubjectKind::Service => g.call_plan_service(&mut *store, observation),
                SubjectKind::Template => g.call_plan_template(&mut *store, observation),
                SubjectKind::Model => g.call_plan_model(&mut *store, observation),
                SubjectKind::TemplateCache => g.call_plan_template_cache(&mut *store, observation),
                SubjectKind::ModelCache => g.call_plan_model_cache(&mut *store, observation),
            })
        }
    }
    Ok(())
}
