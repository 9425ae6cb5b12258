//! The policy in force: an optional custom policy in front of the embedded default. Each call
//! goes to the custom policy when it exports that interface and does not answer `unsupported`;
//! otherwise to the default. Plans are checked whichever policy made them.

use std::sync::Arc;

use serde_json::Value;

use super::bindings::{PathRequest, Selection, SelectionRequest};
use super::checks::{OutputRules, PlanSubject, check_plan};
use super::error::PolicyError;
use super::loaded::{LoadedPolicy, PlanFlow, Reply};

/// An immutable pair of policies; swapped whole on reload so in-flight calls finish on the old one.
#[derive(Debug, Clone)]
pub struct PolicySet {
    custom: Option<Arc<LoadedPolicy>>,
    default: Arc<LoadedPolicy>,
    rules: Arc<OutputRules>,
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
        }
    }

    pub fn custom(&self) -> Option<&Arc<LoadedPolicy>> {
        self.custom.as_ref()
    }

    pub fn default_policy(&self) -> &Arc<LoadedPolicy> {
        &self.default
    }

    pub fn render_path(&self, request: &PathRequest) -> Result<String, PolicyError> {
        self.first_answer(|policy| policy.render_path(request))
    }

    pub fn select_template(&self, request: &SelectionRequest) -> Result<Selection, PolicyError> {
        self.first_answer(|policy| policy.select_template(request))
    }

    /// Plans `flow` for `subject` and returns the checked plan document.
    pub fn plan(
        &self,
        flow: PlanFlow,
        observation: &str,
        subject: &PlanSubject,
    ) -> Result<Value, PolicyError> {
        let text = self.first_answer(|policy| policy.plan_raw(flow, observation))?;
        check_plan(&text, subject, &self.rules)
    }

    fn first_answer<T>(
        &self,
        call: impl Fn(&LoadedPolicy) -> Result<Reply<T>, PolicyError>,
    ) -> Result<T, PolicyError> {
        if let Some(custom) = &self.custom
            && let Reply::Answer(answer) = call(custom)?
        {
            return Ok(answer);
        }
        match call(&self.default)? {
            Reply::Answer(answer) => Ok(answer),
            // The embedded default implements everything; reaching this is a build defect.
            Reply::Unsupported => Err(PolicyError::Incompatible {
                detail: "the default policy does not implement this call".to_string(),
            }),
        }
    }
}
