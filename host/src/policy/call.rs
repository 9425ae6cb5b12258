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
use wasmtime::{Engine, Store, Trap, WasmBacktrace};

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
    let output = GuestOutput::take(store.data());
    let result = outcome
        .map_err(|error| classify(&error, store.data(), deadline, &output, target.policy_name));
    output.forward(target.policy_name);
    result
}

fn classify(
    error: &wasmtime::Error,
    state: &CallState,
    deadline: Duration,
    output: &GuestOutput,
    policy: &str,
) -> PolicyError {
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
        detail: trap_detail(error, output, policy),
    }
}

/// What trapped, in words, followed by the end of what the policy wrote to stderr (a Rust panic
/// message, a JavaScript or Python exception): enough to act on in a condition message. The wasm
/// backtrace (frames and code offsets, which change with every build) goes to the debug log only,
/// and host backtraces never enter the text.
fn trap_detail(error: &wasmtime::Error, output: &GuestOutput, policy: &str) -> String {
    let mut detail = describe_trap(error, policy);
    let said = last_words(&output.stderr.0);
    if !said.is_empty() {
        detail = format!("{detail}; the policy wrote: {said}");
    }
    crate::text::truncate_bytes(&detail, MAX_DETAIL_BYTES)
}

/// The trap in words (`wasm \`unreachable\` instruction executed`), without the wasm backtrace,
/// which is logged at debug level (what `-v` shows) instead.
pub(super) fn describe_trap(error: &wasmtime::Error, policy: &str) -> String {
    if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
        tracing::debug!(target: "aim_engine::policy::trap", policy, "{backtrace}");
    }
    let described = match error.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => error.root_cause().to_string(),
    };
    match described.strip_prefix("wasm trap: ") {
        Some(trap) => trap.to_owned(),
        None => described,
    }
}

/// The last lines a policy wrote before it trapped, on one line: its message (a Rust panic, a
/// JavaScript or Python exception) without the stack frames under it, which name build
/// directories and change with every build, and without runtime noise (Rust's hint about
/// `RUST_BACKTRACE`, which a policy's sandbox has no use for; SpiderMonkey's abort notice).
fn last_words(stderr: &str) -> String {
    const MAX_LINES: usize = 3;
    const MAX_BYTES: usize = 600;
    const NOISE: [&str; 4] = [
        "note: run with `RUST_BACKTRACE",
        "Redirecting call to abort()",
        "Stack:",
        "Traceback (most recent call last):",
    ];
    let lines: Vec<&str> = stderr
        .lines()
        // Stack frames are indented in every language a policy is written in.
        .filter(|line| !line.starts_with([' ', '\t']))
        .map(str::trim)
        .filter(|line| !line.is_empty() && !NOISE.iter().any(|noise| line.starts_with(noise)))
        .collect();
    let mut words = lines[lines.len().saturating_sub(MAX_LINES)..].join(" ");
    if words.len() > MAX_BYTES {
        let mut start = words.len() - MAX_BYTES;
        while !words.is_char_boundary(start) {
            start += 1;
        }
        words = format!("... {}", &words[start..]);
    }
    words
}

/// What one call wrote to stdout and stderr (text, bytes dropped past the cap).
struct GuestOutput {
    stdout: (String, usize),
    stderr: (String, usize),
}

impl GuestOutput {
    fn take(state: &CallState) -> Self {
        GuestOutput {
            stdout: state.stdout.take(),
            stderr: state.stderr.take(),
        }
    }

    /// Guest prints go to the operator's log (and to the terminal of `render` and `policy test`),
    /// tagged with the policy, after the call has ended.
    fn forward(&self, policy: &str) {
        for (stream, (text, dropped)) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                tracing::info!(target: "aim_engine::policy::guest", policy, stream, "{line}");
            }
            if *dropped > 0 {
                tracing::warn!(target: "aim_engine::policy::guest", policy, stream, dropped, "policy output exceeded the capture limit");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_javascript_exception_keeps_its_message_and_drops_its_stack() {
        let stderr = "invalid variant tag value `undefined` (received `Error: boom`)\nStack:\n  selectTemplate@/tmp/f50a/initializer.js:3729:15\nRedirecting call to abort() to mozalloc_abort\n";
        assert_eq!(
            last_words(stderr),
            "invalid variant tag value `undefined` (received `Error: boom`)"
        );
    }

    #[test]
    fn a_python_traceback_keeps_its_last_line() {
        let stderr = "Traceback (most recent call last):\n  File \"policy.py\", line 3, in plan_service\nValueError: boom\n";
        assert_eq!(last_words(stderr), "ValueError: boom");
    }

    #[test]
    fn a_rust_panic_keeps_its_place_and_message() {
        let stderr = "thread '<unnamed>' panicked at src/lib.rs:30:14:\nno team\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            last_words(stderr),
            "thread '<unnamed>' panicked at src/lib.rs:30:14: no team"
        );
    }
}
