
impl PlannerPolicy for {{type}} {
    fn plan_service(observation: ServiceObservation) -> Result<Plan, PolicyError> {
        let mut plan = observation.default_plan()?;
        let service = &observation.service;
        match service.label(TEAM_LABEL) {
            Some(team) => {
                let team = sanitize_label_value(team);
                for kind in ["InferenceService", "HTTPRoute"] {
                    for object in plan.objects_mut(kind) {
                        object.set_label(TEAM_LABEL, team.clone());
                    }
                }
            }
            None if !service.is_being_deleted() => plan.warn(
                "NoTeam",
                format!("AIMService {} has no {TEAM_LABEL} label; its objects cannot be charged to a team", service.name()),
            ),
            None => {}
        }
        Ok(plan)
    }
}
