//! Calls between policies: a custom policy asks the embedded default for its answer through the
//! `defaults` import (to adjust a plan rather than rewrite it), and the default policy asks the
//! custom one through the `custom` import (so a policy that only renders paths or selects
//! templates still shapes the default plans).
//!
//! Each nested call runs in a fresh store with the callee's own limits, and within the bounds of
//! the call it serves ([`CallBounds`]): it ends by that call's deadline and its memory counts
//! against that call's limit. Loops are impossible by
//! construction: the default may only consult a custom interface that is not already on the call
//! stack, and the stack is capped at [`MAX_DEPTH`] besides. A nested call that fails outright
//! (timeout, memory, trap) fails the outer call with the same typed error.

use std::sync::Arc;

use super::bindings::{
    PathRequest, PlanFlow, PolicyInterface, Selection, SelectionRequest, WitPolicyError, custom,
    defaults,
};
use super::bounds::CallBounds;
use super::error::PolicyError;
use super::loaded::{LoadedPolicy, Reply, SubjectKind};
use super::sandbox::CallState;
use super::trail::{Trail, traced};

/// Deepest chain of nested calls (custom → default → custom → default).
const MAX_DEPTH: usize = 4;

/// Which other policies a call may reach, and what is already on the call stack.
#[derive(Debug, Clone, Default)]
pub struct Delegation {
    default: Option<Arc<LoadedPolicy>>,
    custom: Option<Arc<LoadedPolicy>>,
    /// Custom interfaces being answered further up the stack.
    in_progress: Vec<PolicyInterface>,
    depth: usize,
    /// Where nested calls are recorded, when the caller asked for a trail.
    trail: Option<Trail>,
    /// The bounds of the call this delegation belongs to, once it runs.
    bounds: Option<CallBounds>,
}

impl Delegation {
    /// A call that may reach no other policy (loading, benchmarks, a lone policy).
    pub fn none() -> Self {
        Delegation::default()
    }

    /// A call that may reach the other policies of a set: `default` through `defaults`,
    /// `custom` through `custom`. `interface` is the custom interface the host is calling, if any.
    pub fn within_set(
        custom: Option<&Arc<LoadedPolicy>>,
        default: &Arc<LoadedPolicy>,
        interface: Option<PolicyInterface>,
    ) -> Self {
        Delegation {
            default: Some(default.clone()),
            custom: custom.cloned(),
            in_progress: interface.into_iter().collect(),
            depth: 0,
            trail: None,
            bounds: None,
        }
    }

    /// The same delegation inside a running call with `bounds`.
    pub(super) fn within(self, bounds: CallBounds) -> Self {
        Delegation {
            bounds: Some(bounds),
            ..self
        }
    }

    /// The bounds of the running call that nested calls must stay within, if any.
    pub(super) fn bounds(&self) -> Option<&CallBounds> {
        self.bounds.as_ref()
    }

    /// The same delegation, recording the nested calls it allows in `trail`.
    pub fn with_trail(self, trail: Option<Trail>) -> Self {
        Delegation { trail, ..self }
    }

    /// One level deeper, with `interface` of the custom policy now being answered.
    fn nested(&self, interface: Option<PolicyInterface>) -> Self {
        let mut in_progress = self.in_progress.clone();
        in_progress.extend(interface);
        Delegation {
            default: self.default.clone(),
            custom: self.custom.clone(),
            in_progress,
            depth: self.depth + 1,
            trail: self.trail.clone(),
            bounds: self.bounds.clone(),
        }
    }

    /// The custom policy to consult for `interface`, when it exports it and is not already busy
    /// answering it further up the stack.
    fn custom_for(&self, interface: PolicyInterface) -> Option<&Arc<LoadedPolicy>> {
        self.custom.as_ref().filter(|custom| {
            self.depth < MAX_DEPTH
                && custom.exports(interface)
                && !self.in_progress.contains(&interface)
        })
    }

    fn default_policy(&self) -> Option<&Arc<LoadedPolicy>> {
        self.default.as_ref().filter(|_| self.depth < MAX_DEPTH)
    }
}

/// Hands a nested reply to the calling guest: answers and the callee's own refusals pass
/// through; a callee that failed outright fails the caller with that error.
fn pass_back<T>(
    state: &mut CallState,
    reply: Result<Reply<T>, PolicyError>,
) -> wasmtime::Result<Result<T, WitPolicyError>> {
    match reply {
        Ok(Reply::Answer(answer)) => Ok(Ok(answer)),
        Ok(Reply::Unsupported) => Ok(Err(WitPolicyError::Unsupported)),
        Err(PolicyError::Rejected { reason, message }) => {
            Ok(Err(WitPolicyError::Rejected(super::bindings::Rejection {
                reason,
                message,
            })))
        }
        Err(PolicyError::InvalidInput { detail }) => Ok(Err(WitPolicyError::InvalidInput(detail))),
        Err(error) => {
            let trap = wasmtime::Error::msg(format!("nested policy call failed: {error}"));
            state.nested_failure = Some(error);
            Err(trap)
        }
    }
}

impl defaults::Host for CallState {
    fn render_path(
        &mut self,
        request: PathRequest,
    ) -> wasmtime::Result<Result<String, WitPolicyError>> {
        let Some(default) = self.delegation.default_policy().cloned() else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let nested = self.delegation.nested(None);
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            &default,
            "render-path",
            || default.render_path(&request, &nested),
        );
        pass_back(self, reply)
    }

    fn select_template(
        &mut self,
        request: SelectionRequest,
    ) -> wasmtime::Result<Result<Selection, WitPolicyError>> {
        let Some(default) = self.delegation.default_policy().cloned() else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let nested = self.delegation.nested(None);
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            &default,
            "select-template",
            || default.select_template(&request, &nested),
        );
        pass_back(self, reply)
    }

    fn plan(
        &mut self,
        flow: PlanFlow,
        observation: String,
    ) -> wasmtime::Result<Result<String, WitPolicyError>> {
        let Some(default) = self.delegation.default_policy().cloned() else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let flow = SubjectKind::from(flow);
        let nested = self.delegation.nested(None);
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            &default,
            flow.function(),
            || default.plan_raw(flow, &observation, &nested),
        );
        pass_back(self, reply)
    }
}

impl custom::Host for CallState {
    fn overridden(&mut self) -> wasmtime::Result<Vec<PolicyInterface>> {
        Ok([PolicyInterface::Paths, PolicyInterface::Selection]
            .into_iter()
            .filter(|interface| self.delegation.custom_for(*interface).is_some())
            .collect())
    }

    fn render_path(
        &mut self,
        request: PathRequest,
    ) -> wasmtime::Result<Result<String, WitPolicyError>> {
        let Some((custom, nested)) = self.nested_custom(PolicyInterface::Paths) else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            &custom,
            "render-path",
            || custom.render_path(&request, &nested),
        );
        pass_back(self, reply)
    }

    fn select_template(
        &mut self,
        request: SelectionRequest,
    ) -> wasmtime::Result<Result<Selection, WitPolicyError>> {
        let Some((custom, nested)) = self.nested_custom(PolicyInterface::Selection) else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            &custom,
            "select-template",
            || custom.select_template(&request, &nested),
        );
        pass_back(self, reply)
    }
}

impl CallState {
    /// The custom policy to call for `interface` and what it may reach in turn.
    fn nested_custom(&self, interface: PolicyInterface) -> Option<(Arc<LoadedPolicy>, Delegation)> {
        let custom = self.delegation.custom_for(interface)?.clone();
        Some((custom, self.delegation.nested(Some(interface))))
    }
}
