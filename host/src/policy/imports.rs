//! The host functions behind the `defaults` and `custom` imports a policy may call: each asks the
//! policy its [`Delegation`] allows, one level deeper, and hands the reply back to the caller.

use std::sync::Arc;

use super::bindings::{
    PathRequest, PlanFlow, PolicyInterface, Selection, SelectionRequest, WitPolicyError, custom,
    defaults,
};
use super::delegation::{Callee, Delegation};
use super::error::PolicyError;
use super::reply::Reply;
use super::sandbox::CallState;
use super::subject_kind::SubjectKind;
use super::trail::traced;

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
        let target = self.nested_default();
        self.ask(target, "render-path", |policy, nested| {
            policy.render_path(&request, nested)
        })
    }

    fn select_template(
        &mut self,
        request: SelectionRequest,
    ) -> wasmtime::Result<Result<Selection, WitPolicyError>> {
        let target = self.nested_default();
        self.ask(target, "select-template", |policy, nested| {
            policy.select_template(&request, nested)
        })
    }

    fn plan(
        &mut self,
        flow: PlanFlow,
        observation: String,
    ) -> wasmtime::Result<Result<String, WitPolicyError>> {
        let kind = SubjectKind::from(flow);
        let target = self.nested_default();
        self.ask(target, kind.function(), |policy, nested| {
            policy.plan_raw(kind, &observation, nested)
        })
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
        let target = self.nested_custom(PolicyInterface::Paths);
        self.ask(target, "render-path", |policy, nested| {
            policy.render_path(&request, nested)
        })
    }

    fn select_template(
        &mut self,
        request: SelectionRequest,
    ) -> wasmtime::Result<Result<Selection, WitPolicyError>> {
        let target = self.nested_custom(PolicyInterface::Selection);
        self.ask(target, "select-template", |policy, nested| {
            policy.select_template(&request, nested)
        })
    }
}

/// The policy a nested call goes to, and what that policy may reach in turn.
type Target = Option<(Arc<dyn Callee>, Delegation)>;

impl CallState {
    /// The default policy, one level deeper.
    fn nested_default(&self) -> Target {
        let default = self.delegation.default_policy()?.clone();
        Some((default, self.delegation.nested(None)))
    }

    /// The custom policy to call for `interface`, with that interface now being answered.
    fn nested_custom(&self, interface: PolicyInterface) -> Target {
        let custom = self.delegation.custom_for(interface)?.clone();
        Some((custom, self.delegation.nested(Some(interface))))
    }

    /// Asks `target` through `call` (recorded as `function` when there is a trail) and hands the
    /// reply back; `unsupported` when there is no policy to ask.
    fn ask<T>(
        &mut self,
        target: Target,
        function: &'static str,
        call: impl FnOnce(&dyn Callee, &Delegation) -> Result<Reply<T>, PolicyError>,
    ) -> wasmtime::Result<Result<T, WitPolicyError>> {
        let Some((policy, nested)) = target else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            policy.name(),
            function,
            || call(policy.as_ref(), &nested),
        );
        pass_back(self, reply)
    }
}
