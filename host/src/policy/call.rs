//! One policy call: a fresh `Store` with its own limits and WASI sandbox, an instance from the
//! policy's `InstancePre`, the call itself, then the store is dropped whatever happened (an
//! instance that trapped must never be entered again). Failures are classified by what the
//! host observed (budget refusal, expired wait, trap code), never by error text.
//!
//! A call the host makes and every call nested in it (through `defaults` or `custom`) share one
//! [`CallBounds`]: they all end by the deadline of the policy the host called, and their memory
//! counts against its limit, inside the process-wide budget.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, Trap};

use super::delegation::Delegation;
use super::engine::deadline_ticks;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::memory::{MemoryPool, Refusal, SharedMemory};
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

/// What a call and the calls nested in it share.
#[derive(Debug, Clone)]
pub struct CallBounds {
    /// When the call must be over: the deadline of the policy the host called, or a nested
    /// policy's own when that comes first.
    pub ends_at: Instant,
    /// The deadline reported when `ends_at` is reached.
    pub deadline: Duration,
    pub memory: SharedMemory,
}

impl CallBounds {
    /// The bounds of a call the host makes to a policy with `limits`, starting now.
    pub fn for_call(limits: &PolicyLimits, budget: &Arc<MemoryPool>) -> Self {
        CallBounds {
            ends_at: Instant::now() + limits.deadline,
            deadline: limits.deadline,
            memory: SharedMemory::for_call(limits, budget.clone()),
        }
    }

    /// The bounds of a call nested in this one, to a policy with `limits`: it ends by its own
    /// deadline or this call's, whichever is first, and shares this call's memory.
    fn nested(&self, limits: &PolicyLimits) -> Self {
        let own = Instant::now() + limits.deadline;
        let (ends_at, deadline) = if own < self.ends_at {
            (own, limits.deadline)
        } else {
            (self.ends_at, self.deadline)
        };
        CallBounds {
            ends_at,
            deadline,
            memory: self.memory.clone(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(milliseconds: u64) -> PolicyLimits {
        PolicyLimits {
            deadline: Duration::from_millis(milliseconds),
            ..PolicyLimits::default()
        }
    }

    #[test]
    fn a_nested_call_ends_by_its_own_deadline_or_its_callers_whichever_is_first() {
        let budget = MemoryPool::new(1 << 20);
        let caller = CallBounds::for_call(&limits(100), &budget);
        let longer = caller.nested(&limits(2000));
        assert_eq!(longer.ends_at, caller.ends_at);
        assert_eq!(longer.deadline, Duration::from_millis(100));
        let shorter = caller.nested(&limits(10));
        assert!(shorter.ends_at < caller.ends_at);
        assert_eq!(shorter.deadline, Duration::from_millis(10));
    }
}
