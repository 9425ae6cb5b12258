//! The policy in force: an optional custom policy in front of the embedded default. Each call
//! goes to the custom policy when it exports that interface and does not answer `unsupported`;
//! otherwise to the default. Plans are checked whichever policy made them. A set without a custom
//! policy may plan with the default compiled natively instead ([`PolicyEngine::Native`]), to
//! measure the sandbox.

use std::sync::Arc;

use serde_json::Value;

use super::bindings::{PathRequest, PolicyInterface, Selection, SelectionRequest};
use super::checks::{OutputRules, PlanSubject, check_plan};
use super::delegation::Delegation;
use super::error::PolicyError;
use super::loaded::LoadedPolicy;
use super::native::{self, PolicyEngine};
use super::reply::Reply;
use super::subject_kind::SubjectKind;
use super::trail::{Trail, traced};

/// An immutable pair of policies; swapped whole on reload so in-flight calls finish on the old one.
#[derive(Debug, Clone)]
pub struct PolicySet {
    custom: Option<Arc<LoadedPolicy>>,
    default: Arc<LoadedPolicy>,
    rules: Arc<OutputRules>,
    engine: PolicyEngine,
    /// Records which policy answered which call (offline tools only).
    trail: Option<Trail>,
}

impl PolicySet {
    pub fn new(
        custom: Option<Arc<LoadedPolicy>>,
        default: Arc<LoadedPolicy>,
        rules: Arc<OutputRules>,
    ) -> Self {
        PolicySet {
            custom,
            default,
            rules,
            engine: PolicyEngine::Wasm,
            trail: None,
        }
    }

    /// The same policies, recording every call they make in a new [`Trail`].
    pub fn traced(&self) -> (Self, Trail) {
        let trail = Trail::default();
        let set = PolicySet {
            trail: Some(trail.clone()),
            ..self.clone()
        };
        (set, trail)
    }

    /// The same set, planning with `engine` when it has no custom policy.
    pub fn with_engine(self, engine: PolicyEngine) -> Self {
        PolicySet { engine, ..self }
    }

    pub fn custom(&self) -> Option<&Arc<LoadedPolicy>> {
        self.custom.as_ref()
    }

    pub fn default_policy(&self) -> &Arc<LoadedPolicy> {
        &self.default
    }

    pub fn render_path(&self, request: &PathRequest) -> Result<String, PolicyError> {
        self.first_answer(
            PolicyInterface::Paths,
            "render-path",
            |policy, delegation| policy.render_path(request, delegation),
        )
    }

    pub fn select_template(&self, request: &SelectionRequest) -> Result<Selection, PolicyError> {
        self.first_answer(
            PolicyInterface::Selection,
            "select-template",
            |policy, delegation| policy.select_template(request, delegation),
        )
    }

    /// Plans `flow` for `subject` and returns the checked plan document.
    pub fn plan(
        &self,
        flow: SubjectKind,
        observation: &str,
        subject: &PlanSubject,
    ) -> Result<Value, PolicyError> {
        let text = match (&self.custom, self.engine) {
            (None, PolicyEngine::Native) => native::plan(flow, observation)?,
            _ => self.first_answer(
                PolicyInterface::Planner,
                flow.function(),
                |policy, delegation| policy.plan_raw(flow, observation, delegation),
            )?,
        };
        check_plan(&text, subject, &self.rules)
    }

    /// Asks the custom policy, then the default. Either may consult the other (see
    /// [`Delegation`]); the custom `interface` already asked is never asked again.
    fn first_answer<T>(
        &self,
        interface: PolicyInterface,
        function: &'static str,
        call: impl Fn(&LoadedPolicy, &Delegation) -> Result<Reply<T>, PolicyError>,
    ) -> Result<T, PolicyError> {
        let custom = self.custom.as_ref();
        let already_asked = custom.is_some().then_some(interface);
        let trail = self.trail.as_ref();
        if let Some(custom) = custom.filter(|custom| custom.exports(interface)) {
            let delegation = Delegation::within_set(Some(custom), &self.default, Some(interface))
                .with_trail(self.trail.clone());
            let reply = traced(trail, 0, &custom.info().name, function, || {
                call(custom, &delegation)
            })?;
            if let Reply::Answer(answer) = reply {
                return Ok(answer);
            }
        }
        let delegation = Delegation::within_set(custom, &self.default, already_asked)
            .with_trail(self.trail.clone());
        match traced(trail, 0, &self.default.info().name, function, || {
            call(&self.default, &delegation)
        })? {
            Reply::Answer(answer) => Ok(answer),
            // The embedded default implements everything; reaching this is a build defect.
            Reply::Unsupported => Err(PolicyError::Incompatible {
                detail: "the default policy does not implement this call".to_string(),
            }),
        }
    }
}
