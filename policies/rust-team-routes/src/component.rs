//! Component glue: the `aim:policy@0.1.0` world this policy implements, delegating to the
//! embedded default policy (the `defaults` import) for everything it does not change.

// The generated bindings implement the canonical ABI with `unsafe` code; none is written by hand.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../wit", world: "policy" });

use serde_json::Value;

use aim::policy::defaults;
use aim::policy::types::{
    PathRequest, PlanFlow, PolicyError, PolicyInterface, Selection, SelectionRequest,
};
use exports::aim::policy::metadata::{self, PolicyInfo};
use exports::aim::policy::{paths, planner, selection};

struct TeamRoutes;

export!(TeamRoutes);

impl metadata::Guest for TeamRoutes {
    fn info() -> PolicyInfo {
        PolicyInfo {
            name: "team-routes".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            implements: vec![PolicyInterface::Paths, PolicyInterface::Planner],
        }
    }
}

impl paths::Guest for TeamRoutes {
    fn render_path(request: PathRequest) -> Result<String, PolicyError> {
        let service: Value = serde_json::from_str(&request.service_json)
            .map_err(|e| PolicyError::InvalidInput(format!("service is not JSON: {e}")))?;
        match crate::team_path(&service, request.path_template.as_deref()) {
            Some(path) => Ok(path),
            None => defaults::render_path(&request),
        }
    }
}

impl selection::Guest for TeamRoutes {
    fn select_template(_: SelectionRequest) -> Result<Selection, PolicyError> {
        Err(PolicyError::Unsupported)
    }
}

impl planner::Guest for TeamRoutes {
    fn plan_service(observation: String) -> Result<String, PolicyError> {
        // The default plan already uses this policy's paths (the host offers them to it).
        let plan = defaults::plan(PlanFlow::Service, &observation)?;
        let observed: Value = serde_json::from_str(&observation)
            .map_err(|e| PolicyError::InvalidInput(format!("observation is not JSON: {e}")))?;
        let Some(service) = observed.get("service") else {
            return Ok(plan);
        };
        let mut plan: Value = serde_json::from_str(&plan)
            .map_err(|e| PolicyError::InvalidInput(format!("default plan is not JSON: {e}")))?;
        crate::annotate_routes(&mut plan, service);
        Ok(plan.to_string())
    }
    fn plan_template(_: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_model(_: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_template_cache(_: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
    fn plan_model_cache(_: String) -> Result<String, PolicyError> {
        Err(PolicyError::Unsupported)
    }
}
