

class Planner(wit_world.exports.Planner):
    def plan_service(self, observation: str) -> str:
        plan = json.loads(defaults.plan(types.PlanFlow.SERVICE, observation))
        service = json.loads(observation)["service"]
        team = label(service, TEAM_LABEL)
        if team is not None:
            for obj in objects(plan, "InferenceService") + objects(plan, "HTTPRoute"):
                set_label(obj, TEAM_LABEL, sanitize_label_value(team))
        elif not (service.get("metadata") or {}).get("deletionTimestamp"):
            warn(
                plan,
                "NoTeam",
                f"AIMService {name(service)} has no {TEAM_LABEL} label; its objects cannot be charged to a team",
            )
        return json.dumps(plan, separators=(",", ":"))

    # `unsupported`: the default policy plans these.
    def plan_template(self, observation: str) -> str:
        raise unsupported()

    def plan_model(self, observation: str) -> str:
        raise unsupported()

    def plan_template_cache(self, observation: str) -> str:
        raise unsupported()

    def plan_model_cache(self, observation: str) -> str:
        raise unsupported()
