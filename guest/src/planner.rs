//! Planning: an observation document in, a plan document out, one entry point per reconciled
//! kind. Documents are decoded into the typed observations of `aim_api::policy`, so a malformed
//! one is refused with the field at fault instead of being half-understood.

use aim_api::policy::OBSERVATION_API_VERSION;
use aim_api::policy::observation::{
    ModelCacheObservation, ModelObservation, ServiceObservation, TemplateCacheObservation,
    TemplateObservation,
};
use aim_api::policy::plan::Plan;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::PolicyFailure;
use crate::advisor::Advisor;

/// The kind of subject a plan is made for; each has its own WIT function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Service,
    Template,
    Model,
    TemplateCache,
    ModelCache,
}

/// Plans a subject of `kind` from the observation JSON and returns the plan JSON; `advisor` is
/// the custom policy's say in it.
pub fn plan_json(
    kind: SubjectKind,
    observation_json: &str,
    advisor: &dyn Advisor,
) -> Result<String, PolicyFailure> {
    let observation: Value = serde_json::from_str(observation_json).map_err(|error| {
        PolicyFailure::InvalidInput(format!("observation is not valid JSON: {error}"))
    })?;
    let plan = plan(kind, observation, advisor)?;
    serde_json::to_string(&plan)
        .map_err(|error| PolicyFailure::InvalidInput(format!("plan could not be encoded: {error}")))
}

/// Plans a subject of `kind` from a parsed observation.
pub fn plan(
    kind: SubjectKind,
    observation: Value,
    advisor: &dyn Advisor,
) -> Result<Plan, PolicyFailure> {
    let version = observation.get("apiVersion").and_then(Value::as_str);
    if version != Some(OBSERVATION_API_VERSION) {
        return Err(PolicyFailure::InvalidInput(format!(
            "observation apiVersion {version:?} is not supported; expected {OBSERVATION_API_VERSION:?}"
        )));
    }
    match kind {
        SubjectKind::Service => {
            crate::service::plan_service(&decode::<ServiceObservation>(observation)?, advisor)
        }
        SubjectKind::Template => {
            crate::flows::plan_template(&decode::<TemplateObservation>(observation)?)
        }
        SubjectKind::Model => crate::flows::plan_model(&decode::<ModelObservation>(observation)?),
        SubjectKind::TemplateCache => {
            crate::flows::plan_template_cache(&decode::<TemplateCacheObservation>(observation)?)
        }
        SubjectKind::ModelCache => {
            crate::flows::plan_model_cache(&decode::<ModelCacheObservation>(observation)?)
        }
    }
}

fn decode<T: DeserializeOwned>(observation: Value) -> Result<T, PolicyFailure> {
    serde_path_to_error::deserialize(observation).map_err(|error| {
        PolicyFailure::InvalidInput(format!(
            "observation field `{}`: {}",
            error.path(),
            error.inner()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::NoAdvice;

    #[test]
    fn malformed_or_foreign_observations_are_invalid_input() {
        for document in ["not json", "[]", r#"{"apiVersion":"v9"}"#] {
            assert!(
                matches!(
                    plan_json(SubjectKind::Model, document, &NoAdvice),
                    Err(PolicyFailure::InvalidInput(_))
                ),
                "{document}"
            );
        }
    }

    #[test]
    fn a_malformed_observation_names_the_field_at_fault() {
        let document = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"metadata":{"name":"x"},"spec":{"model":{},"replicas":"three"}}}"#;
        let Err(PolicyFailure::InvalidInput(message)) =
            plan_json(SubjectKind::Service, document, &NoAdvice)
        else {
            panic!("expected invalid input");
        };
        assert!(message.contains("service.spec.replicas"), "{message}");
    }
}
