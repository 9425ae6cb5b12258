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
        let Some(default) = self.delegation.default_policy().cloned() else {
            return Ok(Err(WitPolicyError::Unsupported));
        };
        let nested = self.delegation.nested(None);
        let reply = traced(
            nested.trail.as_ref(),
            nested.depth,
            default.name(),
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
            default.name(),
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
            default.name(),
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
            custom.name(),
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
            custom.name(),
            "select-template",
            || custom.select_template(&request, &nested),
        );
        pass_back(self, reply)
    }
}

impl CallState {
    /// The custom policy to call for `interface` and what it may reach in turn.
    fn nested_custom(&self, interface: PolicyInterface) -> Option<(Arc<dyn Callee>, Delegation)> {
        let custom = self.delegation.custom_for(interface)?.clone();
        Some((custom, self.delegation.nested(Some(interface))))
    }
}
