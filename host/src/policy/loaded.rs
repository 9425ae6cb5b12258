//! A compiled, linked and checked policy, and the typed calls into it.
//!
//! Each exported interface is looked up on its own, so a policy may implement any subset of the
//! contract; a call into an interface it lacks answers [`Reply::Unsupported`] and the caller
//! falls back to the default policy.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::Engine;
use wasmtime::component::InstancePre;

use super::bindings::{
    METADATA_EXPORT, PATHS_EXPORT, PLANNER_EXPORT, PathRequest, PolicyInfo, PolicyInterface,
    SELECTION_EXPORT, Selection, SelectionRequest, WitPolicyError, metadata, paths, planner,
    selection,
};
use super::cache::CacheOutcome;
use super::call::{CallTarget, call};
use super::delegation::{Callee, Delegation};
use super::diagnose;
use super::digest::Digest;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::memory::MemoryPool;
use super::reply::Reply;
use super::sandbox::CallState;
use super::subject_kind::SubjectKind;

/// How loading went, for `policy check` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Compiling, or loading the precompiled artifact.
    pub compile_time: Duration,
    /// `None` when the cache is disabled.
    pub cache: Option<CacheOutcome>,
}

/// Borrowed internals of a [`LoadedPolicy`], for [`super::bench`].
pub(super) struct PolicyParts<'a> {
    pub engine: &'a Engine,
    pub pre: &'a InstancePre<CallState>,
    pub tick: Duration,
    pub budget: &'a Arc<MemoryPool>,
    pub metadata: &'a metadata::GuestIndices,
    pub paths: Option<&'a paths::GuestIndices>,
    pub selection: Option<&'a selection::GuestIndices>,
    pub planner: Option<&'a planner::GuestIndices>,
}

/// A policy ready to be called; cheap to share behind an `Arc`.
pub struct LoadedPolicy {
    engine: Engine,
    pre: InstancePre<CallState>,
    digest: Digest,
    info: PolicyInfo,
    limits: PolicyLimits,
    tick: Duration,
    /// The process-wide memory budget its calls draw from.
    budget: Arc<MemoryPool>,
    report: LoadReport,
    metadata: metadata::GuestIndices,
    paths: Option<paths::GuestIndices>,
    selection: Option<selection::GuestIndices>,
    planner: Option<planner::GuestIndices>,
}

impl std::fmt::Debug for LoadedPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPolicy")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("digest", &self.digest)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl LoadedPolicy {
    /// Finds the exports, type-checks them in a trial instance and reads the metadata.
    pub(super) fn check(
        engine: Engine,
        pre: InstancePre<CallState>,
        digest: Digest,
        limits: PolicyLimits,
        tick: Duration,
        budget: Arc<MemoryPool>,
        report: LoadReport,
    ) -> Result<Self, PolicyError> {
        let component = pre.component();
        let exported = |name: &str| component.get_export_index(None, name).is_some();
        if !exported(METADATA_EXPORT) {
            return Err(diagnose::missing_metadata(
                component,
                &engine,
                METADATA_EXPORT,
            ));
        }
        let incompatible = |name: &str, error: wasmtime::Error| PolicyError::Incompatible {
            detail: format!("{name}: {error:#}"),
        };
        let metadata =
            metadata::GuestIndices::new(&pre).map_err(|e| incompatible(METADATA_EXPORT, e))?;
        let paths = exported(PATHS_EXPORT)
            .then(|| paths::GuestIndices::new(&pre))
            .transpose()
            .map_err(|e| incompatible(PATHS_EXPORT, e))?;
        let selection = exported(SELECTION_EXPORT)
            .then(|| selection::GuestIndices::new(&pre))
            .transpose()
            .map_err(|e| incompatible(SELECTION_EXPORT, e))?;
        let planner = exported(PLANNER_EXPORT)
            .then(|| planner::GuestIndices::new(&pre))
            .transpose()
            .map_err(|e| incompatible(PLANNER_EXPORT, e))?;
        let mut policy = LoadedPolicy {
            engine,
            pre,
            digest,
            info: PolicyInfo {
                name: String::new(),
                version: String::new(),
                implements: Vec::new(),
            },
            limits,
            tick,
            budget,
            report,
            metadata,
            paths,
            selection,
            planner,
        };
        policy.info = policy.read_metadata()?;
        for claimed in &policy.info.implements {
            if !policy.has_export(*claimed) {
                return Err(PolicyError::Incompatible {
                    detail: format!(
                        "its metadata claims {} but the component does not export it",
                        interface_name(*claimed)
                    ),
                });
            }
        }
        Ok(policy)
    }

    /// Calls `info` and, in the same instance, type-checks every exported interface, so a
    /// mismatched signature is reported at load time rather than on the first real call.
    fn read_metadata(&self) -> Result<PolicyInfo, PolicyError> {
        let outcome = call(&self.target(&Delegation::none()), |store, instance| {
            let checked = [
                self.paths
                    .as_ref()
                    .map(|p| p.load(&mut *store, instance).map(drop)),
                self.selection
                    .as_ref()
                    .map(|s| s.load(&mut *store, instance).map(drop)),
                self.planner
                    .as_ref()
                    .map(|p| p.load(&mut *store, instance).map(drop)),
            ];
            if let Some(Err(error)) = checked.into_iter().flatten().find(Result::is_err) {
                return Ok(Err(error));
            }
            let metadata = match self.metadata.load(&mut *store, instance) {
                Ok(metadata) => metadata,
                Err(error) => return Ok(Err(error)),
            };
            metadata.call_info(&mut *store).map(Ok)
        })?;
        outcome.map_err(|error| PolicyError::Incompatible {
            detail: format!("{error:#}"),
        })
    }

    fn target<'a>(&'a self, delegation: &'a Delegation) -> CallTarget<'a> {
        CallTarget {
            delegation,
            engine: &self.engine,
            pre: &self.pre,
            limits: self.limits,
            tick: self.tick,
            policy_name: &self.info.name,
            budget: &self.budget,
        }
    }

    /// The pieces the benchmark needs to drive a long-lived instance.
    pub(super) fn parts(&self) -> PolicyParts<'_> {
        PolicyParts {
            engine: &self.engine,
            pre: &self.pre,
            tick: self.tick,
            budget: &self.budget,
            metadata: &self.metadata,
            paths: self.paths.as_ref(),
            selection: self.selection.as_ref(),
            planner: self.planner.as_ref(),
        }
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    pub fn info(&self) -> &PolicyInfo {
        &self.info
    }

    pub fn limits(&self) -> PolicyLimits {
        self.limits
    }

    pub fn load_report(&self) -> LoadReport {
        self.report
    }

    /// Whether the policy implements `interface`: its metadata claims it (and loading checked
    /// that the component exports it). An interface exported but not claimed, as a component
    /// built for the whole `policy` world may do, is left to the default policy.
    pub fn exports(&self, interface: PolicyInterface) -> bool {
        self.info.implements.contains(&interface) && self.has_export(interface)
    }

    fn has_export(&self, interface: PolicyInterface) -> bool {
        match interface {
            PolicyInterface::Paths => self.paths.is_some(),
            PolicyInterface::Selection => self.selection.is_some(),
            PolicyInterface::Planner => self.planner.is_some(),
        }
    }

    /// Calls `metadata.info` in a fresh instance (what `policy bench` measures).
    pub fn call_info(&self) -> Result<PolicyInfo, PolicyError> {
        call(&self.target(&Delegation::none()), |store, instance| {
            self.metadata
                .load(&mut *store, instance)?
                .call_info(&mut *store)
        })
    }

    /// Renders a route path; `delegation` says which other policies the call may consult.
    pub fn render_path(
        &self,
        request: &PathRequest,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError> {
        let Some(paths) = &self.paths else {
            return Ok(Reply::Unsupported);
        };
        let answer = call(&self.target(delegation), |store, instance| {
            paths
                .load(&mut *store, instance)?
                .call_render_path(&mut *store, request)
        })?;
        reply(answer)
    }

    pub fn select_template(
        &self,
        request: &SelectionRequest,
        delegation: &Delegation,
    ) -> Result<Reply<Selection>, PolicyError> {
        let Some(selection) = &self.selection else {
            return Ok(Reply::Unsupported);
        };
        let answer = call(&self.target(delegation), |store, instance| {
            selection
                .load(&mut *store, instance)?
                .call_select_template(&mut *store, request)
        })?;
        reply(answer)
    }

    /// Runs one planner entry point and returns the plan document unchecked; see
    /// [`super::PolicySet::plan`] for the checked form.
    pub fn plan_raw(
        &self,
        flow: SubjectKind,
        observation: &str,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError> {
        let Some(planner) = &self.planner else {
            return Ok(Reply::Unsupported);
        };
        let answer = call(&self.target(delegation), |store, instance| {
            let guest = planner.load(&mut *store, instance)?;
            match flow {
                SubjectKind::Service => guest.call_plan_service(&mut *store, observation),
                SubjectKind::Template => guest.call_plan_template(&mut *store, observation),
                SubjectKind::Model => guest.call_plan_model(&mut *store, observation),
                SubjectKind::TemplateCache => {
                    guest.call_plan_template_cache(&mut *store, observation)
                }
                SubjectKind::ModelCache => guest.call_plan_model_cache(&mut *store, observation),
            }
        })?;
        reply(answer)
    }
}

impl Callee for LoadedPolicy {
    fn name(&self) -> &str {
        &self.info().name
    }

    fn exports(&self, interface: PolicyInterface) -> bool {
        LoadedPolicy::exports(self, interface)
    }

    fn render_path(
        &self,
        request: &PathRequest,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError> {
        LoadedPolicy::render_path(self, request, delegation)
    }

    fn select_template(
        &self,
        request: &SelectionRequest,
        delegation: &Delegation,
    ) -> Result<Reply<Selection>, PolicyError> {
        LoadedPolicy::select_template(self, request, delegation)
    }

    fn plan_raw(
        &self,
        kind: SubjectKind,
        observation: &str,
        delegation: &Delegation,
    ) -> Result<Reply<String>, PolicyError> {
        LoadedPolicy::plan_raw(self, kind, observation, delegation)
    }
}

/// Maps the policy's own WIT error to the host's typed error.
fn reply<T>(answer: Result<T, WitPolicyError>) -> Result<Reply<T>, PolicyError> {
    match answer {
        Ok(value) => Ok(Reply::Answer(value)),
        Err(WitPolicyError::Unsupported) => Ok(Reply::Unsupported),
        Err(WitPolicyError::InvalidInput(detail)) => Err(PolicyError::InvalidInput { detail }),
        Err(WitPolicyError::Rejected(rejection)) => Err(PolicyError::Rejected {
            reason: rejection.reason,
            message: rejection.message,
        }),
    }
}

pub fn interface_name(interface: PolicyInterface) -> &'static str {
    match interface {
        PolicyInterface::Paths => PATHS_EXPORT,
        PolicyInterface::Selection => SELECTION_EXPORT,
        PolicyInterface::Planner => PLANNER_EXPORT,
    }
}
