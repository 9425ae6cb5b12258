

class Paths(wit_world.exports.Paths):
    def render_path(self, request: types.PathRequest) -> str:
        # A path template set on the service or its runtime config wins: the default renders it.
        if request.path_template is not None:
            return defaults.render_path(request)
        service = json.loads(request.service_json)
        team = label(service, TEAM_LABEL)
        if team is None:
            raise reject(
                "NoTeam",
                f"AIMService {name(service)} has no {TEAM_LABEL} label, so it has no place under /teams",
            )
        return f"/teams/{make_rfc1123_compliant(team)}/{namespace(service)}/{name(service)}"
