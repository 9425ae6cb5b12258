//! The registry of the policies in force, with hot reload: the unnamed set (the embedded default,
//! or one custom policy given at start-up) and the named sets of AIMPolicies, which runtime
//! configs select by name.
//!
//! A new policy is compiled and checked off the caller's thread, then swapped in atomically;
//! calls already running keep the `Arc` of the set they started with. A new version that fails
//! to load leaves the last good set active and is remembered as [`ReloadFailure`], so the
//! operator can say why in status.
//!
//! With [`PolicyEngine::Native`] the unnamed set plans with the default policy compiled into the
//! binary, and every object gets it, whatever AIMPolicy its runtime config names: a mode for
//! measuring the sandbox's cost, never for production.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::core::{Selector, SelectorExt};

use super::checks::OutputRules;
use super::digest::Digest;
use super::embedded::load_default_policy;
use super::error::PolicyError;
use super::limits::PolicyLimits;
use super::loaded::LoadedPolicy;
use super::native::PolicyEngine;
use super::runtime::PolicyRuntime;
use super::set::PolicySet;

/// A custom policy to activate.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub wasm: Vec<u8>,
    /// When set, a policy whose sha256 differs is refused.
    pub expected_digest: Option<Digest>,
    pub limits: PolicyLimits,
}

/// The last update that could not be activated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadFailure {
    pub digest: Digest,
    pub error: PolicyError,
}

pub struct PolicyRegistry {
    runtime: Arc<PolicyRuntime>,
    rules: Arc<OutputRules>,
    default: Arc<LoadedPolicy>,
    active: RwLock<Arc<PolicySet>>,
    last_failure: Mutex<Option<ReloadFailure>>,
    named: RwLock<HashMap<String, Arc<PolicySet>>>,
    /// Which namespaces may select each AIMPolicy (its `namespaceSelector`), by name.
    selectors: RwLock<HashMap<String, Option<LabelSelector>>>,
    engine: PolicyEngine,
}

impl std::fmt::Debug for PolicyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRegistry")
            .field("active", &self.active())
            .finish_non_exhaustive()
    }
}

impl PolicyRegistry {
    /// Starts with the embedded default policy active.
    pub fn new(runtime: Arc<PolicyRuntime>, rules: OutputRules) -> Result<Self, PolicyError> {
        let default = load_default_policy(&runtime)?;
        Ok(Self::with_default_policy(runtime, default, rules))
    }

    /// Starts with `default` active, a default policy already loaded by `runtime`.
    pub fn with_default_policy(
        runtime: Arc<PolicyRuntime>,
        default: Arc<LoadedPolicy>,
        rules: OutputRules,
    ) -> Self {
        let rules = Arc::new(rules);
        let active = Arc::new(PolicySet::new(None, default.clone(), rules.clone()));
        PolicyRegistry {
            runtime,
            rules,
            default,
            active: RwLock::new(active),
            last_failure: Mutex::new(None),
            named: RwLock::new(HashMap::new()),
            selectors: RwLock::new(HashMap::new()),
            engine: PolicyEngine::Wasm,
        }
    }

    /// Plans with `engine`: [`PolicyEngine::Native`] makes the unnamed set plan natively and
    /// every lookup by policy name answer with it.
    pub fn with_engine(self, engine: PolicyEngine) -> Self {
        let active = Arc::new(
            PolicySet::new(None, self.default.clone(), self.rules.clone()).with_engine(engine),
        );
        PolicyRegistry {
            active: RwLock::new(active),
            engine,
            ..self
        }
    }

    /// How the default policy runs.
    pub fn engine(&self) -> PolicyEngine {
        self.engine
    }

    /// The policy set in force now; hold the `Arc` for the duration of one reconcile.
    pub fn active(&self) -> Arc<PolicySet> {
        self.active
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The most recent update that failed, until a later one succeeds.
    pub fn last_failure(&self) -> Option<ReloadFailure> {
        self.last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Loads and checks `source` on this thread (it may take seconds for large policies; use
    /// [`Self::update_in_background`] from async code), then activates it.
    pub fn update(&self, source: &PolicySource) -> Result<Digest, PolicyError> {
        let digest = Digest::of(&source.wasm);
        match self
            .runtime
            .load(&source.wasm, source.expected_digest.as_ref(), source.limits)
        {
            Ok(policy) => {
                let set = Arc::new(PolicySet::new(
                    Some(Arc::new(policy)),
                    self.default.clone(),
                    self.rules.clone(),
                ));
                *self.active.write().unwrap_or_else(PoisonError::into_inner) = set;
                *self
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                tracing::info!(policy = %digest, "custom policy activated");
                Ok(digest)
            }
            Err(error) => {
                tracing::warn!(policy = %digest, reason = error.reason(), error = %error, "policy update refused; keeping the active policy");
                *self
                    .last_failure
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(ReloadFailure {
                    digest,
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    /// [`Self::update`] on a new thread, so compilation never blocks a reconcile.
    pub fn update_in_background(
        self: &Arc<Self>,
        source: PolicySource,
    ) -> std::io::Result<JoinHandle<Result<Digest, PolicyError>>> {
        let registry = self.clone();
        std::thread::Builder::new()
            .name("policy-load".to_string())
            .spawn(move || registry.update(&source))
    }

    /// The set for objects whose runtime config names `policy`; the unnamed set when it names
    /// none; `None` when the named policy is not active (never loaded, refused, or deleted).
    pub fn for_policy(&self, policy: Option<&str>) -> Option<Arc<PolicySet>> {
        match policy {
            None => Some(self.active()),
            Some(_) if self.engine == PolicyEngine::Native => Some(self.active()),
            Some(name) => self
                .named
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(name)
                .cloned(),
        }
    }

    /// `limits` as a policy loaded here gets them: within the host's caps and memory budget.
    pub fn clamp(&self, limits: PolicyLimits) -> PolicyLimits {
        self.runtime.clamp(limits)
    }

    /// Whether an AIMPolicy named `name` is installed now.
    pub fn is_installed(&self, name: &str) -> bool {
        self.named
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(name)
    }

    /// Compiles and checks `source` without activating it (so its fixtures can run first).
    pub fn load(&self, source: &PolicySource) -> Result<Arc<LoadedPolicy>, PolicyError> {
        self.runtime
            .load(&source.wasm, source.expected_digest.as_ref(), source.limits)
            .map(Arc::new)
    }

    /// The set `policy` would form in front of the default policy.
    pub fn set_with(&self, policy: Arc<LoadedPolicy>) -> PolicySet {
        PolicySet::new(Some(policy), self.default.clone(), self.rules.clone())
    }

    /// Makes `policy` the one objects naming `name` get, replacing any earlier version.
    pub fn install(&self, name: &str, policy: Arc<LoadedPolicy>) {
        let set = Arc::new(self.set_with(policy));
        self.named
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), set);
    }

    /// Forgets the policy `name`; objects naming it fail until it is installed again.
    pub fn remove(&self, name: &str) {
        self.named
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
        self.selectors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// Records which namespaces may select the AIMPolicy `name` (its spec's `namespaceSelector`).
    pub fn set_namespace_selector(&self, name: &str, selector: Option<LabelSelector>) {
        self.selectors
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), selector);
    }

    /// Whether a namespace labelled `labels` may select the AIMPolicy `name`: when its
    /// `namespaceSelector` matches them (`{}` matches every namespace). Without a selector, or
    /// with one that does not parse, no namespace may (the operator's own namespace, whose
    /// runtime configs only admins write, is the caller's to allow).
    pub fn admits(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        let selectors = self
            .selectors
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(Some(selector)) = selectors.get(name) else {
            return false;
        };
        Selector::try_from(selector.clone()).is_ok_and(|selector| selector.matches(labels))
    }

    /// Deactivates any custom policy.
    pub fn use_default(&self) {
        let set = Arc::new(
            PolicySet::new(None, self.default.clone(), self.rules.clone()).with_engine(self.engine),
        );
        *self.active.write().unwrap_or_else(PoisonError::into_inner) = set;
    }
}
