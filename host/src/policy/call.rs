//! One policy call: a fresh `Store` with its own limits and WASI sandbox, an instance from the
//! policy's `InstancePre`, the call itself, then the store is dropped whatever happened (an
//! instance that trapped must never be entered again). Failures are classified by what the
//! host observed (budget flag, trap code), never by error text.

use std::time::Duration;

use wasmtime::component::{Instance, InstancePre};
use wasmtime::{Engine, Store, Trap};

use super::delegation::Delegation;
use super::engine::deadline_ticks;
use super::error::PolicyError;
use super::limits::PolicyLimits;
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
}

/// Instantiates the policy in a fresh store and runs `body` against the instance.
pub(super) fn call<R>(
    target: &CallTarget<'_>,
    body: impl FnOnce(&mut Store<CallState>, &Instance) -> wasmtime::Result<R>,
) -> Result<R, PolicyError> {
    let mut store = Store::new(
        target.engine,
        CallState::new(target.limits, target.delegation.clone()),
    );
    store.limiter(|state| &mut state.budget);
    store.set_epoch_deadline(deadline_ticks(target.limits.deadline, target.tick));
    let outcome = target
        .pre
        .instantiate(&mut store)
        .and_then(|instance| body(&mut store, &instance));
    let result = outcome.map_err(|error| classify(&error, store.data(), &target.limits));
    forward_guest_output(store.data(), target.policy_name);
    result
}

fn classify(error: &wasmtime::Error, state: &CallState, limits: &PolicyLimits) -> PolicyError {
    if let Some(nested) = &state.nested_failure {
        return nested.clone();
    }
    if state.budget.exceeded() {
        return PolicyError::MemoryExceeded {
            limit_bytes: limits.memory_bytes,
        };
    }
    if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return PolicyError::Timeout {
            deadline: limits.deadline,
        };
    }
    PolicyError::Trapped {
        detail: truncate(format!("{error:?}")),
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > MAX_DETAIL_BYTES {
        let mut end = MAX_DETAIL_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str(" ...");
    }
    text
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
