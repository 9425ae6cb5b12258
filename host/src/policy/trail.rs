//! Which policy answered which call while one subject was planned: the custom policy, the default
//! it asked through `defaults`, the custom policy the default asked through `custom`. `render`
//! and `policy test` print it under each plan, so an author sees why a plan is what it is (and
//! notices a policy that deferred every call). Recording is opt-in per [`super::PolicySet`]; the
//! operator does not record.

use std::sync::{Arc, Mutex, PoisonError};

use super::error::PolicyError;
use super::reply::Reply;

/// How a call ended, as far as the trail tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    /// Still running (only seen while the call is on the stack).
    Pending,
    Answered,
    /// The policy answered `unsupported`: whoever asked decides.
    Deferred,
    /// The policy refused the input, with its own reason.
    Rejected(String),
    /// The call failed, with the condition reason (`PolicyTrapped`, ...).
    Failed(String),
}

/// One policy call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyCall {
    /// 0 for the host's own call, 1 for a call that policy made, and so on.
    pub depth: usize,
    /// The policy's name from its metadata.
    pub policy: String,
    /// The WIT function, e.g. `render-path`.
    pub function: &'static str,
    pub outcome: CallOutcome,
}

/// The calls of one subject, in the order they started.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    calls: Arc<Mutex<Vec<PolicyCall>>>,
}

impl Trail {
    /// Notes that `policy` is being asked `function`; [`Trail::finish`] records the outcome.
    pub(super) fn start(&self, depth: usize, policy: &str, function: &'static str) -> usize {
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        calls.push(PolicyCall {
            depth,
            policy: policy.to_owned(),
            function,
            outcome: CallOutcome::Pending,
        });
        calls.len() - 1
    }

    pub(super) fn finish<T>(&self, index: usize, result: &Result<Reply<T>, PolicyError>) {
        let outcome = match result {
            Ok(Reply::Answer(_)) => CallOutcome::Answered,
            Ok(Reply::Unsupported) => CallOutcome::Deferred,
            Err(PolicyError::Rejected { reason, .. }) => CallOutcome::Rejected(reason.clone()),
            Err(error) => CallOutcome::Failed(error.reason().to_owned()),
        };
        let mut calls = self.calls.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(call) = calls.get_mut(index) {
            call.outcome = outcome;
        }
    }

    /// The calls recorded so far.
    pub fn calls(&self) -> Vec<PolicyCall> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `call` on the policy named `policy`, recording it in `trail` when there is one.
pub(super) fn traced<T>(
    trail: Option<&Trail>,
    depth: usize,
    policy: &str,
    function: &'static str,
    call: impl FnOnce() -> Result<Reply<T>, PolicyError>,
) -> Result<Reply<T>, PolicyError> {
    let Some(trail) = trail else {
        return call();
    };
    let index = trail.start(depth, policy, function);
    let result = call();
    trail.finish(index, &result);
    result
}
