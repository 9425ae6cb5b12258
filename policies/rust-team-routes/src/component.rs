//! Component glue: the `aim:policy@0.1.0` interfaces this policy implements, through the
//! `aim-policy` SDK, delegating to the embedded default policy for everything it does not change.

use aim_policy::prelude::*;
use serde_json::Value;

struct TeamRoutes;

impl Policy for TeamRoutes {
    const NAME: &'static str = "team-routes";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}

impl PathsPolicy for TeamRoutes {
    fn render_path(request: PathRequest) -> Result<String, PolicyError> {
        let service: Value = serde_json::from_str(&request.service_json)
            .map_err(|e| invalid_input(format!("service is not JSON: {e}")))?;
        match crate::team_path(&service, request.path_template.as_deref()) {
            Some(path) => Ok(path),
            None => defaults::render_path(&request),
        }
    }
}

impl PlannerPolicy for TeamRoutes {
    fn plan_service(observation: ServiceObservation) -> Result<Plan, PolicyError> {
        // The default plan already uses this policy's paths (the host offers them to it).
        let plan = observation.default_plan()?;
        let service = serde_json::to_value(&observation.service)
            .map_err(|e| invalid_input(format!("service: {e}")))?;
        let mut plan =
            serde_json::to_value(plan).map_err(|e| invalid_input(format!("plan: {e}")))?;
        crate::annotate_routes(&mut plan, &service);
        serde_json::from_value(plan).map_err(|e| invalid_input(format!("plan: {e}")))
    }
}

aim_policy::export!(TeamRoutes: PathsPolicy, PlannerPolicy);
