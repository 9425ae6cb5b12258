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

/// The kind of object a plan is for; each has its own WIT function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Service,
    Template,
    Model,
    TemplateCache,
    ModelCache,
}

/// Plans `flow` from the observation JSON and returns the plan JSON.
pub fn plan_json(flow: Flow, observation_json: &str) -> Result<String, PolicyFailure> {
    let observation: Value = serde_json::from_str(observation_json).map_err(|error| {
        PolicyFailure::InvalidInput(format!("observation is not valid JSON: {error}"))
    })?;
    let plan = plan(flow, observation)?;
    serde_json::to_string(&plan)
        .map_err(|error| PolicyFailure::InvalidInput(format!("plan could not be encoded: {error}")))
}

/// Plans `flow` from a parsed observation.
pub fn plan(flow: Flow, observation: Value) -> Result<Plan, PolicyFailure> {
    let version = observation.get("apiVersion").and_then(Value::as_str);
    if version != Some(OBSERVATION_API_VERSION) {
        return Err(PolicyFailure::InvalidInput(format!(
            "observation apiVersion {version:?} is not supported; expected {OBSERVATION_API_VERSION:?}"
        )));
    }
    match flow {
        Flow::Service => crate::service::plan_service(&decode::<ServiceObservation>(observation)?),
        Flow::Template => crate::flows::plan_template(&decode::<TemplateObservation>(observation)?),
        Flow::Model => crate::flows::plan_model(&decode::<ModelObservation>(observation)?),
        Flow::TemplateCache => {
            crate::flows::plan_template_cache(&decode::<TemplateCacheObservation>(observation)?)
        }
        Flow::ModelCache => {
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

    #[test]
    fn malformed_or_foreign_observations_are_invalid_input() {
        for document in ["not json", "[]", r#"{"apiVersion":"v9"}"#] {
            assert!(
                matches!(
                    plan_json(Flow::Model, document),
                    Err(PolicyFailure::InvalidInput(_))
                ),
                "{document}"
            );
        }
    }

    #[test]
    fn a_malformed_observation_names_the_field_at_fault() {
        let document = r#"{"apiVersion":"aim.silogen.ai/observation/v1","service":{"metadata":{"name":"x"},"spec":{"model":{},"replicas":"three"}}}"#;
        let Err(PolicyFailure::InvalidInput(message)) = plan_json(Flow::Service, document) else {
            panic!("expected invalid input");
        };
        assert!(message.contains("service.spec.replicas"), "{message}");
    }
}
