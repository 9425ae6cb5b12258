//! One policy call: a fresh `Store` with its own limits and WASI sandbox, an instance from the
//! policy's `InstancePre`, the call itself, then the store is dropped whatever happened (an
//! instance that trapped must never be entered again). Failures are classified by what the
//! host observed (budget refusal, expired wait, trap code), never by error text.
//!
//! A call the host makes and every call nested in it (through `defaults` or `custom`) share one
//! [`CallBounds`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, Trap};

use super::bounds::CallBounds;
use super::delegation::Delegation;
use super::engine::deadline_ticks;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::memory::{MemoryPool, Refusal};
use super::sandbox::CallState;

/// Longest trap description kept in an error; backtraces of big guests run to kilobytes.
const MAX_DETAIL_BYTES: usize = 2048;

/// What a call needs from the policy it runs.
pub(super) struct CallTarget<'a> {
    pub engine: &'a Engine,
    pub pre: &'a InstancePre<CallState>,
    pub limits: PolicyLimits,
    pub tick: Duration,
    pub policy_name: &'a str,
    pub delegation: &'a Delegation,
    /// The process-wide memory budget of policy calls.
    pub budget: &'a Arc<MemoryPool>,
}

/// Instantiates the policy in a fresh store and runs `body` against the instance.
pub(super) fn call<R>(
    target: &CallTarget<'_>,
    body: impl FnOnce(&mut Store<CallState>, &Instance) -> wasmtime::Result<R>,
) -> Result<R, PolicyError> {
    let bounds = match target.delegation.bounds() {
        Some(caller) => caller.nested(&target.limits),
        None => CallBounds::for_call(&target.limits, target.budget),
    };
    let remaining = bounds.ends_at.saturating_duration_since(Instant::now());
    let deadline = bounds.deadline;
    let mut store = Store::new(
        target.engine,
        CallState::new(target.limits, bounds, target.delegation.clone()),
    );
    store.limiter(|state| &mut state.budget);
    store.set_epoch_deadline(deadline_ticks(remaining, target.tick));
    let outcome = target
        .pre
        .instantiate(&mut store)
        .and_then(|instance| body(&mut store, &instance));
    let result = outcome.map_err(|error| classify(&error, store.data(), deadline));
    forward_guest_output(store.data(), target.policy_name);
    result
}

fn classify(error: &wasmtime::Error, state: &CallState, deadline: Duration) -> PolicyError {
    if let Some(nested) = &state.nested_failure {
        return nested.clone();
    }
    match state.budget.refusal() {
        Some(Refusal::Call(limit_bytes)) => return PolicyError::MemoryExceeded { limit_bytes },
        Some(Refusal::Budget(budget_bytes)) => {
            return PolicyError::MemoryBudgetExhausted { budget_bytes };
        }
        None => {}
    }
    if state.waited_too_long || matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return PolicyError::Timeout { deadline };
    }
    PolicyError::Trapped {
        detail: crate::text::truncate_bytes(&format!("{error:?}"), MAX_DETAIL_BYTES),
    }
}

/// Guest prints go to the operator's log, tagged with the policy, after the call has ended.
fn forward_guest_output(state: &CallState, policy: &str) {
    for (stream, output) in [("stdout", &state.stdout), ("stderr", &state.stderr)] {
        let (text, dropped) = output.take();
        if text.is_empty() && dropped == 0 {
            continue;
        }
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            tracing::info!(target: "aim_engine::policy::guest", policy, stream, "{line}");
        }
        if dropped > 0 {
            tracing::warn!(target: "aim_engine::policy::guest", policy, stream, dropped, "policy output exceeded the capture limit");
        }
    }
}
