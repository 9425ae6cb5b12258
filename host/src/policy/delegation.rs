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
//! (timeout, memory, trap) fails the outer call with the same typed error. The host functions
//! behind those imports are in `imports.rs`.

use std::sync::Arc;

use super::bindings::{PathRequest, PolicyInterface, Selection, SelectionRequest};
use super::bounds::CallBounds;
use super::error::PolicyError;
use super::reply::Reply;
use super::subject_kind::SubjectKind;
use super::trail::Trail;

/// A policy another policy may call: what `Delegation` needs of a loaded policy, so that the
/// nested-call machinery does not depend on how a policy is loaded and called.
pub trait Callee: std::fmt::Debug + Send + Sync {
    /// Its name, from its metadata.
    fn name(&self) -> &str;
    /// Whether it implements and exports `interface`.
    fn exports(&self, interface: PolicyInterface) -> bool;
    fn render_path(
        &self,
        request: &PathRequest,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError>;
    fn select_template(
        &self,
        request: &SelectionRequest,
        delegation: &Delegation,
    ) -> Result<Reply<Selection>, PolicyError>;
    fn plan_raw(
        &self,
        kind: SubjectKind,
        observation: &str,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError>;
}

/// Deepest chain of nested calls (custom → default → custom → default).
const MAX_DEPTH: usize = 4;

/// Which other policies a call may reach, and what is already on the call stack.
#[derive(Debug, Clone, Default)]
pub struct Delegation {
    default: Option<Arc<dyn Callee>>,
    custom: Option<Arc<dyn Callee>>,
    /// Custom interfaces being answered further up the stack.
    in_progress: Vec<PolicyInterface>,
    pub(super) depth: usize,
    /// Where nested calls are recorded, when the caller asked for a trail.
    pub(super) trail: Option<Trail>,
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
    pub fn within_set<C: Callee + 'static>(
        custom: Option<&Arc<C>>,
        default: &Arc<C>,
        interface: Option<PolicyInterface>,
    ) -> Self {
        Delegation {
            default: Some(default.clone()),
            custom: custom.map(|custom| custom.clone() as Arc<dyn Callee>),
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
    pub(super) fn nested(&self, interface: Option<PolicyInterface>) -> Self {
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
    pub(super) fn custom_for(&self, interface: PolicyInterface) -> Option<&Arc<dyn Callee>> {
        self.custom.as_ref().filter(|custom| {
            self.depth < MAX_DEPTH
                && custom.exports(interface)
                && !self.in_progress.contains(&interface)
        })
    }

    pub(super) fn default_policy(&self) -> Option<&Arc<dyn Callee>> {
        self.default.as_ref().filter(|_| self.depth < MAX_DEPTH)
    }
}
